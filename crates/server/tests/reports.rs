//! getSales.php end to end on a real server, on SQLite and (when `COMPTOIR_TEST_POSTGRES`
//! is set) PostgreSQL: a fixed day whose totals are stated by hand below, read back from
//! every format (JSON, CSV, XML, XLSX, FEC, HTML), and checked against getOrders.php; DST
//! days, an empty and a future day, filters, another time zone, bad dates and formats,
//! isolation and the licence.

use calamine::{DataType, Reader};
use comptoir_core::model::Licence;
use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestApp, TestDb, encode_form};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

struct Shop {
    id: i64,
    key: String,
    ids: HashMap<String, i64>,
}

impl Shop {
    fn id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .unwrap_or_else(|| panic!("no {name:?} in the demo catalog"))
            .to_string()
    }
}

async fn demo_shop(app: &TestApp, name: &str, licence: Licence) -> Shop {
    let created = app.create_shop(name, licence).await;
    let shop_id = created.shop_id;
    comptoir_testkit::import_demo(&app.store, shop_id).await;
    let ids = app
        .store
        .read(move |c| {
            let mut ids = HashMap::new();
            for table in ["items", "payment_methods", "cash_boxes"] {
                let sql = format!("select name, id from {table} where shop_id = $1");
                for r in c.query(&sql, params![shop_id])? {
                    ids.insert(r.string(0)?, r.i64(1)?);
                }
            }
            for r in c.query(
                "select login, id from users where shop_id = $1",
                params![shop_id],
            )? {
                let login = r.string(0)?;
                ids.insert(
                    login.split('@').next().unwrap_or_default().to_string(),
                    r.i64(1)?,
                );
            }
            Ok::<_, StoreError>(ids)
        })
        .await
        .expect("ids");
    Shop {
        id: shop_id,
        key: created.api_key,
        ids,
    }
}

/// Unix seconds of a local time in Europe/Paris (or `zone`).
fn at(local: &str, zone: &str) -> String {
    let dt: jiff::civil::DateTime = local.parse().expect("local time");
    dt.to_zoned(jiff::tz::TimeZone::get(zone).expect("zone"))
        .expect("zoned")
        .timestamp()
        .as_second()
        .to_string()
}

async fn sell(app: &TestApp, shop: &Shop, extra: &[(&str, String)]) -> Value {
    let mut form: Vec<(&str, String)> = vec![
        ("idboutique", shop.id.to_string()),
        ("key", shop.key.clone()),
    ];
    form.extend(extra.iter().cloned());
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app.post_form("/workers/webapp.php", &pairs).await;
    let status = res.status();
    let json: Value = res.json().await.expect("json");
    assert_eq!(status, 200, "{extra:?}: {json}");
    json
}

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

async fn report(app: &TestApp, shop: &Shop, key: &str, extra: &[(&str, &str)]) -> Got {
    let mut form: Vec<(&str, &str)> = vec![("key", key)];
    let id = shop.id.to_string();
    form.push(("idboutique", &id));
    form.extend_from_slice(extra);
    let res = app
        .get(&format!("/workers/getSales.php?{}", encode_form(&form)))
        .await;
    Got {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.bytes().await.expect("body").to_vec(),
    }
}

