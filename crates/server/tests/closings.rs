//! Daily closings over sales made through webapp.php on a real server, on each backend,
//! with a fake clock: the figures by VAT rate and payment method, the perpetual grand
//! totals, a day without sales, the order rules, and `verify` over a chain with closings
//! (a changed or removed closing is caught).

use comptoir_core::fiscal_key::FiscalKey;
use comptoir_core::model::Licence;
use comptoir_store::closings::{Closed, ClosingRow, close_day, list};
use comptoir_store::journal::{Problem, Verification, verify};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestApp, TestDb};
use jiff::civil::Date;
use serde_json::Value;

fn at(local: &str) -> String {
    let dt: jiff::civil::DateTime = local.parse().expect("local time");
    dt.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .unwrap()
        .timestamp()
        .as_second()
        .to_string()
}

async fn id_of(store: &Store, shop: i64, table: &'static str, name: &'static str) -> String {
    store
        .read(move |c| {
            c.query_one(
                &format!("select id from {table} where shop_id = $1 and name = $2"),
                params![shop, name],
            )?
            .i64(0)
        })
        .await
        .map(|id: i64| id.to_string())
        .unwrap_or_else(|e: StoreError| panic!("{table} {name}: {e}"))
}

/// Posts to a web service: status and JSON answer.
async fn post(
    app: &TestApp,
    path: &str,
    shop: i64,
    key: &str,
    form: &[(&str, String)],
) -> (u16, Value) {
    let mut all = vec![("idboutique", shop.to_string()), ("key", key.to_string())];
    all.extend(form.iter().cloned());
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app.post_form(path, &pairs).await;
    (res.status().as_u16(), res.json().await.expect("JSON"))
}

async fn sell(app: &TestApp, shop: i64, key: &str, form: &[(&str, String)]) -> Value {
    let (status, json) = post(app, "/workers/webapp.php", shop, key, form).await;
    assert_eq!(status, 200, "{form:?}: {json}");
    json
}

async fn orders(store: &Store, shop: i64) -> i64 {
    store
        .read(move |c| {
            c.query_one(
                "select count(*) from orders where shop_id = $1",
                params![shop],
            )?
            .i64(0)
        })
        .await
        .unwrap()
}

async fn close(
    store: &Store,
    shop: i64,
    day: Date,
    key: [u8; 32],
    now: &str,
) -> Result<Closed, StoreError> {
    let now: jiff::Timestamp = now.parse().unwrap();
    store
        .write(move |c| close_day(c, shop, day, &FiscalKey::from_seed(key), now))
        .await
}

fn entry(r: &ClosingRow) -> Value {
    serde_json::from_str(&r.entry).expect("entry JSON")
}

fn new(c: Result<Closed, StoreError>) -> ClosingRow {
    match c {
        Ok(Closed::New(r)) => r,
        other => panic!("expected a new closing, got {other:?}"),
    }
}

