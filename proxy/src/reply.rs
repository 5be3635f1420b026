//! The proxy's own answers: JSON in WaveSpeed's error shape (`{"code","message"}`) plus a
//! machine-readable `reason`, so the page shows `message` as it is and a host page can
//! act on `reason` without parsing English.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A JSON reply with `status`.
pub fn json_reply(status: u16, body: &Value) -> Response {
    text_reply(status, body.to_string())
}

/// A reply with `status` whose body is JSON text already.
pub fn text_reply(status: u16, body: String) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A refusal: `{"code": status, "message": message, "reason": reason}`, with
/// `Retry-After` when given.
pub fn refuse(status: u16, reason: &str, message: &str, retry_after_s: Option<u64>) -> Response {
    let mut response = json_reply(
        status,
        &json!({"code": status, "message": message, "reason": reason}),
    );
    if let Some(seconds) = retry_after_s {
        if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// "in 12 min", "in 40 s", "in 2 h" for a wait in seconds.
pub fn wait_text(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("in {} s", seconds.max(1)),
        60..=5399 => format!("in {} min", seconds.div_ceil(60)),
        _ => format!("in {} h", seconds.div_ceil(3600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_naturally() {
        assert_eq!(wait_text(0), "in 1 s");
        assert_eq!(wait_text(59), "in 59 s");
        assert_eq!(wait_text(60), "in 1 min");
        assert_eq!(wait_text(61), "in 2 min");
        assert_eq!(wait_text(3600), "in 60 min");
        assert_eq!(wait_text(7200), "in 2 h");
    }
}
