//! The in-process store: every counter in one mutex-guarded map, so each operation is
//! atomic within the process. Nothing to install; counters live as long as the process
//! (a restart starts the day's budget again — use Redis where that matters).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::gcra::{self, Rate};
use super::{Decision, Outcome, Refusal, Reservation, RunRequest, Spend, Store, StoreError};
use crate::clock::Period;
use crate::money::Micros;

/// Drop expired entries once the maps hold this many.
const SWEEP_AT: usize = 10_000;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Inner {
    /// GCRA theoretical arrival times, by key; an entry is useless once in the past.
    tats: HashMap<String, u64>,
    /// Counters (spend, used, bytes) with the Unix ms at which each expires.
    counters: HashMap<String, (u64, u64)>,
    /// Running reservations: id → when reserved.
    running: HashMap<String, u64>,
    /// Task → its reservation, with when the record expires.
    tasks: HashMap<String, (Reservation, u64)>,
    /// Keys seen ([`Store::first_sight`]), with when each is forgotten.
    seen: HashMap<String, u64>,
}

impl Inner {
    fn counter(&self, key: &str, now_ms: u64) -> u64 {
        match self.counters.get(key) {
            Some((value, expires)) if *expires > now_ms => *value,
            _ => 0,
        }
    }

    fn set_counter(&mut self, key: String, value: u64, expires_ms: u64) {
        self.counters.insert(key, (value, expires_ms));
    }

    /// Subtracts from a counter that has not expired, floored at zero, keeping its
    /// expiry.
    fn subtract(&mut self, key: &str, amount: u64, now_ms: u64) {
        if let Some((value, expires)) = self.counters.get_mut(key) {
            if *expires > now_ms {
                *value = value.saturating_sub(amount);
            }
        }
    }

    fn sweep(&mut self, now_ms: u64) {
        if self.tats.len() + self.counters.len() + self.tasks.len() + self.seen.len() < SWEEP_AT {
            return;
        }
        self.sweep_all(now_ms);
    }

    fn sweep_all(&mut self, now_ms: u64) {
        self.seen.retain(|_, forgotten| *forgotten > now_ms);
        self.tats.retain(|_, tat| *tat > now_ms);
        self.counters.retain(|_, (_, expires)| *expires > now_ms);
        self.tasks.retain(|_, (_, expires)| *expires > now_ms);
    }
}

