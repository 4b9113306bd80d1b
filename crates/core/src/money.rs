//! Money as an integer of minor units, currencies with their minor digits, and the one
//! rounding rule of Comptoir (half away from zero), written down here and nowhere else.

use crate::decimal::Fixed;
use std::fmt;

/// Largest absolute price accepted on the wire, in major units (spec: 10 000 000.00).
pub const MAX_MAJOR_UNITS: i64 = 10_000_000;

/// An amount in minor units (cents for EUR) of the shop's currency. Never a float.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// Wraps a number of minor units.
    pub const fn from_minor(minor: i64) -> Self {
        Money(minor)
    }

    /// The number of minor units.
    pub const fn minor(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The magnitude; `i64::MIN` (never a real amount) saturates.
    pub fn abs(self) -> Money {
        Money(self.0.saturating_abs())
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_neg(self) -> Option<Money> {
        self.0.checked_neg().map(Money)
    }

    /// Parses a decimal amount written with `.` or `,` (`14.50`, `14,50`, `-3`), with at
    /// most `digits` decimals and at most [`MAX_MAJOR_UNITS`] in absolute value.
    pub fn parse(text: &str, digits: u8) -> Result<Money, DecimalError> {
        if digits > 6 {
            return Err(DecimalError::TooManyDecimals(6));
        }
        let d = Decimal::parse(text, digits)?;
        let limit = MAX_MAJOR_UNITS * pow10(digits);
        if d.scaled.abs() > limit {
            return Err(DecimalError::TooLarge);
        }
        Ok(Money(d.scaled))
    }

    /// Formats with exactly `digits` decimals and a `.` separator: `29.40`, `-0.05`, `7`.
    pub fn format(self, digits: u8) -> String {
        format_scaled(self.0, digits)
    }

    /// A display helper that remembers the digits.
    pub fn display(self, digits: u8) -> MoneyDisplay {
        MoneyDisplay {
            money: self,
            digits,
        }
    }

    /// `self × numerator / denominator`, rounded half away from zero.
    pub fn mul_div(self, numerator: i64, denominator: i64) -> Option<Money> {
        let v = div_round_half_away(
            i128::from(self.0) * i128::from(numerator),
            i128::from(denominator),
        )?;
        i64::try_from(v).ok().map(Money)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

/// `Display` of an amount with a fixed number of decimals.
#[derive(Clone, Copy, Debug)]
pub struct MoneyDisplay {
    money: Money,
    digits: u8,
}

impl fmt::Display for MoneyDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Fixed::exact(self.money.0, self.digits), f)
    }
}

/// `n / d` rounded half away from zero; `None` when `d` is zero.
pub fn div_round_half_away(n: i128, d: i128) -> Option<i128> {
    if d == 0 {
        return None;
    }
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let q = n / d;
    let r = n % d;
    // |r| * 2 >= d means the fraction is at least one half: move away from zero.
    if r.abs() * 2 >= d {
        Some(if n < 0 { q - 1 } else { q + 1 })
    } else {
        Some(q)
    }
}

pub(crate) const fn pow10(digits: u8) -> i64 {
    let mut p = 1i64;
    let mut i = 0;
    while i < digits {
        p *= 10;
        i += 1;
    }
    p
}

/// Formats an integer scaled by `10^digits` as a decimal with exactly `digits` decimals.
pub fn format_scaled(scaled: i64, digits: u8) -> String {
    Fixed::exact(scaled, digits).to_string()
}

/// Formats an integer scaled by `10^digits` with trailing zeros of the fraction removed,
/// keeping at least one decimal (`20.0`, `5.5`, `2.1`): the way rates print in JSON.
pub fn format_scaled_trimmed(scaled: i64, digits: u8) -> String {
    Fixed::trimmed(scaled, digits).to_string()
}

/// A decimal parsed exactly: `scaled / 10^digits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    pub scaled: i64,
}

