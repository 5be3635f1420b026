//! All the jobs of a page as one pure state machine: `apply(state, command, now, policy)`
//! changes [`JobsState`] and returns the [`Effect`]s the browser glue carries out
//! (storage, timers, requests, tab locks, messages to a host page). One task's polling is
//! [`Wait::on`]; this module is everything around it: a generation step by step (the
//! thumbnail beside the upload, then the submit, then the task's lock), a task looked up
//! by id, the history list, which tab polls a task, which record wins when another tab
//! writes one, when a job is announced to the host page, letting go of big replies, and
//! what is pruned.
//!
//! The glue ([`crate::browser::runner`]) holds no rule: it turns each effect into a
//! timer, a request or a storage call, and each outcome into the next [`Command`].

use super::api::{ApiError, Prediction, SubmitRequest, TaskId};
use super::config::{BaseUrl, UploadMode};
use super::connection::Connection;
use super::embed::{EmbedEvent, Stage};
use super::history::{self, Record, Skipped, HISTORY_LIMIT};
use super::job::{Event, Next, Phase, Policy, Run, Tracked, Wait, Watch};
use super::{pace, task_view};

/// Everything the page knows about its jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobsState {
    /// The generation shown in the Generate section, if any; from [`Run::Created`] on,
    /// its task is one of `tasks`.
    pub view: Option<Run>,
    /// Every task known to this page, newest first (the history).
    pub tasks: Vec<Tracked>,
    /// Stored entries that could not be read.
    pub skipped: Vec<Skipped>,
    /// The browser says it is offline.
    pub offline: bool,
    /// Tasks whose poll came due while offline: polled when the browser is back online.
    pub due_offline: Vec<TaskId>,
    /// Tasks announced to the host page as over (each is, once).
    pub announced: Vec<TaskId>,
    /// An API key is given on the page (a task sent with one can be polled).
    pub key: bool,
    /// The latest press of Generate, from its first step until the next press.
    pub generating: Option<Generating>,
    /// Presses of Generate so far (each [`Generating`] has its number).
    pub generations: u64,
    /// Tasks this tab just created or found, whose tab lock is asked for: the answer
    /// decides who polls them.
    pub claiming: Vec<TaskId>,
    /// A task looked up by id: under way, found, or why not.
    pub lookup: Option<LookUp>,
}

/// What one press of Generate sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// The image.
    pub image: ImageToSend,
    /// Where it goes.
    pub sent: Sent,
    /// The shots are asked for inline, as base64.
    pub base64: bool,
    /// A thumbnail of the input can be drawn (the page shows a preview of it).
    pub thumbnail: bool,
}

/// The image a generation sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageToSend {
    /// The chosen file: uploaded to WaveSpeed's storage first, or sent inline.
    File(UploadMode),
    /// A web address, sent as it is.
    Url(String),
}

/// A generation under way (or the latest one), as far as it has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generating {
    /// Its number: answers about an earlier press are told apart by it.
    pub number: u64,
    /// What was pressed.
    pub generation: Generation,
    /// The input's thumbnail: `None` while it is being drawn, then what came of it.
    pub thumbnail: Option<Option<String>>,
    /// The task it made, once it exists.
    pub task: Option<TaskId>,
}

/// A task looked up by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookUp {
    /// The id asked for.
    pub task: TaskId,
    /// Where it is asked for.
    pub sent: Sent,
    /// How it went: `None` while asking.
    pub outcome: Option<Result<(), ApiError>>,
}

impl JobsState {
    /// The task with id `id`, if known.
    pub fn task(&self, id: &TaskId) -> Option<&Tracked> {
        self.tasks.iter().find(|t| &t.record.id == id)
    }

    fn task_mut(&mut self, id: &TaskId) -> Option<&mut Tracked> {
        self.tasks.iter_mut().find(|t| &t.record.id == id)
    }

    /// The current generation's task is over: its result is shown (the next step is a new
    /// image, or an explicit run of the same one again).
    pub fn has_result(&self) -> bool {
        self.view
            .as_ref()
            .and_then(Run::task)
            .and_then(|id| self.task(id))
            .is_some_and(|t| t.record.is_finished())
    }

    /// The current generation is over as far as money goes — its task finished (charged,
    /// or refunded when it failed), or the generation ended without making one — so the
    /// price line reads the balance (or a proxy's runs left) again. A wait the person
    /// stopped (Cancel) is not over: its task goes on at WaveSpeed.
    pub fn is_settled(&self) -> bool {
        self.view.as_ref().is_some_and(|run| match run.task() {
            Some(_) => self.has_result(),
            None => !run.is_busy(),
        })
    }

    /// Generation `number` is the latest, and still sending.
    fn is_sending(&self, number: u64) -> bool {
        self.generating.as_ref().is_some_and(|g| g.number == number)
            && self.view.as_ref().is_some_and(Run::is_busy)
    }

    /// The current generation is sending, or its task is being polled by this page.
    pub fn is_busy(&self) -> bool {
        self.view.as_ref().is_some_and(|run| {
            run.is_busy()
                || run
                    .task()
                    .and_then(|id| self.task(id))
                    .is_some_and(Tracked::is_polling)
        })
    }
}

/// What a person can do to a task (the task view's buttons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stop waiting (the task goes on at WaveSpeed).
    Cancel,
    /// Go on waiting: Resume, Check again, Continue once a key is given, Fetch the shots
    /// again.
    Resume,
}

/// The answer to asking for a task's tab lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// This tab has it (or the browser has no locks: every tab polls).
    Held,
    /// Another tab has it.
    Busy,
}

/// Where a new task was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The API base or proxy URL.
    pub base: BaseUrl,
    /// Through a proxy (no key needed to go on).
    pub proxy: bool,
}

impl From<&Connection> for Sent {
    /// Where a connection sends: its base, through a proxy when it holds no key.
    fn from(connection: &Connection) -> Self {
        Sent {
            base: connection.base.clone(),
            proxy: connection.key.is_none(),
        }
    }
}

/// What another tab did to the stored history (a `storage` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The whole storage was cleared.
    Cleared,
    /// A task's entry was removed.
    Removed(TaskId),
    /// A task's entry was written.
    Written(Record),
    /// An entry of the history was written that cannot be read.
    Unreadable(Skipped),
}

/// What the "Look up a task" form sends for the text typed, through `connection` (or
/// why nothing can be sent: not a task id, or no connection).
pub fn look_up(typed: &str, connection: &Result<Connection, String>) -> Result<Command, String> {
    let task = TaskId::parse(typed.trim()).map_err(|_| {
        "That is not a task ID: WaveSpeed's IDs are letters, digits, “-”, “_” and “.”.".to_owned()
    })?;
    let sent = connection.as_ref().map_err(Clone::clone)?.into();
    Ok(Command::LookUp { task, sent })
}

impl LookUp {
    /// What the look-up form says of it (`None` while asking).
    pub fn message(&self) -> Option<String> {
        Some(match self.outcome.as_ref()? {
            Ok(()) => "Found: it is shown under Generate.".to_owned(),
            Err(error) => format!("Could not look it up: {error}"),
        })
    }
}

/// What another tab did, from a `storage` event's entry name (`None`: the whole storage
/// was cleared) and new value (`None`: removed). `None` for an entry that is not one of
/// the history's; one that cannot be read is [`Change::Unreadable`].
pub fn change_of(name: Option<&str>, value: Option<&str>) -> Option<Change> {
    let Some(name) = name else {
        return Some(Change::Cleared);
    };
    let raw_id = name.strip_prefix(history::ENTRY_PREFIX)?;
    Some(match value {
        None => Change::Removed(TaskId::parse(raw_id).ok()?),
        Some(raw) => match history::decode(name, raw) {
            Ok(record) => Change::Written(record),
            Err(why) => Change::Unreadable(Skipped {
                entry: name.to_owned(),
                why,
            }),
        },
    })
}

/// Something that happened: from the person, the browser, the network or another tab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// The stored history was read (when the page opens).
    Restored {
        /// The readable records.
        records: Vec<Record>,
        /// The entries that could not be read.
        skipped: Vec<Skipped>,
    },
    /// Generate was pressed. Ignored while a generation is sending.
    Generate(Generation),
    /// The input's thumbnail for generation `.0` is drawn (or could not be).
    Thumbnail(u64, Option<String>),
    /// Generation `.0`'s image is uploaded (its address) or read inline (a data URI),
    /// or that failed: then nothing was created.
    Uploaded(u64, Result<String, ApiError>),
    /// Generation `.0`'s submit was answered with a task, or failed.
    Submitted(u64, Result<Prediction, ApiError>),
    /// Look up a task by its id (one of this page's, or one made elsewhere): a known one
    /// is shown; an unknown one is asked for once first, and only a task the server
    /// knows is added to the history.
    LookUp {
        /// The id.
        task: TaskId,
        /// Where to ask.
        sent: Sent,
    },
    /// The server answered about a task looked up by id.
    LookedUp(TaskId, Result<Prediction, ApiError>),
    /// Show a known task as the current job, and wait for it if it is not over.
    Open(TaskId),
    /// The answer to an [`Effect::Lock`]; `stored` is the task's record as storage has
    /// it now (another tab may have finished it while this one waited).
    Locked {
        /// The task.
        task: TaskId,
        /// The answer.
        lock: Lock,
        /// The stored record, read after a wait.
        stored: Option<Record>,
    },
    /// A poll timer ran out.
    Due(TaskId),
    /// An API key is given on the page (`true`), or none is any more.
    KeyGiven(bool),
    /// A poll was answered, or failed.
    Polled(TaskId, Result<Prediction, ApiError>),
    /// A person pressed a task's button.
    User(TaskId, Action),
    /// The browser went online (`true`) or offline.
    Online(bool),
    /// Another tab changed the stored history.
    Stored(Change),
    /// The key, proxy or API base changed.
    Reconnected,
    /// The person is done with the current generation (New image): the Generate section
    /// is empty again; its task stays in the history. Nothing while it is sending.
    Dismiss,
    /// Delete a task from the history (it stays at WaveSpeed).
    Delete(TaskId),
    /// Delete the whole history.
    Clear,
    /// A task the batch made (its module sent it through this page, [`crate::core::batch`]):
    /// kept, saved at once and waited for as one made by Generate is, without becoming
    /// the current generation.
    Adopt {
        /// Where it was sent.
        sent: Sent,
        /// The submit's answer.
        reply: Prediction,
        /// The input's thumbnail.
        thumbnail: Option<String>,
    },
}

