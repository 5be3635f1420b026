//! The bot check (Cloudflare Turnstile), optional and off by default. When it is on,
//! every run needs a token from the widget on the page, verified with Cloudflare's
//! `siteverify` before anything is uploaded or submitted:
//!
//! - the reply must say `success`, name a `hostname` among the allowed origins' hosts and
//!   carry the [`ACTION`] the page sets;
//! - a token is spent once across every instance: its hash is kept in the store for the
//!   token's lifetime ([`TOKEN_LIFETIME_MS`]), so a second use is a replay;
//! - a verified upload leaves a **pass** for the image it uploaded: the address's hash,
//!   kept in the store for [`PASS_LIFETIME_MS`] ([`uploaded_key`]); the submit of that
//!   image takes it instead of a second token (the visitor is asked once per run, and
//!   the page sends nothing more), once: taking it is atomic, on every instance;
//! - siteverify down, failing or slower than [`VERIFY_TIMEOUT`] fails **closed**.
//!
//! What a reply means ([`judge`]) is pure and tested here; the call itself is
//! [`BotCheck::verify`].

use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::origin::AllowList;
use crate::platform::{self, Call, Client, Method};

/// The action the page sets on its widget and siteverify must give back.
pub use multishot_rules::turnstile::ACTION;
/// The request header carrying a widget's token.
pub const TOKEN_HEADER: &str = "x-turnstile-token";
/// Cloudflare's siteverify.
pub const SITEVERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";
/// How long a token lives at Cloudflare (and is remembered here once used).
pub const TOKEN_LIFETIME_MS: u64 = 300_000;
/// How long an upload's pass waits for its submit (the page counts on it: shared).
pub use multishot_rules::turnstile::PASS_LIFETIME_MS;
/// How long siteverify may take before the check fails closed.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest siteverify reply read.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The longest token Cloudflare issues.
pub const MAX_TOKEN_CHARS: usize = 2048;

/// The sentence of a check that failed, was missing or was spent before.
pub const DO_THE_CHECK: &str = "Please complete the check above and press Generate again.";
/// The sentence when siteverify cannot be asked.
pub const CHECK_DOWN: &str =
    "The check that keeps this generator for people could not be completed right now; \
     nothing was charged. Try again in a minute.";

/// What a check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A person: go on.
    Pass,
    /// No token, or one Cloudflare refused, or for another site or action (why, for the
    /// operator's log).
    Failed(&'static str),
    /// A token (or pass) used before.
    Replayed,
    /// siteverify could not be asked or answered nonsense: refused, closed.
    Unavailable,
}

/// siteverify's reply (the fields read).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SiteverifyReply {
    /// The token is valid.
    #[serde(default)]
    pub success: bool,
    /// Why not.
    #[serde(default, rename = "error-codes")]
    pub error_codes: Vec<String>,
    /// The host the widget was shown on.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The action the page set.
    #[serde(default)]
    pub action: Option<String>,
}

/// What a siteverify reply means for a site whose pages are on `hosts`.
pub fn judge(reply: &SiteverifyReply, hosts: &[String]) -> Verdict {
    if !reply.success {
        return if reply
            .error_codes
            .iter()
            .any(|c| c == "timeout-or-duplicate")
        {
            Verdict::Replayed
        } else {
            Verdict::Failed("refused by siteverify")
        };
    }
    match (&reply.hostname, &reply.action) {
        (Some(host), _) if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) => {
            Verdict::Failed("token for another hostname")
        }
        (None, _) => Verdict::Failed("token without a hostname"),
        (_, Some(action)) if action == ACTION => Verdict::Pass,
        _ => Verdict::Failed("token for another action"),
    }
}

/// The hosts of the allowed origins (a widget's `hostname` has no scheme and no port).
pub fn hosts(origins: &AllowList) -> Vec<String> {
    origins
        .iter()
        .filter_map(|o| {
            let rest = o.as_str().split_once("://")?.1;
            let host = match rest.strip_prefix('[') {
                Some(v6) => format!("[{}]", v6.split(']').next()?),
                None => rest.split(':').next()?.to_owned(),
            };
            Some(host.to_ascii_lowercase())
        })
        .collect()
}

/// The store key remembering a spent token: its hash, never the token.
pub fn spent_key(token: &str) -> String {
    hashed_key("seen", token)
}

/// The store key of the pass a verified upload leaves for the image it uploaded.
pub fn uploaded_key(image: &str) -> String {
    hashed_key("passed", image)
}

/// `<kind>:<the first 128 bits of text's SHA-256, in hex>`.
fn hashed_key(kind: &str, text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}:{hex}")
}

/// The bot check as configured.
pub struct BotCheck {
    secret: String,
    /// The widget's site key, told to the page on `/quota`.
    pub sitekey: Option<String>,
    verify_url: String,
    hosts: Vec<String>,
    client: Client,
}

