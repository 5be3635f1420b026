//! Reads `config.json` from the app's own folder at start.

use gloo_net::http::Request;

use crate::core::config::{parse_config, ConfigProblem, Settings};

/// Fetches `config.json` beside `index.html` and parses it. A missing file (404) means
/// defaults; a file that cannot be read or parsed is reported and defaults are used.
pub async fn load_settings() -> (Settings, Vec<ConfigProblem>) {
    let text = match Request::get("config.json").send().await {
        Ok(response) if response.status() == 404 => None,
        Ok(response) if response.ok() => match response.text().await {
            Ok(text) => Some(text),
            Err(e) => return unreadable(e.to_string()),
        },
        Ok(response) => return unreadable(format!("HTTP {}", response.status())),
        Err(e) => return unreadable(e.to_string()),
    };
    parse_config(text.as_deref())
}

fn unreadable(why: String) -> (Settings, Vec<ConfigProblem>) {
    let problem = ConfigProblem {
        key: "config.json".into(),
        message: format!("could not be read ({why}); defaults are used"),
    };
    (Settings::default(), vec![problem])
}
