//! The closings of French cash-register rules: the daily closing (the Z), its figures from
//! the report's day aggregates and the previous closing; monthly and yearly closings, the
//! sums of their days' (months') closings (`period`); each one's canonical bytes as a
//! journal entry of kind `closing`, and its Ed25519 signature. The shop's fiscal settings
//! (first month of the fiscal year, closing hour) and when a period closes are `settings`.

pub mod period;
pub mod settings;

use crate::error::{ErrorCode, SaleError};
use crate::fiscal_key::{self, FiscalKey};
use crate::report::Aggregates;
use crate::report::ReportDay;
use crate::seal::ENCODING;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// One VAT rate of the period, in minor units (rate in hundredths of a percent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatTotal {
    pub amount: i64,
    pub rate: i64,
    pub total: i64,
}

/// One payment method of the period: payments handed over and their amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentTotal {
    pub amount: i64,
    pub count: i64,
    pub method_id: i64,
}

/// The perpetual grand totals since the shop began, carried from closing to closing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrandTotals {
    /// Sum of every order's total, refunds negative.
    pub signed: i64,
    /// Sum of every order's total without sign: sales plus refunds' amounts.
    pub absolute: i64,
}

/// Why a day cannot be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClosingError {
    #[error("--day {0}: only a day before today (in the shop's time zone) can be closed")]
    NotOver(Date),
    #[error("--day {date}: the last closed day is {last}; days close in order, next is {next}")]
    OutOfOrder { date: Date, last: Date, next: Date },
    #[error("the grand totals overflow")]
    Overflow,
    #[error(
        "--{kind} {label}: its last day {last} is not closed yet; a {kind} closes once its last day has closed"
    )]
    Open {
        kind: &'static str,
        label: String,
        last: Date,
    },
    #[error("--{kind} {label}: {kind}s close in order, next is {next}")]
    PeriodOutOfOrder {
        kind: &'static str,
        label: String,
        next: String,
    },
    #[error("the shop's time zone cannot show this period: {0}")]
    Zone(String),
}

/// A daily closing as the journal seals it. Its fields are declared in byte order of their
/// names, so serde's compact JSON of it has sorted keys like every other entry's; those
/// bytes are both sealed into the chain and signed (docs/inalterability.md). A monthly or
/// yearly closing has the same keys (`period` says which, `date` is `YYYY-MM` or `YYYY`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosingEntry {
    closed_at: i64,
    date: String,
    encoding: String,
    from: i64,
    grand_total: i64,
    grand_total_abs: i64,
    head: String,
    kind: String,
    number: i64,
    payments: Vec<PaymentTotal>,
    period: String,
    refund_total: i64,
    refunds: i64,
    sales: i64,
    seq: i64,
    shop_id: i64,
    to: i64,
    total: i64,
    total_abs: i64,
    vat: i64,
    vats: Vec<VatTotal>,
}

/// Where a new closing goes in its shop's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub shop_id: i64,
    /// The journal sequence number this entry takes.
    pub seq: i64,
    /// The journal head before this entry: what the closing vouches for.
    pub head: String,
    /// The shop's previous daily closing: its number, day and grand totals.
    pub previous: Option<(i64, Date, GrandTotals)>,
}

/// Checks that `date` may be closed now: the day is over in `tz`, and it is the day after
/// the last closed one (closings are gapless; a day without sales closes with zeros).
pub fn check_day(
    date: Date,
    last_closed: Option<Date>,
    tz: &TimeZone,
    now: jiff::Timestamp,
) -> Result<(), ClosingError> {
    let today = now.to_zoned(tz.clone()).date();
    if date >= today {
        return Err(ClosingError::NotOver(date));
    }
    if let Some(last) = last_closed {
        let next = last.tomorrow().map_err(|_| ClosingError::Overflow)?;
        if date != next {
            return Err(ClosingError::OutOfOrder { date, last, next });
        }
    }
    Ok(())
}

/// Refuses a sale whose value date (microseconds) is in a closed period ([`in_closed_period`]):
/// `period_closed`, naming `dateValeur`.
pub fn check_value_date(value_date: i64, closed_to: Option<i64>) -> Result<(), SaleError> {
    if in_closed_period(value_date, closed_to) {
        return Err(SaleError::new(
            ErrorCode::PeriodClosed,
            "dateValeur",
            "the value date falls in a day that is already closed; record a correction as a refund dated today",
        ));
    }
    Ok(())
}

/// Whether a sale with this value date (microseconds) falls into a closed period: on or
/// before the end of the last closed day (`closed_to`, the first microsecond after it).
pub fn in_closed_period(value_date: i64, closed_to: Option<i64>) -> bool {
    closed_to.is_some_and(|to| value_date < to)
}

