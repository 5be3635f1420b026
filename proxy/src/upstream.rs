//! Calls to WaveSpeed. Every URL is built here from the configured base and a fixed
//! path — never taken from a request — and every request carries only the headers set
//! here: the owner's key in `Authorization`, and the body's `Content-Type`. No redirect
//! is followed (the key must not travel elsewhere), no system proxy is used, and every
//! call has a timeout.

use std::time::Duration;

use crate::platform::{self, Call, Client, Method, Opened, Stopwatch};

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
    client: Client,
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
    pub fn new(base: &str, key: &str, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            client: Client::new(Duration::from_secs(5))?,
            base: base.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {key}"),
            timeout,
        })
    }

    /// A call to WaveSpeed's API at `path`, with the key.
    fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> Call {
        let mut headers = vec![("authorization", self.authorization.clone())];
        if let Some(kind) = content_type {
            headers.push(("content-type", kind));
        }
        Call {
            method,
            url: format!("{}{path}", self.base),
            headers,
            body,
        }
    }

    async fn send(&self, call: Call, timeout: Duration) -> Result<Reply, UpstreamError> {
        let started = Stopwatch::start();
        let exchange = async {
            let mut response = self
                .client
                .open(call)
                .await
                .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
            let status = response.status();
            let retry_after = response.header("retry-after");
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| UpstreamError::Unreachable(e.to_string()))?
            {
                if body.len() + chunk.len() > MAX_REPLY_BYTES {
                    return Err(UpstreamError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, retry_after, body))
        };
        let (status, retry_after, body) = platform::timeout(timeout, exchange)
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
        let call = self.call(
            Method::Post,
            SUBMIT_PATH,
            Some("application/json".into()),
            body.to_string().into_bytes(),
        );
        self.send(call, self.timeout).await
    }

    /// `GET` a task's result.
    pub async fn poll(&self, task_id: &str) -> Result<Reply, UpstreamError> {
        let call = self.call(Method::Get, &result_path(task_id), None, Vec::new());
        self.send(call, self.timeout).await
    }

    /// Uploads a checked image (as the multipart field `file`).
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        name: &'static str,
        content_type: &'static str,
    ) -> Result<Reply, UpstreamError> {
        let boundary = boundary(&bytes)?;
        let (kind, body) = platform::multipart_file("file", name, content_type, &bytes, &boundary);
        drop(bytes);
        let call = self.call(Method::Post, UPLOAD_PATH, Some(kind), body);
        self.send(call, self.timeout * 4).await
    }

    /// Whether the upstream base is plain `http` (a local fake): its outputs may be too.
    pub fn is_local(&self) -> bool {
        self.base.starts_with("http://")
    }

    /// Starts reading a task's output at `url` (an address WaveSpeed gave for it) —
    /// **without** the key: it goes to WaveSpeed's output server, not its API. A redirect
    /// is followed (at most [`MAX_OUTPUT_REDIRECTS`]) only to an address of the same
    /// kind. Returns the response once its headers are in, for the body to be streamed.
    pub async fn output(&self, url: &str) -> Result<Opened, UpstreamError> {
        let mut url = url.to_owned();
        for _ in 0..=MAX_OUTPUT_REDIRECTS {
            let call = Call {
                method: Method::Get,
                url: url.clone(),
                headers: Vec::new(),
                body: Vec::new(),
            };
            let response = platform::timeout(self.timeout, self.client.open(call))
                .await
                .map_err(|_| UpstreamError::TimedOut)?
                .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
            if !(300..400).contains(&response.status()) {
                return Ok(response);
            }
            url = response
                .header("location")
                .and_then(|location| redirect_target(&url, &location, self.is_local()))
                .ok_or_else(|| UpstreamError::Unreachable("a redirect elsewhere".into()))?;
        }
        Err(UpstreamError::Unreachable("too many redirects".into()))
    }

    /// Asks the price of one run.
    pub async fn pricing(&self) -> Result<Reply, UpstreamError> {
        let body = serde_json::json!({"model_id": MODEL_ID, "inputs": {}});
        let call = self.call(
            Method::Post,
            PRICING_PATH,
            Some("application/json".into()),
            body.to_string().into_bytes(),
        );
        self.send(call, Duration::from_secs(10).min(self.timeout))
            .await
    }
}

/// A multipart boundary found nowhere in `bytes`.
fn boundary(bytes: &[u8]) -> Result<String, UpstreamError> {
    for _ in 0..4 {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        let boundary: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let boundary = format!("multishot-{boundary}");
        if !bytes
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
        {
            return Ok(boundary);
        }
    }
    Err(UpstreamError::Unreachable("no multipart boundary".into()))
}

/// Where a redirect from `from` to `location` leads, when it may be followed: an
/// `https` address (or `http` when the upstream is a local fake).
fn redirect_target(from: &str, location: &str, local: bool) -> Option<String> {
    let next = url::Url::parse(from).ok()?.join(location).ok()?;
    (next.scheme() == "https" || (local && next.scheme() == "http")).then(|| next.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_is_followed_only_to_https_or_to_http_from_a_local_fake() {
        let from = "https://cdn.example/a/b.png";
        assert_eq!(
            redirect_target(from, "/c.png", false).as_deref(),
            Some("https://cdn.example/c.png")
        );
        assert_eq!(redirect_target(from, "http://x.example/c.png", false), None);
        assert_eq!(
            redirect_target("http://127.0.0.1:1/a", "http://127.0.0.1:2/b", true).as_deref(),
            Some("http://127.0.0.1:2/b")
        );
        assert_eq!(redirect_target(from, "ftp://x.example/c", true), None);
    }

    #[test]
    fn a_boundary_is_not_in_the_bytes_it_bounds() {
        let bytes = b"multishot-".repeat(100);
        let boundary = boundary(&bytes).unwrap();
        assert!(boundary.starts_with("multishot-") && boundary.len() == 42);
    }
}
