//! Recording sales over `/workers/webapp.php` and the order extensions, end to end on a real
//! server: the itemsList grammar, amounts and VAT, statuses and numbering, every error code
//! (and that a refused request writes nothing), refunds, payments, the order lists, shop
//! isolation, clients, CORS and idempotency. Each test runs on SQLite and, when
//! `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL. The heavy, concurrent ones are in
//! sales_concurrency.rs.

use comptoir_core::model::Licence;
use comptoir_store::db::Row;
use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestApp, TestDb, encode_form};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A shop with the demo catalog, and the ids of its rows by name.
struct Shop {
    id: i64,
    key: String,
    /// Items, departments, variations, payment methods, cash boxes and tables by name;
    /// users by the local part of their login (`claire`).
    ids: HashMap<String, i64>,
}

impl Shop {
    fn id_of(&self, name: &str) -> i64 {
        *self
            .ids
            .get(name)
            .unwrap_or_else(|| panic!("no {name:?} in the demo catalog"))
    }

    /// `text` with every `<Name>` replaced by the id of that row of this shop.
    fn t(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let Some(len) = rest[start..].find('>') else {
                break;
            };
            out.push_str(&rest[..start]);
            out.push_str(&self.id_of(&rest[start + 1..start + len]).to_string());
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `idboutique` and `key` of this shop, then `extra` with its `<Name>`s replaced.
    fn form(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v = vec![
            ("idboutique".to_string(), self.id.to_string()),
            ("key".to_string(), self.key.clone()),
        ];
        v.extend(extra.iter().map(|(k, x)| (k.to_string(), self.t(x))));
        v
    }
}

/// Creates a shop with the extended licence and imports data/demo-shop.json into it.
async fn demo_shop(app: &TestApp, name: &str) -> Shop {
    let created = app.create_shop(name, Licence::Extended).await;
    let shop_id = created.shop_id;
    comptoir_testkit::import_demo(&app.store, shop_id).await;
    let ids = app
        .store
        .read(move |c| {
            let mut ids = HashMap::new();
            for table in [
                "items",
                "departments",
                "variations",
                "payment_methods",
                "cash_boxes",
                "dining_tables",
            ] {
                let sql = format!("select name, id from {table} where shop_id = $1");
                for r in c.query(&sql, params![shop_id])? {
                    let old = ids.insert(r.string(0)?, r.i64(1)?);
                    assert!(old.is_none(), "{table}: {:?} is used twice", r.str(0)?);
                }
            }
            for r in c.query(
                "select login, id from users where shop_id = $1",
                params![shop_id],
            )? {
                let login = r.string(0)?;
                let local = login.split('@').next().unwrap_or_default().to_string();
                ids.insert(local, r.i64(1)?);
            }
            Ok::<_, StoreError>(ids)
        })
        .await
        .expect("catalog ids");
    Shop {
        id: shop_id,
        key: created.api_key,
        ids,
    }
}

/// One HTTP answer, its body also read as JSON (`Null` when it is not JSON).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl Answer {
    async fn read(res: reqwest::Response) -> Answer {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII"))
    }
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// POSTs `form` to `/workers/ENDPOINT`.
async fn post(app: &TestApp, endpoint: &str, form: &[(String, String)]) -> Answer {
    let res = app
        .post_form(&format!("/workers/{endpoint}"), &pairs(form))
        .await;
    Answer::read(res).await
}

/// GETs `/workers/ENDPOINT?form`.
async fn get(app: &TestApp, endpoint: &str, form: &[(String, String)]) -> Answer {
    let res = app
        .get(&format!(
            "/workers/{endpoint}?{}",
            encode_form(&pairs(form))
        ))
        .await;
    Answer::read(res).await
}

/// Calls an endpoint that must answer 200 with a JSON object; returns it.
async fn ok(app: &TestApp, shop: &Shop, endpoint: &str, extra: &[(&str, &str)]) -> Value {
    let a = post(app, endpoint, &shop.form(extra)).await;
    assert_eq!(a.status, 200, "{endpoint} {extra:?}: {}", a.text);
    assert_eq!(a.json["result"], "OK", "{}", a.text);
    check_amounts(&format!("{endpoint} {extra:?}"), &a.json);
    a.json
}

/// Records a sale on webapp.php; it must succeed.
async fn sale(app: &TestApp, shop: &Shop, extra: &[(&str, &str)]) -> Value {
    ok(app, shop, "webapp.php", extra).await
}

fn internal_id(order: &Value) -> String {
    order["orderInternalID"]
        .as_i64()
        .expect("orderInternalID")
        .to_string()
}

/// Everything a request could write, across every shop: row counts, and the columns of
/// orders and counters a payment or a validation would change.
async fn written(app: &TestApp) -> Vec<(String, Vec<Row>)> {
    app.store
        .read(|c| {
            let mut out = Vec::new();
            for table in [
                "orders",
                "order_lines",
                "payments",
                "journal",
                "outbox",
                "clients",
                "idempotency_keys",
                "users",
                "refund_lines",
            ] {
                let sql = format!("select count(*) from {table}");
                out.push((table.to_string(), c.query(&sql, params![])?));
            }
            out.push((
                "orders columns".into(),
                c.query(
                    "select shop_id, id, status, number, paid, change_given, terminated_at, seal
                     from orders order by shop_id, id",
                    params![],
                )?,
            ));
            out.push((
                "counters".into(),
                c.query(
                    "select shop_id, next_order_number, journal_seq, journal_head
                     from shop_counters order by shop_id",
                    params![],
                )?,
            ));
            Ok::<_, StoreError>(out)
        })
        .await
        .expect("snapshot")
}

/// Sends a request that must be refused with `status`, `code` and `field`, and checks that
/// nothing at all was written. Returns the answer.
async fn refused(
    app: &TestApp,
    what: &str,
    endpoint: &str,
    form: Vec<(String, String)>,
    (status, code, field): (u16, &str, Option<&str>),
) -> Answer {
    let before = written(app).await;
    let a = post(app, endpoint, &form).await;
    assert_eq!(a.status, status, "{what}: {}", a.text);
    assert_eq!(a.json["result"], "KO", "{what}: {}", a.text);
    assert_eq!(a.json["error"]["code"], code, "{what}: {}", a.text);
    assert_eq!(
        a.json["error"]["field"].as_str(),
        field,
        "{what}: {}",
        a.text
    );
    let message = a.json["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no message");
    assert_eq!(a.json["errorMessage"], message, "{what}: {}", a.text);
    if let Some(f) = field {
        assert!(
            message.contains(f),
            "{what}: the message names {f}: {message}"
        );
    }
    assert_eq!(
        written(app).await,
        before,
        "{what}: a refused request wrote something"
    );
    a
}

// ---- amounts, read back exactly from the JSON text -------------------------------------

/// A decimal JSON number as an integer scaled by 10^`digits`; with `exact`, the text must
/// have exactly `digits` decimals (money), else at most that many.
fn scaled(v: &Value, digits: usize, exact: bool) -> i64 {
    assert!(v.is_number(), "{v} is not a JSON number");
    let text = v.to_string();
    let (int, dec) = text.split_once('.').unwrap_or((&text, ""));
    if exact {
        assert_eq!(dec.len(), digits, "{text}: expected {digits} decimals");
    } else {
        assert!(dec.len() <= digits, "{text}: more than {digits} decimals");
    }
    let neg = int.starts_with('-');
    let mut n: i64 = int.trim_start_matches('-').parse().expect("integer part");
    for i in 0..digits {
        let d = dec.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        n = n * 10 + d;
    }
    if neg { -n } else { n }
}

fn minor(v: &Value) -> i64 {
    scaled(v, 2, true)
}

/// `num / den` rounded half away from zero.
fn round_div(num: i128, den: i128) -> i64 {
    let q = (2 * num.abs() + den) / (2 * den);
    i64::try_from(if num < 0 { -q } else { q }).expect("fits")
}

/// The VAT inside `total` (minor units, VAT included) at `rate` hundredths of a percent.
fn vat_in(total: i64, rate: i64) -> i64 {
    round_div(
        i128::from(total) * i128::from(rate),
        10_000 + i128::from(rate),
    )
}

/// Checks the arithmetic of an order answer against the spec's rules, independently of
/// the code under test: line totals, per-rate VAT, totals, payments, status, refund sign.
fn check_amounts(what: &str, o: &Value) {
    let Some(items) = o["items"].as_array() else {
        return;
    };
    let mut per_rate: BTreeMap<i64, i64> = BTreeMap::new();
    let mut sum = 0;
    for item in items {
        let total = minor(&item["total"]);
        let qty = scaled(&item["quantity"], 3, false);
        let unit = minor(&item["unitPrice"]);
        assert_eq!(
            total,
            round_div(i128::from(unit) * i128::from(qty), 1000),
            "{what}: line total of {item}"
        );
        *per_rate
            .entry(scaled(&item["vatRate"], 2, false))
            .or_default() += total;
        sum += total;
    }
    assert_eq!(minor(&o["price"]), sum, "{what}: price is the sum of lines");
    let expected: Vec<(i64, i64, i64, i64)> = per_rate
        .iter()
        .rev()
        .map(|(&rate, &total)| {
            let vat = vat_in(total, rate);
            (rate, total - vat, vat, total)
        })
        .collect();
    let got: Vec<(i64, i64, i64, i64)> = o["VATs"]
        .as_array()
        .expect("VATs")
        .iter()
        .map(|v| {
            (
                scaled(&v["rate"], 2, false),
                minor(&v["base"]),
                minor(&v["amount"]),
                minor(&v["total"]),
            )
        })
        .collect();
    assert_eq!(got, expected, "{what}: VATs per rate");
    assert_eq!(
        minor(&o["VAT"]),
        expected.iter().map(|v| v.2).sum::<i64>(),
        "{what}: VAT is the sum over rates"
    );
    let payments = o["payments"].as_array().expect("payments");
    let paid: i64 = payments.iter().map(|p| minor(&p["amount"])).sum();
    assert_eq!(
        minor(&o["paid"]),
        paid,
        "{what}: paid is the sum of payments"
    );
    let change = minor(&o["change"]);
    assert_eq!(o["isRefund"], Value::Bool(sum < 0), "{what}: isRefund");
    let seal_ok = o["seal"]
        .as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    match o["status"].as_str() {
        Some("pending") => {
            assert!(
                o["orderID"].is_null(),
                "{what}: a pending order has no number"
            );
            assert!(o["seal"].is_null(), "{what}: a pending order has no seal");
            assert!(o["validatedAt"].is_null(), "{what}");
            assert!(payments.is_empty(), "{what}");
        }
        Some("validated") => {
            assert!(o["orderID"].as_i64().is_some_and(|n| n >= 1), "{what}");
            assert!(seal_ok, "{what}: seal {}", o["seal"]);
            assert_eq!(change, 0, "{what}");
            assert!(
                (paid - change).abs() < sum.abs(),
                "{what}: not paid in full"
            );
            assert!(o["terminatedAt"].is_null(), "{what}");
        }
        Some("terminated") => {
            assert!(o["orderID"].as_i64().is_some_and(|n| n >= 1), "{what}");
            assert!(seal_ok, "{what}: seal {}", o["seal"]);
            assert_eq!(paid - change, sum, "{what}: paid in full, less the change");
            assert!(o["terminatedAt"].is_string(), "{what}");
        }
        other => panic!("{what}: status {other:?}"),
    }
}

/// Exact JSON (numbers keep their digits) from a template with `<Name>` ids.
fn expected(shop: &Shop, template: &str) -> Value {
    serde_json::from_str(&shop.t(template)).expect("expected JSON")
}

/// Journal entries and outbox events of one shop.
async fn journal_and_outbox(app: &TestApp, shop: &Shop) -> (i64, i64) {
    let id = shop.id;
    app.store
        .read(move |c| {
            let j = c
                .query_one(
                    "select count(*) from journal where shop_id = $1",
                    params![id],
                )?
                .i64(0)?;
            let o = c
                .query_one(
                    "select count(*) from outbox where shop_id = $1",
                    params![id],
                )?
                .i64(0)?;
            Ok::<_, StoreError>((j, o))
        })
        .await
        .expect("counts")
}

// ---- 1. the itemsList grammar, amounts and statuses -------------------------------------

#[tokio::test]
async fn every_items_list_form_gives_its_line_and_the_totals_follow_the_per_rate_vat_rule() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Grammar").await;
        let b = db.backend;
        let o = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("paymentAmount", "40"),
                ("itemsList[]", "<Espresso>"),
                ("itemsList[]", "<Croissant>_3"),
                ("itemsList[]", "<Quiche>_0.350"),
                ("itemsList[]", "<Tea>_2_Thé vert"),
                ("itemsList[]", "<Tote bag>_1__14,50"),
                (
                    "itemsList[]",
                    "<Cappuccino>_2_Cappuccino XL__<Oat milk>_<Large>",
                ),
                ("itemsList[]", "-<Merchandise>_1,30_Gift_wrap_deluxe"),
                ("itemsList[]", "Free_0.10_Tip_jar"),
            ],
        )
        .await;
        let items = expected(
            &s,
            r#"[
            {"itemID":<Espresso>,"departmentID":<Hot drinks>,"title":"Espresso","quantity":1,
             "unitPrice":1.80,"total":1.80,"vatRate":10.0,"variations":[]},
            {"itemID":<Croissant>,"departmentID":<Bakery>,"title":"Croissant","quantity":3,
             "unitPrice":1.20,"total":3.60,"vatRate":5.5,"variations":[]},
            {"itemID":<Quiche>,"departmentID":<Sandwiches>,"title":"Quiche","quantity":0.35,
             "unitPrice":5.50,"total":1.93,"vatRate":10.0,"variations":[]},
            {"itemID":<Tea>,"departmentID":<Hot drinks>,"title":"Thé vert","quantity":2,
             "unitPrice":2.50,"total":5.00,"vatRate":10.0,"variations":[]},
            {"itemID":<Tote bag>,"departmentID":<Merchandise>,"title":"Tote bag","quantity":1,
             "unitPrice":14.50,"total":14.50,"vatRate":20.0,"variations":[]},
            {"itemID":<Cappuccino>,"departmentID":<Hot drinks>,"title":"Cappuccino XL",
             "quantity":2,"unitPrice":4.40,"total":8.80,"vatRate":10.0,
             "variations":[<Oat milk>,<Large>]},
            {"itemID":null,"departmentID":<Merchandise>,"title":"Gift_wrap_deluxe","quantity":1,
             "unitPrice":1.30,"total":1.30,"vatRate":20.0,"variations":[]},
            {"itemID":null,"departmentID":null,"title":"Tip_jar","quantity":1,
             "unitPrice":0.10,"total":0.10,"vatRate":20.0,"variations":[]}
            ]"#,
        );
        assert_eq!(o["items"], items, "{b}");
        // 20 %: 14.50 + 1.30 + 0.10 = 15.90 holds 2.65 of VAT; rounding each line would
        // give 2.42 + 0.22 + 0.02 = 2.66.
        let vats = expected(
            &s,
            r#"[{"rate":20.0,"base":13.25,"amount":2.65,"total":15.90},
                {"rate":10.0,"base":15.94,"amount":1.59,"total":17.53},
                {"rate":5.5,"base":3.41,"amount":0.19,"total":3.60}]"#,
        );
        assert_eq!(o["VATs"], vats, "{b}");
        assert_eq!(o["price"].to_string(), "37.03", "{b}");
        assert_eq!(o["VAT"].to_string(), "4.43", "{b}");
        assert_eq!(o["paid"].to_string(), "40.00", "{b}");
        assert_eq!(
            o["change"].to_string(),
            "2.97",
            "{b}: cash overpay gives change"
        );
        assert_eq!(o["status"], "terminated", "{b}");
        assert_eq!(o["orderID"], 1, "{b}");
        assert_eq!(o["isRefund"], false);
        assert_eq!(
            o["cashBoxID"],
            s.id_of("Web"),
            "{b}: the Web cash box by default"
        );
        assert_eq!(o["deliveryMethod"], 4, "{b}: counter sale by default");
        assert!(o["clientID"].is_null());
        assert!(o["userID"].as_i64().is_some());
        assert_eq!(o["payments"][0]["paymentMethodID"], s.id_of("Cash"));
        assert_eq!(o["payments"][0]["amount"].to_string(), "40.00");
        let pdf = o["PDFinvoice"].as_str().unwrap();
        assert!(pdf.ends_with(".pdf") && pdf.contains("/invoices/"), "{pdf}");

        // A custom price is the final unit price: the variations' changes are not added.
        let o = sale(
            &app,
            &s,
            &[
                ("payment", "-1"),
                ("itemsList[]", "<Cappuccino>_1__5.00_<Soy milk>"),
            ],
        )
        .await;
        assert_eq!(o["items"][0]["unitPrice"].to_string(), "5.00", "{b}");
        assert_eq!(o["items"][0]["variations"], expected(&s, "[<Soy milk>]"));
        assert_eq!(o["items"][0]["title"], "Cappuccino", "{b}");
        assert_eq!(o["status"], "validated", "{b}");
        assert_eq!(o["orderID"], 2, "{b}");
        assert_eq!(o["paid"].to_string(), "0.00", "{b}");

        // Mixed signs are allowed; the sign of the total decides isRefund.
        let o = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>_2"),
                ("itemsList[]", "<Tea>_-1"),
            ],
        )
        .await;
        assert_eq!(o["price"].to_string(), "1.10", "{b}");
        assert_eq!(o["isRefund"], false, "{b}");
        let o = sale(
            &app,
            &s,
            &[("payment", "<Cash>"), ("itemsList[]", "<Espresso>_-1")],
        )
        .await;
        assert_eq!(o["price"].to_string(), "-1.80", "{b}");
        assert_eq!(
            o["isRefund"], true,
            "{b}: every quantity negative is a refund"
        );
        assert_eq!(o["orderID"], 4, "{b}");
        app.stop().await;
    }
}

