//! Shared set-up of the proxy's integration tests: the fake WaveSpeed and the proxy
//! in-process on free loopback ports, a throwaway `redis-server`, and test images.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use multishot_proxy::config::{Flags, Settings};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// The owner's key in every test; it must never come back to a visitor.
pub const KEY: &str = "wsk_live_CANARY0123456789abcdef";
/// The page's origin in every test.
pub const ORIGIN: &str = "http://127.0.0.1:8080";
/// A token secret shared by proxies that must read each other's tokens.
pub const SECRET: &str = "test-secret-0123456789-0123456789-abcdef";

/// The fake WaveSpeed, in direct mode (checks [`KEY`]).
pub struct Fake {
    pub url: String,
    client: reqwest::Client,
}

impl Fake {
    pub async fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let options = fake_wavespeed::Options {
            mode: fake_wavespeed::Mode::Direct,
            key: Some(KEY.into()),
            ..Default::default()
        };
        tokio::spawn(fake_wavespeed::serve(listener, options));
        Fake {
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    pub async fn scenario(&self, scenario: Value) {
        let reply = self
            .client
            .post(format!("{}/__fake/scenario", self.url))
            .body(scenario.to_string())
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(
            reply.status(),
            200,
            "{}",
            reply.text().await.unwrap_or_default()
        );
    }

    /// Every request the fake saw (its control API aside).
    pub async fn log(&self) -> Vec<Value> {
        let text = self
            .client
            .get(format!("{}/__fake/log", self.url))
            .send()
            .await
            .expect("the fake answers")
            .text()
            .await
            .expect("a log");
        serde_json::from_str(&text).expect("a JSON log")
    }

    /// The requests of one kind (`upload`, `submit`, `poll`, `pricing`, …).
    pub async fn kinds(&self, kind: &str) -> Vec<Value> {
        self.log()
            .await
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }
}

/// A proxy running in this process — or, with `PROXY_HOME=worker`, the same proxy as
/// the Cloudflare Worker in workerd (`proxy-worker/run-local`, the same flags), so the
/// in-process suite runs against both homes (`make test-native` runs it twice).
pub struct Proxy {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<Result<(), String>>>,
    worker: Option<ProxyProcess>,
}

/// Whether `PROXY_HOME=worker` asks the suite to run against the Worker.
pub fn in_worker() -> bool {
    std::env::var("PROXY_HOME").as_deref() == Ok("worker")
}

impl Proxy {
    /// A proxy in front of `upstream` allowing [`ORIGIN`], with more flags.
    pub async fn start(upstream: &str, flags: &[&str]) -> Proxy {
        Self::start_with(upstream, flags, Some(SECRET)).await
    }

    pub async fn start_with(upstream: &str, flags: &[&str], secret: Option<&str>) -> Proxy {
        let mut args = vec![
            "multishot-proxy",
            "--upstream",
            upstream,
            "--allow-origin",
            ORIGIN,
        ];
        args.extend_from_slice(flags);
        if in_worker() {
            let env: Vec<(&str, &str)> = secret
                .map(|s| vec![("MULTISHOT_TOKEN_SECRET", s)])
                .unwrap_or_default();
            let worker = ProxyProcess::start_in(Home::Worker, upstream, flags, &env).await;
            return Proxy {
                url: worker.url.clone(),
                stop: None,
                done: None,
                worker: Some(worker),
            };
        }
        within_one_utc_day().await;
        let flags = Flags::try_parse_from(args).expect("flags parse");
        let settings = Settings::from_flags(flags, Some(KEY.into()), secret.map(str::to_owned))
            .expect("valid settings");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(multishot_proxy::run(settings, listener, async {
            let _ = stopped.await;
        }));
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            stop: Some(stop),
            done: Some(done),
            worker: None,
        }
    }

    /// Stops it gracefully and waits.
    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await;
            return;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(35), done).await;
        }
    }
}

/// Now by this machine's clock, in Unix ms (the clock the proxy itself reads).
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .expect("a clock after 1970")
}

/// The least of the UTC day that must be left when a proxy starts.
const DAY_LEFT_AT_START_MS: u64 = 60_000;

/// Waits, when the UTC day (by the clock the proxy reads) has less than a minute left,
/// until the next day has begun. Budgets reset at 00:00 UTC, so a test that counts a
/// day's runs must not straddle a midnight; every proxy a test starts is started here
/// first, and no test runs a minute.
pub async fn within_one_utc_day() {
    let left = 86_400_000 - wall_clock_ms() % 86_400_000;
    if left < DAY_LEFT_AT_START_MS {
        eprintln!("waiting {left} ms for the next UTC day: budgets reset at midnight");
        tokio::time::sleep(Duration::from_millis(left + 1_000)).await;
    }
}

/// A client as a visitor's browser is: the page's origin on every request.
pub fn browser() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ORIGIN,
        reqwest::header::HeaderValue::from_static(ORIGIN),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a client")
}

/// A reply read whole: status, headers as text, body as JSON (or null).
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub text: String,
    pub json: Value,
}

/// Per-visitor limits out of the way, visitors told apart by X-Forwarded-For from
/// loopback: for tests of the site-wide limits (budget, burst) under many visitors.
pub const MANY_VISITORS: &[&str] = &[
    "--trust-proxy",
    "127.0.0.1",
    "--runs-per-ip-per-hour",
    "1000",
    "--runs-per-ip-per-day",
    "1000",
    "--polls-per-ip-per-second",
    "1000",
];

