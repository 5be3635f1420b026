use leptos::prelude::*;

use super::ShotPlayer;
use crate::browser::runner::JobView;
use crate::core::api::Status;
use crate::core::job::{Pause, Phase, Run};

/// `75_000` → `"1:15"`.
fn clock(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0) as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The current job: its stage, the task id (copyable) as soon as it exists, a live
/// status line, Cancel / Resume / Check again, every failure as a message a person
/// understands, and the shots when it is done.
#[component]
pub fn JobProgress(
    /// The current job, if any.
    #[prop(into)]
    job: Signal<Option<JobView>>,
    /// Stop waiting (the task goes on at WaveSpeed).
    #[prop(into)]
    on_cancel: Callback<()>,
    /// Poll again after a pause.
    #[prop(into)]
    on_resume: Callback<()>,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    move || {
        let view = job.get()?;
        let elapsed = clock(js_sys::Date::now() - view.started_ms);
        let body = match view.run {
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
                    " The reply never arrived, so the task may exist at WaveSpeed (and be billed). It is not sent again by itself: check your WaveSpeed dashboard before trying again."
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
            Run::Waiting(wait) => {
                let task = wait.task.to_string();
                let status = wait.last.as_ref().map(|p| p.status.clone()).unwrap_or(Status::Created);
                let task_for_copy = task.clone();
                let copy = move |_| {
                    if let Some(window) = web_sys::window() {
                        let _ = window.navigator().clipboard().write_text(&task_for_copy);
                        copied.set(true);
                    }
                };
                let line = match &wait.phase {
                    Phase::Polling => match &wait.retrying {
                        Some(error) => format!("Status: {} · {elapsed} — {error} Retrying…", status.as_str()),
                        None => format!("Status: {} · {elapsed}", status.as_str()),
                    },
                    _ => format!("Status: {} · {elapsed}", status.as_str()),
                };
                let controls = match &wait.phase {
                    Phase::Polling => view! {
                        <div class="ms-controls">
                            <button type="button" class="ms-button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                            <p class="ms-hint">"Cancel only stops waiting: WaveSpeed has no cancel, so the task goes on there and is billed."</p>
                        </div>
                    }
                    .into_any(),
                    Phase::Paused(Pause::Cancelled) => view! {
                        <div class="ms-controls">
                            <p class="ms-note">"You stopped waiting. The task may still finish at WaveSpeed."</p>
                            <button type="button" class="ms-button" on:click=move |_| on_resume.run(())>"Resume"</button>
                        </div>
                    }
                    .into_any(),
                    Phase::Paused(Pause::WaitCap) => view! {
                        <div class="ms-controls">
                            <p class="ms-note">"Still running at WaveSpeed. It has taken longer than usual; the result will be kept there."</p>
                            <button type="button" class="ms-button" on:click=move |_| on_resume.run(())>"Check again"</button>
                        </div>
                    }
                    .into_any(),
                    Phase::Paused(Pause::RetriesExhausted(error)) => view! {
                        <div class="ms-controls">
                            <p class="ms-alert" role="alert">
                                <strong>"Waiting paused: "</strong>
                                {format!("{error} Several tries in a row failed. The task is safe at WaveSpeed.")}
                            </p>
                            <button type="button" class="ms-button" on:click=move |_| on_resume.run(())>"Resume"</button>
                        </div>
                    }
                    .into_any(),
                    Phase::Stopped(error) => view! {
                        <p class="ms-alert" role="alert">
                            <strong>"Stopped: "</strong>
                            {error.to_string()}
                        </p>
                    }
                    .into_any(),
                    Phase::Finished => {
                        let last = wait.last.clone();
                        match last {
                            Some(p) if p.status == Status::Completed => view! {
                                <ShotPlayer outputs=p.outputs nsfw=p.has_nsfw_contents inference_ms=p.inference_ms />
                            }
                            .into_any(),
                            Some(p) => {
                                let refund = if p.status == Status::Failed { " WaveSpeed refunds failed tasks." } else { "" };
                                view! {
                                    <p class="ms-alert" role="alert">
                                        <strong>{format!("The task ended as “{}”: ", p.status.as_str())}</strong>
                                        {p.error.clone().unwrap_or_else(|| "no reason was given".into())}
                                        {refund}
                                    </p>
                                }
                                .into_any()
                            }
                            None => ().into_any(),
                        }
                    }
                };
                view! {
                    <p class="ms-task">
                        "Task ID: " <code data-task-id=task.clone()>{task.clone()}</code>
                        <button type="button" class="ms-button ms-small" on:click=copy>
                            {move || if copied.get() { "Copied" } else { "Copy" }}
                        </button>
                    </p>
                    <p class="ms-job-status" role="status">{line}</p>
                    {controls}
                }
                .into_any()
            }
        };
        Some(view! { <div class="ms-job">{body}</div> })
    }
}
