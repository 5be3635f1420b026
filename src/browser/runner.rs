//! Carries out the [`Effect`]s of the page's jobs ([`crate::core::jobs`], where every
//! rule lives) and turns what happens — a click, a timer, a reply, a tab lock, another
//! tab's `storage` event, the browser going on- or offline, the key typed or cleared —
//! into the next [`Command`]. It decides nothing: it keeps what a pure reducer cannot
//! hold (the chosen file, the connection with its key, where the thumbnail is drawn
//! from) and hands the outcome of each effect back as it came.
//!
//! Per task at most one thing is pending (a lock request, its next poll or a request); a
//! new one, or [`Effect::Stop`], drops the one before, which aborts its request. Every
//! task's next poll waits in one [`Pace`], which one timer serves: polls go at most
//! [`crate::core::pace::MAX_POLLS_PER_SECOND`] a second however many tasks run (a
//! batch). Everything stops when the owner of [`Jobs`] is cleaned up.

use crate::browser::listen::{self, listen};
use futures::future::{abortable, AbortHandle};
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use super::api_client::{data_uri, poll, submit, upload_binary, Connection};
use super::storage::{self, StoreError};
use super::tab_lock::{self, Held};
use super::thumbnail::thumbnail;
use super::timer::{now_ms, sleep_ms};
use crate::core::api::{ApiError, TaskId};
use crate::core::connection::{for_task, given_key};
use crate::core::embed::EmbedEvent;
use crate::core::history;
use crate::core::job::Policy;
use crate::core::jobs::{apply, change_of, Command, Effect, Generation, JobsState, Lock};
use crate::core::pace::Pace;
use crate::core::task_view::typical_ms;

/// What the reducer cannot hold of a press of Generate: where it is sent (with the key),
/// the chosen file, and where its thumbnail is drawn from (`src`, and whether it needs
/// CORS).
#[derive(Clone)]
pub struct Press {
    /// Where the job goes, with its credentials.
    pub connection: Connection,
    /// The chosen file, when a file is sent.
    pub file: Option<SendWrapper<web_sys::File>>,
    /// Where a thumbnail of the input is drawn from.
    pub thumbnail_of: Option<(String, bool)>,
    /// The site's bot check's token, taken from its widget at the press: verified with
    /// the upload (whose pass then covers the submit at the proxy), else with the submit.
    pub token: Option<String>,
}

