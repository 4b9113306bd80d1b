//! The `comptoir` command, run as a process: the contract of spec/cli.md on both backends.

mod common;

use common::{BIN, comptoir, ok, stderr};

use comptoir_testkit::TestDb;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn create_shop(db: &TestDb, name: &str) -> Value {
    serde_json::from_str(&ok(
        db,
        &["shop", "create", "--name", name, "--extended", "--json"],
    ))
    .expect("shop create --json prints JSON")
}

fn shop_id(shop: &Value) -> String {
    shop["shop_id"]
        .as_str()
        .expect("shop_id is a string")
        .to_string()
}

fn temp_file(db: &TestDb, name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "comptoir-cli-{}",
        comptoir_store::hex(&comptoir_store::random_bytes::<8>())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{}-{name}", db.backend));
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn shop_create_json_prints_the_four_fields() {
    for db in TestDb::all() {
        let shop = create_shop(&db, "Boulangerie Martin");
        let obj = shop.as_object().expect("an object");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["admin_login", "admin_password", "api_key", "shop_id"]
        );
        let id = shop_id(&shop);
        assert_eq!(shop["admin_login"], format!("admin@shop-{id}"));
        assert!(shop["admin_password"].as_str().unwrap().len() >= 16);
        assert!(shop["api_key"].as_str().unwrap().starts_with("cpt_"));

        let list: Value = serde_json::from_str(&ok(&db, &["shop", "list", "--json"])).unwrap();
        assert_eq!(list[0]["name"], "Boulangerie Martin", "{}", db.backend);
        assert_eq!(list[0]["licence"], "extended");
        ok(&db, &["shop", "licence", &id, "--standard"]);
        let list: Value = serde_json::from_str(&ok(&db, &["shop", "list", "--json"])).unwrap();
        assert_eq!(list[0]["licence"], "standard", "{}", db.backend);
    }
}

