//! Sales through `Store::write_order`, as the server records them. On PostgreSQL a writer
//! lane defers a group's sales and writes them all in one statement before its commit:
//! a sale that fails in that statement fails its group cleanly, and what was
//! acknowledged is stored, numbered 1..N, with an intact chain. Also: the foreign key
//! to `shops` that migration 11 dropped on PostgreSQL is implied by the keys left, and
//! the store's PostgreSQL connections never JIT-compile a statement.

use comptoir_core::model::{Licence, Shop};
use comptoir_core::sale::PaymentParam;
use comptoir_store::db::{Backend, Conn};
use comptoir_store::journal::{self, Verification};
use comptoir_store::sales::{Answer, IdempotencyInput, OrderWrite, SaleInput, Shape};
use comptoir_store::{ConnectionBudget, Store, StoreError, params};
use comptoir_testkit::{TestDb, create_shop, demo_shop, hold_counter_row, two_stores};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The shop's order numbers, in order, and the verdict on its journal's chain.
async fn numbers_and_chain(store: &Store, shop_id: i64) -> (Vec<i64>, Verification) {
    store
        .read(move |c| {
            let numbers: Vec<i64> = c
                .query(
                    "select number from orders where shop_id = $1 order by number",
                    params![shop_id],
                )?
                .iter()
                .map(|r| r.i64(0))
                .collect::<Result<_, _>>()?;
            Ok::<_, StoreError>((numbers, journal::verify(c, shop_id)?))
        })
        .await
        .unwrap()
}

/// Refuses, inside the database, every order whose private comment is `refuse`: a failure
/// that no check can see coming, raised by the statement that writes the order.
fn refusing_trigger(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "create trigger refuse_marked before insert on orders
             when new.private_comment = 'refuse'
             begin select raise(abort, 'refused by the test'); end"
        }
        Backend::Postgres => {
            "create function refuse_marked() returns trigger language plpgsql as $$
             begin
                 if new.private_comment = 'refuse' then
                     raise exception 'refused by the test';
                 end if;
                 return new;
             end $$;
             create trigger refuse_marked before insert on orders
             for each row execute function refuse_marked()"
        }
    }
}

/// Sale `i` through `write_order`: paid in cash; every tenth refused by the trigger;
/// others two by two under an idempotency key (a replay, or a new record should the
/// first one's group have failed).
async fn sale(store: Store, shop: Shop, item: i64, cash: i64, i: i64) -> Result<String, String> {
    let mut input = SaleInput::new(
        vec![format!("{item}_{}", 1 + i % 3)],
        PaymentParam::Method(cash),
    );
    if i % 10 == 3 {
        input.private_comment = "refuse".into();
    }
    let idem = (i % 7 < 2 && i % 10 != 3).then(|| IdempotencyInput {
        key: format!("key-{}", i / 7),
        request_hash: format!("hash-{}", i / 7),
    });
    record(&store, &shop, input, idem).await
}

