//! store::events on each backend: concurrent appends make one gapless chain, the paged
//! read over a time range gives each event of the range once, and verification catches an
//! altered, a deleted and a moved event.

use comptoir_core::event::{Event, Journal, NewEvent, Origin, Via};
use comptoir_core::model::Licence;
use comptoir_store::events::{self, EventsVerification};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestDb, create_shop};

fn event(journal: Journal, at: i64, n: i64) -> NewEvent {
    NewEvent {
        journal,
        at,
        origin: Origin::cli(),
        event: Event::ApiKeyRevoked {
            key_id: n,
            via: Via::Cli,
        },
    }
}

async fn verify(store: &Store, journal: Journal) -> EventsVerification {
    store
        .read(move |c| events::verify_snapshot(c, journal))
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_appends_make_one_gapless_verified_chain_per_journal() {
    for db in TestDb::all() {
        let store = db.store().await;
        let a = create_shop(&store, "A", Licence::Standard).await.shop_id;
        let b = create_shop(&store, "B", Licence::Standard).await.shop_id;
        let writes: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                let journal = match i % 3 {
                    0 => Journal::Shop(a),
                    1 => Journal::Shop(b),
                    _ => Journal::Server,
                };
                tokio::spawn(async move {
                    let e = event(journal, 1_000 + i, i);
                    store.write(move |c| events::append(c, &e)).await
                })
            })
            .collect();
        for w in writes {
            w.await.unwrap().unwrap();
        }
        for (journal, n) in [
            (Journal::Shop(a), 14),
            (Journal::Shop(b), 13),
            (Journal::Server, 13),
        ] {
            match verify(&store, journal).await {
                EventsVerification::Intact { events, .. } => {
                    assert_eq!(events, n, "{}: {journal}", db.backend)
                }
                broken => panic!("{}: {}", db.backend, broken.message(journal)),
            }
        }
    }
}

#[tokio::test]
async fn a_time_range_is_read_in_pages_in_journal_order() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = create_shop(&store, "Range", Licence::Standard)
            .await
            .shop_id;
        let other = create_shop(&store, "Other", Licence::Standard)
            .await
            .shop_id;
        store
            .write(move |c| {
                for i in 1..=25 {
                    events::append(c, &event(Journal::Shop(shop), i * 10, i))?;
                    events::append(c, &event(Journal::Shop(other), i * 10, i))?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        // [50, 200): events 5..=19, read 4 at a time.
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = store
                .read(move |c| events::range_page(c, shop, 50, 200, after, 4))
                .await
                .unwrap();
            seen.extend(page.iter().map(|e| (e.seq, e.at)));
            match page.last() {
                Some(last) if page.len() == 4 => after = last.seq,
                _ => break,
            }
        }
        let want: Vec<(i64, i64)> = (5..=19).map(|i| (i, i * 10)).collect();
        assert_eq!(seen, want, "{}", db.backend);
        let none = store
            .read(move |c| events::range_page(c, shop, 1_000, 2_000, 0, 4))
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}

#[tokio::test]
async fn verification_names_an_altered_a_deleted_and_a_moved_event() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = create_shop(&store, "Tamper", Licence::Standard)
            .await
            .shop_id;
        let journal = Journal::Shop(shop);
        store
            .write(move |c| {
                for i in 1..=6 {
                    events::append(c, &event(journal, i, i))?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let run = |sql: &'static str, seq: i64| {
            let store = store.clone();
            async move {
                store
                    .write(move |c| c.execute(sql, params![shop, seq]))
                    .await
                    .unwrap();
            }
        };
        let problem = |v: EventsVerification| match v {
            EventsVerification::Broken { at, problem, .. } => (at.map(|a| a.0), problem.code()),
            intact => panic!("{}: still {intact:?}", db.backend),
        };

        run(
            "update events set entry = replace(entry, '\"key_id\":3', '\"key_id\":33')
             where shop_id = $1 and seq = $2",
            3,
        )
        .await;
        let v = verify(&store, journal).await;
        assert!(v.message(journal).contains("broken at event 3"), "{v:?}");
        assert_eq!(problem(v), (Some(3), "event_seal_mismatch"));

        run("delete from events where shop_id = $1 and seq = $2", 3).await;
        assert_eq!(
            problem(verify(&store, journal).await),
            (Some(4), "event_missing")
        );

        // Moving the next event into the hole: its seal is chained on the deleted one.
        run(
            "update events set seq = 3 where shop_id = $1 and seq = $2",
            4,
        )
        .await;
        let (at, _) = problem(verify(&store, journal).await);
        assert_eq!(at, Some(3));
    }
}
