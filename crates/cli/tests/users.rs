//! `comptoir user list|create|password` with the real binary on both backends: printed
//! passwords that sign in, passwords from standard input, and the refusals.

mod common;

use common::{BIN, comptoir, ok, stderr};
use comptoir_store::{auth, shops};
use comptoir_testkit::TestDb;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `comptoir` with `input` on standard input.
fn with_stdin(db: &TestDb, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .env_remove("COMPTOIR_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run comptoir");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// The stored hash of `login` checks `password`.
async fn signs_in(db: &TestDb, login: &str, password: &str) -> bool {
    let store = db.store().await;
    let login = login.to_string();
    let user = store
        .read(move |c| auth::find_user_by_login(c, &login))
        .await
        .unwrap()
        .expect("user");
    let password = password.to_string();
    tokio::task::spawn_blocking(move || shops::verify_password(&password, &user.password_hash))
        .await
        .unwrap()
}

#[tokio::test]
async fn users_are_created_listed_and_given_passwords() {
    for db in TestDb::all() {
        let created: serde_json::Value =
            serde_json::from_str(&ok(&db, &["shop", "create", "--name", "U", "--json"])).unwrap();
        let shop = created["shop_id"].as_str().unwrap().to_string();

        // A printed password, once, that signs in.
        let out = ok(
            &db,
            &[
                "user",
                "create",
                "--shop",
                &shop,
                "--name",
                "Zoé Martin",
                "--role",
                "cashier",
                "--json",
            ],
        );
        let u: serde_json::Value = serde_json::from_str(&out).unwrap();
        let login = format!("zo.martin@shop-{shop}");
        assert_eq!(u["login"], login.as_str());
        assert_eq!(u["role"], "cashier");
        let password = u["password"].as_str().unwrap().to_string();
        assert_eq!(password.len(), 20);
        assert!(signs_in(&db, &login, &password).await);

        // From standard input, with a chosen login.
        let o = with_stdin(
            &db,
            &[
                "user",
                "create",
                "--shop",
                &shop,
                "--name",
                "Max",
                "--role",
                "manager",
                "--login",
                "max",
                "--password-stdin",
            ],
            "a long enough secret\n",
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!String::from_utf8_lossy(&o.stdout).contains("secret"));
        let max = format!("max@shop-{shop}");
        assert!(signs_in(&db, &max, "a long enough secret").await);

        let list = ok(&db, &["user", "list", "--shop", &shop]);
        assert!(list.contains(&max) && list.contains("manager"), "{list}");
        assert!(
            list.contains(&login) && list.contains("admin@shop-"),
            "{list}"
        );

        // A new password replaces the old one.
        let o = with_stdin(
            &db,
            &[
                "user",
                "password",
                "--shop",
                &shop,
                &max,
                "--password-stdin",
            ],
            "another long secret",
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(signs_in(&db, &max, "another long secret").await);
        assert!(!signs_in(&db, &max, "a long enough secret").await);
        let printed = ok(&db, &["user", "password", "--shop", &shop, &max]);
        let new = printed
            .lines()
            .find_map(|l| l.strip_prefix("password: "))
            .expect("printed password");
        assert!(signs_in(&db, &max, new).await);

        // Refusals: exit 2 naming the argument, nothing written.
        let short = with_stdin(
            &db,
            &[
                "user",
                "password",
                "--shop",
                &shop,
                &max,
                "--password-stdin",
            ],
            "short",
        );
        assert_eq!(short.status.code(), Some(2));
        assert!(
            stderr(&short).contains("--password-stdin"),
            "{}",
            stderr(&short)
        );
        assert!(signs_in(&db, &max, new).await);
        let unknown = comptoir(&db, &["user", "password", "--shop", &shop, "ghost"]);
        assert_eq!(unknown.status.code(), Some(2));
        assert!(stderr(&unknown).contains("LOGIN"), "{}", stderr(&unknown));
        let taken = comptoir(
            &db,
            &[
                "user", "create", "--shop", &shop, "--name", "Max", "--role", "cashier", "--login",
                "max",
            ],
        );
        assert_eq!(taken.status.code(), Some(2));
        assert!(
            stderr(&taken).contains("already taken"),
            "{}",
            stderr(&taken)
        );
        let role = comptoir(
            &db,
            &[
                "user", "create", "--shop", &shop, "--name", "X", "--role", "boss",
            ],
        );
        assert_eq!(role.status.code(), Some(2));
        let no_shop = comptoir(
            &db,
            &[
                "user", "create", "--shop", "999", "--name", "X", "--role", "cashier",
            ],
        );
        assert_eq!(no_shop.status.code(), Some(2));
        assert!(stderr(&no_shop).contains("--shop"), "{}", stderr(&no_shop));
        assert_eq!(
            ok(&db, &["user", "list", "--shop", &shop]).lines().count(),
            3
        );
    }
}
