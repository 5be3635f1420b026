//! Before Generate: what one run costs and whether it can be paid for.
//!
//! - **Direct** (the user's own key): WaveSpeed's price of one run
//!   (`POST /api/v3/model/pricing`) and the account's balance (`GET /api/v3/balance`).
//!   A balance below the price keeps Generate disabled with a link to top up; a look-up
//!   that fails never does (the documented price stands in, and the line says the
//!   balance could not be read).
//! - **Proxy** (a site owner's `multishot-proxy`): its own `GET /quota` — the price and
//!   the runs left to this visitor and to the site; none left keeps Generate disabled
//!   with the proxy's sentence.
//!
//! Money is [`Micros`], read from the JSON number's own text (never through a float).
//! Nothing here is stored: the values live as long as the page.

use super::json::{self, Json};

use super::api::{parse_envelope, ApiError, MODEL_ID};
pub use multishot_rules::money::Micros;

/// WaveSpeed's pricing path.
pub const PRICING_PATH: &str = "/api/v3/model/pricing";
/// WaveSpeed's balance path.
pub const BALANCE_PATH: &str = "/api/v3/balance";
/// `multishot-proxy`'s own path for a visitor's price and runs left.
pub const QUOTA_PATH: &str = "/quota";
/// Where a WaveSpeed account is topped up.
pub const TOP_UP_URL: &str = "https://wavespeed.ai/top-up";
/// The price on the model's page, used when WaveSpeed's own cannot be read: $0.07.
pub const LISTED_PRICE: Micros = Micros(70_000);

/// The pricing request's body: this model, no inputs (its price does not depend on them).
pub fn pricing_request() -> String {
    format!(r#"{{"model_id":"{MODEL_ID}","inputs":{{}}}}"#)
}

/// The amount `object[key]` parsed from the number's own text by `parse` (money is read
/// from that text, never through a float): `None` unless the member is a JSON number.
fn amount(
    object: &Json,
    key: &str,
    parse: fn(&str) -> Result<Micros, multishot_rules::money::MoneyError>,
) -> Option<Micros> {
    parse(object.get(key)?.number_text()?).ok()
}

/// The price of one run from a pricing reply (`data.unit_price`, in USD), rounded up to
/// the micro-dollar. A price of zero is not believed (it would say a run is free).
pub fn parse_price(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Micros, ApiError> {
    let data = parse_envelope(status, retry_after, body)?;
    amount(&data, "unit_price", Micros::from_json_number)
        .filter(|price| *price > Micros::ZERO)
        .ok_or_else(|| ApiError::BadResponse("`unit_price` is not a price".into()))
}

/// The account's balance from a balance reply (`data.balance`, in USD), rounded down.
pub fn parse_balance(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Micros, ApiError> {
    let data = parse_envelope(status, retry_after, body)?;
    amount(&data, "balance", Micros::balance_from_json_number)
        .ok_or_else(|| ApiError::BadResponse("`balance` is not an amount".into()))
}

/// What a site owner's proxy lets this visitor run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The price of a run (the site pays it).
    pub price: Micros,
    /// Runs this visitor may start now: the lower of theirs and the site's.
    pub runs_left: u64,
    /// The visitor's own hourly limit is what binds (else their daily limit or the site's
    /// budget for today).
    pub this_hour: bool,
    /// When none is left: the proxy's sentence saying why and until when.
    pub message: Option<String>,
}

/// A proxy's `/quota` reply. Its refusals (a 4xx/5xx with a `reason`) are errors as
/// everywhere else; a proxy without `/quota` (404) is one too, and blocks nothing.
pub fn parse_quota(status: u16, retry_after: Option<&str>, body: &[u8]) -> Result<Quota, ApiError> {
    if !(200..300).contains(&status) {
        // Error statuses read as every other reply's do.
        parse_envelope(status, retry_after, body)?;
    }
    let reply = json::parse(body)
        .ok()
        .filter(Json::is_object)
        .ok_or_else(|| ApiError::BadResponse("not a quota".into()))?;
    let count = |object: Option<&Json>, key| object?.get(key)?.as_u64();
    let (Some(runs_left), Some(yours), Some(site)) = (
        count(Some(&reply), "runs_left"),
        count(reply.get("visitor"), "runs_left"),
        count(reply.get("site"), "runs_left_today"),
    ) else {
        return Err(ApiError::BadResponse("not a quota".into()));
    };
    // The visitor's day (a proxy before `--runs-per-ip-per-day` gives none).
    let today = count(reply.get("visitor"), "runs_left_today").unwrap_or(u64::MAX);
    Ok(Quota {
        price: amount(&reply, "unit_price", Micros::from_json_number)
            .filter(|p| *p > Micros::ZERO)
            .unwrap_or(LISTED_PRICE),
        runs_left,
        this_hour: yours < site && yours < today,
        message: reply
            .get("message")
            .and_then(Json::as_str)
            .filter(|m| !m.trim().is_empty())
            .map(|m| m.chars().take(300).collect()),
    })
}

/// One look-up, as far as it has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Asked; no answer yet.
    Asking,
    /// Answered.
    Known(T),
    /// Failed: `key_refused` when WaveSpeed refused the key (401/403).
    Failed {
        /// WaveSpeed refused the key.
        key_refused: bool,
    },
}

impl<T> Lookup<T> {
    /// The look-up's result, as kept.
    pub fn from_result(result: Result<T, ApiError>) -> Self {
        match result {
            Ok(value) => Lookup::Known(value),
            Err(e) => Lookup::Failed {
                key_refused: matches!(e, ApiError::Unauthorized(_) | ApiError::Forbidden(_)),
            },
        }
    }
}

/// What the page knows about paying for a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Funds {
    /// No connection (or not asked yet): nothing is shown.
    #[default]
    Unknown,
    /// The user's own key: WaveSpeed's price and the account's balance.
    Direct {
        /// The price of a run.
        price: Lookup<Micros>,
        /// The account's balance.
        balance: Lookup<Micros>,
    },
    /// A site owner's proxy.
    Proxy(Lookup<Quota>),
}