/// Records `input` through `write_order`: the order's id (or the answer recorded under
/// the key), or the failure.
async fn record(
    store: &Store,
    shop: &Shop,
    input: SaleInput,
    idem: Option<IdempotencyInput>,
) -> Result<String, String> {
    let shape: Shape = Arc::new(|o| o.id.to_string());
    match store
        .write_order(shop, idem, OrderWrite::Sale(Arc::new(input)), shape)
        .await
    {
        Ok(Answer::Order(o)) => Ok(o.id.to_string()),
        Ok(Answer::Recorded(body) | Answer::Replayed(body)) => Ok(body),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_failing_in_its_groups_statement_fails_cleanly_and_the_books_stay_whole() {
    for db in TestDb::all() {
        // One lane: on PostgreSQL the three shops' sales share its transactions.
        let store = Store::open_with(&db.db_url(), ConnectionBudget::new(16, 1).unwrap())
            .await
            .unwrap();
        let mut shops = Vec::new();
        for name in ["Groups A", "Groups B", "Groups C"] {
            shops.push(demo_shop(&store, name).await);
        }
        let trigger = refusing_trigger(db.backend);
        store.write(move |c| c.batch(trigger)).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..210i64 {
            // A key's two sales (see `sale`) go to the same shop.
            let (shop, item, cash) = shops[(i / 7 % 3) as usize].clone();
            tasks.push((i, tokio::spawn(sale(store.clone(), shop, item, cash, i))));
        }
        let mut acknowledged = BTreeSet::new();
        let mut refused = 0;
        let mut answered = 0;
        for (i, t) in tasks {
            match t.await.unwrap() {
                Ok(id) => {
                    assert!(i % 10 != 3, "{}: sale {i} was to be refused", db.backend);
                    acknowledged.insert(id.parse::<i64>().unwrap());
                    answered += 1;
                }
                Err(e) if i % 10 == 3 => {
                    assert!(e.contains("refused by the test"), "{}: {e}", db.backend);
                    refused += 1;
                }
                Err(_) => {}
            }
        }
        assert_eq!(refused, 21, "{}", db.backend);
        // A sale fails for its own fault only: on PostgreSQL those rolled back with a
        // refused one in their group's statement were tried again, alone.
        if db.backend == Backend::Postgres {
            assert_eq!(answered, 210 - 21, "{}: sales answered Ok", db.backend);
        }
        assert!(!acknowledged.is_empty(), "{}: nothing stood", db.backend);
        let mut stored_ids = BTreeSet::new();
        for (shop, _, _) in &shops {
            let shop_id = shop.id;
            let (stored, numbers, verdict) = store
                .read(move |c| {
                    let rows = c.query(
                        "select id, number from orders where shop_id = $1 order by number",
                        params![shop_id],
                    )?;
                    let stored: BTreeMap<i64, i64> = rows
                        .iter()
                        .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
                        .collect::<Result<_, StoreError>>()?;
                    let numbers: Vec<i64> =
                        rows.iter().map(|r| r.i64(1)).collect::<Result<_, _>>()?;
                    Ok::<_, StoreError>((stored, numbers, journal::verify(c, shop_id)?))
                })
                .await
                .unwrap();
            stored_ids.extend(stored.keys().copied());
            let expected: Vec<i64> = (1..=numbers.len() as i64).collect();
            assert_eq!(numbers, expected, "{}: numbers without a gap", db.backend);
            assert!(
                matches!(verdict, Verification::Intact { .. }),
                "{}: {verdict:?}",
                db.backend
            );
        }
        // Every answer names a stored order (a replay names the first one), and every
        // stored order was acknowledged.
        assert_eq!(
            stored_ids, acknowledged,
            "{}: stored = acknowledged",
            db.backend
        );
    }
}

/// Sales queued behind a slow write, then a write that reads them, all of one shop: on
/// PostgreSQL they run in one group of the lane, and the rows the sales deferred are
/// written before the reading write runs. Then each order is paid, in groups of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_queued_after_sales_reads_them_as_written() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop, item, cash) = demo_shop(&store, "Reads").await;
        let shape: Shape = Arc::new(|o| o.id.to_string());
        let pending = Arc::new(SaleInput::new(
            vec![item.to_string()],
            PaymentParam::Pending,
        ));
        let shop_id = shop.id;
        // Holds the shop's lane (or SQLite's writer) while the others queue behind it.
        let slow = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write_checked(shop_id, |_| {
                        std::thread::sleep(std::time::Duration::from_millis(2000));
                        Ok::<_, StoreError>(())
                    })
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut sales = Vec::new();
        for _ in 0..20 {
            let (store, shop, shape, input) =
                (store.clone(), shop.clone(), shape.clone(), pending.clone());
            sales.push(tokio::spawn(async move {
                store
                    .write_order(&shop, None, OrderWrite::Sale(input), shape)
                    .await
            }));
        }
        // The sales' checks run first (on PostgreSQL on pooled connections): give them
        // the time to reach the queue.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let count = store
            .write_checked(shop_id, move |c| {
                c.query_one(
                    "select count(*) from orders where shop_id = $1",
                    params![shop_id],
                )?
                .i64(0)
            })
            .await
            .unwrap();
        slow.await.unwrap().unwrap();
        let mut ids = Vec::new();
        for s in sales {
            match s.await.unwrap() {
                Ok(Answer::Order(o)) => ids.push(o.id),
                other => panic!("{}: {other:?}", db.backend),
            }
        }
        assert_eq!(
            count, 20,
            "{}: orders seen by the write after the sales",
            db.backend
        );
        for id in ids {
            let a = store
                .write_order(
                    &shop,
                    None,
                    OrderWrite::Pay {
                        order_id: id,
                        method_id: cash,
                        amount: None,
                    },
                    shape.clone(),
                )
                .await;
            assert!(matches!(a, Ok(Answer::Order(_))), "{}: {a:?}", db.backend);
        }
        let verdict = store
            .read(move |c| journal::verify(c, shop_id))
            .await
            .unwrap();
        assert!(
            matches!(verdict, Verification::Intact { entries: 40, .. }),
            "{}: {verdict:?}",
            db.backend
        );
    }
}

