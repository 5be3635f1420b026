//! What passes the proxy in each direction. Nothing of a visitor's request goes upstream
//! as it came: the submit body is rebuilt from the two documented fields, the upload from
//! the checked file, and the headers from a fixed set (so a client's `Authorization`,
//! cookies, hop-by-hop headers and anything else never reach WaveSpeed). Nothing of
//! WaveSpeed's reply comes back as it came either: the envelope is rewritten
//! ([`crate::envelope`]) and of its headers only a checked `Retry-After` is kept.

use base64::Engine as _;
use multishot_rules::check_file;
use serde_json::{json, Map, Value};

/// The longest image URL passed on.
pub const MAX_URL_LEN: usize = 2048;

/// Why a submit is refused before it goes upstream; each is a 4xx with this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Not a JSON object.
    #[error("The request is not a JSON object.")]
    NotJson,
    /// No `image`, or not a string.
    #[error("The request has no image.")]
    NoImage,
    /// `image` is neither a web address nor an inline PNG/JPEG.
    #[error("The image must be an http(s) address or an inline PNG or JPEG image.")]
    BadImageRef,
    /// An inline image whose base64 does not decode.
    #[error("The inline image is not valid base64.")]
    BadBase64,
    /// An inline image that breaks the model's rules; the rules' own messages.
    #[error("{0}")]
    Rules(String),
    /// `enable_base64_output` is there but not `true`/`false`.
    #[error("enable_base64_output must be true or false.")]
    BadFlag,
}

impl SubmitError {
    /// The HTTP status: 422 for an image the model would refuse, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            SubmitError::Rules(_) => 422,
            _ => 400,
        }
    }
}

/// The violated rules of a file as one message, each rule's sentence in order.
pub fn rules_message(bytes: &[u8]) -> Option<String> {
    let report = check_file(bytes);
    if report.passes() {
        return None;
    }
    let sentences: Vec<String> = report
        .violations
        .iter()
        .map(|v| format!("{}: {v}", v.rule().name()))
        .collect();
    Some(sentences.join(" "))
}

/// An `http:`/`https:` address fit to pass on: a host, no spaces or control characters,
/// at most [`MAX_URL_LEN`] long. (The page's twin is `core::web_address`; moving it into
/// the shared crate for both moved the page's first load past its size budget.)
pub fn is_web_address(text: &str) -> bool {
    let rest = ["https://", "http://"].into_iter().find_map(|scheme| {
        text.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| &text[scheme.len()..])
    });
    rest.is_some_and(|rest| {
        text.len() <= MAX_URL_LEN
            && !rest.is_empty()
            && !rest.starts_with('/')
            && !text.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// The bytes of a `data:image/png;base64,…` / `data:image/jpeg;base64,…` image, or
/// `None` when `text` is no such URI.
fn inline_image(text: &str) -> Option<Result<Vec<u8>, SubmitError>> {
    let (head, data) = text.split_once(',')?;
    let head = head.to_ascii_lowercase();
    if !matches!(
        head.as_str(),
        "data:image/png;base64" | "data:image/jpeg;base64" | "data:image/jpg;base64"
    ) {
        return None;
    }
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| SubmitError::BadBase64),
    )
}

/// The submit body WaveSpeed receives, rebuilt from a visitor's: exactly `image` and
/// `enable_base64_output` (anything else — `webhook`, sync mode, unknown keys — is
/// dropped), with an inline image checked by the model's rules first.
pub fn submit_body(body: &[u8]) -> Result<Value, SubmitError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(SubmitError::NotJson);
    };
    let image = fields
        .get("image")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(SubmitError::NoImage)?;
    match inline_image(image) {
        Some(Ok(bytes)) => {
            if let Some(message) = rules_message(&bytes) {
                return Err(SubmitError::Rules(message));
            }
        }
        Some(Err(e)) => return Err(e),
        None if is_web_address(image) => {}
        None => return Err(SubmitError::BadImageRef),
    }
    let base64_output = match fields.get("enable_base64_output") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(SubmitError::BadFlag),
    };
    let mut clean = Map::new();
    clean.insert("image".into(), json!(image));
    clean.insert("enable_base64_output".into(), json!(base64_output));
    Ok(Value::Object(clean))
}

