//! The shared store: every counter in Redis under one key prefix, each operation one
//! Lua script (Redis runs a script atomically), so any number of proxy instances behind
//! a load balancer share one budget. Needs Redis ≥ 6.2 (`KEEPTTL`).
//!
//! Keys (all under the prefix, `multishot:` by default): `rate:<limit>:<visitor>` (GCRA
//! TAT, ms), `bytes:<day>:<visitor>`, `spend:day:<day>`, `spend:month:<month>`,
//! `used:day:<day>`, `used:month:<month>` (µ$), `running` (sorted set of reservation
//! ids by time), `task:<task id>` (its reservation, JSON, until settled).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::memory::{counter_expiry_ms, spend_key, used_key};
use super::{Decision, Outcome, Rate, Refusal, Reservation, RunRequest, Spend, Store, StoreError};
use crate::clock::Period;
use crate::money::Micros;

/// How long one Redis call may take before the store counts as down.
const CALL_TIMEOUT: Duration = Duration::from_millis(800);

/// GCRA: KEYS[1] TAT; ARGV now_ms, emission_ms, tolerance_ms, count.
const RATE: &str = r#"
local now = tonumber(ARGV[1])
local emission = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
if tonumber(ARGV[4]) == 0 then return {0, tonumber(ARGV[5])} end
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return {0, allow_at - now} end
local new_tat = tat + emission
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1)
return {1, 0}
"#;

/// GCRA give-back: KEYS[1] TAT; ARGV now_ms, emission_ms (as `gcra::give_back`).
const GIVE_BACK: &str = r#"
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local now = tonumber(ARGV[1])
local back = tat - tonumber(ARGV[2])
if back <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], back, 'PX', back - now + 1)
end
return 1
"#;

/// KEYS[1] counter; ARGV amount, cap, expire_at_ms, retry_ms.
const ADD_WITHIN: &str = r#"
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
local total = value + tonumber(ARGV[1])
if total > tonumber(ARGV[2]) then return {0, tonumber(ARGV[4])} end
redis.call('SET', KEYS[1], total, 'PXAT', ARGV[3])
return {1, 0}
"#;

/// KEYS spend day, spend month, running; ARGV price, day cap, month cap, day expire
/// at (ms), month expire at (ms), max running (0: none), now_ms, oldest running ms,
/// reservation id.
const RESERVE: &str = r#"
local price = tonumber(ARGV[1])
local day = tonumber(redis.call('GET', KEYS[1]) or '0')
local month = tonumber(redis.call('GET', KEYS[2]) or '0')
if day + price > tonumber(ARGV[2]) then return 'daily' end
if month + price > tonumber(ARGV[3]) then return 'monthly' end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
local max = tonumber(ARGV[6])
if max > 0 and redis.call('ZCARD', KEYS[3]) >= max then return 'running' end
redis.call('INCRBY', KEYS[1], price)
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('INCRBY', KEYS[2], price)
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[9])
return 'ok'
"#;

/// A Lua function for the scripts that give money back: subtracts `amount` from a
/// counter that exists, floored at 0, keeping its expiry.
macro_rules! lua_take {
    () => {
        r#"
local function take(key, amount)
  local value = redis.call('GET', key)
  if value then
    local left = tonumber(value) - amount
    if left < 0 then left = 0 end
    redis.call('SET', key, left, 'KEEPTTL')
  end
end
"#
    };
}

/// Subtracts ARGV[1] from KEYS[1] and KEYS[2] (floored at 0, expiry kept) and removes
/// ARGV[2] from the running set KEYS[3].
const RELEASE: &str = concat!(
    lua_take!(),
    r#"
take(KEYS[1], tonumber(ARGV[1]))
take(KEYS[2], tonumber(ARGV[1]))
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"#
);

/// KEYS[1] task record, KEYS[2] running set; ARGV prefix, outcome, used expiry (ms).
/// Takes the record (once), then refunds or counts it as used. Returns the price, or
/// -1 when there is no record.
const SETTLE: &str = concat!(
    lua_take!(),
    r#"
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
redis.call('DEL', KEYS[1])
local r = cjson.decode(raw)
local prefix = ARGV[1]
redis.call('ZREM', KEYS[2], r.id)
local function add(key, amount)
  redis.call('INCRBY', key, amount)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIREAT', key, ARGV[3]) end
end
if ARGV[2] == 'failed' then
  take(prefix .. 'spend:day:' .. r.day, r.price)
  take(prefix .. 'spend:month:' .. r.month, r.price)
else
  add(prefix .. 'used:day:' .. r.day, r.price)
  add(prefix .. 'used:month:' .. r.month, r.price)
end
return r.price
"#
);