/// The scenario's day, 2026-03-10 in Europe/Paris (+01:00):
/// - A 10:15 claire, Counter: Mug 12.00 (20 %) + 2 Espresso 3.60 (10 %) = 15.60, VAT
///   2.00 + 0.33 = 2.33, paid 20.00 cash, change 4.40;
/// - B 12:30 hugo, Web: Jambon-beurre 4.90 (10 %, VAT 0.45), card;
/// - C 18:05 hugo, Counter: Mug 12.00 (VAT 2.00), card;
/// - R 18:30 hugo, Counter: the Mug returned, −12.00 (VAT −2.00), Cash refund;
/// - D, a sale made with a value date the next day, and P, a pending order: not counted.
async fn scenario(app: &TestApp, s: &Shop) {
    let paris = "Europe/Paris";
    let day = |t: &str| at(&format!("2026-03-10T{t}"), paris);
    sell(
        app,
        s,
        &[
            ("payment", s.id("Cash")),
            ("paymentAmount", "20,00".into()),
            ("itemsList[]", format!("{}_1", s.id("Mug"))),
            ("itemsList[]", format!("{}_2", s.id("Espresso"))),
            ("idUser", s.id("claire")),
            ("idcaisse", s.id("Counter")),
            ("dateValeur", day("10:15")),
        ],
    )
    .await;
    sell(
        app,
        s,
        &[
            ("payment", s.id("Card")),
            ("itemsList[]", s.id("Jambon-beurre")),
            ("idUser", s.id("hugo")),
            ("idcaisse", s.id("Web")),
            ("deliveryMethod", "1".into()),
            ("dateValeur", day("12:30")),
        ],
    )
    .await;
    sell(
        app,
        s,
        &[
            ("payment", s.id("Card")),
            ("itemsList[]", s.id("Mug")),
            ("idUser", s.id("hugo")),
            ("idcaisse", s.id("Counter")),
            ("dateValeur", day("18:05")),
        ],
    )
    .await;
    let r = sell(
        app,
        s,
        &[
            ("payment", s.id("Cash refund")),
            ("itemsList[]", format!("{}_-1", s.id("Mug"))),
            ("idUser", s.id("hugo")),
            ("idcaisse", s.id("Counter")),
            ("dateValeur", day("18:30")),
        ],
    )
    .await;
    assert_eq!(r["isRefund"], true, "{r}");
    sell(
        app,
        s,
        &[
            ("payment", s.id("Card")),
            ("itemsList[]", s.id("Quiche")),
            ("idUser", s.id("claire")),
            ("dateValeur", at("2026-03-11T09:00", paris)),
        ],
    )
    .await;
    sell(
        app,
        s,
        &[
            ("payment", "-2".into()),
            ("itemsList[]", s.id("Tea")),
            ("dateValeur", day("11:00")),
        ],
    )
    .await;
}

const DAY: [(&str, &str); 3] = [("d", "10"), ("m", "3"), ("y", "2026")];

fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = DAY.to_vec();
    v.extend_from_slice(extra);
    v
}

fn n(v: &Value) -> String {
    v.to_string()
}

