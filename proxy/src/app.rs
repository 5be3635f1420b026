//! The proxy's routes: the paths the page uses (upload, submit, result, and a finished
//! task's outputs), CORS for the allowed origins, `/healthz`, `/metrics`, and 404 for
//! everything else.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tracing::{info, warn};

use crate::clock;
use crate::config::Settings;
use crate::envelope::{upload_reply, EnvelopeError, Prediction};
use crate::filter::{self, submit_body};
use crate::limits::{AnyStore, Decision, Outcome, Rate, Refusal, RunRequest, Store};
use crate::metrics::{Metrics, Snapshot};
use crate::money::Micros;
use crate::reply::{json_reply, refuse, text_reply, wait_text};
use crate::upstream::{self, Upstream, UpstreamError};
use crate::visitor::Visitor;

/// A task not seen finished after this long stops counting as running.
const RUNNING_MAX_AGE_MS: u64 = 3_600_000;
/// How long a task's reservation is remembered, waiting to be settled.
const TASK_RECORD_S: u64 = 8 * 86_400;
/// The largest submit body read (a 10 MiB image inline as base64, and then some).
const MAX_SUBMIT_BYTES: usize = 15 * 1024 * 1024;
/// The largest upload body read: the 10 MiB file and its multipart envelope.
const MAX_UPLOAD_BYTES: usize = multishot_rules::rules::MAX_FILE_BYTES as usize + 64 * 1024;
/// How long a client may take to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// The proxy's own path that tells a visitor the price and their runs left.
pub const QUOTA_PATH: &str = "/quota";
/// What a visitor reads while the owner has paused the generator (`--paused`).
const PAUSED: &str = "This site's generator is paused by its owner; try again later.";
/// The visitor-facing sentence for trouble only the site owner can fix.
pub const UNAVAILABLE: &str =
    "The generator on this site is unavailable right now; your image was not charged.";

/// Everything a request needs, shared.
pub struct Proxy {
    /// The settings.
    pub settings: Settings,
    /// The counters.
    pub store: AnyStore,
    /// WaveSpeed.
    pub upstream: Upstream,
    /// The metrics.
    pub metrics: Metrics,
    /// The price of a run now, in micro-dollars.
    price: AtomicU64,
    /// Reservations made by this instance, for unique ids.
    reservations: AtomicU64,
    /// This instance's random name, for unique ids across instances.
    instance: String,
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Proxy {
    /// A proxy with these settings and store; the price starts at the fallback.
    pub fn new(settings: Settings, store: AnyStore) -> Result<Arc<Self>, String> {
        let upstream = Upstream::new(&settings.upstream, &settings.key, settings.upstream_timeout)
            .map_err(|e| format!("cannot make the upstream client: {e}"))?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        let instance = nonce.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Arc::new(Self {
            price: AtomicU64::new(settings.fallback_price.0),
            settings,
            store,
            upstream,
            metrics: Metrics::default(),
            reservations: AtomicU64::new(0),
            instance,
        }))
    }

    /// The price of a run now.
    pub fn price(&self) -> Micros {
        Micros(self.price.load(Ordering::Relaxed))
    }

    /// Asks WaveSpeed the price of a run; keeps the last known (or the fallback) when
    /// that fails. A price of zero is never believed: it would lift the budget.
    pub async fn refresh_price(&self) {
        let answer = match self.upstream.pricing().await {
            Ok(reply) if reply.status == 200 => crate::envelope::unit_price(&reply.body)
                .map_err(|e| e.to_string())
                .and_then(|text| Micros::from_json_number(&text).map_err(|e| e.to_string())),
            Ok(reply) => Err(format!("HTTP {}", reply.status)),
            Err(e) => Err(e.to_string()),
        };
        match answer {
            Ok(price) if price > Micros::ZERO => {
                self.price.store(price.0, Ordering::Relaxed);
                info!(price = %price, "price of a run from WaveSpeed");
            }
            Ok(_) => warn!("WaveSpeed gave a price of zero; keeping {}", self.price()),
            Err(e) => warn!(
                error = %e,
                "cannot read the price from WaveSpeed; using {}",
                self.price()
            ),
        }
    }