#[tokio::test]
async fn pending_validated_terminated_and_partly_paid_sales_get_their_status_number_and_seal() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Statuses").await;
        let b = db.backend;

        let pending = sale(
            &app,
            &s,
            &[("payment", "-2"), ("itemsList[]", "<Espresso>")],
        )
        .await;
        assert_eq!(pending["status"], "pending", "{b}");
        assert!(
            pending["orderID"].is_null() && pending["seal"].is_null(),
            "{b}"
        );
        assert_eq!(pending["paid"].to_string(), "0.00");
        assert_eq!(
            journal_and_outbox(&app, &s).await,
            (0, 0),
            "{b}: a pending order is not sealed and fires no webhook"
        );

        let validated = sale(&app, &s, &[("payment", "-1"), ("itemsList[]", "<Mug>")]).await;
        assert_eq!(validated["status"], "validated", "{b}");
        assert_eq!(
            validated["orderID"], 1,
            "{b}: the pending order took no number"
        );
        assert_eq!(validated["paid"].to_string(), "0.00");
        assert_eq!(journal_and_outbox(&app, &s).await, (1, 1), "{b}");

        let card = sale(
            &app,
            &s,
            &[
                ("payment", "<Card>"),
                ("itemsList[]", "<Jambon-beurre>_2"),
                ("deliveryMethod", "2"),
                ("idcaisse", "<Counter>"),
                ("idtable", "<Table 3>"),
                ("numcouverts", "3"),
                ("pagerNum", "12"),
                ("publicComment", "Merci !"),
                ("privateComment", "VIP"),
                ("idUser", "<hugo>"),
                ("dateValeur", "1710500400"),
            ],
        )
        .await;
        assert_eq!(card["status"], "terminated", "{b}");
        assert_eq!(card["orderID"], 2, "{b}");
        assert_eq!(card["price"].to_string(), "9.80");
        assert_eq!(card["paid"].to_string(), "9.80");
        assert_eq!(card["change"].to_string(), "0.00");
        assert_eq!(card["deliveryMethod"], 2);
        assert_eq!(card["cashBoxID"], s.id_of("Counter"));
        assert_eq!(card["tableID"], s.id_of("Table 3"));
        assert_eq!(card["covers"], 3);
        assert_eq!(card["pagerNum"], "12");
        assert_eq!(card["publicComment"], "Merci !");
        assert_eq!(card["privateComment"], "VIP");
        assert_eq!(card["userID"], s.id_of("hugo"));
        assert_eq!(
            card["valueDate"], "2024-03-15T12:00:00+01:00",
            "{b}: dateValeur, shown in the shop's zone"
        );
        assert_eq!(journal_and_outbox(&app, &s).await, (3, 3), "{b}");

        let partly = sale(
            &app,
            &s,
            &[
                ("payment", "<Card>"),
                ("paymentAmount", "5,00"),
                ("itemsList[]", "<Mug>"),
            ],
        )
        .await;
        assert_eq!(
            partly["status"], "validated",
            "{b}: partly paid stays validated"
        );
        assert_eq!(partly["orderID"], 3, "{b}");
        assert_eq!(partly["paid"].to_string(), "5.00");
        assert_eq!(partly["price"].to_string(), "12.00");
        assert_eq!(journal_and_outbox(&app, &s).await, (5, 4), "{b}");

        // The answer is what getOrder.php reads back from the database.
        for o in [&pending, &validated, &card, &partly] {
            let back = ok(&app, &s, "getOrder.php", &[("order_id", &internal_id(o))]).await;
            assert_eq!(
                &back, o,
                "{b}: getOrder.php differs from the webapp.php answer"
            );
        }
        let mut seen = std::collections::HashSet::new();
        for o in [&pending, &validated, &card, &partly] {
            assert!(seen.insert(internal_id(o)), "{b}: orderInternalID reused");
        }
        app.stop().await;
    }
}