/// Every total of a table equals the sum of its rows (in minor units).
fn assert_sums(what: &str, table: &Value, fields: &[&str]) {
    for f in fields {
        let rows: i64 = table["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| minor(&r[f]))
            .sum();
        assert_eq!(rows, minor(&table["total"][f]), "{what}.{f}");
    }
}

fn minor(v: &Value) -> i64 {
    let t = v.to_string();
    let neg = t.starts_with('-');
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let x: i64 = digits.parse().unwrap_or(0);
    let x = if t.contains('.') { x } else { x * 100 };
    if neg { -x } else { x }
}

#[tokio::test]
async fn the_scenario_in_every_format() {
    for db in TestDb::all() {
        let b = db.schema().unwrap_or("sqlite").to_string();
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Report shop", Licence::Extended).await;
        scenario(&app, &s).await;

        // JSON: the whole model.
        let g = report(&app, &s, &s.key, &with(&[("formatExport", "json")])).await;
        assert_eq!(g.status, 200, "{b}: {}", g.text());
        assert_eq!(
            g.headers["content-disposition"],
            format!("attachment; filename=\"sales-{}-2026-03-10.json\"", s.id),
            "{b}"
        );
        let j = g.json();
        let sm = &j["summary"];
        assert_eq!(sm["orders"], 3, "{b}: {sm}");
        assert_eq!(sm["refunds"], 1, "{b}");
        assert_eq!(n(&sm["refundsAmount"]), "-12.00", "{b}");
        assert_eq!(n(&sm["gross"]), "20.50", "{b}");
        assert_eq!(n(&sm["VAT"]), "2.78", "{b}");
        assert_eq!(n(&sm["net"]), "17.72", "{b}");
        assert_eq!(n(&sm["averageBasket"]), "6.83", "{b}");
        assert_eq!(n(&sm["paymentsReceived"]), "24.90", "{b}");
        assert_eq!(n(&sm["changeGiven"]), "4.40", "{b}");
        assert_eq!(j["from"], "2026-03-10T00:00:00+01:00", "{b}");
        assert_eq!(j["to"], "2026-03-11T00:00:00+01:00", "{b}");
        let vat = &j["VAT"];
        assert_eq!(n(&vat["rows"][0]["rate"]), "20.0", "{b}: {vat}");
        assert_eq!(n(&vat["rows"][0]["total"]), "12.00", "{b}");
        assert_eq!(n(&vat["rows"][0]["VAT"]), "2.00", "{b}");
        assert_eq!(n(&vat["rows"][1]["rate"]), "10.0", "{b}");
        assert_eq!(n(&vat["rows"][1]["total"]), "8.50", "{b}");
        assert_eq!(n(&vat["rows"][1]["VAT"]), "0.78", "{b}");
        assert_eq!(n(&vat["rows"][1]["base"]), "7.72", "{b}");
        assert_eq!(n(&vat["total"]["VAT"]), "2.78", "{b}");
        assert_sums("VAT", vat, &["base", "VAT", "total"]);
        let pay: BTreeMap<String, (i64, String)> = j["payments"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    (p["count"].as_i64().unwrap(), n(&p["amount"])),
                )
            })
            .collect();
        assert_eq!(pay["Cash"], (1, "20.00".into()), "{b}: {pay:?}");
        assert_eq!(pay["Card"], (2, "16.90".into()), "{b}");
        assert_eq!(pay["Cash refund"], (1, "-12.00".into()), "{b}");
        assert_sums("payments", &j["payments"], &["count", "amount"]);
        let by_name = |table: &str| -> BTreeMap<String, (i64, String)> {
            j[table]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["name"].as_str().unwrap().to_string(),
                        (r["orders"].as_i64().unwrap(), n(&r["gross"])),
                    )
                })
                .collect()
        };
        let users = by_name("users");
        assert_eq!(users["Claire"], (1, "15.60".into()), "{b}: {users:?}");
        assert_eq!(users["Hugo"], (3, "4.90".into()), "{b}");
        let boxes = by_name("cashBoxes");
        assert_eq!(boxes["Counter"], (3, "15.60".into()), "{b}: {boxes:?}");
        assert_eq!(boxes["Web"], (1, "4.90".into()), "{b}");
        let delivery = by_name("deliveryMethods");
        assert_eq!(
            delivery["Delivery"],
            (1, "4.90".into()),
            "{b}: {delivery:?}"
        );
        for (t, f) in [
            ("users", &["orders", "gross"][..]),
            ("cashBoxes", &["orders", "gross"]),
            ("deliveryMethods", &["orders", "gross"]),
            ("departments", &["quantity", "gross", "VAT"]),
            ("departmentGroups", &["quantity", "gross", "VAT"]),
            ("items", &["quantity", "gross"]),
            ("hours", &["orders", "gross"]),
        ] {
            assert_sums(t, &j[t], f);
            assert_eq!(n(&j[t]["total"]["gross"]), "20.50", "{b}: {t}");
        }
        let items: BTreeMap<String, (String, String)> = j["items"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["title"].as_str().unwrap().to_string(),
                    (n(&r["quantity"]), n(&r["gross"])),
                )
            })
            .collect();
        assert_eq!(items["Mug"], ("1".into(), "12.00".into()), "{b}: {items:?}");
        assert_eq!(items["Espresso"], ("2".into(), "3.60".into()), "{b}");
        let hours = j["hours"]["rows"].as_array().unwrap();
        assert_eq!(hours.len(), 24, "{b}");
        assert_eq!(hours[10]["orders"], 1, "{b}");
        assert_eq!(hours[18]["orders"], 2, "{b}");
        assert_eq!(n(&hours[18]["gross"]), "0.00", "{b}");
        let sales = j["sales"].as_array().unwrap();
        assert_eq!(sales.len(), 4, "{b}");
        assert_eq!(
            sales.iter().map(|s| minor(&s["total"])).sum::<i64>(),
            2050,
            "{b}"
        );
        assert_eq!(sales[0]["time"], "2026-03-10T10:15:00+01:00", "{b}");

        // getOrders.php for that day agrees.
        let key = s.key.clone();
        let id = s.id.to_string();
        let orders: Value = app
            .get(&format!(
                "/workers/getOrders.php?{}",
                encode_form(&[
                    ("idboutique", &id),
                    ("key", &key),
                    ("from_date_ISO8601", "2026-03-10"),
                    ("to_date_ISO8601", "2026-03-10"),
                ])
            ))
            .await
            .json()
            .await
            .unwrap();
        let orders = orders.as_array().expect("orders");
        assert_eq!(orders.len(), 4, "{b}");
        assert_eq!(
            orders.iter().map(|o| minor(&o["price"])).sum::<i64>(),
            2050,
            "{b}"
        );
        assert_eq!(
            orders.iter().map(|o| minor(&o["VAT"])).sum::<i64>(),
            278,
            "{b}"
        );

        // CSV: the sales table, `;` separator.
        let g = report(
            &app,
            &s,
            &s.key,
            &with(&[("formatExport", "csv"), ("sep", ";")]),
        )
        .await;
        assert_eq!(g.status, 200, "{b}");
        assert_eq!(g.headers["content-type"], "text/csv; charset=utf-8");
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(&g.body[..]);
        let h = r.headers().unwrap().clone();
        let total = h.iter().position(|c| c == "total").unwrap();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 4, "{b}");
        let sum: i64 = rows
            .iter()
            .map(|r| minor(&Value::String(r[total].into())))
            .sum();
        let sum_csv: i64 = rows
            .iter()
            .map(|r| r[total].replace('.', "").parse::<i64>().unwrap())
            .sum();
        assert_eq!((sum != 0, sum_csv), (true, 2050), "{b}");

        // XML: the whole model.
        let g = report(&app, &s, &s.key, &with(&[("formatExport", "XML")])).await;
        assert_eq!(g.headers["content-type"], "application/xml; charset=utf-8");
        let xml = xml_values(&g.body);
        assert_eq!(xml["salesReport/summary/gross"], vec!["20.50"], "{b}");
        assert_eq!(xml["salesReport/summary/VAT"], vec!["2.78"], "{b}");
        assert_eq!(xml["salesReport/VAT/total/VAT"], vec!["2.78"], "{b}");
        let totals: i64 = xml["salesReport/sales/sale/total"]
            .iter()
            .map(|t| t.replace('.', "").parse::<i64>().unwrap())
            .sum();
        assert_eq!(totals, 2050, "{b}");

        // XLSX: one sheet per table, numbers as numbers.
        let g = report(&app, &s, &s.key, &with(&[("formatExport", "xls")])).await;
        assert_eq!(g.status, 200, "{b}");
        assert!(
            g.headers["content-disposition"]
                .to_str()
                .unwrap()
                .ends_with(".xlsx\"")
        );
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(g.body.clone())).expect("xlsx");
        let summary = book.worksheet_range("Summary").expect("Summary sheet");
        let gross = summary
            .rows()
            .find(|r| r[0].to_string().starts_with("Gross"))
            .expect("gross row");
        assert_eq!(gross[1], calamine::Data::Float(20.5), "{b}");
        let sales = book.worksheet_range("Sales").expect("Sales sheet");
        let sum: f64 = sales
            .rows()
            .skip(1)
            .map(|r| r[7].get_float().unwrap())
            .sum();
        assert!((sum - 20.5).abs() < 1e-9, "{b}: {sum}");
        assert!(
            matches!(sales.rows().nth(1).unwrap()[2], calamine::Data::DateTime(_)),
            "{b}"
        );
        for sheet in [
            "VAT",
            "Payment methods",
            "Departments",
            "Items",
            "Users",
            "Cash boxes",
            "Sales per hour",
        ] {
            assert!(book.worksheet_range(sheet).is_ok(), "{b}: {sheet}");
        }

        // FEC: balanced entries, the 18 columns.
        let g = report(&app, &s, &s.key, &with(&[("formatExport", "frafec")])).await;
        assert_eq!(g.headers["content-type"], "text/plain; charset=iso-8859-15");
        let text: String = g.body.iter().map(|&b| b as char).collect();
        check_fec(&b, &text, 4);
        let lines: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split('\t').collect())
            .collect();
        let credit = |prefix: &str| -> i64 {
            lines
                .iter()
                .filter(|l| l[4].starts_with(prefix))
                .map(|l| amount(l[12]) - amount(l[11]))
                .sum()
        };
        assert_eq!(credit("707"), 1772, "{b}: net");
        assert_eq!(credit("4457"), 278, "{b}: VAT");
        assert_eq!(
            credit("530000"),
            -(2000 - 440),
            "{b}: cash kept, change left out"
        );
        assert_eq!(credit("511200"), -1690, "{b}: cards");
        // "Cash refund" is a method of kind `refund`: the other methods' account.
        assert_eq!(
            credit("511000"),
            1200,
            "{b}: the refund, debit and credit swapped"
        );
        // ISO-8859-15: é is one byte (0xE9), read back here byte by byte.
        assert!(g.body.contains(&0xE9), "{b}");
        assert!(text.contains("TVA collectée 20 %"), "{b}");
        let g = report(
            &app,
            &s,
            &s.key,
            &with(&[("formatExport", "frafec"), ("charset", "utf-8")]),
        )
        .await;
        assert_eq!(g.headers["content-type"], "text/plain; charset=utf-8");
        check_fec(&b, &g.text(), 4);
        assert!(g.text().contains("TVA collectée 20 %"), "{b}: UTF-8");

        // PDF: A4, the figures, page numbers (read back with pdftotext).
        let g = report(&app, &s, &s.key, &with(&[("formatExport", "pdf")])).await;
        assert_eq!(g.status, 200, "{b}");
        assert_eq!(g.headers["content-type"], "application/pdf");
        assert!(g.body.starts_with(b"%PDF-"), "{b}");
        if let Some(text) = pdf_text(&g.body) {
            let line = |label: &str| {
                text.lines()
                    .find(|l| l.trim_start().starts_with(label))
                    .unwrap_or_else(|| panic!("{b}: no {label:?} in\n{text}"))
                    .to_string()
            };
            assert!(
                line("Gross (VAT incl.)").trim_end().ends_with("20.50"),
                "{b}"
            );
            assert!(line("VAT  ").trim_end().ends_with("2.78"), "{b}");
            assert!(line("Change given").trim_end().ends_with("4.40"), "{b}");
            assert!(
                text.contains("Sales of 2026-03-10") && text.contains("Report shop"),
                "{b}"
            );
            assert!(text.contains("Page 1 of"), "{b}");
            assert!(text.contains("-12.00") && text.contains("15.60"), "{b}");
            assert!(text.contains("Generated 20"), "{b}");
        }

        // HTML: self-contained, the figures and the chart.
        for f in ["Std", "html"] {
            let g = report(&app, &s, &s.key, &with(&[("formatExport", f)])).await;
            assert_eq!(g.headers["content-type"], "text/html; charset=utf-8", "{b}");
            let html = g.text();
            assert!(
                html.contains("20.50") && html.contains("2.78") && html.contains("<svg"),
                "{b}"
            );
            assert!(
                !html.contains("src=") && !html.contains("href=") && !html.contains("url("),
                "{b}"
            );
        }
        app.stop().await;
    }
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
        "comptoir-report-{}.pdf",
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

