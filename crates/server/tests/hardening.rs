//! Hardening of the web services, each through HTTP on a real server and on every backend:
//! error bodies that integrations can print, refusals below the handlers, headers that
//! keep order data out of caches, multipart text, sign-in lockouts and reused keys.

use comptoir_core::model::Licence;
use comptoir_testkit::{TestApp, TestDb};
use serde_json::{Value, json};

/// Status and JSON body of an answer (the body must be JSON).
async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: not a JSON body ({e}): {text:?}"));
    (status, body)
}

/// Checks the documented error body: `result`, `errorMessage` equal to `error.message`,
/// and `error.code`.
fn assert_ko(what: &str, status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{what}: {body}");
    assert_eq!(body["result"], "KO", "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no message: {body}");
    assert_eq!(body["errorMessage"], message, "{what}: {body}");
}

// ---- 9. errorMessage ---------------------------------------------------------------------

#[tokio::test]
async fn every_ko_answer_carries_a_top_level_error_message() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Errors", Licence::Extended).await;
        let id = shop.shop_id.to_string();
        let key = shop.api_key.as_str();

        let (s, b) = answer(
            app.post_form("/workers/getOrder.php", &[("idboutique", &id)])
                .await,
        )
        .await;
        assert_eq!(
            (s, &b),
            (
                400,
                &json!({"result": "KO", "errorMessage": "key: is required",
                    "error": {"code": "missing_parameter", "message": "key: is required", "field": "key"}})
            ),
            "{}",
            db.backend
        );
        let (s, b) = answer(
            app.post_form(
                "/workers/getOrder.php",
                &[("idboutique", &id), ("key", "cpt_00000000_x")],
            )
            .await,
        )
        .await;
        assert_ko("wrong key", s, &b, 401, "unauthorized");
        let (s, b) = answer(
            app.post_form(
                "/workers/getOrder.php",
                &[("idboutique", &id), ("key", key), ("order_id", "999999")],
            )
            .await,
        )
        .await;
        assert_ko("unknown order", s, &b, 404, "not_found");
        let (s, b) = answer(
            app.post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &id),
                    ("key", key),
                    ("payment", "-1"),
                    ("itemsList[]", "999999"),
                ],
            )
            .await,
        )
        .await;
        assert_ko("unknown item", s, &b, 422, "unknown_item");
        assert_eq!(b["error"]["field"], "itemsList[0]");
        // The text keeps the spec's key order, where a hand-written parser may look.
        let res = app
            .post_form("/workers/getOrder.php", &[("idboutique", &id)])
            .await;
        let text = res.text().await.unwrap();
        assert!(
            text.starts_with(r#"{"result":"KO","errorMessage":"key: is required","error":{"#),
            "{text}"
        );
        app.stop().await;
    }
}

// ---- 2. multipart text ---------------------------------------------------------------------

/// Orders, lines and payments stored on the whole database.
async fn rows_written(app: &TestApp) -> Vec<i64> {
    app.store
        .read(|c| {
            let mut out = Vec::new();
            for t in ["orders", "order_lines", "payments", "journal", "clients"] {
                let r = c.query_one(
                    &format!("select count(*) from {t}"),
                    comptoir_store::params![],
                )?;
                out.push(r.i64(0)?);
            }
            Ok::<_, comptoir_store::StoreError>(out)
        })
        .await
        .expect("count rows")
}

