//! All the jobs of a page as one pure state machine: `apply(state, command, now, policy)`
//! changes [`JobsState`] and returns the [`Effect`]s the browser glue carries out
//! (storage, timers, requests, tab locks, messages to a host page). One task's polling is
//! [`Wait::on`]; this module is everything around it: the current generation, the
//! history list, which tab polls a task, which record wins when another tab writes one,
//! when a job is announced to the host page, letting go of big replies, and what is
//! pruned.
//!
//! The glue ([`crate::browser::runner`]) holds no rule: it turns each effect into a
//! timer, a request or a storage call, and each outcome into the next [`Command`].

use super::api::{ApiError, Prediction, TaskId};
use super::config::BaseUrl;
use super::embed::{EmbedEvent, Stage};
use super::history::{self, Record, Skipped, HISTORY_LIMIT};
use super::job::{Event, Next, Phase, Policy, Run, Tracked, Wait, Watch};

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

/// What another tab did to the stored history (a `storage` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The whole storage was cleared.
    Cleared,
    /// A task's entry was removed.
    Removed(TaskId),
    /// A task's entry was written.
    Written(Record),
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
    /// Generate was pressed: the local file is uploaded first (`upload_first`), or the
    /// job is submitted at once.
    Generate {
        /// A file goes to WaveSpeed's storage before the submit.
        upload_first: bool,
    },
    /// The upload is done; the submit is being sent.
    Uploaded,
    /// The upload failed: nothing was created.
    UploadFailed(ApiError),
    /// The submit was answered with a task (this tab already holds its lock).
    Submitted {
        /// Where it was sent.
        sent: Sent,
        /// The reply.
        reply: Prediction,
        /// A thumbnail of the input image.
        thumbnail: Option<String>,
    },
    /// The submit failed.
    SubmitFailed(ApiError),
    /// A task unknown to this page was looked up by id and found (this tab already
    /// holds its lock).
    Found {
        /// Where it was asked for.
        sent: Sent,
        /// The server's reply.
        reply: Prediction,
    },
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
        /// An API key is given on the page (a task sent directly can be polled).
        key: bool,
    },
    /// A poll timer ran out.
    Due(TaskId),
    /// A poll came due for a task sent with a key, and the page has none any more.
    NoKey(TaskId),
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
}

