//! Hardening through the real `comptoir` process: secrets never reach the JSON logs,
//! whatever spelling of their parameter name a caller uses.

mod common;

use common::{BIN, ok};
use comptoir_testkit::TestDb;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Sends one raw HTTP/1.1 request and gives the status line's code.
fn send(host: &str, head: &str, body: &[u8]) -> u16 {
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{head}\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[9..12]).parse().unwrap()
}

/// Starts `comptoir [GLOBAL] serve` on a free port with stderr sent to `stderr`; the child
/// and its `host:port`.
fn serve(db: &TestDb, global: &[&str], stderr: Stdio) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args(["--db", &db.url])
        .args(global)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let host = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    (child, host)
}

#[test]
fn secrets_sent_under_any_spelling_of_their_name_never_reach_the_logs() {
    let db = TestDb::sqlite();
    let shop: Value = serde_json::from_str(&ok(
        &db,
        &["shop", "create", "--name", "Logs", "--extended", "--json"],
    ))
    .unwrap();
    let id = shop["shop_id"].as_str().unwrap().to_string();
    let key = shop["api_key"].as_str().unwrap().to_string();
    let login = shop["admin_login"].as_str().unwrap().to_string();
    let password = shop["admin_password"].as_str().unwrap().to_string();

    let (child, host) = serve(&db, &["--log-format", "json"], Stdio::piped());

    let orders = "/workers/getOrders.php";
    let token = "/workers/getAuthToken.php";
    let form = "Content-Type: application/x-www-form-urlencoded";
    // (what, request head, body, expected status): the key authenticates under each
    // spelling, so the call is real, and the password signs in.
    let cases: Vec<(&str, String, String, u16)> = vec![
        (
            "%6Bey",
            format!("GET {orders}?idboutique={id}&%6Bey={key} HTTP/1.1"),
            String::new(),
            200,
        ),
        (
            "KEY",
            format!("GET {orders}?idboutique={id}&KEY={key} HTTP/1.1"),
            String::new(),
            400,
        ),
        (
            "key[]",
            format!("GET {orders}?idboutique={id}&key[]={key} HTTP/1.1"),
            String::new(),
            400,
        ),
        (
            "key%5B%5D",
            format!("GET {orders}?idboutique={id}&key%5B%5D={key} HTTP/1.1"),
            String::new(),
            400,
        ),
        (
            "key[x]",
            format!("GET {orders}?idboutique={id}&key[x]={key} HTTP/1.1"),
            String::new(),
            400,
        ),
        (
            "Authorization",
            format!("GET {orders}?idboutique={id} HTTP/1.1\r\nAuthorization: Bearer {key}"),
            String::new(),
            200,
        ),
        (
            "pass%77ord in the query",
            format!("GET {token}?login={login}&pass%77ord={password} HTTP/1.1"),
            String::new(),
            200,
        ),
        (
            "pass%77ord in the body",
            format!("POST {token} HTTP/1.1\r\n{form}"),
            format!("login={login}&pass%77ord={password}"),
            200,
        ),
        (
            "%6Bey in the body",
            format!("POST {orders} HTTP/1.1\r\n{form}"),
            format!("idboutique={id}&%6Bey={key}"),
            200,
        ),
        (
            "password[]",
            format!("GET {token}?login={login}&password[]={password} HTTP/1.1"),
            String::new(),
            400,
        ),
    ];
    for (what, head, body, status) in &cases {
        assert_eq!(send(&host, head, body.as_bytes()), *status, "{what}");
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    let secret_part = &key[13..];
    assert!(
        !logs.contains(secret_part),
        "the key is in the logs:\n{logs}"
    );
    assert!(
        !logs.contains(&password),
        "the password is in the logs:\n{logs}"
    );
    let requests = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "request done")
        .count();
    assert_eq!(requests, cases.len(), "one JSON line per request:\n{logs}");
}

#[test]
fn a_trusted_proxy_that_is_not_an_address_or_a_block_exits_2() {
    let db = TestDb::sqlite();
    for args in [
        vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            "10.0.0.0/33",
        ],
        vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            "proxy.local",
        ],
    ] {
        let o = common::comptoir(&db, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", common::stderr(&o));
        assert!(
            common::stderr(&o).contains("CIDR"),
            "{}",
            common::stderr(&o)
        );
    }
    let o = Command::new(BIN)
        .args(["--db", &db.url, "serve", "--listen", "127.0.0.1:0"])
        .env("COMPTOIR_TRUSTED_PROXIES", "10.0.0.0/8,nope")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
}

#[test]
fn key_list_shows_each_keys_label_creator_and_last_use() {
    for db in TestDb::all() {
        let shop: Value = serde_json::from_str(&ok(
            &db,
            &["shop", "create", "--name", "Keys", "--extended", "--json"],
        ))
        .unwrap();
        let id = shop["shop_id"].as_str().unwrap().to_string();
        let key = shop["api_key"].as_str().unwrap().to_string();
        ok(&db, &["key", "create", "--shop", &id, "--label", "website"]);

        let (mut child, host) = serve(&db, &[], Stdio::null());
        let path = format!("GET /workers/getOrders.php?idboutique={id}&key={key} HTTP/1.1");
        assert_eq!(send(&host, &path, b""), 200);

        // The use is recorded in the background: poll the listing for it.
        let mut keys = Value::Null;
        for _ in 0..100 {
            keys =
                serde_json::from_str(&ok(&db, &["key", "list", "--shop", &id, "--json"])).unwrap();
            if !keys[0]["last_used_at"].is_null() {
                break;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            keys[0]["label"], "created with the shop",
            "{}: {keys}",
            db.backend
        );
        assert_eq!(keys[0]["created_by"], "comptoir shop create", "{keys}");
        assert!(
            keys[0]["last_used_at"]
                .as_str()
                .is_some_and(|t| t.starts_with("20")),
            "{}: {keys}",
            db.backend
        );
        assert_eq!(keys[1]["label"], "website");
        assert_eq!(keys[1]["created_by"], "comptoir key create");
        assert!(keys[1]["last_used_at"].is_null(), "{keys}");

        let text = ok(&db, &["key", "list", "--shop", &id]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("by comptoir shop create") && lines[0].contains("last used 20"),
            "{text}"
        );
        assert!(
            lines[1].contains("website") && lines[1].contains("last used never"),
            "{text}"
        );
    }
}