/// What the glue does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Draw a thumbnail of generation `.0`'s input; the outcome is
    /// [`Command::Thumbnail`].
    Thumbnail(u64),
    /// Upload generation `.0`'s file to WaveSpeed's storage; the outcome is
    /// [`Command::Uploaded`].
    Upload(u64),
    /// Read generation `.0`'s file as a data URI; the outcome is [`Command::Uploaded`].
    ReadInline(u64),
    /// Send generation `generation`'s job, once (never again by itself); the outcome is
    /// [`Command::Submitted`].
    Submit {
        /// The generation.
        generation: u64,
        /// The body.
        request: SubmitRequest,
    },
    /// Ask the server about a task looked up by id; the outcome is
    /// [`Command::LookedUp`].
    LookUp {
        /// The task.
        task: TaskId,
        /// Where to ask.
        base: BaseUrl,
        /// Through a proxy (else with the page's key).
        proxy: bool,
    },
    /// Save a task's record.
    Persist(Record),
    /// Remove a task's record from storage.
    Erase(TaskId),
    /// Remove every history entry from storage.
    EraseAll,
    /// Run a timer for a task; when it runs out, [`Command::Due`]. Replaces any timer
    /// or request pending for the task.
    PollIn(TaskId, u64),
    /// Ask the server for a task's result now; the outcome is [`Command::Polled`].
    Fetch {
        /// The task.
        task: TaskId,
        /// Where it was sent.
        base: BaseUrl,
        /// Through a proxy (else with the page's key).
        proxy: bool,
    },
    /// Drop whatever timer or request is pending for a task (a request is aborted).
    Stop(TaskId),
    /// Ask for a task's tab lock, waiting for it (`wait`) or not; the answer is
    /// [`Command::Locked`].
    Lock {
        /// The task.
        task: TaskId,
        /// Wait until the tab holding it lets go.
        wait: bool,
    },
    /// Let go of a task's tab lock (another tab may take it over).
    Release(TaskId),
    /// Tell the host page.
    Announce(EmbedEvent),
}

