//! Money as whole micro-dollars (millionths of a US dollar), never floating point: a
//! price of $0.07 is 70,000 µ$, a daily budget of $5 is 5,000,000 µ$, and every sum,
//! cap and refund is exact integer arithmetic.

use std::fmt;
use std::str::FromStr;

/// An amount of US dollars in micro-dollars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub u64);

/// Micro-dollars in one dollar.
pub const PER_DOLLAR: u64 = 1_000_000;

/// Why a text is not an amount of dollars.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal number such as `5`, `0.07` or `12.50`.
    #[error("“{0}” is not an amount in dollars (write it like 5 or 0.07)")]
    NotDecimal(String),
    /// Finer than a micro-dollar (more than six decimals).
    #[error("“{0}” has more than six decimals; amounts are kept to the micro-dollar")]
    TooPrecise(String),
    /// Beyond what is ever spent ($1,000,000,000).
    #[error("“{0}” is too large")]
    TooLarge(String),
}

impl Micros {
    /// Zero dollars.
    pub const ZERO: Micros = Micros(0);

    /// `a + b`, or `None` past `u64::MAX`.
    pub fn checked_add(self, other: Micros) -> Option<Micros> {
        self.0.checked_add(other.0).map(Micros)
    }

    /// `a - b`, floored at zero.
    pub fn saturating_sub(self, other: Micros) -> Micros {
        Micros(self.0.saturating_sub(other.0))
    }

    /// `self × n`, or `None` past `u64::MAX`.
    pub fn checked_mul(self, n: u64) -> Option<Micros> {
        self.0.checked_mul(n).map(Micros)
    }

    /// Parses a decimal amount of dollars as WaveSpeed's pricing reply or a flag gives
    /// it (`0.07`, `5`, `1e-2`), rounding **up** to the micro-dollar, so a price is never
    /// under-counted against a budget. Refuses negatives, NaN and absurd sizes.
    pub fn from_json_number(text: &str) -> Result<Micros, MoneyError> {
        json_number(text, Round::Up)
    }

    /// Parses an account's balance as WaveSpeed's balance reply gives it, rounding
    /// **down** to the micro-dollar, so a balance is never over-stated; a negative
    /// balance (an account in debt) is zero.
    pub fn balance_from_json_number(text: &str) -> Result<Micros, MoneyError> {
        match text.trim().strip_prefix('-') {
            Some(debt) => json_number(debt, Round::Down).map(|_| Micros::ZERO),
            None => json_number(text, Round::Down),
        }
    }
}

/// Which way digits finer than a micro-dollar go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Round {
    Up,
    Down,
}

/// A JSON number's text (`0.07`, `5`, `7e-2`) in micro-dollars, rounded as `round` says.
fn json_number(text: &str, round: Round) -> Result<Micros, MoneyError> {
    let text = text.trim();
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (
            m,
            e.parse::<i32>()
                .map_err(|_| MoneyError::NotDecimal(text.into()))?,
        ),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_ok(whole) || !digits_ok(fraction) {
        return Err(MoneyError::NotDecimal(text.into()));
    }
    // value = digits × 10^(exponent − fraction.len()); in micros: × 10^6.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let scale = i64::from(exponent) - fraction.len() as i64 + 6;
    if digits.is_empty() {
        return Ok(Micros::ZERO);
    }
    if digits.len() as i64 + scale > 16 {
        return Err(MoneyError::TooLarge(text.into()));
    }
    if scale >= 0 {
        let n: u64 = digits
            .parse()
            .map_err(|_| MoneyError::TooLarge(text.into()))?;
        return n
            .checked_mul(10u64.pow(scale as u32))
            .map(Micros)
            .ok_or_else(|| MoneyError::TooLarge(text.into()));
    }
    // Digits finer than a micro-dollar: rounded up (a price) or dropped (a balance).
    let cut = (-scale) as usize;
    let up = |dropped: &str| u64::from(round == Round::Up && dropped.bytes().any(|b| b != b'0'));
    if cut >= digits.len() {
        return Ok(Micros(up(digits)));
    }
    let (kept, dropped) = digits.split_at(digits.len() - cut);
    let kept: u64 = kept
        .parse()
        .map_err(|_| MoneyError::TooLarge(text.into()))?;
    Ok(Micros(kept + up(dropped)))
}

impl FromStr for Micros {
    type Err = MoneyError;

