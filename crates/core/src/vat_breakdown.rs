//! The VAT breakdown of an order: one line per rate, computed once per rate from the
//! rate's VAT-inclusive total (the spec's rule), and an order's totals.

use std::collections::BTreeMap;

use crate::money::Money;
use crate::sale::OrderLine;
use crate::vat::VatRate;

/// One rate of the VAT breakdown (`VATs` in answers). `total` includes VAT, `base` excludes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VatLine {
    pub rate: VatRate,
    pub base: Money,
    pub amount: Money,
    pub total: Money,
}

/// The VAT breakdown of `(rate, total incl. VAT)` amounts: per rate, VAT is computed once
/// on the sum of that rate's amounts (`total × rate / (100 + rate)`, half away from zero)
/// and `base = total − VAT`. Sorted by rate, highest first. `None` on overflow.
pub fn vat_breakdown(amounts: impl IntoIterator<Item = (VatRate, Money)>) -> Option<Vec<VatLine>> {
    let mut per_rate: BTreeMap<VatRate, Money> = BTreeMap::new();
    for (rate, amount) in amounts {
        let sum = per_rate.entry(rate).or_insert(Money::ZERO);
        *sum = sum.checked_add(amount)?;
    }
    per_rate
        .into_iter()
        .rev()
        .map(|(rate, total)| {
            let amount = rate.vat_in_inclusive(total);
            Some(VatLine {
                rate,
                base: total.checked_sub(amount)?,
                amount,
                total,
            })
        })
        .collect()
}

/// The totals of an order, VAT included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderTotals {
    /// The sum of the line totals (`price` in answers).
    pub total: Money,
    /// The sum of the per-rate VAT amounts (`VAT`).
    pub vat: Money,
    /// The per-rate breakdown (`VATs`), highest rate first.
    pub vats: Vec<VatLine>,
}

impl OrderTotals {
    /// The totals of `lines`; `None` on overflow.
    pub fn of(lines: &[OrderLine]) -> Option<OrderTotals> {
        let mut total = Money::ZERO;
        for line in lines {
            total = total.checked_add(line.total())?;
        }
        let vats = vat_breakdown(lines.iter().map(|l| (l.vat_rate(), l.total())))?;
        let mut vat = Money::ZERO;
        for v in &vats {
            vat = vat.checked_add(v.amount)?;
        }
        Some(OrderTotals { total, vat, vats })
    }

    /// The sign of the total decides: a negative total is a refund.
    pub fn is_refund(&self) -> bool {
        self.total.is_negative()
    }
}
