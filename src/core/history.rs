//! The job history kept in browser storage: one versioned record per task, written the
//! moment the task id arrives and updated as the task moves on, so that no paid
//! generation is lost to a reload, a closed tab or a network drop.
//!
//! Each record lives in its own storage entry ([`ENTRY_PREFIX`] + task id), so a corrupt
//! or foreign entry is skipped on its own and never takes the others with it. The key is
//! never part of a record.

use super::json::{self, Json};

use super::api::{Prediction, Status, TaskId};
use super::config::{parse_base_url, BaseUrl};

/// The schema version written into every record.
pub const SCHEMA_VERSION: u32 = 1;
/// Storage entries of the history are named `multishot.job.<task id>`.
pub const ENTRY_PREFIX: &str = "multishot.job.";
/// Dispatched on the document by the page once it has saved a task's record (a poll's
/// news): the batch's module reads its running tasks' records then, not a second later.
pub const SAVED_EVENT: &str = "multishot-record-saved";
/// The number of jobs kept; older finished ones are pruned past it (running ones never).
pub const HISTORY_LIMIT: usize = 50;
/// WaveSpeed keeps outputs for 7 days.
pub const OUTPUTS_KEPT_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Longer outputs (inline base64 videos) are not stored: they would fill the storage.
/// The task can be looked up again by its id while WaveSpeed keeps it.
pub const MAX_STORED_OUTPUT_CHARS: usize = 4096;
/// A thumbnail larger than this is not stored.
pub const MAX_THUMBNAIL_CHARS: usize = 16 * 1024;

/// The longest side of an input thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 96;

/// `(width, height)` scaled so the longer side is at most `side` (never upscaled, never 0).
pub fn thumbnail_size(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longest = width.max(height).max(1);
    if longest <= side {
        return (width.max(1), height.max(1));
    }
    let scale = |v: u32| ((u64::from(v) * u64::from(side) / u64::from(longest)) as u32).max(1);
    (scale(width), scale(height))
}

/// The storage entry name for a task.
pub fn entry_name(id: &TaskId) -> String {
    format!("{ENTRY_PREFIX}{id}")
}

/// One job as it is remembered (read back by [`decode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// The task id.
    pub id: TaskId,
    /// The API base or proxy URL the job was sent to (never the key).
    pub base: BaseUrl,
    /// Sent through a proxy (so no key is needed to go on).
    pub proxy: bool,
    /// When the task id arrived (ms since the epoch).
    pub created_ms: u64,
    /// A small JPEG data URI of the input image, when one could be made.
    pub thumbnail: Option<String>,
    /// The latest status.
    pub status: Status,
    /// The outputs as the API gave them (those short enough to keep).
    pub outputs: Vec<String>,
    /// How many outputs were too long to keep (inline base64).
    pub outputs_dropped: usize,
    /// `has_nsfw_contents`, parallel to the outputs the API gave.
    pub nsfw: Vec<bool>,
    /// Inference time in milliseconds, when reported.
    pub inference_ms: Option<u64>,
    /// The server's error text for a failed task.
    pub error: Option<String>,
    /// When this page saw the task finish (ms since the epoch); `None` for a task that
    /// had already finished when it was looked up.
    pub finished_ms: Option<u64>,
}

impl Record {
    /// A new record for a task that was just created.
    pub fn new(id: TaskId, base: BaseUrl, proxy: bool, created_ms: u64) -> Self {
        Self {
            v: SCHEMA_VERSION,
            id,
            base,
            proxy,
            created_ms,
            thumbnail: None,
            status: Status::Created,
            outputs: Vec::new(),
            outputs_dropped: 0,
            nsfw: Vec::new(),
            inference_ms: None,
            error: None,
            finished_ms: None,
        }
    }

    /// Keeps `thumbnail` when it is a small JPEG or PNG data URI, and nothing else.
    pub fn with_thumbnail(mut self, thumbnail: Option<String>) -> Self {
        self.thumbnail = thumbnail.filter(|t| is_thumbnail(t));
        self
    }

