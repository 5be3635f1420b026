//! The proxy's second home: the Cloudflare Worker (`proxy-worker/`) in workerd, started
//! by `proxy-worker/run-local` with the binary's command line. The e2e proxy tests run
//! against it too (`PROXY_HOME=worker`, `make test-e2e`); here, what is the Worker's own:
//! the budget's Durable Object under 200 concurrent submits, a restart of workerd (the
//! day's spend and old tokens kept on disk), a panic in the counters' object, and how
//! run-local refuses a command line.

mod support;

use std::process::Stdio;

use serde_json::{json, Value};
use support::{answer, Fake, Home, ProxyProcess, ORIGIN};
use support::{poll_token as poll, submit_as as submit};

const BURST: usize = 200;
/// The cap: N runs of $0.07.
const N: usize = 7;

/// A budget of `day_usd` for many visitors ([`support::MANY_VISITORS`]).
fn flags(day_usd: &'static str) -> Vec<&'static str> {
    let mut flags = vec!["--daily-budget-usd", day_usd, "--runs-per-minute", "1000"];
    flags.extend_from_slice(support::MANY_VISITORS);
    flags
}

async fn site_runs_left_today(client: &reqwest::Client, base: &str) -> Value {
    let quota = answer(
        client
            .get(format!("{base}/quota"))
            .header("Origin", ORIGIN)
            .header("X-Forwarded-For", "203.0.113.9")
            .send()
            .await
            .expect("the Worker answers"),
    )
    .await;
    assert_eq!(quota.status, 200, "{}", quota.text);
    quota.json["site"]["runs_left_today"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_submits_against_a_cap_of_seven_start_exactly_seven() {
    let fake = Fake::start().await;
    let worker = ProxyProcess::start_in(Home::Worker, &fake.url, &flags("0.49"), &[]).await;
    let client = reqwest::Client::new();
    let accepted = support::flood(&[&worker.url], BURST, "daily_budget").await;
    assert_eq!(accepted, N, "exactly the cap's runs are accepted");
    assert_eq!(
        fake.kinds("submit").await.len(),
        N,
        "no submit beyond the cap reached WaveSpeed"
    );
    assert_eq!(site_runs_left_today(&client, &worker.url).await, json!(0));
    let log = worker.stop().await;
    assert!(!log.contains(support::KEY), "the key is in no log line");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_workerd_keeps_the_days_spend_and_an_old_token_still_polls() {
    let fake = Fake::start().await;
    let state = tempdir("restart");
    let env = [("MULTISHOT_WORKER_STATE", state.to_str().expect("a path"))];
    let client = reqwest::Client::new();

    let first = ProxyProcess::start_in(Home::Worker, &fake.url, &flags("0.21"), &env).await;
    let ran = submit(&client, &first.url, "198.51.100.1").await;
    assert_eq!(ran.status, 200, "{}", ran.text);
    let token = ran.json["data"]["id"].as_str().expect("a token").to_owned();
    assert_eq!(site_runs_left_today(&client, &first.url).await, json!(2));
    first.stop().await;

    let second = ProxyProcess::start_in(Home::Worker, &fake.url, &flags("0.21"), &env).await;
    assert_eq!(
        site_runs_left_today(&client, &second.url).await,
        json!(2),
        "the day's spend survived the restart"
    );
    let polled = poll(&client, &second.url, &token).await;
    assert_eq!(
        polled.status, 200,
        "an old token still polls: {}",
        polled.text
    );
    for visitor in ["198.51.100.2", "198.51.100.3"] {
        assert_eq!(submit(&client, &second.url, visitor).await.status, 200);
    }
    let refused = submit(&client, &second.url, "198.51.100.4").await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    second.stop().await;

    // Without the kept state, a Worker starts from nothing (as the binary's memory does).
    let fresh = ProxyProcess::start_in(Home::Worker, &fake.url, &flags("0.21"), &[]).await;
    assert_eq!(site_runs_left_today(&client, &fresh.url).await, json!(3));
    fresh.stop().await;
    assert_eq!(fake.kinds("submit").await.len(), 3);
    let _ = std::fs::remove_dir_all(&state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_counters_object_does_not_stick_it() {
    let fake = Fake::start().await;
    let env = [("MULTISHOT_WORKER_TEST_HOOKS", "1")];
    let worker = ProxyProcess::start_in(Home::Worker, &fake.url, &flags("0.21"), &env).await;
    let client = reqwest::Client::new();
    assert_eq!(
        submit(&client, &worker.url, "198.51.100.1").await.status,
        200
    );
    for _ in 0..2 {
        let panicked = client
            .get(format!("{}/__test/panic-counters", worker.url))
            .send()
            .await
            .expect("the Worker answers")
            .text()
            .await
            .unwrap_or_default();
        assert!(
            panicked.starts_with("failed"),
            "the object panicked: {panicked}"
        );
        // The next message is handled, by an object rebuilt from what it saved.
        assert_eq!(site_runs_left_today(&client, &worker.url).await, json!(2));
    }
    assert_eq!(
        submit(&client, &worker.url, "198.51.100.2").await.status,
        200
    );
    assert_eq!(site_runs_left_today(&client, &worker.url).await, json!(1));
    worker.stop().await;
}

#[tokio::test]
async fn the_test_hook_is_off_unless_asked_for() {
    let fake = Fake::start().await;
    let worker = ProxyProcess::start_in(Home::Worker, &fake.url, &flags("0.21"), &[]).await;
    let reply = reqwest::get(format!("{}/__test/panic-counters", worker.url))
        .await
        .expect("the Worker answers");
    assert_eq!(reply.status(), 404);
    worker.stop().await;
}

#[tokio::test]
async fn run_local_stops_workerd_on_sigterm() {
    let fake = Fake::start().await;
    let mut worker = ProxyProcess::start_in(Home::Worker, &fake.url, &flags("0.21"), &[]).await;
    let address = worker.url.trim_start_matches("http://").to_owned();
    let pid = worker.child.id().expect("a pid");
    let _ = tokio::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .await;
    let status = tokio::time::timeout(std::time::Duration::from_secs(15), worker.child.wait())
        .await
        .expect("run-local stops within 15 s")
        .expect("an exit status");
    assert!(status.success(), "{status}");
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "workerd stopped with it"
    );
}

#[tokio::test]
async fn run_local_refuses_what_the_binary_refuses_with_exit_code_2() {
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (&["--allow-origin", ORIGIN], None, "no API key"),
        (&[], Some("wsk_x"), "no allowed origin"),
        (
            &["--allow-origin", ORIGIN, "--daily-budget-usd", "five"],
            Some("wsk_x"),
            "--daily-budget-usd",
        ),
        (
            &["--allow-origin", ORIGIN, "--redis", "redis://127.0.0.1:1"],
            Some("wsk_x"),
            "Durable Objects",
        ),
    ];
    for (args, key, says) in cases {
        let mut command = tokio::process::Command::new(support::run_local());
        command.args(args).env_remove("WAVESPEED_API_KEY");
        if let Some(key) = key {
            command.env("WAVESPEED_API_KEY", key);
        }
        let out = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .expect("run-local runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains(says), "{args:?}: {said}");
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "multishot-worker-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// `proxy-worker/wrangler.toml`'s `[vars]` table and top-level keys, read as plain
/// `key = "value"` lines (all the file uses).
fn wrangler() -> (Vec<(String, String)>, String) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proxy-worker/wrangler.toml"),
    )
    .expect("proxy-worker/wrangler.toml");
    let mut section = String::new();
    let mut vars = Vec::new();
    let mut top = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let value = value.trim_matches('"').to_owned();
        match section.as_str() {
            "[vars]" => vars.push((key.to_owned(), value)),
            "" => top.push_str(&format!("{key}={value}\n")),
            _ => top.push_str(&format!("{section}{key}={value}\n")),
        }
    }
    (vars, top)
}

#[test]
fn wrangler_toml_deploys_what_run_local_serves() {
    let (vars, top) = wrangler();
    // Its variables are the flags' own, and read into valid settings with a key.
    let settings = multishot_proxy::config::from_vars(|name| {
        if name == "WAVESPEED_API_KEY" {
            return Some("wsk_x".into());
        }
        vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    })
    .expect("wrangler.toml's variables are valid settings");
    assert!(settings.origins.iter().count() >= 1);
    assert!(
        vars.iter().all(|(name, _)| name != "WAVESPEED_API_KEY"),
        "the key is a secret, never a variable"
    );
    // The bundle run-local serves, the date it runs it at, the counters' class.
    let launcher = include_str!("../../proxy-worker/src/bin/local.rs");
    let date = top
        .lines()
        .find_map(|l| l.strip_prefix("compatibility_date="))
        .expect("a compatibility date");
    assert!(launcher.contains(&format!("const COMPATIBILITY_DATE: &str = \"{date}\"")));
    assert!(top.contains("main=build/index.js"));
    assert!(top.contains("[[durable_objects.bindings]]name=COUNTERS"));
    assert!(top.contains("[[durable_objects.bindings]]class_name=Counters"));
    assert!(top.contains(r#"[[migrations]]new_sqlite_classes=["Counters"]"#));
    assert!(launcher.contains(r#"durableObjectNamespace = "Counters""#));
}
