//! `comptoir close` and `comptoir closings list` through the real binary, on each backend:
//! a past day closes once (again says so, exit 0), today and bad days are refused (exit 2),
//! the list's signature checks with `fiscal key`'s public half, and verify and
//! scripts/verify_chain.py accept a chain that ends with a closing.

mod common;

use common::{comptoir, ok, stderr, stdout};
use comptoir_testkit::{TestDb, require};
use serde_json::Value;
use std::process::Command;

fn paris_today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .date()
}

#[test]
fn a_past_day_closes_once_signed_and_verify_accepts_it() {
    for db in TestDb::all() {
        let dir = std::env::temp_dir().join(format!("comptoir-close-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join(format!("{}.key", db.backend));
        let key = key.to_str().unwrap();
        let shop: Value =
            serde_json::from_str(&ok(&db, &["shop", "create", "--name", "Z", "--json"])).unwrap();
        let id = shop["shop_id"].as_str().unwrap().to_string();
        let today = paris_today();
        let past = today
            .checked_sub(jiff::Span::new().days(3))
            .unwrap()
            .to_string();
        let args = |day: &str| {
            ["close", "--shop", &id, "--day", day, "--fiscal-key", key].map(String::from)
        };
        let run = |day: &str| {
            let a = args(day);
            comptoir(&db, &a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let first = run(&past);
        assert!(first.status.success(), "{}: {}", db.backend, stderr(&first));
        assert!(
            stdout(&first).contains(&format!("closed {past}")),
            "{}",
            stdout(&first)
        );
        let again = run(&past);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        assert!(
            stdout(&again).contains("already closed"),
            "{}",
            stdout(&again)
        );
        for bad in [today.to_string(), "2026-02-30".into(), "yesterday".into()] {
            let o = run(&bad);
            assert_eq!(
                o.status.code(),
                Some(2),
                "{}: {bad}: {}",
                db.backend,
                stderr(&o)
            );
            assert!(stderr(&o).contains("--day"), "{}", stderr(&o));
        }

        let list: Value =
            serde_json::from_str(&ok(&db, &["closings", "list", "--shop", &id, "--json"])).unwrap();
        let list = list.as_array().expect("an array");
        assert_eq!(list.len(), 1, "{}: {list:?}", db.backend);
        assert_eq!(list[0]["day"], past.as_str());
        assert_eq!(list[0]["entry"]["sales"], 0);
        let public = ok(&db, &["fiscal", "key", "--fiscal-key", key]);
        assert_eq!(list[0]["public_key"], public.trim());
        let entry = serde_json::to_vec(&list[0]["entry"]).unwrap();
        assert!(comptoir_core::fiscal_key::verify(
            public.trim(),
            &entry,
            list[0]["signature"].as_str().unwrap()
        ));

        let v: Value =
            serde_json::from_str(&ok(&db, &["verify", "--shop", &id, "--json"])).unwrap();
        assert_eq!(
            (v["ok"].as_bool(), v["entries"].as_i64()),
            (Some(true), Some(1)),
            "{v}"
        );
        let pinned = ok(
            &db,
            &["verify", "--shop", &id, "--public-key", public.trim()],
        );
        assert!(pinned.starts_with("chain ok"), "{pinned}");
        let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let o = comptoir(
            &db,
            &["verify", "--shop", &id, "--public-key", other, "--json"],
        );
        assert_eq!(o.status.code(), Some(1), "{}", db.backend);
        let refused: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(refused["problem"], "closing_key_mismatch", "{refused}");
        let o = comptoir(&db, &["verify", "--shop", &id, "--public-key", "abc"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("--public-key"), "{}", stderr(&o));
        if let Some(path) = db.url.strip_prefix("sqlite://")
            && require(
                Command::new("python3")
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success()),
                "python3",
            )
        {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/verify_chain.py");
            let o = Command::new("python3")
                .args([script, path, &id])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
            assert_eq!(
                stdout(&o).trim(),
                format!("chain ok: 1 entries, head {}", v["head"].as_str().unwrap())
            );
        }
        let _ = std::fs::remove_file(key);
    }
}

#[test]
fn months_and_fiscal_years_close_after_their_days_with_the_shops_settings() {
    for db in TestDb::all() {
        let dir = std::env::temp_dir().join(format!("comptoir-close-m-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join(format!("{}.key", db.backend));
        let key = key.to_str().unwrap();
        let shop: Value =
            serde_json::from_str(&ok(&db, &["shop", "create", "--name", "M", "--json"])).unwrap();
        let id = shop["shop_id"].as_str().unwrap().to_string();
        let run = |args: &[&str]| {
            let mut all = vec!["--fiscal-key", key];
            all.extend_from_slice(args);
            comptoir(&db, &all)
        };
        // Settings: defaults, then checked changes.
        let s: Value =
            serde_json::from_str(&ok(&db, &["fiscal", "settings", "--shop", &id, "--json"]))
                .unwrap();
        assert_eq!(
            (s["first_month"].as_i64(), s["closing_hour"].as_str()),
            (Some(1), Some("04:00"))
        );
        for (flag, bad) in [
            ("--first-month", "13"),
            ("--closing-hour", "24:00"),
            ("--closing-hour", "4h"),
        ] {
            let o = comptoir(&db, &["fiscal", "settings", "--shop", &id, flag, bad]);
            assert_eq!(o.status.code(), Some(2), "{flag} {bad}");
            assert!(stderr(&o).contains(flag), "{}", stderr(&o));
        }
        // The fiscal year starts in the current month: the one that ends with last month
        // can close once last month has.
        let today = paris_today();
        let last_month_end = today.first_of_month().yesterday().unwrap();
        let month = format!("{:04}-{:02}", last_month_end.year(), last_month_end.month());
        let first = today.month().to_string();
        let out = ok(
            &db,
            &[
                "fiscal",
                "settings",
                "--shop",
                &id,
                "--first-month",
                &first,
                "--closing-hour",
                "05:30",
            ],
        );
        assert!(
            out.contains(&format!("month {first}, days close at 05:30")),
            "{out}"
        );
        // The change is an event of the shop's journal; the refused ones above are not.
        let events: Value =
            serde_json::from_str(&ok(&db, &["events", "--shop", &id, "--json"])).unwrap();
        let changes: Vec<&Value> = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["entry"]["kind"] == "config_changed")
            .collect();
        assert_eq!(changes.len(), 1, "{events}");
        let set = &changes[0]["entry"]["detail"]["settings"];
        assert_eq!(set["fiscal.first_month"], first.as_str(), "{events}");
        assert_eq!(set["fiscal.closing_hour"], "05:30", "{events}");
        let year = if last_month_end.month() >= today.month() {
            last_month_end.year()
        } else {
            last_month_end.year() - 1
        }
        .to_string();
        // Not before the month's last day is closed.
        let early = run(&["close", "--shop", &id, "--month", &month]);
        assert_eq!(early.status.code(), Some(2), "{}", db.backend);
        assert!(
            stderr(&early).contains("is not closed yet"),
            "{}",
            stderr(&early)
        );
        for bad in [["--month", "2026-13"], ["--year", "26"]] {
            let o = run(&["close", "--shop", &id, bad[0], bad[1]]);
            assert_eq!(o.status.code(), Some(2));
            assert!(stderr(&o).contains(bad[0]), "{}", stderr(&o));
        }
        let both = run(&[
            "close",
            "--shop",
            &id,
            "--day",
            "2026-01-01",
            "--month",
            "2026-01",
        ]);
        assert_eq!(both.status.code(), Some(2));
        // Its last two days, then the month, then the fiscal year; again says so.
        let before = last_month_end.yesterday().unwrap().to_string();
        for day in [before.as_str(), &last_month_end.to_string()] {
            let o = run(&["close", "--shop", &id, "--day", day]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        let o = run(&["close", "--shop", &id, "--year", &year]);
        assert_eq!(o.status.code(), Some(2), "a year waits for its last month");
        let o = run(&["close", "--shop", &id, "--month", &month]);
        assert!(o.status.success(), "{}: {}", db.backend, stderr(&o));
        assert!(
            stdout(&o).contains(&format!("closed {month} for shop {id}: month closing 1")),
            "{}",
            stdout(&o)
        );
        let o = run(&["close", "--shop", &id, "--year", &year]);
        assert!(o.status.success(), "{}: {}", db.backend, stderr(&o));
        let again = run(&["close", "--shop", &id, "--month", &month]);
        assert_eq!(again.status.code(), Some(0));
        assert!(
            stdout(&again).contains("already closed"),
            "{}",
            stdout(&again)
        );
        // Once a year is closed, its first month stays.
        let o = comptoir(
            &db,
            &["fiscal", "settings", "--shop", &id, "--first-month", "3"],
        );
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("--first-month"), "{}", stderr(&o));

        let text = ok(&db, &["closings", "list", "--shop", &id]);
        let periods: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(periods, ["day", "day", "month", "year"], "{text}");
        let list: Value =
            serde_json::from_str(&ok(&db, &["closings", "list", "--shop", &id, "--json"])).unwrap();
        assert_eq!(list[3]["period"], "year");
        assert_eq!(list[3]["day"], year.as_str());
        assert_eq!(list[2]["entry"]["period"], "month");
        let public = ok(&db, &["fiscal", "key", "--fiscal-key", key]);
        let v = ok(
            &db,
            &["verify", "--shop", &id, "--public-key", public.trim()],
        );
        assert!(v.starts_with("chain ok: 4 entries"), "{v}");
        let _ = std::fs::remove_file(key);
    }
}
