//! Shared pieces of the benchmark programs in `src/bin/`: starting the real `comptoir`
//! binary, reading its peak memory and CPU time, and the run's own database (a SQLite
//! file in a temporary folder, or a PostgreSQL schema).

use std::collections::HashMap;
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
            // Seeded past days would otherwise be closed (catch-up) during the measures.
            .arg("--no-auto-close")
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

    /// CPU time the server has used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.child.id())
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

/// CPU time a process has used so far (user + system), from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux whatever the kernel's own tick rate.
    Some(ticks / 100.0)
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

/// A short random name part for the run's folder or schema.
pub fn random_hex() -> String {
    comptoir_store::hex(&comptoir_store::random_bytes::<6>())
}

/// The benchmark's own database, removed when dropped.
pub enum BenchDb {
    Sqlite {
        url: String,
        dir: std::path::PathBuf,
    },
    Postgres {
        url: String,
        base: String,
        schema: String,
    },
}

impl BenchDb {
    pub fn sqlite() -> BenchDb {
        let dir = std::env::temp_dir().join(format!("comptoir-bench-{}", random_hex()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        BenchDb::Sqlite {
            url: format!("sqlite://{}", dir.join("comptoir.db").display()),
            dir,
        }
    }

    pub fn postgres(base: &str) -> Result<BenchDb, String> {
        let schema = format!("bench_{}", random_hex());
        let mut c = postgres::Client::connect(base, postgres::NoTls)
            .map_err(|e| format!("cannot reach PostgreSQL: {e}"))?;
        c.batch_execute(&format!("create schema {schema}"))
            .map_err(|e| format!("create schema {schema}: {e}"))?;
        let sep = if base.contains('?') { '&' } else { '?' };
        Ok(BenchDb::Postgres {
            url: format!("{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}"),
            base: base.to_string(),
            schema,
        })
    }

    pub fn url(&self) -> &str {
        match self {
            BenchDb::Sqlite { url, .. } | BenchDb::Postgres { url, .. } => url,
        }
    }

    /// PostgreSQL's count of WAL flushes so far (cluster-wide, `pg_stat_wal`).
    pub fn wal_flushes(&self) -> Option<i64> {
        let BenchDb::Postgres { base, .. } = self else {
            return None;
        };
        let mut c = postgres::Client::connect(base, postgres::NoTls).ok()?;
        let row = c.query_one("select wal_sync from pg_stat_wal", &[]).ok()?;
        row.try_get::<_, i64>(0).ok()
    }

    /// CPU seconds used so far by each PostgreSQL backend of this run, by process id.
    pub fn backends_cpu(&self) -> Option<HashMap<u32, f64>> {
        let BenchDb::Postgres { base, schema, .. } = self else {
            return None;
        };
        let mut c = postgres::Client::connect(base, postgres::NoTls).ok()?;
        let rows = c
            .query(
                "select pid from pg_stat_activity where application_name = $1",
                &[schema],
            )
            .ok()?;
        Some(
            rows.iter()
                .filter_map(|r| u32::try_from(r.get::<_, i32>(0)).ok())
                .filter_map(|pid| Some((pid, cpu_seconds(pid)?)))
                .collect(),
        )
    }

    pub fn backend(&self) -> &'static str {
        match self {
            BenchDb::Sqlite { .. } => "SQLite (synchronous=FULL, WAL, group commit)",
            BenchDb::Postgres { .. } => "PostgreSQL",
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        match self {
            BenchDb::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            BenchDb::Postgres { base, schema, .. } => {
                if let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls) {
                    let _ = c.batch_execute(&format!("drop schema if exists {schema} cascade"));
                }
            }
        }
    }
}
