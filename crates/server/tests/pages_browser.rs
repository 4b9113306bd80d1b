//! The back office in a real headless Chromium (chromedriver, WebDriver): signing in, a
//! wrong password, a form posted without its CSRF token, a cashier refused the
//! configuration, the licence gate, building a query, creating and revoking a key, setting
//! a webhook and re-sending a delivery from its log, the language switch, the jQuery
//! sample run in the page, and screenshots of every page at 1280×800 and 390 px wide in
//! both languages (saved under target/screenshots/).

mod common;

use common::receiver::Receiver;
use common::webdriver::Browser;
use common::{PASSWORD, add_user, set_password};
use comptoir_core::model::{Licence, Role};
use comptoir_testkit::{TestApp, TestDb};
use serde_json::{Value, json};

async fn sign_in(b: &Browser, app: &TestApp, login: &str, password: &str) {
    b.delete_cookies().await;
    b.goto(&app.url("/")).await;
    submit_sign_in(b, login, password).await;
}

/// Fills and sends the sign-in form of the current page.
async fn submit_sign_in(b: &Browser, login: &str, password: &str) {
    b.type_into("#login", login).await;
    b.type_into("#password", password).await;
    b.click_nav("#signin button[type=submit]").await;
}

#[tokio::test]
async fn a_browser_signs_in_manages_keys_builds_a_query_and_switches_language() {
    let Some(b) = Browser::start(1280, 800).await else {
        return;
    };
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Browser shop", Licence::Extended).await;
        comptoir_testkit::import_demo(&app.store, shop.shop_id).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        let cashier = add_user(&app, shop.shop_id, "sam", Role::Cashier).await;

        // A wrong password: the form again with the error, no session.
        sign_in(&b, &app, &shop.admin_login, "not the password").await;
        assert_eq!(b.text("#signin-error").await, "Wrong login or password.");
        assert_eq!(b.count("#sign-out").await, 0);

        sign_in(&b, &app, &shop.admin_login, PASSWORD).await;
        assert_eq!(b.text("h1").await, "Browser shop");
        assert_eq!(b.count("#sign-out").await, 1);

        // A form posted without its token (taken out of the page): refused.
        b.exec(
            "document.querySelector('#new-key-form, form[action=\"/logout\"]')
                 .querySelector('input[name=csrf]').remove();",
            json!([]),
        )
        .await;
        b.click_nav("#sign-out").await;
        assert!(b.text("main").await.contains("This form has expired"));
        b.goto(&app.url("/")).await;
        assert_eq!(b.count("#sign-out").await, 1, "still signed in");

        // Creating a key: shown once; revoking it after the confirmation.
        b.goto(&app.url("/config/webservices")).await;
        assert_eq!(b.text("#shop-id").await, shop.shop_id.to_string());
        b.type_into("#key-label", "Website").await;
        b.click_nav("#new-key-form button").await;
        let key = b.text("#new-key").await;
        assert!(key.starts_with("cpt_"), "{key}");
        // The new key fills the builder.
        let filled = b
            .exec("return document.querySelector('#qb-key').value;", json!([]))
            .await;
        assert_eq!(filled, Value::String(key.clone()));
        b.goto(&app.url("/config/webservices")).await;
        assert!(!b.source().await.contains(&key), "shown twice");
        assert_eq!(b.count("#keys tbody tr").await, 2);
        b.mark().await;
        b.click("#keys tbody tr:last-child button.danger").await;
        b.accept_dialog().await;
        b.wait_new_page().await;
        assert_eq!(b.count("#keys button.danger").await, 1);
        assert!(
            b.text("#keys tbody tr:last-child")
                .await
                .contains("revoked")
        );

        // Building a query: each change regenerates the samples.
        b.type_into("#qb-key", &shop.api_key).await;
        b.click("#qb-freePrice1").await;
        b.type_into("#qb-freePrice1", "4,20").await;
        b.type_into("#qb-freeTitle1", "Gift wrap").await;
        b.click_nav("#qb-delivery option[value='0']").await;
        let url = b.text("#qb-url").await;
        assert!(url.contains("deliveryMethod=0"), "{url}");
        assert!(url.contains("itemsList[]=Free_4%2C20_Gift%20wrap"), "{url}");
        assert_eq!(b.count("code.sample-code").await, 5);
        // An invalid field is flagged and nothing is generated.
        b.type_into("#qb-freePrice1", "lots").await;
        b.click_nav("#build").await;
        assert!(b.text("#builder-errors").await.contains("freePrice1"));
        assert_eq!(b.count("#qb-url").await, 0);
        assert_eq!(b.count("#qb-freePrice1[aria-invalid=true]").await, 1);

        // A cashier is refused the configuration and does not see it in the menu.
        sign_in(&b, &app, &cashier, PASSWORD).await;
        assert_eq!(b.count("a[href='/config/webservices']").await, 0);
        b.goto(&app.url("/config/webservices")).await;
        assert!(
            b.text("main")
                .await
                .contains("Your role does not give access")
        );
        b.goto(&app.url("/orders")).await;
        assert_eq!(b.count("#pending").await, 1);

        // The licence gate of a standard shop.
        let standard = app.create_shop("Standard shop", Licence::Standard).await;
        set_password(&app, standard.shop_id, &standard.admin_login).await;
        sign_in(&b, &app, &standard.admin_login, PASSWORD).await;
        b.goto(&app.url("/config/webservices")).await;
        assert!(b.text("#licence-gate").await.contains(&format!(
            "comptoir shop licence {} --extended",
            standard.shop_id
        )));

        // The language switch sticks across pages.
        b.click_nav("#lang-switch").await;
        b.wait_for("return document.documentElement.lang === 'fr';")
            .await;
        assert!(b.text("h1").await.contains("licence étendue"));
        b.goto(&app.url("/account")).await;
        assert_eq!(b.text("h1").await, "Mon compte");
        assert_eq!(b.text("#sign-out").await, "Se déconnecter");
        b.click_nav("#lang-switch").await;
        b.wait_for("return document.documentElement.lang === 'en';")
            .await;
        assert_eq!(b.text("h1").await, "My account");
        app.stop().await;
    }
    b.quit().await;
}

