//! Helpers shared by the CLI test files: run the real `comptoir` binary on a test database.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use comptoir_testkit::TestDb;
use std::process::{Command, Output};

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
