//! Runs the jobs of the page: the current generation (upload, submit once) and every
//! task the history knows of, each polled by the state machine of [`crate::core::job`]
//! with gloo-timers.
//!
//! - A task is recorded in storage the moment its id arrives, before the first poll, and
//!   its record is updated as replies come in.
//! - When the page opens, every unfinished task of the history is polled again (with the
//!   base or proxy it was sent to).
//! - One tab polls a task at a time ([`super::tab_lock`]); the others follow it through
//!   the `storage` event, and one of them takes over when that tab closes.
//! - Offline, polling waits for the `online` event.
//!
//! Pending timers and requests are aborted when a job is cancelled or deleted, and all
//! of them when the owning component goes away.

use std::collections::HashMap;

use futures::future::{abortable, AbortHandle};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use super::api_client::{data_uri, poll, submit, upload_binary, Connection};
use super::storage::{self, StoreError};
use super::tab_lock::{self, Lock};
use super::thumbnail::thumbnail;
use crate::core::api::{ApiError, SubmitRequest, TaskId};
use crate::core::config::UploadMode;
use crate::core::embed::EmbedEvent;
use crate::core::history::{self, Record, Skipped, HISTORY_LIMIT};
use crate::core::job::{Event, Next, Phase, Policy, Run, Tracked, Wait, Watch};

/// How [`Jobs::watch`] comes by a task's tab lock.
enum Take {
    /// Ask; when another tab holds it, follow that tab until it lets go.
    Try,
    /// This tab held it a moment ago (a paused wait the user resumes): wait for it
    /// without showing "another tab".
    Wait,
    /// Already asked for, before the task was announced to the other tabs.
    Have(Lock),
}

/// What to send as the image.
#[derive(Clone, Debug)]
pub enum ImageToSend {
    /// A local file (uploaded first, or sent inline).
    File(SendWrapper<web_sys::File>),
    /// A web address, sent as it is.
    Url(String),
}

/// The jobs of the page and the handles that stop their timers.
#[derive(Clone, Copy)]
pub struct Jobs {
    /// The generation shown in the Generate section, if any; from [`Run::Created`] on,
    /// its task is one of [`Jobs::tasks`].
    pub view: RwSignal<Option<Run>>,
    /// Every task known to this page, newest first (the history).
    pub tasks: RwSignal<Vec<Tracked>>,
    /// Stored entries that could not be read.
    pub skipped: RwSignal<Vec<Skipped>>,
    /// The history could not be saved (the jobs go on in memory).
    pub store_error: RwSignal<Option<StoreError>>,
    /// The browser says it is online.
    pub online: RwSignal<bool>,
    /// The API key typed (or remembered) on this page, for tasks sent in direct mode.
    key: Signal<String>,
    policy: StoredValue<Policy>,
    listener: StoredValue<Option<Callback<EmbedEvent>>>,
    current: StoredValue<Option<AbortHandle>>,
    pollers: StoredValue<HashMap<TaskId, AbortHandle>>,
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn lock_name(id: &TaskId) -> String {
    format!("multishot.poll.{id}")
}

fn navigator_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

impl Jobs {
    /// An empty page of jobs; tasks sent in direct mode use `key`. Listens to the
    /// browser's `online`/`offline` and `storage` events; every timer stops when the
    /// reactive owner is cleaned up.
    pub fn new(key: Signal<String>) -> Self {
        let jobs = Self {
            view: RwSignal::new(None),
            tasks: RwSignal::new(Vec::new()),
            skipped: RwSignal::new(Vec::new()),
            store_error: RwSignal::new(None),
            online: RwSignal::new(navigator_online()),
            key,
            policy: StoredValue::new(Policy::default()),
            listener: StoredValue::new(None),
            current: StoredValue::new(None),
            pollers: StoredValue::new(HashMap::new()),
        };
        let online = window_event_listener(leptos::ev::online, move |_| jobs.online.set(true));
        let offline = window_event_listener(leptos::ev::offline, move |_| jobs.online.set(false));
        let storage = window_event_listener(leptos::ev::storage, move |e| jobs.on_storage(&e));
        on_cleanup(move || {
            online.remove();
            offline.remove();
            storage.remove();
            jobs.stop_all();
        });
        jobs
    }

    /// Sets how polling behaves (from the settings) for the polls started from now on.
    pub fn set_policy(&self, policy: Policy) {
        self.policy.set_value(policy);
    }

