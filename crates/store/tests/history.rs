//! A sale's lookups stay a handful of index entries however many orders its shop holds
//! (PostgreSQL; skipped without `COMPTOIR_TEST_POSTGRES`): the foreign-key checks into
//! `orders` and the catalog lookups must not scan the shop's history, autovacuum or not;
//! nor the catalog after a large import that an upkeep pass met before its commit.

use comptoir_core::model::{Item, Licence, Name};
use comptoir_core::money::Money;
use comptoir_store::db::Conn;
use comptoir_store::item_rows::ItemRow;
use comptoir_store::sales::{self, SaleInput};
use comptoir_store::{Store, StoreError, params, shops};
use comptoir_testkit::{TestDb, create_shop};
use std::time::{Duration, Instant};

const EXISTING: i64 = 20_000;
const MEASURED: i64 = 20;
/// Index entries and heap rows a sale may read in `orders`, `order_lines`, `items` and
/// `clients`: its own few checks, not the shop's history.
const HANDFUL: i64 = 40;

/// Entries read so far in the tables' indexes, plus rows read by sequential scans.
const READS: &str = "select cast(
     (select coalesce(sum(idx_tup_read), 0) from pg_stat_user_indexes
      where schemaname = current_schema() and relname in ('orders', 'order_lines', 'items', 'clients'))
     + (select coalesce(sum(seq_tup_read), 0) from pg_stat_user_tables
      where schemaname = current_schema() and relname in ('orders', 'order_lines', 'items', 'clients'))
     as bigint)";

/// Runs `f` on the shop's writer lane, the connection its sales use.
async fn on_lane<T: Send + 'static>(
    store: &Store,
    shop_id: i64,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
) -> T {
    store.write_checked(shop_id, f).await.expect("a lane write")
}

/// The reads counted so far, the lane's own flushed to the statistics first.
async fn reads(store: &Store, shop_id: i64) -> i64 {
    on_lane(store, shop_id, |c| {
        c.batch("select pg_stat_force_next_flush()")
    })
    .await;
    on_lane(store, shop_id, |c| c.query_one(READS, &[])?.i64(0)).await
}

async fn sell(store: &Store, shop: &comptoir_core::model::Shop, item: i64, n: i64) {
    for _ in 0..n {
        let shop = shop.clone();
        let input = SaleInput::new(
            vec![item.to_string()],
            comptoir_core::sale::PaymentParam::Unpaid,
        );
        store
            .write_checked(shop.id, move |c| sales::record_sale(c, &shop, &input))
            .await
            .expect("a sale");
    }
}

#[tokio::test]
async fn a_sale_reads_a_handful_of_rows_in_a_shop_with_a_long_history() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    let shop_id = create_shop(&store, "History", Licence::Extended)
        .await
        .shop_id;
    comptoir_testkit::import_demo(&store, shop_id).await;
    let (shop, item) = store
        .read(move |c| {
            let shop = shops::get_shop(c, shop_id)?.expect("the shop");
            let item = c
                .query_one(
                    "select min(id) from items where shop_id = $1 and active",
                    params![shop_id],
                )?
                .i64(0)?;
            Ok::<_, StoreError>((shop, item))
        })
        .await
        .unwrap();
    // Sales while the shop is new: the lane's connection plans its checks on small tables.
    sell(&store, &shop, item, 12).await;
    on_lane(&store, shop_id, move |c| {
        sales::seed::existing_orders(c, shop_id, EXISTING)
    })
    .await;
    // The store's own upkeep notices the growth (autovacuum may well be off).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let fresh = store
            .read(|c| {
                c.query_one(
                    "select relpages >= pg_relation_size(oid) / 8192 * 0.9 from pg_class
                     where relname = 'orders' and relnamespace = current_schema()::regnamespace",
                    &[],
                )?
                .bool(0)
            })
            .await
            .unwrap();
        if fresh {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orders was not analysed within 30 s of growing by {EXISTING} rows"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = reads(&store, shop_id).await;
    sell(&store, &shop, item, MEASURED).await;
    let after = reads(&store, shop_id).await;
    // The two statements of `reads` themselves read nothing of those tables.
    let per_sale = (after - before) / MEASURED;
    eprintln!("rows or index entries read per sale: {per_sale}");
    assert!(
        per_sale <= HANDFUL,
        "a sale read {per_sale} rows or index entries of orders/order_lines/items/clients \
         in a shop of {EXISTING} orders (at most {HANDFUL} expected)"
    );
}

