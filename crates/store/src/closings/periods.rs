//! Monthly and yearly closings (the sums of their days' or months' closings), the
//! automatic closing's step (the next due closing of a shop), and their checks for
//! `verify`. Rules and figures: core::closing::{period, settings}.

use super::{
    COLUMNS, Closed, ClosingRow, carried, closing_row, decode, lock_counters, of_period, record,
    shop_zone,
};
use crate::db::Conn;
use crate::journal::{PeriodFault, Problem};
use crate::{StoreError, params};
use comptoir_core::closing::period::{Kind, Period, check_period};
use comptoir_core::closing::settings::{self, FiscalSettings, next_closing_time, next_due};
use comptoir_core::closing::{ClosingEntry, Position};
use comptoir_core::fiscal_key::FiscalKey;
use jiff::civil::Date;
use jiff::tz::TimeZone;

fn last_of(c: &mut dyn Conn, shop_id: i64, kind: Kind) -> Result<Option<ClosingRow>, StoreError> {
    c.query_opt(
        &format!(
            "select {COLUMNS} from closings where shop_id = $1 and period = $2
             order by number desc limit 1"
        ),
        params![shop_id, kind.as_str()],
    )?
    .map(|r| closing_row(&r))
    .transpose()
}

/// A stored closing's period, read back from its label (fiscal years with the shop's
/// first month, which cannot change once a year is closed).
fn period_of(r: &ClosingRow, first_month: i8) -> Result<Period, StoreError> {
    let kind = Kind::parse(&r.period).ok_or_else(|| decode("period"))?;
    Period::parse(kind, &r.day, first_month).map_err(|_| decode("day"))
}

fn first_day(c: &mut dyn Conn, shop_id: i64) -> Result<Option<Date>, StoreError> {
    c.query_opt(
        "select day from closings where shop_id = $1 and period = 'day' order by number limit 1",
        params![shop_id],
    )?
    .map(|r| r.string(0)?.parse().map_err(|_| decode("day")))
    .transpose()
}

/// The closings of `kind` inside `bounds`, in order: what a month or a year sums.
fn parts(
    c: &mut dyn Conn,
    shop_id: i64,
    kind: Kind,
    (from, to): (i64, i64),
) -> Result<Vec<(String, ClosingEntry)>, StoreError> {
    c.query(
        "select day, entry from closings
         where shop_id = $1 and period = $2 and value_from >= $3 and value_to <= $4
         order by number",
        params![shop_id, kind.as_str(), from, to],
    )?
    .iter()
    .map(|r| {
        let e = ClosingEntry::parse(&r.string(1)?).map_err(|_| decode("entry"))?;
        Ok((r.string(0)?, e))
    })
    .collect()
}

/// Closes a month or a fiscal year: once its last day (month) is closed, in order, with
/// the sums of its days' (months') closings. Already closed: that closing, unchanged.
pub fn close_sum(
    c: &mut dyn Conn,
    shop_id: i64,
    period: &Period,
    key: &FiscalKey,
    now: jiff::Timestamp,
) -> Result<Closed, StoreError> {
    let tz = shop_zone(c, shop_id)?;
    if let Some(r) = of_period(c, shop_id, period)? {
        return Ok(Closed::Already(r));
    }
    let kind = period.kind();
    let part = kind.part().ok_or_else(|| decode("a day has no parts"))?;
    let (seq, head) = lock_counters(c, shop_id)?;
    let first_month = period.first_day().month();
    let last_same = last_of(c, shop_id, kind)?;
    let last_same_period = last_same
        .as_ref()
        .map(|r| period_of(r, first_month))
        .transpose()?;
    let last_part = last_of(c, shop_id, part)?
        .map(|r| period_of(&r, first_month)?.last_day().map_err(invalid))
        .transpose()?;
    check_period(
        period,
        last_same_period.as_ref(),
        first_day(c, shop_id)?,
        last_part,
    )
    .map_err(invalid)?;
    let bounds = period.bounds(&tz).map_err(invalid)?;
    let parts: Vec<ClosingEntry> = parts(c, shop_id, part, bounds)?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let previous = match (&last_same, &last_same_period) {
        (Some(r), Some(p)) => Some(carried(r, p.first_day())?),
        _ => None,
    };
    let at = Position {
        shop_id,
        seq: seq + 1,
        head,
        previous,
    };
    let entry =
        ClosingEntry::sum(&at, period, bounds, &parts, now.as_microsecond()).map_err(invalid)?;
    Ok(Closed::New(record(c, shop_id, &entry, &at.head, key)?))
}

fn invalid(e: comptoir_core::closing::ClosingError) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// What the shop has closed so far, for the automatic closing.
fn closed_state(
    c: &mut dyn Conn,
    shop_id: i64,
    tz: &TimeZone,
    first_month: i8,
) -> Result<settings::Closed, StoreError> {
    let last_day = last_of(c, shop_id, Kind::Day)?
        .map(|r| r.day.parse::<Date>().map_err(|_| decode("day")))
        .transpose()?;
    let first_activity = if last_day.is_some() {
        None
    } else {
        c.query_one(
            "select min(value_date) from orders where shop_id = $1 and status <> 'pending'",
            params![shop_id],
        )?
        .opt_i64(0)?
        .map(|t| {
            jiff::Timestamp::from_microsecond(t)
                .map(|t| t.to_zoned(tz.clone()).date())
                .map_err(|_| decode("orders.value_date"))
        })
        .transpose()?
    };
    let mut last = |kind| {
        last_of(c, shop_id, kind)?
            .map(|r| period_of(&r, first_month))
            .transpose()
    };
    let last_month = last(Kind::Month)?;
    let last_year = last(Kind::Year)?;
    Ok(settings::Closed {
        first_activity,
        first_day: first_day(c, shop_id)?,
        last_day,
        last_month,
        last_year,
    })
}

