//! What a task's view says and offers in each state, as plain values: the status line,
//! one message and at most one button. The component renders whatever this returns
//! with one view, so a status change patches the same elements (a focused button keeps
//! the keyboard focus).

use super::api::{output_relay_prefix, Status};
use super::history::{age, Record};
use super::job::{Pause, Phase, Tracked, Watch};
use super::jobs::Action;

/// How a message is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// A quiet hint.
    Hint,
    /// A note worth reading.
    Note,
    /// Something went wrong (`role="alert"`).
    Alert,
}

/// A message about the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// How it is shown.
    pub tone: Tone,
    /// A bold lead-in ("Stopped: "), or empty.
    pub lead: &'static str,
    /// The text.
    pub text: String,
}

/// A button and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Button {
    /// Its label (and accessible name).
    pub label: &'static str,
    /// What pressing it sends.
    pub action: Action,
}

/// Everything the task view shows besides the id and the shots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The status line ("Status: processing · 0:42").
    pub line: String,
    /// What to say about where the wait is.
    pub message: Option<Message>,
    /// What can be done.
    pub button: Option<Button>,
    /// This page polls the task (the elapsed time ticks; offline is worth saying).
    pub polling: bool,
    /// While this page polls it: how far along it probably is, in percent, from the
    /// time taken so far against a typical run (`None`: no typical run known yet, an
    /// indeterminate bar). Never 100 before it is over.
    pub progress: Option<u8>,
}

/// A task's state in a word or two, for the history list: its status, and who waits
/// for it when it is not over.
pub fn badge(task: &Tracked, now_ms: u64) -> String {
    let status = task.record.status.as_str();
    match &task.watch {
        _ if task.record.is_finished() => status.to_owned(),
        Watch::Here(_) if task.is_polling() => format!("{status} · checking"),
        Watch::Elsewhere => format!("{status} · in another tab"),
        Watch::NeedsKey => "needs your API key".to_owned(),
        _ if task.record.is_expired(now_ms) => format!("{status} · last known"),
        _ => format!("{status} · paused"),
    }
}

/// A task's state in a visitor's words (the consumer face): never a raw status or who
/// polls it.
pub fn visitor_badge(task: &Tracked) -> &'static str {
    match task.record.status {
        Status::Completed => "Ready",
        _ if task.record.is_finished() => "Did not work",
        _ if task.is_polling() || matches!(task.watch, Watch::Elsewhere) => "Making…",
        _ => "Paused",
    }
}

/// The status line in a visitor's words (the consumer face): what is happening and for
/// how long, never a raw status word.
pub fn visitor_line(t: &Tracked, now_ms: u64) -> String {
    let record = &t.record;
    if record.is_finished() {
        return match (&record.status, record.took_ms()) {
            (Status::Completed, Some(ms)) => format!("Ready in {}", clock(ms)),
            (Status::Completed, None) => "Ready".to_owned(),
            _ => "It did not work this time.".to_owned(),
        };
    }
    let elapsed = clock(now_ms.saturating_sub(record.created_ms));
    if t.is_polling() || matches!(t.watch, Watch::Elsewhere) {
        format!("Making your shots · {elapsed}")
    } else {
        format!("Paused · {elapsed}")
    }
}

/// The typical time from task id to result in this browser: the median of the finished
/// tasks it saw from start to end (`None` when there are none).
pub fn typical_ms<'a>(records: impl IntoIterator<Item = &'a Record>) -> Option<u64> {
    let took: Vec<u64> = records
        .into_iter()
        .filter(|r| r.status == Status::Completed)
        .filter_map(Record::took_ms)
        .filter(|&ms| ms > 0)
        .collect();
    // The smallest time that at least half of the runs took no longer than (counted, not
    // sorted: a sort would cost the page kilobytes for at most 50 records).
    let half = took.len() / 2 + 1;
    took.iter()
        .copied()
        .filter(|&t| took.iter().filter(|&&u| u <= t).count() >= half)
        .min()
}