/// Why Generate stays disabled for money.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// The account's balance is below the price of a run.
    LowBalance {
        /// The balance.
        balance: Micros,
        /// The price.
        price: Micros,
    },
    /// The proxy has no run left for this visitor; its sentence.
    NoRunsLeft(String),
}

impl Funds {
    /// The price of a run: as read, else the listed $0.07.
    pub fn price(&self) -> Micros {
        match self {
            Funds::Direct {
                price: Lookup::Known(price),
                ..
            }
            | Funds::Proxy(Lookup::Known(Quota { price, .. })) => *price,
            _ => LISTED_PRICE,
        }
    }

    /// What keeps Generate disabled, if anything: a balance below the price as WaveSpeed
    /// gives it, or a proxy with no run left. A look-up that failed never does.
    pub fn shortfall(&self) -> Option<Shortfall> {
        match self {
            Funds::Direct {
                price: Lookup::Known(price),
                balance: Lookup::Known(balance),
            } if balance < price => Some(Shortfall::LowBalance {
                balance: *balance,
                price: *price,
            }),
            Funds::Proxy(Lookup::Known(quota)) if quota.runs_left == 0 => {
                Some(Shortfall::NoRunsLeft(quota.message.clone().unwrap_or_else(
                    || "No generation is left on this site for now; try again later.".into(),
                )))
            }
            _ => None,
        }
    }

