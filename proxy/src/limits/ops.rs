//! Every [`Store`] operation as data ([`Op`]) and its answer ([`Answer`]), so a store
//! can live in another place than its callers: the Worker's counters live in Durable
//! Objects, which are asked by message ([`durable`](super)) and answer by running the
//! very [`MemoryStore`] code on their own state ([`apply`]). Which object holds what is
//! [`Op::object`]: the budget (reservations, running tasks, task records) in one object,
//! so a reservation is one atomic step; each keyed counter (a visitor's rate, upload
//! bytes, a spent token, an upload's pass, the site's burst) in one of [`SHARDS`]
//! objects chosen by its key, so a visitor's counters never wait on another's.

use serde::{Deserialize, Serialize};

use super::gcra::Rate;
use super::memory::MemoryStore;
use super::{Decision, Outcome, Refusal, Reservation, RunRequest, Spend, Store, StoreError};
use crate::clock::Period;
use crate::money::Micros;

/// How many objects the keyed counters are spread over.
pub const SHARDS: u64 = 16;
/// The name of the object holding the budget.
pub const BUDGET_OBJECT: &str = "budget";

/// One store operation, with everything it needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// [`Store::rate`].
    Rate {
        /// The counter.
        key: String,
        /// The rate.
        rate: Rate,
        /// Now.
        now_ms: u64,
    },
    /// [`Store::give_back`].
    GiveBack {
        /// The counter.
        key: String,
        /// The rate.
        rate: Rate,
        /// Now.
        now_ms: u64,
    },
    /// [`Store::tat`].
    Tat {
        /// The counter.
        key: String,
    },
    /// [`Store::add_within`].
    AddWithin {
        /// The counter.
        key: String,
        /// What to add.
        amount: u64,
        /// The cap.
        cap: u64,
        /// The counter's period.
        period: Period,
        /// Now.
        now_ms: u64,
    },
    /// [`Store::reserve`].
    Reserve {
        /// The run.
        run: RunRequest,
    },
    /// [`Store::release`].
    Release {
        /// The reservation given back.
        reservation: Reservation,
    },
    /// [`Store::record_task`].
    RecordTask {
        /// The task.
        task_id: String,
        /// Its reservation.
        reservation: Reservation,
        /// How long the record is kept.
        ttl_s: u64,
        /// Now.
        now_ms: u64,
    },
    /// [`Store::settle`].
    Settle {
        /// The task.
        task_id: String,
        /// How it ended.
        outcome: Outcome,
        /// Now.
        now_ms: u64,
    },
    /// [`Store::spend`].
    Spend {
        /// The day.
        day: Period,
        /// The month.
        month: Period,
        /// Now.
        now_ms: u64,
        /// When a task stops counting as running.
        running_max_age_ms: u64,
    },
    /// [`Store::first_sight`].
    FirstSight {
        /// The key.
        key: String,
        /// How long it is remembered.
        ttl_ms: u64,
        /// Now.
        now_ms: u64,
    },
    /// [`Store::take`].
    Take {
        /// The key.
        key: String,
        /// Now.
        now_ms: u64,
    },
    /// [`Store::ping`].
    Ping,
}

/// What an operation answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// A counter's yes or no.
    Decision {
        /// The decision.
        decision: Decision,
    },
    /// Done.
    Done,
    /// A rate's TAT.
    Tat {
        /// The TAT.
        tat: Option<u64>,
    },
    /// A reservation, or which limit refused it.
    Reserved {
        /// The reservation or the refusal.
        result: Result<Reservation, Refusal>,
    },
    /// What a settle settled.
    Settled {
        /// Micro-dollars, the first time.
        amount: Option<u64>,
    },
    /// The spend.
    Spend {
        /// Reserved today.
        day_reserved: u64,
        /// Used today.
        day_used: u64,
        /// Reserved this month.
        month_reserved: u64,
        /// Used this month.
        month_used: u64,
        /// Running now.
        running: u64,
    },
    /// A yes or no.
    Flag {
        /// The answer.
        yes: bool,
    },
    /// The store failed.
    Failed {
        /// Why.
        error: String,
    },
}

impl Op {
    /// The name of the object that holds what this operation touches.
    pub fn object(&self) -> String {
        match self {
            Op::Rate { key, .. }
            | Op::GiveBack { key, .. }
            | Op::Tat { key }
            | Op::AddWithin { key, .. }
            | Op::FirstSight { key, .. }
            | Op::Take { key, .. } => format!("shard-{}", fnv1a(key.as_bytes()) % SHARDS),
            Op::Reserve { .. }
            | Op::Release { .. }
            | Op::RecordTask { .. }
            | Op::Settle { .. }
            | Op::Spend { .. }
            | Op::Ping => BUDGET_OBJECT.to_owned(),
        }
    }

    /// Whether the operation may change what the store holds (a read-only one need
    /// not be saved).
    pub fn writes(&self) -> bool {
        !matches!(self, Op::Tat { .. } | Op::Spend { .. } | Op::Ping)
    }
}