// ---- 2. every error code, and nothing written ------------------------------------------

#[tokio::test]
async fn every_error_code_answers_its_status_and_field_and_writes_nothing() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let a = demo_shop(&app, "Errors A").await;
        let other = demo_shop(&app, "Errors B").await;
        let standard = app.create_shop("Standard", Licence::Standard).await;
        let b = db.backend;
        let w = "webapp.php";
        let espresso = [("payment", "<Cash>"), ("itemsList[]", "<Espresso>")];
        let with = |extra: &[(&str, &str)]| a.form(extra);
        let plus = |extra: &[(&str, &str)]| {
            let mut f = a.form(&espresso);
            f.extend(extra.iter().map(|(k, v)| (k.to_string(), a.t(v))));
            f
        };
        let bad = |field| (400, "invalid_parameter", Some(field));
        let unknown = |code, field| (422, code, Some(field));

        // Before any sale: not even the webservice user may appear.
        let missing = |f| (400, "missing_parameter", Some(f));
        refused(
            &app,
            &format!("{b} no payment"),
            w,
            with(&[("itemsList[]", "<Espresso>")]),
            missing("payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} no itemsList"),
            w,
            with(&[("payment", "<Cash>")]),
            missing("itemsList[]"),
        )
        .await;
        let no_shop = vec![
            ("key".to_string(), a.key.clone()),
            ("payment".to_string(), "-1".to_string()),
            ("itemsList[]".to_string(), a.t("<Espresso>")),
        ];
        refused(
            &app,
            &format!("{b} no idboutique"),
            w,
            no_shop,
            missing("idboutique"),
        )
        .await;
        let no_key: Vec<_> = a
            .form(&espresso)
            .into_iter()
            .filter(|(k, _)| k != "key")
            .collect();
        refused(&app, &format!("{b} no key"), w, no_key, missing("key")).await;

        let malformed = with(&[
            ("payment", "<Cash>"),
            ("itemsList[]", "<Espresso>"),
            ("itemsList[]", "two croissants"),
        ]);
        let r = refused(
            &app,
            &format!("{b} malformed entry"),
            w,
            malformed,
            bad("itemsList[1]"),
        )
        .await;
        assert!(r.text.contains("expected"), "{}", r.text);
        refused(
            &app,
            &format!("{b} quantity 0"),
            w,
            with(&[("payment", "<Cash>"), ("itemsList[]", "<Espresso>_0")]),
            bad("itemsList[0]"),
        )
        .await;
        let r = refused(
            &app,
            &format!("{b} `_` in a catalog title"),
            w,
            with(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>_1_Double_shot"),
            ]),
            bad("itemsList[0]"),
        )
        .await;
        assert!(
            r.text.contains('_') && r.text.contains("title"),
            "{b}: the error says why: {}",
            r.text
        );
        refused(
            &app,
            &format!("{b} free line without title"),
            w,
            with(&[("payment", "<Cash>"), ("itemsList[]", "Free_2.00")]),
            bad("itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} three decimals in a price"),
            w,
            with(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>_1__1.805"),
            ]),
            bad("itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} quantity too large"),
            w,
            with(&[("payment", "<Cash>"), ("itemsList[]", "<Espresso>_100001")]),
            bad("itemsList[0]"),
        )
        .await;
        let long_title = format!("<Espresso>_1_{}", "é".repeat(256));
        refused(
            &app,
            &format!("{b} title too long"),
            w,
            with(&[("payment", "<Cash>"), ("itemsList[]", &long_title)]),
            bad("itemsList[0]"),
        )
        .await;
        let mut many = a.form(&[("payment", "<Cash>")]);
        many.extend((0..501).map(|_| ("itemsList[]".to_string(), a.t("<Espresso>"))));
        refused(&app, &format!("{b} 501 lines"), w, many, bad("itemsList[]")).await;
        refused(
            &app,
            &format!("{b} bad deliveryMethod"),
            w,
            plus(&[("deliveryMethod", "7")]),
            bad("deliveryMethod"),
        )
        .await;
        refused(
            &app,
            &format!("{b} bad dateValeur"),
            w,
            plus(&[("dateValeur", "yesterday")]),
            bad("dateValeur"),
        )
        .await;
        refused(
            &app,
            &format!("{b} bad payment"),
            w,
            with(&[("payment", "cash"), ("itemsList[]", "<Espresso>")]),
            bad("payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} bad paymentAmount"),
            w,
            plus(&[("paymentAmount", "1.234")]),
            bad("paymentAmount"),
        )
        .await;
        refused(
            &app,
            &format!("{b} comment too long"),
            w,
            plus(&[("publicComment", &"x".repeat(2001))]),
            bad("publicComment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} pager too long"),
            w,
            plus(&[("pagerNum", &"9".repeat(256))]),
            bad("pagerNum"),
        )
        .await;
        refused(
            &app,
            &format!("{b} bad client email"),
            w,
            plus(&[("client[email]", "nobody")]),
            bad("client[email]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} idempotency key too long"),
            w,
            plus(&[("idempotencyKey", &"k".repeat(256))]),
            bad("idempotencyKey"),
        )
        .await;

        // 401: a wrong key and an unknown shop look the same.
        let mut wrong_key = a.form(&espresso);
        wrong_key[1].1 = format!("{}x", a.key);
        let wrong = refused(
            &app,
            &format!("{b} wrong key"),
            w,
            wrong_key,
            (401, "unauthorized", None),
        )
        .await;
        let mut unknown_shop = a.form(&espresso);
        unknown_shop[0].1 = "999999".into();
        let nobody = refused(
            &app,
            &format!("{b} unknown shop"),
            w,
            unknown_shop,
            (401, "unauthorized", None),
        )
        .await;
        assert_eq!(wrong.text, nobody.text, "{b}: no oracle");
        let std_form = vec![
            ("idboutique".to_string(), standard.shop_id.to_string()),
            ("key".to_string(), standard.api_key.clone()),
            ("payment".to_string(), "-1".to_string()),
            ("itemsList[]".to_string(), "1".to_string()),
        ];
        let r = refused(
            &app,
            &format!("{b} standard licence"),
            w,
            std_form,
            (403, "licence_required", None),
        )
        .await;
        assert!(
            r.text.contains("--extended"),
            "{b}: says how to enable it: {}",
            r.text
        );

        // 413: a body over 256 KiB.
        let before = written(&app).await;
        let big = encode_form(&pairs(&plus(&[("publicComment", &"x".repeat(300 * 1024))])));
        let res = app
            .http
            .post(app.url("/workers/webapp.php"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big)
            .send()
            .await
            .expect("an answer, not a reset connection");
        let r = Answer::read(res).await;
        assert_eq!(r.status, 413, "{b}: {}", r.text);
        assert_eq!(r.json["error"]["code"], "payload_too_large", "{b}");
        assert_eq!(written(&app).await, before, "{b}: 413 wrote something");

        // 422: unknown references, including rows of another shop.
        let theirs = |name: &str| other.id_of(name).to_string();
        refused(
            &app,
            &format!("{b} unknown item"),
            w,
            with(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>"),
                ("itemsList[]", "999999"),
            ]),
            unknown("unknown_item", "itemsList[1]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} another shop's item"),
            w,
            with(&[("payment", "<Cash>"), ("itemsList[]", &theirs("Espresso"))]),
            unknown("unknown_item", "itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} unknown department"),
            w,
            with(&[("payment", "<Cash>"), ("itemsList[]", "-999999_1.00_Extra")]),
            unknown("unknown_department", "itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} another shop's department"),
            w,
            with(&[
                ("payment", "<Cash>"),
                ("itemsList[]", &format!("-{}_1.00_Extra", theirs("Bakery"))),
            ]),
            unknown("unknown_department", "itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} unknown variation"),
            w,
            with(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Cappuccino>_1___999999"),
            ]),
            unknown("unknown_variation", "itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} a variation of another item"),
            w,
            with(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>_1___<Oat milk>"),
            ]),
            unknown("unknown_variation", "itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} another shop's variation"),
            w,
            with(&[
                ("payment", "<Cash>"),
                (
                    "itemsList[]",
                    &format!("<Cappuccino>_1___{}", theirs("Oat milk")),
                ),
            ]),
            unknown("unknown_variation", "itemsList[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} unknown client"),
            w,
            plus(&[("idClient", "999999")]),
            unknown("unknown_client", "idClient"),
        )
        .await;
        refused(
            &app,
            &format!("{b} unknown user"),
            w,
            plus(&[("idUser", "999999")]),
            unknown("unknown_user", "idUser"),
        )
        .await;
        refused(
            &app,
            &format!("{b} another shop's user"),
            w,
            plus(&[("idUser", &theirs("hugo"))]),
            unknown("unknown_user", "idUser"),
        )
        .await;
        refused(
            &app,
            &format!("{b} unknown cash box"),
            w,
            plus(&[("idcaisse", "999999")]),
            unknown("unknown_cashbox", "idcaisse"),
        )
        .await;
        refused(
            &app,
            &format!("{b} another shop's cash box"),
            w,
            plus(&[("idcaisse", &theirs("Counter"))]),
            unknown("unknown_cashbox", "idcaisse"),
        )
        .await;
        refused(
            &app,
            &format!("{b} unknown payment method"),
            w,
            with(&[("payment", "999999"), ("itemsList[]", "<Espresso>")]),
            unknown("unknown_payment_method", "payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} another shop's payment method"),
            w,
            with(&[("payment", &theirs("Cash")), ("itemsList[]", "<Espresso>")]),
            unknown("unknown_payment_method", "payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} unknown table"),
            w,
            plus(&[("idtable", "999999")]),
            unknown("unknown_table", "idtable"),
        )
        .await;
        refused(
            &app,
            &format!("{b} another shop's table"),
            w,
            plus(&[("idtable", &theirs("Table 1"))]),
            unknown("unknown_table", "idtable"),
        )
        .await;
        refused(
            &app,
            &format!("{b} card overpay"),
            w,
            with(&[
                ("payment", "<Card>"),
                ("paymentAmount", "5.00"),
                ("itemsList[]", "<Espresso>"),
            ]),
            unknown("invalid_amount", "paymentAmount"),
        )
        .await;
        refused(
            &app,
            &format!("{b} above the voucher's maximum"),
            w,
            with(&[("payment", "<Meal voucher>"), ("itemsList[]", "<Mug>_3")]),
            unknown("invalid_amount", "paymentAmount"),
        )
        .await;
        refused(
            &app,
            &format!("{b} below the card's minimum"),
            w,
            with(&[("payment", "<Card>"), ("itemsList[]", "Free_0.50_Sweet")]),
            unknown("invalid_amount", "paymentAmount"),
        )
        .await;
        refused(
            &app,
            &format!("{b} a negative payment of a sale"),
            w,
            plus(&[("paymentAmount", "-1.00")]),
            unknown("invalid_amount", "paymentAmount"),
        )
        .await;
        refused(
            &app,
            &format!("{b} a refund method on a sale with a return"),
            w,
            with(&[
                ("payment", "<Cash refund>"),
                ("itemsList[]", "<Mug>"),
                ("itemsList[]", "<Espresso>_-1"),
            ]),
            unknown("invalid_amount", "payment"),
        )
        .await;

        // 409: a closed cash box.
        let (shop_id, counter) = (a.id, a.id_of("Counter"));
        app.store
            .write(move |c| {
                c.execute(
                    "update cash_boxes set is_open = $1 where shop_id = $2 and id = $3",
                    params![false, shop_id, counter],
                )
            })
            .await
            .unwrap();
        refused(
            &app,
            &format!("{b} closed cash box"),
            w,
            plus(&[("idcaisse", "<Counter>")]),
            (409, "cashbox_closed", Some("idcaisse")),
        )
        .await;

        // Extensions: a missing or foreign order, a wrong payment parameter.
        let pending = sale(
            &app,
            &other,
            &[("payment", "-2"), ("itemsList[]", "<Espresso>")],
        )
        .await;
        let paid = sale(&app, &other, &espresso).await;
        let (pending, paid) = (internal_id(&pending), internal_id(&paid));
        let not_found = (404, "not_found", Some("order_id"));
        for endpoint in [
            "getOrder.php",
            "validateOrder.php",
            "addPayment.php",
            "refundOrder.php",
        ] {
            refused(
                &app,
                &format!("{b} {endpoint} without order_id"),
                endpoint,
                with(&[("payment", "<Cash>")]),
                missing("order_id"),
            )
            .await;
            for theirs in [&pending, &paid] {
                let f = with(&[("order_id", theirs), ("payment", "<Cash refund>")]);
                let r = refused(
                    &app,
                    &format!("{b} {endpoint} of another shop's order"),
                    endpoint,
                    f,
                    not_found,
                )
                .await;
                assert!(!r.text.contains("Espresso"), "{b}: {}", r.text);
            }
            refused(
                &app,
                &format!("{b} {endpoint} of no order"),
                endpoint,
                with(&[("order_id", "999999"), ("payment", "<Cash>")]),
                not_found,
            )
            .await;
        }
        let mine = sale(
            &app,
            &a,
            &[("payment", "-1"), ("itemsList[]", "<Croissant>_2")],
        )
        .await;
        let mine = internal_id(&mine);
        refused(
            &app,
            &format!("{b} addPayment without payment"),
            "addPayment.php",
            with(&[("order_id", &mine)]),
            missing("payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} addPayment with -1"),
            "addPayment.php",
            with(&[("order_id", &mine), ("payment", "-1")]),
            bad("payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} addPayment, unknown method"),
            "addPayment.php",
            with(&[("order_id", &mine), ("payment", "999999")]),
            unknown("unknown_payment_method", "payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} addPayment, card overpay"),
            "addPayment.php",
            with(&[
                ("order_id", &mine),
                ("payment", "<Card>"),
                ("paymentAmount", "9.99"),
            ]),
            unknown("invalid_amount", "paymentAmount"),
        )
        .await;
        refused(
            &app,
            &format!("{b} refundOrder with a sale method"),
            "refundOrder.php",
            with(&[("order_id", &mine), ("payment", "<Cash>")]),
            bad("payment"),
        )
        .await;
        refused(
            &app,
            &format!("{b} refundOrder of a line it lacks"),
            "refundOrder.php",
            with(&[
                ("order_id", &mine),
                ("payment", "<Cash refund>"),
                ("lines[]", "9"),
            ]),
            bad("lines[0]"),
        )
        .await;
        refused(
            &app,
            &format!("{b} refundOrder, malformed line"),
            "refundOrder.php",
            with(&[
                ("order_id", &mine),
                ("payment", "<Cash refund>"),
                ("lines[]", "first"),
            ]),
            bad("lines[0]"),
        )
        .await;

        // 422 idempotency_conflict: the same key with other parameters.
        let first = sale(
            &app,
            &a,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Tea>"),
                ("idempotencyKey", "order-42"),
            ],
        )
        .await;
        assert_eq!(first["status"], "terminated");
        refused(
            &app,
            &format!("{b} idempotency conflict"),
            w,
            with(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Tea>_2"),
                ("idempotencyKey", "order-42"),
            ]),
            unknown("idempotency_conflict", "idempotencyKey"),
        )
        .await;
        refused(
            &app,
            &format!("{b} a key reused on another endpoint"),
            "validateOrder.php",
            with(&[("order_id", &mine), ("idempotencyKey", "order-42")]),
            unknown("idempotency_conflict", "idempotencyKey"),
        )
        .await;
        app.stop().await;
    }
}

