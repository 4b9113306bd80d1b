//! `comptoir verify`, run as a process: an intact chain exits 0 with its head; changing any
//! sealed value in the database (a line, a payment, an order) exits 1 naming that entry.
//! scripts/verify_chain.py, the independent re-implementation, agrees on SQLite.

mod common;

use common::comptoir;

use comptoir_core::model::{Client, Country, Shop};
use comptoir_core::order::OrderView;
use comptoir_core::sale::PaymentParam;
use comptoir_store::sales::{self, ClientInput, SaleFailure, SaleInput};
use comptoir_store::shops::{self, NewPassword, NewShop};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestDb, require};
use serde_json::Value;
use std::process::{Command, Output};

const DEMO: &str = include_str!("../../../data/demo-shop.json");

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// What the fixture recorded: the orders in the order they were sealed.
struct Recorded {
    store: Store,
    shop_id: i64,
    /// A: cash sale; B: card sale with a client; D: unpaid then paid; R: refund of A;
    /// C: pending, validated last.
    a: OrderView,
    b: OrderView,
    d: OrderView,
}

fn id_of(store: &Store, sql: &str, shop_id: i64, name: &str) -> i64 {
    store
        .read_blocking(|c| c.query_one(sql, params![shop_id, name])?.i64(0))
        .unwrap_or_else(|e: StoreError| panic!("{sql} {name}: {e}"))
}

fn input(entries: &[String], payment: PaymentParam) -> SaleInput {
    SaleInput::new(entries.to_vec(), payment)
}

fn record(store: &Store, shop: &Shop, input: SaleInput) -> OrderView {
    let shop = shop.clone();
    store
        .write_blocking(move |c| sales::record_sale(c, &shop, &input))
        .unwrap_or_else(|e: SaleFailure| panic!("record sale: {e:?}"))
}

