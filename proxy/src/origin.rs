//! Which web pages may use the proxy: an exact list of origins (`scheme://host[:port]`),
//! compared after the normalisation browsers apply, never by prefix or pattern.

use std::fmt;

/// An origin as a browser sends it in the `Origin` header: lowercase scheme and host,
/// the port only when it is not the scheme's default.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

/// Why an `--allow-origin` value is not an origin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("“{given}” is not a web origin ({why}); write it like https://www.example.com")]
pub struct OriginError {
    /// The value as given.
    pub given: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Origin {
    /// Parses `https://Example.com:443` as `https://example.com`. Only `http` and
    /// `https`; no path (a trailing `/` is forgiven), query, fragment or user info.
    pub fn parse(given: &str) -> Result<Origin, OriginError> {
        let fail = |why| OriginError {
            given: given.to_owned(),
            why,
        };
        let text = given.trim();
        let text = text.strip_suffix('/').unwrap_or(text);
        let (scheme, rest) = text.split_once("://").ok_or_else(|| fail("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => "443",
            "http" => "80",
            _ => return Err(fail("only http and https")),
        };
        if rest.is_empty() {
            return Err(fail("no host"));
        }
        if rest.contains(['/', '?', '#', '@', ' ', '\\']) {
            return Err(fail("an origin has no path, query or user"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            // An IPv6 literal without a port: `[::1]`.
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (rest, None),
        };
        if host.is_empty() {
            return Err(fail("no host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
        {
            return Err(fail("the host has characters a host cannot have"));
        }
        let host = host.to_ascii_lowercase();
        let port = match port {
            Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(fail("the port is not a number"))
            }
            Some(p) if p.parse::<u16>().is_err() => return Err(fail("the port is too large")),
            Some(p) if p.trim_start_matches('0') == default_port => None,
            Some(p) => Some(p.trim_start_matches('0').to_owned()),
            None => None,
        };
        Ok(Origin(match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        }))
    }

    /// The origin as text, as it goes into `Access-Control-Allow-Origin`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The origins allowed to call the proxy.
#[derive(Clone, Debug, Default)]
pub struct AllowList(Vec<Origin>);

impl AllowList {
    /// A list of parsed origins.
    pub fn new(origins: Vec<Origin>) -> Self {
        Self(origins)
    }

    /// The allowed origin an `Origin` header names, exactly (after normalisation).
    /// `null` (sandboxed frames, `file:`) and anything unparsable are never allowed.
    pub fn allows(&self, header: &str) -> Option<&Origin> {
        // Browsers send the normalised form: compare as it is first, parse only if not.
        if let Some(found) = self.0.iter().find(|allowed| allowed.0 == header) {
            return Some(found);
        }
        let given = Origin::parse(header).ok()?;
        self.0.iter().find(|allowed| **allowed == given)
    }

    /// The allowed origins, for the start-up log.
    pub fn iter(&self) -> impl Iterator<Item = &Origin> {
        self.0.iter()
    }

    /// No origin allowed at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(origins: &[&str]) -> AllowList {
        AllowList::new(
            origins
                .iter()
                .map(|o| Origin::parse(o).expect("an origin"))
                .collect(),
        )
    }

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let parse = |s| Origin::parse(s).map(|o| o.0);
        assert_eq!(
            parse("https://Example.COM"),
            Ok("https://example.com".into())
        );
        assert_eq!(
            parse("https://example.com:443/"),
            Ok("https://example.com".into())
        );
        assert_eq!(
            parse("http://example.com:80"),
            Ok("http://example.com".into())
        );
        assert_eq!(
            parse("http://127.0.0.1:8080"),
            Ok("http://127.0.0.1:8080".into())
        );
        assert_eq!(parse("http://[::1]:8080"), Ok("http://[::1]:8080".into()));
        assert_eq!(parse("http://[::1]"), Ok("http://[::1]".into()));
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://",
            "https://example.com/path",
            "https://example.com?x",
            "https://user@example.com",
            "https://example.com:99999",
            "https://example.com:",
            "https://exa mple.com",
            "null",
            "*",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_exact_origins_are_allowed() {
        let allowed = list(&["https://www.example.com", "http://127.0.0.1:8080"]);
        assert!(allowed.allows("https://www.example.com").is_some());
        assert!(allowed.allows("https://WWW.example.com:443").is_some());
        assert!(allowed.allows("http://127.0.0.1:8080").is_some());
        for refused in [
            "https://example.com",
            "http://www.example.com",
            "https://www.example.com.evil.net",
            "https://evil-www.example.com",
            "https://www.example.com:8443",
            "http://127.0.0.1:8081",
            "http://localhost:8080",
            "null",
            "",
        ] {
            assert!(allowed.allows(refused).is_none(), "{refused}");
        }
    }
}
