//! Runtime settings from `config.json` (beside `index.html`), so a site owner changes them
//! without a rebuild. Every problem names its key; a bad value falls back to its default
//! and the rest of the file still applies.

use super::json::{self, Json};

use super::web_address::after_web_scheme;

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
    /// The API base for direct mode.
    pub api_base: BaseUrl,
    /// A proxy base; when set, requests go there with no `Authorization` header.
    pub proxy_url: Option<BaseUrl>,
    /// Delay between polls.
    pub poll_interval_ms: u64,
    /// How long to wait for a result before showing "still running at WaveSpeed" with a
    /// Check again button (seconds).
    pub max_wait_s: u64,
    /// How local files are sent.
    pub upload: UploadMode,
    /// The page was built as the local sandbox (`make serve`): a note says so.
    pub sandbox: bool,
    /// The local fake WaveSpeed's pretend key (`make serve`), shown on the page in the
    /// sandbox only, to try direct mode against the fake (`api_base`). Only a key
    /// starting with [`SANDBOX_KEY_PREFIX`] is taken: a real key never belongs in
    /// `config.json`.
    pub sandbox_key: Option<String>,
    /// Talk only to the proxy: the key and proxy fields are not shown at all (a
    /// marketing embed, where the site owner's proxy holds the key).
    pub lock_proxy: bool,
    /// Light, dark, or following the system.
    pub theme: Theme,
    /// Origins of parent pages that may receive the app's `message` events when it is
    /// embedded in an iframe (none: no message is posted).
    pub embed_parent_origins: Vec<String>,
    /// Web addresses of shots shown as an example result in the embed before a visitor
    /// has chosen an image (at most [`MAX_EXAMPLE_OUTPUTS`], each a checked output).
    pub example_outputs: Vec<String>,
    /// The site owner's mark (`video_mark`): a short line of text (the shop's name or
    /// address) drawn small in a corner of every frame of **Download video**'s film.
    /// Text only: drawn as one line of at most [`multishot_film::request::MARK_CHARS`]
    /// (`multishot_film::request::clean_mark`).
    pub video_mark: Option<String>,
    /// The bot check's widget site key (`turnstile_sitekey`), when the site owner's proxy
    /// checks visitors with Cloudflare Turnstile.
    pub turnstile_sitekey: Option<String>,
}

/// How a pretend key for the sandbox starts (`sandbox_key`).
pub const SANDBOX_KEY_PREFIX: &str = "wsk_sandbox_";

/// What the sandbox's note says (none outside the sandbox): with a pretend key, how to
/// try direct mode with it against the local fake (`api_base`).
pub fn sandbox_note(settings: &Settings) -> Option<String> {
    if !settings.sandbox {
        return None;
    }
    Some(match &settings.sandbox_key {
        Some(key) => format!(
            "Sandbox: sample shots, no cost, through the local proxy. To try it with a key, \
             clear the Proxy URL and enter the local fake's pretend key: {key}"
        ),
        None => "Sandbox: sample shots, no cost.".to_owned(),
    })
}

/// The most example shots `example_outputs` may list.
pub const MAX_EXAMPLE_OUTPUTS: usize = 6;

/// The colour scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// Follow `prefers-color-scheme`.
    #[default]
    Auto,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// How `config.json` and `data-theme` name it.
    pub fn name(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The value of the root's `data-theme` attribute (`None` for auto).
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            Theme::Auto => None,
            Theme::Light => Some("light"),
            Theme::Dark => Some("dark"),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            api_base: BaseUrl(DEFAULT_API_BASE.to_owned()),
            proxy_url: None,
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            max_wait_s: DEFAULT_MAX_WAIT_S,
            upload: UploadMode::Binary,
            sandbox: false,
            sandbox_key: None,
            lock_proxy: false,
            theme: Theme::Auto,
            embed_parent_origins: Vec::new(),
            example_outputs: Vec::new(),
            video_mark: None,
            turnstile_sitekey: None,
        }
    }
}

