//! Webhook storage on both backends: endpoints and secrets, leases on due events (per-order
//! order, no double lease, expiry), the attempt log, re-sending and the purge.

use comptoir_core::model::Licence;
use comptoir_core::sale::PaymentParam;
use comptoir_store::sales::{self, SaleInput};
use comptoir_store::webhooks::{self, Attempt, Claimed, Frozen, Outcome, Room};
use comptoir_store::{Store, StoreError, params, shops};
use comptoir_testkit::{TestDb, create_shop, import_demo, item_and_payment_method};

/// A shop with the demo catalog; its id, an item and a payment method.
async fn shop(store: &Store, name: &str) -> (i64, i64, i64) {
    let shop_id = create_shop(store, name, Licence::Extended).await.shop_id;
    import_demo(store, shop_id).await;
    let (item, method) = item_and_payment_method(store, shop_id).await;
    (shop_id, item, method)
}

/// Records a sale; paid (validated then terminated) or unpaid (validated only).
async fn sell(store: &Store, shop_id: i64, item: i64, paid_with: Option<i64>) -> i64 {
    store
        .write(move |c| {
            let shop = shops::get_shop(c, shop_id)?.expect("shop");
            let payment = paid_with.map_or(PaymentParam::Unpaid, PaymentParam::Method);
            let input = SaleInput::new(vec![item.to_string()], payment);
            sales::record_sale(c, &shop, &input).map(|o| o.id)
        })
        .await
        .unwrap()
}

fn now() -> i64 {
    comptoir_store::now_micros()
}

async fn set(store: &Store, shop_id: i64) {
    store
        .write(move |c| {
            webhooks::set_endpoint(c, shop_id, "https://h.example/in", "form", "whsec_a", now())
        })
        .await
        .unwrap();
}

/// `per_shop` events of each shop, 64 in all, none in flight.
fn room(per_shop: i64) -> Room {
    Room {
        limit: 64,
        per_shop,
        busy: Vec::new(),
    }
}

/// Leases what is due now within `room`, for `lease` µs, as the worker does.
async fn lease(store: &Store, room: Room, lease: i64) -> Vec<Claimed> {
    store
        .write_aside_autocommit(move |c| {
            let t = now();
            webhooks::lease_due(c, t, t + lease, &room)
        })
        .await
        .unwrap()
}

/// Leases what is due now (lease 30 s), `per_shop` of each shop.
async fn claim(store: &Store, per_shop: i64) -> Vec<Claimed> {
    lease(store, room(per_shop), 30_000_000).await
}

fn answered(e: &Claimed, answer: &str) -> Attempt {
    Attempt {
        attempt: e.attempt,
        at: now(),
        status: Some(200),
        latency_micros: 1000,
        error: None,
        answer: answer.into(),
    }
}

async fn finish(store: &Store, e: &Claimed, outcome: Outcome) {
    let batch = vec![(e.clone(), answered(e, "ok"), outcome)];
    let logged = store
        .write_aside_autocommit(move |c| webhooks::record_many(c, &batch))
        .await
        .unwrap();
    assert_eq!(logged, 1);
}

/// The event's `(state, attempts logged)`.
async fn state_of(store: &Store, shop_id: i64, id: i64) -> (String, i64) {
    store
        .read(move |c| {
            let state = c
                .query_one(
                    "select state from outbox where shop_id = $1 and id = $2",
                    params![shop_id, id],
                )?
                .string(0)?;
            let logged = c
                .query_one(
                    "select count(*) from webhook_attempts where shop_id = $1 and event_id = $2",
                    params![shop_id, id],
                )?
                .i64(0)?;
            Ok::<_, StoreError>((state, logged))
        })
        .await
        .unwrap()
}

fn body(b: &str) -> Frozen {
    Frozen {
        body: b.into(),
        format: "form".into(),
        verify_token: format!("token-{b}"),
    }
}

/// Keeps `b` as the body of `key`; what the event has now.
async fn keep(store: &Store, key: (i64, i64), b: Frozen) -> Frozen {
    let kept = store
        .write_aside_autocommit(move |c| webhooks::keep_bodies(c, &[(key, b)]))
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, key);
    kept[0].1.clone()
}