/// Takes in `command` at `now` (ms since the epoch) and returns what to do.
pub fn apply(state: &mut JobsState, command: Command, now: u64, policy: &Policy) -> Vec<Effect> {
    let mut fx = Vec::new();
    match command {
        Command::Restored { records, skipped } => {
            state.skipped = skipped;
            let mut fresh = Vec::new();
            for record in records {
                if state.task(&record.id).is_none() {
                    fresh.push(record.id.clone());
                    place(
                        state,
                        Tracked {
                            record,
                            watch: Watch::Idle,
                        },
                    );
                }
            }
            // Newest first, as the history is.
            let resume: Vec<TaskId> = state
                .tasks
                .iter()
                .filter(|t| t.record.should_resume(now) && fresh.contains(&t.record.id))
                .map(|t| t.record.id.clone())
                .collect();
            if let (None, Some(newest)) = (&state.view, resume.first()) {
                state.view = Some(Run::Created(newest.clone()));
            }
            for task in resume {
                fx.push(Effect::Lock { task, wait: false });
            }
        }
        Command::Generate(generation) => {
            // One at a time: a second press while one is sending changes nothing.
            if state.view.as_ref().is_some_and(Run::is_busy) {
                return fx;
            }
            state.generations += 1;
            let number = state.generations;
            if generation.thumbnail {
                fx.push(Effect::Thumbnail(number));
            }
            state.view = Some(match &generation.image {
                ImageToSend::File(mode) => {
                    fx.push(match mode {
                        UploadMode::Binary => Effect::Upload(number),
                        UploadMode::Inline => Effect::ReadInline(number),
                    });
                    Run::Uploading
                }
                ImageToSend::Url(url) => {
                    fx.push(submit(number, &generation, url.clone()));
                    Run::Submitting
                }
            });
            state.generating = Some(Generating {
                number,
                thumbnail: (!generation.thumbnail).then_some(None),
                generation,
                task: None,
            });
        }
        Command::Thumbnail(number, thumbnail) => {
            let Some(g) = state.generating.as_mut().filter(|g| g.number == number) else {
                return fx;
            };
            g.thumbnail = Some(thumbnail.clone());
            // Drawn after the task arrived: its record takes it (and is saved again).
            if let Some(t) = g.task.clone().and_then(|id| state.task_mut(&id)) {
                let before = t.record.thumbnail.clone();
                t.record = t.record.clone().with_thumbnail(thumbnail);
                if t.record.thumbnail != before && matches!(t.watch, Watch::Here(_)) {
                    fx.push(Effect::Persist(t.record.clone()));
                }
            }
        }
        Command::Uploaded(number, outcome) => {
            if !state.is_sending(number) {
                return fx;
            }
            match outcome {
                Ok(image) => {
                    if let Some(g) = &state.generating {
                        fx.push(submit(number, &g.generation, image));
                    }
                    set_run(state, Run::Submitting);
                }
                Err(error) => {
                    fx.push(failed(None, Stage::Upload, &error, "Upload failed: "));
                    set_run(state, Run::UploadFailed(error));
                }
            }
        }
        Command::Submitted(number, Err(error)) => {
            if state.is_sending(number) {
                fx.push(failed(
                    None,
                    Stage::Submit,
                    &error,
                    "Could not start the job: ",
                ));
                set_run(state, Run::submit_failed(error));
            }
        }
        Command::Submitted(number, Ok(reply)) => {
            let Some(g) = state.generating.as_mut().filter(|g| g.number == number) else {
                return fx;
            };
            // A paid task: kept whatever the page shows meanwhile.
            let id = reply.id.clone();
            g.task = Some(id.clone());
            let thumbnail = g.thumbnail.clone().flatten();
            let record =
                record_of(g.generation.sent.clone(), &reply, now).with_thumbnail(thumbnail);
            let (mut wait, _) = Wait::start(id.clone(), now, policy);
            wait.last = Some(reply);
            claim(state, record, wait, (now, policy), &mut fx);
            fx.push(Effect::Announce(EmbedEvent::Started {
                task_id: id.to_string(),
            }));
            if state.is_sending(number) {
                set_run(state, Run::Created(id));
            }
        }
        Command::LookUp { task, sent } => {
            let known = state.task(&task).is_some();
            if !known {
                fx.push(Effect::LookUp {
                    task: task.clone(),
                    base: sent.base.clone(),
                    proxy: sent.proxy,
                });
            }
            state.lookup = Some(LookUp {
                task: task.clone(),
                sent,
                outcome: known.then_some(Ok(())),
            });
            if known {
                return apply(state, Command::Open(task), now, policy);
            }
        }
        Command::LookedUp(task, outcome) => {
            let Some(l) = state
                .lookup
                .as_mut()
                .filter(|l| l.task == task && l.outcome.is_none())
            else {
                return fx;
            };
            let sent = l.sent.clone();
            let reply = match outcome.and_then(|reply| reply.is_about(&task).map(|()| reply)) {
                Ok(reply) => reply,
                Err(error) => {
                    l.outcome = Some(Err(error));
                    return fx;
                }
            };
            l.outcome = Some(Ok(()));
            if state.task(&task).is_some() {
                // Known meanwhile (another tab wrote it): shown as it is.
                return apply(state, Command::Open(task), now, policy);
            }
            let mut record = record_of(sent, &reply, now);
            // Already over when looked up: how long it took is not known here.
            record.finished_ms = None;
            let (mut wait, _) = Wait::start(task.clone(), now, policy);
            if record.is_finished() {
                wait = wait.on(Event::Reply(reply), now, policy).0;
            } else {
                wait.last = Some(reply);
            }
            claim(state, record, wait, (now, policy), &mut fx);
            state.view = Some(Run::Created(task));
        }
        Command::Open(id) => {
            if state.task(&id).is_some() {
                go_on(state, &id, false, now, policy, &mut fx);
                state.view = Some(Run::Created(id));
            }
        }
        Command::Locked { task, lock, stored } => {
            if let Some(at) = state.claiming.iter().position(|c| c == &task) {
                // A task this tab just created or found: the answer decides who polls.
                state.claiming.swap_remove(at);
                let Some(t) = state.task_mut(&task) else {
                    if lock == Lock::Held {
                        fx.push(Effect::Release(task));
                    }
                    return fx;
                };
                match lock {
                    Lock::Held if t.is_polling() => {
                        fx.push(Effect::PollIn(task, policy.poll_interval_ms));
                    }
                    // Cancelled meanwhile: this tab keeps the lock, as a cancel does.
                    Lock::Held => {}
                    Lock::Busy => {
                        // Another tab polls it (it looked the id up, say): follow it.
                        t.watch = Watch::Elsewhere;
                        fx.push(Effect::Lock { task, wait: true });
                    }
                }
                return fx;
            }
            let key = state.key;
            let Some(t) = state
                .task_mut(&task)
                .filter(|t| !matches!(t.watch, Watch::Here(_)))
            else {
                // Deleted meanwhile (let go of it), or a stale answer for a task this tab
                // already holds.
                if lock == Lock::Held && state.task(&task).is_none() {
                    fx.push(Effect::Release(task));
                }
                return fx;
            };
            if let Some(stored) = stored.filter(|s| takes_over(&t.record, s)) {
                t.record = stored;
            }
            if lock == Lock::Busy {
                // Follow that tab, and take over when it lets go.
                t.watch = Watch::Elsewhere;
                fx.push(Effect::Lock { task, wait: true });
                return fx;
            }
            if !needs_polling(&t.record) {
                t.watch = Watch::Idle;
                fx.push(Effect::Release(task));
            } else if !can_poll(&t.record, key) {
                t.watch = Watch::NeedsKey;
                fx.push(Effect::Release(task));
            } else {
                let (mut wait, _) = Wait::start(task.clone(), now, policy);
                // Keep the latest reply (a fresh submit's) for the status line.
                if let Watch::Here(old) = &t.watch {
                    wait.last = old.last.clone();
                }
                t.watch = Watch::Here(Box::new(wait));
                fx.push(Effect::PollIn(task, 0));
            }
        }
        Command::Due(id) => {
            let (key, offline) = (state.key, state.offline);
            // Its lock is still asked for: the answer decides (no poll before).
            if state.claiming.contains(&id) {
                return fx;
            }
            let Some(t) = state.task_mut(&id) else {
                return fx;
            };
            // Cancelled while the timer ran.
            if !t.is_polling() {
                return fx;
            }
            if !can_poll(&t.record, key) {
                // Sent with a key the page no longer has: it waits for one.
                t.watch = Watch::NeedsKey;
                fx.push(Effect::Stop(id.clone()));
                fx.push(Effect::Release(id));
            } else if !offline {
                fx.push(fetch(&t.record));
            } else if !state.due_offline.contains(&id) {
                state.due_offline.push(id);
            }
        }
        Command::KeyGiven(key) => state.key = key,
        Command::Polled(id, outcome) => {
            let event = match outcome {
                Ok(reply) => Event::Reply(reply),
                Err(error) => Event::Failed(error),
            };
            feed(state, &id, event, now, policy, &mut fx);
        }
        Command::User(id, Action::Cancel) => {
            state.due_offline.retain(|d| d != &id);
            feed(state, &id, Event::Cancel, now, policy, &mut fx);
        }
        Command::User(id, Action::Resume) => go_on(state, &id, true, now, policy, &mut fx),
        Command::Online(online) => {
            state.offline = !online;
            if online {
                for id in std::mem::take(&mut state.due_offline) {
                    let polled = state.task(&id).filter(|t| t.is_polling());
                    // Each goes as soon as the pace of polls allows (one timer for all).
                    if polled.is_some() && !state.claiming.contains(&id) {
                        fx.push(Effect::PollIn(id, 0));
                    }
                }
            }
        }
        Command::Stored(Change::Cleared) => {
            // Tasks this tab polls stay (their next reply stores them again).
            let gone: Vec<TaskId> = state
                .tasks
                .iter()
                .filter(|t| !t.is_polling())
                .map(|t| t.record.id.clone())
                .collect();
            for id in gone {
                forget(state, &id, &mut fx);
            }
        }
        Command::Stored(Change::Removed(id)) => forget(state, &id, &mut fx),
        Command::Stored(Change::Unreadable(skipped)) => {
            state.skipped.retain(|s| s.entry != skipped.entry);
            state.skipped.push(skipped);
        }
        Command::Stored(Change::Written(record)) => {
            let id = record.id.clone();
            match state.task_mut(&id) {
                // This tab polls it: its own record is the truth.
                Some(t) if t.is_polling() || !takes_over(&t.record, &record) => {}
                Some(t) => {
                    t.record = record;
                    // Over (looked up in another tab): nothing left to wait for here.
                    let waits = matches!(&t.watch, Watch::Here(w) if w.phase != Phase::Finished);
                    if waits && t.record.is_finished() {
                        t.watch = Watch::Idle;
                        fx.push(Effect::Release(id));
                    }
                }
                None => {
                    // A job started in another tab: be ready to take over when that tab
                    // closes.
                    let unfinished = !record.is_finished();
                    let watch = if unfinished {
                        Watch::Elsewhere
                    } else {
                        Watch::Idle
                    };
                    place(state, Tracked { record, watch });
                    if unfinished {
                        fx.push(Effect::Lock {
                            task: id,
                            wait: false,
                        });
                    }
                }
            }
        }
        Command::Reconnected => {
            // A failure before any task was created speaks of the old connection (a
            // refused key, an unreachable proxy): it goes. One that may have created a
            // task stays: it tells the user to look for it.
            let stale = matches!(
                state.view,
                Some(
                    Run::UploadFailed(_)
                        | Run::SubmitFailed {
                            maybe_created: false,
                            ..
                        }
                )
            );
            if stale {
                state.view = None;
            }
        }
        Command::Dismiss => {
            if !state.view.as_ref().is_some_and(Run::is_busy) {
                state.view = None;
            }
        }
        Command::Delete(id) => {
            fx.push(Effect::Erase(id.clone()));
            forget(state, &id, &mut fx);
        }
        Command::Clear => {
            for t in std::mem::take(&mut state.tasks) {
                fx.push(Effect::Stop(t.record.id.clone()));
                fx.push(Effect::Release(t.record.id));
            }
            fx.push(Effect::EraseAll);
            state.skipped.clear();
            state.due_offline.clear();
            state.claiming.clear();
            if state.view.as_ref().is_some_and(|v| v.task().is_some()) {
                state.view = None;
            }
        }
        Command::Adopt {
            sent,
            reply,
            thumbnail,
        } => {
            let id = reply.id.clone();
            let record = record_of(sent, &reply, now).with_thumbnail(thumbnail);
            let (mut wait, _) = Wait::start(id, now, policy);
            wait.last = Some(reply);
            claim(state, record, wait, (now, policy), &mut fx);
        }
    }
    fx
}

/// The submit of generation `number` with `image`.
fn submit(number: u64, generation: &Generation, image: String) -> Effect {
    Effect::Submit {
        generation: number,
        request: SubmitRequest {
            image,
            enable_base64_output: generation.base64,
        },
    }
}

/// A task this tab can poll: one sent through a proxy, or with a key when the page has
/// one.
fn can_poll(record: &Record, key: bool) -> bool {
    record.proxy || key
}

/// Adds a task this tab just created or found (the record is saved at once: a paid task
/// is never lost) and asks for its tab lock first, whose answer ([`Command::Locked`])
/// decides who polls it; one that is over needs no lock.
fn claim(
    state: &mut JobsState,
    record: Record,
    wait: Wait,
    (now, policy): (u64, &Policy),
    fx: &mut Vec<Effect>,
) {
    let id = record.id.clone();
    if state.task(&id).is_some() {
        // Known already (a server that gave an id twice): go on with it as it is.
        go_on(state, &id, false, now, policy, fx);
        return;
    }
    let over = record.is_finished();
    if !over {
        // Asked before the record tells the other tabs, so this tab is first in line.
        fx.push(Effect::Lock {
            task: id.clone(),
            wait: false,
        });
        state.claiming.retain(|c| c != &id);
        state.claiming.push(id.clone());
    }
    add(state, record, wait, fx);
    if over {
        fx.push(Effect::Release(id));
    }
}

/// Another tab's record of a task replaces this tab's, unless it would make a task that
/// is over unfinished again (a stale write from a tab that lagged behind).
fn takes_over(ours: &Record, theirs: &Record) -> bool {
    theirs.is_finished() || !ours.is_finished()
}

/// Worth asking the server about: not over, or over with shots too large to have been
/// stored (fetched again on request).
fn needs_polling(record: &Record) -> bool {
    !record.is_finished() || record.outputs_dropped > 0
}

fn fetch(record: &Record) -> Effect {
    Effect::Fetch {
        task: record.id.clone(),
        base: record.base.clone(),
        proxy: record.proxy,
    }
}

fn failed(task_id: Option<&TaskId>, stage: Stage, error: &ApiError, prefix: &str) -> Effect {
    Effect::Announce(EmbedEvent::Failed {
        task_id: task_id.map(TaskId::to_string),
        stage,
        code: error.code().to_owned(),
        error: format!("{prefix}{error}"),
    })
}

/// Changes the current generation, unless it was forgotten meanwhile.
fn set_run(state: &mut JobsState, run: Run) {
    if let Some(view) = &mut state.view {
        *view = run;
    }
}

/// Puts a task in its place in the history's order (newest first).
fn place(state: &mut JobsState, task: Tracked) {
    history::insert_ordered(&mut state.tasks, task, |a, b| {
        history::newer_first(&a.record, &b.record)
    });
}