    /// Takes in a reply about this task that arrived at `now_ms`. Returns whether
    /// anything stored changed.
    pub fn absorb(&mut self, reply: &Prediction, now_ms: u64) -> bool {
        if reply.is_about(&self.id).is_err() {
            return false;
        }
        let before = self.clone();
        if reply.status.is_terminal() && !self.status.is_terminal() {
            self.finished_ms = Some(now_ms);
        }
        self.status = reply.status.clone();
        if !reply.outputs.is_empty() {
            let (kept, dropped): (Vec<_>, Vec<_>) = reply
                .outputs
                .iter()
                .cloned()
                .partition(|o| o.len() <= MAX_STORED_OUTPUT_CHARS);
            self.outputs = kept;
            self.outputs_dropped = dropped.len();
            self.nsfw = reply.has_nsfw_contents.clone();
        }
        if reply.inference_ms.is_some() {
            self.inference_ms = reply.inference_ms;
        }
        if reply.error.is_some() {
            self.error = reply.error.clone();
        }
        *self != before
    }

    /// How long the task took from its id to its end, as this page saw it.
    pub fn took_ms(&self) -> Option<u64> {
        Some(self.finished_ms?.saturating_sub(self.created_ms))
    }

    /// No further change will come from WaveSpeed.
    pub fn is_finished(&self) -> bool {
        self.status.is_terminal()
    }

    /// WaveSpeed no longer keeps the outputs (older than 7 days).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.created_ms) >= OUTPUTS_KEPT_MS
    }

    /// Worth polling when the page opens: unfinished and not yet expired.
    pub fn should_resume(&self, now_ms: u64) -> bool {
        !self.is_finished() && !self.is_expired(now_ms)
    }

    /// A finished task whose outputs WaveSpeed no longer keeps.
    pub fn outputs_gone(&self, now_ms: u64) -> bool {
        self.is_finished() && self.is_expired(now_ms)
    }

    /// The record as stored.
    pub fn to_json(&self) -> String {
        json::Object::new()
            .num("v", u64::from(self.v))
            .str("id", self.id.as_str())
            .str("base", self.base.as_str())
            .bool("proxy", self.proxy)
            .num("created_ms", self.created_ms)
            .opt_str("thumbnail", self.thumbnail.as_deref())
            .str("status", self.status.as_str())
            .strs("outputs", &self.outputs)
            .num("outputs_dropped", self.outputs_dropped as u64)
            .bools("nsfw", &self.nsfw)
            .opt_num("inference_ms", self.inference_ms)
            .opt_str("error", self.error.as_deref())
            .opt_num("finished_ms", self.finished_ms)
            .end()
    }
}

/// `data:image/jpeg;base64,…` or PNG, small and of base64 characters only: safe to use
/// as an `<img src>`.
pub fn is_thumbnail(uri: &str) -> bool {
    let body = uri
        .strip_prefix("data:image/jpeg;base64,")
        .or_else(|| uri.strip_prefix("data:image/png;base64,"));
    body.is_some_and(|b| {
        !b.is_empty()
            && uri.len() <= MAX_THUMBNAIL_CHARS
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
    })
}

/// Why a stored entry was skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// Not JSON, or not a record of ours.
    #[error("it is not a job record ({0})")]
    Unreadable(String),
    /// Written by a newer version of the app; left as it is.
    #[error("it was saved by a newer version of Multi-Shot Studio (schema {0})")]
    Newer(u64),
    /// The entry's name and the task id inside disagree, or the id is not valid.
    #[error("its task id does not match its name")]
    WrongId,
    /// The base is not an http(s) address.
    #[error("its API address is not valid")]
    BadBase,
}

/// A stored entry that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The storage entry's name.
    pub entry: String,
    /// Why it was skipped.
    pub why: HistoryError,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "The saved job “{}” was skipped: {}.",
            self.entry, self.why
        )
    }
}

