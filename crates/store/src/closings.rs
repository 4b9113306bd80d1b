//! Closings: a closing is written as a journal entry of kind `closing`, its signed
//! canonical bytes kept in `closings`; the rules and figures are core::closing's. Daily
//! closings (the Z) here; months and years, the automatic closing's step and their checks
//! in `periods`; the shop's fiscal settings in `settings`.

pub mod periods;
pub mod settings;

use crate::db::{Backend, Conn, Row};
use crate::journal::Problem;
use crate::report::{ReportQuery, aggregates};
use crate::{StoreError, params};
use comptoir_core::closing::period::{Kind, Period};
use comptoir_core::closing::{ClosingEntry, GrandTotals, Position, check_day};
use comptoir_core::event::{Event, Journal, NewEvent, Origin};
use comptoir_core::fiscal_key::FiscalKey;
use comptoir_core::report::ReportDay;
use comptoir_core::seal::seal;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A stored closing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosingRow {
    /// `day`, `month` or `year`.
    pub period: String,
    /// Among the shop's closings of its period kind: 1, 2, 3…
    pub number: i64,
    /// The period: `YYYY-MM-DD`, `YYYY-MM` or `YYYY` (the year a fiscal year starts in).
    pub day: String,
    pub journal_seq: i64,
    /// The canonical bytes (compact JSON) that the journal seals and the key signed.
    pub entry: String,
    /// Ed25519 signature of `entry`, hex.
    pub signature: String,
    /// The public key that signed, hex.
    pub public_key: String,
    pub closed_at: i64,
}

/// What closing a day did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Closed now.
    New(ClosingRow),
    /// The day was already closed: its closing, unchanged.
    Already(ClosingRow),
}

const COLUMNS: &str = "number, day, journal_seq, entry, signature, public_key, closed_at, period";

fn closing_row(r: &Row) -> Result<ClosingRow, StoreError> {
    Ok(ClosingRow {
        number: r.i64(0)?,
        day: r.string(1)?,
        journal_seq: r.i64(2)?,
        entry: r.string(3)?,
        signature: r.string(4)?,
        public_key: r.string(5)?,
        closed_at: r.i64(6)?,
        period: r.string(7)?,
    })
}

/// Every closing of the shop (days, months, years) in the order they were made.
pub fn list_all(c: &mut dyn Conn, shop_id: i64) -> Result<Vec<ClosingRow>, StoreError> {
    c.query(
        &format!("select {COLUMNS} from closings where shop_id = $1 order by journal_seq"),
        params![shop_id],
    )?
    .iter()
    .map(closing_row)
    .collect()
}

/// The closing of `period`, if the shop closed it (an archive of the period needs it).
pub fn of_period(
    c: &mut dyn Conn,
    shop_id: i64,
    period: &Period,
) -> Result<Option<ClosingRow>, StoreError> {
    c.query_opt(
        &format!("select {COLUMNS} from closings where shop_id = $1 and period = $2 and day = $3"),
        params![shop_id, period.kind().as_str(), period.label()],
    )?
    .map(|r| closing_row(&r))
    .transpose()
}

/// The closing of any period kind whose bounds are exactly the day's: what the daily
/// report of a closed day shows.
pub fn of_day(
    c: &mut dyn Conn,
    shop_id: i64,
    date: Date,
) -> Result<Option<ClosingRow>, StoreError> {
    of_period(c, shop_id, &Period::day(date))
}

/// The shop's daily closings, oldest first.
pub fn list(c: &mut dyn Conn, shop_id: i64) -> Result<Vec<ClosingRow>, StoreError> {
    c.query(
        &format!(
            "select {COLUMNS} from closings where shop_id = $1 and period = 'day'
             order by number"
        ),
        params![shop_id],
    )?
    .iter()
    .map(closing_row)
    .collect()
}

