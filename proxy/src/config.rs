//! The command line and environment, read into one validated [`Settings`]. The flag
//! names are a contract (site owners script them); every problem is reported naming the
//! flag or variable, and the program then exits with code 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use ipnet::IpNet;

use crate::limits::Rate;
use crate::money::{Micros, MoneyError};
use crate::origin::{AllowList, Origin};
use crate::token::{Signer, MIN_SECRET_BYTES};
use crate::visitor::TrustedProxies;

/// The flags of `multishot-proxy`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "multishot-proxy",
    version,
    about = "Holds a WaveSpeed API key and lets the public run Kling V1 AI Multi-Shot — only that model, within the owner's limits.",
    after_help = "The key is read from WAVESPEED_API_KEY (or --key-file), never from a flag. \
                  Example: WAVESPEED_API_KEY=wsk_live_… multishot-proxy --allow-origin https://www.example.com"
)]
pub struct Flags {
    /// Address and port to listen on.
    #[arg(long, env = "MULTISHOT_LISTEN", default_value = "127.0.0.1:8788")]
    pub listen: SocketAddr,

    /// WaveSpeed's API base (https; plain http only to a loopback address, for tests).
    #[arg(
        long,
        env = "MULTISHOT_UPSTREAM",
        default_value = "https://api.wavespeed.ai"
    )]
    pub upstream: String,

    /// A file holding the API key (instead of WAVESPEED_API_KEY).
    #[arg(long, env = "WAVESPEED_API_KEY_FILE")]
    pub key_file: Option<PathBuf>,

    /// An origin allowed to call the proxy, e.g. https://www.example.com (repeatable;
    /// the variable takes a comma-separated list).
    #[arg(
        long = "allow-origin",
        env = "MULTISHOT_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,

    /// Most spent per UTC day, in USD (runs reserved before they are submitted).
    #[arg(long, env = "MULTISHOT_DAILY_BUDGET_USD", default_value = "5")]
    pub daily_budget_usd: String,

    /// Most spent per UTC month, in USD.
    #[arg(long, env = "MULTISHOT_MONTHLY_BUDGET_USD", default_value = "50")]
    pub monthly_budget_usd: String,

    /// Runs per visitor (IP address, IPv6 /64) per hour: that many at once, then one
    /// every hour / N.
    #[arg(long, env = "MULTISHOT_RUNS_PER_IP_PER_HOUR", default_value_t = 5)]
    pub runs_per_ip_per_hour: u32,

    /// Runs per visitor per 24 hours, beside the hourly limit: that many at once, then
    /// one every 24 hours / N.
    #[arg(long, env = "MULTISHOT_RUNS_PER_IP_PER_DAY", default_value_t = 20)]
    pub runs_per_ip_per_day: u32,

    /// Runs started per minute across all visitors: a flood starts no more than this.
    /// Default: the daily budget's runs (at --price-usd) spread over at least six hours,
    /// a few at once.
    #[arg(long, env = "MULTISHOT_RUNS_PER_MINUTE")]
    pub runs_per_minute: Option<u32>,

    /// Result checks per visitor per second (the page checks every 1.5 s).
    #[arg(long, env = "MULTISHOT_POLLS_PER_IP_PER_SECOND", default_value_t = 5)]
    pub polls_per_ip_per_second: u32,

    /// Image uploads per visitor per hour.
    #[arg(long, env = "MULTISHOT_UPLOADS_PER_IP_PER_HOUR", default_value_t = 10)]
    pub uploads_per_ip_per_hour: u32,

    /// Megabytes (MiB) of uploads per visitor per UTC day.
    #[arg(
        long,
        env = "MULTISHOT_UPLOAD_MB_PER_IP_PER_DAY",
        default_value_t = 100
    )]
    pub upload_mb_per_ip_per_day: u64,

    /// At most this many tasks running at once (off by default: WaveSpeed queues tasks
    /// beyond the account's concurrency rather than failing them).
    #[arg(long, env = "MULTISHOT_MAX_RUNNING")]
    pub max_running: Option<u32>,

    /// The price of a run in USD, used when WaveSpeed's pricing call fails.
    #[arg(long, env = "MULTISHOT_PRICE_USD", default_value = "0.07")]
    pub price_usd: String,

    /// Keep every counter in Redis (redis://host:port/db), shared by every instance.
    #[arg(long, env = "MULTISHOT_REDIS")]
    pub redis: Option<String>,

    /// The prefix of every Redis key.
    #[arg(long, env = "MULTISHOT_REDIS_PREFIX", default_value = "multishot:")]
    pub redis_prefix: String,

    /// Refuse every upload and submit with a message (polls are still answered).
    #[arg(long, env = "MULTISHOT_PAUSED")]
    pub paused: bool,

    /// A reverse proxy or load balancer (address or CIDR) whose X-Forwarded-For is
    /// believed (repeatable).
    #[arg(
        long = "trust-proxy",
        env = "MULTISHOT_TRUST_PROXIES",
        value_delimiter = ','
    )]
    pub trust_proxies: Vec<String>,

    /// Networks (besides loopback) that may read /metrics (repeatable).
    #[arg(
        long = "metrics-from",
        env = "MULTISHOT_METRICS_FROM",
        value_delimiter = ','
    )]
    pub metrics_from: Vec<String>,

    /// A file holding the secret that signs task tokens (at least 32 bytes), the same
    /// on every instance; also MULTISHOT_TOKEN_SECRET. Default: derived from the key.
    #[arg(long, env = "MULTISHOT_TOKEN_SECRET_FILE")]
    pub token_secret_file: Option<PathBuf>,

    /// Cloudflare Turnstile's secret key: turns the bot check on, so every run needs a
    /// token from the widget on the page (off by default). Prefer TURNSTILE_SECRET or
    /// --turnstile-secret-file: a flag's value shows in the process list.
    #[arg(long, env = "TURNSTILE_SECRET", hide_env_values = true)]
    pub turnstile_secret: Option<String>,

    /// A file holding the Turnstile secret key.
    #[arg(long, env = "TURNSTILE_SECRET_FILE")]
    pub turnstile_secret_file: Option<PathBuf>,

    /// The Turnstile widget's site key, told to the page on /quota (or set the page's
    /// turnstile_sitekey instead).
    #[arg(long, env = "MULTISHOT_TURNSTILE_SITEKEY")]
    pub turnstile_sitekey: Option<String>,

    /// Where tokens are verified (Cloudflare's siteverify; tests use a local stand-in).
    #[arg(
        long,
        env = "MULTISHOT_TURNSTILE_VERIFY_URL",
        default_value = crate::bot_check::SITEVERIFY_URL
    )]
    pub turnstile_verify_url: String,

    /// Seconds an upstream call may take (uploads: 4 times this).
    #[arg(long, env = "MULTISHOT_UPSTREAM_TIMEOUT_S", default_value_t = 30)]
    pub upstream_timeout_s: u64,
}

