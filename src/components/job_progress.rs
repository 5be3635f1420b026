use leptos::prelude::*;

use super::TaskView;
use crate::browser::runner::use_jobs;
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
        let body = match run.get()? {
            Run::Uploading => view! { <p class="ms-job-status" role="status">"Uploading the image…"</p> }.into_any(),
            Run::Submitting => view! { <p class="ms-job-status" role="status">"Sending the job to WaveSpeed…"</p> }.into_any(),
            Run::UploadFailed(error) => view! {
                <p class="ms-alert" role="alert">
                    <strong>"Upload failed: "</strong>
                    {format!("{error} Nothing was created or billed; your image is still here — press Generate to try again.")}
                </p>
            }
            .into_any(),
            Run::SubmitFailed { error, maybe_created } => {
                let advice = if maybe_created {
                    " The reply never arrived, so the task may exist at WaveSpeed (and be billed). It is not sent again by itself: check your WaveSpeed dashboard, and if it shows the task, paste its ID into “Look up a task” under History."
                } else {
                    " No task was created. Your image is still here — press Generate to try again."
                };
                view! {
                    <p class="ms-alert" role="alert">
                        <strong>"Could not start the job: "</strong>
                        {format!("{error}{advice}")}
                    </p>
                }
                .into_any()
            }
            Run::Created(id) => {
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
        };
        Some(view! { <div class="ms-job">{body}</div> })
    }
}
