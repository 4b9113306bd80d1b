//! Helpers shared by the CLI test files: run the real `comptoir` binary on a test database.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use comptoir_store::{StoreError, params};
use comptoir_testkit::TestDb;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-shop.json");

/// The binary cargo built for these tests.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_comptoir");

/// Runs `comptoir --db DB ARGS...` and gives its output, whatever its exit code.
pub(crate) fn comptoir(db: &TestDb, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .env_remove("COMPTOIR_DB")
        .output()
        .expect("run comptoir")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed; its stdout.
pub(crate) fn ok(db: &TestDb, args: &[&str]) -> String {
    let o = comptoir(db, args);
    assert!(
        o.status.success(),
        "{}: comptoir {args:?} failed: {}",
        db.backend,
        stderr(&o)
    );
    stdout(&o)
}

/// A running `comptoir serve` on a free port; killed (SIGKILL) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    /// `127.0.0.1:PORT`
    pub(crate) addr: String,
}

impl Server {
    pub(crate) fn start(db: &TestDb) -> Server {
        Server::start_with(db, &[], &[])
    }

    /// `serve` with more arguments and environment variables.
    pub(crate) fn start_with(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .args(["--db", &db.url, "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("COMPTOIR_DB")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim_end()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// SIGKILL: no shutdown, no flush, nothing but what was already committed survives.
    pub(crate) fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request written by hand; `(status, body)`, or an error when the server
/// is gone or cut the answer.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let cut = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "answer cut");
    let status = buf
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(cut)?;
    let (head, body) = buf.split_once("\r\n\r\n").ok_or_else(cut)?;
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .ok_or_else(cut)?;
    if body.len() != length {
        return Err(cut());
    }
    Ok((status, body.to_string()))
}

pub(crate) struct Shop {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) cash: i64,
    pub(crate) espresso: i64,
}

impl Shop {
    pub(crate) fn auth(&self) -> String {
        format!("idboutique={}&key={}", self.id, self.key)
    }
}

/// A shop with the demo catalog, created with the CLI: its id, key, Cash and Espresso ids.
pub(crate) fn setup(db: &TestDb) -> Shop {
    let created: Value = serde_json::from_str(&ok(
        db,
        &["shop", "create", "--name", "Crash", "--extended", "--json"],
    ))
    .expect("shop create --json prints JSON");
    let id = created["shop_id"].as_str().expect("shop_id").to_string();
    let key = created["api_key"].as_str().expect("api_key").to_string();
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
        .expect("ids");
    Shop {
        id,
        key,
        cash,
        espresso,
    }
}
