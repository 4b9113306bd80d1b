//! A PostgreSQL cluster of one test: `initdb` in a temporary folder, a free loopback port,
//! settings of the test's choosing (TLS, say), stopped and removed when dropped, even when
//! the test fails. Skipped (or failed under `COMPTOIR_TEST_STRICT=1`) when the server
//! programs are missing. Run as root, the server runs as the `postgres` user, which
//! `initdb` requires.

use crate::require;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The password of the cluster's `postgres` user (SCRAM over TCP).
pub const PASSWORD: &str = "comptoir-test";

pub struct TempCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// The user the server runs as when this process is root: (uid, gid).
    owner: Option<(u32, u32)>,
    started: bool,
}

/// The folder of `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/*/bin`, or `PATH`.
fn server_programs() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
}

/// The uid and gid of `user`, from `/etc/passwd`.
fn account(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs `cmd`, panicking with its output when it fails.
pub fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TempCluster {
    /// A new folder for a cluster (not started yet), or `None` when `initdb` is missing.
    pub fn new() -> Option<TempCluster> {
        let bin = server_programs();
        if !require(bin.is_some(), "initdb and pg_ctl (package postgresql)") {
            return None;
        }
        let owner = if is_root() {
            let owner = account("postgres");
            if !require(
                owner.is_some(),
                "a postgres user to run a test cluster as root",
            ) {
                return None;
            }
            owner
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!("comptoir-pg-{}", crate::random_hex()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Some(TempCluster {
            dir,
            bin: bin?,
            port,
            owner,
            started: false,
        })
    }

    /// The cluster's folder, where a test may put files (certificates) before `start`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres:PASSWORD@HOST:PORT/postgres`, then `?query` when not empty.
    pub fn url(&self, host: &str, query: &str) -> String {
        let base = format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/postgres",
            self.port
        );
        if query.is_empty() {
            base
        } else {
            format!("{base}?{query}")
        }
    }

    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(&self.dir);
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Creates the cluster and starts it listening on `listen` (loopback addresses) with
    /// the `postgresql.conf` lines of `settings`. TCP connections authenticate with SCRAM
    /// as `postgres` / [`PASSWORD`].
    pub fn start(&mut self, listen: &str, settings: &[&str]) {
        let data = self.dir.join("data");
        let pwfile = self.dir.join("password");
        std::fs::write(&pwfile, PASSWORD).expect("password file");
        self.hand_over();
        run(self
            .command("initdb")
            .args(["-D", path(&data), "-U", "postgres", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", path(&pwfile))));
        let mut conf = format!(
            "\nport = {}\nlisten_addresses = '{listen}'\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 40\nshared_buffers = 16MB\n",
            self.port,
            path(&self.dir)
        );
        for s in settings {
            conf.push_str(s);
            conf.push('\n');
        }
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\n",
        )
        .expect("pg_hba.conf");
        self.hand_over();
        self.started = true;
        run(self.command("pg_ctl").args([
            "-D",
            path(&data),
            "-l",
            path(&self.dir.join("server.log")),
            "-w",
            "-t",
            "60",
            "start",
        ]));
    }

    /// Gives the folder's files to the server's user (when root), keys readable by it only.
    fn hand_over(&self) {
        use std::os::unix::fs::PermissionsExt;
        let mut stack = vec![self.dir.clone()];
        while let Some(p) = stack.pop() {
            if let Some((uid, gid)) = self.owner {
                std::os::unix::fs::chown(&p, Some(uid), Some(gid)).expect("chown");
            }
            if p.is_dir() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))
                    .expect("chmod");
                stack.extend(
                    std::fs::read_dir(&p)
                        .expect("list")
                        .flatten()
                        .map(|e| e.path()),
                );
            } else if p.extension().is_some_and(|e| e == "key") {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
        }
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if self.started {
            let data = self.dir.join("data");
            let _ = self
                .command("pg_ctl")
                .args(["-D", path(&data), "-m", "immediate", "-w", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("append to {}: {e}", file.display()));
}

/// Whether the `openssl` program is here (skips, or fails in strict mode, when not).
pub fn openssl_present() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    require(found, "openssl (package openssl)")
}

/// A self-signed CA in `dir`: `NAME.crt` and `NAME.key` (P-256, valid two days).
pub fn make_ca(dir: &Path, name: &str) {
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ])
        .args(["-subj", &format!("/CN=Comptoir test {name}")])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]));
}

/// A server certificate `NAME.crt` / `NAME.key` in `dir`, signed by the CA `ca` of
/// [`make_ca`], for the subject alternative names `sans` (`IP:127.0.0.1,DNS:localhost`).
pub fn make_server_cert(dir: &Path, ca: &str, name: &str, sans: &str) {
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "subjectAltName = {sans}\nbasicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
        ),
    )
    .expect("extensions file");
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes"])
        .args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ])
        .args(["-subj", &format!("/CN={name}")]));
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-req", "-days", "2", "-in", &format!("{name}.csr")])
        .args(["-CA", &format!("{ca}.crt"), "-CAkey", &format!("{ca}.key")])
        .args(["-CAcreateserial", "-out", &format!("{name}.crt")])
        .args(["-extfile", &ext]));
}
