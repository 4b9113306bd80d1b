//! Delivery stands aside while the writer is saturated: with writes kept queued at the
//! writer (SQLite's, or PostgreSQL's sales lanes), the worker leases at most a look's
//! batch per interval, then delivers everything, in order, once the queue empties; and
//! it stops standing aside once events have waited longer than the yield's `max_lag`.

mod common;

use common::receiver::Receiver;
use comptoir_core::model::Licence;
use comptoir_core::webhook::signature::Secret;
use comptoir_server::webhooks::Yielding;
use comptoir_store::{Store, StoreError, webhooks};
use comptoir_testkit::{TestApp, TestDb, import_demo, item_and_payment_method};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Until `until`, offers the writer a write every millisecond, each holding it 2 ms (at
/// most 60 waiting for their answer): they arrive faster than it commits them, so writes
/// queue behind each batch (20 to 40 of them), as when sales saturate it. On a thread and
/// runtime of its own, so that the test's server does not hold up its offers. On
/// PostgreSQL they all go to the lane of one shop id no test shop has (the lanes take the
/// writes of a shop in turn).
fn saturate(store: Store, until: Instant) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let room = Arc::new(tokio::sync::Semaphore::new(60));
            let mut writes = tokio::task::JoinSet::new();
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while Instant::now() < until {
                tick.tick().await;
                let Ok(permit) = room.clone().acquire_owned().await else {
                    break;
                };
                let store = store.clone();
                writes.spawn(async move {
                    let _ = store
                        .write_checked(-1, |_| {
                            std::thread::sleep(Duration::from_millis(2));
                            Ok::<_, StoreError>(())
                        })
                        .await;
                    drop(permit);
                });
            }
            while writes.join_next().await.is_some() {}
        });
    })
}

/// A shop with the demo catalog whose webhook goes to `url`: `(id, key, item, method)`.
async fn shop(app: &TestApp, url: &str) -> (String, String, String, String) {
    let created = app.create_shop("Rush", Licence::Extended).await;
    import_demo(&app.store, created.shop_id).await;
    let (item, method) = item_and_payment_method(&app.store, created.shop_id).await;
    let (id, url, secret) = (
        created.shop_id,
        url.to_string(),
        Secret::from_bytes(comptoir_store::random_bytes()).to_text(),
    );
    app.store
        .write(move |c| {
            webhooks::set_endpoint(c, id, &url, "form", &secret, comptoir_store::now_micros())
        })
        .await
        .unwrap();
    (
        id.to_string(),
        created.api_key,
        item.to_string(),
        method.to_string(),
    )
}

/// A server whose delivery stands aside as `yielding` says, a receiver, and a shop
/// ([`shop`]) whose webhook goes to it.
async fn yielding_app(
    db: &TestDb,
    yielding: Yielding,
) -> (TestApp, Receiver, (String, String, String, String)) {
    let app = TestApp::spawn_with(db, |c| c.webhooks.yielding = yielding).await;
    let rx = Receiver::start().await;
    let s = shop(&app, &rx.url).await;
    (app, rx, s)
}

/// Records `n` paid sales (two events each).
async fn sell(app: &TestApp, (id, key, item, method): &(String, String, String, String), n: usize) {
    for _ in 0..n {
        let res = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", id.as_str()),
                    ("key", key.as_str()),
                    ("itemsList[]", item.as_str()),
                    ("payment", method.as_str()),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
    }
}

/// Each call's `(orderInternalID, type)`, in the order received; asserts every order's
/// `terminated` came after its `validated`, and no event twice.
fn events(rx: &Receiver, backend: comptoir_store::db::Backend) -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for call in rx.calls() {
        let form = comptoir_core::form::Form::parse(call.body.as_bytes()).expect("form body");
        let order = form.get("orderInternalID").unwrap_or("").to_string();
        let kind = form.get("type").unwrap_or("").to_string();
        if kind == "terminated" {
            assert!(
                seen.contains(&(order.clone(), "validated".into())),
                "{backend}: terminated before validated for order {order}"
            );
        }
        assert!(
            !seen.contains(&(order.clone(), kind.clone())),
            "{backend}: {kind} of order {order} twice"
        );
        seen.push((order, kind));
    }
    seen
}

