//! The shop's counters, journal and outbox for the length of one write (`Ledger`), and
//! the statements of a write gathered to run together (`Writes`).

use super::*;

/// One sealed journal entry, waiting to be written by [`Ledger::close`].
pub(super) struct JournalRow {
    seq: i64,
    kind: &'static str,
    order_id: i64,
    payment_id: Option<i64>,
    at: i64,
    seal: String,
}

/// The shop's counters for the length of one write: read once (and row-locked, on
/// PostgreSQL) before the first number or journal entry, advanced in memory, and written
/// back once by [`Ledger::close`] with the journal entries and outbox events they produced.
/// Concurrent writers of one shop queue on the counter row, so numbers and the chain stay
/// gapless; on SQLite the single writer already serialises them.
pub(super) struct Ledger {
    shop_id: i64,
    next_number: i64,
    seq: i64,
    head: String,
    journal: Vec<JournalRow>,
    /// `(event type, order id, at)`.
    events: Vec<(&'static str, i64, i64)>,
}

impl Ledger {
    /// Reads (on PostgreSQL, locks) the shop's counters, with the ids of a new order and
    /// of a new payment when asked. The ids are the caller's alone: SQLite's single writer
    /// holds the write lock, PostgreSQL draws them from the sequences.
    pub(super) fn open(
        c: &mut dyn Conn,
        lane: &mut Lane<'_>,
        shop_id: i64,
        order_id: bool,
        payment_id: bool,
    ) -> Result<(Ledger, Option<i64>, Option<i64>), StoreError> {
        // Later sales of a PostgreSQL lane's group: the counters are this transaction's
        // own (it holds the row), and ids come from a supply drawn ahead: no round trip.
        if let Some(lane) = lane.as_deref_mut()
            && let Some((next_number, seq, head)) = lane.held_counters(shop_id)
        {
            let order = if order_id {
                lane.drawn_id(c, "orders")?
            } else {
                None
            };
            let payment = if payment_id {
                lane.drawn_id(c, "payments")?
            } else {
                None
            };
            if order.is_some() == order_id && payment.is_some() == payment_id {
                return Ok((Ledger::new(shop_id, next_number, seq, head), order, payment));
            }
        }
        let next_id = |table: &str| match c.backend() {
            Backend::Sqlite => format!(", (select coalesce(max(id), 0) + 1 from {table})"),
            Backend::Postgres => format!(", nextval(pg_get_serial_sequence('{table}', 'id'))"),
        };
        let mut sql = String::from("select next_order_number, journal_seq, journal_head");
        if order_id {
            sql.push_str(&next_id("orders"));
        }
        if payment_id {
            sql.push_str(&next_id("payments"));
        }
        sql.push_str(" from shop_counters where shop_id = $1");
        if c.backend() == Backend::Postgres {
            sql.push_str(" for update");
        }
        let row = c.query_one(&sql, params![shop_id])?;
        let ledger = Ledger::from_row(shop_id, &row)?;
        let order = if order_id { Some(row.i64(3)?) } else { None };
        let payment = if payment_id {
            Some(row.i64(3 + usize::from(order_id))?)
        } else {
            None
        };
        Ok((ledger, order, payment))
    }

    pub(super) fn from_row(shop_id: i64, row: &Row) -> Result<Ledger, StoreError> {
        Ok(Ledger::new(
            shop_id,
            row.i64(0)?,
            row.i64(1)?,
            row.string(2)?,
        ))
    }

    pub(super) fn new(shop_id: i64, next_number: i64, seq: i64, head: String) -> Ledger {
        Ledger {
            shop_id,
            next_number,
            seq,
            head,
            journal: Vec::with_capacity(2),
            events: Vec::with_capacity(2),
        }
    }

    /// Chains an entry whose canonical bytes `canonical(seq)` gives; returns its seal.
    pub(super) fn append(
        &mut self,
        kind: &'static str,
        order_id: i64,
        payment_id: Option<i64>,
        at: i64,
        canonical: impl FnOnce(i64) -> Vec<u8>,
    ) -> String {
        self.seq += 1;
        let s = seal(&self.head, &canonical(self.seq));
        self.head.clone_from(&s);
        self.journal.push(JournalRow {
            seq: self.seq,
            kind,
            order_id,
            payment_id,
            at,
            seal: s.clone(),
        });
        s
    }

    /// Gives a pending order its number, validation time and seal; queues `validated`.
    pub(super) fn validate(&mut self, order: &mut OrderView, at: i64) {
        order.number = Some(self.next_number);
        self.next_number += 1;
        order.validated_at = Some(at);
        order.status = SaleStatus::Validated;
        // The entry borrows the order: no copy of its lines for the seal.
        let s = self.append("order", order.id, None, at, |seq| {
            order.journal_entry(seq).canonical()
        });
        order.seal = Some(s);
        self.events.push(("validated", order.id, at));
    }

    /// Marks a validated order as paid in full at `at`; queues `terminated`.
    pub(super) fn terminate(&mut self, order: &mut OrderView, at: i64) {
        order.status = SaleStatus::Terminated;
        order.terminated_at = Some(at);
        self.events.push(("terminated", order.id, at));
    }

