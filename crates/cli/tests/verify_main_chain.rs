//! Chains written before the code was reshaped (issue #8) still verify: a SQLite database
//! written by main's binary at b6adce2 (tests/fixtures/main-b6adce2.sql) passes
//! `comptoir verify` and scripts/verify_chain.py with the head main recorded. The fixture
//! holds main's rows as SQLite inserts, loaded into the schema `comptoir migrate` makes
//! (migrations are never edited), so this test runs on SQLite only; the chain format is
//! the same on PostgreSQL, which verify.rs covers with chains written by this code.

mod common;

use std::process::Command;

const FIXTURE: &str = include_str!("fixtures/main-b6adce2.sql");
/// `shop_counters.journal_head` as main wrote it, after 11 entries.
const HEAD: &str = "4b84bd9ea3188f76a6fcf1bc529ea868c79bfcfcb2e7cf81e5bfd697ec539b3f";

/// Runs `comptoir --db URL ARGS...`.
fn comptoir_at(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(common::BIN)
        .args(["--db", url])
        .args(args)
        .env_remove("COMPTOIR_DB")
        .output()
        .expect("run comptoir")
}

/// A fresh folder holding the fixture as a database file; removed when dropped.
struct FixtureDb {
    dir: std::path::PathBuf,
}

impl FixtureDb {
    fn new() -> FixtureDb {
        let dir = std::env::temp_dir().join(format!(
            "comptoir-main-chain-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("main.db").display());
        let o = comptoir_at(&url, &["migrate"]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let conn = rusqlite::Connection::open(dir.join("main.db")).expect("open the database");
        // The rows come in table-name order: references hold once all are in.
        conn.execute_batch("pragma foreign_keys = off")
            .expect("foreign keys off");
        conn.execute_batch(FIXTURE).expect("load the fixture");
        FixtureDb { dir }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.join("main.db")
    }
}

impl Drop for FixtureDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_chain_written_by_main_before_the_reshaping_still_verifies() {
    let db = FixtureDb::new();
    let url = format!("sqlite://{}", db.path().display());
    let o = comptoir_at(&url, &["verify", "--shop", "1"]);
    let (out, err) = (common::stdout(&o), common::stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    // The events chains' lines follow (tests/events.rs).
    assert_eq!(
        out.lines().next().unwrap_or_default(),
        format!("chain ok: 11 entries, head {HEAD}")
    );

    let python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if comptoir_testkit::require(python, "python3") {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/verify_chain.py");
        let o = Command::new("python3")
            .arg(script)
            .arg(db.path())
            .arg("1")
            .output()
            .expect("run python3");
        let (out, err) = (common::stdout(&o), common::stderr(&o));
        assert_eq!(o.status.code(), Some(0), "{out}{err}");
        assert_eq!(out.trim(), format!("chain ok: 11 entries, head {HEAD}"));
    }
}
