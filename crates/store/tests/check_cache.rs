//! The rows a process remembers for its sales' checks (PostgreSQL, `sales::CheckCache`):
//! a sale is checked from them without a statement, yet written as the catalog stands
//! when its lane writes it, whichever process changed the catalog; a refusal is never
//! given from them; and every table they come from raises the shop's catalog version.

use comptoir_core::model::Shop;
use comptoir_store::db::Conn;
use comptoir_store::sales::CheckStats;
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestDb, demo_shop, hold_counter_row, sell_two, two_stores};
use std::time::Duration;

/// Two stores on one PostgreSQL database (two processes), and a shop with the demo
/// catalog: the shop, an item and Cash.
async fn shop_on_two_stores(name: &str) -> Option<(TestDb, Store, Store, Shop, i64, i64)> {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return None;
    };
    let (store, other) = two_stores(&db).await;
    let (shop, item, cash) = demo_shop(&store, name).await;
    Some((db, store, other, shop, item, cash))
}

/// Two units of `item` paid in cash: the order's total in cents, or the failure.
async fn sell(store: &Store, shop: &Shop, item: i64, cash: i64) -> Result<i64, String> {
    sell_two(store, shop, item, cash)
        .await
        .map(|o| o.total.minor())
}

/// Runs `sql` with `$1` the shop and `$2` the item, on `store`.
async fn change(store: &Store, sql: &'static str, shop_id: i64, item: i64) {
    store
        .write(move |c| c.execute(sql, params![shop_id, item]))
        .await
        .expect("the catalog changed");
}

