//! A batch: many photos, one press. The queue of a whole catalogue as a pure state
//! machine — `apply(batch, command, now)` changes the [`Batch`] and returns the
//! [`Effect`]s the glue carries out — beside the one-job machine of [`super::jobs`],
//! which polls, saves and shows each task the batch creates exactly as it does one made
//! by Generate.
//!
//! What it guarantees (property-tested below, for any order of answers):
//! - **No item is paid for twice.** An item's submit is sent once per press: never again
//!   by itself. After an answer that says nothing was created (a refusal, a 429, a
//!   failed upload) the item may wait again; after a submit whose answer never came
//!   (the network dropped, the page closed while it was sent) it is *may have started*
//!   and is sent again only by the person's explicit **Send again** on that item; a task
//!   that finished is never sent again, and one that failed (WaveSpeed refunds it) only
//!   by **Retry failed**.
//! - **None is forgotten.** Every item stays in the list in its order until removed;
//!   while the batch runs here, items wait only for a free place, a back-off, a pause or
//!   a reason said on the page.
//! - **At the pace the account allows.** At most [`Batch::at_once`] items are submitting
//!   or running at once (uploads, which cost nothing, go ahead: one for each free place
//!   and [`AHEAD`] more, so that a place is taken again the moment it frees); a 429 (or a proxy's "slow down") puts the item back
//!   at its place, holds the queue for `Retry-After` (or a growing delay) and lowers
//!   how many run at once to what the server took, raised again by one as each ends.
//! - **Nothing lost on a reload.** The batch is saved ([`Effect::Save`]) before any
//!   request it leads to, and read back by [`decode`]; one tab runs it (its lock), the
//!   others follow what it saves.

use super::api::{output_relay_prefix, Status};
use super::api::{ApiError, SubmitRequest, TaskId};
use super::assessment::{Assessment, Source as AssessedSource};
use super::config::UploadMode;
use super::funds::{Funds, Lookup};
use super::history;
use super::jobs::{Lock, Sent};
use super::json::{self, Json};
use super::output::{self, Output};
use super::rules::Violation;
use crate::core::config::BaseUrl;
use multishot_film::request::{clean_mark, Request as FilmRequest, ShotRef};
use multishot_film::shape::Shape;
use multishot_rules::money::Micros;

/// The page's element the batch's module draws its card into (the full page's; the
/// consumer embed stays one image at a time). The page and the module talk through it
/// alone:
/// - the page sets [`FILES`] (an array of `File`s), [`URLS`] (an array of addresses) and
///   [`ENTRIES`] (a drop's folders) and dispatches [`EVENT`] — also with nothing, at start, when a batch is saved
///   ([`ENTRY`]); the page's own script loads the module ([`LOADER`]) at the first;
/// - the page keeps [`CONTEXT`] up to date ([`Context`]'s text) and dispatches
///   [`CONTEXT_EVENT`] when it changes;
/// - the module dispatches [`SEND_EVENT`] to have an item's upload or submit made with
///   the page's connection (its `detail`: `number`, `step` — `upload` with `file` and
///   `inline`, or `submit` with `image`, `base64` and `thumbnail`); the page answers
///   with [`ANSWER_EVENT`] (`detail`: `number`, `step` and the [`Outcome`]'s parts). A
///   task a submit made is kept by the page as every task is, and polled there; the
///   module reads its record where the page saves it.
pub const SLOT: &str = "ms-batch-slot";
/// See [`SLOT`].
pub const EVENT: &str = "multishot-batch";
/// See [`SLOT`].
pub const FILES: &str = "msFiles";
/// See [`SLOT`].
pub const URLS: &str = "msUrls";
/// See [`SLOT`]: a drop's entries, folders among them (the module reads their files).
pub const ENTRIES: &str = "msEntries";
/// See [`SLOT`].
pub const CONTEXT: &str = "msContext";
/// See [`SLOT`].
pub const CONTEXT_EVENT: &str = "multishot-batch-context";
/// See [`SLOT`].
pub const SEND_EVENT: &str = "multishot-batch-send";
/// See [`SLOT`].
pub const ANSWER_EVENT: &str = "multishot-batch-answer";
/// The loader Trunk writes for the module (index.html).
pub const LOADER: &str = "multishot-batch_loader.js";

/// What the module needs to know of the page: where jobs go (or why they cannot), and
/// what pays for them. Written by the page as text ([`Context::to_json`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// How jobs would be sent now, or why they cannot be (no key and no proxy…).
    pub plan: Result<Plan, String>,
    /// The page has an API key.
    pub key: bool,
    /// The price and what pays.
    pub pay: Pay,
    /// The site owner's mark for films (`video_mark`), drawn on each photo's film.
    pub mark: Option<String>,
}

impl Context {
    /// The text the page hands over.
    pub fn to_json(&self) -> String {
        let mut out = json::Object::new();
        match &self.plan {
            Ok(plan) => {
                out = out
                    .str("base", plan.sent.base.as_str())
                    .bool("proxy", plan.sent.proxy)
                    .bool("inline", plan.upload == UploadMode::Inline)
                    .bool("base64", plan.base64);
            }
            Err(problem) => out = out.str("problem", problem),
        }
        out.bool("key", self.key)
            .num("price", self.pay.price.0)
            .opt_num("balance", self.pay.balance.map(|b| b.0))
            .opt_num("runs_left", self.pay.runs_left.map(|r| r.0))
            .bool("this_hour", self.pay.runs_left.is_some_and(|r| r.1))
            .opt_str("mark", self.mark.as_deref())
            .end()
    }

    /// Reads the page's text (`None`: not one).
    pub fn parse(text: &str) -> Option<Context> {
        let doc = json::parse(text.as_bytes()).ok()?;
        let flag = |k| doc.get(k).and_then(Json::as_bool).unwrap_or(false);
        let plan = match doc.get("problem").and_then(Json::as_str) {
            Some(problem) => Err(problem.to_owned()),
            None => Ok(Plan {
                sent: Sent {
                    base: BaseUrl::parse(doc.get("base")?.as_str()?).ok()?,
                    proxy: flag("proxy"),
                },
                upload: if flag("inline") {
                    UploadMode::Inline
                } else {
                    UploadMode::Binary
                },
                base64: flag("base64"),
            }),
        };
        Some(Context {
            plan,
            key: flag("key"),
            pay: Pay {
                price: Micros(doc.get("price")?.as_u64()?),
                balance: doc.get("balance").and_then(Json::as_u64).map(Micros),
                runs_left: doc
                    .get("runs_left")
                    .and_then(Json::as_u64)
                    .map(|n| (n, flag("this_hour"))),
            },
            mark: doc.get("mark").and_then(Json::as_str).map(str::to_owned),
        })
    }
}

/// Where the current batch is saved (one per browser profile; the inputs' files are kept
/// beside it, by the glue, under the batch's id and each item's number).
pub const ENTRY: &str = "multishot.batch";
/// The saved form's version.
pub const SCHEMA_VERSION: u64 = 1;
/// How many run at once unless the person says otherwise: WaveSpeed's default tier runs
/// 2 tasks at once.
pub const DEFAULT_AT_ONCE: u32 = 2;
/// The most that may run at once (higher tiers allow far more; a page need not).
pub const MAX_AT_ONCE: u32 = 16;
/// The most items one batch holds.
pub const MAX_ITEMS: usize = 500;
/// The first back-off after a 429 without `Retry-After`; the n-th in a row waits n times
/// it, up to [`MAX_HOLD_MS`].
pub const HOLD_STEP_MS: u64 = 2_000;
/// The longest back-off the page picks itself (a server's `Retry-After` may ask more).
pub const MAX_HOLD_MS: u64 = 60_000;
/// Failed uploads in a row (the network, a 5xx) before the batch stops and says why.
pub const MAX_STRIKES: u32 = 4;

/// What an item is: a local file (kept by the glue until its task is done) or a web
/// address, sent as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A chosen file.
    File,
    /// A web address.
    Url(String),
}

/// Where an item is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// The checks refused it (`why`, the page's sentence); `repair` names the one-click
    /// repair that can make it fit, if any (the same name for the same kind of repair).
    Refused {
        /// Why.
        why: String,
        /// The repair's name.
        repair: Option<String>,
    },
    /// Checked and fit; not asked for yet (or its wait was cancelled).
    Ready,
    /// Asked for: starts when a place is free, in list order.
    Waiting,
    /// Its file is being uploaded (nothing is created yet).
    Uploading,
    /// Its file is uploaded (or it is an address): the image that its submit sends,
    /// held until a place is free — so that the submit goes the moment one frees. Saved
    /// as waiting (an upload is free; a data URI is not kept).
    Staged(String),
    /// Its submit is sent (once).
    Submitting,
    /// Its task exists and is being waited for (by [`super::jobs`]).
    Running(TaskId),
    /// Its task completed.
    Done(TaskId),
    /// It did not come out: why, and its task if one was made.
    Failed {
        /// The task, if one was made (WaveSpeed refunds a failed task).
        task: Option<TaskId>,
        /// Why, as said on the page.
        error: String,
        /// No answer came to its submit: a task may exist at WaveSpeed. Not part of
        /// Retry failed; the item's own Send again sends it.
        maybe_created: bool,
    },
}

impl State {
    /// Uploading, submitting or running: under way (it cannot be taken out of the list).
    pub fn in_flight(&self) -> bool {
        matches!(
            self,
            State::Uploading | State::Submitting | State::Running(_)
        )
    }

    /// Submitting or running: it takes one of the places at WaveSpeed.
    pub fn takes_place(&self) -> bool {
        matches!(self, State::Submitting | State::Running(_))
    }

    /// Waiting for its turn, uploaded or not.
    pub fn is_waiting(&self) -> bool {
        matches!(self, State::Waiting | State::Staged(_))
    }

    /// Its task, if it has one.
    pub fn task(&self) -> Option<&TaskId> {
        match self {
            State::Running(t) | State::Done(t) => Some(t),
            State::Failed { task, .. } => task.as_ref(),
            _ => None,
        }
    }

    /// Retry failed sends it: failed with nothing created, or its task failed.
    fn retryable(&self) -> bool {
        matches!(
            self,
            State::Failed {
                maybe_created: false,
                ..
            }
        )
    }
}

/// One photo of the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Its number in the batch (from 1, never reused): the glue keeps its file under it.
    pub number: u32,
    /// The file's name, or the address.
    pub name: String,
    /// What it is.
    pub input: Input,
    /// Where it is.
    pub state: State,
    /// Tasks made for it before this one, that failed (kept so that none is lost).
    pub earlier: Vec<TaskId>,
    /// A small JPEG data URI of it, for its row and its task's record (no decoded
    /// image is held for a row).
    pub thumbnail: Option<String>,
    /// Its task's shots, once done (kept here: the history keeps only its latest 50).
    pub outputs: Vec<String>,
}

/// How a batch's jobs are sent: chosen by the press of Generate all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Where.
    pub sent: Sent,
    /// How a file reaches the `image` field.
    pub upload: UploadMode,
    /// Shots asked for inline as base64.
    pub base64: bool,
}

/// A new item, as the checks left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewItem {
    /// The file's name, or the address.
    pub name: String,
    /// What it is.
    pub input: Input,
    /// `None` when it is fit; else why not and the repair's name.
    pub refused: Option<(String, Option<String>)>,
    /// Its thumbnail, when one could be drawn.
    pub thumbnail: Option<String>,
}