/// A `multipart/form-data` body of `parts` (raw bytes as values).
fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----comptoir-test-boundary";
    let mut body = Vec::new();
    for (name, value) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_text_that_is_not_utf8_is_refused_naming_the_field_and_nothing_is_written() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Multipart", Licence::Extended).await;
        let id = shop.shop_id.to_string();
        let send = |parts: Vec<(&'static str, Vec<u8>)>| {
            let parts: Vec<(&str, &[u8])> = parts.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            let (ct, body) = multipart(&parts);
            app.http
                .post(app.url("/workers/webapp.php"))
                .header("content-type", ct)
                .body(body)
                .send()
        };
        let auth = |extra: Vec<(&'static str, Vec<u8>)>| {
            let mut v = vec![
                ("idboutique", id.clone().into_bytes()),
                ("key", shop.api_key.clone().into_bytes()),
                ("payment", b"-1".to_vec()),
            ];
            v.extend(extra);
            v
        };
        let before = rows_written(&app).await;
        for (what, parts, field) in [
            (
                "a line",
                auth(vec![("itemsList[]", b"Free_1.00_caf\xe9".to_vec())]),
                "itemsList[]",
            ),
            (
                "a comment",
                auth(vec![
                    ("itemsList[]", b"Free_1.00_Coffee".to_vec()),
                    ("publicComment", b"cr\xe8me".to_vec()),
                ]),
                "publicComment",
            ),
        ] {
            let (s, b) = answer(send(parts).await.expect("POST")).await;
            assert_ko(what, s, &b, 400, "invalid_parameter");
            assert_eq!(b["error"]["field"], field, "{what}: {b}");
            assert!(
                b["errorMessage"].as_str().unwrap().contains("UTF-8"),
                "{what}: {b}"
            );
        }
        assert_eq!(
            rows_written(&app).await,
            before,
            "{}: a refusal wrote",
            db.backend
        );

        // Valid UTF-8 through the same path is recorded as sent.
        let (s, b) = answer(
            send(auth(vec![(
                "itemsList[]",
                "Free_1.00_café".as_bytes().to_vec(),
            )]))
            .await
            .expect("POST"),
        )
        .await;
        assert_eq!(s, 200, "{}: {b}", db.backend);
        assert!(b.to_string().contains("café"), "{b}");
        app.stop().await;
    }
}

// ---- 6. no-store ----------------------------------------------------------------------------

#[tokio::test]
async fn order_and_client_data_is_never_stored_by_caches_and_invoices_are_not_indexed() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Caches", Licence::Extended).await;
        let id = shop.shop_id.to_string();
        let key = shop.api_key.as_str();
        let sale = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &id),
                    ("key", key),
                    ("payment", "-1"),
                    ("itemsList[]", "Free_2.00_Tea"),
                    ("client[nom]", "Durand"),
                    ("client[email]", "durand@example.org"),
                ],
            )
            .await;
        assert_eq!(sale.status(), 200, "{}", db.backend);
        assert_eq!(sale.headers()["cache-control"], "no-store", "webapp.php");
        let sale: Value = sale.json().await.unwrap();
        let order = sale["orderInternalID"].to_string();
        let link = sale["PDFinvoice"].as_str().expect("a link").to_string();

        let auth = [("idboutique", id.as_str()), ("key", key)];
        for (path, extra, status) in [
            (
                "/workers/getOrder.php",
                vec![("order_id", order.as_str())],
                200,
            ),
            ("/workers/getOrders.php", vec![], 200),
            ("/workers/getPending.php", vec![], 200),
            ("/workers/getClients.php", vec![], 200),
            ("/workers/getUsers.php", vec![], 200),
            ("/workers/getPlus.php", vec![], 200),
            ("/workers/getOrder.php", vec![("order_id", "999999")], 404),
            ("/workers/getOrder.php", vec![], 400),
        ] {
            let mut form = auth.to_vec();
            form.extend(extra);
            for res in [
                app.post_form(path, &form).await,
                app.get(&format!("{path}?{}", comptoir_testkit::encode_form(&form)))
                    .await,
            ] {
                assert_eq!(res.status(), status, "{}: {path}", db.backend);
                assert_eq!(
                    res.headers()
                        .get("cache-control")
                        .map(|v| v.to_str().unwrap()),
                    Some("no-store"),
                    "{}: {path}",
                    db.backend
                );
            }
        }

        let path = link.strip_prefix(&app.base).expect("a link to this server");
        let (shop_part, secret) = path
            .trim_start_matches("/invoices/")
            .trim_end_matches(".pdf")
            .rsplit_once('-')
            .unwrap();
        let flipped: String = secret
            .chars()
            .map(|c| if c == '0' { '1' } else { '0' })
            .collect();
        for (path, status) in [
            (path.to_string(), 200),
            (format!("/invoices/{shop_part}-{flipped}.pdf"), 404),
        ] {
            let res = app.get(&path).await;
            assert_eq!(res.status(), status, "{path}");
            let h = res.headers();
            assert!(
                h["cache-control"].to_str().unwrap().contains("no-store"),
                "{path}: {h:?}"
            );
            assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
            assert_eq!(h["x-robots-tag"], "noindex", "{path}");
        }
        app.stop().await;
    }
}

