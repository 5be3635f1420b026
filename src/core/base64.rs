//! Base64, as WaveSpeed's inline outputs and the page's `data:` URIs use it: a few lines
//! that do exactly what the page needs (the `base64` crate's general engine weighed
//! about 1 KB of the first load for it). The tests check it against that crate.

/// The standard alphabet (RFC 4648 §4).
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The URL- and file-name-safe alphabet (RFC 4648 §5).
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Each byte's value in `alphabet`, or 64 for a byte outside it.
const fn values(alphabet: &[u8; 64]) -> [u8; 256] {
    let mut table = [64u8; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
}

const STANDARD_VALUES: [u8; 256] = values(STANDARD);
const URL_SAFE_VALUES: [u8; 256] = values(URL_SAFE);

/// `bytes` in the standard alphabet, padded with `=`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(STANDARD[(n >> (18 - 6 * i) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

/// Unpadded base64 of one alphabet: `None` if a byte is outside it, the length leaves a
/// lone symbol, or the last symbol's unused bits are not zero (a strict decoder, as the
/// base64 crate's).
fn decode_with(text: &[u8], values: &[u8; 256]) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = values[usize::from(c)];
            if v == 64 {
                return None;
            }
            n |= u32::from(v) << (18 - 6 * i);
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let kept = chunk.len() - 1;
        if decoded[kept..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&decoded[..kept]);
    }
    Some(out)
}

/// Decodes base64 in the standard or the URL-safe alphabet (not both mixed), with or
/// without `=` padding; whitespace is not skipped (remove it first).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=').as_bytes();
    decode_with(text, &STANDARD_VALUES).or_else(|| decode_with(text, &URL_SAFE_VALUES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    /// What the page did with the base64 crate before: standard, then unpadded, then
    /// URL-safe unpadded, after the trailing `=` were trimmed.
    fn reference(text: &str) -> Option<Vec<u8>> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        let text = text.trim_end_matches('=');
        STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .ok()
    }

    #[test]
    fn known_values() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(decode("Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(decode("Zm9vYg").as_deref(), Some(&b"foob"[..]));
        assert_eq!(decode("_-8").as_deref(), Some(&[0xff, 0xef][..]));
        assert_eq!(decode("Zm9vY"), None, "a lone symbol");
        assert_eq!(decode("Zh=="), None, "unused bits set");
        assert_eq!(decode("+-AA"), None, "two alphabets mixed");
        assert_eq!(decode("Zm 9v"), None, "whitespace");
    }

    proptest! {
        #[test]
        fn encodes_as_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(encode(&bytes), base64::engine::general_purpose::STANDARD.encode(&bytes));
            prop_assert_eq!(decode(&encode(&bytes)), Some(bytes));
        }

        #[test]
        fn decodes_as_the_base64_crate(text in "[A-Za-z0-9+/_=-]{0,40}") {
            prop_assert_eq!(decode(&text), reference(&text));
        }

        #[test]
        fn decodes_any_text_as_the_base64_crate(text in ".{0,24}") {
            prop_assert_eq!(decode(&text), reference(&text));
        }
    }
}
