//! A local fake of the WaveSpeed API (`shared/wavespeed-api.md`) for Kling V1 AI
//! Multi-Shot, on 127.0.0.1. It speaks the contract strictly — CORS with a real
//! preflight check, `Authorization` in direct mode, the exact envelope, both upload
//! endpoints, status progression over several polls, real mp4 outputs and base64 ones,
//! the price of a run and the account's balance — and takes faults per test through a
//! control API under `/__fake/`.
//!
//! It runs on the same HTTP stack as `multishot-proxy` (tokio, hyper, axum): the binary
//! (`src/main.rs`) for the browser tests and `make serve`, and [`serve`] in-process for
//! the proxy's own tests.
//!
//! Control API: `POST /__fake/scenario` (JSON [`Scenario`]), `POST /__fake/reset`,
//! `GET /__fake/log` (every request seen, as JSON).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State as Shared};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use base64::Engine as _;
use multishot_rules::money::Micros;
use serde::Deserialize;
use serde_json::{json, Value};

/// Largest request body accepted (uploads are at most 10 MB, in a multipart envelope;
/// the tests send more to see it refused by the page or the proxy first).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How the fake checks credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every API call must carry `Authorization: Bearer <key>`.
    Direct,
    /// Stands for a site owner's proxy (it holds the key): no key needed.
    Proxy,
    /// Like [`Mode::Proxy`], and serves `/__sandbox/config.json` for `make serve`.
    Sandbox,
}

/// How a fake is started.
#[derive(Clone, Debug)]
pub struct Options {
    /// Credentials mode.
    pub mode: Mode,
    /// The key expected in [`Mode::Direct`].
    pub key: Option<String>,
    /// Where the sample shots are (`shot-1.mp4` …).
    pub media: PathBuf,
    /// What `/__sandbox/config.json` gives as the page's `proxy_url` (default: the fake
    /// itself). `make serve` points it at the proxy in front of the fake.
    pub sandbox_proxy: Option<String>,
    /// Keep no request log (benchmarks: the log grows with every request).
    pub no_log: bool,
    /// Completed tasks give still images (`shot-N.jpg`, from real photos), as the model
    /// most likely does, unless a test's scenario asks for videos; without it, videos
    /// (`shot-N.mp4`) unless a scenario asks for images. `make serve` sets it.
    pub image_shots: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: Mode::Sandbox,
            key: None,
            media: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/media")),
            sandbox_proxy: None,
            no_log: false,
            image_shots: false,
        }
    }
}

/// Serves the fake on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, options: Options) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let fake = Arc::new(Fake {
        own_base: format!("http://127.0.0.1:{port}"),
        mode: options.mode,
        key: options.key,
        media: options.media,
        sandbox_proxy: options.sandbox_proxy,
        no_log: options.no_log,
        image_shots: options.image_shots,
        state: Mutex::new(State::default()),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(fake);
    axum::serve(listener, app).await
}

/// Every request, whatever its path: the fake routes by hand, as a contract is easier to
/// read in one `match` than in a router's table.
async fn handle(
    Shared(fake): Shared<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    fake.handle(method, uri, headers, body).await
}

/// A reply under construction: status, headers and body.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

impl Response {
    fn from_data(bytes: Vec<u8>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: Body::from(bytes),
        }
    }

    fn with_status_code(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn status_code(&self) -> u16 {
        self.status
    }

    fn into_axum(self) -> axum::response::Response {
        let mut reply = self.body.into_response();
        *reply.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                reply
                    .headers_mut()
                    .append(HeaderName::from_static(lower(name)), value);
            }
        }
        reply
    }
}

