//! A PostgreSQL lane's transaction of several shops' sales, and the counter rows another
//! process holds: it records the sales of the shops it could lock, and hands the others
//! back to its queue for its next transaction instead of waiting with them all, and the
//! other writes of those shops after them.

use comptoir_store::params;
use comptoir_testkit::{TestDb, demo_shop, hold_counter_row, sell_two, two_stores};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_several_shops_records_the_sales_of_those_it_could_lock_at_once() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("skipped: COMPTOIR_TEST_POSTGRES is not set");
        return;
    };
    // One lane: the sales of every shop share its transactions.
    let (store, other) = two_stores(&db).await;
    let (gate, gate_item, gate_cash) = demo_shop(&store, "Gate").await;
    let (held, held_item, held_cash) = demo_shop(&store, "Held elsewhere").await;
    let (free, free_item, free_cash) = demo_shop(&store, "Free").await;
    let started = Instant::now();
    let hold_gate = hold_counter_row(&other, gate.id, Duration::from_millis(1500));
    let hold_held = hold_counter_row(&other, held.id, Duration::from_secs(6));
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The lane's transaction waits for the gate's row; the next two sales queue behind
    // it, and are then taken together.
    let (s, g) = (store.clone(), gate.clone());
    let gated = tokio::spawn(async move { sell_two(&s, &g, gate_item, gate_cash).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (s, h) = (store.clone(), held.clone());
    let waiting = tokio::spawn(async move { sell_two(&s, &h, held_item, held_cash).await });
    let (s, f) = (store.clone(), free.clone());
    let freed = tokio::spawn(async move {
        let sold = sell_two(&s, &f, free_item, free_cash).await;
        (sold, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Another write of the held shop, queued after its sale: it waits with it, after it,
    // and so reads it.
    let (s, held_id) = (store.clone(), held.id);
    let after = tokio::spawn(async move {
        s.write_checked(held_id, move |c| {
            c.query_one(
                "select count(*) from orders where shop_id = $1",
                params![held_id],
            )?
            .i64(0)
        })
        .await
    });
    let (sold, at) = freed.await.unwrap();
    sold.expect("the free shop's sale");
    assert!(
        at < Duration::from_secs(5),
        "the free shop's sale waited {at:?} with the held one (held for 6 s)"
    );
    gated.await.unwrap().expect("the gate's sale");
    hold_gate.await.unwrap();
    let sold = waiting
        .await
        .unwrap()
        .expect("the held shop's sale, once released");
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "answered before the row was released"
    );
    assert_eq!(sold.number, Some(1));
    assert_eq!(
        after.await.unwrap().expect("the other write"),
        1,
        "the held shop's other write ran before its sale"
    );
    hold_held.await.unwrap();
}
