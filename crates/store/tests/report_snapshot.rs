//! The daily report's reads in one snapshot (`Store::read_snapshot_blocking`): a sale
//! committed between the aggregates and the sales table is in neither, so the report's
//! figures and its table agree; a read after the snapshot sees it. Both backends.

use comptoir_core::model::{Licence, Shop};
use comptoir_core::payment::PaymentParam;
use comptoir_store::report::{ReportQuery, SaleCursor, aggregates, sales_page};
use comptoir_store::sales::{self, SaleInput};
use comptoir_store::{Store, StoreError, params, shops};
use comptoir_testkit::{TestDb, create_shop};

/// One validated sale of `item`, recorded as webapp.php records it (from a blocking
/// thread of the test's runtime).
fn sell(store: &Store, shop: &Shop, item: i64) {
    let shop = shop.clone();
    let input = SaleInput::new(vec![item.to_string()], PaymentParam::Unpaid);
    tokio::runtime::Handle::current()
        .block_on(store.write_checked(shop.id, move |c| sales::record_sale(c, &shop, &input)))
        .expect("a sale");
}

/// The orders of the sales table, read page by page on `c`.
fn table_len(c: &mut dyn comptoir_store::db::Conn, q: &ReportQuery) -> Result<i64, StoreError> {
    let mut n = 0;
    let mut after = Some(SaleCursor::START);
    while let Some(cursor) = after {
        let (page, next) = sales_page(c, q, false, cursor)?;
        n += page.len() as i64;
        after = next;
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_reads_its_aggregates_and_sales_in_one_snapshot() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop_id = create_shop(&store, "Snapshot", Licence::Extended)
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
            .expect("the shop and an item");
        let q = ReportQuery {
            shop_id,
            from: 0,
            to: i64::MAX,
            cash_box_id: None,
            user_id: None,
        };
        let s = store.clone();
        let (orders, table, after) = tokio::task::spawn_blocking(move || {
            sell(&s, &shop, item);
            sell(&s, &shop, item);
            let (orders, table) = s
                .read_snapshot_blocking(|c| {
                    let a = aggregates(c, &q)?;
                    // Committed while the report is being read: after its aggregates,
                    // before its sales table.
                    sell(&s, &shop, item);
                    Ok::<_, StoreError>((a.summary.sales, table_len(c, &q)?))
                })
                .expect("the snapshot");
            let after = s
                .read_blocking(|c| table_len(c, &q))
                .expect("a read after it");
            (orders, table, after)
        })
        .await
        .expect("the reads");
        assert_eq!(orders, 2, "{}: the aggregates' orders", db.backend);
        assert_eq!(table, 2, "{}: the sales table agrees with them", db.backend);
        assert_eq!(
            after, 3,
            "{}: the sale made meanwhile is read after",
            db.backend
        );
    }
}
