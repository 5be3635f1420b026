//! The generic cell rate algorithm (GCRA): a rate of `count` requests per `period`,
//! allowing `count` at once and then one every `period / count`, kept as one number
//! per key — the theoretical arrival time (TAT) of the next request. The Redis store
//! runs the same arithmetic in a script.

use super::Decision;

/// `count` requests per `period_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rate {
    /// Requests allowed per period (and at once).
    pub count: u32,
    /// The period, in milliseconds.
    pub period_ms: u64,
}

impl Rate {
    /// `count` per hour.
    pub const fn per_hour(count: u32) -> Rate {
        Rate {
            count,
            period_ms: 3_600_000,
        }
    }

    /// `count` per 24 hours.
    pub const fn per_day(count: u32) -> Rate {
        Rate {
            count,
            period_ms: 86_400_000,
        }
    }

    /// `count` per second.
    pub const fn per_second(count: u32) -> Rate {
        Rate {
            count,
            period_ms: 1_000,
        }
    }

    /// The spacing between requests at the steady rate (at least 1 ms).
    pub fn emission_ms(self) -> u64 {
        (self.period_ms / u64::from(self.count.max(1))).max(1)
    }

    /// How far ahead of the steady rate a burst may run: `count − 1` emissions.
    pub fn tolerance_ms(self) -> u64 {
        self.emission_ms() * u64::from(self.count.max(1) - 1)
    }
}

/// One request at `now_ms` against a key whose TAT is `tat_ms` (none: never seen).
/// Returns the decision and the TAT to store (unchanged when refused).
pub fn take(tat_ms: Option<u64>, rate: Rate, now_ms: u64) -> (Decision, Option<u64>) {
    if rate.count == 0 {
        return (
            Decision::Refused {
                retry_after_ms: rate.period_ms,
            },
            tat_ms,
        );
    }
    let tat = tat_ms.unwrap_or(now_ms).max(now_ms);
    let allow_at = tat.saturating_sub(rate.tolerance_ms());
    if now_ms < allow_at {
        return (
            Decision::Refused {
                retry_after_ms: allow_at - now_ms,
            },
            tat_ms,
        );
    }
    (Decision::Allowed, Some(tat + rate.emission_ms()))
}

/// Gives back one request that [`take`] allowed, for a key whose TAT is `tat_ms`:
/// the TAT moves back one emission, never before `now_ms` (nothing is given back that
/// was not taken). Returns the TAT to store; `None` when nothing is left to keep.
pub fn give_back(tat_ms: Option<u64>, rate: Rate, now_ms: u64) -> Option<u64> {
    tat_ms?
        .checked_sub(rate.emission_ms())
        .filter(|&back| back > now_ms)
}

/// What a rate has left for a key now, without taking anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Left {
    /// How many requests [`take`] would allow now, one after the other (`0..=count`).
    pub count: u32,
    /// When `count` is 0: milliseconds until the next one is allowed.
    pub retry_after_ms: u64,
}