#[test]
fn shop_create_refuses_a_bad_time_zone_with_exit_2() {
    let db = TestDb::sqlite();
    let o = comptoir(
        &db,
        &["shop", "create", "--name", "X", "--timezone", "Mars/Base"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--timezone"), "{}", stderr(&o));
}

/// Ids replaced by positions, so two exports of one catalog compare equal.
fn normalise(doc: &str) -> Value {
    let mut v: Value = serde_json::from_str(doc).expect("export is JSON");
    let refs: &[(&str, &[(&str, &str)])] = &[
        ("vat_rates", &[]),
        ("department_groups", &[]),
        ("departments", &[("group_id", "department_groups")]),
        ("items", &[("department_id", "departments")]),
        ("variations", &[("item_id", "items")]),
        ("cash_boxes", &[]),
        ("payment_methods", &[("cash_box_id", "cash_boxes")]),
        ("clients", &[]),
        ("delivery_zones", &[]),
        ("relay_points", &[]),
        ("delivery_people", &[]),
        ("discounts", &[]),
        ("tables", &[]),
    ];
    let position = |v: &Value, list: &str, id: &Value| -> Value {
        let i = v[list]
            .as_array()
            .unwrap()
            .iter()
            .position(|r| &r["id"] == id)
            .expect("reference resolves");
        Value::from(i + 1)
    };
    let original = v.clone();
    for (list, fields) in refs {
        for row in v[*list].as_array_mut().unwrap() {
            row["id"] = position(&original, list, &row["id"].clone());
            for (field, target) in *fields {
                if !row[*field].is_null() {
                    row[*field] = position(&original, target, &row[*field].clone());
                }
            }
        }
    }
    v
}

#[test]
fn export_import_export_round_trips_through_the_cli() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-shop.json");
    for db in TestDb::all() {
        let a = shop_id(&create_shop(&db, "Source"));
        let out = ok(&db, &["catalog", "import", "--shop", &a, demo]);
        assert!(out.contains("12 items"), "{out}");
        let first = ok(&db, &["catalog", "export", "--shop", &a]);
        let file = temp_file(&db, "export.json", &first);

        let b = shop_id(&create_shop(&db, "Copy"));
        ok(
            &db,
            &["catalog", "import", "--shop", &b, file.to_str().unwrap()],
        );
        let second = ok(&db, &["catalog", "export", "--shop", &b]);
        assert_ne!(first, second, "ids differ between shops");
        assert_eq!(normalise(&first), normalise(&second), "{}", db.backend);

        // Items also travel as CSV: export, edit a price, import back as an update.
        let csv = ok(&db, &["catalog", "export", "--shop", &b, "--format", "csv"]);
        assert!(
            csv.starts_with("id,department_id,name,price,vat_rate,"),
            "{csv}"
        );
        assert!(csv.contains(",Espresso,1.80,"), "{csv}");
        let edited = csv.replacen(",Espresso,1.80,", ",Espresso,1.90,", 1);
        let file = temp_file(&db, "items.csv", &edited);
        ok(
            &db,
            &["catalog", "import", "--shop", &b, file.to_str().unwrap()],
        );
        let after = ok(&db, &["catalog", "export", "--shop", &b, "--format", "csv"]);
        assert!(after.contains(",Espresso,1.90,"), "{}: {after}", db.backend);
        assert_eq!(
            after.lines().count(),
            csv.lines().count(),
            "an update adds no row"
        );
    }
}

#[test]
fn a_malformed_import_exits_2_names_the_place_and_writes_nothing() {
    // (file name, content, what stderr must say)
    let cases: &[(&str, &str, &[&str])] = &[
        ("bad.json", "{\"items\": [ {\"id\": 1,, } ]}", &["line 1"]),
        (
            "field.json",
            r#"{"departments": [{"id": 1, "name": "D", "vat_rate": 10}],
                "items": [{"id": 1, "department_id": 1, "name": "A", "price": 1},
                          {"id": 2, "department_id": 1, "name": "B", "price": "1.234"}]}"#,
            &["items[1].price", "at most 2 decimals"],
        ),
        (
            "ref.json",
            r#"{"departments": [{"id": 1, "name": "D", "vat_rate": 10}],
                "items": [{"id": 1, "department_id": 1, "name": "A", "price": 1},
                          {"id": 2, "department_id": 7, "name": "B", "price": 2}]}"#,
            &["items[1].department_id: department 7 does not exist"],
        ),
        (
            "bad.csv",
            "id,department_id,name,price\n,1,Good,1.00\n,1,Bad,abc\n",
            &["line 3, column price"],
        ),
        (
            "dangling.csv",
            "id,department_id,name,price\n,99999,Lost,1.00\n",
            &["line 2, column department_id: department 99999 does not exist"],
        ),
    ];
    for db in TestDb::all() {
        let shop = shop_id(&create_shop(&db, "S"));
        let before = ok(&db, &["catalog", "export", "--shop", &shop]);
        for (name, content, expected) in cases {
            let file = temp_file(&db, name, content);
            let args = ["catalog", "import", "--shop", &shop, file.to_str().unwrap()];
            let o = comptoir(&db, &args);
            assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
            for e in *expected {
                assert!(stderr(&o).contains(e), "{name}: {}", stderr(&o));
            }
        }
        let after = ok(&db, &["catalog", "export", "--shop", &shop]);
        assert_eq!(
            before, after,
            "{}: a failed import changed the shop",
            db.backend
        );
    }
}

