//! getSales.php on a long day (3,000 orders seeded through the store), on SQLite and
//! (when `COMPTOIR_TEST_POSTGRES` is set) PostgreSQL: the PDF's pages (each page's
//! content is deflated when the next one starts, its footer in a second stream) carry
//! every order and "Page i of n"; the XML's members follow the JSON's order; a client
//! that reads slowly gets the same bytes as one that reads at once (the chunks it has not
//! taken wait in a temporary file while the report's snapshot is read).

use comptoir_core::model::Licence;
use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestApp, TestDb, encode_form};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::time::Duration;

const ORDERS: i64 = 3000;
/// 2026-03-10T00:00:00+01:00 (Europe/Paris), in microseconds.
const DAY_START: i64 = 1_773_097_200_000_000;

/// `ORDERS` terminated orders of one line and one payment spread over the day, with the
/// columns a sale writes (the journal, which the report does not read, left out).
async fn seed(app: &TestApp, shop_id: i64) {
    app.store
        .write(move |c| {
            let one = |c: &mut dyn comptoir_store::db::Conn, sql: &str| {
                c.query_one(sql, params![shop_id])?.i64(0)
            };
            let user = one(c, "select min(id) from users where shop_id = $1")?;
            let cash_box = one(c, "select min(id) from cash_boxes where shop_id = $1")?;
            let method = one(
                c,
                "select min(id) from payment_methods where shop_id = $1 and kind = 'card'",
            )?;
            let item = one(c, "select min(id) from items where shop_id = $1")?;
            // Set-based, as store::sales::seed does: three statements, not 9,000.
            c.execute(
                "with recursive g(i) as (
                     select cast(1 as bigint) union all select i + 1 from g where i < $2)
                 insert into orders (shop_id, number, status, is_refund, created_at,
                     validated_at, terminated_at, value_date, user_id, cash_box_id,
                     delivery_method, total, vat, paid, change_given, invoice_token, seal)
                 select $1, i, 'terminated', false, $3 + i * 28000000, $3 + i * 28000000,
                     $3 + i * 28000000, $3 + i * 28000000, $4, $5, 4, 1200, 200, 1200, 0,
                     'streams' || cast(i as text), 'seal-of-order-' || cast(i as text)
                 from g",
                params![shop_id, ORDERS, DAY_START, user, cash_box],
            )?;
            c.execute(
                "insert into order_lines (shop_id, order_id, line_no, item_id, title,
                     quantity, unit_price, total, vat_rate)
                 select shop_id, id, 1, $2, 'Mug', 1000, 1200, 1200, 2000 from orders
                 where shop_id = $1",
                params![shop_id, item],
            )?;
            c.execute(
                "insert into payments (shop_id, order_id, payment_method_id, name, amount, at)
                 select shop_id, id, $2, 'Card', 1200, value_date from orders
                 where shop_id = $1",
                params![shop_id, method],
            )?;
            Ok::<_, StoreError>(())
        })
        .await
        .expect("seed the day");
}

fn url(app: &TestApp, shop_id: i64, key: &str, format: &str) -> String {
    let id = shop_id.to_string();
    app.url(&format!(
        "/workers/getSales.php?{}",
        encode_form(&[
            ("idboutique", id.as_str()),
            ("key", key),
            ("d", "10"),
            ("m", "3"),
            ("y", "2026"),
            ("formatExport", format),
        ])
    ))
}

async fn fetch(app: &TestApp, url: &str) -> Vec<u8> {
    let res = app.http.get(url).send().await.expect("request");
    assert_eq!(res.status(), 200, "{url}");
    res.bytes().await.expect("body").to_vec()
}