/// The batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Its id (the glue's: the time it was made and a random part).
    pub id: String,
    /// The items, in the order they were chosen: the queue's order.
    pub items: Vec<Item>,
    /// The next item's number.
    pub next_number: u32,
    /// How many may run at once (1 to [`MAX_AT_ONCE`]).
    pub at_once: u32,
    /// How its jobs are sent, once Generate all was pressed.
    pub plan: Option<Plan>,
    /// The person paused it: nothing new starts (what runs goes on).
    pub paused: bool,
    /// It stopped by itself, and why (a refused key, a proxy's budget, uploads failing):
    /// nothing new starts until Resume.
    pub stopped: Option<String>,
    /// Not saved: how this tab stands to it, and how fast it may go.
    pub run: Runtime,
}

/// The part of a batch that is not saved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runtime {
    /// This tab holds the batch's lock: it runs it. Otherwise it shows what the tab that
    /// runs it saves (or waits for the lock's answer).
    pub here: bool,
    /// Another tab runs it.
    pub elsewhere: bool,
    /// Its lock was asked for.
    pub asked: bool,
    /// The page has an API key (a batch sent direct waits for one).
    pub key: bool,
    /// Nothing new starts before this moment (ms), after a 429.
    pub hold_until: u64,
    /// How many may run at once for now, lowered by a 429 (`None`: [`Batch::at_once`]).
    pub ceiling: Option<u32>,
    /// 429s, or failed uploads, in a row.
    pub strikes: u32,
}

/// Something that happened to the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Items were chosen (a new batch is begun by the glue with [`Batch::new`]).
    Add(Vec<NewItem>),
    /// An item's photo was replaced by a repaired one (Make it fit, in its row), checked
    /// again: its name, thumbnail and verdict are the new photo's. Only before it is
    /// sent.
    Replace(u32, NewItem),
    /// Take an item out of the list (not while it is uploading, submitting or running).
    Remove(u32),
    /// Generate all: every fit item not yet sent waits for its turn.
    GenerateAll(Plan),
    /// Retry failed: every failed item whose failure created nothing, or whose task
    /// failed, waits again.
    RetryFailed,
    /// Send again one item, even one that may have started.
    SendAgain(u32),
    /// Cancel all waiting: waiting items are not sent (what runs goes on).
    CancelWaiting,
    /// Pause (`true`) or go on.
    Pause(bool),
    /// How many at once.
    AtOnce(u32),
    /// An item's file is uploaded (its address, or a data URI), or that failed.
    Uploaded(u32, Outcome),
    /// An item's submit was answered (a task made: its id), or failed.
    Submitted(u32, Outcome),
    /// A task of the batch ended: completed with its shots, or failed with the error
    /// said.
    TaskOver {
        /// The task.
        task: TaskId,
        /// It completed (else it failed, was cancelled or timed out at WaveSpeed).
        completed: bool,
        /// Why not, when it did not.
        error: Option<String>,
        /// Its shots (those kept: web addresses).
        outputs: Vec<String>,
    },
    /// An item's kept file was not found when its turn came (the browser's storage
    /// for this page was cleared).
    Lost(u32),
    /// A [`Effect::WakeIn`] timer ran out.
    Wake,
    /// The page has an API key (`true`) or has none any more.
    KeyGiven(bool),
    /// The answer to [`Effect::Lock`], with the batch as storage has it now.
    Locked(Lock, Option<Box<Batch>>),
    /// Another tab saved the batch (`None`: removed it).
    Stored(Option<Box<Batch>>),
}

/// What the glue does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Save the batch ([`Batch::to_json`] under [`ENTRY`]) now: it comes before any
    /// request of the same answer.
    Save,
    /// Upload item `.0`'s kept file (or read it inline, as `.1` says); the outcome is
    /// [`Command::Uploaded`].
    Upload(u32, UploadMode),
    /// Send item `number`'s job, once; the outcome is [`Command::Submitted`].
    Submit {
        /// The item.
        number: u32,
        /// The body.
        request: SubmitRequest,
    },
    /// Run a timer; when it runs out, [`Command::Wake`].
    WakeIn(u64),
    /// Ask for the batch's tab lock, waiting for it or not; the answer is
    /// [`Command::Locked`].
    Lock {
        /// Wait until the tab holding it lets go.
        wait: bool,
    },
    /// The item's kept file is no longer needed.
    Discard(u32),
    /// Have the page go on waiting for a running item's task (sent with a key, it waits
    /// for one after a reload: the batch's Generate all was the person's go-ahead).
    Resume(TaskId),
    /// The batch is closed: remove its saved entry and every file kept for it, and let
    /// go of its lock.
    Forget,
}

/// How an item's upload or submit came out, as the glue that sent it tells
/// ([`outcome_of`] reads it from the reply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Uploaded (the image's address, or its data URI), or a task made (its id).
    Done(String),
    /// Refused before anything was made because of the pace (a 429, "too many tasks"):
    /// slow down, for this long if the server said (ms).
    SlowDown(Option<u64>),
    /// An upload that did not get through, for a reason that passes (the network, the
    /// server's trouble): nothing was made.
    Passing(String),
    /// A refusal every later item would meet too (the key, the site's proxy): the batch
    /// stops and says it; nothing was made.
    Stop(String),
    /// No answer came to a submit: a task may exist.
    Silent(String),
    /// Refused for this item: nothing was made.
    Refused(String),
}

/// What a reply to an item's upload (`submit` false) or submit means for the batch.
pub fn outcome_of(reply: Result<String, ApiError>, submit: bool) -> Outcome {
    let error = match reply {
        Ok(done) => return Outcome::Done(done),
        Err(error) => error,
    };
    let slow_down = matches!(error, ApiError::RateLimited { .. })
        || matches!(&error, ApiError::Proxy { status: 429, .. })
        || matches!(&error, ApiError::Refused { code: 429, .. })
        || matches!(&error, ApiError::Refused { message, .. } | ApiError::Rejected { message, .. }
            if message.to_ascii_lowercase().contains("too many"));
    if slow_down {
        return Outcome::SlowDown(error.retry_after_ms());
    }
    if submit
        && matches!(
            error,
            ApiError::Network(_) | ApiError::TimedOut | ApiError::BadResponse(_)
        )
    {
        return Outcome::Silent(format!(
            "No answer came: it may have started at WaveSpeed ({error}) Look for it in History before you send it again."
        ));
    }
    if matches!(error, ApiError::Unauthorized(_) | ApiError::Forbidden(_))
        || matches!(&error, ApiError::Proxy { .. })
    {
        return Outcome::Stop(error.to_string());
    }
    if !submit && error.is_transient() {
        return Outcome::Passing(error.to_string());
    }
    Outcome::Refused(format!(
        "{}{error}",
        if submit {
            "Could not start the job: "
        } else {
            "Upload failed: "
        }
    ))
}

impl Outcome {
    /// The outcome as the page's answer carries it: its kind, its text and the wait the
    /// server asked for.
    pub fn parts(&self) -> (&'static str, &str, Option<u64>) {
        match self {
            Outcome::Done(t) => ("done", t, None),
            Outcome::SlowDown(after) => ("slow", "", *after),
            Outcome::Passing(t) => ("passing", t, None),
            Outcome::Stop(t) => ("stop", t, None),
            Outcome::Silent(t) => ("silent", t, None),
            Outcome::Refused(t) => ("refused", t, None),
        }
    }

    /// Read back from [`Outcome::parts`]; `None` for an unknown kind.
    pub fn from_parts(kind: &str, text: String, after: Option<u64>) -> Option<Outcome> {
        Some(match kind {
            "done" => Outcome::Done(text),
            "slow" => Outcome::SlowDown(after),
            "passing" => Outcome::Passing(text),
            "stop" => Outcome::Stop(text),
            "silent" => Outcome::Silent(text),
            "refused" => Outcome::Refused(text),
            _ => return None,
        })
    }
}

/// What the line above Generate all is made from: the price of a run and what pays for
/// it (a key's balance, or a site owner's proxy's runs left).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pay {
    /// The price of a run.
    pub price: Micros,
    /// The account's balance, when known (with a key).
    pub balance: Option<Micros>,
    /// Through a proxy: the runs left, and whether that is this hour's (else today's).
    pub runs_left: Option<(u64, bool)>,
}

impl Pay {
    /// From what the page knows of the funds.
    pub fn of(funds: &Funds) -> Pay {
        Pay {
            price: funds.price(),
            balance: match funds {
                Funds::Direct {
                    balance: Lookup::Known(b),
                    ..
                } => Some(*b),
                _ => None,
            },
            runs_left: match funds {
                Funds::Proxy(Lookup::Known(q)) => Some((q.runs_left, q.this_hour)),
                _ => None,
            },
        }
    }
}

/// What an item says when its file was not found when its turn came.
pub const LOST: &str = "This photo’s file is no longer kept by this browser (its storage for this page was cleared): remove it and choose it again.";

/// What the page says when a batch is saved with a submit under way and read back: the
/// answer never came.
pub const INTERRUPTED: &str = "The page closed while this photo's job was being sent: it may have started at WaveSpeed. Look for it in History before you send it again.";

impl Batch {
    /// A new, empty batch with id `id`.
    pub fn new(id: String) -> Self {
        Batch {
            id,
            items: Vec::new(),
            next_number: 1,
            at_once: DEFAULT_AT_ONCE,
            plan: None,
            paused: false,
            stopped: None,
            run: Runtime::default(),
        }
    }

    /// Item `number`.
    pub fn item(&self, number: u32) -> Option<&Item> {
        self.items.iter().find(|i| i.number == number)
    }

    fn item_mut(&mut self, number: u32) -> Option<&mut Item> {
        self.items.iter_mut().find(|i| i.number == number)
    }

    /// How many are under way (uploading, submitting, running).
    pub fn in_flight(&self) -> usize {
        self.count(State::in_flight)
    }

    /// How many take a place at WaveSpeed now (submitting, running).
    pub fn places_taken(&self) -> usize {
        self.count(State::takes_place)
    }

    /// How many are in state `pred`.
    pub fn count(&self, pred: impl Fn(&State) -> bool) -> usize {
        self.items.iter().filter(|i| pred(&i.state)).count()
    }

    /// How many Generate all would send.
    pub fn ready(&self) -> usize {
        self.count(|s| *s == State::Ready)
    }

    /// How many Retry failed would send.
    pub fn retryable(&self) -> usize {
        self.count(State::retryable)
    }

    /// The items refused for the rule `code` that a repair can make fit, in the list's
    /// order: what **Apply to all that need it** repairs the way one of them was.
    pub fn needing(&self, code: &str) -> Vec<u32> {
        self.items
            .iter()
            .filter(|i| matches!(&i.state, State::Refused { repair: Some(c), .. } if c == code))
            .map(|i| i.number)
            .collect()
    }

    /// How many are waiting (uploaded ahead of their turn or not).
    pub fn waiting(&self) -> usize {
        self.count(State::is_waiting)
    }

    /// How many may run at once now.
    pub fn limit(&self) -> u32 {
        self.run
            .ceiling
            .unwrap_or(self.at_once)
            .clamp(1, self.at_once)
    }

