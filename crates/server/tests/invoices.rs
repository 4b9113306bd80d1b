//! `GET /invoices/{token}.pdf`: the link a sale answers with serves its invoice (a quote
//! for a pending order, a credit note for a refund) without a key; other tokens are 404.

use comptoir_core::model::Licence;
use comptoir_store::shops::CreatedShop;
use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestApp, TestDb, require};
use serde_json::Value;

/// A shop with the demo catalog; returns it with the ids of Espresso and Croissant.
async fn demo_shop(app: &TestApp, name: &str) -> (CreatedShop, i64, i64) {
    let shop = app.create_shop(name, Licence::Extended).await;
    let shop_id = shop.shop_id;
    comptoir_testkit::import_demo(&app.store, shop_id).await;
    let espresso = id_of(
        app,
        "select id from items where shop_id = $1 and name = $2",
        shop_id,
        "Espresso",
    )
    .await;
    let croissant = id_of(
        app,
        "select id from items where shop_id = $1 and name = $2",
        shop_id,
        "Croissant",
    )
    .await;
    (shop, espresso, croissant)
}

async fn id_of(app: &TestApp, sql: &'static str, shop_id: i64, name: &str) -> i64 {
    let owned = name.to_string();
    app.store
        .read(move |c| c.query_one(sql, params![shop_id, owned.as_str()])?.i64(0))
        .await
        .unwrap_or_else(|e: StoreError| panic!("{sql} {name}: {e}"))
}

async fn method(app: &TestApp, shop_id: i64, name: &str) -> String {
    id_of(
        app,
        "select id from payment_methods where shop_id = $1 and name = $2",
        shop_id,
        name,
    )
    .await
    .to_string()
}

async fn sale(app: &TestApp, shop: &CreatedShop, extra: &[(&str, &str)]) -> Value {
    let id = shop.shop_id.to_string();
    let mut form = vec![("idboutique", id.as_str()), ("key", shop.api_key.as_str())];
    form.extend_from_slice(extra);
    let res = app.post_form("/workers/webapp.php", &form).await;
    let status = res.status();
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(status, 200, "{body}");
    body
}

/// Fetches the invoice link without a key; checks the headers; returns the PDF.
async fn fetch_pdf(app: &TestApp, link: &str, filename: &str) -> Vec<u8> {
    assert!(link.starts_with(&app.base), "{link}");
    let res = app.http.get(link).send().await.expect("GET");
    assert_eq!(res.status(), 200, "{link}");
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        format!("inline; filename=\"{filename}\"").as_str()
    );
    assert_eq!(h["cache-control"], "private, no-store");
    let pdf = res.bytes().await.expect("body").to_vec();
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    pdf
}

fn pdftotext_available() -> bool {
    std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok()
}