impl ClosingEntry {
    /// The closing of `day` from its report aggregates (no filters), at `closed_at`.
    /// The period's absolute total assumes what orders guarantee: a sale's total is never
    /// negative and a refund's never positive.
    pub fn day(
        at: &Position,
        day: &ReportDay,
        a: &Aggregates,
        closed_at: i64,
    ) -> Result<ClosingEntry, ClosingError> {
        let s = &a.summary;
        let total = s.gross.minor();
        let refund_total = s.refund_total.minor();
        let total_abs = total
            .checked_sub(refund_total)
            .and_then(|t| t.checked_sub(refund_total))
            .ok_or(ClosingError::Overflow)?;
        let (number, before) = match &at.previous {
            Some((n, _, g)) => (n + 1, *g),
            None => (1, GrandTotals::default()),
        };
        let grand = GrandTotals {
            signed: before
                .signed
                .checked_add(total)
                .ok_or(ClosingError::Overflow)?,
            absolute: before
                .absolute
                .checked_add(total_abs)
                .ok_or(ClosingError::Overflow)?,
        };
        Ok(ClosingEntry {
            closed_at,
            date: day.date.to_string(),
            encoding: ENCODING.into(),
            from: day.from,
            grand_total: grand.signed,
            grand_total_abs: grand.absolute,
            head: at.head.clone(),
            kind: "closing".into(),
            number,
            payments: a
                .payments
                .iter()
                .map(|(id, _, _, count, amount)| PaymentTotal {
                    amount: amount.minor(),
                    count: *count,
                    method_id: *id,
                })
                .collect(),
            period: "day".into(),
            refund_total,
            refunds: s.refunds,
            sales: s.sales,
            seq: at.seq,
            shop_id: at.shop_id,
            to: day.to,
            total,
            total_abs,
            vat: s.vat.minor(),
            vats: a
                .vat
                .iter()
                .map(|(rate, total, vat)| VatTotal {
                    amount: vat.minor(),
                    rate: rate.hundredths(),
                    total: total.minor(),
                })
                .collect(),
        })
    }