#[tokio::test]
async fn days_close_with_their_figures_and_verify_covers_them() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let created = app.create_shop("Clôtures", Licence::Extended).await;
        let (shop, key) = (created.shop_id, created.api_key.clone());
        comptoir_testkit::import_demo(&app.store, shop).await;
        let mug = id_of(&app.store, shop, "items", "Mug").await;
        let espresso = id_of(&app.store, shop, "items", "Espresso").await;
        let cash = id_of(&app.store, shop, "payment_methods", "Cash").await;
        let card = id_of(&app.store, shop, "payment_methods", "Card").await;
        // 10 March: a Mug 12.00 (20 %) in cash, two Espresso 3.60 (10 %) by card.
        // 12 March: a Mug in cash. 11 March has no sale.
        for (when, item, method, amount) in [
            ("2026-03-10T10:15", format!("{mug}_1"), &cash, "12,00"),
            ("2026-03-10T23:30", format!("{espresso}_2"), &card, "3,60"),
            ("2026-03-12T09:00", format!("{mug}_1"), &cash, "12,00"),
        ] {
            sell(
                &app,
                shop,
                &key,
                &[
                    ("dateValeur", at(when)),
                    ("itemsList[]", item),
                    ("payment", method.clone()),
                    ("paymentAmount", amount.into()),
                ],
            )
            .await;
        }
        // A pending order dated in the 12th: not counted, and not to be validated later.
        let pending = sell(
            &app,
            shop,
            &key,
            &[
                ("dateValeur", at("2026-03-12T15:00")),
                ("itemsList[]", format!("{mug}_1")),
                ("payment", "-2".into()),
            ],
        )
        .await;
        let pending = pending["orderInternalID"]
            .to_string()
            .trim_matches('"')
            .to_string();
        let k = [9u8; 32];
        let d = |day| Date::constant(2026, 3, day);
        // Today (13 March in Paris) and the future are refused; so is a gap.
        let today = close(&app.store, shop, d(13), k, "2026-03-13T10:00:00Z").await;
        assert!(
            matches!(&today, Err(StoreError::Invalid(m)) if m.contains("before today")),
            "{today:?}"
        );
        let first = new(close(&app.store, shop, d(10), k, "2026-03-13T10:00:00Z").await);
        let e = entry(&first);
        assert_eq!(
            (first.number, first.day.as_str()),
            (1, "2026-03-10"),
            "{}",
            db.backend
        );
        assert_eq!(
            (e["sales"].as_i64(), e["refunds"].as_i64()),
            (Some(2), Some(0))
        );
        assert_eq!(e["total"], 1560, "{}: {e}", db.backend);
        assert_eq!(e["vat"], 233);
        assert_eq!(
            e["vats"],
            serde_json::json!([{"amount": 200, "rate": 2000, "total": 1200}, {"amount": 33, "rate": 1000, "total": 360}])
        );
        let by_method: Vec<(String, i64)> = e["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["method_id"].to_string(), p["amount"].as_i64().unwrap()))
            .collect();
        assert!(by_method.contains(&(cash.clone(), 1200)), "{by_method:?}");
        assert!(by_method.contains(&(card.clone(), 360)), "{by_method:?}");
        assert_eq!(
            (e["grand_total"].as_i64(), e["grand_total_abs"].as_i64()),
            (Some(1560), Some(1560))
        );
        let gap = close(&app.store, shop, d(12), k, "2026-03-13T10:00:00Z").await;
        assert!(
            matches!(&gap, Err(StoreError::Invalid(m)) if m.contains("next is 2026-03-11")),
            "{gap:?}"
        );
        let empty = new(close(&app.store, shop, d(11), k, "2026-03-13T10:00:00Z").await);
        assert_eq!(
            (
                entry(&empty)["sales"].as_i64(),
                entry(&empty)["grand_total"].as_i64()
            ),
            (Some(0), Some(1560))
        );
        let third = new(close(&app.store, shop, d(12), k, "2026-03-13T10:00:00Z").await);
        assert_eq!(
            entry(&third)["grand_total"],
            2760,
            "the sum of every sale ever"
        );
        // Closing again says so and changes nothing.
        let again = close(&app.store, shop, d(10), k, "2026-03-14T10:00:00Z").await;
        assert_eq!(again.ok(), Some(Closed::Already(first.clone())));
        let rows = app.store.read(move |c| list(c, shop)).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 3]);
        for r in &rows {
            let bytes = r.entry.as_bytes();
            assert!(comptoir_core::fiscal_key::verify(
                &FiscalKey::from_seed(k).public_hex(),
                bytes,
                &r.signature
            ));
        }

        // verify walks the closings' entries and their recorded heads.
        let v = app.store.read(move |c| verify(c, shop)).await.unwrap();
        let Verification::Intact { entries, .. } = v else {
            panic!("{}: {v:?}", db.backend)
        };
        assert_eq!(
            entries, third.journal_seq,
            "the last closing is the last entry"
        );
        // A figure changed in a stored closing breaks its seal.
        let forged = first.entry.replace("\"total\":1560", "\"total\":1500");
        assert_ne!(forged, first.entry);
        app.store
            .write(move |c| {
                c.execute(
                    "update closings set entry = $1 where shop_id = $2 and number = 1",
                    params![forged.as_str(), shop],
                )
            })
            .await
            .unwrap();
        let v = app.store.read(move |c| verify(c, shop)).await.unwrap();
        let Verification::Broken(b) = v else {
            panic!("{}: a forged closing passed", db.backend)
        };
        assert!(matches!(b.problem, Problem::SealMismatch { .. }), "{b}");
        assert!(b.to_string().contains("(a closing)"), "{b}");
        // A removed closing row is named too.
        app.store
            .write(move |c| {
                c.execute(
                    "delete from closings where shop_id = $1 and number = 1",
                    params![shop],
                )
            })
            .await
            .unwrap();
        let v = app.store.read(move |c| verify(c, shop)).await.unwrap();
        let Verification::Broken(b) = v else {
            panic!("{}: a removed closing passed", db.backend)
        };
        assert_eq!(b.problem, Problem::MissingRow, "{b}");

        // Sales into a closed day are refused, with nothing written; the next day is open.
        let before = orders(&app.store, shop).await;
        let (status, json) = post(
            &app,
            "/workers/webapp.php",
            shop,
            &key,
            &[
                ("dateValeur", at("2026-03-12T23:59")),
                ("itemsList[]", format!("{mug}_1")),
                ("payment", cash.clone()),
                ("paymentAmount", "12,00".into()),
            ],
        )
        .await;
        assert_eq!(
            (
                status,
                json["error"]["code"].as_str(),
                json["error"]["field"].as_str()
            ),
            (409, Some("period_closed"), Some("dateValeur")),
            "{}: {json}",
            db.backend
        );
        assert_eq!(orders(&app.store, shop).await, before, "nothing written");
        for path in ["/workers/validateOrder.php", "/workers/addPayment.php"] {
            let (status, json) = post(
                &app,
                path,
                shop,
                &key,
                &[("order_id", pending.clone()), ("payment", cash.clone())],
            )
            .await;
            assert_eq!(
                (status, json["error"]["code"].as_str()),
                (409, Some("period_closed")),
                "{}: {path}: {json}",
                db.backend
            );
        }
        sell(
            &app,
            shop,
            &key,
            &[
                ("dateValeur", at("2026-03-13T00:00")),
                ("itemsList[]", format!("{mug}_1")),
                ("payment", cash.clone()),
                ("paymentAmount", "12,00".into()),
            ],
        )
        .await;
        app.stop().await;
    }
}