    /// Why the queue does not move now, in the page's words (`None`: it moves, or has
    /// nothing to move).
    pub fn holding(&self, now: u64) -> Option<String> {
        if self.waiting() == 0 {
            return None;
        }
        Some(if self.run.elsewhere {
            "This batch runs in another tab of this browser.".to_owned()
        } else if let Some(why) = &self.stopped {
            format!("Stopped: {why}")
        } else if self.paused {
            "Paused.".to_owned()
        } else if !self.can_send() {
            "Waiting for your API key (Connection).".to_owned()
        } else if now < self.run.hold_until {
            let s = (self.run.hold_until - now).div_ceil(1000);
            format!("WaveSpeed asked to slow down: the next starts in {s} s.")
        } else {
            return None;
        })
    }

    fn can_send(&self) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|p| p.sent.proxy || self.run.key)
    }

    /// The batch as saved (without its runtime part).
    pub fn to_json(&self) -> String {
        let mut items = String::from("[");
        for (n, item) in self.items.iter().enumerate() {
            if n > 0 {
                items.push(',');
            }
            items.push_str(&item.to_json());
        }
        items.push(']');
        let mut out = json::Object::new()
            .num("v", SCHEMA_VERSION)
            .str("id", &self.id)
            .num("next", u64::from(self.next_number))
            .num("at_once", u64::from(self.at_once))
            .bool("paused", self.paused)
            .opt_str("stopped", self.stopped.as_deref());
        if let Some(plan) = &self.plan {
            out = out
                .str("base", plan.sent.base.as_str())
                .bool("proxy", plan.sent.proxy)
                .bool("inline", plan.upload == UploadMode::Inline)
                .bool("base64", plan.base64);
        }
        out.json("items", &items).end()
    }
}

impl Item {
    fn to_json(&self) -> String {
        let (state, task, why, repair, maybe) = match &self.state {
            State::Refused { why, repair } => ("refused", None, Some(why), repair.as_ref(), false),
            State::Ready => ("ready", None, None, None, false),
            State::Waiting => ("waiting", None, None, None, false),
            State::Uploading | State::Staged(_) => ("uploading", None, None, None, false),
            State::Submitting => ("submitting", None, None, None, false),
            State::Running(t) => ("running", Some(t), None, None, false),
            State::Done(t) => ("done", Some(t), None, None, false),
            State::Failed {
                task,
                error,
                maybe_created,
            } => ("failed", task.as_ref(), Some(error), None, *maybe_created),
        };
        let earlier: Vec<String> = self.earlier.iter().map(|t| t.to_string()).collect();
        json::Object::new()
            .num("n", u64::from(self.number))
            .str("name", &self.name)
            .opt_str(
                "url",
                match &self.input {
                    Input::Url(url) => Some(url),
                    Input::File => None,
                },
            )
            .str("state", state)
            .opt_str("task", task.map(TaskId::as_str))
            .opt_str("why", why.map(String::as_str))
            .opt_str("repair", repair.map(String::as_str))
            .bool("maybe", maybe)
            .strs("earlier", &earlier)
            .opt_str("thumb", self.thumbnail.as_deref())
            .strs("outputs", &self.outputs)
            .end()
    }
}

/// Why a saved batch could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Not JSON.
    #[error("the saved batch is not JSON ({0})")]
    Json(json::JsonError),
    /// A newer page saved it.
    #[error("the saved batch was written by a newer version of this page")]
    Version,
    /// A field is missing or wrong.
    #[error("the saved batch's {0} cannot be read")]
    Field(&'static str),
}

/// Reads a saved batch. A batch saved with items uploading or submitting — the page
/// closed meanwhile — comes back with those waiting again (nothing was created), and
/// these failed as [`INTERRUPTED`] (a task may exist: never sent again by itself).
pub fn decode(raw: &str) -> Result<Batch, BatchError> {
    let doc = json::parse(raw.as_bytes()).map_err(BatchError::Json)?;
    let num = |k: &'static str| {
        doc.get(k)
            .and_then(Json::as_u64)
            .ok_or(BatchError::Field(k))
    };
    if num("v")? > SCHEMA_VERSION {
        return Err(BatchError::Version);
    }
    let text = |j: &Json, k: &'static str| {
        j.get(k)
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or(BatchError::Field(k))
    };
    let opt_text = |j: &Json, k: &'static str| j.get(k).and_then(Json::as_str).map(str::to_owned);
    let flag = |j: &Json, k: &'static str| j.get(k).and_then(Json::as_bool).unwrap_or(false);
    let small = |n: u64, k: &'static str| u32::try_from(n).map_err(|_| BatchError::Field(k));
    let plan = match opt_text(&doc, "base") {
        None => None,
        Some(base) => Some(Plan {
            sent: Sent {
                base: BaseUrl::parse(&base).map_err(|_| BatchError::Field("base"))?,
                proxy: flag(&doc, "proxy"),
            },
            upload: if flag(&doc, "inline") {
                UploadMode::Inline
            } else {
                UploadMode::Binary
            },
            base64: flag(&doc, "base64"),
        }),
    };
    let mut batch = Batch {
        id: text(&doc, "id")?,
        items: Vec::new(),
        next_number: small(num("next")?, "next")?,
        at_once: small(num("at_once")?, "at_once")?.clamp(1, MAX_AT_ONCE),
        plan,
        paused: flag(&doc, "paused"),
        stopped: opt_text(&doc, "stopped"),
        run: Runtime::default(),
    };
    let items = doc
        .get("items")
        .and_then(Json::as_array)
        .ok_or(BatchError::Field("items"))?;
    for j in items {
        let number = small(
            j.get("n")
                .and_then(Json::as_u64)
                .ok_or(BatchError::Field("n"))?,
            "n",
        )?;
        let task = || -> Result<TaskId, BatchError> {
            TaskId::parse(&text(j, "task")?).map_err(|_| BatchError::Field("task"))
        };
        let state = match text(j, "state")?.as_str() {
            "refused" => State::Refused {
                why: text(j, "why")?,
                repair: opt_text(j, "repair"),
            },
            "ready" => State::Ready,
            "waiting" | "uploading" => State::Waiting,
            "submitting" => State::Failed {
                task: None,
                error: INTERRUPTED.to_owned(),
                maybe_created: true,
            },
            "running" => State::Running(task()?),
            "done" => State::Done(task()?),
            "failed" => State::Failed {
                task: j
                    .get("task")
                    .filter(|t| !t.is_null())
                    .map(|_| task())
                    .transpose()?,
                error: text(j, "why")?,
                maybe_created: flag(j, "maybe"),
            },
            _ => return Err(BatchError::Field("state")),
        };
        let mut earlier = Vec::new();
        for t in j.get("earlier").and_then(Json::as_array).unwrap_or(&[]) {
            let t = t.as_str().ok_or(BatchError::Field("earlier"))?;
            earlier.push(TaskId::parse(t).map_err(|_| BatchError::Field("earlier"))?);
        }
        if number == 0 || number >= batch.next_number || batch.item(number).is_some() {
            return Err(BatchError::Field("n"));
        }
        batch.items.push(Item {
            number,
            name: text(j, "name")?,
            input: match opt_text(j, "url") {
                Some(url) => Input::Url(url),
                None => Input::File,
            },
            state,
            earlier,
            thumbnail: opt_text(j, "thumb").filter(|t| history::is_thumbnail(t)),
            outputs: j
                .get("outputs")
                .and_then(Json::as_array)
                .unwrap_or(&[])
                .iter()
                .filter_map(|o| o.as_str().map(str::to_owned))
                .collect(),
        });
    }
    Ok(batch)
}

/// What the checks say of a new item: `None` when it is fit, else the sentence of its
/// first broken rule (as the single image's report says it) and, for a local file that
/// the browser can open, the rule's code, which names the kind of repair that fits it
/// (the same for every item refused for the same reason: "Apply to all that need it").
pub fn refusal(assessment: &Assessment) -> Option<(String, Option<String>)> {
    if let Some(problem) = assessment.url_problem() {
        return Some((problem, None));
    }
    let report = assessment.report();
    let broken = report.violations.first()?;
    let rule = broken.rule();
    let repairable = matches!(assessment.source, AssessedSource::File { .. })
        && !matches!(
            broken,
            Violation::Readable { .. } | Violation::TooManyPixels { .. }
        );
    Some((
        format!("{}: {broken}", rule.name()),
        repairable.then(|| rule.code().to_owned()),
    ))
}

/// The line beside **Apply to all that need it**, once a refused photo was made to fit
/// with `choice` (the repair's words: "Crop", "Pad #1a2b3c", …) and `others` more are
/// refused for the same rule; `None` when none are.
pub fn apply_offer(choice: &str, others: usize) -> Option<String> {
    let (verb, colour) = choice.split_once(' ').unwrap_or((choice, ""));
    let how = match (verb, colour) {
        ("Pad", "") => "Pad (on a blurred copy)".to_owned(),
        ("Pad", colour) => format!("Pad (on {colour})"),
        (verb, _) => verb.to_owned(),
    };
    match others {
        0 => None,
        1 => Some(format!(
            "1 more photo is refused for the same reason: {how} it too?"
        )),
        n => Some(format!(
            "{n} more photos are refused for the same reason: {how} them too?"
        )),
    }
}

/// The line above Generate all: what `runs` runs cost and what pays for them, and
/// whether that is short (Generate all disabled: the line says how many it would pay
/// for). `None` with nothing to send.
pub fn quote(pay: &Pay, runs: usize) -> Option<(String, bool)> {
    if runs == 0 {
        return None;
    }
    let cost =
        cost(runs, pay.price).map_or_else(|| "more than can be paid".to_owned(), |c| c.to_string());
    let plural = if runs == 1 { "run costs" } else { "runs cost" };
    Some(match (pay.balance, pay.runs_left) {
        (Some(balance), _) => {
            let paid = runs_paid_for(balance, pay.price);
            if paid < runs as u64 {
                (
                    format!("{runs} {plural} {cost} · your balance {balance} pays for {paid}: remove some, or top up your WaveSpeed account."),
                    true,
                )
            } else {
                (
                    format!("{runs} {plural} {cost} · your balance {balance}"),
                    false,
                )
            }
        }
        (None, Some((left, this_hour))) => {
            let when = if this_hour { "this hour" } else { "today" };
            if left < runs as u64 {
                (
                    format!("{runs} runs asked · this site allows {left} more {when}: remove some, or come back later."),
                    true,
                )
            } else {
                (
                    format!("{runs} {plural} {cost}, paid by the site · {left} left {when}"),
                    false,
                )
            }
        }
        (None, None) => (format!("{runs} {plural} {cost}"), false),
    })
}

/// What a row says of its item: its status, and whether it is a failure (shown as one).
/// `status` is its running task's latest, when known.
pub fn status_line(item: &Item, status: Option<&Status>) -> (String, bool) {
    match &item.state {
        State::Refused { why, .. } => (why.clone(), true),
        State::Ready => ("Ready".to_owned(), false),
        State::Waiting => ("Waiting for its turn".to_owned(), false),
        State::Uploading => ("Uploading…".to_owned(), false),
        State::Staged(_) => ("Uploaded · starts when a place is free".to_owned(), false),
        State::Submitting => ("Starting…".to_owned(), false),
        State::Running(_) => (
            match status {
                Some(Status::Processing) => "Running (processing)…".to_owned(),
                Some(Status::Other(s)) => format!("Running ({s})…"),
                _ => "Running (queued at WaveSpeed)…".to_owned(),
            },
            false,
        ),
        State::Done(_) => (
            match item.outputs.len() {
                1 => "Done · 1 shot".to_owned(),
                n => format!("Done · {n} shots"),
            },
            false,
        ),
        State::Failed { error, .. } => (error.clone(), true),
    }
}

