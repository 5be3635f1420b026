//! `/metrics` in the Prometheus text format (version 0.0.4): counters of requests by
//! route and status, submits by outcome and limits hit by limit; a histogram of
//! upstream latency by route; and, read from the store at each scrape, the spend
//! reserved and used today and this month, the tasks running, the caps and the price.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::limits::Spend;
use crate::money::Micros;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// The routes counted: the three API paths (requests and upstream calls).
const ROUTES: [&str; 3] = ["upload", "submit", "poll"];
/// Statuses are counted per route in a flat table of counters (no lock per request).
const STATUSES: usize = 600;

fn route_index(route: &str) -> usize {
    ROUTES.iter().position(|r| *r == route).unwrap_or(2)
}

/// A latency histogram with lock-free counters.
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }
    }
}

/// The proxy's counters, shared by every request. The per-request ones are atomics;
/// the rare ones (submits, limits) sit behind a lock.
pub struct Metrics {
    requests: Box<[AtomicU64]>,
    submits: Mutex<BTreeMap<&'static str, u64>>,
    limits: Mutex<BTreeMap<&'static str, u64>>,
    upstream: [Histogram; ROUTES.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: (0..ROUTES.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            submits: Mutex::default(),
            limits: Mutex::default(),
            upstream: Default::default(),
        }
    }
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    *map.entry(key).or_default() += 1;
}

/// A copy of a map, so the lock is not held while writing.
fn copy<K: Clone + Ord, V: Clone>(map: &Mutex<BTreeMap<K, V>>) -> BTreeMap<K, V> {
    map.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// What is read from the store and the settings at scrape time.
pub struct Snapshot {
    /// Today's and this month's spend; `None` when the store is down.
    pub spend: Option<Spend>,
    /// The daily cap.
    pub day_cap: Micros,
    /// The monthly cap.
    pub month_cap: Micros,
    /// The price of a run now.
    pub price: Micros,
    /// Submits refused by the kill switch.
    pub paused: bool,
    /// The runs limits: per visitor per hour and per day, and the runs started across
    /// all visitors (`--runs-per-minute`: so many at once, one more every so often).
    pub run_limits: RunLimits,
    /// Runs the site-wide limit would start now; `None` when the store is down.
    pub burst_left: Option<u32>,
}

/// The run limits as configured, for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunLimits {
    /// Per visitor per hour.
    pub per_ip_per_hour: u32,
    /// Per visitor per 24 hours.
    pub per_ip_per_day: u32,
    /// Site-wide: at once.
    pub burst_at_once: u32,
    /// Site-wide: one more every this many milliseconds.
    pub burst_every_ms: u64,
}

impl Metrics {
    /// A request answered on `route` with `status`.
    pub fn request(&self, route: &'static str, status: u16) {
        let index = route_index(route) * STATUSES + usize::from(status).min(STATUSES - 1);
        self.requests[index].fetch_add(1, Ordering::Relaxed);
    }

    /// A submit ended: `accepted`, `refused` (by a limit or a check) or `failed`
    /// (upstream error or no reply).
    pub fn submit(&self, outcome: &'static str) {
        bump(&self.submits, outcome);
    }

    /// A limit refused a request.
    pub fn limit_hit(&self, limit: &'static str) {
        bump(&self.limits, limit);
    }