/// Counters in this process.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything held (less what expired by `now_ms`, when given), as JSON: what a
    /// Durable Object keeps on disk after each change ([`super::ops`]).
    pub fn snapshot(&self, now_ms: Option<u64>) -> String {
        let mut inner = self.lock();
        if let Some(now_ms) = now_ms {
            inner.sweep_all(now_ms);
        }
        serde_json::to_string(&*inner).unwrap_or_default()
    }

    /// Replaces what is held with a [`snapshot`](Self::snapshot).
    pub fn restore(&self, snapshot: &str) -> Result<(), StoreError> {
        let restored: Inner = serde_json::from_str(snapshot)
            .map_err(|e| StoreError(format!("a saved state that cannot be read: {e}")))?;
        *self.lock() = restored;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves consistent counters (every
        // update is a single assignment), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The Unix ms at which a period's counter may be forgotten: a day after it ends, so
/// a refund that arrives just after midnight still finds yesterday's counter.
pub(crate) fn counter_expiry_ms(period: &Period) -> u64 {
    (period.ends_at + 86_400) * 1000
}

pub(crate) fn spend_key(kind: &str, period: &str) -> String {
    format!("spend:{kind}:{period}")
}

pub(crate) fn used_key(kind: &str, period: &str) -> String {
    format!("used:{kind}:{period}")
}

impl Store for MemoryStore {
    async fn rate(&self, key: &str, rate: Rate, now_ms: u64) -> Result<Decision, StoreError> {
        let mut inner = self.lock();
        inner.sweep(now_ms);
        let (decision, tat) = gcra::take(inner.tats.get(key).copied(), rate, now_ms);
        if let Some(tat) = tat {
            inner.tats.insert(key.to_owned(), tat);
        }
        Ok(decision)
    }

    async fn give_back(&self, key: &str, rate: Rate, now_ms: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match gcra::give_back(inner.tats.get(key).copied(), rate, now_ms) {
            Some(tat) => inner.tats.insert(key.to_owned(), tat),
            None => inner.tats.remove(key),
        };
        Ok(())
    }

    async fn tat(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().tats.get(key).copied())
    }

    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        cap: u64,
        period: &Period,
        now_ms: u64,
    ) -> Result<Decision, StoreError> {
        let mut inner = self.lock();
        let value = inner.counter(key, now_ms);
        match value.checked_add(amount).filter(|total| *total <= cap) {
            Some(total) => {
                inner.set_counter(key.to_owned(), total, counter_expiry_ms(period));
                Ok(Decision::Allowed)
            }
            None => Ok(Decision::Refused {
                retry_after_ms: period.seconds_left(now_ms / 1000) * 1000,
            }),
        }
    }

    async fn reserve(&self, run: &RunRequest) -> Result<Result<Reservation, Refusal>, StoreError> {
        let mut inner = self.lock();
        let now = run.now_ms;
        let day_key = spend_key("day", &run.day.name);
        let month_key = spend_key("month", &run.month.name);
        let day = inner.counter(&day_key, now);
        let month = inner.counter(&month_key, now);
        let price = run.price.0;
        if day.checked_add(price).is_none_or(|t| t > run.day_cap.0) {
            return Ok(Err(Refusal::DailyBudget));
        }
        if month.checked_add(price).is_none_or(|t| t > run.month_cap.0) {
            return Ok(Err(Refusal::MonthlyBudget));
        }
        let oldest = now.saturating_sub(run.running_max_age_ms);
        inner.running.retain(|_, at| *at > oldest);
        if let Some(max) = run.max_running {
            if inner.running.len() as u64 >= u64::from(max) {
                return Ok(Err(Refusal::Running));
            }
        }
        inner.set_counter(day_key, day + price, counter_expiry_ms(&run.day));
        inner.set_counter(month_key, month + price, counter_expiry_ms(&run.month));
        inner.running.insert(run.reservation_id.clone(), now);
        Ok(Ok(Reservation {
            id: run.reservation_id.clone(),
            price,
            day: run.day.name.clone(),
            month: run.month.name.clone(),
        }))
    }

    async fn release(&self, reservation: &Reservation) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let now = 0; // counters of any age: a refund goes where the money was taken
        inner.subtract(&spend_key("day", &reservation.day), reservation.price, now);
        inner.subtract(
            &spend_key("month", &reservation.month),
            reservation.price,
            now,
        );
        inner.running.remove(&reservation.id);
        Ok(())
    }

    async fn record_task(
        &self,
        task_id: &str,
        reservation: &Reservation,
        ttl_s: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.tasks.insert(
            task_id.to_owned(),
            (reservation.clone(), now_ms + ttl_s * 1000),
        );
        Ok(())
    }

    async fn settle(
        &self,
        task_id: &str,
        outcome: Outcome,
        now_ms: u64,
    ) -> Result<Option<Micros>, StoreError> {
        let mut inner = self.lock();
        let Some((reservation, expires)) = inner.tasks.remove(task_id) else {
            return Ok(None);
        };
        if expires <= now_ms {
            return Ok(None);
        }
        inner.running.remove(&reservation.id);
        match outcome {
            Outcome::Failed => {
                inner.subtract(&spend_key("day", &reservation.day), reservation.price, 0);
                inner.subtract(
                    &spend_key("month", &reservation.month),
                    reservation.price,
                    0,
                );
            }
            Outcome::Spent => {
                for (kind, name) in [("day", &reservation.day), ("month", &reservation.month)] {
                    let key = used_key(kind, name);
                    let (value, expires) = inner
                        .counters
                        .get(&key)
                        .copied()
                        .unwrap_or((0, now_ms + 62 * 86_400_000));
                    inner.set_counter(key, value + reservation.price, expires);
                }
            }
        }
        Ok(Some(Micros(reservation.price)))
    }

    async fn spend(
        &self,
        day: &Period,
        month: &Period,
        now_ms: u64,
        running_max_age_ms: u64,
    ) -> Result<Spend, StoreError> {
        let inner = self.lock();
        let oldest = now_ms.saturating_sub(running_max_age_ms);
        Ok(Spend {
            day_reserved: Micros(inner.counter(&spend_key("day", &day.name), now_ms)),
            day_used: Micros(inner.counter(&used_key("day", &day.name), now_ms)),
            month_reserved: Micros(inner.counter(&spend_key("month", &month.name), now_ms)),
            month_used: Micros(inner.counter(&used_key("month", &month.name), now_ms)),
            running: inner.running.values().filter(|at| **at > oldest).count() as u64,
        })
    }

    async fn first_sight(&self, key: &str, ttl_ms: u64, now_ms: u64) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        inner.sweep(now_ms);
        match inner.seen.get(key) {
            Some(forgotten) if *forgotten > now_ms => Ok(false),
            _ => {
                inner.seen.insert(key.to_owned(), now_ms + ttl_ms);
                Ok(true)
            }
        }
    }

    async fn take(&self, key: &str, now_ms: u64) -> Result<bool, StoreError> {
        let forgotten = self.lock().seen.remove(key);
        Ok(forgotten.is_some_and(|forgotten| forgotten > now_ms))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