/// An admin sets the webhook to a receiver on loopback (a bad URL first), reveals the
/// secret, sees a sale's delivery in the log and re-sends it; the receiver gets it again.
#[tokio::test]
async fn a_browser_sets_a_webhook_sees_its_delivery_and_sends_it_again() {
    let Some(b) = Browser::start(1280, 800).await else {
        return;
    };
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let rx = Receiver::start().await;
        let shop = app.create_shop("Hook shop", Licence::Extended).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        sign_in(&b, &app, &shop.admin_login, PASSWORD).await;
        b.click_nav("header a[href='/config/general']").await;
        assert_eq!(b.text("h1").await, "Configuration › General options");
        assert_eq!(b.text("#webhook-state").await, "Webhooks are off.");

        // A URL that is not http(s): named, marked, nothing saved.
        b.type_into("#webhook-url", "ftp://hooks.example.com/")
            .await;
        b.click_nav("#webhook-save").await;
        assert!(
            b.text("#webhook-errors")
                .await
                .contains("url: expected an http:// or https:// URL")
        );
        assert_eq!(b.count("#webhook-url[aria-invalid=true]").await, 1);
        assert_eq!(b.text("#webhook-state").await, "Webhooks are off.");

        b.type_into("#webhook-url", &rx.url).await;
        b.click("#webhook-format option[value='json']").await;
        b.click_nav("#webhook-save").await;
        assert_eq!(b.text("#notice").await, "The webhook is saved.");
        assert_eq!(
            b.text("#webhook-state").await,
            format!("Webhooks are on, sent to {}", rx.url)
        );
        // The secret: not in the page until asked for.
        let id = shop.shop_id;
        let secret = app
            .store
            .read(move |c| comptoir_store::webhooks::endpoint(c, id))
            .await
            .unwrap()
            .unwrap()
            .secret;
        assert!(!b.source().await.contains(&secret));
        b.click_nav("#reveal").await;
        assert_eq!(b.text("#secret").await, secret);

        // A sale: its delivery appears in the log.
        let sale: Value = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &id.to_string()),
                    ("key", &shop.api_key),
                    ("payment", "-1"),
                    ("itemsList[]", "Free_9.90_Scarf"),
                ],
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(sale["result"], "OK", "{sale}");
        let event = rx.wait_for(1).await[0].webhook_id.clone();
        let row = format!("#deliveries tr[data-event-id='{event}']");
        let delivered = format!("{row}.state-delivered");
        for _ in 0..100 {
            b.goto(&app.url("/config/general")).await;
            if b.count(&delivered).await == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(b.count(&delivered).await, 1, "{}", b.source().await);
        assert!(b.text(&row).await.contains("validated"));
        assert_eq!(b.text(&format!("{row} .event-status")).await, "200");
        assert_eq!(b.text(&format!("{row} .event-attempts")).await, "1");
        assert!(
            !b.source().await.contains(&secret),
            "the secret stays hidden"
        );

        // Re-send, after the confirmation: the receiver gets the event a second time.
        b.mark().await;
        b.click(&format!("{row} button.resend")).await;
        b.accept_dialog().await;
        b.wait_new_page().await;
        assert!(b.text("#notice").await.contains("sent again"));
        let calls = rx.wait_for(2).await;
        assert_eq!(calls[1].webhook_id, event);
        assert_eq!(calls[1].body, calls[0].body);
        app.stop().await;
    }
    b.quit().await;
}

