//! `comptoir fiscal key` through the real binary: the key file created once with mode 0600
//! beside a SQLite database or where `--fiscal-key` / COMPTOIR_FISCAL_KEY says, the same
//! public half on every run, and a key file others can read refused.

mod common;

use common::{BIN, comptoir, stderr, stdout};
use comptoir_testkit::TestDb;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

fn sqlite_dir(db: &TestDb) -> PathBuf {
    let file = db.url.strip_prefix("sqlite://").expect("a sqlite URL");
    PathBuf::from(file)
        .parent()
        .expect("a folder")
        .to_path_buf()
}

fn is_public_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn the_key_is_created_beside_the_sqlite_file_once_with_mode_600() {
    let db = TestDb::sqlite();
    let path = sqlite_dir(&db).join("comptoir-fiscal.key");
    let first = comptoir(&db, &["fiscal", "key"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let public = stdout(&first).trim().to_string();
    assert!(is_public_hex(&public), "{public:?}");
    assert!(stderr(&first).contains("created the fiscal signing key"));
    let mode = std::fs::metadata(&path)
        .expect("key file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let again = comptoir(&db, &["fiscal", "key"]);
    assert!(again.status.success());
    assert_eq!(stdout(&again).trim(), public, "the same key on every run");
    assert!(!stderr(&again).contains("created"), "{}", stderr(&again));
    // The key is not the database: nothing was created beside it but the key.
    assert!(!sqlite_dir(&db).join("comptoir.db").exists());
}

#[test]
fn an_explicit_path_or_env_is_used_and_an_exposed_key_is_refused() {
    for db in TestDb::all() {
        let dir = std::env::temp_dir().join(format!("comptoir-fiscal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.key", db.backend));
        let _ = std::fs::remove_file(&path);
        let p = path.to_str().unwrap();
        let by_flag = comptoir(&db, &["fiscal", "key", "--fiscal-key", p]);
        assert!(by_flag.status.success(), "{}", stderr(&by_flag));
        let by_env = Command::new(BIN)
            .args(["--db", &db.url, "fiscal", "key"])
            .env("COMPTOIR_FISCAL_KEY", p)
            .output()
            .unwrap();
        assert!(by_env.status.success(), "{}", stderr(&by_env));
        assert_eq!(stdout(&by_flag), stdout(&by_env), "{}", db.backend);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let exposed = comptoir(&db, &["fiscal", "key", "--fiscal-key", p]);
        assert_eq!(exposed.status.code(), Some(3), "{}", db.backend);
        assert!(
            stderr(&exposed).contains("chmod 600"),
            "{}",
            stderr(&exposed)
        );
        assert!(stdout(&exposed).is_empty());
        std::fs::remove_file(&path).unwrap();
    }
}