/// Variables a Worker takes as secrets, beside the flags' own variables.
pub const SECRET_VARS: &[&str] = &[
    "WAVESPEED_API_KEY",
    "MULTISHOT_TOKEN_SECRET",
    "TURNSTILE_SECRET",
];

/// Flags that have no meaning in a Worker: where to listen is the platform's, files are
/// read by whoever starts it, and the counters live in Durable Objects, not Redis.
const NOT_IN_A_WORKER: &[&str] = &[
    "listen",
    "key-file",
    "token-secret-file",
    "turnstile-secret-file",
    "redis",
    "redis-prefix",
];

/// The Worker's settings (`proxy-worker/`): its variables are named as the flags'
/// environment variables (`MULTISHOT_DAILY_BUDGET_USD`, `MULTISHOT_ALLOW_ORIGINS`, …,
/// and the secrets `WAVESPEED_API_KEY`, `MULTISHOT_TOKEN_SECRET`, `TURNSTILE_SECRET`),
/// read through the very flag definitions, defaults and checks of the binary. `var`
/// answers a variable by name.
pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
    use clap::CommandFactory;
    let mut args = vec!["multishot-proxy-worker".to_owned()];
    for arg in Flags::command().get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let Some(value) = env.to_str().and_then(&var) else {
            continue;
        };
        if NOT_IN_A_WORKER.contains(&long) {
            return Err(format!(
                "{}: not for the Worker (where it listens is Cloudflare's; files and Redis are for the binary)",
                env.to_string_lossy()
            ));
        }
        if arg.get_action().takes_values() {
            args.push(format!("--{long}={value}"));
        } else if is_truthy(&value) {
            args.push(format!("--{long}"));
        }
    }
    let flags = Flags::try_parse_from(args).map_err(|e| e.to_string())?;
    Settings::from_flags(
        flags,
        var("WAVESPEED_API_KEY"),
        var("MULTISHOT_TOKEN_SECRET"),
    )
    .map_err(|e| e.to_string())
}