#[tokio::test]
async fn while_the_writer_is_saturated_delivery_holds_back_then_delivers_everything() {
    for db in TestDb::all() {
        // One event a look, a look every 400 ms at most, from 2 writes queued on average.
        let (app, rx, s) = yielding_app(
            &db,
            Yielding {
                queued: 2,
                interval: Duration::from_millis(400),
                batch: 1,
                max_lag: Duration::from_secs(60),
            },
        )
        .await;

        // Without a rush the worker looks at once: four sales' eight events come quickly.
        let started = Instant::now();
        sell(&app, &s, 4).await;
        rx.wait_for(8).await;
        let quiet = started.elapsed();

        let until = Instant::now() + Duration::from_millis(2500);
        let load = saturate(app.store.clone(), until);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let selling = Instant::now();
        sell(&app, &s, 8).await;
        tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
        // The rush held all but about one event per 400 ms back: of its 16 events, at
        // most one a look since the sales began (and the look the first sale woke).
        let during = rx.calls().len() - 8;
        let allowed = 2 + (until - selling).as_millis() as usize / 400;
        assert!(
            during <= allowed,
            "{}: {during} of the rush's 16 events went out while the writer was saturated \
             (at most {allowed}); without a rush 8 took {quiet:?}",
            db.backend
        );
        tokio::task::spawn_blocking(move || load.join())
            .await
            .unwrap()
            .unwrap();
        // Once the queue is empty, the rest goes out at once, in order, each event once.
        let ended = Instant::now();
        rx.wait_for(24).await;
        assert!(
            ended.elapsed() < Duration::from_secs(3),
            "{}: the backlog took {:?} after the rush",
            db.backend,
            ended.elapsed()
        );
        assert_eq!(events(&rx, db.backend).len(), 24, "{}", db.backend);
        app.stop().await;
    }
}

#[tokio::test]
async fn delivery_stops_holding_back_once_events_wait_longer_than_the_max_lag() {
    for db in TestDb::all() {
        // Looks 2 s apart while saturated, but events may wait 300 ms at most.
        let (app, rx, s) = yielding_app(
            &db,
            Yielding {
                queued: 2,
                interval: Duration::from_secs(2),
                batch: 1,
                max_lag: Duration::from_millis(300),
            },
        )
        .await;
        let until = Instant::now() + Duration::from_secs(8);
        let load = saturate(app.store.clone(), until);
        tokio::time::sleep(Duration::from_millis(200)).await;
        sell(&app, &s, 4).await;
        // At one event per 2 s the eight would take 16 s; found late, the rest goes at
        // once, while the writer is still saturated.
        rx.wait_for(8).await;
        assert!(
            Instant::now() < until,
            "{}: the events waited for the rush to end",
            db.backend
        );
        assert_eq!(events(&rx, db.backend).len(), 8, "{}", db.backend);
        tokio::task::spawn_blocking(move || load.join())
            .await
            .unwrap()
            .unwrap();
        app.stop().await;
    }
}

#[tokio::test]
async fn each_look_records_the_attempts_finished_before_it_and_a_stop_records_the_rest() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let rx = Receiver::start().await;
        let s = shop(&app, &rx.url).await;
        let store = app.store.clone();
        sell(&app, &s, 12).await;
        rx.wait_for(24).await;
        // Stopped as soon as the last calls came: the looks recorded most attempts with
        // their next lease, the stop records those finished since.
        app.stop().await;
        let shop_id: i64 = s.0.parse().unwrap();
        let log = store
            .read(move |c| webhooks::log(c, shop_id, false, 100))
            .await
            .unwrap();
        assert_eq!(log.len(), 24, "{}", db.backend);
        for e in &log {
            assert_eq!(e.state, "delivered", "{}: event {}", db.backend, e.id);
            assert_eq!(e.attempts.len(), 1, "{}: event {}", db.backend, e.id);
            assert_eq!(e.attempts[0].status, Some(200), "{}", db.backend);
        }
        // Recorded, each event was sent once: no lease ran out for want of a record.
        assert_eq!(events(&rx, db.backend).len(), 24, "{}", db.backend);
    }
}