/// One sale a day on 10–12 March, each day closed after its sale.
async fn three_closed_days(app: &TestApp, shop: i64, key: &str, k: [u8; 32]) -> Vec<ClosingRow> {
    comptoir_testkit::import_demo(&app.store, shop).await;
    let mug = id_of(&app.store, shop, "items", "Mug").await;
    let cash = id_of(&app.store, shop, "payment_methods", "Cash").await;
    let mut rows = Vec::new();
    for day in 10..=12 {
        sell(
            app,
            shop,
            key,
            &[
                ("dateValeur", at(&format!("2026-03-{day}T12:00"))),
                ("itemsList[]", format!("{mug}_1")),
                ("payment", cash.clone()),
                ("paymentAmount", "12,00".into()),
            ],
        )
        .await;
        rows.push(new(close(
            &app.store,
            shop,
            Date::constant(2026, 3, day),
            k,
            "2026-03-13T10:00:00Z",
        )
        .await));
    }
    rows
}

async fn verified(store: &Store, shop: i64, pinned: Option<String>) -> Verification {
    store
        .read(move |c| comptoir_store::journal::verify_pinned(c, shop, pinned.as_deref()))
        .await
        .unwrap()
}

fn problem(v: Verification) -> Problem {
    match v {
        Verification::Broken(b) => b.problem,
        Verification::Intact { .. } => panic!("tampering passed verify"),
    }
}

