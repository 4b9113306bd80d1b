//! `comptoir webhook` and delivery by the real `comptoir serve` process: the commands and
//! their errors; a server killed (SIGKILL) mid-delivery loses no event once restarted;
//! two servers on one PostgreSQL database deliver each event once.

mod common;

use common::{Server, comptoir, ok, stderr};

use comptoir_store::{StoreError, params};
use comptoir_testkit::TestDb;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-shop.json");

/// A webhook receiver on loopback, on plain threads: records each request's
/// `webhook-id`; answers 200 at once, or holds the answer while `hold` is set.
#[derive(Clone)]
struct Receiver {
    url: String,
    ids: Arc<Mutex<Vec<String>>>,
    hold: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            ids: Arc::default(),
            hold: Arc::default(),
        };
        let me = r.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || me.serve(stream));
            }
        });
        r
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream);
        loop {
            let mut id = None;
            let mut length = 0usize;
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    match k.to_ascii_lowercase().as_str() {
                        "webhook-id" => id = Some(v.trim().to_string()),
                        "content-length" => length = v.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if let Some(id) = id {
                self.ids.lock().unwrap().push(id);
            }
            if self.hold.load(Ordering::SeqCst) {
                // Never answered: the server is killed meanwhile.
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            let out = reader.get_mut();
            if out
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
        }
    }

    fn ids(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }

    fn wait(&self, secs: u64, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let ids = self.ids();
            if pred(&ids) {
                return ids;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {ids:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `serve --webhook-allow-private` with a short retry schedule.
fn serve(db: &TestDb) -> Server {
    Server::start_with(
        db,
        &["--webhook-allow-private"],
        &[("COMPTOIR_WEBHOOK_TEST_SCHEDULE", "200,400,800,800")],
    )
}

/// Records a paid sale (validated and terminated); panics unless it is answered 200.
fn sell(server: &Server, shop: &Shop) {
    let body = format!(
        "idboutique={}&key={}&payment={}&itemsList[]={}",
        shop.id, shop.key, shop.cash, shop.espresso
    );
    let mut s = TcpStream::connect(&server.addr).unwrap();
    write!(
        s,
        "POST /workers/webapp.php HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

struct Shop {
    id: String,
    key: String,
    cash: i64,
    espresso: i64,
}

fn setup(db: &TestDb, name: &str) -> Shop {
    let created: Value = serde_json::from_str(&ok(
        db,
        &["shop", "create", "--name", name, "--extended", "--json"],
    ))
    .unwrap();
    let id = created["shop_id"].as_str().unwrap().to_string();
    let key = created["api_key"].as_str().unwrap().to_string();
    ok(db, &["catalog", "import", "--shop", &id, DEMO]);
    let shop_id: i64 = id.parse().unwrap();
    let store = comptoir_store::Store::open_blocking(&db.db_url()).expect("open");
    let (cash, espresso) = store
        .read_blocking(|c| {
            let mut id = |table: &str, name: &str| -> Result<i64, StoreError> {
                c.query_one(
                    &format!("select id from {table} where shop_id = $1 and name = $2"),
                    params![shop_id, name],
                )?
                .i64(0)
            };
            Ok::<_, StoreError>((id("payment_methods", "Cash")?, id("items", "Espresso")?))
        })
        .unwrap();
    Shop {
        id,
        key,
        cash,
        espresso,
    }
}

/// `(state, attempts, attempts answered 2xx)` of every event of the shop, by event id.
fn events(db: &TestDb, shop: &Shop) -> BTreeMap<String, (String, i64, i64)> {
    let store = comptoir_store::Store::open_blocking(&db.db_url()).expect("open");
    let shop_id: i64 = shop.id.parse().unwrap();
    store
        .read_blocking(|c| {
            c.query(
                "select id, state, (select count(*) from webhook_attempts a
                     where a.shop_id = o.shop_id and a.event_id = o.id),
                   (select count(*) from webhook_attempts a
                     where a.shop_id = o.shop_id and a.event_id = o.id
                       and a.status between 200 and 299)
                 from outbox o where shop_id = $1",
                params![shop_id],
            )
        })
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!("{shop_id}-{}", r.i64(0).unwrap()),
                (r.string(1).unwrap(), r.i64(2).unwrap(), r.i64(3).unwrap()),
            )
        })
        .collect()
}

#[test]
fn the_commands_set_show_rotate_log_and_refuse_bad_input() {
    let db = TestDb::sqlite();
    let shop = setup(&db, "Hooks");
    let id = shop.id.as_str();

    let o = comptoir(
        &db,
        &["webhook", "set", "--shop", id, "http://127.0.0.1:9/in"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("URL") && stderr(&o).contains("loopback"),
        "{}",
        stderr(&o)
    );
    let o = comptoir(&db, &["webhook", "set", "--shop", id, "ftp://example.com/"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = comptoir(
        &db,
        &[
            "webhook",
            "set",
            "--shop",
            "999",
            "https://hooks.example.com/",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let set: Value = serde_json::from_str(&ok(
        &db,
        &[
            "webhook",
            "set",
            "--shop",
            id,
            "https://hooks.example.com/in",
            "--format",
            "json",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(set["url"], "https://hooks.example.com/in");
    assert_eq!(set["format"], "json");
    let secret = set["secret"].as_str().unwrap().to_string();
    assert!(
        comptoir_core::webhook::signature::Secret::parse(&secret).is_ok(),
        "{secret}"
    );
    let again = ok(
        &db,
        &[
            "webhook",
            "set",
            "--shop",
            id,
            "http://127.0.0.1:9/in",
            "--allow-private",
        ],
    );
    assert!(again.contains(&secret), "set keeps the secret: {again}");
    assert_eq!(ok(&db, &["webhook", "secret", "--shop", id]).trim(), secret);
    let rotated: Value = serde_json::from_str(&ok(
        &db,
        &["webhook", "secret", "--shop", id, "--rotate", "--json"],
    ))
    .unwrap();
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);
    assert!(rotated["previous_until"].is_string());
    assert_eq!(
        ok(&db, &["webhook", "log", "--shop", id, "--json"]).trim(),
        "[]"
    );
    let o = comptoir(&db, &["webhook", "resend", "--shop", id, "42-1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("EVENT_ID"), "{}", stderr(&o));
    let o = comptoir(
        &db,
        &["webhook", "resend", "--shop", id, &format!("{id}-12345")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    ok(&db, &["webhook", "off", "--shop", id]);
    let shown = ok(&db, &["webhook", "secret", "--shop", id, "--json"]);
    assert!(shown.contains("whsec_"));
    let o = comptoir(&db, &["webhook", "off", "--shop", &setup(&db, "Never").id]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_server_killed_mid_delivery_loses_no_event_after_restart() {
    for db in TestDb::all() {
        let b = db.backend;
        let shop = setup(&db, "Crash");
        let rx = Receiver::start();
        ok(
            &db,
            &[
                "webhook",
                "set",
                "--shop",
                &shop.id,
                &rx.url,
                "--allow-private",
            ],
        );
        rx.hold.store(true, Ordering::SeqCst);
        let server = serve(&db);
        for _ in 0..5 {
            sell(&server, &shop);
        }
        rx.wait(10, "a first attempt in flight", |ids| !ids.is_empty());
        server.kill_9();
        rx.hold.store(false, Ordering::SeqCst);
        let server = serve(&db);
        // The killed process's leases run out (15 s), then every event arrives.
        rx.wait(45, "all ten events", |ids| {
            ids.iter().collect::<std::collections::BTreeSet<_>>().len() >= 10
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ev = events(&db, &shop);
            if ev.len() == 10 && ev.values().all(|(s, ..)| s == "delivered") {
                break;
            }
            assert!(Instant::now() < deadline, "{b}: {ev:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Nothing delivered after the sale it belongs to was acknowledged is lost; the
        // restarted server answers the log with every event.
        let log: Value =
            serde_json::from_str(&ok(&db, &["webhook", "log", "--shop", &shop.id, "--json"]))
                .unwrap();
        assert_eq!(log.as_array().unwrap().len(), 10, "{b}");
        assert!(
            log.as_array()
                .unwrap()
                .iter()
                .all(|e| e["state"] == "delivered")
        );
        drop(server);
    }
}

#[test]
fn two_servers_on_one_postgresql_deliver_each_event_once() {
    let Some(db) = TestDb::postgres() else { return };
    let shop = setup(&db, "Twins");
    let rx = Receiver::start();
    ok(
        &db,
        &[
            "webhook",
            "set",
            "--shop",
            &shop.id,
            &rx.url,
            "--allow-private",
        ],
    );
    let (one, two) = (serve(&db), serve(&db));
    for i in 0..30 {
        if i % 2 == 0 {
            sell(&one, &shop)
        } else {
            sell(&two, &shop)
        }
    }
    rx.wait(30, "sixty events", |ids| {
        ids.iter().collect::<std::collections::BTreeSet<_>>().len() >= 60
    });
    std::thread::sleep(Duration::from_millis(1000));
    // Each attempt reached the receiver once: as many calls as attempts logged, and one
    // answered 2xx per event (a second call is only a logged retry after a failure).
    let mut calls: BTreeMap<String, i64> = BTreeMap::new();
    for id in rx.ids() {
        *calls.entry(id).or_default() += 1;
    }
    let ev = events(&db, &shop);
    assert_eq!(ev.len(), 60);
    for (id, (state, attempts, ok)) in &ev {
        assert_eq!(state, "delivered", "{id}");
        assert_eq!(*ok, 1, "{id} was delivered {ok} times");
        assert_eq!(
            calls.get(id).copied().unwrap_or(0),
            *attempts,
            "{id}: calls and attempts"
        );
    }
}
