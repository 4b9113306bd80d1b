//! Monthly and yearly closings: which days a month or a fiscal year covers, the order in
//! which they close (a month once its last day has closed, a year once its last month has),
//! and their figures: the sums of their days' (months') closings.

use super::{ClosingEntry, ClosingError, GrandTotals, PaymentTotal, Position, VatTotal};
use crate::report::ReportDay;
use crate::seal::ENCODING;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

/// What a closing covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Day,
    Month,
    Year,
}

impl Kind {
    /// `day`, `month` or `year`: the `period` of the entry and of the `closings` row.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Day => "day",
            Kind::Month => "month",
            Kind::Year => "year",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "day" => Some(Kind::Day),
            "month" => Some(Kind::Month),
            "year" => Some(Kind::Year),
            _ => None,
        }
    }

    /// What a closing of this kind sums: months sum days, years sum months.
    pub fn part(self) -> Option<Kind> {
        match self {
            Kind::Day => None,
            Kind::Month => Some(Kind::Day),
            Kind::Year => Some(Kind::Month),
        }
    }
}

/// A day, a calendar month, or a fiscal year (twelve months from the shop's first month),
/// held by its kind and first day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    kind: Kind,
    first: Date,
}

impl Period {
    pub fn day(date: Date) -> Period {
        Period {
            kind: Kind::Day,
            first: date,
        }
    }

    /// The month holding `date`.
    pub fn month_of(date: Date) -> Period {
        Period {
            kind: Kind::Month,
            first: date.first_of_month(),
        }
    }

    /// The fiscal year holding `date`, fiscal years starting on the first of `first_month`.
    pub fn year_of(date: Date, first_month: i8) -> Period {
        let year = if date.month() >= first_month {
            date.year()
        } else {
            date.year() - 1
        };
        Period {
            kind: Kind::Year,
            // Years of a Date are within -9999..=9999; the year before stays a valid year
            // except at the very bottom, where the first of the date's own year is kept.
            first: Date::new(year, first_month, 1).unwrap_or(date.first_of_year()),
        }
    }

