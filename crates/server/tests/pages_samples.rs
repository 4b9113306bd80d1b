//! The query builder of the Webservices page on a real server: invalid fields flagged
//! before anything is generated, "Send now", and every code sample the page shows run as
//! shown (curl in bash, PHP, Node.js, Java) against the server that generated it,
//! each recording the sale it describes (checked with getOrder.php), and each exiting
//! non-zero on a KO answer. The jQuery sample runs in Chromium (pages_browser.rs).

mod common;

use common::{Client, PASSWORD, set_password, unescape};
use comptoir_core::model::Licence;
use comptoir_store::StoreError;
use comptoir_testkit::{TestApp, TestDb, require};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The demo shop's ids the builder picks, by name.
struct Ids {
    cappuccino: i64,
    oat_milk: i64,
    hot_drinks: i64,
    cash: i64,
}

async fn demo(app: &TestApp) -> (comptoir_store::shops::CreatedShop, Ids) {
    let shop = app.create_shop("Samples", Licence::Extended).await;
    comptoir_testkit::import_demo(&app.store, shop.shop_id).await;
    set_password(app, shop.shop_id, &shop.admin_login).await;
    let id = shop.shop_id;
    let cat = app
        .store
        .read(move |c| comptoir_store::catalog::export(c, id))
        .await
        .unwrap();
    let item = |n: &str| cat.items.iter().find(|i| i.name.as_str() == n).unwrap().id;
    let cappuccino = item("Cappuccino");
    let ids = Ids {
        cappuccino,
        oat_milk: cat
            .variations
            .iter()
            .find(|v| v.name.as_str() == "Oat milk" && v.item_id == cappuccino)
            .unwrap()
            .id,
        hot_drinks: cat
            .departments
            .iter()
            .find(|d| d.name.as_str() == "Hot drinks")
            .unwrap()
            .id,
        cash: cat
            .payment_methods
            .iter()
            .find(|m| m.name.as_str() == "Cash")
            .unwrap()
            .id,
    };
    (shop, ids)
}

