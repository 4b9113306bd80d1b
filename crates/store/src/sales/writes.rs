//! The statements of a write, gathered to run together at its end (`Writes`), and the
//! rows a PostgreSQL writer lane defers to write a whole group's sales in one statement
//! (`Deferred`).

use super::*;

/// A column's type, for the casts of PostgreSQL's `unnest($1::bigint[], …)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    /// `bigint`
    I,
    /// `text`
    T,
    /// `boolean`
    B,
}

impl Ty {
    fn array(self) -> &'static str {
        match self {
            Ty::I => "bigint[]",
            Ty::T => "text[]",
            Ty::B => "boolean[]",
        }
    }
}

/// A table rows are inserted into: `insert into TABLE (COLUMNS)` and each column's type.
#[derive(Debug)]
pub(super) struct Table {
    pub(super) head: &'static str,
    pub(super) types: &'static [Ty],
}

use Ty::{B, I, T};

pub(super) const ORDERS: Table = Table {
    head: "insert into orders (id, shop_id, number, status, is_refund, refund_of, created_at,
             validated_at, terminated_at, value_date, user_id, cash_box_id, client_id,
             delivery_method, table_id, covers, pager_num, public_comment, private_comment,
             total, vat, paid, change_given, invoice_token, seal)",
    types: &[
        I, I, I, T, B, I, I, I, I, I, I, I, I, I, I, I, T, T, T, I, I, I, I, T, T,
    ],
};

pub(super) const ORDER_LINES: Table = Table {
    head: "insert into order_lines (shop_id, order_id, line_no, item_id, department_id, title,
             quantity, unit_price, total, vat_rate, variations)",
    types: &[I, I, I, I, I, T, I, I, I, I, T],
};

pub(super) const PAYMENTS: Table = Table {
    head: "insert into payments (id, shop_id, order_id, payment_method_id, name, amount, at)",
    types: &[I, I, I, I, T, I, I],
};

pub(super) const JOURNAL: Table = Table {
    head: "insert into journal (shop_id, seq, kind, order_id, payment_id, at, seal)",
    types: &[I, I, T, I, I, I, T],
};

pub(super) const OUTBOX: Table = Table {
    head: "insert into outbox (shop_id, event_type, order_id, created_at)",
    types: &[I, T, I, I],
};

pub(super) const REFUND_LINES: Table = Table {
    head: "insert into refund_lines (shop_id, original_order, original_line, refund_order,
             refund_line, quantity)",
    types: &[I, I, I, I, I, I],
};

const COUNTERS: &str = "update shop_counters set next_order_number = ?, journal_seq = ?,
     journal_head = ? where shop_id = ?";

/// A part of a write.
enum Part {
    /// Rows of `table`, `table.types.len()` values each.
    Rows(&'static Table, Vec<Value>),
    /// The shop's counters as the write leaves them.
    Counters { shop_id: i64, values: Vec<Value> },
    /// Any other statement; its text marks its parameters with `?`.
    Statement(String, Vec<Value>),
}

/// The statements of a write, gathered to run together at its end: one after the other
/// on SQLite; on PostgreSQL as one statement, every part but the last in a `with` clause,
/// so that a sale's rows cost one round trip while it holds the shop's counter row.
/// Parts only refer to one another through foreign keys, which PostgreSQL checks once the
/// whole statement has run. In a PostgreSQL lane, a write of rows and counters only (a
/// sale) is not run but deferred to its group's statement ([`Deferred`]).
#[derive(Default)]
pub(super) struct Writes {
    parts: Vec<Part>,
}

/// Most parameters in one part: PostgreSQL takes at most 65,535 in a statement.
pub(super) const MAX_PART_VALUES: usize = 11 * 100;

impl Writes {
    /// `values` as rows of `table`.
    pub(super) fn insert(&mut self, table: &'static Table, values: Vec<Value>) {
        if !values.is_empty() {
            self.parts.push(Part::Rows(table, values));
        }
    }

    pub(super) fn statement(&mut self, sql: &str, values: Vec<Value>) {
        self.parts.push(Part::Statement(sql.to_string(), values));
    }

    /// The shop's counters, written last.
    pub(super) fn counters(&mut self, shop_id: i64, next_number: i64, seq: i64, head: String) {
        self.parts.push(Part::Counters {
            shop_id,
            values: vec![
                Value::I64(next_number),
                Value::I64(seq),
                Value::Text(head),
                Value::I64(shop_id),
            ],
        });
    }

    /// Each part as a statement text with `?` parameters, and its values.
    fn texts(self) -> Vec<(String, Vec<Value>)> {
        let mut out = Vec::with_capacity(self.parts.len());
        for part in self.parts {
            match part {
                Part::Rows(table, values) => rows_text(table, values, &mut out),
                Part::Counters { values, .. } => out.push((COUNTERS.to_string(), values)),
                Part::Statement(sql, values) => out.push((sql, values)),
            }
        }
        out
    }

