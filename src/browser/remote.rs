//! Reading an image URL's bytes, where its server lets a page do so (CORS), to check its
//! type and size as a local file's would be.

use std::time::Duration;

use futures::future::{select, Either};
use gloo_timers::future::sleep;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::AbortOnDrop;
use crate::core::assessment::RemoteBytes;
use crate::core::rules::MAX_FILE_BYTES;
use crate::core::sniff::{detect, HEAD_BYTES};

/// How long reading a URL's bytes may take before it is given up (type and size are then
/// reported as not checked).
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(20);

/// Fetches `url` in CORS mode and reads just enough of it: the leading bytes for the
/// type, and the size from `Content-Length` or, without one, by counting (stopping once
/// past the limit). An HTTP error the page may read gives [`RemoteBytes::Status`]; a
/// server that does not allow CORS, fails, or is too slow gives
/// [`RemoteBytes::Unreadable`].
pub async fn read_remote(url: &str) -> RemoteBytes {
    // Whatever is left of the body is not needed: the request is aborted when this
    // function returns, or when its future is dropped (another image was chosen).
    let controller = AbortOnDrop::new();
    let read = Box::pin(read_remote_inner(url, controller.signal()));
    let outcome = match select(read, Box::pin(sleep(REMOTE_TIMEOUT))).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(_) => None,
    };
    outcome.unwrap_or(RemoteBytes::Unreadable)
}

async fn read_remote_inner(url: &str, signal: Option<web_sys::AbortSignal>) -> Option<RemoteBytes> {
    let response = gloo_net::http::Request::get(url)
        .mode(web_sys::RequestMode::Cors)
        .abort_signal(signal.as_ref())
        .send()
        .await
        .ok()?;
    if !response.ok() {
        return Some(RemoteBytes::Status(response.status()));
    }
    let declared: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|v| v.trim().parse().ok());
    let reader: web_sys::ReadableStreamDefaultReader =
        response.body()?.get_reader().dyn_into().ok()?;
    let mut head = Vec::new();
    let mut total: u64 = 0;
    loop {
        let enough_for_type = head.len() >= HEAD_BYTES;
        if enough_for_type && (declared.is_some() || total > MAX_FILE_BYTES) {
            break;
        }
        let chunk: web_sys::ReadableStreamReadResult =
            JsFuture::from(reader.read()).await.ok()?.unchecked_into();
        if chunk.get_done().unwrap_or(true) {
            break;
        }
        let bytes = js_sys::Uint8Array::new(&chunk.get_value());
        total += u64::from(bytes.length());
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(bytes.length() as usize);
            head.extend(bytes.subarray(0, take as u32).to_vec());
        }
    }
    let _ = reader.cancel();
    Some(RemoteBytes::Read {
        format: detect(&head),
        byte_size: declared.unwrap_or(total),
    })
}