/// `(user id, cash box id, an order id)` of `shop_id`.
fn refs(c: &mut dyn Conn, shop_id: i64) -> Result<(i64, i64, i64), StoreError> {
    let mut one = |sql: &str| c.query_one(sql, params![shop_id]).and_then(|r| r.i64(0));
    Ok((
        one("select min(id) from users where shop_id = $1")?,
        one("select min(id) from cash_boxes where shop_id = $1")?,
        one("select min(id) from orders where shop_id = $1")?,
    ))
}

const ORDER: &str = "insert into orders (id, shop_id, status, is_refund, created_at,
     value_date, user_id, cash_box_id, delivery_method, total, vat, invoice_token)
     values ($1, $2, 'pending', false, 0, 0, $3, $4, 0, 0, 0, 'x')";
const EVENT: &str = "insert into outbox (shop_id, event_type, order_id, created_at)
     values ($1, 'validated', $2, 0)";

/// Migration 11 dropped `orders (shop_id) → shops` on PostgreSQL: an order or an event
/// naming a shop that does not exist is still refused, through `orders (shop_id, user_id)
/// → users` and `outbox`'s own keys (`outbox (shop_id)` stays: a closing event names no
/// order).
#[tokio::test]
async fn an_order_or_an_event_of_a_shop_that_does_not_exist_is_refused() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop, item, cash) = demo_shop(&store, "Keys").await;
        sale(store.clone(), shop.clone(), item, cash, 0)
            .await
            .expect("a sale");
        let shop_id = shop.id;
        let missing = shop_id + 1000;
        let outcome = store
            .write(move |c| {
                let (user, cash_box, order) = refs(c, shop_id)?;
                let id = order + 1000;
                // The same rows in the right shop are accepted (then rolled back)...
                c.execute(ORDER, params![id, shop_id, user, cash_box])?;
                c.execute(EVENT, params![shop_id, order])?;
                Err::<(), _>(StoreError::Invalid("accepted".into()))
            })
            .await;
        assert!(
            matches!(&outcome, Err(StoreError::Invalid(m)) if m == "accepted"),
            "{}: {outcome:?}",
            db.backend
        );
        // ...and each refused with a shop that does not exist.
        for (what, sql) in [("order", ORDER), ("event", EVENT)] {
            let outcome = store
                .write(move |c| {
                    let (user, cash_box, order) = refs(c, shop_id)?;
                    match what {
                        "order" => c.execute(sql, params![order + 1000, missing, user, cash_box]),
                        _ => c.execute(sql, params![missing, order]),
                    }
                })
                .await;
            let Err(e) = outcome else {
                panic!("{}: an {what} of shop {missing} was stored", db.backend)
            };
            assert!(
                format!("{e:?}").to_lowercase().contains("foreign key"),
                "{}: {what}: {e}",
                db.backend
            );
        }
    }
}

