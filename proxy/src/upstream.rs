//! Calls to WaveSpeed. Every URL is built here from the configured base and a fixed
//! path — never taken from a request — and every request carries only the headers set
//! here: the owner's key in `Authorization`, and the body's `Content-Type`. No redirect
//! is followed (the key must not travel elsewhere), no system proxy is used, and every
//! call has a timeout.

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};

/// The model's submit path.
pub const SUBMIT_PATH: &str = "/api/v3/kwaivgi/kling-v1/ai-multi-shot";
/// The binary upload path (multipart field `file`).
pub const UPLOAD_PATH: &str = "/api/v3/media/upload/binary";
/// The pricing path.
pub const PRICING_PATH: &str = "/api/v3/model/pricing";
/// The model's id.
pub const MODEL_ID: &str = "kwaivgi/kling-v1/ai-multi-shot";
/// Redirects followed when reading an output (its server may send it on to a CDN).
pub const MAX_OUTPUT_REDIRECTS: usize = 3;
/// The largest reply read from WaveSpeed (base64 outputs of several videos).
const MAX_REPLY_BYTES: usize = 96 * 1024 * 1024;

/// The result path of a task (the id is checked by [`multishot_rules::task_id::is_task_id`]).
pub fn result_path(task_id: &str) -> String {
    format!("/api/v3/predictions/{task_id}/result")
}

/// What WaveSpeed answered.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// How long the call took.
    pub elapsed: Duration,
}

/// Why there is no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No answer in time.
    #[error("WaveSpeed did not answer in time")]
    TimedOut,
    /// No connection, or it broke (the request may have arrived).
    #[error("WaveSpeed could not be reached: {0}")]
    Unreachable(String),
    /// The reply was larger than the proxy reads.
    #[error("WaveSpeed's reply is too large")]
    TooLarge,
}

/// A client for one WaveSpeed base with one key.
#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
    base: String,
    authorization: String,
    timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base", &self.base)
            .finish()
    }
}

impl Upstream {
    /// A client for `base` (no trailing slash) with `key`.
    pub fn new(base: &str, key: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(512)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("multishot-proxy/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {key}"),
            timeout,
        })
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Reply, UpstreamError> {
        let started = Instant::now();
        let exchange = async {
            let mut response = request
                .header(reqwest::header::AUTHORIZATION, &self.authorization)
                .send()
                .await
                .map_err(|e| UpstreamError::Unreachable(describe(&e)))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| UpstreamError::Unreachable(describe(&e)))?
            {
                if body.len() + chunk.len() > MAX_REPLY_BYTES {
                    return Err(UpstreamError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, retry_after, body))
        };
        let (status, retry_after, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| UpstreamError::TimedOut)??;
        Ok(Reply {
            status,
            retry_after,
            body,
            elapsed: started.elapsed(),
        })
    }

    /// `POST` the submit body (already filtered).
    pub async fn submit(&self, body: &serde_json::Value) -> Result<Reply, UpstreamError> {
        let request = self
            .client
            .post(format!("{}{SUBMIT_PATH}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(request, self.timeout).await
    }

    /// `GET` a task's result.
    pub async fn poll(&self, task_id: &str) -> Result<Reply, UpstreamError> {
        let request = self
            .client
            .get(format!("{}{}", self.base, result_path(task_id)));
        self.send(request, self.timeout).await
    }

    /// Uploads a checked image.
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        name: &'static str,
        content_type: &'static str,
    ) -> Result<Reply, UpstreamError> {
        let part = Part::bytes(bytes)
            .file_name(name)
            .mime_str(content_type)
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        let request = self
            .client
            .post(format!("{}{UPLOAD_PATH}", self.base))
            .multipart(Form::new().part("file", part));
        self.send(request, self.timeout * 4).await
    }

    /// Whether the upstream base is plain `http` (a local fake): its outputs may be too.
    pub fn is_local(&self) -> bool {
        self.base.starts_with("http://")
    }

    /// Starts reading a task's output at `url` (an address WaveSpeed gave for it) —
    /// **without** the key: it goes to WaveSpeed's output server, not its API. A redirect
    /// is followed (at most [`MAX_OUTPUT_REDIRECTS`]) only to an address of the same
    /// kind. Returns the response once its headers are in, for the body to be streamed.
    pub async fn output(&self, url: &str) -> Result<reqwest::Response, UpstreamError> {
        let mut url = url.to_owned();
        for _ in 0..=MAX_OUTPUT_REDIRECTS {
            let response = tokio::time::timeout(self.timeout, self.client.get(&url).send())
                .await
                .map_err(|_| UpstreamError::TimedOut)?
                .map_err(|e| UpstreamError::Unreachable(describe(&e)))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|location| response.url().join(location).ok())
                .filter(|next| {
                    next.scheme() == "https" || (self.is_local() && next.scheme() == "http")
                })
                .ok_or_else(|| UpstreamError::Unreachable("a redirect elsewhere".into()))?;
            url = next.to_string();
        }
        Err(UpstreamError::Unreachable("too many redirects".into()))
    }

    /// Asks the price of one run.
    pub async fn pricing(&self) -> Result<Reply, UpstreamError> {
        let body = serde_json::json!({"model_id": MODEL_ID, "inputs": {}});
        let request = self
            .client
            .post(format!("{}{PRICING_PATH}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(request, Duration::from_secs(10).min(self.timeout))
            .await
    }
}

/// A reqwest error in a few words, without the URL (which is the configured base).
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
