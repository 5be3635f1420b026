//! Every counter the proxy keeps — rates per visitor, upload bytes per visitor and day,
//! the spend reserved per day and month, tasks running at once, and each task's
//! reservation until it is settled — behind one trait, [`Store`], with two
//! implementations that must behave the same (one test suite runs against both,
//! `tests/store_contract.rs`):
//!
//! - [`memory::MemoryStore`]: in the process (one instance, nothing to install);
//! - [`redis::RedisStore`]: in Redis, each operation one atomic script, so any number of
//!   instances share one budget.
//!
//! Money is [`Micros`]; time is passed in (`now_ms`), never read inside, so the
//! arithmetic is testable and instances agree as far as their clocks do.

#[cfg(target_arch = "wasm32")]
pub mod durable;
pub mod gcra;
pub mod memory;
pub mod ops;
#[cfg(not(target_arch = "wasm32"))]
pub mod redis;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::clock::Period;
use crate::money::Micros;

pub use gcra::Rate;

/// A store could not be reached or answered nonsense. Submits and uploads then fail
/// closed (503); polls go on without their rate limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the limit store is unavailable: {0}")]
pub struct StoreError(pub String);

/// A counter said yes or no.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Allowed (and counted).
    Allowed,
    /// Refused; allowed again after this many milliseconds.
    Refused {
        /// How long until the request would be allowed.
        retry_after_ms: u64,
    },
}

/// What a run asks of the budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The price of the run, reserved before the submit.
    #[serde(with = "ops::micros")]
    pub price: Micros,
    /// Today (UTC) and its cap.
    pub day: Period,
    /// The daily cap.
    #[serde(with = "ops::micros")]
    pub day_cap: Micros,
    /// This month (UTC).
    pub month: Period,
    /// The monthly cap.
    #[serde(with = "ops::micros")]
    pub month_cap: Micros,
    /// At most this many tasks at once, when set.
    pub max_running: Option<u32>,
    /// A task not seen finished after this long no longer counts as running.
    pub running_max_age_ms: u64,
    /// Now, in Unix milliseconds.
    pub now_ms: u64,
    /// A fresh id for this reservation (unique across instances).
    pub reservation_id: String,
}

/// Money held for one run, from before its submit until the task is settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The reservation's id (a member of the running set).
    pub id: String,
    /// The amount held, in micro-dollars.
    pub price: u64,
    /// The day counter it was taken from (`YYYY-MM-DD`).
    pub day: String,
    /// The month counter it was taken from (`YYYY-MM`).
    pub month: String,
}

/// Why a run was refused by the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// Today's spend would pass the daily cap.
    DailyBudget,
    /// This month's spend would pass the monthly cap.
    MonthlyBudget,
    /// `--max-running` tasks are running.
    Running,
}

/// How a task ended, for settling its reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// WaveSpeed refunds failed tasks: the reservation is given back.
    Failed,
    /// Completed (or ended otherwise): the reservation is spent.
    Spent,
}

/// Spend so far, for metrics and quota.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spend {
    /// Reserved today: what counts against the daily cap (running and finished runs).
    pub day_reserved: Micros,
    /// Of that, runs that finished and were not refunded.
    pub day_used: Micros,
    /// Reserved this month.
    pub month_reserved: Micros,
    /// Of that, runs that finished and were not refunded.
    pub month_used: Micros,
    /// Tasks counted as running now.
    pub running: u64,
}

