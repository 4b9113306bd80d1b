//! What a PostgreSQL writer lane keeps beside its connection for the sales it runs: the
//! counters its open transaction holds, the end of the shop's closed period read under
//! them, the rows its group deferred, and ids drawn ahead. The sales' ledger alone reads it.

use crate::StoreError;
use crate::db::{Conn, PgConn, Row, Value};
use std::collections::{HashMap, HashSet};

/// Ids drawn at once when a lane's supply runs out.
const IDS_AHEAD: i64 = 64;

/// Read after the lock, by a statement of its own: each shop of `$1`'s catalog version
/// (`sales::check_cache`), and for those of `$2` the end of their last closed day (else
/// no row is read from `closings`). The lock statement cannot read them: when it waited
/// for a row, it returns the row's newest version but its other reads keep the snapshot
/// it started with, from before the wait; a statement that starts after the lock sees
/// every change committed before the lock was granted.
const AFTER_LOCK: &str = "select s.id,
         cast(coalesce((select sum(n) from catalog_changes where shop_id = s.id), 0) as bigint),
         s.id = any($2::bigint[]),
         case when s.id = any($2::bigint[]) then
             (select value_to from closings where shop_id = s.id and period = 'day'
              order by number desc limit 1) end
     from unnest($1::bigint[]) as s(id)";

/// A row of [`AFTER_LOCK`]: the shop, its catalog version, and the end of its last
/// closed day (`closings::closed_until`) when it was asked for.
fn after_lock_row(r: &Row) -> Result<(i64, i64, Option<Option<i64>>), StoreError> {
    let closed = if r.bool(2)? {
        Some(r.opt_i64(3)?)
    } else {
        None
    };
    Ok((r.i64(0)?, r.i64(1)?, closed))
}

/// The state of one lane.
#[derive(Default)]
pub(crate) struct LaneState {
    /// Counters of the shops whose row the open transaction holds, as it last wrote them.
    counters: HashMap<i64, (i64, i64, String)>,
    /// The end of each shop's last closed day (`closings::closed_until`), read while the
    /// open transaction holds the shop's counter row, which a closing takes: it cannot
    /// change before that transaction ends.
    closed_until: HashMap<i64, Option<i64>>,
    /// The end of each shop's closed period as a transaction of this lane read it, and
    /// the chain head the shop's counters had when that transaction committed. A closing
    /// always moves the head (it appends to the journal, under the counter row): while a
    /// later transaction finds the same head under its lock, the closed period is the
    /// same, and it is not read again.
    known_closed: HashMap<i64, (String, Option<i64>)>,
    /// Shops whose chain head had moved, the last time this lane locked them, since its
    /// own last commit for them: another process records their sales too, and will
    /// likely have moved it again by the next lock.
    moving: HashSet<i64>,
    /// The catalog version of the shops whose row the open transaction holds, read once it
    /// held them: a sale checked at another version is checked again (`sales::check_cache`).
    catalog_versions: HashMap<i64, i64>,
    /// When the answer of the statement that read `catalog_versions` reached the lane.
    versions_read_at: Option<std::time::Instant>,
    /// Rows and counters of the group's writes, written by one statement.
    deferred: crate::sales::Deferred,
    /// Ids drawn ahead from the `orders` and `payments` sequences. A drawn id is never
    /// handed out again, committed or not, so they outlive transactions.
    order_ids: Vec<i64>,
    payment_ids: Vec<i64>,
    /// The oid of the `orders` and `payments` id sequences, found once: resolving the
    /// sequence by name in the statement (`pg_get_serial_sequence`) is evaluated for
    /// every id, 6 µs each against under 1 µs with the oid (psql, 6,400 ids).
    sequences: HashMap<&'static str, i64>,
}

/// The lane a write runs in, if any (PostgreSQL sales); `None` elsewhere.
pub(crate) type Lane<'a> = Option<&'a mut LaneState>;

impl LaneState {
    /// Forgets the counters: they belong to one transaction.
    pub(crate) fn clear_counters(&mut self) {
        self.counters.clear();
        self.closed_until.clear();
        self.catalog_versions.clear();
        self.versions_read_at = None;
    }

    /// Forgets what the transaction held and deferred: it was rolled back.
    pub(crate) fn rolled_back(&mut self) {
        self.clear_counters();
        self.deferred.discard();
    }

