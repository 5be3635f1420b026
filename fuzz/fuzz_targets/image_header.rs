//! The image-header parser on any bytes: never panics; a size it reports is never 0.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multishot_studio::core::sniff::sniff;

fuzz_target!(|data: &[u8]| {
    let found = sniff(data);
    if let Ok(size) = found.header {
        assert!(size.width > 0 && size.height > 0, "{size:?}");
    }
});
