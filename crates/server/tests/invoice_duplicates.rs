//! Invoice duplicates: the first GET of `/invoices/TOKEN.pdf` is the original, each later
//! one is marked "DUPLICATE n" on the PDF, logged as an issue and recorded as an event;
//! concurrent fetches get distinct copy numbers; HEAD issues nothing; a Range request
//! gets the whole document.

use comptoir_core::event::Journal;
use comptoir_core::model::Licence;
use comptoir_store::invoice_issues;
use comptoir_store::shops::CreatedShop;
use comptoir_testkit::{TestApp, TestDb, require};
use serde_json::Value;

/// A shop with the demo catalog and one paid sale; gives the shop, the sale's answer.
async fn sold(app: &TestApp, name: &str) -> (CreatedShop, Value) {
    let shop = app.create_shop(name, Licence::Extended).await;
    comptoir_testkit::import_demo(&app.store, shop.shop_id).await;
    let (item, method) = comptoir_testkit::item_and_payment_method(&app.store, shop.shop_id).await;
    let id = shop.shop_id.to_string();
    let (item, method) = (format!("{item}_1"), method.to_string());
    let res = app
        .post_form(
            "/workers/webapp.php",
            &[
                ("idboutique", &id),
                ("key", &shop.api_key),
                ("payment", &method),
                ("paymentAmount", "50"),
                ("itemsList[]", &item),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["orderID"].as_i64().is_some(), "{body}");
    (shop, body)
}

async fn fetch(app: &TestApp, link: &str) -> Vec<u8> {
    let res = app.http.get(link).send().await.unwrap();
    assert_eq!(res.status(), 200, "{link}");
    res.bytes().await.unwrap().to_vec()
}

fn pdftotext(pdf: &[u8]) -> Option<String> {
    let available = std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok();
    if !require(available, "pdftotext (poppler-utils)") {
        return None;
    }
    let file = std::env::temp_dir().join(format!(
        "comptoir-duplicate-{}.pdf",
        comptoir_store::hex(&comptoir_store::random_bytes::<8>())
    ));
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success());
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn copies(app: &TestApp, shop_id: i64, order_id: i64) -> Vec<i64> {
    let mut v: Vec<i64> = app
        .store
        .read(move |c| invoice_issues::issues(c, shop_id, order_id))
        .await
        .unwrap()
        .iter()
        .map(|i| i.copy)
        .collect();
    v.sort_unstable();
    v
}

async fn duplicate_events(app: &TestApp, shop_id: i64) -> Vec<Value> {
    app.store
        .read(move |c| comptoir_store::events::page(c, Journal::Shop(shop_id), 0, 1000))
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.entry).unwrap())
        .filter(|e| e["kind"] == "invoice_duplicate")
        .collect()
}

#[tokio::test]
async fn fetches_after_the_first_are_duplicates_numbered_1_2_3() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, body) = sold(&app, "Duplicates").await;
        let link = body["PDFinvoice"].as_str().unwrap();
        let order_id = body["orderInternalID"].as_i64().unwrap();
        let number = body["orderID"].as_i64().unwrap();

        // HEAD says what a GET would send, and issues nothing.
        let head = app.http.head(link).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["content-type"], "application/pdf");
        assert!(copies(&app, shop.shop_id, order_id).await.is_empty());

        let original = fetch(&app, link).await;
        let mut later = Vec::new();
        for _ in 0..3 {
            later.push(fetch(&app, link).await);
        }
        if let Some(text) = pdftotext(&original) {
            assert!(!text.contains("DUPLICATE"), "{}: {text}", db.backend);
            for (i, pdf) in later.iter().enumerate() {
                let text = pdftotext(pdf).unwrap();
                let mark = format!("DUPLICATE {}", i + 1);
                assert!(text.contains(&mark), "{}: {mark} not in {text}", db.backend);
                assert!(text.contains(&format!("No. {number}")), "{text}");
            }
        }
        assert_eq!(copies(&app, shop.shop_id, order_id).await, [0, 1, 2, 3]);
        // A Range request gets the whole document, and it is an issue like any other.
        let ranged = app
            .http
            .get(link)
            .header("range", "bytes=0-99")
            .send()
            .await
            .unwrap();
        assert_eq!(ranged.status(), 200);
        let whole = ranged.bytes().await.unwrap();
        assert!(whole.starts_with(b"%PDF") && whole.len() > 100);
        assert_eq!(copies(&app, shop.shop_id, order_id).await, [0, 1, 2, 3, 4]);
        let issues = app
            .store
            .read(move |c| invoice_issues::issues(c, shop.shop_id, order_id))
            .await
            .unwrap();
        assert!(
            issues
                .iter()
                .all(|i| i.document == "invoice" && i.address.as_deref() == Some("127.0.0.1")),
            "{issues:?}"
        );
        let events = duplicate_events(&app, shop.shop_id).await;
        let numbered: Vec<(i64, i64)> = events
            .iter()
            .map(|e| {
                (
                    e["detail"]["copy"].as_i64().unwrap(),
                    e["detail"]["number"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            numbered,
            [(1, number), (2, number), (3, number), (4, number)]
        );
        assert_eq!(events[0]["detail"]["order_internal_id"], order_id);
        assert_eq!(events[0]["address"], "127.0.0.1");
        app.stop().await;
    }
}

#[tokio::test]
async fn concurrent_fetches_get_distinct_copy_numbers() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, body) = sold(&app, "Concurrent copies").await;
        let link = body["PDFinvoice"].as_str().unwrap().to_string();
        let order_id = body["orderInternalID"].as_i64().unwrap();
        let n = 12;
        let fetches: Vec<_> = (0..n)
            .map(|_| {
                let (http, link) = (app.http.clone(), link.clone());
                tokio::spawn(async move {
                    let res = http.get(&link).send().await.unwrap();
                    assert_eq!(res.status(), 200);
                    res.bytes().await.unwrap()
                })
            })
            .collect();
        let mut marks = Vec::new();
        for f in fetches {
            let pdf = f.await.unwrap();
            if let Some(text) = pdftotext(&pdf) {
                let mark = text
                    .split("DUPLICATE ")
                    .nth(1)
                    .map(|rest| rest.split_whitespace().next().unwrap().to_string());
                marks.push(mark);
            }
        }
        assert_eq!(
            copies(&app, shop.shop_id, order_id).await,
            (0..n).collect::<Vec<i64>>(),
            "{}",
            db.backend
        );
        if !marks.is_empty() {
            // One original, and duplicates 1..n-1 each printed once.
            let mut printed: Vec<i64> =
                marks.iter().flatten().map(|m| m.parse().unwrap()).collect();
            printed.sort_unstable();
            assert_eq!(marks.iter().filter(|m| m.is_none()).count(), 1);
            assert_eq!(printed, (1..n).collect::<Vec<i64>>());
        }
        assert_eq!(
            duplicate_events(&app, shop.shop_id).await.len(),
            n as usize - 1
        );
        app.stop().await;
    }
}
