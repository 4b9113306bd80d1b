//! Webhook storage on both backends: endpoints and secrets, leases on due events (per-order
//! order, no double lease, expiry), the attempt log, re-sending and the purge.

use comptoir_core::model::Licence;
use comptoir_core::sale::PaymentParam;
use comptoir_store::sales::{self, SaleInput};
use comptoir_store::webhooks::{self, Attempt, Frozen, Outcome};
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

/// Claims what is due now (lease 30 s): `(shop, id, type, order)`.
async fn claim(store: &Store, per_shop: i64) -> Vec<webhooks::Claimed> {
    store
        .write(move |c| {
            let t = now();
            let due: Vec<_> = webhooks::due(c, t, per_shop, 64)?
                .iter()
                .map(|d| d.key())
                .collect();
            webhooks::claim(c, &due, t, t + 30_000_000)
        })
        .await
        .unwrap()
}

async fn finish(store: &Store, e: &webhooks::Claimed, outcome: Outcome) {
    let e = e.clone();
    store
        .write(move |c| {
            let a = Attempt {
                attempt: e.attempt,
                at: now(),
                status: Some(200),
                latency_micros: 1000,
                error: None,
                answer: "ok".into(),
            };
            webhooks::record(c, &e, &a, outcome)
        })
        .await
        .unwrap();
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

#[tokio::test]
async fn a_lease_runs_out_and_a_late_result_moves_nothing() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, _) = shop(&store, "Lease").await;
        set(&store, shop_id).await;
        sell(&store, shop_id, item, None).await;
        let short = store
            .write(move |c| {
                let t = now();
                let due: Vec<_> = webhooks::due(c, t, 10, 10)?
                    .iter()
                    .map(|d| d.key())
                    .collect();
                webhooks::claim(c, &due, t, t + 1)
            })
            .await
            .unwrap();
        assert_eq!(short.len(), 1);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let again = claim(&store, 10).await;
        assert_eq!(again.len(), 1, "{}: free after the lease", db.backend);
        assert_eq!(again[0].attempt, 2);
        // The first worker answers late: logged, but the event stays the second's.
        finish(&store, &short[0], Outcome::Delivered).await;
        let (shop, id) = (again[0].shop_id, again[0].id);
        let state = store
            .read(move |c| {
                c.query_one(
                    "select state from outbox where shop_id = $1 and id = $2",
                    params![shop, id],
                )?
                .string(0)
            })
            .await
            .unwrap();
        assert_eq!(state, "pending", "{}", db.backend);
        // A frozen body stays the first one.
        let body = |b: &str| Frozen {
            body: b.into(),
            format: "form".into(),
            verify_token: "t".into(),
        };
        let kept = store
            .write(move |c| {
                webhooks::freeze(c, shop, id, body("first"))?;
                webhooks::freeze(c, shop, id, body("second"))
            })
            .await
            .unwrap();
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
async fn concurrent_claims_never_share_an_event() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, _) = shop(&store, "Many").await;
        set(&store, shop_id).await;
        for _ in 0..40 {
            sell(&store, shop_id, item, None).await;
        }
        // A second store is a second process's pool.
        let other = db.store().await;
        let mut tasks = Vec::new();
        for s in [store.clone(), other.clone(), store.clone(), other.clone()] {
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..10 {
                    got.extend(claim(&s, 100).await.into_iter().map(|e| e.id));
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "{}: an event was leased twice", db.backend);
        assert_eq!(n, 40, "{}", db.backend);
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
async fn a_claim_keeps_the_body_of_the_first_attempt_and_never_replaces_it() {
    for db in TestDb::all() {
        let store = db.store().await;
        let (shop_id, item, _) = shop(&store, "Keep").await;
        set(&store, shop_id).await;
        sell(&store, shop_id, item, None).await;
        let body = |b: &str| Frozen {
            body: b.into(),
            format: "form".into(),
            verify_token: format!("token-{b}"),
        };
        // A worker leases the event with its body, then is killed: its lease runs out.
        let first = store
            .write(move |c| {
                let t = now();
                let due = webhooks::due(c, t, 10, 10)?;
                assert!(!due[0].frozen);
                let picks = vec![(due[0].key(), Some(body("first")))];
                webhooks::claim_keeping(c, &picks, t, t + 300_000)
            })
            .await
            .unwrap();
        assert_eq!(first.len(), 1, "{}", db.backend);
        assert_eq!(first[0].frozen, Some(body("first")));
        let key = (first[0].shop_id, first[0].id);
        // While leased, another claim takes nothing and changes nothing.
        let t = now();
        let leased = store
            .write(move |c| {
                webhooks::claim_keeping(c, &[(key, Some(body("leased")))], t, t + 30_000_000)
            })
            .await
            .unwrap();
        assert!(leased.is_empty(), "{}: leased", db.backend);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        // The next worker made a body of its own before seeing the kept one: the kept one
        // is what it gets, and what the verification URL answers.
        let second = store
            .write(move |c| {
                let t = now();
                let due = webhooks::due(c, t, 10, 10)?;
                assert!(due[0].frozen, "the body was kept");
                webhooks::claim_keeping(c, &[(key, Some(body("second")))], t, t + 30_000_000)
            })
            .await
            .unwrap();
        assert_eq!(second.len(), 1, "{}", db.backend);
        assert_eq!(second[0].attempt, 2);
        assert_eq!(second[0].frozen, Some(body("first")), "{}", db.backend);
        finish(&store, &second[0], Outcome::RetryAt(0)).await;
        // A retry without a body of its own gets the kept one.
        let third = store
            .write(move |c| {
                let t = now();
                webhooks::claim_keeping(c, &[(key, None)], t, t + 30_000_000)
            })
            .await
            .unwrap();
        assert_eq!(third[0].frozen, Some(body("first")), "{}", db.backend);
        let v = store
            .read(move |c| webhooks::verification(c, key.0, key.1))
            .await
            .unwrap()
            .expect("kept");
        assert_eq!(v.2, body("first"));
        // An event without a body and none given is leased without one.
        sell(&store, shop_id, item, None).await;
        let bare = store
            .write(move |c| {
                let t = now();
                let due = webhooks::due(c, t, 10, 10)?;
                let keys: Vec<_> = due.iter().map(|d| (d.key(), None)).collect();
                webhooks::claim_keeping(c, &keys, t, t + 30_000_000)
            })
            .await
            .unwrap();
        assert_eq!(bare.len(), 1, "{}", db.backend);
        assert_eq!(bare[0].frozen, None);
    }
}