    /// Writes payment `payment_id` of `amount` on an order written before it, and seals
    /// it. The order's paid amount and status are [`settle_in_memory`]'s.
    pub(super) fn record_payment(
        &mut self,
        w: &mut Writes,
        order: &mut OrderView,
        method: &PaymentMethod,
        payment_id: i64,
        amount: Money,
        at: i64,
    ) {
        w.insert(
            "insert into payments (id, shop_id, order_id, payment_method_id, name, amount, at)",
            vec![
                Value::I64(payment_id),
                Value::I64(order.shop_id),
                Value::I64(order.id),
                Value::I64(method.id),
                Value::from(method.name.as_str()),
                Value::I64(amount.minor()),
                Value::I64(at),
            ],
            7,
        );
        self.append("payment", order.id, Some(payment_id), at, |seq| {
            PaymentEntry {
                shop_id: order.shop_id,
                seq,
                order_internal_id: order.id,
                payment_id,
                payment_method_id: method.id,
                amount: amount.minor(),
                at,
            }
            .canonical()
        });
        order.payments.push(PaymentView {
            id: payment_id,
            payment_method_id: method.id,
            name: method.name.clone(),
            amount,
            at,
        });
    }

    /// Adds the journal entries, the outbox events and the counters to `w`, runs it, and
    /// notes the counters in the lane, if the write runs in one (see
    /// [`crate::lane::LaneState::held_counters`]).
    pub(super) fn write(
        self,
        c: &mut dyn Conn,
        lane: &mut Lane<'_>,
        mut w: Writes,
    ) -> Result<(), StoreError> {
        let (shop_id, counters) = (
            self.shop_id,
            (self.next_number, self.seq, self.head.clone()),
        );
        let changed = self.close(&mut w);
        w.run(c)?;
        if changed && let Some(lane) = lane.as_deref_mut() {
            lane.hold_counters(shop_id, counters);
        }
        Ok(())
    }

    /// Adds the journal entries, the outbox events and the counters to `w`; whether the
    /// counters changed.
    pub(super) fn close(self, w: &mut Writes) -> bool {
        if self.journal.is_empty() && self.events.is_empty() {
            return false;
        }
        let mut values = Vec::with_capacity(self.journal.len() * 7);
        for j in self.journal {
            values.extend([
                Value::I64(self.shop_id),
                Value::I64(j.seq),
                Value::from(j.kind),
                Value::I64(j.order_id),
                Value::from(j.payment_id),
                Value::I64(j.at),
                Value::Text(j.seal),
            ]);
        }
        w.insert(
            "insert into journal (shop_id, seq, kind, order_id, payment_id, at, seal)",
            values,
            7,
        );
        let mut values = Vec::with_capacity(self.events.len() * 4);
        for (event, order_id, at) in &self.events {
            values.extend([
                Value::I64(self.shop_id),
                Value::from(*event),
                Value::I64(*order_id),
                Value::I64(*at),
            ]);
        }
        w.insert(
            "insert into outbox (shop_id, event_type, order_id, created_at)",
            values,
            4,
        );
        w.statement(
            "update shop_counters set next_order_number = ?, journal_seq = ?, journal_head = ?
             where shop_id = ?",
            vec![
                Value::I64(self.next_number),
                Value::I64(self.seq),
                Value::Text(self.head),
                Value::I64(self.shop_id),
            ],
        );
        true
    }
}

/// Applies a payment's settlement to the order in memory.
pub(super) fn settle_in_memory(
    ledger: &mut Ledger,
    order: &mut OrderView,
    settlement: Settlement,
    at: i64,
) {
    order.paid = order.paid + settlement.paid;
    order.change = order.change + settlement.change;
    if settlement.status == SaleStatus::Terminated {
        ledger.terminate(order, at);
    }
}

/// The statements of a write, gathered to run together at its end: one after the other
/// on SQLite; on PostgreSQL as one statement, every part but the last in a `with` clause,
/// so that a sale's rows cost one round trip while it holds the shop's counter row.
/// Parts only refer to one another through foreign keys, which PostgreSQL checks once the
/// whole statement has run. Each part's text marks its parameters with `?`.
#[derive(Default)]
pub(super) struct Writes {
    parts: Vec<(String, Vec<Value>)>,
}

/// Most parameters in one part: PostgreSQL takes at most 65,535 in a statement.
pub(super) const MAX_PART_VALUES: usize = 11 * 100;

impl Writes {
    /// `values` as rows of `width` columns: `head` is `insert into TABLE (COLUMNS)`.
    pub(super) fn insert(&mut self, head: &str, values: Vec<Value>, width: usize) {
        let mut values = values;
        while !values.is_empty() {
            let rest = values.split_off(values.len().min(MAX_PART_VALUES / width * width));
            let rows = values.len() / width;
            let mut sql = String::with_capacity(head.len() + 8 + rows * (width * 3 + 4));
            sql.push_str(head);
            sql.push_str(" values ");
            for r in 0..rows {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for col in 0..width {
                    sql.push_str(if col == 0 { "?" } else { ", ?" });
                }
                sql.push(')');
            }
            self.parts.push((sql, values));
            values = rest;
        }
    }

    pub(super) fn statement(&mut self, sql: &str, values: Vec<Value>) {
        self.parts.push((sql.to_string(), values));
    }

    pub(super) fn run(self, c: &mut dyn Conn) -> Result<(), StoreError> {
        match c.backend() {
            Backend::Sqlite => {
                for (sql, values) in self.parts {
                    c.execute(&numbered(&[&sql]), &values)?;
                }
            }
            Backend::Postgres => {
                let Some(((last, _), rest)) = self.parts.split_last() else {
                    return Ok(());
                };
                let mut texts: Vec<String> = rest
                    .iter()
                    .enumerate()
                    .map(|(i, (sql, _))| {
                        format!("{}w{i} as ({sql})", if i == 0 { "with " } else { ", " })
                    })
                    .collect();
                texts.push(format!(" {last}"));
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let values: Vec<Value> = self.parts.into_iter().flat_map(|(_, v)| v).collect();
                c.execute(&numbered(&texts), &values)?;
            }
        }
        Ok(())
    }
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
}