// ---- 4. refusals below the handlers ---------------------------------------------------------

/// One raw HTTP/1.1 exchange over a real socket: status, lowercase header lines, body.
async fn raw(app: &TestApp, head: &str, body: &[u8]) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let mut req = format!(
        "{head}\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    // The server may answer before it has read everything it was sent.
    let _ = s.write_all(&req).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.get(9..12))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

#[tokio::test]
async fn every_refusal_below_the_handlers_carries_the_error_body() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Refusals", Licence::Extended).await;
        let auth = format!("idboutique={}&key={}", shop.shop_id, shop.api_key);
        let long_url = format!(
            "GET /workers/getOrders.php?{auth}&x={} HTTP/1.1",
            "a".repeat(10_000)
        );
        let huge_header = format!(
            "GET /workers/getOrders.php?{auth} HTTP/1.1\r\nX-Padding: {}",
            "b".repeat(40_000)
        );
        // Past hyper's own defaults (100 fields): still answered by Comptoir, with the body.
        let many_headers = format!(
            "GET /workers/getOrders.php?{auth} HTTP/1.1{}",
            (0..150)
                .map(|i| format!("\r\nX-F{i}: {i}"))
                .collect::<String>()
        );
        let very_long_url = format!(
            "GET /workers/getOrders.php?{auth}&x={} HTTP/1.1",
            "a".repeat(40_000)
        );
        let form = "Content-Type: application/x-www-form-urlencoded";
        let big_form = format!("{auth}&publicComment={}", "c".repeat(300 * 1024)).into_bytes();
        let boundary = "xyz";
        let mut big_multipart = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"publicComment\"\r\n\r\n"
        )
        .into_bytes();
        big_multipart.extend(std::iter::repeat_n(b'd', 300 * 1024));
        big_multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let multipart_head = format!(
            "POST /workers/getOrders.php HTTP/1.1\r\nContent-Type: multipart/form-data; boundary={boundary}"
        );
        let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
            (
                "unknown route",
                "GET /nowhere HTTP/1.1".into(),
                vec![],
                404,
                "not_found",
            ),
            (
                "unknown .php",
                "GET /workers/getNothing.php HTTP/1.1".into(),
                vec![],
                404,
                "not_found",
            ),
            (
                "wrong method",
                "DELETE /workers/getOrders.php HTTP/1.1".into(),
                vec![],
                405,
                "method_not_allowed",
            ),
            (
                "POST /healthz",
                "POST /healthz HTTP/1.1".into(),
                vec![],
                405,
                "method_not_allowed",
            ),
            ("long URL", long_url, vec![], 414, "uri_too_long"),
            (
                "huge headers",
                huge_header,
                vec![],
                431,
                "headers_too_large",
            ),
            (
                "150 header fields",
                many_headers,
                vec![],
                431,
                "headers_too_large",
            ),
            ("40 KB URL", very_long_url, vec![], 414, "uri_too_long"),
            (
                "large form",
                format!("POST /workers/getOrders.php HTTP/1.1\r\n{form}"),
                big_form,
                413,
                "payload_too_large",
            ),
            (
                "large multipart",
                multipart_head,
                big_multipart,
                413,
                "payload_too_large",
            ),
            (
                "path not UTF-8",
                "GET /invoices/%FF%FE.pdf HTTP/1.1".into(),
                vec![],
                400,
                "invalid_parameter",
            ),
        ];
        for (what, head, body, status, code) in cases {
            let (s, headers, text) = raw(&app, &head, &body).await;
            let b: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!(
                    "{}: {what}: {s} without a JSON body ({e}): {text:?}",
                    db.backend
                )
            });
            assert_ko(what, s, &b, status, code);
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(header("content-type"), Some("application/json"), "{what}");
            assert_eq!(
                header("content-length").map(|v| v.parse::<usize>().unwrap()),
                Some(text.len()),
                "{what}"
            );
            if status == 405 {
                let allow = header("allow").unwrap_or_else(|| panic!("{what}: no Allow"));
                assert!(allow.contains("GET"), "{what}: {allow}");
                assert!(
                    b["errorMessage"].as_str().unwrap().contains(allow),
                    "{what}: {b}"
                );
            }
        }
        // Within the limits, the same requests are served.
        let (s, _, _) = raw(
            &app,
            &format!(
                "GET /workers/getOrders.php?{auth}&x={} HTTP/1.1",
                "a".repeat(6_000)
            ),
            &[],
        )
        .await;
        assert_eq!(s, 200, "{}: a 6 KB URL", db.backend);
        let (s, _, _) = raw(
            &app,
            &format!(
                "GET /workers/getOrders.php?{auth} HTTP/1.1\r\nX-Padding: {}",
                "b".repeat(20_000)
            ),
            &[],
        )
        .await;
        assert_eq!(s, 200, "{}: 20 KB of headers", db.backend);
        app.stop().await;
    }
}

