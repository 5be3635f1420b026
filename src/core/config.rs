//! Runtime settings from `config.json` (beside `index.html`), so a site owner changes them
//! without a rebuild. Every problem names its key; a bad value falls back to its default
//! and the rest of the file still applies.

use serde_json::{Map, Value};

/// The WaveSpeed API base used when none is configured.
pub const DEFAULT_API_BASE: &str = "https://api.wavespeed.ai";
/// The poll interval used when none is configured.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 1500;
/// The shortest poll interval accepted (be kind to the API).
pub const MIN_POLL_INTERVAL_MS: u64 = 500;
/// The longest poll interval accepted.
pub const MAX_POLL_INTERVAL_MS: u64 = 60_000;

/// How long to wait for a result before saying "still running" (seconds).
pub const DEFAULT_MAX_WAIT_S: u64 = 20 * 60;
/// The shortest wait cap accepted.
pub const MIN_MAX_WAIT_S: u64 = 5;
/// The longest wait cap accepted (a day).
pub const MAX_MAX_WAIT_S: u64 = 24 * 60 * 60;

/// How a local file reaches the `image` field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UploadMode {
    /// `POST /api/v3/media/upload/binary`, then send its `download_url`.
    #[default]
    Binary,
    /// Send the file as a `data:` URI in `image`.
    Inline,
}

/// The validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The API base for direct mode, without a trailing slash.
    pub api_base: String,
    /// A proxy base; when set, requests go there with no `Authorization` header.
    pub proxy_url: Option<String>,
    /// Delay between polls.
    pub poll_interval_ms: u64,
    /// How long to wait for a result before showing "still running at WaveSpeed" with a
    /// Check again button (seconds).
    pub max_wait_s: u64,
    /// How local files are sent.
    pub upload: UploadMode,
    /// The page was built as the local sandbox (`make serve`): a note says so.
    pub sandbox: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            proxy_url: None,
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            max_wait_s: DEFAULT_MAX_WAIT_S,
            upload: UploadMode::Binary,
            sandbox: false,
        }
    }
}

/// One problem in the configuration, naming its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("config.json: “{key}” {message}")]
pub struct ConfigProblem {
    /// The key (or `config.json` for the file as a whole).
    pub key: String,
    /// What is wrong and what is used instead.
    pub message: String,
}

