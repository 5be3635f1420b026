//! Where requests go and with what credentials — one rule, used by the connection
//! indicator, the Generate button and the job runner, so the three never disagree.

use std::fmt;

use super::api::ApiError;
use super::config::BaseUrl;

/// Where requests go: the API base with the user's key, or a proxy (which holds the key)
/// with none.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// The API base or the proxy URL.
    pub base: BaseUrl,
    /// The key, in direct mode only; `None` through a proxy.
    pub key: Option<String>,
}

impl fmt::Debug for Connection {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Connection {
    /// `error` as this connection's user should read it: through a proxy, an error only
    /// the site's owner can fix reads as [`ApiError::for_visitor`] says.
    pub fn for_visitor(&self, error: ApiError) -> ApiError {
        error.for_visitor(self.key.is_none())
    }
}

/// What the page knows, as typed and configured.
#[derive(Clone, Copy, Debug)]
pub struct Choices<'a> {
    /// `lock_proxy`: only the configured proxy may be used.
    pub locked: bool,
    /// `proxy_url` from `config.json` / a data attribute.
    pub configured_proxy: Option<&'a BaseUrl>,
    /// The Proxy URL field.
    pub typed_proxy: &'a str,
    /// The API key field.
    pub typed_key: &'a str,
    /// The API base for direct mode.
    pub api_base: &'a BaseUrl,
}

/// Why nothing can be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// `lock_proxy` without a `proxy_url`.
    LockedWithoutProxy,
    /// The Proxy URL field holds something that is not a usable address.
    BadProxy(String),
    /// Neither a key nor a proxy.
    Nothing,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::LockedWithoutProxy => {
                f.write_str("This page is set to use its owner’s proxy, but none is configured.")
            }
            Problem::BadProxy(why) => write!(f, "The proxy URL {why}."),
            Problem::Nothing => {
                f.write_str("Enter your WaveSpeed API key, or a proxy URL, to generate.")
            }
        }
    }
}

/// The connection the page's choices make: a typed proxy wins over a typed key; with
/// `lock_proxy` only the configured proxy counts.
pub fn connection(choices: &Choices) -> Result<Connection, Problem> {
    if choices.locked {
        return choices
            .configured_proxy
            .map(|base| Connection {
                base: base.clone(),
                key: None,
            })
            .ok_or(Problem::LockedWithoutProxy);
    }
    if typed_proxy_given(choices.typed_proxy) {
        return BaseUrl::parse(choices.typed_proxy.trim())
            .map(|base| Connection { base, key: None })
            .map_err(Problem::BadProxy);
    }
    let key = given_key(choices.typed_key).ok_or(Problem::Nothing)?;
    Ok(Connection {
        base: choices.api_base.clone(),
        key: Some(key.to_owned()),
    })
}

/// Something is typed in the Proxy URL field: it wins over a typed key (whose field is
/// then shown as not in use).
pub fn typed_proxy_given(typed: &str) -> bool {
    !typed.trim().is_empty()
}

/// The key typed in the API key field, without surrounding spaces; `None` when nothing
/// but spaces is typed.
pub fn given_key(typed: &str) -> Option<&str> {
    Some(typed.trim()).filter(|key| !key.is_empty())
}

/// What a request about a task sent with a key says when the page has none (the jobs
/// ask only when it has one: this is the answer to a key cleared at that very moment).
pub const NO_KEY: &str = "no API key is given on this page";

/// The connection for a task already made: its stored base, through a proxy with no
/// key, else with the key typed now (none typed: [`ApiError::Unauthorized`], [`NO_KEY`]).
pub fn for_task(
    base: BaseUrl,
    through_proxy: bool,
    typed_key: &str,
) -> Result<Connection, ApiError> {
    if through_proxy {
        return Ok(Connection { base, key: None });
    }
    given_key(typed_key)
        .map(|key| Connection {
            base,
            key: Some(key.to_owned()),
        })
        .ok_or_else(|| ApiError::Unauthorized(NO_KEY.into()))
}