/// A switch's variable set on (clap's reading of a flag's variable).
fn is_truthy(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off" | "n" | "f"
    )
}

/// The inverse of [`from_vars`], for `proxy-worker/run-local`: the variables that give
/// a Worker the flags and flag variables of `matches` (the binary's command line), each
/// named as its environment variable; what was left to its default is left out (the
/// Worker has the same defaults). The files a flag names are read here, their contents
/// passed as the secret variables; `--listen` is the caller's; `--redis` is refused.
pub fn vars_of(matches: &clap::ArgMatches) -> Result<Vec<(String, String)>, String> {
    use clap::parser::ValueSource;
    use clap::CommandFactory;
    let mut vars = Vec::new();
    for arg in Flags::command().get_arguments() {
        let id = arg.get_id().as_str();
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        if !matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let env = env.to_string_lossy().into_owned();
        let value = if arg.get_action().takes_values() {
            matches
                .get_raw(id)
                .map(|values| {
                    values
                        .map(|v| v.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        } else {
            matches.get_flag(id).to_string()
        };
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .map_err(|e| format!("--{long} {path}: {e}"))
        };
        match long {
            "listen" | "redis-prefix" => {}
            "redis" => {
                return Err(
                    "--redis: the Worker keeps its counters in Durable Objects, not Redis".into(),
                )
            }
            "key-file" => vars.push(("WAVESPEED_API_KEY".to_owned(), read(&value)?)),
            "token-secret-file" => vars.push(("MULTISHOT_TOKEN_SECRET".to_owned(), read(&value)?)),
            "turnstile-secret-file" => vars.push(("TURNSTILE_SECRET".to_owned(), read(&value)?)),
            _ => vars.push((env, value)),
        }
    }
    Ok(vars)
}

/// A problem with the configuration, naming the flag or variable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No key at all.
    #[error("no API key: set WAVESPEED_API_KEY (or --key-file) to the key the proxy uses")]
    NoKey,
    /// The key file cannot be read.
    #[error("--key-file {path}: {reason}")]
    KeyFile {
        /// The path given.
        path: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// No allowed origin.
    #[error("no allowed origin: give --allow-origin https://your-site.example (the page that embeds Multi-Shot Studio)")]
    NoOrigin,
    /// A bad `--allow-origin`.
    #[error("--allow-origin: {0}")]
    Origin(String),
    /// A bad amount of money.
    #[error("--{flag}: {error}")]
    Money {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        error: MoneyError,
    },
    /// A bad `--upstream`.
    #[error("--upstream {0}: must be an https:// address (http:// only to a loopback address), with no path")]
    Upstream(String),
    /// A bad network.
    #[error("--{flag} {value}: not an address or network (e.g. 10.0.0.0/8)")]
    Network {
        /// The flag.
        flag: &'static str,
        /// The value.
        value: String,
    },
    /// A bad token secret.
    #[error("token secret ({source_name}): {reason}")]
    Secret {
        /// Where it came from.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// A number out of range.
    #[error("--{flag}: {reason}")]
    Range {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// How many runs a burst may start at once when `--runs-per-minute` is not given.
pub const BURST_AT_ONCE: u32 = 3;
/// The least time a day's budget takes to start when `--runs-per-minute` is not given.
pub const BUDGET_SPREAD_MS: u64 = 6 * 3_600_000;

/// The site-wide rate of runs started: `per_minute` when given; else the daily budget's
/// runs at `price` spread over [`BUDGET_SPREAD_MS`] — one every six hours / runs, with
/// [`BURST_AT_ONCE`] at once (never more than the day's runs).
pub fn burst_rate(per_minute: Option<u32>, day_cap: Micros, price: Micros) -> Rate {
    if let Some(count) = per_minute {
        return Rate {
            count,
            period_ms: 60_000,
        };
    }
    let runs = (day_cap.0 / price.0.max(1)).max(1);
    let count = BURST_AT_ONCE.min(u32::try_from(runs).unwrap_or(u32::MAX));
    Rate {
        count,
        period_ms: BUDGET_SPREAD_MS.div_ceil(runs) * u64::from(count),
    }
}

/// The proxy's validated settings.
#[derive(Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// WaveSpeed's base, without a trailing slash.
    pub upstream: String,
    /// The key (never logged: [`crate::log::Redactor`]).
    pub key: String,
    /// Origins allowed.
    pub origins: AllowList,
    /// Daily cap.
    pub day_cap: Micros,
    /// Monthly cap.
    pub month_cap: Micros,
    /// Per-visitor runs per hour.
    pub runs_per_hour: u32,
    /// Per-visitor runs per 24 hours.
    pub runs_per_day: u32,
    /// Runs started across all visitors ([`burst_rate`]).
    pub burst: Rate,
    /// Per-visitor polls per second.
    pub polls_per_second: u32,
    /// Per-visitor uploads per hour.
    pub uploads_per_hour: u32,
    /// Per-visitor upload bytes per day.
    pub upload_bytes_per_day: u64,
    /// Cap on running tasks.
    pub max_running: Option<u32>,
    /// The price used when pricing fails.
    pub fallback_price: Micros,
    /// Redis URL, when shared.
    pub redis: Option<String>,
    /// Redis key prefix.
    pub redis_prefix: String,
    /// Kill switch.
    pub paused: bool,
    /// Trusted reverse proxies.
    pub trusted: TrustedProxies,
    /// Networks allowed to read `/metrics` (besides loopback).
    pub metrics_from: Vec<IpNet>,
    /// The token signer.
    pub signer: Signer,
    /// Secrets to redact from logs (the key, the token secret).
    pub secrets: Vec<String>,
    /// Upstream call timeout.
    pub upstream_timeout: Duration,
    /// The bot check, when a Turnstile secret is given.
    pub turnstile: Option<Turnstile>,
}

impl std::fmt::Debug for Settings {
    /// Never prints the key or a secret (`key`, `secrets`, `signer`, the Turnstile secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("upstream", &self.upstream)
            .field("origins", &self.origins)
            .field("day_cap", &self.day_cap)
            .field("month_cap", &self.month_cap)
            .field("runs_per_hour", &self.runs_per_hour)
            .field("runs_per_day", &self.runs_per_day)
            .field("burst", &self.burst)
            .field("redis", &self.redis.as_ref().map(|_| "…"))
            .field("paused", &self.paused)
            .field("turnstile", &self.turnstile)
            .finish_non_exhaustive()
    }
}

/// The bot check's settings (`--turnstile-*`).
#[derive(Clone)]
pub struct Turnstile {
    /// The secret key (never logged).
    pub secret: String,
    /// The widget's site key, for the page.
    pub sitekey: Option<String>,
    /// siteverify's address.
    pub verify_url: String,
}

impl std::fmt::Debug for Turnstile {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turnstile")
            .field("sitekey", &self.sitekey)
            .field("verify_url", &self.verify_url)
            .finish_non_exhaustive()
    }
}

/// Loopback hosts an `http://` upstream may name (the fake WaveSpeed in tests).
fn is_loopback_host(host: &str) -> bool {
    let host = host.split(':').next().unwrap_or(host);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

fn upstream(given: &str) -> Result<String, ConfigError> {
    let trimmed = given.trim().trim_end_matches('/');
    let fail = || ConfigError::Upstream(given.to_owned());
    let lower = trimmed.to_ascii_lowercase();
    let host = if let Some(host) = lower.strip_prefix("https://") {
        host
    } else if let Some(host) = lower.strip_prefix("http://") {
        if !is_loopback_host(host) {
            return Err(fail());
        }
        host
    } else {
        return Err(fail());
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(fail());
    }
    Ok(trimmed.to_owned())
}

/// siteverify's address: https, or http to a loopback address (a test's stand-in).
fn verify_url(given: &str) -> Option<String> {
    let trimmed = given.trim();
    let lower = trimmed.to_ascii_lowercase();
    let (rest, local_only) = match lower.strip_prefix("https://") {
        Some(rest) => (rest, false),
        None => (lower.strip_prefix("http://")?, true),
    };
    let host = rest.split('/').next().unwrap_or_default();
    let fine = !host.is_empty()
        && !host.contains(['?', '#', '@', ' '])
        && !rest.contains(['#', ' '])
        && (!local_only || is_loopback_host(host));
    fine.then(|| trimmed.to_owned())
}

fn networks(flag: &'static str, values: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Network {
                    flag,
                    value: v.to_owned(),
                })
        })
        .collect()
}

