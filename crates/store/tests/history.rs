//! A sale's lookups stay a handful of index entries however many orders its shop holds
//! (PostgreSQL; skipped without `COMPTOIR_TEST_POSTGRES`): the foreign-key checks into
//! `orders` and the catalog lookups must not scan the shop's history, autovacuum or not.

use comptoir_core::model::Licence;
use comptoir_store::db::Conn;
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