/// A new record for a task the server just told of.
fn record_of(sent: Sent, reply: &Prediction, now: u64) -> Record {
    let mut record = Record::new(reply.id.clone(), sent.base, sent.proxy, now);
    record.absorb(reply, now);
    record
}

/// Adds a task this tab just created or found (and holds the lock of), saves it, and
/// prunes the history.
fn add(state: &mut JobsState, record: Record, wait: Wait, fx: &mut Vec<Effect>) {
    fx.push(Effect::Persist(record.clone()));
    state.tasks.retain(|t| t.record.id != record.id);
    // Earlier finished jobs let go of their full replies (inline base64 shots can be
    // megabytes): memory does not grow with the number of jobs. Their records keep what
    // can be kept; the rest is fetched again on request.
    for t in &mut state.tasks {
        if matches!(&t.watch, Watch::Here(w) if w.phase == Phase::Finished) {
            t.watch = Watch::Idle;
        }
    }
    state.tasks.insert(
        0,
        Tracked {
            record,
            watch: Watch::Here(Box::new(wait)),
        },
    );
    let records: Vec<Record> = state.tasks.iter().map(|t| t.record.clone()).collect();
    for id in history::prune(&records, HISTORY_LIMIT) {
        fx.push(Effect::Erase(id.clone()));
        forget(state, &id, fx);
    }
}

/// Drops a task from this page: its timers, its lock and, if it is the current job,
/// the Generate section's view of it.
fn forget(state: &mut JobsState, id: &TaskId, fx: &mut Vec<Effect>) {
    fx.push(Effect::Stop(id.clone()));
    fx.push(Effect::Release(id.clone()));
    state.tasks.retain(|t| &t.record.id != id);
    state.due_offline.retain(|d| d != id);
    state.claiming.retain(|c| c != id);
    if state.view.as_ref().and_then(Run::task) == Some(id) {
        state.view = None;
    }
}

/// Waits for task `id` again, if there is anything to wait for. Paused or stopped here,
/// this tab still holds its lock: it goes on at once. Otherwise its lock is asked for
/// (with `wait`, until the tab holding it lets go); a task another tab polls, or this one
/// already does, is left as it is.
fn go_on(
    state: &mut JobsState,
    id: &TaskId,
    wait: bool,
    now: u64,
    policy: &Policy,
    fx: &mut Vec<Effect>,
) {
    let Some(t) = state.task(id) else {
        return;
    };
    match &t.watch {
        Watch::Here(w) if matches!(w.phase, Phase::Paused(_) | Phase::Stopped(_)) => {
            feed(state, id, Event::Resume, now, policy, fx);
        }
        Watch::Here(_) | Watch::Elsewhere => {}
        Watch::NeedsKey | Watch::Idle => {
            if needs_polling(&t.record) {
                fx.push(Effect::Lock {
                    task: id.clone(),
                    wait,
                });
            }
        }
    }
}

