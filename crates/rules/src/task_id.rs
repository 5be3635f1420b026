//! What a task id is, for the page and the proxy alike.
//!
//! A **task id** is what WaveSpeed answers a submit with (32 lowercase hex characters
//! today, e.g. `45a96667279e4a2f83cfe131566d4923`). It is taken in any shape that is safe
//! as one segment of a URL path — 1 to [`MAX_ID_LEN`] ASCII letters, digits, `-`, `_` or
//! `.`, and not `.` or `..` — so that the day WaveSpeed's ids change shape, the page and
//! the proxy still agree on every one.
//!
//! Through the site owner's proxy the page is given a **token** instead: `v1.<task
//! id>.<expiry>.<mac>` (see `multishot-proxy`'s `token` module, which signs and checks
//! it). Its shape is written here, once, so that every id the proxy may sign gives a
//! token the page accepts: [`is_task_ref`] is what a page takes as a task (an id, or a
//! token around one).

/// The longest task id accepted (WaveSpeed's are 32 characters).
pub const MAX_ID_LEN: usize = 128;
/// A token's version, its first segment.
pub const TOKEN_VERSION: &str = "v1";
/// The most digits a token's expiry has (Unix seconds; 10 until the year 2286).
pub const MAX_EXPIRY_DIGITS: usize = 12;
/// The length of a token's MAC: 128 bits in URL-safe base64 without padding.
pub const TOKEN_MAC_LEN: usize = 22;

fn is_safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// A task id: 1 to [`MAX_ID_LEN`] ASCII letters, digits, `-`, `_`, `.`, not `.` or
/// `..` (one safe path segment).
pub fn is_task_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text != "."
        && text != ".."
        && text.bytes().all(is_safe_byte)
}

/// The parts of a token, as they are written (nothing is verified here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenParts<'a> {
    /// The task id it carries.
    pub id: &'a str,
    /// Its expiry, decimal Unix seconds.
    pub expiry: &'a str,
    /// Its MAC, URL-safe base64.
    pub mac: &'a str,
}

/// Splits `v1.<task id>.<expiry>.<mac>` (the id may itself hold dots: the expiry and the
/// MAC are taken from the end). `None` when it is not of that shape.
pub fn token_parts(text: &str) -> Option<TokenParts<'_>> {
    let rest = text.strip_prefix(TOKEN_VERSION)?.strip_prefix('.')?;
    let (rest, mac) = rest.rsplit_once('.')?;
    let (id, expiry) = rest.rsplit_once('.')?;
    let shaped = is_task_id(id)
        && !expiry.is_empty()
        && expiry.len() <= MAX_EXPIRY_DIGITS
        && expiry.bytes().all(|b| b.is_ascii_digit())
        && mac.len() == TOKEN_MAC_LEN
        && mac
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    shaped.then_some(TokenParts { id, expiry, mac })
}

/// Writes a token of the parts' shape (the proxy computes the MAC).
pub fn token(id: &str, expiry: u64, mac: &str) -> String {
    format!("{TOKEN_VERSION}.{id}.{expiry}.{mac}")
}

/// What a page takes as a task: a task id, or a proxy's token around one.
pub fn is_task_ref(text: &str) -> bool {
    is_task_id(text) || token_parts(text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn ids_are_safe_path_segments_of_any_likely_shape() {
        for id in [
            "45a96667279e4a2f83cfe131566d4923",
            "45A96667-279E_4a2f.83cf",
            "task-1",
            "a",
            "...",
            &"x".repeat(MAX_ID_LEN),
        ] {
            assert!(is_task_id(id), "{id}");
        }
        for not in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "a%2F",
            "é",
            "a?b",
            &"x".repeat(MAX_ID_LEN + 1),
        ] {
            assert!(!is_task_id(not), "{not}");
        }
    }

    #[test]
    fn a_token_splits_from_its_ends() {
        let token = token("ab.cd", 1_800_000_000, MAC);
        assert_eq!(
            token_parts(&token),
            Some(TokenParts {
                id: "ab.cd",
                expiry: "1800000000",
                mac: MAC
            })
        );
        for not in [
            "v1..1.AAAAAAAAAAAAAAAAAAAAAA",
            "v2.ab.1.AAAAAAAAAAAAAAAAAAAAAA",
            "v1.ab.x1.AAAAAAAAAAAAAAAAAAAAAA",
            "v1.ab..AAAAAAAAAAAAAAAAAAAAAA",
            "v1.ab.1.AAAA",
            "v1.ab.1.AAAAAAAAAAAAAAAAAAAAA=",
            "v1.ab.1234567890123.AAAAAAAAAAAAAAAAAAAAAA",
            "v1.a/b.1.AAAAAAAAAAAAAAAAAAAAAA",
            "v1.ab",
        ] {
            assert_eq!(token_parts(not), None, "{not}");
        }
    }

    proptest! {
        /// The proxy signs any id the page takes from WaveSpeed, and the page takes the
        /// token it gets back.
        #[test]
        fn every_id_gives_a_token_the_page_takes(
            id in "[A-Za-z0-9._-]{1,128}",
            expiry in 0u64..999_999_999_999,
        ) {
            prop_assume!(id != "." && id != "..");
            prop_assert!(is_task_id(&id));
            let token = token(&id, expiry, MAC);
            prop_assert!(is_task_ref(&token));
            prop_assert_eq!(token_parts(&token).map(|p| p.id), Some(id.as_str()));
        }

        #[test]
        fn nothing_else_is_taken(text in "\\PC{0,140}") {
            let safe = !text.is_empty()
                && text != "."
                && text != ".."
                && text.bytes().all(is_safe_byte);
            prop_assert_eq!(is_task_id(&text), safe && text.len() <= MAX_ID_LEN);
            if is_task_ref(&text) {
                prop_assert!(text.bytes().all(is_safe_byte), "{}", text);
            }
        }
    }
}