/// The connection indicator: a `data-mode` (`proxy`, `direct` or `none`) and its line,
/// from the same result Generate uses (its problem as the text Generate shows).
pub fn indicator(result: &Result<Connection, String>) -> (&'static str, String) {
    match result {
        Ok(Connection { base, key: None }) => (
            "proxy",
            format!("Through proxy: {base} (no key is sent from this page)"),
        ),
        Ok(Connection { base, key: Some(_) }) => {
            ("direct", format!("Direct to {base} with your key"))
        }
        Err(why) => ("none", format!("Not connected. {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://api.wavespeed.ai";

    fn url(raw: &str) -> BaseUrl {
        BaseUrl::parse(raw).unwrap()
    }

    /// A base that lives as long as the test.
    fn leaked(raw: &str) -> &'static BaseUrl {
        Box::leak(Box::new(url(raw)))
    }

    /// The result as the page holds it: the problem in words.
    fn said(result: Result<Connection, Problem>) -> Result<Connection, String> {
        result.map_err(|p| p.to_string())
    }

    fn choices<'a>(proxy: &'a str, key: &'a str) -> Choices<'a> {
        Choices {
            locked: false,
            configured_proxy: None,
            typed_proxy: proxy,
            typed_key: key,
            api_base: leaked(BASE),
        }
    }

    #[test]
    fn a_typed_proxy_wins_and_sends_no_key() {
        let c = connection(&choices(" https://gen.example.com/ ", "sk-1"));
        assert_eq!(
            c,
            Ok(Connection {
                base: url("https://gen.example.com"),
                key: None
            })
        );
        assert_eq!(
            indicator(&said(c)),
            (
                "proxy",
                "Through proxy: https://gen.example.com (no key is sent from this page)".into()
            )
        );
    }

    #[test]
    fn a_key_alone_goes_direct() {
        let c = connection(&choices("", " sk-1 "));
        assert_eq!(
            c,
            Ok(Connection {
                base: url(BASE),
                key: Some("sk-1".into())
            })
        );
        assert_eq!(indicator(&said(c.clone())).0, "direct");
        assert!(
            !format!("{:?}", c).contains("sk-1"),
            "Debug never prints the key"
        );
    }

    #[test]
    fn an_invalid_proxy_is_not_connected_in_the_indicator_either() {
        // The defect: the indicator said "Through proxy …" while Generate said the proxy
        // URL was invalid. Both read this one result now.
        for bad in [
            "javascript:alert(1)",
            "gen.example.com",
            "https://",
            "https://a b",
        ] {
            let c = connection(&choices(bad, "sk-1"));
            let Err(Problem::BadProxy(why)) = &c else {
                panic!("{bad}: {c:?}");
            };
            let (mode, line) = indicator(&said(c.clone()));
            assert_eq!(mode, "none", "{bad}");
            assert_eq!(line, format!("Not connected. The proxy URL {why}."));
            let said = c.as_ref().err().map(ToString::to_string);
            assert_eq!(said, Some(format!("The proxy URL {why}.")));
        }
    }

    #[test]
    fn nothing_typed_says_what_to_do() {
        let c = connection(&choices("  ", ""));
        assert_eq!(c, Err(Problem::Nothing));
        assert_eq!(
            indicator(&said(c)),
            (
                "none",
                "Not connected. Enter your WaveSpeed API key, or a proxy URL, to generate.".into()
            )
        );
    }

    #[test]
    fn a_locked_page_uses_only_its_configured_proxy() {
        let locked = Choices {
            locked: true,
            configured_proxy: Some(leaked("https://gen.example.com")),
            ..choices("https://typed.example.com", "sk-1")
        };
        assert_eq!(
            connection(&locked),
            Ok(Connection {
                base: url("https://gen.example.com"),
                key: None
            })
        );
        let unset = Choices {
            configured_proxy: None,
            ..locked
        };
        assert_eq!(connection(&unset), Err(Problem::LockedWithoutProxy));
    }

    #[test]
    fn a_task_keeps_its_own_base_and_needs_a_key_only_in_direct_mode() {
        assert_eq!(
            for_task(url("https://gen.example.com"), true, ""),
            Ok(Connection {
                base: url("https://gen.example.com"),
                key: None
            })
        );
        assert_eq!(
            for_task(url(BASE), false, "  "),
            Err(ApiError::Unauthorized(NO_KEY.into()))
        );
        assert_eq!(
            for_task(url(BASE), false, " sk-2 "),
            Ok(Connection {
                base: url(BASE),
                key: Some("sk-2".into())
            })
        );
    }
}