#[test]
fn an_unusable_database_exits_3_with_a_message() {
    for url in [
        "mysql://nobody@localhost/x",
        "postgres://nobody@127.0.0.1:1/none",
        "sqlite:///nonexistent-folder-for-comptoir/x.db",
    ] {
        let o = Command::new(BIN)
            .args(["--db", url, "shop", "list"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{url}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "{url}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{url}: {}", stderr(&o));
    }
}

#[test]
fn serve_gives_up_on_a_database_that_accepts_and_never_answers_naming_the_host() {
    // A "PostgreSQL" that accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let url = format!("postgres://comptoir@127.0.0.1:{port}/x?connect_timeout=1");
    let started = std::time::Instant::now();
    let mut child = Command::new(BIN)
        .args(["--db", &url, "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("serve was still waiting for the database after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = started.elapsed();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        took < Duration::from_secs(5),
        "exited after {took:?}: {err}"
    );
    assert!(
        err.contains(&format!(
            "connecting to PostgreSQL at 127.0.0.1:{port} timed out after 1 s (connect_timeout, \
             which bounds TCP, TLS, startup and authentication together): the server accepted \
             the TCP connection but did not answer the login"
        )),
        "{err}"
    );
}

#[test]
fn keys_are_shown_once_listed_by_prefix_and_revocable() {
    for db in TestDb::all() {
        let shop = shop_id(&create_shop(&db, "S"));
        let k: Value = serde_json::from_str(&ok(
            &db,
            &[
                "key", "create", "--shop", &shop, "--label", "website", "--json",
            ],
        ))
        .unwrap();
        let key = k["api_key"].as_str().unwrap();
        let prefix = k["prefix"].as_str().unwrap();
        assert!(key.starts_with(&format!("cpt_{prefix}_")));
        assert_eq!(key.len(), 4 + 8 + 1 + 32, "128-bit secret in hex");
        let list = ok(&db, &["key", "list", "--shop", &shop]);
        assert!(list.contains(prefix) && list.contains("website"), "{list}");
        assert!(!list.contains(key), "the listing shows a key");
        let id = k["key_id"].as_str().unwrap();
        ok(&db, &["key", "revoke", "--shop", &shop, id]);
        let list = ok(&db, &["key", "list", "--shop", &shop]);
        assert!(list.contains("revoked"), "{list}");
        let o = comptoir(&db, &["key", "revoke", "--shop", &shop, id]);
        assert_eq!(o.status.code(), Some(2), "revoking twice");
    }
}

/// A running `comptoir serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
    first_lines: Vec<String>,
}

impl Server {
    fn start(db: &TestDb, extra: &[&str], lines: usize) -> Server {
        let mut child = Command::new(BIN)
            .args(["--db", &db.url, "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first_lines = Vec::new();
        for _ in 0..lines {
            let mut line = String::new();
            out.read_line(&mut line).expect("read stdout");
            first_lines.push(line.trim_end().to_string());
        }
        let base = first_lines[0]
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {:?}", first_lines[0]))
            .to_string();
        Server {
            child,
            base,
            first_lines,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(&format!("{}{path}", self.base))
    }

    fn sigterm_and_wait(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        for _ in 0..100 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not stop within 5 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal blocking HTTP/1.1 GET (no client library needed for two probes).
fn http_get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf[9..12].parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_prints_the_listening_line_answers_healthz_and_stops_on_sigterm() {
    for db in TestDb::all() {
        let server = Server::start(&db, &[], 1);
        assert!(
            server.base.starts_with("http://127.0.0.1:"),
            "{}",
            server.base
        );
        let (status, body) = server.get("/healthz");
        assert_eq!(status, 200);
        assert!(body.contains(r#"{"status":"ok"}"#), "{body}");
        let (status, metrics) = server.get("/metrics");
        assert_eq!(status, 200);
        assert!(
            metrics.contains(r#"comptoir_http_requests_total{route="/healthz",status="200"} 1"#),
            "{metrics}"
        );
        let status = server.sigterm_and_wait();
        assert_eq!(
            status.code(),
            Some(0),
            "{}: SIGTERM must exit 0",
            db.backend
        );
    }
}

#[test]
fn serve_demo_creates_the_demo_shop_once_and_prints_its_credentials() {
    for db in TestDb::all() {
        let server = Server::start(&db, &["--demo"], 2);
        let demo = server.first_lines[1].clone();
        let fields: std::collections::HashMap<&str, &str> = demo
            .strip_prefix("demo shop: ")
            .unwrap_or_else(|| panic!("second line: {demo:?}"))
            .split(' ')
            .map(|kv| kv.split_once('=').unwrap())
            .collect();
        for k in ["id", "login", "password", "api_key"] {
            assert!(!fields[k].is_empty(), "{k} missing in {demo}");
        }
        assert_eq!(server.get("/healthz").0, 200);
        assert_eq!(server.sigterm_and_wait().code(), Some(0));

        let list: Value = serde_json::from_str(&ok(&db, &["shop", "list", "--json"])).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["name"], "Demo");
        assert_eq!(list[0]["licence"], "extended");
        let export = ok(&db, &["catalog", "export", "--shop", fields["id"]]);
        for word in [
            "Espresso",
            "Cappuccino",
            "Oat milk",
            "Meal voucher",
            "Paris 5e",
            "Staff 10 %",
        ] {
            assert!(export.contains(word), "{}: demo lacks {word}", db.backend);
        }

        // A second start finds the demo shop and creates no other.
        let again = Server::start(&db, &["--demo"], 1);
        drop(again);
        let list: Value = serde_json::from_str(&ok(&db, &["shop", "list", "--json"])).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{}", db.backend);
    }
}

/// Polls `url` until it answers `status`, for at most `limit`; the time it took.
fn wait_for_status(url: &str, status: u16, limit: Duration) -> Duration {
    let started = std::time::Instant::now();
    loop {
        let (s, body) = http_get(url);
        if s == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{url} still answers {s} ({body}) after {limit:?}, expected {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn licence_and_key_changes_made_with_the_cli_reach_a_running_server_within_two_seconds() {
    for db in TestDb::all() {
        let server = Server::start(&db, &[], 1);
        let shop = create_shop(&db, "Live");
        let id = shop_id(&shop);
        let key = shop["api_key"].as_str().unwrap().to_string();
        let url = format!(
            "{}/workers/getOrder.php?idboutique={id}&key={key}&order_id=999999",
            server.base
        );
        // Authorised: the order simply does not exist.
        assert_eq!(http_get(&url).0, 404);

        ok(&db, &["shop", "licence", &id, "--standard"]);
        let took = wait_for_status(&url, 403, Duration::from_secs(2));
        eprintln!("{}: licence change seen after {took:?}", db.backend);
        ok(&db, &["shop", "licence", &id, "--extended"]);
        wait_for_status(&url, 404, Duration::from_secs(2));

        let keys: Value =
            serde_json::from_str(&ok(&db, &["key", "list", "--shop", &id, "--json"])).unwrap();
        let key_id = keys[0]["key_id"].as_str().unwrap().to_string();
        ok(&db, &["key", "revoke", "--shop", &id, &key_id]);
        let took = wait_for_status(&url, 401, Duration::from_secs(2));
        eprintln!("{}: key revocation seen after {took:?}", db.backend);
        drop(server);
    }
}

#[test]
fn a_csv_update_with_fewer_columns_keeps_the_other_fields() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-shop.json");
    let db = TestDb::sqlite();
    let shop = shop_id(&create_shop(&db, "S"));
    ok(&db, &["catalog", "import", "--shop", &shop, demo]);
    let csv = ok(
        &db,
        &["catalog", "export", "--shop", &shop, "--format", "csv"],
    );
    let mug = csv
        .lines()
        .find(|l| l.contains(",Mug,"))
        .expect("the demo has a mug");
    let cells: Vec<&str> = mug.split(',').collect();
    let (id, dept) = (cells[0], cells[1]);
    let file = temp_file(
        &db,
        "short.csv",
        &format!("id,department_id,name,price\n{id},{dept},Mug,13.50\n"),
    );
    ok(
        &db,
        &["catalog", "import", "--shop", &shop, file.to_str().unwrap()],
    );
    let after = ok(
        &db,
        &["catalog", "export", "--shop", &shop, "--format", "csv"],
    );
    let mug = after.lines().find(|l| l.contains(",Mug,")).unwrap();
    assert!(mug.contains(",13.50,"), "{mug}");
    assert!(
        mug.contains(",3760000000017,"),
        "the barcode was kept: {mug}"
    );
    assert!(mug.ends_with(",24.000"), "the stock was kept: {mug}");
}

#[test]
fn logs_are_json_lines_with_a_request_id_and_never_show_a_key_or_password() {
    let db = TestDb::sqlite();
    let mut child = Command::new(BIN)
        .args([
            "--db",
            &db.url,
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let (status, _) = http_get(&format!(
        "{base}/healthz?key=cpt_deadbeef_0123456789abcdef0123456789abcdef&password=hunter2"
    ));
    assert_eq!(status, 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(!logs.contains("0123456789abcdef"), "{logs}");
    assert!(!logs.contains("hunter2"), "{logs}");
    let request: Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "request done")
        .unwrap_or_else(|| panic!("no JSON request line in {logs}"));
    assert_eq!(request["query"], "key=***&password=***");
    assert_eq!(request["span"]["route"], "/healthz");
    assert_eq!(
        request["span"]["request_id"].as_str().map(str::len),
        Some(16)
    );
}