/// Counters in Redis, shared by every instance pointing at it.
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    rate: Script,
    give_back: Script,
    add_within: Script,
    reserve: Script,
    release: Script,
    settle: Script,
}

fn down(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); fails when Redis does not answer.
    /// Later outages are survived: the connection is re-made, and calls fail meanwhile.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(down)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = tokio::time::timeout(
            CALL_TIMEOUT * 4,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| StoreError("Redis did not answer in time".into()))?
        .map_err(down)?;
        let store = Self {
            connection,
            prefix: prefix.to_owned(),
            rate: Script::new(RATE),
            give_back: Script::new(GIVE_BACK),
            add_within: Script::new(ADD_WITHIN),
            reserve: Script::new(RESERVE),
            release: Script::new(RELEASE),
            settle: Script::new(SETTLE),
        };
        store.ping().await?;
        Ok(store)
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async(&mut connection))
            .await
            .map_err(|_| StoreError("Redis did not answer in time".into()))?
            .map_err(down)
    }

    /// Deletes every key under the prefix (tests only).
    #[doc(hidden)]
    pub async fn clear(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut connection)
            .await
            .map_err(down)?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut connection)
                .await
                .map_err(down)?;
        }
        Ok(())
    }
}

fn decision((allowed, retry_ms): (i64, i64)) -> Decision {
    if allowed == 1 {
        Decision::Allowed
    } else {
        Decision::Refused {
            retry_after_ms: retry_ms.max(1) as u64,
        }
    }
}

impl Store for RedisStore {
    async fn rate(&self, key: &str, rate: Rate, now_ms: u64) -> Result<Decision, StoreError> {
        let mut invocation = self.rate.key(self.key(key));
        invocation
            .arg(now_ms)
            .arg(rate.emission_ms())
            .arg(rate.tolerance_ms())
            .arg(rate.count)
            .arg(rate.period_ms);
        self.run(invocation).await.map(decision)
    }

    async fn give_back(&self, key: &str, rate: Rate, now_ms: u64) -> Result<(), StoreError> {
        let mut invocation = self.give_back.key(self.key(key));
        invocation.arg(now_ms).arg(rate.emission_ms());
        self.run::<i64>(invocation).await.map(|_| ())
    }

