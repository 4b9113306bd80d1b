//! Webhooks end to end, with a real receiver on loopback: both events of a sale in order
//! with every field, the signature, the verification URL, retries on the (shortened)
//! schedule, a receiver down then up, bounded concurrency, refused addresses and
//! redirects, and the metrics. Each test runs on SQLite and, when `COMPTOIR_TEST_POSTGRES`
//! is set, on PostgreSQL.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use comptoir_core::model::Licence;
use comptoir_core::webhook::FIELDS;
use comptoir_core::webhook::signature::{self, Secret};
use comptoir_store::params;
use comptoir_store::webhooks;
use comptoir_testkit::{TestApp, TestDb, import_demo, item_and_payment_method};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body's fields (form or JSON) as a JSON object.
    fn fields(&self) -> Value {
        if self.header("content-type").starts_with("application/json") {
            return serde_json::from_str(&self.body).expect("JSON body");
        }
        let form = comptoir_core::form::Form::parse(self.body.as_bytes()).expect("form body");
        let mut map = serde_json::Map::new();
        for k in FIELDS {
            if let Some(v) = form.get(k) {
                map.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
        Value::Object(map)
    }
}

/// How the receiver answers.
#[derive(Default)]
struct Behaviour {
    /// Answer 503 while set.
    down: AtomicBool,
    /// Answer 500 always.
    failing: AtomicBool,
    /// Answer 302 to this location.
    redirect_to: Mutex<Option<String>>,
    /// Wait this long (ms) before answering.
    delay_ms: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    how: Arc<Behaviour>,
}

impl Receiver {
    async fn start() -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let how = Arc::new(Behaviour::default());
        let app = axum::Router::new()
            .fallback(receive)
            .with_state((got.clone(), how.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got, how }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for what was received (at most `secs`).
    async fn wait_for(
        &self,
        secs: u64,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {} requests",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

type RxState = (Arc<Mutex<Vec<Received>>>, Arc<Behaviour>);

async fn receive(
    State((got, how)): State<RxState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let now = how.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    how.max_in_flight.fetch_max(now, Ordering::SeqCst);
    got.lock().unwrap().push(Received {
        at: Instant::now(),
        path: uri.path().to_string(),
        headers,
        body,
    });
    let delay = how.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    how.in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Some(to) = how.redirect_to.lock().unwrap().clone() {
        return (StatusCode::FOUND, [("location", to)], "moved").into_response();
    }
    if how.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "receiver broke").into_response();
    }
    if how.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    (StatusCode::OK, "thanks").into_response()
}

/// A shop with the demo catalog: its id, API key, an item and a payment method.
struct Shop {
    id: i64,
    key: String,
    item: i64,
    method: i64,
}

async fn shop(app: &TestApp, name: &str) -> Shop {
    let created = app.create_shop(name, Licence::Extended).await;
    import_demo(&app.store, created.shop_id).await;
    let id = created.shop_id;
    let (item, method) = item_and_payment_method(&app.store, id).await;
    Shop {
        id,
        key: created.api_key,
        item,
        method,
    }
}

/// Sets the shop's webhook straight in the store (the CLI checks URLs; these tests also
/// store URLs it would refuse, to see the worker refuse them); returns the secret.
async fn hook(app: &TestApp, shop: &Shop, url: &str, format: &str) -> Secret {
    let secret = Secret::from_bytes(comptoir_store::random_bytes());
    let (id, url, format, text) = (
        shop.id,
        url.to_string(),
        format.to_string(),
        secret.to_text(),
    );
    app.store
        .write(move |c| {
            webhooks::set_endpoint(c, id, &url, &format, &text, comptoir_store::now_micros())
        })
        .await
        .unwrap();
    secret
}

/// Records a sale over webapp.php: paid (two events) or unpaid (one); its JSON answer.
async fn sell(app: &TestApp, shop: &Shop, paid: bool, extra: &[(&str, &str)]) -> Value {
    let item = shop.item.to_string();
    let payment = if paid {
        shop.method.to_string()
    } else {
        "-1".to_string()
    };
    let id = shop.id.to_string();
    let mut form = vec![
        ("idboutique", id.as_str()),
        ("key", shop.key.as_str()),
        ("itemsList[]", item.as_str()),
        ("payment", payment.as_str()),
    ];
    form.extend_from_slice(extra);
    let res = app.post_form("/workers/webapp.php", &form).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn short_schedule(app: &mut comptoir_server::Config, waits_ms: &[u64]) {
    app.webhooks.retry_schedule = waits_ms.iter().map(|m| Duration::from_millis(*m)).collect();
    app.webhooks.poll = Duration::from_millis(50);
}

#[tokio::test]
async fn both_events_arrive_in_order_signed_with_every_field() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let rx = Receiver::start().await;
        for format in ["form", "json"] {
            let s = shop(&app, &format!("Hooked {format}")).await;
            let secret = hook(&app, &s, &rx.url, format).await;
            let before = rx.received().len();
            let order = sell(
                &app,
                &s,
                true,
                &[
                    ("client[nom]", "Lefèvre"),
                    ("client[email]", "anne@b.example"),
                ],
            )
            .await;
            let got = rx
                .wait_for(10, "two events", |g| g.len() >= before + 2)
                .await;
            let (v, t) = (&got[before], &got[before + 1]);
            let (fv, ft) = (v.fields(), t.fields());
            assert_eq!(fv["type"], "validated", "{}: {fv}", db.backend);
            assert_eq!(ft["type"], "terminated", "{}", db.backend);
            assert!(t.at >= v.at);
            assert_eq!((v.path.as_str(), t.path.as_str()), ("/hook", "/hook"));
            for key in FIELDS {
                assert!(
                    fv.get(key).is_some(),
                    "{} {format}: {key} missing in {fv}",
                    db.backend
                );
            }
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(
                text(&fv["orderInternalID"]),
                order["orderInternalID"].to_string()
            );
            assert_eq!(text(&fv["orderID"]), order["orderID"].to_string());
            assert_eq!(text(&fv["price"]), order["price"].to_string());
            assert_eq!(text(&fv["PDFinvoice"]), text(&order["PDFinvoice"]));
            assert_eq!(text(&fv["shopID"]), s.id.to_string());
            assert_eq!(text(&fv["isRefund"]), "false");
            assert_eq!(text(&fv["validationDate"]), text(&order["validatedAt"]));
            let customer: Value = match &fv["customer"] {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            assert_eq!(customer["last_name"], "Lefèvre", "{}", db.backend);
            let items: Value = match &fv["items"] {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            assert_eq!(items, order["items"]);
            assert_ne!(fv["eventID"], ft["eventID"]);
            assert_eq!(
                v.header("user-agent"),
                concat!("Comptoir-Webhook/", env!("CARGO_PKG_VERSION"))
            );
            let expected_type = if format == "json" {
                "application/json"
            } else {
                "application/x-www-form-urlencoded; charset=utf-8"
            };
            assert_eq!(v.header("content-type"), expected_type);

            // The Standard Webhooks signature, with the shop's secret.
            for r in [v, t] {
                let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
                let now = jiff::Timestamp::now().as_second();
                assert!(
                    signature::verify(
                        &secret,
                        r.header("webhook-signature"),
                        r.header("webhook-id"),
                        ts,
                        r.body.as_bytes(),
                        now,
                        300
                    ),
                    "{}: signature",
                    db.backend
                );
                assert_eq!(r.header("webhook-id"), text(&r.fields()["eventID"]));
                let other = Secret::from_bytes([9; 32]);
                assert!(!signature::verify(
                    &other,
                    r.header("webhook-signature"),
                    r.header("webhook-id"),
                    ts,
                    r.body.as_bytes(),
                    now,
                    300
                ));
            }

            // The verification URL confirms this body, and no other link answers.
            let link = text(&fv["signatureVerificationURL"]);
            assert!(link.starts_with(&app.base), "{link}");
            let answer: Value = app
                .http
                .get(&link)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(answer["result"], "OK");
            assert_eq!(answer["type"], "validated");
            assert_eq!(answer["eventID"], fv["eventID"]);
            assert_eq!(
                answer["orderInternalID"].to_string(),
                order["orderInternalID"].to_string()
            );
            assert_eq!(
                answer["bodySha256"],
                comptoir_store::hex(&Sha256::digest(v.body.as_bytes()))
            );
            assert_ne!(
                answer["bodySha256"],
                comptoir_store::hex(&Sha256::digest(t.body.as_bytes()))
            );
            let forged = format!("{}0", &link[..link.len() - 1]);
            let forged = if forged == link {
                format!("{}1", &link[..link.len() - 1])
            } else {
                forged
            };
            let refused = app.http.get(&forged).send().await.unwrap();
            assert_eq!(refused.status(), 404, "{}: forged link", db.backend);
            let other_event = text(&ft["signatureVerificationURL"]);
            let answer: Value = app
                .http
                .get(&other_event)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(answer["type"], "terminated");
        }
        // Pending orders give none; an unpaid validated sale gives validated only.
        let s = shop(&app, "Quiet").await;
        hook(&app, &s, &rx.url, "form").await;
        let before = rx.received().len();
        sell(&app, &s, false, &[]).await;
        rx.wait_for(10, "validated", |g| g.len() > before).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(rx.received().len(), before + 1, "{}", db.backend);

        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("comptoir_webhook_events_total{outcome=\"delivered\"} 5"),
            "{metrics}"
        );
        assert!(
            metrics.contains("comptoir_webhook_attempt_duration_seconds_count 5"),
            "{metrics}"
        );
        assert!(
            metrics.contains("comptoir_webhook_events_pending"),
            "{metrics}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn retries_follow_the_schedule_then_fail_and_resend_works() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with(&db, |c| short_schedule(c, &[300, 600])).await;
        let rx = Receiver::start().await;
        rx.how.failing.store(true, Ordering::SeqCst);
        let s = shop(&app, "Failing").await;
        hook(&app, &s, &rx.url, "form").await;
        sell(&app, &s, true, &[]).await;
        // validated: 3 attempts (first + 2 retries), then failed for good; only then
        // terminated goes, 3 attempts too.
        let got = rx.wait_for(15, "six attempts", |g| g.len() >= 6).await;
        let types: Vec<String> = got
            .iter()
            .map(|r| r.fields()["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            types,
            [
                "validated",
                "validated",
                "validated",
                "terminated",
                "terminated",
                "terminated"
            ],
            "{}",
            db.backend
        );
        let gap = |a: &Received, b: &Received| b.at.duration_since(a.at);
        for (i, base) in [(0, 300u64), (1, 600)] {
            let g = gap(&got[i], &got[i + 1]);
            assert!(
                g >= Duration::from_millis(base * 8 / 10)
                    && g <= Duration::from_millis(base * 12 / 10 + 400),
                "{}: retry {} after {g:?}, schedule {base} ms",
                db.backend,
                i + 1
            );
        }
        // The same body each time, and the same event id.
        assert_eq!(got[0].body, got[2].body);
        assert_eq!(got[0].header("webhook-id"), got[2].header("webhook-id"));
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(
            rx.received().len(),
            6,
            "{}: nothing after failing",
            db.backend
        );

        let shop_id = s.id;
        let log = app
            .store
            .read(move |c| webhooks::log(c, shop_id, true, 10))
            .await
            .unwrap();
        assert_eq!(log.len(), 2, "{}", db.backend);
        let a = &log[1].attempts;
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].status, Some(500));
        assert_eq!(a[0].answer, "receiver broke");

        // Re-sent once the receiver works: delivered.
        rx.how.failing.store(false, Ordering::SeqCst);
        let id = log[1].id;
        app.store
            .write(move |c| webhooks::resend(c, shop_id, id, comptoir_store::now_micros()))
            .await
            .unwrap();
        let got = rx.wait_for(10, "the re-sent event", |g| g.len() >= 7).await;
        assert_eq!(got[6].body, got[0].body, "{}", db.backend);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let state = app
                .store
                .read(move |c| {
                    c.query_one(
                        "select state from outbox where shop_id = $1 and id = $2",
                        params![shop_id, id],
                    )?
                    .string(0)
                })
                .await
                .unwrap();
            if state == "delivered" {
                break;
            }
            assert!(Instant::now() < deadline, "{}: still {state}", db.backend);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_receiver_down_for_a_while_then_up_gets_everything() {
    for db in TestDb::all() {
        let app =
            TestApp::spawn_with(&db, |c| short_schedule(c, &[200, 400, 800, 800, 800, 800])).await;
        let rx = Receiver::start().await;
        rx.how.down.store(true, Ordering::SeqCst);
        let s = shop(&app, "Outage").await;
        hook(&app, &s, &rx.url, "json").await;
        for _ in 0..5 {
            sell(&app, &s, true, &[]).await;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        rx.how.down.store(false, Ordering::SeqCst);
        let got = rx
            .wait_for(20, "ten events delivered", |g| {
                let ok: std::collections::HashSet<String> = g
                    .iter()
                    .filter(|r| r.at.elapsed() < Duration::from_secs(60))
                    .map(|r| r.header("webhook-id").to_string())
                    .collect();
                ok.len() >= 10
            })
            .await;
        assert!(got.len() > 10, "{}: some attempts failed first", db.backend);
        let shop_id = s.id;
        let states = app
            .store
            .read(move |c| {
                let mut deadline = 50;
                loop {
                    let r = c.query_one(
                        "select count(*) from outbox where shop_id = $1 and state = 'delivered'",
                        params![shop_id],
                    )?;
                    if r.i64(0)? == 10 || deadline == 0 {
                        return r.i64(0);
                    }
                    deadline -= 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .await
            .unwrap();
        assert_eq!(states, 10, "{}", db.backend);
        app.stop().await;
    }
}

#[tokio::test]
async fn concurrency_stays_bounded_and_a_slow_shop_leaves_room() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with(&db, |c| {
            c.webhooks.concurrency = 6;
            c.webhooks.per_shop = 4;
        })
        .await;
        let slow = Receiver::start().await;
        slow.how.delay_ms.store(300, Ordering::SeqCst);
        let fast = Receiver::start().await;
        let a = shop(&app, "Slow").await;
        let b = shop(&app, "Fast").await;
        hook(&app, &a, &slow.url, "form").await;
        hook(&app, &b, &fast.url, "form").await;
        for _ in 0..20 {
            sell(&app, &a, false, &[]).await;
        }
        let started = Instant::now();
        for _ in 0..5 {
            sell(&app, &b, false, &[]).await;
        }
        fast.wait_for(10, "the fast shop's events", |g| g.len() >= 5)
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{}: the fast shop waited {:?} behind the slow one",
            db.backend,
            started.elapsed()
        );
        slow.wait_for(20, "the slow shop's events", |g| g.len() >= 20)
            .await;
        assert!(
            slow.how.max_in_flight.load(Ordering::SeqCst) <= 4,
            "{}: per shop",
            db.backend
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn forbidden_addresses_and_redirects_are_refused() {
    for db in TestDb::all() {
        let rx = Receiver::start().await;
        let port = rx
            .url
            .split(':')
            .nth(2)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let app = TestApp::spawn_with(&db, |c| {
            c.webhook_allow_private = false;
            short_schedule(c, &[60_000]);
        })
        .await;
        let targets = [
            format!("http://localhost:{port}/hook"),
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://[::1]:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            format!("http://0.0.0.0:{port}/hook"),
            "http://10.0.0.1/hook".to_string(),
            "http://172.16.5.4/hook".to_string(),
            "http://192.168.1.1/hook".to_string(),
            "http://169.254.169.254/latest/meta-data".to_string(),
            "http://100.64.0.1/hook".to_string(),
            "http://[fd00:ec2::254]/hook".to_string(),
            "http://[fc00::1]/hook".to_string(),
            "http://[fe80::1]/hook".to_string(),
            "http://224.0.0.1/hook".to_string(),
            "ftp://example.com/hook".to_string(),
        ];
        let mut shops = Vec::new();
        for (i, url) in targets.iter().enumerate() {
            let s = shop(&app, &format!("Refused {i}")).await;
            hook(&app, &s, url, "form").await;
            sell(&app, &s, false, &[]).await;
            shops.push((s.id, url.clone()));
        }
        for (shop_id, url) in shops {
            let deadline = Instant::now() + Duration::from_secs(10);
            let log = loop {
                let log = app
                    .store
                    .read(move |c| webhooks::log(c, shop_id, false, 10))
                    .await
                    .unwrap();
                if log.first().is_some_and(|e| !e.attempts.is_empty()) || Instant::now() > deadline
                {
                    break log;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let a = &log
                .first()
                .unwrap_or_else(|| panic!("{}: {url}: no attempt", db.backend))
                .attempts[0];
            assert_eq!(a.status, None, "{}: {url} was called", db.backend);
            let error = a.error.as_deref().unwrap_or("");
            assert!(
                error.contains("refused")
                    || error.contains("public addresses")
                    || error.contains("http://"),
                "{}: {url}: {error}",
                db.backend
            );
        }
        assert!(
            rx.received().is_empty(),
            "{}: the receiver was reached",
            db.backend
        );
        app.stop().await;

        // Allowed to loopback, a redirect to localhost is not followed.
        let app = TestApp::spawn(&db).await;
        let target = Receiver::start().await;
        *rx.how.redirect_to.lock().unwrap() = Some(target.url.replace("127.0.0.1", "localhost"));
        let s = shop(&app, "Redirected").await;
        hook(&app, &s, &rx.url, "form").await;
        sell(&app, &s, false, &[]).await;
        rx.wait_for(10, "the first attempt", |g| !g.is_empty())
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            target.received().is_empty(),
            "{}: the redirect was followed",
            db.backend
        );
        let shop_id = s.id;
        let log = app
            .store
            .read(move |c| webhooks::log(c, shop_id, false, 10))
            .await
            .unwrap();
        assert_eq!(log[0].attempts[0].status, Some(302));
        assert_eq!(log[0].state, "pending", "{}: 3xx is retried", db.backend);
        app.stop().await;
    }
}

#[tokio::test]
async fn while_sales_keep_the_server_busy_delivery_yields_but_delivers_everything() {
    for db in TestDb::all() {
        // Always yielding (`queued: 0`): a look every 250 ms at most, two events a look.
        let app = TestApp::spawn_with(&db, |c| {
            c.webhooks.yielding = comptoir_server::webhooks::Yielding {
                queued: 0,
                interval: Duration::from_millis(250),
                batch: 2,
                ..Default::default()
            };
        })
        .await;
        let rx = Receiver::start().await;
        let s = shop(&app, "Rush").await;
        hook(&app, &s, &rx.url, "form").await;
        for _ in 0..4 {
            sell(&app, &s, true, &[]).await;
        }
        let got = rx.wait_for(20, "the eight events", |g| g.len() >= 8).await;
        // Nothing was dropped, and each order's `validated` came before its `terminated`.
        let mut seen: Vec<(String, String)> = Vec::new();
        for r in &got {
            let f = r.fields();
            let order = f["orderInternalID"].as_str().unwrap_or("").to_string();
            let kind = f["type"].as_str().unwrap_or("").to_string();
            if kind == "terminated" {
                assert!(
                    seen.contains(&(order.clone(), "validated".into())),
                    "{}: terminated before validated for order {order}",
                    db.backend
                );
            }
            seen.push((order, kind));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 8, "{}: {seen:?}", db.backend);
        // The looks were paced: never more than a look's two events within 100 ms.
        let mut at: Vec<Instant> = got.iter().map(|r| r.at).collect();
        at.sort();
        for (i, t) in at.iter().enumerate() {
            let close = at[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_millis(100))
                .count();
            assert!(close <= 2, "{}: {close} events within 100 ms", db.backend);
        }
        app.stop().await;
    }
}
