//! A `comptoir serve` killed with SIGKILL in the middle of a stream of sales loses no sale
//! it acknowledged: restarted on the same database, it returns every answered
//! orderInternalID, the numbers have no gap and the seal chain verifies. On SQLite and,
//! when `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL.

mod common;

use common::{Server, http, ok, setup};

use comptoir_store::{StoreError, params};
use comptoir_testkit::{TestDb, recompute_chain};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Threads sending sales at once.
const CLIENTS: usize = 4;
/// Acknowledged sales before the kill.
const BEFORE_KILL: usize = 60;

#[test]
fn a_server_killed_mid_load_keeps_every_acknowledged_sale_and_an_intact_chain() {
    for db in TestDb::all() {
        let b = db.backend;
        let shop = Arc::new(setup(&db));
        let server = Server::start(&db);
        let addr = server.addr.clone();

        // order number → orderInternalID of every sale answered 200.
        let acked: Arc<Mutex<BTreeMap<i64, i64>>> = Arc::default();
        let refused: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (shop, addr) = (shop.clone(), addr.clone());
                let (acked, refused, stop) = (acked.clone(), refused.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let body = format!(
                            "{}&payment={}&itemsList[]={}_{}",
                            shop.auth(),
                            shop.cash,
                            shop.espresso,
                            1 + (t + n) % 3
                        );
                        match http(&addr, "POST", "/workers/webapp.php", &body) {
                            Ok((200, text)) => {
                                let v: Value = serde_json::from_str(&text).expect("JSON");
                                let (number, id) = (
                                    v["orderID"].as_i64().expect("orderID"),
                                    v["orderInternalID"].as_i64().expect("orderInternalID"),
                                );
                                let old = acked.lock().unwrap().insert(number, id);
                                assert!(old.is_none(), "orderID {number} answered twice");
                            }
                            Ok((status, text)) => {
                                refused.lock().unwrap().push(format!("{status} {text}"));
                            }
                            // The server is gone (or went mid-answer): not acknowledged.
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();

        let start = Instant::now();
        while acked.lock().unwrap().len() < BEFORE_KILL {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{b}: too slow: {} sales in 60 s; refused: {:?}",
                acked.lock().unwrap().len(),
                refused.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        server.kill_9();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("client thread");
        }
        let refused = refused.lock().unwrap().clone();
        assert!(refused.is_empty(), "{b}: refused sales: {refused:?}");
        let acked = acked.lock().unwrap().clone();
        eprintln!("{b}: {} sales acknowledged before SIGKILL", acked.len());

        // Restarted on the same database, it has every acknowledged sale.
        let server = Server::start(&db);
        for (number, id) in &acked {
            let path = format!("/workers/getOrder.php?{}&order_id={id}", shop.auth());
            let (status, text) = http(&server.addr, "GET", &path, "").expect("getOrder.php");
            assert_eq!(status, 200, "{b}: acknowledged order {id} is lost: {text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["orderID"], *number, "{b}");
            assert_eq!(v["status"], "terminated", "{b}");
        }

        let shop_id: i64 = shop.id.parse().unwrap();
        let store = comptoir_store::Store::open_blocking(&db.db_url()).expect("open");
        let (numbers, problems) = store
            .read_blocking(|c| {
                let numbers: BTreeMap<i64, i64> = c
                    .query(
                        "select number, id from orders where shop_id = $1 and number is not null",
                        params![shop_id],
                    )?
                    .iter()
                    .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
                    .collect::<Result<_, StoreError>>()?;
                Ok::<_, StoreError>((numbers, recompute_chain(c, shop_id)?))
            })
            .expect("read back");
        drop(store);
        let n = numbers.len() as i64;
        eprintln!("{b}: {n} sales in the database after the restart");
        assert!(n as usize >= acked.len(), "{b}");
        assert_eq!(
            numbers.keys().copied().collect::<Vec<_>>(),
            (1..=n).collect::<Vec<_>>(),
            "{b}: orderIDs without a gap"
        );
        for (number, id) in &acked {
            assert_eq!(numbers.get(number), Some(id), "{b}: order {number}");
        }
        assert!(problems.is_empty(), "{b}: {problems:#?}");
        let out = ok(&db, &["verify", "--shop", &shop.id]);
        assert!(
            out.starts_with(&format!("chain ok: {} entries", 2 * n)),
            "{b}: {out}"
        );

        // And it goes on numbering from there.
        let body = format!(
            "{}&payment={}&itemsList[]={}",
            shop.auth(),
            shop.cash,
            shop.espresso
        );
        let (status, text) = http(&server.addr, "POST", "/workers/webapp.php", &body).unwrap();
        assert_eq!(status, 200, "{b}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["orderID"], n + 1, "{b}");
        drop(server);
    }
}

#[test]
fn two_serve_processes_on_one_postgresql_database_number_200_sales_without_a_gap() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let shop = setup(&db);
    let servers = [Server::start(&db), Server::start(&db)];
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let body = format!(
        "{}&payment={}&itemsList[]={}_2&itemsList[]={}",
        shop.auth(),
        shop.cash,
        shop.espresso,
        shop.espresso
    );
    // 8 threads, alternating between the two processes, 25 sales each.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let addr = addrs[t % 2].clone();
            let body = body.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        let (status, text) =
                            http(&addr, "POST", "/workers/webapp.php", &body).expect("answer");
                        assert_eq!(status, 200, "{text}");
                        let v: Value = serde_json::from_str(&text).unwrap();
                        (v["orderID"].as_i64().unwrap(), addr.clone())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut numbers: Vec<i64> = Vec::new();
    let mut per_process = BTreeMap::<String, usize>::new();
    for t in threads {
        for (n, addr) in t.join().expect("client thread") {
            numbers.push(n);
            *per_process.entry(addr).or_default() += 1;
        }
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=200).collect::<Vec<_>>(),
        "orderIDs 1..=200 without a gap"
    );
    assert_eq!(per_process.len(), 2, "both processes recorded sales");
    let out = ok(&db, &["verify", "--shop", &shop.id]);
    assert!(out.starts_with("chain ok: 400 entries"), "{out}");
    drop(servers);
}
