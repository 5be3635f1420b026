//! Every [`Store`] operation as data ([`Op`]) and its answer ([`Answer`]), so a store
//! can live in another place than its callers: the Worker's counters live in Durable
//! Objects, which are asked by message ([`durable`](super)) and answer by running the
//! very [`MemoryStore`] code on their own state ([`apply`]). Which object holds what is
//! [`Op::object`]: the budget (reservations, running tasks, task records) in one object,
//! so a reservation is one atomic step; each keyed counter (a visitor's rate, upload
//! bytes, a spent token, an upload's pass, the site's burst) in one of [`SHARDS`]
//! objects chosen by its key, so a visitor's counters never wait on another's.

use std::future::Future;

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

    /// The caller's "now", when the operation has one.
    pub fn now_ms(&self) -> Option<u64> {
        match self {
            Op::Rate { now_ms, .. }
            | Op::GiveBack { now_ms, .. }
            | Op::AddWithin { now_ms, .. }
            | Op::RecordTask { now_ms, .. }
            | Op::Settle { now_ms, .. }
            | Op::Spend { now_ms, .. }
            | Op::FirstSight { now_ms, .. }
            | Op::Take { now_ms, .. } => Some(*now_ms),
            Op::Reserve { run } => Some(run.now_ms),
            Op::Tat { .. } | Op::Release { .. } | Op::Ping => None,
        }
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

/// The object's side of a message: runs the operation `message` holds on `store`;
/// returns the answer's text and, when the operation changed something, the state to
/// save (swept of what expired by the operation's own "now") before the answer leaves.
pub async fn handle(store: &MemoryStore, message: &str) -> (String, Option<String>) {
    let (answer, save) = match serde_json::from_str::<Op>(message) {
        Err(e) => (
            Answer::Failed {
                error: format!("a message that is not an operation: {e}"),
            },
            None,
        ),
        Ok(op) => {
            let writes = op.writes();
            let now_ms = op.now_ms();
            let answer = apply(store, op).await;
            let save = (writes && !matches!(answer, Answer::Failed { .. }))
                .then(|| store.snapshot(now_ms));
            (answer, save)
        }
    };
    (answer.to_text(), save)
}

/// How a message reaches the object that holds its counters: in the Worker, a Durable
/// Object's `fetch` ([`super::durable`]); in the tests, a call in the process.
pub trait Carrier: Send + Sync + 'static {
    /// Delivers `message` to the object named `object`; its answer's text.
    fn carry(
        &self,
        object: String,
        message: String,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

/// A [`Store`] whose every operation is a message carried to the object holding it.
pub struct Messages<C>(pub C);

impl<C: Carrier> Messages<C> {
    async fn ask(&self, op: Op) -> Result<Answer, StoreError> {
        let object = op.object();
        let message = serde_json::to_string(&op).map_err(|e| StoreError(e.to_string()))?;
        let reply = self.0.carry(object, message).await?;
        serde_json::from_str::<Answer>(&reply)
            .map_err(|e| StoreError(format!("the counters answered nonsense: {e}")))
    }
}

impl<C: Carrier> Store for Messages<C> {
    async fn rate(&self, key: &str, rate: Rate, now_ms: u64) -> Result<Decision, StoreError> {
        let key = key.to_owned();
        self.ask(Op::Rate { key, rate, now_ms }).await?.decision()
    }
    async fn give_back(&self, key: &str, rate: Rate, now_ms: u64) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.ask(Op::GiveBack { key, rate, now_ms }).await?.done()
    }
    async fn tat(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let key = key.to_owned();
        self.ask(Op::Tat { key }).await?.tat()
    }
    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        cap: u64,
        period: &Period,
        now_ms: u64,
    ) -> Result<Decision, StoreError> {
        self.ask(Op::AddWithin {
            key: key.to_owned(),
            amount,
            cap,
            period: period.clone(),
            now_ms,
        })
        .await?
        .decision()
    }
    async fn reserve(&self, run: &RunRequest) -> Result<Result<Reservation, Refusal>, StoreError> {
        self.ask(Op::Reserve { run: run.clone() }).await?.reserved()
    }
    async fn release(&self, reservation: &Reservation) -> Result<(), StoreError> {
        let reservation = reservation.clone();
        self.ask(Op::Release { reservation }).await?.done()
    }
    async fn record_task(
        &self,
        task_id: &str,
        reservation: &Reservation,
        ttl_s: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.ask(Op::RecordTask {
            task_id: task_id.to_owned(),
            reservation: reservation.clone(),
            ttl_s,
            now_ms,
        })
        .await?
        .done()
    }
    async fn settle(
        &self,
        task_id: &str,
        outcome: Outcome,
        now_ms: u64,
    ) -> Result<Option<Micros>, StoreError> {
        let task_id = task_id.to_owned();
        self.ask(Op::Settle {
            task_id,
            outcome,
            now_ms,
        })
        .await?
        .settled()
    }
    async fn spend(
        &self,
        day: &Period,
        month: &Period,
        now_ms: u64,
        running_max_age_ms: u64,
    ) -> Result<Spend, StoreError> {
        self.ask(Op::Spend {
            day: day.clone(),
            month: month.clone(),
            now_ms,
            running_max_age_ms,
        })
        .await?
        .spend()
    }
    async fn first_sight(&self, key: &str, ttl_ms: u64, now_ms: u64) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.ask(Op::FirstSight {
            key,
            ttl_ms,
            now_ms,
        })
        .await?
        .flag()
    }
    async fn take(&self, key: &str, now_ms: u64) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.ask(Op::Take { key, now_ms }).await?.flag()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.ask(Op::Ping).await?.done()
    }
}

/// Anything but the answer expected: the store answered nonsense.
fn unexpected(answer: Answer) -> StoreError {
    match answer {
        Answer::Failed { error } => StoreError(error),
        other => StoreError(format!("an unexpected answer: {other:?}")),
    }
}

impl Answer {
    /// The answer as the message sent back.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"answer":"failed","error":"an answer that cannot be written: {e}"}}"#)
        })
    }

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
