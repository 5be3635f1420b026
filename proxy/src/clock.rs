//! Calendar arithmetic for budgets that reset at 00:00 UTC each day and on the first of
//! each month, from Unix time alone (no time zone database, no clock inside: every
//! function takes `now`).

/// One UTC day or month, named for counter keys (`2026-11-26`, `2026-11`), with when it
/// ends.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Period {
    /// `YYYY-MM-DD` for a day, `YYYY-MM` for a month.
    pub name: String,
    /// Unix seconds at which the next period starts.
    pub ends_at: u64,
}

impl Period {
    /// Seconds from `now` until this period ends (at least 1).
    pub fn seconds_left(&self, now_s: u64) -> u64 {
        self.ends_at.saturating_sub(now_s).max(1)
    }
}

/// The civil date (year, month 1–12, day 1–31) of a day number since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number since 1970-01-01 of a civil date (Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC day that `now_s` (Unix seconds) falls in.
pub fn day(now_s: u64) -> Period {
    let days = (now_s / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    Period {
        name: format!("{y:04}-{m:02}-{d:02}"),
        ends_at: (days as u64 + 1) * 86_400,
    }
}

/// The UTC month that `now_s` (Unix seconds) falls in.
pub fn month(now_s: u64) -> Period {
    let (y, m, _) = civil_from_days((now_s / 86_400) as i64);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Period {
        name: format!("{y:04}-{m:02}"),
        ends_at: days_from_civil(ny, nm, 1) as u64 * 86_400,
    }
}

/// An ISO 8601 UTC timestamp of Unix seconds, for logs.
pub fn iso8601(now_s: u64) -> String {
    let (y, m, d) = civil_from_days((now_s / 86_400) as i64);
    let rem = now_s % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 2026-11-26T06:35:41Z
    const NOW: u64 = 1_795_674_941;

    #[test]
    fn days_and_months_are_named_and_end_at_midnight_utc() {
        assert_eq!(day(NOW).name, "2026-11-26");
        assert_eq!(iso8601(day(NOW).ends_at), "2026-11-27T00:00:00Z");
        assert_eq!(month(NOW).name, "2026-11");
        assert_eq!(iso8601(month(NOW).ends_at), "2026-12-01T00:00:00Z");
        assert_eq!(day(NOW).seconds_left(NOW), 17 * 3600 + 24 * 60 + 19);
    }

    #[test]
    fn year_ends_and_leap_days() {
        let dec31 = days_from_civil(2026, 12, 31) as u64 * 86_400 + 5;
        assert_eq!(month(dec31).name, "2026-12");
        assert_eq!(iso8601(month(dec31).ends_at), "2027-01-01T00:00:00Z");
        let feb29 = days_from_civil(2028, 2, 29) as u64 * 86_400;
        assert_eq!(day(feb29).name, "2028-02-29");
        assert_eq!(iso8601(month(feb29).ends_at), "2028-03-01T00:00:00Z");
        assert_eq!(day(0).name, "1970-01-01");
    }

    proptest! {
        #[test]
        fn civil_dates_round_trip(days in 0i64..200_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn now_is_inside_its_periods(now in 0u64..6_000_000_000) {
            prop_assert!(day(now).ends_at > now && day(now).ends_at - now <= 86_400);
            let m = month(now);
            prop_assert!(m.ends_at > now && m.ends_at - now <= 31 * 86_400);
            prop_assert!(m.ends_at >= day(now).ends_at);
        }
    }
}