#[tokio::test]
async fn endpoints_keep_their_secret_and_rotate() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, ..) = shop(&store, "Hooks").await;
        let ep = store
            .write(move |c| {
                webhooks::set_endpoint(c, shop_id, "https://a.example/", "json", "whsec_one", 1)?;
                webhooks::disable(c, shop_id, 2)?;
                webhooks::set_endpoint(c, shop_id, "https://b.example/", "form", "whsec_two", 3)
            })
            .await
            .unwrap();
        assert_eq!(ep.url.as_deref(), Some("https://b.example/"));
        assert_eq!(
            ep.secret, "whsec_one",
            "{}: set keeps the secret",
            db.backend
        );
        assert!(!format!("{ep:?}").contains("whsec"), "Debug hides secrets");
        let ep = store
            .write(move |c| webhooks::rotate_secret(c, shop_id, "whsec_new", 99, 4))
            .await
            .unwrap();
        assert_eq!(ep.secret, "whsec_new");
        assert_eq!(ep.previous, Some(("whsec_one".to_string(), 99)));
        let missing = store
            .write(|c| webhooks::disable(c, 424_242, 5))
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound), "{}", db.backend);
    }
}

#[tokio::test]
async fn terminated_waits_for_its_validated_and_leases_are_exclusive() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, method) = shop(&store, "Order").await;
        // Before webhooks are on: never delivered.
        sell(&store, shop_id, item, Some(method)).await;
        set(&store, shop_id).await;
        let o1 = sell(&store, shop_id, item, Some(method)).await;
        let o2 = sell(&store, shop_id, item, Some(method)).await;

        let first = claim(&store, 10).await;
        let kinds: Vec<(i64, &str)> = first
            .iter()
            .map(|e| (e.order_id, e.event_type.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [(o1, "validated"), (o2, "validated")],
            "{}: no terminated before its validated, nothing from before",
            db.backend
        );
        assert!(first.iter().all(|e| e.attempt == 1 && e.frozen.is_none()));
        assert!(claim(&store, 10).await.is_empty(), "{}: leased", db.backend);

        // o1's validated delivered, o2's retried later: only o1's terminated is due.
        finish(&store, &first[0], Outcome::Delivered).await;
        finish(&store, &first[1], Outcome::RetryAt(now() + 3_600_000_000)).await;
        let next = claim(&store, 10).await;
        assert_eq!(next.len(), 1, "{}", db.backend);
        assert_eq!(
            (next[0].order_id, next[0].event_type.as_str()),
            (o1, "terminated")
        );
        // Re-sending puts an event back in line at once.
        store
            .write(move |c| webhooks::resend(c, shop_id, next[0].id, now()))
            .await
            .unwrap();
        let log = store
            .read(move |c| webhooks::log(c, shop_id, false, 10))
            .await
            .unwrap();
        assert_eq!(log.len(), 3, "{}: {log:?}", db.backend);
        assert_eq!(log[2].attempts.len(), 1);
        assert_eq!(log[2].attempts[0].answer, "ok");
    }
}

/// The `next_at` of the shop's event `id`.
async fn next_at(store: &Store, shop_id: i64, id: i64) -> i64 {
    store
        .read(move |c| {
            c.query_one(
                "select next_at from outbox where shop_id = $1 and id = $2",
                params![shop_id, id],
            )?
            .i64(0)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_terminated_waits_at_its_validateds_next_try_and_comes_back_with_a_resend() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, method) = shop(&store, "Waiting").await;
        set(&store, shop_id).await;
        let order = sell(&store, shop_id, item, Some(method)).await;
        let validated = claim(&store, 10).await;
        assert_eq!(validated.len(), 1, "{}", db.backend);
        let v = validated[0].id;
        let t = store
            .read(move |c| {
                c.query_one(
                    "select id from outbox
                     where shop_id = $1 and order_id = $2 and event_type = 'terminated'",
                    params![shop_id, order],
                )?
                .i64(0)
            })
            .await
            .unwrap();
        let retry = now() + 3_600_000_000;
        finish(&store, &validated[0], Outcome::RetryAt(retry)).await;
        // Out of every look's walk until then, not at the head of the due index.
        assert_eq!(next_at(&store, shop_id, t).await, retry, "{}", db.backend);
        assert!(claim(&store, 10).await.is_empty(), "{}", db.backend);
        // Sent again by hand: the validated at once, and its terminated right after it.
        store
            .write(move |c| webhooks::resend(c, shop_id, v, now()))
            .await
            .unwrap();
        assert!(next_at(&store, shop_id, t).await < retry, "{}", db.backend);
        let again = claim(&store, 10).await;
        assert_eq!(again.len(), 1, "{}", db.backend);
        assert_eq!((again[0].id, again[0].attempt), (v, 2));
        finish(&store, &again[0], Outcome::Delivered).await;
        let next = claim(&store, 10).await;
        assert_eq!(next.len(), 1, "{}", db.backend);
        assert_eq!(
            (next[0].id, next[0].order_id, next[0].event_type.as_str()),
            (t, order, "terminated"),
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_lease_runs_out_and_a_late_result_moves_nothing() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, _) = shop(&store, "Lease").await;
        set(&store, shop_id).await;
        sell(&store, shop_id, item, None).await;
        let short = lease(&store, room(10), 1).await;
        assert_eq!(short.len(), 1);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let again = claim(&store, 10).await;
        assert_eq!(again.len(), 1, "{}: free after the lease", db.backend);
        assert_eq!(again[0].attempt, 2);
        // The first worker answers late: logged, but the event stays the second's.
        finish(&store, &short[0], Outcome::Delivered).await;
        let (shop, id) = (again[0].shop_id, again[0].id);
        assert_eq!(
            state_of(&store, shop, id).await,
            ("pending".to_string(), 1),
            "{}",
            db.backend
        );
        // A kept body stays the first one.
        keep(&store, (shop, id), body("first")).await;
        let kept = keep(&store, (shop, id), body("second")).await;
        assert_eq!(kept.body, "first");
        finish(&store, &again[0], Outcome::Failed).await;
        let failed = store
            .read(move |c| webhooks::log(c, shop, true, 10))
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].attempts.len(), 2);
        let v = store
            .read(move |c| webhooks::verification(c, shop, id))
            .await
            .unwrap()
            .expect("frozen");
        assert_eq!(v.2.body, "first");
    }
}

