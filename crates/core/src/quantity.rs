//! Quantities with up to three decimals (weighed goods), as integers of thousandths.

use crate::money::{Decimal, Money, div_round_half_away};

/// Largest absolute quantity accepted (spec: |quantity| ≤ 100000).
pub const MAX_QUANTITY: i64 = 100_000;

/// A non-zero quantity in thousandths: 1 is 1000, 0.350 is 350, -2 is -2000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    pub const ONE: Quantity = Quantity(1000);

    /// Parses `2`, `0.350`, `1,5`, `-1`: at most three decimals, non-zero, |q| ≤ 100000.
    pub fn parse(text: &str) -> Result<Quantity, &'static str> {
        const EXPECTED: &str =
            "a non-zero quantity with at most 3 decimals and at most 100000 in absolute value";
        let d = Decimal::parse(text, 3).map_err(|_| EXPECTED)?;
        Quantity::from_thousandths(d.scaled).ok_or(EXPECTED)
    }

    /// From thousandths; `None` for zero or beyond the limit.
    pub fn from_thousandths(t: i64) -> Option<Quantity> {
        (t != 0 && t.abs() <= MAX_QUANTITY * 1000).then_some(Quantity(t))
    }

    pub fn thousandths(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The opposite quantity (always valid: the limit is symmetric).
    #[allow(
        clippy::should_implement_trait,
        reason = "an inherent method callers use without importing std::ops::Neg"
    )]
    pub fn neg(self) -> Quantity {
        Quantity(-self.0)
    }

    /// `unit × quantity`, rounded half away from zero to the minor unit; `None` when the
    /// result does not fit (never for amounts and quantities within the spec's limits).
    pub fn times(self, unit: Money) -> Option<Money> {
        let v = div_round_half_away(i128::from(unit.minor()) * i128::from(self.0), 1000)?;
        i64::try_from(v).ok().map(Money::from_minor)
    }

    /// `2`, `0.35`, `-1.5`: the shortest exact decimal.
    pub fn to_decimal_string(self) -> String {
        crate::decimal::Fixed::shortest(self.0, 3).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_quantities() {
        assert_eq!(Quantity::parse("0.350").unwrap().thousandths(), 350);
        assert_eq!(Quantity::parse("2").unwrap().to_decimal_string(), "2");
        assert_eq!(Quantity::parse("-1,5").unwrap().to_decimal_string(), "-1.5");
        assert!(Quantity::parse("0").is_err());
        assert!(Quantity::parse("0.0001").is_err());
        assert!(Quantity::parse("100000.001").is_err());
    }

    #[test]
    fn line_total_rounds_half_away_from_zero() {
        // 0.350 kg at 12.99: 4.5465 → 4.55
        let q = Quantity::parse("0.350").unwrap();
        assert_eq!(
            q.times(Money::from_minor(1299)),
            Some(Money::from_minor(455))
        );
        assert_eq!(
            q.neg().times(Money::from_minor(1299)),
            Some(Money::from_minor(-455))
        );
    }
}