/// Refuses (`period_closed`) a sale about to be validated whose value date falls in a
/// closed day. Reads only: callers run it after taking the shop's counters (the lock a
/// closing takes too) and before writing anything. In a PostgreSQL lane the closed
/// period is read once per transaction: holding that row, no closing commits meanwhile.
pub(crate) fn refuse_if_closed_in(
    c: &mut dyn Conn,
    lane: &mut crate::lane::Lane<'_>,
    shop_id: i64,
    value_date: i64,
) -> Result<(), crate::sales::SaleFailure> {
    let to = match lane.as_deref_mut() {
        None => closed_until(c, shop_id)?,
        Some(lane) => match lane.closed_until(shop_id) {
            Some(to) => to,
            None => {
                let to = closed_until(c, shop_id)?;
                lane.hold_closed_until(shop_id, to);
                to
            }
        },
    };
    comptoir_core::closing::check_value_date(value_date, to)?;
    Ok(())
}

/// The end (first microsecond after) of the shop's last closed day, if any.
pub fn closed_until(c: &mut dyn Conn, shop_id: i64) -> Result<Option<i64>, StoreError> {
    c.query_opt(
        "select value_to from closings where shop_id = $1 and period = 'day'
         order by number desc limit 1",
        params![shop_id],
    )?
    .map(|r| r.i64(0))
    .transpose()
}

fn last(c: &mut dyn Conn, shop_id: i64) -> Result<Option<ClosingRow>, StoreError> {
    c.query_opt(
        &format!(
            "select {COLUMNS} from closings where shop_id = $1 and period = 'day'
             order by number desc limit 1"
        ),
        params![shop_id],
    )?
    .map(|r| closing_row(&r))
    .transpose()
}

/// The daily report's aggregates of `day`, unfiltered: what a closing records.
fn day_figures(
    c: &mut dyn Conn,
    shop_id: i64,
    day: &ReportDay,
) -> Result<comptoir_core::report::Aggregates, StoreError> {
    let q = ReportQuery {
        shop_id,
        from: day.from,
        to: day.to,
        cash_box_id: None,
        user_id: None,
    };
    aggregates(c, &q)
}

fn decode(what: &str) -> StoreError {
    StoreError::Decode(format!("closings: {what}"))
}

fn shop_zone(c: &mut dyn Conn, shop_id: i64) -> Result<TimeZone, StoreError> {
    let shop = crate::shops::get_shop(c, shop_id)?.ok_or(StoreError::NotFound)?;
    TimeZone::get(shop.timezone.as_str())
        .map_err(|e| StoreError::Decode(format!("shop time zone: {e}")))
}

/// The shop's journal position and head, its counters row locked until the caller's
/// transaction ends (sales take the same row, so none slips in between).
fn lock_counters(c: &mut dyn Conn, shop_id: i64) -> Result<(i64, String), StoreError> {
    let lock = if c.backend() == Backend::Postgres {
        " for update"
    } else {
        ""
    };
    let counters = c.query_one(
        &format!("select journal_seq, journal_head from shop_counters where shop_id = $1{lock}"),
        params![shop_id],
    )?;
    Ok((counters.i64(0)?, counters.string(1)?))
}

/// The number, first day and grand totals of a stored closing, as the next one of its
/// kind carries them on.
fn carried(p: &ClosingRow, first_day: Date) -> Result<(i64, Date, GrandTotals), StoreError> {
    let e = ClosingEntry::parse(&p.entry).map_err(|_| decode("entry is not a closing"))?;
    Ok((p.number, first_day, e.grand_totals()))
}