#[tokio::test]
async fn one_shop_backlog_leaves_room_for_others() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (a, item_a, _) = shop(&store, "Busy").await;
        let (b, item_b, _) = shop(&store, "Quiet").await;
        set(&store, a).await;
        set(&store, b).await;
        for _ in 0..12 {
            sell(&store, a, item_a, None).await;
        }
        sell(&store, b, item_b, None).await;
        let claimed = claim(&store, 4).await;
        let of_a = claimed.iter().filter(|e| e.shop_id == a).count();
        let of_b = claimed.iter().filter(|e| e.shop_id == b).count();
        assert_eq!((of_a, of_b), (4, 1), "{}", db.backend);
    }
}

#[tokio::test]
async fn concurrent_leases_of_two_processes_never_share_an_event() {
    for db in TestDb::all() {
        let store = db.store().await;
        let mut sold = 0;
        for name in ["Many", "More", "Most"] {
            let (shop_id, item, _) = shop(&store, name).await;
            set(&store, shop_id).await;
            for _ in 0..30 {
                sell(&store, shop_id, item, None).await;
                sold += 1;
            }
        }
        // A second store is a second process's pool; small leases, so that they race.
        let other = db.store().await;
        let small = Room {
            limit: 7,
            per_shop: 100,
            busy: Vec::new(),
        };
        let mut tasks = Vec::new();
        for s in [store.clone(), other.clone(), store.clone(), other.clone()] {
            let small = small.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..10 {
                    got.extend(lease(&s, small.clone(), 30_000_000).await);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap().into_iter().map(|e| e.key()));
        }
        // What a racing lease passed over is still there for the next one.
        loop {
            let rest = claim(&store, 100).await;
            if rest.is_empty() {
                break;
            }
            all.extend(rest.into_iter().map(|e| e.key()));
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "{}: an event was leased twice", db.backend);
        assert_eq!(n, sold, "{}", db.backend);
    }
}

#[tokio::test]
async fn the_purge_removes_old_events_with_their_attempts() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, _) = shop(&store, "Old").await;
        set(&store, shop_id).await;
        sell(&store, shop_id, item, None).await;
        let e = claim(&store, 10).await.remove(0);
        finish(&store, &e, Outcome::Delivered).await;
        let cutoff = now() + 1;
        sell(&store, shop_id, item, None).await;
        let removed = store
            .write(move |c| webhooks::purge(c, cutoff, 100))
            .await
            .unwrap();
        assert!(removed >= 1, "{}", db.backend);
        let (events, attempts) = store
            .read(move |c| {
                let mut n = |t: &str| {
                    c.query_one(
                        &format!("select count(*) from {t} where shop_id = $1"),
                        params![shop_id],
                    )
                    .and_then(|r| r.i64(0))
                };
                Ok::<_, StoreError>((n("outbox")?, n("webhook_attempts")?))
            })
            .await
            .unwrap();
        assert_eq!((events, attempts), (1, 0), "{}", db.backend);
        let pending = store.read(webhooks::pending_count).await.unwrap();
        assert_eq!(pending, 1);
    }
}

