//! `make bench-proxy`: poll throughput, latency and memory of `multishot-proxy`, side by
//! side with what a site owner would otherwise pick, in one run on this machine:
//!
//! 1. client → fake WaveSpeed directly (the floor: no proxy at all);
//! 2. client → nginx (Debian's, a reverse proxy that adds the key) → fake;
//! 3. client → multishot-proxy (release build, in-memory store) → fake;
//! 4. client → the same proxy as a Cloudflare Worker in workerd (`proxy-worker/run-local`,
//!    its counters in Durable Objects on local disk) → fake.
//!
//! For each: latency of polls one at a time (p50, p99, p99.9), and throughput with 64
//! connections polling as fast as they can, with the CPU time each proxy spent per
//! request. Then the proxy's resident memory with 1,000 visitors (each its own
//! connection and address) polling at once every 1.5 s, as pages do; and the CPU time
//! per route of both homes (what Cloudflare's 10 ms of CPU per request on the free plan
//! means: workerd's whole process is counted, an upper bound of what Cloudflare bills).
//! Prints tables and writes `target/bench-proxy.json`. A benchmark, not a test: nothing
//! is asserted. `BENCH_SECONDS` (default 8) sets each throughput run's length.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const KEY: &str = "wsk_live_BENCH0000000000";
const ORIGIN: &str = "http://127.0.0.1:8080";
const LATENCY_SAMPLES: usize = 3000;
const CONNECTIONS: usize = 64;
const VISITORS: usize = 1000;

type Sender = SendRequest<Empty<Bytes>>;

/// One kept-alive HTTP/1.1 connection.
async fn connect(address: SocketAddr) -> Sender {
    let stream = TcpStream::connect(address).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// A kept-alive connection that is made again when the server closes it (nginx closes
/// a client connection after `keepalive_requests`).
struct Connection {
    address: SocketAddr,
    sender: Sender,
}

impl Connection {
    async fn open(address: SocketAddr) -> Connection {
        Connection {
            address,
            sender: connect(address).await,
        }
    }

    /// One poll; the status (0 when the exchange failed twice).
    async fn get(&mut self, path: &str, visitor: Option<&str>) -> u16 {
        for _ in 0..2 {
            if self.sender.ready().await.is_err() {
                self.sender = connect(self.address).await;
            }
            let mut request = hyper::Request::get(path)
                .header("host", self.address.to_string())
                .header("origin", ORIGIN)
                .header("authorization", format!("Bearer {KEY}"));
            if let Some(ip) = visitor {
                request = request.header("x-forwarded-for", ip);
            }
            let Ok(request) = request.body(Empty::new()) else {
                return 0;
            };
            match self.sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.into_body().collect().await;
                    return status;
                }
                Err(_) => self.sender = connect(self.address).await,
            }
        }
        0
    }
}

struct Target {
    name: &'static str,
    address: SocketAddr,
    path: String,
    /// Add `X-Forwarded-For` (the proxy counts visitors by it behind a trusted hop).
    visitors: bool,
    /// The proxy's process (its CPU time is read around the throughput run).
    pid: Option<u32>,
}

impl Target {
    /// The visitor the latency polls come from, when the target counts visitors.
    fn visitor(&self) -> Option<&'static str> {
        self.visitors.then_some("198.51.100.1")
    }
}

#[derive(Default, Clone)]
struct Figures {
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    rps: f64,
    errors: u64,
    /// CPU time of the proxy's processes per request in the throughput run.
    cpu_us_per_request: Option<f64>,
}

