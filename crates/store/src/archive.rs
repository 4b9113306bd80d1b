//! The rows of a period's archive (issue #11), read a page at a time. Each file of the
//! archive is a [`Table`]: the period's orders as the daily closings count them (by value
//! date, pending ones left out) with their lines and payments, the closings of the
//! period's days, and the journal entries that seal all of them. The format, the period
//! and the rule of what may be archived are core::archive's.

use crate::db::{Conn, Value};
use crate::{StoreError, params};
use comptoir_core::archive::{ClosingRef, Field};

/// The orders an archive covers, as `o`: `$1` the shop, `$2`..`$3` their value dates.
macro_rules! period_orders {
    () => {
        "o.shop_id = $1 and o.status <> 'pending' and o.value_date >= $2 and o.value_date < $3"
    };
}

/// The ids of one page of orders, as `o`: the next `$5` of the period after order `$4`.
/// Lines and payments are read a page of orders at a time, looked up by key: an order's
/// rows never straddle two pages, and no page reads or sorts the whole period again.
macro_rules! page_of_orders {
    () => {
        "(select q.id from orders q
             where q.shop_id = $1 and q.status <> 'pending' and q.value_date >= $2
               and q.value_date < $3 and q.id > $4 order by q.id limit $5) o"
    };
}

/// One file of the archive: its name, its columns, and the query of one page of its rows.
#[derive(Debug)]
pub struct Table {
    /// The file's name in the archive.
    pub name: &'static str,
    /// The CSV header.
    pub columns: &'static [&'static str],
    /// How many leading columns (integers) make the key that identifies a row and orders
    /// the file.
    keys: usize,
    /// Parameters: `$1` shop, `$2`/`$3` the period's value dates `[from, to)`, `$4` the
    /// first column of the last row read, `$5` the page's size (rows, or orders for the
    /// rows of a page of orders). Every row of one first-column value is in one page.
    sql: &'static str,
}

/// The archive's files, in the order they are written. A new file is one more entry.
pub const TABLES: &[Table] = &[ORDERS, LINES, PAYMENTS, CLOSINGS, JOURNAL, EVENTS];

/// What each order's journal entry seals (docs/inalterability.md), and the seal.
const ORDERS: Table = Table {
    name: "orders.csv",
    columns: &[
        "id",
        "number",
        "created_at",
        "validated_at",
        "value_date",
        "client_id",
        "user_id",
        "cash_box_id",
        "delivery_method",
        "table_id",
        "is_refund",
        "refund_of",
        "total",
        "vat",
        "seal",
    ],
    keys: 1,
    sql: concat!(
        "select o.id, o.number, o.created_at, o.validated_at, o.value_date, o.client_id,
                o.user_id, o.cash_box_id, o.delivery_method, o.table_id, o.is_refund,
                o.refund_of, o.total, o.vat, o.seal
         from orders o where ",
        period_orders!(),
        " and o.id > $4 order by o.id limit $5"
    ),
};

const LINES: Table = Table {
    name: "lines.csv",
    columns: &[
        "order_id",
        "line_no",
        "item_id",
        "department_id",
        "title",
        "quantity",
        "unit_price",
        "total",
        "vat_rate",
        "variations",
    ],
    keys: 2,
    sql: concat!(
        "select l.order_id, l.line_no, l.item_id, l.department_id, l.title, l.quantity,
                l.unit_price, l.total, l.vat_rate, l.variations
         from ",
        page_of_orders!(),
        " cross join order_lines l where l.shop_id = $1 and l.order_id = o.id
         order by l.order_id, l.line_no"
    ),
};

const PAYMENTS: Table = Table {
    name: "payments.csv",
    columns: &[
        "order_id",
        "id",
        "payment_method_id",
        "name",
        "amount",
        "at",
    ],
    keys: 2,
    sql: concat!(
        "select p.order_id, p.id, p.payment_method_id, p.name, p.amount, p.at
         from ",
        page_of_orders!(),
        " cross join payments p where p.shop_id = $1 and p.order_id = o.id
         order by p.order_id, p.id"
    ),
};

/// The closings inside the period (its days', and its months' once closed), with their
/// signed bytes.
const CLOSINGS: Table = Table {
    name: "closings.csv",
    columns: &[
        "journal_seq",
        "period",
        "number",
        "day",
        "value_from",
        "value_to",
        "entry",
        "signature",
        "public_key",
        "closed_at",
    ],
    keys: 1,
    sql: "select c.journal_seq, c.period, c.number, c.day, c.value_from, c.value_to, c.entry,
                 c.signature, c.public_key, c.closed_at
          from closings c
          where c.shop_id = $1 and c.value_from >= $2 and c.value_to <= $3 and c.journal_seq > $4
          order by c.journal_seq limit $5",
};

