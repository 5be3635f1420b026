//! `POST /api/v3/media/upload/binary`: a visitor's image, checked by the model's rules
//! before WaveSpeed sees it, within the visitor's uploads an hour and bytes a day.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;

use super::{no_reply, read_body, refused_in_body, upstream_failure};
use crate::app::{now_ms, store_down, Peer, Proxy};
use crate::clock;
use crate::envelope::{upload_reply, EnvelopeError};
use crate::filter;
use crate::limits::{Decision, Store};
use crate::refusal::Refusal;
use crate::reply::json_reply;

/// The largest upload body read: the 10 MiB file and its multipart envelope.
const MAX_UPLOAD_BYTES: usize = multishot_rules::rules::MAX_FILE_BYTES as usize + 64 * 1024;

/// The upload route.
pub async fn upload(
    State(proxy): State<Arc<Proxy>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    proxy.not_paused()?;
    let visitor = proxy.visitor(peer, &headers);
    // A person, before anything is read or counted (the token is in a header).
    proxy.check_person(&headers, None).await?;
    proxy
        .hourly_limit(
            "upload_rate",
            visitor,
            proxy.settings.uploads_per_hour,
            "uploads",
        )
        .await?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(not_a_form)?;
    let bytes = read_body(body, MAX_UPLOAD_BYTES).await?;
    let file = file_field(bytes, &boundary).await?;
    if let Some(message) = filter::rules_message(&file) {
        return Err(Refusal::limit(422, "image_rules", message));
    }
    let now = now_ms();
    let today = clock::day(now / 1000);
    match proxy
        .store
        .add_within(
            &format!("bytes:{}:{visitor}", today.name),
            file.len() as u64,
            proxy.settings.upload_bytes_per_day,
            &today,
            now,
        )
        .await
    {
        Ok(Decision::Allowed) => {}
        Ok(Decision::Refused { retry_after_ms }) => {
            return Err(Refusal::limit(
                429,
                "upload_bytes",
                "You have uploaded as much as this site allows today; it resets at 00:00 UTC.",
            )
            .retry_after(retry_after_ms.div_ceil(1000)))
        }
        Err(e) => return Err(store_down(&e)),
    }
    let (name, content_type) = filter::upload_name(&file);
    let reply = proxy
        .upstream
        .upload(file, name, content_type)
        .await
        .map_err(|e| no_reply("upload", &e))?;
    proxy.metrics.upstream("upload", reply.elapsed);
    if !(200..300).contains(&reply.status) {
        return Err(upstream_failure("upload", &reply));
    }
    match upload_reply(&reply.body) {
        Ok(clean) => {
            // The bot check's pass: the submit of this image needs no second token.
            if let Some(image) = clean["data"]["download_url"].as_str() {
                proxy.leave_pass(image).await;
            }
            Ok(json_reply(200, &clean))
        }
        Err(EnvelopeError::Refused { code, message }) => {
            Err(refused_in_body("upload", code, &message))
        }
        Err(e) => Err(Refusal::upstream(
            502,
            "upstream_bad_reply",
            "WaveSpeed's reply could not be understood; try again.",
        )
        .logged("unusable upload reply")
        .because(e)),
    }
}

fn not_a_form() -> Refusal {
    Refusal::new(
        400,
        "bad_request",
        "The upload must be a multipart form with a file.",
    )
}

/// The `file` field of a multipart body.
async fn file_field(bytes: Bytes, boundary: &str) -> Result<Vec<u8>, Refusal> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                return field
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|_| not_a_form());
            }
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return Err(not_a_form()),
        }
    }
}
