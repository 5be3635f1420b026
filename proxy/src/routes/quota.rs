//! `GET /quota`: the price and what this visitor may run, read from the counters.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::{
    budget_refusal, burst_text, daily_text, hourly_text, now_ms, store_down, visitor_key,
    BudgetLeft, Peer, Proxy, BURST, BURST_KEY, RUNNING_MAX_AGE_MS, RUN_DAY, UNAVAILABLE,
};
use crate::clock;
use crate::limits::{Rate, Store};
use crate::refusal::Refusal;
use crate::reply::text_reply;

/// The reply of [`quota`].
#[derive(serde::Serialize)]
struct QuotaReply {
    unit_price: Box<serde_json::value::RawValue>,
    currency: &'static str,
    runs_left: u64,
    visitor: VisitorLeft,
    site: SiteLeft,
    message: Option<String>,
    reason: Option<&'static str>,
    retry_after_s: Option<u64>,
    /// The bot check's widget site key, when the check is on and the key is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    turnstile_sitekey: Option<String>,
}

/// A visitor's runs left under their hourly and daily rates: `runs_left` is the lower.
#[derive(serde::Serialize)]
struct VisitorLeft {
    runs_left: u32,
    per_hour: u32,
    runs_left_today: u32,
    per_day: u32,
}

/// The site's runs left today under its budgets, and under the runs started across all
/// visitors (`--runs-per-minute`) now.
#[derive(serde::Serialize)]
struct SiteLeft {
    runs_left_today: u64,
    runs_left_now: u32,
}

/// `GET /quota`: what this visitor may run, for the page to say before Generate — the
/// price of a run, the runs left to them (their hourly and daily run rates) and to the
/// site (today: the daily and monthly budgets at this price; now: the runs started
/// across all visitors), and, when none is left, the sentence
/// and reason a submit would be refused with. Reads the counters; takes nothing from
/// them. Looked up at the poll rate (fails open); a store that is down is a 503.
///
/// ```json
/// {"unit_price": 0.07, "currency": "USD", "runs_left": 3,
///  "visitor": {"runs_left": 3, "per_hour": 5, "runs_left_today": 20, "per_day": 20},
///  "site": {"runs_left_today": 71, "runs_left_now": 3},
///  "message": null, "reason": null, "retry_after_s": null}
/// ```
pub async fn quota(
    State(proxy): State<Arc<Proxy>>,
    Peer(peer): Peer,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let visitor = proxy.visitor(peer, &headers);
    proxy.poll_rate(visitor).await?;
    let now = now_ms();
    let (day, month) = (clock::day(now / 1000), clock::month(now / 1000));
    let per_hour = proxy.settings.runs_per_hour;
    let per_day = proxy.settings.runs_per_day;
    let (hour_tat, day_tat, burst_tat, spend) = match futures_util::future::join4(
        proxy.store.tat(&visitor_key("run_rate", visitor)),
        proxy.store.tat(&visitor_key(RUN_DAY, visitor)),
        proxy.store.tat(BURST_KEY),
        proxy.store.spend(&day, &month, now, RUNNING_MAX_AGE_MS),
    )
    .await
    {
        (Ok(hour), Ok(day), Ok(burst), Ok(spend)) => (hour, day, burst, spend),
        (Err(e), ..) | (_, Err(e), ..) | (.., Err(e), _) | (.., Err(e)) => {
            return Err(store_down(&e))
        }
    };
    let price = proxy.price();
    let left = |tat, rate| crate::limits::gcra::left(tat, rate, now);
    let this_hour = left(hour_tat, Rate::per_hour(per_hour));
    let today = left(day_tat, Rate::per_day(per_day));
    let burst = left(burst_tat, proxy.settings.burst);
    let yours = if today.count < this_hour.count {
        today
    } else {
        this_hour
    };
    // Runs the budgets still hold at this price.
    let budget = BudgetLeft::of(&proxy.settings, &spend, price);
    let site = budget.runs();
    // What a submit would be refused with now (not counted: nothing is refused here).
    let refusal = if let Err(paused) = proxy.not_paused() {
        Some(paused)
    } else if let Some(which) = budget.used_up() {
        Some(budget_refusal(which, now / 1000))
    } else if this_hour.count == 0 {
        let seconds = this_hour.retry_after_ms.div_ceil(1000);
        Some(
            Refusal::new(
                429,
                "run_rate",
                hourly_text(per_hour, "generations", seconds),
            )
            .retry_after(seconds),
        )
    } else if today.count == 0 {
        let seconds = today.retry_after_ms.div_ceil(1000);
        Some(Refusal::new(429, RUN_DAY, daily_text(per_day, seconds)).retry_after(seconds))
    } else if burst.count == 0 {
        let seconds = burst.retry_after_ms.div_ceil(1000);
        Some(Refusal::new(429, BURST, burst_text(seconds)).retry_after(seconds))
    } else {
        None
    };
    let runs_left = if refusal.is_some() {
        0
    } else {
        site.min(u64::from(yours.count))
    };
    let internal = || Refusal::new(500, "internal", UNAVAILABLE);
    // The price goes as the exact decimal it is, never through a float.
    let unit_price =
        serde_json::value::RawValue::from_string(price.decimal()).map_err(|_| internal())?;
    let reply = QuotaReply {
        unit_price,
        currency: "USD",
        runs_left,
        visitor: VisitorLeft {
            runs_left: yours.count,
            per_hour,
            runs_left_today: today.count,
            per_day,
        },
        site: SiteLeft {
            runs_left_today: site,
            runs_left_now: burst.count,
        },
        reason: refusal.as_ref().map(|r| r.reason),
        retry_after_s: refusal.as_ref().and_then(|r| r.retry_after_s),
        message: refusal.map(|r| r.message),
        turnstile_sitekey: proxy.bot_check.as_ref().and_then(|c| c.sitekey.clone()),
    };
    let body = serde_json::to_string(&reply).map_err(|_| internal())?;
    Ok(text_reply(200, body))
}
