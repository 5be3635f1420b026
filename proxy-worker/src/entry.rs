//! The Worker's fetch event: one [`Proxy`] per isolate, built from the Worker's
//! variables on the first request, and its router.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use multishot_proxy::app::{self, Peer, Proxy, PRICE_REFRESH, UNAVAILABLE};
use multishot_proxy::config::{self, SECRET_VARS};
use multishot_proxy::limits::{durable::Objects, AnyStore};
use multishot_proxy::log::{self, Redactor};
use tower::ServiceExt;
use worker::{event, Context, Env, HttpRequest};

/// The variable that turns on the test hooks (`run-local` passes it on from its own
/// environment; never set it in a deployment).
pub const TEST_HOOKS: &str = "MULTISHOT_WORKER_TEST_HOOKS";
/// The test hook's path: makes the budget's Durable Object panic once.
pub const PANIC_PATH: &str = "/__test/panic-counters";

/// Whether a request asks WaveSpeed the price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AskPrice {
    /// The isolate's first request: it waits for the price.
    First,
    /// An hour has passed: asked beside the request.
    Again,
    /// Not now.
    No,
}

struct Isolate {
    proxy: Arc<Proxy>,
    router: axum::Router,
    price_asked_ms: u64,
    test_hooks: bool,
}

thread_local! {
    static ISOLATE: RefCell<Option<Isolate>> = const { RefCell::new(None) };
}

/// A variable or secret of the Worker, by name.
fn lookup(env: &Env, name: &str) -> Option<String> {
    if SECRET_VARS.contains(&name) {
        env.secret(name).ok().map(|s| s.to_string())
    } else {
        env.var(name).ok().map(|v| v.to_string())
    }
}

/// The isolate's proxy, built on its first request.
fn isolate(env: &Env) -> Result<(Arc<Proxy>, axum::Router, AskPrice, bool), String> {
    ISOLATE.with(|cell| {
        let mut cell = cell.borrow_mut();
        let fresh = cell.is_none();
        if fresh {
            let settings = config::from_vars(|name| lookup(env, name))?;
            log::init(Redactor::new(settings.secrets.clone()));
            let store = AnyStore::Durable(Objects::store(env)?);
            let proxy = Proxy::new(settings, store)?;
            *cell = Some(Isolate {
                router: app::router(Arc::clone(&proxy)),
                proxy,
                price_asked_ms: 0,
                test_hooks: lookup(env, TEST_HOOKS).as_deref() == Some("1"),
            });
        }
        let isolate = cell.as_mut().ok_or("no isolate")?;
        let now = app::now_ms();
        let ask_price = if isolate.price_asked_ms == 0 {
            AskPrice::First
        } else if now.saturating_sub(isolate.price_asked_ms) >= PRICE_REFRESH.as_millis() as u64 {
            AskPrice::Again
        } else {
            AskPrice::No
        };
        if ask_price != AskPrice::No {
            isolate.price_asked_ms = now.max(1);
        }
        Ok((
            Arc::clone(&isolate.proxy),
            isolate.router.clone(),
            ask_price,
            isolate.test_hooks,
        ))
    })
}

/// The visitor's address: Cloudflare's `CF-Connecting-IP` (which a visitor cannot set
/// on Cloudflare); none under a local workerd (loopback then, as the binary sees a local
/// client).
fn peer(request: &HttpRequest) -> Peer {
    let ip = request
        .headers()
        .get("cf-connecting-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    Peer(SocketAddr::new(ip, 0))
}

/// The Workers request body, telling the length its `Content-Length` declares (as
/// hyper's body does in the binary), so a body declared too large is refused before any
/// of it is read — by the router's own check, the same in both homes.
struct Declared {
    body: worker::Body,
    length: Option<u64>,
}

impl http_body::Body for Declared {
    type Data = axum::body::Bytes;
    type Error = worker::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.length {
            Some(length) => http_body::SizeHint::with_exact(length),
            None => self.body.size_hint(),
        }
    }
}

/// A Worker whose variables are wrong answers every request so, and says why in its log.
fn not_configured(why: &str) -> Response<Body> {
    worker::console_error!("multishot-proxy-worker: {why}");
    let body = serde_json::json!({"code": 503, "error": "not_configured", "message": UNAVAILABLE});
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

#[event(fetch)]
async fn fetch(request: HttpRequest, env: Env, ctx: Context) -> worker::Result<Response<Body>> {
    let (proxy, router, ask_price, test_hooks) = match isolate(&env) {
        Ok(isolate) => isolate,
        Err(why) => return Ok(not_configured(&why)),
    };
    // The first request of an isolate waits for the price (as the binary asks it before
    // it listens); later refreshes run beside the request.
    match ask_price {
        AskPrice::First => proxy.refresh_price().await,
        AskPrice::Again => ctx.wait_until(async move { proxy.refresh_price().await }),
        AskPrice::No => {}
    }
    if test_hooks && request.uri().path() == PANIC_PATH {
        return crate::counters::panic_once(&env).await;
    }
    let peer = peer(&request);
    let length = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut request = request.map(|body| Body::new(Declared { body, length }));
    request.extensions_mut().insert(peer);
    Ok(router
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {}))
}
