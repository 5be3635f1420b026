//! The Worker's store: every counter in Cloudflare Durable Objects of the class the
//! Worker binds as `COUNTERS` (`proxy-worker/`). Each operation is one message to the
//! object [`Op::object`] names, which runs it on its own state with the
//! [`MemoryStore`](super::memory::MemoryStore) code — one object handles one message at
//! a time, so each operation is atomic for every Worker instance in the world.

use worker::send::SendFuture;

use super::gcra::Rate;
use super::ops::{Answer, Op};
use super::{Decision, Outcome, Refusal, Reservation, RunRequest, Spend, Store, StoreError};
use crate::clock::Period;
use crate::money::Micros;

/// The binding name of the counters' Durable Object namespace.
pub const BINDING: &str = "COUNTERS";
/// The address the messages are sent to (only the object sees it).
const OP_URL: &str = "https://counters.internal/op";

/// Counters in Durable Objects.
pub struct DurableStore {
    namespace: worker::ObjectNamespace,
}

impl DurableStore {
    /// The store of the namespace bound as [`BINDING`].
    pub fn new(env: &worker::Env) -> Result<Self, String> {
        env.durable_object(BINDING)
            .map(|namespace| Self { namespace })
            .map_err(|e| format!("no Durable Object namespace bound as {BINDING}: {e}"))
    }

    /// Sends `op` to its object and reads the answer.
    async fn ask(&self, op: Op) -> Result<Answer, StoreError> {
        let failed = |e: worker::Error| StoreError(e.to_string());
        let object = op.object();
        let body = serde_json::to_string(&op).map_err(|e| StoreError(e.to_string()))?;
        SendFuture::new(async move {
            let stub = self
                .namespace
                .id_from_name(&object)
                .and_then(|id| id.get_stub())
                .map_err(failed)?;
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_body(Some(body.into()));
            let request = worker::Request::new_with_init(OP_URL, &init).map_err(failed)?;
            let mut response = stub.fetch_with_request(request).await.map_err(failed)?;
            let text = response.text().await.map_err(failed)?;
            serde_json::from_str::<Answer>(&text)
                .map_err(|e| StoreError(format!("the counters answered nonsense: {e}")))
        })
        .await
    }
}

impl Store for DurableStore {
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
