use std::time::Duration;

use leptos::prelude::*;

use super::{copy_button, ShotPlayer};
use crate::core::api::Status;
use crate::core::history::age;
use crate::core::job::{Event, Pause, Phase, Tracked, Watch};

/// `75_000` → `"1:15"`.
fn clock(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0) as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The status line: the status and, while waiting, the time since the task was created
/// (when it is over, how long it took).
fn status_line(t: &Tracked, now_ms: f64) -> String {
    let status = t.record.status.as_str();
    let elapsed = || clock(now_ms - t.record.created_ms as f64);
    if t.record.is_finished() {
        return match t.record.took_ms() {
            Some(ms) => format!("Status: {status} · {}", clock(ms as f64)),
            None => format!("Status: {status}"),
        };
    }
    match &t.watch {
        Watch::Here(wait) => match (&wait.phase, &wait.retrying) {
            (Phase::Polling, Some(error)) => {
                format!("Status: {status} · {} — {error} Retrying…", elapsed())
            }
            _ => format!("Status: {status} · {}", elapsed()),
        },
        Watch::Elsewhere => format!("Status: {status} · {}", elapsed()),
        Watch::NeedsKey => format!("Status: {status} (last known)"),
        Watch::Idle => format!(
            "Status: {status} (last known, {})",
            age(now_ms as u64, t.record.created_ms)
        ),
    }
}

/// What a finished task shows, kept apart so that the shots are built once and not
/// again when only the status line changes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    status: Status,
    outputs: Vec<String>,
    nsfw: Vec<bool>,
    inference_ms: Option<u64>,
    dropped: usize,
    error: Option<String>,
    expired: bool,
}

fn outcome(task: &Tracked, now_ms: u64) -> Option<Outcome> {
    let record = &task.record;
    if !record.is_finished() {
        return None;
    }
    // The shots this page received in full (inline ones included), else the stored ones.
    let (outputs, nsfw, dropped) = match &task.watch {
        Watch::Here(wait) => match &wait.last {
            Some(last) if last.status.is_terminal() && !last.outputs.is_empty() => {
                (last.outputs.clone(), last.has_nsfw_contents.clone(), 0)
            }
            _ => (
                record.outputs.clone(),
                record.nsfw.clone(),
                record.outputs_dropped,
            ),
        },
        _ => (
            record.outputs.clone(),
            record.nsfw.clone(),
            record.outputs_dropped,
        ),
    };
    Some(Outcome {
        status: record.status.clone(),
        outputs,
        nsfw,
        inference_ms: record.inference_ms,
        dropped,
        error: record.error.clone(),
        expired: record.is_expired(now_ms),
    })
}

