//! `comptoir archive`, `archive verify` and `verify --against`, run as processes on each
//! backend, and docs/verify_archive.py: a fresh archive of a closed month is accepted by
//! both verifiers; one byte changed, a file removed, a file added or the signature swapped
//! is refused by both; an unclosed month is refused; a database where a line's title
//! changed, or that lost an archived order (with its journal rows), fails
//! `verify --against`, naming the file, the row and the column.

mod common;

use common::{comptoir, stderr, stdout};
use comptoir_core::fiscal_key::FiscalKey;
use comptoir_core::model::Country;
use comptoir_core::sale::PaymentParam;
use comptoir_store::sales::{self, SaleFailure, SaleInput};
use comptoir_store::shops::{self, NewPassword, NewShop};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestDb, require};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEMO: &str = include_str!("../../../data/demo-shop.json");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/verify_archive.py");

fn micros(local: &str) -> i64 {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    dt.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .unwrap()
        .timestamp()
        .as_microsecond()
}

/// A shop with the demo catalog and three paid sales: two in March 2026, one in April.
/// The orders' ids.
fn shop_with_sales(store: &Store) -> (i64, Vec<i64>) {
    let new = NewShop {
        name: comptoir_core::model::Name::parse("Archive Café").unwrap(),
        currency: comptoir_core::money::Currency::EUR,
        timezone: comptoir_core::model::TimeZoneName::parse("Europe/Paris").unwrap(),
        country: Country::FR,
        licence: comptoir_core::model::Licence::Extended,
    };
    let cat =
        comptoir_core::catalog::parse_document(DEMO, 2, &shops::default_vat_rates(Country::FR))
            .expect("demo catalog");
    let password = NewPassword::generate();
    let shop_id = store
        .write_blocking(move |c| {
            let s = shops::create_shop(c, &new, password)?;
            comptoir_store::catalog::import(c, s.shop_id, &cat)?;
            Ok::<_, StoreError>(s.shop_id)
        })
        .expect("shop");
    let shop = store
        .read_blocking(|c| shops::get_shop(c, shop_id))
        .unwrap()
        .unwrap();
    let id = |sql: &'static str| {
        store
            .read_blocking(|c| c.query_one(sql, params![shop_id])?.i64(0))
            .unwrap()
    };
    let espresso = id("select id from items where shop_id = $1 and name = 'Espresso'");
    let cash = id("select id from payment_methods where shop_id = $1 and name = 'Cash'");
    let mut ids = Vec::new();
    for (when, entry) in [
        ("2026-03-02T09:00", format!("{espresso}_2")),
        (
            "2026-03-31T23:30",
            "Free_2.50_Crème \"maison\", -5%".to_string(),
        ),
        ("2026-04-01T00:10", format!("{espresso}_1")),
    ] {
        let mut input = SaleInput::new(vec![entry], PaymentParam::Method(cash));
        input.value_date = Some(micros(when));
        let shop = shop.clone();
        let order = store
            .write_blocking(move |c| sales::record_sale(c, &shop, &input))
            .unwrap_or_else(|e: SaleFailure| panic!("sale: {e:?}"));
        ids.push(order.id);
    }
    (shop_id, ids)
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    comptoir(db, args)
}

fn python_ok() -> bool {
    require(
        Command::new("python3")
            .args(["-c", "import cryptography"])
            .output()
            .is_ok_and(|o| o.status.success()),
        "python3 with the cryptography package",
    )
}

fn python(archive: &Path, public: &str) -> Output {
    Command::new("python3")
        .arg(SCRIPT)
        .arg(archive)
        .arg(public)
        .output()
        .expect("run python3")
}

/// A ZIP's members: name and bytes, in order.
type Members = Vec<(String, Vec<u8>)>;

/// The archive's members, in order.
fn members(path: &Path) -> Members {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().into_owned(), b)
        })
        .collect()
}