/// The counters behind every limit. Each method is atomic: under any interleaving of
/// callers on any number of instances, a cap is never passed.
pub trait Store: Send + Sync + 'static {
    /// Takes one request from a GCRA rate under `key`.
    fn rate(
        &self,
        key: &str,
        rate: Rate,
        now_ms: u64,
    ) -> impl Future<Output = Result<Decision, StoreError>> + Send;

    /// Gives back one request taken from the rate under `key` ([`gcra::give_back`]):
    /// what was taken for something that did not happen.
    fn give_back(
        &self,
        key: &str,
        rate: Rate,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The TAT a rate keeps under `key` (`None`: never seen or expired), read without
    /// changing it; [`gcra::left`] turns it into what is left.
    fn tat(&self, key: &str) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Adds `amount` to the counter `key` unless that would pass `cap`; the counter
    /// lives for `period`.
    fn add_within(
        &self,
        key: &str,
        amount: u64,
        cap: u64,
        period: &Period,
        now_ms: u64,
    ) -> impl Future<Output = Result<Decision, StoreError>> + Send;

    /// Reserves a run's price against the daily and monthly caps (and a running slot)
    /// in one step, or says which limit refuses it.
    fn reserve(
        &self,
        run: &RunRequest,
    ) -> impl Future<Output = Result<Result<Reservation, Refusal>, StoreError>> + Send;

    /// Gives a reservation back: the submit made no task.
    fn release(
        &self,
        reservation: &Reservation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Remembers which reservation a task holds, until it is settled or `ttl_s` passes.
    fn record_task(
        &self,
        task_id: &str,
        reservation: &Reservation,
        ttl_s: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Settles a task's reservation exactly once: refunded when it failed, spent
    /// otherwise. `Some(amount)` the first time, `None` after (or for an unknown task).
    fn settle(
        &self,
        task_id: &str,
        outcome: Outcome,
        now_ms: u64,
    ) -> impl Future<Output = Result<Option<Micros>, StoreError>> + Send;

    /// The spend of a day and month, and the tasks running now.
    fn spend(
        &self,
        day: &Period,
        month: &Period,
        now_ms: u64,
        running_max_age_ms: u64,
    ) -> impl Future<Output = Result<Spend, StoreError>> + Send;

    /// Remembers `key` for `ttl_ms`: `true` the first time, `false` while it is
    /// remembered — so a bot-check token is spent once, on every instance.
    fn first_sight(
        &self,
        key: &str,
        ttl_ms: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets `key` if it is remembered: `true` for exactly one caller, on every
    /// instance (an upload's pass is taken by one submit).
    fn take(&self, key: &str, now_ms: u64)
        -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The store answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The store a proxy runs with, chosen at start.
pub enum AnyStore {
    /// In this process.
    Memory(memory::MemoryStore),
    /// In Redis.
    #[cfg(not(target_arch = "wasm32"))]
    Redis(redis::RedisStore),
    /// In Cloudflare Durable Objects (the Worker).
    #[cfg(target_arch = "wasm32")]
    Durable(durable::DurableStore),
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($store) => $call.await,
            #[cfg(not(target_arch = "wasm32"))]
            AnyStore::Redis($store) => $call.await,
            #[cfg(target_arch = "wasm32")]
            AnyStore::Durable($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn rate(&self, key: &str, rate: Rate, now_ms: u64) -> Result<Decision, StoreError> {
        delegate!(self, s => s.rate(key, rate, now_ms))
    }
    async fn give_back(&self, key: &str, rate: Rate, now_ms: u64) -> Result<(), StoreError> {
        delegate!(self, s => s.give_back(key, rate, now_ms))
    }
    async fn tat(&self, key: &str) -> Result<Option<u64>, StoreError> {
        delegate!(self, s => s.tat(key))
    }
    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        cap: u64,
        period: &Period,
        now_ms: u64,
    ) -> Result<Decision, StoreError> {
        delegate!(self, s => s.add_within(key, amount, cap, period, now_ms))
    }
    async fn reserve(&self, run: &RunRequest) -> Result<Result<Reservation, Refusal>, StoreError> {
        delegate!(self, s => s.reserve(run))
    }
    async fn release(&self, reservation: &Reservation) -> Result<(), StoreError> {
        delegate!(self, s => s.release(reservation))
    }
    async fn record_task(
        &self,
        task_id: &str,
        reservation: &Reservation,
        ttl_s: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.record_task(task_id, reservation, ttl_s, now_ms))
    }
    async fn settle(
        &self,
        task_id: &str,
        outcome: Outcome,
        now_ms: u64,
    ) -> Result<Option<Micros>, StoreError> {
        delegate!(self, s => s.settle(task_id, outcome, now_ms))
    }
    async fn spend(
        &self,
        day: &Period,
        month: &Period,
        now_ms: u64,
        running_max_age_ms: u64,
    ) -> Result<Spend, StoreError> {
        delegate!(self, s => s.spend(day, month, now_ms, running_max_age_ms))
    }
    async fn first_sight(&self, key: &str, ttl_ms: u64, now_ms: u64) -> Result<bool, StoreError> {
        delegate!(self, s => s.first_sight(key, ttl_ms, now_ms))
    }
    async fn take(&self, key: &str, now_ms: u64) -> Result<bool, StoreError> {
        delegate!(self, s => s.take(key, now_ms))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.ping())
    }
}