    /// Tells `listener` when a job of this page starts, completes or fails (for a host
    /// page: see [`crate::browser::embed`]).
    pub fn set_listener(&self, listener: Callback<EmbedEvent>) {
        self.listener.set_value(Some(listener));
    }

    fn announce(&self, event: EmbedEvent) {
        if let Some(Some(listener)) = self.listener.try_get_value() {
            listener.run(event);
        }
    }

    fn policy(&self) -> Policy {
        self.policy.try_get_value().unwrap_or_default()
    }

    fn stop_all(&self) {
        if let Some(Some(handle)) = self.current.try_update_value(Option::take) {
            handle.abort();
        }
        if let Some(pollers) = self.pollers.try_update_value(std::mem::take) {
            pollers.values().for_each(AbortHandle::abort);
        }
    }

    fn stop_poller(&self, id: &TaskId) {
        if let Some(Some(handle)) = self.pollers.try_update_value(|p| p.remove(id)) {
            handle.abort();
        }
    }

    /// Runs `work` for task `id` until it ends or is stopped (replacing any earlier one).
    fn spawn_poller(&self, id: TaskId, work: impl std::future::Future<Output = ()> + 'static) {
        self.stop_poller(&id);
        let (work, handle) = abortable(work);
        self.pollers.update_value(|p| {
            p.insert(id, handle);
        });
        spawn_local(async move {
            let _ = work.await;
        });
    }

    /// Loads the history from storage, reports what could not be read, and goes on
    /// waiting for every unfinished task. The newest of those becomes the current job.
    pub fn restore(&self) {
        let (records, skipped) = match storage::load_history() {
            Ok(found) => found,
            Err(error) => {
                self.store_error.set(Some(error));
                return;
            }
        };
        self.skipped.set(skipped);
        let now = now_ms();
        let resume: Vec<TaskId> = records
            .iter()
            .filter(|r| r.should_resume(now))
            .map(|r| r.id.clone())
            .collect();
        self.tasks.update(|tasks| {
            for record in records {
                if !tasks.iter().any(|t| t.record.id == record.id) {
                    tasks.push(Tracked {
                        record,
                        watch: Watch::Idle,
                    });
                }
            }
            tasks.sort_by(|a, b| history::newer_first(&a.record, &b.record));
        });
        if let Some(newest) = resume.first() {
            if self.view.with_untracked(Option::is_none) {
                self.show(newest);
            }
        }
        for id in resume {
            self.watch(id, 0, Take::Try);
        }
    }

    /// Shows task `id` (one of [`Jobs::tasks`]) as the current job.
    pub fn show(&self, id: &TaskId) {
        self.view.set(Some(Run::Created(id.clone())));
    }

    fn set_run(&self, run: Run) -> bool {
        self.view
            .try_update(|view| {
                if let Some(view) = view {
                    *view = run;
                }
            })
            .is_some()
    }

    /// Saves a record, telling the page when storage fails (the job goes on in memory).
    fn persist(&self, record: &Record) {
        let result = storage::save_record(record);
        if self.store_error.get_untracked() != result.err() {
            self.store_error.set(result.err());
        }
    }

    /// Adds a task that was just created (or found by id) and prunes the history.
    fn add(&self, record: Record, watch: Watch) {
        self.persist(&record);
        let mut pruned = Vec::new();
        self.tasks.update(|tasks| {
            tasks.retain(|t| t.record.id != record.id);
            // Earlier finished jobs let go of their full replies (inline base64 shots
            // can be megabytes): memory does not grow with the number of jobs. Their
            // records keep what can be kept; the rest is fetched again on request.
            for t in tasks.iter_mut() {
                if matches!(&t.watch, Watch::Here(wait) if wait.phase == Phase::Finished) {
                    t.watch = Watch::Idle;
                }
            }
            tasks.insert(
                0,
                Tracked {
                    record: record.clone(),
                    watch,
                },
            );
            let records: Vec<Record> = tasks.iter().map(|t| t.record.clone()).collect();
            pruned = history::prune(&records, HISTORY_LIMIT);
            tasks.retain(|t| !pruned.contains(&t.record.id));
        });
        for id in &pruned {
            self.stop_poller(id);
            storage::delete_record(id);
        }
    }

