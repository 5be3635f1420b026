//! Several instances, one budget: two `multishot-proxy` processes sharing one real
//! `redis-server`, a seeded burst of 200 concurrent submits against a cap of N runs,
//! restarts of both instances, and Redis going away.

mod support;

use serde_json::{json, Value};
use support::{answer, Fake, ProxyProcess, Redis, KEY, ORIGIN};
use support::{poll_token as poll, submit_as as submit};

use support::SUBMIT_PATH as SUBMIT;
/// The cap: N runs of $0.07.
const N: usize = 7;
const BURST: usize = 200;

/// xorshift64*: a seeded, repeatable stream of choices.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn flags(redis: &Redis) -> Vec<String> {
    flags_with(
        redis,
        &["--daily-budget-usd", "0.49", "--runs-per-minute", "1000"],
    )
}

fn flags_with(redis: &Redis, more: &[&str]) -> Vec<String> {
    ["--redis", &redis.url, "--redis-prefix", "dist:"]
        .iter()
        .chain(support::MANY_VISITORS)
        .chain(more)
        .map(|s| s.to_string())
        .collect()
}

async fn start(fake: &Fake, redis: &Redis) -> ProxyProcess {
    let flags = flags(redis);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    ProxyProcess::start(&fake.url, &flags).await
}