#[tokio::test]
async fn verify_catches_a_forged_closing_and_a_deleted_sale_redone_without_the_key() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let k = [5u8; 32];
        let public = FiscalKey::from_seed(k).public_hex();
        // Shop A: a closing's figure changed and its seal recomputed: the chain holds,
        // the signature does not.
        let a = app.create_shop("A", Licence::Extended).await;
        let rows = three_closed_days(&app, a.shop_id, &a.api_key, k).await;
        assert!(matches!(
            verified(&app.store, a.shop_id, Some(public.clone())).await,
            Verification::Intact { .. }
        ));
        let last = rows[2].clone();
        let shop = a.shop_id;
        app.store
            .write(move |c| {
                let forged = last.entry.replace("\"total\":1200", "\"total\":0");
                assert_ne!(forged, last.entry);
                let previous = c
                    .query_one(
                        "select seal from journal where shop_id = $1 and seq = $2",
                        params![shop, last.journal_seq - 1],
                    )?
                    .string(0)?;
                let resealed = comptoir_core::seal::seal(&previous, forged.as_bytes());
                c.execute(
                    "update closings set entry = $1 where shop_id = $2 and number = 3",
                    params![forged.as_str(), shop],
                )?;
                c.execute(
                    "update journal set seal = $1 where shop_id = $2 and seq = $3",
                    params![resealed.as_str(), shop, last.journal_seq],
                )?;
                c.execute(
                    "update shop_counters set journal_head = $1 where shop_id = $2",
                    params![resealed.as_str(), shop],
                )?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        assert_eq!(
            problem(verified(&app.store, shop, None).await),
            Problem::ClosingSignature { number: 3 },
            "{}",
            db.backend
        );

        // The same forgery re-signed with another key, named in the row: the signature
        // holds, the figures do not add up to the day's orders (and the key is not ours).
        let other = FiscalKey::from_seed([6u8; 32]);
        let (resigned, other_public) = app
            .store
            .read(move |c| {
                c.query_one(
                    "select entry from closings where shop_id = $1 and number = 3",
                    params![shop],
                )?
                .string(0)
            })
            .await
            .map(|e: String| (other.sign(e.as_bytes()), other.public_hex()))
            .unwrap();
        app.store
            .write(move |c| {
                c.execute(
                    "update closings set signature = $1, public_key = $2 where shop_id = $3 and number = 3",
                    params![resigned.as_str(), other_public.as_str(), shop],
                )
            })
            .await
            .unwrap();
        assert_eq!(
            problem(verified(&app.store, shop, None).await),
            Problem::ClosingFigures { number: 3 },
            "{}",
            db.backend
        );
        assert!(matches!(
            problem(verified(&app.store, shop, Some(public.clone())).await),
            Problem::ClosingKey { number: 3, .. }
        ));

        // Shop B: the sale of 12 March deleted before the last closing, with its journal
        // entries, the counters rolled back, and the day closed again with another key:
        // a consistent chain, which only the pinned public key exposes.
        let b = app.create_shop("B", Licence::Extended).await;
        let rows = three_closed_days(&app, b.shop_id, &b.api_key, k).await;
        let (shop, kept) = (b.shop_id, rows[1].clone());
        app.store
            .write(move |c| {
                let order = c.query_one("select id from orders where shop_id = $1 and number = 3", params![shop])?.i64(0)?;
                for table in ["payments", "order_lines", "outbox"] {
                    c.execute(&format!("delete from {table} where shop_id = $1 and order_id = $2"), params![shop, order])?;
                }
                c.execute("delete from orders where shop_id = $1 and id = $2", params![shop, order])?;
                c.execute("delete from closings where shop_id = $1 and number = 3", params![shop])?;
                c.execute("delete from journal where shop_id = $1 and seq > $2", params![shop, kept.journal_seq])?;
                let head = c.query_one("select seal from journal where shop_id = $1 and seq = $2", params![shop, kept.journal_seq])?.string(0)?;
                c.execute(
                    "update shop_counters set journal_seq = $1, journal_head = $2, next_order_number = 3 where shop_id = $3",
                    params![kept.journal_seq, head.as_str(), shop],
                )?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        // Without re-closing, the closings count no longer matches... then re-closed with a
        // key that is not the server's.
        new(close(
            &app.store,
            shop,
            Date::constant(2026, 3, 12),
            [6u8; 32],
            "2026-03-13T11:00:00Z",
        )
        .await);
        let unpinned = verified(&app.store, shop, None).await;
        assert!(
            matches!(unpinned, Verification::Intact { .. }),
            "{}: unpinned, a chain redone with another key looks whole (docs/inalterability.md): {unpinned:?}",
            db.backend
        );
        assert!(
            matches!(
                problem(verified(&app.store, shop, Some(public.clone())).await),
                Problem::ClosingKey { number: 3, .. }
            ),
            "{}",
            db.backend
        );

        app.stop().await;
    }
}
