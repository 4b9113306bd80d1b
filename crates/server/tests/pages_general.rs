//! Configuration › General options (`/config/general`) over HTTP on a real server: admins
//! only, every form refused without its token, a bad URL or format named and nothing saved,
//! the secret shown only on request and rotated, the delivery log with a real receiver,
//! re-sending and turning webhooks off. Each test runs on SQLite and, when
//! `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL.

mod common;

use common::receiver::Receiver;
use common::{Client, PASSWORD, add_user, set_password, unescape};
use comptoir_core::model::{Licence, Role};
use comptoir_store::webhooks::{self, Endpoint};
use comptoir_testkit::{TestApp, TestDb};
use std::time::{Duration, Instant};

async fn endpoint(app: &TestApp, shop: i64) -> Option<Endpoint> {
    app.store
        .read(move |c| webhooks::endpoint(c, shop))
        .await
        .unwrap()
}

/// Signs `login` in; returns the client and its CSRF token.
async fn signed_in<'a>(app: &'a TestApp, login: &str) -> (Client<'a>, String) {
    let mut c = Client::new(app);
    c.sign_in(login, PASSWORD).await;
    let csrf = c.get("/account").await.csrf();
    (c, csrf)
}

#[tokio::test]
async fn only_admins_reach_general_options_and_every_form_needs_its_token() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Roles", Licence::Standard).await;
        let id = shop.shop_id;
        set_password(&app, id, &shop.admin_login).await;

        // Not signed in: sent to the sign-in form.
        let anonymous = app.get("/config/general").await;
        assert_eq!(anonymous.status(), 303);
        assert_eq!(anonymous.headers()["location"], "/");

        let posts = [
            "/config/general/webhook",
            "/config/general/webhook/off",
            "/config/general/secret",
            "/config/general/secret/rotate",
            &format!("/config/general/events/{id}-1/resend"),
        ];
        for role in [
            Role::Manager,
            Role::Cashier,
            Role::Accountant,
            Role::Preparer,
            Role::Delivery,
        ] {
            let login = add_user(&app, id, &format!("{role:?}").to_lowercase(), role).await;
            let (mut c, csrf) = signed_in(&app, &login).await;
            let home = c.get("/").await;
            assert!(!home.body.contains("/config/general"), "{role:?} menu");
            let page = c.get("/config/general").await;
            assert_eq!(page.status, 403, "{}: {role:?}", db.backend);
            for path in posts.iter() {
                let p = c
                    .post(
                        path,
                        &[
                            ("csrf", &csrf),
                            ("url", "https://hooks.example.com/"),
                            ("format", "form"),
                        ],
                    )
                    .await;
                assert_eq!(p.status, 403, "{}: {role:?} {path}", db.backend);
            }
        }
        assert!(endpoint(&app, id).await.is_none(), "a refused role saved");

        // The admin: the menu leads there, and /config too.
        let (mut c, csrf) = signed_in(&app, &shop.admin_login).await;
        assert!(c.get("/").await.body.contains(r#"href="/config/general""#));
        let config = c.get("/config").await;
        assert_eq!(config.location(), "/config/general");
        let page = c.get("/config/general").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Interface options"), "{}", page.body);
        assert!(page.body.contains(r#"id="webhook-form""#));
        assert!(page.body.contains("Webhooks are off."));
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!page.body.contains("<script>") && !page.body.contains("style="));

        // Without the token, or with another one: refused, nothing saved.
        for token in [None, Some("0123456789abcdef0123456789abcdef")] {
            for path in posts.iter() {
                let mut form = vec![("url", "https://hooks.example.com/"), ("format", "form")];
                form.extend(token.map(|t| ("csrf", t)));
                let p = c.post(path, &form).await;
                assert_eq!(p.status, 403, "{}: {path} {token:?}", db.backend);
                assert!(p.body.contains("This form has expired"), "{}", p.body);
            }
        }
        assert!(endpoint(&app, id).await.is_none(), "saved without a token");

        // With it: saved, and the page says so.
        let saved = c
            .post(
                "/config/general/webhook",
                &[
                    ("csrf", &csrf),
                    ("url", " https://hooks.example.com/in "),
                    ("format", "json"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(saved.location(), "/config/general?done=saved");
        let e = endpoint(&app, id).await.expect("saved");
        assert_eq!(e.url.as_deref(), Some("https://hooks.example.com/in"));
        assert_eq!(e.format, "json");
        let page = c.get("/config/general?done=saved").await;
        assert!(page.body.contains("The webhook is saved."), "{}", page.body);
        assert!(
            page.body
                .contains("<code>https://hooks.example.com/in</code>")
        );
        assert!(page.body.contains(r#"<option value="json" selected>"#));
        app.stop().await;
    }
}

#[tokio::test]
async fn a_bad_url_or_format_is_named_and_nothing_is_saved() {
    for db in TestDb::all() {
        // As `serve` runs by default: internal addresses are refused.
        let app = TestApp::spawn_with(&db, |c| c.webhook_allow_private = false).await;
        let shop = app.create_shop("Checks", Licence::Extended).await;
        let id = shop.shop_id;
        set_password(&app, id, &shop.admin_login).await;
        let (mut c, csrf) = signed_in(&app, &shop.admin_login).await;
        let good = c
            .post(
                "/config/general/webhook",
                &[
                    ("csrf", &csrf),
                    ("url", "https://hooks.example.com/in"),
                    ("format", "form"),
                ],
            )
            .await;
        assert_eq!(good.status, 303, "{}", good.body);
        let before = endpoint(&app, id).await.expect("saved");

        let cases: &[(&str, &str, &[&str], &str)] = &[
            (
                "ftp://hooks.example.com/in",
                "form",
                &["url"],
                "expected an http:// or https:// URL",
            ),
            ("", "json", &["url"], "expected an http:// or https:// URL"),
            (
                "https://user:pw@hooks.example.com/",
                "form",
                &["url"],
                "no user name",
            ),
            (
                "http://127.0.0.1:8080/hook",
                "json",
                &["url"],
                "127.0.0.1 is a loopback address",
            ),
            (
                "http://localhost/hook",
                "form",
                &["url"],
                "only public addresses",
            ),
            (
                "https://hooks.example.com/other",
                "xml",
                &["format"],
                "expected form or json",
            ),
            (
                "javascript:alert(1)",
                "",
                &["url", "format"],
                "form or json",
            ),
        ];
        for (url, format, fields, says) in cases {
            let p = c
                .post(
                    "/config/general/webhook",
                    &[("csrf", &csrf), ("url", url), ("format", format)],
                )
                .await;
            assert_eq!(p.status, 400, "{}: {url} {format}: {}", db.backend, p.body);
            let text = unescape(&p.body);
            assert!(text.contains("Nothing was saved"), "{text}");
            assert!(text.contains(says), "{url}: {text}");
            for f in *fields {
                assert!(text.contains(&format!("<code>{f}</code>:")), "{f}: {text}");
            }
            if fields.contains(&"url") {
                assert!(
                    p.body
                        .contains(r#"aria-invalid="true" aria-describedby="err-url""#),
                    "{}",
                    p.body
                );
            }
            // The refused value is shown back to be fixed, escaped.
            assert!(text.contains(&format!(r#"value="{url}""#)), "{text}");
            assert_eq!(
                endpoint(&app, id).await.as_ref(),
                Some(&before),
                "{}: {url} changed the settings",
                db.backend
            );
        }

        // In French, the field is named the same and the rule is in French.
        c.accept_language = "fr";
        let p = c
            .post(
                "/config/general/webhook",
                &[
                    ("csrf", &csrf),
                    ("url", "hooks.example.com"),
                    ("format", "form"),
                ],
            )
            .await;
        assert_eq!(p.status, 400);
        let text = unescape(&p.body);
        assert!(text.contains("Rien n’a été enregistré"), "{text}");
        assert!(
            text.contains("<code>url</code>: attendu : une URL http:// ou https://"),
            "{text}"
        );
        // A name is checked after resolution, at each attempt: saved here.
        let p = c
            .post(
                "/config/general/webhook",
                &[
                    ("csrf", &csrf),
                    ("url", "https://hooks.example.net/x"),
                    ("format", "json"),
                ],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(
            endpoint(&app, id).await.unwrap().url.as_deref(),
            Some("https://hooks.example.net/x")
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn the_secret_is_shown_only_when_asked_and_rotates() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Secret", Licence::Standard).await;
        let id = shop.shop_id;
        set_password(&app, id, &shop.admin_login).await;
        let (mut c, csrf) = signed_in(&app, &shop.admin_login).await;

        // No webhook yet: no secret to show or rotate.
        let page = c.get("/config/general").await;
        assert!(page.body.contains("No secret yet"), "{}", page.body);
        assert!(!page.body.contains(r#"id="reveal""#));
        let p = c
            .post("/config/general/secret/rotate", &[("csrf", &csrf)])
            .await;
        assert_eq!(p.status, 200);
        assert!(p.body.contains("No secret yet"));
        assert!(endpoint(&app, id).await.is_none());

        c.post(
            "/config/general/webhook",
            &[
                ("csrf", &csrf),
                ("url", "https://hooks.example.com/in"),
                ("format", "form"),
            ],
        )
        .await;
        let secret = endpoint(&app, id).await.unwrap().secret;
        assert!(secret.starts_with("whsec_"));

        // Not in the page by default; shown on the POST that asks for it.
        let page = c.get("/config/general").await;
        assert!(!page.body.contains(&secret), "secret in the page");
        assert!(!page.body.contains(r#"id="secret""#));
        assert!(page.body.contains(r#"id="reveal""#));
        let shown = c.post("/config/general/secret", &[("csrf", &csrf)]).await;
        assert_eq!(shown.status, 200);
        assert!(
            shown
                .body
                .contains(&format!(r#"<code id="secret">{secret}</code>"#)),
            "{}",
            shown.body
        );
        assert_eq!(shown.headers["cache-control"], "no-store");
        // A GET of the form's address (a reload after the language switch) shows nothing.
        let get = c.get("/config/general/secret").await;
        assert_eq!((get.status, get.location()), (303, "/config/general"));
        assert!(!c.get("/config/general").await.body.contains(&secret));

        // Rotating: a new secret, shown; the old one signs on for 24 hours.
        let rotated = c
            .post("/config/general/secret/rotate", &[("csrf", &csrf)])
            .await;
        assert_eq!(rotated.status, 200);
        let e = endpoint(&app, id).await.unwrap();
        assert_ne!(e.secret, secret);
        let (previous, until) = e.previous.clone().expect("the previous secret");
        assert_eq!(previous, secret);
        let window = until - comptoir_store::now_micros();
        assert!(
            (23 * 3600 * 1_000_000..=24 * 3600 * 1_000_000).contains(&window),
            "{window}"
        );
        assert!(rotated.body.contains(&e.secret));
        assert!(!rotated.body.contains(&secret), "the old secret shown");
        assert!(rotated.body.contains("A new secret is in place"));
        assert!(rotated.body.contains(r#"id="previous-until""#));
        let page = c.get("/config/general").await;
        assert!(!page.body.contains(&e.secret));
        assert!(page.body.contains("The previous secret also signs until"));
        app.stop().await;
    }
}

/// Polls the page until the row of event `event` has `class="state-STATE"`.
async fn wait_for_state(c: &mut Client<'_>, event: &str, state: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let row = format!(r#"<tr data-event-id="{event}" class="state-{state}">"#);
    loop {
        let page = c.get("/config/general").await;
        if page.body.contains(&row) {
            return page.body;
        }
        assert!(Instant::now() < deadline, "no {row} in {}", page.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deliveries_show_in_the_log_and_are_sent_again_on_request() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let rx = Receiver::start().await;
        let shop = app.create_shop("Log", Licence::Extended).await;
        let other = app.create_shop("Other", Licence::Extended).await;
        let id = shop.shop_id;
        set_password(&app, id, &shop.admin_login).await;
        let (mut c, csrf) = signed_in(&app, &shop.admin_login).await;
        assert!(
            c.get("/config/general")
                .await
                .body
                .contains("No delivery yet.")
        );
        let saved = c
            .post(
                "/config/general/webhook",
                &[("csrf", &csrf), ("url", &rx.url), ("format", "form")],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);

        // A sale recorded unpaid: one `validated` event.
        let sale: serde_json::Value = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &id.to_string()),
                    ("key", &shop.api_key),
                    ("payment", "-1"),
                    ("itemsList[]", "Free_4.20_Tea"),
                ],
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(sale["result"], "OK", "{sale}");
        let order = sale["orderInternalID"]
            .to_string()
            .trim_matches('"')
            .to_string();
        let calls = rx.wait_for(1).await;
        let event = calls[0].webhook_id.clone();
        assert!(event.starts_with(&format!("{id}-")), "{event}");
        let body = wait_for_state(&mut c, &event, "delivered").await;
        let text = unescape(&body);
        assert!(
            text.contains(&format!(r#"<a href="/orders/{order}">#{order}</a>"#)),
            "{text}"
        );
        assert!(text.contains(r#"<span class="event-type">validated</span>"#));
        assert!(text.contains(r#"class="num event-attempts">1<"#), "{text}");
        assert!(text.contains(r#"class="event-status">200<"#), "{text}");
        assert!(text.contains("<code>ok</code>"), "the answer: {text}");
        assert!(text.contains(" ms<"), "the latency: {text}");

        // Re-send: the receiver gets the same event again, with the same body.
        let again = c
            .post(
                &format!("/config/general/events/{event}/resend"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(again.status, 303, "{}", again.body);
        assert_eq!(again.location(), "/config/general?done=resent");
        let calls = rx.wait_for(2).await;
        assert_eq!(calls[1].webhook_id, event);
        assert_eq!(calls[1].body, calls[0].body);
        let body = wait_for_state(&mut c, &event, "delivered").await;
        assert!(body.contains(r#"class="num event-attempts">2<"#), "{body}");
        // Both attempts are listed, oldest first.
        let history = body
            .split(r#"<details class="history">"#)
            .nth(1)
            .expect("history");
        let first = history.find("<li>#1 · ").expect("attempt 1");
        let second = history.find("<li>#2 · ").expect("attempt 2");
        assert!(
            first < second && history[second..].contains(" · 200 · "),
            "{history}"
        );
        assert!(
            c.get("/config/general?done=resent")
                .await
                .body
                .contains("will be sent again")
        );
        // Only failed ones: none.
        let failed = c.get("/config/general?failed=1").await;
        assert!(failed.body.contains("No delivery yet."), "{}", failed.body);

        // Another shop's event, an unknown one, a malformed one: 404, nothing sent.
        for bad in [
            format!("{}-1", other.shop_id),
            format!("{id}-999999"),
            "x".to_string(),
        ] {
            let p = c
                .post(
                    &format!("/config/general/events/{bad}/resend"),
                    &[("csrf", &csrf)],
                )
                .await;
            assert_eq!(p.status, 404, "{}: {bad}", db.backend);
        }

        // Off: the log stays, without re-send buttons; the secret is kept.
        let secret = endpoint(&app, id).await.unwrap().secret;
        let off = c
            .post("/config/general/webhook/off", &[("csrf", &csrf)])
            .await;
        assert_eq!(off.location(), "/config/general?done=off");
        let e = endpoint(&app, id).await.unwrap();
        assert_eq!((e.url, e.secret), (None, secret));
        let page = c.get("/config/general?done=off").await;
        assert!(page.body.contains("Webhooks are off. The secret is kept."));
        assert!(page.body.contains(&format!(r#"data-event-id="{event}""#)));
        assert!(
            !page
                .body
                .contains("button type=\"submit\" class=\"resend\"")
        );
        assert_eq!(rx.calls().len(), 2);
        app.stop().await;
    }
}
