//! The events journal through the real binary, on each backend: the commands that change a
//! shop (keys, licence, webhook, FEC accounts, a closing) record their events, `events`
//! lists them (text and JSON), and `verify` checks the chains and names the first broken
//! event when one was altered or deleted.

mod common;

use common::{comptoir, ok, stderr, stdout};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::TestDb;
use serde_json::Value;

fn store(db: &TestDb) -> Store {
    Store::open_blocking(&db.db_url()).expect("open")
}

fn sql(db: &TestDb, text: &'static str, shop: i64, seq: i64) {
    store(db)
        .write_blocking(move |c| c.execute(text, params![shop, seq]).map(|_| ()))
        .unwrap_or_else(|e: StoreError| panic!("{text}: {e}"));
}

/// scripts/verify_events.py on a SQLite database (`None` elsewhere, or without python3
/// outside strict mode): exit code and output.
fn script(db: &TestDb, journal: &str) -> Option<(i32, String)> {
    let path = db.url.strip_prefix("sqlite://")?;
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !comptoir_testkit::require(python, "python3") {
        return None;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/verify_events.py"
    );
    let o = std::process::Command::new("python3")
        .args([script, path, journal])
        .output()
        .expect("run python3");
    Some((
        o.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&o), stderr(&o)),
    ))
}