/// What [`take`] would allow now for a key whose TAT is `tat_ms`: the same arithmetic,
/// read only (the proxy's `/quota` tells a visitor their runs left with it).
pub fn left(tat_ms: Option<u64>, rate: Rate, now_ms: u64) -> Left {
    if rate.count == 0 {
        return Left {
            count: 0,
            retry_after_ms: rate.period_ms,
        };
    }
    let tat = tat_ms.unwrap_or(now_ms).max(now_ms);
    let reach = now_ms + rate.tolerance_ms();
    if reach < tat {
        return Left {
            count: 0,
            retry_after_ms: tat - reach,
        };
    }
    let count = ((reach - tat) / rate.emission_ms() + 1).min(u64::from(rate.count));
    Left {
        count: count as u32,
        retry_after_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_request_given_back_can_be_taken_again_and_no_more() {
        let rate = Rate::per_hour(2);
        let (_, tat) = take(None, rate, 0);
        let (_, tat) = take(tat, rate, 0);
        assert!(matches!(take(tat, rate, 0).0, Decision::Refused { .. }));
        let tat = give_back(tat, rate, 0);
        assert_eq!(left(tat, rate, 0).count, 1);
        let (allowed, tat) = take(tat, rate, 0);
        assert_eq!(allowed, Decision::Allowed);
        // Given back three times: only what was taken comes back.
        let tat = give_back(give_back(give_back(tat, rate, 0), rate, 0), rate, 0);
        assert_eq!(tat, None);
        assert_eq!(left(tat, rate, 0).count, 2);
        assert_eq!(give_back(None, rate, 0), None);
    }

    #[test]
    fn a_burst_of_count_then_the_steady_rate() {
        let rate = Rate::per_hour(4); // one every 15 minutes, 4 at once
        let mut tat = None;
        for _ in 0..4 {
            let (d, t) = take(tat, rate, 0);
            assert_eq!(d, Decision::Allowed);
            tat = t;
        }
        let (d, _) = take(tat, rate, 0);
        assert_eq!(
            d,
            Decision::Refused {
                retry_after_ms: 900_000
            }
        );
        assert_eq!(
            take(tat, rate, 899_999).0,
            Decision::Refused { retry_after_ms: 1 }
        );
        assert_eq!(take(tat, rate, 900_000).0, Decision::Allowed);
    }

    #[test]
    fn a_zero_rate_refuses_everything() {
        assert!(matches!(
            take(None, Rate::per_hour(0), 5).0,
            Decision::Refused { .. }
        ));
    }

    #[test]
    fn left_counts_down_the_burst() {
        let rate = Rate::per_hour(4);
        assert_eq!(left(None, rate, 0).count, 4);
        let (_, tat) = take(None, rate, 0);
        assert_eq!(left(tat, rate, 0).count, 3);
        let (_, tat) = take(tat, rate, 0);
        let (_, tat) = take(tat, rate, 0);
        let (_, tat) = take(tat, rate, 0);
        assert_eq!(
            left(tat, rate, 0),
            Left {
                count: 0,
                retry_after_ms: 900_000
            }
        );
        assert_eq!(left(tat, rate, 900_000).count, 1);
        assert_eq!(
            left(tat, rate, 100 * 3_600_000).count,
            4,
            "never above the burst"
        );
        assert_eq!(left(None, Rate::per_hour(0), 0).count, 0);
    }

    proptest! {
        /// `left` is exactly how many successive `take`s at the same moment succeed,
        /// and when it is 0, its wait is the refusal's.
        #[test]
        fn left_is_what_take_would_allow(
            count in 0u32..12,
            period_ms in 1u64..100_000,
            arrivals in proptest::collection::vec(0u64..200_000, 0..30),
            probe in 0u64..300_000,
        ) {
            let rate = Rate { count, period_ms };
            let mut arrivals = arrivals;
            arrivals.sort_unstable();
            let mut tat = None;
            for now in arrivals.into_iter().filter(|t| *t <= probe) {
                if let (Decision::Allowed, t) = take(tat, rate, now) {
                    tat = t;
                }
            }
            let predicted = left(tat, rate, probe);
            let mut allowed = 0;
            let mut t = tat;
            let first = take(t, rate, probe).0;
            loop {
                match take(t, rate, probe) {
                    (Decision::Allowed, next) if allowed <= count => { allowed += 1; t = next; }
                    _ => break,
                }
            }
            prop_assert_eq!(predicted.count, allowed);
            if let Decision::Refused { retry_after_ms } = first {
                prop_assert_eq!(predicted.retry_after_ms, retry_after_ms);
            }
        }

        /// In any window of length `L`, no more than the burst plus the steady rate
        /// gets through (`count + ⌊L / emission⌋`), whatever the arrival times.
        #[test]
        fn never_more_than_burst_plus_steady_rate(
            count in 1u32..20,
            window in 1u64..3_000,
            mut arrivals in proptest::collection::vec(0u64..10_000, 1..200),
        ) {
            let rate = Rate { count, period_ms: 1_000 };
            arrivals.sort_unstable();
            let mut tat = None;
            let mut allowed = Vec::new();
            for now in arrivals {
                let (d, t) = take(tat, rate, now);
                if d == Decision::Allowed {
                    allowed.push(now);
                    tat = t;
                }
            }
            let bound = u64::from(count) + (window - 1) / rate.emission_ms();
            for (i, start) in allowed.iter().enumerate() {
                let in_window = allowed[i..].iter().take_while(|t| **t < start + window).count();
                prop_assert!(in_window as u64 <= bound, "{} in {} ms", in_window, window);
            }
        }
    }
}
