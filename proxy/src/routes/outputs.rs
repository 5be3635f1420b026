//! `GET /api/v3/predictions/{token}/outputs/{n}`: a finished task's shot, passed on
//! from this origin without the key.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use super::ask_about_task;
use crate::app::{Peer, Proxy};
use crate::envelope::Prediction;
use crate::platform;
use crate::refusal::Refusal;

/// The largest output passed on (a shot is a few megabytes).
const MAX_OUTPUT_BYTES: u64 = 256 * 1024 * 1024;
/// How long an output's server may pause between two pieces of it.
const OUTPUT_STALL: Duration = Duration::from_secs(30);
/// The media types an output is passed on as; anything else goes as bytes.
const OUTPUT_TYPES: &[&str] = &[
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
];

/// `GET /api/v3/predictions/{token}/outputs/{n}`: shot `n` (from 1) of a finished task,
/// read from WaveSpeed's output server and passed on from this origin, so that a page
/// can put the shots into one file (or save one) where that server allows no CORS read.
/// Only for a task this proxy signed, only an address WaveSpeed gave for it (asked
/// afresh), never with the key; streamed, within a size cap, as a download.
pub async fn output(
    State(proxy): State<Arc<Proxy>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Path((token, n)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    let n = n
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=16).contains(n))
        .ok_or_else(|| Refusal::not_found("no such shot"))?;
    let (_, reply) = ask_about_task(&proxy, peer, &headers, &token, "output").await?;
    let address = Prediction::parse(&reply.body)
        .ok()
        .and_then(|p| p.output_address(n, proxy.upstream.is_local()))
        .ok_or_else(|| Refusal::not_found("no such shot"))?;
    let unavailable = || {
        Refusal::upstream(
            502,
            "output_unavailable",
            "The shot could not be fetched from WaveSpeed; try again.",
        )
    };
    let response = match proxy.upstream.output(&address).await {
        Ok(response) if (200..300).contains(&response.status()) => response,
        Ok(response) => {
            return Err(unavailable()
                .logged("an output's server refused it")
                .upstream_status(response.status()))
        }
        Err(e) => {
            return Err(unavailable()
                .logged("an output's server did not answer")
                .because(e))
        }
    };
    if response
        .content_length()
        .is_some_and(|l| l > MAX_OUTPUT_BYTES)
    {
        return Err(Refusal::upstream(
            502,
            "output_too_large",
            "The shot is too large to pass on.",
        ));
    }
    let kind = response
        .header("content-type")
        .as_deref()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| OUTPUT_TYPES.contains(&v.as_str()))
        .unwrap_or_else(|| "application/octet-stream".into());
    let length = response.content_length();
    // Piece by piece, each within OUTPUT_STALL, the whole within MAX_OUTPUT_BYTES; a
    // failure ends the body early (the browser sees a broken download, not a short file).
    let body =
        futures_util::stream::unfold((Some(response), 0u64), |(response, sent)| async move {
            let mut response = response?;
            match platform::timeout(OUTPUT_STALL, response.chunk()).await {
                Ok(Ok(Some(piece))) if sent + piece.len() as u64 <= MAX_OUTPUT_BYTES => {
                    let sent = sent + piece.len() as u64;
                    Some((Ok(piece), (Some(response), sent)))
                }
                Ok(Ok(None)) => None,
                _ => Some((
                    Err(std::io::Error::other("the output stopped")),
                    (None, sent),
                )),
            }
        });
    let mut reply = Response::new(Body::from_stream(body));
    let headers = reply.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&kind) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = length.and_then(|l| HeaderValue::from_str(&l.to_string()).ok()) {
        headers.insert(header::CONTENT_LENGTH, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"shot-{n}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(reply)
}