/// A shop with the demo catalog and nine journal entries.
fn recorded(db: &TestDb) -> Recorded {
    let store = Store::open_blocking(&db.db_url()).expect("open");
    let new = NewShop {
        name: comptoir_core::model::Name::parse("Verify Café").unwrap(),
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
        .expect("read shop")
        .expect("shop exists");
    let item = |name| {
        id_of(
            &store,
            "select id from items where shop_id = $1 and name = $2",
            shop_id,
            name,
        )
    };
    let method = |name| {
        id_of(
            &store,
            "select id from payment_methods where shop_id = $1 and name = $2",
            shop_id,
            name,
        )
    };
    let (espresso, croissant) = (item("Espresso"), item("Croissant"));
    let (cash, card, refund) = (method("Cash"), method("Card"), method("Cash refund"));

    // Entries 1 (order A) and 2 (its payment).
    let a = record(
        &store,
        &shop,
        input(&[format!("{espresso}_2")], PaymentParam::Method(cash)),
    );
    // Entries 3 and 4: accents, quotes and a decimal quantity go through the encoding.
    let mut i = input(
        &[
            format!("{croissant}_0.5"),
            "Free_2.50_Crème brûlée \"maison\"".to_string(),
        ],
        PaymentParam::Method(card),
    );
    i.client = ClientInput::New(Box::new(Client {
        id: 0,
        last_name: Some("Durand".into()),
        first_name: None,
        email: None,
        phone: None,
        phone2: None,
        address1: None,
        address2: None,
        address_comment: None,
        postcode: None,
        city: None,
        country: None,
        vat_number: None,
        company_number: None,
        barcode: None,
        lat: None,
        lng: None,
    }));
    let b = record(&store, &shop, i);
    let c = record(
        &store,
        &shop,
        input(&[format!("{espresso}_1")], PaymentParam::Pending),
    );
    // Entry 5 (order D, unpaid), then 6 (its payment).
    let d = record(
        &store,
        &shop,
        input(&[format!("{croissant}_3")], PaymentParam::Unpaid),
    );
    let (shop2, d_id) = (shop.clone(), d.id);
    store
        .write_blocking(move |c| sales::add_payment(c, &shop2, d_id, cash, None))
        .unwrap_or_else(|e| panic!("add payment: {e:?}"));
    // Entries 7 and 8: the refund of A; 9: C validated last.
    let (shop2, a_id) = (shop.clone(), a.id);
    store
        .write_blocking(move |c| sales::refund_order(c, &shop2, a_id, refund, &[]))
        .unwrap_or_else(|e| panic!("refund: {e:?}"));
    let c_id = c.id;
    store
        .write_blocking(move |cn| sales::validate_order(cn, shop_id, c_id))
        .unwrap_or_else(|e| panic!("validate: {e:?}"));
    Recorded {
        store,
        shop_id,
        a,
        b,
        d,
    }
}

fn execute(store: &Store, sql: &'static str, shop_id: i64, id: i64) {
    let n = store
        .write_blocking(move |c| c.execute(sql, params![shop_id, id]))
        .expect(sql);
    assert_eq!(n, 1, "{sql}");
}

fn head(store: &Store, shop_id: i64) -> String {
    store
        .read_blocking(|c| {
            c.query_one(
                "select journal_head from shop_counters where shop_id = $1",
                params![shop_id],
            )?
            .string(0)
        })
        .expect("head")
}

/// `verify` exits 0 and prints `chain ok: 9 entries, head HEAD`.
fn assert_ok(db: &TestDb, r: &Recorded) {
    let shop = r.shop_id.to_string();
    let o = comptoir(db, &["verify", "--shop", &shop]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{}: {out}{err}", db.backend);
    // The events chains' lines follow (tests/events.rs).
    assert_eq!(
        out.lines().next().unwrap_or_default(),
        format!("chain ok: 9 entries, head {}", head(&r.store, r.shop_id)),
        "{}",
        db.backend
    );
}

/// `verify` exits 1 and its message starts with `prefix`; gives the message.
fn assert_broken(db: &TestDb, r: &Recorded, prefix: &str) -> String {
    let shop = r.shop_id.to_string();
    let o = comptoir(db, &["verify", "--shop", &shop]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{}: {out}{err}", db.backend);
    let message = err.trim().trim_start_matches("error: ").to_string();
    assert!(
        message.starts_with(prefix),
        "{}: expected {prefix:?}, got {message:?}",
        db.backend
    );
    message
}

fn python() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// scripts/verify_chain.py on a SQLite database: exit code and output.
fn script(db: &TestDb, shop_id: i64) -> Option<(i32, String)> {
    let path = db.url.strip_prefix("sqlite://")?;
    if !require(python(), "python3") {
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/verify_chain.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(path)
        .arg(shop_id.to_string())
        .output()
        .expect("run python3");
    let (out, err) = text(&o);
    Some((o.status.code().unwrap_or(-1), format!("{out}{err}")))
}

#[test]
fn an_intact_chain_verifies_with_its_head_and_the_script_agrees() {
    for db in TestDb::all() {
        let r = recorded(&db);
        assert_ok(&db, &r);

        let shop = r.shop_id.to_string();
        let o = comptoir(&db, &["verify", "--shop", &shop, "--json"]);
        assert_eq!(o.status.code(), Some(0));
        let v: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
        assert_eq!(v["ok"], true);
        assert_eq!(v["entries"], 9);
        assert_eq!(v["head"], head(&r.store, r.shop_id));

        if let Some((code, out)) = script(&db, r.shop_id) {
            assert_eq!(code, 0, "{out}");
            assert_eq!(
                out.trim(),
                format!("chain ok: 9 entries, head {}", head(&r.store, r.shop_id))
            );
        }
    }
}

#[test]
fn changing_a_sealed_line_total_breaks_the_chain_at_that_order() {
    for db in TestDb::all() {
        let r = recorded(&db);
        let (id, number) = (r.b.id, r.b.number.expect("validated"));
        execute(
            &r.store,
            "update order_lines set total = total + 1 where shop_id = $1 and order_id = $2 and line_no = 1",
            r.shop_id,
            id,
        );
        let m = assert_broken(
            &db,
            &r,
            &format!(
                "chain broken at entry 3 (order {number}, orderInternalID {id}): stored seal "
            ),
        );
        assert!(m.contains("does not match the recomputed"), "{m}");
        if let Some((code, out)) = script(&db, r.shop_id) {
            assert_eq!(code, 1, "{out}");
            assert!(out.starts_with("chain broken at entry 3 "), "{out}");
        }

        execute(
            &r.store,
            "update order_lines set total = total - 1 where shop_id = $1 and order_id = $2 and line_no = 1",
            r.shop_id,
            id,
        );
        assert_ok(&db, &r);
    }
}

#[test]
fn changing_a_payment_amount_breaks_the_chain_at_that_payment() {
    for db in TestDb::all() {
        let r = recorded(&db);
        let payment = r.a.payments[0].id;
        execute(
            &r.store,
            "update payments set amount = amount + 100 where shop_id = $1 and id = $2",
            r.shop_id,
            payment,
        );
        let number = r.a.number.expect("validated");
        assert_broken(
            &db,
            &r,
            &format!(
                "chain broken at entry 2 (payment {payment} of order {number}, orderInternalID {}): stored seal ",
                r.a.id
            ),
        );
        if let Some((code, out)) = script(&db, r.shop_id) {
            assert_eq!(code, 1, "{out}");
            assert!(out.starts_with("chain broken at entry 2 "), "{out}");
        }

        let shop = r.shop_id.to_string();
        let o = comptoir(&db, &["verify", "--shop", &shop, "--json"]);
        assert_eq!(o.status.code(), Some(1));
        let v: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
        assert_eq!(v["ok"], false);
        assert_eq!(v["problem"], "seal_mismatch");
        assert_eq!(v["entry"]["seq"], 2);
        assert_eq!(v["entry"]["kind"], "payment");
        assert_eq!(v["entry"]["paymentID"], payment);
        assert_eq!(v["entry"]["orderInternalID"], r.a.id);
        assert_eq!(v["entry"]["orderID"], number);
        assert_ne!(v["stored"], v["recomputed"]);
        assert_eq!(v["entries_checked"], 1);

        execute(
            &r.store,
            "update payments set amount = amount - 100 where shop_id = $1 and id = $2",
            r.shop_id,
            payment,
        );
        assert_ok(&db, &r);
    }
}

#[test]
fn changing_an_order_value_date_breaks_the_chain_at_that_order() {
    for db in TestDb::all() {
        let r = recorded(&db);
        let (id, number) = (r.d.id, r.d.number.expect("validated"));
        execute(
            &r.store,
            "update orders set value_date = value_date - 86400000000 where shop_id = $1 and id = $2",
            r.shop_id,
            id,
        );
        assert_broken(
            &db,
            &r,
            &format!(
                "chain broken at entry 5 (order {number}, orderInternalID {id}): stored seal "
            ),
        );
        if let Some((code, out)) = script(&db, r.shop_id) {
            assert_eq!(code, 1, "{out}");
            assert!(out.starts_with("chain broken at entry 5 "), "{out}");
        }
        execute(
            &r.store,
            "update orders set value_date = value_date + 86400000000 where shop_id = $1 and id = $2",
            r.shop_id,
            id,
        );
        assert_ok(&db, &r);
    }
}

#[test]
fn the_orders_copy_of_the_seal_and_the_head_are_checked_too() {
    for db in TestDb::all() {
        let r = recorded(&db);
        let id = r.b.id;
        execute(
            &r.store,
            "update orders set seal = upper(seal) where shop_id = $1 and id = $2",
            r.shop_id,
            id,
        );
        let m = assert_broken(&db, &r, "chain broken at entry 3 (order ");
        assert!(m.contains("the order's seal"), "{m}");
        if let Some((code, out)) = script(&db, r.shop_id) {
            assert_eq!(code, 1, "{out}");
        }
        execute(
            &r.store,
            "update orders set seal = lower(seal) where shop_id = $1 and id = $2",
            r.shop_id,
            id,
        );
        assert_ok(&db, &r);

        // A forged head (say, after removing the last entry) does not pass either.
        let shop_id = r.shop_id;
        r.store
            .write_blocking(move |c| {
                c.execute(
                    "update shop_counters set journal_head = $1 where shop_id = $2",
                    params![comptoir_core::seal::GENESIS, shop_id],
                )
            })
            .expect("forge head");
        let m = assert_broken(&db, &r, "chain head in shop_counters ");
        assert!(m.contains("does not match the last entry's seal"), "{m}");
    }
}

#[test]
fn an_unknown_shop_exits_2() {
    let db = TestDb::sqlite();
    let o = comptoir(&db, &["verify", "--shop", "424242"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--shop"), "{err}");
}

#[test]
fn the_script_in_the_documentation_is_the_one_in_the_repository() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let doc = std::fs::read_to_string(format!("{root}/docs/inalterability.md")).expect("doc");
    let script =
        std::fs::read_to_string(format!("{root}/scripts/verify_chain.py")).expect("script");
    let block = doc
        .split_once("```python\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(code, _)| code)
        .expect("a python block in docs/inalterability.md");
    assert_eq!(
        block, script,
        "docs/inalterability.md and scripts/verify_chain.py differ"
    );
}
