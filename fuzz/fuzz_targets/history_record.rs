//! A stored history entry on any text: never panics; a record it reads has a safe base
//! and thumbnail.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multishot_studio::core::history::{decode, is_thumbnail};

fuzz_target!(|raw: &str| {
    if let Ok(record) = decode("multishot.job.fuzz", raw) {
        assert!(record.base.to_ascii_lowercase().starts_with("http"));
        assert!(record.thumbnail.as_deref().is_none_or(is_thumbnail));
    }
});