#[tokio::test]
async fn a_lease_keeps_the_body_of_the_first_attempt_and_never_replaces_it() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, _) = shop(&store, "Keep").await;
        set(&store, shop_id).await;
        sell(&store, shop_id, item, None).await;
        // A worker leases the event, keeps its body, then is killed: its lease runs out.
        let first = lease(&store, room(10), 300_000).await;
        assert_eq!(first.len(), 1, "{}", db.backend);
        assert_eq!(first[0].frozen, None);
        let key = first[0].key();
        assert_eq!(keep(&store, key, body("first")).await, body("first"));
        // While leased, another lease takes nothing.
        assert!(claim(&store, 10).await.is_empty(), "{}: leased", db.backend);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        // The next worker gets the kept body with its lease, and one it made before seeing
        // it would not replace it: the kept one is what the verification URL answers.
        let second = claim(&store, 10).await;
        assert_eq!(second.len(), 1, "{}", db.backend);
        assert_eq!(second[0].attempt, 2);
        assert_eq!(second[0].frozen, Some(body("first")), "{}", db.backend);
        assert_eq!(keep(&store, key, body("second")).await, body("first"));
        finish(&store, &second[0], Outcome::RetryAt(0)).await;
        let third = claim(&store, 10).await;
        assert_eq!(third[0].frozen, Some(body("first")), "{}", db.backend);
        let v = store
            .read(move |c| webhooks::verification(c, key.0, key.1))
            .await
            .unwrap()
            .expect("kept");
        assert_eq!(v.2, body("first"));
        // Bodies of several events are kept at once; an event that is gone is left out.
        sell(&store, shop_id, item, None).await;
        sell(&store, shop_id, item, None).await;
        let two = claim(&store, 10).await;
        assert_eq!(two.len(), 2, "{}", db.backend);
        let mut bodies: Vec<_> = two
            .iter()
            .map(|e| (e.key(), body(&e.id.to_string())))
            .collect();
        bodies.push(((shop_id, 999_999), body("gone")));
        let kept = store
            .write_aside_autocommit(move |c| webhooks::keep_bodies(c, &bodies))
            .await
            .unwrap();
        let mut kept_keys: Vec<_> = kept.iter().map(|(k, _)| *k).collect();
        kept_keys.sort_unstable();
        assert_eq!(kept_keys, [two[0].key(), two[1].key()], "{}", db.backend);
        assert!(kept.iter().all(|(k, b)| *b == body(&k.1.to_string())));
    }
}

#[tokio::test]
async fn a_lease_takes_each_shops_room_less_its_attempts_in_flight() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (a, item_a, _) = shop(&store, "Busy").await;
        let (b, item_b, _) = shop(&store, "Quiet").await;
        let (off, item_off, _) = shop(&store, "Off").await;
        set(&store, a).await;
        set(&store, b).await;
        for _ in 0..6 {
            sell(&store, a, item_a, None).await;
            sell(&store, b, item_b, None).await;
            sell(&store, off, item_off, None).await;
        }
        // Shop a has 3 attempts in flight already: one more of its events at most.
        let got = lease(
            &store,
            Room {
                limit: 64,
                per_shop: 4,
                busy: vec![(a, 3), (424_242, 9)],
            },
            30_000_000,
        )
        .await;
        let of = |s: i64| got.iter().filter(|e| e.shop_id == s).count();
        assert_eq!((of(a), of(b), of(off)), (1, 4, 0), "{}", db.backend);
        // Oldest first within a shop, each event once, whatever the room left.
        let mut ids: Vec<_> = got
            .iter()
            .filter(|e| e.shop_id == b)
            .map(|e| e.id)
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        // The limit in all: 2 of the 7 left.
        let got = lease(
            &store,
            Room {
                limit: 2,
                per_shop: 16,
                busy: Vec::new(),
            },
            30_000_000,
        )
        .await;
        assert_eq!(got.len(), 2, "{}", db.backend);
        // A shop with no room left gets nothing.
        let got = lease(
            &store,
            Room {
                limit: 64,
                per_shop: 4,
                busy: vec![(a, 4), (b, 9)],
            },
            30_000_000,
        )
        .await;
        assert!(got.is_empty(), "{}: {got:?}", db.backend);
    }
}

