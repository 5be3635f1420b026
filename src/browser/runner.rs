//! Runs one generation: upload (for a local file), submit once, then the polling state
//! machine of [`crate::core::job`] with gloo-timers. The pending timer and request are
//! aborted on Cancel and when the owning component goes away.

use futures::future::{abortable, AbortHandle};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;

use super::api_client::{data_uri, poll, submit, upload_binary, Connection};
use crate::core::api::SubmitRequest;
use crate::core::config::UploadMode;
use crate::core::job::{Event, Next, Policy, Run, Wait};

/// What to send as the image.
#[derive(Clone, Debug)]
pub enum ImageToSend {
    /// A local file (uploaded first, or sent inline).
    File(SendWrapper<web_sys::File>),
    /// A web address, sent as it is.
    Url(String),
}

/// The current job as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobView {
    /// Where it is.
    pub run: Run,
    /// When the user pressed Generate (ms since the epoch).
    pub started_ms: f64,
    /// The base the job was sent to (API base or proxy), never the key.
    pub base: String,
}

/// The job slot of the page and the handle that stops its timers.
#[derive(Clone, Copy)]
pub struct Jobs {
    /// The current job, if any.
    pub view: RwSignal<Option<JobView>>,
    abort: StoredValue<Option<AbortHandle>>,
}

impl Default for Jobs {
    fn default() -> Self {
        Self::new()
    }
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

impl Jobs {
    /// An empty slot. Its timers stop when the reactive owner is cleaned up.
    pub fn new() -> Self {
        let jobs = Self {
            view: RwSignal::new(None),
            abort: StoredValue::new(None),
        };
        on_cleanup(move || jobs.stop_timers());
        jobs
    }

    fn stop_timers(&self) {
        if let Some(Some(handle)) = self.abort.try_update_value(Option::take) {
            handle.abort();
        }
    }

    /// Runs `work` until it ends or [`Jobs::stop_timers`] aborts it.
    fn spawn(&self, work: impl std::future::Future<Output = ()> + 'static) {
        self.stop_timers();
        let (work, handle) = abortable(work);
        self.abort.set_value(Some(handle));
        spawn_local(async move {
            let _ = work.await;
        });
    }

    fn set_run(&self, run: Run) -> bool {
        self.view
            .try_update(|view| {
                if let Some(view) = view {
                    view.run = run;
                }
            })
            .is_some()
    }

    /// Starts a generation. The submit is sent once; its task id is shown as soon as it
    /// arrives; then the result is polled.
    pub fn start(
        &self,
        connection: Connection,
        image: ImageToSend,
        upload: UploadMode,
        base64: bool,
        policy: Policy,
    ) {
        let first = match image {
            ImageToSend::File(_) if upload == UploadMode::Binary => Run::Uploading,
            _ => Run::Submitting,
        };
        self.view.set(Some(JobView {
            run: first,
            started_ms: js_sys::Date::now(),
            base: connection.base.clone(),
        }));
        let jobs = *self;
        self.spawn(async move {
            let image = match image {
                ImageToSend::Url(url) => url,
                ImageToSend::File(file) => {
                    let sent = match upload {
                        UploadMode::Binary => upload_binary(&connection, &file).await,
                        UploadMode::Inline => data_uri(&file).await,
                    };
                    match sent {
                        Ok(image) => image,
                        Err(error) => {
                            jobs.set_run(Run::UploadFailed(error));
                            return;
                        }
                    }
                }
            };
            if !jobs.set_run(Run::Submitting) {
                return;
            }
            let request = SubmitRequest {
                image,
                enable_base64_output: base64,
            };
            match submit(&connection, &request).await {
                Ok(prediction) => {
                    let (mut wait, next) = Wait::start(prediction.id.clone(), now_ms(), &policy);
                    wait.last = Some(prediction);
                    if jobs.set_run(Run::Waiting(Box::new(wait))) {
                        poll_loop(jobs, connection, policy, next).await;
                    }
                }
                Err(error) => {
                    jobs.set_run(Run::submit_failed(error));
                }
            }
        });
    }

    /// Feeds a user event (Cancel, Resume) to the waiting job.
    pub fn on_user(&self, event: Event, connection: Connection, policy: Policy) {
        let mut next = Next::Keep;
        self.view.update(|view| {
            if let Some(JobView {
                run: Run::Waiting(wait),
                ..
            }) = view
            {
                let (updated, n) = wait.as_ref().clone().on(event.clone(), now_ms(), &policy);
                **wait = updated;
                next = n;
            }
        });
        match next {
            Next::Stop => self.stop_timers(),
            Next::PollIn(_) => {
                let jobs = *self;
                self.spawn(async move { poll_loop(jobs, connection, policy, next).await });
            }
            Next::Keep => {}
        }
    }
}

/// Polls while the state machine says so.
async fn poll_loop(jobs: Jobs, connection: Connection, policy: Policy, mut next: Next) {
    while let Next::PollIn(ms) = next {
        TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX)).await;
        let Some(Some(task)) = jobs
            .view
            .try_with_untracked(|v| v.as_ref().and_then(|v| v.run.task().cloned()))
        else {
            return;
        };
        let event = match poll(&connection, &task).await {
            Ok(prediction) => Event::Reply(prediction),
            Err(error) => Event::Failed(error),
        };
        next = Next::Stop;
        let alive = jobs.view.try_update(|view| {
            if let Some(JobView {
                run: Run::Waiting(wait),
                ..
            }) = view
            {
                let (updated, n) = wait.as_ref().clone().on(event, now_ms(), &policy);
                **wait = updated;
                next = n;
            }
        });
        if alive.is_none() {
            return;
        }
    }
}
