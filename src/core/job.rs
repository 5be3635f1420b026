//! Waiting for a task's result, as a pure state machine: `(state, event) → (state,
//! next)`, where `next` is "poll again in N ms" or "stop". No timers inside: the browser
//! glue runs them. Retries with growing delays (honouring `Retry-After`) up to a budget,
//! a cap on the total wait, terminal statuses, cancel and resume.

use super::api::{ApiError, Prediction, TaskId};
use super::history::Record;

/// The longest a browser timer waits: `setTimeout` takes a signed 32-bit delay, and one
/// of 2³¹ ms or more fires at once.
pub const LONGEST_TIMER_MS: u64 = i32::MAX as u64;

/// A wait of `ms` as a browser timer can run it (at most [`LONGEST_TIMER_MS`]).
pub fn timer_ms(ms: u64) -> u32 {
    ms.min(LONGEST_TIMER_MS) as u32
}

/// How polling behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Delay between polls while the task runs.
    pub poll_interval_ms: u64,
    /// Transient failures in a row allowed before polling pauses for the user.
    pub max_retries: u32,
    /// The n-th retry in a row waits `n × backoff_step_ms` (as WaveSpeed's SDKs do)…
    pub backoff_step_ms: u64,
    /// …but never longer than this (unless the server's `Retry-After` says so).
    pub backoff_max_ms: u64,
    /// After this long without a terminal status, stop waiting: the task may still
    /// finish at WaveSpeed, and the user can check again.
    pub wait_cap_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1500,
            max_retries: 5,
            backoff_step_ms: 1000,
            backoff_max_ms: 30_000,
            wait_cap_ms: 20 * 60 * 1000,
        }
    }
}

/// Why polling paused; each can be resumed by the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pause {
    /// Transient failures used up the retry budget; the last one is kept.
    RetriesExhausted(ApiError),
    /// The wait cap was reached without a terminal status.
    WaitCap,
    /// The user stopped waiting (the server has no cancel: the task goes on there).
    Cancelled,
}

/// Where the wait is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Polling; a poll is due after the delay returned with this state.
    Polling,
    /// Not polling until the user resumes.
    Paused(Pause),
    /// The task reached a terminal status (see `last`).
    Finished,
    /// A failure that retrying cannot fix (401, 403, other 4xx, a bad reply).
    Stopped(ApiError),
}

/// The wait for one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The task waited for.
    pub task: TaskId,
    /// When this stretch of waiting began (ms, caller's clock); resuming restarts it.
    pub since_ms: u64,
    /// Where it is.
    pub phase: Phase,
    /// Transient failures in a row.
    pub failures: u32,
    /// The latest reply.
    pub last: Option<Prediction>,
    /// The latest transient failure, while retrying it.
    pub retrying: Option<ApiError>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A poll was answered.
    Reply(Prediction),
    /// A poll failed.
    Failed(ApiError),
    /// The user pressed Cancel.
    Cancel,
    /// The user asked to go on (after a pause).
    Resume,
}

/// What the glue does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Poll after this many milliseconds.
    PollIn(u64),
    /// Stop: clear any pending timer and run none.
    Stop,
    /// Nothing changed: leave whatever timer is pending as it is.
    Keep,
}

/// A generation from the click on Generate to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Run {
    /// Sending the local file to WaveSpeed's storage.
    Uploading,
    /// Sending the job (once; never retried by itself).
    Submitting,
    /// The upload failed: nothing was created or billed.
    UploadFailed(ApiError),
    /// The submit failed. When no reply arrived (`maybe_created`), the task may exist
    /// at WaveSpeed: the user is told so instead of a blind retry.
    SubmitFailed {
        /// What went wrong.
        error: ApiError,
        /// The request may have reached WaveSpeed.
        maybe_created: bool,
    },
    /// The task exists: from here on it is a [`Tracked`] job of the history.
    Created(TaskId),
}

impl Run {
    /// The submit failed with `error`: says whether a task may exist nonetheless (no
    /// reply arrived, or one arrived that could not be read — say, with an id that is
    /// not one WaveSpeed would give).
    pub fn submit_failed(error: ApiError) -> Self {
        let maybe_created = matches!(
            error,
            ApiError::Network(_) | ApiError::TimedOut | ApiError::BadResponse(_)
        );
        Run::SubmitFailed {
            error,
            maybe_created,
        }
    }