fn problem(key: &str, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Checks a base URL: absolute `http:`/`https:`, with a host, no query or fragment, no
/// credentials; the trailing slash is dropped.
pub fn parse_base_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let lower = url.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err("must be an http:// or https:// address".into());
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("has no host".into());
    }
    if host.contains('@') {
        return Err("must not carry a user name or password".into());
    }
    if url.contains(['?', '#']) {
        return Err("must not have a query or fragment".into());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Parses `config.json`. A missing file means defaults (the caller passes `None`).
/// Returns the settings and every problem found; problems never stop the rest.
pub fn parse_config(text: Option<&str>) -> (Settings, Vec<ConfigProblem>) {
    let mut settings = Settings::default();
    let mut problems = Vec::new();
    let Some(text) = text else {
        return (settings, problems);
    };
    let object: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            problems.push(problem(
                "config.json",
                "is not a JSON object; defaults are used",
            ));
            return (settings, problems);
        }
        Err(e) => {
            problems.push(problem(
                "config.json",
                format!("is not valid JSON ({e}); defaults are used"),
            ));
            return (settings, problems);
        }
    };
    for (key, value) in &object {
        match key.as_str() {
            "api_base" => match value.as_str().map(parse_base_url) {
                Some(Ok(url)) => settings.api_base = url,
                Some(Err(why)) => problems.push(problem(key, format!("{why}; {DEFAULT_API_BASE} is used"))),
                None => problems.push(problem(key, format!("must be a string; {DEFAULT_API_BASE} is used"))),
            },
            "proxy_url" => match value {
                Value::Null => {}
                Value::String(s) if s.trim().is_empty() => {}
                Value::String(s) => match parse_base_url(s) {
                    Ok(url) => settings.proxy_url = Some(url),
                    Err(why) => problems.push(problem(key, format!("{why}; no proxy is used"))),
                },
                _ => problems.push(problem(key, "must be a string; no proxy is used")),
            },
            "poll_interval_ms" => match value.as_u64() {
                Some(ms) if (MIN_POLL_INTERVAL_MS..=MAX_POLL_INTERVAL_MS).contains(&ms) => {
                    settings.poll_interval_ms = ms
                }
                _ => problems.push(problem(
                    key,
                    format!(
                        "must be a whole number from {MIN_POLL_INTERVAL_MS} to {MAX_POLL_INTERVAL_MS}; \
                         {DEFAULT_POLL_INTERVAL_MS} is used"
                    ),
                )),
            },
            "max_wait_s" => match value.as_u64() {
                Some(s) if (MIN_MAX_WAIT_S..=MAX_MAX_WAIT_S).contains(&s) => settings.max_wait_s = s,
                _ => problems.push(problem(
                    key,
                    format!(
                        "must be a whole number of seconds from {MIN_MAX_WAIT_S} to {MAX_MAX_WAIT_S}; \
                         {DEFAULT_MAX_WAIT_S} is used"
                    ),
                )),
            },
            "upload" => match value.as_str() {
                Some("binary") => settings.upload = UploadMode::Binary,
                Some("inline") => settings.upload = UploadMode::Inline,
                _ => problems.push(problem(key, "must be \"binary\" or \"inline\"; \"binary\" is used")),
            },
            "sandbox" => match value.as_bool() {
                Some(on) => settings.sandbox = on,
                None => problems.push(problem(key, "must be true or false; false is used")),
            },
            _ => problems.push(problem(key, "is not a known setting and is ignored")),
        }
    }
    (settings, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn no_file_means_defaults() {
        assert_eq!(parse_config(None), (Settings::default(), vec![]));
        assert_eq!(Settings::default().api_base, "https://api.wavespeed.ai");
        assert_eq!(Settings::default().poll_interval_ms, 1500);
    }

    #[test]
    fn every_key_is_read() {
        let (s, problems) = parse_config(Some(
            r#"{"api_base":"http://127.0.0.1:9000/","proxy_url":"https://proxy.example/ws/","poll_interval_ms":800,"max_wait_s":60,"upload":"inline","sandbox":true}"#,
        ));
        assert_eq!(problems, []);
        assert_eq!(
            s,
            Settings {
                api_base: "http://127.0.0.1:9000".into(),
                proxy_url: Some("https://proxy.example/ws".into()),
                poll_interval_ms: 800,
                max_wait_s: 60,
                upload: UploadMode::Inline,
                sandbox: true,
            }
        );
    }

    #[test]
    fn bad_values_are_named_and_fall_back() {
        let (s, problems) = parse_config(Some(
            r#"{"api_base":"ftp://x","proxy_url":"javascript:alert(1)","poll_interval_ms":-5,"upload":3,"colour":"red"}"#,
        ));
        assert_eq!(s, Settings::default());
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "api_base",
                "colour",
                "poll_interval_ms",
                "proxy_url",
                "upload"
            ]
        );
        assert!(problems[0]
            .to_string()
            .starts_with("config.json: “api_base” must be an http"));
    }

    #[test]
    fn poll_interval_bounds_are_exact() {
        for (ms, ok) in [(499, false), (500, true), (60_000, true), (60_001, false)] {
            let (s, problems) = parse_config(Some(&format!(r#"{{"poll_interval_ms":{ms}}}"#)));
            assert_eq!(problems.is_empty(), ok, "{ms}");
            assert_eq!(s.poll_interval_ms, if ok { ms } else { 1500 });
        }
        assert_eq!(
            parse_config(Some(r#"{"poll_interval_ms":1e12}"#)).1.len(),
            1
        );
        assert_eq!(
            parse_config(Some(r#"{"poll_interval_ms":"1000"}"#)).1.len(),
            1
        );
    }

    #[test]
    fn wait_cap_bounds_are_exact() {
        for (s, ok) in [(4, false), (5, true), (86_400, true), (86_401, false)] {
            let (settings, problems) = parse_config(Some(&format!(r#"{{"max_wait_s":{s}}}"#)));
            assert_eq!(problems.is_empty(), ok, "{s}");
            assert_eq!(settings.max_wait_s, if ok { s } else { DEFAULT_MAX_WAIT_S });
        }
        let (_, problems) = parse_config(Some(r#"{"max_wait_s":"60"}"#));
        assert_eq!(problems[0].key, "max_wait_s");
    }

    #[test]
    fn an_invalid_file_is_reported_and_defaults_used() {
        for text in ["{", "[]", "null", "\"x\""] {
            let (s, problems) = parse_config(Some(text));
            assert_eq!(s, Settings::default());
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].key, "config.json");
        }
    }

    #[test]
    fn an_empty_proxy_means_none() {
        assert_eq!(
            parse_config(Some(r#"{"proxy_url":""}"#)),
            (Settings::default(), vec![])
        );
        assert_eq!(
            parse_config(Some(r#"{"proxy_url":null}"#)),
            (Settings::default(), vec![])
        );
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("https://api.wavespeed.ai/"),
            Ok("https://api.wavespeed.ai".into())
        );
        for bad in [
            "",
            "api.wavespeed.ai",
            "https://",
            "https://u:p@x.test",
            "https://x.test/?a",
            "data:,x",
            "https://x .test",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_text_gives_settings_without_panicking(text in "\\PC{0,200}") {
            let (s, _) = parse_config(Some(&text));
            prop_assert!(s.api_base.starts_with("http"));
            prop_assert!((MIN_POLL_INTERVAL_MS..=MAX_POLL_INTERVAL_MS).contains(&s.poll_interval_ms));
        }
    }
}