/// Seals `entry` (built at the position `lock_counters` gave) after `head`, signs it and
/// writes the journal row, the closings row and the counters, in the caller's transaction.
fn record(
    c: &mut dyn Conn,
    shop_id: i64,
    entry: &ClosingEntry,
    head: &str,
    key: &FiscalKey,
) -> Result<ClosingRow, StoreError> {
    let bytes = entry.canonical();
    let new_head = seal(head, &bytes);
    let (from, to) = entry.bounds();
    let row = ClosingRow {
        period: entry.period().to_string(),
        number: entry.number(),
        day: entry.date().to_string(),
        journal_seq: entry.seq(),
        entry: String::from_utf8(bytes).map_err(|_| decode("entry is not UTF-8"))?,
        signature: entry.sign(key),
        public_key: key.public_hex(),
        closed_at: entry.closed_at(),
    };
    c.execute(
        "insert into journal (shop_id, seq, kind, order_id, payment_id, at, seal)
         values ($1, $2, 'closing', 0, null, $3, $4)",
        params![shop_id, row.journal_seq, row.closed_at, new_head.as_str()],
    )?;
    c.execute(
        "insert into closings (shop_id, period, number, day, value_from, value_to, journal_seq,
             entry, signature, public_key, closed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        params![
            shop_id,
            row.period.as_str(),
            row.number,
            row.day.as_str(),
            from,
            to,
            row.journal_seq,
            row.entry.as_str(),
            row.signature.as_str(),
            row.public_key.as_str(),
            row.closed_at
        ],
    )?;
    c.execute(
        "update shop_counters set journal_seq = $1, journal_head = $2 where shop_id = $3",
        params![row.journal_seq, new_head.as_str(), shop_id],
    )?;
    // The `closing` webhook event, delivered like a sale's (store::webhooks).
    c.execute(
        "insert into outbox (shop_id, event_type, order_id, created_at, closing_seq)
         values ($1, 'closing', null, $2, $3)",
        params![shop_id, row.closed_at, row.journal_seq],
    )?;
    // The one place a closing (day, month or year) is written: its event of the events
    // journal goes in the same transaction.
    crate::events::append(
        c,
        &NewEvent {
            journal: Journal::Shop(shop_id),
            at: row.closed_at,
            origin: Origin::server(),
            event: Event::Closing {
                period: row.period.clone(),
                date: row.day.clone(),
                number: row.number,
                journal_seq: row.journal_seq,
            },
        },
    )?;
    Ok(row)
}

/// What a `closing` webhook event's body is made of: the shop and the closing that
/// outbox event `event_id` names, if they exist.
pub fn event_subject(
    c: &mut dyn Conn,
    shop_id: i64,
    event_id: i64,
) -> Result<Option<(comptoir_core::model::Shop, ClosingRow)>, StoreError> {
    let Some(shop) = crate::shops::get_shop(c, shop_id)? else {
        return Ok(None);
    };
    c.query_opt(
        &format!(
            "select {COLUMNS} from closings where shop_id = $1 and journal_seq =
                 (select closing_seq from outbox where shop_id = $1 and id = $2)"
        ),
        params![shop_id, event_id],
    )?
    .map(|r| Ok((shop.clone(), closing_row(&r)?)))
    .transpose()
}

/// Closes `period` for the shop, signed with `key`, at `now`: a day ([`close_day`]), or a
/// month or fiscal year (`periods::close_sum`). Already closed: that closing, unchanged.
pub fn close(
    c: &mut dyn Conn,
    shop_id: i64,
    period: &Period,
    key: &FiscalKey,
    now: jiff::Timestamp,
) -> Result<Closed, StoreError> {
    match period.kind() {
        Kind::Day => close_day(c, shop_id, period.first_day(), key, now),
        Kind::Month | Kind::Year => periods::close_sum(c, shop_id, period, key, now),
    }
}

/// Closes `date` for the shop, signed with `key`, at `now`: inside the caller's write
/// transaction it locks the shop's counters, builds the entry from the report's
/// aggregates for the day, seals it after the current head and records it.
pub fn close_day(
    c: &mut dyn Conn,
    shop_id: i64,
    date: Date,
    key: &FiscalKey,
    now: jiff::Timestamp,
) -> Result<Closed, StoreError> {
    let tz = shop_zone(c, shop_id)?;
    if let Some(r) = of_day(c, shop_id, date)? {
        return Ok(Closed::Already(r));
    }
    let (seq, head) = lock_counters(c, shop_id)?;
    let previous = match last(c, shop_id)? {
        None => None,
        Some(p) => {
            let day: Date = p.day.parse().map_err(|_| decode("day"))?;
            Some(carried(&p, day)?)
        }
    };
    check_day(date, previous.as_ref().map(|p| p.1), &tz, now)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let day = ReportDay::of(date, &tz).map_err(|e| StoreError::Invalid(e.message))?;
    let figures = day_figures(c, shop_id, &day)?;
    let at = Position {
        shop_id,
        seq: seq + 1,
        head,
        previous,
    };
    let entry = ClosingEntry::day(&at, &day, &figures, now.as_microsecond())
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(Closed::New(record(c, shop_id, &entry, &at.head, key)?))
}

