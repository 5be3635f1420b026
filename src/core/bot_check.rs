//! The bot check of a site owner's proxy (Cloudflare Turnstile), as the page takes part
//! in it: which site key to show the widget with, and where its token goes — one token a
//! run, sent with the upload (whose pass then covers its submit, at the proxy) or with
//! the submit of an image sent by address or inline. The widget itself is drawn by a
//! script loaded only when there is a site key (`multishot-turnstile.js`).

pub use multishot_rules::turnstile::{is_sitekey, ACTION, PASS_LIFETIME_MS};

/// How much sooner than the proxy the page counts an upload's pass as gone (the clocks,
/// and the time the submit is on its way).
pub const PASS_MARGIN_MS: u64 = 60_000;

/// Whether the submit of an image this page uploaded at `uploaded_ms` (`None`: not
/// uploaded by this page — an address, or inline) is still covered by that upload's pass
/// at `now_ms`; if not, it carries a token of its own. (A batch's photo may wait for a
/// place long after its upload.)
pub fn pass_covers(uploaded_ms: Option<u64>, now_ms: u64) -> bool {
    uploaded_ms.is_some_and(|at| {
        now_ms.saturating_sub(at) < PASS_LIFETIME_MS.saturating_sub(PASS_MARGIN_MS)
    })
}

/// The request header that carries the widget's token.
pub const TOKEN_HEADER: &str = "X-Turnstile-Token";

/// The site key the widget is shown with: the page's setting (`turnstile_sitekey`, which
/// `make dist` also reads for the page's Content-Security-Policy), only through a proxy
/// (a key in the page needs no check).
pub fn sitekey(through_proxy: bool, configured: Option<&str>) -> Option<String> {
    configured
        .filter(|key| through_proxy && is_sitekey(key))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widgets_script_names_the_action_the_proxy_requires() {
        let script = include_str!("../../public/multishot-turnstile.js");
        assert!(script.contains(&format!("const ACTION = '{ACTION}';")));
    }

    #[test]
    fn an_uploads_pass_covers_its_submit_for_four_minutes_of_the_proxys_five() {
        assert!(pass_covers(Some(1_000), 1_000));
        assert!(pass_covers(Some(1_000), 1_000 + 239_999));
        assert!(
            !pass_covers(Some(1_000), 1_000 + 240_000),
            "a token of its own"
        );
        assert!(!pass_covers(None, 1_000), "not uploaded here");
        assert!(pass_covers(Some(5_000), 1_000), "a clock that went back");
    }

    #[test]
    fn the_widget_shows_only_through_a_proxy_with_a_site_key() {
        assert_eq!(sitekey(true, Some("0x4AAA")).as_deref(), Some("0x4AAA"));
        assert_eq!(sitekey(true, None), None);
        assert_eq!(sitekey(false, Some("0x4AAA")), None, "a key in the page");
        for bad in ["", "0x4A\"><script>", "a b", &"x".repeat(65)] {
            assert_eq!(sitekey(true, Some(bad)), None, "{bad}");
        }
    }
}
