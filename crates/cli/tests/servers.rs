//! Two `comptoir serve` processes on one PostgreSQL database (skipped without
//! `COMPTOIR_TEST_POSTGRES`): sales of two shops sent to both at once are each stored once,
//! numbered without a gap per shop; an idempotency key holds across the processes; each process
//! keeps to the connection budget it was given by option or environment.

mod common;

use common::{Server, http, setup};

use comptoir_store::{StoreError, params};
use comptoir_testkit::TestDb;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Keys each sent by every client thread, so each reaches both processes several times.
const KEYS: usize = 30;
/// Sales without a key, per client thread.
const PLAIN: usize = 10;
const THREADS: usize = 6;
/// Marks the sales of the second shop (no key).
const OTHER: &str = "other shop";

/// Posts a sale until it is answered other than 409 `idempotency_in_flight`.
fn sale(addr: &str, body: &str) -> (u16, Value) {
    let start = Instant::now();
    loop {
        let (status, text) = http(addr, "POST", "/workers/webapp.php", body).expect("answer");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status} {text}"));
        if status != 409 {
            return (status, v);
        }
        assert_eq!(v["error"]["code"], "idempotency_in_flight", "{v}");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "in flight for 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn metric(addr: &str, name: &str) -> String {
    let (status, text) = http(addr, "GET", "/metrics", "").expect("metrics");
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn two_servers_store_each_sale_once_gapless_and_share_idempotency_keys() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let shop = setup(&db);
    // A second shop, sold in by the same threads: a lane records the sales of several
    // shops in one transaction, so the two processes lock both shops' counters at once.
    let other_shop = setup(&db);
    // One sized by options, one by environment variables.
    let servers = [
        Server::start_with(&db, &["--pg-pool-size", "3", "--pg-writer-lanes", "1"], &[]),
        Server::start_with(
            &db,
            &[],
            &[
                ("COMPTOIR_PG_POOL_SIZE", "2"),
                ("COMPTOIR_PG_WRITER_LANES", "2"),
            ],
        ),
    ];
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    assert_eq!(metric(&addrs[0], "comptoir_db_pool_max_connections"), "3");
    assert_eq!(metric(&addrs[1], "comptoir_db_pool_max_connections"), "2");

    let other_body = format!(
        "{}&payment={}&itemsList[]={}_1",
        other_shop.auth(),
        other_shop.cash,
        other_shop.espresso
    );
    let body = |key: Option<&str>| {
        let mut b = format!(
            "{}&payment={}&itemsList[]={}_2",
            shop.auth(),
            shop.cash,
            shop.espresso
        );
        if let Some(k) = key {
            b.push_str(&format!("&idempotencyKey={k}"));
        }
        b
    };
    // Each thread sends every key (starting at a different one) and its own plain sales,
    // alternating between the processes.
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let addrs = addrs.clone();
            let bodies: Vec<(Option<String>, String)> = (0..KEYS)
                .map(|i| format!("k{}", (i + t * 5) % KEYS))
                .map(|k| (Some(k.clone()), body(Some(&k))))
                .chain((0..PLAIN).map(|_| (None, body(None))))
                .chain((0..PLAIN).map(|_| (Some(OTHER.to_string()), other_body.clone())))
                .collect();
            std::thread::spawn(move || {
                bodies
                    .into_iter()
                    .enumerate()
                    .map(|(i, (key, body))| {
                        let (status, v) = sale(&addrs[(t + i) % 2], &body);
                        assert_eq!(status, 200, "{v}");
                        let id = v["orderInternalID"].as_i64().expect("orderInternalID");
                        (key, id, v["orderID"].as_i64().expect("orderID"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut by_key = BTreeMap::<String, BTreeSet<(i64, i64)>>::new();
    let mut plain = BTreeSet::new();
    let mut other = BTreeSet::new();
    for t in threads {
        for (key, id, number) in t.join().expect("client thread") {
            match key {
                Some(k) if k == OTHER => assert!(other.insert((id, number)), "order {id} twice"),
                Some(k) => {
                    by_key.entry(k).or_default().insert((id, number));
                }
                None => assert!(plain.insert((id, number)), "order {id} answered twice"),
            }
        }
    }
    // Every answer for one key, from either process, names the same order.
    assert_eq!(by_key.len(), KEYS);
    for (k, orders) in &by_key {
        assert_eq!(orders.len(), 1, "key {k} gave several orders: {orders:?}");
    }
    // The same key with other items: refused by the process that did not record it too.
    let conflicting = format!(
        "{}&payment={}&itemsList[]={}_3&idempotencyKey=k0",
        shop.auth(),
        shop.cash,
        shop.espresso
    );
    for addr in &addrs {
        let (status, v) = sale(addr, &conflicting);
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (422, Some("idempotency_conflict")),
            "{v}"
        );
    }

    let acked: BTreeSet<(i64, i64)> = by_key.values().flatten().copied().chain(plain).collect();
    assert_eq!(acked.len(), KEYS + THREADS * PLAIN);
    let shop_id: i64 = shop.id.parse().unwrap();
    let other_id: i64 = other_shop.id.parse().unwrap();
    let store = comptoir_store::Store::open_blocking(&db.db_url()).expect("open");
    let schema = db.schema().expect("a PostgreSQL schema").to_string();
    let (stored, other_stored, connections) = store
        .read_blocking(move |c| {
            let mut orders = |shop_id: i64| {
                c.query(
                    "select id, number from orders where shop_id = $1",
                    params![shop_id],
                )?
                .iter()
                .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
                .collect::<Result<BTreeSet<(i64, i64)>, StoreError>>()
            };
            let (stored, other_stored) = (orders(shop_id)?, orders(other_id)?);
            // Backends of this test's database: both servers' and this store's one.
            let connections = c
                .query_one(
                    "select count(*) from pg_stat_activity where application_name = $1",
                    params![schema],
                )?
                .i64(0)?;
            Ok::<_, StoreError>((stored, other_stored, connections))
        })
        .expect("read back");
    assert_eq!(
        stored, acked,
        "every acknowledged sale stored once, no other"
    );
    let numbers: Vec<i64> = stored
        .iter()
        .map(|&(_, n)| n)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        numbers,
        (1..=acked.len() as i64).collect::<Vec<_>>(),
        "gapless"
    );
    assert_eq!(other_stored, other, "the second shop's sales stored once");
    let mut numbers: Vec<i64> = other.iter().map(|&(_, n)| n).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=(THREADS * PLAIN) as i64).collect::<Vec<_>>(),
        "the second shop gapless"
    );
    // (3 + 1) + (2 + 2) at most, a WAL flusher's each, and this reader's own connection.
    assert!(connections <= 11, "{connections} connections");
    drop(servers);
}