#[tokio::test]
async fn a_batch_record_logs_every_attempt_it_can_and_moves_each_event() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, method) = shop(&store, "Batch").await;
        set(&store, shop_id).await;
        for _ in 0..4 {
            sell(&store, shop_id, item, Some(method)).await;
        }
        let got = claim(&store, 16).await;
        assert_eq!(got.len(), 4, "{}: the validated ones", db.backend);
        let gone = Claimed {
            id: 999_999,
            ..got[0].clone()
        };
        let retry_at = now() + 3_600_000_000;
        let batch = vec![
            (got[0].clone(), answered(&got[0], "ok"), Outcome::Delivered),
            // An event purged while it was attempted: nothing to log it against.
            (gone.clone(), answered(&gone, "ok"), Outcome::Delivered),
            // A receiver's answer with a NUL byte, which PostgreSQL's text refuses.
            (
                got[1].clone(),
                answered(&got[1], "bad\0answer"),
                Outcome::RetryAt(retry_at),
            ),
            (got[2].clone(), answered(&got[2], "no"), Outcome::Failed),
            // The same attempt twice: logged once.
            (got[2].clone(), answered(&got[2], "again"), Outcome::Failed),
            (got[3].clone(), answered(&got[3], "ok"), Outcome::Delivered),
        ];
        let logged = store
            .write_aside_autocommit(move |c| webhooks::record_many(c, &batch))
            .await
            .unwrap();
        assert_eq!(logged, 4, "{}", db.backend);
        let states = [
            state_of(&store, shop_id, got[0].id).await,
            state_of(&store, shop_id, got[1].id).await,
            state_of(&store, shop_id, got[2].id).await,
            state_of(&store, shop_id, got[3].id).await,
        ];
        let want = |s: &str| (s.to_string(), 1);
        assert_eq!(
            states,
            [
                want("delivered"),
                want("pending"),
                want("failed"),
                want("delivered")
            ],
            "{}",
            db.backend
        );
        let log = store
            .read(move |c| webhooks::log(c, shop_id, false, 20))
            .await
            .unwrap();
        let answers: Vec<(i64, &str)> = log
            .iter()
            .flat_map(|e| e.attempts.iter().map(move |a| (e.id, a.answer.as_str())))
            .collect();
        assert!(
            answers.contains(&(got[1].id, "bad\u{fffd}answer")),
            "{}: {answers:?}",
            db.backend
        );
        let twice: Vec<_> = answers.iter().filter(|(id, _)| *id == got[2].id).collect();
        assert_eq!(twice.len(), 1, "{}: {answers:?}", db.backend);
        let retried = log.iter().find(|e| e.id == got[1].id).expect("logged");
        assert_eq!(retried.next_at, retry_at);
        // The delivered orders' terminated events are due now, the others' are not.
        let next = claim(&store, 16).await;
        let mut orders: Vec<_> = next
            .iter()
            .map(|e| (e.order_id, e.event_type.as_str()))
            .collect();
        orders.sort_unstable();
        let mut want = vec![
            (got[0].order_id, "terminated"),
            (got[2].order_id, "terminated"),
            (got[3].order_id, "terminated"),
        ];
        want.sort_unstable();
        assert_eq!(orders, want, "{}", db.backend);
    }
}

#[tokio::test]
async fn a_lease_passes_over_events_another_process_holds_instead_of_waiting() {
    // PostgreSQL only: SQLite has one writer per database, so no lease ever waits there.
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    let other = db.store().await;
    let (shop_id, item, _) = shop(&store, "Locks").await;
    set(&store, shop_id).await;
    for _ in 0..3 {
        sell(&store, shop_id, item, None).await;
    }
    // A transaction of the first process holds the oldest event's row lock while the
    // second process leases: it gets the two others at once.
    let (got, held) = store
        .write(move |c| {
            let held = c
                .query_one(
                    "select id from outbox where shop_id = $1 order by id limit 1 for update",
                    params![shop_id],
                )?
                .i64(0)?;
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let got = other.read_blocking(|c| {
                    let t = now();
                    webhooks::lease_due(c, t, t + 30_000_000, &room(10))
                });
                let _ = tx.send(got);
            });
            let got = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("the lease waited for a row lock")?;
            Ok::<_, StoreError>((got, held))
        })
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|e| e.id != held && e.shop_id == shop_id));
    // Once the lock is gone, the held event is leased too, and only it.
    let rest = claim(&store, 10).await;
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), [held]);
}
