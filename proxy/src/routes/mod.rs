//! The proxy's routes, a file each, and what several of them share: reading a body
//! within limits, and how WaveSpeed's failures read to a visitor. Each route returns
//! `Result<Response, Refusal>`: a [`Refusal`] answers, logs and counts itself.

pub mod health;
pub mod outputs;
pub mod poll;
pub mod quota;
pub mod submit;
pub mod upload;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody as _};
use axum::http::HeaderMap;
use serde_json::json;

use crate::app::{now_ms, Proxy, UNAVAILABLE};
use crate::refusal::Refusal;
use crate::reply::wait_text;
use crate::upstream::{self, UpstreamError};

/// How long a client may take to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads a body up to `limit` bytes within [`BODY_TIMEOUT`]: one that is too large is
/// 413, one that takes too long 408, one that stops short (the client went away, the
/// connection broke) 400.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            413,
            "too_large",
            format!(
                "File size: the request is larger than the {} this generator accepts.",
                multishot_rules::units::format_bytes(multishot_rules::rules::MAX_FILE_BYTES)
            ),
        )
    };
    // A body that says it is larger (Content-Length) is refused before any of it is read.
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    match crate::platform::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(Refusal::new(
            408,
            "slow_client",
            "The request took too long to arrive.",
        )),
        Ok(Err(e)) if is_over_limit(&e) => Err(too_large()),
        Ok(Err(e)) => Err(Refusal::new(
            400,
            "incomplete",
            "The request did not arrive whole; try again.",
        )
        .logged("a request body did not arrive whole")
        .because(e)),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// The body passed the length limit (rather than failing to arrive).
fn is_over_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// How an upstream error status reads to a visitor, for routes other than the poll's
/// 404.
fn upstream_failure(route: &'static str, reply: &upstream::Reply) -> Refusal {
    let message = || crate::envelope::error_message(&reply.body);
    match reply.status {
        401..=403 => Refusal::upstream(502, "upstream_refused", UNAVAILABLE)
            .logged("WaveSpeed refused the proxy's key or account")
            .on_route(route)
            .upstream_said(reply.status, message()),
        429 => {
            let seconds = crate::filter::retry_after(reply.retry_after.as_deref()).unwrap_or(30);
            Refusal::upstream(
                429,
                "upstream_busy",
                format!(
                    "The generator is busy right now; try again {}.",
                    wait_text(seconds)
                ),
            )
            .counted_as("upstream_rate")
            .retry_after(seconds)
        }
        500..=599 => Refusal::upstream(
            502,
            "upstream_error",
            format!(
                "WaveSpeed had a problem (HTTP {}); try again.",
                reply.status
            ),
        )
        .retry_after(5)
        .logged("WaveSpeed had a problem")
        .on_route(route)
        .upstream_said(reply.status, message()),
        status => Refusal::upstream(
            if (400..500).contains(&status) {
                status
            } else {
                502
            },
            "upstream_rejected",
            format!("WaveSpeed refused the request: {}", message()),
        ),
    }
}

/// A 200 whose envelope says `code != 200`: WaveSpeed's error in the body.
fn refused_in_body(route: &'static str, code: i64, message: &str) -> Refusal {
    let status = u16::try_from(code)
        .ok()
        .filter(|c| (400..600).contains(c))
        .unwrap_or(502);
    upstream_failure(
        route,
        &upstream::Reply {
            status,
            retry_after: None,
            body: json!({"message": message}).to_string().into_bytes(),
            elapsed: Duration::ZERO,
        },
    )
}

/// No reply from WaveSpeed (in time).
fn no_reply(route: &'static str, e: &UpstreamError) -> Refusal {
    let refusal = match e {
        UpstreamError::TimedOut => Refusal::upstream(
            504,
            "upstream_timeout",
            "WaveSpeed did not answer in time; try again.",
        ),
        _ => Refusal::upstream(
            502,
            "upstream_unreachable",
            "WaveSpeed could not be reached; try again.",
        ),
    };
    refusal
        .retry_after(5)
        .logged("no reply from WaveSpeed")
        .on_route(route)
        .because(e)
}

/// For a visitor's request about the task behind `token`: the token checked, the
/// visitor's poll rate taken, and WaveSpeed asked for the task's result (a 2xx reply).
async fn ask_about_task(
    proxy: &Proxy,
    peer: SocketAddr,
    headers: &HeaderMap,
    token: &str,
    route: &'static str,
) -> Result<(String, upstream::Reply), Refusal> {
    let task_id = proxy
        .settings
        .signer
        .verify(token, now_ms() / 1000)
        .map_err(|_| Refusal::not_found("task not found"))?;
    proxy.poll_rate(proxy.visitor(peer, headers)).await?;
    let reply = proxy
        .upstream
        .poll(&task_id)
        .await
        .map_err(|e| no_reply(route, &e))?;
    proxy.metrics.upstream("poll", reply.elapsed);
    if reply.status == 404 {
        return Err(Refusal::not_found("task not found"));
    }
    if !(200..300).contains(&reply.status) {
        return Err(upstream_failure(route, &reply));
    }
    Ok((task_id, reply))
}
