//! Planner statistics kept fresh by Comptoir on PostgreSQL, so that a sale's cost never
//! depends on autovacuum having run (see docs/performance.md, "A sale's cost and the
//! shop's history").

use crate::StoreError;
use crate::db::{Backend, Conn, PgConn};
use crate::pool::Pool;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often the maintenance thread looks at the tables' sizes: one catalog query. A
/// new shop's first sales are planned on tables analysed empty, until the next look.
const EVERY: Duration = Duration::from_secs(1);

/// The tables a sale reads or writes, and the ones its foreign keys check.
// Why: a connection keeps the generic plan of each foreign-key check and prepared statement
// it made while a table was tiny; with no statistics the planner ties every index that
// leads with shop_id (orders_status_idx, items_barcode_idx, clients_email_idx…) with the
// primary key, and may keep one that reads the shop's whole history at every check. An
// ANALYZE both gives the planner the sizes that make the primary key win and invalidates
// the plans cached before it.
const TABLES: &str = "'orders', 'order_lines', 'payments', 'journal', 'outbox', \
     'idempotency_keys', 'refund_lines', 'shop_counters', 'items', 'variations', \
     'departments', 'clients', 'users', 'cash_boxes', 'payment_methods', 'dining_tables'";

/// Analyses, in the connection's schema, each of a sale's tables never analysed, analysed
/// while it had no page and now has one, or grown by more than 10 % (and 8 pages) since
/// it was: the rule of autovacuum's own ANALYZE, measured on the file's size so that it
/// needs neither autovacuum nor the statistics collector. Returns the tables analysed.
// Why the empty ones at once: analysed empty, a table has no column statistics, and the
// planner then ties every index leading with shop_id with the primary key until the
// 8 pages (some 250 orders) of the base threshold; with them it takes the key.
pub(crate) fn refresh(c: &mut dyn Conn) -> Result<Vec<String>, StoreError> {
    refresh_paced(c, &mut Pacing::default())
}

/// When the upkeep last analysed each table that had grown ([`refresh_paced`]), and
/// whether it samples such a table with [`UPKEEP_TARGET`].
#[derive(Default)]
pub(crate) struct Pacing {
    last: std::collections::HashMap<String, Instant>,
    coarse: bool,
}

impl Pacing {
    /// The store's thread: a table that grew is analysed at most once a minute, on a
    /// sample of [`UPKEEP_TARGET`].
    pub(crate) fn upkeep() -> Pacing {
        Pacing {
            coarse: true,
            ..Pacing::default()
        }
    }
}

/// `default_statistics_target` of the thread's ANALYZE of a table that already has
/// statistics and grew: a sample of 300 × 20 = 6,000 rows, against 30,000 at the server's
/// default of 100. A first ANALYZE (a table never analysed, or analysed empty), an explicit
/// refresh (at start, after a seed) and autovacuum's keep the server's target.
// Why: what the upkeep keeps fresh is what a key lookup's plan needs, the table's size and
// the spread of its keys (`shop_id`, ids), which 6,000 rows give as well; and it is what
// a growing shop pays again at every 10 % (measured with 200,000 orders and autovacuum
// off: the thread's ANALYZE of `orders` and `order_lines` in a 5-second benchmark window,
// 480 ms, 11–14 % of the sales' rate; in psql, one ANALYZE of 220,000 orders took 310–380
// ms at 100 and 82–86 ms at 20). Where autovacuum is off, operations.md has the operator
// schedule a nightly `vacuum (analyze)`, which samples at the server's target.
const UPKEEP_TARGET: u32 = 20;

/// A table that grew is analysed again at most this often by one process. A table never
/// analysed, or analysed empty, is analysed at once whatever this says.
// Why: a shop selling flat out grows its tables by more than 10 % a second at first, and
// each ANALYZE samples up to 30,000 rows of every column: in the sales benchmark the
// upkeep's ANALYZEs were 10 to 13 % of the database's CPU. Once a table has column
// statistics the planner scales its row counts to the file's current size itself; what a
// minute's growth leaves stale (the spread of shop_id, the newest dates) does not turn a
// key lookup into a scan, and the lanes' statements run without sequential scans
// anyway. Autovacuum looks once a minute too (`autovacuum_naptime`).
const REGROWN_EVERY: Duration = Duration::from_secs(60);