impl std::fmt::Debug for BotCheck {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotCheck")
            .field("sitekey", &self.sitekey)
            .field("verify_url", &self.verify_url)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl BotCheck {
    /// A check with Turnstile's `secret`, asking `verify_url`, for pages on `origins`.
    pub fn new(
        secret: String,
        sitekey: Option<String>,
        verify_url: String,
        origins: &AllowList,
    ) -> Result<Self, String> {
        Ok(Self {
            secret,
            sitekey,
            verify_url,
            hosts: hosts(origins),
            client: Client::new(VERIFY_TIMEOUT)?,
        })
    }

    /// Asks siteverify about `token`. Whether it was seen before is the caller's (the
    /// store's) to say. (No `remoteip`: it is optional, and a visitor's address need not
    /// leave this server.)
    pub async fn verify(&self, token: &str) -> Verdict {
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
            return Verdict::Failed("no token");
        }
        let body = serde_json::json!({
            "secret": self.secret,
            "response": token,
        });
        let call = Call {
            method: Method::Post,
            url: self.verify_url.clone(),
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        };
        let exchange = async {
            let mut reply = self.client.open(call).await.ok()?;
            if !(200..300).contains(&reply.status()) {
                return None;
            }
            let mut body = Vec::new();
            while let Some(piece) = reply.chunk().await.ok()? {
                if body.len() + piece.len() > MAX_REPLY_BYTES {
                    return None;
                }
                body.extend_from_slice(&piece);
            }
            Some(body)
        };
        let Ok(Some(body)) = platform::timeout(VERIFY_TIMEOUT, exchange).await else {
            return Verdict::Unavailable;
        };
        match serde_json::from_slice(&body) {
            Ok(parsed) => judge(&parsed, &self.hosts),
            Err(_) => Verdict::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Origin;

    fn reply(
        success: bool,
        codes: &[&str],
        host: Option<&str>,
        action: Option<&str>,
    ) -> SiteverifyReply {
        SiteverifyReply {
            success,
            error_codes: codes.iter().map(|c| c.to_string()).collect(),
            hostname: host.map(str::to_owned),
            action: action.map(str::to_owned),
        }
    }

    #[test]
    fn a_reply_passes_only_for_this_sites_hosts_and_action() {
        let hosts = vec!["shop.example".to_owned(), "127.0.0.1".to_owned()];
        assert_eq!(
            judge(
                &reply(true, &[], Some("shop.example"), Some(ACTION)),
                &hosts
            ),
            Verdict::Pass
        );
        assert_eq!(
            judge(
                &reply(true, &[], Some("SHOP.example"), Some(ACTION)),
                &hosts
            ),
            Verdict::Pass
        );
        assert!(matches!(
            judge(
                &reply(true, &[], Some("evil.example"), Some(ACTION)),
                &hosts
            ),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(&reply(true, &[], None, Some(ACTION)), &hosts),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(
                &reply(true, &[], Some("shop.example"), Some("login")),
                &hosts
            ),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(&reply(true, &[], Some("shop.example"), None), &hosts),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(
                &reply(
                    false,
                    &["invalid-input-response"],
                    Some("shop.example"),
                    Some(ACTION)
                ),
                &hosts
            ),
            Verdict::Failed(_)
        ));
        assert_eq!(
            judge(&reply(false, &["timeout-or-duplicate"], None, None), &hosts),
            Verdict::Replayed
        );
        // A reply of another shape reads as a failure, never a pass.
        let parsed: SiteverifyReply = serde_json::from_str(r#"{"ok":true}"#).unwrap();
        assert!(matches!(judge(&parsed, &hosts), Verdict::Failed(_)));
    }

    #[test]
    fn the_hosts_are_the_allowed_origins_without_scheme_or_port() {
        let origins = AllowList::new(
            [
                "https://Shop.example",
                "http://127.0.0.1:8080",
                "http://[::1]:9000",
            ]
            .iter()
            .map(|o| Origin::parse(o).unwrap())
            .collect(),
        );
        assert_eq!(hosts(&origins), ["shop.example", "127.0.0.1", "[::1]"]);
    }

    #[test]
    fn a_spent_token_is_remembered_by_its_hash() {
        let key = spent_key("XXXX.DUMMY.TOKEN.XXXX");
        assert!(key.starts_with("seen:") && key.len() == 5 + 32);
        assert!(!key.contains("DUMMY"));
        assert_ne!(key, spent_key("XXXX.DUMMY.TOKEN.XXXY"));
        let passed = uploaded_key("https://cdn.example/a.jpg");
        assert!(passed.starts_with("passed:") && !passed.contains("cdn"));
        assert_ne!(passed, uploaded_key("https://cdn.example/b.jpg"));
    }
}