/// Header names as axum wants them (lower case); the fake writes them as RFCs do.
fn lower(name: &'static str) -> &'static str {
    match name {
        "Content-Type" => "content-type",
        "Access-Control-Allow-Origin" => "access-control-allow-origin",
        "Access-Control-Expose-Headers" => "access-control-expose-headers",
        "Access-Control-Allow-Methods" => "access-control-allow-methods",
        "Access-Control-Allow-Headers" => "access-control-allow-headers",
        "Access-Control-Max-Age" => "access-control-max-age",
        "Cache-Control" => "cache-control",
        "Accept-Ranges" => "accept-ranges",
        "Content-Range" => "content-range",
        "Retry-After" => "retry-after",
        "Set-Cookie" => "set-cookie",
        "Location" => "location",
        other => other,
    }
}

/// A body that starts, then stalls for a minute before it ends.
fn stalling() -> Body {
    use futures_util::StreamExt as _;
    let start = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(
            br#"{"code":200,"message":"success","data":{"#,
        ))
    });
    let stall = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Bytes::new())
    });
    Body::from_stream(start.chain(stall))
}
/// How tasks behave and which faults come next; set per test.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Status per poll (the last repeats); default created → processing → completed.
    statuses: Option<Vec<String>>,
    /// `data.error` of a failed (or any) task.
    error: Option<String>,
    /// How many shots a completed task has (1–3).
    shots: Option<usize>,
    /// `"images"` or `"videos"`: what the sample shots are (default: the fake's
    /// `--image-shots`).
    shots_kind: Option<String>,
    /// Give `outputs` as one string instead of a list.
    outputs_as_string: bool,
    /// Give base64 outputs as `data:video/mp4;base64,…` instead of raw base64.
    base64_as_data_uri: bool,
    /// `has_nsfw_contents`.
    nsfw: Vec<bool>,
    /// Outputs to give verbatim instead of the sample shots (hostile-server tests).
    outputs: Option<Vec<String>>,
    /// The id the submit reply gives instead of a fresh one (hostile-server tests).
    task_id: Option<String>,
    /// Serve the sample shots without `Access-Control-Allow-Origin`, as a CDN that does
    /// not allow a page to read them (they still play in `<video>`).
    outputs_without_cors: bool,
    /// `data.unit_price` of the pricing reply, as a JSON number (default 0.07).
    unit_price: Option<Value>,
    /// The account's balance before any run, as a JSON number (default 12.4): each
    /// submit is charged the price (a submit it cannot pay is refused with 402), a
    /// failed task refunded, until the next reset.
    balance: Option<Value>,
    /// Faults to answer with, per endpoint (`upload`, `submit`, `poll`), one per request
    /// in order; when a queue is empty the endpoint behaves normally.
    faults: HashMap<String, VecDeque<Fault>>,
    /// A task takes this long (ms from its submit) instead of going one status per poll:
    /// `processing` until then, then `completed` (or the last of `statuses`).
    task_ms: Option<u64>,
    /// The account runs at most this many tasks at once: a submit beyond is answered 429
    /// "too many tasks" (with `Retry-After: 1`), nothing made, nothing charged.
    max_running: Option<usize>,
    /// Submits whose image names this text (an uploaded file's name, an address) make a
    /// task that fails: "one failing task" among many.
    fail_image: Option<String>,
}

/// One injected fault.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// HTTP status to answer with (default 200).
    status: Option<u16>,
    /// Body to send as it is (default: a JSON error envelope).
    body: Option<String>,
    /// `Retry-After` header.
    retry_after: Option<String>,
    /// Wait this long before answering (a "hang" is a long delay).
    delay_ms: u64,
    /// Answer 200 with `{"code": code, "message": …}`.
    code: Option<i64>,
    /// The message of the error envelope.
    message: Option<String>,
    /// Answer with a body that is not JSON.
    bad_json: bool,
    /// Answer with these bytes, given in hex (invalid UTF-8, binary).
    body_hex: Option<String>,
    /// Redirect here (`Location`; status 302 unless `status` says otherwise).
    redirect: Option<String>,
    /// Add a `Set-Cookie` header to the reply (the normal one, if nothing else is set).
    set_cookie: Option<String>,
    /// Send the headers and the start of a body, then nothing for a minute: a reply
    /// that never ends.
    never_ends: bool,
}

impl Fault {
    /// A fault with nothing but a delay: the normal reply, late.
    fn only_slows(&self) -> bool {
        self.status.is_none()
            && self.body.is_none()
            && self.code.is_none()
            && !self.bad_json
            && self.retry_after.is_none()
            && self.body_hex.is_none()
            && self.redirect.is_none()
            && !self.never_ends
    }
}

struct Task {
    polls: usize,
    /// When it was submitted.
    started: std::time::Instant,
    /// It has been answered with a final status.
    over: bool,
    base64: bool,
    created_at: String,
    scenario: Scenario,
    /// What the task was charged, in micro-dollars, until it is refunded (failed).
    charged: u64,
}

#[derive(Default)]
struct State {
    scenario: Scenario,
    tasks: HashMap<String, Task>,
    uploads: Vec<(String, String, Vec<u8>)>,
    pending_puts: HashMap<usize, (String, String)>,
    log: Vec<Value>,
    next_id: u64,
    /// Charged for runs so far (less refunds), in micro-dollars.
    charged: u64,
    /// Tasks made so far.
    submits: u64,
    /// The most tasks running at once so far.
    peak_running: usize,
    /// Submits refused with 429 for too many running.
    refused_busy: u64,
}

impl State {
    /// Tasks running now: made, and not yet answered with a final status (nor due to
    /// be, for a task that takes a time).
    fn running(&self) -> usize {
        self.tasks
            .values()
            .filter(|t| {
                !t.over
                    && t.scenario
                        .task_ms
                        .is_none_or(|ms| (t.started.elapsed().as_millis() as u64) < ms)
            })
            .count()
    }

    /// The price of a run in micro-dollars, as the pricing reply gives it.
    fn price(&self) -> u64 {
        self.scenario
            .unit_price
            .as_ref()
            .and_then(|p| Micros::from_json_number(&p.to_string()).ok())
            .map_or(70_000, |p| p.0)
    }