/// The PDF's text, or `None` when pdftotext is missing (a failure in strict mode).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    if !require(pdftotext_available(), "pdftotext (poppler-utils)") {
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "comptoir-invoice-{}",
        comptoir_store::hex(&comptoir_store::random_bytes::<8>())
    ));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let file = dir.join("invoice.pdf");
    std::fs::write(&file, pdf).expect("write PDF");
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
        .expect("run pdftotext");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn a_recorded_sale_serves_its_invoice_without_a_key() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, espresso, croissant) = demo_shop(&app, "Café Invoice").await;
        let cash = method(&app, shop.shop_id, "Cash").await;
        let lines = [format!("{espresso}_2"), format!("{croissant}_1")];
        let body = sale(
            &app,
            &shop,
            &[
                ("payment", &cash),
                ("paymentAmount", "10"),
                ("itemsList[]", &lines[0]),
                ("itemsList[]", &lines[1]),
                ("client[nom]", "Durand"),
                ("client[prenom]", "Anne"),
                ("client[ville]", "Lyon"),
            ],
        )
        .await;
        let number = body["orderID"].as_i64().expect("a number");
        let link = body["PDFinvoice"].as_str().expect("a link");
        let pdf = fetch_pdf(
            &app,
            link,
            &format!("invoice-{}-{number}.pdf", shop.shop_id),
        )
        .await;
        if let Some(text) = pdf_text(&pdf) {
            let price = body["price"].to_string();
            for want in [
                "Café Invoice",
                "Invoice",
                &format!("No. {number}"),
                "Espresso",
                "Croissant",
                &price,
                "Anne Durand",
                "Lyon",
                "12 rue Mouffetard",
                "FR32912345678",
                "Cash",
            ] {
                assert!(
                    text.contains(want),
                    "{}: {want:?} not in\n{text}",
                    db.backend
                );
            }
            let seal = body["seal"].as_str().expect("a seal");
            assert!(text.contains(&seal[..16]), "the seal is printed:\n{text}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_pending_order_is_a_quote_and_a_refund_a_credit_note() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, espresso, _) = demo_shop(&app, "Café Quote").await;
        let line = format!("{espresso}_3");
        let body = sale(&app, &shop, &[("payment", "-2"), ("itemsList[]", &line)]).await;
        assert!(body["orderID"].is_null(), "{body}");
        let internal = body["orderInternalID"].as_i64().expect("an id");
        let pdf = fetch_pdf(
            &app,
            body["PDFinvoice"].as_str().expect("a link"),
            &format!("quote-{}-{internal}.pdf", shop.shop_id),
        )
        .await;
        if let Some(text) = pdf_text(&pdf) {
            assert!(text.contains("Quote"), "{text}");
            assert!(!text.contains("Invoice"), "{text}");
            assert!(text.contains("5.40"), "{text}");
        }

        let refund = method(&app, shop.shop_id, "Cash refund").await;
        let line = format!("{espresso}_1");
        let body = sale(&app, &shop, &[("payment", &refund), ("itemsList[]", &line)]).await;
        assert_eq!(body["isRefund"], true, "{body}");
        let number = body["orderID"].as_i64().expect("a number");
        let pdf = fetch_pdf(
            &app,
            body["PDFinvoice"].as_str().expect("a link"),
            &format!("invoice-{}-{number}.pdf", shop.shop_id),
        )
        .await;
        if let Some(text) = pdf_text(&pdf) {
            assert!(text.contains("Credit note"), "{text}");
            assert!(text.contains("-1.80"), "{text}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_404() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, espresso, _) = demo_shop(&app, "Café 404").await;
        let line = espresso.to_string();
        let body = sale(&app, &shop, &[("payment", "-1"), ("itemsList[]", &line)]).await;
        let link = body["PDFinvoice"].as_str().expect("a link").to_string();
        let token = link
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".pdf"))
            .expect("BASE/invoices/TOKEN.pdf");
        let (shop_part, secret) = token.split_once('-').expect("SHOPID-HEX");
        let flipped: String = secret.chars().rev().collect();
        let other_shop = shop.shop_id + 1000;
        for path in [
            format!("/invoices/{shop_part}-{flipped}.pdf"),
            format!("/invoices/{other_shop}-{secret}.pdf"),
            format!("/invoices/{token}"),
            format!("/invoices/{token}.PDF"),
            format!("/invoices/{shop_part}-{}.pdf", &secret[1..]),
            "/invoices/not-a-token.pdf".to_string(),
        ] {
            let res = app.get(&path).await;
            assert_eq!(res.status(), 404, "{}: {path}", db.backend);
            let body: Value = res.json().await.expect("a JSON error");
            assert_eq!(body["result"], "KO");
            assert_eq!(body["error"]["code"], "not_found");
        }
        // The same secret under another order of the shop is no link either.
        let (order_part, hex) = secret.split_once('-').expect("ORDERID-HEX32");
        let other_order = order_part.parse::<i64>().unwrap() + 1;
        let path = format!("/invoices/{shop_part}-{other_order}-{hex}.pdf");
        assert_eq!(app.get(&path).await.status(), 404, "{}: {path}", db.backend);
        // The real link still works.
        assert_eq!(app.http.get(&link).send().await.unwrap().status(), 200);
        app.stop().await;
    }
}

/// Links handed out before tokens named their order (`SHOPID-HEX32`) keep working.
#[tokio::test]
async fn links_of_the_older_token_form_still_open() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, espresso, _) = demo_shop(&app, "Café d'avant").await;
        let line = espresso.to_string();
        let body = sale(&app, &shop, &[("payment", "-1"), ("itemsList[]", &line)]).await;
        let id = body["orderInternalID"].as_i64().expect("an id");
        let old = format!("{}-{}", shop.shop_id, "0123456789abcdef0123456789abcdef");
        let (shop_id, token) = (shop.shop_id, old.clone());
        app.store
            .write(move |c| {
                c.execute(
                    "update orders set invoice_token = $1 where shop_id = $2 and id = $3",
                    comptoir_store::params![token.as_str(), shop_id, id],
                )
            })
            .await
            .unwrap();
        let res = app.get(&format!("/invoices/{old}.pdf")).await;
        assert_eq!(res.status(), 200, "{}", db.backend);
        assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));
        app.stop().await;
    }
}