fn amount(t: &str) -> i64 {
    t.replace(',', "")
        .parse::<i64>()
        .unwrap_or_else(|_| panic!("amount {t:?}"))
}

/// The FEC's structural checks (docs/reports.md): the header, 18 fields on every line,
/// dates `yyyyMMdd`, amounts with a comma and two decimals, one side per line, entries
/// numbered from 1 without gaps, each balanced, and the whole file balanced.
fn check_fec(b: &str, text: &str, entries: usize) {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise",
        "{b}"
    );
    let mut per: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 18, "{b}: {l}");
        assert_eq!(f[0], "VE", "{b}: the default journal");
        for d in [f[3], f[9], f[15]] {
            assert!(
                d.len() == 8 && d.bytes().all(|c| c.is_ascii_digit()),
                "{b}: date {d}"
            );
        }
        assert!(d_ok(f[11]) && d_ok(f[12]), "{b}: {l}");
        let (dr, cr) = (amount(f[11]), amount(f[12]));
        assert!(
            (dr == 0) != (cr == 0) && dr >= 0 && cr >= 0,
            "{b}: one side: {l}"
        );
        assert!(
            !f[4].is_empty() && !f[8].is_empty() && !f[10].is_empty(),
            "{b}: {l}"
        );
        let e = per.entry(f[2].parse().unwrap()).or_default();
        e.0 += dr;
        e.1 += cr;
    }
    assert_eq!(per.len(), entries, "{b}");
    assert_eq!(
        per.keys().copied().collect::<Vec<_>>(),
        (1..=entries as i64).collect::<Vec<_>>()
    );
    for (num, (d, c)) in &per {
        assert_eq!(d, c, "{b}: entry {num} balances");
    }
}

