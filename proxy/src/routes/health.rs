//! `GET /healthz` (the process answers, and whether its store does) and `GET /metrics`
//! (for loopback and `--metrics-from` networks).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::{now_ms, Peer, Proxy, BURST_KEY, RUNNING_MAX_AGE_MS};
use crate::clock;
use crate::limits::Store;
use crate::metrics::{RunLimits, Snapshot};
use crate::refusal::Refusal;
use crate::reply::json_reply;

/// `GET /healthz`: the process answers; says whether the store does.
pub async fn healthz(State(proxy): State<Arc<Proxy>>) -> Response {
    let store = proxy.store.ping().await.is_ok();
    json_reply(
        200,
        &json!({"status": "ok", "store": if store { "ok" } else { "down" }, "paused": proxy.settings.paused}),
    )
}

/// `GET /metrics`: for loopback and `--metrics-from` networks only (404 to others).
pub async fn metrics(State(proxy): State<Arc<Proxy>>, Peer(peer): Peer) -> Response {
    let ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer.ip()),
        v4 => v4,
    };
    if !ip.is_loopback() && !proxy.settings.metrics_from.iter().any(|n| n.contains(&ip)) {
        return Refusal::not_found("not found").into_response();
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
    let burst = proxy.settings.burst;
    let burst_left = proxy
        .store
        .tat(BURST_KEY)
        .await
        .ok()
        .map(|tat| crate::limits::gcra::left(tat, burst, now).count);
    let text = proxy.metrics.render(&Snapshot {
        spend,
        day_cap: proxy.settings.day_cap,
        month_cap: proxy.settings.month_cap,
        price: proxy.price(),
        paused: proxy.settings.paused,
        run_limits: RunLimits {
            per_ip_per_hour: proxy.settings.runs_per_hour,
            per_ip_per_day: proxy.settings.runs_per_day,
            burst_at_once: burst.count,
            burst_every_ms: burst.emission_ms(),
        },
        burst_left,
    });
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