    fn visitor(&self, peer: SocketAddr, headers: &HeaderMap) -> Visitor {
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        self.settings.trusted.visitor(peer.ip(), &forwarded)
    }

    /// A per-visitor rate; `None` when allowed, else the refusal to send. When the
    /// store is down: `fail_open` lets the request through, else 503.
    async fn rate_limit(
        &self,
        limit: &'static str,
        visitor: Visitor,
        rate: Rate,
        fail_open: bool,
        message: impl FnOnce(u64) -> String,
    ) -> Option<Response> {
        match self
            .store
            .rate(&format!("rate:{limit}:{visitor}"), rate, now_ms())
            .await
        {
            Ok(Decision::Allowed) => None,
            Ok(Decision::Refused { retry_after_ms }) => {
                self.metrics.limit_hit(limit);
                let seconds = retry_after_ms.div_ceil(1000);
                Some(refuse(429, limit, &message(seconds), Some(seconds)))
            }
            Err(e) if fail_open => {
                warn!(error = %e, limit, "limit store down; letting the request through");
                None
            }
            Err(e) => Some(self.store_down(&e)),
        }
    }

    /// The per-visitor rate of checks (polls, outputs, `/quota`), which fails open.
    async fn poll_rate(&self, visitor: Visitor) -> Option<Response> {
        self.rate_limit(
            "poll_rate",
            visitor,
            Rate::per_second(self.settings.polls_per_second),
            true,
            |_| "Too many checks from your address; slowing down.".into(),
        )
        .await
    }

    /// A per-visitor hourly rate of `what` (uploads, generations), which fails closed.
    async fn hourly_limit(
        &self,
        limit: &'static str,
        visitor: Visitor,
        per_hour: u32,
        what: &str,
    ) -> Option<Response> {
        self.rate_limit(limit, visitor, Rate::per_hour(per_hour), false, |s| {
            hourly_text(per_hour, what, s)
        })
        .await
    }

    fn store_down(&self, e: &crate::limits::StoreError) -> Response {
        warn!(error = %e, "limit store down; refusing");
        self.metrics.limit_hit("store_down");
        refuse(503, "store_down", UNAVAILABLE, Some(30))
    }

    fn paused(&self) -> Option<Response> {
        self.settings.paused.then(|| {
            self.metrics.limit_hit("paused");
            refuse(503, "paused", PAUSED, Some(3600))
        })
    }

    /// A fresh reservation id, unique across instances.
    fn reservation_id(&self) -> String {
        let n = self.reservations.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.instance)
    }
}

/// The refusal of a visitor's hourly limit of `per_hour` `what`s, to wait `seconds`.
fn hourly_text(per_hour: u32, what: &str, seconds: u64) -> String {
    format!(
        "You have reached this site's limit of {per_hour} {what} an hour; try again {}.",
        wait_text(seconds)
    )
}

/// A budget's refusal as the visitor reads it: its reason, sentence, and seconds to wait.
fn budget_refusal(refusal: Refusal, now_s: u64) -> (&'static str, &'static str, u64) {
    match refusal {
        Refusal::DailyBudget => (
            "daily_budget",
            "This site's daily budget is used up; it resets at 00:00 UTC.",
            clock::day(now_s).seconds_left(now_s),
        ),
        Refusal::MonthlyBudget => (
            "monthly_budget",
            "This site's monthly budget is used up; it resets on the 1st at 00:00 UTC.",
            clock::month(now_s).seconds_left(now_s),
        ),
        Refusal::Running => (
            "running",
            "This site is running as many generations as it allows at once; try again in a minute.",
            60,
        ),
    }
}