/// [`refresh`], except that a table which only grew is skipped if this process
/// analysed it less than [`REGROWN_EVERY`] ago, and, with [`Pacing::upkeep`], analysed
/// on a sample of [`UPKEEP_TARGET`].
pub(crate) fn refresh_paced(
    c: &mut dyn Conn,
    pacing: &mut Pacing,
) -> Result<Vec<String>, StoreError> {
    let stale = c.query(
        &format!(
            "select c.relname, c.reltuples < 0 or c.relpages = 0 from pg_class c
             where c.relnamespace = current_schema()::regnamespace and c.relkind = 'r'
               and c.relname in ({TABLES})
               and (c.reltuples < 0
                    or (c.relpages = 0 and pg_relation_size(c.oid) > 0)
                    or pg_relation_size(c.oid) / current_setting('block_size')::bigint
                       > c.relpages * 1.1 + 8)
             order by c.relname"
        ),
        &[],
    )?;
    let mut done = Vec::with_capacity(stale.len());
    for row in stale {
        let (table, without_statistics) = (row.string(0)?, row.bool(1)?);
        let recent = pacing
            .last
            .get(&table)
            .is_some_and(|at| at.elapsed() < REGROWN_EVERY);
        if recent && !without_statistics {
            continue;
        }
        // The name comes from pg_class and the fixed list above; quoted all the same.
        let analyze = format!("analyze \"{}\"", table.replace('"', "\"\""));
        if pacing.coarse && !without_statistics {
            let coarse = c.batch(&format!(
                "begin; set local default_statistics_target = {UPKEEP_TARGET}; {analyze}; commit"
            ));
            if coarse.is_err() {
                let _ = c.batch("rollback");
            }
            coarse?;
        } else {
            c.batch(&analyze)?;
        }
        pacing.last.insert(table.clone(), Instant::now());
        done.push(table);
    }
    Ok(done)
}

/// Makes any ANALYZE of `tables` (the upkeep's, autovacuum's, another process's) wait until
/// the caller's transaction ends, for a write that adds many rows to them in one
/// transaction. Nothing to do on SQLite. `tables` are names of this module's list.
// Why: an ANALYZE run beside such a transaction sees none of its rows (they are not
// committed) and records the table as empty over all the pages they fill; after the commit
// the file's size matches what was recorded, so nothing notices, and the planner keeps
// picking indexes that read a shop's whole history or catalog. The lock (SHARE UPDATE
// EXCLUSIVE, the one ANALYZE and VACUUM take) blocks neither reads nor writes; the waiting
// ANALYZE runs after the commit and counts the committed rows, and the upkeep's size rule
// catches the growth when none was waiting. Two such transactions wait for each other.
pub(crate) fn hold_off(c: &mut dyn Conn, tables: &[&str]) -> Result<(), StoreError> {
    if c.backend() != Backend::Postgres || tables.is_empty() {
        return Ok(());
    }
    debug_assert!(tables.iter().all(|t| TABLES.contains(&format!("'{t}'"))));
    c.batch(&format!(
        "lock table {} in share update exclusive mode",
        tables.join(", ")
    ))
}

/// Whether the server runs autovacuum (Comptoir's own upkeep covers a sale's tables either
/// way; the operator is warned at start when it is off).
pub(crate) fn autovacuum_on(c: &mut dyn Conn) -> Result<bool, StoreError> {
    Ok(c.query_one("show autovacuum", &[])?.string(0)? == "on")
}

/// Ticks of the upkeep between two compactions of the catalog versions
/// ([`crate::sales::compact_catalog_changes`]): a shop's rows there are summed by every
/// sale check that reads the database and every lane lock, and grow by one per statement
/// that changes its catalog.
const COMPACT_EVERY_TICKS: u64 = 30;