/// The page's jobs: their state, for components to read, and what runs them. Made once
/// by the app, provided as context and read with [`use_jobs`].
#[derive(Clone, Copy)]
pub struct Jobs {
    /// Every job of the page ([`JobsState`]); changed only through [`Jobs::send`].
    pub state: ReadSignal<JobsState>,
    /// The history could not be saved (the jobs go on in memory).
    pub store_error: RwSignal<Option<StoreError>>,
    /// The history has been read from where it is kept, so a reload finds this page's
    /// tasks again (unless [`Jobs::store_error`] says saving stopped).
    pub restored: RwSignal<bool>,
    write: WriteSignal<JobsState>,
    /// The API key typed (or remembered) on this page, for tasks sent in direct mode.
    key: Signal<String>,
    policy: StoredValue<Policy>,
    listener: StoredValue<Option<Callback<EmbedEvent>>>,
    /// The press being handed to the reducer, until its first effect names its number.
    press: StoredValue<Option<Press>>,
    /// The latest generation's number and press.
    current: StoredValue<Option<(u64, Press)>>,
    /// Work of the generations and look-ups under way, by a number of its own (aborted
    /// with the owner).
    work: StoredValue<(u64, Vec<(u64, AbortHandle)>)>,
    /// What each task waits for.
    pending: StoredValue<Waiting>,
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

fn lock_name(id: &TaskId) -> String {
    format!("multishot.poll.{id}")
}

fn navigator_online() -> bool {
    crate::browser::window().is_none_or(|w| w.navigator().on_line())
}

/// What the tasks wait for: per task its lock request or request, every task's next
/// poll, and the one timer that takes them (when it fires).
#[derive(Default)]
struct Waiting {
    work: Vec<(TaskId, AbortHandle)>,
    pace: Pace,
    timer: Option<(u64, AbortHandle)>,
}

/// Work under way, boxed.
type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Runs `work` until it ends or the handle returned aborts it.
fn spawn_abortable(work: Pending) -> AbortHandle {
    let (work, handle) = abortable(work);
    spawn_local(async move {
        let _ = work.await;
    });
    handle
}

/// Takes task `id`'s entry out of `list`.
fn take<T>(list: &mut Vec<(TaskId, T)>, id: &TaskId) -> Option<T> {
    let at = list.iter().position(|(k, _)| k == id)?;
    Some(list.swap_remove(at).1)
}

impl Jobs {
    /// An empty page of jobs; tasks sent in direct mode use `key`. Listens to the
    /// browser's `online`/`offline` and `storage` events and to the key; every timer,
    /// request and lock goes when the reactive owner is cleaned up.
    pub fn new(key: Signal<String>) -> Self {
        let (state, write) = signal(JobsState {
            offline: !navigator_online(),
            key: key.with_untracked(|k| given_key(k).is_some()),
            ..JobsState::default()
        });
        let jobs = Self {
            state,
            store_error: RwSignal::new(None),
            restored: RwSignal::new(false),
            write,
            key,
            policy: StoredValue::new(Policy::default()),
            listener: StoredValue::new(None),
            press: StoredValue::new(None),
            current: StoredValue::new(None),
            work: StoredValue::new((0, Vec::new())),
            pending: StoredValue::new(Waiting::default()),
            locks: StoredValue::new_local(Vec::new()),
        };
        // (Each listener is removed with the owner.)
        listen(listen::window(), "online", move |_| {
            jobs.send(Command::Online(true));
        });
        listen(listen::window(), "offline", move |_| {
            jobs.send(Command::Online(false));
        });
        listen(listen::window(), "storage", move |e| {
            let e: web_sys::StorageEvent = e.unchecked_into();
            let (name, value) = (e.key(), e.new_value());
            if let Some(change) = change_of(name.as_deref(), value.as_deref()) {
                jobs.send(Command::Stored(change));
            }
        });
        // At its first run too: a key typed between this and that first run (the page
        // still starting) would otherwise never be told, and a batch would wait for a
        // key the page has.
        leptos::prelude::Effect::watch(
            move || key.with(|k| given_key(k).is_some()),
            move |given, _, _| jobs.send(Command::KeyGiven(*given)),
            true,
        );
        on_cleanup(move || {
            if let Some((_, work)) = jobs.work.try_update_value(std::mem::take) {
                work.iter().for_each(|(_, handle)| handle.abort());
            }
            if let Some(waiting) = jobs.pending.try_update_value(std::mem::take) {
                let timer = waiting.timer.map(|(_, handle)| handle);
                waiting
                    .work
                    .iter()
                    .map(|(_, handle)| handle)
                    .chain(&timer)
                    .for_each(AbortHandle::abort);
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

    /// Presses Generate: `generation` to the reducer, `press` kept for its effects.
    pub fn generate(&self, generation: Generation, press: Press) {
        self.press.set_value(Some(press));
        self.send(Command::Generate(generation));
        // A press the reducer did not take (one is sending) leaves nothing behind.
        self.press.set_value(None);
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
            Ok((records, skipped)) => {
                self.restored.set(true);
                self.send(Command::Restored { records, skipped });
            }
            Err(error) => {
                self.store_error.set(Some(error));
            }
        }
    }

    /// A reload finds this page's tasks again: the history was read from where it is
    /// kept, and saving has not failed since.
    pub fn kept(&self) -> Signal<bool> {
        let (restored, error) = (self.restored, self.store_error);
        Signal::derive(move || restored.get() && error.with(Option::is_none))
    }

    /// The press of generation `number` (the one just handed over takes that number).
    fn press_of(&self, number: u64) -> Option<Press> {
        if let Some(Some((n, press))) = self.current.try_get_value() {
            if n == number {
                return Some(press);
            }
        }
        let press = self.press.try_update_value(Option::take).flatten()?;
        self.current.set_value(Some((number, press.clone())));
        Some(press)
    }

    fn run(&self, effect: Effect) {
        let jobs = *self;
        match effect {
            Effect::Thumbnail(number) => {
                let Some(Press {
                    thumbnail_of: Some((src, cors)),
                    ..
                }) = self.press_of(number)
                else {
                    return self.send(Command::Thumbnail(number, None));
                };
                self.work(async move {
                    let drawn = thumbnail(&src, cors).await;
                    jobs.send(Command::Thumbnail(number, drawn));
                });
            }
            Effect::Upload(number) | Effect::ReadInline(number) => {
                let inline = matches!(effect, Effect::ReadInline(_));
                let press = self.press_of(number);
                self.work(async move {
                    let sent = match press.as_ref().and_then(|p| Some((p, p.file.as_ref()?))) {
                        Some((_, file)) if inline => data_uri(file).await,
                        Some((press, file)) => {
                            upload_binary(&press.connection, file, press.token.as_deref()).await
                        }
                        None => Err(ApiError::BadResponse("no file was chosen".into())),
                    };
                    jobs.send(Command::Uploaded(number, sent));
                });
            }
            Effect::Submit {
                generation,
                request,
            } => {
                let press = self.press_of(generation);
                self.work(async move {
                    let outcome = match press {
                        Some(press) => {
                            submit(&press.connection, &request, press.token.as_deref()).await
                        }
                        None => Err(ApiError::BadResponse("nothing was pressed".into())),
                    };
                    jobs.send(Command::Submitted(generation, outcome));
                });
            }
            Effect::LookUp { task, base, proxy } => {
                let connection = self.connection_for(base, proxy);
                self.work(async move {
                    let outcome = match connection {
                        Ok(connection) => poll(&connection, &task).await,
                        Err(error) => Err(error),
                    };
                    jobs.send(Command::LookedUp(task, outcome));
                });
            }
            Effect::Persist(record) => {
                let result = storage::save_record(&record).err();
                if result.is_none() {
                    let saved = web_sys::Event::new(history::SAVED_EVENT).ok();
                    if let (Some(document), Some(saved)) = (listen::document(), saved) {
                        let _ = document.dispatch_event(&saved);
                    }
                }
                if self.store_error.try_get_untracked() != Some(result) {
                    self.store_error.try_set(result);
                }
            }
            Effect::Erase(id) => storage::delete_record(&id),
            Effect::EraseAll => storage::clear_history(),
            Effect::PollIn(id, ms) => {
                self.drop_pending(&id);
                self.pending
                    .try_update_value(|w| w.pace.schedule(id, now_ms().saturating_add(ms)));
                self.tick();
            }
            Effect::Fetch { task, base, proxy } => {
                let connection = self.connection_for(base, proxy);
                self.pend(task.clone(), async move {
                    let outcome = match connection {
                        Ok(connection) => poll(&connection, &task).await,
                        Err(error) => Err(error),
                    };
                    jobs.send(Command::Polled(task, outcome));
                });
            }
            Effect::Stop(id) => self.drop_pending(&id),
            Effect::Lock { task, wait } => {
                // Asked now, before any record saved after it tells the other tabs.
                let asked = self.take_lock(&task, wait);
                self.pend(task.clone(), async move {
                    let lock = asked.await;
                    let stored = if wait {
                        storage::read_record(&task)
                    } else {
                        None
                    };
                    jobs.send(Command::Locked { task, lock, stored });
                });
            }
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

    /// The connection for a task (sent through a proxy, or with the key typed now).
    fn connection_for(
        &self,
        base: crate::core::config::BaseUrl,
        proxy: bool,
    ) -> Result<Connection, ApiError> {
        let key = self.key.try_get_untracked().unwrap_or_default();
        for_task(base, proxy, &key)
    }

    /// Runs `work` of a generation or a look-up until it ends or the owner goes.
    fn work(&self, work: impl std::future::Future<Output = ()> + 'static) {
        self.work_boxed(Box::pin(work));
    }

    /// [`Jobs::work`] for one type of future (the abort machinery is not instantiated
    /// again for each kind of work: first-load bytes).
    fn work_boxed(&self, work: Pending) {
        let (work, handle) = abortable(work);
        let Some(number) = self.work.try_update_value(|(count, all)| {
            *count += 1;
            all.push((*count, handle));
            *count
        }) else {
            return;
        };
        let jobs = *self;
        spawn_local(async move {
            let _ = work.await;
            jobs.work
                .try_update_value(|(_, all)| all.retain(|(n, _)| *n != number));
        });
    }

    /// Runs `work` for task `id`, dropping whatever was pending for it.
    fn pend(&self, id: TaskId, work: impl std::future::Future<Output = ()> + 'static) {
        self.pend_boxed(id, Box::pin(work));
    }

    /// [`Jobs::pend`] for one type of future.
    fn pend_boxed(&self, id: TaskId, work: Pending) {
        self.drop_pending(&id);
        let handle = spawn_abortable(work);
        self.pending.try_update_value(|w| w.work.push((id, handle)));
    }

    /// Drops what is pending for task `id`: its poll to come, its lock request or
    /// request (aborted).
    fn drop_pending(&self, id: &TaskId) {
        if let Some(Some(old)) = self.pending.try_update_value(|w| {
            w.pace.remove(id);
            take(&mut w.work, id)
        }) {
            old.abort();
        }
    }

    /// Sets the one poll timer for the next poll [`Pace`] lets go (unless it is set for
    /// then or sooner); when it fires, that task is due, and the timer is set again.
    fn tick(&self) {
        let Some(Some(wake)) = self.pending.try_update_value(|w| {
            let wake = w.pace.wake()?;
            w.timer
                .as_ref()
                .is_none_or(|(at, _)| *at > wake)
                .then_some(wake)
        }) else {
            return;
        };
        let jobs = *self;
        let handle = spawn_abortable(Box::pin(async move {
            sleep_ms(wake.saturating_sub(now_ms())).await;
            let due = jobs
                .pending
                .try_update_value(|w| {
                    w.timer = None;
                    w.pace.take(now_ms())
                })
                .flatten();
            if let Some(id) = due {
                jobs.send(Command::Due(id));
            }
            jobs.tick();
        }));
        if let Some(Some((_, old))) = self
            .pending
            .try_update_value(|w| w.timer.replace((wake, handle)))
        {
            old.abort();
        }
    }

    /// Asks for task `id`'s tab lock now, keeping it when granted.
    fn take_lock(&self, id: &TaskId, wait: bool) -> impl std::future::Future<Output = Lock> {
        let asked = tab_lock::request(&lock_name(id), wait);
        let (jobs, id) = (*self, id.clone());
        async move {
            match asked.await {
                tab_lock::Lock::Held(held) => {
                    jobs.locks.try_update_value(|locks| {
                        // (Replacing one held already lets that one go.)
                        take(locks, &id);
                        locks.push((id, held));
                    });
                    Lock::Held
                }
                tab_lock::Lock::Busy => Lock::Busy,
                // No locks in this browser: every tab polls.
                tab_lock::Lock::Unsupported => Lock::Held,
            }
        }
    }
}