    /// The period of `kind` named by `text`: `YYYY-MM-DD`, `YYYY-MM`, or `YYYY` for the
    /// fiscal year that starts in that year's `first_month`. `Err` says what was expected.
    pub fn parse(kind: Kind, text: &str, first_month: i8) -> Result<Period, &'static str> {
        let text = text.trim();
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        match kind {
            Kind::Day => text
                .parse::<Date>()
                .ok()
                .filter(|_| text.len() == 10)
                .map(Period::day)
                .ok_or("a day as YYYY-MM-DD"),
            Kind::Month => {
                let (y, m) = text.split_once('-').ok_or("a month as YYYY-MM")?;
                if !digits(y, 4) || !digits(m, 2) {
                    return Err("a month as YYYY-MM");
                }
                let (y, m) = (y.parse().unwrap_or(0), m.parse().unwrap_or(0));
                Date::new(y, m, 1)
                    .ok()
                    .filter(|_| y >= 1)
                    .map(Period::month_of)
                    .ok_or("a month as YYYY-MM (01 to 12)")
            }
            Kind::Year => {
                if !digits(text, 4) {
                    return Err("a year as YYYY");
                }
                let y: i16 = text.parse().unwrap_or(0);
                Date::new(y, first_month, 1)
                    .ok()
                    .filter(|_| y >= 1)
                    .map(|first| Period {
                        kind: Kind::Year,
                        first,
                    })
                    .ok_or("a year as YYYY from 0001")
            }
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn first_day(&self) -> Date {
        self.first
    }

    /// The first day of the next period of the same kind.
    fn after(&self) -> Result<Date, ClosingError> {
        let next = match self.kind {
            Kind::Day => self.first.tomorrow(),
            Kind::Month => self.first.checked_add(jiff::Span::new().months(1)),
            Kind::Year => self.first.checked_add(jiff::Span::new().years(1)),
        };
        next.map_err(|_| ClosingError::Overflow)
    }

    pub fn last_day(&self) -> Result<Date, ClosingError> {
        self.after()?
            .yesterday()
            .map_err(|_| ClosingError::Overflow)
    }

    /// The next period of the same kind.
    pub fn next(&self) -> Result<Period, ClosingError> {
        Ok(Period {
            kind: self.kind,
            first: self.after()?,
        })
    }

    pub fn contains(&self, date: Date) -> bool {
        date >= self.first && self.after().is_ok_and(|a| date < a)
    }

    /// `YYYY-MM-DD`, `YYYY-MM`, or `YYYY` (the year a fiscal year starts in).
    pub fn label(&self) -> String {
        match self.kind {
            Kind::Day => self.first.to_string(),
            Kind::Month => format!("{:04}-{:02}", self.first.year(), self.first.month()),
            Kind::Year => format!("{:04}", self.first.year()),
        }
    }

    /// Its bounds in `tz` (µs): the first day's local midnight to the next period's.
    pub fn bounds(&self, tz: &TimeZone) -> Result<(i64, i64), ClosingError> {
        let bad = |e: crate::report::DayError| ClosingError::Zone(e.message);
        let from = ReportDay::of(self.first, tz).map_err(bad)?.from;
        let to = ReportDay::of(self.last_day()?, tz).map_err(bad)?.to;
        Ok((from, to))
    }
}

/// Checks that a month or a year may close now: its last day is closed (for a year, its
/// last month), and it is the next of its kind — the one after `last_same`, or, for the
/// first, the one holding the shop's first closed day.
pub fn check_period(
    period: &Period,
    last_same: Option<&Period>,
    first_closed_day: Option<Date>,
    last_part_end: Option<Date>,
) -> Result<(), ClosingError> {
    let label = period.label();
    let kind = period.kind().as_str();
    let last = period.last_day()?;
    if last_part_end.is_none_or(|end| end < last) {
        return Err(ClosingError::Open { kind, label, last });
    }
    let next = match last_same {
        Some(p) => p.next()?,
        None => match first_closed_day {
            Some(d) if period.kind() == Kind::Year => {
                Period::year_of(d, period.first_day().month())
            }
            Some(d) => Period::month_of(d),
            None => return Err(ClosingError::Open { kind, label, last }),
        },
    };
    if next != *period {
        return Err(ClosingError::PeriodOutOfOrder {
            kind,
            label,
            next: next.label(),
        });
    }
    Ok(())
}

impl ClosingEntry {
    /// The closing of a month or a year: the sums of its `parts` (its days' or months'
    /// closings, in order), numbered after the previous closing of its kind, whose grand
    /// totals it carries forward by its own totals.
    pub fn sum(
        at: &Position,
        period: &Period,
        bounds: (i64, i64),
        parts: &[ClosingEntry],
        closed_at: i64,
    ) -> Result<ClosingEntry, ClosingError> {
        let add = |a: i64, b: i64| a.checked_add(b).ok_or(ClosingError::Overflow);
        let (mut sales, mut refunds, mut total, mut vat, mut refund_total, mut total_abs) =
            (0, 0, 0, 0, 0, 0);
        let mut vats: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        let mut payments: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for p in parts {
            sales = add(sales, p.sales)?;
            refunds = add(refunds, p.refunds)?;
            total = add(total, p.total)?;
            vat = add(vat, p.vat)?;
            refund_total = add(refund_total, p.refund_total)?;
            total_abs = add(total_abs, p.total_abs)?;
            for v in &p.vats {
                let e = vats.entry(v.rate).or_default();
                *e = (add(e.0, v.amount)?, add(e.1, v.total)?);
            }
            for m in &p.payments {
                let e = payments.entry(m.method_id).or_default();
                *e = (add(e.0, m.amount)?, add(e.1, m.count)?);
            }
        }
        let (number, before) = match &at.previous {
            Some((n, _, g)) => (n + 1, *g),
            None => (1, GrandTotals::default()),
        };
        Ok(ClosingEntry {
            closed_at,
            date: period.label(),
            encoding: ENCODING.into(),
            from: bounds.0,
            grand_total: add(before.signed, total)?,
            grand_total_abs: add(before.absolute, total_abs)?,
            head: at.head.clone(),
            kind: "closing".into(),
            number,
            payments: payments
                .into_iter()
                .map(|(method_id, (amount, count))| PaymentTotal {
                    amount,
                    count,
                    method_id,
                })
                .collect(),
            period: period.kind().as_str().into(),
            refund_total,
            refunds,
            sales,
            seq: at.seq,
            shop_id: at.shop_id,
            to: bounds.1,
            total,
            total_abs,
            vat,
            vats: vats
                .into_iter()
                .rev()
                .map(|(rate, (amount, total))| VatTotal {
                    amount,
                    rate,
                    total,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::GENESIS;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::constant(y, m, day)
    }

    #[test]
    fn months_and_fiscal_years_parse_name_and_bound_themselves() {
        let march = Period::parse(Kind::Month, "2026-03", 1).unwrap();
        assert_eq!(
            (march.first_day(), march.last_day().unwrap()),
            (d(2026, 3, 1), d(2026, 3, 31))
        );
        assert_eq!(march.label(), "2026-03");
        assert_eq!(march.next().unwrap().label(), "2026-04");
        assert_eq!(
            Period::parse(Kind::Month, "2026-3", 1),
            Err("a month as YYYY-MM")
        );
        assert!(Period::parse(Kind::Month, "2026-13", 1).is_err());
        // A fiscal year from April: "2026" runs from 1 April 2026 to 31 March 2027.
        let fy = Period::parse(Kind::Year, "2026", 4).unwrap();
        assert_eq!(
            (fy.first_day(), fy.last_day().unwrap()),
            (d(2026, 4, 1), d(2027, 3, 31))
        );
        assert_eq!(Period::year_of(d(2027, 2, 10), 4), fy);
        assert_eq!(Period::year_of(d(2026, 3, 31), 4).label(), "2025");
        assert!(fy.contains(d(2026, 12, 31)) && !fy.contains(d(2027, 4, 1)));
        // March in Paris has a 23-hour day: its bounds are local midnights.
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let (from, to) = march.bounds(&tz).unwrap();
        assert_eq!(to - from, (31 * 24 - 1) * 3_600_000_000);
        assert!(Period::parse(Kind::Day, "2026-02-30", 1).is_err());
    }

    #[test]
    fn a_month_closes_after_its_last_day_and_in_order() {
        let march = Period::month_of(d(2026, 3, 5));
        let feb = Period::month_of(d(2026, 2, 1));
        assert!(matches!(
            check_period(
                &march,
                Some(&feb),
                Some(d(2026, 1, 3)),
                Some(d(2026, 3, 30))
            ),
            Err(ClosingError::Open { .. })
        ));
        assert_eq!(
            check_period(
                &march,
                Some(&feb),
                Some(d(2026, 1, 3)),
                Some(d(2026, 3, 31))
            ),
            Ok(())
        );
        // The first month is the one of the first closed day.
        assert!(matches!(
            check_period(&march, None, Some(d(2026, 1, 3)), Some(d(2026, 3, 31))),
            Err(ClosingError::PeriodOutOfOrder { next, .. }) if next == "2026-01"
        ));
        let fy = Period::year_of(d(2026, 5, 1), 4);
        assert_eq!(
            check_period(&fy, None, Some(d(2026, 4, 20)), Some(d(2027, 3, 31))),
            Ok(())
        );
    }

    #[test]
    fn a_month_sums_its_days() {
        let day = |n: i64, total: i64, rate: i64, method: i64| {
            let e = format!(
                r#"{{"closed_at":1,"date":"2026-03-0{n}","encoding":"comptoir-journal-1","from":0,"grand_total":0,"grand_total_abs":0,"head":"h","kind":"closing","number":{n},"payments":[{{"amount":{total},"count":1,"method_id":{method}}}],"period":"day","refund_total":0,"refunds":0,"sales":1,"seq":{n},"shop_id":1,"to":0,"total":{total},"total_abs":{total},"vat":10,"vats":[{{"amount":10,"rate":{rate},"total":{total}}}]}}"#
            );
            ClosingEntry::parse(&e).unwrap()
        };
        let parts = [
            day(1, 1200, 2000, 1),
            day(2, 360, 1000, 2),
            day(3, 100, 2000, 1),
        ];
        let march = Period::month_of(d(2026, 3, 1));
        let at = Position {
            shop_id: 1,
            seq: 9,
            head: GENESIS.into(),
            previous: Some((
                1,
                d(2026, 2, 1),
                GrandTotals {
                    signed: 40,
                    absolute: 50,
                },
            )),
        };
        let m = ClosingEntry::sum(&at, &march, (5, 6), &parts, 7).unwrap();
        assert_eq!((m.number(), m.period(), m.date()), (2, "month", "2026-03"));
        assert_eq!((m.sales, m.total, m.vat), (3, 1660, 30));
        assert_eq!(
            m.grand_totals(),
            GrandTotals {
                signed: 1700,
                absolute: 1710
            }
        );
        assert_eq!(
            m.vats,
            [
                VatTotal {
                    amount: 20,
                    rate: 2000,
                    total: 1300
                },
                VatTotal {
                    amount: 10,
                    rate: 1000,
                    total: 360
                }
            ]
        );
        assert_eq!(m.payments[0].count, 2);
        // Its bytes parse back to the same closing, with sorted keys.
        let bytes = m.canonical();
        let again = ClosingEntry::parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert_eq!(again, m);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&value).unwrap(), bytes);
    }
}