/// A `Retry-After` from upstream worth passing on: whole seconds, at most a day.
pub fn retry_after(value: Option<&str>) -> Option<u64> {
    value?.trim().parse::<u64>().ok().filter(|s| *s <= 86_400)
}

/// A file name for the upstream upload: the visitor's name is never passed on (it may
/// say anything); the name says only what the bytes are.
pub fn upload_name(bytes: &[u8]) -> (&'static str, &'static str) {
    match multishot_rules::sniff::detect(bytes) {
        multishot_rules::sniff::Format::Png => ("image.png", "image/png"),
        _ => ("image.jpg", "image/jpeg"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multishot_rules::sniff::test_headers::png_head;

    fn inline(bytes: &[u8]) -> String {
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    #[test]
    fn only_the_two_documented_fields_go_upstream() {
        let body = json!({
            "image": "https://cdn.example.com/photo.jpg",
            "enable_base64_output": true,
            "webhook": "https://evil.example/hook",
            "enable_sync_mode": true,
            "model": "another/model",
            "seed": 4,
        });
        let clean = submit_body(body.to_string().as_bytes()).expect("accepted");
        assert_eq!(
            clean,
            json!({"image": "https://cdn.example.com/photo.jpg", "enable_base64_output": true})
        );
        let clean = submit_body(br#"{"image":"http://x.example/a.png"}"#).expect("accepted");
        assert_eq!(clean["enable_base64_output"], json!(false));
    }

    #[test]
    fn images_are_web_addresses_or_checked_inline_images() {
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "ftp://x.example/a.png",
            "https://",
            "https:///path",
            "https://x.example/a b.png",
            "data:text/html;base64,PGgxPg==",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "photo.png",
        ] {
            let body = json!({ "image": bad }).to_string();
            assert_eq!(
                submit_body(body.as_bytes()),
                Err(SubmitError::BadImageRef),
                "{bad}"
            );
        }
        let long = format!("https://x.example/{}", "a".repeat(MAX_URL_LEN));
        let body = json!({ "image": long }).to_string();
        assert_eq!(submit_body(body.as_bytes()), Err(SubmitError::BadImageRef));

        let ok = json!({ "image": inline(&png_head(800, 600)) }).to_string();
        assert!(submit_body(ok.as_bytes()).is_ok());
        let small = json!({ "image": inline(&png_head(200, 200)) }).to_string();
        let refused = submit_body(small.as_bytes());
        assert!(
            matches!(&refused, Err(SubmitError::Rules(m)) if m.starts_with("Minimum size: The image is 200 × 200 px")),
            "{refused:?}"
        );
        assert_eq!(refused.map_err(|e| e.status()), Err(422));
        let garbled = json!({ "image": "data:image/png;base64,@@@" }).to_string();
        assert_eq!(submit_body(garbled.as_bytes()), Err(SubmitError::BadBase64));
    }

    #[test]
    fn malformed_requests_are_refused() {
        assert_eq!(submit_body(b"not json"), Err(SubmitError::NotJson));
        assert_eq!(submit_body(b"[1]"), Err(SubmitError::NotJson));
        assert_eq!(submit_body(b"{}"), Err(SubmitError::NoImage));
        assert_eq!(submit_body(br#"{"image":7}"#), Err(SubmitError::NoImage));
        assert_eq!(
            submit_body(br#"{"image":"https://x.example/a","enable_base64_output":"yes"}"#),
            Err(SubmitError::BadFlag)
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_within_a_day() {
        assert_eq!(retry_after(Some("30")), Some(30));
        assert_eq!(retry_after(Some(" 5 ")), Some(5));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(retry_after(Some("999999")), None);
        assert_eq!(retry_after(Some("-1")), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn upload_names_say_only_what_the_bytes_are() {
        assert_eq!(upload_name(&png_head(300, 300)), ("image.png", "image/png"));
        assert_eq!(
            upload_name(&[0xFF, 0xD8, 0xFF, 0xE0]),
            ("image.jpg", "image/jpeg")
        );
    }
}
