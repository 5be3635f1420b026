//! HTTP calls to WaveSpeed (or a proxy) with gloo-net: upload, submit, poll, and the
//! price, balance and quota look-ups. Each call is
//! bounded by a timeout, and its request is aborted ([`AbortOnDrop`]) when the timeout
//! runs out or the call's future is dropped. The key, when there is one, goes only into
//! the `Authorization` header.

use std::time::Duration;

use futures::future::{select, Either};
use gloo_net::http::{Request, Response};
use gloo_timers::future::sleep;

use super::file::read_head;
use super::{fetch_error_text, js_error_text, AbortOnDrop};
use crate::core::api::{
    join, parse_prediction, parse_upload, result_url, ApiError, Prediction, SubmitRequest, TaskId,
    SUBMIT_PATH, UPLOAD_BINARY_PATH,
};
use crate::core::bot_check::TOKEN_HEADER;
pub use crate::core::connection::Connection;
use crate::core::funds::{
    parse_balance, parse_price, parse_quota, pricing_request, Micros, Quota, BALANCE_PATH,
    PRICING_PATH, QUOTA_PATH,
};
use crate::core::sniff::detect;

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// An upload of up to 10 MB may take longer.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// What a request carries.
enum Body {
    /// Nothing (a GET).
    None,
    /// JSON text (a preflighted POST: `Content-Type: application/json`).
    Json(String),
    /// A multipart form (the browser writes its `Content-Type`).
    Form(web_sys::FormData),
}

/// Sends one request to `url` (under the connection's base) and reads the reply whole,
/// giving up after `limit`. Every request: no redirect is followed (a reply that
/// redirects elsewhere is an error, so the key never goes anywhere but the base), no
/// cookie is sent or kept, no cache; the key, in direct mode, in the `Authorization`
/// header only. The request is aborted when the time runs out or this future is dropped.
/// One function, not generic, for every call (one copy in the wasm).
async fn send(
    connection: &Connection,
    url: &str,
    body: Body,
    limit: Duration,
    token: Option<&str>,
) -> Result<(u16, Option<String>, Vec<u8>), ApiError> {
    let controller = AbortOnDrop::new();
    let signal = controller.signal();
    let builder = match body {
        Body::None => Request::get(url),
        _ => Request::post(url),
    }
    .abort_signal(signal.as_ref())
    .redirect(web_sys::RequestRedirect::Error)
    .credentials(web_sys::RequestCredentials::Omit)
    .cache(web_sys::RequestCache::NoStore);
    let builder = match &connection.key {
        Some(key) => builder.header("Authorization", &format!("Bearer {key}")),
        None => builder,
    };
    // The site's bot check, through its proxy: the widget's token.
    let builder = match token {
        Some(token) => builder.header(TOKEN_HEADER, token),
        None => builder,
    };
    let request = match body {
        Body::None => builder.build(),
        Body::Json(json) => builder
            .header("Content-Type", "application/json")
            .body(json),
        Body::Form(form) => builder.body(form),
    }
    .map_err(|e| ApiError::Network(fetch_error_text(&e)))?;
    let exchange = async move {
        let response: Response = request
            .send()
            .await
            .map_err(|e| ApiError::Network(fetch_error_text(&e)))?;
        let status = response.status();
        let retry_after = response.headers().get("retry-after");
        let body = response
            .binary()
            .await
            .map_err(|e| ApiError::Network(fetch_error_text(&e)))?;
        Ok((status, retry_after, body))
    };
    match select(Box::pin(exchange), Box::pin(sleep(limit))).await {
        Either::Left((result, _)) => result,
        // `controller` goes out of scope here: the request is aborted.
        Either::Right(_) => Err(ApiError::TimedOut),
    }
}

/// Uploads a local file (`POST /api/v3/media/upload/binary`, multipart `file`) and
/// returns the `download_url` to send as `image`; `token`, the site's bot check's.
pub async fn upload_binary(
    connection: &Connection,
    file: &web_sys::File,
    token: Option<&str>,
) -> Result<String, ApiError> {
    let form = web_sys::FormData::new().map_err(|e| ApiError::Network(js_error_text(&e)))?;
    form.append_with_blob_and_filename("file", file, &file.name())
        .map_err(|e| ApiError::Network(js_error_text(&e)))?;
    let url = join(connection.base.as_str(), UPLOAD_BINARY_PATH);
    let (status, retry_after, body) =
        send(connection, &url, Body::Form(form), UPLOAD_TIMEOUT, token).await?;
    parse_upload(status, retry_after.as_deref(), &body).map_err(|e| connection.for_visitor(e))
}

/// A local file as a `data:` URI, its type taken from its bytes.
pub async fn data_uri(file: &web_sys::File) -> Result<String, ApiError> {
    let bytes = read_head(file, file.size() as usize)
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let mime = detect(&bytes).mime().unwrap_or("application/octet-stream");
    let payload = crate::core::base64::encode(&bytes);
    Ok(format!("data:{mime};base64,{payload}"))
}

/// Submits the job (`token`: the site's bot check's, for an image not uploaded). Sent
/// once; never retried by the caller.
pub async fn submit(
    connection: &Connection,
    body: &SubmitRequest,
    token: Option<&str>,
) -> Result<Prediction, ApiError> {
    let url = join(connection.base.as_str(), SUBMIT_PATH);
    let (status, retry_after, body) = send(
        connection,
        &url,
        Body::Json(body.to_json()),
        REQUEST_TIMEOUT,
        token,
    )
    .await?;
    parse_prediction(status, retry_after.as_deref(), &body).map_err(|e| connection.for_visitor(e))
}

/// Asks for a task's result, at the URL built from the base and the id.
pub async fn poll(connection: &Connection, id: &TaskId) -> Result<Prediction, ApiError> {
    let url = result_url(connection.base.as_str(), id);
    let (status, retry_after, body) =
        send(connection, &url, Body::None, REQUEST_TIMEOUT, None).await?;
    parse_prediction(status, retry_after.as_deref(), &body).map_err(|e| connection.for_visitor(e))
}

/// A GET of `path` under the connection's base, read whole.
async fn get(
    connection: &Connection,
    path: &str,
) -> Result<(u16, Option<String>, Vec<u8>), ApiError> {
    let url = join(connection.base.as_str(), path);
    send(connection, &url, Body::None, REQUEST_TIMEOUT, None).await
}

/// WaveSpeed's price of one run (`POST /api/v3/model/pricing`), with the user's key.
pub async fn price(connection: &Connection) -> Result<Micros, ApiError> {
    let url = join(connection.base.as_str(), PRICING_PATH);
    let (status, retry_after, body) = send(
        connection,
        &url,
        Body::Json(pricing_request()),
        REQUEST_TIMEOUT,
        None,
    )
    .await?;
    parse_price(status, retry_after.as_deref(), &body)
}

/// The account's balance (`GET /api/v3/balance`), with the user's key.
pub async fn balance(connection: &Connection) -> Result<Micros, ApiError> {
    let (status, retry_after, body) = get(connection, BALANCE_PATH).await?;
    parse_balance(status, retry_after.as_deref(), &body)
}

/// A site owner's proxy's price and this visitor's runs left (`GET /quota`).
pub async fn quota(connection: &Connection) -> Result<Quota, ApiError> {
    let (status, retry_after, body) = get(connection, QUOTA_PATH).await?;
    parse_quota(status, retry_after.as_deref(), &body)
}
