//! Reads `config.json` from the app's own folder at start: beside `index.html` (the
//! page's `<base href>` is the public URL), or beside `embed.js` on a host page.

use gloo_net::http::Request;

use crate::core::config::{parse_config, ConfigProblem, Settings};

/// Fetches `config.json` from `base` (the app's folder; `None`: relative to the page)
/// and parses it. A missing file (404) means defaults; a file that cannot be read or
/// parsed is reported and defaults are used.
pub async fn load_settings(base: Option<&str>) -> (Settings, Vec<ConfigProblem>) {
    let url = match base {
        Some(base) => format!("{}/config.json", base.trim_end_matches('/')),
        None => "config.json".to_owned(),
    };
    let text = match Request::get(&url).send().await {
        Ok(response) if response.status() == 404 => None,
        Ok(response) if response.ok() => match response.text().await {
            Ok(text) => Some(text),
            Err(e) => return unreadable(super::fetch_error_text(&e)),
        },
        Ok(response) => return unreadable(format!("HTTP {}", response.status())),
        Err(e) => return unreadable(super::fetch_error_text(&e)),
    };
    parse_config(text.as_deref())
}

fn unreadable(why: String) -> (Settings, Vec<ConfigProblem>) {
    let problem = ConfigProblem {
        from: "config.json".into(),
        key: "config.json".into(),
        message: format!("could not be read ({why}); defaults are used"),
    };
    (Settings::default(), vec![problem])
}