    /// The canonical bytes: compact JSON, sorted keys, integers only.
    pub fn canonical(&self) -> Vec<u8> {
        // Strings, integers and vectors of them always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The perpetual grand totals after this closing.
    pub fn grand_totals(&self) -> GrandTotals {
        GrandTotals {
            signed: self.grand_total,
            absolute: self.grand_total_abs,
        }
    }

    /// The closing's number among its shop's closings of its period kind (1, 2, 3…).
    pub fn number(&self) -> i64 {
        self.number
    }

    /// Reads stored canonical bytes back (closings are summed and re-checked from them).
    pub fn parse(text: &str) -> Result<ClosingEntry, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// `day`, `month` or `year`.
    pub fn period(&self) -> &str {
        &self.period
    }

    /// The closed period: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The period's bounds (µs): its first instant and the first instant after it.
    pub fn bounds(&self) -> (i64, i64) {
        (self.from, self.to)
    }

    /// The period's signed total (refunds negative) and its total without sign.
    pub fn totals(&self) -> GrandTotals {
        GrandTotals {
            signed: self.total,
            absolute: self.total_abs,
        }
    }

    /// The journal entry that seals it.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// When it was made (µs).
    pub fn closed_at(&self) -> i64 {
        self.closed_at
    }

    /// The journal head this closing vouches for.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// The Ed25519 signature of the canonical bytes, in hexadecimal.
    pub fn sign(&self, key: &FiscalKey) -> String {
        key.sign(&self.canonical())
    }

    /// Whether `signature` (hex) signs these canonical bytes for `public_hex`.
    pub fn signed_by(&self, public_hex: &str, signature: &str) -> bool {
        fiscal_key::verify(public_hex, &self.canonical(), signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use crate::report::RawSummary;
    use crate::seal::{GENESIS, seal};
    use crate::vat::VatRate;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn aggregates(gross: i64, refund_total: i64, sales: i64, refunds: i64) -> Aggregates {
        Aggregates {
            summary: RawSummary {
                sales,
                refunds,
                refund_total: Money::from_minor(refund_total),
                gross: Money::from_minor(gross),
                vat: Money::from_minor(gross / 11),
                ..RawSummary::default()
            },
            vat: vec![(
                VatRate::from_hundredths(1000).unwrap(),
                Money::from_minor(gross),
                Money::from_minor(gross / 11),
            )],
            payments: vec![(
                1,
                "Espèces".into(),
                "cash".into(),
                sales,
                Money::from_minor(gross),
            )],
            ..Aggregates::default()
        }
    }

    fn position(seq: i64, previous: Option<(i64, Date, GrandTotals)>) -> Position {
        Position {
            shop_id: 3,
            seq,
            head: GENESIS.into(),
            previous,
        }
    }

    #[test]
    fn figures_and_grand_totals_carry_from_day_to_day() {
        let d1 = ReportDay::of(Date::constant(2026, 3, 28), &paris()).unwrap();
        let first =
            ClosingEntry::day(&position(10, None), &d1, &aggregates(9000, -1000, 4, 1), 7).unwrap();
        assert_eq!(first.number(), 1);
        assert_eq!((first.total, first.total_abs), (9000, 11000));
        assert_eq!(
            first.grand_totals(),
            GrandTotals {
                signed: 9000,
                absolute: 11000
            }
        );
        // 29 March 2026 is a 23-hour day in Paris: the bounds come from the report's day.
        let d2 = ReportDay::of(Date::constant(2026, 3, 29), &paris()).unwrap();
        assert_eq!(d2.to - d2.from, 23 * 3_600_000_000);
        let second = ClosingEntry::day(
            &position(11, Some((1, d1.date, first.grand_totals()))),
            &d2,
            &aggregates(500, 0, 1, 0),
            8,
        )
        .unwrap();
        assert_eq!(second.number(), 2);
        assert_eq!(
            second.grand_totals(),
            GrandTotals {
                signed: 9500,
                absolute: 11500
            }
        );
        // A day without sales closes with zeros and the same grand totals.
        let d3 = ReportDay::of(Date::constant(2026, 3, 30), &paris()).unwrap();
        let empty = ClosingEntry::day(
            &position(12, Some((2, d2.date, second.grand_totals()))),
            &d3,
            &Aggregates::default(),
            9,
        )
        .unwrap();
        assert_eq!((empty.total, empty.sales, empty.number()), (0, 0, 3));
        assert_eq!(empty.grand_totals(), second.grand_totals());
        let overflow = ClosingEntry::day(
            &position(
                13,
                Some((
                    3,
                    d3.date,
                    GrandTotals {
                        signed: i64::MAX,
                        absolute: 0,
                    },
                )),
            ),
            &d3,
            &aggregates(1, 0, 1, 0),
            9,
        );
        assert_eq!(overflow, Err(ClosingError::Overflow));
    }

    #[test]
    fn canonical_bytes_are_sorted_compact_json_sealed_and_signed() {
        let day = ReportDay::of(Date::constant(2026, 11, 30), &paris()).unwrap();
        let e = ClosingEntry::day(&position(5, None), &day, &aggregates(2200, -1100, 2, 1), 42)
            .unwrap();
        let bytes = e.canonical();
        // serde_json's Map sorts its keys: the oracle the declaration order must equal.
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&value).unwrap(), bytes);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(
                r#"{"closed_at":42,"date":"2026-11-30","encoding":"comptoir-journal-1","#
            ),
            "{text}"
        );
        assert!(text.contains(r#""kind":"closing","number":1,"payments":[{"amount":2200,"count":2,"method_id":1}],"period":"day""#), "{text}");
        assert!(
            text.ends_with(r#""vats":[{"amount":200,"rate":1000,"total":2200}]}"#),
            "{text}"
        );
        assert_eq!(seal(GENESIS, &bytes).len(), 64);
        let key = FiscalKey::from_seed([1; 32]);
        let other = FiscalKey::from_seed([2; 32]);
        let sig = e.sign(&key);
        assert!(e.signed_by(&key.public_hex(), &sig));
        assert!(!e.signed_by(&other.public_hex(), &sig));
        let mut forged = e.clone();
        forged.total += 1;
        assert!(
            !forged.signed_by(&key.public_hex(), &sig),
            "a changed figure breaks the signature"
        );
    }

    #[test]
    fn only_past_days_close_and_in_order() {
        let tz = paris();
        // 23:30 UTC on 30 November is already 1 December in Paris.
        let now: jiff::Timestamp = "2026-11-30T23:30:00Z".parse().unwrap();
        let nov30 = Date::constant(2026, 11, 30);
        assert_eq!(check_day(nov30, None, &tz, now), Ok(()));
        let dec1 = Date::constant(2026, 12, 1);
        assert_eq!(
            check_day(dec1, Some(nov30), &tz, now),
            Err(ClosingError::NotOver(dec1))
        );
        let nov28 = Date::constant(2026, 11, 28);
        assert_eq!(
            check_day(nov30, Some(nov28), &tz, now),
            Err(ClosingError::OutOfOrder {
                date: nov30,
                last: nov28,
                next: Date::constant(2026, 11, 29)
            })
        );
        assert_eq!(
            check_day(Date::constant(2026, 11, 29), Some(nov28), &tz, now),
            Ok(())
        );
    }

    #[test]
    fn a_value_date_before_the_end_of_the_last_closed_day_is_closed() {
        let day = ReportDay::of(Date::constant(2026, 11, 30), &paris()).unwrap();
        assert!(!in_closed_period(day.to - 1, None));
        assert!(in_closed_period(day.to - 1, Some(day.to)));
        assert!(in_closed_period(day.from, Some(day.to)));
        assert!(!in_closed_period(day.to, Some(day.to)));
        let e = check_value_date(day.from, Some(day.to)).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            (ErrorCode::PeriodClosed, "dateValeur")
        );
        assert!(check_value_date(day.to, Some(day.to)).is_ok());
    }
}