impl Decimal {
    /// Parses `[+-]digits[(.|,)digits]` with at most `digits` decimals (fewer are padded).
    /// Rejects exponents, spaces inside, empty parts and more than 15 integer digits.
    pub fn parse(text: &str, digits: u8) -> Result<Decimal, DecimalError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(DecimalError::Empty);
        }
        let (neg, body) = match t.as_bytes()[0] {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (int_part, frac_part) = match body.find(['.', ',']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
            return Err(DecimalError::NotANumber);
        }
        if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
            return Err(DecimalError::NotANumber);
        }
        let frac = frac_part.unwrap_or("");
        if digits > 18 {
            return Err(DecimalError::TooManyDecimals(18));
        }
        if frac.len() > usize::from(digits) {
            return Err(DecimalError::TooManyDecimals(digits));
        }
        let int_trimmed = int_part.trim_start_matches('0');
        if int_trimmed.len() > 15 {
            return Err(DecimalError::TooLarge);
        }
        let mut scaled: i64 = 0;
        for b in int_trimmed.bytes() {
            scaled = scaled * 10 + i64::from(b - b'0');
        }
        for i in 0..usize::from(digits) {
            let b = frac.as_bytes().get(i).copied().unwrap_or(b'0');
            scaled = scaled
                .checked_mul(10)
                .and_then(|s| s.checked_add(i64::from(b - b'0')))
                .ok_or(DecimalError::TooLarge)?;
        }
        Ok(Decimal {
            scaled: if neg { -scaled } else { scaled },
        })
    }
}

/// Why a decimal text was refused; the message completes "expected ...".
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("a number")]
    Empty,
    #[error("a decimal number such as 14.50")]
    NotANumber,
    #[error("at most {0} decimals")]
    TooManyDecimals(u8),
    #[error("a smaller amount (at most 10000000 in absolute value)")]
    TooLarge,
}

/// An ISO 4217 currency with its number of minor digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    digits: u8,
}

impl Currency {
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        digits: 2,
    };

    /// Parses a three-letter code; minor digits come from ISO 4217 (2 unless listed).
    pub fn parse(code: &str) -> Result<Currency, &'static str> {
        let up = code.trim().to_ascii_uppercase();
        let bytes: [u8; 3] = up
            .as_bytes()
            .try_into()
            .map_err(|_| "a three-letter ISO 4217 currency code such as EUR")?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err("a three-letter ISO 4217 currency code such as EUR");
        }
        let digits = match &bytes {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            _ => 2,
        };
        Ok(Currency {
            code: bytes,
            digits,
        })
    }

    pub fn code(&self) -> &str {
        // Only ASCII uppercase letters can be stored, see `parse`.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of minor digits (EUR: 2).
    pub fn digits(&self) -> u8 {
        self.digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_both_decimal_separators() {
        assert_eq!(Money::parse("14.50", 2), Ok(Money(1450)));
        assert_eq!(Money::parse("14,5", 2), Ok(Money(1450)));
        assert_eq!(Money::parse("-3", 2), Ok(Money(-300)));
        assert_eq!(Money::parse(".5", 2), Ok(Money(50)));
        assert_eq!(Money::parse("7", 0), Ok(Money(7)));
    }

    #[test]
    fn refuses_malformed_amounts() {
        for bad in [
            "", "abc", "1.2.3", "1e3", "1.234", "- 1", "1 000", ".", "-", "0x10",
        ] {
            assert!(Money::parse(bad, 2).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            Money::parse("10000000.01", 2),
            Err(DecimalError::TooLarge),
            "limit is 10 000 000.00"
        );
        assert_eq!(Money::parse("-10000000.00", 2), Ok(Money(-1_000_000_000)));
    }

    #[test]
    fn formats_with_exact_minor_digits() {
        assert_eq!(Money(2940).format(2), "29.40");
        assert_eq!(Money(-5).format(2), "-0.05");
        assert_eq!(Money(7).format(0), "7");
        assert_eq!(format_scaled_trimmed(2000, 2), "20.0");
        assert_eq!(format_scaled_trimmed(550, 2), "5.5");
        assert_eq!(format_scaled_trimmed(210, 2), "2.1");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round_half_away(5, 10), Some(1));
        assert_eq!(div_round_half_away(-5, 10), Some(-1));
        assert_eq!(div_round_half_away(4, 10), Some(0));
        assert_eq!(div_round_half_away(-15, 10), Some(-2));
        assert_eq!(div_round_half_away(15, -10), Some(-2));
        assert_eq!(div_round_half_away(1, 0), None);
    }

    #[test]
    fn currency_digits_follow_iso_4217() {
        assert_eq!(Currency::parse("eur").unwrap().digits(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().digits(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().digits(), 3);
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in -1_000_000_000i64..=1_000_000_000, digits in 0u8..=3) {
            let m = Money(minor);
            let limit = MAX_MAJOR_UNITS * pow10(digits);
            prop_assume!(minor.abs() <= limit);
            prop_assert_eq!(Money::parse(&m.format(digits), digits), Ok(m));
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = Money::parse(&s, 2);
        }

        #[test]
        fn rounding_error_is_at_most_half(n in -1_000_000_000i128..1_000_000_000, d in 1i128..100_000) {
            let q = div_round_half_away(n, d).unwrap();
            prop_assert!((q * d - n).abs() * 2 <= d);
        }
    }
}