/// How many of `store`'s checks were answered from memory, from the database, again.
fn counts(store: &Store) -> (u64, u64, u64) {
    let CheckStats {
        remembered,
        read,
        checked_again,
    } = store.sale_check_stats();
    (remembered, read, checked_again)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_checked_from_remembered_rows_is_written_at_the_price_its_lane_reads() {
    let Some((_db, store, other, shop, item, cash)) = shop_on_two_stores("Remembered prices").await
    else {
        return;
    };
    // The first sale creates the shop's `webservice` user, a change of the rows the
    // checks read: the second reads them anew, and they are then remembered.
    let first = sell(&store, &shop, item, cash).await.expect("a sale");
    assert_eq!(sell(&store, &shop, item, cash).await, Ok(first));
    let before = counts(&store);
    for _ in 0..5 {
        assert_eq!(sell(&store, &shop, item, cash).await, Ok(first));
    }
    let after = counts(&store);
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (5, 0, 0),
        "five sales of remembered rows: no statement of their own"
    );

    // Another process doubles the price: this store still remembers the old one.
    change(
        &other,
        "update items set price = price * 2 where shop_id = $1 and id = $2",
        shop.id,
        item,
    )
    .await;
    assert_eq!(
        sell(&store, &shop, item, cash).await,
        Ok(first * 2),
        "checked from the old price, checked again by its lane at the new one"
    );
    let again = counts(&store);
    assert_eq!(again.2 - after.2, 1, "one sale checked again in its lane");
    // The old rows were forgotten: the next check reads the new ones, then remembers.
    assert_eq!(sell(&store, &shop, item, cash).await, Ok(first * 2));
    assert_eq!(sell(&store, &shop, item, cash).await, Ok(first * 2));
    let last = counts(&store);
    assert_eq!(
        (last.0 - again.0, last.1 - again.1, last.2 - again.2),
        (1, 1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_is_never_refused_from_remembered_rows() {
    let Some((_db, store, other, shop, item, cash)) =
        shop_on_two_stores("Remembered refusals").await
    else {
        return;
    };
    // Two sales: the rows are then remembered (see the test above).
    for _ in 0..2 {
        sell(&store, &shop, item, cash).await.expect("a sale");
    }
    let before = counts(&store);
    // Withdrawn elsewhere: the remembered row says active; the lane reads the change.
    change(
        &other,
        "update items set active = false where shop_id = $1 and id = $2",
        shop.id,
        item,
    )
    .await;
    let refused = sell(&store, &shop, item, cash).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("inactive")),
        "{refused:?}"
    );
    let after = counts(&store);
    assert_eq!(
        (after.0 - before.0, after.2 - before.2),
        (1, 1),
        "checked from remembered rows, then again in its lane"
    );
    // Read from the database and remembered as inactive.
    assert!(sell(&store, &shop, item, cash).await.is_err());
    let before = counts(&store);
    // Sold again elsewhere: the remembered row says inactive; the refusal it would give
    // is checked against the database first.
    change(
        &other,
        "update items set active = true where shop_id = $1 and id = $2",
        shop.id,
        item,
    )
    .await;
    let sold = sell(&store, &shop, item, cash).await;
    assert!(sold.is_ok(), "{sold:?}");
    let after = counts(&store);
    assert_eq!(
        after.1 - before.1,
        1,
        "the refusal was checked in the database"
    );
    assert_eq!(
        after.2 - before.2,
        0,
        "and the lane found that same version"
    );
}

/// `shop_id`'s catalog version: the sum of its rows of `catalog_changes`.
fn version(c: &mut dyn Conn, shop_id: i64) -> Result<i64, StoreError> {
    c.query_one(
        "select cast(coalesce(sum(n), 0) as bigint) from catalog_changes where shop_id = $1",
        params![shop_id],
    )?
    .i64(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_a_sales_checks_read_raises_the_shops_catalog_version() {
    let Some((_db, store, _other, shop, _item, _cash)) =
        shop_on_two_stores("Catalog versions").await
    else {
        return;
    };
    let (elsewhere, ..) = demo_shop(&store, "Another catalog").await;
    let (shop_id, other_id) = (shop.id, elsewhere.id);
    let (versions, others, compacted) = store
        .write(move |c| {
            let mut seen = vec![version(c, shop_id)?];
            let other_before = version(c, other_id)?;
            for table in [
                "items",
                "variations",
                "departments",
                "payment_methods",
                "users",
                "cash_boxes",
                "dining_tables",
            ] {
                // An update that changes no value is a change all the same.
                c.execute(
                    &format!("update {table} set id = id where shop_id = $1"),
                    params![shop_id],
                )?;
                seen.push(version(c, shop_id)?);
            }
            // Another shop's rows leave this one's version alone, and raise their own.
            c.execute(
                "update items set id = id where shop_id = $1",
                params![other_id],
            )?;
            seen.push(version(c, shop_id)?);
            let others = (other_before, version(c, other_id)?);
            // Compacting keeps every shop's version, in one row each.
            comptoir_store::sales::compact_catalog_changes(c)?;
            let rows = c
                .query_one(
                    "select count(*) from catalog_changes where shop_id = any($1::bigint[])",
                    &[comptoir_store::db::Value::Array(vec![
                        comptoir_store::db::Value::I64(shop_id),
                        comptoir_store::db::Value::I64(other_id),
                    ])],
                )?
                .i64(0)?;
            let compacted = (version(c, shop_id)?, version(c, other_id)?, rows);
            Ok::<_, StoreError>((seen, others, compacted))
        })
        .await
        .unwrap();
    let first = versions[0];
    assert!(first > 0, "the demo import raised it: {versions:?}");
    let expected: Vec<i64> = (0..8).map(|i| first + i).chain([first + 7]).collect();
    assert_eq!(versions, expected);
    assert_eq!(others.1, others.0 + 1);
    assert_eq!(compacted, (first + 7, others.1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_received_after_a_price_change_is_charged_the_new_price_though_its_lane_waited() {
    let Some((_db, store, other, shop, item, cash)) = shop_on_two_stores("Waited").await else {
        return;
    };
    let first = sell(&store, &shop, item, cash).await.expect("a sale");
    assert_eq!(sell(&store, &shop, item, cash).await, Ok(first));
    let shop_id = shop.id;
    // Another process holds the shop's counter row for 1.5 s.
    let holder = hold_counter_row(&other, shop_id, Duration::from_millis(1500));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A sale whose lane now waits for the row; its lock statement started before the
    // change below.
    let (s, sh) = (store.clone(), shop.clone());
    let early = tokio::spawn(async move { sell(&s, &sh, item, cash).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    change(
        &other,
        "update items set price = price * 2 where shop_id = $1 and id = $2",
        shop_id,
        item,
    )
    .await;
    // Received after the change committed, checked from the old remembered price.
    let late = sell(&store, &shop, item, cash).await;
    early.await.unwrap().expect("the early sale");
    holder.await.unwrap();
    assert_eq!(late, Ok(first * 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_edits_of_one_shops_catalog_crossing_rows_do_not_deadlock() {
    let Some((_db, store, other, shop, item, _cash)) = shop_on_two_stores("Crossing edits").await
    else {
        return;
    };
    let shop_id = shop.id;
    let user = store
        .read(move |c| {
            c.query_one(
                "select min(id) from users where shop_id = $1",
                params![shop_id],
            )?
            .i64(0)
        })
        .await
        .unwrap();
    let (first_done, first_went) = std::sync::mpsc::channel::<()>();
    let (second_done, second_went) = std::sync::mpsc::channel::<()>();
    // The first edit changes an item, then the user; the second changes the user in
    // between and commits 300 ms later. Both change the shop's catalog version.
    let first = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |c| {
                    c.execute(
                        "update items set name = name where shop_id = $1 and id = $2",
                        params![shop_id, item],
                    )?;
                    let _ = first_done.send(());
                    let _ = second_went.recv_timeout(Duration::from_secs(5));
                    c.execute(
                        "update users set display_name = display_name
                         where shop_id = $1 and id = $2",
                        params![shop_id, user],
                    )
                })
                .await
        })
    };
    let second = tokio::spawn(async move {
        other
            .write(move |c| {
                let _ = first_went.recv_timeout(Duration::from_secs(5));
                let changed = c.execute(
                    "update users set display_name = display_name where shop_id = $1 and id = $2",
                    params![shop_id, user],
                )?;
                let _ = second_done.send(());
                std::thread::sleep(Duration::from_millis(300));
                Ok::<_, StoreError>(changed)
            })
            .await
    });
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert!(first.is_ok(), "{first:?}");
    assert!(second.is_ok(), "{second:?}");
}
