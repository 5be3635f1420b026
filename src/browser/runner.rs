//! Carries out the [`Effect`]s of the page's jobs ([`crate::core::jobs`], where every
//! rule lives) and turns what happens — a click, a timer, a reply, a tab lock, another
//! tab's `storage` event, the browser going on- or offline — into the next [`Command`].
//!
//! Per task at most one thing is pending (a lock request, a timer or a request); a new
//! one, or [`Effect::Stop`], drops the one before, which aborts its request. Everything
//! stops when the owner of [`Jobs`] is cleaned up.

use futures::future::{abortable, AbortHandle};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_use_event_listener::use_event_listener;
use send_wrapper::SendWrapper;

use super::api_client::{data_uri, poll, submit, upload_binary, Connection};
use super::storage::{self, StoreError};
use super::tab_lock::{self, Held};
use super::thumbnail::thumbnail;
use crate::core::api::{ApiError, SubmitRequest, TaskId};
use crate::core::config::UploadMode;
use crate::core::connection::{for_task, given_key};
use crate::core::embed::EmbedEvent;
use crate::core::history;
use crate::core::job::Policy;
use crate::core::jobs::{apply, Change, Command, Effect, JobsState, Lock, Sent};
use crate::core::task_view::typical_ms;

/// What to send as the image.
#[derive(Clone, Debug)]
pub enum ImageToSend {
    /// A local file (uploaded first, or sent inline).
    File(SendWrapper<web_sys::File>),
    /// A web address, sent as it is.
    Url(String),
}

/// The page's jobs: their state, for components to read, and what runs them. Made once
/// by the app, provided as context and read with [`use_jobs`].
#[derive(Clone, Copy)]
pub struct Jobs {
    /// Every job of the page ([`JobsState`]); changed only through [`Jobs::send`].
    pub state: ReadSignal<JobsState>,
    /// The history could not be saved (the jobs go on in memory).
    pub store_error: RwSignal<Option<StoreError>>,
    write: WriteSignal<JobsState>,
    /// The API key typed (or remembered) on this page, for tasks sent in direct mode.
    key: Signal<String>,
    policy: StoredValue<Policy>,
    listener: StoredValue<Option<Callback<EmbedEvent>>>,
    /// The current generation's upload and submit.
    current: StoredValue<Option<AbortHandle>>,
    /// Per task, the lock request, timer or request pending.
    pending: StoredValue<Vec<(TaskId, AbortHandle)>>,
    /// The tab locks this tab holds.
    locks: StoredValue<Vec<(TaskId, Held)>, LocalStorage>,
}

