//! The back office over HTTP on a real server: security headers, sign-in (wrong password,
//! throttling), the session cookie's flags, CSRF refusals, expiry and revocation, role
//! checks, the licence gate, API keys, orders and the language. Each test runs on SQLite
//! and, when `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL. Browser tests are in
//! pages_browser.rs.

mod common;

use common::{Client, PASSWORD, add_user, set_password};
use comptoir_core::model::{Licence, Role};
use comptoir_store::{params, shops, users};
use comptoir_testkit::{TestApp, TestDb, encode_form};

#[tokio::test]
async fn every_page_has_the_security_headers_and_static_files_come_from_the_binary() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Headers", Licence::Extended).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        let mut c = Client::new(&app);
        let anonymous = c.get("/").await;
        c.sign_in(&shop.admin_login, PASSWORD).await;
        let mut pages = vec![anonymous];
        for path in ["/", "/account", "/orders", "/config/webservices"] {
            pages.push(c.get(path).await);
        }
        for p in &pages {
            assert_eq!(p.status, 200, "{}", p.body);
            let h = |n: &str| p.headers.get(n).map(|v| v.to_str().unwrap().to_string());
            let csp = h("content-security-policy").expect("CSP");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(csp.contains("script-src 'self'"), "{csp}");
            assert!(csp.contains("default-src 'none'"), "{csp}");
            assert!(!csp.contains("unsafe-inline"), "{csp}");
            assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"));
            assert_eq!(h("referrer-policy").as_deref(), Some("same-origin"));
            assert_eq!(h("cache-control").as_deref(), Some("no-store"));
            // No inline script or style: every script has a src, no style attribute.
            assert!(!p.body.contains("<script>"), "inline script");
            assert!(!p.body.contains("style="), "inline style");
            assert!(!p.body.contains("http://") && !p.body.contains("https://"));
        }
        for (file, kind) in [("app.css", "text/css"), ("app.js", "text/javascript")] {
            let res = app.get(&format!("/static/{file}")).await;
            assert_eq!(res.status(), 200);
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with(kind)
            );
            assert_eq!(res.headers()["x-content-type-options"], "nosniff");
            assert!(!res.text().await.unwrap().is_empty());
        }
        assert_eq!(app.get("/static/nope.js").await.status(), 404);
        app.stop().await;
    }
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_sign_out_ends_the_session() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Signin", Licence::Extended).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        let mut c = Client::new(&app);
        let form = c.get("/").await;
        assert!(form.body.contains(r#"id="signin""#));
        let csrf = form.csrf();
        let login = shop.admin_login.as_str();

        // Wrong password: the form again, with the error, and no session.
        let wrong = c
            .post(
                "/login",
                &[("csrf", &csrf), ("login", login), ("password", "nope")],
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert!(
            wrong.body.contains("Wrong login or password."),
            "{}",
            wrong.body
        );
        assert!(!c.cookies.contains_key("comptoir_session"));
        // Unknown login: the same answer.
        let unknown = c
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("login", "ghost@shop-1"),
                    ("password", "x"),
                ],
            )
            .await;
        assert_eq!(unknown.status, 401);

        // Without the form's token: refused, even with the right password.
        let no_token = c
            .post("/login", &[("login", login), ("password", PASSWORD)])
            .await;
        assert_eq!(no_token.status, 403, "{}", no_token.body);
        assert!(!c.cookies.contains_key("comptoir_session"));

        let ok = c
            .post(
                "/login",
                &[("csrf", &csrf), ("login", login), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(ok.status, 303);
        let cookie = ok
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("comptoir_session="))
            .expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "http base URL: {cookie}");
        // Only a hash of the cookie is stored.
        let value = c.cookies["comptoir_session"].clone();
        let stored = app
            .store
            .read(|c| c.query("select token_hash from sessions", params![]))
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].string(0).unwrap(), value);

        let home = c.get("/").await;
        assert!(home.body.contains("Administrator"), "{}", home.body);
        assert!(home.body.contains(r#"id="orders-count">0<"#));

        // Signing out needs the session's token.
        let session_csrf = home.csrf();
        assert_ne!(session_csrf, csrf, "the session has its own token");
        let refused = c.post("/logout", &[]).await;
        assert_eq!(refused.status, 403);
        let wrong_token = c.post("/logout", &[("csrf", &csrf)]).await;
        assert_eq!(wrong_token.status, 403);
        assert!(c.get("/").await.body.contains("Administrator"));
        let out = c.post("/logout", &[("csrf", &session_csrf)]).await;
        assert_eq!(out.status, 303);
        assert!(!c.cookies.contains_key("comptoir_session"));
        // The old cookie no longer opens anything.
        c.cookies.insert("comptoir_session".into(), value);
        let after = c.get("/").await;
        assert!(after.body.contains(r#"id="signin""#));
        assert!(!c.cookies.contains_key("comptoir_session"), "cleared");
        app.stop().await;
    }
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_an_https_base_url() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let config = comptoir_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        base_url: Some("https://pos.example".into()),
        webhook_allow_private: true,
        trusted_proxies: Vec::new(),
        login_delay_step: std::time::Duration::from_millis(10),
        webhooks: comptoir_server::webhooks::Settings::default(),
        closings: comptoir_server::closings::Settings::default(),
    };
    let server = comptoir_server::Application::build(config, store.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    let shop = comptoir_testkit::create_shop(&store, "Https", Licence::Extended).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let first = http.get(format!("http://{addr}/")).send().await.unwrap();
    let anon = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        anon.contains("Secure") && anon.contains("HttpOnly"),
        "{anon}"
    );
    let token = anon
        .trim_start_matches("comptoir_csrf=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let hash = tokio::task::spawn_blocking(|| shops::hash_password(PASSWORD))
        .await
        .unwrap();
    let (sid, login) = (shop.shop_id, shop.admin_login.clone());
    store
        .write(move |c| {
            let u = users::find_user(c, sid, &login)?.expect("admin");
            users::set_password(c, sid, u.id, &hash)
        })
        .await
        .unwrap();
    let res = http
        .post(format!("http://{addr}/login"))
        .header("cookie", format!("comptoir_csrf={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[
            ("csrf", &token),
            ("login", &shop.admin_login),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("comptoir_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn sign_in_is_throttled_after_five_failures_of_a_login() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Throttle", Licence::Extended).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        let mut c = Client::new(&app);
        let csrf = c.get("/").await.csrf();
        let login = shop.admin_login.as_str();
        for _ in 0..5 {
            let p = c
                .post(
                    "/login",
                    &[("csrf", &csrf), ("login", login), ("password", "x")],
                )
                .await;
            assert_eq!(p.status, 401);
        }
        // Locked now, even with the right password.
        let locked = c
            .post(
                "/login",
                &[("csrf", &csrf), ("login", login), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(locked.status, 429, "{}", locked.body);
        assert!(locked.headers.contains_key("retry-after"));
        assert!(locked.body.contains("Too many failed attempts"));
        assert!(!c.cookies.contains_key("comptoir_session"));
        app.stop().await;
    }
}

#[tokio::test]
async fn sessions_expire_when_idle_or_old_and_can_be_revoked_from_the_account_page() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Expiry", Licence::Extended).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        let login = shop.admin_login.as_str();
        let hour: i64 = 3_600_000_000;

        // Idle for 8 hours and one minute: ended.
        let mut a = Client::new(&app);
        a.sign_in(login, PASSWORD).await;
        assert!(a.get("/account").await.status == 200);
        app.store
            .write(move |c| {
                c.execute(
                    "update sessions set last_seen_at = last_seen_at - $1",
                    params![8 * hour + 60_000_000],
                )
            })
            .await
            .unwrap();
        let p = a.get("/account").await;
        assert_eq!(p.status, 303, "idle session still open");
        assert!(!a.cookies.contains_key("comptoir_session"));

        // Busy but signed in more than 7 days ago: ended.
        let mut b = Client::new(&app);
        b.sign_in(login, PASSWORD).await;
        app.store
            .write(move |c| {
                c.execute(
                    "update sessions set created_at = created_at - $1 where revoked_at is null",
                    params![7 * 24 * hour + 60_000_000],
                )
            })
            .await
            .unwrap();
        assert_eq!(
            b.get("/account").await.status,
            303,
            "old session still open"
        );

        // Two open sessions; the account page lists both and revokes the other one.
        let mut one = Client::new(&app);
        one.sign_in(login, PASSWORD).await;
        let mut two = Client::new(&app);
        two.sign_in(login, PASSWORD).await;
        let page = one.get("/account").await;
        assert_eq!(page.body.matches("/revoke\"").count(), 2, "{}", page.body);
        assert!(page.body.contains("(this session)"));
        let ids: Vec<i64> = page
            .body
            .split("/account/sessions/")
            .skip(1)
            .map(|s| s.split('/').next().unwrap().parse().unwrap())
            .collect();
        let other = *ids.iter().max().unwrap(); // `two` signed in last.
        let csrf = page.csrf();
        // Without the token: refused, nothing revoked.
        assert_eq!(
            one.post(&format!("/account/sessions/{other}/revoke"), &[])
                .await
                .status,
            403
        );
        assert_eq!(two.get("/account").await.status, 200);
        let r = one
            .post(
                &format!("/account/sessions/{other}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, 303);
        assert_eq!(
            two.get("/account").await.status,
            303,
            "revoked session open"
        );
        assert_eq!(one.get("/account").await.status, 200);
        // A session of someone else cannot be revoked (404), nor twice.
        let again = one
            .post(
                &format!("/account/sessions/{other}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(again.status, 404);

        // A new password (the CLI's `user password`) signs the user out everywhere.
        set_password(&app, shop.shop_id, login).await;
        assert_eq!(one.get("/account").await.status, 303);
        app.stop().await;
    }
}

#[tokio::test]
async fn roles_decide_what_a_user_sees() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Roles", Licence::Extended).await;
        let cashier = add_user(&app, shop.shop_id, "sam", Role::Cashier).await;
        let manager = add_user(&app, shop.shop_id, "max", Role::Manager).await;
        let accountant = add_user(&app, shop.shop_id, "ada", Role::Accountant).await;
        for (login, orders, config) in [
            (cashier, 200, 403),
            (manager, 200, 403),
            (accountant, 403, 403),
        ] {
            let mut c = Client::new(&app);
            c.sign_in(&login, PASSWORD).await;
            assert_eq!(c.get("/orders").await.status, orders, "{login} /orders");
            let cfg = c.get("/config/webservices").await;
            assert_eq!(cfg.status, config, "{login} config");
            assert!(cfg.body.contains("Your role does not give access"));
            let home = c.get("/").await;
            assert!(
                !home.body.contains("/config/webservices"),
                "menu of {login}"
            );
            assert_eq!(home.body.contains("href=\"/orders\""), orders == 200);
            // Posting to the configuration with a valid token is refused too.
            let csrf = home.csrf();
            let p = c
                .post(
                    "/config/webservices/keys",
                    &[("csrf", &csrf), ("label", "x")],
                )
                .await;
            assert_eq!(p.status, 403, "{login} creates a key");
        }
        let keys = app
            .store
            .read(move |c| shops::list_keys(c, shop.shop_id))
            .await
            .unwrap();
        assert_eq!(keys.len(), 1, "only the shop's first key");
        // Signed out: every page sends to the sign-in form.
        for path in ["/orders", "/account", "/config/webservices", "/orders/1"] {
            let res = app.get(path).await;
            assert_eq!(res.status(), 303, "{path}");
            assert_eq!(res.headers()["location"], "/");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn webservices_needs_the_extended_licence_and_manages_keys() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let standard = app.create_shop("Standard", Licence::Standard).await;
        set_password(&app, standard.shop_id, &standard.admin_login).await;
        let mut s = Client::new(&app);
        s.sign_in(&standard.admin_login, PASSWORD).await;
        let gate = s.get("/config/webservices").await;
        assert_eq!(gate.status, 200);
        assert!(gate.body.contains(r#"id="licence-gate""#), "{}", gate.body);
        assert!(gate.body.contains(&format!(
            "comptoir shop licence {} --extended",
            standard.shop_id
        )));
        assert!(!gate.body.contains("cpt_"));
        let csrf = gate.csrf();
        let p = s
            .post(
                "/config/webservices/keys",
                &[("csrf", &csrf), ("label", "x")],
            )
            .await;
        assert_eq!(p.status, 403);

        let shop = app.create_shop("Extended", Licence::Extended).await;
        set_password(&app, shop.shop_id, &shop.admin_login).await;
        let mut c = Client::new(&app);
        c.sign_in(&shop.admin_login, PASSWORD).await;
        let page = c.get("/config/webservices").await;
        assert!(
            page.body
                .contains(&format!(r#"id="shop-id">{}<"#, shop.shop_id))
        );
        assert_eq!(page.body.matches("data-key-id=").count(), 1);
        let csrf = page.csrf();
        // Without the token: refused and nothing created.
        assert_eq!(
            c.post("/config/webservices/keys", &[("label", "<b>Site</b>")])
                .await
                .status,
            403
        );
        let created = c
            .post(
                "/config/webservices/keys",
                &[("csrf", &csrf), ("label", "<b>Site</b>")],
            )
            .await;
        assert_eq!(created.status, 200);
        // The label is escaped, the key shown once.
        assert!(created.body.contains("&#60;b&#62;Site&#60;/b&#62;"));
        assert!(!created.body.contains("<b>Site</b>"));
        let at = created
            .body
            .find(r#"id="new-key">"#)
            .expect("new key shown");
        let key: String = created.body[at + r#"id="new-key">"#.len()..]
            .chars()
            .take_while(|ch| *ch != '<')
            .collect();
        assert!(key.starts_with("cpt_"), "{key}");
        assert!(!c.get("/config/webservices").await.body.contains(&key));
        // The key works on the web services.
        let sale = [
            ("idboutique", shop.shop_id.to_string()),
            ("key", key.clone()),
            ("payment", "-1".into()),
            ("itemsList[]", "Free_2.50_Coffee".into()),
        ];
        let form: Vec<(&str, &str)> = sale.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = app.post_form("/workers/webapp.php", &form).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        // Revoke it.
        let keys = app
            .store
            .read(move |c| shops::list_keys(c, shop.shop_id))
            .await
            .unwrap();
        let new = keys.iter().find(|k| key.contains(&k.prefix)).unwrap().id;
        // The table says who made the key and that the sale just used it (the use is
        // recorded in the background, a moment after the answer).
        let mut tries = 0;
        let row = loop {
            let page = c.get("/config/webservices").await;
            let row = page
                .body
                .split(&format!("data-key-id=\"{new}\""))
                .nth(1)
                .unwrap()
                .split("</tr>")
                .next()
                .unwrap()
                .to_string();
            tries += 1;
            if tries == 100 || !row.contains("key-last-used\"><span") {
                break row;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(
            row.contains(&format!("class=\"key-created-by\">{}<", shop.admin_login)),
            "{row}"
        );
        let used = row.split("class=\"key-last-used\">").nth(1).unwrap();
        assert!(
            !used.starts_with("<span") && used.starts_with("20"),
            "{row}"
        );
        let r = c
            .post(
                &format!("/config/webservices/keys/{new}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, 303);
        let listed = c.get("/config/webservices").await;
        assert!(listed.body.contains("revoked"), "{}", listed.body);
        // The auth cache keeps an answer up to a second.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let res = app.post_form("/workers/webapp.php", &form).await;
        assert_eq!(res.status(), 401);
        // Another shop's key cannot be revoked from here.
        let theirs = app
            .store
            .read(move |c| shops::list_keys(c, standard.shop_id))
            .await
            .unwrap()[0]
            .id;
        let p = c
            .post(
                &format!("/config/webservices/keys/{theirs}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 404);
        app.stop().await;
    }
}

#[tokio::test]
async fn orders_show_the_days_sales_and_one_orders_detail() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Orders", Licence::Extended).await;
        let cashier = add_user(&app, shop.shop_id, "sam", Role::Cashier).await;
        let sid = shop.shop_id.to_string();
        let sale = |payment: &'static str, line: &'static str| {
            vec![
                ("idboutique", sid.clone()),
                ("key", shop.api_key.clone()),
                ("payment", payment.to_string()),
                ("itemsList[]", line.to_string()),
                ("publicComment", "<i>thanks</i>".to_string()),
            ]
        };
        let mut ids = Vec::new();
        for (payment, line) in [
            ("-1", "Free_12.50_Coffee beans"),
            ("-2", "Free_3_Tea"),
            ("-2", "Free_5_Scarf"),
        ] {
            let mut f = sale(payment, line);
            if line.ends_with("Scarf") {
                f.push(("client[nom]", "Lefèvre".to_string()));
                f.push(("client[prenom]", "Anne".to_string()));
            }
            let form: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app.post_form("/workers/webapp.php", &form).await;
            let v: serde_json::Value = res.json().await.unwrap();
            assert_eq!(v["result"], "OK", "{v}");
            ids.push(
                v["orderInternalID"]
                    .to_string()
                    .trim_matches('"')
                    .to_string(),
            );
        }
        let mut c = Client::new(&app);
        c.sign_in(&cashier, PASSWORD).await;
        let home = c.get("/").await;
        assert!(
            home.body.contains(r#"id="orders-count">1<"#),
            "{}",
            home.body
        );
        assert!(home.body.contains("€12.50"));
        let list = c.get("/orders").await;
        assert!(
            list.body.contains(&format!("/orders/{}", ids[0])),
            "{}",
            list.body
        );
        assert!(list.body.contains(&format!("/orders/{}", ids[1])));
        assert!(list.body.contains("€12.50") && list.body.contains("€3.00"));
        // The search by number keeps order 1 only; another day has nothing.
        let found = c.get("/orders?q=1").await;
        assert!(found.body.contains(&format!("/orders/{}", ids[0])));
        assert!(!found.body.contains(&format!("/orders/{}", ids[1])));
        // The search by a client's name: every word, any case.
        let found = c.get("/orders?q=lef%C3%A8vre%20ANNE").await;
        assert!(
            found.body.contains(&format!("/orders/{}", ids[2])),
            "{}",
            found.body
        );
        assert!(!found.body.contains(&format!("/orders/{}", ids[0])));
        assert!(!found.body.contains(&format!("/orders/{}", ids[1])));
        assert!(found.body.contains("Lefèvre Anne (#"), "{}", found.body);
        let none = c.get("/orders?q=dupont").await;
        assert!(!none.body.contains(&format!("/orders/{}", ids[2])));
        let scarf = c.get(&format!("/orders/{}", ids[2])).await;
        assert!(scarf.body.contains("Lefèvre Anne (#"), "{}", scarf.body);
        let old = c.get("/orders?date=2020-01-01").await;
        assert!(!old.body.contains(&format!("/orders/{}", ids[0])));
        assert!(old.body.contains("rel=\"next\"") && old.body.contains("2020-01-02"));
        let bad = c.get("/orders?date=nonsense").await;
        assert_eq!(bad.status, 200);
        let detail = c.get(&format!("/orders/{}", ids[0])).await;
        assert_eq!(detail.status, 200);
        assert!(detail.body.contains("Order 1"), "{}", detail.body);
        assert!(detail.body.contains("Coffee beans"));
        assert!(detail.body.contains("&#60;i&#62;thanks&#60;/i&#62;"));
        assert!(detail.body.contains(r#"id="seal">"#));
        assert!(detail.body.contains("/invoices/"));
        let invoice = detail.body.split("href=\"/invoices/").nth(1).unwrap();
        let invoice = invoice.split('"').next().unwrap();
        let pdf = app.get(&format!("/invoices/{invoice}")).await;
        assert_eq!(pdf.status(), 200);
        // In French: amounts and labels follow.
        c.accept_language = "fr-FR,fr;q=0.9";
        let fr = c.get(&format!("/orders/{}", ids[0])).await;
        assert!(fr.body.contains("Commande 1"));
        assert!(fr.body.contains("12,50\u{a0}€"));
        // Another shop's order is not found.
        let other = app.create_shop("Other", Licence::Extended).await;
        let theirs = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &other.shop_id.to_string()),
                    ("key", &other.api_key),
                    ("payment", "-1"),
                    ("itemsList[]", "Free_1_X"),
                ],
            )
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap();
        let their_id = theirs["orderInternalID"].to_string();
        let p = c
            .get(&format!("/orders/{}", their_id.trim_matches('"')))
            .await;
        assert_eq!(p.status, 404);
        app.stop().await;
    }
}

#[tokio::test]
async fn the_language_comes_from_the_browser_then_sticks_once_chosen() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let mut c = Client::new(&app);
        c.accept_language = "fr-CH, fr;q=0.9, en;q=0.8";
        let fr = c.get("/").await;
        assert!(fr.body.contains(r#"<html lang="fr">"#));
        assert!(fr.body.contains("Mot de passe"));
        c.accept_language = "en-GB";
        let en = c.get("/").await;
        assert!(en.body.contains("Password"));
        let csrf = en.csrf();
        // The switch needs the form's token too.
        let refused = c.post("/lang", &[("lang", "fr"), ("back", "/")]).await;
        assert_eq!(refused.status, 403);
        let p = c
            .post("/lang", &[("csrf", &csrf), ("lang", "fr"), ("back", "/")])
            .await;
        assert_eq!(p.status, 303);
        assert_eq!(p.location(), "/");
        let cookie = p.set_cookies().join(" | ");
        assert!(
            cookie.contains("comptoir_lang=fr") && cookie.contains("Max-Age="),
            "{cookie}"
        );
        let sticky = c.get("/").await;
        assert!(
            sticky.body.contains("Mot de passe"),
            "the cookie wins over the browser"
        );
        // Never a redirect to another site.
        for back in ["//evil.example/", "https://evil.example/", "/\\evil"] {
            let p = c
                .post("/lang", &[("csrf", &csrf), ("lang", "en"), ("back", back)])
                .await;
            assert_eq!(p.location(), "/", "{back}");
        }
        app.stop().await;
    }
}