/// One problem in the configuration, naming where it is and its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{from}: “{key}” {message}")]
pub struct ConfigProblem {
    /// Where: `config.json`, or the page element's data attributes.
    pub from: String,
    /// The key (or `config.json` for the file as a whole).
    pub key: String,
    /// What is wrong and what is used instead.
    pub message: String,
}

/// The source of settings given as data attributes.
pub const ATTRIBUTES: &str = "the data-multishot element";
const FILE: &str = "config.json";

fn problem(key: &str, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        from: FILE.to_owned(),
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Checks an origin for `postMessage`: `http(s)://host[:port]`, nothing after it.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let base = parse_base_url(raw)?;
    let after_scheme = base.split_once("://").map_or("", |(_, rest)| rest);
    if after_scheme.contains('/') {
        return Err("must be an origin alone (scheme, host and port; no path)".into());
    }
    Ok(base.to_ascii_lowercase())
}

/// A base URL that passed [`parse_base_url`]: where the page's requests go (the API base,
/// a proxy, a task's stored base). Made only by [`BaseUrl::parse`] (or from a stored
/// record, checked the same way), so no unchecked text reaches a request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Checks `raw` ([`parse_base_url`]).
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_base_url(raw).map(Self)
    }

    /// The URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BaseUrl {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<BaseUrl> for String {
    fn from(base: BaseUrl) -> String {
        base.0
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for BaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Checks a base URL: absolute `http:`/`https:`, with a host, no query or fragment, no
/// credentials; the trailing slash is dropped.
pub fn parse_base_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let Some(rest) = after_web_scheme(url) else {
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
    let object = match json::parse(text.as_bytes()) {
        Ok(Json::Object(members)) => members,
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
    // In the file's order; a key given twice counts once, as its last value.
    for (i, (key, value)) in object.iter().enumerate() {
        if !object[i + 1..].iter().any(|(later, _)| later == key) {
            apply(&mut settings, key, value, &mut problems);
        }
    }
    (settings, problems)
}

/// Reads one setting into `settings`, or says what is wrong with it.
fn apply(settings: &mut Settings, key: &str, value: &Json, problems: &mut Vec<ConfigProblem>) {
    match key {
        "api_base" => match value.as_str().map(BaseUrl::parse) {
            Some(Ok(url)) => settings.api_base = url,
            Some(Err(why)) => {
                problems.push(problem(key, format!("{why}; {DEFAULT_API_BASE} is used")))
            }
            None => problems.push(problem(
                key,
                format!("must be a string; {DEFAULT_API_BASE} is used"),
            )),
        },
        "proxy_url" => match value {
            Json::Null => {}
            Json::String(s) if s.trim().is_empty() => {}
            Json::String(s) => match BaseUrl::parse(s) {
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
            _ => problems.push(problem(
                key,
                "must be \"binary\" or \"inline\"; \"binary\" is used",
            )),
        },
        "sandbox" => match value.as_bool() {
            Some(on) => settings.sandbox = on,
            None => problems.push(problem(key, "must be true or false; false is used")),
        },
        "sandbox_key" => match value.as_str() {
            Some(k)
                if k.starts_with(SANDBOX_KEY_PREFIX)
                    && k.len() <= 100
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                settings.sandbox_key = Some(k.to_owned());
            }
            _ => problems.push(problem(
                key,
                format!(
                    "must be a pretend key starting with “{SANDBOX_KEY_PREFIX}” (never a real key: \
                     config.json is public); none is shown"
                ),
            )),
        },
        "lock_proxy" => match value.as_bool() {
            Some(on) => settings.lock_proxy = on,
            None => problems.push(problem(key, "must be true or false; false is used")),
        },
        "theme" => match value.as_str() {
            Some("auto") => settings.theme = Theme::Auto,
            Some("light") => settings.theme = Theme::Light,
            Some("dark") => settings.theme = Theme::Dark,
            _ => problems.push(problem(
                key,
                "must be \"auto\", \"light\" or \"dark\"; \"auto\" is used",
            )),
        },
        "embed_parent_origins" => {
            let list: Option<Vec<&str>> = match value {
                Json::Array(items) => items.iter().map(Json::as_str).collect(),
                _ => None,
            };
            match list {
                Some(list) => {
                    settings.embed_parent_origins.clear();
                    for raw in list {
                        match parse_origin(raw) {
                            Ok(origin) => settings.embed_parent_origins.push(origin),
                            Err(why) => problems.push(problem(
                                key,
                                format!(
                                    "has “{}”, which {why}; it is left out",
                                    raw.chars().take(60).collect::<String>()
                                ),
                            )),
                        }
                    }
                }
                None => problems.push(problem(
                    key,
                    "must be a list of origins such as [\"https://example.com\"]; none is used",
                )),
            }
        }
        "example_outputs" => {
            let list: Option<Vec<&str>> = match value {
                Json::Array(items) if items.len() <= MAX_EXAMPLE_OUTPUTS => {
                    items.iter().map(Json::as_str).collect()
                }
                _ => None,
            };
            settings.example_outputs.clear();
            match list {
                Some(list) => {
                    for raw in list {
                        match super::output::classify(raw) {
                            Ok(super::output::Output::Remote { url, .. }) => {
                                settings.example_outputs.push(url)
                            }
                            _ => problems.push(problem(
                                key,
                                format!(
                                    "has “{}”, which is not the web address of a video or image; it is left out",
                                    raw.chars().take(60).collect::<String>()
                                ),
                            )),
                        }
                    }
                }
                None => problems.push(problem(
                    key,
                    format!("must be a list of at most {MAX_EXAMPLE_OUTPUTS} web addresses of shots; none is shown"),
                )),
            }
        }
        // Kept as given: the film module draws it cleaned (`request::clean_mark`: one
        // line, no control characters, at most MARK_CHARS), so the page need not.
        "turnstile_sitekey" => match value.as_str().map(str::trim) {
            Some("") => settings.turnstile_sitekey = None,
            Some(key) if super::bot_check::is_sitekey(key) => {
                settings.turnstile_sitekey = Some(key.to_owned())
            }
            _ => problems.push(problem(
                key,
                "must be a Turnstile site key; no bot check widget is shown",
            )),
        },
        "video_mark" => match value.as_str() {
            Some(mark) => settings.video_mark = Some(mark.to_owned()),
            None => problems.push(problem(
                key,
                "must be a short line of text (the shop's name or address); no mark is drawn",
            )),
        },
        _ => problems.push(problem(key, "is not a known setting and is ignored")),
    }
}

/// Keys whose data attribute is a flag (`data-lock-proxy`, `="true"` or `="false"`).
const FLAGS: &[&str] = &["lock_proxy", "sandbox"];
/// Keys whose data attribute is a number.
const NUMBERS: &[&str] = &["poll_interval_ms", "max_wait_s"];
/// Keys whose data attribute is a list separated by spaces or commas.
const LISTS: &[&str] = &["embed_parent_origins", "example_outputs"];

/// Applies the data attributes of the element the app is mounted into
/// (`data-proxy-url="…"` sets `proxy_url`), on top of `settings` from `config.json`.
/// `data-multishot` itself is the marker and is skipped. Problems name the attribute.
pub fn apply_attributes<'a>(
    settings: &mut Settings,
    attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (name, raw) in attributes {
        let Some(key) = name.strip_prefix("data-").filter(|k| *k != "multishot") else {
            continue;
        };
        let key = key.replace('-', "_");
        let value = if FLAGS.contains(&key.as_str()) {
            match raw.trim() {
                "" | "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                other => Json::String(other.to_owned()),
            }
        } else if NUMBERS.contains(&key.as_str()) {
            raw.trim().parse::<u64>().map_or_else(
                |_| Json::String(raw.to_owned()),
                |n| Json::Number(n.to_string()),
            )
        } else if LISTS.contains(&key.as_str()) {
            Json::Array(
                raw.split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(|s| Json::String(s.to_owned()))
                    .collect(),
            )
        } else {
            Json::String(raw.to_owned())
        };
        let mut found = Vec::new();
        apply(settings, &key, &value, &mut found);
        problems.extend(found.into_iter().map(|p| ConfigProblem {
            from: ATTRIBUTES.to_owned(),
            key: name.to_owned(),
            ..p
        }));
    }
    problems
}

/// What is wrong with settings as a whole, once every source is read (each key alone
/// was checked as it was read): `lock_proxy` without a `proxy_url` leaves nothing to
/// generate with.
pub fn problems_of(settings: &Settings) -> Vec<ConfigProblem> {
    let mut found = Vec::new();
    if settings.lock_proxy && settings.proxy_url.is_none() {
        found.push(problem(
            "lock_proxy",
            "is set but no proxy_url is given, so nothing can be generated here",
        ));
    }
    found
}

/// How the app is hosted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Host {
    /// A page of its own (`index.html`).
    #[default]
    Page,
    /// In an iframe (`index.html?embed=1`): compact, with messages to the parent page.
    Frame,
    /// Mounted by `embed.js` into a host page's `<div data-multishot>`: compact, with
    /// settings from the element's data attributes.
    Element,
}