/// The journal entries that seal the orders, payments and closings above. Walked in
/// `seq` order with each entry's row looked up by key, so a page stops at its limit.
const JOURNAL: Table = Table {
    name: "journal.csv",
    columns: &["seq", "kind", "order_id", "payment_id", "at", "seal"],
    keys: 1,
    sql: "select j.seq, j.kind, j.order_id, j.payment_id, j.at, j.seal from journal j
          left join orders o on j.kind <> 'closing' and o.shop_id = j.shop_id and o.id = j.order_id
          left join closings c on j.kind = 'closing' and c.shop_id = j.shop_id
                               and c.journal_seq = j.seq
          where j.shop_id = $1
            and ((o.status <> 'pending' and o.value_date >= $2 and o.value_date < $3)
              or (c.value_from >= $2 and c.value_to <= $3))
            and j.seq > $4
          order by j.seq limit $5",
};

/// The shop's events journal (store::events) over the period's hours: sign-ins, keys,
/// configuration changes, downloads, closings, duplicates. Each entry with its signed-off
/// bytes and seal, so the chain can be re-verified from the archive alone.
const EVENTS: Table = Table {
    name: "events.csv",
    columns: &["seq", "kind", "at", "entry", "seal"],
    keys: 1,
    sql: "select e.seq, e.kind, e.at, e.entry, e.seal from events e
          where e.shop_id = $1 and e.at >= $2 and e.at < $3 and e.seq > $4
          order by e.seq limit $5",
};

/// What [`Table::each_page`] hands each page of rows to.
pub type EachPage<'f, E> = dyn FnMut(&[Vec<Field>]) -> Result<(), E> + 'f;

/// Rows read per query: memory stays flat whatever the period's size.
pub const PAGE: i64 = 1000;

/// The shop and the value dates (microseconds, `[from, to)`) an archive covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub shop_id: i64,
    pub from: i64,
    pub to: i64,
}

impl Table {
    /// The table that writes the file `name`, if any.
    pub fn named(name: &str) -> Option<&'static Table> {
        TABLES.iter().find(|t| t.name == name)
    }

    /// How many leading columns make the row's key.
    pub fn keys(&self) -> usize {
        self.keys
    }

    /// Every row of the period, in key order, handed to `f` a page at a time (at most
    /// `page` rows, or the rows of `page` orders). Run it inside [`crate::journal::snapshot`]
    /// for one consistent view.
    pub fn each_page<E: From<StoreError>>(
        &self,
        c: &mut dyn Conn,
        span: &Span,
        page: i64,
        f: &mut EachPage<'_, E>,
    ) -> Result<(), E> {
        let mut after = i64::MIN;
        loop {
            let p = params![span.shop_id, span.from, span.to, after, page];
            let rows = c
                .query(self.sql, p)?
                .into_iter()
                .map(|r| r.0.into_iter().map(field).collect())
                .collect::<Result<Vec<Vec<Field>>, StoreError>>()?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = match last.first() {
                Some(Field::Int(v)) => *v,
                other => {
                    let e = format!("{}: key column is {other:?}", self.name);
                    return Err(StoreError::Decode(e).into());
                }
            };
            f(&rows)?;
        }
    }
}

/// A column's value as the archive writes it; booleans as 0 and 1 on both backends.
fn field(v: Value) -> Result<Field, StoreError> {
    Ok(match v {
        Value::Null => Field::Null,
        Value::I64(i) => Field::Int(i),
        Value::Bool(b) => Field::Int(i64::from(b)),
        Value::Text(t) => Field::Text(t),
        Value::Bytes(_) => return Err(StoreError::Decode("archive: a binary column".into())),
        Value::Array(_) => return Err(StoreError::Decode("archive: an array column".into())),
    })
}

/// The shop's last closed month (`YYYY-MM`), if any: what
/// [`comptoir_core::archive::check_closed`] needs.
pub fn last_closed_month(c: &mut dyn Conn, shop_id: i64) -> Result<Option<String>, StoreError> {
    c.query_opt(
        "select day from closings where shop_id = $1 and period = 'month'
         order by number desc limit 1",
        params![shop_id],
    )?
    .map(|r| r.string(0))
    .transpose()
}

/// The closings of the span's days, oldest first, as the manifest lists them.
pub fn closings(c: &mut dyn Conn, span: &Span) -> Result<Vec<ClosingRef>, StoreError> {
    c.query(
        "select number, day, entry, signature from closings
         where shop_id = $1 and value_from >= $2 and value_to <= $3 order by journal_seq",
        params![span.shop_id, span.from, span.to],
    )?
    .iter()
    .map(|r| {
        let entry: serde_json::Value = serde_json::from_str(r.str(2)?)
            .map_err(|_| StoreError::Decode("closings: entry is not JSON".into()))?;
        Ok(ClosingRef {
            number: r.i64(0)?,
            day: r.string(1)?,
            head: entry["head"].as_str().unwrap_or_default().to_string(),
            signature: r.string(3)?,
        })
    })
    .collect()
}