/// What the glue does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
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
        Command::Generate { upload_first } => {
            state.view = Some(if upload_first {
                Run::Uploading
            } else {
                Run::Submitting
            });
        }
        Command::Uploaded => set_run(state, Run::Submitting),
        Command::UploadFailed(error) => {
            fx.push(failed(None, Stage::Upload, &error, "Upload failed: "));
            set_run(state, Run::UploadFailed(error));
        }
        Command::SubmitFailed(error) => {
            fx.push(failed(
                None,
                Stage::Submit,
                &error,
                "Could not start the job: ",
            ));
            set_run(state, Run::submit_failed(error));
        }
        Command::Submitted {
            sent,
            reply,
            thumbnail,
        } => {
            let id = reply.id.clone();
            let record = record_of(sent, &reply, now).with_thumbnail(thumbnail);
            let (mut wait, _) = Wait::start(id.clone(), now, policy);
            wait.last = Some(reply);
            add(state, record, wait, &mut fx);
            fx.push(Effect::Announce(EmbedEvent::Started {
                task_id: id.to_string(),
            }));
            set_run(state, Run::Created(id.clone()));
            fx.push(Effect::PollIn(id, policy.poll_interval_ms));
        }
        Command::Found { sent, reply } => {
            let id = reply.id.clone();
            let mut record = record_of(sent, &reply, now);
            // Already over when looked up: how long it took is not known here.
            record.finished_ms = None;
            let finished = record.is_finished();
            let (mut wait, _) = Wait::start(id.clone(), now, policy);
            if finished {
                wait = wait.on(Event::Reply(reply), now, policy).0;
            } else {
                wait.last = Some(reply);
            }
            add(state, record, wait, &mut fx);
            state.view = Some(Run::Created(id.clone()));
            fx.push(if finished {
                Effect::Release(id)
            } else {
                Effect::PollIn(id, policy.poll_interval_ms)
            });
        }
        Command::Open(id) => {
            if state.task(&id).is_some() {
                go_on(state, &id, false, now, policy, &mut fx);
                state.view = Some(Run::Created(id));
            }
        }
        Command::Locked {
            task,
            lock,
            stored,
            key,
        } => {
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
            } else if !t.record.proxy && !key {
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
            let Some(t) = state.task(&id) else {
                return fx;
            };
            // Cancelled while the timer ran.
            if !t.is_polling() {
                return fx;
            }
            if state.offline {
                if !state.due_offline.contains(&id) {
                    state.due_offline.push(id);
                }
            } else {
                fx.push(fetch(&t.record));
            }
        }
        Command::NoKey(id) => {
            if let Some(t) = state.task_mut(&id).filter(|t| t.is_polling()) {
                t.watch = Watch::NeedsKey;
                fx.push(Effect::Stop(id.clone()));
                fx.push(Effect::Release(id));
            }
        }
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
                    if let Some(t) = state.task(&id).filter(|t| t.is_polling()) {
                        fx.push(fetch(&t.record));
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
            if state.view.as_ref().is_some_and(|v| v.task().is_some()) {
                state.view = None;
            }
        }
    }
    fx
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
        Next::PollIn(ms) => fx.push(Effect::PollIn(id.clone(), ms)),
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

    fn keyed() -> JobsState {
        JobsState::default()
    }

    /// A page that just submitted task `n`.
    fn submitted(n: u8) -> JobsState {
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        apply(&mut s, Command::Uploaded, NOW, &P);
        apply(&mut s, submit(n), NOW, &P);
        s
    }

    fn generate(upload_first: bool) -> Command {
        Command::Generate { upload_first }
    }

    fn submit(n: u8) -> Command {
        Command::Submitted {
            sent: direct(),
            reply: reply(n, "created"),
            thumbnail: None,
        }
    }

    fn restored(records: Vec<Record>) -> Command {
        Command::Restored {
            records,
            skipped: Vec::new(),
        }
    }

    /// The lock of task `n`, on a page with a key.
    fn locked(n: u8, lock: Lock, stored: Option<Record>) -> Command {
        Command::Locked {
            task: id(n),
            lock,
            stored,
            key: true,
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
    fn a_generation_goes_from_upload_to_a_saved_polled_announced_task() {
        let mut s = keyed();
        assert!(apply(&mut s, generate(true), NOW, &P).is_empty());
        assert_eq!(s.view, Some(Run::Uploading));
        assert!(s.is_busy());
        apply(&mut s, Command::Uploaded, NOW, &P);
        assert_eq!(s.view, Some(Run::Submitting));
        let fx = apply(&mut s, submit(1), NOW + 5, &P);
        assert_eq!(s.view, Some(Run::Created(id(1))));
        assert!(s.is_busy(), "its task is polled");
        let Some(Effect::Persist(saved)) = fx.first() else {
            panic!("the record is saved first: {fx:?}")
        };
        assert_eq!((saved.id.clone(), saved.created_ms), (id(1), NOW + 5));
        assert_eq!(
            fx[1..],
            [
                Effect::Announce(EmbedEvent::Started {
                    task_id: "task-1".into()
                }),
                Effect::PollIn(id(1), 1500),
            ]
        );
        // The submit's reply is kept for the status line.
        assert!(matches!(&s.tasks[0].watch, Watch::Here(w) if w.last.is_some()));
    }

    #[test]
    fn failures_before_a_task_exists_are_shown_and_announced_with_stage_and_code() {
        let mut s = keyed();
        apply(&mut s, generate(true), NOW, &P);
        let fx = apply(&mut s, Command::UploadFailed(ApiError::TimedOut), NOW, &P);
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
        let fx = apply(&mut s, Command::SubmitFailed(refused.clone()), NOW, &P);
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
        apply(&mut s, Command::UploadFailed(refused.clone()), NOW, &P);
        assert!(apply(&mut s, Command::Reconnected, NOW, &P).is_empty());
        assert_eq!(s.view, None);
        apply(&mut s, generate(false), NOW, &P);
        apply(&mut s, Command::SubmitFailed(refused), NOW, &P);
        apply(&mut s, Command::Reconnected, NOW, &P);
        assert_eq!(s.view, None);
        apply(&mut s, generate(false), NOW, &P);
        apply(&mut s, Command::SubmitFailed(ApiError::TimedOut), NOW, &P);
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
        assert_eq!(fx, [fetch(&s.tasks[0].record)], "polled once, at once");
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
        let lock = |key| Command::Locked {
            task: id(1),
            lock: Lock::Held,
            stored: None,
            key,
        };
        assert_eq!(
            apply(&mut s, lock(false), NOW, &P),
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
        assert_eq!(
            apply(&mut s, lock(true), NOW, &P),
            [Effect::PollIn(id(1), 0)]
        );
        // The key is cleared while it is polled: it waits for one again.
        assert_eq!(
            apply(&mut s, Command::NoKey(id(1)), NOW, &P),
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
        assert_eq!(s, keyed());
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
        let fx = apply(&mut s, submit(1), NOW, &P);
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

    #[test]
    fn a_looked_up_task_is_shown_and_polled_unless_it_is_over() {
        let mut s = keyed();
        let fx = apply(
            &mut s,
            Command::Found {
                sent: direct(),
                reply: reply(1, "processing"),
            },
            NOW,
            &P,
        );
        assert!(matches!(&fx[..], [Effect::Persist(_), Effect::PollIn(t, 1500)] if t == &id(1)));
        assert_eq!(s.view, Some(Run::Created(id(1))));
        let fx = apply(
            &mut s,
            Command::Found {
                sent: direct(),
                reply: reply(2, "completed"),
            },
            NOW,
            &P,
        );
        assert!(
            matches!(&fx[..], [Effect::Persist(r), Effect::Release(_)] if r.finished_ms.is_none())
        );
        assert!(announced(&fx).is_empty());
        // Opening a known task that is over, or polled, asks for nothing.
        assert!(apply(&mut s, Command::Open(id(2)), NOW, &P).is_empty());
        assert!(apply(&mut s, Command::Open(id(1)), NOW, &P).is_empty());
        assert_eq!(s.view, Some(Run::Created(id(1))));
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
            any::<bool>().prop_map(|upload_first| Command::Generate { upload_first }),
            Just(Command::Uploaded),
            n.clone().prop_map(submit),
            n.clone().prop_map(|n| Command::Due(id(n))),
            n.clone().prop_map(|n| Command::NoKey(id(n))),
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
                    // Task 3 was sent with a key this page does not have.
                    key: n != 3,
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
        /// this one; pruning never drops a running task; each task is announced as over
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
                if let Command::Submitted { reply, .. } = &command {
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
                        }
                        Effect::Lock { task, .. } => {
                            let b = before.task(task);
                            prop_assert!(
                                !b.is_some_and(|b| matches!(b.watch, Watch::Here(_))),
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
