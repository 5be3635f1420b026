//! What differs between the proxy's two homes, and nothing else: the clock, timers, the
//! HTTP client it calls WaveSpeed (and siteverify) with, and a stopwatch. Everything the
//! proxy decides is above this line, written once.
//!
//! - [`native`](self) (a server of its own): tokio's timers, reqwest;
//! - the Cloudflare Worker (`proxy-worker/`, wasm32): `setTimeout` and the Workers
//!   `fetch`, each future marked `Send` (a Worker is single-threaded), so the very same
//!   axum handlers run in both.

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::{now_ms, sleep, timeout, Client, Opened, Stopwatch};

#[cfg(target_arch = "wasm32")]
mod worker;
#[cfg(target_arch = "wasm32")]
pub use worker::{now_ms, sleep, timeout, Client, Opened, Stopwatch};

/// A timer ran out before the future finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("timed out")]
pub struct Elapsed;

/// One request to another server, built by the proxy (never from a visitor's request).
#[derive(Clone, Debug)]
pub struct Call {
    /// `GET` or `POST`.
    pub method: Method,
    /// The full address.
    pub url: String,
    /// The only headers sent.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for a `GET`).
    pub body: Vec<u8>,
}

/// The two methods the proxy sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// Why a call has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No connection, or it broke.
    #[error("{0}")]
    Failed(String),
}

/// A `multipart/form-data` body with one file field, and its `Content-Type`: the same
/// bytes in both homes.
pub fn multipart_file(
    field: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
    boundary: &str,
) -> (String, Vec<u8>) {
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_body_is_one_file_field_between_its_boundaries() {
        let (kind, body) = multipart_file("file", "image.png", "image/png", b"\x89PNG", "b0");
        assert_eq!(kind, "multipart/form-data; boundary=b0");
        assert_eq!(
            body,
            b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"image.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--b0--\r\n"
        );
    }
}