impl Host {
    /// Without the page's own header, footer and side card.
    pub fn is_compact(self) -> bool {
        self != Host::Page
    }
}

/// What the page's address asks for (`?embed=1&theme=dark`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageParams {
    /// Compact layout for an iframe, with messages to the parent page.
    pub embed: bool,
    /// The host page's theme (`theme=light|dark|auto`), over `config.json` and the
    /// visitor's OS; an unknown value is ignored.
    pub theme: Option<Theme>,
}

/// Reads the page's query string (with or without its `?`).
pub fn parse_page_params(query: &str) -> PageParams {
    let mut params = PageParams::default();
    let pairs = query
        .trim_start_matches('?')
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")));
    for (key, value) in pairs {
        match (key, value) {
            ("embed", "1" | "true" | "") => params.embed = true,
            ("theme", "auto") => params.theme = Some(Theme::Auto),
            ("theme", "light") => params.theme = Some(Theme::Light),
            ("theme", "dark") => params.theme = Some(Theme::Dark),
            _ => {}
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_proxy_needs_a_proxy() {
        let mut settings = Settings {
            lock_proxy: true,
            ..Settings::default()
        };
        let found = problems_of(&settings);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            "config.json: “lock_proxy” is set but no proxy_url is given, so nothing can be generated here"
        );
        settings.proxy_url = Some(BaseUrl::parse("https://gen.example.com").unwrap());
        assert!(problems_of(&settings).is_empty());
        assert!(problems_of(&Settings::default()).is_empty());
    }
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
                api_base: BaseUrl::parse("http://127.0.0.1:9000").unwrap(),
                proxy_url: BaseUrl::parse("https://proxy.example/ws").ok(),
                poll_interval_ms: 800,
                max_wait_s: 60,
                upload: UploadMode::Inline,
                sandbox: true,
                ..Settings::default()
            }
        );
    }

    #[test]
    fn only_a_pretend_key_is_shown_and_only_in_the_sandbox() {
        let (s, problems) = parse_config(Some(
            r#"{"sandbox":true,"sandbox_key":"wsk_sandbox_local_0000"}"#,
        ));
        assert_eq!(problems, []);
        assert_eq!(s.sandbox_key.as_deref(), Some("wsk_sandbox_local_0000"));
        assert_eq!(
            sandbox_note(&s).as_deref(),
            Some(
                "Sandbox: sample shots, no cost, through the local proxy. To try it with a key, \
                 clear the Proxy URL and enter the local fake's pretend key: wsk_sandbox_local_0000"
            )
        );
        for real in [r#""wsk_live_abc""#, r#""wsk_sandbox_<b>""#, "7", r#""""#] {
            let (s, problems) =
                parse_config(Some(&format!(r#"{{"sandbox":true,"sandbox_key":{real}}}"#)));
            assert_eq!(s.sandbox_key, None, "{real}");
            assert_eq!(problems.len(), 1, "{real}");
            assert!(problems[0].message.contains("never a real key"));
        }
        // Outside the sandbox, no key is shown whatever the file says.
        let (s, _) = parse_config(Some(r#"{"sandbox_key":"wsk_sandbox_local_0000"}"#));
        assert_eq!(sandbox_note(&s), None);
        let (s, _) = parse_config(Some(r#"{"sandbox":true}"#));
        assert_eq!(
            sandbox_note(&s).as_deref(),
            Some("Sandbox: sample shots, no cost.")
        );
    }

    #[test]
    fn a_video_mark_is_one_short_line_of_text() {
        let (s, problems) = parse_config(Some(r#"{"video_mark":"  Shop\nof the week  "}"#));
        // Drawn as one line: the module cleans what the page passes on.
        let drawn = s
            .video_mark
            .as_deref()
            .and_then(multishot_film::request::clean_mark);
        assert_eq!(drawn.as_deref(), Some("Shop of the week"));
        assert!(problems.is_empty());
        let (s, problems) = parse_config(Some(r#"{"video_mark":["<b>x</b>"]}"#));
        assert_eq!(s.video_mark, None);
        assert_eq!(problems.len(), 1);
        let mut s = Settings::default();
        assert!(apply_attributes(&mut s, [("data-video-mark", "shop.example")]).is_empty());
        assert_eq!(s.video_mark.as_deref(), Some("shop.example"));
    }

    #[test]
    fn example_outputs_are_web_addresses_of_shots_and_nothing_else() {
        let (s, problems) = parse_config(Some(
            r#"{"example_outputs":["https://cdn.example/1.mp4"," https://cdn.example/2.png ","javascript:alert(1)","data:video/mp4;base64,AAAA"]}"#,
        ));
        assert_eq!(
            s.example_outputs,
            ["https://cdn.example/1.mp4", "https://cdn.example/2.png"]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.contains("javascript:alert(1)"));
        for bad in [
            r#""https://x/1.mp4""#,
            "[1]",
            r#"["a","b","c","d","e","f","g"]"#,
        ] {
            let (s, problems) = parse_config(Some(&format!(r#"{{"example_outputs":{bad}}}"#)));
            assert!(s.example_outputs.is_empty(), "{bad}");
            assert!(
                problems[0].message.contains("none is shown"),
                "{bad}: {problems:?}"
            );
        }
        // As a data attribute: a list separated by spaces.
        let mut s = Settings::default();
        let problems = apply_attributes(
            &mut s,
            [(
                "data-example-outputs",
                "https://a.example/1.mp4 https://a.example/2.mp4",
            )],
        );
        assert_eq!(problems, []);
        assert_eq!(s.example_outputs.len(), 2);
    }

    #[test]
    fn a_key_given_twice_counts_once_as_its_last_value() {
        let (s, problems) = parse_config(Some(r#"{"theme":"sepia","theme":"dark"}"#));
        assert_eq!(s.theme, Theme::Dark);
        assert_eq!(problems, []);
    }

    #[test]
    fn bad_values_are_named_and_fall_back() {
        let (s, problems) = parse_config(Some(
            r#"{"api_base":"ftp://x","proxy_url":"javascript:alert(1)","poll_interval_ms":-5,"upload":3,"colour":"red"}"#,
        ));
        assert_eq!(s, Settings::default());
        // In the file's order.
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "api_base",
                "proxy_url",
                "poll_interval_ms",
                "upload",
                "colour"
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
    fn hosting_keys_are_read_and_checked() {
        let (s, problems) = parse_config(Some(
            r#"{"lock_proxy":true,"theme":"dark","embed_parent_origins":["https://Shop.example","http://127.0.0.1:8000/","https://x.example/path","javascript:alert(1)"]}"#,
        ));
        assert!(s.lock_proxy);
        assert_eq!(s.theme, Theme::Dark);
        assert_eq!(
            s.embed_parent_origins,
            ["https://shop.example", "http://127.0.0.1:8000"]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| p.key == "embed_parent_origins"));
        assert!(problems[0].message.contains("no path"), "{}", problems[0]);
        let (s, problems) = parse_config(Some(
            r#"{"theme":"neon","embed_parent_origins":"https://a.example","lock_proxy":"yes"}"#,
        ));
        assert_eq!((s.theme, s.lock_proxy), (Theme::Auto, false));
        assert!(s.embed_parent_origins.is_empty());
        assert_eq!(problems.len(), 3);
    }

    #[test]
    fn data_attributes_override_the_file_and_name_the_attribute() {
        let (mut s, _) = parse_config(Some(
            r#"{"proxy_url":"https://file.example/p","theme":"dark"}"#,
        ));
        let problems = apply_attributes(
            &mut s,
            [
                ("data-multishot", ""),
                ("data-proxy-url", "https://site.example/ws/"),
                ("data-lock-proxy", ""),
                ("data-theme", "light"),
                ("data-poll-interval-ms", "2000"),
                (
                    "data-embed-parent-origins",
                    "https://a.example, https://b.example",
                ),
                ("data-max-wait-s", "soon"),
                ("data-api-base", "javascript:alert(1)"),
                ("class", "ignored"),
            ],
        );
        assert_eq!(
            s.proxy_url.as_ref().map(BaseUrl::as_str),
            Some("https://site.example/ws")
        );
        assert!(s.lock_proxy);
        assert_eq!(s.theme, Theme::Light);
        assert_eq!(s.poll_interval_ms, 2000);
        assert_eq!(
            s.embed_parent_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(s.max_wait_s, DEFAULT_MAX_WAIT_S);
        assert_eq!(s.api_base, DEFAULT_API_BASE);
        let named: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(named, ["data-max-wait-s", "data-api-base"]);
        assert!(problems[0]
            .to_string()
            .starts_with("the data-multishot element: “data-max-wait-s” must be"));
        let problems =
            apply_attributes(&mut s, [("data-colour", "red"), ("data-lock-proxy", "no")]);
        assert_eq!(problems.len(), 2);
        assert!(s.lock_proxy, "a bad flag leaves the setting as it was");
    }

    #[test]
    fn the_embed_parameter() {
        assert!(parse_page_params("?embed=1").embed);
        assert!(parse_page_params("a=b&embed").embed);
        assert!(parse_page_params("embed=true").embed);
        assert!(!parse_page_params("?embed=0").embed);
        assert!(!parse_page_params("?embedded=1").embed);
        assert!(!parse_page_params("").embed);
    }

    #[test]
    fn the_theme_parameter_names_one_of_three_or_nothing() {
        assert_eq!(
            parse_page_params("?embed=1&theme=dark"),
            PageParams {
                embed: true,
                theme: Some(Theme::Dark)
            }
        );
        assert_eq!(parse_page_params("theme=light").theme, Some(Theme::Light));
        assert_eq!(parse_page_params("theme=auto").theme, Some(Theme::Auto));
        assert_eq!(parse_page_params("theme=neon").theme, None);
        assert_eq!(parse_page_params("themes=dark").theme, None);
        for theme in [Theme::Auto, Theme::Light, Theme::Dark] {
            let (s, problems) = parse_config(Some(&format!(r#"{{"theme":"{}"}}"#, theme.name())));
            assert_eq!((s.theme, problems), (theme, vec![]));
        }
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
            prop_assert!(s.api_base.as_str().starts_with("http"));
            prop_assert!((MIN_POLL_INTERVAL_MS..=MAX_POLL_INTERVAL_MS).contains(&s.poll_interval_ms));
        }
    }
}
