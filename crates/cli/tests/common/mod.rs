//! Helpers shared by the CLI test files: run the real `comptoir` binary on a test database.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use comptoir_testkit::TestDb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

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