/// Items a large import adds.
const IMPORTED_ITEMS: i64 = 5_000;

/// Runs `import` in one transaction and, while it is not committed, an upkeep pass (as the
/// store's thread may run at any second); then checks that the pass waited for the commit,
/// that `items` is recorded with the imported rows, and that a sale of an imported item
/// reads a handful of rows, not the catalog.
async fn import_beside_an_upkeep_pass(
    store: &Store,
    shop_id: i64,
    import: impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> + Send + 'static,
) {
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.refresh_statistics_blocking())
        .await
        .unwrap()
        .unwrap();
    let aside = store.clone();
    let (pass, done_mid_import) = store
        .write(move |c| {
            import(c)?;
            let (tx, rx) = std::sync::mpsc::channel();
            let pass = std::thread::spawn(move || {
                let r = aside.refresh_statistics_blocking();
                let _ = tx.send(());
                r
            });
            let done = rx.recv_timeout(Duration::from_millis(1500)).is_ok();
            Ok::<_, StoreError>((pass, done))
        })
        .await
        .expect("the import");
    let analysed = pass.join().expect("the pass").expect("the pass's ANALYZE");
    assert!(
        !done_mid_import,
        "an ANALYZE of the catalog ran beside the uncommitted import"
    );
    assert!(
        analysed.iter().any(|t| t == "items"),
        "the pass did not analyse items after the import: {analysed:?}"
    );
    let (tuples, sampled) = store
        .read(|c| {
            let r = c.query_one(
                "select cast(c.reltuples as bigint),
                     (select count(*) from pg_stats s where s.schemaname = current_schema()
                      and s.tablename = 'items')
                 from pg_class c
                 where c.relname = 'items' and c.relnamespace = current_schema()::regnamespace",
                &[],
            )?;
            Ok::<_, StoreError>((r.i64(0)?, r.i64(1)?))
        })
        .await
        .unwrap();
    assert!(
        tuples >= IMPORTED_ITEMS,
        "items recorded with {tuples} rows after importing {IMPORTED_ITEMS}"
    );
    assert!(sampled > 0, "no column statistics for items");
    let (shop, item) = store
        .read(move |c| {
            let shop = shops::get_shop(c, shop_id)?.expect("the shop");
            let item = c
                .query_one(
                    "select max(id) from items where shop_id = $1",
                    params![shop_id],
                )?
                .i64(0)?;
            Ok::<_, StoreError>((shop, item))
        })
        .await
        .unwrap();
    let before = reads(store, shop_id).await;
    sell(store, &shop, item, MEASURED).await;
    let per_sale = (reads(store, shop_id).await - before) / MEASURED;
    assert!(
        per_sale <= HANDFUL,
        "a sale read {per_sale} rows or index entries of orders/order_lines/items/clients \
         after an import of {IMPORTED_ITEMS} items (at most {HANDFUL} expected)"
    );
}

#[tokio::test]
async fn an_upkeep_pass_during_a_large_import_waits_for_its_commit_and_counts_its_items() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    let shop_id = create_shop(&store, "Big catalog", Licence::Extended)
        .await
        .shop_id;
    // The demo catalog with thousands of items more, in a shop whose catalog is empty
    // (analysed empty when the store opened).
    let mut doc: serde_json::Value =
        serde_json::from_str(comptoir_testkit::DEMO_CATALOG).expect("the demo catalog");
    let items = doc["items"].as_array_mut().expect("items");
    for i in 0..IMPORTED_ITEMS {
        items.push(serde_json::json!({
            "id": 1000 + i, "department_id": 1, "name": format!("Item {i}"), "price": 2.5,
            "barcode": format!("{:013}", 3_000_000_000_000_i64 + i), "position": i,
        }));
    }
    let cat = comptoir_core::catalog::parse_document(&doc.to_string(), 2, &[])
        .expect("the catalog parses");
    import_beside_an_upkeep_pass(&store, shop_id, move |c| {
        comptoir_store::catalog::import(c, shop_id, &cat).map(drop)
    })
    .await;
}