/// The shop's next due closing at `now`, if any: a month whose last day is closed, a year
/// whose last month is, else the next day once the shop's closing hour has passed
/// (core::closing::settings::next_due). Reads only.
pub fn due(
    c: &mut dyn Conn,
    shop_id: i64,
    now: jiff::Timestamp,
) -> Result<Option<Period>, StoreError> {
    let tz = shop_zone(c, shop_id)?;
    let s = super::settings::get(c, shop_id)?;
    let state = closed_state(c, shop_id, &tz, s.first_month())?;
    next_due(&state, &s, &tz, now).map_err(invalid)
}

/// The automatic closing's step in one transaction: closes the shop's next due closing
/// ([`due`]) at `now`, if any.
pub fn close_next_due(
    c: &mut dyn Conn,
    shop_id: i64,
    key: &FiscalKey,
    now: jiff::Timestamp,
) -> Result<Option<Closed>, StoreError> {
    match due(c, shop_id, now)? {
        None => Ok(None),
        Some(p) => super::close(c, shop_id, &p, key, now).map(Some),
    }
}

/// When the shop's next day closes by itself (`None` before its first sale).
pub fn next_closing(c: &mut dyn Conn, shop_id: i64) -> Result<Option<jiff::Timestamp>, StoreError> {
    let tz = shop_zone(c, shop_id)?;
    let s: FiscalSettings = super::settings::get(c, shop_id)?;
    let state = closed_state(c, shop_id, &tz, s.first_month())?;
    next_closing_time(&state, &s, &tz).map_err(invalid)
}

/// Checks the shop's monthly then yearly closings for `verify`: numbered 1..N on
/// consecutive periods from the one holding the first closed day, sealed, signed (by
/// `pinned` when given), and each equal to the sum of its days' (months') closings as
/// they are stored now, its last day (month) among them, with the perpetual grand totals
/// of its last part.
pub(crate) fn check_all(
    c: &mut dyn Conn,
    shop_id: i64,
    pinned: Option<&str>,
    tz: &TimeZone,
) -> Result<Option<Problem>, StoreError> {
    let first_month = super::settings::get(c, shop_id)?.first_month();
    let first = first_day(c, shop_id)?;
    for kind in [Kind::Month, Kind::Year] {
        let part = kind.part().ok_or_else(|| decode("a day has no parts"))?;
        let rows = c.query(
            &format!(
                "select {COLUMNS} from closings where shop_id = $1 and period = $2 order by number"
            ),
            params![shop_id, kind.as_str()],
        )?;
        let mut previous: Option<(ClosingRow, Period)> = None;
        for row in &rows {
            let r = closing_row(row)?;
            let fault = |fault| {
                Ok(Some(Problem::PeriodClosing {
                    period: kind.as_str(),
                    label: r.day.clone(),
                    number: r.number,
                    fault,
                }))
            };
            let expected_number = previous.as_ref().map_or(1, |(p, _)| p.number + 1);
            let expected = match (&previous, first) {
                (Some((_, p)), _) => p.next().ok(),
                (None, Some(d)) if kind == Kind::Year => Some(Period::year_of(d, first_month)),
                (None, Some(d)) => Some(Period::month_of(d)),
                (None, None) => None,
            };
            let period = period_of(&r, first_month).ok();
            if r.number != expected_number || period.is_none() || period != expected {
                return fault(PeriodFault::Gap {
                    expected: expected_number,
                });
            }
            let Some(period) = period else {
                return fault(PeriodFault::Sum);
            };
            if pinned.is_some_and(|k| k != r.public_key) {
                return fault(PeriodFault::Key {
                    key: r.public_key.clone(),
                });
            }
            if !comptoir_core::fiscal_key::verify(&r.public_key, r.entry.as_bytes(), &r.signature) {
                return fault(PeriodFault::Signature);
            }
            let sealed_kind = c.query_opt(
                "select kind from journal where shop_id = $1 and seq = $2",
                params![shop_id, r.journal_seq],
            )?;
            if sealed_kind.map(|k| k.string(0)).transpose()?.as_deref() != Some("closing") {
                return fault(PeriodFault::Unsealed);
            }
            let stored = ClosingEntry::parse(&r.entry).map_err(|_| decode("entry"))?;
            let bounds = period.bounds(tz).map_err(invalid)?;
            let parts = parts(c, shop_id, part, bounds)?;
            let last_label = match kind {
                Kind::Year => period
                    .last_day()
                    .map(|d| Period::month_of(d).label())
                    .map_err(invalid)?,
                _ => period.last_day().map_err(invalid)?.to_string(),
            };
            let at = Position {
                shop_id,
                seq: r.journal_seq,
                head: stored.head().to_string(),
                previous: match &previous {
                    Some((p, pp)) => Some(carried(p, pp.first_day())?),
                    None => None,
                },
            };
            let entries: Vec<ClosingEntry> = parts.iter().map(|(_, e)| e.clone()).collect();
            let again = ClosingEntry::sum(&at, &period, bounds, &entries, stored.closed_at()).ok();
            let complete = parts.last().is_some_and(|(label, last)| {
                *label == last_label && last.grand_totals() == stored.grand_totals()
            });
            if !complete || again.as_ref() != Some(&stored) {
                return fault(PeriodFault::Sum);
            }
            previous = Some((r, period));
        }
    }
    Ok(None)
}