fn listed(db: &TestDb, id: &str) -> Vec<Value> {
    let out = ok(db, &["events", "--shop", id, "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array().expect("an array").clone()
}

#[test]
fn commands_record_their_events_and_verify_names_a_broken_one() {
    for db in TestDb::all() {
        let shop: Value =
            serde_json::from_str(&ok(&db, &["shop", "create", "--name", "Ev", "--json"])).unwrap();
        let id = shop["shop_id"].as_str().unwrap().to_string();
        let shop_id: i64 = id.parse().unwrap();
        ok(&db, &["shop", "licence", &id, "--extended"]);
        let key: Value = serde_json::from_str(&ok(
            &db,
            &["key", "create", "--shop", &id, "--label", "till", "--json"],
        ))
        .unwrap();
        let key_id = key["key_id"].as_str().unwrap().to_string();
        ok(&db, &["key", "revoke", "--shop", &id, &key_id]);
        ok(
            &db,
            &[
                "webhook",
                "set",
                "--shop",
                &id,
                "https://hooks.example.com/pos",
            ],
        );
        ok(&db, &["webhook", "secret", "--shop", &id, "--rotate"]);
        ok(&db, &["webhook", "off", "--shop", &id]);
        ok(
            &db,
            &[
                "fec",
                "accounts",
                "--shop",
                &id,
                "--set",
                "payment.cash=531000",
            ],
        );
        let dir = std::env::temp_dir().join(format!("comptoir-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join(format!("{}.key", db.backend));
        let past = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
            .date()
            .checked_sub(jiff::Span::new().days(2))
            .unwrap()
            .to_string();
        ok(
            &db,
            &[
                "close",
                "--shop",
                &id,
                "--day",
                &past,
                "--fiscal-key",
                key_file.to_str().unwrap(),
            ],
        );
        let _ = std::fs::remove_dir_all(&dir);

        let all = listed(&db, &id);
        let kinds: Vec<&str> = all
            .iter()
            .map(|e| e["entry"]["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "licence_changed",
                "api_key_created",
                "api_key_revoked",
                "config_changed",
                "config_changed",
                "config_changed",
                "config_changed",
                "closing"
            ],
            "{}",
            db.backend
        );
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e["seq"], i as i64 + 1);
            assert_eq!(e["seal"].as_str().unwrap().len(), 64);
        }
        let entry = |i: usize| &all[i]["entry"];
        assert_eq!(entry(0)["detail"]["licence"], "extended");
        assert_eq!(entry(0)["actor"], "cli");
        assert_eq!(entry(1)["detail"]["key_id"], key_id.parse::<i64>().unwrap());
        assert_eq!(entry(1)["detail"]["label"], "till");
        let settings = |i: usize| entry(i)["detail"]["settings"].clone();
        assert_eq!(
            settings(3)["webhook.url"],
            "https://hooks.example.com/pos",
            "{}",
            entry(3)
        );
        assert_eq!(settings(4)["webhook.secret"], "changed");
        assert!(settings(5)["webhook.url"].is_null());
        assert_eq!(settings(6)["fec.payment.cash"], "531000");
        assert_eq!(entry(7)["detail"]["date"], past.as_str());
        assert_eq!(entry(7)["detail"]["number"], 1);
        // No secret is recorded: the one rotated in is not in any entry.
        let secret = ok(&db, &["webhook", "secret", "--shop", &id]);
        let text = ok(&db, &["events", "--shop", &id]);
        assert!(!text.contains(secret.trim()), "{text}");
        assert!(text.starts_with("seq\tat\tkind"), "{text}");
        assert_eq!(text.lines().count(), 9, "{text}");

        let verified = ok(&db, &["verify", "--shop", &id]);
        let lines: Vec<&str> = verified.lines().collect();
        assert!(lines[0].starts_with("chain ok: 1 entries"), "{verified}");
        assert!(
            lines[1].starts_with("events ok: 8 events, head "),
            "{verified}"
        );
        assert!(lines[2].starts_with("server events ok: "), "{verified}");
        let v: Value =
            serde_json::from_str(&ok(&db, &["verify", "--shop", &id, "--json"])).unwrap();
        assert_eq!(v["events"]["entries"], 8);
        assert_eq!(v["events"]["head"], all[7]["seal"]);
        // The standalone script agrees, on the shop's journal and the server's.
        if let Some((code, out)) = script(&db, &id) {
            assert_eq!(code, 0, "{out}");
            assert_eq!(out.trim(), lines[1]);
        }
        if let Some((code, out)) = script(&db, "server") {
            assert_eq!(code, 0, "{out}");
            assert_eq!(format!("server {}", out.trim()), lines[2]);
        }

        // An altered event: verify names it.
        sql(
            &db,
            "update events set entry = replace(entry, '531000', '531001')
             where shop_id = $1 and seq = $2",
            shop_id,
            7,
        );
        let o = comptoir(&db, &["verify", "--shop", &id]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(
            stderr(&o).contains(&format!(
                "events chain of shop {id} broken at event 7 (config_changed): stored seal"
            )),
            "{}: {}",
            db.backend,
            stderr(&o)
        );
        let o = comptoir(&db, &["verify", "--shop", &id, "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["problem"], "event_seal_mismatch");
        assert_eq!(v["event"]["seq"], 7);
        assert_eq!(v["journal"], "events");
        if let Some((code, out)) = script(&db, &id) {
            assert_eq!(code, 1, "{out}");
            assert!(out.contains("broken at event 7 (config_changed)"), "{out}");
        }

        // A deleted event (the altered one): the hole is named.
        sql(
            &db,
            "delete from events where shop_id = $1 and seq = $2",
            shop_id,
            7,
        );
        let o = comptoir(&db, &["verify", "--shop", &id]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("broken at event 8 (closing): event 7 is missing"),
            "{}: {}",
            db.backend,
            stderr(&o)
        );

        // The last event deleted leaves no hole, but the head no longer matches.
        sql(
            &db,
            "delete from events where shop_id = $1 and seq >= $2",
            shop_id,
            7,
        );
        let o = comptoir(&db, &["verify", "--shop", &id, "--json"]);
        assert_eq!(o.status.code(), Some(1));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["problem"], "event_head_mismatch", "{v}");
    }
}

#[test]
fn events_needs_a_shop_or_the_server() {
    for db in TestDb::all() {
        let o = comptoir(&db, &["events"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let o = comptoir(&db, &["events", "--shop", "999999"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("--shop"), "{}", stderr(&o));
        let server: Value =
            serde_json::from_str(&ok(&db, &["events", "--server", "--json"])).unwrap();
        assert!(server.is_array());
    }
}