/// Clock ticks per second of /proc's CPU times.
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU time (user + system) of a process and all its descendants, in microseconds.
fn cpu_us(pid: u32) -> f64 {
    let mut total = 0u64;
    let mut stack = vec![pid];
    while let Some(pid) = stack.pop() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            for i in [11, 12] {
                total += fields
                    .get(i)
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let children =
                    std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                stack.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    total as f64 * 1e6 / ticks_per_second()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Latency of each target, one poll at a time, the targets taken in turn (a round of
/// one poll each, repeated), so that whatever else the machine does falls on all alike.
/// Sets each target's percentiles and counts its errors.
async fn latencies(targets: &[Target], figures: &mut [Figures]) {
    let mut connections = Vec::new();
    for target in targets {
        let mut connection = Connection::open(target.address).await;
        for _ in 0..300 {
            connection.get(&target.path, target.visitor()).await;
        }
        connections.push(connection);
    }
    let mut samples = vec![Vec::with_capacity(LATENCY_SAMPLES); targets.len()];
    for _ in 0..LATENCY_SAMPLES {
        for (i, target) in targets.iter().enumerate() {
            let started = Instant::now();
            if connections[i].get(&target.path, target.visitor()).await != 200 {
                figures[i].errors += 1;
            }
            samples[i].push(started.elapsed().as_nanos() as u64);
        }
    }
    for (f, mut s) in figures.iter_mut().zip(samples) {
        s.sort_unstable();
        f.p50_us = percentile(&s, 0.50);
        f.p99_us = percentile(&s, 0.99);
        f.p999_us = percentile(&s, 0.999);
    }
}

/// Throughput of one target: CONNECTIONS closed loops for `seconds`.
async fn throughput(target: &Target, seconds: u64, figures: &mut Figures) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut loops = Vec::new();
    for c in 0..CONNECTIONS {
        let (address, path) = (target.address, target.path.clone());
        let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
        let visitor = target
            .visitors
            .then(|| format!("198.51.{}.{}", 100 + c / 250, c % 250 + 1));
        loops.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            while !stop.load(Ordering::Relaxed) {
                if connection.get(&path, visitor.as_deref()).await == 200 {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (start_count, started) = (done.load(Ordering::Relaxed), Instant::now());
    let cpu_before = target.pid.map(cpu_us);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let count = done.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed().as_secs_f64();
    figures.cpu_us_per_request = target
        .pid
        .zip(cpu_before)
        .map(|(pid, before)| (cpu_us(pid) - before) / count.max(1) as f64);
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        let _ = l.await;
    }
    figures.rps = count as f64 / elapsed;
    figures.errors += failed.load(Ordering::Relaxed);
}

/// Resident memory of a process now and at its peak, in MB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts a program and waits for `listening on …` on the stream it prints it to.
async fn start(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    on_stderr: bool,
) -> (Child, SocketAddr) {
    let mut command = Command::new(program);
    command.args(args).kill_on_drop(true).stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    if on_stderr {
        command.stderr(Stdio::piped()).stdout(Stdio::null());
    } else {
        command.stdout(Stdio::piped()).stderr(Stdio::null());
    }
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut lines: tokio::io::Lines<BufReader<Box<dyn tokio::io::AsyncRead + Unpin + Send>>> =
        if on_stderr {
            BufReader::new(Box::new(child.stderr.take().expect("stderr")) as Box<_>).lines()
        } else {
            BufReader::new(Box::new(child.stdout.take().expect("stdout")) as Box<_>).lines()
        };
    // run-local may first say that it builds the Worker.
    let mut line = String::new();
    while let Ok(Some(next)) = lines.next_line().await {
        line = next;
        if line.starts_with("listening on ") {
            break;
        }
    }
    // Whatever follows is read and dropped, so the program never blocks on its output.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let address = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{program} did not start: {line}"));
    (child, address)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_nginx(fake: SocketAddr) -> (Child, SocketAddr, std::path::PathBuf) {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("multishot-bench-nginx-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777));
    }
    let d = dir.display();
    let config = format!(
        r#"daemon off;
worker_processes 2;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 1000000;
  upstream fake {{ server {fake}; keepalive 256; keepalive_requests 1000000; }}
  server {{
    listen 127.0.0.1:{port};
    location /api/v3/ {{
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer {KEY}";
      add_header Access-Control-Allow-Origin "{ORIGIN}" always;
      add_header Vary Origin always;
    }}
  }}
}}
"#
    );
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config).expect("nginx.conf");
    // Debian puts nginx in /usr/sbin, which a user's PATH may lack.
    let child = ["nginx", "/usr/sbin/nginx"]
        .into_iter()
        .find_map(|program| {
            Command::new(program)
                .args([
                    "-p",
                    &dir.display().to_string(),
                    "-c",
                    &conf.display().to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()
        })
        .expect("nginx is installed (make bench-proxy installs it from Debian)");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
    for _ in 0..100 {
        if TcpStream::connect(address).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, address, dir)
}

/// One request on a new connection; its status and reply.
async fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: Bytes,
    visitor: &str,
) -> (u16, String) {
    let failed = (0, String::new());
    let Ok(stream) = TcpStream::connect(address).await else {
        return failed;
    };
    let Ok((mut sender, connection)) =
        http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
    else {
        return failed;
    };
    tokio::spawn(connection);
    let Ok(request) = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", address.to_string())
        .header("origin", ORIGIN)
        .header("content-type", content_type)
        .header("x-forwarded-for", visitor)
        .body(Full::new(body))
    else {
        return failed;
    };
    match sender.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let reply = match response.into_body().collect().await {
                Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
                Err(_) => String::new(),
            };
            (status, reply)
        }
        Err(_) => failed,
    }
}

/// One route's request, for the CPU table.
struct Route {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: String,
    body: Bytes,
    times: usize,
}

/// The proxy's CPU time per request of `route` (sent `times` times, one after another,
/// each from its own visitor); `None` when a request failed.
async fn route_cpu(pid: u32, address: SocketAddr, route: &Route) -> Option<f64> {
    // One first, outside the measure (an isolate's first request builds the proxy).
    send(
        address,
        route.method,
        &route.path,
        &route.content_type,
        route.body.clone(),
        "192.0.2.1",
    )
    .await;
    let before = cpu_us(pid);
    for i in 0..route.times {
        let visitor = format!("192.0.{}.{}", 3 + i / 250, i % 250 + 1);
        let (status, reply) = send(
            address,
            route.method,
            &route.path,
            &route.content_type,
            route.body.clone(),
            &visitor,
        )
        .await;
        if status != 200 {
            eprintln!("{} (request {i}): HTTP {status} {reply}", route.name);
            return None;
        }
    }
    Some((cpu_us(pid) - before) / route.times as f64)
}

/// `POST` a submit; the task id (or token) from the reply.
async fn submit(address: SocketAddr) -> String {
    let stream = TcpStream::connect(address).await.expect("connect");
    let (mut sender, connection) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = hyper::Request::post("/api/v3/kwaivgi/kling-v1/ai-multi-shot")
        .header("host", address.to_string())
        .header("origin", ORIGIN)
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"image":"https://images.example/a.jpg"}"#,
        )))
        .expect("a request");
    let response = sender.send_request(request).await.expect("a response");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    json["data"]["id"].as_str().expect("an id").to_owned()
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let bin = |name: &str| format!("{root}/target/release/{name}");
    let (_fake, fake) = start(
        &bin("fake-wavespeed"),
        &["--key", KEY, "--no-log"],
        &[],
        false,
    )
    .await;
    let (mut nginx_child, nginx, nginx_dir) = start_nginx(fake).await;
    let upstream = format!("http://{fake}");
    let proxy_flags = [
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--allow-origin",
        ORIGIN,
        "--trust-proxy",
        "127.0.0.1",
        "--polls-per-ip-per-second",
        "1000000",
        "--runs-per-ip-per-hour",
        "100",
        "--runs-per-minute",
        "100000",
        "--daily-budget-usd",
        "100000",
        "--monthly-budget-usd",
        "100000",
        "--uploads-per-ip-per-hour",
        "100000",
        "--upload-mb-per-ip-per-day",
        "100000",
    ];
    let proxy_env = [("WAVESPEED_API_KEY", KEY), ("MULTISHOT_LOG", "warn")];
    let (proxy_child, proxy) = start(&bin("multishot-proxy"), &proxy_flags, &proxy_env, true).await;
    let proxy_pid = proxy_child.id().expect("a pid");
    let (worker_child, worker) = start(
        &format!("{root}/proxy-worker/run-local"),
        &proxy_flags,
        &proxy_env,
        true,
    )
    .await;
    let worker_pid = worker_child.id().expect("a pid");

    let id = submit(fake).await;
    let token = submit(proxy).await;
    let worker_token = submit(worker).await;
    let targets = [
        Target {
            name: "client → fake (no proxy)",
            address: fake,
            path: format!("/api/v3/predictions/{id}/result"),
            visitors: false,
            pid: None,
        },
        Target {
            name: "client → nginx → fake",
            address: nginx,
            path: format!("/api/v3/predictions/{id}/result"),
            visitors: false,
            pid: None,
        },
        Target {
            name: "client → multishot-proxy → fake",
            address: proxy,
            path: format!("/api/v3/predictions/{token}/result"),
            visitors: true,
            pid: Some(proxy_pid),
        },
        Target {
            name: "client → Worker in workerd → fake",
            address: worker,
            path: format!("/api/v3/predictions/{worker_token}/result"),
            visitors: true,
            pid: Some(worker_pid),
        },
    ];
    let mut results = vec![Figures::default(); targets.len()];
    eprintln!("latency, one poll at a time, the four paths in turn …");
    latencies(&targets, &mut results).await;
    for (target, figures) in targets.iter().zip(results.iter_mut()) {
        eprintln!("throughput {} …", target.name);
        throughput(target, seconds, figures).await;
    }

    // 1,000 visitors polling at once, each on its own connection, every 1.5 s.
    eprintln!(
        "1,000 visitors polling the proxy for {} s …",
        seconds.max(10)
    );
    let (rss_before, _) = memory(proxy_pid);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let mut visitors = Vec::new();
    for v in 0..VISITORS {
        let (path, stop, ok) = (targets[2].path.clone(), stop.clone(), ok.clone());
        visitors.push(tokio::spawn(async move {
            let ip = format!("203.0.{}.{}", v / 250, v % 250 + 1);
            let mut connection = Connection::open(proxy).await;
            tokio::time::sleep(Duration::from_millis((v as u64 * 1500) / VISITORS as u64)).await;
            while !stop.load(Ordering::Relaxed) {
                if connection.get(&path, Some(&ip)).await == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
        }));
    }
    let mut peak_during = 0.0f64;
    let until = Instant::now() + Duration::from_secs(seconds.max(10));
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak_during = peak_during.max(memory(proxy_pid).0);
    }
    stop.store(true, Ordering::Relaxed);
    for v in visitors {
        let _ = v.await;
    }
    let (_, hwm) = memory(proxy_pid);
    let polls_ok = ok.load(Ordering::Relaxed);

    let base = &results[0];
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\nPoll through each path, loopback, this machine ({} cores):",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let _ = writeln!(
        table,
        "| path | p50 | p99 | p99.9 | added p99 | throughput ({CONNECTIONS} conns) | proxy CPU per poll | errors |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|---|---|");
    for (target, f) in targets.iter().zip(&results) {
        let _ = writeln!(
            table,
            "| {} | {:.0} µs | {:.0} µs | {:.0} µs | {} | {:.0} req/s | {} | {} |",
            target.name,
            f.p50_us,
            f.p99_us,
            f.p999_us,
            if std::ptr::eq(f, base) {
                "—".to_owned()
            } else {
                format!("{:+.0} µs", f.p99_us - base.p99_us)
            },
            f.rps,
            f.cpu_us_per_request
                .map(|us| format!("{us:.0} µs"))
                .unwrap_or_else(|| "—".into()),
            f.errors
        );
    }
    let _ = writeln!(
        table,
        "\nmultishot-proxy resident memory: {:.1} MB idle → {:.1} MB peak with {VISITORS} visitors polling every 1.5 s ({polls_ok} polls answered); high-water mark {:.1} MB.",
        rss_before, peak_during, hwm
    );
    let (nginx_f, proxy_f) = (&results[1], &results[2]);
    let _ = writeln!(
        table,
        "Goals: added p99 < 1 ms — {:.2} ms, {}; throughput ≥ nginx's — {:.0}% of it, {}; < 50 MB resident — {:.1} MB, {}.",
        (proxy_f.p99_us - base.p99_us) / 1000.0,
        if proxy_f.p99_us - base.p99_us < 1000.0 { "met" } else { "missed" },
        100.0 * proxy_f.rps / nginx_f.rps.max(1.0),
        if proxy_f.rps >= nginx_f.rps { "met" } else { "missed" },
        hwm,
        if hwm < 50.0 { "met" } else { "missed" },
    );
    // CPU time per route, in both homes.
    eprintln!("CPU time per route, both homes …");
    let fixtures = format!("{root}/target/fixtures");
    let image = |name: &str| {
        std::fs::read(format!("{fixtures}/{name}"))
            .unwrap_or_else(|e| panic!("{name}: {e} (make fixtures)"))
    };
    let upload = |name: &'static str, bytes: Vec<u8>, times: usize| {
        let kind = if name.ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        let (content_type, body) = multishot_proxy::platform::multipart_file(
            "file",
            name,
            kind,
            &bytes,
            "bench-boundary-7f3a",
        );
        Route {
            name,
            method: "POST",
            path: "/api/v3/media/upload/binary".into(),
            content_type,
            body: Bytes::from(body),
            times,
        }
    };
    let mut cpu_rows = Vec::new();
    for (home, pid, address, token) in [
        ("multishot-proxy", proxy_pid, proxy, &token),
        ("Worker in workerd", worker_pid, worker, &worker_token),
    ] {
        let routes = [
            Route {
                name: "GET /quota",
                method: "GET",
                path: "/quota".into(),
                content_type: "text/plain".into(),
                body: Bytes::new(),
                times: 300,
            },
            Route {
                name: "GET result (poll)",
                method: "GET",
                path: format!("/api/v3/predictions/{token}/result"),
                content_type: "text/plain".into(),
                body: Bytes::new(),
                times: 300,
            },
            Route {
                name: "POST submit",
                method: "POST",
                path: "/api/v3/kwaivgi/kling-v1/ai-multi-shot".into(),
                content_type: "application/json".into(),
                body: Bytes::from_static(br#"{"image":"https://images.example/a.jpg"}"#),
                // The fake's account pays for 177 runs ($12.40): 60 in each home.
                times: 60,
            },
            upload("valid.jpg", image("valid.jpg"), 50),
            upload("exactly-10mib.png", image("exactly-10mib.png"), 10),
        ];
        for route in &routes {
            let cpu = route_cpu(pid, address, route).await;
            cpu_rows.push((home, route.name, route.body.len(), cpu));
        }
    }
    let _ = writeln!(
        table,
        "\nCPU time per request by route (the whole process, all threads; sequential requests, each its own connection and visitor):"
    );
    let _ = writeln!(table, "| home | route | request body | CPU per request |");
    let _ = writeln!(table, "|---|---|---|---|");
    for (home, route, bytes, cpu) in &cpu_rows {
        let _ = writeln!(
            table,
            "| {home} | {route} | {} | {} |",
            if *bytes == 0 {
                "—".to_owned()
            } else {
                format!("{:.1} KB", *bytes as f64 / 1024.0)
            },
            cpu.map(|us| format!("{:.2} ms", us / 1000.0))
                .unwrap_or_else(|| "failed".into())
        );
    }
    println!("{table}");
    let json = serde_json::json!({
        "cpu_per_route": cpu_rows.iter().map(|(home, route, bytes, cpu)| serde_json::json!({
            "home": home, "route": route, "body_bytes": bytes, "cpu_us": cpu,
        })).collect::<Vec<_>>(),
        "paths": targets.iter().zip(&results).map(|(t, f)| serde_json::json!({
            "path": t.name, "p50_us": f.p50_us, "p99_us": f.p99_us, "p999_us": f.p999_us,
            "throughput_rps": f.rps, "errors": f.errors, "cpu_us_per_request": f.cpu_us_per_request,
        })).collect::<Vec<_>>(),
        "proxy_memory_mb": {"idle": rss_before, "peak_with_visitors": peak_during, "high_water": hwm, "visitors": VISITORS},
    });
    let _ = std::fs::write(
        format!("{root}/target/bench-proxy.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    );
    // nginx's master stops its workers on SIGTERM (a SIGKILL would orphan them).
    if let Some(pid) = nginx_child.id() {
        let _ = Command::new("kill").arg(pid.to_string()).status().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), nginx_child.wait()).await;
    }
    let _ = std::fs::remove_dir_all(nginx_dir);
    // run-local stops workerd on SIGTERM.
    if let Some(pid) = worker_child.id() {
        let _ = Command::new("kill").arg(pid.to_string()).status().await;
    }
    let mut worker_child = worker_child;
    let _ = tokio::time::timeout(Duration::from_secs(10), worker_child.wait()).await;
}
