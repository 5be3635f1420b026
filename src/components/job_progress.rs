use leptos::prelude::*;

use super::TaskView;
use crate::browser::runner::use_jobs;
use crate::core::generate::{stage, Stage};
use crate::core::job::Run;
use crate::core::jobs::Command;

/// The current generation: uploading and sending, every failure before a task exists
/// as a message a person understands, then the task itself ([`TaskView`]).
#[component]
pub fn JobProgress() -> impl IntoView {
    let jobs = use_jobs();
    // Rebuilt only when the stage really changes (showing the same task again is not one).
    let run = Memo::new(move |_| jobs.state.with(|s| s.view.clone()));
    move || {
        let run = run.get()?;
        let body = match (stage(&run), run) {
            (
                Some(Stage {
                    lead,
                    text,
                    alert: true,
                }),
                _,
            ) => view! {
                <p class="ms-alert" role="alert">
                    <strong>{lead}</strong>
                    {text}
                </p>
            }
            .into_any(),
            (Some(Stage { text, .. }), _) => {
                view! { <p class="ms-job-status" role="status">{text}</p> }.into_any()
            }
            (None, Run::Created(id)) => {
                let for_actions = id.clone();
                let task = Memo::new(move |_| jobs.state.with(|s| s.task(&id).cloned()));
                view! {
                    <TaskView
                        task=task
                        online=jobs.online()
                        typical_ms=jobs.typical_ms()
                        on_action=move |action| jobs.send(Command::User(for_actions.clone(), action))
                    />
                }
                .into_any()
            }
            (None, _) => return None,
        };
        Some(view! { <div class="ms-job">{body}</div> })
    }
}
