//! The automatic closing inside a real server, on each backend, driven by a fake clock:
//! sales over several days of October and November 2026 in Paris, with a day without sales
//! and the 25-hour DST day (Sunday 25 October); days close at the closing hour, months and
//! the fiscal year (from November, a shop setting) once their last day has; the server
//! stopped for days catches up in order at start; a sale into a closed day is refused; the
//! perpetual grand total is the sum of every sale; verify catches a forged month closing.
//! A closed day's report shows its closing in every format, and a `closing` webhook event
//! carries its head out.

use comptoir_core::fiscal_key::FiscalKey;
use comptoir_core::model::Licence;
use comptoir_server::closings::{KeySource, Settings};
use comptoir_store::closings::{self, ClosingRow};
use comptoir_store::journal::{PeriodFault, Problem, Verification, verify_pinned};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{FakeClock, TestApp, TestDb};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const SEED: [u8; 32] = [7; 32];

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

async fn post_sale(app: &TestApp, shop: i64, key: &str, form: &[(&str, String)]) -> (u16, Value) {
    let mut all = vec![("idboutique", shop.to_string()), ("key", key.to_string())];
    all.extend(form.iter().cloned());
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app.post_form("/workers/webapp.php", &pairs).await;
    (res.status().as_u16(), res.json().await.expect("JSON"))
}

async fn spawn(db: &TestDb, clock: &FakeClock) -> TestApp {
    let clock = clock.clone();
    TestApp::spawn_with(db, move |c| {
        c.closings = Settings {
            key: Some(KeySource::Key(Arc::new(FiscalKey::from_seed(SEED)))),
            clock: Arc::new(clock),
            poll: Duration::from_millis(20),
        };
    })
    .await
}

/// Waits until the shop has `n` closings (of every kind), then a little more to see that no
/// other comes; returns them in chain order.
async fn closings_settle(store: &Store, shop: i64, n: usize) -> Vec<ClosingRow> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = store
            .read(move |c| closings::list_all(c, shop))
            .await
            .unwrap();
        if rows.len() >= n {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let again = store
                .read(move |c| closings::list_all(c, shop))
                .await
                .unwrap();
            assert_eq!(again.len(), n, "{:?}", summary(&again));
            return again;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} closings, got {:?}",
            summary(&rows)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn summary(rows: &[ClosingRow]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{} {}", r.period, r.day))
        .collect()
}

fn entry(r: &ClosingRow) -> Value {
    serde_json::from_str(&r.entry).unwrap()
}

fn find<'a>(rows: &'a [ClosingRow], period: &str, day: &str) -> &'a ClosingRow {
    rows.iter()
        .find(|r| r.period == period && r.day == day)
        .unwrap_or_else(|| panic!("no {period} {day} in {:?}", summary(rows)))
}