    /// An upstream call on `route` took `elapsed`.
    pub fn upstream(&self, route: &'static str, elapsed: Duration) {
        let h = &self.upstream[route_index(route)];
        let seconds = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_ns.fetch_add(
            elapsed.as_nanos().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// The whole exposition.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(out, "# HELP multishot_proxy_requests_total Requests answered, by route and HTTP status.\n# TYPE multishot_proxy_requests_total counter");
        for (i, n) in self.requests.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                let (route, status) = (ROUTES[i / STATUSES], i % STATUSES);
                let _ = writeln!(
                    out,
                    "multishot_proxy_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# HELP multishot_proxy_submits_total Submits, by outcome: accepted (a task was made), refused (a limit or a check), failed (upstream error or no reply).\n# TYPE multishot_proxy_submits_total counter");
        for (outcome, n) in copy(&self.submits) {
            let _ = writeln!(
                out,
                "multishot_proxy_submits_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP multishot_proxy_limits_hit_total Requests refused by a limit, by limit.\n# TYPE multishot_proxy_limits_hit_total counter");
        for (limit, n) in copy(&self.limits) {
            let _ = writeln!(
                out,
                "multishot_proxy_limits_hit_total{{limit=\"{limit}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP multishot_proxy_upstream_seconds Time WaveSpeed took to answer, by route.\n# TYPE multishot_proxy_upstream_seconds histogram");
        for (route, h) in ROUTES.iter().zip(&self.upstream) {
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "multishot_proxy_upstream_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i].load(Ordering::Relaxed)
                );
            }
            let sum = h.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "multishot_proxy_upstream_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}\nmultishot_proxy_upstream_seconds_sum{{route=\"{route}\"}} {sum}\nmultishot_proxy_upstream_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        let gauge = |out: &mut String, name: &str, help: &str, lines: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        if let Some(spend) = snapshot.spend {
            gauge(
                &mut out,
                "multishot_proxy_spend_reserved_micro_usd",
                "Spend counted against the cap (running and finished runs, refunds taken off), in micro-dollars.",
                &[
                    ("{period=\"day\"}", spend.day_reserved.0),
                    ("{period=\"month\"}", spend.month_reserved.0),
                ],
            );
            gauge(
                &mut out,
                "multishot_proxy_spend_used_micro_usd",
                "Spend of runs that finished and were not refunded, in micro-dollars.",
                &[
                    ("{period=\"day\"}", spend.day_used.0),
                    ("{period=\"month\"}", spend.month_used.0),
                ],
            );
            gauge(
                &mut out,
                "multishot_proxy_running_tasks",
                "Tasks submitted and not yet seen finished.",
                &[("", spend.running)],
            );
        }
        gauge(
            &mut out,
            "multishot_proxy_store_up",
            "1 when the limit store answers.",
            &[("", u64::from(snapshot.spend.is_some()))],
        );
        gauge(
            &mut out,
            "multishot_proxy_budget_micro_usd",
            "The spend caps, in micro-dollars.",
            &[
                ("{period=\"day\"}", snapshot.day_cap.0),
                ("{period=\"month\"}", snapshot.month_cap.0),
            ],
        );
        gauge(
            &mut out,
            "multishot_proxy_price_micro_usd",
            "The price of one run, in micro-dollars.",
            &[("", snapshot.price.0)],
        );
        let limits = snapshot.run_limits;
        gauge(
            &mut out,
            "multishot_proxy_run_limit",
            "The run limits: per visitor an hour and a day, and across all visitors at once and one more every so many milliseconds.",
            &[
                ("{limit=\"per_ip_per_hour\"}", u64::from(limits.per_ip_per_hour)),
                ("{limit=\"per_ip_per_day\"}", u64::from(limits.per_ip_per_day)),
                ("{limit=\"burst_at_once\"}", u64::from(limits.burst_at_once)),
                ("{limit=\"burst_every_ms\"}", limits.burst_every_ms),
            ],
        );
        if let Some(left) = snapshot.burst_left {
            gauge(
                &mut out,
                "multishot_proxy_burst_runs_left",
                "Runs the site-wide limit (--runs-per-minute) would start now; 0 during a flood.",
                &[("", u64::from(left))],
            );
        }
        gauge(
            &mut out,
            "multishot_proxy_paused",
            "1 when submits are refused by --paused.",
            &[("", u64::from(snapshot.paused))],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_series() {
        let m = Metrics::default();
        m.request("poll", 200);
        m.request("poll", 200);
        m.request("submit", 429);
        m.submit("accepted");
        m.limit_hit("daily_budget");
        m.upstream("poll", Duration::from_millis(3));
        let text = m.render(&Snapshot {
            spend: Some(Spend {
                day_reserved: Micros(140_000),
                day_used: Micros(70_000),
                month_reserved: Micros(210_000),
                month_used: Micros(70_000),
                running: 1,
            }),
            day_cap: Micros(5_000_000),
            month_cap: Micros(50_000_000),
            price: Micros(70_000),
            paused: false,
            run_limits: RunLimits {
                per_ip_per_hour: 5,
                per_ip_per_day: 20,
                burst_at_once: 3,
                burst_every_ms: 60_000,
            },
            burst_left: Some(2),
        });
        for line in [
            "multishot_proxy_requests_total{route=\"poll\",status=\"200\"} 2",
            "multishot_proxy_requests_total{route=\"submit\",status=\"429\"} 1",
            "multishot_proxy_submits_total{outcome=\"accepted\"} 1",
            "multishot_proxy_limits_hit_total{limit=\"daily_budget\"} 1",
            "multishot_proxy_upstream_seconds_bucket{route=\"poll\",le=\"0.0025\"} 0",
            "multishot_proxy_upstream_seconds_bucket{route=\"poll\",le=\"0.005\"} 1",
            "multishot_proxy_upstream_seconds_bucket{route=\"poll\",le=\"+Inf\"} 1",
            "multishot_proxy_upstream_seconds_count{route=\"poll\"} 1",
            "multishot_proxy_spend_reserved_micro_usd{period=\"day\"} 140000",
            "multishot_proxy_spend_used_micro_usd{period=\"month\"} 70000",
            "multishot_proxy_running_tasks 1",
            "multishot_proxy_store_up 1",
            "multishot_proxy_budget_micro_usd{period=\"day\"} 5000000",
            "multishot_proxy_price_micro_usd 70000",
            "multishot_proxy_paused 0",
            "multishot_proxy_run_limit{limit=\"per_ip_per_day\"} 20",
            "multishot_proxy_run_limit{limit=\"burst_every_ms\"} 60000",
            "multishot_proxy_burst_runs_left 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        // Every sample line belongs to a declared metric.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{name} has no TYPE"
            );
        }
    }

    #[test]
    fn a_store_that_is_down_is_reported() {
        let text = Metrics::default().render(&Snapshot {
            spend: None,
            day_cap: Micros(1),
            month_cap: Micros(1),
            price: Micros(1),
            paused: true,
            run_limits: RunLimits::default(),
            burst_left: None,
        });
        assert!(text.contains("multishot_proxy_store_up 0"));
        assert!(text.contains("multishot_proxy_paused 1"));
        assert!(!text.contains("spend_reserved"));
    }
}
