//! A webhook lease stays a bounded read on a large backlog (PostgreSQL; skipped without
//! `COMPTOIR_TEST_POSTGRES`): it walks the shop's due events in order and stops after its
//! room, whatever the backlog behind them, the events delivered before them (whose old
//! row versions no autovacuum may have removed), those in flight and the `terminated`
//! ones waiting for a `validated` that is failing; and no statement of the store is
//! JIT-compiled.

use comptoir_core::model::Licence;
use comptoir_store::webhooks::{self, Attempt, Claimed, Frozen, Outcome, Room};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestDb, create_shop};

/// Orders of the backlog, two events each.
const ORDERS: i64 = 3_000;
/// Events delivered before the measured lease.
const DELIVERED: usize = 2_000;
/// Rows a lease of 16 events may read in `outbox` (live rows fetched through its indexes,
/// rows read by sequential scans): the 16 it takes, the events in flight and the
/// `terminated` waiting behind them it walks over, and one probe of the order index for
/// each `terminated`.
const BOUNDED: i64 = 300;

/// Live rows of `outbox` fetched through its indexes, plus rows read by its sequential
/// scans, so far. Dead versions the walk passes are not counted: whether they can be
/// removed yet depends on every other transaction of the database (a test running beside
/// this one), and the vacuum test below bounds them.
const READS: &str = "select cast(idx_tup_fetch + seq_tup_read as bigint)
     from pg_stat_user_tables where schemaname = current_schema() and relname = 'outbox'";

fn now() -> i64 {
    comptoir_store::now_micros()
}

/// `per_shop` events, none of them in flight in this process.
fn room(per_shop: i64) -> Room {
    Room {
        limit: 64,
        per_shop,
        busy: Vec::new(),
    }
}

/// A new shop with webhooks on and a backlog of `orders` orders' events, made now: each
/// order's `validated` then its `terminated`.
async fn shop_with_backlog(store: &Store, name: &str, orders: i64) {
    let shop_id = create_shop(store, name, Licence::Extended).await.shop_id;
    store
        .write(move |c| {
            webhooks::set_endpoint(c, shop_id, "https://h.example/in", "form", "whsec_a", now())
        })
        .await
        .unwrap();
    store
        .write(move |c| {
            comptoir_store::sales::seed::existing_orders(c, shop_id, orders)?;
            c.execute(
                "insert into outbox (shop_id, event_type, order_id, created_at)
                 select o.shop_id, e.event_type, o.id, $2 from orders o
                 cross join (values (1, 'validated'), (2, 'terminated')) as e(n, event_type)
                 where o.shop_id = $1 order by o.id, e.n",
                params![shop_id, now()],
            )
        })
        .await
        .unwrap();
}

/// A lease as the worker makes it, and the rows of `outbox` it read: on one connection,
/// its statistics flushed before they are read again.
async fn measured_lease(store: &Store, room: Room) -> (Vec<Claimed>, i64) {
    store
        .write_aside_autocommit(move |c| {
            c.batch("select pg_stat_force_next_flush()")?;
            let before = c.query_one(READS, &[])?.i64(0)?;
            let t = now();
            let claimed = webhooks::lease_due(c, t, t + 30_000_000, &room)?;
            c.batch("select pg_stat_force_next_flush()")?;
            let after = c.query_one(READS, &[])?.i64(0)?;
            Ok::<_, StoreError>((claimed, after - before))
        })
        .await
        .unwrap()
}