// ---- 3. refunds, payments, validation ----------------------------------------------------

/// The negation of a money text: `1.20` ↔ `-1.20`, `0.00` stays.
fn negated(v: &Value) -> String {
    let t = v.to_string();
    match t.strip_prefix('-') {
        Some(p) => p.to_string(),
        None if minor(v) == 0 => t,
        None => format!("-{t}"),
    }
}

/// Checks that `refund` is exactly the negation of `sale`, line by line and in total.
fn assert_negation(what: &str, sale: &Value, refund: &Value) {
    assert_eq!(refund["isRefund"], true, "{what}");
    assert_eq!(refund["status"], "terminated", "{what}");
    for f in ["price", "VAT", "paid"] {
        assert_eq!(refund[f].to_string(), negated(&sale[f]), "{what}: {f}");
    }
    let (s_items, r_items) = (
        sale["items"].as_array().unwrap(),
        refund["items"].as_array().unwrap(),
    );
    assert_eq!(s_items.len(), r_items.len(), "{what}");
    for (s, r) in s_items.iter().zip(r_items) {
        for f in [
            "itemID",
            "departmentID",
            "title",
            "unitPrice",
            "vatRate",
            "variations",
        ] {
            assert_eq!(r[f], s[f], "{what}: {f}");
        }
        assert_eq!(r["total"].to_string(), negated(&s["total"]), "{what}");
        assert_eq!(
            r["quantity"].to_string(),
            format!("-{}", s["quantity"]),
            "{what}"
        );
    }
    let (s_vats, r_vats) = (
        sale["VATs"].as_array().unwrap(),
        refund["VATs"].as_array().unwrap(),
    );
    assert_eq!(s_vats.len(), r_vats.len(), "{what}");
    for (s, r) in s_vats.iter().zip(r_vats) {
        assert_eq!(r["rate"], s["rate"], "{what}");
        for f in ["base", "amount", "total"] {
            assert_eq!(r[f].to_string(), negated(&s[f]), "{what}: VATs {f}");
        }
    }
}