fn d_ok(t: &str) -> bool {
    let mut p = t.split(',');
    let (i, f) = (p.next().unwrap_or(""), p.next().unwrap_or(""));
    !i.is_empty() && i.bytes().all(|c| c.is_ascii_digit()) && f.len() == 2 && p.next().is_none()
}

/// Texts of the XML's elements by their path (`salesReport/summary/gross`), rows skipped
/// (`sales/row/total` is `sales/sale/total`... the sales are `<sale>` elements).
fn xml_values(body: &[u8]) -> HashMap<String, Vec<String>> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).expect("well-formed XML") {
            Event::Start(e) => path.push(e.name().as_ref().to_string()),
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let t = t.into_inner().to_string();
                if !t.trim().is_empty() {
                    out.entry(path.join("/")).or_default().push(t);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

#[tokio::test]
async fn days_filters_zones_and_refusals() {
    for db in TestDb::all() {
        let b = db.schema().unwrap_or("sqlite").to_string();
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "Report edges", Licence::Extended).await;
        scenario(&app, &s).await;
        let paris = "Europe/Paris";
        let gross = |g: &Got| n(&g.json()["summary"]["gross"]);

        // Filters by cash box and by user.
        let counter = s.id("Counter");
        let g = report(
            &app,
            &s,
            &s.key,
            &with(&[("formatExport", "json"), ("idcaisse", &counter)]),
        )
        .await;
        let j = g.json();
        assert_eq!(
            (gross(&g), j["summary"]["orders"].clone()),
            ("15.60".into(), Value::from(2)),
            "{b}"
        );
        assert_eq!(j["filters"]["cashBoxID"].to_string(), counter, "{b}");
        let hugo = s.id("hugo");
        let g = report(
            &app,
            &s,
            &s.key,
            &with(&[("formatExport", "json"), ("idUser", &hugo)]),
        )
        .await;
        assert_eq!(gross(&g), "4.90", "{b}");
        assert_eq!(g.json()["sales"].as_array().unwrap().len(), 3, "{b}");
        let g = report(
            &app,
            &s,
            &s.key,
            &with(&[("formatExport", "json"), ("idUser", "x")]),
        )
        .await;
        assert_eq!(g.status, 400, "{b}");
        assert_eq!(g.json()["error"]["field"], "idUser", "{b}");

        // The sale with its value date the next day is that day's.
        let g = report(
            &app,
            &s,
            &s.key,
            &[
                ("d", "11"),
                ("m", "3"),
                ("y", "2026"),
                ("formatExport", "json"),
            ],
        )
        .await;
        assert_eq!(gross(&g), "5.50", "{b}");

        // An empty day and a future day: 200 and zeros, the 24 hours all there.
        for (d, y) in [("9", "2026"), ("9", "2031")] {
            let g = report(
                &app,
                &s,
                &s.key,
                &[("d", d), ("m", "3"), ("y", y), ("formatExport", "JSON")],
            )
            .await;
            assert_eq!(g.status, 200, "{b}");
            let j = g.json();
            assert_eq!(
                (n(&j["summary"]["gross"]), j["summary"]["orders"].as_i64()),
                ("0.00".into(), Some(0)),
                "{b}"
            );
            assert_eq!(j["hours"]["rows"].as_array().unwrap().len(), 24, "{b}");
            assert!(j["sales"].as_array().unwrap().is_empty(), "{b}");
            for f in ["csv", "xml", "xlsx", "frafec", "std", "pdf"] {
                let g = report(
                    &app,
                    &s,
                    &s.key,
                    &[("d", d), ("m", "3"), ("y", y), ("formatExport", f)],
                )
                .await;
                assert_eq!(g.status, 200, "{b}: empty {f}");
                assert!(!g.body.is_empty(), "{b}: {f}");
            }
        }

        // DST days in Paris: 23 and 25 hours, sales in the right buckets.
        sell(
            &app,
            &s,
            &[
                ("payment", s.id("Card")),
                ("itemsList[]", s.id("Tea")),
                ("dateValeur", at("2026-03-29T03:30", paris)),
            ],
        )
        .await;
        sell(
            &app,
            &s,
            &[
                ("payment", s.id("Card")),
                ("itemsList[]", s.id("Tea")),
                ("dateValeur", at("2026-03-29T23:30", paris)),
            ],
        )
        .await;
        let g = report(
            &app,
            &s,
            &s.key,
            &[
                ("d", "29"),
                ("m", "3"),
                ("y", "2026"),
                ("formatExport", "json"),
            ],
        )
        .await;
        let j = g.json();
        assert_eq!(j["from"], "2026-03-29T00:00:00+01:00", "{b}");
        assert_eq!(j["to"], "2026-03-30T00:00:00+02:00", "{b}");
        let hours = j["hours"]["rows"].as_array().unwrap();
        assert_eq!(hours.len(), 23, "{b}");
        assert_eq!(
            (hours[2]["hour"].as_str(), hours[2]["orders"].as_i64()),
            (Some("03:00"), Some(1)),
            "{b}"
        );
        assert_eq!(
            (hours[22]["hour"].as_str(), hours[22]["orders"].as_i64()),
            (Some("23:00"), Some(1)),
            "{b}"
        );
        assert_eq!(n(&j["summary"]["gross"]), "5.00", "{b}");
        // 25 October 2026: 02:00 twice; the second 02:30 (+01:00) is the fourth bucket.
        let second = "2026-10-25T02:30:00+01:00"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
            .to_string();
        sell(
            &app,
            &s,
            &[
                ("payment", s.id("Card")),
                ("itemsList[]", s.id("Tea")),
                ("dateValeur", second),
            ],
        )
        .await;
        let g = report(
            &app,
            &s,
            &s.key,
            &[
                ("d", "25"),
                ("m", "10"),
                ("y", "2026"),
                ("formatExport", "json"),
            ],
        )
        .await;
        let j = g.json();
        let hours = j["hours"]["rows"].as_array().unwrap();
        assert_eq!(hours.len(), 25, "{b}");
        assert_eq!(hours[3]["from"], "2026-10-25T02:00:00+01:00", "{b}");
        assert_eq!(
            (hours[3]["hour"].as_str(), hours[3]["orders"].as_i64()),
            (Some("02:00"), Some(1)),
            "{b}"
        );
        assert_eq!(hours[2]["orders"], 0, "{b}");

        // Bad days and formats: 400 naming the field; saft named as refused.
        for (extra, field) in [
            (vec![("d", "31"), ("m", "2"), ("y", "2026")], "d"),
            (vec![("d", "1"), ("m", "13")], "m"),
            (vec![("y", "20x6")], "y"),
            (vec![("formatExport", "saft")], "formatExport"),
            (vec![("formatExport", "csv"), ("sep", "#")], "sep"),
            (
                vec![("formatExport", "frafec"), ("charset", "koi8-r")],
                "charset",
            ),
        ] {
            let g = report(&app, &s, &s.key, &extra).await;
            assert_eq!(g.status, 400, "{b}: {extra:?}");
            let e = &g.json()["error"];
            assert_eq!(e["field"], field, "{b}: {extra:?}");
            assert_eq!(e["code"], "invalid_parameter", "{b}");
            if field == "formatExport" {
                assert!(e["message"].as_str().unwrap().contains("saft"), "{b}: {e}");
            }
        }

        // Isolation: another shop's key cannot read this shop; the licence is required.
        let other = demo_shop(&app, "Other shop", Licence::Extended).await;
        let g = report(&app, &s, &other.key, &with(&[("formatExport", "json")])).await;
        assert_eq!(g.status, 401, "{b}");
        let g = report(&app, &other, &other.key, &with(&[("formatExport", "json")])).await;
        assert_eq!(
            (g.status, gross(&g)),
            (200, "0.00".into()),
            "{b}: the other shop's day is its own"
        );
        let standard = demo_shop(&app, "Standard shop", Licence::Standard).await;
        let g = report(&app, &standard, &standard.key, &with(&[])).await;
        assert_eq!(g.status, 403, "{b}");
        assert_eq!(g.json()["error"]["code"], "licence_required", "{b}");

        // Default day: yesterday in the shop's zone.
        let g = report(&app, &s, &s.key, &[("formatExport", "json")]).await;
        let yesterday = jiff::Zoned::now()
            .with_time_zone(jiff::tz::TimeZone::get(paris).unwrap())
            .date()
            .yesterday()
            .unwrap()
            .to_string();
        assert_eq!(g.json()["day"], yesterday, "{b}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_shop_in_another_time_zone() {
    for db in TestDb::all() {
        let b = db.schema().unwrap_or("sqlite").to_string();
        let app = TestApp::spawn(&db).await;
        let s = demo_shop(&app, "New York shop", Licence::Extended).await;
        let id = s.id;
        app.store
            .write(move |c| {
                c.execute(
                    "update shops set timezone = 'America/New_York' where id = $1",
                    params![id],
                )
            })
            .await
            .expect("zone");
        let ny = "America/New_York";
        // 23:30 on 10 March in New York is 11 March in Paris and UTC.
        for t in ["2026-03-10T00:30", "2026-03-10T23:30", "2026-03-11T00:10"] {
            sell(
                &app,
                &s,
                &[
                    ("payment", s.id("Card")),
                    ("itemsList[]", s.id("Mug")),
                    ("dateValeur", at(t, ny)),
                ],
            )
            .await;
        }
        let g = report(&app, &s, &s.key, &with(&[("formatExport", "json")])).await;
        let j = g.json();
        assert_eq!(j["timeZone"], ny, "{b}");
        assert_eq!(j["from"], "2026-03-10T00:00:00-04:00", "{b}");
        assert_eq!(n(&j["summary"]["gross"]), "24.00", "{b}");
        let hours = j["hours"]["rows"].as_array().unwrap();
        assert_eq!(
            (hours[0]["orders"].as_i64(), hours[23]["orders"].as_i64()),
            (Some(1), Some(1)),
            "{b}"
        );

        // The shop's FEC settings reach the export.
        app.store
            .write(move |c| {
                comptoir_store::report::set_fec_setting(c, id, "journal.code", "VT")?;
                comptoir_store::report::set_fec_setting(c, id, "payment.card", "512300")
            })
            .await
            .expect("settings");
        let g = report(&app, &s, &s.key, &with(&[("formatExport", "frafec")])).await;
        let text: String = g.body.iter().map(|&b| b as char).collect();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines.len(),
            2 * 3,
            "{b}: card, sales and VAT for each of 2 orders"
        );
        assert!(lines.iter().all(|l| l.starts_with("VT\t")), "{b}");
        let card = lines.iter().filter(|l| l.contains("\t512300\t")).count();
        assert_eq!(card, 2, "{b}");
        app.stop().await;
    }
}