/// The foreign-key check PostgreSQL runs for each line, payment and event of a sale,
/// planned on the connection that writes them. A new shop's `orders` is analysed empty
/// when the store opens; the store analyses it again once it has a page, else every index
/// leading with `shop_id` ties with the primary key (and `orders_status_idx` reads the
/// shop's every order at each check). On a page of rows the planner would rather read the
/// table whole (with the server's default settings it does) and keep that plan while the
/// table grows; the store's connections, a writer lane and a pooled one alike, never scan
/// a table an index serves.
#[tokio::test]
async fn a_lane_checks_a_sales_keys_through_the_primary_key_even_on_a_tiny_table() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    let (shop, item, cash) = demo_shop(&store, "Tiny").await;
    for i in 0..3 {
        sale(store.clone(), shop.clone(), item, cash, i)
            .await
            .expect("a sale");
    }
    // The store's thread analyses the table that now has a page (it looks every second).
    let analysed = || {
        store.read(|c| {
            c.query_one(
                "select relpages from pg_class
                 where relname = 'orders' and relnamespace = current_schema()::regnamespace",
                params![],
            )?
            .i64(0)
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while analysed().await.unwrap() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "orders was not analysed again once it had rows"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let shop_id = shop.id;
    let explain = move |c: &mut dyn Conn| -> Result<String, StoreError> {
        let order = c
            .query_one(
                "select min(id) from orders where shop_id = $1",
                params![shop_id],
            )?
            .i64(0)?;
        let plan = c.query(
            "explain select 1 from only orders x where shop_id = $1 and id = $2
             for key share of x",
            params![shop_id, order],
        )?;
        plan.iter()
            .map(|r| r.string(0))
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join("\n"))
    };
    let defaults = store
        .read(move |c| {
            c.batch("begin; set local enable_seqscan = on")?;
            let plan = explain(c);
            c.batch("commit")?;
            plan
        })
        .await
        .unwrap();
    assert!(
        defaults.contains("Seq Scan"),
        "a page of orders, read whole with the server's defaults: {defaults}"
    );
    let pooled = store.read(explain).await.unwrap();
    assert!(
        pooled.contains("Index Scan using orders_pkey"),
        "a pooled connection: {pooled}"
    );
    let lane = store.write_checked(shop_id, explain).await.unwrap();
    assert!(
        lane.contains("Index Scan using orders_pkey"),
        "the lane: {lane}"
    );
}

/// The store's PostgreSQL connections never JIT-compile a statement: PostgreSQL would
/// compile any statement estimated above `jit_above_cost` before running it, 60–400 ms
/// of CPU, however few rows it then reads (the webhook lease on a backlog of pending
/// events was compiled at every look). A pooled connection and a writer lane run a
/// statement estimated at 125,000 without compiling it; the same statement in the lane's
/// transaction with `jit` turned back on is compiled, where the server can compile.
#[tokio::test]
async fn the_stores_connections_never_compile_a_statement() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    let shop_id = create_shop(&store, "Nojit", Licence::Extended)
        .await
        .shop_id;
    const COSTLY: &str = "explain select count(*) from generate_series(1, 10000000) g";
    let plan = |c: &mut dyn Conn| -> Result<String, StoreError> {
        let lines = c.query(COSTLY, params![])?;
        lines
            .iter()
            .map(|r| r.string(0))
            .collect::<Result<Vec<_>, _>>()
            .map(|l| l.join("\n"))
    };
    let pooled = store.read(plan).await.unwrap();
    assert!(!pooled.contains("JIT"), "a pooled connection: {pooled}");
    let (lane, available, with_jit) = store
        .write_checked(shop_id, move |c| -> Result<_, StoreError> {
            let lane = plan(c)?;
            let available = c
                .query_one("select pg_jit_available()", params![])?
                .bool(0)?;
            c.batch("set local jit = on")?;
            Ok((lane, available, plan(c)?))
        })
        .await
        .unwrap();
    assert!(!lane.contains("JIT"), "a writer lane: {lane}");
    if available {
        assert!(with_jit.contains("JIT"), "jit on, for contrast: {with_jit}");
    } else {
        eprintln!("this PostgreSQL cannot compile statements: the contrast is not shown");
    }
}