#[tokio::test]
async fn a_refund_method_records_the_exact_negation_of_the_same_sale() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Refunds").await;
        let b = db.backend;
        let lines = [
            ("itemsList[]", "<Espresso>_2"),
            ("itemsList[]", "<Croissant>_3"),
            ("itemsList[]", "<Quiche>_0.350"),
            ("itemsList[]", "Free_0.10_Sticker"),
        ];
        let mut form = vec![("payment", "<Cash>")];
        form.extend(lines);
        let original = sale(&app, &s, &form).await;
        form[0] = ("payment", "<Cash refund>");
        let refund = sale(&app, &s, &form).await;
        assert_negation(&format!("{b} webapp refund"), &original, &refund);
        assert_eq!(refund["price"].to_string(), "-9.23", "{b}");
        assert_eq!(refund["orderID"], 2, "{b}: a refund takes the next number");
        assert_eq!(refund["payments"][0]["amount"].to_string(), "-9.23");
        app.stop().await;
    }
}

#[tokio::test]
async fn refund_order_refunds_whole_or_by_line_and_never_more_than_was_sold() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "RefundOrder").await;
        let b = db.backend;
        let whole = sale(
            &app,
            &s,
            &[
                ("payment", "<Card>"),
                ("itemsList[]", "<Espresso>_2"),
                ("itemsList[]", "<Tote bag>"),
            ],
        )
        .await;
        let id = internal_id(&whole);
        let refund = ok(
            &app,
            &s,
            "refundOrder.php",
            &[("order_id", &id), ("payment", "<Card refund>")],
        )
        .await;
        assert_negation(&format!("{b} whole refund"), &whole, &refund);
        assert_eq!(refund["refundOf"], whole["orderInternalID"], "{b}");
        assert_eq!(refund["orderID"], 2, "{b}");
        assert_ne!(refund["orderInternalID"], whole["orderInternalID"]);
        let again = ok(&app, &s, "getOrder.php", &[("order_id", &id)]).await;
        assert_eq!(again, whole, "{b}: the refunded order is unchanged");
        let over = (422, "invalid_amount", Some("order_id"));
        refused(
            &app,
            &format!("{b} refunding a refunded order"),
            "refundOrder.php",
            s.form(&[("order_id", &id), ("payment", "<Cash refund>")]),
            over,
        )
        .await;
        refused(
            &app,
            &format!("{b} refunding a refund"),
            "refundOrder.php",
            s.form(&[
                ("order_id", &internal_id(&refund)),
                ("payment", "<Cash refund>"),
            ]),
            over,
        )
        .await;

        let partial = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Croissant>_3"),
                ("itemsList[]", "<Tea>_2"),
            ],
        )
        .await;
        let id = internal_id(&partial);
        let refund = |lines: &'static [&'static str]| {
            let mut f = vec![("order_id", id.as_str()), ("payment", "<Cash refund>")];
            f.extend(lines.iter().map(|l| ("lines[]", *l)));
            s.form(&f)
        };
        let one = post(&app, "refundOrder.php", &refund(&["1_1"])).await;
        assert_eq!(one.status, 200, "{b}: {}", one.text);
        check_amounts("partial refund", &one.json);
        assert_eq!(one.json["price"].to_string(), "-1.20", "{b}");
        assert_eq!(one.json["items"][0]["quantity"].to_string(), "-1");
        assert_eq!(one.json["items"][0]["title"], "Croissant");
        let two = post(&app, "refundOrder.php", &refund(&["1_2", "2_1"])).await;
        assert_eq!(two.status, 200, "{b}: {}", two.text);
        check_amounts("partial refund", &two.json);
        assert_eq!(two.json["price"].to_string(), "-4.90", "{b}");
        refused(
            &app,
            &format!("{b} a fourth croissant"),
            "refundOrder.php",
            refund(&["1_1"]),
            (422, "invalid_amount", Some("lines[0]")),
        )
        .await;
        refused(
            &app,
            &format!("{b} two more teas"),
            "refundOrder.php",
            refund(&["2_1", "2_1"]),
            (422, "invalid_amount", Some("lines[1]")),
        )
        .await;
        refused(
            &app,
            &format!("{b} the whole order after parts"),
            "refundOrder.php",
            refund(&[]),
            (422, "invalid_amount", Some("order_id")),
        )
        .await;
        let last = post(&app, "refundOrder.php", &refund(&["2_1"])).await;
        assert_eq!(last.status, 200, "{b}: the last tea: {}", last.text);
        refused(
            &app,
            &format!("{b} nothing left"),
            "refundOrder.php",
            refund(&["2_1"]),
            (422, "invalid_amount", Some("lines[0]")),
        )
        .await;

        let pending = sale(&app, &s, &[("payment", "-2"), ("itemsList[]", "<Mug>")]).await;
        refused(
            &app,
            &format!("{b} refunding a pending order"),
            "refundOrder.php",
            s.form(&[
                ("order_id", &internal_id(&pending)),
                ("payment", "<Cash refund>"),
            ]),
            (409, "conflict", Some("order_id")),
        )
        .await;
        app.stop().await;
    }
}

