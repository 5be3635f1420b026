//! `GET /api/v3/predictions/{token}/result`: only tasks made through this proxy, by
//! their signed token; the id it carries is polled, and a finished task settles its
//! reservation (a failed one is refunded to the budget).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use tracing::{info, warn};

use super::{ask_about_task, refused_in_body};
use crate::app::{now_ms, Peer, Proxy};
use crate::envelope::{EnvelopeError, Prediction};
use crate::limits::{Outcome, Store};
use crate::refusal::Refusal;
use crate::reply::text_reply;

/// The poll route.
pub async fn poll(
    State(proxy): State<Arc<Proxy>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, Refusal> {
    let now = now_ms();
    let (task_id, reply) = ask_about_task(&proxy, peer, &headers, &token, "poll").await?;
    let prediction = match Prediction::parse(&reply.body) {
        Ok(prediction) => prediction,
        Err(EnvelopeError::Refused { code, message }) => {
            return Err(refused_in_body("poll", code, &message))
        }
        Err(e) => {
            return Err(Refusal::upstream(
                502,
                "upstream_bad_reply",
                "WaveSpeed's reply could not be understood; trying again.",
            )
            .retry_after(2)
            .logged("unusable poll reply")
            .because(e))
        }
    };
    if prediction.is_terminal() {
        let outcome = if prediction.status == "failed" {
            Outcome::Failed
        } else {
            Outcome::Spent
        };
        match proxy.store.settle(&task_id, outcome, now).await {
            // Settled once, whichever instance or poll saw it first: the owner's line
            // for the run.
            Ok(Some(price)) => {
                let origin = headers
                    .get(axum::http::header::ORIGIN)
                    .and_then(|v| v.to_str().ok())
                    .map(|o| o.chars().take(200).collect::<String>());
                let visitor = proxy.visitor(peer, &headers).to_string();
                info!(
                    token = %token,
                    origin = origin.as_deref(),
                    visitor = %proxy.settings.signer.visitor_tag(&visitor),
                    price = %price,
                    outcome = %prediction.status,
                    refunded = outcome == Outcome::Failed,
                    shots = prediction.output_count(),
                    "run finished"
                )
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "could not settle a task"),
        }
    }
    Ok(text_reply(200, prediction.reply(&token)))
}
