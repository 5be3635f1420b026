//! The bot check of a site owner's proxy (Cloudflare Turnstile), as the page takes part
//! in it: which site key to show the widget with, and where its token goes — one token a
//! run, sent with the upload (whose pass then covers its submit, at the proxy) or with
//! the submit of an image sent by address or inline. The widget itself is drawn by a
//! script loaded only when there is a site key (`multishot-turnstile.js`).

pub use multishot_rules::turnstile::{is_sitekey, ACTION};

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
    fn the_widget_shows_only_through_a_proxy_with_a_site_key() {
        assert_eq!(sitekey(true, Some("0x4AAA")).as_deref(), Some("0x4AAA"));
        assert_eq!(sitekey(true, None), None);
        assert_eq!(sitekey(false, Some("0x4AAA")), None, "a key in the page");
        for bad in ["", "0x4A\"><script>", "a b", &"x".repeat(65)] {
            assert_eq!(sitekey(true, Some(bad)), None, "{bad}");
        }
    }
}