/// One task: its id (copyable, always visible), a live status line, what can be done
/// (Cancel, Resume, Check again, Continue once a key is given), every failure as a
/// message a person understands, and the shots when it is done.
#[component]
pub fn TaskView(
    /// The task, if it is (still) known.
    #[prop(into)]
    task: Signal<Option<Tracked>>,
    /// The browser is online.
    #[prop(into)]
    online: Signal<bool>,
    /// Cancel or resume waiting.
    #[prop(into)]
    on_event: Callback<Event>,
) -> impl IntoView {
    let outcome = Memo::new(move |_| {
        task.with(|t| {
            t.as_ref()
                .and_then(|t| outcome(t, js_sys::Date::now() as u64))
        })
    });
    // The elapsed time ticks every second while this page waits for the task.
    let now = RwSignal::new(js_sys::Date::now());
    let polling = Memo::new(move |_| task.with(|t| t.as_ref().is_some_and(Tracked::is_polling)));
    let ticker = StoredValue::new(None::<IntervalHandle>);
    let stop_ticking = move || {
        if let Some(Some(handle)) = ticker.try_update_value(Option::take) {
            handle.clear();
        }
    };
    Effect::new(move |_| {
        stop_ticking();
        if polling.get() {
            now.set(js_sys::Date::now());
            let tick = move || now.set(js_sys::Date::now());
            ticker.set_value(set_interval_with_handle(tick, Duration::from_secs(1)).ok());
        }
    });
    on_cleanup(stop_ticking);

    let id_row = move || {
        let id = task.with(|t| t.as_ref().map(|t| t.record.id.to_string()))?;
        Some(view! {
            <p class="ms-task">
                "Task ID: " <code data-task-id=id.clone()>{id.clone()}</code>
                {copy_button(id.clone(), "Copy", "Copy the task ID".into())}
            </p>
        })
    };
    let line = move || {
        let now = now.get();
        task.with(|t| t.as_ref().map(|t| status_line(t, now)))
    };
    let controls = move || {
        let t = task.get()?;
        let resume = move |label: &'static str| {
            view! {
                <button type="button" class="ms-button" on:click=move |_| on_event.run(Event::Resume)>{label}</button>
            }
        };
        let view = match &t.watch {
            Watch::Here(wait) => match &wait.phase {
                Phase::Polling => view! {
                    <div class="ms-controls">
                        <button type="button" class="ms-button" on:click=move |_| on_event.run(Event::Cancel)>"Cancel"</button>
                        <p class="ms-hint">"Cancel only stops waiting: WaveSpeed has no cancel, so the task goes on there and is billed."</p>
                    </div>
                }
                .into_any(),
                Phase::Paused(Pause::Cancelled) => view! {
                    <div class="ms-controls">
                        <p class="ms-note">"You stopped waiting. The task may still finish at WaveSpeed."</p>
                        {resume("Resume")}
                    </div>
                }
                .into_any(),
                Phase::Paused(Pause::WaitCap) => view! {
                    <div class="ms-controls">
                        <p class="ms-note">"Still running at WaveSpeed. It has taken longer than usual; the result will be kept there, under the task ID above."</p>
                        {resume("Check again")}
                    </div>
                }
                .into_any(),
                Phase::Paused(Pause::RetriesExhausted(error)) => view! {
                    <div class="ms-controls">
                        <p class="ms-alert" role="alert">
                            <strong>"Waiting paused: "</strong>
                            {format!("{error} Several tries in a row failed. The task is safe at WaveSpeed.")}
                        </p>
                        {resume("Resume")}
                    </div>
                }
                .into_any(),
                Phase::Stopped(error) => view! {
                    <div class="ms-controls">
                        <p class="ms-alert" role="alert">
                            <strong>"Stopped: "</strong>
                            {error.to_string()}
                        </p>
                        {resume("Check again")}
                    </div>
                }
                .into_any(),
                Phase::Finished => ().into_any(),
            },
            Watch::Elsewhere => view! {
                <p class="ms-note">"Another tab of this page is checking this task; its progress shows here too."</p>
            }
            .into_any(),
            Watch::NeedsKey => view! {
                <div class="ms-controls">
                    <p class="ms-note">"This task was sent with your API key. Enter the key under Connection, then continue checking it."</p>
                    {resume("Continue")}
                </div>
            }
            .into_any(),
            Watch::Idle if t.record.is_finished() => ().into_any(),
            Watch::Idle if t.record.is_expired(js_sys::Date::now() as u64) => view! {
                <p class="ms-note">"Outputs expired at WaveSpeed: it keeps them for 7 days."</p>
            }
            .into_any(),
            Watch::Idle => view! { <div class="ms-controls">{resume("Check again")}</div> }.into_any(),
        };
        Some(view)
    };
    let offline = move || {
        let waiting = task.with(|t| t.as_ref().is_some_and(Tracked::is_polling));
        (waiting && !online.get()).then(|| view! {
            <p class="ms-note ms-offline" role="status">
                "You are offline. Checking is paused and goes on by itself when you are back online."
            </p>
        })
    };
    let result = move || {
        let o = outcome.get()?;
        let expired = o.expired.then(|| view! {
            <p class="ms-note">"Outputs expired at WaveSpeed: it keeps them for 7 days, so these links may no longer work."</p>
        });
        let body = if o.status == Status::Completed {
            let dropped = (o.dropped > 0).then(|| view! {
                <div class="ms-controls">
                    <p class="ms-note">
                        {format!("{} shot(s) came back inline and were too large to keep on this device.", o.dropped)}
                    </p>
                    <button type="button" class="ms-button" on:click=move |_| on_event.run(Event::Resume)>"Fetch the shots again"</button>
                </div>
            });
            view! {
                {dropped}
                <ShotPlayer outputs=o.outputs nsfw=o.nsfw inference_ms=o.inference_ms />
            }
            .into_any()
        } else {
            let refund = if o.status == Status::Failed {
                " WaveSpeed refunds failed tasks."
            } else {
                ""
            };
            view! {
                <p class="ms-alert" role="alert">
                    <strong>{format!("The task ended as “{}”: ", o.status.as_str())}</strong>
                    {o.error.clone().unwrap_or_else(|| "no reason was given".into())}
                    {refund}
                </p>
            }
            .into_any()
        };
        Some(view! { {expired} {body} })
    };
    view! {
        {id_row}
        <p class="ms-job-status" role="status">{line}</p>
        {offline}
        {controls}
        {result}
    }
}
