//! HTTP calls to WaveSpeed (or a proxy) with gloo-net: upload, submit, poll. Each call is
//! bounded by a timeout, and its request is aborted ([`AbortOnDrop`]) when the timeout
//! runs out or the call's future is dropped. The key, when there is one, goes only into
//! the `Authorization` header.

use std::time::Duration;

use base64::Engine as _;
use futures::future::{select, Either};
use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_timers::future::sleep;

use super::file::read_head;
use super::{js_error_text, AbortOnDrop};
use crate::core::api::{
    join, parse_prediction, parse_upload, result_url, ApiError, Prediction, SubmitRequest, TaskId,
    SUBMIT_PATH, UPLOAD_BINARY_PATH,
};
pub use crate::core::connection::Connection;
use crate::core::sniff::detect;

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// An upload of up to 10 MB may take longer.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Every request: no redirect is followed (a reply that redirects elsewhere is an error,
/// so the key never goes anywhere but the base), no cookie is sent or kept, no cache; the
/// key, in direct mode, in the `Authorization` header only.
trait Authorize {
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder;
}

impl Authorize for Connection {
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request
            .redirect(web_sys::RequestRedirect::Error)
            .credentials(web_sys::RequestCredentials::Omit)
            .cache(web_sys::RequestCache::NoStore);
        match &self.key {
            Some(key) => request.header("Authorization", &format!("Bearer {key}")),
            None => request,
        }
    }
}

/// Sends a request built by `build` with an abort signal, giving up after `limit`. The
/// request is aborted when this future is dropped before it is over.
async fn send(
    build: impl FnOnce(Option<&web_sys::AbortSignal>) -> Result<Request, gloo_net::Error>,
    limit: Duration,
) -> Result<(u16, Option<String>, Vec<u8>), ApiError> {
    let controller = AbortOnDrop::new();
    let signal = controller.signal();
    let request = build(signal.as_ref()).map_err(|e| ApiError::Network(e.to_string()))?;
    let exchange = async move {
        let response: Response = request
            .send()
            .await
            .map_err(|e| ApiError::Network(network_text(&e)))?;
        let status = response.status();
        let retry_after = response.headers().get("retry-after");
        let body = response
            .binary()
            .await
            .map_err(|e| ApiError::Network(network_text(&e)))?;
        Ok((status, retry_after, body))
    };
    match select(Box::pin(exchange), Box::pin(sleep(limit))).await {
        Either::Left((result, _)) => result,
        // `controller` goes out of scope here: the request is aborted.
        Either::Right(_) => Err(ApiError::TimedOut),
    }
}

fn network_text(error: &gloo_net::Error) -> String {
    match error {
        gloo_net::Error::JsError(js) => js.message.clone(),
        other => other.to_string(),
    }
}

/// Uploads a local file (`POST /api/v3/media/upload/binary`, multipart `file`) and
/// returns the `download_url` to send as `image`.
pub async fn upload_binary(
    connection: &Connection,
    file: &web_sys::File,
) -> Result<String, ApiError> {
    let form = web_sys::FormData::new().map_err(|e| ApiError::Network(js_error_text(&e)))?;
    form.append_with_blob_and_filename("file", file, &file.name())
        .map_err(|e| ApiError::Network(js_error_text(&e)))?;
    let url = join(connection.base.as_str(), UPLOAD_BINARY_PATH);
    let (status, retry_after, body) = send(
        |signal| {
            connection
                .authorize(Request::post(&url).abort_signal(signal))
                .body(form)
        },
        UPLOAD_TIMEOUT,
    )
    .await?;
    parse_upload(status, retry_after.as_deref(), &body).map_err(|e| connection.for_visitor(e))
}

/// A local file as a `data:` URI, its type taken from its bytes.
pub async fn data_uri(file: &web_sys::File) -> Result<String, ApiError> {
    let bytes = read_head(file, file.size() as usize)
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let mime = detect(&bytes).mime().unwrap_or("application/octet-stream");
    let payload = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(format!("data:{mime};base64,{payload}"))
}

/// Submits the job. Sent once; never retried by the caller.
pub async fn submit(connection: &Connection, body: &SubmitRequest) -> Result<Prediction, ApiError> {
    let url = join(connection.base.as_str(), SUBMIT_PATH);
    let json = body.to_json();
    let (status, retry_after, body) = send(
        |signal| {
            connection
                .authorize(Request::post(&url).abort_signal(signal))
                .header("Content-Type", "application/json")
                .body(json)
        },
        REQUEST_TIMEOUT,
    )
    .await?;
    parse_prediction(status, retry_after.as_deref(), &body).map_err(|e| connection.for_visitor(e))
}

/// Asks for a task's result, at the URL built from the base and the id.
pub async fn poll(connection: &Connection, id: &TaskId) -> Result<Prediction, ApiError> {
    let url = result_url(connection.base.as_str(), id);
    let (status, retry_after, body) = send(
        |signal| {
            connection
                .authorize(Request::get(&url).abort_signal(signal))
                .build()
        },
        REQUEST_TIMEOUT,
    )
    .await?;
    parse_prediction(status, retry_after.as_deref(), &body).map_err(|e| connection.for_visitor(e))
}