#[tokio::test]
async fn an_upkeep_pass_during_a_large_items_csv_waits_for_its_commit_and_counts_its_items() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    let shop_id = create_shop(&store, "Big CSV", Licence::Extended)
        .await
        .shop_id;
    comptoir_testkit::import_demo(&store, shop_id).await;
    let department = store
        .read(move |c| {
            c.query_one(
                "select min(id) from departments where shop_id = $1",
                params![shop_id],
            )?
            .i64(0)
        })
        .await
        .unwrap();
    let rows: Vec<ItemRow> = (0..IMPORTED_ITEMS)
        .map(|i| ItemRow {
            line: u64::try_from(i + 2).unwrap(),
            item: Item {
                id: 0,
                department_id: department,
                name: Name::parse(&format!("Item {i}")).unwrap(),
                price: Money::from_minor(250),
                vat_rate: None,
                barcode: Some(format!("{:013}", 3_000_000_000_000_i64 + i)),
                reference: None,
                position: i,
                active: true,
                stock: None,
            },
            present: [true; 10],
        })
        .collect();
    import_beside_an_upkeep_pass(&store, shop_id, move |c| {
        comptoir_store::item_rows::apply(c, shop_id, &rows)
    })
    .await;
}

/// Shops beside the one that sells, each with the demo catalog: enough that the catalog
/// tables hold a few pages, where the planner would rather read a table whole than probe
/// an index.
const OTHER_SHOPS: usize = 80;

/// Entries read so far in the catalog tables' indexes, plus rows read by sequential
/// scans.
const CATALOG_READS: &str = "select cast(
     (select coalesce(sum(idx_tup_read), 0) from pg_stat_user_indexes
      where schemaname = current_schema()
        and relname in ('items', 'departments', 'payment_methods', 'users', 'cash_boxes'))
     + (select coalesce(sum(seq_tup_read), 0) from pg_stat_user_tables
      where schemaname = current_schema()
        and relname in ('items', 'departments', 'payment_methods', 'users', 'cash_boxes'))
     as bigint)";

/// A sale's checks, as webapp.php runs them on PostgreSQL (on a pooled connection, before
/// the sale is queued), read the shop's own few catalog rows, not every shop's: no
/// sequential scan of `departments` or `payment_methods` once the catalogs of many shops
/// fill a few pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sales_checks_read_its_shops_catalog_rows_not_every_shops() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    let store = db.store().await;
    let mut shop_ids = Vec::with_capacity(OTHER_SHOPS + 1);
    for i in 0..=OTHER_SHOPS {
        let shop_id = create_shop(&store, &format!("Catalog {i}"), Licence::Extended)
            .await
            .shop_id;
        comptoir_testkit::import_demo(&store, shop_id).await;
        shop_ids.push(shop_id);
    }
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.refresh_statistics_blocking())
        .await
        .unwrap()
        .unwrap();
    let shop_id = shop_ids[OTHER_SHOPS / 2];
    let (item, method) = comptoir_testkit::item_and_payment_method(&store, shop_id).await;
    let (rows, per_sale) = store
        .read(move |c| {
            let shop = shops::get_shop(c, shop_id)?.expect("the shop");
            let rows: i64 = c
                .query_one(
                    "select (select count(*) from departments) + (select count(*) from payment_methods)",
                    &[],
                )?
                .i64(0)?;
            let input = SaleInput::new(
                vec![format!("{item}_2"), format!("{item}_1"), item.to_string()],
                comptoir_core::sale::PaymentParam::Method(method),
            );
            let reads = |c: &mut dyn Conn| -> Result<i64, StoreError> {
                c.batch("select pg_stat_force_next_flush()")?;
                c.query_one(CATALOG_READS, &[])?.i64(0)
            };
            let before = reads(c)?;
            for _ in 0..MEASURED {
                sales::check_sale(c, &shop, &input).expect("the sale checks");
            }
            let after = reads(c)?;
            Ok::<_, StoreError>((rows, (after - before) / MEASURED))
        })
        .await
        .unwrap();
    eprintln!(
        "catalog rows or index entries read per sale's checks: {per_sale} ({rows} departments and payment methods in all)"
    );
    assert!(
        per_sale <= HANDFUL,
        "a sale's checks read {per_sale} rows or index entries of the catalog tables \
         ({rows} departments and payment methods in {} shops; at most {HANDFUL} expected)",
        OTHER_SHOPS + 1
    );
}