/// The router, with CORS on the API paths.
pub fn router(proxy: Arc<Proxy>) -> Router {
    let api = Router::new()
        .route(upstream::UPLOAD_PATH, post(upload).options(preflight))
        .route(upstream::SUBMIT_PATH, post(submit).options(preflight))
        .route(
            "/api/v3/predictions/{token}/result",
            get(poll).options(preflight),
        )
        .route(
            "/api/v3/predictions/{token}/outputs/{n}",
            get(output).options(preflight),
        )
        .route(QUOTA_PATH, get(quota).options(preflight))
        .route_layer(middleware::from_fn_with_state(proxy.clone(), cors));
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(proxy)
}

fn route_name(path: &str) -> &'static str {
    match path {
        upstream::UPLOAD_PATH => "upload",
        upstream::SUBMIT_PATH => "submit",
        QUOTA_PATH => "quota",
        p if p.contains("/outputs/") => "output",
        _ => "poll",
    }
}

/// Origins: an allowed one gets CORS headers; a missing or other one gets 403 before
/// any handler runs. Preflights are answered here, cached by the browser for a day.
async fn cors(State(proxy): State<Arc<Proxy>>, request: Request, next: Next) -> Response {
    let route = route_name(request.uri().path());
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = origin
        .as_deref()
        .and_then(|o| proxy.settings.origins.allows(o))
        .cloned();
    let mut response = match (&allowed, request.method() == Method::OPTIONS) {
        (None, _) => {
            proxy.metrics.limit_hit("origin");
            let message = match &origin {
                Some(o) => {
                    warn!(origin = %o.chars().take(200).collect::<String>(), route, "origin not allowed");
                    format!(
                        "This web page ({}) is not allowed to use this generator.",
                        o.chars().take(200).collect::<String>()
                    )
                }
                None => "Requests must come from a web page this generator allows.".into(),
            };
            refuse(403, "origin", &message, None)
        }
        (Some(_), true) => {
            let wanted = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let only_content_type = wanted
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .all(|h| h.is_empty() || h == "content-type");
            if only_content_type {
                let mut r = StatusCode::NO_CONTENT.into_response();
                let h = r.headers_mut();
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, POST"),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("Content-Type"),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("86400"),
                );
                r
            } else {
                // A visitor's page never sends a key to the proxy.
                refuse(
                    403,
                    "headers",
                    "Only Content-Type may be sent to this generator (no Authorization: it holds the key).",
                    None,
                )
            }
        }
        (Some(_), false) => next.run(request).await,
    };
    let status = response.status().as_u16();
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        if let Ok(value) = HeaderValue::from_str(origin.as_str()) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("Retry-After"),
            );
        }
    }
    proxy.metrics.request(route, status);
    response
}