    async fn tat(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("GET");
        command.arg(self.key(key));
        let value: Option<String> =
            tokio::time::timeout(CALL_TIMEOUT, command.query_async(&mut connection))
                .await
                .map_err(|_| StoreError("Redis did not answer in time".into()))?
                .map_err(down)?;
        // The script writes Lua numbers: whole milliseconds, which Lua may print as a float.
        value
            .map(|text| {
                text.parse::<u64>()
                    .ok()
                    .or_else(|| text.parse::<f64>().ok().map(|ms| ms as u64))
                    .ok_or_else(|| StoreError(format!("a rate's TAT is not a number: {text}")))
            })
            .transpose()
    }

    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        cap: u64,
        period: &Period,
        now_ms: u64,
    ) -> Result<Decision, StoreError> {
        let mut invocation = self.add_within.key(self.key(key));
        invocation
            .arg(amount)
            .arg(cap)
            .arg(counter_expiry_ms(period))
            .arg(period.seconds_left(now_ms / 1000) * 1000);
        self.run(invocation).await.map(decision)
    }

    async fn reserve(&self, run: &RunRequest) -> Result<Result<Reservation, Refusal>, StoreError> {
        let mut invocation = self.reserve.key(self.key(&spend_key("day", &run.day.name)));
        invocation
            .key(self.key(&spend_key("month", &run.month.name)))
            .key(self.key("running"))
            .arg(run.price.0)
            .arg(run.day_cap.0)
            .arg(run.month_cap.0)
            .arg(counter_expiry_ms(&run.day))
            .arg(counter_expiry_ms(&run.month))
            .arg(run.max_running.unwrap_or(0))
            .arg(run.now_ms)
            .arg(run.now_ms.saturating_sub(run.running_max_age_ms))
            .arg(&run.reservation_id);
        let answer: String = self.run(invocation).await?;
        Ok(match answer.as_str() {
            "ok" => Ok(Reservation {
                id: run.reservation_id.clone(),
                price: run.price.0,
                day: run.day.name.clone(),
                month: run.month.name.clone(),
            }),
            "daily" => Err(Refusal::DailyBudget),
            "monthly" => Err(Refusal::MonthlyBudget),
            "running" => Err(Refusal::Running),
            other => return Err(StoreError(format!("unexpected reply {other}"))),
        })
    }

    async fn release(&self, reservation: &Reservation) -> Result<(), StoreError> {
        let mut invocation = self
            .release
            .key(self.key(&spend_key("day", &reservation.day)));
        invocation
            .key(self.key(&spend_key("month", &reservation.month)))
            .key(self.key("running"))
            .arg(reservation.price)
            .arg(&reservation.id);
        self.run::<i64>(invocation).await.map(|_| ())
    }

    async fn record_task(
        &self,
        task_id: &str,
        reservation: &Reservation,
        ttl_s: u64,
        _now_ms: u64,
    ) -> Result<(), StoreError> {
        let record = serde_json::to_string(reservation).map_err(down)?;
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(&format!("task:{task_id}")))
            .arg(record)
            .arg("EX")
            .arg(ttl_s);
        let set = command.query_async::<()>(&mut connection);
        tokio::time::timeout(CALL_TIMEOUT, set)
            .await
            .map_err(|_| StoreError("Redis did not answer in time".into()))?
            .map_err(down)
    }

    async fn settle(
        &self,
        task_id: &str,
        outcome: Outcome,
        now_ms: u64,
    ) -> Result<Option<Micros>, StoreError> {
        let mut invocation = self.settle.key(self.key(&format!("task:{task_id}")));
        invocation
            .key(self.key("running"))
            .arg(&self.prefix)
            .arg(match outcome {
                Outcome::Failed => "failed",
                Outcome::Spent => "spent",
            })
            .arg(now_ms + 62 * 86_400_000);
        let price: i64 = self.run(invocation).await?;
        Ok((price >= 0).then_some(Micros(price as u64)))
    }

    async fn spend(
        &self,
        day: &Period,
        month: &Period,
        now_ms: u64,
        running_max_age_ms: u64,
    ) -> Result<Spend, StoreError> {
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("MGET")
            .arg(self.key(&spend_key("day", &day.name)))
            .arg(self.key(&used_key("day", &day.name)))
            .arg(self.key(&spend_key("month", &month.name)))
            .arg(self.key(&used_key("month", &month.name)))
            .cmd("ZCOUNT")
            .arg(self.key("running"))
            .arg(format!("({}", now_ms.saturating_sub(running_max_age_ms)))
            .arg("+inf");
        let (values, running): (Vec<Option<u64>>, u64) =
            tokio::time::timeout(CALL_TIMEOUT, pipe.query_async(&mut connection))
                .await
                .map_err(|_| StoreError("Redis did not answer in time".into()))?
                .map_err(down)?;
        let at = |i: usize| Micros(values.get(i).copied().flatten().unwrap_or(0));
        Ok(Spend {
            day_reserved: at(0),
            day_used: at(1),
            month_reserved: at(2),
            month_used: at(3),
            running,
        })
    }

    async fn first_sight(&self, key: &str, ttl_ms: u64, _now_ms: u64) -> Result<bool, StoreError> {
        // SET NX: one instance sets it; Redis forgets it after ttl_ms by its own clock.
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1));
        let set = command.query_async::<Option<String>>(&mut connection);
        tokio::time::timeout(CALL_TIMEOUT, set)
            .await
            .map_err(|_| StoreError("Redis did not answer in time".into()))?
            .map(|reply| reply.is_some())
            .map_err(down)
    }

    async fn take(&self, key: &str, _now_ms: u64) -> Result<bool, StoreError> {
        // DEL answers 1 to exactly one caller; Redis forgets expired keys by itself.
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("DEL");
        command.arg(self.key(key));
        let deleted = command.query_async::<i64>(&mut connection);
        tokio::time::timeout(CALL_TIMEOUT, deleted)
            .await
            .map_err(|_| StoreError("Redis did not answer in time".into()))?
            .map(|n| n == 1)
            .map_err(down)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        tokio::time::timeout(CALL_TIMEOUT, ping)
            .await
            .map_err(|_| StoreError("Redis did not answer in time".into()))?
            .map_err(down)
            .map(|_| ())
    }
}