// ---- 7. sign-in lockouts and trusted proxies ------------------------------------------------

/// Signs in with extra headers: status, body, how long the answer took.
async fn sign_in(
    app: &TestApp,
    login: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Value, std::time::Duration) {
    let mut req = app
        .http
        .post(app.url("/workers/getAuthToken.php"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(comptoir_testkit::encode_form(&[
            ("login", login),
            ("password", password),
        ]));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let started = std::time::Instant::now();
    let res = req.send().await.expect("POST");
    let (status, body) = answer(res).await;
    (status, body, started.elapsed())
}

#[tokio::test]
async fn wrong_passwords_from_one_address_slow_the_login_elsewhere_but_do_not_lock_it() {
    let step = std::time::Duration::from_millis(300);
    for db in TestDb::all() {
        let app = TestApp::spawn_with(&db, |c| {
            c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            c.login_delay_step = step;
        })
        .await;
        let shop = app.create_shop("Lockout", Licence::Extended).await;
        let (login, password) = (shop.admin_login.as_str(), shop.admin_password.as_str());
        let attacker = [("x-forwarded-for", "203.0.113.5")];
        let owner = [("x-forwarded-for", "198.51.100.7")];
        for i in 1..=5 {
            let (s, b, _) = sign_in(&app, login, "guess", &attacker).await;
            assert_ko(&format!("failure {i}"), s, &b, 401, "unauthorized");
        }
        let (s, b, _) = sign_in(&app, login, password, &attacker).await;
        assert_ko("the attacker's address", s, &b, 429, "rate_limited");

        // The owner, from an address that has not failed: slowed, not refused.
        let (s, b, took) = sign_in(&app, login, password, &owner).await;
        assert_eq!(s, 200, "{}: {b}", db.backend);
        assert!(
            took >= step,
            "{}: answered in {took:?}, slowed by {step:?}",
            db.backend
        );

        // The same through RFC 7239 `Forwarded`, with a client spoofing a hop before it.
        for i in 1..=5 {
            let (s, b, _) = sign_in(&app, login, "guess", &[("forwarded", "for=192.0.2.9")]).await;
            assert_ko(
                &format!("forwarded failure {i}"),
                s,
                &b,
                401,
                "unauthorized",
            );
        }
        let (s, b, _) = sign_in(&app, login, password, &[("forwarded", "for=192.0.2.9")]).await;
        assert_ko("forwarded attacker", s, &b, 429, "rate_limited");
        let spoofed = [("forwarded", "for=192.0.2.9, for=\"[2001:db8::1]:4711\"")];
        let (s, b, _) = sign_in(&app, login, password, &spoofed).await;
        assert_eq!(s, 200, "{}: the nearest hop is the client: {b}", db.backend);
        app.stop().await;
    }
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Spoofing", Licence::Extended).await;
        let login = shop.admin_login.as_str();
        for i in 1..=5 {
            let spoof = format!("203.0.113.{i}");
            let (s, b, _) = sign_in(&app, login, "guess", &[("x-forwarded-for", &spoof)]).await;
            assert_ko(&format!("failure {i}"), s, &b, 401, "unauthorized");
        }
        // Every attempt came from 127.0.0.1, whatever the header said.
        for spoof in [
            [("x-forwarded-for", "198.51.100.77")],
            [("forwarded", "for=198.51.100.78")],
        ] {
            let (s, b, _) = sign_in(&app, login, &shop.admin_password, &spoof).await;
            assert_ko("spoofed", s, &b, 429, "rate_limited");
        }
        app.stop().await;
    }
}

// ---- 8. one key per user while it is valid --------------------------------------------------

#[tokio::test]
async fn signing_in_again_returns_the_same_key_until_it_is_revoked() {
    use comptoir_store::shops;
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Same key", Licence::Extended).await;
        let (shop_id, login) = (shop.shop_id, shop.admin_login.clone());
        let store = app.store.clone();
        let keys = || {
            let store = store.clone();
            async move { store.read(move |c| shops::list_keys(c, shop_id)).await }
        };
        let before = keys().await.unwrap().len();
        let mut issued = Vec::new();
        for _ in 0..3 {
            let (s, b, _) = sign_in(&app, &login, &shop.admin_password, &[]).await;
            assert_eq!(s, 200, "{}: {b}", db.backend);
            issued.push(b["APIKEY"].as_str().unwrap().to_string());
        }
        assert_eq!(issued[0], issued[1], "{}", db.backend);
        assert_eq!(issued[1], issued[2], "{}", db.backend);
        let listed = keys().await.unwrap();
        assert_eq!(listed.len(), before + 1, "{}: keys piled up", db.backend);
        let mine = listed.last().unwrap();
        assert_eq!(mine.label.as_deref(), Some(login.as_str()));
        assert_eq!(mine.created_by.as_deref(), Some(login.as_str()));
        assert!(issued[0].starts_with(&format!("cpt_{}_", mine.prefix)));

        // Its use is recorded, in the background.
        assert_eq!(mine.last_used_at, None);
        let q = format!(
            "/workers/getOrders.php?idboutique={shop_id}&key={}",
            issued[0]
        );
        assert_eq!(app.get(&q).await.status(), 200);
        let mut used = None;
        for _ in 0..100 {
            used = keys().await.unwrap().last().unwrap().last_used_at;
            if used.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(used.is_some(), "{}: the use was not recorded", db.backend);

        // A revoked key is never handed out again: the next sign-in makes a new one.
        let id = mine.id;
        app.store
            .write(move |c| shops::revoke_key(c, shop_id, id))
            .await
            .unwrap();
        let (s, b, _) = sign_in(&app, &login, &shop.admin_password, &[]).await;
        assert_eq!(s, 200, "{}: {b}", db.backend);
        let fresh = b["APIKEY"].as_str().unwrap();
        assert_ne!(fresh, issued[0], "{}", db.backend);
        let q = format!("/workers/getOrders.php?idboutique={shop_id}&key={fresh}");
        assert_eq!(app.get(&q).await.status(), 200);
        let (_, b, _) = sign_in(&app, &login, &shop.admin_password, &[]).await;
        assert_eq!(b["APIKEY"], fresh, "{}", db.backend);
        assert_eq!(keys().await.unwrap().len(), before + 2);
        app.stop().await;
    }
}