    /// The task id, once known.
    pub fn task(&self) -> Option<&TaskId> {
        match self {
            Run::Created(task) => Some(task),
            _ => None,
        }
    }

    /// The upload or submit is under way (once the task exists, its [`Tracked`] job
    /// says whether it is still being waited for).
    pub fn is_busy(&self) -> bool {
        matches!(self, Run::Uploading | Run::Submitting)
    }
}

/// Who waits for a task's result, as this page sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    /// This page polls it.
    Here(Box<Wait>),
    /// Another tab polls it; this page shows what that tab stores.
    Elsewhere,
    /// Sent with an API key this page does not have: it waits for the user to give it.
    NeedsKey,
    /// Nobody: it finished, expired, or was only loaded from the history.
    Idle,
}

/// A task the page knows of: its stored record and who waits for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    /// What is stored (and shown in the history).
    pub record: Record,
    /// Who waits for it.
    pub watch: Watch,
}

impl Tracked {
    /// Feeds `event` to this page's wait, keeping the record in step with the latest
    /// reply. Returns what to do next (`Keep` when this page does not wait for it).
    pub fn on(&mut self, event: Event, now_ms: u64, policy: &Policy) -> Next {
        let Watch::Here(wait) = &mut self.watch else {
            return Next::Keep;
        };
        let (updated, next) = wait.as_ref().clone().on(event, now_ms, policy);
        if let Some(reply) = &updated.last {
            self.record.absorb(reply, now_ms);
        }
        **wait = updated;
        next
    }

    /// This page is polling it.
    pub fn is_polling(&self) -> bool {
        matches!(&self.watch, Watch::Here(wait) if wait.phase == Phase::Polling)
    }
}

impl Wait {
    /// Starts waiting for `task` (just submitted, or resumed after a reload): the first
    /// poll is due after one interval.
    pub fn start(task: TaskId, now_ms: u64, policy: &Policy) -> (Self, Next) {
        let wait = Self {
            task,
            since_ms: now_ms,
            phase: Phase::Polling,
            failures: 0,
            last: None,
            retrying: None,
        };
        (wait, Next::PollIn(policy.poll_interval_ms))
    }

    /// Takes in one event at `now_ms` and says what to do next.
    pub fn on(mut self, event: Event, now_ms: u64, policy: &Policy) -> (Self, Next) {
        let polling = self.phase == Phase::Polling;
        match event {
            Event::Reply(prediction) if polling => {
                if let Err(error) = prediction.is_about(&self.task) {
                    self.phase = Phase::Stopped(error);
                    return (self, Next::Stop);
                }
                self.failures = 0;
                self.retrying = None;
                let terminal = prediction.status.is_terminal();
                self.last = Some(prediction);
                if terminal {
                    self.phase = Phase::Finished;
                    (self, Next::Stop)
                } else {
                    self.next_poll(now_ms, policy.poll_interval_ms, policy)
                }
            }
            Event::Failed(error) if polling => {
                if !error.is_transient() {
                    self.retrying = None;
                    self.phase = Phase::Stopped(error);
                    return (self, Next::Stop);
                }
                self.failures += 1;
                if self.failures > policy.max_retries {
                    self.retrying = None;
                    self.phase = Phase::Paused(Pause::RetriesExhausted(error));
                    return (self, Next::Stop);
                }
                let backoff =
                    (policy.backoff_step_ms * u64::from(self.failures)).min(policy.backoff_max_ms);
                let delay = error
                    .retry_after_ms()
                    .map_or(backoff, |asked| asked.max(backoff));
                self.retrying = Some(error);
                self.next_poll(now_ms, delay, policy)
            }
            Event::Cancel if polling => {
                self.retrying = None;
                self.phase = Phase::Paused(Pause::Cancelled);
                (self, Next::Stop)
            }
            Event::Resume if matches!(self.phase, Phase::Paused(_) | Phase::Stopped(_)) => {
                self.phase = Phase::Polling;
                self.failures = 0;
                self.retrying = None;
                self.since_ms = now_ms;
                (self, Next::PollIn(0))
            }
            // Anything else (a late reply after a cancel, a resume while polling, …)
            // changes nothing.
            _ => (self, Next::Keep),
        }
    }

