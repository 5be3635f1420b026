//! The proxy on a server of its own: tokio's clock and timers, reqwest.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;

use super::{Call, CallError, Elapsed, Method};

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Waits `duration`.
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// `future`, unless `duration` passes first.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    tokio::time::timeout(duration, future)
        .await
        .map_err(|_| Elapsed)
}

/// Measures how long something took.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// An HTTP client that follows no redirect and uses no system proxy.
#[derive(Clone, Debug)]
pub struct Client(reqwest::Client);

impl Client {
    /// A client giving up on a connection after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Result<Self, String> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(connect_timeout)
            .pool_max_idle_per_host(512)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("multishot-proxy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map(Self)
            .map_err(|e| e.to_string())
    }

    /// Sends `call`; the answer once its headers are in.
    pub async fn open(&self, call: Call) -> Result<Opened, CallError> {
        let mut request = match call.method {
            Method::Get => self.0.get(&call.url),
            Method::Post => self.0.post(&call.url).body(call.body),
        };
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        request
            .send()
            .await
            .map(Opened)
            .map_err(|e| CallError::Failed(describe(&e)))
    }
}

/// An answer whose body is still to be read.
#[derive(Debug)]
pub struct Opened(reqwest::Response);

impl Opened {
    /// The status.
    pub fn status(&self) -> u16 {
        self.0.status().as_u16()
    }

    /// A header, when present and text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.0
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The declared length of the body.
    pub fn content_length(&self) -> Option<u64> {
        self.0.content_length()
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, CallError> {
        self.0
            .chunk()
            .await
            .map_err(|e| CallError::Failed(describe(&e)))
    }
}

/// A reqwest error in a few words, without the URL (which the proxy built).
fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused or failed".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else if e.is_body() || e.is_decode() {
        "the reply broke off".into()
    } else {
        e.to_string()
    }
}
