//! Refunds never pay out money the order did not receive, and the customer never pays
//! more than is owed after refunds (issue #12, point 3): a payout beyond what was received
//! is refused with 422 `refund_exceeds_received` on `payment`; a credit note
//! (`paymentAmount=0`) stays possible and lowers what can still be paid on the original.
//! Each test runs on SQLite and, when `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL.

use comptoir_core::model::Licence;
use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestApp, TestDb, import_demo};
use serde_json::Value;

/// A shop of the app with the demo catalog, called through its key.
struct Caller<'a> {
    app: &'a TestApp,
    id: i64,
    key: String,
}

impl Caller<'_> {
    async fn new(app: &TestApp) -> Caller<'_> {
        let shop = app.create_shop("Remboursements", Licence::Extended).await;
        import_demo(&app.store, shop.shop_id).await;
        Caller {
            app,
            id: shop.shop_id,
            key: shop.api_key.clone(),
        }
    }

    /// The id of the shop's row of `table` named `name`.
    async fn id_of(&self, table: &'static str, name: &'static str) -> String {
        let shop_id = self.id;
        self.app
            .store
            .read(move |c| {
                c.query_one(
                    &format!("select id from {table} where shop_id = $1 and name = $2"),
                    params![shop_id, name],
                )?
                .i64(0)
            })
            .await
            .map(|id: i64| id.to_string())
            .unwrap_or_else(|e: StoreError| panic!("{table} {name}: {e}"))
    }

    async fn call(&self, path: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let id = self.id.to_string();
        let mut form = vec![("idboutique", id.as_str()), ("key", self.key.as_str())];
        form.extend_from_slice(extra);
        let res = self.app.post_form(path, &form).await;
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON answer"))
    }

    /// refundOrder.php of the whole order, paid out with `method`, `paymentAmount` if given.
    async fn refund(&self, order: &str, method: &str, amount: Option<&str>) -> (u16, Value) {
        let mut form = vec![("order_id", order), ("payment", method)];
        form.extend(amount.map(|a| ("paymentAmount", a)));
        self.call("/workers/refundOrder.php", &form).await
    }

    /// addPayment.php of what is due, with `method`.
    async fn pay(&self, order: &str, method: &str) -> (u16, Value) {
        self.call(
            "/workers/addPayment.php",
            &[("order_id", order), ("payment", method)],
        )
        .await
    }

    /// The payment rows of order `order` (its internal id).
    async fn payment_rows(&self, order: &str) -> i64 {
        let (shop_id, order) = (self.id, order.parse::<i64>().expect("an id"));
        self.app
            .store
            .read(move |c| {
                c.query_one(
                    "select count(*) from payments where shop_id = $1 and order_id = $2",
                    params![shop_id, order],
                )?
                .i64(0)
            })
            .await
            .unwrap_or_else(|e: StoreError| panic!("payments: {e}"))
    }
}

#[tokio::test]
async fn a_refund_never_pays_out_money_that_was_not_received() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = Caller::new(&app).await;
        let b = db.backend;
        let (mug, cash, card) = (
            s.id_of("items", "Mug").await,
            s.id_of("payment_methods", "Cash").await,
            s.id_of("payment_methods", "Card").await,
        );
        let cash_refund = s.id_of("payment_methods", "Cash refund").await;

        // Validated, not paid: a 12.00 cash payout is refused, nothing is written.
        let (status, unpaid) = s
            .call(
                "/workers/webapp.php",
                &[("payment", "-1"), ("itemsList[]", &mug)],
            )
            .await;
        assert_eq!(status, 200, "{b}: {unpaid}");
        let unpaid = unpaid["orderInternalID"].to_string();
        let (status, v) = s.refund(&unpaid, &cash_refund, None).await;
        assert_eq!(status, 422, "{b}: {v}");
        assert_eq!(v["error"]["code"], "refund_exceeds_received", "{b}: {v}");
        assert_eq!(v["error"]["field"], "payment", "{b}: {v}");

        // A credit note instead: no payout, and nothing is left to pay on the original.
        let (status, note) = s.refund(&unpaid, &cash_refund, Some("0")).await;
        assert_eq!(status, 200, "{b}: {note}");
        assert_eq!(note["price"].to_string(), "-12.00", "{b}: {note}");
        assert_eq!(note["payments"], Value::Array(vec![]), "{b}: {note}");
        let (status, v) = s.pay(&unpaid, &cash).await;
        assert_eq!(status, 200, "{b}: {v}");
        assert_eq!(v["status"], "terminated", "{b}: {v}");
        assert_eq!(
            s.payment_rows(&unpaid).await,
            0,
            "{b}: the customer paid nothing"
        );

        // Paid 5.00 of 12.00 by card: at most 5.00 goes back, then nothing is due.
        let (status, part) = s
            .call(
                "/workers/webapp.php",
                &[
                    ("payment", &card),
                    ("paymentAmount", "5.00"),
                    ("itemsList[]", &mug),
                ],
            )
            .await;
        assert_eq!(status, 200, "{b}: {part}");
        let part = part["orderInternalID"].to_string();
        let (status, v) = s.refund(&part, &cash_refund, None).await;
        assert_eq!(
            (status, &v["error"]["code"]),
            (422, &Value::from("refund_exceeds_received")),
            "{b}: {v}"
        );
        let (status, refund) = s.refund(&part, &cash_refund, Some("5.00")).await;
        assert_eq!(status, 200, "{b}: {refund}");
        assert_eq!(refund["paid"].to_string(), "-5.00", "{b}: {refund}");
        let (status, v) = s.pay(&part, &cash).await;
        assert_eq!(status, 200, "{b}: {v}");
        assert_eq!(s.payment_rows(&part).await, 1, "{b}: only the first 5.00");
        app.stop().await;
    }
}