    /// The account's balance now, when the scenario's is a number.
    fn balance(&self) -> Option<Micros> {
        let start = match &self.scenario.balance {
            None => Micros(12_400_000),
            Some(Value::Number(n)) => Micros::balance_from_json_number(&n.to_string()).ok()?,
            Some(_) => return None,
        };
        Some(start.saturating_sub(Micros(self.charged)))
    }
}

struct Fake {
    /// `http://127.0.0.1:PORT`: where uploads and outputs are served from.
    own_base: String,
    mode: Mode,
    key: Option<String>,
    media: PathBuf,
    sandbox_proxy: Option<String>,
    no_log: bool,
    image_shots: bool,
    state: Mutex<State>,
}

/// Where the fake answers as Cloudflare Turnstile's siteverify.
pub const SITEVERIFY_PATH: &str = "/turnstile/v0/siteverify";

/// Cloudflare's documented test secrets: always passes, always fails, already spent.
pub const TURNSTILE_PASSES: &str = "1x0000000000000000000000000000000AA";
/// Always fails.
pub const TURNSTILE_FAILS: &str = "2x0000000000000000000000000000000AA";
/// "Token already spent".
pub const TURNSTILE_SPENT: &str = "3x0000000000000000000000000000000AA";

/// siteverify's answer to a request (JSON or a form, as Cloudflare takes either) under
/// the test secrets, and the token it was asked about. A token the stand-in widget
/// (`tests/e2e/support/turnstile-stand-in.js`) issues reads `stand-in~<hostname>~<action>~…`,
/// and its reply names that hostname and action; any other token (Cloudflare's dummy
/// `XXXX.DUMMY.TOKEN.XXXX`) is for `example.com` with no action.
pub fn siteverify(body: &[u8]) -> (Value, String) {
    let fields: HashMap<String, String> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect(),
        _ => form_urlencoded::parse(body).into_owned().collect(),
    };
    let token = fields.get("response").cloned().unwrap_or_default();
    let failure = |code: &str| json!({"success": false, "error-codes": [code], "messages": []});
    let reply = match fields.get("secret").map(String::as_str) {
        _ if token.is_empty() => failure("missing-input-response"),
        Some(TURNSTILE_PASSES) => {
            let mut parts = token.split('~');
            let (hostname, action) = match (parts.next(), parts.next(), parts.next()) {
                (Some("stand-in"), Some(host), Some(action)) => (host, action),
                _ => ("example.com", ""),
            };
            json!({
                "success": true,
                "error-codes": [],
                "challenge_ts": "2026-01-01T00:00:00.000Z",
                "hostname": hostname,
                "action": action,
                "cdata": "",
            })
        }
        Some(TURNSTILE_FAILS) => failure("invalid-input-response"),
        Some(TURNSTILE_SPENT) => failure("timeout-or-duplicate"),
        _ => failure("invalid-input-secret"),
    };
    (reply, token)
}

fn json_reply(status: u16, body: &Value) -> Response {
    Response::from_data(body.to_string().into_bytes())
        .with_status_code(status)
        .with_header("Content-Type", "application/json")
}

/// The one model this fake runs.
const MODEL_ID: &str = "kwaivgi/kling-v1/ai-multi-shot";

fn envelope(data: Value) -> Value {
    json!({"code": 200, "message": "success", "data": data})
}

/// What a `Range` header asks of a resource of `len` bytes.
#[derive(Debug, PartialEq)]
enum ByteRange {
    /// No usable single range (absent, malformed, or several): the whole resource.
    Whole,
    /// Bytes `first..=last`.
    Part(usize, usize),
    /// Starts past the end: 416.
    Unsatisfiable,
}

/// Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range (RFC 9110 §14.1.2).
fn byte_range(value: &str, len: usize) -> ByteRange {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return ByteRange::Whole;
    };
    let Some((start, end)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return ByteRange::Whole;
    };
    let number = |s: &str| s.trim().parse::<usize>().ok();
    match (start.trim().is_empty(), number(start), number(end)) {
        (true, _, Some(0)) => ByteRange::Unsatisfiable,
        (true, _, Some(suffix)) if len > 0 => ByteRange::Part(len.saturating_sub(suffix), len - 1),
        (false, Some(first), _) if first >= len => ByteRange::Unsatisfiable,
        (false, Some(first), None) if end.trim().is_empty() => ByteRange::Part(first, len - 1),
        (false, Some(first), Some(last)) if last >= first => {
            ByteRange::Part(first, last.min(len - 1))
        }
        (true, _, Some(_)) => ByteRange::Unsatisfiable,
        _ => ByteRange::Whole,
    }
}

fn error(status: u16, message: &str) -> Response {
    json_reply(status, &json!({"code": status, "message": message}))
}

