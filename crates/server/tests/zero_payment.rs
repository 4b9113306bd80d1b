//! A payment of 0.00 is never stored (issue #12, point 5): a sale whose total is zero (an
//! offered item) is complete without a payment row, whichever method is named, and a
//! pending zero-total order is terminated when validated, without one either. Each test
//! runs on SQLite and, when `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL.

use comptoir_core::model::Licence;
use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestApp, TestDb, import_demo};
use serde_json::Value;

/// Payment rows of the shop, and those of 0.00.
async fn payments(app: &TestApp, shop_id: i64) -> (i64, i64) {
    app.store
        .read(move |c| {
            let r = c.query_one(
                "select count(*), coalesce(sum(case when amount = 0 then 1 else 0 end), 0)
                 from payments where shop_id = $1",
                params![shop_id],
            )?;
            Ok::<_, StoreError>((r.i64(0)?, r.i64(1)?))
        })
        .await
        .expect("count payments")
}

/// A shop of the app, called through its key.
struct Caller<'a> {
    app: &'a TestApp,
    id: String,
    key: String,
}

impl Caller<'_> {
    async fn call(&self, path: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![("idboutique", self.id.as_str()), ("key", self.key.as_str())];
        form.extend_from_slice(extra);
        let res = self.app.post_form(path, &form).await;
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON answer"))
    }

    /// webapp.php: one entry paid by `payment`.
    async fn sale(&self, payment: &str, entry: &str) -> (u16, Value) {
        self.call(
            "/workers/webapp.php",
            &[("payment", payment), ("itemsList[]", entry)],
        )
        .await
    }
}

#[tokio::test]
async fn a_zero_total_sale_is_complete_without_a_payment_row() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Offert", Licence::Extended).await;
        import_demo(&app.store, shop.shop_id).await;
        let id = shop.shop_id;
        let caller = Caller {
            app: &app,
            id: id.to_string(),
            key: shop.api_key.clone(),
        };

        // Cash (1), Card (2, at least 1.00) and Meal voucher (5): an espresso offered.
        for method in ["1", "2", "5"] {
            let (status, v) = caller.sale(method, "1_1__0").await;
            assert_eq!(status, 200, "{}, method {method}: {v}", db.backend);
            assert_eq!(v["status"], "terminated", "{}: {v}", db.backend);
            assert_eq!(v["payments"], Value::Array(vec![]), "{}: {v}", db.backend);
            assert_eq!(v["paid"].to_string(), "0.00");
        }
        assert_eq!(payments(&app, id).await, (0, 0), "{}", db.backend);

        // Pending, then paid with nothing due: validated and terminated, with no row.
        let (_, pending) = caller.sale("-2", "1_1__0").await;
        let order = pending["orderInternalID"].to_string();
        let (status, v) = caller
            .call(
                "/workers/addPayment.php",
                &[("order_id", order.as_str()), ("payment", "1")],
            )
            .await;
        assert_eq!(status, 200, "{}: {v}", db.backend);
        assert_eq!(v["status"], "terminated", "{}: {v}", db.backend);
        assert_eq!(v["payments"], Value::Array(vec![]), "{}: {v}", db.backend);
        assert_eq!(payments(&app, id).await, (0, 0), "{}", db.backend);

        // A real payment is still recorded.
        let (status, v) = caller.sale("1", "1_1").await;
        assert_eq!(status, 200, "{}: {v}", db.backend);
        assert_eq!(payments(&app, id).await, (1, 0), "{}", db.backend);
        app.stop().await;
    }
}
