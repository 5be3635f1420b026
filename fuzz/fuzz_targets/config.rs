//! `config.json` and data attributes on any text: never panics; whatever is accepted is
//! within its bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multishot_studio::core::config::{apply_attributes, parse_config, parse_page_params};

fuzz_target!(|input: (&str, &str, &str)| {
    let (file, name, value) = input;
    let (mut settings, _) = parse_config(Some(file));
    let _ = apply_attributes(&mut settings, [(name, value)]);
    assert!((500..=60_000).contains(&settings.poll_interval_ms));
    assert!((5..=86_400).contains(&settings.max_wait_s));
    assert!(settings.api_base.starts_with("http"));
    if let Some(proxy) = &settings.proxy_url {
        assert!(proxy.to_ascii_lowercase().starts_with("http"), "{proxy}");
    }
    let _ = parse_page_params(file);
});
