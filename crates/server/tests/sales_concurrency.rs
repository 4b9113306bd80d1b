//! Sales under concurrent load: many sales at once are numbered 1..N without a gap and
//! chain their seals; many requests sharing one idempotency key record one order; two
//! servers on one PostgreSQL database share the numbering. SQLite and PostgreSQL.

use comptoir_core::model::Licence;
use comptoir_store::journal::Verification;
use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestApp, TestDb, encode_form, recompute_chain};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A shop with the demo catalog and the few ids these tests use.
#[derive(Clone)]
struct Shop {
    id: i64,
    key: String,
    cash: i64,
    items: [i64; 3],
}

async fn demo_shop(app: &TestApp, name: &str) -> Shop {
    let created = app.create_shop(name, Licence::Extended).await;
    let shop_id = created.shop_id;
    comptoir_testkit::import_demo(&app.store, shop_id).await;
    let (cash, items) = app
        .store
        .read(move |c| {
            let mut id = |table: &str, name: &str| -> Result<i64, StoreError> {
                c.query_one(
                    &format!("select id from {table} where shop_id = $1 and name = $2"),
                    params![shop_id, name],
                )?
                .i64(0)
            };
            let cash = id("payment_methods", "Cash")?;
            let items = [
                id("items", "Espresso")?,
                id("items", "Croissant")?,
                id("items", "Quiche")?,
            ];
            Ok::<_, StoreError>((cash, items))
        })
        .await
        .expect("ids");
    Shop {
        id: shop_id,
        key: created.api_key,
        cash,
        items,
    }
}

/// The body of sale `n`: one to three of one item, paid in cash.
fn sale_body(shop: &Shop, n: usize, idempotency_key: Option<&str>) -> String {
    let (id, key, cash) = (shop.id.to_string(), shop.key.clone(), shop.cash.to_string());
    let line = format!("{}_{}", shop.items[n % 3], 1 + n % 3);
    let mut form = vec![
        ("idboutique", id.as_str()),
        ("key", key.as_str()),
        ("payment", cash.as_str()),
        ("itemsList[]", line.as_str()),
    ];
    if let Some(k) = idempotency_key {
        form.push(("idempotencyKey", k));
    }
    encode_form(&form)
}

