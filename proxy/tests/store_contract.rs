//! One contract, three stores: the in-memory store, the Redis store (against a real
//! `redis-server` started for the test) and the Worker's store — each operation a
//! message to an object answering with its saved state ([`ops::handle`]), here rebuilt
//! from that state for every message, as a Durable Object restarted between any two —
//! must give the same answers to the same calls, and none may ever let spend pass its
//! cap, under any interleaving.

mod support;

use std::sync::Arc;

use multishot_proxy::clock::{self, Period};
use std::collections::HashMap;

use multishot_proxy::limits::memory::MemoryStore;
use multishot_proxy::limits::ops::{self, Carrier, Messages};
use multishot_proxy::limits::redis::RedisStore;
use multishot_proxy::limits::{
    gcra, Decision, Outcome, Rate, Refusal, RunRequest, Store, StoreError,
};
use multishot_proxy::money::Micros;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const PRICE: Micros = Micros(70_000);

fn run(
    day_cap: u64,
    month_cap: u64,
    max_running: Option<u32>,
    now_ms: u64,
    id: &str,
) -> RunRequest {
    RunRequest {
        price: PRICE,
        day: clock::day(now_ms / 1000),
        day_cap: Micros(day_cap),
        month: clock::month(now_ms / 1000),
        month_cap: Micros(month_cap),
        max_running,
        running_max_age_ms: 60_000,
        now_ms,
        reservation_id: id.to_owned(),
    }
}

fn today(now: u64) -> (Period, Period) {
    (clock::day(now / 1000), clock::month(now / 1000))
}