    pub(super) fn run(self, c: &mut dyn Conn) -> Result<(), StoreError> {
        let parts = self.texts();
        match c.backend() {
            Backend::Sqlite => {
                for (sql, values) in parts {
                    c.execute(&numbered(&[&sql]), &values)?;
                }
            }
            Backend::Postgres => run_as_one(c, parts)?,
        }
        Ok(())
    }
}

/// `values` as `insert … values (?, …), (?, …)` statements of at most
/// [`MAX_PART_VALUES`] parameters each.
fn rows_text(table: &Table, mut values: Vec<Value>, out: &mut Vec<(String, Vec<Value>)>) {
    let width = table.types.len();
    while !values.is_empty() {
        let rest = values.split_off(values.len().min(MAX_PART_VALUES / width * width));
        let rows = values.len() / width;
        let mut sql = String::with_capacity(table.head.len() + 8 + rows * (width * 3 + 4));
        sql.push_str(table.head);
        sql.push_str(" values ");
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for col in 0..width {
                sql.push_str(if col == 0 { "?" } else { ", ?" });
            }
            sql.push(')');
        }
        out.push((sql, values));
        values = rest;
    }
}

/// Runs `parts` as one PostgreSQL statement: every part but the last in a `with` clause.
fn run_as_one(c: &mut dyn Conn, parts: Vec<(String, Vec<Value>)>) -> Result<(), StoreError> {
    if let Some((sql, values)) = as_one(parts) {
        c.execute(&sql, &values)?;
    }
    Ok(())
}

/// `parts` as one PostgreSQL statement (see [`run_as_one`]); `None` without parts.
fn as_one(parts: Vec<(String, Vec<Value>)>) -> Option<(String, Vec<Value>)> {
    let ((last, _), rest) = parts.split_last()?;
    let mut texts: Vec<String> = rest
        .iter()
        .enumerate()
        .map(|(i, (sql, _))| format!("{}w{i} as ({sql})", if i == 0 { "with " } else { ", " }))
        .collect();
    texts.push(format!(" {last}"));
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let values: Vec<Value> = parts.into_iter().flat_map(|(_, v)| v).collect();
    Some((numbered(&texts), values))
}

/// The rows and counters that the writes of a PostgreSQL lane's group deferred, written
/// together by [`Deferred::flush`] in one statement whose text depends only on which
/// tables have rows (the counters of all its shops are one part too): each table's rows as one `insert … select * from unnest(…)` of one
/// array per column, so that a group of sales costs one statement (one round trip, one
/// executor start, one prepared plan reused) rather than one per sale. The lane flushes
/// before its transaction commits and before any write that is not a sale (which might
/// read these rows); on a failure they are dropped with the transaction.
#[derive(Default)]
pub(crate) struct Deferred {
    /// Rows by table, in the order tables first appeared.
    rows: Vec<(&'static Table, Vec<Value>)>,
    /// The last counters deferred for each shop: `(shop_id, values of COUNTERS)`.
    counters: Vec<(i64, Vec<Value>)>,
    /// Writes taken since the last flush.
    writes: usize,
}

impl Deferred {
    /// Writes taken since the last flush or discard.
    pub(crate) fn writes(&self) -> usize {
        self.writes
    }

    /// Takes `w`'s rows and counters, or hands `w` back untouched when it has another
    /// kind of statement, to be run at once.
    pub(super) fn take(&mut self, w: Writes) -> Result<(), Writes> {
        if w.parts.iter().any(|p| matches!(p, Part::Statement(..))) {
            return Err(w);
        }
        for part in w.parts {
            match part {
                Part::Rows(table, values) => {
                    match self.rows.iter_mut().find(|(t, _)| std::ptr::eq(*t, table)) {
                        Some((_, all)) => all.extend(values),
                        None => self.rows.push((table, values)),
                    }
                }
                Part::Counters { shop_id, values } => {
                    match self.counters.iter_mut().find(|(s, _)| *s == shop_id) {
                        Some((_, last)) => *last = values,
                        None => self.counters.push((shop_id, values)),
                    }
                }
                Part::Statement(..) => {}
            }
        }
        self.writes += 1;
        Ok(())
    }

    /// Forgets everything deferred (its transaction was rolled back).
    pub(crate) fn discard(&mut self) {
        self.rows.clear();
        self.counters.clear();
        self.writes = 0;
    }

    /// Writes everything deferred in one statement, in the caller's transaction. On an
    /// error the rows are gone: the caller rolls the transaction back.
    pub(crate) fn flush(&mut self, c: &mut dyn Conn) -> Result<(), StoreError> {
        if let Some((sql, values)) = self.take_statement() {
            c.execute(&sql, &values)?;
        }
        Ok(())
    }

