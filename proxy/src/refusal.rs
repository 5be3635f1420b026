//! A request the proxy refuses, as one value: the visitor's sentence, the status, a
//! machine-readable reason, how long to wait, the limit it is counted under in
//! `/metrics`, and the operator's log line. Routes return `Result<Response, Refusal>`;
//! [`Refusal`] is [`IntoResponse`], so the answer, the log line and the count are made in
//! one place (axum's `examples/error-handling` shape).
//!
//! The count is carried to the CORS layer ([`crate::app`]), which holds the metrics, as
//! a [`LimitHit`] in the response's extensions.

use std::fmt::Display;

use axum::response::{IntoResponse, Response};
use tracing::warn;

use crate::reply::refuse;

/// A limit refused the request: counted under this name in
/// `multishot_proxy_limits_total` by the layer that answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitHit(pub &'static str);

/// What the operator's log says of a refusal (a `warn` line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LogLine {
    text: &'static str,
    route: Option<&'static str>,
    error: Option<String>,
    upstream_status: Option<u16>,
    upstream_message: Option<String>,
    origin: Option<String>,
}

/// A refused request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The machine-readable reason (`daily_budget`, `run_rate`, `origin`, …).
    pub reason: &'static str,
    /// The sentence the visitor reads.
    pub message: String,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after_s: Option<u64>,
    /// Counted as this limit.
    limit: Option<&'static str>,
    /// WaveSpeed failed (or its reply could not be used), rather than the visitor's
    /// request being refused: a submit that ends so counts as `failed`.
    upstream: bool,
    /// Boxed: most refusals are not logged, and a route's `Result` stays small.
    log: Option<Box<LogLine>>,
}

impl Refusal {
    /// A refusal with `status`, `reason` and the visitor's `message`.
    pub fn new(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
            retry_after_s: None,
            limit: None,
            upstream: false,
            log: None,
        }
    }

    /// A refusal by a limit, counted under its reason.
    pub fn limit(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, reason, message).counted_as(reason)
    }

    /// WaveSpeed's failure (a submit ending so is `failed`, not `refused`).
    pub fn upstream(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            upstream: true,
            ..Self::new(status, reason, message)
        }
    }

    /// 404 with `message`.
    pub fn not_found(message: &'static str) -> Self {
        Self::new(404, "not_found", message)
    }

    /// Sends `Retry-After: seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    /// Counts it as the limit `limit` (when that is not its reason).
    pub fn counted_as(mut self, limit: &'static str) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Logs it, as a `warn` line saying `text`.
    pub fn logged(mut self, text: &'static str) -> Self {
        self.log = Some(Box::new(LogLine {
            text,
            ..LogLine::default()
        }));
        self
    }

    fn log_line(&mut self) -> &mut LogLine {
        self.log.get_or_insert_with(Box::default)
    }

    /// The route it was refused on, in its log line.
    pub fn on_route(mut self, route: &'static str) -> Self {
        self.log_line().route = Some(route);
        self
    }

    /// The error behind it, in its log line.
    pub fn because(mut self, error: impl Display) -> Self {
        self.log_line().error = Some(error.to_string());
        self
    }

    /// WaveSpeed's (or an output server's) status, in its log line.
    pub fn upstream_status(mut self, status: u16) -> Self {
        self.log_line().upstream_status = Some(status);
        self
    }

    /// WaveSpeed's status and message, in its log line.
    pub fn upstream_said(mut self, status: u16, message: impl Into<String>) -> Self {
        self.log_line().upstream_message = Some(message.into());
        self.upstream_status(status)
    }

    /// The origin refused, in its log line.
    pub fn from_origin(mut self, origin: impl Into<String>) -> Self {
        self.log_line().origin = Some(origin.into());
        self
    }

    /// WaveSpeed failed, rather than the visitor's request being refused.
    pub fn is_upstream(&self) -> bool {
        self.upstream
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if let Some(line) = &self.log {
            warn!(
                reason = self.reason,
                status = self.status,
                route = line.route,
                error = line.error.as_deref(),
                upstream_status = line.upstream_status,
                upstream_message = line.upstream_message.as_deref(),
                origin = line.origin.as_deref(),
                "{}",
                line.text
            );
        }
        let mut response = refuse(self.status, self.reason, &self.message, self.retry_after_s);
        if let Some(limit) = self.limit {
            response.extensions_mut().insert(LimitHit(limit));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_answers_in_the_proxys_shape_and_carries_its_count() {
        let response = Refusal::limit(429, "run_rate", "Slow down.")
            .retry_after(30)
            .into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(
            response.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"30"[..])
        );
        assert_eq!(
            response.extensions().get::<LimitHit>(),
            Some(&LimitHit("run_rate"))
        );
        let counted_otherwise = Refusal::new(429, "upstream_busy", "Busy.")
            .counted_as("upstream_rate")
            .into_response();
        assert_eq!(
            counted_otherwise.extensions().get::<LimitHit>(),
            Some(&LimitHit("upstream_rate"))
        );
        let plain = Refusal::new(400, "bad_request", "No.").into_response();
        assert_eq!(plain.extensions().get::<LimitHit>(), None);
        assert!(Refusal::upstream(502, "upstream_error", "x").is_upstream());
        assert!(!Refusal::new(400, "bad_request", "x").is_upstream());
    }
}