fn money(flag: &'static str, text: &str) -> Result<Micros, ConfigError> {
    text.parse()
        .map_err(|error| ConfigError::Money { flag, error })
}

impl Settings {
    /// Checks the flags with the key (`WAVESPEED_API_KEY`) and token secret
    /// (`MULTISHOT_TOKEN_SECRET`) from the environment, reading the files the flags
    /// name.
    pub fn from_flags(
        flags: Flags,
        env_key: Option<String>,
        env_secret: Option<String>,
    ) -> Result<Settings, ConfigError> {
        let key = match (&flags.key_file, env_key) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|e| ConfigError::KeyFile {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
                .trim()
                .to_owned(),
            (None, Some(key)) => key.trim().to_owned(),
            (None, None) => String::new(),
        };
        if key.is_empty() {
            return Err(ConfigError::NoKey);
        }
        let origins = flags
            .allow_origins
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| Origin::parse(o).map_err(|e| ConfigError::Origin(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if origins.is_empty() {
            return Err(ConfigError::NoOrigin);
        }
        let (secret, source_name) = match (&flags.token_secret_file, env_secret) {
            (Some(path), _) => (
                Some(
                    std::fs::read_to_string(path).map_err(|e| ConfigError::Secret {
                        source_name: path.display().to_string(),
                        reason: e.to_string(),
                    })?,
                ),
                path.display().to_string(),
            ),
            (None, Some(secret)) => (Some(secret), "MULTISHOT_TOKEN_SECRET".to_owned()),
            (None, None) => (None, String::new()),
        };
        let secret = secret.map(|s| s.trim().to_owned());
        let signer = match &secret {
            Some(s) if s.len() < MIN_SECRET_BYTES => {
                return Err(ConfigError::Secret {
                    source_name,
                    reason: format!(
                        "at least {MIN_SECRET_BYTES} bytes, the same on every instance"
                    ),
                })
            }
            Some(s) => Signer::new(s.as_bytes()),
            None => Signer::derived_from_key(&key),
        };
        if flags.upstream_timeout_s == 0 || flags.upstream_timeout_s > 600 {
            return Err(ConfigError::Range {
                flag: "upstream-timeout-s",
                reason: "between 1 and 600 seconds",
            });
        }
        if flags.max_running == Some(0) {
            return Err(ConfigError::Range {
                flag: "max-running",
                reason: "at least 1 (leave it out for no cap)",
            });
        }
        let fallback_price = money("price-usd", &flags.price_usd)?;
        if fallback_price == Micros::ZERO {
            // A free run would never use up a budget.
            return Err(ConfigError::Range {
                flag: "price-usd",
                reason: "more than zero",
            });
        }
        if flags.runs_per_minute == Some(0) {
            return Err(ConfigError::Range {
                flag: "runs-per-minute",
                reason: "at least 1 (leave it out for the default)",
            });
        }
        let day_cap = money("daily-budget-usd", &flags.daily_budget_usd)?;
        let turnstile_secret = match (&flags.turnstile_secret_file, flags.turnstile_secret) {
            (Some(path), _) => {
                Some(
                    std::fs::read_to_string(path).map_err(|e| ConfigError::Secret {
                        source_name: path.display().to_string(),
                        reason: e.to_string(),
                    })?,
                )
            }
            (None, secret) => secret,
        }
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
        let turnstile = match turnstile_secret {
            None => None,
            Some(secret) => {
                let verify_url =
                    verify_url(&flags.turnstile_verify_url).ok_or(ConfigError::Range {
                        flag: "turnstile-verify-url",
                        reason: "an https address (http only to a loopback address)",
                    })?;
                let sitekey = flags.turnstile_sitekey.map(|k| k.trim().to_owned());
                if sitekey
                    .as_deref()
                    .is_some_and(|k| !multishot_rules::turnstile::is_sitekey(k))
                {
                    return Err(ConfigError::Range {
                        flag: "turnstile-sitekey",
                        reason: "a Turnstile site key (letters, digits, _ and -)",
                    });
                }
                Some(Turnstile {
                    secret,
                    sitekey,
                    verify_url,
                })
            }
        };
        let mut secrets = vec![key.clone()];
        secrets.extend(secret);
        secrets.extend(turnstile.as_ref().map(|t| t.secret.clone()));
        Ok(Settings {
            listen: flags.listen,
            upstream: upstream(&flags.upstream)?,
            key,
            origins: AllowList::new(origins),
            day_cap,
            month_cap: money("monthly-budget-usd", &flags.monthly_budget_usd)?,
            runs_per_hour: flags.runs_per_ip_per_hour,
            runs_per_day: flags.runs_per_ip_per_day,
            burst: burst_rate(flags.runs_per_minute, day_cap, fallback_price),
            polls_per_second: flags.polls_per_ip_per_second,
            uploads_per_hour: flags.uploads_per_ip_per_hour,
            upload_bytes_per_day: flags.upload_mb_per_ip_per_day.saturating_mul(1024 * 1024),
            max_running: flags.max_running,
            fallback_price,
            redis: flags.redis.filter(|r| !r.trim().is_empty()),
            redis_prefix: flags.redis_prefix,
            paused: flags.paused,
            trusted: TrustedProxies::new(networks("trust-proxy", &flags.trust_proxies)?),
            metrics_from: networks("metrics-from", &flags.metrics_from)?,
            signer,
            secrets,
            upstream_timeout: Duration::from_secs(flags.upstream_timeout_s),
            turnstile,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line as the Worker sees it: through run-local's variables.
    fn through_the_worker(args: &[&str], key: &str) -> Result<Settings, String> {
        use clap::CommandFactory;
        let matches = Flags::command()
            .try_get_matches_from(args)
            .map_err(|e| e.to_string())?;
        let mut vars = vars_of(&matches)?;
        vars.push(("WAVESPEED_API_KEY".into(), key.into()));
        from_vars(|name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_worker_reads_the_flags_own_variables_through_the_flags_own_checks() {
        let args = [
            "multishot-proxy",
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "https://b.example",
            "--daily-budget-usd",
            "0.49",
            "--runs-per-minute",
            "9",
            "--trust-proxy",
            "127.0.0.1",
            "--paused",
            "--turnstile-secret",
            "s3cret",
        ];
        let direct = Settings::from_flags(
            Flags::try_parse_from(args).unwrap(),
            Some("wsk_k".into()),
            None,
        )
        .unwrap();
        let worker = through_the_worker(&args, "wsk_k").unwrap();
        // Everything but where it listens (the platform's) is the same.
        assert_eq!(
            format!("{worker:?}").replace(&worker.listen.to_string(), ""),
            format!("{direct:?}").replace(&direct.listen.to_string(), "")
        );
        assert_eq!(worker.origins.iter().count(), 2);
        assert!(worker.paused);
        assert_eq!(worker.day_cap, Micros(490_000));
        assert_eq!(worker.burst.count, 9);
        assert_eq!(
            worker.signer.sign("t", 1),
            direct.signer.sign("t", 1),
            "tokens agree"
        );
        // Defaults are the binary's; a switch's variable reads as clap reads it.
        let plain = from_vars(|name| match name {
            "WAVESPEED_API_KEY" => Some("wsk_k".into()),
            "MULTISHOT_ALLOW_ORIGINS" => Some("https://a.example,https://b.example".into()),
            "MULTISHOT_PAUSED" => Some("false".into()),
            _ => None,
        })
        .unwrap();
        assert!(!plain.paused);
        assert_eq!(plain.day_cap, Micros(5_000_000));
        assert_eq!(plain.origins.iter().count(), 2);
    }

    #[test]
    fn the_worker_refuses_what_the_binary_refuses_and_what_has_no_meaning_there() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let no_key = from_vars(vars(&[("MULTISHOT_ALLOW_ORIGINS", "https://a.example")]));
        assert!(no_key.unwrap_err().contains("no API key"));
        let no_origin = from_vars(vars(&[("WAVESPEED_API_KEY", "k")]));
        assert!(no_origin.unwrap_err().contains("no allowed origin"));
        let bad = from_vars(vars(&[
            ("WAVESPEED_API_KEY", "k"),
            ("MULTISHOT_ALLOW_ORIGINS", "https://a.example"),
            ("MULTISHOT_DAILY_BUDGET_USD", "five"),
        ]));
        assert!(bad.unwrap_err().contains("daily-budget-usd"));
        for name in [
            "MULTISHOT_REDIS",
            "WAVESPEED_API_KEY_FILE",
            "MULTISHOT_LISTEN",
        ] {
            let refused = from_vars(|n| match n {
                "WAVESPEED_API_KEY" => Some("k".into()),
                "MULTISHOT_ALLOW_ORIGINS" => Some("https://a.example".into()),
                n if n == name => Some("x".into()),
                _ => None,
            });
            assert!(refused.unwrap_err().starts_with(name), "{name}");
        }
        let redis = through_the_worker(
            &[
                "multishot-proxy",
                "--allow-origin",
                "https://a.example",
                "--redis",
                "redis://x",
            ],
            "k",
        );
        assert!(redis.unwrap_err().contains("Durable Objects"));
    }

    #[test]
    fn the_bot_check_is_on_with_a_secret_and_checks_its_addresses() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["multishot-proxy", "--allow-origin", "https://shop.example"];
            args.extend_from_slice(extra);
            Settings::from_flags(Flags::try_parse_from(args).unwrap(), Some("k".into()), None)
        };
        assert!(parse(&[]).unwrap().turnstile.is_none(), "off by default");
        let on = parse(&["--turnstile-secret", " s3cret "]).unwrap();
        let turnstile = on.turnstile.as_ref().unwrap();
        assert_eq!(turnstile.secret, "s3cret");
        assert_eq!(turnstile.verify_url, crate::bot_check::SITEVERIFY_URL);
        assert!(
            on.secrets.contains(&"s3cret".to_owned()),
            "redacted from logs"
        );
        assert!(
            !format!("{turnstile:?}").contains("s3cret"),
            "never printed"
        );
        for bad in [
            "http://verify.example/x",
            "ftp://x",
            "https://",
            "https://a b/",
        ] {
            assert!(
                parse(&["--turnstile-secret", "s", "--turnstile-verify-url", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(parse(&[
            "--turnstile-secret",
            "s",
            "--turnstile-verify-url",
            "http://127.0.0.1:9/v"
        ])
        .is_ok());
        assert!(parse(&["--turnstile-secret", "s", "--turnstile-sitekey", "<script>"]).is_err());
    }

    #[test]
    fn the_burst_spreads_a_days_budget_over_six_hours_unless_given() {
        // $5 at $0.07: 71 runs, three at once, then one every 6 h / 71.
        let rate = burst_rate(None, Micros(5_000_000), Micros(70_000));
        assert_eq!(rate.count, BURST_AT_ONCE);
        assert_eq!(rate.emission_ms(), (6 * 3_600_000_u64).div_ceil(71));
        // Starting the whole day's budget takes at least six hours, less the burst.
        assert!(rate.emission_ms() * (71 - 3) >= 6 * 3_600_000 * 68 / 71);
        // A budget of two runs: both at once, never more than the day holds.
        let small = burst_rate(None, Micros(140_000), Micros(70_000));
        assert_eq!((small.count, small.emission_ms()), (2, 3 * 3_600_000));
        // A budget below one run still has a rate (the budget refuses it).
        assert_eq!(burst_rate(None, Micros(1), Micros(70_000)).count, 1);
        // Given: so many a minute.
        let given = burst_rate(Some(12), Micros(5_000_000), Micros(70_000));
        assert_eq!((given.count, given.period_ms), (12, 60_000));
    }

    fn flags(args: &[&str]) -> Flags {
        let mut all = vec!["multishot-proxy"];
        all.extend_from_slice(args);
        Flags::try_parse_from(all).expect("flags parse")
    }

    fn settings(args: &[&str]) -> Result<Settings, ConfigError> {
        Settings::from_flags(flags(args), Some("wsk_live_test".into()), None)
    }

    #[test]
    fn it_starts_with_a_key_and_one_origin_and_nothing_else() {
        let s = settings(&["--allow-origin", "https://www.example.com"]).expect("valid");
        assert_eq!(s.upstream, "https://api.wavespeed.ai");
        assert_eq!(s.day_cap, Micros(5_000_000));
        assert_eq!(s.month_cap, Micros(50_000_000));
        assert_eq!(s.fallback_price, Micros(70_000));
        assert_eq!(s.listen.to_string(), "127.0.0.1:8788");
        assert!(s.redis.is_none() && !s.paused && s.max_running.is_none());
    }

    #[test]
    fn no_key_or_no_origin_is_refused_by_name() {
        let no_key =
            Settings::from_flags(flags(&["--allow-origin", "https://a.example"]), None, None);
        assert_eq!(no_key.map(|_| ()), Err(ConfigError::NoKey));
        let blank = Settings::from_flags(
            flags(&["--allow-origin", "https://a.example"]),
            Some("  ".into()),
            None,
        );
        assert_eq!(blank.map(|_| ()), Err(ConfigError::NoKey));
        assert_eq!(settings(&[]).map(|_| ()), Err(ConfigError::NoOrigin));
        let bad = settings(&["--allow-origin", "https://a.example/path"]);
        assert!(matches!(bad, Err(ConfigError::Origin(_))));
    }

    #[test]
    fn every_flag_of_the_contract_is_read() {
        let s = settings(&[
            "--listen",
            "0.0.0.0:9000",
            "--upstream",
            "http://127.0.0.1:8787/",
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "https://b.example",
            "--daily-budget-usd",
            "1.40",
            "--monthly-budget-usd",
            "20",
            "--runs-per-ip-per-hour",
            "3",
            "--price-usd",
            "0.08",
            "--redis",
            "redis://127.0.0.1:6379/0",
            "--paused",
            "--max-running",
            "2",
            "--trust-proxy",
            "10.0.0.0/8",
            "--trust-proxy",
            "192.0.2.1",
        ])
        .expect("valid");
        assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.upstream, "http://127.0.0.1:8787");
        assert_eq!(s.origins.iter().count(), 2);
        assert_eq!(s.day_cap, Micros(1_400_000));
        assert_eq!(s.month_cap, Micros(20_000_000));
        assert_eq!(s.runs_per_hour, 3);
        assert_eq!(s.fallback_price, Micros(80_000));
        assert_eq!(s.redis.as_deref(), Some("redis://127.0.0.1:6379/0"));
        assert!(s.paused);
        assert_eq!(s.max_running, Some(2));
    }

    #[test]
    fn bad_values_name_their_flag() {
        let origin = ["--allow-origin", "https://a.example"];
        let with = |extra: &[&str]| {
            let mut args = origin.to_vec();
            args.extend_from_slice(extra);
            settings(&args).map(|_| ()).map_err(|e| e.to_string())
        };
        assert!(with(&["--daily-budget-usd", "five"])
            .is_err_and(|e| e.starts_with("--daily-budget-usd")));
        assert!(with(&["--price-usd=-1"]).is_err_and(|e| e.starts_with("--price-usd")));
        for upstream in [
            "http://api.wavespeed.ai",
            "ftp://x",
            "https://a.example/api",
            "https://",
        ] {
            assert!(
                with(&["--upstream", upstream]).is_err_and(|e| e.starts_with("--upstream")),
                "{upstream}"
            );
        }
        assert!(
            with(&["--trust-proxy", "10.0.0.0/33"]).is_err_and(|e| e.starts_with("--trust-proxy"))
        );
        assert!(with(&["--max-running", "0"]).is_err_and(|e| e.starts_with("--max-running")));
        assert!(with(&["--price-usd", "0"]).is_err_and(|e| e.starts_with("--price-usd")));
    }

    #[test]
    fn the_token_secret_is_shared_and_long_enough() {
        let f = flags(&["--allow-origin", "https://a.example"]);
        let short = Settings::from_flags(f.clone(), Some("k".into()), Some("short".into()));
        assert!(matches!(short, Err(ConfigError::Secret { .. })));
        let a =
            Settings::from_flags(f.clone(), Some("k".into()), Some("s".repeat(32))).expect("valid");
        let b =
            Settings::from_flags(f, Some("other key".into()), Some("s".repeat(32))).expect("valid");
        let token = a.signer.sign("abc123", 0).expect("an id");
        assert_eq!(b.signer.verify(&token, 1), Ok("abc123".into()));
        assert!(a.secrets.contains(&"k".to_owned()) && a.secrets.contains(&"s".repeat(32)));
    }
}
