//! Shared pieces of the benchmark programs in `src/bin/`: starting the real `comptoir`
//! binary, reading its peak memory, and printing figures.

pub mod keepalive;
pub mod shop_setup;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A `comptoir serve` process on a free port, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl ServerProcess {
    /// Starts `bin --db URL serve --listen 127.0.0.1:0 EXTRA...` and waits for its
    /// `listening on` line.
    pub fn start(bin: &std::path::Path, db_url: &str, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(bin)
            .args(["--db", db_url, "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("COMPTOIR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        ServerProcess { child, base }
    }

    /// Peak resident memory of the server so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        read_status_kib(self.child.id(), "VmHWM:")
    }

    /// Current resident memory of the server, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        read_status_kib(self.child.id(), "VmRSS:")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The release (or debug) `comptoir` binary next to this benchmark's own executable.
pub fn comptoir_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.with_file_name(format!("comptoir{}", std::env::consts::EXE_SUFFIX))
}

/// Runs the real CLI; its standard output, or why it failed.
pub fn cli(bin: &std::path::Path, db: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(bin)
        .args(["--db", db])
        .args(args)
        .env("COMPTOIR_LOG", "warn")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "comptoir {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("comptoir {}: {e}", args.join(" ")))
}