/// FNV-1a: a stable spread of keys over objects (the same on every instance and
/// build, unlike std's randomly seeded hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs `op` on `store`.
pub async fn apply(store: &MemoryStore, op: Op) -> Answer {
    let answer = match op {
        Op::Rate { key, rate, now_ms } => store
            .rate(&key, rate, now_ms)
            .await
            .map(|decision| Answer::Decision { decision }),
        Op::GiveBack { key, rate, now_ms } => store
            .give_back(&key, rate, now_ms)
            .await
            .map(|()| Answer::Done),
        Op::Tat { key } => store.tat(&key).await.map(|tat| Answer::Tat { tat }),
        Op::AddWithin {
            key,
            amount,
            cap,
            period,
            now_ms,
        } => store
            .add_within(&key, amount, cap, &period, now_ms)
            .await
            .map(|decision| Answer::Decision { decision }),
        Op::Reserve { run } => store
            .reserve(&run)
            .await
            .map(|result| Answer::Reserved { result }),
        Op::Release { reservation } => store.release(&reservation).await.map(|()| Answer::Done),
        Op::RecordTask {
            task_id,
            reservation,
            ttl_s,
            now_ms,
        } => store
            .record_task(&task_id, &reservation, ttl_s, now_ms)
            .await
            .map(|()| Answer::Done),
        Op::Settle {
            task_id,
            outcome,
            now_ms,
        } => store
            .settle(&task_id, outcome, now_ms)
            .await
            .map(|amount| Answer::Settled {
                amount: amount.map(|m| m.0),
            }),
        Op::Spend {
            day,
            month,
            now_ms,
            running_max_age_ms,
        } => store
            .spend(&day, &month, now_ms, running_max_age_ms)
            .await
            .map(|s| Answer::Spend {
                day_reserved: s.day_reserved.0,
                day_used: s.day_used.0,
                month_reserved: s.month_reserved.0,
                month_used: s.month_used.0,
                running: s.running,
            }),
        Op::FirstSight {
            key,
            ttl_ms,
            now_ms,
        } => store
            .first_sight(&key, ttl_ms, now_ms)
            .await
            .map(|yes| Answer::Flag { yes }),
        Op::Take { key, now_ms } => store
            .take(&key, now_ms)
            .await
            .map(|yes| Answer::Flag { yes }),
        Op::Ping => store.ping().await.map(|()| Answer::Done),
    };
    answer.unwrap_or_else(|e| Answer::Failed { error: e.0 })
}

/// Anything but the answer expected: the store answered nonsense.
fn unexpected(answer: Answer) -> StoreError {
    match answer {
        Answer::Failed { error } => StoreError(error),
        other => StoreError(format!("an unexpected answer: {other:?}")),
    }
}

impl Answer {
    /// The decision of [`Op::Rate`] or [`Op::AddWithin`].
    pub fn decision(self) -> Result<Decision, StoreError> {
        match self {
            Answer::Decision { decision } => Ok(decision),
            other => Err(unexpected(other)),
        }
    }

    /// The answer of an operation that answers nothing.
    pub fn done(self) -> Result<(), StoreError> {
        match self {
            Answer::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The answer of [`Op::Tat`].
    pub fn tat(self) -> Result<Option<u64>, StoreError> {
        match self {
            Answer::Tat { tat } => Ok(tat),
            other => Err(unexpected(other)),
        }
    }

    /// The answer of [`Op::Reserve`].
    pub fn reserved(self) -> Result<Result<Reservation, Refusal>, StoreError> {
        match self {
            Answer::Reserved { result } => Ok(result),
            other => Err(unexpected(other)),
        }
    }

    /// The answer of [`Op::Settle`].
    pub fn settled(self) -> Result<Option<Micros>, StoreError> {
        match self {
            Answer::Settled { amount } => Ok(amount.map(Micros)),
            other => Err(unexpected(other)),
        }
    }

    /// The answer of [`Op::Spend`].
    pub fn spend(self) -> Result<Spend, StoreError> {
        match self {
            Answer::Spend {
                day_reserved,
                day_used,
                month_reserved,
                month_used,
                running,
            } => Ok(Spend {
                day_reserved: Micros(day_reserved),
                day_used: Micros(day_used),
                month_reserved: Micros(month_reserved),
                month_used: Micros(month_used),
                running,
            }),
            other => Err(unexpected(other)),
        }
    }

    /// The answer of [`Op::FirstSight`] or [`Op::Take`].
    pub fn flag(self) -> Result<bool, StoreError> {
        match self {
            Answer::Flag { yes } => Ok(yes),
            other => Err(unexpected(other)),
        }
    }
}

/// Micro-dollars as a plain integer on the wire.
pub(crate) mod micros {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::money::Micros;

    pub(crate) fn serialize<S: Serializer>(value: &Micros, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.0)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Micros, D::Error> {
        u64::deserialize(d).map(Micros)
    }
}
