//! What every request shares ([`Proxy`]: settings, store, upstream, metrics), the checks
//! several routes make (paused, per-visitor rates, the store down), CORS for the allowed
//! origins, and the router. The routes themselves are [`crate::routes`], a file each.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tracing::{info, warn};

use crate::bot_check::{self, BotCheck, Verdict};
use crate::clock;
use crate::config::Settings;
use crate::limits::{AnyStore, Decision, Rate, Refusal as BudgetRefusal, Spend, Store, StoreError};
use crate::metrics::Metrics;
use crate::money::Micros;
use crate::refusal::{LimitHit, Refusal};
use crate::reply::wait_text;
use crate::routes;
use crate::upstream::{self, Upstream};
use crate::visitor::Visitor;

/// How often the price of a run is asked again.
pub const PRICE_REFRESH: std::time::Duration = std::time::Duration::from_secs(3600);
/// A task not seen finished after this long stops counting as running.
pub const RUNNING_MAX_AGE_MS: u64 = 3_600_000;
/// The proxy's own path that tells a visitor the price and their runs left.
pub const QUOTA_PATH: &str = "/quota";
/// What a visitor reads while the owner has paused the generator (`--paused`).
pub const PAUSED: &str = "This site's generator is paused by its owner; try again later.";
/// The visitor-facing sentence for trouble only the site owner can fix.
pub const UNAVAILABLE: &str =
    "The generator on this site is unavailable right now; your image was not charged.";

/// The address a request came from, put on it by the home: the TCP peer
/// ([`crate::server`]), or the visitor's address Cloudflare gives a Worker
/// (`CF-Connecting-IP`). A request without one counts as `0.0.0.0` (one visitor for all
/// such requests: strict, never lenient).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Peer>()
            .copied()
            .unwrap_or(Peer(SocketAddr::from(([0, 0, 0, 0], 0)))))
    }
}

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
    /// The bot check, when `--turnstile-secret` is given.
    pub bot_check: Option<BotCheck>,
    /// The price of a run in micro-dollars (from WaveSpeed, or the fallback).
    price: AtomicU64,
    /// Reservations made by this instance, for unique ids.
    reservations: AtomicU64,
    /// This instance's random name, for unique ids across instances.
    instance: String,
}

/// Unix milliseconds now, from the home's clock.
pub use crate::platform::now_ms;