/// Reads one stored entry named `entry` holding `raw`. Entries of other schema versions
/// are migrated when the version is older and known, refused when it is newer.
pub fn decode(entry: &str, raw: &str) -> Result<Record, HistoryError> {
    let value = json::parse(raw.as_bytes())
        .map_err(|e| HistoryError::Unreadable(format!("not JSON {e}")))?;
    let version = value
        .get("v")
        .and_then(Json::as_u64)
        .ok_or_else(|| HistoryError::Unreadable("no schema version".into()))?;
    // A base that is not a usable address is named as such.
    if let Some(Err(_)) = value.get("base").and_then(Json::as_str).map(parse_base_url) {
        return Err(HistoryError::BadBase);
    }
    let record = match version {
        1 => record_v1(&value).map_err(HistoryError::Unreadable)?,
        v if v > u64::from(SCHEMA_VERSION) => return Err(HistoryError::Newer(v)),
        v => return Err(HistoryError::Unreadable(format!("unknown schema {v}"))),
    };
    if entry.strip_prefix(ENTRY_PREFIX) != Some(record.id.as_str()) {
        return Err(HistoryError::WrongId);
    }
    Ok(Record {
        thumbnail: record.thumbnail.filter(|t| is_thumbnail(t)),
        ..record
    })
}

/// A version 1 record, its fields read one by one: `v`, `id`, `base`, `created_ms` and
/// `status` must be there; the others may be missing or null (their defaults); other
/// members are ignored. (Written by hand: serde's derived reader of a JSON value cost
/// the page several kilobytes.)
fn record_v1(value: &Json) -> Result<Record, String> {
    let field = |name: &str| value.get(name).filter(|v| !v.is_null());
    let wrong = |name: &str, what: &str| format!("“{name}” is not {what}");
    let number = |name: &str| match field(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong(name, "a whole number")),
    };
    let text = |name: &str| match field(name) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| wrong(name, "text")),
    };
    let list = |name: &str| match field(name) {
        None => Ok(Vec::new()),
        Some(Json::Array(items)) => Ok(items.iter().collect::<Vec<&Json>>()),
        Some(_) => Err(wrong(name, "a list")),
    };
    let needed = |found: Option<String>, name: &str| found.ok_or_else(|| format!("no “{name}”"));
    let v = number("v")?
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| wrong("v", "a schema version"))?;
    let id = TaskId::parse(&needed(text("id")?, "id")?).map_err(|e| e.to_string())?;
    let base = BaseUrl::parse(&needed(text("base")?, "base")?)?;
    let created_ms = number("created_ms")?.ok_or_else(|| "no “created_ms”".to_owned())?;
    let status = Status::from(needed(text("status")?, "status")?);
    let outputs = list("outputs")?
        .into_iter()
        .map(|o| o.as_str().map(str::to_owned))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| wrong("outputs", "a list of text"))?;
    let nsfw = list("nsfw")?
        .into_iter()
        .map(Json::as_bool)
        .collect::<Option<Vec<bool>>>()
        .ok_or_else(|| wrong("nsfw", "a list of true and false"))?;
    let proxy = match field("proxy") {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| wrong("proxy", "true or false"))?,
    };
    Ok(Record {
        v,
        id,
        base,
        proxy,
        created_ms,
        thumbnail: text("thumbnail")?,
        status,
        outputs,
        outputs_dropped: number("outputs_dropped")?.map_or(0, |n| n as usize),
        nsfw,
        inference_ms: number("inference_ms")?,
        error: text("error")?,
        finished_ms: number("finished_ms")?,
    })
}

/// Reads every history entry among `(name, value)` pairs (other names are ignored):
/// the records newest first, and the entries that were skipped.
pub fn load<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Vec<Record>, Vec<Skipped>) {
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for (name, raw) in entries {
        if !name.starts_with(ENTRY_PREFIX) {
            continue;
        }
        match decode(name, raw) {
            Ok(record) => insert_ordered(&mut records, record, newer_first),
            Err(why) => insert_ordered(
                &mut skipped,
                Skipped {
                    entry: name.to_owned(),
                    why,
                },
                |a, b| a.entry.cmp(&b.entry),
            ),
        }
    }
    (records, skipped)
}

/// Inserts `item` into `list`, kept in `order`, after the items equal to it (so the
/// order is stable). An insertion sort: the lists here hold a few dozen entries, and each
/// element type given to the library's sort costs the page a kilobyte or more of wasm.
pub fn insert_ordered<T>(list: &mut Vec<T>, item: T, order: impl Fn(&T, &T) -> std::cmp::Ordering) {
    let at = list
        .iter()
        .position(|x| order(&item, x) == std::cmp::Ordering::Less)
        .unwrap_or(list.len());
    list.insert(at, item);
}