#[tokio::test]
async fn the_jquery_sample_records_its_sale_from_the_page() {
    let Some(b) = Browser::start(1280, 800).await else {
        return;
    };
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("jQuery shop", Licence::Extended).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        sign_in(&b, &app, &shop.admin_login, PASSWORD).await;
        b.goto(&app.url("/config/webservices")).await;
        b.type_into("#qb-key", &shop.api_key).await;
        b.type_into("#qb-freePrice1", "7.30").await;
        b.type_into("#qb-freeTitle1", "Jam \"home made\" & co")
            .await;
        b.type_into("#qb-public", "l'été").await;
        b.click_nav("#build").await;
        let sample = b
            .exec(
                "return document.querySelector('code[data-lang=jQuery]').textContent;",
                json!([]),
            )
            .await;
        let sample = sample.as_str().expect("the jQuery sample").to_string();
        // A page with jQuery loaded, served by Comptoir; console output captured.
        b.goto(&app.url("/")).await;
        b.exec(
            "window.logged = []; window.failed = [];
             console.log = function (m) { window.logged.push(String(m)); };
             console.error = function (m) { window.failed.push(String(m)); };
             var s = document.createElement('script');
             s.src = '/static/jquery.min.js';
             document.head.appendChild(s);",
            json!([]),
        )
        .await;
        b.wait_for("return typeof window.jQuery === 'function';")
            .await;
        // The sample exactly as the page shows it.
        b.exec(&sample, json!([])).await;
        b.wait_for("return window.logged.length + window.failed.length > 0;")
            .await;
        let out = b
            .exec("return [window.logged, window.failed];", json!([]))
            .await;
        assert_eq!(out[1], json!([]), "{out}");
        let answer: Value = serde_json::from_str(out[0][0].as_str().unwrap()).unwrap();
        assert_eq!(answer["result"], "OK", "{answer}");
        let id = answer["orderInternalID"].to_string();
        let order: Value = app
            .post_form(
                "/workers/getOrder.php",
                &[
                    ("idboutique", &shop.shop_id.to_string()),
                    ("key", &shop.api_key),
                    ("order_id", id.trim_matches('"')),
                ],
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            order["items"][0]["title"], "Jam \"home made\" & co",
            "{order}"
        );
        assert_eq!(order["items"][0]["total"].to_string(), "7.30");
        assert_eq!(order["publicComment"], "l'été");
        app.stop().await;
    }
    b.quit().await;
}