/// How far along a run probably is after `elapsed_ms`, against a `typical_ms` one: up to
/// 95 %, as a run may take longer than usual.
pub fn progress(elapsed_ms: u64, typical_ms: Option<u64>) -> Option<u8> {
    let typical = typical_ms.filter(|&t| t > 0)?;
    let percent = elapsed_ms.saturating_mul(100) / typical;
    Some(percent.min(95) as u8)
}

/// `75_000` → `"1:15"`.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// `1_234` ms → `"1.2"` (seconds, one decimal, rounded half up), in integers: a float's
/// printer would cost the page about 9 KB of wasm for this one line.
pub fn seconds(ms: u64) -> String {
    let tenths = (ms + 50) / 100;
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn message(tone: Tone, lead: &'static str, text: impl Into<String>) -> Option<Message> {
    Some(Message {
        tone,
        lead,
        text: text.into(),
    })
}

fn button(label: &'static str, action: Action) -> Option<Button> {
    Some(Button { label, action })
}

/// What the view of task `t` says and offers at `now_ms`, when a run typically takes
/// `typical_ms` here.
pub fn offer(t: &Tracked, now_ms: u64, typical_ms: Option<u64>) -> Offer {
    let record = &t.record;
    let status = record.status.as_str();
    let elapsed_ms = now_ms.saturating_sub(record.created_ms);
    let elapsed = clock(elapsed_ms);
    let resume = |label| button(label, Action::Resume);
    let polling = t.is_polling();
    let mut offer = Offer {
        line: format!("Status: {status} · {elapsed}"),
        message: None,
        button: None,
        polling,
        progress: polling.then(|| progress(elapsed_ms, typical_ms)).flatten(),
    };
    if record.is_finished() {
        offer.line = match record.took_ms() {
            Some(ms) => format!("Status: {status} · {}", clock(ms)),
            None => format!("Status: {status}"),
        };
        return offer;
    }
    match &t.watch {
        Watch::Here(wait) => match &wait.phase {
            Phase::Polling => {
                if let Some(error) = &wait.retrying {
                    offer.line = format!("Status: {status} · {elapsed} — {error} Retrying…");
                }
                offer.message = message(
                    Tone::Hint,
                    "",
                    "Cancel only stops waiting: WaveSpeed has no cancel, so the task goes on there and is billed.",
                );
                offer.button = button("Cancel", Action::Cancel);
            }
            Phase::Paused(Pause::Cancelled) => {
                offer.message = message(
                    Tone::Note,
                    "",
                    "You stopped waiting. The task may still finish at WaveSpeed.",
                );
                offer.button = resume("Resume");
            }
            Phase::Paused(Pause::WaitCap) => {
                offer.message = message(
                    Tone::Note,
                    "",
                    "Still running at WaveSpeed. It has taken longer than usual; the result will be kept there, under the task ID above.",
                );
                offer.button = resume("Check again");
            }
            Phase::Paused(Pause::RetriesExhausted(error)) => {
                offer.message = message(
                    Tone::Alert,
                    "Waiting paused: ",
                    format!(
                        "{error} Several tries in a row failed. The task is safe at WaveSpeed."
                    ),
                );
                offer.button = resume("Resume");
            }
            Phase::Stopped(error) => {
                offer.message = message(Tone::Alert, "Stopped: ", error.to_string());
                offer.button = resume("Check again");
            }
            // (A finished record returned above.)
            Phase::Finished => {}
        },
        Watch::Elsewhere => {
            offer.message = message(
                Tone::Note,
                "",
                "Another tab of this page is checking this task; its progress shows here too.",
            );
        }
        Watch::NeedsKey => {
            offer.line = format!("Status: {status} (last known)");
            offer.message = message(
                Tone::Note,
                "",
                "This task was sent with your API key. Enter the key under Connection, then continue checking it.",
            );
            offer.button = resume("Continue");
        }
        Watch::Idle => {
            offer.line = format!(
                "Status: {status} (last known, {})",
                age(now_ms, record.created_ms)
            );
            if record.is_expired(now_ms) {
                offer.message = message(
                    Tone::Note,
                    "",
                    "Outputs expired at WaveSpeed: it keeps them for 7 days.",
                );
            } else {
                offer.button = resume("Check again");
            }
        }
    }
    offer
}

/// What a finished task shows, kept apart from [`Offer`] so that the shots are built
/// once, and not again when only the status line changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The final status.
    pub status: Status,
    /// The shots, as WaveSpeed gave them.
    pub outputs: Vec<String>,
    /// `has_nsfw_contents`, parallel to `outputs`.
    pub nsfw: Vec<bool>,
    /// Inference time, when reported.
    pub inference_ms: Option<u64>,
    /// Shots too large to have been kept (fetched again on request).
    pub dropped: usize,
    /// The server's error text for a task that did not complete.
    pub error: Option<String>,
    /// WaveSpeed no longer keeps the outputs.
    pub expired: bool,
    /// A small picture of the input image (the player's poster until a shot's first
    /// frame is there).
    pub poster: Option<String>,
    /// For a task sent through a proxy: where it passes the shots on from its own origin
    /// (the shot's number is added), for a download where the output server allows the
    /// page no read.
    pub relay: Option<String>,
}