#[tokio::test]
async fn add_payment_completes_a_partly_paid_order_and_a_terminated_order_cannot_be_paid() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Payments").await;
        let b = db.backend;
        let order = sale(
            &app,
            &s,
            &[
                ("payment", "<Card>"),
                ("paymentAmount", "2.00"),
                ("itemsList[]", "<Quiche>"),
            ],
        )
        .await;
        assert_eq!(order["status"], "validated", "{b}");
        let id = internal_id(&order);
        let more = ok(
            &app,
            &s,
            "addPayment.php",
            &[
                ("order_id", &id),
                ("payment", "<Meal voucher>"),
                ("paymentAmount", "1.50"),
            ],
        )
        .await;
        assert_eq!(more["status"], "validated", "{b}");
        assert_eq!(more["paid"].to_string(), "3.50");
        assert_eq!(more["orderID"], order["orderID"], "{b}: same number");
        assert_eq!(more["seal"], order["seal"], "{b}: the order's seal stays");
        let done = ok(
            &app,
            &s,
            "addPayment.php",
            &[
                ("order_id", &id),
                ("payment", "<Cash>"),
                ("paymentAmount", "5"),
            ],
        )
        .await;
        assert_eq!(done["status"], "terminated", "{b}");
        assert_eq!(done["paid"].to_string(), "8.50");
        assert_eq!(done["change"].to_string(), "3.00", "{b}: cash gives change");
        assert_eq!(done["payments"].as_array().unwrap().len(), 3);
        refused(
            &app,
            &format!("{b} paying a terminated order"),
            "addPayment.php",
            s.form(&[("order_id", &id), ("payment", "<Cash>")]),
            (409, "conflict", Some("order_id")),
        )
        .await;

        // A pending order is validated first, then paid (the default amount: what remains).
        let pending = sale(&app, &s, &[("payment", "-2"), ("itemsList[]", "<Mug>")]).await;
        let paid = ok(
            &app,
            &s,
            "addPayment.php",
            &[("order_id", &internal_id(&pending)), ("payment", "<Card>")],
        )
        .await;
        assert_eq!(paid["status"], "terminated", "{b}");
        assert_eq!(paid["orderID"], 2, "{b}");
        assert_eq!(paid["paid"].to_string(), "12.00");
        let (journal, outbox) = journal_and_outbox(&app, &s).await;
        // order 1: order + 3 payments; order 2: order + 1 payment.
        assert_eq!((journal, outbox), (6, 4), "{b}");
        app.stop().await;
    }
}

#[tokio::test]
async fn validating_an_order_twice_gives_the_same_number_and_seal() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Validate").await;
        let b = db.backend;
        let first_pending = sale(&app, &s, &[("payment", "-2"), ("itemsList[]", "<Tea>")]).await;
        let pending = sale(
            &app,
            &s,
            &[("payment", "-2"), ("itemsList[]", "<Baguette>_4")],
        )
        .await;
        let id = internal_id(&pending);
        let once = ok(&app, &s, "validateOrder.php", &[("order_id", &id)]).await;
        assert_eq!(once["status"], "validated", "{b}");
        assert_eq!(once["orderID"], 1, "{b}: numbered when validated");
        let counts = journal_and_outbox(&app, &s).await;
        assert_eq!(counts, (1, 1), "{b}");
        let before = written(&app).await;
        let twice = ok(&app, &s, "validateOrder.php", &[("order_id", &id)]).await;
        assert_eq!(twice, once, "{b}: validating twice is a no-op");
        assert_eq!(written(&app).await, before, "{b}: and writes nothing");
        let other = ok(
            &app,
            &s,
            "validateOrder.php",
            &[("order_id", &internal_id(&first_pending))],
        )
        .await;
        assert_eq!(other["orderID"], 2, "{b}: numbers follow validation order");
        app.stop().await;
    }
}

// ---- 4. lists ---------------------------------------------------------------------------

/// A getOrders.php case: what it checks, its parameters, the orders it must list.
type ListCase = (&'static str, Vec<(&'static str, String)>, Vec<i64>);

fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|o| o["orderInternalID"].as_i64().unwrap())
        .collect()
}

fn id_num(o: &Value) -> i64 {
    o["orderInternalID"].as_i64().unwrap()
}

#[tokio::test]
async fn get_orders_and_get_pending_list_the_right_orders_in_json_csv_and_html() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Lists").await;
        let b = db.backend;
        let o1 = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>"),
                ("deliveryMethod", "0"),
                ("idUser", "<claire>"),
            ],
        )
        .await;
        let o2 = sale(
            &app,
            &s,
            &[
                ("payment", "-1"),
                ("itemsList[]", "<Mug>"),
                ("idcaisse", "<Counter>"),
            ],
        )
        .await;
        let o3 = sale(&app, &s, &[("payment", "-2"), ("itemsList[]", "<Tea>")]).await;
        // 2024-03-15 12:00 in Paris.
        let o4 = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Quiche>"),
                ("dateValeur", "1710500400"),
            ],
        )
        .await;
        let o5 = sale(
            &app,
            &s,
            &[
                ("payment", "-2"),
                ("itemsList[]", "<Croissant>"),
                ("dateValeur", "1710500400"),
            ],
        )
        .await;
        let [o1, o2, o3, o4, o5] = [&o1, &o2, &o3, &o4, &o5].map(id_num);

        let list = |extra: Vec<(&'static str, String)>| {
            let extra: Vec<(String, String)> =
                extra.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let mut f = s.form(&[]);
            f.extend(extra);
            f
        };
        let cases: Vec<ListCase> = vec![
            ("default: today's validated", vec![], vec![o1, o2]),
            (
                "validatedOrders=1",
                vec![("validatedOrders", "1".into())],
                vec![o1, o2],
            ),
            (
                "validatedOrders=true",
                vec![("validatedOrders", "true".into())],
                vec![o1, o2],
            ),
            (
                "validatedOrders=0",
                vec![("validatedOrders", "0".into())],
                vec![o3, o5],
            ),
            (
                "validatedOrders=false",
                vec![("validatedOrders", "false".into())],
                vec![o3, o5],
            ),
            (
                "one past day",
                vec![
                    ("from_date_ISO8601", "2024-03-15".into()),
                    ("to_date_ISO8601", "2024-03-15".into()),
                ],
                vec![o4],
            ),
            (
                "the next day",
                vec![
                    ("from_date_ISO8601", "2024-03-16".into()),
                    ("to_date_ISO8601", "2024-03-16".into()),
                ],
                vec![],
            ),
            (
                "from a past day on",
                vec![("from_date_ISO8601", "2024-03-14".into())],
                vec![o1, o2, o4],
            ),
            (
                "until a past day",
                vec![("to_date_ISO8601", "2024-03-14".into())],
                vec![],
            ),
            (
                "a window around the value date",
                vec![
                    ("from_date_ISO8601", "2024-03-15T11:59:59+01:00".into()),
                    ("to_date_ISO8601", "2024-03-15T12:00:01+01:00".into()),
                ],
                vec![o4],
            ),
            (
                "a window after it",
                vec![
                    ("from_date_ISO8601", "2024-03-15T12:00:01+01:00".into()),
                    ("to_date_ISO8601", "2024-03-15T13:00:00+01:00".into()),
                ],
                vec![],
            ),
            (
                "filterDeliveryMethod",
                vec![("filterDeliveryMethod", "0".into())],
                vec![o1],
            ),
            (
                "idcaisse",
                vec![("idcaisse", s.id_of("Counter").to_string())],
                vec![o2],
            ),
            (
                "idUser",
                vec![("idUser", s.id_of("claire").to_string())],
                vec![o1],
            ),
        ];
        for (what, extra, want) in cases {
            let a = get(&app, "getOrders.php", &list(extra)).await;
            assert_eq!(a.status, 200, "{b} {what}: {}", a.text);
            assert_eq!(ids_of(&a.json), want, "{b} {what}");
        }
        // Each JSON element is the order of getOrder.php, less `result`.
        let a = get(&app, "getOrders.php", &list(vec![])).await;
        for o in a.json.as_array().unwrap() {
            let mut one = ok(
                &app,
                &s,
                "getOrder.php",
                &[("order_id", &o["orderInternalID"].to_string())],
            )
            .await;
            one.as_object_mut().unwrap().remove("result");
            assert_eq!(o, &one, "{b}");
            check_amounts("getOrders", o);
        }
        let a = get(
            &app,
            "getOrders.php",
            &list(vec![("validatedOrders", "maybe".into())]),
        )
        .await;
        assert_eq!(a.status, 400, "{b}");
        assert_eq!(a.json["error"]["field"], "validatedOrders");
        let a = get(
            &app,
            "getOrders.php",
            &list(vec![("from_date_ISO8601", "15/03/2024".into())]),
        )
        .await;
        assert_eq!(a.status, 400, "{b}");
        assert_eq!(a.json["error"]["field"], "from_date_ISO8601");

        // CSV: a header of the columns, one row per order.
        let a = get(&app, "getOrders.php", &list(vec![("format", "csv".into())])).await;
        assert_eq!(a.status, 200, "{b}: {}", a.text);
        assert!(
            a.header("content-type").unwrap().starts_with("text/csv"),
            "{b}"
        );
        assert!(
            a.header("content-disposition").unwrap().contains(".csv"),
            "{b}"
        );
        let mut reader = csv::Reader::from_reader(a.text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(header[0], "orderInternalID", "{b}");
        for col in ["orderID", "status", "price", "VAT", "paid", "seal"] {
            assert!(header.iter().any(|h| h == col), "{b}: CSV lacks {col}");
        }
        let status_col = header.iter().position(|h| h == "status").unwrap();
        let price_col = header.iter().position(|h| h == "price").unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let csv_ids: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
        assert_eq!(csv_ids, vec![o1, o2], "{b}");
        assert_eq!(&rows[0][status_col], "terminated");
        assert_eq!(&rows[1][status_col], "validated");
        assert_eq!(&rows[1][price_col], "12.00", "{b}: money keeps its digits");

        // HTML: a table with a header row and one row per order.
        let a = get(
            &app,
            "getOrders.php",
            &list(vec![("format", "html".into())]),
        )
        .await;
        assert_eq!(a.status, 200, "{b}");
        assert!(a.header("content-type").unwrap().starts_with("text/html"));
        assert!(a.text.starts_with("<table"), "{b}: {}", a.text);
        assert_eq!(a.text.matches("<tr>").count(), 3, "{b}: {}", a.text);
        assert!(a.text.contains(&format!(">{o2}<")), "{b}");

        // getPending.php: pending orders only, whatever their date.
        let a = get(&app, "getPending.php", &list(vec![])).await;
        assert_eq!(a.status, 200, "{b}: {}", a.text);
        assert_eq!(ids_of(&a.json), vec![o3, o5], "{b}");
        for o in a.json.as_array().unwrap() {
            assert_eq!(o["status"], "pending");
            assert!(o["orderID"].is_null());
        }
        let a = get(
            &app,
            "getPending.php",
            &list(vec![("format", "csv".into())]),
        )
        .await;
        assert_eq!(a.status, 200, "{b}");
        assert_eq!(
            a.text.lines().count(),
            3,
            "{b}: header and two rows: {}",
            a.text
        );
        let a = get(
            &app,
            "getPending.php",
            &list(vec![("format", "html".into())]),
        )
        .await;
        assert_eq!(a.text.matches("<tr>").count(), 3, "{b}: {}", a.text);
        app.stop().await;
    }
}