fn write_members(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "comptoir-archive-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_closed_month_archives_and_both_verifiers_accept_it_and_refuse_each_tampering() {
    for db in TestDb::all() {
        let store = Store::open_blocking(&db.db_url()).expect("open");
        let (shop, orders) = shop_with_sales(&store);
        let (first_order, second) = (orders[0], orders[1]);
        let shop = shop.to_string();
        let d = dir();
        let key = d.join("fiscal.key");
        let key = key.to_str().unwrap();
        let archive = d.join("2026-03.zip");
        let a = archive.to_str().unwrap();

        // Not closed yet: refused, nothing written.
        let o = run(
            &db,
            &[
                "archive",
                "--shop",
                &shop,
                "--period",
                "2026-03",
                "--output",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}: {}", db.backend, stderr(&o));
        assert!(
            stderr(&o).contains(
                "--period 2026-03: not closed yet: its last month 2026-03 has no monthly closing"
            ),
            "{}",
            stderr(&o)
        );
        assert!(!archive.exists());
        let o = run(
            &db,
            &[
                "close",
                "--shop",
                &shop,
                "--day",
                "2026-03-31",
                "--fiscal-key",
                key,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        // Its days closed, the month itself not yet: still refused.
        let archive_march = [
            "archive",
            "--shop",
            &shop,
            "--period",
            "2026-03",
            "--output",
            a,
            "--fiscal-key",
            key,
        ];
        let o = run(&db, &archive_march);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("close it first (comptoir close --shop ID --month 2026-03)"),
            "{}",
            stderr(&o)
        );
        assert!(!archive.exists());
        let o = run(
            &db,
            &[
                "close",
                "--shop",
                &shop,
                "--month",
                "2026-03",
                "--fiscal-key",
                key,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(
            &db,
            &[
                "archive",
                "--shop",
                &shop,
                "--period",
                "2026-04",
                "--output",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("not closed yet"), "{}", stderr(&o));
        let o = run(
            &db,
            &[
                "archive",
                "--shop",
                &shop,
                "--period",
                "2026-3",
                "--output",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("--period: expected YYYY-MM or YYYY"),
            "{}",
            stderr(&o)
        );

        let o = run(
            &db,
            &[
                "archive",
                "--shop",
                &shop,
                "--period",
                "2026-03",
                "--output",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert!(o.status.success(), "{}: {}", db.backend, stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains("orders.csv") && out.contains("2 rows"),
            "{out}"
        );
        // Never overwritten.
        let o = run(
            &db,
            &[
                "archive",
                "--shop",
                &shop,
                "--period",
                "2026-03",
                "--output",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

        let files = members(&archive);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "orders.csv",
                "lines.csv",
                "payments.csv",
                "closings.csv",
                "journal.csv",
                "events.csv",
                "manifest.json",
                "manifest.sig"
            ]
        );
        let text = |name: &str| {
            String::from_utf8(files.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap()
        };
        // The March orders only, with their lines, payments, closing and journal entries
        // (2 orders, 2 payments, 1 closing); the CSV conventions of the downloads.
        assert_eq!(
            text("orders.csv").lines().count(),
            3,
            "{}",
            text("orders.csv")
        );
        assert!(
            text("lines.csv").contains("\"Crème \"\"maison\"\", -5%\""),
            "{}",
            text("lines.csv")
        );
        assert_eq!(text("payments.csv").lines().count(), 3);
        // A header, the day's closing and the month's.
        assert_eq!(text("closings.csv").lines().count(), 3);
        assert_eq!(
            text("journal.csv").lines().count(),
            7,
            "{}",
            text("journal.csv")
        );
        // The shop's events of March: none here (its commands ran today), but the file and
        // its header are there; making the archive is itself an event of today.
        assert_eq!(text("events.csv"), "seq,kind,at,entry,seal\r\n");
        let o = run(&db, &["events", "--shop", &shop, "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let logged = stdout(&o);
        assert!(
            logged.contains("archive_created") && logged.contains("2026-03"),
            "{logged}"
        );
        let manifest: serde_json::Value = serde_json::from_str(&text("manifest.json")).unwrap();
        assert_eq!(manifest["period"], "2026-03");
        assert_eq!(manifest["closings"][0]["day"], "2026-03-31");
        assert_eq!(manifest["closings"][1]["day"], "2026-03");

        let public = stdout(&run(&db, &["fiscal", "key", "--fiscal-key", key]));
        let public = public.trim();
        let o = run(&db, &["archive", "verify", a, "--fiscal-key", key]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).starts_with("archive ok: shop"), "{}", stdout(&o));
        let o = run(&db, &["archive", "verify", a, "--public-key", public]);
        assert!(o.status.success(), "{}", stderr(&o));
        let other = FiscalKey::from_seed([3; 32]);
        let o = run(
            &db,
            &["archive", "verify", a, "--public-key", &other.public_hex()],
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let nowhere = d.join("no.key");
        let o = run(
            &db,
            &[
                "archive",
                "verify",
                a,
                "--fiscal-key",
                nowhere.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains("--public-key HEX"), "{}", stderr(&o));
        assert!(!nowhere.exists(), "checking creates no key");
        let o = run(&db, &["archive", "verify", a, "--public-key", "zz"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let with_python = python_ok();
        if with_python {
            let o = python(&archive, public);
            assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        }

        // Each tampering, refused by both verifiers with what is wrong.
        let manifest_bytes = files
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1
            .clone();
        let tamperings: Vec<(&str, Members, &str)> = vec![
            (
                "one byte changed",
                files
                    .iter()
                    .map(|(n, b)| {
                        let mut b = b.clone();
                        if n == "lines.csv" {
                            let at = b.len() - 5;
                            b[at] = if b[at] == b'9' { b'8' } else { b'9' };
                        }
                        (n.clone(), b)
                    })
                    .collect(),
                "lines.csv: SHA-256",
            ),
            (
                "a file removed",
                files
                    .iter()
                    .filter(|(n, _)| n != "payments.csv")
                    .cloned()
                    .collect(),
                "payments.csv: listed in manifest.json but missing from the archive",
            ),
            (
                "a file added",
                files
                    .iter()
                    .cloned()
                    .chain([("extra.csv".to_string(), b"x\r\n".to_vec())])
                    .collect(),
                "extra.csv: in the archive but not listed in manifest.json",
            ),
            (
                "the signature swapped",
                files
                    .iter()
                    .map(|(n, b)| {
                        if n == "manifest.sig" {
                            (
                                n.clone(),
                                format!("{}\n", other.sign(&manifest_bytes)).into_bytes(),
                            )
                        } else {
                            (n.clone(), b.clone())
                        }
                    })
                    .collect(),
                "manifest.sig is not a valid signature of manifest.json",
            ),
        ];
        for (what, changed, expected) in tamperings {
            let bad = d.join(format!("{}.zip", what.replace(' ', "-")));
            write_members(&bad, &changed);
            let b = bad.to_str().unwrap();
            let o = run(&db, &["archive", "verify", b, "--fiscal-key", key]);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{}: {what}: {}",
                db.backend,
                stderr(&o)
            );
            assert!(stderr(&o).contains(expected), "{what}: {}", stderr(&o));
            if with_python {
                let o = python(&bad, public);
                assert_eq!(o.status.code(), Some(1), "python: {what}: {}", stdout(&o));
                assert!(
                    stderr(&o).contains(expected),
                    "python: {what}: {}",
                    stderr(&o)
                );
            }
            // verify --against refuses an archive that is not intact.
            let o = run(
                &db,
                &[
                    "verify",
                    "--shop",
                    &shop,
                    "--against",
                    b,
                    "--fiscal-key",
                    key,
                ],
            );
            assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        }

        // The database still holds the archive: --against agrees.
        let o = run(
            &db,
            &[
                "verify",
                "--shop",
                &shop,
                "--against",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert!(o.status.success(), "{}: {}", db.backend, stderr(&o));
        assert!(
            stdout(&o).contains("archive ok: the database still holds every row"),
            "{}",
            stdout(&o)
        );

        // A line's title changed in the database: the file, row and column are named.
        let shop_id: i64 = shop.parse().unwrap();
        store
            .write_blocking(move |c| {
                c.execute(
                    "update order_lines set title = 'Thé' where shop_id = $1 and order_id = $2",
                    params![shop_id, second],
                )
            })
            .expect("update");
        let o = run(
            &db,
            &[
                "verify",
                "--shop",
                &shop,
                "--against",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}: {}", db.backend, stdout(&o));
        assert!(
            stderr(&o).contains(&format!(
                "lines.csv: row 2 (order_id {second}, line_no 1) differs in title: the archive has \"Crème \\\"maison\\\", -5%\", the database \"Thé\""
            )),
            "{}",
            stderr(&o)
        );

        // Lose the first order: its payment, lines, journal rows and row.
        store
            .write_blocking(move |c| {
                for sql in [
                    "delete from journal where shop_id = $1 and order_id = $2",
                    "delete from payments where shop_id = $1 and order_id = $2",
                    "delete from order_lines where shop_id = $1 and order_id = $2",
                    "delete from outbox where shop_id = $1 and order_id = $2",
                    "delete from orders where shop_id = $1 and id = $2",
                ] {
                    c.execute(sql, params![shop_id, first_order])?;
                }
                Ok::<_, StoreError>(())
            })
            .expect("delete");
        let o = run(
            &db,
            &[
                "verify",
                "--shop",
                &shop,
                "--against",
                a,
                "--fiscal-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}: {}", db.backend, stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "orders.csv: row 1 (id {first_order}) is in the archive but not in the database"
            )),
            "{err}"
        );
        assert!(err.contains("lines.csv: row 1 (order_id"), "{err}");
        assert!(err.contains("journal.csv: row 1 (seq 1)"), "{err}");
        let o = run(
            &db,
            &[
                "verify",
                "--shop",
                &shop,
                "--against",
                a,
                "--fiscal-key",
                key,
                "--json",
            ],
        );
        assert_eq!(o.status.code(), Some(1));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["against"]["ok"], false, "{v}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