/// What the wait says of leaving the page: where the history is `kept` (a reload finds
/// the task again), the result is kept (in the consumer face, under "Your recent
/// results"); where nothing can be kept, the page must stay open.
pub fn leaving_note(consumer: bool, kept: bool) -> &'static str {
    match (kept, consumer) {
        (false, _) => {
            "Keep this page open until the result is in: this browser does not let the page keep it."
        }
        (true, true) => "You can close this page — the result is kept under Your recent results.",
        (true, false) => "You can close this page — the result is kept in History.",
    }
}

/// A result is brought into view when its shots arrive while this page waited for them
/// (not when a finished task is merely shown again).
pub fn brings_into_view(was_waiting: bool, shots_arrived: bool) -> bool {
    was_waiting && shots_arrived
}

/// What a wait says while the browser is offline (only a page that polls says it).
pub fn offline_note(polling: bool, online: bool) -> Option<&'static str> {
    (polling && !online).then_some(
        "You are offline. Checking is paused and goes on by itself when you are back online.",
    )
}

impl Outcome {
    /// The note over shots whose outputs WaveSpeed no longer keeps.
    pub fn expired_note(&self) -> Option<&'static str> {
        self.expired.then_some(
            "Outputs expired at WaveSpeed: it keeps them for 7 days, so these links may no longer work.",
        )
    }

    /// The note on shots too large to have been kept here (fetched again on request).
    pub fn dropped_note(&self) -> Option<String> {
        (self.status == Status::Completed && self.dropped > 0).then(|| {
            format!(
                "{} shot(s) came back inline and were too large to keep on this device.",
                self.dropped
            )
        })
    }

    /// A task that did not complete: a lead and what the server said (and that
    /// WaveSpeed refunds a failed one).
    pub fn failure(&self) -> Option<(String, String)> {
        (self.status != Status::Completed).then(|| {
            let refund = if self.status == Status::Failed {
                " WaveSpeed refunds failed tasks."
            } else {
                ""
            };
            (
                format!("The task ended as “{}”: ", self.status.as_str()),
                format!(
                    "{}{refund}",
                    self.error.as_deref().unwrap_or("no reason was given")
                ),
            )
        })
    }
}

