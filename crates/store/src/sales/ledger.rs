//! The shop's counters, journal and outbox for the length of one write (`Ledger`).

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
            &PAYMENTS,
            vec![
                Value::I64(payment_id),
                Value::I64(order.shop_id),
                Value::I64(order.id),
                Value::I64(method.id),
                Value::from(method.name.as_str()),
                Value::I64(amount.minor()),
                Value::I64(at),
            ],
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
    /// [`crate::lane::LaneState::held_counters`]). In a lane, rows and counters alone are
    /// deferred to the group's one statement ([`Deferred`]); a write with any other
    /// statement runs at once, after what the group deferred.
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
        match lane.as_deref_mut() {
            Some(lane) => {
                if let Err(w) = lane.deferred().take(w) {
                    lane.deferred().flush(c)?;
                    w.run(c)?;
                }
            }
            None => w.run(c)?,
        }
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
        w.insert(&JOURNAL, values);
        let mut values = Vec::with_capacity(self.events.len() * 4);
        for (event, order_id, at) in &self.events {
            values.extend([
                Value::I64(self.shop_id),
                Value::from(*event),
                Value::I64(*order_id),
                Value::I64(*at),
            ]);
        }
        w.insert(&OUTBOX, values);
        w.counters(self.shop_id, self.next_number, self.seq, self.head);
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