impl Proxy {
    /// A proxy with these settings and store; the price starts at the fallback.
    pub fn new(settings: Settings, store: AnyStore) -> Result<Arc<Self>, String> {
        let upstream = Upstream::new(&settings.upstream, &settings.key, settings.upstream_timeout)
            .map_err(|e| format!("cannot make the upstream client: {e}"))?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        let instance = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let bot_check = settings
            .turnstile
            .as_ref()
            .map(|t| {
                BotCheck::new(
                    t.secret.clone(),
                    t.sitekey.clone(),
                    t.verify_url.clone(),
                    &settings.origins,
                )
            })
            .transpose()
            .map_err(|e| format!("cannot make the bot check's client: {e}"))?;
        Ok(Arc::new(Self {
            bot_check,
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

    /// Who a request is from (the peer, or the address a trusted proxy forwarded).
    pub fn visitor(&self, peer: SocketAddr, headers: &HeaderMap) -> Visitor {
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        self.settings.trusted.visitor(peer.ip(), &forwarded)
    }

    /// Takes one from a per-visitor rate.
    async fn rate_limit(
        &self,
        limit: &'static str,
        visitor: Visitor,
        rate: Rate,
        fail_open: bool,
        message: impl FnOnce(u64) -> String,
    ) -> Result<(), Refusal> {
        self.take(
            limit,
            &visitor_key(limit, visitor),
            rate,
            fail_open,
            message,
        )
        .await
    }

    /// Takes one from the rate under `key`, counted as `limit` when refused. When the
    /// store is down: `fail_open` lets the request through, else it is refused (503).
    async fn take(
        &self,
        limit: &'static str,
        key: &str,
        rate: Rate,
        fail_open: bool,
        message: impl FnOnce(u64) -> String,
    ) -> Result<(), Refusal> {
        match self.store.rate(key, rate, now_ms()).await {
            Ok(Decision::Allowed) => Ok(()),
            Ok(Decision::Refused { retry_after_ms }) => {
                let seconds = retry_after_ms.div_ceil(1000);
                Err(Refusal::limit(429, limit, message(seconds)).retry_after(seconds))
            }
            Err(e) if fail_open => {
                warn!(error = %e, limit, "limit store down; letting the request through");
                Ok(())
            }
            Err(e) => Err(store_down(&e)),
        }
    }

    /// A visitor's runs per 24 hours (`--runs-per-ip-per-day`), which fails closed.
    pub async fn daily_runs(&self, visitor: Visitor) -> Result<(), Refusal> {
        let per_day = self.settings.runs_per_day;
        self.rate_limit(RUN_DAY, visitor, Rate::per_day(per_day), false, |s| {
            daily_text(per_day, s)
        })
        .await
    }

    /// The runs started across all visitors (`--runs-per-minute`), which fails closed.
    pub async fn burst_limit(&self) -> Result<(), Refusal> {
        self.take(BURST, BURST_KEY, self.settings.burst, false, burst_text)
            .await
    }

    /// The per-visitor rate of checks (polls, outputs, `/quota`), which fails open.
    pub async fn poll_rate(&self, visitor: Visitor) -> Result<(), Refusal> {
        self.per_second("poll_rate", visitor, "checks").await
    }

    /// The per-visitor rate of submit requests, whatever becomes of them (a flood of
    /// malformed ones is held back here; a visitor's runs an hour count only the runs
    /// that start). The same rate as checks; fails open (the run rate fails closed).
    pub async fn submit_rate(&self, visitor: Visitor) -> Result<(), Refusal> {
        self.per_second("submit_rate", visitor, "requests").await
    }

    async fn per_second(
        &self,
        limit: &'static str,
        visitor: Visitor,
        what: &str,
    ) -> Result<(), Refusal> {
        self.rate_limit(
            limit,
            visitor,
            Rate::per_second(self.settings.polls_per_second),
            true,
            |_| format!("Too many {what} from your address; slowing down."),
        )
        .await
    }

    /// A per-visitor hourly rate of `what` (uploads, generations), which fails closed.
    pub async fn hourly_limit(
        &self,
        limit: &'static str,
        visitor: Visitor,
        per_hour: u32,
        what: &str,
    ) -> Result<(), Refusal> {
        self.rate_limit(limit, visitor, Rate::per_hour(per_hour), false, |s| {
            hourly_text(per_hour, what, s)
        })
        .await
    }

    /// The budget's refusal when today's or this month's budget cannot pay for one more
    /// run at the price now (read only; `None` when it can, or when the store is down).
    pub async fn budget_used_up(&self) -> Option<Refusal> {
        let now = now_ms();
        let (day, month) = (clock::day(now / 1000), clock::month(now / 1000));
        let spend = self
            .store
            .spend(&day, &month, now, RUNNING_MAX_AGE_MS)
            .await
            .ok()?;
        let which = BudgetLeft::of(&self.settings, &spend, self.price()).used_up()?;
        Some(budget_refusal(which, now / 1000))
    }

    /// The bot check of a run, when it is on: for the submit of an image this proxy
    /// uploaded for a verified request (`image`), the pass that upload left, taken; else
    /// the widget's token (header [`bot_check::TOKEN_HEADER`]) verified by siteverify
    /// and spent. Refusals cost nothing: nothing has been taken from any limit yet.
    pub async fn check_person(
        &self,
        headers: &HeaderMap,
        image: Option<&str>,
    ) -> Result<(), Refusal> {
        let Some(check) = &self.bot_check else {
            return Ok(());
        };
        let token = headers
            .get(bot_check::TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let now = now_ms();
        // The pass a verified upload left for this image comes first (the page may send
        // its token again with the submit; it is not asked about twice).
        let passed = match image {
            Some(image) => match self.store.take(&bot_check::uploaded_key(image), now).await {
                Ok(taken) => taken,
                Err(e) => return Err(store_down(&e)),
            },
            None => false,
        };
        let verdict = match token {
            _ if passed => Verdict::Pass,
            Some(token) => match check.verify(token).await {
                Verdict::Pass => match self
                    .store
                    .first_sight(
                        &bot_check::spent_key(token),
                        bot_check::TOKEN_LIFETIME_MS,
                        now,
                    )
                    .await
                {
                    Ok(true) => Verdict::Pass,
                    Ok(false) => Verdict::Replayed,
                    Err(e) => return Err(store_down(&e)),
                },
                other => other,
            },
            None => Verdict::Failed("no token"),
        };
        match verdict {
            Verdict::Pass => Ok(()),
            Verdict::Failed(why) => {
                info!(why, "bot check failed");
                Err(Refusal::limit(403, "bot_check", bot_check::DO_THE_CHECK))
            }
            Verdict::Replayed => {
                info!("bot check token used again");
                Err(Refusal::new(403, "bot_check", bot_check::DO_THE_CHECK)
                    .counted_as("bot_replay"))
            }
            Verdict::Unavailable => {
                Err(Refusal::limit(503, "bot_check_down", bot_check::CHECK_DOWN)
                    .retry_after(60)
                    .logged("the bot check's siteverify could not be asked"))
            }
        }
    }

    /// Leaves the pass of a verified upload for the submit of the image it uploaded.
    pub async fn leave_pass(&self, image: &str) {
        if self.bot_check.is_none() {
            return;
        }
        let key = bot_check::uploaded_key(image);
        if let Err(e) = self
            .store
            .first_sight(&key, bot_check::PASS_LIFETIME_MS, now_ms())
            .await
        {
            warn!(error = %e, "could not leave an upload's pass; its submit will be asked for a token");
        }
    }

    /// Refused while the owner has paused the generator.
    pub fn not_paused(&self) -> Result<(), Refusal> {
        if self.settings.paused {
            Err(Refusal::limit(503, "paused", PAUSED).retry_after(3600))
        } else {
            Ok(())
        }
    }

    /// A fresh reservation id, unique across instances.
    pub fn reservation_id(&self) -> String {
        let n = self.reservations.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.instance)
    }
}

/// The runs today's and this month's budgets still hold at a price (a price of zero is
/// never believed), as `/quota` tells them and a refused burst reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetLeft {
    /// Runs the daily budget holds.
    pub by_day: u64,
    /// Runs the monthly budget holds.
    pub by_month: u64,
}

impl BudgetLeft {
    /// What `settings`' caps hold after `spend`, at `price`.
    pub fn of(settings: &Settings, spend: &Spend, price: Micros) -> Self {
        let runs_within =
            |cap: Micros, reserved: Micros| cap.saturating_sub(reserved).0 / price.0.max(1);
        Self {
            by_day: runs_within(settings.day_cap, spend.day_reserved),
            by_month: runs_within(settings.month_cap, spend.month_reserved),
        }
    }

    /// The runs the site has left: the lower of the two.
    pub fn runs(self) -> u64 {
        self.by_day.min(self.by_month)
    }

    /// The budget that refuses a run, when one holds none (the day's first).
    pub fn used_up(self) -> Option<BudgetRefusal> {
        if self.by_day == 0 {
            Some(BudgetRefusal::DailyBudget)
        } else if self.by_month == 0 {
            Some(BudgetRefusal::MonthlyBudget)
        } else {
            None
        }
    }
}

/// The limit (and metrics label) of a visitor's runs per 24 hours.
pub const RUN_DAY: &str = "run_day";
/// The limit (and metrics label) of the runs started across all visitors.
pub const BURST: &str = "burst";
/// The store key of [`BURST`]'s rate, one for the whole site.
pub const BURST_KEY: &str = "rate:burst:site";

/// The store key of a per-visitor `limit`.
pub fn visitor_key(limit: &str, visitor: Visitor) -> String {
    format!("rate:{limit}:{visitor}")
}

/// The refusal of a visitor's limit of `per_day` runs a day, to wait `seconds`.
pub fn daily_text(per_day: u32, seconds: u64) -> String {
    let what = if per_day == 1 {
        "generation"
    } else {
        "generations"
    };
    format!(
        "You have reached this site's limit of {per_day} {what} a day; try again {}.",
        wait_text(seconds)
    )
}

/// The refusal of the site-wide rate of runs, to wait `seconds`.
pub fn burst_text(seconds: u64) -> String {
    format!(
        "This site is starting many generations right now; try again {}.",
        wait_text(seconds)
    )
}

/// The store cannot be reached: refused (fail closed), counted and logged.
pub fn store_down(e: &StoreError) -> Refusal {
    Refusal::limit(503, "store_down", UNAVAILABLE)
        .retry_after(30)
        .logged("limit store down; refusing")
        .because(e)
}

/// The refusal of a visitor's hourly limit of `per_hour` `what`s (plural, ending in
/// `s`), to wait `seconds`.
pub fn hourly_text(per_hour: u32, what: &str, seconds: u64) -> String {
    let what = if per_hour == 1 {
        what.strip_suffix('s').unwrap_or(what)
    } else {
        what
    };
    format!(
        "You have reached this site's limit of {per_hour} {what} an hour; try again {}.",
        wait_text(seconds)
    )
}

/// A budget's refusal as the visitor reads it, at `now_s`.
pub fn budget_refusal(refusal: BudgetRefusal, now_s: u64) -> Refusal {
    let (reason, message, seconds) = match refusal {
        BudgetRefusal::DailyBudget => (
            "daily_budget",
            "This site's daily budget is used up; it resets at 00:00 UTC.",
            clock::day(now_s).seconds_left(now_s),
        ),
        BudgetRefusal::MonthlyBudget => (
            "monthly_budget",
            "This site's monthly budget is used up; it resets on the 1st at 00:00 UTC.",
            clock::month(now_s).seconds_left(now_s),
        ),
        BudgetRefusal::Running => (
            "running",
            "This site is running as many generations as it allows at once; try again in a minute.",
            60,
        ),
    };
    Refusal::limit(429, reason, message).retry_after(seconds)
}

/// The router, with CORS on the API paths.
pub fn router(proxy: Arc<Proxy>) -> Router {
    let api = Router::new()
        .route(
            upstream::UPLOAD_PATH,
            post(routes::upload::upload).options(preflight),
        )
        .route(
            upstream::SUBMIT_PATH,
            post(routes::submit::submit).options(preflight),
        )
        .route(
            "/api/v3/predictions/{token}/result",
            get(routes::poll::poll).options(preflight),
        )
        .route(
            "/api/v3/predictions/{token}/outputs/{n}",
            get(routes::outputs::output).options(preflight),
        )
        .route(QUOTA_PATH, get(routes::quota::quota).options(preflight))
        .route_layer(middleware::from_fn_with_state(proxy.clone(), cors));
    Router::new()
        .merge(api)
        .route("/healthz", get(routes::health::healthz))
        .route("/metrics", get(routes::health::metrics))
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
/// Every answer of the API paths passes here, so the requests and the limits hit
/// ([`LimitHit`]) are counted here.
///
/// A page on another origin may read its refusal (and nothing else): its preflight is
/// answered and its 403 carries `Access-Control-Allow-Origin`, so the page can say
/// "not allowed" (`reason: origin`) rather than "check your connection" — the usual
/// mistake being an `--allow-origin` naming the host page instead of the app's origin.
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
    let preflight = request.method() == Method::OPTIONS;
    let mut response = match (&allowed, preflight) {
        (None, true) if origin.is_some() => preflight_answer(&request, proxy.bot_check.is_some()),
        (None, _) => match &origin {
            Some(o) => {
                let shown: String = o.chars().take(200).collect();
                Refusal::limit(
                    403,
                    "origin",
                    format!(
                        "This page ({shown}) is not allowed to use this site's generator: \
                         its owner must add the page's origin to the proxy's --allow-origin."
                    ),
                )
                .logged("origin not allowed")
                .on_route(route)
                .from_origin(shown)
            }
            None => Refusal::limit(
                403,
                "origin",
                "Requests must come from a web page this generator allows.",
            ),
        }
        .into_response(),
        (Some(_), true) => preflight_answer(&request, proxy.bot_check.is_some()),
        (Some(_), false) => next.run(request).await,
    };
    let status = response.status().as_u16();
    if let Some(LimitHit(limit)) = response.extensions().get::<LimitHit>() {
        proxy.metrics.limit_hit(limit);
    }
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if allowed.is_none() {
        // Readable by the page refused: its preflight and its 403, nothing more.
        let readable = preflight || status == 403;
        if let Some(value) = origin
            .filter(|_| readable)
            .and_then(|o| HeaderValue::from_str(&o).ok())
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
    }
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

/// A preflight of an allowed origin: only `Content-Type` may be sent, and with the bot
/// check on its token (never `Authorization`).
fn preflight_answer(request: &Request, bot_check: bool) -> Response {
    let wanted = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let only_content_type = wanted
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .all(|h| {
            h.is_empty() || h == "content-type" || (bot_check && h == bot_check::TOKEN_HEADER)
        });
    if !only_content_type {
        // A visitor's page never sends a key to the proxy.
        return Refusal::new(
            403,
            "headers",
            "Only Content-Type (and the bot check's token) may be sent to this generator (no Authorization: it holds the key).",
        )
        .into_response();
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(if bot_check {
            "Content-Type, X-Turnstile-Token"
        } else {
            "Content-Type"
        }),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

/// Preflights are answered by [`cors`]; this only gives the route its method.
async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Every other path: 404, readable by an allowed page (so a mistyped proxy URL says
/// "not found" there rather than failing as a network error).
async fn not_found(State(proxy): State<Arc<Proxy>>, headers: HeaderMap) -> Response {
    let mut response = Refusal::not_found("not found").into_response();
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