/// The history's order: newest first, ties by id so the order is stable.
pub fn newer_first(a: &Record, b: &Record) -> std::cmp::Ordering {
    b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id))
}

/// The tasks to delete so that at most `limit` remain: the oldest finished ones. Jobs
/// still running are never pruned (so there may be more than `limit` of those).
pub fn prune(records: &[Record], limit: usize) -> Vec<TaskId> {
    let mut finished: Vec<&Record> = records.iter().filter(|r| r.is_finished()).collect();
    let mut pruned = Vec::new();
    // The oldest first, one at a time (usually none or one: no sort needed).
    for _ in 0..records.len().saturating_sub(limit) {
        let Some(at) = (0..finished.len()).min_by(|&a, &b| newer_first(finished[b], finished[a]))
        else {
            break;
        };
        pruned.push(finished.swap_remove(at).id.clone());
    }
    pruned
}

/// A host page (a cross-site frame's `frame.js`) may keep only tasks sent through a
/// proxy. A record names the address its task is polled at, and a record the host gives
/// back could name any: a task sent with the user's key would send that key there. So a
/// direct task is never handed to the host, and none is taken from it.
pub fn kept_by_host(record: &Record) -> bool {
    record.proxy
}

/// What the page says when the history cannot be saved (`why`, in words): the jobs go on
/// in this tab. A site's visitor (`consumer`) is never told of task IDs.
pub fn unsaved_notice(why: &str, consumer: bool) -> String {
    if consumer {
        format!("Your results cannot be kept in this browser: {why}. Keep this page open until your result is in.")
    } else {
        format!("The history cannot be saved: {why}. Running jobs go on in this tab; keep it open, or note their task IDs.")
    }
}

