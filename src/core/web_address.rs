//! The one test of "is this a web address": an `http://` or `https://` scheme, in any
//! case. Typed image URLs, API bases, upload replies, outputs and copied links all ask it.

/// What follows the scheme when `url` starts with `http://` or `https://` (any case),
/// else `None`.
///
/// ```
/// use multishot_studio::core::web_address::after_web_scheme;
/// assert_eq!(after_web_scheme("HTTPS://cdn.example/a.mp4"), Some("cdn.example/a.mp4"));
/// assert_eq!(after_web_scheme("javascript:alert(1)"), None);
/// ```
pub fn after_web_scheme(url: &str) -> Option<&str> {
    ["https://", "http://"].into_iter().find_map(|scheme| {
        url.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| &url[scheme.len()..])
    })
}

#[cfg(test)]
mod tests {
    use super::after_web_scheme;

    #[test]
    fn only_http_and_https_in_any_case_are_web_addresses() {
        assert_eq!(after_web_scheme("http://a"), Some("a"));
        assert_eq!(after_web_scheme("hTTp://a/b"), Some("a/b"));
        assert_eq!(after_web_scheme("https://"), Some(""));
        for not_web in [
            "",
            "http",
            "http:/a",
            "https:a",
            "ftp://a",
            "file:///etc",
            "data:text/html,x",
            "javascript:x",
            "blob:http://a/1",
            " http://a",
            "httpé://a",
            "é",
        ] {
            assert_eq!(after_web_scheme(not_web), None, "{not_web}");
        }
    }
}
