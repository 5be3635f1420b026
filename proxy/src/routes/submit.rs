//! `POST /api/v3/kwaivgi/kling-v1/ai-multi-shot`: exactly `image` and
//! `enable_base64_output` go upstream, once, after the run's price is reserved; the
//! visitor gets a signed token in place of WaveSpeed's task id.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tracing::{info, warn};

use super::{no_reply, read_body, refused_in_body, upstream_failure};
use crate::app::{
    budget_refusal, now_ms, store_down, visitor_key, Peer, Proxy, BURST_KEY, RUNNING_MAX_AGE_MS,
    RUN_DAY,
};
use crate::clock;
use crate::envelope::{EnvelopeError, Prediction};
use crate::filter::submit_body;
use crate::limits::{Rate, Reservation, RunRequest, Store};
use crate::refusal::Refusal;
use crate::reply::text_reply;

/// How long a task's reservation is remembered, waiting to be settled.
const TASK_RECORD_S: u64 = 8 * 86_400;
/// The largest submit body read (a 10 MiB image inline as base64, and then some).
const MAX_SUBMIT_BYTES: usize = 15 * 1024 * 1024;

/// The submit route: counted in `multishot_proxy_submits_total` as `accepted`,
/// `refused` (a limit or a check) or `failed` (WaveSpeed's failure).
pub async fn submit(
    State(proxy): State<Arc<Proxy>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = run(&proxy, peer, &headers, body).await;
    proxy.metrics.submit(match &answer {
        Ok(_) => "accepted",
        Err(refusal) if refusal.is_upstream() => "failed",
        Err(_) => "refused",
    });
    answer.into_response()
}

async fn run(
    proxy: &Arc<Proxy>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    proxy.not_paused()?;
    let visitor = proxy.visitor(peer, headers);
    // Every submit is a request a second; only a run that starts is one of the
    // visitor's runs an hour (taken below, given back when no task is made).
    proxy.submit_rate(visitor).await?;
    let bytes = read_body(body, MAX_SUBMIT_BYTES).await?;
    let clean = submit_body(&bytes).map_err(|e| {
        let reason = if e.status() == 422 {
            "image_rules"
        } else {
            "bad_request"
        };
        Refusal::new(e.status(), reason, e.to_string())
    })?;
    // A person (a widget's token, or the pass of the upload of this image: only an
    // image given by address can have been uploaded here), before any run is taken from
    // a limit or the budget.
    let uploaded = clean["image"]
        .as_str()
        .filter(|image| crate::filter::is_web_address(image));
    proxy.check_person(headers, uploaded).await?;
    // A run is taken from the visitor's hour and day and from the site's minute, in
    // that order; what was taken for a run that made no task comes back.
    let now = now_ms();
    let taken = [
        (
            visitor_key("run_rate", visitor),
            Rate::per_hour(proxy.settings.runs_per_hour),
        ),
        (
            visitor_key(RUN_DAY, visitor),
            Rate::per_day(proxy.settings.runs_per_day),
        ),
        (BURST_KEY.to_owned(), proxy.settings.burst),
    ];
    let give_back = |reservation: Option<Reservation>, rates: usize| {
        let taken = &taken[..rates];
        async move {
            if let Some(reservation) = reservation {
                if let Err(e) = proxy.store.release(&reservation).await {
                    warn!(error = %e, "could not give a reservation back");
                }
            }
            for (key, rate) in taken {
                if let Err(e) = proxy.store.give_back(key, *rate, now).await {
                    warn!(error = %e, "could not give a run back");
                }
            }
        }
    };
    proxy
        .hourly_limit(
            "run_rate",
            visitor,
            proxy.settings.runs_per_hour,
            "generations",
        )
        .await?;
    if let Err(refusal) = proxy.daily_runs(visitor).await {
        give_back(None, 1).await;
        return Err(refusal);
    }
    if let Err(refusal) = proxy.burst_limit().await {
        give_back(None, 2).await;
        // When the budget is what is used up, the visitor reads that, not the burst's
        // "try again in …" (a day's last run also leaves the burst limit empty).
        return Err(proxy.budget_used_up().await.unwrap_or(refusal));
    }
    let give_back = |reservation| give_back(reservation, taken.len());
    let run = RunRequest {
        price: proxy.price(),
        day: clock::day(now / 1000),
        day_cap: proxy.settings.day_cap,
        month: clock::month(now / 1000),
        month_cap: proxy.settings.month_cap,
        max_running: proxy.settings.max_running,
        running_max_age_ms: RUNNING_MAX_AGE_MS,
        now_ms: now,
        reservation_id: proxy.reservation_id(),
    };
    let reservation = match proxy.store.reserve(&run).await {
        Ok(Ok(reservation)) => reservation,
        Ok(Err(refusal)) => {
            give_back(None).await;
            return Err(budget_refusal(refusal, now / 1000));
        }
        Err(e) => {
            give_back(None).await;
            return Err(store_down(&e));
        }
    };
    // The request may reach WaveSpeed and make a task from here on: a failure that may
    // have made one keeps the reservation and the visitor's run (a submit is never
    // retried, and the budget errs on the safe side); one that surely made none gives
    // both back.
    let reply = proxy
        .upstream
        .submit(&clean)
        .await
        .map_err(|e| no_reply("submit", &e))?;
    proxy.metrics.upstream("submit", reply.elapsed);
    if !(200..300).contains(&reply.status) {
        give_back(Some(reservation)).await;
        return Err(upstream_failure("submit", &reply));
    }
    let prediction = match Prediction::parse(&reply.body) {
        Ok(prediction) => prediction,
        Err(EnvelopeError::Refused { code, message }) => {
            give_back(Some(reservation)).await;
            return Err(refused_in_body("submit", code, &message));
        }
        Err(e) => return Err(may_have_been_made().because(e)),
    };
    let token = proxy
        .settings
        .signer
        .sign(&prediction.id, now / 1000)
        .ok_or_else(may_have_been_made)?;
    if let Err(e) = proxy
        .store
        .record_task(&prediction.id, &reservation, TASK_RECORD_S, now)
        .await
    {
        warn!(error = %e, "could not record the task's reservation; it stays spent");
    }
    info!(visitor = %visitor, price = %run.price, "run submitted");
    Ok(text_reply(200, prediction.reply(&token)))
}

/// A 200 that cannot be read may still have made a task: the reservation stays.
fn may_have_been_made() -> Refusal {
    Refusal::upstream(
        502,
        "upstream_bad_reply",
        "WaveSpeed's reply could not be understood; the run may have been made.",
    )
    .logged("unusable submit reply")
}