/// The whole contract, on one store, at `now` (Unix ms).
///
/// Redis expires keys by its own clock, so a Redis store is only ever run at its server's
/// present or later ([`support::Redis::now_ms`]); the memory store reads no clock and may
/// be run at any instant.
async fn contract<S: Store>(store: &S, now: u64) {
    // A key is seen once while it is remembered; another key is its own.
    assert_eq!(store.first_sight("seen:t1", 300_000, now).await, Ok(true));
    assert_eq!(
        store.first_sight("seen:t1", 300_000, now).await,
        Ok(false),
        "spent"
    );
    assert_eq!(
        store.first_sight("seen:t1", 300_000, now + 1).await,
        Ok(false)
    );
    assert_eq!(store.first_sight("seen:t2", 300_000, now).await, Ok(true));
    // Taken by one caller only; a key never seen is not taken.
    assert_eq!(store.take("seen:t2", now).await, Ok(true));
    assert_eq!(store.take("seen:t2", now).await, Ok(false));
    assert_eq!(store.take("seen:never", now).await, Ok(false));
    // Rates: a burst of `count`, then one per emission interval.
    let rate = Rate::per_second(2);
    assert_eq!(
        store.rate("rate:t:a", rate, now).await,
        Ok(Decision::Allowed)
    );
    assert_eq!(
        store.rate("rate:t:a", rate, now).await,
        Ok(Decision::Allowed)
    );
    assert_eq!(
        store.rate("rate:t:a", rate, now).await,
        Ok(Decision::Refused {
            retry_after_ms: 500
        })
    );
    assert_eq!(
        store.rate("rate:t:b", rate, now).await,
        Ok(Decision::Allowed),
        "per key"
    );
    assert_eq!(
        store.rate("rate:t:a", rate, now + 500).await,
        Ok(Decision::Allowed)
    );
    assert!(matches!(
        store.rate("rate:t:z", Rate::per_hour(0), now).await,
        Ok(Decision::Refused { .. })
    ));
    // Given back: taken again once, and never more than was taken.
    let hourly = Rate::per_hour(2);
    for _ in 0..2 {
        assert_eq!(
            store.rate("rate:t:g", hourly, now).await,
            Ok(Decision::Allowed)
        );
    }
    assert!(matches!(
        store.rate("rate:t:g", hourly, now).await,
        Ok(Decision::Refused { .. })
    ));
    store
        .give_back("rate:t:g", hourly, now)
        .await
        .expect("given back");
    assert_eq!(
        store.rate("rate:t:g", hourly, now).await,
        Ok(Decision::Allowed)
    );
    for _ in 0..4 {
        store
            .give_back("rate:t:g", hourly, now)
            .await
            .expect("given back");
    }
    assert_eq!(store.tat("rate:t:g").await, Ok(None), "all of it back");
    store
        .give_back("rate:t:never", hourly, now)
        .await
        .expect("a no-op");
    assert_eq!(store.tat("rate:t:never").await, Ok(None));
    // What a rate has left is read without taking from it.
    assert_eq!(store.tat("rate:t:never").await, Ok(None));
    let tat = store.tat("rate:t:b").await.unwrap();
    assert_eq!(tat, Some(now + 500), "one taken of 2 per second");
    assert_eq!(gcra::left(tat, rate, now).count, 1);
    assert_eq!(
        store.tat("rate:t:b").await.unwrap(),
        tat,
        "reading changes nothing"
    );
    assert_eq!(
        store.rate("rate:t:b", rate, now).await,
        Ok(Decision::Allowed)
    );
    assert_eq!(
        gcra::left(store.tat("rate:t:b").await.unwrap(), rate, now).count,
        0
    );

    // A counter with a cap.
    let (day, month) = today(now);
    let left_ms = day.seconds_left(now / 1000) * 1000;
    assert_eq!(
        store.add_within("bytes:x", 60, 100, &day, now).await,
        Ok(Decision::Allowed)
    );
    assert_eq!(
        store.add_within("bytes:x", 50, 100, &day, now).await,
        Ok(Decision::Refused {
            retry_after_ms: left_ms
        })
    );
    assert_eq!(
        store.add_within("bytes:x", 40, 100, &day, now).await,
        Ok(Decision::Allowed)
    );
    assert!(matches!(
        store.add_within("bytes:x", 1, 100, &day, now).await,
        Ok(Decision::Refused { .. })
    ));

    // The daily cap: three runs of $0.07 in $0.21, then refused.
    let mut held = Vec::new();
    for i in 0..3 {
        let reservation = store
            .reserve(&run(210_000, 10_000_000, None, now, &format!("r{i}")))
            .await
            .expect("the store answers")
            .expect("within the cap");
        assert_eq!(reservation.price, 70_000);
        assert_eq!(reservation.day, day.name);
        held.push(reservation);
    }
    assert_eq!(
        store
            .reserve(&run(210_000, 10_000_000, None, now, "r3"))
            .await,
        Ok(Err(Refusal::DailyBudget))
    );
    let spend = store.spend(&day, &month, now, 60_000).await.expect("spend");
    assert_eq!(spend.day_reserved, Micros(210_000));
    assert_eq!(spend.month_reserved, Micros(210_000));
    assert_eq!(spend.running, 3);

    // Released (no task made): the money and the running slot come back.
    store.release(&held[0]).await.expect("released");
    let spend = store.spend(&day, &month, now, 60_000).await.expect("spend");
    assert_eq!((spend.day_reserved, spend.running), (Micros(140_000), 2));
    let again = store
        .reserve(&run(210_000, 10_000_000, None, now, "r4"))
        .await
        .expect("the store answers")
        .expect("room again");

    // Settled exactly once: a failed task is refunded, a completed one is spent.
    store
        .record_task("task-failed", &held[1], 600, now)
        .await
        .expect("recorded");
    store
        .record_task("task-done", &held[2], 600, now)
        .await
        .expect("recorded");
    assert_eq!(
        store.settle("task-failed", Outcome::Failed, now).await,
        Ok(Some(PRICE))
    );
    assert_eq!(
        store.settle("task-failed", Outcome::Failed, now).await,
        Ok(None)
    );
    assert_eq!(
        store.settle("task-done", Outcome::Spent, now).await,
        Ok(Some(PRICE))
    );
    assert_eq!(
        store.settle("task-done", Outcome::Failed, now).await,
        Ok(None)
    );
    assert_eq!(
        store.settle("never-seen", Outcome::Failed, now).await,
        Ok(None)
    );
    let spend = store.spend(&day, &month, now, 60_000).await.expect("spend");
    assert_eq!(spend.day_reserved, Micros(140_000), "one refund, not two");
    assert_eq!(spend.day_used, Micros(70_000));
    assert_eq!(spend.month_used, Micros(70_000));
    assert_eq!(spend.running, 1, "only `again` is still running");
    drop(again);

    // Tomorrow has a budget of its own.
    let tomorrow = now + 86_400_000;
    assert!(store
        .reserve(&run(210_000, 10_000_000, None, tomorrow, "t0"))
        .await
        .expect("the store answers")
        .is_ok());

    // The monthly cap, in a month nothing was spent in yet (at a month's end, tomorrow
    // is already the next month).
    let next_month = clock::month(tomorrow / 1000).ends_at * 1000 + 1000;
    assert!(store
        .reserve(&run(10_000_000, 70_000, None, next_month, "m0"))
        .await
        .expect("answers")
        .is_ok());
    assert_eq!(
        store
            .reserve(&run(10_000_000, 70_000, None, next_month, "m1"))
            .await,
        Ok(Err(Refusal::MonthlyBudget))
    );

    // Tasks at once: two, then refused until the old ones age out.
    let later = next_month + 40 * 86_400_000;
    for i in 0..2 {
        assert!(store
            .reserve(&run(
                10_000_000,
                10_000_000,
                Some(2),
                later,
                &format!("c{i}")
            ))
            .await
            .expect("answers")
            .is_ok());
    }
    assert_eq!(
        store
            .reserve(&run(10_000_000, 10_000_000, Some(2), later, "c2"))
            .await,
        Ok(Err(Refusal::Running))
    );
    assert!(store
        .reserve(&run(10_000_000, 10_000_000, Some(2), later + 60_001, "c3"))
        .await
        .expect("answers")
        .is_ok());
    assert!(store.ping().await.is_ok());
}