    /// A flag's amount: a plain decimal with at most six decimals (`5`, `0.07`, `12.5`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) {
            return Err(MoneyError::NotDecimal(text.into()));
        }
        if fraction.len() > 6 {
            return Err(MoneyError::TooPrecise(text.into()));
        }
        let whole: u64 = whole
            .parse()
            .map_err(|_| MoneyError::TooLarge(text.into()))?;
        if whole > 1_000_000_000 {
            return Err(MoneyError::TooLarge(text.into()));
        }
        let fraction: u64 = format!("{fraction:0<6}")
            .parse()
            .map_err(|_| MoneyError::NotDecimal(text.into()))?;
        Ok(Micros(whole * PER_DOLLAR + fraction))
    }
}

impl Micros {
    /// The amount as a plain decimal — `0.07`, `5.00`, `0.000001` — as a JSON number
    /// carries it exactly (cents always, more digits only when there are any).
    pub fn decimal(self) -> String {
        let (dollars, micros) = (self.0 / PER_DOLLAR, self.0 % PER_DOLLAR);
        let mut fraction = format!("{micros:06}");
        while fraction.len() > 2 && fraction.ends_with('0') {
            fraction.pop();
        }
        format!("{dollars}.{fraction}")
    }
}

impl fmt::Display for Micros {
    /// `$0.07`, `$5.00`, `$0.000001`: [`Micros::decimal`] after a dollar sign.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.decimal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flags_are_exact() {
        assert_eq!("0.07".parse(), Ok(Micros(70_000)));
        assert_eq!("5".parse(), Ok(Micros(5_000_000)));
        assert_eq!("12.5".parse(), Ok(Micros(12_500_000)));
        assert_eq!("0.000001".parse(), Ok(Micros(1)));
        assert_eq!("0".parse(), Ok(Micros(0)));
        assert!(matches!(
            "0.0000001".parse::<Micros>(),
            Err(MoneyError::TooPrecise(_))
        ));
        for bad in ["", "-1", "1,5", "$5", "1e3", "0x10", " . ", "NaN", "inf"] {
            assert!(bad.parse::<Micros>().is_err(), "{bad}");
        }
        assert!(matches!(
            "99999999999".parse::<Micros>(),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn prices_round_up_to_the_micro_dollar() {
        assert_eq!(Micros::from_json_number("0.07"), Ok(Micros(70_000)));
        assert_eq!(Micros::from_json_number("7e-2"), Ok(Micros(70_000)));
        assert_eq!(Micros::from_json_number("0.0700001"), Ok(Micros(70_001)));
        assert_eq!(Micros::from_json_number("0.07000000"), Ok(Micros(70_000)));
        assert_eq!(Micros::from_json_number("1E1"), Ok(Micros(10_000_000)));
        assert_eq!(Micros::from_json_number("0.0000000001"), Ok(Micros(1)));
        assert_eq!(Micros::from_json_number("0"), Ok(Micros(0)));
        for bad in ["-0.07", "abc", "", "1e", ".", "1e999999999999"] {
            assert!(Micros::from_json_number(bad).is_err(), "{bad}");
        }
        assert!(Micros::from_json_number("1e30").is_err());
    }

    #[test]
    fn balances_round_down_and_debt_is_zero() {
        assert_eq!(
            Micros::balance_from_json_number("12.4"),
            Ok(Micros(12_400_000))
        );
        assert_eq!(
            Micros::balance_from_json_number("0.0699999"),
            Ok(Micros(69_999))
        );
        assert_eq!(Micros::balance_from_json_number("0.0000009"), Ok(Micros(0)));
        assert_eq!(
            Micros::balance_from_json_number("1.24e1"),
            Ok(Micros(12_400_000))
        );
        assert_eq!(Micros::balance_from_json_number("-3.5"), Ok(Micros::ZERO));
        assert_eq!(Micros::balance_from_json_number("0"), Ok(Micros::ZERO));
        for bad in ["", "-", "--1", "abc", "1e30", "-x"] {
            assert!(Micros::balance_from_json_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_read_as_dollars() {
        assert_eq!(Micros(70_000).to_string(), "$0.07");
        assert_eq!(Micros(5_000_000).to_string(), "$5.00");
        assert_eq!(Micros(1).to_string(), "$0.000001");
        assert_eq!(Micros(12_340_000).to_string(), "$12.34");
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(micros in 0u64..1_000_000_000_000_000) {
            let text = Micros(micros).to_string();
            prop_assert_eq!(text[1..].parse::<Micros>(), Ok(Micros(micros)));
            prop_assert_eq!(Micros::from_json_number(&text[1..]), Ok(Micros(micros)));
        }
    }
}