/// Preflights are answered by [`cors`]; this only gives the route its method.
async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Reads a body up to `limit` bytes within [`BODY_TIMEOUT`].
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Response> {
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(refuse(
            408,
            "slow_client",
            "The request took too long to arrive.",
            None,
        )),
        Ok(Err(_)) => Err(refuse(
            413,
            "too_large",
            &format!(
                "File size: the request is larger than the {} this generator accepts.",
                multishot_rules::units::format_bytes(multishot_rules::rules::MAX_FILE_BYTES)
            ),
            None,
        )),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// How an upstream problem reads to a visitor, for routes other than the poll's 404.
fn upstream_failure(proxy: &Proxy, route: &'static str, reply: &upstream::Reply) -> Response {
    let message = || crate::envelope::error_message(&reply.body);
    match reply.status {
        401..=403 => {
            warn!(route, status = reply.status, upstream_message = %message(), "WaveSpeed refused the proxy's key or account");
            refuse(502, "upstream_refused", UNAVAILABLE, None)
        }
        429 => {
            proxy.metrics.limit_hit("upstream_rate");
            let seconds = filter::retry_after(reply.retry_after.as_deref()).unwrap_or(30);
            refuse(
                429,
                "upstream_busy",
                &format!(
                    "The generator is busy right now; try again {}.",
                    wait_text(seconds)
                ),
                Some(seconds),
            )
        }
        500..=599 => {
            warn!(route, status = reply.status, upstream_message = %message(), "WaveSpeed had a problem");
            refuse(
                502,
                "upstream_error",
                &format!(
                    "WaveSpeed had a problem (HTTP {}); try again.",
                    reply.status
                ),
                Some(5),
            )
        }
        status => refuse(
            if (400..500).contains(&status) {
                status
            } else {
                502
            },
            "upstream_rejected",
            &format!("WaveSpeed refused the request: {}", message()),
            None,
        ),
    }
}

/// `POST /api/v3/media/upload/binary`: a visitor's image, checked by the model's rules
/// before WaveSpeed sees it.
async fn upload(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refusal) = proxy.paused() {
        return refusal;
    }
    let visitor = proxy.visitor(peer, &headers);
    if let Some(refusal) = proxy
        .hourly_limit(
            "upload_rate",
            visitor,
            proxy.settings.uploads_per_hour,
            "uploads",
        )
        .await
    {
        return refusal;
    }
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        return refuse(
            400,
            "bad_request",
            "The upload must be a multipart form with a file.",
            None,
        );
    };
    let bytes = match read_body(body, MAX_UPLOAD_BYTES).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    let file = match file_field(bytes, &boundary).await {
        Ok(file) => file,
        Err(refusal) => return refusal,
    };
    if let Some(message) = filter::rules_message(&file) {
        proxy.metrics.limit_hit("image_rules");
        return refuse(422, "image_rules", &message, None);
    }
    let now = now_ms();
    let today = clock::day(now / 1000);
    match proxy
        .store
        .add_within(
            &format!("bytes:{}:{visitor}", today.name),
            file.len() as u64,
            proxy.settings.upload_bytes_per_day,
            &today,
            now,
        )
        .await
    {
        Ok(Decision::Allowed) => {}
        Ok(Decision::Refused { retry_after_ms }) => {
            proxy.metrics.limit_hit("upload_bytes");
            return refuse(
                429,
                "upload_bytes",
                "You have uploaded as much as this site allows today; it resets at 00:00 UTC.",
                Some(retry_after_ms.div_ceil(1000)),
            );
        }
        Err(e) => return proxy.store_down(&e),
    }
    let (name, content_type) = filter::upload_name(&file);
    let reply = match proxy
        .upstream
        .upload(file.to_vec(), name, content_type)
        .await
    {
        Ok(reply) => reply,
        Err(e) => return no_reply("upload", &e),
    };
    proxy.metrics.upstream("upload", reply.elapsed);
    if !(200..300).contains(&reply.status) {
        return upstream_failure(&proxy, "upload", &reply);
    }
    match upload_reply(&reply.body) {
        Ok(clean) => json_reply(200, &clean),
        Err(EnvelopeError::Refused { code, message }) => {
            refused_in_body(&proxy, "upload", code, &message)
        }
        Err(e) => {
            warn!(error = %e, "unusable upload reply");
            refuse(
                502,
                "upstream_bad_reply",
                "WaveSpeed's reply could not be understood; try again.",
                None,
            )
        }
    }
}

/// The `file` field of a multipart body.
async fn file_field(bytes: axum::body::Bytes, boundary: &str) -> Result<Vec<u8>, Response> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    let bad = || {
        refuse(
            400,
            "bad_request",
            "The upload must be a multipart form with a file.",
            None,
        )
    };
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                return field.bytes().await.map(|b| b.to_vec()).map_err(|_| bad());
            }
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return Err(bad()),
        }
    }
}

/// A 200 whose envelope says `code != 200`: WaveSpeed's error in the body.
fn refused_in_body(proxy: &Proxy, route: &'static str, code: i64, message: &str) -> Response {
    let status = u16::try_from(code)
        .ok()
        .filter(|c| (400..600).contains(c))
        .unwrap_or(502);
    upstream_failure(
        proxy,
        route,
        &upstream::Reply {
            status,
            retry_after: None,
            body: json!({"message": message}).to_string().into_bytes(),
            elapsed: Duration::ZERO,
        },
    )
}