    /// Everything deferred as one statement, for the caller to run (the lane sends it
    /// with its commit); `None` when nothing was deferred. Forgotten here either way.
    pub(crate) fn take_statement(&mut self) -> Option<(String, Vec<Value>)> {
        let rows = std::mem::take(&mut self.rows);
        let counters = std::mem::take(&mut self.counters);
        self.writes = 0;
        let mut parts = Vec::with_capacity(rows.len() + counters.len());
        for (table, values) in rows {
            parts.push(unnest_part(table, values));
        }
        if !counters.is_empty() {
            parts.push(counters_part(counters));
        }
        as_one(parts)
    }
}

/// The counters of every shop of a group in one `update … from unnest(…)`, so that the
/// statement's text is the same however many shops the group has.
fn counters_part(counters: Vec<(i64, Vec<Value>)>) -> (String, Vec<Value>) {
    // Each shop's values are those of `COUNTERS`: next number, seq, head, shop.
    let mut columns: [Vec<Value>; 4] = Default::default();
    for (_, values) in counters {
        for (column, v) in columns.iter_mut().zip(values) {
            column.push(v);
        }
    }
    let sql = "update shop_counters s set next_order_number = u.next_number,
         journal_seq = u.seq, journal_head = u.head
         from unnest(?::bigint[], ?::bigint[], ?::text[], ?::bigint[])
             as u(next_number, seq, head, shop_id)
         where s.shop_id = u.shop_id";
    (
        sql.to_string(),
        columns.into_iter().map(Value::Array).collect(),
    )
}

/// `insert … select * from unnest(?::bigint[], ?::text[], …)`: `values` (row after row)
/// as one array per column.
fn unnest_part(table: &Table, values: Vec<Value>) -> (String, Vec<Value>) {
    let width = table.types.len();
    let rows = values.len() / width;
    let mut columns: Vec<Vec<Value>> = (0..width).map(|_| Vec::with_capacity(rows)).collect();
    for (i, v) in values.into_iter().enumerate() {
        columns[i % width].push(v);
    }
    let casts: Vec<String> = table
        .types
        .iter()
        .map(|t| format!("?::{}", t.array()))
        .collect();
    let sql = format!("{} select * from unnest({})", table.head, casts.join(", "));
    (sql, columns.into_iter().map(Value::Array).collect())
}

/// The texts joined, each `?` replaced by `$1`, `$2`… in order.
pub(super) fn numbered(texts: &[&str]) -> String {
    let mut out = String::with_capacity(texts.iter().map(|t| t.len() * 2).sum());
    let mut n = 0u32;
    let mut digits = [0u8; 10];
    for t in texts {
        // `?` is ASCII: the pieces between them are whole characters.
        let mut pieces = t.split('?');
        if let Some(first) = pieces.next() {
            out.push_str(first);
        }
        for piece in pieces {
            n += 1;
            out.push('$');
            let mut i = digits.len();
            let mut v = n;
            loop {
                i -= 1;
                digits[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
            out.push_str(piece);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_across_parts() {
        assert_eq!(numbered(&["a ? b ?", "(?)", "none"]), "a $1 b $2($3)none");
        let many = "?,".repeat(12);
        assert_eq!(numbered(&[&many]).matches('$').count(), 12);
        assert!(numbered(&[&many]).ends_with("$11,$12,"));
        assert_eq!(numbered(&["é?ü"]), "é$1ü");
    }

    #[test]
    fn every_table_names_as_many_columns_as_it_has_types() {
        for t in [
            &ORDERS,
            &ORDER_LINES,
            &PAYMENTS,
            &JOURNAL,
            &OUTBOX,
            &REFUND_LINES,
        ] {
            let columns = t.head.split('(').nth(1).unwrap_or("").split(',').count();
            assert_eq!(columns, t.types.len(), "{}", t.head);
        }
    }

    #[test]
    fn deferred_rows_become_one_array_per_column_and_the_last_counters_win() {
        let mut d = Deferred::default();
        for (id, next) in [(7, 2), (8, 3)] {
            let mut w = Writes::default();
            w.insert(
                &OUTBOX,
                vec![
                    Value::I64(1),
                    Value::from("validated"),
                    Value::I64(id),
                    Value::I64(0),
                ],
            );
            w.counters(1, next, next, format!("h{next}"));
            assert!(d.take(w).is_ok());
        }
        let mut w = Writes::default();
        w.statement("update orders set paid = ? where id = ?", Vec::new());
        assert!(d.take(w).is_err(), "any other statement runs at once");
        assert_eq!(d.writes(), 2);
        let (sql, values) = unnest_part(&OUTBOX, d.rows[0].1.clone());
        assert!(sql.ends_with("unnest(?::bigint[], ?::text[], ?::bigint[], ?::bigint[])"));
        assert_eq!(values[2], Value::Array(vec![Value::I64(7), Value::I64(8)]));
        assert_eq!(d.counters.len(), 1);
        assert_eq!(d.counters[0].1[2], Value::from("h3"));
        d.discard();
        assert_eq!(d.writes(), 0);
        assert!(d.rows.is_empty() && d.counters.is_empty());
    }
}