/// Sales of three shops queued together behind a slow write, on a store with a single
/// writer lane: on PostgreSQL the lane records them in one transaction (one commit), the
/// shops' counter rows locked together; each shop's numbers run 1..N and its chain
/// verifies. On SQLite the single writer batches them as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_of_several_shops_queued_together_share_one_commit() {
    for db in TestDb::all() {
        let store = Store::open_with(&db.db_url(), ConnectionBudget::new(8, 1).unwrap())
            .await
            .unwrap();
        let mut shops = Vec::new();
        for name in ["Several A", "Several B", "Several C"] {
            shops.push(demo_shop(&store, name).await);
        }
        let first = shops[0].0.id;
        let slow = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write_checked(first, |_| {
                        std::thread::sleep(std::time::Duration::from_millis(2000));
                        Ok::<_, StoreError>(())
                    })
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let before = store.commit_stats();
        let lanes_before = store.lane_times();
        let mut tasks = Vec::new();
        for i in 0..30i64 {
            let (shop, item, cash) = shops[(i % 3) as usize].clone();
            tasks.push(tokio::spawn(sale(store.clone(), shop, item, cash, i * 10)));
        }
        slow.await.unwrap().unwrap();
        for t in tasks {
            t.await.unwrap().expect("a sale");
        }
        let after = store.commit_stats();
        if db.backend == Backend::Postgres {
            // The slow write's commit, then one for the thirty sales.
            assert_eq!(
                after.commits - before.commits,
                2,
                "{after:?} after {before:?}"
            );
            assert_eq!(after.writes - before.writes, 31);
            // Where the lane's time went: the sales waited in its queue behind the slow
            // write (1.9 s each at least), then one transaction locked and committed them.
            let lanes = store.lane_times();
            assert_eq!(lanes.transactions - lanes_before.transactions, 2);
            assert!(
                lanes.queued_micros - lanes_before.queued_micros >= 30 * 1_500_000,
                "{lanes:?} after {lanes_before:?}"
            );
            assert!(lanes.run_micros > lanes_before.run_micros, "{lanes:?}");
            assert!(lanes.lock_micros > lanes_before.lock_micros, "{lanes:?}");
            assert!(
                lanes.commit_micros > lanes_before.commit_micros,
                "{lanes:?}"
            );
            assert!(lanes.flush_micros > lanes_before.flush_micros, "{lanes:?}");
        } else {
            assert_eq!(store.lane_times(), comptoir_store::LaneTimes::default());
        }
        for (shop, _, _) in &shops {
            let shop_id = shop.id;
            let (numbers, verdict) = numbers_and_chain(&store, shop_id).await;
            assert_eq!(numbers, (1..=10).collect::<Vec<_>>(), "{}", db.backend);
            assert!(
                matches!(verdict, Verification::Intact { entries: 20, .. }),
                "{}: {verdict:?}",
                db.backend
            );
        }
    }
}

/// A keyed sale's replay is read on a pooled connection (PostgreSQL), where the first
/// sale's rows can be seen before the flusher has put its commit on disk: the replay is
/// answered only after a flush of its own, so that no acknowledged answer rests on a
/// commit a crash of the database could still lose. On SQLite nothing waits.
#[tokio::test]
async fn a_replay_read_beside_the_lanes_is_answered_after_a_flush() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop, item, cash) = demo_shop(&store, "Replay").await;
        let first = sale(store.clone(), shop.clone(), item, cash, 0).await;
        let flushes = store.lane_times().flushes;
        let replay = sale(store.clone(), shop, item, cash, 1).await;
        assert_eq!(
            replay, first,
            "{}: the replay answers the first sale",
            db.backend
        );
        let after = store.lane_times().flushes;
        match db.backend {
            Backend::Postgres => assert!(
                after > flushes,
                "a replay was answered without a flush ({flushes} flushes before, {after} after)"
            ),
            Backend::Sqlite => assert_eq!((flushes, after), (0, 0)),
        }
    }
}

