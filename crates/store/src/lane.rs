//! What a PostgreSQL writer lane keeps beside its connection for the sales it runs: the
//! counters its open transaction holds, and ids drawn ahead. The ledger alone reads it.

use crate::StoreError;
use crate::db::{Conn, Value};
use std::collections::HashMap;

/// Ids drawn at once when a lane's supply runs out.
const IDS_AHEAD: i64 = 64;

/// The state of one lane.
#[derive(Default)]
pub(crate) struct LaneState {
    /// Counters of the shops whose row the open transaction holds, as it last wrote them.
    counters: HashMap<i64, (i64, i64, String)>,
    /// Ids drawn ahead from the `orders` and `payments` sequences. A drawn id is never
    /// handed out again, committed or not, so they outlive transactions.
    order_ids: Vec<i64>,
    payment_ids: Vec<i64>,
}

/// The lane a write runs in, if any (PostgreSQL sales); `None` elsewhere.
pub(crate) type Lane<'a> = Option<&'a mut LaneState>;

impl LaneState {
    /// Forgets the counters: they belong to one transaction.
    pub(crate) fn clear_counters(&mut self) {
        self.counters.clear();
    }

    /// The counters of `shop_id` (`next_order_number`, `journal_seq`, `journal_head`) as
    /// this lane's open transaction last wrote them; it holds the shop's counter row.
    pub(crate) fn held_counters(&self, shop_id: i64) -> Option<(i64, i64, String)> {
        self.counters.get(&shop_id).cloned()
    }

    /// Notes the counters the open transaction just wrote for `shop_id`.
    pub(crate) fn hold_counters(&mut self, shop_id: i64, counters: (i64, i64, String)) {
        self.counters.insert(shop_id, counters);
    }

    /// An id of `table` (`orders`, `payments`) from the supply drawn ahead on `c`.
    pub(crate) fn drawn_id(
        &mut self,
        c: &mut dyn Conn,
        table: &'static str,
    ) -> Result<Option<i64>, StoreError> {
        let supply = match table {
            "orders" => &mut self.order_ids,
            "payments" => &mut self.payment_ids,
            _ => return Ok(None),
        };
        if supply.is_empty() {
            let rows = c.query(
                &format!(
                    "select nextval(pg_get_serial_sequence('{table}', 'id'))
                     from generate_series(1, $1)"
                ),
                &[Value::I64(IDS_AHEAD)],
            )?;
            for r in rows.iter().rev() {
                supply.push(r.i64(0)?);
            }
        }
        Ok(supply.pop())
    }
}
