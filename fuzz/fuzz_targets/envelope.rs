//! The reply envelope (submit, poll, upload) on any status and body: never panics; a
//! task id it accepts can only be a path segment.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multishot_studio::core::api::{parse_prediction, parse_upload};

fuzz_target!(|input: (u16, Option<&str>, &[u8])| {
    let (status, retry_after, body) = input;
    if let Ok(prediction) = parse_prediction(status, retry_after, body) {
        let id = prediction.id.as_str();
        assert!(!id.is_empty() && !id.contains(['/', '?', '#']) && id != "..", "{id}");
    }
    let _ = parse_upload(status, retry_after, body);
});