/// The closing sealed at journal entry `seq`, for `verify`: its canonical bytes.
pub fn entry_at(c: &mut dyn Conn, shop_id: i64, seq: i64) -> Result<Option<String>, StoreError> {
    c.query_opt(
        "select entry from closings where shop_id = $1 and journal_seq = $2",
        params![shop_id, seq],
    )?
    .map(|r| r.string(0))
    .transpose()
}

/// Checks every daily closing of the shop, oldest first, for `verify`: numbered 1..N on
/// consecutive days, each sealed by a journal entry of kind `closing`, signed (by
/// `pinned` when given, else by the key the row names), and with figures that still
/// equal the day's recomputed aggregates. The first problem, with the closing's number.
pub(crate) fn check_all(
    c: &mut dyn Conn,
    shop_id: i64,
    pinned: Option<&str>,
) -> Result<Option<Problem>, StoreError> {
    let rows = list(c, shop_id)?;
    let sealed = c
        .query_one(
            "select count(*) from journal where shop_id = $1 and kind = 'closing'",
            params![shop_id],
        )?
        .i64(0)?;
    let tz = match crate::shops::get_shop(c, shop_id)? {
        Some(s) => TimeZone::get(s.timezone.as_str())
            .map_err(|e| StoreError::Decode(format!("shop time zone: {e}")))?,
        None => return Err(StoreError::NotFound),
    };
    let mut previous: Option<(i64, Date, GrandTotals)> = None;
    for r in &rows {
        let number = r.number;
        let expected = previous.as_ref().map_or(1, |p| p.0 + 1);
        let date: Date = r.day.parse().map_err(|_| decode("day"))?;
        let next_day = previous.as_ref().and_then(|p| p.1.tomorrow().ok());
        if number != expected || next_day.is_some_and(|d| d != date) {
            return Ok(Some(Problem::ClosingGap {
                number,
                expected,
                day: r.day.clone(),
            }));
        }
        if pinned.is_some_and(|k| k != r.public_key) {
            return Ok(Some(Problem::ClosingKey {
                number,
                key: r.public_key.clone(),
            }));
        }
        if !comptoir_core::fiscal_key::verify(&r.public_key, r.entry.as_bytes(), &r.signature) {
            return Ok(Some(Problem::ClosingSignature { number }));
        }
        let kind = c.query_opt(
            "select kind from journal where shop_id = $1 and seq = $2",
            params![shop_id, r.journal_seq],
        )?;
        if kind.map(|k| k.string(0)).transpose()?.as_deref() != Some("closing") {
            return Ok(Some(Problem::ClosingUnsealed { number }));
        }
        // The figures again, from today's rows, at the recorded position and time.
        let stored: serde_json::Value =
            serde_json::from_str(&r.entry).map_err(|_| decode("entry is not JSON"))?;
        let int = |k: &str| stored[k].as_i64().ok_or_else(|| decode(k));
        let day = ReportDay::of(date, &tz).map_err(|e| StoreError::Invalid(e.message))?;
        let figures = day_figures(c, shop_id, &day)?;
        let at = Position {
            shop_id,
            seq: r.journal_seq,
            head: stored["head"].as_str().unwrap_or_default().to_string(),
            previous,
        };
        let again = ClosingEntry::day(&at, &day, &figures, int("closed_at")?).ok();
        if again.as_ref().map(ClosingEntry::canonical).as_deref() != Some(r.entry.as_bytes()) {
            return Ok(Some(Problem::ClosingFigures { number }));
        }
        let grand = GrandTotals {
            signed: int("grand_total")?,
            absolute: int("grand_total_abs")?,
        };
        previous = Some((number, date, grand));
    }
    if let Some(p) = periods::check_all(c, shop_id, pinned, &tz)? {
        return Ok(Some(p));
    }
    let all = c
        .query_one(
            "select count(*) from closings where shop_id = $1",
            params![shop_id],
        )?
        .i64(0)?;
    if sealed != all {
        return Ok(Some(Problem::RowCount {
            what: "closings",
            sealed,
            rows: all,
        }));
    }
    Ok(None)
}