async fn metric(base: &str, name: &str) -> Option<u64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_budget_through_restarts_and_fail_closed_without_redis() {
    let seed: u64 = std::env::var("LOAD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    let redis = Redis::start().await;
    let fake = Fake::start().await;
    let a = start(&fake, &redis).await;
    let b = start(&fake, &redis).await;

    // The burst: each submit to a seeded instance, as a seeded visitor, all at once.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let mut rng = Seeded(seed | 1);
    let mut burst = Vec::new();
    for _ in 0..BURST {
        let base = if rng.next() % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let visitor = format!("198.51.100.{}", rng.next() % 250 + 1);
        let client = client.clone();
        burst.push(tokio::spawn(async move {
            submit(&client, &base, &visitor).await
        }));
    }
    let mut accepted = Vec::new();
    let mut refused = 0;
    for request in burst {
        let answer = request.await.expect("a request");
        match answer.status {
            200 => accepted.push(
                answer.json["data"]["id"]
                    .as_str()
                    .expect("a token")
                    .to_owned(),
            ),
            429 => {
                assert_eq!(answer.json["reason"], "daily_budget", "{}", answer.text);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    assert_eq!(
        accepted.len(),
        N,
        "seed {seed}: exactly the cap's runs are accepted"
    );
    assert_eq!(
        refused,
        BURST - N,
        "seed {seed}: every other request gets 429"
    );
    assert_eq!(
        fake.kinds("submit").await.len(),
        N,
        "seed {seed}: no submit beyond the cap reached WaveSpeed"
    );
    for base in [&a.url, &b.url] {
        assert_eq!(
            metric(
                base,
                "multishot_proxy_spend_reserved_micro_usd{period=\"day\"}"
            )
            .await,
            Some(70_000 * N as u64)
        );
    }

    // Both instances restart: the counters are in Redis, and the tokens still read.
    let logs = [a.stop().await, b.stop().await];
    for log in &logs {
        assert!(
            !log.contains(KEY) && !log.contains("CANARY"),
            "the key in a log:\n{log}"
        );
        assert!(log.contains("multishot-proxy starting"), "{log}");
        for line in log.lines() {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        }
    }
    // Each accepted run is logged once, by the instance that made it.
    let submitted: usize = logs
        .iter()
        .map(|log| log.matches("\"run submitted\"").count())
        .sum();
    assert_eq!(submitted, N, "seed {seed}: the runs in the logs");
    let a = start(&fake, &redis).await;
    let b = start(&fake, &redis).await;
    assert_eq!(
        metric(
            &b.url,
            "multishot_proxy_spend_reserved_micro_usd{period=\"day\"}"
        )
        .await,
        Some(70_000 * N as u64),
        "the spend survived the restart"
    );
    let after = submit(&client, &a.url, "203.0.113.1").await;
    assert_eq!(after.status, 429, "{}", after.text);
    let polled = poll(&client, &b.url, &accepted[0]).await;
    assert_eq!(
        polled.status, 200,
        "a token from before the restart: {}",
        polled.text
    );

    // Redis goes away: submits fail closed, polls of existing tokens go on.
    redis.stop().await;
    let down = submit(&client, &a.url, "203.0.113.2").await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert_eq!(down.json["reason"], "store_down");
    assert_eq!(
        down.json["message"],
        "The generator on this site is unavailable right now; your image was not charged."
    );
    for token in &accepted[..3] {
        let polled = poll(&client, &a.url, token).await;
        assert_eq!(
            polled.status, 200,
            "polls work without Redis: {}",
            polled.text
        );
    }
    let health = reqwest::get(format!("{}/healthz", a.url))
        .await
        .expect("the proxy answers")
        .text()
        .await
        .unwrap_or_default();
    assert!(health.contains("\"store\":\"down\""), "{health}");
    assert_eq!(fake.kinds("submit").await.len(), N);
    a.stop().await;
    b.stop().await;
}

/// With the budget out of the way, a flood of 200 concurrent submits from 200 visitors
/// through two instances starts exactly `--runs-per-minute` runs: the site-wide burst
/// limit is one counter in Redis, taken atomically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_through_two_instances_starts_exactly_the_burst_limit() {
    let redis = Redis::start().await;
    let fake = Fake::start().await;
    let flags = flags_with(
        &redis,
        &["--daily-budget-usd", "100", "--runs-per-minute", "7"],
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let a = ProxyProcess::start(&fake.url, &flags).await;
    let b = ProxyProcess::start(&fake.url, &flags).await;
    let accepted = support::flood(&[&a.url, &b.url], BURST, "burst").await;
    assert_eq!(accepted, N, "exactly the burst limit's runs start");
    assert_eq!(fake.kinds("submit").await.len(), N, "and reach WaveSpeed");
    let refused: u64 = [
        metric(&a.url, "multishot_proxy_limits_hit_total{limit=\"burst\"}").await,
        metric(&b.url, "multishot_proxy_limits_hit_total{limit=\"burst\"}").await,
    ]
    .into_iter()
    .flatten()
    .sum();
    assert_eq!(refused, (BURST - N) as u64, "every refusal counted");
    assert_eq!(
        metric(&a.url, "multishot_proxy_burst_runs_left").await,
        Some(0),
        "the flood is visible in /metrics"
    );
    a.stop().await;
    b.stop().await;
    redis.stop().await;
}

/// With the bot check on, a token is spent once across instances: the second instance
/// reads it as a replay from Redis; the pass an upload left on one instance is taken by
/// the submit of its image on the other, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_check_token_runs_once_across_instances() {
    let redis = Redis::start().await;
    let fake = Fake::start().await;
    let verify = format!("{}/turnstile/v0/siteverify", fake.url);
    let flags = flags_with(
        &redis,
        &[
            "--daily-budget-usd",
            "100",
            "--runs-per-minute",
            "1000",
            "--turnstile-secret",
            "1x0000000000000000000000000000000AA",
            "--turnstile-verify-url",
            &verify,
        ],
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let a = ProxyProcess::start(&fake.url, &flags).await;
    let b = ProxyProcess::start(&fake.url, &flags).await;
    let client = reqwest::Client::new();
    let send = |base: &str, token: Option<&str>, body: String| {
        let mut request = client
            .post(format!("{base}{SUBMIT}"))
            .header("Origin", ORIGIN)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.header("X-Turnstile-Token", token);
        }
        async move { answer(request.send().await.expect("the proxy answers")).await }
    };
    let token = "stand-in~127.0.0.1~multishot_generate~42".to_owned();
    let image = json!({"image": "https://images.example/photo.jpg"}).to_string();
    let first = send(&a.url, Some(&token), image.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = send(&b.url, Some(&token), image).await;
    assert_eq!(again.status, 403, "{}", again.text);
    assert_eq!(again.json["reason"], "bot_check");

    let uploaded = answer(
        client
            .post(format!("{}/api/v3/media/upload/binary", a.url))
            .header("Origin", ORIGIN)
            .header(
                "X-Turnstile-Token",
                "stand-in~127.0.0.1~multishot_generate~43",
            )
            .multipart(support::file_form(
                support::png(800, 600, 4096),
                "photo.png",
            ))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text);
    let body = json!({"image": uploaded.json["data"]["download_url"]}).to_string();
    let ran = send(&b.url, None, body.clone()).await;
    assert_eq!(ran.status, 200, "{}", ran.text);
    let replayed = send(&a.url, None, body).await;
    assert_eq!(replayed.status, 403, "{}", replayed.text);
    assert_eq!(fake.kinds("submit").await.len(), 2);
    a.stop().await;
    b.stop().await;
    redis.stop().await;
}