    /// Starts a generation. The submit is sent once; the task is recorded as soon as its
    /// id arrives; then its result is polled. `thumbnail_of` is where a thumbnail of the
    /// input can be drawn from (`src`, needs CORS).
    pub fn start(
        &self,
        connection: Connection,
        image: ImageToSend,
        thumbnail_of: Option<(String, bool)>,
        upload: UploadMode,
        base64: bool,
    ) {
        let first = match image {
            ImageToSend::File(_) if upload == UploadMode::Binary => Run::Uploading,
            _ => Run::Submitting,
        };
        self.view.set(Some(first));
        let jobs = *self;
        let work = async move {
            let thumb = match &thumbnail_of {
                Some((src, cors)) => thumbnail(src, *cors).await,
                None => None,
            };
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
                            jobs.announce(EmbedEvent::Failed {
                                task_id: None,
                                error: format!("Upload failed: {error}"),
                            });
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
                    let id = prediction.id.clone();
                    // Taken before the record tells the other tabs, so this tab polls.
                    let lock = tab_lock::request(&lock_name(&id), false).await;
                    let record = record_of_reply(&connection, &prediction).with_thumbnail(thumb);
                    let policy = jobs.policy();
                    let (mut wait, _) = Wait::start(id.clone(), now_ms(), &policy);
                    wait.last = Some(prediction);
                    jobs.add(record, Watch::Here(Box::new(wait)));
                    jobs.announce(EmbedEvent::Started {
                        task_id: id.to_string(),
                    });
                    if jobs.set_run(Run::Created(id.clone())) {
                        jobs.watch(id, policy.poll_interval_ms, Take::Have(lock));
                    }
                }
                Err(error) => {
                    jobs.announce(EmbedEvent::Failed {
                        task_id: None,
                        error: format!("Could not start the job: {error}"),
                    });
                    jobs.set_run(Run::submit_failed(error));
                }
            }
        };
        if let Some(Some(old)) = self.current.try_update_value(Option::take) {
            old.abort();
        }
        let (work, handle) = abortable(work);
        self.current.set_value(Some(handle));
        spawn_local(async move {
            let _ = work.await;
        });
    }

    /// The connection for a task: its stored base, with the page's key in direct mode.
    fn connection_for(&self, record: &Record) -> Option<Connection> {
        if record.proxy {
            return Some(Connection {
                base: record.base.clone(),
                key: None,
            });
        }
        let key = self.key.try_get_untracked()?.trim().to_owned();
        (!key.is_empty()).then(|| Connection {
            base: record.base.clone(),
            key: Some(key),
        })
    }

    fn record_of(&self, id: &TaskId) -> Option<Record> {
        self.tasks
            .try_with_untracked(|tasks| {
                tasks
                    .iter()
                    .find(|t| &t.record.id == id)
                    .map(|t| t.record.clone())
            })
            .flatten()
    }

    fn set_watch(&self, id: &TaskId, watch: Watch) {
        self.tasks.try_update(|tasks| {
            if let Some(t) = tasks.iter_mut().find(|t| &t.record.id == id) {
                t.watch = watch;
            }
        });
    }

    /// Waits for task `id`: takes its tab lock (showing it as polled elsewhere while
    /// another tab holds it), then polls it, the first time after `first_ms`.
    fn watch(&self, id: TaskId, first_ms: u64, take: Take) {
        let jobs = *self;
        let policy = self.policy();
        self.spawn_poller(id.clone(), async move {
            let first_try = match take {
                Take::Have(lock) => lock,
                Take::Wait => tab_lock::request(&lock_name(&id), true).await,
                Take::Try => tab_lock::request(&lock_name(&id), false).await,
            };
            let _held = match first_try {
                Lock::Held(held) => Some(held),
                Lock::Unsupported => None,
                Lock::Busy => {
                    jobs.set_watch(&id, Watch::Elsewhere);
                    let held = match tab_lock::request(&lock_name(&id), true).await {
                        Lock::Held(held) => Some(held),
                        _ => None,
                    };
                    // The other tab let go: it may have finished the task.
                    if let Some(stored) = storage::read_record(&id) {
                        jobs.tasks.try_update(|tasks| {
                            if let Some(t) = tasks.iter_mut().find(|t| t.record.id == id) {
                                t.record = stored;
                            }
                        });
                    }
                    held
                }
            };
            let Some(record) = jobs.record_of(&id) else {
                return;
            };
            // A finished task is asked for again only to fetch shots too large to store.
            if record.is_finished() && record.outputs_dropped == 0 {
                jobs.set_watch(&id, Watch::Idle);
                return;
            }
            let Some(connection) = jobs.connection_for(&record) else {
                jobs.set_watch(&id, Watch::NeedsKey);
                return;
            };
            let (mut wait, _) = Wait::start(id.clone(), now_ms(), &policy);
            // Keep the latest reply (a fresh submit's) for the status line.
            jobs.tasks.try_update(|tasks| {
                if let Some(t) = tasks.iter_mut().find(|t| t.record.id == id) {
                    if let Watch::Here(old) = &t.watch {
                        wait.last = old.last.clone();
                    }
                    t.watch = Watch::Here(Box::new(wait));
                }
            });
            poll_loop(jobs, &id, connection, policy, Next::PollIn(first_ms)).await;
            // Paused or stopped here: this tab keeps the task until the user resumes it
            // or the tab closes, so no other tab polls behind the user's back.
            if jobs.record_of(&id).is_some_and(|r| !r.is_finished()) {
                std::future::pending::<()>().await;
            }
        });
    }

    fn is_polling(&self, id: &TaskId) -> bool {
        self.tasks
            .try_with_untracked(|tasks| tasks.iter().any(|t| &t.record.id == id && t.is_polling()))
            .unwrap_or(false)
    }

    /// Feeds a poll's outcome to task `id`; saves its record when it changed.
    fn feed(&self, id: &TaskId, event: Event, policy: &Policy) -> Next {
        let mut next = Next::Stop;
        let mut changed = None;
        let mut ended = None;
        self.tasks.try_update(|tasks| {
            if let Some(t) = tasks.iter_mut().find(|t| &t.record.id == id) {
                let before = t.clone();
                next = t.on(event, now_ms(), policy);
                if t.record != before.record {
                    changed = Some(t.record.clone());
                }
                ended = match &t.watch {
                    _ if t.record.is_finished() && !before.record.is_finished() => {
                        Some(EmbedEvent::finished(&t.record))
                    }
                    Watch::Here(wait) => match (&wait.phase, &before.watch) {
                        (Phase::Stopped(error), Watch::Here(old))
                            if !matches!(old.phase, Phase::Stopped(_)) =>
                        {
                            Some(EmbedEvent::Failed {
                                task_id: Some(id.to_string()),
                                error: format!("Stopped: {error}"),
                            })
                        }
                        _ => None,
                    },
                    _ => None,
                };
            }
        });
        if let Some(record) = changed {
            self.persist(&record);
        }
        if let Some(event) = ended {
            self.announce(event);
        }
        next
    }

    /// Feeds a user event to task `id`: Cancel stops waiting; Resume (also "Check
    /// again", and "Continue" once a key is given) waits again.
    pub fn on_user(&self, id: &TaskId, event: Event) {
        let policy = self.policy();
        match event {
            // The poller sees it after its timer and stops, keeping the lock.
            Event::Cancel => {
                self.feed(id, Event::Cancel, &policy);
            }
            Event::Resume => self.watch(id.clone(), 0, Take::Wait),
            Event::Reply(_) | Event::Failed(_) => {}
        }
    }

    /// Finds a task by id (one started earlier, or elsewhere), shows it as the current
    /// job and waits for it if it is not finished. Unknown ids are asked for once first:
    /// only a task the server knows is added to the history.
    pub async fn look_up(&self, id: TaskId, connection: Connection) -> Result<(), ApiError> {
        let policy = self.policy();
        if let Some(known) = self.record_of(&id) {
            self.show(&id);
            let polling = self.tasks.with_untracked(|tasks| {
                tasks
                    .iter()
                    .any(|t| t.record.id == id && (t.is_polling() || t.watch == Watch::Elsewhere))
            });
            if !polling && (!known.is_finished() || known.outputs_dropped > 0) {
                self.watch(id, 0, Take::Try);
            }
            return Ok(());
        }
        let prediction = poll(&connection, &id).await?;
        if prediction.id != id {
            return Err(ApiError::BadResponse(
                "the reply is about another task".into(),
            ));
        }
        // Taken before the record tells the other tabs, so this tab polls.
        let lock = tab_lock::request(&lock_name(&id), false).await;
        let mut record = record_of_reply(&connection, &prediction);
        // Already over when looked up: how long it took is not known here.
        record.finished_ms = None;
        let (mut wait, _) = Wait::start(id.clone(), now_ms(), &policy);
        let finished = record.is_finished();
        if finished {
            wait = wait.on(Event::Reply(prediction), now_ms(), &policy).0;
        } else {
            wait.last = Some(prediction);
        }
        self.add(record, Watch::Here(Box::new(wait)));
        self.show(&id);
        if !finished {
            self.watch(id, policy.poll_interval_ms, Take::Have(lock));
        }
        Ok(())
    }

    /// Deletes task `id` from the history (the task itself stays at WaveSpeed).
    pub fn delete(&self, id: &TaskId) {
        self.stop_poller(id);
        storage::delete_record(id);
        self.tasks
            .update(|tasks| tasks.retain(|t| &t.record.id != id));
        self.forget_current_if(|run| run.task() == Some(id));
    }

    /// Deletes the whole history, unreadable entries included.
    pub fn clear(&self) {
        let ids: Vec<TaskId> = self
            .tasks
            .with_untracked(|tasks| tasks.iter().map(|t| t.record.id.clone()).collect());
        ids.iter().for_each(|id| self.stop_poller(id));
        storage::clear_history();
        self.tasks.set(Vec::new());
        self.skipped.set(Vec::new());
        self.forget_current_if(|run| run.task().is_some());
    }

    fn forget_current_if(&self, test: impl Fn(&Run) -> bool) {
        if self.view.with_untracked(|v| v.as_ref().is_some_and(&test)) {
            self.view.set(None);
        }
    }

    /// Another tab changed the history: follow it.
    fn on_storage(&self, event: &web_sys::Event) {
        let Some(event) = event.dyn_ref::<web_sys::StorageEvent>() else {
            return;
        };
        let Some(name) = event.key() else {
            // The whole storage was cleared.
            let ids: Vec<TaskId> = self.tasks.with_untracked(|tasks| {
                tasks
                    .iter()
                    .filter(|t| !t.is_polling())
                    .map(|t| t.record.id.clone())
                    .collect()
            });
            ids.iter().for_each(|id| self.delete(id));
            return;
        };
        let Some(raw_id) = name.strip_prefix(history::ENTRY_PREFIX) else {
            return;
        };
        let Some(raw) = event.new_value() else {
            if let Ok(id) = TaskId::parse(raw_id) {
                self.delete(&id);
            }
            return;
        };
        let Ok(record) = history::decode(&name, &raw) else {
            return;
        };
        let id = record.id.clone();
        let mut is_new = false;
        self.tasks.update(|tasks| {
            match tasks.iter_mut().find(|t| t.record.id == id) {
                // This tab polls it: its own record is the truth.
                Some(t) if matches!(t.watch, Watch::Here(_)) && t.is_polling() => {}
                Some(t) => t.record = record,
                None => {
                    is_new = true;
                    tasks.push(Tracked {
                        record,
                        watch: Watch::Elsewhere,
                    });
                    tasks.sort_by(|a, b| history::newer_first(&a.record, &b.record));
                }
            }
        });
        // A job started in another tab: be ready to take over when that tab closes.
        if is_new {
            if self.record_of(&id).is_some_and(|r| !r.is_finished()) {
                self.watch(id, 0, Take::Try);
            } else {
                self.set_watch(&id, Watch::Idle);
            }
        }
    }
}

/// A new history record for a task that `connection` just heard of.
fn record_of_reply(connection: &Connection, reply: &crate::core::api::Prediction) -> Record {
    let mut record = Record::new(
        reply.id.clone(),
        connection.base.clone(),
        connection.key.is_none(),
        now_ms(),
    );
    record.absorb(reply, now_ms());
    record
}

/// Polls task `id` while the state machine says so; offline, waits to be online first.
async fn poll_loop(
    jobs: Jobs,
    id: &TaskId,
    connection: Connection,
    policy: Policy,
    mut next: Next,
) {
    while let Next::PollIn(ms) = next {
        TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX)).await;
        while !jobs.online.try_get_untracked().unwrap_or(true) {
            TimeoutFuture::new(250).await;
        }
        // Cancelled while the timer ran.
        if !jobs.is_polling(id) {
            return;
        }
        let event = match poll(&connection, id).await {
            Ok(prediction) => Event::Reply(prediction),
            Err(error) => Event::Failed(error),
        };
        next = jobs.feed(id, event, &policy);
    }
}
