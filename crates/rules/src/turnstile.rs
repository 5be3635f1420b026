//! What the page and the proxy agree on about the bot check (Cloudflare Turnstile).

/// The action the widget is rendered with (by the page's `multishot-turnstile.js`) and
/// the proxy requires siteverify to give back.
pub const ACTION: &str = "multishot_generate";

/// How long the pass of a verified upload waits at the proxy for the submit of the image
/// it uploaded (the submit then needs no token of its own).
pub const PASS_LIFETIME_MS: u64 = 300_000;

/// A Turnstile site key as Cloudflare issues them (`0x…`, `1x…`): letters, digits, `_`
/// and `-`, at most 64 characters (it goes into an attribute and a script's call).
pub fn is_sitekey(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_key_is_what_cloudflare_issues() {
        for good in ["1x00000000000000000000AA", "0x4AAAAAAAB-_c", "a"] {
            assert!(is_sitekey(good), "{good}");
        }
        for bad in ["", "0x4A\"><script>", "a b", "é", &"x".repeat(65)] {
            assert!(!is_sitekey(bad), "{bad}");
        }
    }
}