async fn post_sale(http: &reqwest::Client, base: &str, body: String) -> (u16, Value) {
    let res = http
        .post(format!("{base}/workers/webapp.php"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, json)
}

/// Checks a shop's books after the load: orders numbered 1..=`n` matching the answers
/// (`number → orderInternalID`), one order and one payment entry per sale, every seal
/// recomputed, and `comptoir_store::journal::verify` agreeing.
async fn check_books(
    store: &comptoir_store::Store,
    shop_id: i64,
    answers: &BTreeMap<i64, i64>,
    what: &str,
) {
    let (numbers, problems, verification) = store
        .read(move |c| {
            let numbers: BTreeMap<i64, i64> = c
                .query(
                    "select number, id from orders where shop_id = $1 and number is not null",
                    params![shop_id],
                )?
                .iter()
                .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
                .collect::<Result<_, StoreError>>()?;
            let problems = recompute_chain(c, shop_id)?;
            let v = comptoir_store::journal::verify_snapshot(c, shop_id)?;
            Ok::<_, StoreError>((numbers, problems, v))
        })
        .await
        .expect("read the books");
    let n = answers.len() as i64;
    assert_eq!(
        numbers.keys().copied().collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>(),
        "{what}: orderIDs are 1..={n} without a gap"
    );
    assert_eq!(&numbers, answers, "{what}: each answer names its order");
    assert!(problems.is_empty(), "{what}: {problems:#?}");
    match verification {
        Verification::Intact { entries, .. } => {
            assert_eq!(
                entries,
                2 * n,
                "{what}: an order and a payment entry per sale"
            )
        }
        Verification::Broken(b) => panic!("{what}: journal::verify: {b}"),
    }
}

/// Sends `bodies` all at once (each to `bases[i % bases.len()]`); returns the answers.
async fn all_at_once(
    http: &reqwest::Client,
    bases: &[String],
    bodies: Vec<String>,
) -> Vec<(u16, Value)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let (http, base, barrier) = (
                http.clone(),
                bases[i % bases.len()].clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                post_sale(&http, &base, body).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// `orderID → orderInternalID` of 200 answers; every answer must be a 200.
fn numbered(answers: &[(u16, Value)], what: &str) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    let mut internal = HashSet::new();
    for (status, body) in answers {
        assert_eq!(*status, 200, "{what}: {body}");
        let (number, id) = (
            body["orderID"].as_i64().expect("orderID"),
            body["orderInternalID"].as_i64().expect("orderInternalID"),
        );
        assert!(
            internal.insert(id),
            "{what}: orderInternalID {id} given twice"
        );
        assert!(
            out.insert(number, id).is_none(),
            "{what}: orderID {number} given twice"
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sales_are_numbered_1_to_200_and_their_seals_chain() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = demo_shop(&app, "Rush hour").await;
        let bodies = (0..200).map(|n| sale_body(&shop, n, None)).collect();
        let answers = all_at_once(&app.http, std::slice::from_ref(&app.base), bodies).await;
        let what = format!("{} 200 sales", db.backend);
        let numbers = numbered(&answers, &what);
        check_books(&app.store, shop.id, &numbers, &what).await;
        app.stop().await;
    }
}

/// Fires `count` identical requests with one idempotency key; checks one order came of it.
async fn one_key_many_requests(
    http: &reqwest::Client,
    bases: &[String],
    store: &comptoir_store::Store,
    shop: &Shop,
    count: usize,
    what: &str,
) -> (i64, usize) {
    let bodies = (0..count)
        .map(|_| sale_body(shop, 7, Some("one-cart")))
        .collect();
    let answers = all_at_once(http, bases, bodies).await;
    let mut ids = HashSet::new();
    let mut in_flight = 0;
    for (status, body) in &answers {
        match status {
            200 => {
                ids.insert(body["orderInternalID"].as_i64().expect("orderInternalID"));
            }
            409 => {
                assert_eq!(
                    body["error"]["code"], "idempotency_in_flight",
                    "{what}: {body}"
                );
                in_flight += 1;
            }
            _ => panic!("{what}: {status} {body}"),
        }
    }
    assert_eq!(
        ids.len(),
        1,
        "{what}: every 200 names the same order: {ids:?}"
    );
    let id = ids.into_iter().next().expect("one");
    let shop_id = shop.id;
    let keys = store
        .read(move |c| {
            c.query_one(
                "select count(*) from idempotency_keys where shop_id = $1",
                params![shop_id],
            )?
            .i64(0)
        })
        .await
        .unwrap();
    assert_eq!(keys, 1, "{what}: one idempotency record");
    eprintln!(
        "{what}: {} answered 200, {in_flight} answered 409",
        count - in_flight
    );
    (id, in_flight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_with_one_idempotency_key_record_exactly_one_order() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = demo_shop(&app, "Double click").await;
        let what = format!("{} one key", db.backend);
        let (id, _) = one_key_many_requests(
            &app.http,
            std::slice::from_ref(&app.base),
            &app.store,
            &shop,
            50,
            &what,
        )
        .await;
        check_books(&app.store, shop.id, &BTreeMap::from([(1, id)]), &what).await;
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgresql_database_number_sales_without_gaps() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    // Two servers, each with its own store (connection pool), like two processes.
    let (one, two) = (TestApp::spawn(&db).await, TestApp::spawn(&db).await);
    let shop = demo_shop(&one, "Two tills").await;
    let bases = [one.base.clone(), two.base.clone()];
    let bodies = (0..200).map(|n| sale_body(&shop, n, None)).collect();
    let answers = all_at_once(&one.http, &bases, bodies).await;
    let mut numbers = numbered(&answers, "two servers");
    check_books(&two.store, shop.id, &numbers, "two servers").await;

    // One key sent to both servers: the second server's copy loses at commit and replays.
    let (id, _) = one_key_many_requests(
        &one.http,
        &bases,
        &one.store,
        &shop,
        20,
        "one key, two servers",
    )
    .await;
    numbers.insert(201, id);
    check_books(&one.store, shop.id, &numbers, "one key, two servers").await;
    one.stop().await;
    two.stop().await;
}