fn no_reply(route: &'static str, e: &UpstreamError) -> Response {
    warn!(route, error = %e, "no reply from WaveSpeed");
    match e {
        UpstreamError::TimedOut => refuse(
            504,
            "upstream_timeout",
            "WaveSpeed did not answer in time; try again.",
            Some(5),
        ),
        _ => refuse(
            502,
            "upstream_unreachable",
            "WaveSpeed could not be reached; try again.",
            Some(5),
        ),
    }
}

/// `POST /api/v3/kwaivgi/kling-v1/ai-multi-shot`: exactly `image` and
/// `enable_base64_output` go upstream, once, after the run's price is reserved.
async fn submit(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refusal) = proxy.paused() {
        proxy.metrics.submit("refused");
        return refusal;
    }
    let visitor = proxy.visitor(peer, &headers);
    if let Some(refusal) = proxy
        .hourly_limit(
            "run_rate",
            visitor,
            proxy.settings.runs_per_hour,
            "generations",
        )
        .await
    {
        proxy.metrics.submit("refused");
        return refusal;
    }
    let bytes = match read_body(body, MAX_SUBMIT_BYTES).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    let clean = match submit_body(&bytes) {
        Ok(clean) => clean,
        Err(e) => {
            proxy.metrics.submit("refused");
            return refuse(
                e.status(),
                if e.status() == 422 {
                    "image_rules"
                } else {
                    "bad_request"
                },
                &e.to_string(),
                None,
            );
        }
    };
    let now = now_ms();
    let run = RunRequest {
        price: proxy.price(),
        day: clock::day(now / 1000),
        day_cap: proxy.settings.day_cap,
        month: clock::month(now / 1000),
        month_cap: proxy.settings.month_cap,
        max_running: proxy.settings.max_running,
        running_max_age_ms: RUNNING_MAX_AGE_MS,
        now_ms: now,
        reservation_id: proxy.reservation_id(),
    };
    let reservation = match proxy.store.reserve(&run).await {
        Ok(Ok(reservation)) => reservation,
        Ok(Err(refusal)) => {
            proxy.metrics.submit("refused");
            let (limit, message, seconds) = budget_refusal(refusal, now / 1000);
            proxy.metrics.limit_hit(limit);
            return refuse(429, limit, message, Some(seconds));
        }
        Err(e) => {
            proxy.metrics.submit("refused");
            return proxy.store_down(&e);
        }
    };
    let release = |why: &'static str| {
        let proxy = proxy.clone();
        let reservation = reservation.clone();
        async move {
            if let Err(e) = proxy.store.release(&reservation).await {
                warn!(error = %e, why, "could not give a reservation back");
            }
        }
    };
    let reply = match proxy.upstream.submit(&clean).await {
        Ok(reply) => reply,
        Err(e) => {
            // The request may have reached WaveSpeed and made a task: the reservation
            // stays (it is never retried, and the budget errs on the safe side).
            proxy.metrics.submit("failed");
            return no_reply("submit", &e);
        }
    };
    proxy.metrics.upstream("submit", reply.elapsed);
    if !(200..300).contains(&reply.status) {
        // An error status: no task was made.
        release("upstream error").await;
        proxy.metrics.submit("failed");
        return upstream_failure(&proxy, "submit", &reply);
    }
    let prediction = match Prediction::parse(&reply.body) {
        Ok(prediction) => prediction,
        Err(EnvelopeError::Refused { code, message }) => {
            release("upstream error").await;
            proxy.metrics.submit("failed");
            return refused_in_body(&proxy, "submit", code, &message);
        }
        Err(e) => {
            // A 200 we cannot read may still have made a task: keep the reservation.
            warn!(error = %e, "unusable submit reply");
            proxy.metrics.submit("failed");
            return refuse(
                502,
                "upstream_bad_reply",
                "WaveSpeed's reply could not be understood; the run may have been made.",
                None,
            );
        }
    };
    let Some(token) = proxy.settings.signer.sign(&prediction.id, now / 1000) else {
        proxy.metrics.submit("failed");
        return refuse(
            502,
            "upstream_bad_reply",
            "WaveSpeed's reply could not be understood; the run may have been made.",
            None,
        );
    };
    if let Err(e) = proxy
        .store
        .record_task(&prediction.id, &reservation, TASK_RECORD_S, now)
        .await
    {
        warn!(error = %e, "could not record the task's reservation; it stays spent");
    }
    proxy.metrics.submit("accepted");
    info!(visitor = %visitor, price = %run.price, "run submitted");
    text_reply(200, prediction.reply(&token))
}