/// Starts the thread that runs [`refresh`] every few seconds on a pooled connection, as
/// long as the store lives, vacuums the webhook outbox when it needs it
/// ([`crate::webhooks::vacuum_outbox`]) and compacts the catalog versions.
pub(crate) fn start(pool: &Arc<Pool<PgConn>>) {
    let pool: Weak<Pool<PgConn>> = Arc::downgrade(pool);
    let spawned = std::thread::Builder::new()
        .name("comptoir-pg-statistics".into())
        .spawn(move || {
            let mut pacing = Pacing::upkeep();
            let mut ticks: u64 = 0;
            loop {
                std::thread::sleep(EVERY);
                let Some(pool) = pool.upgrade() else { return };
                let outcome = pool.get(Duration::from_secs(1)).and_then(|mut c| {
                    let r = refresh_paced(&mut *c, &mut pacing);
                    if let Err(e) = crate::webhooks::vacuum_outbox(&mut *c) {
                        tracing::warn!(error = %e, "vacuuming the webhook outbox");
                    }
                    // At the first tick, then every COMPACT_EVERY_TICKS.
                    ticks += 1;
                    if ticks % COMPACT_EVERY_TICKS == 1
                        && let Err(e) = crate::sales::compact_catalog_changes(&mut *c)
                    {
                        tracing::warn!(error = %e, "compacting the catalog versions");
                    }
                    if c.is_closed() {
                        c.discard();
                    }
                    r
                });
                match outcome {
                    Ok(tables) if !tables.is_empty() => {
                        tracing::debug!(?tables, "planner statistics refreshed");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "refreshing planner statistics"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the planner statistics thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number of histogram bounds PostgreSQL keeps for `orders.v`: the statistics
    /// target the last ANALYZE sampled with, plus one.
    fn bounds(c: &mut dyn Conn) -> i64 {
        c.query_one(
            "select coalesce(array_length(cast(histogram_bounds as text)::text[], 1), 0)
             from pg_stats where schemaname = current_schema() and tablename = 'orders'
               and attname = 'v'",
            &[],
        )
        .and_then(|r| r.i64(0))
        .unwrap()
    }

    /// The store's thread analyses a table that grew on a sample of `UPKEEP_TARGET`; an
    /// explicit refresh, and a table's first ANALYZE, at the server's target.
    #[test]
    fn the_upkeep_analyses_a_grown_table_on_a_smaller_sample() {
        let Some(url) = crate::test_postgres_url() else {
            return;
        };
        let schema = format!("stats_{}", crate::hex(&crate::random_bytes::<6>()));
        let config: postgres::Config = url.parse().unwrap();
        let mut c = PgConn::new(config.connect(postgres::NoTls).unwrap());
        let grow = |c: &mut PgConn, from: i64, to: i64| {
            c.execute(
                "insert into orders select g, g from generate_series($1::bigint, $2::bigint) g",
                &[crate::db::Value::I64(from), crate::db::Value::I64(to)],
            )
            .unwrap();
        };
        c.batch(&format!(
            "create schema {schema}; set search_path = {schema};
             create table orders (id bigint primary key, v bigint)"
        ))
        .unwrap();
        grow(&mut c, 1, 100_000);
        let mut upkeep = Pacing::upkeep();
        // First ANALYZE: the server's target (100), whoever asks.
        assert_eq!(refresh_paced(&mut c, &mut upkeep).unwrap(), ["orders"]);
        assert_eq!(bounds(&mut c), 101);
        // Grown by a fifth: the thread's next pass (a minute on) samples at 20.
        grow(&mut c, 100_001, 120_000);
        upkeep.last.clear();
        assert_eq!(refresh_paced(&mut c, &mut upkeep).unwrap(), ["orders"]);
        assert_eq!(bounds(&mut c), i64::from(UPKEEP_TARGET) + 1);
        // An explicit refresh keeps the server's target.
        grow(&mut c, 120_001, 150_000);
        assert_eq!(refresh(&mut c).unwrap(), ["orders"]);
        assert_eq!(bounds(&mut c), 101);
        c.batch(&format!("drop schema {schema} cascade")).unwrap();
    }
}