fn now_iso() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Fake {
    /// The sample shots' extension: `jpg` for still images, `mp4` for videos, as the
    /// scenario asks (`shots_kind`) or else as the fake was started.
    fn shot_extension(&self, asked: Option<&str>) -> &'static str {
        match asked {
            Some("images") => "jpg",
            Some("videos") => "mp4",
            _ if self.image_shots => "jpg",
            _ => "mp4",
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next fault queued for an endpoint, if any.
    fn fault(&self, endpoint: &str) -> Option<Fault> {
        self.state()
            .scenario
            .faults
            .get_mut(endpoint)
            .and_then(VecDeque::pop_front)
    }

    async fn handle(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let method = method.as_str().to_owned();
        let path = uri.path().to_owned();
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let auth = get("authorization");
        let origin = get("origin");
        let content_type = get("content-type").unwrap_or_default();
        let requested_headers = get("access-control-request-headers");
        let range = get("range");
        let base = self.own_base.clone();

        let mut entry = json!({
            "method": method,
            "path": path,
            "authorization": auth,
            "origin": origin,
            "content_type": content_type,
            "range": range,
            "headers": headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            "at_ms": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        });
        let (reply, delay) = self.route(
            &method,
            &path,
            &body,
            &content_type,
            auth.as_deref(),
            requested_headers.as_deref(),
            &base,
            &mut entry,
        );
        let cors = !(path.starts_with("/outputs/") && self.state().scenario.outputs_without_cors);
        let reply = if cors {
            reply.with_header("Access-Control-Allow-Origin", "*")
        } else {
            reply
        };
        let reply = reply
            .with_header("Access-Control-Expose-Headers", "Retry-After")
            .with_header("Cache-Control", "no-store");
        entry["status"] = json!(reply.status_code());
        let never_ends = entry["never_ends"] == json!(true);
        if !path.starts_with("/__fake/") && !self.no_log {
            self.state().log.push(entry);
        }
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if never_ends {
            return Response {
                status: 200,
                headers: Vec::new(),
                body: stalling(),
            }
            .with_header("Content-Type", "application/json")
            .with_header("Access-Control-Allow-Origin", "*")
            .into_axum();
        }
        reply.into_axum()
    }

    #[allow(clippy::too_many_arguments)]
    fn route(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        content_type: &str,
        auth: Option<&str>,
        requested_headers: Option<&str>,
        base: &str,
        entry: &mut Value,
    ) -> (Response, u64) {
        if method == "OPTIONS" {
            entry["kind"] = json!("preflight");
            return (self.preflight(requested_headers), 0);
        }
        // Control API and sandbox config.
        match (method, path) {
            ("POST", "/__fake/scenario") => {
                return match serde_json::from_slice::<Scenario>(body) {
                    Ok(scenario) => {
                        self.state().scenario = scenario;
                        (json_reply(200, &json!({"ok": true})), 0)
                    }
                    Err(e) => (error(400, &format!("bad scenario: {e}")), 0),
                };
            }
            ("POST", "/__fake/reset") => {
                let mut state = self.state();
                let next_id = state.next_id;
                *state = State {
                    next_id,
                    ..State::default()
                };
                return (json_reply(200, &json!({"ok": true})), 0);
            }
            ("GET", "/__fake/log") => {
                return (json_reply(200, &Value::Array(self.state().log.clone())), 0)
            }
            ("GET", "/__fake/stats") => {
                let state = self.state();
                let stats = json!({
                    "submits": state.submits,
                    "running": state.running(),
                    "peak_running": state.peak_running,
                    "refused_busy": state.refused_busy,
                });
                return (json_reply(200, &stats), 0);
            }
            ("GET", "/__sandbox/config.json")
                if self.mode == Mode::Sandbox || self.sandbox_proxy.is_some() =>
            {
                entry["kind"] = json!("config");
                let mut config = json!({
                    "proxy_url": self.sandbox_proxy.as_deref().unwrap_or(base),
                    "sandbox": true,
                    // Direct mode talks to this fake.
                    "api_base": base,
                    // What an embed shows before a visitor's first image.
                    "example_outputs": (1..=3)
                        .map(|k| format!("{base}/outputs/shot-{k}.{}", self.shot_extension(None)))
                        .collect::<Vec<_>>(),
                });
                // With its pretend key, shown on the page in the sandbox only.
                if let Some(key) = self
                    .key
                    .as_deref()
                    .filter(|k| k.starts_with("wsk_sandbox_"))
                {
                    config["sandbox_key"] = json!(key);
                }
                return (json_reply(200, &config), 0);
            }
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("/outputs/") {
            entry["kind"] = json!("output");
            let range = entry["range"].as_str().map(str::to_owned);
            let name = rest.replace(['/', '\\'], "");
            let mime = if name.ends_with(".jpg") {
                "image/jpeg"
            } else {
                "video/mp4"
            };
            let file = self.media.join(name);
            return (self.serve_file(&file, mime, range.as_deref()), 0);
        }
        if let Some(rest) = path.strip_prefix("/media/") {
            entry["kind"] = json!("media");
            let index: Option<usize> = rest.split('/').next().and_then(|n| n.parse().ok());
            let found = index.and_then(|i| self.state().uploads.get(i).cloned());
            return match found {
                Some((_, ctype, bytes)) => (
                    Response::from_data(bytes).with_header("Content-Type", &ctype),
                    0,
                ),
                None => (error(404, "no such file"), 0),
            };
        }
        if let Some(rest) = path.strip_prefix("/upload-put/") {
            entry["kind"] = json!("upload-put");
            if method != "PUT" {
                return (error(405, "PUT only"), 0);
            }
            if auth.is_some() {
                // A presigned storage URL refuses requests that carry other credentials.
                return (
                    error(
                        400,
                        "the storage URL must not receive an Authorization header",
                    ),
                    0,
                );
            }
            let slot: Option<usize> = rest.parse().ok();
            let pending = slot.and_then(|s| self.state().pending_puts.remove(&s));
            return match pending {
                Some((name, ctype)) => {
                    let mut state = self.state();
                    if state.uploads.len() <= slot.unwrap_or_default() {
                        state
                            .uploads
                            .resize(slot.unwrap_or_default() + 1, Default::default());
                    }
                    state.uploads[slot.unwrap_or_default()] = (name, ctype, body.to_vec());
                    (Response::from_data(Vec::new()).with_status_code(200), 0)
                }
                None => (error(404, "no upload expected there"), 0),
            };
        }
        // Standing for Cloudflare's siteverify (the proxy's --turnstile-verify-url).
        if (method, path) == ("POST", SITEVERIFY_PATH) {
            entry["kind"] = json!("siteverify");
            let mut delay = 0;
            if let Some(fault) = self.fault("siteverify") {
                entry["fault"] = json!(true);
                if !fault.only_slows() {
                    return (fault_reply(&fault), fault.delay_ms);
                }
                delay = fault.delay_ms;
            }
            let (reply, token) = siteverify(body);
            entry["token"] = json!(token);
            entry["success"] = reply["success"].clone();
            return (json_reply(200, &reply), delay);
        }
        let quota = path == "/quota" && self.mode != Mode::Direct;
        if !(path.starts_with("/api/") || quota) {
            return (error(404, "not found"), 0);
        }
        // The API proper: check the key in direct mode.
        if self.mode == Mode::Direct {
            let expected = self.key.as_ref().map(|k| format!("Bearer {k}"));
            if auth != expected.as_deref() {
                entry["kind"] = json!("unauthorized");
                return (error(401, "Invalid or missing API key"), 0);
            }
        }
        let endpoint = match (method, path) {
            // Standing for a site owner's proxy: its own `/quota` (multishot-proxy's
            // shape; this fake sets no limit), which the page asks in proxy mode.
            ("GET", "/quota") if quota => {
                entry["kind"] = json!("quota");
                let price = self.state().scenario.unit_price.clone();
                return (
                    json_reply(
                        200,
                        &json!({
                            "unit_price": price.unwrap_or(json!(0.07)),
                            "runs_left": 1000,
                            "visitor": {"runs_left": 1000},
                            "site": {"runs_left_today": 1000},
                        }),
                    ),
                    0,
                );
            }
            ("POST", "/api/v3/media/upload/binary") => "upload",
            ("POST", "/api/v3/media/uploads") => "upload-ticket",
            ("POST", "/api/v3/kwaivgi/kling-v1/ai-multi-shot") => "submit",
            ("POST", "/api/v3/model/pricing") => "pricing",
            ("GET", "/api/v3/balance") => "balance",
            ("GET", p) if p.starts_with("/api/v3/predictions/") && p.ends_with("/result") => "poll",
            _ => {
                entry["kind"] = json!("unknown");
                return (error(404, "no such endpoint"), 0);
            }
        };
        entry["kind"] = json!(endpoint);
        let mut delay = 0;
        let mut cookie = None;
        if let Some(fault) = self.fault(endpoint) {
            entry["fault"] = json!(true);
            cookie = fault.set_cookie.clone();
            if fault.never_ends {
                entry["never_ends"] = json!(true);
            }
            if !fault.only_slows() {
                let mut reply = fault_reply(&fault);
                if let Some(cookie) = &cookie {
                    reply = reply.with_header("Set-Cookie", cookie);
                }
                return (reply, fault.delay_ms);
            }
            delay = fault.delay_ms;
        }
        let mut reply = match endpoint {
            "upload" => {
                // What the page sent, as the rules judge it from its bytes (the e2e
                // tests of repaired images read it from the log).
                if let Some((name, _, bytes)) = content_type
                    .split("boundary=")
                    .nth(1)
                    .and_then(|b| multipart_file(body, b.trim_matches('"')))
                {
                    let report = multishot_rules::check_file(&bytes);
                    let sniffed = multishot_rules::sniff::sniff(&bytes);
                    entry["image"] = json!({
                        "name": name,
                        "bytes": bytes.len(),
                        "mime": sniffed.format.mime(),
                        "size": sniffed.header.ok().map(|d| [d.width, d.height]),
                        "passes": report.passes() && report.unchecked.is_empty(),
                    });
                }
                self.upload_binary(body, content_type, base)
            }
            "upload-ticket" => self.upload_ticket(body, base),
            "submit" => self.submit(body, content_type, base, entry),
            "pricing" => self.pricing(body, content_type, entry),
            "balance" => self.balance(),
            _ => {
                let id = &path["/api/v3/predictions/".len()..path.len() - "/result".len()];
                self.poll(id, base)
            }
        };
        if let Some(cookie) = &cookie {
            reply = reply.with_header("Set-Cookie", cookie);
        }
        (reply, delay)
    }

    fn preflight(&self, requested: Option<&str>) -> Response {
        let allowed = ["authorization", "content-type"];
        let ok = requested
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .all(|h| h.is_empty() || allowed.contains(&h.as_str()));
        if !ok {
            // No allow headers: the browser refuses the real request.
            return Response::from_data(Vec::new()).with_status_code(403);
        }
        Response::from_data(Vec::new())
            .with_status_code(204)
            .with_header("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
            .with_header(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type",
            )
            .with_header("Access-Control-Max-Age", "600")
    }

    /// A stored output, whole or (for a `Range` request) in part, as a CDN serves it:
    /// browsers fetch video with `Range: bytes=0-` and play it only partly loaded.
    fn serve_file(&self, path: &std::path::Path, ctype: &str, range: Option<&str>) -> Response {
        let Ok(bytes) = std::fs::read(path) else {
            return error(404, "no such output");
        };
        let len = bytes.len();
        match range.map(|r| byte_range(r, len)) {
            None | Some(ByteRange::Whole) => Response::from_data(bytes)
                .with_header("Content-Type", ctype)
                .with_header("Accept-Ranges", "bytes"),
            Some(ByteRange::Part(first, last)) => Response::from_data(bytes[first..=last].to_vec())
                .with_status_code(206)
                .with_header("Content-Type", ctype)
                .with_header("Accept-Ranges", "bytes")
                .with_header("Content-Range", &format!("bytes {first}-{last}/{len}")),
            Some(ByteRange::Unsatisfiable) => error(416, "range not satisfiable")
                .with_header("Content-Range", &format!("bytes */{len}")),
        }
    }

    fn store_upload(&self, name: String, ctype: String, bytes: Vec<u8>) -> usize {
        let mut state = self.state();
        state.uploads.push((name, ctype, bytes));
        state.uploads.len() - 1
    }

    fn upload_binary(&self, body: &[u8], content_type: &str, base: &str) -> Response {
        let Some(boundary) = content_type
            .split("boundary=")
            .nth(1)
            .map(|b| b.trim_matches('"').to_owned())
        else {
            return error(400, "expected multipart/form-data");
        };
        let Some((name, ctype, bytes)) = multipart_file(body, &boundary) else {
            return error(400, "the form has no `file` field");
        };
        if bytes.is_empty() {
            return error(400, "the file is empty");
        }
        let size = bytes.len();
        let index = self.store_upload(name.clone(), ctype, bytes);
        json_reply(
            200,
            &envelope(json!({
                "type": "image",
                "download_url": format!("{base}/media/{index}/{name}"),
                "filename": name,
                "size": size,
            })),
        )
    }

    fn upload_ticket(&self, body: &[u8], base: &str) -> Response {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error(400, "expected JSON");
        };
        let (Some(name), Some(_size)) = (
            request.get("filename").and_then(Value::as_str),
            request.get("size").and_then(Value::as_u64),
        ) else {
            return error(400, "filename and size are required");
        };
        // The official SDK leaves content_type out when it cannot guess it.
        let ctype = request
            .get("content_type")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream");
        let mut state = self.state();
        let slot = state.uploads.len() + state.pending_puts.len();
        state
            .pending_puts
            .insert(slot, (name.to_owned(), ctype.to_owned()));
        json_reply(
            200,
            &envelope(json!({
                "upload": {
                    "method": "PUT",
                    "url": format!("{base}/upload-put/{slot}"),
                    "headers": {"Content-Type": ctype},
                    "expires_at": "2099-01-01T00:00:00.000Z",
                },
                "download_url": format!("{base}/media/{slot}/{name}"),
            })),
        )
    }

    fn submit(&self, body: &[u8], content_type: &str, base: &str, entry: &mut Value) -> Response {
        if !content_type.starts_with("application/json") {
            return error(400, "expected application/json");
        }
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
            return error(400, "the body is not a JSON object");
        };
        let unknown: Vec<&String> = fields
            .keys()
            .filter(|k| !matches!(k.as_str(), "image" | "enable_base64_output"))
            .collect();
        entry["unknown_fields"] = json!(unknown);
        entry["body"] = Value::Object(fields.clone());
        let image = fields
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let lower = image.to_ascii_lowercase();
        if image.is_empty() {
            return error(400, "image is required");
        }
        if !(lower.starts_with("https://")
            || lower.starts_with("http://")
            || lower.starts_with("data:image/"))
        {
            return error(400, "image must be a URL or a data URI");
        }
        let base64 = match fields.get("enable_base64_output") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return error(400, "enable_base64_output must be a boolean"),
        };
        let mut state = self.state();
        // Past the account's tasks at once, a submit is refused: nothing is made.
        if let Some(max) = state.scenario.max_running {
            if state.running() >= max {
                state.refused_busy += 1;
                return error(429, "Too many tasks running at once; try again shortly")
                    .with_header("Retry-After", "1");
            }
        }
        // WaveSpeed charges at the submit: an account that cannot pay makes no task.
        let price = state.price();
        if state.balance().is_some_and(|b| b.0 < price) {
            return error(402, "Insufficient balance");
        }
        state.charged += price;
        state.next_id += 1;
        let id = state.scenario.task_id.clone().unwrap_or_else(|| {
            // 32 lowercase hex characters, as WaveSpeed's ids are.
            format!(
                "{:016x}{:08x}{:08x}",
                0x5eed_0000_u64 + state.next_id,
                std::process::id(),
                port_salt(base)
            )
        });
        let created_at = now_iso();
        let mut scenario = state.scenario.clone();
        if scenario
            .fail_image
            .as_deref()
            // An uploaded file's address ends in its name.
            .is_some_and(|f| image.contains(f))
        {
            scenario.statuses = Some(vec!["processing".into(), "failed".into()]);
            scenario
                .error
                .get_or_insert_with(|| "The model could not use this image.".into());
        }
        state.submits += 1;
        state.tasks.insert(
            id.clone(),
            Task {
                started: std::time::Instant::now(),
                over: false,
                polls: 0,
                base64,
                created_at: created_at.clone(),
                scenario,
                charged: price,
            },
        );
        state.peak_running = state.peak_running.max(state.running());
        entry["task"] = json!(id);
        json_reply(
            200,
            &envelope(prediction(&id, "created", json!([]), &created_at, "", &[])),
        )
    }

    /// `POST /api/v3/model/pricing`: the price of one run of a model, in USD.
    fn pricing(&self, body: &[u8], content_type: &str, entry: &mut Value) -> Response {
        if !content_type.starts_with("application/json") {
            return error(400, "expected application/json");
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error(400, "the body is not JSON");
        };
        entry["body"] = request.clone();
        let Some(model_id) = request.get("model_id").and_then(Value::as_str) else {
            return error(400, "model_id is required");
        };
        if model_id != MODEL_ID {
            return error(404, "model not found");
        }
        let price = self.state().scenario.unit_price.clone();
        json_reply(
            200,
            &envelope(json!({
                "model_id": model_id,
                "unit_price": price.unwrap_or(json!(0.07)),
                "currency": "USD",
            })),
        )
    }

    /// `GET /api/v3/balance`: the account's balance in USD — the scenario's (default
    /// 12.4) less what runs have cost, as WaveSpeed charges at the submit and refunds a
    /// failed task. A scenario balance that is not a number is sent as it is.
    fn balance(&self) -> Response {
        let state = self.state();
        let balance = match state.balance() {
            Some(left) => serde_json::from_str(&left.decimal()).unwrap_or(Value::Null),
            None => state.scenario.balance.clone().unwrap_or(Value::Null),
        };
        json_reply(200, &envelope(json!({"balance": balance})))
    }

    fn poll(&self, id: &str, base: &str) -> Response {
        let mut state = self.state();
        let Some(task) = state.tasks.get_mut(id) else {
            return error(404, "task not found");
        };
        task.polls += 1;
        let statuses = task
            .scenario
            .statuses
            .clone()
            .unwrap_or_else(|| vec!["created".into(), "processing".into(), "completed".into()]);
        let status = match task.scenario.task_ms {
            Some(ms) if (task.started.elapsed().as_millis() as u64) < ms => "processing".into(),
            Some(_) => statuses
                .last()
                .cloned()
                .unwrap_or_else(|| "completed".into()),
            None => statuses
                .get(task.polls - 1)
                .or(statuses.last())
                .cloned()
                .unwrap_or_else(|| "completed".into()),
        };
        if matches!(
            status.as_str(),
            "completed" | "failed" | "cancelled" | "timeout" | "deleted"
        ) {
            task.over = true;
        }
        let error_text = task.scenario.error.clone().unwrap_or_default();
        // A failed task is refunded, once.
        let refund = if status == "failed" {
            std::mem::take(&mut task.charged)
        } else {
            0
        };
        let (outputs, nsfw) = if status == "completed" {
            let shots = task.scenario.shots.unwrap_or(3).clamp(1, 3);
            let extension = self.shot_extension(task.scenario.shots_kind.as_deref());
            let mime = if extension == "jpg" {
                "image/jpeg"
            } else {
                "video/mp4"
            };
            let list: Vec<String> = match &task.scenario.outputs {
                Some(given) => given.clone(),
                None if task.base64 => (1..=shots)
                    .map(|k| {
                        let bytes = std::fs::read(self.media.join(format!("shot-{k}.{extension}")))
                            .unwrap_or_default();
                        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                        if task.scenario.base64_as_data_uri {
                            format!("data:{mime};base64,{b64}")
                        } else {
                            b64
                        }
                    })
                    .collect(),
                None => (1..=shots)
                    .map(|k| format!("{base}/outputs/shot-{k}.{extension}"))
                    .collect(),
            };
            let outputs = if task.scenario.outputs_as_string {
                json!(list.first().cloned().unwrap_or_default())
            } else {
                json!(list)
            };
            (outputs, task.scenario.nsfw.clone())
        } else {
            (json!([]), Vec::new())
        };
        let created_at = task.created_at.clone();
        state.charged = state.charged.saturating_sub(refund);
        json_reply(
            200,
            &envelope(prediction(
                id,
                &status,
                outputs,
                &created_at,
                &error_text,
                &nsfw,
            )),
        )
    }
}

