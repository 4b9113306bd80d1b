//! `comptoir fec accounts` through the real binary, on each backend: defaults, settings
//! that stick, and a bad setting refused (exit 2) with nothing written.

mod common;

use common::{comptoir, ok, stderr};
use comptoir_testkit::TestDb;
use serde_json::Value;

#[test]
fn fec_accounts_show_set_and_refuse() {
    for db in TestDb::all() {
        let shop: Value = serde_json::from_str(&ok(
            &db,
            &["shop", "create", "--name", "Compta", "--extended", "--json"],
        ))
        .expect("json");
        let id = shop["shop_id"].as_str().expect("shop_id").to_string();
        let show = |extra: &[&str]| -> Value {
            let mut args = vec!["fec", "accounts", "--shop", &id, "--json"];
            args.extend_from_slice(extra);
            serde_json::from_str(&ok(&db, &args)).expect("json")
        };
        let defaults = show(&[]);
        assert_eq!(defaults["payment.cash"], "530000", "{}", db.backend);
        assert_eq!(defaults["journal.code"], "VE");
        assert_eq!(defaults["vat.5.5"], "445713");
        let set = show(&["--set", "payment.cash=531000", "--set", "sales.8.5=707500"]);
        assert_eq!(set["payment.cash"], "531000", "{}", db.backend);
        assert_eq!(set["sales.8.5"], "707500");
        assert_eq!(show(&[])["payment.cash"], "531000", "{}: kept", db.backend);
        for bad in ["payment.bitcoin=531000", "client=41 1", "nothing"] {
            let o = comptoir(
                &db,
                &[
                    "fec",
                    "accounts",
                    "--shop",
                    &id,
                    "--set",
                    "client=411100",
                    "--set",
                    bad,
                ],
            );
            assert_eq!(o.status.code(), Some(2), "{}: {bad}", db.backend);
            assert!(stderr(&o).contains("--set"), "{}", stderr(&o));
        }
        assert_eq!(
            show(&[])["client"],
            "411000",
            "{}: nothing written",
            db.backend
        );
        let o = comptoir(&db, &["fec", "accounts", "--shop", "999999"]);
        assert_ne!(o.status.code(), Some(0), "{}", db.backend);
    }
}