/// On PostgreSQL, a lane's transaction that waits for its shop's counter row (held here by
/// a second store, as another `serve` process would while it records its own group) takes
/// in the sales of that shop queued meanwhile: one transaction, one commit for them all,
/// numbered 1..N without a gap, the chain intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_waiting_for_its_shops_counter_row_takes_in_the_sales_queued_meanwhile() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = Store::open_with(&db.db_url(), ConnectionBudget::new(8, 1).unwrap())
        .await
        .unwrap();
    let other = Store::open_with(&db.db_url(), ConnectionBudget::new(2, 1).unwrap())
        .await
        .unwrap();
    let (shop, item, cash) = demo_shop(&store, "Waiting").await;
    let (elsewhere, other_item, other_cash) = demo_shop(&store, "Elsewhere").await;
    let shop_id = shop.id;
    let holding = hold_counter_row(&other, shop_id, std::time::Duration::from_millis(1500));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = store.commit_stats();
    // Neither refused nor keyed (see `sale`).
    let mut plain = (0i64..).filter(|i| i % 10 != 3 && i % 7 >= 2);
    let first = tokio::spawn(sale(
        store.clone(),
        shop.clone(),
        item,
        cash,
        plain.next().unwrap(),
    ));
    // The first sale's transaction is now waiting for the row; the others queue behind it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut tasks = Vec::new();
    for i in plain.by_ref().take(19) {
        tasks.push(tokio::spawn(sale(
            store.clone(),
            shop.clone(),
            item,
            cash,
            i,
        )));
    }
    // A sale of a shop the transaction has not locked: taken from the queue meanwhile,
    // and recorded in the next transaction.
    let i = plain.next().unwrap();
    tasks.push(tokio::spawn(sale(
        store.clone(),
        elsewhere,
        other_item,
        other_cash,
        i,
    )));
    holding.await.unwrap();
    first.await.unwrap().expect("the first sale");
    for t in tasks {
        t.await.unwrap().expect("a sale");
    }
    let after = store.commit_stats();
    assert_eq!(
        (after.commits - before.commits, after.writes - before.writes),
        (2, 21),
        "the twenty sales in one commit, the other shop's in another: {after:?} after {before:?}"
    );
    let (numbers, verdict) = numbers_and_chain(&store, shop_id).await;
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    assert!(
        matches!(verdict, Verification::Intact { entries: 40, .. }),
        "{verdict:?}"
    );
}

/// A sale of `shop` dated `local` (Paris time), recorded through `write_order`.
async fn dated_sale(
    store: &Store,
    shop: &Shop,
    item: i64,
    cash: i64,
    local: &str,
) -> Result<(), String> {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    let at = dt
        .to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .unwrap()
        .timestamp();
    let mut input = SaleInput::new(vec![format!("{item}_1")], PaymentParam::Method(cash));
    input.value_date = Some(at.as_microsecond());
    record(store, shop, input, None).await.map(drop)
}

/// On PostgreSQL, a lane that found its shop's chain head moved by another process reads
/// the shop's closed period with its next lock, in the same round trip: a day that the
/// other process closed in between is seen all the same. A sale dated in it is refused,
/// one dated the next day is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_closed_by_another_process_is_seen_by_a_lane_that_expected_its_head_to_move() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let (store, other) = two_stores(&db).await;
    let (shop, item, cash) = demo_shop(&store, "Closed elsewhere").await;
    // Each store's sale moves the head the other's lane last saw: after these, this
    // store's lane expects the shop's head to have moved at its next lock.
    for (s, when) in [
        (&store, "2026-03-12T10:00"),
        (&other, "2026-03-12T11:00"),
        (&store, "2026-03-12T12:00"),
        (&other, "2026-03-12T13:00"),
    ] {
        dated_sale(s, &shop, item, cash, when)
            .await
            .expect("a sale");
    }
    let shop_id = shop.id;
    let now: jiff::Timestamp = "2026-03-14T10:00:00Z".parse().unwrap();
    other
        .write(move |c| {
            comptoir_store::closings::close_day(
                c,
                shop_id,
                jiff::civil::Date::constant(2026, 3, 12),
                &comptoir_core::fiscal_key::FiscalKey::from_seed([7; 32]),
                now,
            )
        })
        .await
        .expect("the day closed by the other store");
    let refused = dated_sale(&store, &shop, item, cash, "2026-03-12T18:00").await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("PeriodClosed")),
        "a sale dated in the day the other process closed: {refused:?}"
    );
    dated_sale(&store, &shop, item, cash, "2026-03-13T09:00")
        .await
        .expect("a sale dated the next day");
    let (numbers, verdict) = numbers_and_chain(&store, shop_id).await;
    assert_eq!(numbers, (1..=5).collect::<Vec<_>>());
    assert!(
        matches!(verdict, Verification::Intact { .. }),
        "{verdict:?}"
    );
}