/// A number from the fake's own address, so two fakes in one process give different ids.
fn port_salt(base: &str) -> u32 {
    base.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

fn prediction(
    id: &str,
    status: &str,
    outputs: Value,
    created_at: &str,
    error_text: &str,
    nsfw: &[bool],
) -> Value {
    json!({
        "id": id,
        "model": MODEL_ID,
        "outputs": outputs,
        "urls": {"get": format!("https://api.wavespeed.ai/api/v3/predictions/{id}/result")},
        "has_nsfw_contents": nsfw,
        "status": status,
        "created_at": created_at,
        "error": error_text,
        "timings": {"inference": if status == "completed" { 41_250 } else { 0 }},
    })
}

fn fault_reply(fault: &Fault) -> Response {
    let status = fault.status.unwrap_or(200);
    let message = fault
        .message
        .clone()
        .unwrap_or_else(|| "injected fault".into());
    let mut reply = if let Some(location) = &fault.redirect {
        Response::from_data(Vec::new())
            .with_status_code(fault.status.unwrap_or(302))
            .with_header("Location", location)
    } else if let Some(hex) = &fault.body_hex {
        let bytes = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Vec<u8>>();
        Response::from_data(bytes)
            .with_status_code(status)
            .with_header("Content-Type", "application/json")
    } else if fault.bad_json {
        Response::from_data(b"{\"code\":200,\"data\":{\"id\":".to_vec())
            .with_status_code(status)
            .with_header("Content-Type", "application/json")
    } else if let Some(body) = &fault.body {
        Response::from_data(body.clone().into_bytes()).with_status_code(status)
    } else if let Some(code) = fault.code {
        json_reply(status, &json!({"code": code, "message": message}))
    } else {
        json_reply(status, &json!({"code": status, "message": message}))
    };
    if let Some(retry_after) = &fault.retry_after {
        reply = reply.with_header("Retry-After", retry_after);
    }
    reply
}

/// The `file` part of a multipart body: (file name, content type, bytes).
fn multipart_file(body: &[u8], boundary: &str) -> Option<(String, String, Vec<u8>)> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, &delimiter) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    parts.into_iter().skip(1).find_map(|part| {
        let part = part.strip_prefix(b"\r\n")?;
        let split = find(part, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let data = part[split + 4..].strip_suffix(b"\r\n")?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
        if !disposition.contains("name=\"file\"") {
            return None;
        }
        let name = disposition
            .split("filename=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("upload");
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        let ctype = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        Some((
            if name.is_empty() {
                "upload".into()
            } else {
                name
            },
            ctype,
            data.to_vec(),
        ))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::{byte_range, ByteRange};

    #[test]
    fn ranges_are_read_as_a_cdn_reads_them() {
        assert_eq!(byte_range("bytes=0-", 100), ByteRange::Part(0, 99));
        assert_eq!(byte_range("bytes=10-19", 100), ByteRange::Part(10, 19));
        assert_eq!(byte_range("bytes=90-500", 100), ByteRange::Part(90, 99));
        assert_eq!(byte_range("bytes=-30", 100), ByteRange::Part(70, 99));
        assert_eq!(byte_range("bytes=-300", 100), ByteRange::Part(0, 99));
        assert_eq!(byte_range("bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(byte_range("bytes=0-", 0), ByteRange::Unsatisfiable);
        assert_eq!(byte_range("bytes=5-2", 100), ByteRange::Whole);
        assert_eq!(byte_range("bytes=0-1,5-6", 100), ByteRange::Whole);
        assert_eq!(byte_range("items=0-1", 100), ByteRange::Whole);
        assert_eq!(byte_range("bytes=x-", 100), ByteRange::Whole);
    }
}