    /// The line beside Generate, when there is something to say: "One run costs $0.07 ·
    /// your balance $12.40", "3 runs left today". `for_visitor`: the page is a site
    /// owner's (`lock_proxy`), whose visitors do not pay — a proxy's price is then not
    /// said; to a developer trying a proxy it is, as the site's.
    pub fn line(&self, for_visitor: bool) -> Option<String> {
        if let Some(shortfall) = self.shortfall() {
            return Some(match shortfall {
                Shortfall::LowBalance { balance, price } => format!(
                    "Your balance ({balance}) is less than one run ({price}): top up your WaveSpeed account to generate."
                ),
                Shortfall::NoRunsLeft(message) => message,
            });
        }
        match self {
            Funds::Unknown => None,
            Funds::Direct {
                price: Lookup::Asking,
                ..
            } => Some("Reading the price of a run and your balance…".to_owned()),
            Funds::Direct { balance, .. } => {
                let balance = match balance {
                    Lookup::Asking => "reading your balance…".to_owned(),
                    Lookup::Known(balance) => format!("your balance {balance}"),
                    Lookup::Failed { key_refused: true } => {
                        "your balance could not be read: WaveSpeed refused this key".to_owned()
                    }
                    Lookup::Failed { key_refused: false } => {
                        "your balance could not be read".to_owned()
                    }
                };
                Some(format!("One run costs {} · {balance}", self.price()))
            }
            Funds::Proxy(Lookup::Known(quota)) => {
                let runs = match quota.runs_left {
                    1 => "1 run left".to_owned(),
                    n => format!("{n} runs left"),
                };
                let when = if quota.this_hour {
                    "this hour"
                } else {
                    "today"
                };
                Some(if for_visitor {
                    format!("{runs} {when}")
                } else {
                    format!("{runs} {when} · {} a run, paid by the site", quota.price)
                })
            }
            Funds::Proxy(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_price_is_read_exactly_from_its_text() {
        let reply = br#"{"code":200,"message":"success","data":{"model_id":"kwaivgi/kling-v1/ai-multi-shot","unit_price":0.07,"currency":"USD"}}"#;
        assert_eq!(parse_price(200, None, reply), Ok(Micros(70_000)));
        let odd = br#"{"code":200,"data":{"unit_price":7e-2}}"#;
        assert_eq!(parse_price(200, None, odd), Ok(Micros(70_000)));
        for bad in [
            &br#"{"code":200,"data":{"unit_price":0}}"#[..],
            br#"{"code":200,"data":{"unit_price":"0.07"}}"#,
            br#"{"code":200,"data":{"unit_price":-1}}"#,
            br#"{"code":200,"data":{}}"#,
        ] {
            assert!(
                matches!(parse_price(200, None, bad), Err(ApiError::BadResponse(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            parse_price(401, None, br#"{"message":"bad key"}"#),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            parse_price(200, None, br#"{"code":500,"message":"down"}"#),
            Err(ApiError::Refused { code: 500, .. })
        ));
        assert_eq!(
            pricing_request(),
            r#"{"model_id":"kwaivgi/kling-v1/ai-multi-shot","inputs":{}}"#
        );
    }

    #[test]
    fn the_price_is_the_members_own_text_past_strings_and_look_alikes() {
        let price = |data: &str| {
            parse_price(
                200,
                None,
                format!(r#"{{"code":200,"data":{data}}}"#).as_bytes(),
            )
        };
        assert_eq!(price(r#"{"a":1,"unit_price": 0.07}"#), Ok(Micros(70_000)));
        assert_eq!(
            price(r#"{"m":"\"unit_price\":9","unit_price":7e-2}"#),
            Ok(Micros(70_000)),
            "a key inside a string is not a key"
        );
        assert_eq!(
            price(r#"{"x":"unit_price","unit_price":1}"#),
            Ok(Micros(1_000_000))
        );
        // A member of the same name deeper in the reply is not the price.
        assert_eq!(
            price(r#"{"x":{"unit_price":9},"unit_price":0.07}"#),
            Ok(Micros(70_000))
        );
        assert_eq!(
            price(r#"{"unit_price":0.07,"x":{"unit_price":9}}"#),
            Ok(Micros(70_000))
        );
        assert!(price(r#"{"x":{"unit_price":9}}"#).is_err());
        // A string is not a number, even one that reads as one.
        assert!(price(r#"{"unit_price":"0.07"}"#).is_err());
        // Digits past what a float keeps are read exactly.
        assert_eq!(
            price(r#"{"unit_price":0.070000000000000000001}"#),
            Ok(Micros(70_001))
        );
    }

    #[test]
    fn the_balance_is_read_down_to_the_micro_dollar() {
        let balance = |body: &[u8]| parse_balance(200, None, body);
        assert_eq!(
            balance(br#"{"code":200,"message":"success","data":{"balance":12.4}}"#),
            Ok(Micros(12_400_000))
        );
        assert_eq!(
            balance(br#"{"code":200,"data":{"balance":0.0699999}}"#),
            Ok(Micros(69_999))
        );
        assert_eq!(
            balance(br#"{"code":200,"data":{"balance":-2}}"#),
            Ok(Micros::ZERO)
        );
        assert!(balance(br#"{"code":200,"data":{"balance":null}}"#).is_err());
        assert!(balance(b"<html>").is_err());
    }

    #[test]
    fn a_quota_reads_the_lower_limit_and_the_proxys_sentence() {
        let reply = br#"{"unit_price":0.10,"currency":"USD","runs_left":2,"visitor":{"runs_left":2,"per_hour":5},"site":{"runs_left_today":9},"message":null,"reason":null,"retry_after_s":null}"#;
        assert_eq!(
            parse_quota(200, None, reply),
            Ok(Quota {
                price: Micros(100_000),
                runs_left: 2,
                this_hour: true,
                message: None,
            })
        );
        let spent = br#"{"unit_price":0.07,"runs_left":0,"visitor":{"runs_left":4},"site":{"runs_left_today":0},"message":"This site's daily budget is used up; it resets at 00:00 UTC.","reason":"daily_budget"}"#;
        let quota = parse_quota(200, None, spent).expect("a quota");
        assert!(!quota.this_hour);
        assert_eq!(
            Funds::Proxy(Lookup::Known(quota)).shortfall(),
            Some(Shortfall::NoRunsLeft(
                "This site's daily budget is used up; it resets at 00:00 UTC.".into()
            ))
        );
        assert!(matches!(
            parse_quota(
                404,
                None,
                br#"{"code":404,"message":"not found","reason":"not_found"}"#
            ),
            Err(ApiError::Proxy { status: 404, .. })
        ));
        assert!(parse_quota(200, None, b"{}").is_err());
    }

    #[test]
    fn a_visitors_day_that_binds_reads_today() {
        let reply = br#"{"unit_price":0.07,"runs_left":3,"visitor":{"runs_left":3,"per_hour":5,"runs_left_today":3,"per_day":20},"site":{"runs_left_today":9,"runs_left_now":3}}"#;
        let quota = parse_quota(200, None, reply).expect("a quota");
        assert!(!quota.this_hour);
        assert_eq!(
            Funds::Proxy(Lookup::Known(quota)).line(true).as_deref(),
            Some("3 runs left today")
        );
        let hour = br#"{"unit_price":0.07,"runs_left":2,"visitor":{"runs_left":2,"per_hour":5,"runs_left_today":7,"per_day":20},"site":{"runs_left_today":9,"runs_left_now":3}}"#;
        let quota = parse_quota(200, None, hour).expect("a quota");
        assert_eq!(
            Funds::Proxy(Lookup::Known(quota)).line(true).as_deref(),
            Some("2 runs left this hour")
        );
    }

    fn direct(price: Lookup<Micros>, balance: Lookup<Micros>) -> Funds {
        Funds::Direct { price, balance }
    }

    #[test]
    fn the_line_says_price_and_balance_and_a_failure_blocks_nothing() {
        let known = direct(
            Lookup::Known(Micros(70_000)),
            Lookup::Known(Micros(12_400_000)),
        );
        assert_eq!(
            known.line(false).as_deref(),
            Some("One run costs $0.07 · your balance $12.40")
        );
        assert_eq!(known.shortfall(), None);
        let failed = direct(
            Lookup::Failed { key_refused: false },
            Lookup::Failed { key_refused: false },
        );
        assert_eq!(
            failed.line(false).as_deref(),
            Some("One run costs $0.07 · your balance could not be read")
        );
        assert_eq!(failed.shortfall(), None, "a failed look-up never blocks");
        assert_eq!(failed.price(), LISTED_PRICE);
        assert_eq!(
            direct(
                Lookup::Failed { key_refused: true },
                Lookup::Failed { key_refused: true }
            )
            .line(false)
            .as_deref(),
            Some(
                "One run costs $0.07 · your balance could not be read: WaveSpeed refused this key"
            )
        );
        assert_eq!(
            direct(Lookup::Asking, Lookup::Asking)
                .line(false)
                .as_deref(),
            Some("Reading the price of a run and your balance…")
        );
        assert_eq!(
            direct(Lookup::Known(Micros(70_000)), Lookup::Asking)
                .line(false)
                .as_deref(),
            Some("One run costs $0.07 · reading your balance…")
        );
        assert_eq!(Funds::Unknown.line(false), None);
        assert_eq!(Funds::Proxy(Lookup::Asking).line(true), None);
    }

    #[test]
    fn a_balance_below_the_price_blocks_with_both_amounts() {
        let low = direct(
            Lookup::Known(Micros(350_000)),
            Lookup::Known(Micros(349_999)),
        );
        assert_eq!(
            low.shortfall(),
            Some(Shortfall::LowBalance {
                balance: Micros(349_999),
                price: Micros(350_000)
            })
        );
        assert_eq!(
            low.line(false).as_deref(),
            Some("Your balance ($0.349999) is less than one run ($0.35): top up your WaveSpeed account to generate.")
        );
        // Exactly one run's worth is enough; with the price unread, nothing is blocked
        // (a failed look-up never blocks: WaveSpeed itself refuses a run it cannot bill).
        let exact = direct(
            Lookup::Known(Micros(350_000)),
            Lookup::Known(Micros(350_000)),
        );
        assert_eq!(exact.shortfall(), None);
        let unread_price = direct(
            Lookup::Failed { key_refused: false },
            Lookup::Known(Micros(60_000)),
        );
        assert_eq!(unread_price.shortfall(), None);
        assert_eq!(
            unread_price.line(false).as_deref(),
            Some("One run costs $0.07 · your balance $0.06")
        );
    }

    #[test]
    fn runs_left_read_for_a_visitor_and_for_a_developer() {
        let quota = |runs_left, this_hour| {
            Funds::Proxy(Lookup::Known(Quota {
                price: Micros(70_000),
                runs_left,
                this_hour,
                message: None,
            }))
        };
        assert_eq!(
            quota(3, false).line(true).as_deref(),
            Some("3 runs left today")
        );
        assert_eq!(
            quota(1, true).line(true).as_deref(),
            Some("1 run left this hour")
        );
        assert_eq!(
            quota(3, false).line(false).as_deref(),
            Some("3 runs left today · $0.07 a run, paid by the site")
        );
        assert_eq!(
            quota(0, false).line(true).as_deref(),
            Some("No generation is left on this site for now; try again later.")
        );
    }

    proptest! {
        /// Blocked exactly when a known balance is below the price in force.
        #[test]
        fn blocked_exactly_below_the_price(price in 1u64..10_000_000, balance in 0u64..20_000_000) {
            let funds = direct(Lookup::Known(Micros(price)), Lookup::Known(Micros(balance)));
            prop_assert_eq!(funds.shortfall().is_some(), balance < price);
        }

        /// The amount read is the member's, for any key and number, past members
        /// with escapes before it.
        #[test]
        fn the_amount_is_the_members(
            key in "[a-z_]{1,12}",
            whole in 0u64..1_000_000,
            fraction in proptest::option::of(0u32..1_000_000),
            padding in "[ \t\n]{0,3}",
            before in proptest::collection::vec(("[a-z\\\\\"]{0,8}", 0i32..100), 0..4),
        ) {
            let number = match fraction {
                Some(f) => format!("{whole}.{f:06}"),
                None => whole.to_string(),
            };
            let mut members: Vec<String> = before
                .iter()
                .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&format!("{k}!")).unwrap()))
                .collect();
            members.push(format!("\"{key}\":{padding}{number}"));
            let json = format!("{{{}}}", members.join(","));
            let value = json::parse(json.as_bytes()).unwrap();
            let micros = whole * 1_000_000 + u64::from(fraction.unwrap_or(0));
            prop_assert_eq!(amount(&value, &key, Micros::from_json_number), Some(Micros(micros)));
        }

        /// Any reply body: an answer or an error, never a panic, never a zero price.
        #[test]
        fn any_reply_is_read_safely(body in proptest::collection::vec(any::<u8>(), 0..200), status in 100u16..600) {
            if let Ok(price) = parse_price(status, None, &body) {
                prop_assert!(price > Micros::ZERO);
            }
            let _ = parse_balance(status, None, &body);
            if let Ok(quota) = parse_quota(status, None, &body) {
                prop_assert!(quota.price > Micros::ZERO);
            }
        }
    }
}