/// For a visitor's request about the task behind `token`: the token checked, the
/// visitor's poll rate taken, and WaveSpeed asked for the task's result (a 2xx reply),
/// or the refusal to answer with.
async fn ask_about_task(
    proxy: &Proxy,
    peer: SocketAddr,
    headers: &HeaderMap,
    token: &str,
    route: &'static str,
) -> Result<(String, upstream::Reply), Response> {
    let task_id = proxy
        .settings
        .signer
        .verify(token, now_ms() / 1000)
        .map_err(|_| refuse(404, "not_found", "task not found", None))?;
    let visitor = proxy.visitor(peer, headers);
    if let Some(refusal) = proxy.poll_rate(visitor).await {
        return Err(refusal);
    }
    let reply = proxy
        .upstream
        .poll(&task_id)
        .await
        .map_err(|e| no_reply(route, &e))?;
    proxy.metrics.upstream("poll", reply.elapsed);
    if reply.status == 404 {
        return Err(refuse(404, "not_found", "task not found", None));
    }
    if !(200..300).contains(&reply.status) {
        return Err(upstream_failure(proxy, route, &reply));
    }
    Ok((task_id, reply))
}

/// `GET /api/v3/predictions/{token}/result`: only tasks made through this proxy, by
/// their signed token; the id it carries is polled.
async fn poll(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let now = now_ms();
    let (task_id, reply) = match ask_about_task(&proxy, peer, &headers, &token, "poll").await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let prediction = match Prediction::parse(&reply.body) {
        Ok(prediction) => prediction,
        Err(EnvelopeError::Refused { code, message }) => {
            return refused_in_body(&proxy, "poll", code, &message)
        }
        Err(e) => {
            warn!(error = %e, "unusable poll reply");
            return refuse(
                502,
                "upstream_bad_reply",
                "WaveSpeed's reply could not be understood; trying again.",
                Some(2),
            );
        }
    };
    if prediction.is_terminal() {
        let outcome = if prediction.status == "failed" {
            Outcome::Failed
        } else {
            Outcome::Spent
        };
        match proxy.store.settle(&task_id, outcome, now).await {
            Ok(Some(price)) if outcome == Outcome::Failed => {
                info!(price = %price, "failed task refunded to the budget")
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "could not settle a task"),
        }
    }
    text_reply(200, prediction.reply(&token))
}

/// The largest output passed on (a shot is a few megabytes).
const MAX_OUTPUT_BYTES: u64 = 256 * 1024 * 1024;
/// How long an output's server may pause between two pieces of it.
const OUTPUT_STALL: Duration = Duration::from_secs(30);
/// The media types an output is passed on as; anything else goes as bytes.
const OUTPUT_TYPES: &[&str] = &[
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
];

