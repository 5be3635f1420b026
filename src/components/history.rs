use leptos::prelude::*;

use super::{is_consumer, TaskView};
use crate::browser::runner::use_jobs;
use crate::core::api::TaskId;
use crate::core::connection::Connection;
use crate::core::history::{age, unsaved_notice, HISTORY_LIMIT};
use crate::core::jobs::{self, Command, LookUp};
use crate::core::task_view::{badge, visitor_badge};

/// The **History** panel: every job of this device newest first with its status, age
/// and thumbnail; a job opens to its shots; Delete and Clear history (confirmed); a
/// **Look up a task** field; notices for unreadable entries and storage problems. In the
/// consumer face it is **Your recent results**: the jobs as thumbnails, nothing else.
#[component]
pub fn History(
    /// The connection a looked-up task is fetched with, or why there is none.
    #[prop(into)]
    connection: Signal<Result<Connection, String>>,
) -> impl IntoView {
    let jobs = use_jobs();
    let open = RwSignal::new(None::<TaskId>);
    let confirming = RwSignal::new(false);
    let lookup = RwSignal::new(String::new());
    // What was typed cannot be looked up (before anything is asked).
    let typed_problem = RwSignal::new(None::<String>);
    let asked = Memo::new(move |_| jobs.state.with(|s| s.lookup.clone()));
    let looking = move || asked.with(|l| l.as_ref().is_some_and(|l| l.outcome.is_none()));
    let lookup_message = move || {
        typed_problem
            .get()
            .or_else(|| asked.with(|l| l.as_ref().and_then(LookUp::message)))
    };
    // Found: the field is emptied for the next one.
    Effect::watch(
        move || asked.with(|l| l.as_ref().is_some_and(|l| l.outcome == Some(Ok(())))),
        move |found, _, _| {
            if *found {
                lookup.set(String::new());
            }
        },
        false,
    );
    let ids = Memo::new(move |_| {
        jobs.state.with(|s| {
            s.tasks
                .iter()
                .map(|t| t.record.id.clone())
                .collect::<Vec<_>>()
        })
    });

    let look_up = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match jobs::look_up(&lookup.get_untracked(), &connection.get_untracked()) {
            Ok(command) => {
                typed_problem.set(None);
                jobs.send(command);
            }
            Err(why) => typed_problem.set(Some(why)),
        }
    };

    let notices = move || {
        let store = jobs.store_error.get().map(|e| {
            view! {
                <p class="ms-alert" role="alert">
                    {move || unsaved_notice(&e.to_string(), is_consumer())}
                </p>
            }
        });
        let skipped = jobs.state.with(|s| {
            (!s.skipped.is_empty()).then(|| view! {
                <div class="ms-skipped" role="status">
                    {s.skipped.iter().map(|s| view! { <p class="ms-note">{s.to_string()}</p> }).collect_view()}
                </div>
            })
        });
        view! { {store} {skipped} }
    };

    let item = move |id: TaskId| {
        let task = Memo::new({
            let id = id.clone();
            move |_| jobs.state.with(|s| s.task(&id).cloned())
        });
        let is_open = {
            let id = id.clone();
            Memo::new(move |_| open.with(|o| o.as_ref() == Some(&id)))
        };
        let summary = move || {
            let t = task.get()?;
            let now = js_sys::Date::now() as u64;
            let thumb = t.record.thumbnail.clone();
            let expired = t
                .record
                .outputs_gone(now)
                .then(|| view! { <span class="ms-expired">"outputs expired at WaveSpeed"</span> });
            Some(view! {
                {match thumb {
                    Some(src) => view! { <img class="ms-thumb" src=src alt="" /> }.into_any(),
                    None => view! { <span class="ms-thumb ms-thumb-none" aria-hidden="true"></span> }.into_any(),
                }}
                <span class="ms-history-text">
                    <code>{t.record.id.to_string()}</code>
                    <span class="ms-badge">{if is_consumer() { visitor_badge(&t).to_owned() } else { badge(&t, now) }}</span>
                    <span class="ms-age">{age(now, t.record.created_ms)}</span>
                    {expired}
                </span>
            })
        };
        let toggle = {
            let id = id.clone();
            move |_| {
                open.update(|o| {
                    *o = if o.as_ref() == Some(&id) {
                        None
                    } else {
                        Some(id.clone())
                    };
                })
            }
        };
        let delete = {
            let id = id.clone();
            move |_| jobs.send(Command::Delete(id.clone()))
        };
        let for_actions = id.clone();
        view! {
            <li class="ms-history-item" data-task=id.to_string()>
                <div class="ms-history-row">
                    {summary}
                    <span class="ms-history-actions">
                        <button type="button" class="ms-button ms-small" aria-expanded=move || is_open.get().to_string() on:click=toggle>
                            {move || if is_open.get() { "Close" } else { "Open" }}
                        </button>
                        <button type="button" class="ms-button ms-small" on:click=delete>"Delete"</button>
                    </span>
                </div>
                <Show when=move || is_open.get()>
                    <div class="ms-job">
                        <TaskView
                            task=task
                            online=jobs.online()
                            typical_ms=jobs.typical_ms()
                            on_action={
                                let id = for_actions.clone();
                                move |action| jobs.send(Command::User(id.clone(), action))
                            }
                        />
                    </div>
                </Show>
            </li>
        }
    };

    view! {
        <section class="ms-card ms-history" aria-labelledby="ms-history-heading">
            <h2 id="ms-history-heading">
                {move || if is_consumer() { "Your recent results" } else { "History" }}
            </h2>
            <p class="ms-hint ms-dev">
                {format!("Your latest {HISTORY_LIMIT} jobs are kept in this browser (never your key). WaveSpeed keeps the shots for 7 days.")}
            </p>
            {notices}
            <form class="ms-lookup ms-dev" on:submit=look_up>
                <label for="ms-lookup-id">"Look up a task"</label>
                <div class="ms-url-row">
                    <input
                        id="ms-lookup-id"
                        type="text"
                        placeholder="Task ID"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || lookup.get()
                        on:input=move |ev| lookup.set(event_target_value(&ev))
                    />
                    <button type="submit" class="ms-button" disabled=looking>"Look up"</button>
                </div>
                {move || lookup_message().map(|m| view! { <p class="ms-hint" role="status">{m}</p> })}
            </form>
            {move || {
                if ids.with(Vec::is_empty) {
                    return view! { <p class="ms-hint">"No jobs yet."</p> }.into_any();
                }
                view! {
                    <ul class="ms-history-list" aria-label="Past jobs">
                        <For each=move || ids.get() key=|id| id.clone() children=item />
                    </ul>
                    {move || if confirming.get() {
                        view! {
                            <div class="ms-controls" role="group" aria-label="Confirm clearing the history">
                                <p class="ms-note">
                                    {move || format!("Delete all {} jobs from this browser? The tasks stay at WaveSpeed, but their IDs are gone from here.", ids.with(Vec::len))}
                                </p>
                                <button type="button" class="ms-button ms-danger" on:click=move |_| { jobs.send(Command::Clear); confirming.set(false); }>"Yes, clear history"</button>
                                <button type="button" class="ms-button" on:click=move |_| confirming.set(false)>"Keep it"</button>
                            </div>
                        }
                        .into_any()
                    } else {
                        view! {
                            <button type="button" class="ms-button ms-dev" on:click=move |_| confirming.set(true)>"Clear history"</button>
                        }
                        .into_any()
                    }}
                }
                .into_any()
            }}
        </section>
    }
}