/// One file of Download all results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultFile {
    /// Its item's folder in the zip (`red-sneaker`).
    pub folder: String,
    /// Its number among its task's outputs (from 1).
    pub number: usize,
    /// Its path in the zip: the item's folder and the shot's name
    /// (`red-sneaker/shot-1.jpg`).
    pub path: String,
    /// The shot's address (checked: `http:` or `https:` only).
    pub src: String,
    /// Where a proxy passes it on from its own origin, for a task sent through one.
    pub relay: Option<String>,
}

/// Every shot of the batch's done items, in the items' order, and how many shots are
/// left out (not a web address: inline shots are not kept).
pub fn result_files(batch: &Batch) -> (Vec<ResultFile>, usize) {
    let folders = folder_names(&batch.items);
    let mut files = Vec::new();
    let mut left_out = 0;
    let via = batch.plan.as_ref().map(|p| &p.sent);
    for (item, folder) in batch.items.iter().zip(folders) {
        let State::Done(task) = &item.state else {
            continue;
        };
        for (n, raw) in item.outputs.iter().enumerate() {
            match output::classify(raw) {
                Ok(shot @ Output::Remote { .. }) => {
                    let Output::Remote { url, .. } = &shot else {
                        continue;
                    };
                    files.push(ResultFile {
                        folder: folder.clone(),
                        number: n + 1,
                        path: format!("{folder}/{}", shot.file_name(n + 1)),
                        src: url.clone(),
                        relay: via.filter(|s| s.proxy).map(|s| {
                            format!("{}{}", output_relay_prefix(s.base.as_str(), task), n + 1)
                        }),
                    });
                }
                _ => left_out += 1,
            }
        }
    }
    (files, left_out)
}

/// Each photo's film for Download all results, in the items' order: its folder and the
/// film module's request for it — its shots (those in the zip) in their order, the
/// first shot's own shape, handed back to be put in the zip (not saved by itself).
pub fn films(files: &[ResultFile], mark: Option<&str>) -> Vec<(String, FilmRequest)> {
    let mut films: Vec<(String, FilmRequest)> = Vec::new();
    for file in files {
        let shot = ShotRef {
            number: file.number,
            src: file.src.clone(),
            relay: file.relay.clone(),
        };
        match films.last_mut() {
            Some((folder, request)) if *folder == file.folder => request.shots.push(shot),
            _ => films.push((
                file.folder.clone(),
                FilmRequest {
                    shots: vec![shot],
                    shape: Shape::Original,
                    mark: mark.and_then(clean_mark),
                    back: true,
                },
            )),
        }
    }
    films
}

/// What Download all results says once its zip is saved: the shots and films in it, the
/// films not made (and the first reason), and the shots left out (sent inline: not
/// kept).
pub fn zip_said(shots: usize, films: usize, missed: &[String], left_out: usize) -> String {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut said = format!("Saved {} ", plural(shots, "shot", "shots"));
    if films > 0 {
        said.push_str(&format!("and {} ", plural(films, "film", "films")));
    }
    said.push_str("in one zip.");
    if let Some(first) = missed.first() {
        said.push_str(&format!(
            " {} not made: {first}",
            plural(missed.len(), "film was", "films were")
        ));
    }
    if left_out > 0 {
        said.push_str(&format!(
            " {} could not be put in it (shots sent inline are not kept: open their task in History).",
            plural(left_out, "shot", "shots")
        ));
    }
    said
}

/// The cost of `runs` runs at `price` each (`None` past what a `u64` of micro-dollars
/// holds).
pub fn cost(runs: usize, price: Micros) -> Option<Micros> {
    price.checked_mul(runs as u64)
}

/// How many runs `balance` pays for at `price` (all of them at a price of 0).
pub fn runs_paid_for(balance: Micros, price: Micros) -> u64 {
    balance.0.checked_div(price.0).unwrap_or(u64::MAX)
}

/// The folder of each item in Download all results, in the items' order: its file's
/// name without the extension (or the address's last part), made safe for a path in a
/// zip on any system, and told apart by `-2`, `-3`… when two are alike.
pub fn folder_names(items: &[Item]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let base = folder_base(item);
        let mut name = base.clone();
        let mut n = 1;
        while names.iter().any(|taken| taken.eq_ignore_ascii_case(&name)) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.push(name);
    }
    names
}

fn folder_base(item: &Item) -> String {
    let path = match &item.input {
        Input::File => item.name.as_str(),
        Input::Url(url) => url.split(['?', '#']).next().unwrap_or(""),
    };
    // The last part of a path (a file dropped with its folder, an address).
    let name = path.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let mut safe = String::new();
    for c in stem.chars() {
        let keep = c.is_alphanumeric() || matches!(c, '-' | '_' | ' ' | '.' | '(' | ')');
        safe.push(if keep { c } else { '-' });
        if safe.chars().count() >= 60 {
            break;
        }
    }
    let safe = safe.trim_matches(|c: char| c == '.' || c == ' ' || c == '-');
    if safe.is_empty() {
        format!("image-{}", item.number)
    } else {
        safe.to_owned()
    }
}