/// Feeds a poll's outcome or a person's Cancel/Resume to the wait of task `id`; saves
/// its record when it changed, tells the host page when it ended.
fn feed(
    state: &mut JobsState,
    id: &TaskId,
    event: Event,
    now: u64,
    policy: &Policy,
    fx: &mut Vec<Effect>,
) {
    let claiming = state.claiming.contains(id);
    let typical = task_view::typical_ms(state.tasks.iter().map(|t| &t.record));
    let Some(t) = state.tasks.iter_mut().find(|t| &t.record.id == id) else {
        return;
    };
    let was_finished = t.record.is_finished();
    let was_stopped = matches!(&t.watch, Watch::Here(w) if matches!(w.phase, Phase::Stopped(_)));
    let before = t.record.clone();
    let next = t.on(event, now, policy);
    if t.record != before {
        fx.push(Effect::Persist(t.record.clone()));
    }
    if t.record.is_finished() && !was_finished {
        if !state.announced.contains(id) {
            fx.push(Effect::Announce(EmbedEvent::finished(&t.record)));
            state.announced.push(id.clone());
        }
    } else if let Watch::Here(wait) = &t.watch {
        if let (Phase::Stopped(error), false) = (&wait.phase, was_stopped) {
            fx.push(failed(Some(id), Stage::Poll, error, "Stopped: "));
        }
    }
    match next {
        // While its lock is asked for, the answer schedules the next poll.
        Next::PollIn(_) if claiming => {}
        Next::PollIn(ms) => {
            // A poll at the interval is aimed at the task's typical end (not one after a
            // failure, nor one cut short by the wait cap).
            let aimed = match &t.watch {
                Watch::Here(w) if w.retrying.is_none() && ms == policy.poll_interval_ms => {
                    pace::aim(now.saturating_sub(t.record.created_ms), typical, ms)
                }
                _ => ms,
            };
            fx.push(Effect::PollIn(id.clone(), aimed));
        }
        Next::Stop => {
            fx.push(Effect::Stop(id.clone()));
            // Over: another tab may follow it from storage. Paused or stopped: this tab
            // keeps the task until the user resumes it or the tab closes, so no other
            // tab polls behind the user's back.
            if t.record.is_finished() {
                fx.push(Effect::Release(id.clone()));
            }
        }
        Next::Keep => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::api::Status;
    use crate::core::job::Pause;
    use proptest::prelude::*;

    const P: Policy = Policy {
        poll_interval_ms: 1500,
        max_retries: 2,
        backoff_step_ms: 1000,
        backoff_max_ms: 4000,
        wait_cap_ms: 60_000,
    };
    const NOW: u64 = 1_800_000_000_000;

    fn id(n: u8) -> TaskId {
        TaskId::parse(&format!("task-{n}")).unwrap()
    }

    fn reply(n: u8, status: &str) -> Prediction {
        Prediction {
            id: id(n),
            status: Status::from(status.to_owned()),
            outputs: if status == "completed" {
                vec![format!("https://cdn.example/{n}.mp4")]
            } else {
                Vec::new()
            },
            has_nsfw_contents: Vec::new(),
            error: (status == "failed").then(|| "it broke".to_owned()),
            inference_ms: None,
            created_at: None,
        }
    }

    fn direct() -> Sent {
        Sent {
            base: BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
            proxy: false,
        }
    }

    fn record(n: u8, status: &str, created: u64) -> Record {
        let mut r = Record::new(id(n), direct().base, false, created);
        r.status = Status::from(status.to_owned());
        r
    }

    /// A page with an API key given.
    fn keyed() -> JobsState {
        JobsState {
            key: true,
            ..JobsState::default()
        }
    }

    /// A page that just submitted task `n`, and holds its lock.
    fn submitted(n: u8) -> JobsState {
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        uploaded(&mut s);
        submit(&mut s, n);
        apply(&mut s, locked(n, Lock::Held, None), NOW, &P);
        s
    }

    /// A press of Generate with a file (uploaded first), or with a web address.
    fn pressed(file: bool) -> Generation {
        Generation {
            image: if file {
                ImageToSend::File(UploadMode::Binary)
            } else {
                ImageToSend::Url("https://images.example/cat.jpg".into())
            },
            sent: direct(),
            base64: false,
            thumbnail: false,
        }
    }

    fn generate(file: bool) -> Command {
        Command::Generate(pressed(file))
    }

    /// The latest generation's upload is done.
    fn uploaded(s: &mut JobsState) -> Vec<Effect> {
        let g = s.generations;
        apply(
            s,
            Command::Uploaded(g, Ok("https://storage.example/cat.png".into())),
            NOW,
            &P,
        )
    }

    /// The latest generation's upload failed.
    fn upload_failed(s: &mut JobsState, error: ApiError) -> Vec<Effect> {
        let g = s.generations;
        apply(s, Command::Uploaded(g, Err(error)), NOW, &P)
    }

    /// The latest generation's submit made task `n`, at `now`.
    fn submit_at(s: &mut JobsState, n: u8, now: u64) -> Vec<Effect> {
        let g = s.generations;
        apply(s, Command::Submitted(g, Ok(reply(n, "created"))), now, &P)
    }

    /// The latest generation's submit made task `n`.
    fn submit(s: &mut JobsState, n: u8) -> Vec<Effect> {
        submit_at(s, n, NOW)
    }

    /// The latest generation's submit failed.
    fn submit_failed(s: &mut JobsState, error: ApiError) -> Vec<Effect> {
        let g = s.generations;
        apply(s, Command::Submitted(g, Err(error)), NOW, &P)
    }

    fn restored(records: Vec<Record>) -> Command {
        Command::Restored {
            records,
            skipped: Vec::new(),
        }
    }

    /// The answer about task `n`'s lock.
    fn locked(n: u8, lock: Lock, stored: Option<Record>) -> Command {
        Command::Locked {
            task: id(n),
            lock,
            stored,
        }
    }

    fn announced(fx: &[Effect]) -> Vec<&EmbedEvent> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Announce(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_generation_goes_from_upload_to_a_saved_announced_task_polled_once_its_lock_is_held() {
        let mut s = keyed();
        let fx = apply(&mut s, generate(true), NOW, &P);
        assert_eq!(fx, [Effect::Upload(1)]);
        assert_eq!(s.view, Some(Run::Uploading));
        assert!(s.is_busy());
        // A second press while it sends changes nothing.
        assert!(apply(&mut s, generate(false), NOW, &P).is_empty());
        assert_eq!(s.generations, 1);
        let fx = uploaded(&mut s);
        assert_eq!(s.view, Some(Run::Submitting));
        assert_eq!(
            fx,
            [Effect::Submit {
                generation: 1,
                request: SubmitRequest {
                    image: "https://storage.example/cat.png".into(),
                    enable_base64_output: false,
                },
            }]
        );
        let fx = submit_at(&mut s, 1, NOW + 5);
        assert_eq!(s.view, Some(Run::Created(id(1))));
        assert!(s.is_busy(), "its task is waited for");
        // The lock is asked for before the record tells the other tabs; the record is
        // saved at once (a paid task is never lost); no poll until the lock is held.
        assert_eq!(
            fx[0],
            Effect::Lock {
                task: id(1),
                wait: false
            }
        );
        let Some(Effect::Persist(saved)) = fx.get(1) else {
            panic!("the record is saved next: {fx:?}")
        };
        assert_eq!((saved.id.clone(), saved.created_ms), (id(1), NOW + 5));
        assert_eq!(
            fx[2..],
            [Effect::Announce(EmbedEvent::Started {
                task_id: "task-1".into()
            })]
        );
        assert_eq!(
            apply(&mut s, locked(1, Lock::Held, None), NOW + 6, &P),
            [Effect::PollIn(id(1), 1500)]
        );
        // The submit's reply is kept for the status line.
        assert!(matches!(&s.tasks[0].watch, Watch::Here(w) if w.last.is_some()));
        // A web address is submitted at once.
        let mut s = keyed();
        let fx = apply(&mut s, generate(false), NOW, &P);
        assert_eq!(s.view, Some(Run::Submitting));
        assert!(
            matches!(&fx[..], [Effect::Submit { generation: 1, request }] if request.image == "https://images.example/cat.jpg")
        );
        // Inline: the file is read, not uploaded; base64 is asked for as pressed.
        let mut s = keyed();
        let inline = Generation {
            image: ImageToSend::File(UploadMode::Inline),
            base64: true,
            ..pressed(true)
        };
        assert_eq!(
            apply(&mut s, Command::Generate(inline), NOW, &P),
            [Effect::ReadInline(1)]
        );
        let fx = uploaded(&mut s);
        assert!(
            matches!(&fx[..], [Effect::Submit { request, .. }] if request.enable_base64_output)
        );
    }

    #[test]
    fn the_thumbnail_is_drawn_beside_the_upload_and_joins_the_task_whenever_it_comes() {
        let with_thumbnail = Generation {
            thumbnail: true,
            ..pressed(true)
        };
        // Drawn before the task exists: the record is made with it.
        let mut s = keyed();
        let fx = apply(&mut s, Command::Generate(with_thumbnail.clone()), NOW, &P);
        assert_eq!(
            fx,
            [Effect::Thumbnail(1), Effect::Upload(1)],
            "both at once"
        );
        let thumb = "data:image/jpeg;base64,AAAA".to_owned();
        assert!(apply(&mut s, Command::Thumbnail(1, Some(thumb.clone())), NOW, &P).is_empty());
        uploaded(&mut s);
        let fx = submit(&mut s, 1);
        assert!(matches!(&fx[1], Effect::Persist(r) if r.thumbnail.as_ref() == Some(&thumb)));
        // Drawn after: the record takes it and is saved again.
        let mut s = keyed();
        apply(&mut s, Command::Generate(with_thumbnail), NOW, &P);
        uploaded(&mut s);
        let fx = submit(&mut s, 2);
        assert!(matches!(&fx[1], Effect::Persist(r) if r.thumbnail.is_none()));
        let fx = apply(&mut s, Command::Thumbnail(1, Some(thumb.clone())), NOW, &P);
        assert!(matches!(&fx[..], [Effect::Persist(r)] if r.thumbnail.as_ref() == Some(&thumb)));
        // Not one of a page's thumbnails (not a small data URI): not kept.
        let mut s = keyed();
        apply(
            &mut s,
            Command::Generate(Generation {
                thumbnail: true,
                ..pressed(true)
            }),
            NOW,
            &P,
        );
        apply(
            &mut s,
            Command::Thumbnail(1, Some("javascript:alert(1)".into())),
            NOW,
            &P,
        );
        uploaded(&mut s);
        submit(&mut s, 3);
        assert_eq!(s.tasks[0].record.thumbnail, None);
    }

    #[test]
    fn a_task_another_tab_holds_the_lock_of_is_followed_not_polled_twice() {
        // Another tab looked the new id up first and polls it: this one follows it.
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        uploaded(&mut s);
        submit(&mut s, 1);
        let fx = apply(&mut s, locked(1, Lock::Busy, None), NOW, &P);
        assert_eq!(
            fx,
            [Effect::Lock {
                task: id(1),
                wait: true
            }]
        );
        assert_eq!(s.tasks[0].watch, Watch::Elsewhere);
        assert!(s.claiming.is_empty());
        // When that tab lets go, this one takes over.
        let fx = apply(&mut s, locked(1, Lock::Held, None), NOW, &P);
        assert_eq!(fx, [Effect::PollIn(id(1), 0)]);
        // Cancelled before the lock came: it is kept (as a cancel keeps it), not polled.
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        uploaded(&mut s);
        submit(&mut s, 2);
        apply(&mut s, Command::User(id(2), Action::Cancel), NOW, &P);
        assert!(apply(&mut s, locked(2, Lock::Held, None), NOW, &P).is_empty());
        // Deleted before it came: let go.
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        uploaded(&mut s);
        submit(&mut s, 3);
        apply(&mut s, Command::Delete(id(3)), NOW, &P);
        assert_eq!(
            apply(&mut s, locked(3, Lock::Held, None), NOW, &P),
            [Effect::Release(id(3))]
        );
    }

    #[test]
    fn answers_about_an_earlier_press_change_nothing_but_a_task_is_always_kept() {
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        upload_failed(&mut s, ApiError::TimedOut);
        apply(&mut s, generate(true), NOW, &P);
        assert_eq!(s.generations, 2);
        // The first press's late answers.
        assert!(apply(&mut s, Command::Uploaded(1, Ok("x".into())), NOW, &P).is_empty());
        assert!(apply(
            &mut s,
            Command::Submitted(1, Err(ApiError::TimedOut)),
            NOW,
            &P
        )
        .is_empty());
        assert_eq!(s.view, Some(Run::Uploading));
        // A task of this press, arriving while the page shows something else, is kept.
        uploaded(&mut s);
        apply(&mut s, Command::Dismiss, NOW, &P);
        apply(&mut s, Command::Thumbnail(2, None), NOW, &P);
        let fx = submit(&mut s, 7);
        assert!(fx
            .iter()
            .any(|e| matches!(e, Effect::Persist(r) if r.id == id(7))));
        assert!(s.task(&id(7)).is_some());
    }

    #[test]
    fn failures_before_a_task_exists_are_shown_and_announced_with_stage_and_code() {
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        let fx = upload_failed(&mut s, ApiError::TimedOut);
        assert_eq!(s.view, Some(Run::UploadFailed(ApiError::TimedOut)));
        assert_eq!(
            announced(&fx),
            [&EmbedEvent::Failed {
                task_id: None,
                stage: Stage::Upload,
                code: "timed_out".into(),
                error: "Upload failed: The server did not answer in time.".into(),
            }]
        );
        apply(&mut s, generate(false), NOW, &P);
        let refused = ApiError::Unauthorized("bad key".into());
        let fx = submit_failed(&mut s, refused.clone());
        assert_eq!(s.view, Some(Run::submit_failed(refused)));
        assert!(matches!(
            announced(&fx)[..],
            [EmbedEvent::Failed { stage: Stage::Submit, code, .. }] if code == "unauthorized"
        ));
        assert!(!s.is_busy());
        assert!(
            s.is_settled(),
            "a refused submit made no task: the money is as it was"
        );
    }

    #[test]
    fn a_generation_is_settled_when_its_task_ends_not_when_its_wait_is_stopped() {
        let mut s = keyed();
        assert!(!s.is_settled(), "no generation");
        apply(&mut s, generate(true), NOW, &P);
        assert!(!s.is_settled(), "sending");
        let mut s = submitted(1);
        assert!(!s.is_settled(), "its task runs");
        apply(&mut s, Command::User(id(1), Action::Cancel), NOW, &P);
        assert!(!s.is_busy());
        assert!(
            !s.is_settled(),
            "stopped waiting: the task goes on at WaveSpeed"
        );
        apply(&mut s, Command::User(id(1), Action::Resume), NOW, &P);
        apply(
            &mut s,
            Command::Polled(id(1), Ok(reply(1, "failed"))),
            NOW,
            &P,
        );
        assert!(s.is_settled(), "failed: refunded");
    }

    #[test]
    fn a_new_connection_clears_a_failure_that_created_nothing_but_not_one_that_may_have() {
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        let refused = ApiError::Unauthorized("bad key".into());
        upload_failed(&mut s, refused.clone());
        assert!(apply(&mut s, Command::Reconnected, NOW, &P).is_empty());
        assert_eq!(s.view, None);
        apply(&mut s, generate(false), NOW, &P);
        submit_failed(&mut s, refused);
        apply(&mut s, Command::Reconnected, NOW, &P);
        assert_eq!(s.view, None);
        apply(&mut s, generate(false), NOW, &P);
        submit_failed(&mut s, ApiError::TimedOut);
        apply(&mut s, Command::Reconnected, NOW, &P);
        assert_eq!(
            s.view,
            Some(Run::submit_failed(ApiError::TimedOut)),
            "a task may exist"
        );
        let mut s = submitted(1);
        apply(&mut s, Command::Reconnected, NOW, &P);
        assert_eq!(s.view, Some(Run::Created(id(1))));
    }

    #[test]
    fn after_a_result_new_image_empties_the_section_and_keeps_the_history() {
        let mut s = submitted(1);
        assert!(!s.has_result());
        apply(
            &mut s,
            Command::Polled(id(1), Ok(reply(1, "completed"))),
            NOW,
            &P,
        );
        assert!(s.has_result());
        assert!(apply(&mut s, Command::Dismiss, NOW, &P).is_empty());
        assert_eq!((s.view.clone(), s.tasks.len()), (None, 1));
        assert!(!s.has_result());
        // Not while a generation is sending.
        apply(&mut s, generate(true), NOW, &P);
        apply(&mut s, Command::Dismiss, NOW, &P);
        assert_eq!(s.view, Some(Run::Uploading));
    }

    #[test]
    fn a_poll_is_aimed_at_the_end_of_a_task_as_long_as_the_earlier_ones_took() {
        let mut s = submitted(1);
        // Three tasks seen from start to end here took 2 s (the median).
        for (n, took) in [(7, 1_900), (8, 2_000), (9, 9_000)] {
            let mut r = record(n, "completed", NOW - 60_000);
            r.finished_ms = Some(NOW - 60_000 + took);
            apply(
                &mut s,
                Command::Restored {
                    records: vec![r],
                    skipped: Vec::new(),
                },
                NOW,
                &P,
            );
        }
        apply(&mut s, Command::Due(id(1)), NOW + 1_000, &P);
        let fx = apply(
            &mut s,
            Command::Polled(id(1), Ok(reply(1, "processing"))),
            NOW + 1_000,
            &P,
        );
        assert_eq!(
            fx.last(),
            Some(&Effect::PollIn(id(1), 600)),
            "at four fifths of 2 s, not an interval later"
        );
        apply(&mut s, Command::Due(id(1)), NOW + 1_600, &P);
        let fx = apply(
            &mut s,
            Command::Polled(id(1), Ok(reply(1, "processing"))),
            NOW + 1_600,
            &P,
        );
        assert_eq!(
            fx.last(),
            Some(&Effect::PollIn(id(1), 500)),
            "due: more often"
        );
        // After a failed poll, the back-off is kept as it is.
        apply(&mut s, Command::Due(id(1)), NOW + 2_100, &P);
        let fx = apply(
            &mut s,
            Command::Polled(id(1), Err(ApiError::Network("reset".into()))),
            NOW + 2_100,
            &P,
        );
        assert!(
            matches!(fx.last(), Some(Effect::PollIn(_, ms)) if *ms == P.backoff_step_ms.min(P.backoff_max_ms)),
            "{fx:?}"
        );
    }

    #[test]
    fn polls_run_until_the_end_which_is_saved_announced_once_and_released() {
        let mut s = submitted(1);
        let fx = apply(&mut s, Command::Due(id(1)), NOW + 1500, &P);
        assert_eq!(fx, [fetch(&s.tasks[0].record)]);
        let fx = apply(
            &mut s,
            Command::Polled(id(1), Ok(reply(1, "processing"))),
            NOW + 1600,
            &P,
        );
        assert!(
            matches!(&fx[..], [Effect::Persist(r), Effect::PollIn(_, 1500)] if r.status == Status::Processing)
        );
        let fx = apply(
            &mut s,
            Command::Polled(id(1), Ok(reply(1, "completed"))),
            NOW + 3200,
            &P,
        );
        assert!(matches!(&fx[0], Effect::Persist(r) if r.status == Status::Completed));
        assert_eq!(
            fx[1..],
            [
                Effect::Announce(EmbedEvent::Completed {
                    task_id: "task-1".into(),
                    outputs: vec!["https://cdn.example/1.mp4".into()],
                    inline_outputs: 0,
                }),
                Effect::Stop(id(1)),
                Effect::Release(id(1)),
            ]
        );
        assert!(!s.is_busy());
        // A late reply changes nothing and announces nothing.
        let fx = apply(
            &mut s,
            Command::Polled(id(1), Ok(reply(1, "completed"))),
            NOW + 4000,
            &P,
        );
        assert!(fx.is_empty());
        assert!(apply(&mut s, Command::Due(id(1)), NOW + 5000, &P).is_empty());
    }

    #[test]
    fn a_stop_is_announced_with_the_poll_stage_and_check_again_goes_on_with_the_lock_held() {
        let mut s = submitted(1);
        let fx = apply(
            &mut s,
            Command::Polled(id(1), Err(ApiError::Unauthorized("no".into()))),
            NOW,
            &P,
        );
        assert!(matches!(
            announced(&fx)[..],
            [EmbedEvent::Failed { task_id: Some(t), stage: Stage::Poll, code, .. }]
                if t == "task-1" && code == "unauthorized"
        ));
        assert!(
            !fx.contains(&Effect::Release(id(1))),
            "a stopped task keeps its lock"
        );
        let fx = apply(&mut s, Command::User(id(1), Action::Resume), NOW + 10, &P);
        assert_eq!(fx, [Effect::PollIn(id(1), 0)]);
        assert!(s.tasks[0].is_polling());
    }

    #[test]
    fn cancel_stops_the_pending_poll_at_once_and_keeps_the_lock() {
        let mut s = submitted(1);
        let fx = apply(&mut s, Command::User(id(1), Action::Cancel), NOW, &P);
        assert_eq!(fx, [Effect::Stop(id(1))]);
        assert!(
            matches!(&s.tasks[0].watch, Watch::Here(w) if w.phase == Phase::Paused(Pause::Cancelled))
        );
        // The timer that was already running out changes nothing.
        assert!(apply(&mut s, Command::Due(id(1)), NOW + 1, &P).is_empty());
        assert_eq!(
            apply(&mut s, Command::User(id(1), Action::Resume), NOW + 2, &P),
            [Effect::PollIn(id(1), 0)]
        );
    }

    #[test]
    fn offline_a_due_poll_waits_for_the_online_event() {
        let mut s = submitted(1);
        apply(&mut s, Command::Online(false), NOW, &P);
        assert!(apply(&mut s, Command::Due(id(1)), NOW, &P).is_empty());
        assert!(apply(&mut s, Command::Due(id(1)), NOW, &P).is_empty());
        let fx = apply(&mut s, Command::Online(true), NOW, &P);
        assert_eq!(fx, [Effect::PollIn(id(1), 0)], "polled once, at once");
        assert_eq!(
            apply(&mut s, Command::Due(id(1)), NOW, &P),
            [fetch(&s.tasks[0].record)]
        );
        assert!(apply(&mut s, Command::Online(true), NOW, &P).is_empty());
        // A task cancelled while offline is not polled when back online.
        apply(&mut s, Command::Online(false), NOW, &P);
        apply(&mut s, Command::Due(id(1)), NOW, &P);
        apply(&mut s, Command::User(id(1), Action::Cancel), NOW, &P);
        assert!(apply(&mut s, Command::Online(true), NOW, &P).is_empty());
    }

    #[test]
    fn restoring_shows_the_newest_unfinished_task_and_asks_for_the_locks() {
        let mut s = keyed();
        let expired = record(4, "processing", NOW - history::OUTPUTS_KEPT_MS);
        let fx = apply(
            &mut s,
            restored(vec![
                record(1, "processing", NOW - 3000),
                record(2, "completed", NOW - 1000),
                record(3, "created", NOW - 2000),
                expired,
            ]),
            NOW,
            &P,
        );
        let ids: Vec<_> = s.tasks.iter().map(|t| t.record.id.clone()).collect();
        assert_eq!(ids, [id(2), id(3), id(1), id(4)], "newest first");
        assert_eq!(s.view, Some(Run::Created(id(3))));
        assert_eq!(
            fx,
            [
                Effect::Lock {
                    task: id(3),
                    wait: false
                },
                Effect::Lock {
                    task: id(1),
                    wait: false
                },
            ]
        );
    }

    #[test]
    fn a_lock_decides_who_polls() {
        let mut s = keyed();
        apply(
            &mut s,
            restored(vec![record(1, "processing", NOW)]),
            NOW,
            &P,
        );
        // Another tab has it: follow, and wait for it.
        let fx = apply(&mut s, locked(1, Lock::Busy, None), NOW, &P);
        assert_eq!(s.tasks[0].watch, Watch::Elsewhere);
        assert_eq!(
            fx,
            [Effect::Lock {
                task: id(1),
                wait: true
            }]
        );
        // That tab let go having finished it: nothing to poll.
        let fx = apply(
            &mut s,
            locked(1, Lock::Held, Some(record(1, "completed", NOW))),
            NOW,
            &P,
        );
        assert_eq!(fx, [Effect::Release(id(1))]);
        assert_eq!(
            (s.tasks[0].watch.clone(), s.tasks[0].record.status.clone()),
            (Watch::Idle, Status::Completed)
        );
    }

    #[test]
    fn a_task_sent_with_a_key_waits_for_one() {
        let mut s = JobsState::default();
        apply(
            &mut s,
            restored(vec![record(1, "processing", NOW)]),
            NOW,
            &P,
        );
        assert_eq!(
            apply(&mut s, locked(1, Lock::Held, None), NOW, &P),
            [Effect::Release(id(1))]
        );
        assert_eq!(s.tasks[0].watch, Watch::NeedsKey);
        let fx = apply(&mut s, Command::User(id(1), Action::Resume), NOW, &P);
        assert_eq!(
            fx,
            [Effect::Lock {
                task: id(1),
                wait: true
            }]
        );
        assert!(apply(&mut s, Command::KeyGiven(true), NOW, &P).is_empty());
        assert_eq!(
            apply(&mut s, locked(1, Lock::Held, None), NOW, &P),
            [Effect::PollIn(id(1), 0)]
        );
        // The key is cleared while it is polled: at its next poll it waits for one again.
        assert!(apply(&mut s, Command::KeyGiven(false), NOW, &P).is_empty());
        assert_eq!(
            apply(&mut s, Command::Due(id(1)), NOW, &P),
            [Effect::Stop(id(1)), Effect::Release(id(1))]
        );
        assert_eq!(s.tasks[0].watch, Watch::NeedsKey);
        // Through a proxy, no key is needed.
        let mut s = JobsState::default();
        let mut proxied = record(2, "processing", NOW);
        proxied.proxy = true;
        apply(&mut s, restored(vec![proxied]), NOW, &P);
        let fx = apply(&mut s, locked(2, Lock::Held, None), NOW, &P);
        assert_eq!(fx, [Effect::PollIn(id(2), 0)]);
        assert_eq!(
            apply(&mut s, Command::Due(id(2)), NOW, &P),
            [fetch(&s.tasks[0].record)]
        );
    }

    #[test]
    fn another_tabs_writes_are_followed_unless_this_tab_polls_the_task() {
        let mut s = submitted(1);
        // This tab polls task 1: its own record is the truth.
        let fx = apply(
            &mut s,
            Command::Stored(Change::Written(record(1, "failed", NOW))),
            NOW,
            &P,
        );
        assert!(fx.is_empty());
        assert_eq!(s.tasks[0].record.status, Status::Created);
        // A job started in another tab: followed, and taken over when that tab closes.
        let fx = apply(
            &mut s,
            Command::Stored(Change::Written(record(2, "processing", NOW + 1))),
            NOW,
            &P,
        );
        assert_eq!(
            fx,
            [Effect::Lock {
                task: id(2),
                wait: false
            }]
        );
        assert_eq!(s.tasks[0].record.id, id(2), "sorted newest first");
        assert_eq!(s.tasks[0].watch, Watch::Elsewhere);
        // Its progress is shown as that tab stores it.
        apply(
            &mut s,
            Command::Stored(Change::Written(record(2, "completed", NOW + 1))),
            NOW,
            &P,
        );
        assert_eq!(s.tasks[0].record.status, Status::Completed);
        // A finished job from another tab is only listed.
        let fx = apply(
            &mut s,
            Command::Stored(Change::Written(record(3, "completed", NOW - 9))),
            NOW,
            &P,
        );
        assert!(fx.is_empty());
        assert_eq!(s.task(&id(3)).unwrap().watch, Watch::Idle);
        // Removed there: removed here (not erased again).
        let fx = apply(&mut s, Command::Stored(Change::Removed(id(3))), NOW, &P);
        assert_eq!(fx, [Effect::Stop(id(3)), Effect::Release(id(3))]);
        // Cleared there: everything but what this tab polls goes.
        apply(&mut s, Command::Stored(Change::Cleared), NOW, &P);
        let ids: Vec<_> = s.tasks.iter().map(|t| t.record.id.clone()).collect();
        assert_eq!(ids, [id(1)]);
        assert_eq!(s.view, Some(Run::Created(id(1))));
    }

    #[test]
    fn delete_and_clear_stop_release_erase_and_forget_the_current_job() {
        let mut s = submitted(1);
        let fx = apply(&mut s, Command::Delete(id(1)), NOW, &P);
        assert_eq!(
            fx,
            [
                Effect::Erase(id(1)),
                Effect::Stop(id(1)),
                Effect::Release(id(1))
            ]
        );
        assert!(s.tasks.is_empty());
        assert_eq!(s.view, None);
        let mut s = submitted(2);
        s.skipped.push(Skipped {
            entry: "multishot.job.x".into(),
            why: history::HistoryError::Unreadable("bad".into()),
        });
        let fx = apply(&mut s, Command::Clear, NOW, &P);
        assert_eq!(
            fx,
            [
                Effect::Stop(id(2)),
                Effect::Release(id(2)),
                Effect::EraseAll
            ]
        );
        assert_eq!(
            JobsState {
                generating: None,
                generations: 0,
                ..s
            },
            keyed()
        );
    }

    #[test]
    fn a_task_the_batch_made_is_kept_saved_and_polled_without_becoming_the_current_job() {
        let mut s = keyed();
        let fx = apply(
            &mut s,
            Command::Adopt {
                sent: direct(),
                reply: reply(7, "created"),
                thumbnail: Some("data:image/jpeg;base64,/9j/4AAQ".into()),
            },
            NOW,
            &P,
        );
        assert_eq!(s.view, None, "the Generate section is left as it is");
        let kept = s.task(&id(7)).expect("kept");
        assert!(kept.record.thumbnail.is_some());
        assert!(
            fx.contains(&Effect::Persist(kept.record.clone())),
            "saved at once"
        );
        assert!(fx.contains(&Effect::Lock {
            task: id(7),
            wait: false
        }));
        let fx = apply(&mut s, locked(7, Lock::Held, None), NOW, &P);
        assert_eq!(
            fx,
            vec![Effect::PollIn(id(7), P.poll_interval_ms)],
            "polled"
        );
    }

    #[test]
    fn a_new_task_lets_go_of_finished_replies_and_prunes_the_oldest_finished() {
        let mut s = keyed();
        let mut records: Vec<Record> = (0..HISTORY_LIMIT as u8)
            .map(|n| record(n + 10, "completed", NOW - 1000 + u64::from(n)))
            .collect();
        records.push(record(9, "processing", NOW - 5000));
        apply(
            &mut s,
            Command::Restored {
                records,
                skipped: Vec::new(),
            },
            NOW,
            &P,
        );
        // A finished job of this page holds its full reply.
        let (mut wait, _) = Wait::start(id(59), NOW, &P);
        wait.phase = Phase::Finished;
        s.task_mut(&id(59)).unwrap().watch = Watch::Here(Box::new(wait));
        apply(&mut s, generate(false), NOW, &P);
        let fx = submit(&mut s, 1);
        assert_eq!(s.task(&id(59)).unwrap().watch, Watch::Idle);
        // 52 tasks: the two oldest finished go, the older running one stays.
        assert_eq!(s.tasks.len(), HISTORY_LIMIT);
        assert!(s.task(&id(9)).is_some());
        for gone in [id(10), id(11)] {
            assert!(s.task(&gone).is_none());
            assert!(fx.contains(&Effect::Erase(gone.clone())));
            assert!(fx.contains(&Effect::Stop(gone)));
        }
    }

    /// Task `n` looked up through the direct connection.
    fn look_up(n: u8) -> Command {
        Command::LookUp {
            task: id(n),
            sent: direct(),
        }
    }

    #[test]
    fn a_looked_up_task_is_asked_for_then_shown_and_polled_unless_it_is_over() {
        let mut s = keyed();
        let fx = apply(&mut s, look_up(1), NOW, &P);
        assert_eq!(
            fx,
            [Effect::LookUp {
                task: id(1),
                base: direct().base,
                proxy: false
            }]
        );
        assert_eq!(s.lookup.as_ref().and_then(LookUp::message), None, "asking");
        let fx = apply(
            &mut s,
            Command::LookedUp(id(1), Ok(reply(1, "processing"))),
            NOW,
            &P,
        );
        assert!(matches!(
            &fx[..],
            [Effect::Lock { task, wait: false }, Effect::Persist(_)] if task == &id(1)
        ));
        assert_eq!(s.view, Some(Run::Created(id(1))));
        assert_eq!(
            s.lookup.as_ref().and_then(LookUp::message).as_deref(),
            Some("Found: it is shown under Generate.")
        );
        assert_eq!(
            apply(&mut s, locked(1, Lock::Held, None), NOW, &P),
            [Effect::PollIn(id(1), 1500)]
        );
        apply(&mut s, look_up(2), NOW, &P);
        let fx = apply(
            &mut s,
            Command::LookedUp(id(2), Ok(reply(2, "completed"))),
            NOW,
            &P,
        );
        assert!(
            matches!(&fx[..], [Effect::Persist(r), Effect::Release(_)] if r.finished_ms.is_none())
        );
        assert!(announced(&fx).is_empty());
        // A known one is shown without asking.
        assert!(apply(&mut s, look_up(1), NOW, &P).is_empty());
        assert_eq!(s.view, Some(Run::Created(id(1))));
        // Not found, or a reply about another task: said, and nothing is added.
        apply(&mut s, look_up(3), NOW, &P);
        apply(
            &mut s,
            Command::LookedUp(id(3), Ok(reply(1, "completed"))),
            NOW,
            &P,
        );
        assert_eq!(
            s.lookup.as_ref().and_then(LookUp::message).as_deref(),
            Some("Could not look it up: The server's reply could not be understood: the reply is about another task.")
        );
        assert!(s.task(&id(3)).is_none());
        // A late answer to a look-up no longer asked changes nothing.
        assert!(apply(
            &mut s,
            Command::LookedUp(id(3), Ok(reply(3, "completed"))),
            NOW,
            &P
        )
        .is_empty());
        assert!(s.task(&id(3)).is_none());
        // Opening a known task that is over, or polled, asks for nothing.
        assert!(apply(&mut s, Command::Open(id(2)), NOW, &P).is_empty());
        assert!(apply(&mut s, Command::Open(id(1)), NOW, &P).is_empty());
        // One this tab stopped waiting for goes on (its lock is this tab's already).
        apply(&mut s, Command::User(id(1), Action::Cancel), NOW, &P);
        assert_eq!(
            apply(&mut s, Command::Open(id(1)), NOW, &P),
            [Effect::PollIn(id(1), 0)]
        );
        // An unfinished one that nobody polls is waited for again.
        s.task_mut(&id(1)).unwrap().watch = Watch::Idle;
        assert_eq!(
            apply(&mut s, Command::Open(id(1)), NOW, &P),
            [Effect::Lock {
                task: id(1),
                wait: false
            }]
        );
    }

    #[test]
    fn the_look_up_form_sends_a_task_id_through_the_connection_or_says_why_not() {
        let connection = Ok(Connection {
            base: direct().base,
            key: Some("sk".into()),
        });
        assert_eq!(super::look_up("  task-1 ", &connection), Ok(look_up(1)));
        assert!(super::look_up("../x", &connection)
            .unwrap_err()
            .starts_with("That is not a task ID"));
        assert_eq!(
            super::look_up("task-1", &Err("Enter your key.".into())),
            Err("Enter your key.".to_owned())
        );
    }

    #[test]
    fn another_tabs_entries_are_read_and_an_unreadable_one_is_said() {
        let written = record(1, "processing", NOW).to_json();
        assert_eq!(
            change_of(Some("multishot.job.task-1"), Some(&written)),
            Some(Change::Written(record(1, "processing", NOW)))
        );
        assert_eq!(
            change_of(Some("multishot.job.task-1"), None),
            Some(Change::Removed(id(1)))
        );
        assert_eq!(change_of(None, None), Some(Change::Cleared));
        assert_eq!(change_of(Some("someone.else"), Some("x")), None);
        let Some(Change::Unreadable(skipped)) = change_of(Some("multishot.job.t"), Some("{"))
        else {
            panic!("an unreadable entry is a change")
        };
        let mut s = keyed();
        apply(
            &mut s,
            Command::Stored(Change::Unreadable(skipped.clone())),
            NOW,
            &P,
        );
        apply(
            &mut s,
            Command::Stored(Change::Unreadable(skipped)),
            NOW,
            &P,
        );
        assert_eq!(s.skipped.len(), 1, "said once");
    }

    /// One command of a random sequence, over three task ids.
    fn command() -> impl Strategy<Value = Command> {
        let n = 1u8..4;
        let status = prop_oneof![
            Just("created"),
            Just("processing"),
            Just("completed"),
            Just("failed")
        ];
        prop_oneof![
            any::<bool>().prop_map(generate),
            (1u64..4, any::<bool>()).prop_map(|(g, ok)| Command::Uploaded(
                g,
                if ok {
                    Ok("https://storage.example/x.png".into())
                } else {
                    Err(ApiError::TimedOut)
                }
            )),
            (1u64..4, n.clone()).prop_map(|(g, n)| Command::Submitted(g, Ok(reply(n, "created")))),
            (1u64..4).prop_map(|g| Command::Submitted(g, Err(ApiError::TimedOut))),
            (1u64..4).prop_map(|g| Command::Thumbnail(g, None)),
            n.clone().prop_map(look_up),
            (n.clone(), status.clone())
                .prop_map(|(n, s)| Command::LookedUp(id(n), Ok(reply(n, s)))),
            n.clone().prop_map(|n| Command::Due(id(n))),
            any::<bool>().prop_map(Command::KeyGiven),
            (n.clone(), status.clone()).prop_map(|(n, s)| Command::Polled(id(n), Ok(reply(n, s)))),
            (n.clone(), 0u8..3).prop_map(|(n, e)| Command::Polled(
                id(n),
                Err(match e {
                    0 => ApiError::TimedOut,
                    1 => ApiError::Server {
                        status: 502,
                        message: String::new()
                    },
                    _ => ApiError::Unauthorized(String::new()),
                })
            )),
            (n.clone(), any::<bool>()).prop_map(|(n, c)| Command::User(
                id(n),
                if c { Action::Cancel } else { Action::Resume }
            )),
            (
                n.clone(),
                any::<bool>(),
                proptest::option::of(status.clone())
            )
                .prop_map(|(n, held, stored)| Command::Locked {
                    task: id(n),
                    lock: if held { Lock::Held } else { Lock::Busy },
                    stored: stored.map(|s| record(n, s, NOW)),
                }),
            (n.clone(), status.clone()).prop_map(|(n, s)| Command::Stored(Change::Written(
                record(n, s, NOW + u64::from(n))
            ))),
            n.clone()
                .prop_map(|n| Command::Stored(Change::Removed(id(n)))),
            Just(Command::Stored(Change::Cleared)),
            n.clone().prop_map(|n| Command::Delete(id(n))),
            n.clone().prop_map(|n| Command::Open(id(n))),
            (n.clone(), status).prop_map(|(n, s)| restored(vec![record(n, s, NOW - 100)])),
            any::<bool>().prop_map(Command::Online),
            Just(Command::Clear),
            Just(Command::Reconnected),
            Just(Command::Dismiss),
        ]
    }

    fn ended(event: &EmbedEvent) -> Option<&str> {
        match event {
            EmbedEvent::Completed { task_id, .. } => Some(task_id),
            EmbedEvent::Failed {
                task_id: Some(task_id),
                stage: Stage::Task,
                ..
            } => Some(task_id),
            _ => None,
        }
    }

    proptest! {
        /// Whatever happens, in any order: a task another tab polls is never saved by
        /// this one; none is polled before its lock is held; pruning never drops a
        /// running task; each task is announced as over
        /// at most once, and exactly once when this tab saw it end; a finished task is
        /// never polled again; a timer runs only for a task this tab polls.
        #[test]
        fn the_rules_hold_over_any_sequence(commands in proptest::collection::vec(command(), 0..80)) {
            let mut s = JobsState::default();
            let mut now = NOW;
            let mut ended_count = std::collections::HashMap::<String, usize>::new();
            let mut issued = std::collections::HashSet::new();
            for command in commands {
                now += 500;
                // A server never gives one task id to two submits.
                if let Command::Submitted(_, Ok(reply)) = &command {
                    if !issued.insert(reply.id.clone()) {
                        continue;
                    }
                }
                let removes = matches!(
                    command,
                    Command::Delete(_) | Command::Clear | Command::Stored(Change::Removed(_) | Change::Cleared)
                );
                let seen_end = matches!(&command, Command::Polled(..));
                let before = s.clone();
                let fx = apply(&mut s, command, now, &P);
                // (With the check below that a finished task is not polling, no
                // timer or request runs for a finished task.)
                for effect in &fx {
                    match effect {
                        Effect::Persist(record) => {
                            let t = s.task(&record.id);
                            prop_assert!(
                                t.is_some_and(|t| matches!(t.watch, Watch::Here(_))),
                                "saved a task this tab does not poll: {:?}", t
                            );
                        }
                        Effect::PollIn(task, _) | Effect::Fetch { task, .. } => {
                            let t = s.task(task);
                            prop_assert!(t.is_some_and(Tracked::is_polling), "timer for {:?}", t);
                            // Two tabs never poll one task: not before its lock is held.
                            prop_assert!(!s.claiming.contains(task), "polled before its lock: {:?}", task);
                        }
                        Effect::Lock { task, .. } => {
                            // (A task being claimed is not held yet: its lock was Busy.)
                            let b = before.task(task);
                            prop_assert!(
                                !b.is_some_and(|b| matches!(b.watch, Watch::Here(_)))
                                    || before.claiming.contains(task),
                                "asked for a lock this tab holds: {:?}", b
                            );
                        }
                        Effect::Announce(event) => {
                            if let Some(task) = ended(event) {
                                *ended_count.entry(task.to_owned()).or_default() += 1;
                            }
                        }
                        _ => {}
                    }
                }
                for t in &s.tasks {
                    if t.record.is_finished() && t.record.outputs_dropped == 0 {
                        prop_assert!(!t.is_polling(), "a finished task still polls");
                    }
                }
                if !removes {
                    for b in before.tasks.iter().filter(|b| !b.record.is_finished()) {
                        prop_assert!(s.task(&b.record.id).is_some(), "a running task was pruned");
                    }
                }
                if seen_end {
                    for t in &s.tasks {
                        let was = before.task(&t.record.id);
                        let ended_here = t.record.is_finished()
                            && was.is_some_and(|b| !b.record.is_finished() && matches!(b.watch, Watch::Here(_)));
                        if ended_here {
                            prop_assert_eq!(ended_count.get(t.record.id.as_str()), Some(&1), "an end was not announced");
                        }
                    }
                }
                for (task, count) in &ended_count {
                    prop_assert!(*count <= 1, "{} announced as over {} times", task, count);
                }
            }
        }
    }
}