/// The instants the contract is run at, from `now` on: now itself, and the last
/// millisecond of this UTC day, of this month, of this year and of the next 29 February —
/// the ends where a day, a month and a leap day turn over. All at or after `now`, so a
/// store that expires keys by a real clock can be run at every one.
fn instants(now: u64) -> Vec<u64> {
    let year = clock::civil_from_days((now / 86_400_000) as i64).0;
    let last_ms_of =
        |(y, m, d): (i64, u32, u32)| (clock::days_from_civil(y, m, d) as u64 + 1) * 86_400_000 - 1;
    let day_end = clock::day(now / 1000).ends_at * 1000 - 1;
    let month_end = clock::month(now / 1000).ends_at * 1000 - 1;
    let year_end = last_ms_of((year, 12, 31));
    let leap_day = (year..)
        .filter(|y| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0)
        .map(|y| last_ms_of((y, 2, 29)))
        .find(|&end| end >= now)
        .expect("a leap year ahead");
    vec![now, day_end, month_end, year_end, leap_day]
}

#[test]
fn the_instants_are_the_ends_of_periods_from_now_on() {
    // 2028-02-10T12:00:00Z: the day, the month (a leap February) and the leap day.
    let now = clock::days_from_civil(2028, 2, 10) as u64 * 86_400_000 + 43_200_000;
    let names: Vec<String> = instants(now)
        .into_iter()
        .map(|at| clock::iso8601(at / 1000))
        .collect();
    assert_eq!(
        names,
        [
            "2028-02-10T12:00:00Z",
            "2028-02-10T23:59:59Z",
            "2028-02-29T23:59:59Z",
            "2028-12-31T23:59:59Z",
            "2028-02-29T23:59:59Z",
        ]
    );
    // After this year's leap day, the next one is four years on.
    let march = clock::days_from_civil(2028, 3, 1) as u64 * 86_400_000;
    assert_eq!(
        clock::iso8601(instants(march)[4] / 1000),
        "2032-02-29T23:59:59Z"
    );
    assert!(instants(march).iter().all(|&at| at >= march));
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    // The memory store reads no clock: any instant will do, past ones included.
    let past = clock::days_from_civil(2024, 2, 28) as u64 * 86_400_000;
    for now in instants(support::wall_clock_ms())
        .into_iter()
        .chain(instants(past))
    {
        contract(&MemoryStore::new(), now).await;
    }
}

/// The Worker's store without the Worker: objects that keep nothing but the state they
/// saved, rebuilt from it for every message.
#[derive(Default)]
struct Restarted {
    saved: tokio::sync::Mutex<HashMap<String, String>>,
}