#[tokio::test]
async fn serve_closes_days_then_months_and_years_by_itself_and_catches_up_after_a_stop() {
    for db in TestDb::all() {
        let clock = FakeClock::at("2026-10-20T12:00:00Z");
        let app = spawn(&db, &clock).await;
        let created = app.create_shop("Auto", Licence::Extended).await;
        let (shop, key) = (created.shop_id, created.api_key.clone());
        comptoir_testkit::import_demo(&app.store, shop).await;
        // Fiscal years from November: "2025" runs from November 2025 to October 2026.
        app.store
            .write(move |c| closings::settings::set(c, shop, Some(11), None))
            .await
            .unwrap();
        let mug = id_of(&app.store, shop, "items", "Mug").await;
        let espresso = id_of(&app.store, shop, "items", "Espresso").await;
        let cash = id_of(&app.store, shop, "payment_methods", "Cash").await;
        let card = id_of(&app.store, shop, "payment_methods", "Card").await;
        // 23 Oct: a Mug 12.00 in cash, two Espresso 3.60 by card; 24 Oct: nothing;
        // 25 Oct (25 hours): a Mug at 02:30 (the hour that happens twice) and one at
        // 23:30; 26 Oct: an Espresso; 2 Nov: a Mug.
        let sales = [
            ("2026-10-23T10:00", format!("{mug}_1"), &cash, "12,00"),
            ("2026-10-23T21:00", format!("{espresso}_2"), &card, "3,60"),
            ("2026-10-25T02:30", format!("{mug}_1"), &cash, "12,00"),
            ("2026-10-25T23:30", format!("{mug}_1"), &card, "12,00"),
            ("2026-10-26T09:00", format!("{espresso}_1"), &cash, "1,80"),
            ("2026-11-02T09:00", format!("{mug}_1"), &cash, "12,00"),
        ];
        for (when, item, method, amount) in &sales {
            let (status, json) = post_sale(
                &app,
                shop,
                &key,
                &[
                    ("dateValeur", at(when)),
                    ("itemsList[]", item.clone()),
                    ("payment", (*method).clone()),
                    ("paymentAmount", (*amount).into()),
                ],
            )
            .await;
            assert_eq!(status, 200, "{}: {when}: {json}", db.backend);
        }
        // 03:59 in Paris on the 24th: the 23rd is not closed yet; 04:00: it is.
        clock.set("2026-10-24T01:59:00Z");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(closings_settle(&app.store, shop, 0).await.is_empty());
        clock.set("2026-10-24T02:00:00Z");
        let rows = closings_settle(&app.store, shop, 1).await;
        let d23 = entry(&rows[0]);
        assert_eq!(
            (rows[0].period.as_str(), rows[0].day.as_str()),
            ("day", "2026-10-23")
        );
        assert_eq!(
            (
                d23["sales"].as_i64(),
                d23["total"].as_i64(),
                d23["vat"].as_i64()
            ),
            (Some(2), Some(1560), Some(233)),
            "{}: {d23}",
            db.backend
        );
        // A sale into the closed day is refused, even late in the evening.
        let (status, json) = post_sale(
            &app,
            shop,
            &key,
            &[
                ("dateValeur", at("2026-10-23T23:59")),
                ("itemsList[]", format!("{mug}_1")),
                ("payment", cash.clone()),
                ("paymentAmount", "12,00".into()),
            ],
        )
        .await;
        assert_eq!(
            (status, json["error"]["code"].as_str()),
            (409, Some("period_closed")),
            "{}: {json}",
            db.backend
        );

        // The server stops for ten days; at start it closes 24 Oct to 2 Nov in order, and
        // October and the fiscal year 2025 right after 31 October.
        app.stop().await;
        clock.set("2026-11-03T12:00:00Z");
        let app = spawn(&db, &clock).await;
        let rows = closings_settle(&app.store, shop, 1 + 10 + 2).await;
        let order: Vec<String> = summary(&rows);
        let october_at = order.iter().position(|s| s == "month 2026-10").unwrap();
        assert_eq!(order[october_at - 1], "day 2026-10-31", "{order:?}");
        assert_eq!(order[october_at + 1], "year 2025", "{order:?}");
        assert_eq!(order[october_at + 2], "day 2026-11-01", "{order:?}");
        assert_eq!(order.last().unwrap(), "day 2026-11-02");
        let days: Vec<&ClosingRow> = rows.iter().filter(|r| r.period == "day").collect();
        assert_eq!(
            days.iter().map(|r| r.number).collect::<Vec<_>>(),
            (1..=11).collect::<Vec<_>>()
        );
        let empty = entry(find(&rows, "day", "2026-10-24"));
        assert_eq!(
            (empty["sales"].as_i64(), empty["total"].as_i64()),
            (Some(0), Some(0))
        );
        let dst = entry(find(&rows, "day", "2026-10-25"));
        assert_eq!(
            dst["to"].as_i64().unwrap() - dst["from"].as_i64().unwrap(),
            25 * 3_600_000_000,
            "the day the clocks go back lasts 25 hours"
        );
        assert_eq!(
            (dst["sales"].as_i64(), dst["total"].as_i64()),
            (Some(2), Some(2400))
        );
        let october = entry(find(&rows, "month", "2026-10"));
        assert_eq!(
            (
                october["sales"].as_i64(),
                october["total"].as_i64(),
                october["number"].as_i64()
            ),
            (Some(5), Some(1560 + 2400 + 180), Some(1)),
            "{}: {october}",
            db.backend
        );
        let vat_total: i64 = october["vats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["total"].as_i64().unwrap())
            .sum();
        assert_eq!(vat_total, 4140);
        let paid: i64 = october["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(paid, 4140);
        assert_eq!(
            october["grand_total"],
            entry(find(&rows, "day", "2026-10-31"))["grand_total"]
        );
        let year = entry(find(&rows, "year", "2025"));
        assert_eq!(
            (year["total"].as_i64(), year["sales"].as_i64()),
            (Some(4140), Some(5))
        );
        let fy_from: jiff::Timestamp = "2025-10-31T23:00:00Z".parse().unwrap();
        assert_eq!(year["from"].as_i64(), Some(fy_from.as_microsecond()));

        // 1 December at 04:00 in Paris: November's days, then November.
        clock.set("2026-12-01T03:00:00Z");
        let rows = closings_settle(&app.store, shop, 13 + 28 + 1).await;
        let november = entry(find(&rows, "month", "2026-11"));
        assert_eq!(
            (november["total"].as_i64(), november["number"].as_i64()),
            (Some(1200), Some(2))
        );
        let every_sale: i64 = app
            .store
            .read(move |c| {
                c.query_one(
                    "select cast(coalesce(sum(total), 0) as bigint) from orders
                     where shop_id = $1 and status <> 'pending'",
                    params![shop],
                )?
                .i64(0)
            })
            .await
            .unwrap();
        assert_eq!(every_sale, 5340);
        assert_eq!(
            november["grand_total"].as_i64(),
            Some(every_sale),
            "the perpetual total"
        );
        assert_eq!(
            entry(rows.iter().rfind(|r| r.period == "day").unwrap())["grand_total"].as_i64(),
            Some(every_sale)
        );

        // verify, with the server's public key pinned, accepts it all.
        let public = FiscalKey::from_seed(SEED).public_hex();
        let p = public.clone();
        let v = app
            .store
            .read(move |c| verify_pinned(c, shop, Some(&p)))
            .await
            .unwrap();
        assert!(
            matches!(v, Verification::Intact { .. }),
            "{}: {v:?}",
            db.backend
        );

        // A forged November (a sale taken off its total), re-sealed and re-signed with the
        // server's own key: the chain and the signature hold, the sum of its days does not.
        let last = rows.last().unwrap().clone();
        assert_eq!(
            (last.period.as_str(), last.day.as_str()),
            ("month", "2026-11")
        );
        forge(&app.store, shop, &last, &FiscalKey::from_seed(SEED)).await;
        assert_eq!(
            problem(&app.store, shop, Some(public.clone())).await,
            PeriodFault::Sum
        );
        // Signed with another key: caught by the pinned key, else by the sum.
        forge(&app.store, shop, &last, &FiscalKey::from_seed([8; 32])).await;
        assert!(matches!(
            problem(&app.store, shop, Some(public.clone())).await,
            PeriodFault::Key { .. }
        ));
        assert_eq!(problem(&app.store, shop, None).await, PeriodFault::Sum);
        app.stop().await;
    }
}

/// Replaces the last closing's total and grand total by 0 and re-seals and re-signs it,
/// as someone with the database and `key` could.
async fn forge(store: &Store, shop: i64, last: &ClosingRow, key: &FiscalKey) {
    let e = entry(last);
    let forged = last
        .entry
        .replace(&format!("\"total\":{}", e["total"]), "\"total\":0")
        .replace(
            &format!("\"grand_total\":{}", e["grand_total"]),
            &format!(
                "\"grand_total\":{}",
                e["grand_total"].as_i64().unwrap() - e["total"].as_i64().unwrap()
            ),
        );
    assert_ne!(forged, last.entry);
    let signature = key.sign(forged.as_bytes());
    let public = key.public_hex();
    let seq = last.journal_seq;
    store
        .write(move |c| {
            let previous = c
                .query_one(
                    "select seal from journal where shop_id = $1 and seq = $2",
                    params![shop, seq - 1],
                )?
                .string(0)?;
            let resealed = comptoir_core::seal::seal(&previous, forged.as_bytes());
            c.execute(
                "update closings set entry = $1, signature = $2, public_key = $3
                 where shop_id = $4 and journal_seq = $5",
                params![
                    forged.as_str(),
                    signature.as_str(),
                    public.as_str(),
                    shop,
                    seq
                ],
            )?;
            c.execute(
                "update journal set seal = $1 where shop_id = $2 and seq = $3",
                params![resealed.as_str(), shop, seq],
            )?;
            c.execute(
                "update shop_counters set journal_head = $1 where shop_id = $2",
                params![resealed.as_str(), shop],
            )?;
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
}

async fn problem(store: &Store, shop: i64, pinned: Option<String>) -> PeriodFault {
    let v = store
        .read(move |c| verify_pinned(c, shop, pinned.as_deref()))
        .await
        .unwrap();
    match v {
        Verification::Broken(b) => match b.problem.clone() {
            Problem::PeriodClosing { fault, .. } => fault,
            other => panic!("expected a month closing's problem, got {other:?}: {b}"),
        },
        Verification::Intact { .. } => panic!("a forged month closing passed verify"),
    }
}

/// The text pdftotext reads in a PDF, or `None` when it is missing (a failure in strict
/// mode).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let available = std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok();
    if !comptoir_testkit::require(available, "pdftotext (poppler-utils)") {
        return None;
    }
    let file = std::env::temp_dir().join(format!(
        "comptoir-closing-{}.pdf",
        comptoir_store::hex(&comptoir_store::random_bytes::<8>())
    ));
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([file.as_os_str(), "-".as_ref()])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn a_closed_days_report_shows_its_closing_in_every_format() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let created = app.create_shop("Rapport", Licence::Extended).await;
        let (shop, key) = (created.shop_id, created.api_key.clone());
        comptoir_testkit::import_demo(&app.store, shop).await;
        let mug = id_of(&app.store, shop, "items", "Mug").await;
        let cash = id_of(&app.store, shop, "payment_methods", "Cash").await;
        let (status, json) = post_sale(
            &app,
            shop,
            &key,
            &[
                ("dateValeur", at("2026-10-25T12:00")),
                ("itemsList[]", format!("{mug}_1")),
                ("payment", cash.clone()),
                ("paymentAmount", "12,00".into()),
            ],
        )
        .await;
        assert_eq!(status, 200, "{json}");
        let get = |format: &'static str, day: &'static str| {
            let url = format!(
                "/workers/getSales.php?idboutique={shop}&key={key}&d={day}&m=10&y=2026&formatExport={format}"
            );
            let app = &app;
            async move {
                let res = app.get(&url).await;
                assert_eq!(res.status().as_u16(), 200, "{format}");
                res.bytes().await.unwrap().to_vec()
            }
        };
        // Not closed yet: no closing part.
        let open: Value = serde_json::from_slice(&get("JSON", "25").await).unwrap();
        assert!(open.get("closing").is_none(), "{open}");
        // A receiver keeps the closing's head: the `closing` webhook event.
        let got: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let keep = got.clone();
        let receiver = axum::Router::new().fallback(move |body: String| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, receiver).await });
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        app.store
            .write(move |c| {
                comptoir_store::webhooks::set_endpoint(
                    c,
                    shop,
                    &url,
                    "json",
                    secret,
                    comptoir_store::now_micros(),
                )
            })
            .await
            .unwrap();
        let now: jiff::Timestamp = "2026-10-26T04:00:00Z".parse().unwrap();
        let row = app
            .store
            .write(move |c| {
                closings::close_day(
                    c,
                    shop,
                    jiff::civil::Date::constant(2026, 10, 25),
                    &FiscalKey::from_seed(SEED),
                    now,
                )
            })
            .await
            .unwrap();
        let closings::Closed::New(row) = row else {
            panic!("{}: not closed now", db.backend)
        };
        let e = entry(&row);
        let head = e["head"].as_str().unwrap().to_string();
        let closed: Value = serde_json::from_slice(&get("JSON", "25").await).unwrap();
        let c = &closed["closing"];
        assert_eq!(
            (
                c["number"].as_i64(),
                c["grandTotal"].to_string(),
                c["grandTotalAbs"].to_string(),
                c["journalEntry"].as_i64(),
                c["head"].as_str(),
                c["signature"].as_str(),
            ),
            (
                Some(1),
                "12.00".to_string(),
                "12.00".to_string(),
                Some(row.journal_seq),
                Some(head.as_str()),
                Some(row.signature.as_str())
            ),
            "{}: {closed}",
            db.backend
        );
        assert_eq!(c["closedAt"], "2026-10-26T05:00:00+01:00");
        let xml = String::from_utf8(get("XML", "25").await).unwrap();
        assert!(
            xml.contains(&format!("<head>{head}</head>"))
                && xml.contains("<grandTotal>12.00</grandTotal>"),
            "{xml}"
        );
        let html = String::from_utf8(get("HTML", "25").await).unwrap();
        assert!(
            html.contains("Fiscal closing") && html.contains(&head),
            "{}",
            db.backend
        );
        let xlsx = get("XLSX", "25").await;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx)).expect("xlsx");
        use calamine::Reader;
        let sheet = book
            .worksheet_range("Fiscal closing")
            .expect("the closing sheet");
        let cells: Vec<String> = sheet.rows().flatten().map(|c| c.to_string()).collect();
        assert!(cells.contains(&head), "{cells:?}");
        if let Some(text) = pdf_text(&get("PDF", "25").await) {
            assert!(
                text.contains("Fiscal closing") && text.contains(&head[..32]),
                "{text}"
            );
        }
        // Another day of the shop stays without one.
        let other: Value = serde_json::from_slice(&get("JSON", "24").await).unwrap();
        assert!(other.get("closing").is_none());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let event: Value = loop {
            let bodies = got.lock().unwrap().clone();
            if let Some(b) = bodies.iter().find(|b| b.contains("\"closing\"")) {
                break serde_json::from_str(b).unwrap();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no closing event: {bodies:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            (
                event["type"].as_str(),
                event["period"].as_str(),
                event["date"].as_str(),
                event["number"].as_i64(),
                event["head"].as_str(),
                event["grandTotal"].to_string(),
            ),
            (
                Some("closing"),
                Some("day"),
                Some("2026-10-25"),
                Some(1),
                Some(head.as_str()),
                "12.00".to_string()
            ),
            "{}: {event}",
            db.backend
        );
        assert_eq!(event["from"], "2026-10-25T00:00:00+02:00");
        assert!(comptoir_core::fiscal_key::verify(
            &FiscalKey::from_seed(SEED).public_hex(),
            event["entry"].as_str().unwrap().as_bytes(),
            event["signature"].as_str().unwrap()
        ));
        assert_eq!(event["entry"].as_str(), Some(row.entry.as_str()));
        app.stop().await;
    }
}
