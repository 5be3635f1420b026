//! The image URL a user types: trimmed, and accepted only when WaveSpeed could fetch it
//! (an absolute `http:` or `https:` address with a host).

use super::web_address::after_web_scheme;

/// Why a typed image URL is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageUrlError {
    /// Nothing was typed.
    #[error("Enter the address of an image, starting with https://.")]
    Empty,
    /// Not an http(s) address (e.g. `file:`, `data:`, `javascript:` or a bare name).
    #[error("“{0}” is not a web address; it must start with https:// (or http://).")]
    NotWeb(String),
    /// `https://` with no host after it.
    #[error("The address has no host name after “//”.")]
    NoHost,
    /// Spaces or control characters inside the address.
    #[error("The address contains spaces or control characters.")]
    BadCharacters,
}

/// Checks and normalises a typed image URL: surrounding whitespace is dropped, the
/// scheme must be `http` or `https` (any case), a host must follow, and no whitespace or
/// control character may remain inside.
pub fn parse_image_url(input: &str) -> Result<String, ImageUrlError> {
    let url = input.trim();
    if url.is_empty() {
        return Err(ImageUrlError::Empty);
    }
    let rest = after_web_scheme(url).ok_or_else(|| ImageUrlError::NotWeb(shorten(url)))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ImageUrlError::BadCharacters);
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(ImageUrlError::NoHost);
    }
    Ok(url.to_owned())
}

/// At most 60 characters of a refused value, to quote it in a message.
fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        s.chars().take(MAX).chain(['…']).collect()
    }
}

/// What the image address field does when it is left (or Enter is pressed, `force`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entered {
    /// Nothing: the field is empty (any earlier complaint goes), or it holds the address
    /// loaded last and nothing forces a new load.
    Nothing,
    /// Load this address.
    Load(String),
    /// Say why it is not an image address.
    Refuse(String),
}

/// What the field holding `text` does, the address loaded last being `last_loaded`.
pub fn entered(text: &str, last_loaded: &str, force: bool) -> Entered {
    if text.trim().is_empty() {
        return Entered::Nothing;
    }
    match parse_image_url(text) {
        Ok(url) if force || url != last_loaded => Entered::Load(url),
        Ok(_) => Entered::Nothing,
        Err(error) => Entered::Refuse(error.to_string()),
    }
}

/// The address of an image dragged in from another page (`text/uri-list`: its first
/// line that is not a comment), if it is an image address.
pub fn from_uri_list(list: &str) -> Option<String> {
    let first = list
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    parse_image_url(first).ok()
}

/// The address a paste of `text` loads: none when it was pasted into a text field (it
/// belongs there), or is not an image address.
pub fn pasted_address(text: &str, into_field: bool) -> Option<String> {
    if into_field {
        return None;
    }
    parse_image_url(text).ok()
}

/// The addresses a paste of several lines loads (a batch): every non-empty line an image
/// address, at least two of them; `None` otherwise (pasted into a text field, one line,
/// or a line that is not an image address).
pub fn pasted_addresses(text: &str, into_field: bool) -> Option<Vec<String>> {
    if into_field {
        return None;
    }
    let urls: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| parse_image_url(l).ok())
        .collect::<Option<_>>()?;
    (urls.len() >= 2).then_some(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_addresses_pasted_one_a_line_are_a_batch() {
        let two = "https://a.example/1.jpg\n\n  https://b.example/2.png \r\n";
        assert_eq!(
            pasted_addresses(two, false),
            Some(vec![
                "https://a.example/1.jpg".into(),
                "https://b.example/2.png".into()
            ])
        );
        assert_eq!(
            pasted_addresses(two, true),
            None,
            "a text field's own paste"
        );
        assert_eq!(
            pasted_addresses("https://a.example/1.jpg", false),
            None,
            "one is not a batch"
        );
        assert_eq!(
            pasted_addresses("https://a.example/1.jpg\nnot an address", false),
            None
        );
    }

    #[test]
    fn the_field_loads_a_new_address_once_and_says_what_is_wrong() {
        let url = "https://example.com/cat.jpg";
        assert_eq!(entered("  ", url, true), Entered::Nothing);
        assert_eq!(entered(url, "", false), Entered::Load(url.into()));
        assert_eq!(
            entered(url, url, false),
            Entered::Nothing,
            "not loaded again"
        );
        assert_eq!(
            entered(url, url, true),
            Entered::Load(url.into()),
            "Enter loads again"
        );
        assert!(matches!(
            entered("javascript:alert(1)", "", false),
            Entered::Refuse(_)
        ));
        assert_eq!(
            from_uri_list("# a comment\r\n\r\nhttps://example.com/cat.jpg\r\nhttps://x.test/b.png"),
            Some(url.into())
        );
        assert_eq!(from_uri_list("# only a comment"), None);
        assert_eq!(pasted_address(url, false), Some(url.into()));
        assert_eq!(
            pasted_address(url, true),
            None,
            "a paste into a field stays there"
        );
        assert_eq!(pasted_address("hello", false), None);
    }
    use proptest::prelude::*;

    #[test]
    fn web_addresses_are_accepted_and_trimmed() {
        assert_eq!(
            parse_image_url("  https://example.com/a.png \n"),
            Ok("https://example.com/a.png".into())
        );
        assert_eq!(
            parse_image_url("HTTP://127.0.0.1:9/x"),
            Ok("HTTP://127.0.0.1:9/x".into())
        );
        assert_eq!(
            parse_image_url("https://u:p@host/x?q#f"),
            Ok("https://u:p@host/x?q#f".into())
        );
    }

    #[test]
    fn other_schemes_and_broken_addresses_are_refused() {
        assert_eq!(parse_image_url(""), Err(ImageUrlError::Empty));
        assert_eq!(parse_image_url("   "), Err(ImageUrlError::Empty));
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:image/png;base64,AA",
            "example.com/a.png",
            "ftp://x/y",
        ] {
            assert!(
                matches!(parse_image_url(bad), Err(ImageUrlError::NotWeb(_))),
                "{bad}"
            );
        }
        assert_eq!(parse_image_url("https:///path"), Err(ImageUrlError::NoHost));
        assert_eq!(
            parse_image_url("https://:80/path"),
            Err(ImageUrlError::NoHost)
        );
        assert_eq!(
            parse_image_url("https://exa mple.com/"),
            Err(ImageUrlError::BadCharacters)
        );
    }

    #[test]
    fn a_long_refused_value_is_shortened_in_the_message() {
        let long = "x".repeat(500);
        let message = parse_image_url(&long).unwrap_err().to_string();
        assert!(message.chars().count() < 140, "{message}");
    }

    proptest! {
        #[test]
        fn never_panics_and_accepts_only_web_urls(s in "\\PC{0,80}") {
            if let Ok(url) = parse_image_url(&s) {
                let lower = url.to_ascii_lowercase();
                prop_assert!(lower.starts_with("https://") || lower.starts_with("http://"));
                prop_assert!(!url.chars().any(char::is_whitespace));
            }
        }
    }
}