// ---- 5. isolation -----------------------------------------------------------------------

#[tokio::test]
async fn one_shops_key_can_neither_read_nor_change_another_shops_orders_on_any_endpoint() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let a = demo_shop(&app, "Shop A").await;
        let theirs = demo_shop(&app, "Shop B").await;
        let b = db.backend;
        let mine = sale(&app, &a, &[("payment", "<Cash>"), ("itemsList[]", "<Tea>")]).await;
        let their_paid = sale(
            &app,
            &theirs,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Quiche>_3"),
                ("client[email]", "secret@b.example"),
            ],
        )
        .await;
        let their_pending = sale(
            &app,
            &theirs,
            &[("payment", "-2"), ("itemsList[]", "<Mug>")],
        )
        .await;
        let (paid_id, pending_id) = (internal_id(&their_paid), internal_id(&their_pending));
        let secrets: Vec<String> = [&their_paid, &their_pending]
            .iter()
            .flat_map(|o| [o["seal"].to_string(), o["PDFinvoice"].to_string()])
            .filter(|s| s != "null")
            .chain(["secret@b.example".to_string()])
            .collect();

        // A's key with B's idboutique: 401 everywhere, like a wrong key.
        let mut wrong = a.form(&[]);
        wrong[1].1 = "not-a-key".into();
        let expected_401 = post(&app, "getOrders.php", &wrong).await;
        assert_eq!(expected_401.status, 401);
        let as_b = |extra: &[(&str, &str)]| {
            let mut f = theirs.form(extra);
            f[1].1 = a.key.clone();
            f
        };
        let calls: Vec<(&str, Vec<(String, String)>)> = vec![
            (
                "webapp.php",
                as_b(&[("payment", "<Cash>"), ("itemsList[]", "<Espresso>")]),
            ),
            ("getOrder.php", as_b(&[("order_id", &paid_id)])),
            ("getOrders.php", as_b(&[])),
            ("getPending.php", as_b(&[])),
            ("validateOrder.php", as_b(&[("order_id", &pending_id)])),
            (
                "addPayment.php",
                as_b(&[("order_id", &pending_id), ("payment", "<Cash>")]),
            ),
            (
                "refundOrder.php",
                as_b(&[("order_id", &paid_id), ("payment", "<Cash refund>")]),
            ),
        ];
        for (endpoint, form) in calls {
            let r = refused(
                &app,
                &format!("{b} {endpoint} with A's key on B"),
                endpoint,
                form.clone(),
                (401, "unauthorized", None),
            )
            .await;
            assert_eq!(
                r.text, expected_401.text,
                "{b} {endpoint}: same answer as a wrong key"
            );
            // The same over GET, and with the key as a bearer token.
            let g = get(&app, endpoint, &form).await;
            assert_eq!(g.status, 401, "{b} GET {endpoint}");
            let no_key: Vec<(String, String)> =
                form.iter().filter(|(k, _)| k != "key").cloned().collect();
            let res = app
                .http
                .post(app.url(&format!("/workers/{endpoint}")))
                .bearer_auth(&a.key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_form(&pairs(&no_key)))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401, "{b} bearer {endpoint}");
        }

        // A's key and A's id, B's orders: 404, and nothing of B in the body.
        for (endpoint, order, payment) in [
            ("getOrder.php", &paid_id, ""),
            ("getOrder.php", &pending_id, ""),
            ("validateOrder.php", &pending_id, ""),
            ("addPayment.php", &pending_id, "<Cash>"),
            ("addPayment.php", &paid_id, "<Cash>"),
            ("refundOrder.php", &paid_id, "<Cash refund>"),
        ] {
            let f = a.form(&[("order_id", order), ("payment", payment)]);
            let r = refused(
                &app,
                &format!("{b} {endpoint} of B's order with A's key"),
                endpoint,
                f,
                (404, "not_found", Some("order_id")),
            )
            .await;
            for s in &secrets {
                assert!(
                    !r.text.contains(s.trim_matches('"')),
                    "{b} {endpoint} leaks {s}"
                );
            }
        }
        for endpoint in ["getOrders.php", "getPending.php"] {
            for format in ["json", "csv", "html"] {
                let r = get(
                    &app,
                    endpoint,
                    &a.form(&[("format", format), ("validatedOrders", "1")]),
                )
                .await;
                assert_eq!(r.status, 200, "{b}");
                for s in &secrets {
                    assert!(
                        !r.text.contains(s.trim_matches('"')),
                        "{b} {endpoint} {format} leaks {s}"
                    );
                }
                for id in [&paid_id, &pending_id] {
                    assert!(
                        !r.text.contains(&format!("\"orderInternalID\":{id},"))
                            && !r.text.contains(&format!(">{id}<")),
                        "{b} {endpoint} {format} lists B's order {id}"
                    );
                }
            }
        }
        let r = get(&app, "getOrders.php", &a.form(&[])).await;
        assert_eq!(ids_of(&r.json), vec![id_num(&mine)], "{b}");
        // B's orders are as they were.
        let back = ok(&app, &theirs, "getOrder.php", &[("order_id", &pending_id)]).await;
        assert_eq!(back, their_pending, "{b}");
        app.stop().await;
    }
}

// ---- 6. clients -------------------------------------------------------------------------

#[tokio::test]
async fn a_sale_creates_its_client_once_and_reuses_it_by_email() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Clients").await;
        let b = db.backend;
        let clients = |app: &TestApp| {
            let id = s.id;
            let store = app.store.clone();
            async move {
                store
                    .read(move |c| {
                        c.query(
                            "select id, last_name, first_name, email, phone, address1, postcode,
                                 city, country from clients where shop_id = $1 order by id",
                            params![id],
                        )
                    })
                    .await
                    .unwrap()
            }
        };
        let before = clients(&app).await.len();
        let first = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>"),
                ("client[nom]", "Lefèvre"),
                ("client[prenom]", "Anne"),
                ("client[email]", "x@y"),
                ("client[telephone]", "+33 6 00 00 00 01"),
                ("client[ville]", "Lyon"),
                ("client[codepostal]", "69001"),
                ("client[pays]", "FR"),
            ],
        )
        .await;
        let client_id = first["clientID"].as_i64().expect("a clientID");
        let rows = clients(&app).await;
        assert_eq!(rows.len(), before + 1, "{b}");
        let row = rows
            .iter()
            .find(|r| r.i64(0).unwrap() == client_id)
            .unwrap();
        assert_eq!(row.str(1).unwrap(), "Lefèvre");
        assert_eq!(row.str(2).unwrap(), "Anne");
        assert_eq!(row.str(3).unwrap(), "x@y");
        assert_eq!(row.str(4).unwrap(), "+33 6 00 00 00 01");
        assert_eq!(row.str(6).unwrap(), "69001");
        assert_eq!(row.str(7).unwrap(), "Lyon");
        assert_eq!(row.str(8).unwrap(), "FR");

        let second = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Tea>"),
                ("client[nom]", "Lefevre"),
                ("client[email]", "x@y"),
            ],
        )
        .await;
        assert_eq!(second["clientID"], client_id, "{b}: reused by e-mail");
        assert_eq!(clients(&app).await.len(), before + 1, "{b}: not duplicated");

        let english = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Tea>"),
                ("client[lastname]", "Smith"),
                ("client[firstname]", "John"),
                ("client[email]", "john@example.co.uk"),
                ("client[phone]", "+44 20 7946 0000"),
                ("client[address]", "1 High Street"),
                ("client[zip]", "SW1A 1AA"),
                ("client[city]", "London"),
                ("client[country]", "GB"),
            ],
        )
        .await;
        let english_id = english["clientID"].as_i64().unwrap();
        assert_ne!(english_id, client_id);
        let rows = clients(&app).await;
        let row = rows
            .iter()
            .find(|r| r.i64(0).unwrap() == english_id)
            .unwrap();
        let cols: Vec<&str> = (1..9).map(|i| row.str(i).unwrap()).collect();
        assert_eq!(
            cols,
            [
                "Smith",
                "John",
                "john@example.co.uk",
                "+44 20 7946 0000",
                "1 High Street",
                "SW1A 1AA",
                "London",
                "GB"
            ],
            "{b}: English aliases"
        );

        let existing = sale(
            &app,
            &s,
            &[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Tea>"),
                ("idClient", &english_id.to_string()),
            ],
        )
        .await;
        assert_eq!(existing["clientID"], english_id, "{b}: idClient");
        let anonymous = sale(&app, &s, &[("payment", "<Cash>"), ("itemsList[]", "<Tea>")]).await;
        assert!(anonymous["clientID"].is_null(), "{b}");
        assert_eq!(clients(&app).await.len(), before + 2, "{b}");
        app.stop().await;
    }
}