    /// Polls after `delay`, unless the wait cap is reached first; never later than the
    /// cap (a server's `Retry-After` of a week is not waited for).
    fn next_poll(mut self, now_ms: u64, delay: u64, policy: &Policy) -> (Self, Next) {
        let waited = now_ms.saturating_sub(self.since_ms);
        if waited >= policy.wait_cap_ms {
            self.retrying = None;
            self.phase = Phase::Paused(Pause::WaitCap);
            (self, Next::Stop)
        } else {
            (self, Next::PollIn(delay.min(policy.wait_cap_ms - waited)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::api::Status;
    use proptest::prelude::*;

    fn id() -> TaskId {
        TaskId::parse("task-1").unwrap()
    }

    fn reply(status: &str) -> Event {
        Event::Reply(Prediction {
            id: id(),
            status: Status::from(status.to_owned()),
            outputs: Vec::new(),
            has_nsfw_contents: Vec::new(),
            error: None,
            inference_ms: None,
            created_at: None,
        })
    }

    fn server_error() -> Event {
        Event::Failed(ApiError::Server {
            status: 500,
            message: "oops".into(),
        })
    }

    const P: Policy = Policy {
        poll_interval_ms: 1500,
        max_retries: 5,
        backoff_step_ms: 1000,
        backoff_max_ms: 4000,
        wait_cap_ms: 60_000,
    };

    #[test]
    fn polls_every_interval_until_a_terminal_status() {
        let (w, next) = Wait::start(id(), 0, &P);
        assert_eq!(next, Next::PollIn(1500));
        let (w, next) = w.on(reply("created"), 1500, &P);
        assert_eq!(next, Next::PollIn(1500));
        let (w, next) = w.on(reply("processing"), 3000, &P);
        assert_eq!(next, Next::PollIn(1500));
        let (w, next) = w.on(reply("completed"), 4500, &P);
        assert_eq!(next, Next::Stop);
        assert_eq!(w.phase, Phase::Finished);
        // Nothing more after the end.
        assert_eq!(w.clone().on(reply("processing"), 6000, &P), (w, Next::Keep));
    }

    #[test]
    fn every_terminal_status_stops_and_an_unknown_one_goes_on() {
        for status in ["completed", "failed", "cancelled", "timeout", "deleted"] {
            let (w, _) = Wait::start(id(), 0, &P);
            let (w, next) = w.on(reply(status), 10, &P);
            assert_eq!((w.phase, next), (Phase::Finished, Next::Stop), "{status}");
        }
        let (w, _) = Wait::start(id(), 0, &P);
        let (w, next) = w.on(reply("queued-somewhere"), 10, &P);
        assert_eq!((w.phase, next), (Phase::Polling, Next::PollIn(1500)));
        assert_eq!(w.last.unwrap().status.as_str(), "queued-somewhere");
    }

    #[test]
    fn transient_failures_back_off_then_pause_after_the_budget() {
        let (mut w, _) = Wait::start(id(), 0, &P);
        let mut delays = Vec::new();
        for _ in 0..P.max_retries {
            let (next_w, next) = w.on(server_error(), 100, &P);
            w = next_w;
            let Next::PollIn(d) = next else {
                panic!("should retry")
            };
            delays.push(d);
        }
        // 1 s × attempt, capped at the maximum.
        assert_eq!(delays, [1000, 2000, 3000, 4000, 4000]);
        assert!(w.retrying.is_some());
        let (w, next) = w.on(server_error(), 100, &P);
        assert_eq!(next, Next::Stop);
        assert!(matches!(
            w.phase,
            Phase::Paused(Pause::RetriesExhausted(ApiError::Server {
                status: 500,
                ..
            }))
        ));
    }

    #[test]
    fn a_success_resets_the_retry_budget() {
        let (w, _) = Wait::start(id(), 0, &P);
        let (w, _) = w.on(server_error(), 1, &P);
        let (w, _) = w.on(server_error(), 2, &P);
        let (w, next) = w.on(reply("processing"), 3, &P);
        assert_eq!((w.failures, next), (0, Next::PollIn(1500)));
        assert_eq!(w.retrying, None);
        let (_, next) = w.on(server_error(), 4, &P);
        assert_eq!(next, Next::PollIn(1000));
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_the_backoff() {
        let limited = |s| {
            Event::Failed(ApiError::RateLimited {
                retry_after_s: s,
                message: String::new(),
            })
        };
        let (w, _) = Wait::start(id(), 0, &P);
        let (w, next) = w.on(limited(Some(7)), 1, &P);
        assert_eq!(next, Next::PollIn(7000));
        let (_, next) = w.on(limited(None), 2, &P);
        assert_eq!(next, Next::PollIn(2000));
        // A Retry-After of 0 does not shorten the backoff.
        let (w, _) = Wait::start(id(), 0, &P);
        assert_eq!(w.on(limited(Some(0)), 1, &P).1, Next::PollIn(1000));
    }

    #[test]
    fn other_errors_stop_at_once() {
        for error in [
            ApiError::Unauthorized("bad key".into()),
            ApiError::Forbidden("no".into()),
            ApiError::Rejected {
                status: 404,
                message: "no such task".into(),
            },
            ApiError::Refused {
                code: 500,
                message: "x".into(),
            },
            ApiError::BadResponse("not json".into()),
        ] {
            let (w, _) = Wait::start(id(), 0, &P);
            let (w, next) = w.on(Event::Failed(error.clone()), 1, &P);
            assert_eq!((w.phase, next), (Phase::Stopped(error), Next::Stop));
        }
    }

    #[test]
    fn a_long_retry_after_is_waited_no_longer_than_the_cap_and_a_timer_can_run_it() {
        // A server asking for 2³² − 1 seconds: polls once the cap is reached, not at once
        // (the browser's timer took 2³¹ ms or more as negative, and fired immediately).
        let (w, _) = Wait::start(id(), 0, &P);
        let huge = Event::Failed(ApiError::RateLimited {
            retry_after_s: Some(u32::MAX),
            message: "slow down".into(),
        });
        let (w, next) = w.on(huge.clone(), 1000, &P);
        assert_eq!(next, Next::PollIn(P.wait_cap_ms - 1000));
        let (_, next) = w.on(huge, P.wait_cap_ms, &P);
        assert_eq!(next, Next::Stop, "the cap is reached: paused");
        // Whatever a caller asks, a timer's delay is one `setTimeout` runs as given.
        assert_eq!(timer_ms(1500), 1500);
        assert_eq!(timer_ms(u64::MAX), i32::MAX as u32);
        assert_eq!(timer_ms(1 << 31), i32::MAX as u32);
        let policy = Policy {
            wait_cap_ms: u64::MAX,
            ..P
        };
        let (w, _) = Wait::start(id(), 0, &policy);
        let (_, next) = w.on(
            Event::Failed(ApiError::RateLimited {
                retry_after_s: Some(u32::MAX),
                message: String::new(),
            }),
            1,
            &policy,
        );
        let Next::PollIn(ms) = next else {
            panic!("{next:?}")
        };
        assert!(i64::from(timer_ms(ms) as i32) > 0, "never a negative timer");
    }

    #[test]
    fn the_wait_cap_pauses_and_check_again_restarts_it() {
        let (w, _) = Wait::start(id(), 0, &P);
        let (w, next) = w.on(reply("processing"), 58_000, &P);
        assert_eq!(next, Next::PollIn(1500));
        // The last check is made at the cap, not after it.
        let (w, next) = w.on(reply("processing"), 59_999, &P);
        assert_eq!(next, Next::PollIn(1));
        let (w, next) = w.on(reply("processing"), 60_000, &P);
        assert_eq!(
            (w.phase.clone(), next),
            (Phase::Paused(Pause::WaitCap), Next::Stop)
        );
        let (w, next) = w.on(Event::Resume, 90_000, &P);
        assert_eq!(
            (w.phase.clone(), next, w.since_ms),
            (Phase::Polling, Next::PollIn(0), 90_000)
        );
        let (w, next) = w.on(reply("completed"), 91_000, &P);
        assert_eq!((w.phase, next), (Phase::Finished, Next::Stop));
    }

    #[test]
    fn cancel_stops_and_late_replies_are_ignored() {
        let (w, _) = Wait::start(id(), 0, &P);
        let (w, next) = w.on(Event::Cancel, 5, &P);
        assert_eq!(
            (w.phase.clone(), next),
            (Phase::Paused(Pause::Cancelled), Next::Stop)
        );
        let (w2, next) = w.clone().on(reply("completed"), 6, &P);
        assert_eq!((w2, next), (w.clone(), Next::Keep));
        let (w, next) = w.on(Event::Resume, 7, &P);
        assert_eq!((w.phase, next), (Phase::Polling, Next::PollIn(0)));
    }

    #[test]
    fn a_reply_about_another_task_stops() {
        let (w, _) = Wait::start(id(), 0, &P);
        let Event::Reply(mut p) = reply("completed") else {
            unreachable!()
        };
        p.id = TaskId::parse("other").unwrap();
        let (w, next) = w.on(Event::Reply(p), 1, &P);
        assert!(matches!(w.phase, Phase::Stopped(ApiError::BadResponse(_))));
        assert_eq!(next, Next::Stop);
    }

    #[test]
    fn a_submit_without_a_reply_may_have_created_a_task() {
        assert_eq!(
            Run::submit_failed(ApiError::TimedOut),
            Run::SubmitFailed {
                error: ApiError::TimedOut,
                maybe_created: true
            }
        );
        assert!(matches!(
            Run::submit_failed(ApiError::BadResponse("odd id".into())),
            Run::SubmitFailed {
                maybe_created: true,
                ..
            }
        ));
        let refused = Run::submit_failed(ApiError::Unauthorized("x".into()));
        assert!(matches!(
            refused,
            Run::SubmitFailed {
                maybe_created: false,
                ..
            }
        ));
        assert!(!refused.is_busy());
        assert!(Run::Submitting.is_busy());
        assert!(!Run::Created(id()).is_busy());
        assert_eq!(Run::Created(id()).task(), Some(&id()));
    }

    #[test]
    fn a_tracked_job_keeps_its_record_in_step_with_the_replies() {
        let record = Record::new(
            id(),
            crate::core::config::BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
            false,
            0,
        );
        let (wait, _) = Wait::start(id(), 0, &P);
        let mut job = Tracked {
            record: record.clone(),
            watch: Watch::Here(Box::new(wait)),
        };
        assert!(job.is_polling());
        assert_eq!(job.on(reply("processing"), 1, &P), Next::PollIn(1500));
        assert_eq!(job.record.status, Status::Processing);
        assert_eq!(job.on(reply("completed"), 2, &P), Next::Stop);
        assert_eq!(job.record.status, Status::Completed);
        assert!(!job.is_polling());
        // A job this page does not wait for takes no events.
        let mut elsewhere = Tracked {
            record,
            watch: Watch::Elsewhere,
        };
        let before = elsewhere.clone();
        assert_eq!(elsewhere.on(reply("completed"), 3, &P), Next::Keep);
        assert_eq!(elsewhere, before);
    }

    proptest! {
        /// Whatever happens, a timer runs only while polling, delays stay bounded, and
        /// a finished wait never polls again.
        #[test]
        fn timers_run_only_while_polling(events in proptest::collection::vec(0u8..8, 0..60)) {
            let (mut w, _) = Wait::start(id(), 0, &P);
            let mut now = 0;
            for e in events {
                now += 700;
                let event = match e {
                    0 => reply("processing"),
                    1 => reply("completed"),
                    2 => server_error(),
                    3 => Event::Failed(ApiError::RateLimited { retry_after_s: Some(3), message: String::new() }),
                    4 => Event::Failed(ApiError::Network("down".into())),
                    5 => Event::Cancel,
                    6 => Event::Resume,
                    _ => Event::Failed(ApiError::Unauthorized(String::new())),
                };
                let before = w.clone();
                let (next_w, next) = w.on(event, now, &P);
                w = next_w;
                match next {
                    Next::PollIn(d) => {
                        prop_assert_eq!(&w.phase, &Phase::Polling);
                        prop_assert!(d <= 7000);
                        prop_assert!(before.phase != Phase::Finished);
                    }
                    Next::Stop => prop_assert!(w.phase != Phase::Polling),
                    Next::Keep => prop_assert_eq!(&w, &before),
                }
                prop_assert!(w.failures <= P.max_retries + 1);
            }
        }
    }
}