/// `GET /api/v3/predictions/{token}/outputs/{n}`: shot `n` (from 1) of a finished task,
/// read from WaveSpeed's output server and passed on from this origin, so that a page
/// can put the shots into one file (or save one) where that server allows no CORS read.
/// Only for a task this proxy signed, only an address WaveSpeed gave for it (asked
/// afresh), never with the key; streamed, within a size cap, as a download.
async fn output(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((token, n)): Path<(String, String)>,
) -> Response {
    let Some(n) = n.parse::<usize>().ok().filter(|n| (1..=16).contains(n)) else {
        return refuse(404, "not_found", "no such shot", None);
    };
    let reply = match ask_about_task(&proxy, peer, &headers, &token, "output").await {
        Ok((_, reply)) => reply,
        Err(refusal) => return refusal,
    };
    let address = Prediction::parse(&reply.body)
        .ok()
        .and_then(|p| p.output_address(n, proxy.upstream.is_local()));
    let Some(address) = address else {
        return refuse(404, "not_found", "no such shot", None);
    };
    let response = match proxy.upstream.output(&address).await {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => {
            warn!(
                status = response.status().as_u16(),
                "an output's server refused it"
            );
            return refuse(
                502,
                "output_unavailable",
                "The shot could not be fetched from WaveSpeed; try again.",
                None,
            );
        }
        Err(e) => {
            warn!(error = %e, "an output's server did not answer");
            return refuse(
                502,
                "output_unavailable",
                "The shot could not be fetched from WaveSpeed; try again.",
                None,
            );
        }
    };
    if response
        .content_length()
        .is_some_and(|l| l > MAX_OUTPUT_BYTES)
    {
        return refuse(
            502,
            "output_too_large",
            "The shot is too large to pass on.",
            None,
        );
    }
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| OUTPUT_TYPES.contains(&v.as_str()))
        .unwrap_or_else(|| "application/octet-stream".into());
    let length = response.content_length();
    // Piece by piece, each within OUTPUT_STALL, the whole within MAX_OUTPUT_BYTES; a
    // failure ends the body early (the browser sees a broken download, not a short file).
    let body =
        futures_util::stream::unfold((Some(response), 0u64), |(response, sent)| async move {
            let mut response = response?;
            match tokio::time::timeout(OUTPUT_STALL, response.chunk()).await {
                Ok(Ok(Some(piece))) if sent + piece.len() as u64 <= MAX_OUTPUT_BYTES => {
                    let sent = sent + piece.len() as u64;
                    Some((Ok(piece), (Some(response), sent)))
                }
                Ok(Ok(None)) => None,
                _ => Some((
                    Err(std::io::Error::other("the output stopped")),
                    (None, sent),
                )),
            }
        });
    let mut reply = Response::new(Body::from_stream(body));
    let headers = reply.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&kind) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = length.and_then(|l| HeaderValue::from_str(&l.to_string()).ok()) {
        headers.insert(header::CONTENT_LENGTH, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"shot-{n}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    reply
}

/// The reply of [`quota`].
#[derive(serde::Serialize)]
struct QuotaReply {
    unit_price: Box<serde_json::value::RawValue>,
    currency: &'static str,
    runs_left: u64,
    visitor: VisitorLeft,
    site: SiteLeft,
    message: Option<String>,
    reason: Option<&'static str>,
    retry_after_s: Option<u64>,
}

/// A visitor's runs left under their hourly rate.
#[derive(serde::Serialize)]
struct VisitorLeft {
    runs_left: u32,
    per_hour: u32,
}

/// The site's runs left today under its budgets.
#[derive(serde::Serialize)]
struct SiteLeft {
    runs_left_today: u64,
}

/// `GET /quota`: what this visitor may run, for the page to say before Generate — the
/// price of a run, the runs left to them (their hourly run rate) and to the site today
/// (the daily and monthly budgets at this price), and, when none is left, the sentence
/// and reason a submit would be refused with. Reads the counters; takes nothing from
/// them. Looked up at the poll rate (fails open); a store that is down is a 503.
///
/// ```json
/// {"unit_price": 0.07, "currency": "USD", "runs_left": 3,
///  "visitor": {"runs_left": 3, "per_hour": 5}, "site": {"runs_left_today": 71},
///  "message": null, "reason": null, "retry_after_s": null}
/// ```
async fn quota(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let visitor = proxy.visitor(peer, &headers);
    if let Some(refusal) = proxy.poll_rate(visitor).await {
        return refusal;
    }
    let now = now_ms();
    let (day, month) = (clock::day(now / 1000), clock::month(now / 1000));
    let per_hour = proxy.settings.runs_per_hour;
    let (tat, spend) = match futures_util::future::join(
        proxy.store.tat(&format!("rate:run_rate:{visitor}")),
        proxy.store.spend(&day, &month, now, RUNNING_MAX_AGE_MS),
    )
    .await
    {
        (Ok(tat), Ok(spend)) => (tat, spend),
        (Err(e), _) | (_, Err(e)) => return proxy.store_down(&e),
    };
    let price = proxy.price();
    let yours = crate::limits::gcra::left(tat, Rate::per_hour(per_hour), now);
    // Runs the budgets still hold at this price (a price of zero is never believed).
    let runs_within =
        |cap: Micros, reserved: Micros| cap.saturating_sub(reserved).0 / price.0.max(1);
    let by_day = runs_within(proxy.settings.day_cap, spend.day_reserved);
    let by_month = runs_within(proxy.settings.month_cap, spend.month_reserved);
    let site = by_day.min(by_month);
    let refusal = if proxy.settings.paused {
        Some(("paused", PAUSED.to_owned(), 3600))
    } else if site == 0 {
        let which = if by_day == 0 {
            Refusal::DailyBudget
        } else {
            Refusal::MonthlyBudget
        };
        let (reason, message, seconds) = budget_refusal(which, now / 1000);
        Some((reason, message.to_owned(), seconds))
    } else if yours.count == 0 {
        let seconds = yours.retry_after_ms.div_ceil(1000);
        Some((
            "run_rate",
            hourly_text(per_hour, "generations", seconds),
            seconds,
        ))
    } else {
        None
    };
    let runs_left = if refusal.is_some() {
        0
    } else {
        site.min(u64::from(yours.count))
    };
    let (reason, message, retry_after_s) = match refusal {
        Some((reason, message, seconds)) => (Some(reason), Some(message), Some(seconds)),
        None => (None, None, None),
    };
    // The price goes as the exact decimal it is, never through a float.
    let Ok(unit_price) = serde_json::value::RawValue::from_string(price.decimal()) else {
        return refuse(500, "internal", UNAVAILABLE, None);
    };
    let reply = QuotaReply {
        unit_price,
        currency: "USD",
        runs_left,
        visitor: VisitorLeft {
            runs_left: yours.count,
            per_hour,
        },
        site: SiteLeft {
            runs_left_today: site,
        },
        message,
        reason,
        retry_after_s,
    };
    match serde_json::to_string(&reply) {
        Ok(body) => text_reply(200, body),
        Err(_) => refuse(500, "internal", UNAVAILABLE, None),
    }
}

/// `GET /healthz`: the process answers; says whether the store does.
async fn healthz(State(proxy): State<Arc<Proxy>>) -> Response {
    let store = proxy.store.ping().await.is_ok();
    json_reply(
        200,
        &json!({"status": "ok", "store": if store { "ok" } else { "down" }, "paused": proxy.settings.paused}),
    )
}

/// `GET /metrics`: for loopback and `--metrics-from` networks only (404 to others).
async fn metrics(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer.ip()),
        v4 => v4,
    };
    if !ip.is_loopback() && !proxy.settings.metrics_from.iter().any(|n| n.contains(&ip)) {
        return refuse(404, "not_found", "not found", None);
    }
    let now = now_ms();
    let spend = proxy
        .store
        .spend(
            &clock::day(now / 1000),
            &clock::month(now / 1000),
            now,
            RUNNING_MAX_AGE_MS,
        )
        .await
        .ok();
    let text = proxy.metrics.render(&Snapshot {
        spend,
        day_cap: proxy.settings.day_cap,
        month_cap: proxy.settings.month_cap,
        price: proxy.price(),
        paused: proxy.settings.paused,
    });
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Every other path: 404, readable by an allowed page (so a mistyped proxy URL says
/// "not found" there rather than failing as a network error).
async fn not_found(State(proxy): State<Arc<Proxy>>, headers: HeaderMap) -> Response {
    let mut response = refuse(404, "not_found", "not found", None);
    let allowed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| proxy.settings.origins.allows(o));
    if let Some(origin) = allowed.and_then(|o| HeaderValue::from_str(o.as_str()).ok()) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}