impl Carrier for Restarted {
    async fn carry(&self, object: String, message: String) -> Result<String, StoreError> {
        let mut saved = self.saved.lock().await;
        let store = MemoryStore::new();
        if let Some(state) = saved.get(&object) {
            store.restore(state)?;
        }
        let (answer, save) = ops::handle(&store, &message).await;
        if let Some(state) = save {
            saved.insert(object, state);
        }
        Ok(answer)
    }
}

#[tokio::test]
async fn the_workers_store_keeps_the_contract_through_messages_and_restarts() {
    let past = clock::days_from_civil(2024, 2, 28) as u64 * 86_400_000;
    for now in instants(support::wall_clock_ms())
        .into_iter()
        .chain(instants(past))
    {
        let store = Messages(Restarted::default());
        contract(&store, now).await;
        let objects = store.0.saved.lock().await;
        assert!(
            objects.contains_key(ops::BUDGET_OBJECT) && objects.len() > 2,
            "the budget in its object, keyed counters spread: {:?}",
            objects.keys().collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn a_message_that_is_not_an_operation_is_answered_as_a_failure_and_saves_nothing() {
    let store = MemoryStore::new();
    for message in ["", "{}", r#"{"op":"reserve"}"#, r#"{"op":"drop_all"}"#] {
        let (answer, save) = ops::handle(&store, message).await;
        assert!(
            answer.starts_with(r#"{"answer":"failed""#),
            "{message}: {answer}"
        );
        assert_eq!(save, None);
    }
    // A read changes nothing and saves nothing; a write saves.
    let (_, save) = ops::handle(&store, r#"{"op":"ping"}"#).await;
    assert_eq!(save, None);
    let (_, save) = ops::handle(&store, r#"{"op":"take","key":"k","now_ms":5}"#).await;
    assert!(save.is_some());
    assert!(MemoryStore::new().restore("not a state").is_err());
}

#[tokio::test]
async fn a_key_seen_is_forgotten_after_its_time_in_either_store() {
    let memory = MemoryStore::new();
    let now = support::wall_clock_ms();
    assert_eq!(memory.first_sight("seen:x", 1_000, now).await, Ok(true));
    assert_eq!(
        memory.first_sight("seen:x", 1_000, now + 999).await,
        Ok(false)
    );
    assert_eq!(
        memory.first_sight("seen:x", 1_000, now + 1_000).await,
        Ok(true)
    );
    // Redis forgets by its own clock: a short time, waited out.
    let redis = support::Redis::start().await;
    let store = RedisStore::connect(&redis.url, "forget:")
        .await
        .expect("Redis answers");
    let now = redis.now_ms().await;
    assert_eq!(store.first_sight("seen:x", 200, now).await, Ok(true));
    assert_eq!(store.first_sight("seen:x", 200, now).await, Ok(false));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(store.first_sight("seen:x", 200, now).await, Ok(true));
    redis.stop().await;
}

#[tokio::test]
async fn the_redis_store_keeps_the_contract() {
    let redis = support::Redis::start().await;
    // Redis expires keys by its own clock: the contract runs at its present and later.
    for (i, now) in instants(redis.now_ms().await).into_iter().enumerate() {
        let store = RedisStore::connect(&redis.url, &format!("contract{i}:"))
            .await
            .expect("Redis answers");
        contract(&store, now).await;
    }
    redis.stop().await;
}

/// One random operation of a visitor's run.
#[derive(Clone, Debug)]
enum Op {
    Reserve,
    ReleaseLast,
    FailLast,
    CompleteLast,
}

fn ops() -> impl Strategy<Value = Vec<Vec<Op>>> {
    let op = prop_oneof![
        6 => Just(Op::Reserve),
        1 => Just(Op::ReleaseLast),
        1 => Just(Op::FailLast),
        1 => Just(Op::CompleteLast),
    ];
    proptest::collection::vec(proptest::collection::vec(op, 1..30), 2..8)
}

/// Runs each worker's operations concurrently on a multi-threaded runtime and checks
/// the money: spend never passes the cap, and what is counted is exactly what was
/// reserved minus what was given back.
fn spend_never_passes_the_cap<S: Store, F: std::future::Future<Output = S>>(
    make: impl FnOnce() -> F,
    now: u64,
    cap_runs: u64,
    workers: Vec<Vec<Op>>,
    tag: &str,
) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    let store = Arc::new(runtime.block_on(make()));
    let cap = PRICE.0 * cap_runs;
    let (reserved, returned) = runtime.block_on(async {
        let mut handles = Vec::new();
        for (w, ops) in workers.into_iter().enumerate() {
            let store = Arc::clone(&store);
            let tag = tag.to_owned();
            handles.push(tokio::spawn(async move {
                let (mut reserved, mut returned) = (0u64, 0u64);
                let mut mine = Vec::new();
                for (i, op) in ops.into_iter().enumerate() {
                    let id = format!("{tag}-{w}-{i}");
                    match op {
                        Op::Reserve => {
                            if let Ok(Ok(r)) =
                                store.reserve(&run(cap, u64::MAX / 4, None, now, &id)).await
                            {
                                reserved += r.price;
                                store
                                    .record_task(&id, &r, 600, now)
                                    .await
                                    .expect("recorded");
                                mine.push(id);
                            }
                        }
                        Op::ReleaseLast | Op::FailLast | Op::CompleteLast => {
                            let Some(task) = mine.pop() else { continue };
                            let outcome = if matches!(op, Op::CompleteLast) {
                                Outcome::Spent
                            } else {
                                Outcome::Failed
                            };
                            if let Ok(Some(price)) = store.settle(&task, outcome, now).await {
                                if outcome == Outcome::Failed {
                                    returned += price.0;
                                }
                            }
                        }
                    }
                    let (day, month) = today(now);
                    let spend = store.spend(&day, &month, now, 60_000).await.expect("spend");
                    assert!(
                        spend.day_reserved.0 <= cap,
                        "spend {} over the cap {}",
                        spend.day_reserved.0,
                        cap
                    );
                }
                (reserved, returned)
            }));
        }
        let mut totals = (0, 0);
        for handle in handles {
            let (r, g) = handle.await.expect("a worker");
            totals.0 += r;
            totals.1 += g;
        }
        totals
    });
    let (day, month) = today(now);
    let spend = runtime
        .block_on(store.spend(&day, &month, now, 60_000))
        .expect("spend");
    prop_assert!(spend.day_reserved.0 <= cap);
    prop_assert_eq!(spend.day_reserved.0, reserved - returned);
    prop_assert!(
        reserved <= cap + returned,
        "reserved {} with {} returned, cap {}",
        reserved,
        returned,
        cap
    );
    Ok(())
}

#[test]
fn concurrent_reservations_never_pass_the_cap_in_memory() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&(1u64..12, ops()), |(cap_runs, workers)| {
            spend_never_passes_the_cap(
                || async { MemoryStore::new() },
                support::wall_clock_ms(),
                cap_runs,
                workers,
                "m",
            )
        })
        .expect("the cap holds");
}

#[test]
fn concurrent_reservations_never_pass_the_cap_through_messages() {
    let mut runner = TestRunner::new(Config {
        cases: 32,
        ..Config::default()
    });
    runner
        .run(&(1u64..12, ops()), |(cap_runs, workers)| {
            spend_never_passes_the_cap(
                || async { Messages(Restarted::default()) },
                support::wall_clock_ms(),
                cap_runs,
                workers,
                "w",
            )
        })
        .expect("the cap holds");
}

#[test]
fn concurrent_reservations_never_pass_the_cap_in_redis() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let redis = runtime.block_on(support::Redis::start());
    // Redis expires keys by its own clock: every case runs at the server's present.
    let now = runtime.block_on(redis.now_ms());
    let mut runner = TestRunner::new(Config {
        cases: 12,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&(1u64..12, ops()), |(cap_runs, workers)| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let prefix = format!("case{n}:");
            let url = redis.url.clone();
            let make = || async move {
                RedisStore::connect(&url, &format!("case{n}:"))
                    .await
                    .expect("Redis answers")
            };
            spend_never_passes_the_cap(make, now, cap_runs, workers, &prefix)
        })
        .expect("the cap holds");
    runtime.block_on(redis.stop());
}
