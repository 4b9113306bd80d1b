//! Daily closings (the Z): a closing is written as a journal entry of kind `closing`, its
//! signed canonical bytes kept in `closings`; the rules and figures are core::closing's.

use crate::db::{Backend, Conn, Row};
use crate::journal::Problem;
use crate::report::{ReportQuery, aggregates};
use crate::{StoreError, params};
use comptoir_core::closing::{ClosingEntry, GrandTotals, Position, check_day};
use comptoir_core::fiscal_key::FiscalKey;
use comptoir_core::report::ReportDay;
use comptoir_core::seal::seal;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A stored closing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosingRow {
    pub number: i64,
    /// `YYYY-MM-DD`.
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

const COLUMNS: &str = "number, day, journal_seq, entry, signature, public_key, closed_at";

fn closing_row(r: &Row) -> Result<ClosingRow, StoreError> {
    Ok(ClosingRow {
        number: r.i64(0)?,
        day: r.string(1)?,
        journal_seq: r.i64(2)?,
        entry: r.string(3)?,
        signature: r.string(4)?,
        public_key: r.string(5)?,
        closed_at: r.i64(6)?,
    })
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
    let shop = crate::shops::get_shop(c, shop_id)?.ok_or(StoreError::NotFound)?;
    let tz = TimeZone::get(shop.timezone.as_str())
        .map_err(|e| StoreError::Decode(format!("shop time zone: {e}")))?;
    let day_text = date.to_string();
    if let Some(r) = c.query_opt(
        &format!(
            "select {COLUMNS} from closings where shop_id = $1 and period = 'day' and day = $2"
        ),
        params![shop_id, day_text.as_str()],
    )? {
        return Ok(Closed::Already(closing_row(&r)?));
    }
    let lock = if c.backend() == Backend::Postgres {
        " for update"
    } else {
        ""
    };
    let counters = c.query_one(
        &format!("select journal_seq, journal_head from shop_counters where shop_id = $1{lock}"),
        params![shop_id],
    )?;
    let (seq, head) = (counters.i64(0)?, counters.string(1)?);
    let previous = match last(c, shop_id)? {
        None => None,
        Some(p) => {
            let value: serde_json::Value =
                serde_json::from_str(&p.entry).map_err(|_| decode("entry is not JSON"))?;
            let int = |k: &str| value[k].as_i64().ok_or_else(|| decode(k));
            let grand = GrandTotals {
                signed: int("grand_total")?,
                absolute: int("grand_total_abs")?,
            };
            let day: Date = p.day.parse().map_err(|_| decode("day"))?;
            Some((p.number, day, grand))
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
    let closed_at = now.as_microsecond();
    let entry = ClosingEntry::day(&at, &day, &figures, closed_at)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let bytes = entry.canonical();
    let new_head = seal(&at.head, &bytes);
    let row = ClosingRow {
        number: entry.number(),
        day: day_text,
        journal_seq: at.seq,
        entry: String::from_utf8(bytes).map_err(|_| decode("entry is not UTF-8"))?,
        signature: entry.sign(key),
        public_key: key.public_hex(),
        closed_at,
    };
    c.execute(
        "insert into journal (shop_id, seq, kind, order_id, payment_id, at, seal)
         values ($1, $2, 'closing', 0, null, $3, $4)",
        params![shop_id, at.seq, closed_at, new_head.as_str()],
    )?;
    c.execute(
        "insert into closings (shop_id, period, number, day, value_from, value_to, journal_seq,
             entry, signature, public_key, closed_at)
         values ($1, 'day', $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            shop_id,
            row.number,
            row.day.as_str(),
            day.from,
            day.to,
            row.journal_seq,
            row.entry.as_str(),
            row.signature.as_str(),
            row.public_key.as_str(),
            closed_at
        ],
    )?;
    c.execute(
        "update shop_counters set journal_seq = $1, journal_head = $2 where shop_id = $3",
        params![at.seq, new_head.as_str(), shop_id],
    )?;
    Ok(Closed::New(row))
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
    if sealed != rows.len() as i64 {
        return Ok(Some(Problem::RowCount {
            what: "closings",
            sealed,
            rows: rows.len() as i64,
        }));
    }
    Ok(None)
}