/// Takes in `command` at `now` (ms since the epoch) and returns what to do.
pub fn apply(batch: &mut Batch, command: Command, now: u64) -> Vec<Effect> {
    let before = batch.clone();
    let mut fx = Vec::new();
    // The tab that takes the batch over saves it as it runs it.
    let mut save = false;
    // What a person does counts only in the tab that runs the batch (the others show it).
    let runs_here = batch.run.here;
    match command {
        Command::Add(_) if batch.run.elsewhere => {}
        Command::Add(new) => {
            for n in new {
                if batch.items.len() >= MAX_ITEMS {
                    break;
                }
                let number = batch.next_number;
                batch.next_number += 1;
                batch.items.push(Item {
                    number,
                    name: n.name,
                    input: n.input,
                    state: match n.refused {
                        Some((why, repair)) => State::Refused { why, repair },
                        None => State::Ready,
                    },
                    earlier: Vec::new(),
                    thumbnail: n.thumbnail.filter(|t| history::is_thumbnail(t)),
                    outputs: Vec::new(),
                });
            }
            if !batch.run.asked {
                batch.run.asked = true;
                fx.push(Effect::Lock { wait: false });
            }
        }
        Command::Replace(number, photo) => {
            if let Some(item) = batch
                .item_mut(number)
                .filter(|i| matches!(i.state, State::Refused { .. } | State::Ready))
            {
                item.name = photo.name;
                item.thumbnail = photo.thumbnail.filter(|t| history::is_thumbnail(t));
                item.state = match photo.refused {
                    Some((why, repair)) => State::Refused { why, repair },
                    None => State::Ready,
                };
            }
        }
        Command::Remove(number) => {
            if let Some(at) = batch
                .items
                .iter()
                .position(|i| i.number == number && !i.state.in_flight())
            {
                let item = batch.items.remove(at);
                if item.input == Input::File {
                    fx.push(Effect::Discard(number));
                }
            }
        }
        Command::GenerateAll(plan) if runs_here => {
            for item in &mut batch.items {
                if item.state == State::Ready {
                    item.state = State::Waiting;
                }
            }
            batch.plan = Some(plan);
            batch.paused = false;
            batch.stopped = None;
        }
        Command::RetryFailed if runs_here => {
            for item in &mut batch.items {
                if item.state.retryable() {
                    requeue(item);
                }
            }
            batch.stopped = None;
        }
        Command::SendAgain(number) if runs_here => {
            if let Some(item) = batch.item_mut(number) {
                if matches!(item.state, State::Failed { .. }) {
                    requeue(item);
                }
            }
        }
        Command::CancelWaiting if runs_here => {
            for item in &mut batch.items {
                if item.state.is_waiting() {
                    item.state = State::Ready;
                }
            }
        }
        Command::Pause(paused) if runs_here => {
            batch.paused = paused;
            if !paused {
                batch.stopped = None;
                batch.run.strikes = 0;
            }
        }
        Command::AtOnce(n) if runs_here => {
            batch.at_once = n.clamp(1, MAX_AT_ONCE);
            batch.run.ceiling = None;
        }
        Command::GenerateAll(_)
        | Command::RetryFailed
        | Command::SendAgain(_)
        | Command::CancelWaiting
        | Command::Pause(_)
        | Command::AtOnce(_) => {}
        Command::Uploaded(number, outcome) => {
            if batch.plan.is_none() {
                return fx;
            }
            let Some(item) = batch
                .item_mut(number)
                .filter(|i| i.state == State::Uploading)
            else {
                return fx;
            };
            match outcome {
                Outcome::Done(image) => {
                    // Submitted below, by `pump`, at once if a place is free.
                    item.state = State::Staged(image);
                    batch.run.strikes = 0;
                }
                other => refused(batch, number, other, now, &mut fx),
            }
        }
        Command::Submitted(number, outcome) => {
            let Some(item) = batch
                .item_mut(number)
                .filter(|i| i.state == State::Submitting)
            else {
                return fx;
            };
            match outcome {
                Outcome::Done(id) => match TaskId::parse(&id) {
                    Ok(task) => {
                        item.state = State::Running(task);
                        batch.run.strikes = 0;
                    }
                    Err(error) => {
                        let silent = outcome_of(Err(error), true);
                        refused(batch, number, silent, now, &mut fx);
                    }
                },
                other => refused(batch, number, other, now, &mut fx),
            }
        }
        Command::TaskOver {
            task,
            completed,
            error,
            outputs,
        } => {
            let Some(item) = batch
                .items
                .iter_mut()
                .find(|i| i.state == State::Running(task.clone()))
            else {
                return fx;
            };
            if completed {
                item.state = State::Done(task);
                item.outputs = outputs;
                if item.input == Input::File {
                    fx.push(Effect::Discard(item.number));
                }
            } else {
                item.state = State::Failed {
                    task: Some(task),
                    error: error.unwrap_or_else(|| "The task did not complete.".to_owned()),
                    maybe_created: false,
                };
            }
            // A place came free: go one faster again, up to what was asked.
            if let Some(c) = batch.run.ceiling {
                batch.run.ceiling = (c + 1 < batch.at_once).then_some(c + 1);
            }
        }
        Command::Lost(number) => {
            if let Some(item) = batch
                .item_mut(number)
                .filter(|i| i.state == State::Uploading)
            {
                item.state = State::Failed {
                    task: None,
                    error: LOST.to_owned(),
                    maybe_created: false,
                };
            }
        }
        Command::Wake => {}
        Command::KeyGiven(key) => {
            let given = key && !batch.run.key;
            batch.run.key = key;
            if given && batch.run.here {
                resume_running(batch, &mut fx);
            }
        }
        Command::Locked(lock, stored) => {
            if let Some(stored) = stored {
                take_saved(batch, *stored);
            }
            match lock {
                Lock::Held => {
                    save = !batch.run.here;
                    batch.run.here = true;
                    if save && batch.run.key {
                        resume_running(batch, &mut fx);
                    }
                    batch.run.elsewhere = false;
                    // What the tab before left under way never got its answer.
                    for item in &mut batch.items {
                        match item.state {
                            State::Uploading | State::Staged(_) => item.state = State::Waiting,
                            State::Submitting => {
                                item.state = State::Failed {
                                    task: None,
                                    error: INTERRUPTED.to_owned(),
                                    maybe_created: true,
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Lock::Busy => {
                    batch.run.elsewhere = true;
                    fx.push(Effect::Lock { wait: true });
                }
            }
        }
        Command::Stored(stored) => {
            if !batch.run.here {
                if let Some(stored) = stored {
                    take_saved(batch, *stored);
                }
            }
        }
    }
    pump(batch, now, &mut fx);
    if (save || saved_part_differs(&before, batch)) && batch.run.here {
        fx.insert(0, Effect::Save);
    }
    fx
}

/// Closes the batch (New batch): only when nothing of it is uploading or submitting —
/// its running tasks go on in History. `None` while something is.
pub fn close(batch: &Batch) -> Option<Vec<Effect>> {
    let sending = batch
        .items
        .iter()
        .any(|i| matches!(i.state, State::Uploading | State::Submitting));
    (!sending && !batch.run.elsewhere).then(|| vec![Effect::Forget])
}

/// Has the page go on waiting for every running item's task.
fn resume_running(batch: &Batch, fx: &mut Vec<Effect>) {
    for item in &batch.items {
        if let State::Running(task) = &item.state {
            fx.push(Effect::Resume(task.clone()));
        }
    }
}

/// Takes in what another tab saved (its runtime part stays this tab's).
fn take_saved(batch: &mut Batch, stored: Batch) {
    if stored.id == batch.id {
        let run = std::mem::take(&mut batch.run);
        *batch = Batch { run, ..stored };
    }
}

/// The saved part of the batch changed.
fn saved_part_differs(a: &Batch, b: &Batch) -> bool {
    a.items != b.items
        || a.next_number != b.next_number
        || a.at_once != b.at_once
        || a.plan != b.plan
        || a.paused != b.paused
        || a.stopped != b.stopped
}

/// A failed item waits again; its failed task, if any, is kept among its earlier ones.
fn requeue(item: &mut Item) {
    if let State::Failed { task: Some(t), .. } = &item.state {
        item.earlier.push(t.clone());
    }
    item.state = State::Waiting;
}

/// An upload or submit of item `number` came out as `outcome` (not done).
fn refused(batch: &mut Batch, number: u32, outcome: Outcome, now: u64, fx: &mut Vec<Effect>) {
    let failed = |error, maybe_created| State::Failed {
        task: None,
        error,
        maybe_created,
    };
    let strikes = batch.run.strikes + 1;
    let (state, hold) = match outcome {
        Outcome::Done(_) => return,
        Outcome::Silent(error) => (failed(error, true), None),
        Outcome::Refused(error) => (failed(error, false), None),
        Outcome::Stop(why) => {
            batch.stopped = Some(why);
            (State::Waiting, None)
        }
        Outcome::SlowDown(after) => {
            // What the server took, then (not counting this item's refused submit): at
            // least one.
            let took = batch
                .places_taken()
                .saturating_sub(usize::from(
                    batch.item(number).is_some_and(|i| i.state.takes_place()),
                ))
                .max(1) as u32;
            batch.run.ceiling = Some(took.min(batch.limit()));
            (State::Waiting, Some(after))
        }
        Outcome::Passing(why) => {
            if strikes >= MAX_STRIKES {
                batch.stopped = Some(format!("{strikes} uploads in a row failed: {why}"));
            }
            (State::Waiting, Some(None))
        }
    };
    if let Some(item) = batch.item_mut(number) {
        // Refused before anything was made: it keeps its place at the head of the queue.
        item.state = state;
    }
    if let Some(after) = hold {
        batch.run.strikes = strikes;
        let wait = after.unwrap_or((HOLD_STEP_MS * u64::from(strikes)).min(MAX_HOLD_MS));
        batch.run.hold_until = now + wait;
        fx.push(Effect::WakeIn(wait));
    }
}

/// How many photos are uploaded ahead of their turn, beyond one for each free place: so
/// that the next submit goes the moment a place frees, not after its upload.
pub const AHEAD: usize = 1;

/// Moves the queue, in list order, while nothing holds it: uploaded photos take the free
/// places (their submits are sent), and waiting photos are uploaded — one for each free
/// place and [`AHEAD`] more.
fn pump(batch: &mut Batch, now: u64, fx: &mut Vec<Effect>) {
    if !batch.run.here || batch.paused || batch.stopped.is_some() || !batch.can_send() {
        return;
    }
    if now < batch.run.hold_until {
        return;
    }
    let Some(plan) = batch.plan.clone() else {
        return;
    };
    let limit = batch.limit() as usize;
    submit_staged(batch, limit, &plan, fx);
    let free = limit.saturating_sub(batch.places_taken());
    let mut coming = batch.count(|s| matches!(s, State::Uploading | State::Staged(_)));
    for item in &mut batch.items {
        if coming >= free + AHEAD {
            break;
        }
        if item.state != State::Waiting {
            continue;
        }
        coming += 1;
        match &item.input {
            Input::File => {
                item.state = State::Uploading;
                fx.push(Effect::Upload(item.number, plan.upload));
            }
            // Nothing to upload: its address is its image.
            Input::Url(url) => item.state = State::Staged(url.clone()),
        }
    }
    submit_staged(batch, limit, &plan, fx);
}

/// Sends the submits of uploaded photos, in list order, while fewer than `limit` take a
/// place.
fn submit_staged(batch: &mut Batch, limit: usize, plan: &Plan, fx: &mut Vec<Effect>) {
    let mut taken = batch.places_taken();
    for item in &mut batch.items {
        if taken >= limit {
            break;
        }
        if let State::Staged(image) = &item.state {
            fx.push(Effect::Submit {
                number: item.number,
                request: SubmitRequest {
                    image: image.clone(),
                    enable_base64_output: plan.base64,
                },
            });
            item.state = State::Submitting;
            taken += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const NOW: u64 = 1_800_000_000_000;

    fn plan(proxy: bool) -> Plan {
        Plan {
            sent: Sent {
                base: BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
                proxy,
            },
            upload: UploadMode::Binary,
            base64: false,
        }
    }

    fn file(name: &str) -> NewItem {
        NewItem {
            name: name.to_owned(),
            input: Input::File,
            refused: None,
            thumbnail: None,
        }
    }

    fn err_up(error: ApiError) -> Outcome {
        outcome_of(Err(error), false)
    }

    fn err_sub(error: ApiError) -> Outcome {
        outcome_of(Err(error), true)
    }

    fn task(n: u32) -> TaskId {
        TaskId::parse(&format!("{n:032x}")).unwrap()
    }

    /// A batch of `n` files, held by this tab, with a proxy (no key needed).
    fn held(n: usize) -> Batch {
        let mut b = Batch::new("b1".into());
        let fx = apply(
            &mut b,
            Command::Add((0..n).map(|i| file(&format!("p{i}.jpg"))).collect()),
            NOW,
        );
        assert_eq!(fx, vec![Effect::Lock { wait: false }]);
        let fx = apply(&mut b, Command::Locked(Lock::Held, None), NOW);
        assert_eq!(fx, vec![Effect::Save]);
        b
    }

    fn uploads(fx: &[Effect]) -> Vec<u32> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Upload(n, _) => Some(*n),
                _ => None,
            })
            .collect()
    }

    fn submits(fx: &[Effect]) -> Vec<u32> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Submit { number, .. } => Some(*number),
                _ => None,
            })
            .collect()
    }

    fn states(b: &Batch) -> Vec<&State> {
        b.items.iter().map(|i| &i.state).collect()
    }

    #[test]
    fn apply_to_all_finds_the_photos_refused_for_the_same_rule() {
        let mut b = Batch::new("b1".into());
        let refused = |name: &str, code: Option<&str>| NewItem {
            refused: Some((format!("{name} is refused"), code.map(str::to_owned))),
            ..file(name)
        };
        apply(
            &mut b,
            Command::Add(vec![
                refused("wide-1.png", Some("aspect_ratio")),
                file("fit.jpg"),
                refused("small.png", Some("dimensions")),
                refused("broken.jpg", None),
                refused("wide-2.png", Some("aspect_ratio")),
                refused("wide-3.png", Some("aspect_ratio")),
            ]),
            NOW,
        );
        assert_eq!(b.needing("aspect_ratio"), vec![1, 5, 6]);
        assert_eq!(b.needing("dimensions"), vec![3]);
        assert_eq!(b.needing("file_type"), Vec::<u32>::new());
        // One made fit: two left.
        apply(&mut b, Command::Replace(1, file("wide-1-fit.jpg")), NOW);
        assert_eq!(b.needing("aspect_ratio"), vec![5, 6]);
        assert_eq!(
            apply_offer("Crop", 2).as_deref(),
            Some("2 more photos are refused for the same reason: Crop them too?")
        );
        assert_eq!(
            apply_offer("Pad #1a2b3c", 1).as_deref(),
            Some("1 more photo is refused for the same reason: Pad (on #1a2b3c) it too?")
        );
        assert_eq!(
            apply_offer("Pad", 1).as_deref(),
            Some("1 more photo is refused for the same reason: Pad (on a blurred copy) it too?")
        );
        assert_eq!(apply_offer("Crop", 0), None);
    }

    #[test]
    fn generate_all_runs_two_at_once_in_order_and_the_next_submit_goes_as_one_ends() {
        let mut b = held(4);
        let fx = apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        assert_eq!(fx[0], Effect::Save, "saved before any request");
        assert_eq!(uploads(&fx), vec![1, 2, 3], "two places, and one ahead");
        let fx = apply(
            &mut b,
            Command::Uploaded(1, Outcome::Done("https://u/1.jpg".into())),
            NOW,
        );
        assert_eq!(
            fx[0],
            Effect::Save,
            "saved as submitting before the submit is sent"
        );
        assert_eq!(submits(&fx), vec![1]);
        let fx = apply(
            &mut b,
            Command::Submitted(1, Outcome::Done(task(1).to_string())),
            NOW,
        );
        assert_eq!(b.item(1).unwrap().state, State::Running(task(1)));
        assert!(uploads(&fx).is_empty(), "three are coming already");
        apply(
            &mut b,
            Command::Uploaded(2, Outcome::Done("https://u/2.jpg".into())),
            NOW,
        );
        apply(
            &mut b,
            Command::Submitted(2, Outcome::Done(task(2).to_string())),
            NOW,
        );
        let fx = apply(
            &mut b,
            Command::Uploaded(3, Outcome::Done("https://u/3.jpg".into())),
            NOW,
        );
        assert!(submits(&fx).is_empty(), "both places are taken: it waits");
        assert_eq!(
            uploads(&fx),
            Vec::<u32>::new(),
            "one ahead is enough while no place is free"
        );
        assert_eq!(
            b.item(3).unwrap().state,
            State::Staged("https://u/3.jpg".into())
        );
        assert_eq!(
            status_line(b.item(3).unwrap(), None).0,
            "Uploaded · starts when a place is free"
        );
        let fx = apply(
            &mut b,
            Command::TaskOver {
                task: task(1),
                completed: true,
                error: None,
                outputs: Vec::new(),
            },
            NOW,
        );
        assert_eq!(
            fx,
            vec![
                Effect::Save,
                Effect::Discard(1),
                Effect::Submit {
                    number: 3,
                    request: SubmitRequest {
                        image: "https://u/3.jpg".into(),
                        enable_base64_output: false,
                    },
                },
                Effect::Upload(4, UploadMode::Binary)
            ],
            "the uploaded photo takes the place at once; the next one is uploaded ahead"
        );
        assert_eq!(
            states(&b),
            vec![
                &State::Done(task(1)),
                &State::Running(task(2)),
                &State::Submitting,
                &State::Uploading
            ]
        );
        let saved = decode(&b.to_json()).unwrap();
        assert_eq!(
            saved.items[3].state,
            State::Waiting,
            "an upload ahead is saved as waiting"
        );
    }

    #[test]
    fn an_uploaded_photo_is_not_kept_when_its_wait_is_cancelled_nor_after_a_reload() {
        let mut b = held(4);
        b.at_once = 1;
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        apply(
            &mut b,
            Command::Uploaded(1, Outcome::Done("https://u/1".into())),
            NOW,
        );
        apply(
            &mut b,
            Command::Uploaded(2, Outcome::Done("https://u/2".into())),
            NOW,
        );
        assert_eq!(
            b.item(2).unwrap().state,
            State::Staged("https://u/2".into())
        );
        let mut again = decode(&b.to_json()).unwrap();
        apply(&mut again, Command::Locked(Lock::Held, None), NOW);
        assert_eq!(
            again.item(2).unwrap().state,
            State::Uploading,
            "saved as waiting: uploaded again"
        );
        let fx = apply(&mut b, Command::Remove(2), NOW);
        assert_eq!(
            fx,
            vec![
                Effect::Save,
                Effect::Discard(2),
                Effect::Upload(3, UploadMode::Binary)
            ],
            "taken out, its file let go, the next one uploaded ahead instead"
        );
        apply(
            &mut b,
            Command::Uploaded(3, Outcome::Done("https://u/3".into())),
            NOW,
        );
        apply(&mut b, Command::CancelWaiting, NOW);
        assert_eq!(b.item(3).unwrap().state, State::Ready);
    }

    #[test]
    fn a_429_puts_the_item_back_holds_the_queue_and_lowers_how_many_run() {
        let mut b = held(3);
        b.at_once = 3;
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        for n in 1..=3 {
            apply(
                &mut b,
                Command::Uploaded(n, Outcome::Done(format!("https://u/{n}"))),
                NOW,
            );
        }
        apply(
            &mut b,
            Command::Submitted(1, Outcome::Done(task(1).to_string())),
            NOW,
        );
        apply(
            &mut b,
            Command::Submitted(2, Outcome::Done(task(2).to_string())),
            NOW,
        );
        let limited = ApiError::RateLimited {
            retry_after_s: Some(5),
            message: "Too many tasks".into(),
        };
        let fx = apply(&mut b, Command::Submitted(3, err_sub(limited)), NOW);
        assert_eq!(fx, vec![Effect::Save, Effect::WakeIn(5_000)]);
        assert_eq!(b.item(3).unwrap().state, State::Waiting);
        assert_eq!(b.limit(), 2, "the server took two");
        assert!(b.holding(NOW).unwrap().contains("slow down"));
        // A place frees before the hold ends: nothing starts; the wake starts it.
        apply(
            &mut b,
            Command::TaskOver {
                task: task(1),
                completed: true,
                error: None,
                outputs: Vec::new(),
            },
            NOW + 1_000,
        );
        assert_eq!(b.item(3).unwrap().state, State::Waiting);
        let fx = apply(&mut b, Command::Wake, NOW + 5_000);
        assert_eq!(uploads(&fx), vec![3]);
        assert_eq!(
            b.limit(),
            3,
            "one ended: one faster again, up to what was asked"
        );
    }

    #[test]
    fn a_submit_without_an_answer_is_never_sent_again_by_itself_nor_by_retry_failed() {
        let mut b = held(2);
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        apply(
            &mut b,
            Command::Uploaded(1, Outcome::Done("https://u/1".into())),
            NOW,
        );
        apply(
            &mut b,
            Command::Uploaded(2, Outcome::Done("https://u/2".into())),
            NOW,
        );
        let fx = apply(
            &mut b,
            Command::Submitted(1, err_sub(ApiError::Network("reset".into()))),
            NOW,
        );
        assert!(submits(&fx).is_empty() && uploads(&fx).is_empty());
        assert!(matches!(
            &b.item(1).unwrap().state,
            State::Failed {
                maybe_created: true,
                ..
            }
        ));
        apply(
            &mut b,
            Command::Submitted(
                2,
                err_sub(ApiError::Server {
                    status: 500,
                    message: "x".into(),
                }),
            ),
            NOW,
        );
        assert_eq!(b.retryable(), 1);
        let fx = apply(&mut b, Command::RetryFailed, NOW);
        assert_eq!(uploads(&fx), vec![2], "only the one that made nothing");
        let fx = apply(&mut b, Command::SendAgain(1), NOW);
        assert_eq!(uploads(&fx), vec![1], "the person's own Send again");
    }

    #[test]
    fn a_failed_task_is_retried_by_retry_failed_and_kept_among_the_earlier_ones() {
        let mut b = held(1);
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        apply(
            &mut b,
            Command::Uploaded(1, Outcome::Done("https://u/1".into())),
            NOW,
        );
        apply(
            &mut b,
            Command::Submitted(1, Outcome::Done(task(1).to_string())),
            NOW,
        );
        let fx = apply(
            &mut b,
            Command::TaskOver {
                task: task(1),
                completed: false,
                error: Some("NSFW".into()),
                outputs: Vec::new(),
            },
            NOW,
        );
        assert_eq!(fx, vec![Effect::Save], "its file is kept for a retry");
        let fx = apply(&mut b, Command::RetryFailed, NOW);
        assert_eq!(uploads(&fx), vec![1]);
        assert_eq!(b.item(1).unwrap().earlier, vec![task(1)]);
    }

    #[test]
    fn a_refused_key_stops_the_batch_with_the_item_back_in_its_place_until_resume() {
        let mut b = held(3);
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        apply(
            &mut b,
            Command::Uploaded(1, err_up(ApiError::Unauthorized("bad key".into()))),
            NOW,
        );
        assert_eq!(b.item(1).unwrap().state, State::Waiting);
        assert!(b
            .holding(NOW)
            .unwrap()
            .starts_with("Stopped: WaveSpeed refused the API key"));
        let fx = apply(
            &mut b,
            Command::Uploaded(2, err_up(ApiError::Unauthorized("bad key".into()))),
            NOW,
        );
        assert!(uploads(&fx).is_empty(), "nothing new starts");
        let fx = apply(&mut b, Command::Pause(false), NOW);
        assert_eq!(uploads(&fx), vec![1, 2]);
    }

    #[test]
    fn failed_uploads_wait_and_try_again_then_stop_the_batch_after_a_few_in_a_row() {
        let mut b = held(1);
        b.at_once = 1;
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        let mut now = NOW;
        for strike in 1..=MAX_STRIKES {
            let fx = apply(
                &mut b,
                Command::Uploaded(1, err_up(ApiError::Network("down".into()))),
                now,
            );
            assert!(fx.contains(&Effect::WakeIn(HOLD_STEP_MS * u64::from(strike))));
            now += 60_000;
            let fx = apply(&mut b, Command::Wake, now);
            assert_eq!(uploads(&fx).len(), usize::from(strike < MAX_STRIKES));
        }
        assert!(b
            .stopped
            .as_deref()
            .unwrap()
            .starts_with("4 uploads in a row failed"));
    }

    #[test]
    fn cancel_all_waiting_and_pause_start_nothing_new_while_what_runs_goes_on() {
        let mut b = held(5);
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        apply(&mut b, Command::CancelWaiting, NOW);
        assert_eq!(b.waiting(), 0);
        assert_eq!(b.ready(), 2, "three uploading (one ahead) go on");
        let fx = apply(
            &mut b,
            Command::Uploaded(
                1,
                err_up(ApiError::Rejected {
                    status: 413,
                    message: "big".into(),
                }),
            ),
            NOW,
        );
        assert!(
            uploads(&fx).is_empty(),
            "a place came free, but nothing waits"
        );
        apply(&mut b, Command::Pause(true), NOW);
        let fx = apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        assert_eq!(uploads(&fx), vec![4], "Generate all goes on after a pause");
    }

    #[test]
    fn after_a_reload_its_running_tasks_go_on_once_the_key_is_back() {
        let mut b = held(2);
        apply(&mut b, Command::GenerateAll(plan(false)), NOW);
        apply(&mut b, Command::KeyGiven(true), NOW);
        apply(
            &mut b,
            Command::Uploaded(1, Outcome::Done("https://u/1".into())),
            NOW,
        );
        apply(
            &mut b,
            Command::Submitted(1, Outcome::Done(task(1).to_string())),
            NOW,
        );
        let mut again = decode(&b.to_json()).unwrap();
        let fx = apply(&mut again, Command::Locked(Lock::Held, None), NOW);
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::Resume(_))),
            "no key yet"
        );
        let fx = apply(&mut again, Command::KeyGiven(true), NOW);
        assert!(fx.contains(&Effect::Resume(task(1))));
        assert!(uploads(&fx).contains(&2), "and the queue moves");
        assert!(
            !apply(&mut again, Command::KeyGiven(true), NOW)
                .iter()
                .any(|e| matches!(e, Effect::Resume(_))),
            "once"
        );
    }

    #[test]
    fn a_repaired_photo_takes_its_rows_place_and_is_checked_again() {
        let mut b = held(0);
        let refused = |why: &str| NewItem {
            refused: Some((why.into(), Some("dimensions".into()))),
            ..file("tiny.png")
        };
        apply(
            &mut b,
            Command::Add(vec![refused("Minimum size: …"), file("ok.jpg")]),
            NOW,
        );
        let fx = apply(&mut b, Command::Replace(1, file("tiny-fit.jpg")), NOW);
        assert_eq!(fx, vec![Effect::Save]);
        assert_eq!(b.items[0].name, "tiny-fit.jpg");
        assert_eq!(b.items[0].state, State::Ready);
        assert_eq!(b.items[0].number, 1, "its place and number kept");
        // Still refused after a repair that did not do it: says so.
        apply(&mut b, Command::Replace(1, refused("Aspect ratio: …")), NOW);
        assert!(
            matches!(&b.items[0].state, State::Refused { why, .. } if why == "Aspect ratio: …")
        );
        // Not once it is sent.
        apply(&mut b, Command::Replace(1, file("tiny-fit.jpg")), NOW);
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        apply(&mut b, Command::Replace(1, refused("late")), NOW);
        assert_eq!(b.items[0].state, State::Uploading);
    }

    #[test]
    fn a_batch_sent_direct_waits_for_a_key() {
        let mut b = held(1);
        let fx = apply(&mut b, Command::GenerateAll(plan(false)), NOW);
        assert!(uploads(&fx).is_empty());
        assert!(b.holding(NOW).unwrap().contains("API key"));
        let fx = apply(&mut b, Command::KeyGiven(true), NOW);
        assert_eq!(uploads(&fx), vec![1]);
    }

    #[test]
    fn a_reload_resumes_where_it_was_and_what_was_being_sent_is_said_not_sent_again() {
        let mut b = held(4);
        b.at_once = 3;
        apply(&mut b, Command::GenerateAll(plan(true)), NOW);
        apply(
            &mut b,
            Command::Uploaded(1, Outcome::Done("https://u/1".into())),
            NOW,
        );
        apply(
            &mut b,
            Command::Submitted(1, Outcome::Done(task(1).to_string())),
            NOW,
        );
        apply(
            &mut b,
            Command::Uploaded(2, Outcome::Done("https://u/2".into())),
            NOW,
        );
        let saved = b.to_json();
        let mut again = decode(&saved).unwrap();
        assert!(!again.run.here);
        assert_eq!(
            states(&again),
            vec![
                &State::Running(task(1)),
                &State::Failed {
                    task: None,
                    error: INTERRUPTED.into(),
                    maybe_created: true
                },
                &State::Waiting,
                &State::Waiting,
            ]
        );
        // Nothing starts before this tab holds the batch's lock.
        assert!(apply(&mut again, Command::Wake, NOW).is_empty());
        let fx = apply(
            &mut again,
            Command::Locked(Lock::Held, Some(Box::new(decode(&saved).unwrap()))),
            NOW,
        );
        assert_eq!(uploads(&fx), vec![3, 4]);
        assert!(submits(&fx).is_empty());
    }

    #[test]
    fn another_tab_runs_it_this_one_follows_and_takes_over_when_it_closes() {
        let mut ours = held(2);
        apply(&mut ours, Command::GenerateAll(plan(true)), NOW);
        apply(
            &mut ours,
            Command::Uploaded(1, Outcome::Done("https://u/1".into())),
            NOW,
        );
        let mut theirs = decode(&ours.to_json()).unwrap();
        let fx = apply(&mut theirs, Command::Locked(Lock::Busy, None), NOW);
        assert_eq!(fx, vec![Effect::Lock { wait: true }]);
        assert!(
            apply(&mut theirs, Command::RetryFailed, NOW).is_empty(),
            "buttons do nothing here"
        );
        apply(
            &mut ours,
            Command::Submitted(1, Outcome::Done(task(1).to_string())),
            NOW,
        );
        let fx = apply(
            &mut theirs,
            Command::Stored(Some(Box::new(decode(&ours.to_json()).unwrap()))),
            NOW,
        );
        assert!(fx.is_empty(), "a follower saves nothing");
        assert_eq!(theirs.item(1).unwrap().state, State::Running(task(1)));
        // The first tab closes with item 2 uploading: it waits again here.
        let fx = apply(
            &mut theirs,
            Command::Locked(Lock::Held, Some(Box::new(decode(&ours.to_json()).unwrap()))),
            NOW,
        );
        assert_eq!(uploads(&fx), vec![2]);
    }

    #[test]
    fn saved_and_read_back_is_the_same_batch() {
        let mut b = held(0);
        apply(
            &mut b,
            Command::Add(vec![
                file("a.jpg"),
                NewItem {
                    name: "https://x/y.png".into(),
                    input: Input::Url("https://x/y.png".into()),
                    refused: None,
                    thumbnail: None,
                },
                NewItem {
                    name: "tall.png".into(),
                    input: Input::File,
                    refused: Some(("Too tall “x”".into(), Some("pad".into()))),
                    thumbnail: Some("data:image/jpeg;base64,/9j/4AAQ".into()),
                },
            ]),
            NOW,
        );
        b.plan = Some(plan(false));
        b.items[0].state = State::Failed {
            task: Some(task(3)),
            error: "no".into(),
            maybe_created: false,
        };
        b.items[0].earlier = vec![task(1), task(2)];
        b.items[1].state = State::Done(task(4));
        b.stopped = Some("why".into());
        let again = decode(&b.to_json()).unwrap();
        assert_eq!(
            again,
            Batch {
                run: Runtime::default(),
                ..b
            }
        );
    }

    #[test]
    fn a_saved_batch_that_cannot_be_read_says_what() {
        assert!(matches!(decode("{"), Err(BatchError::Json(_))));
        assert_eq!(decode(r#"{"v":9}"#), Err(BatchError::Version));
        assert_eq!(
            decode(
                r#"{"v":1,"id":"b","next":2,"at_once":2,"items":[{"n":1,"name":"a","state":"running","task":"../x"}]}"#
            ),
            Err(BatchError::Field("task"))
        );
        assert_eq!(
            decode(
                r#"{"v":1,"id":"b","next":2,"at_once":2,"items":[{"n":1,"name":"a","state":"ready"},{"n":1,"name":"b","state":"ready"}]}"#
            ),
            Err(BatchError::Field("n")),
            "a number given twice"
        );
    }

    #[test]
    fn each_input_gets_its_own_folder_named_after_its_file() {
        let mut b = held(0);
        apply(
            &mut b,
            Command::Add(vec![
                file("red-sneaker.jpg"),
                file("Red-Sneaker.png"),
                file("../../etc/passwd"),
                file(".jpg"),
                NewItem {
                    name: "u".into(),
                    input: Input::Url("https://cdn.x/shop/blue%20bag.png?w=1".into()),
                    refused: None,
                    thumbnail: None,
                },
                file("chaussure rouge été.jpeg"),
            ]),
            NOW,
        );
        assert_eq!(
            folder_names(&b.items),
            vec![
                "red-sneaker",
                "Red-Sneaker-2",
                "passwd",
                "image-4",
                "blue-20bag",
                "chaussure rouge été"
            ]
        );
    }

    #[test]
    fn what_a_batch_costs_and_how_many_runs_a_balance_pays_for_are_exact() {
        let price = Micros(70_000);
        assert_eq!(cost(12, price), Some(Micros(840_000)));
        assert_eq!(runs_paid_for(Micros(12_400_000), price), 177);
        assert_eq!(runs_paid_for(Micros(69_999), price), 0);
        assert_eq!(runs_paid_for(Micros(1), Micros(0)), u64::MAX);
        assert_eq!(cost(usize::MAX, price), None);
    }

    #[test]
    fn each_reply_tells_the_batch_what_to_do_and_crosses_to_the_module_whole() {
        let rate = |s| ApiError::RateLimited {
            retry_after_s: s,
            message: "Too many tasks".into(),
        };
        assert_eq!(
            outcome_of(Err(rate(Some(3))), true),
            Outcome::SlowDown(Some(3_000))
        );
        assert_eq!(outcome_of(Err(rate(None)), false), Outcome::SlowDown(None));
        let busy = ApiError::Refused {
            code: 500,
            message: "too many tasks in queue".into(),
        };
        assert_eq!(outcome_of(Err(busy), true), Outcome::SlowDown(None));
        assert!(matches!(
            outcome_of(Err(ApiError::Network("x".into())), true),
            Outcome::Silent(_)
        ));
        assert!(matches!(
            outcome_of(Err(ApiError::Network("x".into())), false),
            Outcome::Passing(_)
        ));
        assert!(matches!(
            outcome_of(Err(ApiError::Unauthorized("k".into())), false),
            Outcome::Stop(_)
        ));
        let site = ApiError::Proxy {
            status: 402,
            reason: "daily_budget".into(),
            message: "This site's daily budget is used up.".into(),
            retry_after_s: None,
        };
        assert_eq!(
            outcome_of(Err(site), true),
            Outcome::Stop("This site's daily budget is used up.".into())
        );
        let bad = ApiError::Rejected {
            status: 400,
            message: "image too small".into(),
        };
        assert_eq!(
            outcome_of(Err(bad), true),
            Outcome::Refused("Could not start the job: WaveSpeed refused the request (HTTP 400): image too small.".into())
        );
        for o in [
            Outcome::Done("x".into()),
            Outcome::SlowDown(Some(1)),
            Outcome::SlowDown(None),
            Outcome::Passing("p".into()),
            Outcome::Stop("s".into()),
            Outcome::Silent("q".into()),
            Outcome::Refused("r".into()),
        ] {
            let (kind, text, after) = o.parts();
            assert_eq!(
                Outcome::from_parts(kind, text.to_owned(), after),
                Some(o.clone())
            );
        }
        assert_eq!(Outcome::from_parts("nope", String::new(), None), None);
    }

    #[test]
    fn the_pages_context_crosses_to_the_module_whole() {
        let direct = Context {
            plan: Ok(plan(false)),
            key: true,
            pay: Pay {
                price: Micros(70_000),
                balance: Some(Micros(12_400_000)),
                runs_left: None,
            },
            mark: Some("Shop \"of the\" week".into()),
        };
        let proxy = Context {
            plan: Ok(Plan {
                upload: UploadMode::Inline,
                base64: true,
                ..plan(true)
            }),
            key: false,
            pay: Pay {
                price: Micros(70_000),
                balance: None,
                runs_left: Some((5, true)),
            },
            mark: None,
        };
        let none = Context {
            plan: Err("Enter an API key or a proxy URL.".into()),
            key: false,
            pay: Pay::default(),
            mark: None,
        };
        for c in [direct, proxy, none] {
            assert_eq!(Context::parse(&c.to_json()), Some(c));
        }
        assert_eq!(Context::parse("{}"), None);
    }

    #[test]
    fn download_all_results_says_what_its_zip_holds_and_what_it_does_not() {
        assert_eq!(zip_said(1, 0, &[], 0), "Saved 1 shot in one zip.");
        assert_eq!(
            zip_said(27, 9, &[], 0),
            "Saved 27 shots and 9 films in one zip."
        );
        assert_eq!(
            zip_said(
                6,
                1,
                &["Cancelled: no file was made.".into(), "x".into()],
                2
            ),
            "Saved 6 shots and 1 film in one zip. 2 films were not made: Cancelled: no file \
             was made. 2 shots could not be put in it (shots sent inline are not kept: open \
             their task in History)."
        );
    }

    #[test]
    fn download_all_results_has_a_folder_per_input_with_its_shots() {
        let mut b = held(0);
        apply(
            &mut b,
            Command::Add(vec![
                file("red-sneaker.jpg"),
                file("bag.png"),
                file("red-sneaker.png"),
            ]),
            NOW,
        );
        b.plan = Some(Plan {
            sent: Sent {
                base: BaseUrl::parse("https://proxy.example").unwrap(),
                proxy: true,
            },
            upload: UploadMode::Binary,
            base64: false,
        });
        b.items[0].state = State::Done(task(1));
        b.items[0].outputs = vec!["https://cdn.x/a.jpg".into(), "javascript:alert(1)".into()];
        b.items[1].state = State::Failed {
            task: Some(task(2)),
            error: "x".into(),
            maybe_created: false,
        };
        b.items[1].outputs = vec!["https://cdn.x/not-done.jpg".into()];
        b.items[2].state = State::Done(task(3));
        b.items[2].outputs = vec!["https://cdn.x/b.png?sig=1".into()];
        let (files, left_out) = result_files(&b);
        let relay = |t: u32, n: u32| {
            Some(format!(
                "https://proxy.example/api/v3/predictions/{}/outputs/{n}",
                task(t)
            ))
        };
        assert_eq!(
            files,
            vec![
                ResultFile {
                    folder: "red-sneaker".into(),
                    number: 1,
                    path: "red-sneaker/shot-1.jpg".into(),
                    src: "https://cdn.x/a.jpg".into(),
                    relay: relay(1, 1),
                },
                ResultFile {
                    folder: "red-sneaker-2".into(),
                    number: 1,
                    path: "red-sneaker-2/shot-1.png".into(),
                    src: "https://cdn.x/b.png?sig=1".into(),
                    relay: relay(3, 1),
                },
            ]
        );
        assert_eq!(left_out, 1, "the script address");

        // Each photo's film: its shots in the zip, handed back, the site's mark on it.
        b.items[0].outputs = vec![
            "https://cdn.x/a.jpg".into(),
            "javascript:alert(1)".into(),
            "https://cdn.x/c.mp4".into(),
        ];
        let (files, _) = result_files(&b);
        let films = films(&files, Some(" shop.example\n"));
        assert_eq!(
            films
                .iter()
                .map(|(folder, r)| (folder.as_str(), r.shots.iter().map(|s| s.number).collect()))
                .collect::<Vec<(&str, Vec<usize>)>>(),
            vec![("red-sneaker", vec![1, 3]), ("red-sneaker-2", vec![1])]
        );
        let (_, first) = &films[0];
        assert!(first.back, "handed back to the zip, not saved");
        assert_eq!(first.mark.as_deref(), Some("shop.example"));
        assert_eq!(first.shots[1].relay, relay(1, 3));
        assert_eq!(
            FilmRequest::parse(&first.to_text()).as_ref(),
            Some(first),
            "crosses to the film module whole"
        );
    }

    #[test]
    fn the_line_above_generate_all_says_the_cost_and_what_pays_for_it() {
        use crate::core::funds::Quota;
        let direct = |balance| Funds::Direct {
            price: Lookup::Known(Micros(70_000)),
            balance,
        };
        assert_eq!(
            quote(&Pay::of(&direct(Lookup::Known(Micros(12_400_000)))), 0),
            None
        );
        assert_eq!(
            quote(&Pay::of(&direct(Lookup::Known(Micros(12_400_000)))), 12),
            Some(("12 runs cost $0.84 · your balance $12.40".into(), false))
        );
        assert_eq!(
            quote(&Pay::of(&direct(Lookup::Known(Micros(500_000)))), 12),
            Some(("12 runs cost $0.84 · your balance $0.50 pays for 7: remove some, or top up your WaveSpeed account.".into(), true))
        );
        assert!(
            !quote(&Pay::of(&direct(Lookup::Known(Micros(840_000)))), 12)
                .unwrap()
                .1,
            "exactly enough"
        );
        assert_eq!(
            quote(&Pay::of(&direct(Lookup::Asking)), 1),
            Some(("1 run costs $0.07".into(), false))
        );
        let proxy = |runs_left| {
            Funds::Proxy(Lookup::Known(Quota {
                price: Micros(70_000),
                runs_left,
                this_hour: false,
                message: None,
            }))
        };
        assert_eq!(
            quote(&Pay::of(&proxy(5)), 12),
            Some((
                "12 runs asked · this site allows 5 more today: remove some, or come back later."
                    .into(),
                true
            ))
        );
        assert_eq!(
            quote(&Pay::of(&proxy(20)), 12),
            Some((
                "12 runs cost $0.84, paid by the site · 20 left today".into(),
                false
            ))
        );
    }

    // The property: for any order of answers, presses and reloads, no item is paid for
    // twice and none is forgotten.

    #[derive(Clone, Debug)]
    enum Step {
        /// Answer the in-flight item at this position (mod their count) this way.
        Answer(usize, u8),
        /// A running task ends.
        Over(usize, bool),
        Press(u8),
        Wake,
        Reload,
        AtOnce(u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (any::<usize>(), 0u8..10).prop_map(|(i, a)| Step::Answer(i, a)),
            3 => (any::<usize>(), any::<bool>()).prop_map(|(i, c)| Step::Over(i, c)),
            2 => (0u8..7).prop_map(Step::Press),
            1 => Just(Step::Wake),
            1 => Just(Step::Reload),
            1 => (1u32..5).prop_map(Step::AtOnce),
        ]
    }

    fn error(kind: u8) -> ApiError {
        match kind {
            0 => ApiError::Network("reset".into()),
            1 => ApiError::RateLimited {
                retry_after_s: None,
                message: "Too many".into(),
            },
            2 => ApiError::Server {
                status: 503,
                message: "busy".into(),
            },
            3 => ApiError::Rejected {
                status: 400,
                message: "bad".into(),
            },
            4 => ApiError::Unauthorized("key".into()),
            _ => ApiError::TimedOut,
        }
    }

    /// What was sent and what became of it, as the server knows it.
    #[derive(Default)]
    struct World {
        /// Tasks made per item and not known to have failed (WaveSpeed refunds those).
        open: HashMap<u32, i32>,
        /// Submits per item whose answer is not known (under way, or never came): each
        /// may have made a task. The person's Send again on the failed item accepts them.
        unknown: HashMap<u32, i32>,
        /// Items with a task that completed.
        done: HashMap<u32, u32>,
        next_task: u32,
    }

    impl World {
        /// A submit of item `n` was answered: with a task (`Some(true)`), with nothing
        /// made (`Some(false)`), or never (`None`).
        fn answered(&mut self, n: u32, made: Option<bool>) {
            if made.is_some() {
                *self.unknown.entry(n).or_default() -= 1;
            }
            if made == Some(true) {
                *self.open.entry(n).or_default() += 1;
            }
        }
    }

    fn run(b: &mut Batch, w: &mut World, command: Command, now: u64) -> Result<(), TestCaseError> {
        if let Command::SendAgain(n) = &command {
            if matches!(b.item(*n).map(|i| &i.state), Some(State::Failed { .. })) {
                w.unknown.insert(*n, 0);
            }
        }
        let slowed = match &command {
            Command::Uploaded(n, Outcome::SlowDown(_))
            | Command::Submitted(n, Outcome::SlowDown(_)) => Some(*n),
            _ => None,
        };
        let fx = apply(b, command, now);
        if let Some(n) = slowed {
            let state = b.item(n).map(|i| &i.state);
            prop_assert_eq!(
                state,
                Some(&State::Waiting),
                "a 429 neither drops nor fails an item"
            );
        }
        let mut saved = false;
        for e in &fx {
            match e {
                Effect::Save => saved = true,
                Effect::Submit { number, .. } => {
                    prop_assert!(saved || !b.run.here, "saved before a submit");
                    let at = |m: &HashMap<u32, i32>| m.get(number).copied().unwrap_or(0);
                    prop_assert_eq!(
                        at(&w.open),
                        0,
                        "item {} sent again while its task may complete",
                        number
                    );
                    prop_assert_eq!(
                        at(&w.unknown),
                        0,
                        "item {} sent again after a silent submit",
                        number
                    );
                    prop_assert!(
                        !w.done.contains_key(number),
                        "item {number} done, and sent again"
                    );
                    *w.unknown.entry(*number).or_default() += 1;
                }
                _ => {}
            }
        }
        // A submit only into a free place, uploads only one ahead of the free places
        // (lowering how many at once stops nothing).
        let limit = b.limit() as usize;
        if fx.iter().any(|e| matches!(e, Effect::Submit { .. })) {
            prop_assert!(
                b.places_taken() <= limit,
                "more submitting or running than allowed"
            );
        }
        if fx.iter().any(|e| matches!(e, Effect::Upload(..))) {
            let coming = b.count(|s| matches!(s, State::Uploading | State::Staged(_)));
            prop_assert!(
                coming <= limit.saturating_sub(b.places_taken()) + AHEAD,
                "uploads too far ahead"
            );
        }
        // An uploaded photo never waits while a place is free and nothing holds the queue.
        let moving = b.run.here
            && !b.paused
            && b.stopped.is_none()
            && b.can_send()
            && now >= b.run.hold_until;
        if moving && b.count(|s| matches!(s, State::Staged(_))) > 0 {
            prop_assert!(
                b.places_taken() >= limit,
                "an uploaded photo waits beside a free place"
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn no_item_is_paid_for_twice_and_none_is_forgotten(
            n in 1usize..9,
            steps in proptest::collection::vec(step(), 0..80),
        ) {
            let mut b = held(n);
            let mut w = World::default();
            let mut now = NOW;
            run(&mut b, &mut w, Command::GenerateAll(plan(true)), now)?;
            for s in steps {
                now += 700;
                let flying: Vec<(u32, State)> = b.items.iter().filter(|i| i.state.in_flight()).map(|i| (i.number, i.state.clone())).collect();
                match s {
                    Step::Answer(_, _) | Step::Over(_, _) if flying.is_empty() => {}
                    Step::Answer(at, how) => {
                        let (number, state) = flying[at % flying.len()].clone();
                        match state {
                            State::Uploading => {
                                let outcome = if how < 4 { Outcome::Done(format!("https://u/{number}")) } else { outcome_of(Err(error(how - 4)), false) };
                                run(&mut b, &mut w, Command::Uploaded(number, outcome), now)?;
                            }
                            State::Submitting => {
                                let outcome = if how < 4 {
                                    w.answered(number, Some(true));
                                    w.next_task += 1;
                                    Outcome::Done(task(w.next_task).to_string())
                                } else {
                                    let e = error(how - 4);
                                    let silent = matches!(e, ApiError::Network(_) | ApiError::TimedOut);
                                    w.answered(number, (!silent).then_some(false));
                                    outcome_of(Err(e), true)
                                };
                                run(&mut b, &mut w, Command::Submitted(number, outcome), now)?;
                            }
                            _ => {}
                        }
                    }
                    Step::Over(at, completed) => {
                        if let (number, State::Running(t)) = flying[at % flying.len()].clone() {
                            *w.open.entry(number).or_default() -= 1;
                            if completed {
                                w.done.insert(number, 1);
                            }
                            run(&mut b, &mut w, Command::TaskOver { task: t, completed, error: None, outputs: Vec::new() }, now)?;
                        }
                    }
                    Step::Press(p) => {
                        let some = b.items[p as usize % b.items.len()].number;
                        let command = match p {
                            0 => Command::RetryFailed,
                            1 => Command::CancelWaiting,
                            2 => Command::Pause(true),
                            3 => Command::Pause(false),
                            4 => Command::SendAgain(some),
                            _ => Command::GenerateAll(plan(true)),
                        };
                        run(&mut b, &mut w, command, now)?;
                    }
                    Step::Wake => run(&mut b, &mut w, Command::Wake, now)?,
                    Step::AtOnce(k) => run(&mut b, &mut w, Command::AtOnce(k), now)?,
                    Step::Reload => {
                        // The tab closes: answers under way are lost; a new tab reads
                        // the last save and takes the lock.
                        let before: Vec<u32> = b.items.iter().map(|i| i.number).collect();
                        let mut again = decode(&b.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                        let saved = decode(&b.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                        run(&mut again, &mut w, Command::Locked(Lock::Held, Some(Box::new(saved))), now)?;
                        prop_assert_eq!(before, again.items.iter().map(|i| i.number).collect::<Vec<_>>());
                        b = again;
                    }
                }
                prop_assert_eq!(b.items.len(), n, "no item is lost");
            }
            // Then everything goes well: the person resumes, every answer is a success.
            run(&mut b, &mut w, Command::Pause(false), now)?;
            run(&mut b, &mut w, Command::GenerateAll(plan(true)), now)?;
            for _ in 0..(n * 8) {
                now += 120_000;
                run(&mut b, &mut w, Command::Wake, now)?;
                let Some(item) = b.items.iter().find(|i| i.state.in_flight()).cloned() else {
                    break;
                };
                let command = match item.state {
                    State::Uploading => Command::Uploaded(item.number, Outcome::Done("https://u".into())),
                    State::Submitting => {
                        w.answered(item.number, Some(true));
                        w.next_task += 1;
                        Command::Submitted(item.number, Outcome::Done(task(w.next_task).to_string()))
                    }
                    State::Running(t) => {
                        *w.open.entry(item.number).or_default() -= 1;
                        w.done.insert(item.number, 1);
                        Command::TaskOver { task: t, completed: true, error: None, outputs: Vec::new() }
                    }
                    _ => unreachable!(),
                };
                run(&mut b, &mut w, command, now)?;
            }
            // None is forgotten: every item ended, or says why it waits for the person.
            for item in &b.items {
                prop_assert!(
                    matches!(item.state, State::Done(_) | State::Failed { .. } | State::Ready),
                    "item {} left {:?}", item.number, item.state
                );
            }
        }
    }
}