// ---- 7. CORS ----------------------------------------------------------------------------

#[tokio::test]
async fn browsers_may_call_webapp_from_any_origin_with_a_preflight() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Cors").await;
        let b = db.backend;
        let before = written(&app).await;
        let res = app
            .http
            .request(reqwest::Method::OPTIONS, app.url("/workers/webapp.php"))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, idempotency-key",
            )
            .send()
            .await
            .unwrap();
        let pre = Answer::read(res).await;
        assert_eq!(pre.status, 204, "{b}");
        assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
        assert!(
            pre.header("access-control-allow-methods")
                .unwrap()
                .contains("POST")
        );
        let allowed = pre
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for h in ["content-type", "idempotency-key", "authorization"] {
            assert!(allowed.contains(h), "{b}: preflight allows {h}: {allowed}");
        }
        assert!(
            pre.header("access-control-allow-credentials").is_none(),
            "{b}: no cookies"
        );
        assert_eq!(written(&app).await, before, "{b}: a preflight runs nothing");

        for form in [
            s.form(&[("payment", "<Cash>"), ("itemsList[]", "<Tea>")]),
            s.form(&[("payment", "<Cash>")]),
        ] {
            let res = app
                .http
                .post(app.url("/workers/webapp.php"))
                .header("origin", "https://shop.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_form(&pairs(&form)))
                .send()
                .await
                .unwrap();
            let a = Answer::read(res).await;
            assert_eq!(
                a.header("access-control-allow-origin"),
                Some("*"),
                "{b} {}",
                a.status
            );
            assert!(a.header("set-cookie").is_none(), "{b}");
            assert!(
                a.header("access-control-expose-headers")
                    .unwrap()
                    .contains("Idempotent-Replayed"),
                "{b}"
            );
        }
        app.stop().await;
    }
}

// ---- 8. idempotency ---------------------------------------------------------------------

/// A key older than the 7-day window is as good as new: a request refused with it writes
/// nothing (not even the old record's removal), and a new request with it records anew.
#[tokio::test]
async fn an_expired_idempotency_key_is_used_anew_and_a_refusal_with_it_writes_nothing() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Idem old").await;
        let b = db.backend;
        let first = post(
            &app,
            "webapp.php",
            &s.form(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>"),
                ("idempotencyKey", "old-1"),
            ]),
        )
        .await;
        assert_eq!(first.status, 200, "{b}: {}", first.text);
        let shop_id = s.id;
        app.store
            .write(move |c| {
                c.execute(
                    "update idempotency_keys set created_at = created_at - $1 where shop_id = $2",
                    params![8 * 24 * 3600 * 1_000_000i64, shop_id],
                )
            })
            .await
            .unwrap();
        let before = written(&app).await;
        let refused = post(
            &app,
            "webapp.php",
            &s.form(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "999999"),
                ("idempotencyKey", "old-1"),
            ]),
        )
        .await;
        assert_eq!(refused.status, 422, "{b}: {}", refused.text);
        assert_eq!(written(&app).await, before, "{b}: a refusal writes nothing");

        // Refused beside 40 sales, likely in their batch: they all stand.
        let url = app.url("/workers/webapp.php");
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(41));
        let mut tasks = Vec::new();
        for i in 0..41 {
            let form = if i == 0 {
                s.form(&[
                    ("payment", "<Cash>"),
                    ("itemsList[]", "999999"),
                    ("idempotencyKey", "old-1"),
                ])
            } else {
                s.form(&[("payment", "<Cash>"), ("itemsList[]", "<Espresso>")])
            };
            let (http, url, barrier) = (app.http.clone(), url.clone(), barrier.clone());
            let body = encode_form(&pairs(&form));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                http.post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(statuses[0], 422, "{b}");
        assert!(statuses[1..].iter().all(|s| *s == 200), "{b}: {statuses:?}");
        let anew = post(
            &app,
            "webapp.php",
            &s.form(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Tea>"),
                ("idempotencyKey", "old-1"),
            ]),
        )
        .await;
        assert_eq!(anew.status, 200, "{b}: {}", anew.text);
        assert!(anew.header("idempotent-replayed").is_none(), "{b}");
        assert_ne!(internal_id(&anew.json), internal_id(&first.json), "{b}");
        let again = post(
            &app,
            "webapp.php",
            &s.form(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Tea>"),
                ("idempotencyKey", "old-1"),
            ]),
        )
        .await;
        assert_eq!(again.header("idempotent-replayed"), Some("true"), "{b}");
        assert_eq!(again.text, anew.text, "{b}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_first_answer_and_records_one_order() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Idem").await;
        let other = demo_shop(&app, "Idem B").await;
        let b = db.backend;
        let orders = |app: &TestApp| {
            let store = app.store.clone();
            async move {
                store
                    .read(|c| {
                        c.query_one("select count(*) from orders", params![])?
                            .i64(0)
                    })
                    .await
                    .unwrap()
            }
        };
        let form = s.form(&[
            ("payment", "<Cash>"),
            ("itemsList[]", "<Espresso>_2"),
            ("idempotencyKey", "cart-7731"),
        ]);
        let first = post(&app, "webapp.php", &form).await;
        assert_eq!(first.status, 200, "{b}: {}", first.text);
        assert!(first.header("idempotent-replayed").is_none(), "{b}");
        let count = orders(&app).await;
        let before = written(&app).await;
        for _ in 0..2 {
            let again = post(&app, "webapp.php", &form).await;
            assert_eq!(again.status, 200, "{b}");
            assert_eq!(again.header("idempotent-replayed"), Some("true"), "{b}");
            assert_eq!(
                again.text, first.text,
                "{b}: the first answer, byte for byte"
            );
        }
        // The same parameters in another order, over GET: still the same request.
        let mut reordered = form.clone();
        reordered.reverse();
        let again = get(&app, "webapp.php", &reordered).await;
        assert_eq!(
            again.header("idempotent-replayed"),
            Some("true"),
            "{b}: {}",
            again.text
        );
        assert_eq!(again.text, first.text);
        assert_eq!(written(&app).await, before, "{b}: a replay writes nothing");
        assert_eq!(orders(&app).await, count);

        // The key in a header works the same.
        let plain = s.form(&[("payment", "-2"), ("itemsList[]", "<Tea>")]);
        let send = || {
            app.http
                .post(app.url("/workers/webapp.php"))
                .header("idempotency-key", "hdr-1")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_form(&pairs(&plain)))
                .send()
        };
        let h1 = Answer::read(send().await.unwrap()).await;
        let h2 = Answer::read(send().await.unwrap()).await;
        assert_eq!((h1.status, h2.status), (200, 200), "{b}");
        assert!(h1.header("idempotent-replayed").is_none());
        assert_eq!(h2.header("idempotent-replayed"), Some("true"), "{b}");
        assert_eq!(h1.text, h2.text);
        assert_eq!(orders(&app).await, count + 1, "{b}");

        // Extensions too: paying twice with one key records one payment.
        let pending = internal_id(&h1.json);
        let pay = s.form(&[
            ("order_id", &pending),
            ("payment", "<Cash>"),
            ("idempotencyKey", "pay-1"),
        ]);
        let p1 = post(&app, "addPayment.php", &pay).await;
        let p2 = post(&app, "addPayment.php", &pay).await;
        assert_eq!((p1.status, p2.status), (200, 200), "{b}: {}", p2.text);
        assert_eq!(p2.header("idempotent-replayed"), Some("true"), "{b}");
        assert_eq!(p1.text, p2.text);
        assert_eq!(p1.json["payments"].as_array().unwrap().len(), 1);

        // Keys belong to one shop: another shop's same key is a new request.
        let theirs = post(
            &app,
            "webapp.php",
            &other.form(&[
                ("payment", "<Cash>"),
                ("itemsList[]", "<Espresso>_2"),
                ("idempotencyKey", "cart-7731"),
            ]),
        )
        .await;
        assert_eq!(theirs.status, 200, "{b}: {}", theirs.text);
        assert!(theirs.header("idempotent-replayed").is_none(), "{b}");
        assert_ne!(
            theirs.json["orderInternalID"],
            first.json["orderInternalID"]
        );
        assert_eq!(orders(&app).await, count + 2, "{b}");
        app.stop().await;
    }
}