/// The page's jobs, as provided by the app.
///
/// # Panics
/// Outside the app (no [`Jobs`] in the context).
pub fn use_jobs() -> Jobs {
    use_context().expect("the app provides its jobs")
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn lock_name(id: &TaskId) -> String {
    format!("multishot.poll.{id}")
}

fn navigator_online() -> bool {
    crate::browser::window().is_none_or(|w| w.navigator().on_line())
}

/// Takes task `id`'s entry out of `list`.
fn take<T>(list: &mut Vec<(TaskId, T)>, id: &TaskId) -> Option<T> {
    let at = list.iter().position(|(k, _)| k == id)?;
    Some(list.swap_remove(at).1)
}

impl Jobs {
    /// An empty page of jobs; tasks sent in direct mode use `key`. Listens to the
    /// browser's `online`/`offline` and `storage` events; every timer, request and lock
    /// goes when the reactive owner is cleaned up.
    pub fn new(key: Signal<String>) -> Self {
        let (state, write) = signal(JobsState {
            offline: !navigator_online(),
            ..JobsState::default()
        });
        let jobs = Self {
            state,
            store_error: RwSignal::new(None),
            write,
            key,
            policy: StoredValue::new(Policy::default()),
            listener: StoredValue::new(None),
            current: StoredValue::new(None),
            pending: StoredValue::new(Vec::new()),
            locks: StoredValue::new_local(Vec::new()),
        };
        // (Each listener is removed with the owner.)
        let _ = use_event_listener(crate::browser::window(), leptos::ev::online, move |_| {
            jobs.send(Command::Online(true));
        });
        let _ = use_event_listener(crate::browser::window(), leptos::ev::offline, move |_| {
            jobs.send(Command::Online(false));
        });
        let _ = use_event_listener(crate::browser::window(), leptos::ev::storage, move |e| {
            if let Some(change) = change_of(&e) {
                jobs.send(Command::Stored(change));
            }
        });
        on_cleanup(move || {
            if let Some(Some(handle)) = jobs.current.try_update_value(Option::take) {
                handle.abort();
            }
            if let Some(pending) = jobs.pending.try_update_value(std::mem::take) {
                pending.iter().for_each(|(_, handle)| handle.abort());
            }
        });
        jobs
    }

    /// Sets how polling behaves (from the settings) for what happens from now on.
    pub fn set_policy(&self, policy: Policy) {
        self.policy.set_value(policy);
    }

    /// Tells `listener` when a job of this page starts, completes or fails (for a host
    /// page: see [`crate::browser::embed`]).
    pub fn set_listener(&self, listener: Callback<EmbedEvent>) {
        self.listener.set_value(Some(listener));
    }

    /// Takes in `command`, then carries out what it calls for. Does nothing once the
    /// owner is gone.
    pub fn send(&self, command: Command) {
        let policy = self.policy.try_get_value().unwrap_or_default();
        let Some(effects) = self
            .write
            .try_update(|state| apply(state, command, now_ms(), &policy))
        else {
            return;
        };
        for effect in effects {
            self.run(effect);
        }
    }

    /// The browser is online, for the task views.
    pub fn online(&self) -> Signal<bool> {
        let state = self.state;
        Signal::derive(move || state.with(|s| !s.offline))
    }

    /// How long a run typically takes in this browser, for the task views' progress.
    pub fn typical_ms(&self) -> Signal<Option<u64>> {
        let state = self.state;
        Signal::derive(move || state.with(|s| typical_ms(s.tasks.iter().map(|t| &t.record))))
    }

    /// Loads the history from storage and goes on with every unfinished task.
    pub fn restore(&self) {
        match storage::load_history() {
            Ok((records, skipped)) => self.send(Command::Restored { records, skipped }),
            Err(error) => {
                self.store_error.set(Some(error));
            }
        }
    }

    fn run(&self, effect: Effect) {
        let jobs = *self;
        match effect {
            Effect::Persist(record) => {
                let result = storage::save_record(&record).err();
                if self.store_error.try_get_untracked() != Some(result) {
                    self.store_error.try_set(result);
                }
            }
            Effect::Erase(id) => storage::delete_record(&id),
            Effect::EraseAll => storage::clear_history(),
            Effect::PollIn(id, ms) => self.pend(id.clone(), async move {
                TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX)).await;
                jobs.send(Command::Due(id));
            }),
            Effect::Fetch { task, base, proxy } => {
                let key = self.key.try_get_untracked().unwrap_or_default();
                let Some(connection) = for_task(base, proxy, &key) else {
                    return self.send(Command::NoKey(task));
                };
                self.pend(task.clone(), async move {
                    let outcome = poll(&connection, &task).await;
                    jobs.send(Command::Polled(task, outcome));
                });
            }
            Effect::Stop(id) => {
                if let Some(Some(handle)) = self.pending.try_update_value(|p| take(p, &id)) {
                    handle.abort();
                }
            }
            Effect::Lock { task, wait } => self.pend(task.clone(), async move {
                let lock = jobs.take_lock(&task, wait).await;
                let stored = if wait {
                    storage::read_record(&task)
                } else {
                    None
                };
                let key = jobs.key.try_with_untracked(|k| given_key(k).is_some()) == Some(true);
                jobs.send(Command::Locked {
                    task,
                    lock,
                    stored,
                    key,
                });
            }),
            Effect::Release(id) => {
                // Dropping the held lock lets it go.
                self.locks.try_update_value(|locks| take(locks, &id));
            }
            Effect::Announce(event) => {
                if let Some(Some(listener)) = self.listener.try_get_value() {
                    listener.run(event);
                }
            }
        }
    }

    /// Runs `work` for task `id`, dropping whatever was pending for it.
    fn pend(&self, id: TaskId, work: impl std::future::Future<Output = ()> + 'static) {
        let (work, handle) = abortable(work);
        if let Some(Some(old)) = self.pending.try_update_value(|p| {
            let old = take(p, &id);
            p.push((id, handle));
            old
        }) {
            old.abort();
        }
        spawn_local(async move {
            let _ = work.await;
        });
    }

    /// Asks for task `id`'s tab lock, keeping it when granted.
    async fn take_lock(&self, id: &TaskId, wait: bool) -> Lock {
        match tab_lock::request(&lock_name(id), wait).await {
            tab_lock::Lock::Held(held) => {
                self.locks.try_update_value(|locks| {
                    // (Replacing one held already lets that one go.)
                    take(locks, id);
                    locks.push((id.clone(), held));
                });
                Lock::Held
            }
            tab_lock::Lock::Busy => Lock::Busy,
            // No locks in this browser: every tab polls.
            tab_lock::Lock::Unsupported => Lock::Held,
        }
    }

    /// Starts a generation: the image is uploaded (or read inline) if it is a file, the
    /// job submitted once, and the task, once its id arrives, recorded and polled.
    /// `thumbnail_of` is where a thumbnail of the input can be drawn from (`src`, needs
    /// CORS).
    pub fn start(
        &self,
        connection: Connection,
        image: ImageToSend,
        thumbnail_of: Option<(String, bool)>,
        upload: UploadMode,
        base64: bool,
    ) {
        let upload_first = matches!(image, ImageToSend::File(_)) && upload == UploadMode::Binary;
        self.send(Command::Generate { upload_first });
        let jobs = *self;
        let work = async move {
            let thumbnail = match &thumbnail_of {
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
                        Err(error) => return jobs.send(Command::UploadFailed(error)),
                    }
                }
            };
            jobs.send(Command::Uploaded);
            let request = SubmitRequest {
                image,
                enable_base64_output: base64,
            };
            match submit(&connection, &request).await {
                Ok(reply) => {
                    // Taken before the record tells the other tabs, so this tab polls.
                    jobs.take_lock(&reply.id, false).await;
                    jobs.send(Command::Submitted {
                        sent: sent_to(&connection),
                        reply,
                        thumbnail,
                    });
                }
                Err(error) => jobs.send(Command::SubmitFailed(error)),
            }
        };
        let (work, handle) = abortable(work);
        if let Some(Some(old)) = self.current.try_update_value(|c| c.replace(handle)) {
            old.abort();
        }
        spawn_local(async move {
            let _ = work.await;
        });
    }

    /// Finds a task by id (one started earlier, or elsewhere), shows it as the current
    /// job and waits for it if it is not finished. Unknown ids are asked for once first:
    /// only a task the server knows is added to the history.
    pub async fn look_up(&self, id: TaskId, connection: Connection) -> Result<(), ApiError> {
        if self.state.with_untracked(|s| s.task(&id).is_some()) {
            self.send(Command::Open(id));
            return Ok(());
        }
        let reply = poll(&connection, &id).await?;
        reply.is_about(&id)?;
        // Taken before the record tells the other tabs, so this tab polls.
        self.take_lock(&id, false).await;
        self.send(Command::Found {
            sent: sent_to(&connection),
            reply,
        });
        Ok(())
    }
}

fn sent_to(connection: &Connection) -> Sent {
    Sent {
        base: connection.base.clone(),
        proxy: connection.key.is_none(),
    }
}

/// What another tab did to the history, from a `storage` event.
fn change_of(event: &web_sys::StorageEvent) -> Option<Change> {
    let Some(name) = event.key() else {
        return Some(Change::Cleared);
    };
    let raw_id = name.strip_prefix(history::ENTRY_PREFIX)?;
    match event.new_value() {
        None => TaskId::parse(raw_id).ok().map(Change::Removed),
        Some(raw) => history::decode(&name, &raw).ok().map(Change::Written),
    }
}
