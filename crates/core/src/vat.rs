//! VAT rates as exact decimals (hundredths of a percent) and the VAT rule of the spec:
//! VAT is computed once per rate on the sum of that rate's totals, VAT included.

use crate::money::{Decimal, Money, format_scaled_trimmed};
use std::fmt;

/// A VAT rate in hundredths of a percent: 20 % is 2000, 5.5 % is 550. Between 0 and 99.99 %.
///
/// Stored as an exact fixed-point decimal (two decimals cover every rate in use; the
/// design's "decimal" requirement without a floating or arbitrary-precision type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VatRate(u32);

impl VatRate {
    pub const ZERO: VatRate = VatRate(0);

    /// Parses `20`, `5.5`, `5,5`, `2.10`: at most two decimals, from 0 to 99.99.
    pub fn parse(text: &str) -> Result<VatRate, &'static str> {
        const EXPECTED: &str = "a VAT rate in percent between 0 and 99.99 with at most 2 decimals";
        let d = Decimal::parse(text, 2).map_err(|_| EXPECTED)?;
        VatRate::from_hundredths(d.scaled).ok_or(EXPECTED)
    }

    /// From hundredths of a percent (550 = 5.5 %); `None` outside 0..=9999.
    pub fn from_hundredths(h: i64) -> Option<VatRate> {
        (0..10_000).contains(&h).then_some(VatRate(h as u32))
    }

    pub fn hundredths(self) -> i64 {
        i64::from(self.0)
    }

    /// The VAT contained in an amount that includes it:
    /// `total × rate / (100 + rate)`, rounded half away from zero.
    pub fn vat_in_inclusive(self, total_incl: Money) -> Money {
        let r = i64::from(self.0);
        total_incl
            .mul_div(r, 10_000 + r)
            .expect("denominator is positive and the result is at most the total")
    }

    /// The VAT to add to an amount that excludes it: `base × rate / 100`, same rounding.
    pub fn vat_on_exclusive(self, base_excl: Money) -> Option<Money> {
        base_excl.mul_div(i64::from(self.0), 10_000)
    }
}

impl fmt::Display for VatRate {
    /// `20.0`, `5.5`, `2.1`: the form used in JSON answers and documents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled_trimmed(i64::from(self.0), 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_rates() {
        assert_eq!(VatRate::parse("20").unwrap().hundredths(), 2000);
        assert_eq!(VatRate::parse("5,5").unwrap().hundredths(), 550);
        assert_eq!(VatRate::parse("2.10").unwrap().to_string(), "2.1");
        assert_eq!(VatRate::parse("0").unwrap().to_string(), "0.0");
        assert!(VatRate::parse("100").is_err());
        assert!(VatRate::parse("-1").is_err());
        assert!(VatRate::parse("5.555").is_err());
    }

    #[test]
    fn vat_of_the_spec_example() {
        // 29.40 incl. 20 % VAT: base 24.50, VAT 4.90.
        let r = VatRate::parse("20").unwrap();
        assert_eq!(
            r.vat_in_inclusive(Money::from_minor(2940)),
            Money::from_minor(490)
        );
        // 1.10 at 5.5 %: 0.0573... rounds to 0.06.
        let r = VatRate::parse("5.5").unwrap();
        assert_eq!(
            r.vat_in_inclusive(Money::from_minor(110)),
            Money::from_minor(6)
        );
        assert_eq!(
            r.vat_in_inclusive(Money::from_minor(-110)),
            Money::from_minor(-6)
        );
    }

    proptest! {
        #[test]
        fn vat_is_symmetric_and_bounded(total in -1_000_000_000i64..1_000_000_000, h in 0i64..10_000) {
            let r = VatRate::from_hundredths(h).unwrap();
            let v = r.vat_in_inclusive(Money::from_minor(total));
            prop_assert_eq!(r.vat_in_inclusive(Money::from_minor(-total)), -v);
            prop_assert!(v.minor().abs() <= total.abs());
        }
    }
}
