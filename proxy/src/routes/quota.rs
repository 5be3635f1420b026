//! `GET /quota`: the price and what this visitor may run, read from the counters.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::{
    budget_refusal, hourly_text, now_ms, store_down, Proxy, RUNNING_MAX_AGE_MS, UNAVAILABLE,
};
use crate::clock;
use crate::limits::{Rate, Refusal as BudgetRefusal, Store};
use crate::money::Micros;
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
}

/// A visitor's runs left under their hourly rate.
#[derive(serde::Serialize)]
struct VisitorLeft {
    runs_left: u32,
    per_hour: u32,
}

/// The site's runs left today under its budgets.
#[derive(serde::Serialize)]
struct SiteLeft {
    runs_left_today: u64,
}

/// `GET /quota`: what this visitor may run, for the page to say before Generate — the
/// price of a run, the runs left to them (their hourly run rate) and to the site today
/// (the daily and monthly budgets at this price), and, when none is left, the sentence
/// and reason a submit would be refused with. Reads the counters; takes nothing from
/// them. Looked up at the poll rate (fails open); a store that is down is a 503.
///
/// ```json
/// {"unit_price": 0.07, "currency": "USD", "runs_left": 3,
///  "visitor": {"runs_left": 3, "per_hour": 5}, "site": {"runs_left_today": 71},
///  "message": null, "reason": null, "retry_after_s": null}
/// ```
pub async fn quota(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let visitor = proxy.visitor(peer, &headers);
    proxy.poll_rate(visitor).await?;
    let now = now_ms();
    let (day, month) = (clock::day(now / 1000), clock::month(now / 1000));
    let per_hour = proxy.settings.runs_per_hour;
    let (tat, spend) = match futures_util::future::join(
        proxy.store.tat(&format!("rate:run_rate:{visitor}")),
        proxy.store.spend(&day, &month, now, RUNNING_MAX_AGE_MS),
    )
    .await
    {
        (Ok(tat), Ok(spend)) => (tat, spend),
        (Err(e), _) | (_, Err(e)) => return Err(store_down(&e)),
    };
    let price = proxy.price();
    let yours = crate::limits::gcra::left(tat, Rate::per_hour(per_hour), now);
    // Runs the budgets still hold at this price (a price of zero is never believed).
    let runs_within =
        |cap: Micros, reserved: Micros| cap.saturating_sub(reserved).0 / price.0.max(1);
    let by_day = runs_within(proxy.settings.day_cap, spend.day_reserved);
    let by_month = runs_within(proxy.settings.month_cap, spend.month_reserved);
    let site = by_day.min(by_month);
    // What a submit would be refused with now (not counted: nothing is refused here).
    let refusal = if let Err(paused) = proxy.not_paused() {
        Some(paused)
    } else if site == 0 {
        let which = if by_day == 0 {
            BudgetRefusal::DailyBudget
        } else {
            BudgetRefusal::MonthlyBudget
        };
        Some(budget_refusal(which, now / 1000))
    } else if yours.count == 0 {
        let seconds = yours.retry_after_ms.div_ceil(1000);
        Some(
            Refusal::new(
                429,
                "run_rate",
                hourly_text(per_hour, "generations", seconds),
            )
            .retry_after(seconds),
        )
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
        },
        site: SiteLeft {
            runs_left_today: site,
        },
        reason: refusal.as_ref().map(|r| r.reason),
        retry_after_s: refusal.as_ref().and_then(|r| r.retry_after_s),
        message: refusal.map(|r| r.message),
    };
    let body = serde_json::to_string(&reply).map_err(|_| internal())?;
    Ok(text_reply(200, body))
}