    /// Locks the counter rows of `shops` (sorted, without repeats) in one statement, in
    /// the order of their ids, and holds their counters; then reads the end of the
    /// closed period of those whose chain head moved since this lane last committed (see
    /// `known_closed`), in one statement. Two transactions that each lock their shops in
    /// id order never wait on each other in a cycle, so a lane may record the sales of
    /// several shops in one transaction without risking a deadlock with another process.
    ///
    /// Their catalog versions, and the closed period of the shops whose head moved last
    /// time too (another process sells for them: see `moving`), are read by a statement
    /// sent with the lock ([`AFTER_LOCK`]), in the same round trip, so that the lane does
    /// not hold their rows for one more.
    ///
    /// With `skip_held`, the rows another transaction holds are skipped, not waited for
    /// (`skip locked`). Returns the shops locked.
    pub(crate) fn lock_shops(
        &mut self,
        c: &mut PgConn,
        shops: &[i64],
        skip_held: bool,
    ) -> Result<Vec<i64>, StoreError> {
        macro_rules! lock {
            ($tail:literal) => {
                concat!(
                    "select shop_id, next_order_number, journal_seq, journal_head
                     from shop_counters where shop_id = any($1::bigint[])
                     order by shop_id for update",
                    $tail
                )
            };
        }
        const LOCK: &str = lock!("");
        const LOCK_FREE: &str = lock!(" skip locked");
        let lock = if skip_held { LOCK_FREE } else { LOCK };
        let ids = Value::Array(shops.iter().map(|s| Value::I64(*s)).collect());
        let expected: Vec<Value> = shops
            .iter()
            .filter(|s| self.moving.contains(s))
            .map(|s| Value::I64(*s))
            .collect();
        // The second statement starts once the first holds the rows, in the same round
        // trip (see `AFTER_LOCK`).
        let values = [ids, Value::Array(expected)];
        let (rows, after) = c.query_then_query((lock, &values[..1]), (AFTER_LOCK, &values))?;
        // Its answer came after the statement read: a bound from above (see `pg_writer`'s
        // `Queue::sales_of` for what that leaves).
        self.versions_read_at = Some(std::time::Instant::now());
        let mut read = HashMap::new();
        for r in &after {
            let (shop_id, version, closed) = after_lock_row(r)?;
            self.catalog_versions.insert(shop_id, version);
            if let Some(to) = closed {
                read.insert(shop_id, to);
            }
        }
        let mut unknown = Vec::new();
        let mut locked = Vec::with_capacity(rows.len());
        for r in rows {
            let (shop_id, head) = (r.i64(0)?, r.string(3)?);
            match self.known_closed.get(&shop_id) {
                Some((h, to)) if *h == head => {
                    self.moving.remove(&shop_id);
                    self.closed_until.insert(shop_id, *to);
                }
                _ => {
                    self.moving.insert(shop_id);
                    match read.remove(&shop_id) {
                        Some(to) => {
                            self.closed_until.insert(shop_id, to);
                        }
                        None => unknown.push(Value::I64(shop_id)),
                    }
                }
            }
            self.counters.insert(shop_id, (r.i64(1)?, r.i64(2)?, head));
            locked.push(shop_id);
        }
        // Skipped shops: their versions were read, not held.
        self.catalog_versions
            .retain(|s, _| self.counters.contains_key(s));
        if !unknown.is_empty() {
            // A new statement: its snapshot sees every closing committed before the locks.
            // Only their closed periods are taken (their versions were read above).
            let unknown = Value::Array(unknown);
            for r in c.query(AFTER_LOCK, &[unknown.clone(), unknown])? {
                if let (shop_id, _, Some(to)) = after_lock_row(&r)? {
                    self.closed_until.insert(shop_id, to);
                }
            }
        }
        Ok(locked)
    }

    /// Notes, once the open transaction has committed, each shop's closed period with
    /// the chain head the transaction left (see `known_closed`).
    pub(crate) fn committed(&mut self) {
        for (shop_id, (_, _, head)) in &self.counters {
            if let Some(to) = self.closed_until.get(shop_id) {
                self.known_closed.insert(*shop_id, (head.clone(), *to));
            }
        }
    }

    /// `shop_id`'s catalog version as the open transaction last read it, once it held the
    /// shop's counter row; `None` when the transaction did not lock the row with the
    /// group's lock.
    pub(crate) fn catalog_version(&self, shop_id: i64) -> Option<i64> {
        self.catalog_versions.get(&shop_id).copied()
    }

    /// When the answer of the statement that read the open transaction's catalog versions
    /// reached the lane (after that statement's snapshot); `None` before its lock.
    pub(crate) fn versions_read_at(&self) -> Option<std::time::Instant> {
        self.versions_read_at
    }

    /// The rows and counters deferred by the group's writes.
    pub(crate) fn deferred(&mut self) -> &mut crate::sales::Deferred {
        &mut self.deferred
    }

    /// The end of `shop_id`'s closed period as read earlier in the open transaction,
    /// which holds the shop's counter row; `None` when not read yet.
    pub(crate) fn closed_until(&self, shop_id: i64) -> Option<Option<i64>> {
        self.closed_until.get(&shop_id).copied()
    }

    /// Notes the end of `shop_id`'s closed period, read under its counter row.
    pub(crate) fn hold_closed_until(&mut self, shop_id: i64, to: Option<i64>) {
        self.closed_until.insert(shop_id, to);
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
            let sequence = match self.sequences.get(table) {
                Some(oid) => *oid,
                None => {
                    let sql = format!(
                        "select cast(cast(pg_get_serial_sequence('{table}', 'id') as regclass)
                                     as oid) :: bigint"
                    );
                    let oid = c.query_one(&sql, &[])?.i64(0)?;
                    self.sequences.insert(table, oid);
                    oid
                }
            };
            let rows = c.query(
                "select nextval(cast(cast($1::bigint as oid) as regclass))
                 from generate_series(1, $2)",
                &[Value::I64(sequence), Value::I64(IDS_AHEAD)],
            )?;
            for r in rows.iter().rev() {
                supply.push(r.i64(0)?);
            }
        }
        Ok(supply.pop())
    }
}