/// The outcome of task `t`, once it is over: the shots this page received in full
/// (inline ones included), else the stored ones.
pub fn outcome(t: &Tracked, now_ms: u64) -> Option<Outcome> {
    let record = &t.record;
    if !record.is_finished() {
        return None;
    }
    let full = match &t.watch {
        Watch::Here(wait) => wait
            .last
            .as_ref()
            .filter(|last| last.status.is_terminal() && !last.outputs.is_empty()),
        _ => None,
    };
    let (outputs, nsfw, dropped) = match full {
        Some(last) => (last.outputs.clone(), last.has_nsfw_contents.clone(), 0),
        None => (
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
        poster: record.thumbnail.clone(),
        relay: record
            .proxy
            .then(|| output_relay_prefix(record.base.as_str(), &record.id)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::api::{ApiError, Prediction, TaskId};
    use crate::core::config::BaseUrl;
    use crate::core::history::OUTPUTS_KEPT_MS;
    use crate::core::job::{Policy, Wait};

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn the_words_around_a_wait_and_an_outcome() {
        assert!(leaving_note(true, true).contains("Your recent results"));
        assert!(leaving_note(false, true).contains("History"));
        for consumer in [true, false] {
            let note = leaving_note(consumer, false);
            assert!(note.starts_with("Keep this page open"), "{note}");
            assert!(
                !note.contains("close this page"),
                "never promised where nothing is kept"
            );
        }
        assert!(brings_into_view(true, true));
        assert!(
            !brings_into_view(false, true),
            "a finished task shown again stays put"
        );
        assert!(
            !brings_into_view(true, false),
            "a failure is said where it is"
        );
        assert!(offline_note(true, false).is_some());
        assert_eq!(offline_note(false, false), None, "only a page that polls");
        assert_eq!(offline_note(true, true), None);
        let over = |status: Status, error: Option<&str>, dropped, expired| Outcome {
            status,
            outputs: Vec::new(),
            nsfw: Vec::new(),
            inference_ms: None,
            dropped,
            error: error.map(str::to_owned),
            expired,
            poster: None,
            relay: None,
        };
        let failed = over(Status::Failed, Some("no face found"), 0, false);
        assert_eq!(
            failed.failure(),
            Some((
                "The task ended as “failed”: ".into(),
                "no face found WaveSpeed refunds failed tasks.".into()
            ))
        );
        let gone = over(Status::from("timeout".to_owned()), None, 0, true);
        assert_eq!(
            gone.failure().map(|f| f.1).as_deref(),
            Some("no reason was given")
        );
        assert!(gone.expired_note().is_some());
        let done = over(Status::Completed, None, 2, false);
        assert_eq!(done.failure(), None);
        assert_eq!(
            done.dropped_note().as_deref(),
            Some("2 shot(s) came back inline and were too large to keep on this device.")
        );
        assert_eq!(done.expired_note(), None);
    }

    fn task(status: Status, watch: Watch, created: u64) -> Tracked {
        let mut record = Record::new(
            TaskId::parse("t-1").unwrap(),
            BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
            false,
            created,
        );
        record.status = status;
        Tracked { record, watch }
    }

    fn here(phase: Phase, retrying: Option<ApiError>) -> Watch {
        let (mut wait, _) = Wait::start(TaskId::parse("t-1").unwrap(), NOW, &Policy::default());
        wait.phase = phase;
        wait.retrying = retrying;
        Watch::Here(Box::new(wait))
    }

    #[test]
    fn a_visitor_reads_what_happens_in_plain_words() {
        let ago = NOW - 75_000;
        let raw = [
            "created",
            "processing",
            "completed",
            "failed",
            "checking",
            "another tab",
            "last known",
        ];
        let mut seen = Vec::new();
        for (status, watch, line, badge) in [
            (
                Status::Processing,
                here(Phase::Polling, None),
                "Making your shots · 1:15",
                "Making…",
            ),
            (
                Status::Created,
                Watch::Elsewhere,
                "Making your shots · 1:15",
                "Making…",
            ),
            (Status::Created, Watch::Idle, "Paused · 1:15", "Paused"),
            (
                Status::Processing,
                here(Phase::Paused(Pause::Cancelled), None),
                "Paused · 1:15",
                "Paused",
            ),
            (Status::Completed, Watch::Idle, "Ready", "Ready"),
            (
                Status::Failed,
                Watch::Idle,
                "It did not work this time.",
                "Did not work",
            ),
        ] {
            let t = task(status, watch, ago);
            assert_eq!(
                (visitor_line(&t, NOW).as_str(), visitor_badge(&t)),
                (line, badge)
            );
            seen.push(visitor_line(&t, NOW));
            seen.push(visitor_badge(&t).to_owned());
        }
        let mut done = task(Status::Completed, Watch::Idle, ago);
        done.record.finished_ms = Some(NOW);
        assert_eq!(visitor_line(&done, NOW), "Ready in 1:15");
        for said in seen {
            let lower = said.to_lowercase();
            assert!(
                !raw.iter().any(|w| lower.contains(w)),
                "a raw word in “{said}”"
            );
        }
    }

    /// (line, message tone and lead, button label and action, polling)
    fn said(t: &Tracked) -> (String, Option<(Tone, &'static str)>, Option<Button>, bool) {
        let o = offer(t, NOW, None);
        (
            o.line,
            o.message.map(|m| (m.tone, m.lead)),
            o.button,
            o.polling,
        )
    }

    #[test]
    fn each_state_says_where_the_wait_is_and_offers_one_thing() {
        let ago = NOW - 75_000;
        let cases = [
            (
                task(Status::Processing, here(Phase::Polling, None), ago),
                (
                    "Status: processing · 1:15",
                    Some((Tone::Hint, "")),
                    Some(("Cancel", Action::Cancel)),
                    true,
                ),
            ),
            (
                task(
                    Status::Processing,
                    here(Phase::Paused(Pause::Cancelled), None),
                    ago,
                ),
                (
                    "Status: processing · 1:15",
                    Some((Tone::Note, "")),
                    Some(("Resume", Action::Resume)),
                    false,
                ),
            ),
            (
                task(
                    Status::Processing,
                    here(Phase::Paused(Pause::WaitCap), None),
                    ago,
                ),
                (
                    "Status: processing · 1:15",
                    Some((Tone::Note, "")),
                    Some(("Check again", Action::Resume)),
                    false,
                ),
            ),
            (
                task(
                    Status::Processing,
                    here(
                        Phase::Paused(Pause::RetriesExhausted(ApiError::TimedOut)),
                        None,
                    ),
                    ago,
                ),
                (
                    "Status: processing · 1:15",
                    Some((Tone::Alert, "Waiting paused: ")),
                    Some(("Resume", Action::Resume)),
                    false,
                ),
            ),
            (
                task(
                    Status::Created,
                    here(Phase::Stopped(ApiError::Unauthorized("no".into())), None),
                    ago,
                ),
                (
                    "Status: created · 1:15",
                    Some((Tone::Alert, "Stopped: ")),
                    Some(("Check again", Action::Resume)),
                    false,
                ),
            ),
            (
                task(Status::Processing, Watch::Elsewhere, ago),
                (
                    "Status: processing · 1:15",
                    Some((Tone::Note, "")),
                    None,
                    false,
                ),
            ),
            (
                task(Status::Processing, Watch::NeedsKey, ago),
                (
                    "Status: processing (last known)",
                    Some((Tone::Note, "")),
                    Some(("Continue", Action::Resume)),
                    false,
                ),
            ),
            (
                task(Status::Processing, Watch::Idle, NOW - 3 * 3_600_000),
                (
                    "Status: processing (last known, 3 h ago)",
                    None,
                    Some(("Check again", Action::Resume)),
                    false,
                ),
            ),
            (
                task(Status::Processing, Watch::Idle, NOW - OUTPUTS_KEPT_MS),
                (
                    "Status: processing (last known, 7 days ago)",
                    Some((Tone::Note, "")),
                    None,
                    false,
                ),
            ),
            (
                task(Status::Completed, here(Phase::Finished, None), ago),
                ("Status: completed", None, None, false),
            ),
        ];
        for (t, (line, message, button, polling)) in cases {
            let expected = (
                line.to_owned(),
                message,
                button.map(|(label, action)| Button { label, action }),
                polling,
            );
            assert_eq!(said(&t), expected, "{:?}", t.watch);
        }
    }

    #[test]
    fn a_retry_is_said_in_the_line_and_a_finished_task_says_how_long_it_took() {
        let t = task(
            Status::Processing,
            here(Phase::Polling, Some(ApiError::TimedOut)),
            NOW - 5_000,
        );
        assert_eq!(
            offer(&t, NOW, None).line,
            "Status: processing · 0:05 — The server did not answer in time. Retrying…"
        );
        let mut done = task(Status::Completed, Watch::Idle, NOW - 100_000);
        done.record.finished_ms = Some(NOW - 10_000);
        assert_eq!(offer(&done, NOW, None).line, "Status: completed · 1:30");
        assert_eq!(offer(&done, NOW, None).button, None);
    }

    #[test]
    fn progress_is_estimated_from_the_typical_run_and_stops_short_of_the_end() {
        let finished = |took: u64, status: Status| {
            let mut r = task(status, Watch::Idle, NOW - took).record;
            r.finished_ms = Some(NOW);
            r
        };
        let records = [
            finished(60_000, Status::Completed),
            finished(100_000, Status::Completed),
            finished(80_000, Status::Completed),
            finished(1_000, Status::Failed),
            task(Status::Processing, Watch::Idle, NOW).record,
        ];
        assert_eq!(
            typical_ms(&records),
            Some(80_000),
            "the median of completed runs"
        );
        assert_eq!(typical_ms(&records[3..]), None);
        assert_eq!(progress(40_000, Some(80_000)), Some(50));
        assert_eq!(
            progress(400_000, Some(80_000)),
            Some(95),
            "never done before the end"
        );
        assert_eq!(progress(40_000, None), None, "indeterminate");
        let polled = task(Status::Processing, here(Phase::Polling, None), NOW - 20_000);
        assert_eq!(offer(&polled, NOW, Some(80_000)).progress, Some(25));
        let paused = task(
            Status::Processing,
            here(Phase::Paused(Pause::Cancelled), None),
            NOW - 20_000,
        );
        assert_eq!(
            offer(&paused, NOW, Some(80_000)).progress,
            None,
            "only while polled"
        );
    }

    #[test]
    fn times_read_as_a_person_writes_them() {
        assert_eq!(clock(75_000), "1:15");
        assert_eq!(clock(3_599_999), "59:59");
        assert_eq!(seconds(1_234), "1.2");
        assert_eq!(seconds(1_250), "1.3");
        assert_eq!(seconds(49), "0.0");
        assert_eq!(seconds(60_000), "60.0");
    }

    #[test]
    fn the_outcome_prefers_the_full_reply_this_page_received() {
        let mut t = task(Status::Completed, here(Phase::Finished, None), NOW);
        assert_eq!(
            outcome(&task(Status::Processing, Watch::Idle, NOW), NOW),
            None
        );
        t.record.outputs = vec!["https://cdn.example/1.mp4".into()];
        t.record.outputs_dropped = 1;
        let stored = outcome(&t, NOW).unwrap();
        assert_eq!((stored.outputs.len(), stored.dropped), (1, 1));
        if let Watch::Here(wait) = &mut t.watch {
            wait.last = Some(Prediction {
                id: t.record.id.clone(),
                status: Status::Completed,
                outputs: vec![
                    "https://cdn.example/1.mp4".into(),
                    "data:video/mp4;base64,AAAA".into(),
                ],
                has_nsfw_contents: vec![false, true],
                error: None,
                inference_ms: None,
                created_at: None,
            });
        }
        let full = outcome(&t, NOW).unwrap();
        assert_eq!(
            (full.outputs.len(), full.dropped, full.nsfw),
            (2, 0, vec![false, true])
        );
        assert!(!full.expired);
        // With the user's key there is no relay; through a proxy, the proxy's.
        assert_eq!(full.relay, None);
        t.record.proxy = true;
        t.record.base = crate::core::config::BaseUrl::parse("https://gen.example/ws/").unwrap();
        assert_eq!(
            outcome(&t, NOW).unwrap().relay.as_deref(),
            Some(
                format!(
                    "https://gen.example/ws/api/v3/predictions/{}/outputs/",
                    t.record.id
                )
                .as_str()
            )
        );
    }
}