/// How long ago, in words: "just now", "5 min ago", "3 h ago", "2 days ago".
pub fn age(now_ms: u64, then_ms: u64) -> String {
    let s = now_ms.saturating_sub(then_ms) / 1000;
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        86_400..=172_799 => "1 day ago".into(),
        _ => format!("{} days ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> TaskId {
        TaskId::parse(s).unwrap()
    }

    #[test]
    fn a_host_page_keeps_only_tasks_that_carry_no_key() {
        let mut r = record("t-1", 1, Status::Processing);
        r.proxy = false;
        assert!(
            !kept_by_host(&r),
            "a direct task's poll would carry the key"
        );
        r.proxy = true;
        assert!(kept_by_host(&r));
    }

    #[test]
    fn a_history_that_cannot_be_saved_is_said_to_each_face_in_its_words() {
        let why = "the browser’s storage for this page is full";
        assert_eq!(
            unsaved_notice(why, false),
            "The history cannot be saved: the browser’s storage for this page is full. \
             Running jobs go on in this tab; keep it open, or note their task IDs."
        );
        let visitor = unsaved_notice(why, true);
        assert!(visitor.contains(why) && visitor.contains("Keep this page open"));
        assert!(!visitor.contains("task ID") && !visitor.contains("history"));
    }

    fn record(name: &str, created_ms: u64, status: Status) -> Record {
        let mut r = Record::new(
            id(name),
            crate::core::config::BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
            false,
            created_ms,
        );
        r.status = status;
        r
    }

    fn reply(name: &str, status: &str, outputs: &[&str]) -> Prediction {
        Prediction {
            id: id(name),
            status: Status::from(status.to_owned()),
            outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
            has_nsfw_contents: vec![false; outputs.len()],
            error: None,
            inference_ms: Some(1234),
            created_at: None,
        }
    }

    #[test]
    fn a_record_round_trips_through_its_stored_form() {
        let mut r = Record::new(
            id("t-1"),
            crate::core::config::BaseUrl::parse("http://127.0.0.1:9/proxy").unwrap(),
            true,
            42,
        )
        .with_thumbnail(Some("data:image/jpeg;base64,/9j/AA==".into()));
        r.absorb(
            &reply("t-1", "completed", &["https://cdn.example/a.mp4"]),
            50,
        );
        assert_eq!(r.took_ms(), Some(8));
        let json = r.to_json();
        assert!(json.contains(r#""v":1"#), "{json}");
        assert!(!json.contains("key"), "no key field: {json}");
        assert_eq!(decode("multishot.job.t-1", &json), Ok(r));
    }

    #[test]
    fn version_1_as_first_written_reads_with_defaults() {
        // The fewest fields a version-1 record has; the rest default.
        let raw = r#"{"v":1,"id":"abc","base":"https://api.wavespeed.ai/","created_ms":7,"status":"processing","later_field":true}"#;
        let r = decode("multishot.job.abc", raw).unwrap();
        assert_eq!(r.base, "https://api.wavespeed.ai");
        assert_eq!(r.status, Status::Processing);
        assert!(!r.proxy && r.outputs.is_empty() && r.thumbnail.is_none());
    }

    #[test]
    fn a_field_of_the_wrong_kind_makes_the_entry_unreadable_and_null_means_missing() {
        let with = |extra: &str| {
            decode(
                "multishot.job.abc",
                &format!(
                    r#"{{"v":1,"id":"abc","base":"https://api.wavespeed.ai","created_ms":7,"status":"completed"{extra}}}"#
                ),
            )
        };
        for bad in [
            r#","outputs":"https://x/1.mp4""#,
            r#","outputs":[1]"#,
            r#","nsfw":["no"]"#,
            r#","proxy":"yes""#,
            r#","finished_ms":-1"#,
            r#","thumbnail":5"#,
            r#","outputs_dropped":1.5"#,
        ] {
            assert!(
                matches!(with(bad), Err(HistoryError::Unreadable(_))),
                "{bad}"
            );
        }
        let nulls =
            with(r#","proxy":null,"outputs":null,"nsfw":null,"error":null,"finished_ms":null"#)
                .expect("nulls are missing fields");
        assert!(!nulls.proxy && nulls.outputs.is_empty() && nulls.error.is_none());
        for missing in ["id", "base", "created_ms", "status"] {
            let raw = r#"{"v":1,"id":"abc","base":"https://api.wavespeed.ai","created_ms":7,"status":"completed"}"#;
            let mut object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(raw).unwrap();
            object.remove(missing);
            let raw = serde_json::Value::Object(object).to_string();
            assert!(
                matches!(
                    decode("multishot.job.abc", &raw),
                    Err(HistoryError::Unreadable(_))
                ),
                "without {missing}"
            );
        }
    }

    #[test]
    fn other_schema_versions_are_refused_with_a_reason() {
        let newer = r#"{"v":2,"id":"abc","whatever":"changed"}"#;
        assert_eq!(
            decode("multishot.job.abc", newer),
            Err(HistoryError::Newer(2))
        );
        for raw in [
            r#"{"v":0,"id":"abc"}"#,
            r#"{"id":"abc"}"#,
            r#"{"v":"1"}"#,
            "[]",
        ] {
            assert!(
                matches!(
                    decode("multishot.job.abc", raw),
                    Err(HistoryError::Unreadable(_))
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn corrupt_and_foreign_entries_are_skipped_alone() {
        let good = record("good", 5, Status::Completed).to_json();
        let other = record("other", 9, Status::Processing).to_json();
        let entries = [
            ("multishot.job.good", good.as_str()),
            ("multishot.job.broken", "{\"v\":1,\"id\":"),
            ("multishot.job.wrong", other.as_str()),
            ("multishot.job.other", other.as_str()),
            ("multishot.api_key", "sk-not-a-record"),
            ("somebody.else", "{}"),
        ];
        let (records, skipped) = load(entries);
        let ids: Vec<_> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["other", "good"], "newest first");
        assert_eq!(skipped.len(), 2);
        assert_eq!(skipped[0].entry, "multishot.job.broken");
        assert!(matches!(skipped[0].why, HistoryError::Unreadable(_)));
        assert_eq!(skipped[1].why, HistoryError::WrongId);
        assert!(skipped[1].to_string().contains("multishot.job.wrong"));
    }

    #[test]
    fn unsafe_bases_and_thumbnails_are_not_taken_from_storage() {
        let r = record("x", 1, Status::Created);
        let planted = r.to_json().replace(r.base.as_str(), "javascript:alert(1)");
        assert!(planted.contains("javascript:"));
        assert_eq!(
            decode("multishot.job.x", &planted),
            Err(HistoryError::BadBase)
        );
        let mut r = record("x", 1, Status::Created);
        r.thumbnail = Some("data:text/html;base64,PHNjcmlwdD4=".into());
        assert_eq!(
            decode("multishot.job.x", &r.to_json()).unwrap().thumbnail,
            None
        );
        assert!(!is_thumbnail("data:image/png;base64,AA\"onerror=x"));
        assert!(!is_thumbnail(&format!(
            "data:image/png;base64,{}",
            "A".repeat(MAX_THUMBNAIL_CHARS)
        )));
        assert!(is_thumbnail("data:image/png;base64,iVBORw0KGgo="));
    }

    #[test]
    fn absorb_keeps_short_outputs_and_counts_the_long_ones() {
        let mut r = record("t", 1, Status::Created);
        assert!(r.absorb(&reply("t", "processing", &[]), 2));
        assert!(!r.absorb(&reply("t", "processing", &[]), 3), "nothing new");
        assert_eq!(r.took_ms(), None, "not finished");
        let long = "A".repeat(MAX_STORED_OUTPUT_CHARS + 1);
        assert!(r.absorb(
            &reply("t", "completed", &["https://x.example/1.mp4", &long]),
            4
        ));
        assert!(!r.absorb(
            &reply("t", "completed", &["https://x.example/1.mp4", &long]),
            5
        ));
        assert_eq!(r.outputs, ["https://x.example/1.mp4"]);
        assert_eq!(r.outputs_dropped, 1);
        assert_eq!(r.inference_ms, Some(1234));
        assert!(r.is_finished());
        assert!(!r.absorb(&reply("someone-else", "failed", &[]), 9));
        assert_eq!(r.finished_ms, Some(4), "set once, when it finished");
    }

    #[test]
    fn pruning_drops_the_oldest_finished_and_never_a_running_job() {
        let records = vec![
            record("a", 1, Status::Processing),
            record("b", 2, Status::Completed),
            record("c", 3, Status::Failed),
            record("d", 4, Status::Completed),
            record("e", 5, Status::Created),
        ];
        assert_eq!(prune(&records, 5), Vec::<TaskId>::new());
        assert_eq!(prune(&records, 3), [id("b"), id("c")]);
        // Only running jobs left beyond the limit: none of them goes.
        assert_eq!(prune(&records, 1), [id("b"), id("c"), id("d")]);
    }

    #[test]
    fn expiry_and_resume() {
        let r = record("t", 0, Status::Processing);
        assert!(r.should_resume(OUTPUTS_KEPT_MS - 1));
        assert!(r.is_expired(OUTPUTS_KEPT_MS));
        assert!(!r.should_resume(OUTPUTS_KEPT_MS));
        assert!(!record("t", 0, Status::Completed).should_resume(5));
    }

    #[test]
    fn thumbnails_fit_the_side_and_keep_the_shape() {
        assert_eq!(thumbnail_size(4000, 1600, 96), (96, 38));
        assert_eq!(thumbnail_size(300, 750, 96), (38, 96));
        assert_eq!(thumbnail_size(50, 20, 96), (50, 20), "never upscaled");
        assert_eq!(thumbnail_size(100_000, 1, 96), (96, 1), "never 0");
        assert_eq!(thumbnail_size(0, 0, 96), (1, 1));
    }

    #[test]
    fn ages_in_words() {
        assert_eq!(age(59_999, 0), "just now");
        assert_eq!(age(5 * 60_000, 0), "5 min ago");
        assert_eq!(age(3 * 3_600_000 + 5, 0), "3 h ago");
        assert_eq!(age(86_400_000, 0), "1 day ago");
        assert_eq!(age(8 * 86_400_000, 0), "8 days ago");
        assert_eq!(age(0, 10), "just now", "a clock that went back");
    }

    proptest! {
        /// Any record reads back as it was written.
        #[test]
        fn any_record_round_trips(
            n in 0u32..1000,
            proxy in any::<bool>(),
            created_ms in any::<u64>(),
            status in proptest::sample::select(vec!["created", "processing", "completed", "failed", "something new"]),
            outputs in proptest::collection::vec("[ -~]{0,40}", 0..4),
            nsfw in proptest::collection::vec(any::<bool>(), 0..4),
            dropped in 0usize..5,
            numbers in (proptest::option::of(any::<u64>()), proptest::option::of(any::<u64>())),
            error in proptest::option::of("[ -~\\u{e9}\\u{1f600}]{0,40}"),
            thumbnail in any::<bool>(),
        ) {
            let task = id(&format!("t-{n}"));
            let base = crate::core::config::BaseUrl::parse("https://gen.example/ws").unwrap();
            let mut r = Record::new(task.clone(), base, proxy, created_ms)
                .with_thumbnail(thumbnail.then(|| "data:image/png;base64,iVBORw0KGgo=".to_owned()));
            r.status = Status::from(status.to_owned());
            r.outputs = outputs;
            r.nsfw = nsfw;
            r.outputs_dropped = dropped;
            (r.inference_ms, r.finished_ms) = numbers;
            r.error = error;
            prop_assert_eq!(decode(&entry_name(&task), &r.to_json()), Ok(r));
        }

        /// Inserting one by one gives what a stable sort gives.
        #[test]
        fn inserting_in_order_is_a_stable_sort(keys in proptest::collection::vec(0u8..6, 0..40)) {
            let items: Vec<(u8, usize)> = keys.into_iter().zip(0..).collect();
            let mut inserted = Vec::new();
            for item in items.iter().copied() {
                insert_ordered(&mut inserted, item, |a, b| a.0.cmp(&b.0));
            }
            let mut sorted = items;
            sorted.sort_by_key(|item| item.0);
            prop_assert_eq!(inserted, sorted);
        }

        /// Pruning takes the oldest finished records, as many as are over the limit.
        #[test]
        fn pruning_takes_the_oldest_finished(
            shapes in proptest::collection::vec((0u64..20, any::<bool>()), 0..30),
            limit in 0usize..20,
        ) {
            let records: Vec<Record> = shapes
                .iter()
                .enumerate()
                .map(|(i, (created, done))| {
                    let status = if *done { Status::Completed } else { Status::Processing };
                    record(&format!("t{i}"), *created, status)
                })
                .collect();
            let pruned = prune(&records, limit);
            let mut finished: Vec<&Record> = records.iter().filter(|r| r.is_finished()).collect();
            finished.sort_by(|a, b| newer_first(b, a));
            let expected: Vec<TaskId> = finished
                .into_iter()
                .take(records.len().saturating_sub(limit))
                .map(|r| r.id.clone())
                .collect();
            prop_assert_eq!(pruned, expected);
        }

        /// Whatever is in storage, loading never panics and every entry is either read
        /// or reported.
        #[test]
        fn loading_accounts_for_every_entry(raws in proptest::collection::vec(".{0,80}", 0..8)) {
            let names: Vec<String> = (0..raws.len()).map(|i| format!("{ENTRY_PREFIX}t{i}")).collect();
            let (records, skipped) = load(names.iter().map(String::as_str).zip(raws.iter().map(String::as_str)));
            prop_assert_eq!(records.len() + skipped.len(), raws.len());
        }

        /// Pruning leaves at most `limit` finished jobs plus every running one.
        #[test]
        fn pruning_bounds_the_history(statuses in proptest::collection::vec(any::<bool>(), 0..80), limit in 0usize..60) {
            let records: Vec<Record> = statuses.iter().enumerate().map(|(i, done)| {
                record(&format!("t{i}"), i as u64, if *done { Status::Completed } else { Status::Processing })
            }).collect();
            let gone = prune(&records, limit);
            let running = statuses.iter().filter(|d| !**d).count();
            prop_assert_eq!(records.len() - gone.len(), limit.max(running).min(records.len()));
            prop_assert!(gone.iter().all(|g| records.iter().any(|r| &r.id == g && r.is_finished())));
        }
    }
}