/// The keys of a JSON object, in the order written.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    m.next_value::<IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// The keys of the first object of the JSON report's `sales` array, in order.
fn first_sale_keys(json: &[u8]) -> Vec<String> {
    struct Report(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Report {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Report;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("the report")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Report, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = m.next_key::<String>()? {
                        if k == "sales" {
                            keys = m.next_value::<FirstKeys>()?.0;
                        } else {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(Report(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    struct FirstKeys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for FirstKeys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = FirstKeys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("the sales")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<FirstKeys, A::Error> {
                    let first = s.next_element::<Keys>()?.map(|k| k.0).unwrap_or_default();
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(FirstKeys(first))
                }
            }
            d.deserialize_seq(V)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    serde::Deserialize::deserialize(&mut de)
        .map(|r: Report| r.0)
        .expect("the JSON report")
}

/// The names of the elements right inside the element at path `under`, in order (for a
/// sale, the first sale's).
fn xml_children(xml: &[u8], under: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).expect("well-formed XML") {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                if path.join("/") == under {
                    names.push(name.clone());
                }
                path.push(name);
            }
            Event::End(_) => {
                if path.join("/") == under && under.ends_with("sale") {
                    // Only the first sale's members.
                    return names;
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    names
}

/// The PDF's text by `pdftotext -layout`, or `None` when it is missing (a failure under
/// COMPTOIR_TEST_STRICT=1).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let present = std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok();
    if !comptoir_testkit::require(present, "pdftotext (poppler-utils)") {
        return None;
    }
    let file = std::env::temp_dir().join(format!(
        "comptoir-streams-{}.pdf",
        comptoir_store::hex(&comptoir_store::random_bytes::<8>())
    ));
    std::fs::write(&file, pdf).expect("write PDF");
    let out = std::process::Command::new("pdftotext")
        .args(["-layout".as_ref(), file.as_os_str(), "-".as_ref()])
        .output()
        .expect("run pdftotext");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The bytes without the element or member that holds the generation time.
fn without_generated(text: &str) -> String {
    let start = text.find("<generatedAt>").expect("generatedAt");
    let end = text.find("</generatedAt>").expect("generatedAt's end");
    format!("{}{}", &text[..start], &text[end..])
}

#[tokio::test]
async fn a_long_day_in_pdf_xml_and_json_and_to_a_slow_client() {
    for db in TestDb::all() {
        let b = db.schema().unwrap_or("sqlite").to_string();
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Long day", Licence::Extended).await;
        comptoir_testkit::import_demo(&app.store, shop.shop_id).await;
        seed(&app, shop.shop_id).await;
        let (id, key) = (shop.shop_id, shop.api_key.as_str());

        // The PDF: every page numbered, every order on a page, the count at the end.
        let pdf = fetch(&app, &url(&app, id, key, "PDF")).await;
        if let Some(text) = pdf_text(&pdf) {
            let pages = text.matches('\u{c}').count() + usize::from(!text.ends_with('\u{c}'));
            assert!(pages > 40, "{b}: {pages} pages");
            for i in 1..=pages {
                assert!(
                    text.contains(&format!("Page {i} of {pages}")),
                    "{b}: page {i} of {pages}"
                );
            }
            let rows = text.lines().filter(|l| l.contains("Counter sale")).count();
            // One row per order, and the delivery methods' table's.
            assert_eq!(rows as i64, ORDERS + 1, "{b}");
            assert!(text.contains(&format!("{ORDERS} orders.")), "{b}");
        }

        // XML: the members in the JSON's order, at the top and in a sale.
        let json = fetch(&app, &url(&app, id, key, "JSON")).await;
        let xml = fetch(&app, &url(&app, id, key, "XML")).await;
        let top: Keys = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(xml_children(&xml, "salesReport"), top.0, "{b}");
        let documented = [
            "shop",
            "day",
            "timeZone",
            "from",
            "to",
            "generatedAt",
            "filters",
            "summary",
            "VAT",
            "payments",
            "deliveryMethods",
            "departments",
            "departmentGroups",
            "items",
            "users",
            "cashBoxes",
            "hours",
            "sales",
        ];
        let in_docs: Vec<&str> = top
            .0
            .iter()
            .map(String::as_str)
            .filter(|k| documented.contains(k))
            .collect();
        assert_eq!(in_docs, documented, "{b}: the order of docs/reports.md");
        assert_eq!(top.0.last().map(String::as_str), Some("sales"), "{b}");
        let sale = first_sale_keys(&json);
        assert_eq!(sale.first().map(String::as_str), Some("orderID"), "{b}");
        // The seeded orders have no client: a null, which the XML leaves out.
        let sale: Vec<String> = sale.into_iter().filter(|k| k != "clientID").collect();
        assert_eq!(xml_children(&xml, "salesReport/sales/sale"), sale, "{b}");
        let summary: Vec<String> = xml_children(&xml, "salesReport/summary");
        assert_eq!(
            summary.first().map(String::as_str),
            Some("orders"),
            "{b}: {summary:?}"
        );

        // A slow client: one chunk, a pause while the report is read to its end, the rest.
        let mut res = app
            .http
            .get(url(&app, id, key, "XML"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{b}");
        let mut slow = res
            .chunk()
            .await
            .expect("a chunk")
            .expect("a first chunk")
            .to_vec();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        while let Some(c) = res.chunk().await.expect("the rest") {
            slow.extend_from_slice(&c);
        }
        assert!(
            xml.len() > 1 << 20,
            "{b}: {} bytes, past the memory buffer",
            xml.len()
        );
        assert_eq!(
            without_generated(&String::from_utf8(slow).expect("UTF-8")),
            without_generated(&String::from_utf8(xml).expect("UTF-8")),
            "{b}"
        );
        app.stop().await;
    }
}