/// The samples of a builder page: language → code as the page shows it.
fn samples(html: &str) -> Vec<(String, String)> {
    html.split(r#"<code data-lang=""#)
        .skip(1)
        .map(|part| {
            let lang = part.split('"').next().unwrap().to_string();
            let code = part.split_once('>').unwrap().1;
            let code = code.split("</code>").next().unwrap();
            (lang, unescape(code))
        })
        .collect()
}

/// Runs one sample program off the test's runtime (which also runs the server); its
/// exit status and standard output, or `None` when its program is missing.
async fn run(lang: &str, code: &str, dir: &Path) -> Option<(bool, String)> {
    let (lang, code, dir) = (lang.to_string(), code.to_string(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || run_blocking(&lang, &code, &dir))
        .await
        .expect("sample runner")
}

fn run_blocking(lang: &str, code: &str, dir: &Path) -> Option<(bool, String)> {
    let (program, file, args): (&str, &str, Vec<&str>) = match lang {
        "curl" => ("bash", "record-sale.sh", vec![]),
        "PHP" => ("php", "record-sale.php", vec![]),
        "Node.js" => ("node", "record-sale.js", vec![]),
        "Java" => ("java", "RecordSale.java", vec![]),
        _ => return None,
    };
    let present = Command::new(program).arg("--version").output().is_ok();
    let needs_curl = lang == "curl" && Command::new("curl").arg("--version").output().is_err();
    if !require(present && !needs_curl, program) {
        return None;
    }
    if lang == "PHP" {
        let ext = Command::new("php")
            .args(["-r", "exit(function_exists('curl_init') ? 0 : 1);"])
            .status();
        if !require(
            ext.is_ok_and(|s| s.success()),
            "php-curl (PHP's curl extension)",
        ) {
            return None;
        }
    }
    let path = dir.join(file);
    std::fs::write(&path, code).unwrap();
    let out = Command::new(program)
        .args(args)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "{lang}: exit {:?}, stdout {stdout}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), stdout))
}

async fn get_order(app: &TestApp, shop: i64, key: &str, id: &str) -> Value {
    let res = app
        .post_form(
            "/workers/getOrder.php",
            &[
                ("idboutique", &shop.to_string()),
                ("key", key),
                ("order_id", id),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn temp_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "comptoir-samples-{}",
        comptoir_store::hex(&comptoir_store::random_bytes::<6>())
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The builder's fields for the sale every sample records.
fn sale_fields(key: &str, ids: &Ids) -> Vec<(&'static str, String)> {
    vec![
        ("key", key.to_string()),
        ("payment", ids.cash.to_string()),
        ("deliveryMethod", "1".into()),
        ("clientMode", "new".into()),
        ("client[nom]", "D'Arcy \"Jo\"".into()),
        ("client[email]", "jo@example.org".into()),
        ("client[ville]", "Lyon & Co".into()),
        ("item1", ids.cappuccino.to_string()),
        ("qty1", "2".into()),
        ("var1[]", ids.oat_milk.to_string()),
        ("dept1", ids.hot_drinks.to_string()),
        ("deptPrice1", "4,10".into()),
        ("deptTitle1", "Tea_of the day $HOME `x`".into()),
        ("freePrice1", "1.50".into()),
        ("freeTitle1", "Bag <paper>".into()),
        (
            "publicComment",
            "Merci — à bientôt ! 'quoted' \\ back".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v): (&'static str, String)| (k, v))
    .collect()
}

#[tokio::test]
async fn every_sample_records_the_sale_it_describes() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, ids) = demo(&app).await;
        let mut c = Client::new(&app);
        c.sign_in(&shop.admin_login, PASSWORD).await;
        let csrf = c.get("/config/webservices").await.csrf();
        let mut fields = vec![("csrf", csrf.clone())];
        fields.extend(sale_fields(&shop.api_key, &ids));
        let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = c.post("/config/webservices/build", &form).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("builder-errors"), "{}", page.body);
        let url = page.body.split(r#"<code id="qb-url">"#).nth(1).unwrap();
        let url = unescape(url.split("</code>").next().unwrap());
        assert!(url.starts_with(&format!(
            "{}/workers/webapp.php?idboutique={}&key=cpt_",
            app.base, shop.shop_id
        )));
        assert!(url.contains(&format!(
            "&itemsList[]={}_2___{}",
            ids.cappuccino, ids.oat_milk
        )));
        // The URL itself records the sale (GET).
        let by_url: Value = app
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(by_url["result"], "OK", "{by_url}");

        let list = samples(&page.body);
        let langs: Vec<&str> = list.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(langs, ["curl", "PHP", "Node.js", "Java", "jQuery"]);
        let dir = temp_dir();
        let mut ran = 0;
        let mut clients = std::collections::BTreeSet::new();
        for (lang, code) in &list {
            let Some((ok, stdout)) = run(lang, code, &dir).await else {
                continue;
            };
            assert!(ok, "{lang} failed: {stdout}\n{code}");
            let answer: Value = serde_json::from_str(stdout.trim())
                .unwrap_or_else(|e| panic!("{lang} printed {stdout:?}: {e}"));
            assert_eq!(answer["result"], "OK", "{lang}: {answer}");
            let id = answer["orderInternalID"].to_string();
            let order = get_order(&app, shop.shop_id, &shop.api_key, id.trim_matches('"')).await;
            let items = order["items"].as_array().unwrap();
            assert_eq!(items.len(), 3, "{lang}: {order}");
            assert_eq!(items[0]["itemID"], ids.cappuccino, "{lang}");
            assert_eq!(items[0]["quantity"].to_string(), "2");
            assert_eq!(items[0]["variations"], serde_json::json!([ids.oat_milk]));
            assert_eq!(items[1]["departmentID"], ids.hot_drinks);
            assert_eq!(items[1]["title"], "Tea_of the day $HOME `x`", "{lang}");
            assert_eq!(items[1]["total"].to_string(), "4.10");
            assert_eq!(items[2]["title"], "Bag <paper>");
            assert_eq!(order["deliveryMethod"], 1);
            assert_eq!(
                order["publicComment"],
                "Merci — à bientôt ! 'quoted' \\ back"
            );
            assert_eq!(order["payments"][0]["paymentMethodID"], ids.cash);
            clients.insert(order["clientID"].to_string());
            ran += 1;
        }
        // One client, created once and reused by e-mail.
        assert!(clients.len() <= 1, "{clients:?}");
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("{}: {ran} samples ran", db.backend);
        app.stop().await;
    }
}

#[tokio::test]
async fn samples_exit_non_zero_when_the_answer_is_ko() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let (shop, ids) = demo(&app).await;
    let mut c = Client::new(&app);
    c.sign_in(&shop.admin_login, PASSWORD).await;
    let csrf = c.get("/config/webservices").await.csrf();
    // A revoked key: a 401 KO answer.
    let mut fields = vec![("csrf", csrf)];
    fields.extend(sale_fields(
        "cpt_00000000_00000000000000000000000000000000",
        &ids,
    ));
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = c.post("/config/webservices/build", &form).await;
    let dir = temp_dir();
    for (lang, code) in samples(&page.body) {
        let Some((ok, stdout)) = run(&lang, &code, &dir).await else {
            continue;
        };
        assert!(!ok, "{lang} exited 0 on a KO answer");
        assert!(
            stdout.contains("\"result\":\"KO\""),
            "{lang} printed {stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let count = app
        .store
        .read(|c| c.query("select id from orders", comptoir_store::params![]))
        .await
        .unwrap()
        .len();
    assert_eq!(count, 0);
    app.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_flagged_and_send_now_records_the_sale() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let (shop, ids) = demo(&app).await;
        let mut c = Client::new(&app);
        c.sign_in(&shop.admin_login, PASSWORD).await;
        let csrf = c.get("/config/webservices").await.csrf();
        let bad = c
            .post(
                "/config/webservices/build",
                &[
                    ("csrf", &csrf),
                    ("payment", "-1"),
                    ("item1", &ids.cappuccino.to_string()),
                    ("qty1", "0"),
                    ("freePrice1", "abc"),
                    ("freeTitle1", "X"),
                    ("valueDate", "tomorrow"),
                ],
            )
            .await;
        assert_eq!(bad.status, 200);
        assert!(bad.body.contains("builder-errors"), "{}", bad.body);
        for f in ["qty1", "freePrice1", "valueDate"] {
            assert!(
                bad.body.contains(&format!("<code>{f}</code>")),
                "{f} not flagged"
            );
        }
        assert!(bad.body.contains(r#"id="qb-qty1" name="qty1" type="text" inputmode="decimal" placeholder="1" value="0" aria-invalid="true""#));
        assert!(!bad.body.contains("qb-url") && !bad.body.contains("data-lang="));
        // Sending invalid fields records nothing either.
        let refused = c
            .post(
                "/config/webservices/send",
                &[
                    ("csrf", &csrf),
                    ("payment", "-1"),
                    ("qty1", "0"),
                    ("item1", "1"),
                ],
            )
            .await;
        assert!(refused.body.contains("builder-errors"));
        assert!(!refused.body.contains("qb-answer"));

        // A value date in the shop's time (Paris, UTC+1 in December) and an idempotency key.
        let fields = [
            ("csrf", csrf.as_str()),
            ("key", shop.api_key.as_str()),
            ("payment", "-1"),
            ("freePrice1", "9.90"),
            ("freeTitle1", "Gift card"),
            ("valueDate", "2026-11-30T10:15"),
            ("idempotencyKey", "page-send-1"),
        ];
        let built = c.post("/config/webservices/build", &fields).await;
        assert!(
            built.body.contains("dateValeur=1796030100"),
            "{}",
            built.body
        );
        // Without the token, nothing is sent.
        let no_token: Vec<(&str, &str)> = fields[1..].to_vec();
        assert_eq!(
            c.post("/config/webservices/send", &no_token).await.status,
            403
        );
        let sent = c.post("/config/webservices/send", &fields).await;
        assert_eq!(sent.status, 200);
        let answer = sent
            .body
            .split(r#"<code id="qb-answer">"#)
            .nth(1)
            .expect("answer");
        let answer: Value =
            serde_json::from_str(&unescape(answer.split("</code>").next().unwrap())).unwrap();
        assert_eq!(answer["result"], "OK", "{answer}");
        assert!(
            answer["valueDate"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-30T10:15:00+01:00")
        );
        // Sent twice with the same idempotency key: one order.
        let again = c.post("/config/webservices/send", &fields).await;
        assert!(again.body.contains(&answer["orderInternalID"].to_string()));
        let shop_id = shop.shop_id;
        let n = app
            .store
            .read(move |c| {
                Ok::<_, StoreError>(
                    c.query(
                        "select id from orders where shop_id = $1",
                        comptoir_store::params![shop_id],
                    )?
                    .len(),
                )
            })
            .await
            .unwrap();
        assert_eq!(n, 1);
        app.stop().await;
    }
}