/// A cashier picks a day and a format on /reports: the download (fetched by the page with
/// its session) is the day's CSV, and the framed HTML report renders the day's total.
#[tokio::test]
async fn a_cashier_downloads_a_report_and_sees_the_html_report_inline() {
    let Some(b) = Browser::start(1280, 800).await else {
        return;
    };
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Report shop", Licence::Extended).await;
        let cashier = add_user(&app, shop.shop_id, "sam", Role::Cashier).await;
        let v: Value = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &shop.shop_id.to_string()),
                    ("key", &shop.api_key),
                    ("payment", "-1"),
                    ("itemsList[]", "Free_12.50_Coffee beans"),
                ],
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["result"], "OK", "{v}");
        let today = shop_today(&app, shop.shop_id).await;
        sign_in(&b, &app, &cashier, PASSWORD).await;
        b.click_nav("a[href='/reports']").await;
        assert_eq!(b.text("h1").await, "Reports");
        b.exec(
            "document.getElementById('date').value = arguments[0];",
            json!([today]),
        )
        .await;
        b.click_nav("#report-form button[type=submit]:not(#download)")
            .await;
        assert_eq!(b.count("#report-frame").await, 1);
        let src = b
            .exec(
                "return document.getElementById('report-frame').getAttribute('src');",
                json!([]),
            )
            .await;
        assert_eq!(src, json!(format!("/reports/view?date={today}")));
        // The download link, fetched by the page with its session cookie.
        b.exec(
            "document.getElementById('format').value = 'CSV';",
            json!([]),
        )
        .await;
        b.click_nav("#report-form button[type=submit]:not(#download)")
            .await;
        let got = b
            .exec(
                "return fetch(document.getElementById('download-link').href)\
                 .then(r => r.text().then(t => [r.status, r.headers.get('content-disposition'), t]));",
                json!([]),
            )
            .await;
        assert_eq!(got[0], json!(200), "{got}");
        assert_eq!(
            got[1],
            json!(format!(
                "attachment; filename=\"sales-{}-{today}.csv\"",
                shop.shop_id
            ))
        );
        assert!(got[2].as_str().unwrap().contains("12.50"), "{got}");
        // The framed report, rendered by Chromium under its own policy: the day's total.
        b.goto(&app.url(&format!("/reports/view?date={today}")))
            .await;
        assert!(b.text("body").await.contains("12.50"));
        app.stop().await;
    }
    b.quit().await;
}

/// Today's date in the shop's time zone.
async fn shop_today(app: &TestApp, shop_id: i64) -> String {
    let shop = app
        .store
        .read(move |c| comptoir_store::shops::get_shop(c, shop_id))
        .await
        .unwrap()
        .unwrap();
    jiff::Timestamp::now()
        .to_zoned(shop.timezone.tz())
        .date()
        .to_string()
}