/// Attempts what a lease took as the worker does (bodies kept, attempts recorded): the
/// `validated` events failed and to be tried again in an hour with `failing`, every other
/// one delivered.
async fn attempt(store: &Store, claimed: Vec<Claimed>, failing: bool) {
    let bodies: Vec<webhooks::KeptBody> = claimed
        .iter()
        .map(|e| {
            let body = Frozen {
                body: format!("event {} of order {} ", e.id, e.order_id).repeat(20),
                format: "form".into(),
                verify_token: format!("token-{}", e.id),
            };
            (e.key(), body)
        })
        .collect();
    store
        .write_aside_autocommit(move |c| webhooks::keep_bodies(c, &bodies))
        .await
        .unwrap();
    let results: Vec<_> = claimed
        .into_iter()
        .map(|e| {
            let attempt = Attempt {
                attempt: e.attempt,
                at: now(),
                status: Some(200),
                latency_micros: 1000,
                error: None,
                answer: "ok".into(),
            };
            let outcome = if failing && e.event_type == "validated" {
                Outcome::RetryAt(now() + 3_600_000_000)
            } else {
                Outcome::Delivered
            };
            (e, attempt, outcome)
        })
        .collect();
    store
        .write_aside_autocommit(move |c| webhooks::record_many(c, &results))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lease_reads_a_bounded_number_of_rows_on_a_backlog_with_delivered_and_waiting_events() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    shop_with_backlog(&store, "Backlog", ORDERS).await;
    let upkeep = store.clone();
    tokio::task::spawn_blocking(move || upkeep.refresh_statistics_blocking())
        .await
        .unwrap()
        .unwrap();
    // Part of it delivered, as the worker does it: each event leaves old row versions in
    // the due index (no autovacuum here, or not yet).
    let mut delivered = 0;
    while delivered < DELIVERED {
        let claimed = measured_lease(&store, room(64)).await.0;
        assert!(!claimed.is_empty(), "the backlog ran out at {delivered}");
        delivered += claimed.len();
        attempt(&store, claimed, false).await;
    }
    // Some `validated` failing (their receiver is down): their `terminated` wait.
    let mut waiting = 0;
    for _ in 0..3 {
        let failing = measured_lease(&store, room(64)).await.0;
        waiting += failing
            .iter()
            .filter(|e| e.event_type == "validated")
            .count();
        attempt(&store, failing, true).await;
    }
    assert!(waiting >= 100, "only {waiting} validated events to fail");
    // 16 in flight (another process's attempts): their `terminated` wait behind them.
    let in_flight = measured_lease(&store, room(16)).await.0;
    assert_eq!(in_flight.len(), 16);
    // The first walk over the delivered events' old versions marks them dead in the index;
    // the leases after it are what every look costs.
    let (first, _) = measured_lease(&store, room(16)).await;
    assert_eq!(first.len(), 16);
    let (taken, read) = measured_lease(&store, room(16)).await;
    eprintln!("outbox rows read by a lease of 16: {read} ({waiting} waiting)");
    assert_eq!(taken.len(), 16, "a lease takes its room");
    let busy: Vec<(i64, i64)> = in_flight.iter().chain(&first).map(Claimed::key).collect();
    assert!(
        taken.iter().all(|e| !busy.contains(&e.key())),
        "a lease took an event already in flight"
    );
    assert!(
        read <= BOUNDED,
        "a lease of 16 read {read} rows of outbox on a backlog of {} \
         events ({DELIVERED} delivered, {waiting} waiting for a retry, 32 in flight); at \
         most {BOUNDED} expected",
        ORDERS * 2
    );
}

/// Index pages of `outbox_due_idx` read so far.
const DUE_PAGES: &str = "select cast(coalesce(sum(idx_blks_hit + idx_blks_read), 0) as bigint)
     from pg_statio_user_indexes
     where schemaname = current_schema() and indexrelname = 'outbox_due_idx'";

#[tokio::test]
async fn the_upkeep_vacuums_the_outbox_so_a_lease_walks_no_delivered_events() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    shop_with_backlog(&store, "Delivered", 9_000).await;
    let vacuums = "select vacuum_count + autovacuum_count from pg_stat_user_tables
                   where schemaname = current_schema() and relname = 'outbox'";
    let before = store
        .read(move |c| c.query_one(vacuums, &[])?.i64(0))
        .await
        .unwrap();
    // 16,000 events delivered, leaving some 40,000 dead row versions in the head of the
    // shop's due index: about 180 pages, which every lease would walk.
    let mut delivered = 0;
    while delivered < 16_000 {
        let claimed = measured_lease(&store, room(64)).await.0;
        assert!(!claimed.is_empty(), "the backlog ran out at {delivered}");
        delivered += claimed.len();
        attempt(&store, claimed, false).await;
    }
    // Until the upkeep has vacuumed, and caught up with the last deliveries.
    let dead = "select n_dead_tup from pg_stat_user_tables
                where schemaname = current_schema() and relname = 'outbox'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while store
        .read(move |c| {
            Ok::<_, StoreError>(
                c.query_one(vacuums, &[])?.i64(0)? == before
                    || c.query_one(dead, &[])?.i64(0)? > 10_000,
            )
        })
        .await
        .unwrap()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "outbox was not vacuumed within 30 s of {delivered} deliveries"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let pages = store
        .write_aside_autocommit(move |c| {
            c.batch("select pg_stat_force_next_flush()")?;
            let before = c.query_one(DUE_PAGES, &[])?.i64(0)?;
            let t = now();
            let taken = webhooks::lease_due(c, t, t + 30_000_000, &room(16))?;
            assert_eq!(taken.len(), 16);
            c.batch("select pg_stat_force_next_flush()")?;
            Ok::<_, StoreError>(c.query_one(DUE_PAGES, &[])?.i64(0)? - before)
        })
        .await
        .unwrap();
    eprintln!("due index pages read by a lease of 16 after the vacuum: {pages}");
    // The upkeep vacuums past 10,000 dead versions: the lease walks at most the pages of
    // those left since, about 35.
    assert!(
        pages <= 70,
        "a lease read {pages} pages of outbox_due_idx after {delivered} deliveries and a \
         vacuum (without one, the delivered events' old versions fill some 180)"
    );
}