/// The model's submit path.
pub const SUBMIT_PATH: &str = "/api/v3/kwaivgi/kling-v1/ai-multi-shot";

/// A submit of a web-address image from [`ORIGIN`], as `visitor` behind a trusted hop.
pub async fn submit_as(client: &reqwest::Client, base: &str, visitor: &str) -> Answer {
    answer(
        client
            .post(format!("{base}{SUBMIT_PATH}"))
            .header("Origin", ORIGIN)
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", visitor)
            .body(serde_json::json!({"image": "https://images.example/photo.jpg"}).to_string())
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await
}

/// `count` submits at once, the i-th to `bases[i % len]` from its own visitor; every one
/// not accepted must be a 429 for `reason`. How many were accepted.
pub async fn flood(bases: &[&str], count: usize, reason: &str) -> usize {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let mut requests = Vec::new();
    for i in 0..count {
        let base = bases[i % bases.len()].to_owned();
        let visitor = format!("198.51.{}.{}", i / 250, i % 250 + 1);
        let client = client.clone();
        requests.push(tokio::spawn(async move {
            submit_as(&client, &base, &visitor).await
        }));
    }
    let mut accepted = 0;
    for request in requests {
        let answer = request.await.expect("a request");
        match answer.status {
            200 => accepted += 1,
            429 => assert_eq!(answer.json["reason"], reason, "{}", answer.text),
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    accepted
}

/// A poll of a task by its token, from [`ORIGIN`].
pub async fn poll_token(client: &reqwest::Client, base: &str, token: &str) -> Answer {
    answer(
        client
            .get(format!("{base}/api/v3/predictions/{token}/result"))
            .header("Origin", ORIGIN)
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = format!("{:?}", response.headers());
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        text,
        json,
    }
}

/// A PNG header of this size padded to `bytes` (the proxy judges by header, as the
/// rules crate does without a decoder).
pub fn png(width: u32, height: u32, bytes: usize) -> Vec<u8> {
    let mut png = multishot_rules::sniff::test_headers::png_head(width, height);
    png.resize(bytes.max(png.len()), 0);
    png
}

/// A multipart form with `bytes` as its `file`.
pub fn file_form(bytes: Vec<u8>, name: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    )
}

/// A `redis-server` of its own on a free port, in a temporary folder, killed on drop.
pub struct Redis {
    pub url: String,
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Redis {
    pub async fn start() -> Redis {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("an address").port()
        };
        Self::start_on(port).await
    }

    /// Starts (or restarts) a server on `port`.
    pub async fn start_on(port: u16) -> Redis {
        let dir =
            std::env::temp_dir().join(format!("multishot-redis-{port}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &dir.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (make test installs it from Debian)");
        let url = format!("redis://127.0.0.1:{port}/0");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Redis {
            url,
            port,
            child,
            dir,
        }
    }

    /// Now by the server's own clock (`TIME`), in Unix ms: the clock Redis expires keys
    /// by, so a test that writes expiries must not run before it.
    pub async fn now_ms(&self) -> u64 {
        let client = redis::Client::open(self.url.as_str()).expect("a Redis URL");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers");
        let (seconds, micros): (u64, u64) = redis::cmd("TIME")
            .query_async(&mut connection)
            .await
            .expect("Redis tells its time");
        seconds * 1000 + micros / 1000
    }

    /// Stops the server and waits until it is gone.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A proxy as its own process (the release contract: the binary, its flags, its
/// environment), killed on drop.
pub struct ProxyProcess {
    pub url: String,
    pub child: Child,
    pub output: tokio::task::JoinHandle<String>,
}

/// Where a proxy process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Home {
    /// `multishot-proxy`, the binary.
    Binary,
    /// The Cloudflare Worker in workerd (`proxy-worker/run-local`, which builds it when
    /// its sources changed): the same command line.
    Worker,
}

/// `proxy-worker/run-local`.
pub fn run_local() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proxy-worker/run-local")
}

impl ProxyProcess {
    pub async fn start(upstream: &str, flags: &[&str]) -> ProxyProcess {
        Self::start_in(Home::Binary, upstream, flags, &[]).await
    }

    /// Starts a proxy in `home` with these flags and extra environment.
    pub async fn start_in(
        home: Home,
        upstream: &str,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> ProxyProcess {
        within_one_utc_day().await;
        let program = match home {
            Home::Binary => PathBuf::from(env!("CARGO_BIN_EXE_multishot-proxy")),
            Home::Worker => run_local(),
        };
        let mut child = Command::new(program)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                upstream,
                "--allow-origin",
                ORIGIN,
            ])
            .args(flags)
            .env("WAVESPEED_API_KEY", KEY)
            .env("MULTISHOT_TOKEN_SECRET", SECRET)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the proxy starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        // Its first line on standard error says where it listens (or why it cannot);
        // run-local may first say that it builds the Worker.
        let mut said = String::new();
        let url = loop {
            let Some(line) = lines.next_line().await.ok().flatten() else {
                panic!("the proxy did not start: {said}");
            };
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
            if home == Home::Binary {
                panic!("the proxy did not start: {line}");
            }
            said.push_str(&line);
            said.push('\n');
        };
        // The rest of standard error is read (and dropped) so workerd never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let stdout = child.stdout.take().expect("stdout");
        let output = tokio::spawn(async move {
            let mut all = String::new();
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        ProxyProcess { url, child, output }
    }

    /// Stops it with SIGTERM (graceful) and returns what it logged.
    pub async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg(pid.to_string()).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(35), self.child.wait()).await;
        tokio::time::timeout(Duration::from_secs(5), self.output)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}