/// Every page, at 1280×800 and 390 px wide, in English and French: saved as PNG under
/// target/screenshots/, and none scrolls sideways at either width.
#[tokio::test]
async fn screenshots_of_every_page_fit_both_widths_in_both_languages() {
    let Some(b) = Browser::start(1280, 800).await else {
        return;
    };
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Café de la Gare", Licence::Extended).await;
    comptoir_testkit::import_demo(&app.store, shop.shop_id).await;
    set_password(&app, shop.shop_id, &shop.admin_login).await;
    let standard = app.create_shop("Standard", Licence::Standard).await;
    set_password(&app, standard.shop_id, &standard.admin_login).await;
    let cashier = add_user(&app, shop.shop_id, "sam", Role::Cashier).await;
    // A webhook, so that the general options show a delivery in their log.
    let rx = Receiver::start().await;
    let (id, hook) = (shop.shop_id, rx.url.clone());
    app.store
        .write(move |c| {
            let target = comptoir_core::webhook::settings::Target::check(
                &hook,
                comptoir_core::webhook::Format::Form,
                true,
            )
            .expect("the receiver's URL");
            comptoir_store::webhook_settings::enable(c, id, &target, comptoir_store::now_micros())
        })
        .await
        .unwrap();
    let mut order_id = String::new();
    for (payment, line) in [("-1", "Free_12.50_Coffee beans"), ("-2", "Free_3_Tea")] {
        let v: Value = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &shop.shop_id.to_string()),
                    ("key", &shop.api_key),
                    ("payment", payment),
                    ("itemsList[]", "1_2"),
                    ("itemsList[]", line),
                    ("publicComment", "Table by the window"),
                ],
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["result"], "OK", "{v}");
        if order_id.is_empty() {
            order_id = v["orderInternalID"]
                .to_string()
                .trim_matches('"')
                .to_string();
        }
    }
    // The delivery is recorded a moment after the receiver's answer.
    rx.wait_for(1).await;
    for _ in 0..100 {
        let log = app
            .store
            .read(move |c| comptoir_store::webhooks::log(c, id, false, 10))
            .await
            .unwrap();
        if log.iter().any(|e| e.state == "delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let pages: Vec<(&str, String, &str)> = vec![
        ("signin", "/".into(), ""),
        ("signin-error", "/".into(), "wrong"),
        ("dashboard", "/".into(), "admin"),
        ("orders", "/orders".into(), "admin"),
        ("order", format!("/orders/{order_id}"), "admin"),
        ("account", "/account".into(), "admin"),
        ("webservices", "/config/webservices".into(), "admin"),
        ("builder", "/config/webservices".into(), "build"),
        ("forbidden", "/config/webservices".into(), "cashier"),
        ("licence-gate", "/config/webservices".into(), "standard"),
        ("general", "/config/general".into(), "admin"),
        ("general-log", "/config/general".into(), "admin"),
        ("general-secret", "/config/general".into(), "reveal"),
        ("general-error", "/config/general".into(), "bad-url"),
        (
            "reports",
            format!("/reports?date={}", shop_today(&app, shop.shop_id).await),
            "cashier",
        ),
    ];
    let mut shots = 0;
    for lang in ["en", "fr"] {
        for (name, path, who) in &pages {
            // Anonymous, in the language of this round (the switch's cookie sticks).
            b.delete_cookies().await;
            b.goto(&app.url("/")).await;
            if b.exec("return document.documentElement.lang;", json!([]))
                .await
                != json!(lang)
            {
                b.click_nav("#lang-switch").await;
            }
            match *who {
                "" => {}
                "wrong" => submit_sign_in(&b, &shop.admin_login, "wrong").await,
                "admin" | "build" | "reveal" | "bad-url" => {
                    submit_sign_in(&b, &shop.admin_login, PASSWORD).await
                }
                "cashier" => submit_sign_in(&b, &cashier, PASSWORD).await,
                _ => submit_sign_in(&b, &standard.admin_login, PASSWORD).await,
            }
            if *who != "wrong" {
                b.goto(&app.url(path)).await;
            }
            assert_eq!(
                b.exec("return document.documentElement.lang;", json!([]))
                    .await,
                json!(lang),
                "{name}"
            );
            if *who == "build" {
                b.type_into("#qb-key", &shop.api_key).await;
                b.click_nav("#qb-item1 option:nth-child(3)").await;
                b.type_into("#qb-freePrice1", "2.50").await;
                b.type_into("#qb-freeTitle1", "Gift wrap").await;
                b.click_nav("#build").await;
            }
            if *who == "reveal" {
                b.click_nav("#reveal").await;
            }
            if *who == "bad-url" {
                b.type_into("#webhook-url", "http://user@localhost/hook")
                    .await;
                b.click_nav("#webhook-save").await;
            }
            for (width, height) in [(1280u32, 800u32), (390, 844)] {
                b.set_size(width, height).await;
                // Parts of the general options below the fold.
                let part = match *name {
                    "general-log" => Some("#log"),
                    "general-secret" => Some("#secret"),
                    "general-error" => Some("#webhook-errors"),
                    _ => None,
                };
                if let Some(css) = part {
                    b.exec(
                        "document.querySelector(arguments[0]).scrollIntoView();",
                        json!([css]),
                    )
                    .await;
                }
                let fits = b
                    .exec(
                        "return document.documentElement.scrollWidth <= window.innerWidth;",
                        json!([]),
                    )
                    .await;
                let inner = b.exec("return window.innerWidth;", json!([])).await;
                assert_eq!(
                    fits,
                    json!(true),
                    "{name} ({lang}) scrolls sideways at {inner} px"
                );
                let png = b.screenshot().await;
                assert_eq!(&png[1..4], b"PNG");
                std::fs::write(dir.join(format!("{name}-{lang}-{width}.png")), png).unwrap();
                shots += 1;
            }
            b.set_size(1280, 800).await;
        }
    }
    assert_eq!(shots, pages.len() * 4);
    app.stop().await;
    b.quit().await;
}
