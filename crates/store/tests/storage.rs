//! The storage suite: every test runs on SQLite and, when `COMPTOIR_TEST_POSTGRES` is set,
//! on PostgreSQL, each on a database (or schema) of its own.

use comptoir_core::catalog::{parse_document, to_document};
use comptoir_core::model::{Licence, PaymentKind};
use comptoir_store::db::{Backend, Conn};
use comptoir_store::{StoreError, catalog, params, shops};
use comptoir_testkit::{TestDb, create_shop};
use serde_json::Value;

const DEMO: &str = include_str!("../../../data/demo-shop.json");

fn count(c: &mut dyn Conn, table: &str, shop_id: i64) -> i64 {
    c.query_one(
        &format!("select count(*) from {table} where shop_id = $1"),
        params![shop_id],
    )
    .and_then(|r| r.i64(0))
    .expect("count")
}

#[tokio::test]
async fn migrations_apply_once_and_again_without_change() {
    for db in TestDb::all() {
        let first = db.store().await;
        drop(first);
        let again = db.store().await;
        let versions = again
            .read(|c| {
                c.query(
                    "select version from schema_migrations order by version",
                    params![],
                )
            })
            .await
            .unwrap();
        assert!(
            !versions.is_empty(),
            "{}: no migration recorded",
            db.backend
        );
        let unique: std::collections::HashSet<i64> =
            versions.iter().map(|r| r.i64(0).unwrap()).collect();
        assert_eq!(
            unique.len(),
            versions.len(),
            "{}: a migration ran twice",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_new_shop_gets_its_defaults_admin_and_key() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = create_shop(&store, "Boulangerie", Licence::Standard).await;
        assert_eq!(shop.admin_login, format!("admin@shop-{}", shop.shop_id));
        let id = shop.shop_id;
        let cat = store.read(move |c| catalog::export(c, id)).await.unwrap();
        let rates: Vec<String> = cat.vat_rates.iter().map(|v| v.rate.to_string()).collect();
        assert_eq!(rates, ["20.0", "10.0", "5.5", "2.1"], "{}", db.backend);
        assert_eq!(cat.cash_boxes.len(), 1);
        assert_eq!(cat.cash_boxes[0].name.as_str(), "Web");
        assert!(cat.cash_boxes[0].is_virtual && cat.cash_boxes[0].open);
        assert!(
            cat.payment_methods
                .iter()
                .any(|p| p.kind == PaymentKind::Cash)
        );
        let key = shop.api_key.clone();
        let auth = store
            .read(move |c| shops::authenticate_key(c, id, &key))
            .await
            .unwrap();
        assert!(
            auth.is_some(),
            "{}: the shop's own key is refused",
            db.backend
        );
        let s = store
            .read(move |c| shops::get_shop(c, id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.licence, Licence::Standard);
        assert_eq!(s.currency.code(), "EUR");
    }
}

#[tokio::test]
async fn a_key_opens_only_its_own_shop_and_not_once_revoked() {
    for db in TestDb::all() {
        let store = db.store().await;
        let a = create_shop(&store, "A", Licence::Extended).await;
        let b = create_shop(&store, "B", Licence::Extended).await;
        let (ka, ida, idb) = (a.api_key.clone(), a.shop_id, b.shop_id);
        let (on_a, on_b, tampered) = store
            .read(move |c| {
                let mut flipped = ka.clone();
                let last = flipped.pop().unwrap();
                flipped.push(if last == '0' { '1' } else { '0' });
                Ok::<_, StoreError>((
                    shops::authenticate_key(c, ida, &ka)?,
                    shops::authenticate_key(c, idb, &ka)?,
                    shops::authenticate_key(c, ida, &flipped)?,
                ))
            })
            .await
            .unwrap();
        assert!(on_a.is_some(), "{}", db.backend);
        assert_eq!(on_b, None, "{}: shop A's key opened shop B", db.backend);
        assert_eq!(tampered, None, "{}: a wrong key was accepted", db.backend);

        let key_id = on_a.unwrap();
        store
            .write(move |c| shops::revoke_key(c, ida, key_id))
            .await
            .unwrap();
        let ka = a.api_key.clone();
        let after = store
            .read(move |c| shops::authenticate_key(c, ida, &ka))
            .await
            .unwrap();
        assert_eq!(after, None, "{}: a revoked key still works", db.backend);
        let again = store
            .write(move |c| shops::revoke_key(c, idb, key_id))
            .await;
        assert!(
            matches!(again, Err(StoreError::NotFound)),
            "{}: shop B revoked shop A's key",
            db.backend
        );
    }
}

/// Replaces every id by its position in its list (and references accordingly), so that two
/// exports of equal catalogs compare equal.
fn without_ids(mut doc: Value) -> Value {
    let lists = [
        ("vat_rates", &[][..]),
        ("department_groups", &[][..]),
        ("departments", &[("group_id", "department_groups")][..]),
        ("items", &[("department_id", "departments")][..]),
        ("variations", &[("item_id", "items")][..]),
        ("cash_boxes", &[][..]),
        ("payment_methods", &[("cash_box_id", "cash_boxes")][..]),
        ("clients", &[][..]),
        ("delivery_zones", &[][..]),
        ("relay_points", &[][..]),
        ("delivery_people", &[][..]),
        ("discounts", &[][..]),
        ("tables", &[][..]),
    ];
    let mut maps = std::collections::HashMap::new();
    for (name, _) in lists {
        let mut m = std::collections::HashMap::new();
        for (i, row) in doc[name]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            m.insert(row["id"].to_string(), i + 1);
        }
        maps.insert(name, m);
    }
    for (name, refs) in lists {
        if let Some(rows) = doc[name].as_array_mut() {
            for row in rows {
                let id = row["id"].to_string();
                row["id"] = Value::from(maps[name][&id]);
                for (field, target) in refs {
                    if !row[*field].is_null() {
                        let r = row[*field].to_string();
                        row[*field] = Value::from(maps[target][&r]);
                    }
                }
            }
        }
    }
    doc
}

#[tokio::test]
async fn export_import_export_gives_the_same_document_apart_from_ids() {
    for db in TestDb::all() {
        let store = db.store().await;
        let a = create_shop(&store, "Demo", Licence::Extended).await.shop_id;
        let demo = parse_document(DEMO, 2, &[]).expect("the demo document is valid");
        store
            .write(move |c| catalog::import(c, a, &demo))
            .await
            .unwrap();
        let first = to_document(
            &store.read(move |c| catalog::export(c, a)).await.unwrap(),
            2,
        );

        let b = create_shop(&store, "Copy", Licence::Standard).await.shop_id;
        let parsed = parse_document(&first.to_string(), 2, &[]).unwrap();
        store
            .write(move |c| catalog::import(c, b, &parsed))
            .await
            .unwrap();
        let second = to_document(
            &store.read(move |c| catalog::export(c, b)).await.unwrap(),
            2,
        );

        assert_eq!(
            first["items"].as_array().unwrap().len(),
            12,
            "{}",
            db.backend
        );
        assert_eq!(
            without_ids(first.clone()),
            without_ids(second.clone()),
            "{}: the round trip changed the catalog",
            db.backend
        );
        assert_ne!(
            first["items"][0]["id"], second["items"][0]["id"],
            "ids are the database's"
        );
        // Money keeps its minor digits through the round trip.
        assert!(
            second.to_string().contains("\"price\":1.80"),
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_failed_import_writes_nothing() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = create_shop(&store, "S", Licence::Standard).await.shop_id;
        // Valid on its own, but its user's login is already taken by another shop's user:
        // the import fails at its end and everything before must be rolled back.
        let doc = r#"{"department_groups": [{"id": 1, "name": "G"}],
            "vat_rates": [{"id": 1, "rate": 20}],
            "departments": [{"id": 1, "group_id": 1, "name": "D", "vat_rate": 20}],
            "items": [{"id": 1, "department_id": 1, "name": "I", "price": 2}],
            "users": [{"login": "bob", "name": "Bob", "role": "cashier"}]}"#;
        let cat = parse_document(doc, 2, &[]).unwrap();
        let other = create_shop(&store, "Other", Licence::Standard)
            .await
            .shop_id;
        let login = format!("bob@shop-{shop}");
        store
            .write(move |c| {
                shops::insert_user(
                    c,
                    other,
                    &login,
                    "Squatter",
                    comptoir_core::model::Role::Cashier,
                    "x",
                )
            })
            .await
            .unwrap();
        let result = store.write(move |c| catalog::import(c, shop, &cat)).await;
        let err = result.expect_err("the import must fail");
        assert!(
            err.to_string().contains("users[0].login"),
            "{}: {err}",
            db.backend
        );
        for table in ["department_groups", "departments", "items"] {
            let n = store
                .read(move |c| Ok::<_, StoreError>(count(c, table, shop)))
                .await
                .unwrap();
            assert_eq!(n, 0, "{}: {table} kept rows of a failed import", db.backend);
        }
    }
}

#[tokio::test]
async fn logins_are_unique_across_shops() {
    for db in TestDb::all() {
        let store = db.store().await;
        let a = create_shop(&store, "A", Licence::Standard).await.shop_id;
        let b = create_shop(&store, "B", Licence::Standard).await.shop_id;
        let login = format!("admin@shop-{a}");
        let r = store
            .write(move |c| {
                shops::insert_user(
                    c,
                    b,
                    &login,
                    "Intruder",
                    comptoir_core::model::Role::Admin,
                    "x",
                )
            })
            .await;
        assert!(
            matches!(r, Err(StoreError::Conflict(_))),
            "{}: {r:?}",
            db.backend
        );
    }
}

#[tokio::test]
async fn every_table_leads_its_keys_and_indexes_with_shop_id() {
    for db in TestDb::all() {
        let store = db.store().await;
        if db.backend != Backend::Postgres {
            // SQLite: every table but shops has a shop_id column.
            let tables = store
                .read(|c| {
                    c.query(
                        "select name from sqlite_master where type = 'table'
                         and name not in ('shops', 'schema_migrations')
                         and name not like 'sqlite_%'",
                        params![],
                    )
                })
                .await
                .unwrap();
            assert!(tables.len() >= 15);
            for t in tables {
                let name = t.string(0).unwrap();
                let cols = store
                    .read({
                        let name = name.clone();
                        move |c| {
                            c.query(
                                &format!("select name from pragma_table_info('{name}')"),
                                params![],
                            )
                        }
                    })
                    .await
                    .unwrap();
                assert!(
                    cols.iter().any(|r| r.str(0).unwrap() == "shop_id"),
                    "sqlite table {name} has no shop_id"
                );
            }
            continue;
        }
        // PostgreSQL: every primary key, unique constraint and index starts with shop_id,
        // except the documented global ones (shops itself, logins, migrations).
        let rows = store
            .read(|c| {
                c.query(
                    "select t.relname::text, i.relname::text, a.attname::text
                     from pg_index x
                     join pg_class i on i.oid = x.indexrelid
                     join pg_class t on t.oid = x.indrelid
                     join pg_namespace n on n.oid = t.relnamespace
                     join pg_attribute a on a.attrelid = t.oid and a.attnum = x.indkey[0]
                     where n.nspname = current_schema()",
                    params![],
                )
            })
            .await
            .unwrap();
        assert!(rows.len() >= 15);
        for r in rows {
            let (table, index, first) = (
                r.string(0).unwrap(),
                r.string(1).unwrap(),
                r.string(2).unwrap(),
            );
            let exempt = matches!(table.as_str(), "shops" | "schema_migrations")
                || index == "users_login_key";
            assert!(
                exempt || first == "shop_id",
                "index {index} on {table} leads with {first}, not shop_id"
            );
        }
    }
}

/// Group commit of checked writes (sales): whatever the batching, a write answered Ok is
/// stored and a write answered with an error left nothing, even one that failed after
/// inserting, or after a statement error (which fails a PostgreSQL transaction). The
/// batch-mates of such a write fail with it; a clean refusal fails alone.
#[tokio::test]
async fn checked_writes_are_stored_exactly_when_acknowledged() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = create_shop(&store, "Lot", Licence::Extended).await.shop_id;
        store
            .write(|c| c.batch("create table grouped (id bigint primary key, shop_id bigint)"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let r = store
                    .write_checked(shop, move |c| {
                        if i % 50 == 7 {
                            // Refused before writing anything.
                            return Err(StoreError::Invalid(format!("{i} refused")));
                        }
                        if i % 50 == 21 {
                            // A statement error, before writing anything.
                            c.query("select nothing from no_such_table", params![])?;
                        }
                        c.execute(
                            "insert into grouped (id, shop_id) values ($1, $2)",
                            params![i, shop],
                        )?;
                        if i % 50 == 13 {
                            // Fails after its insert: the insert must not survive.
                            return Err(StoreError::Invalid(format!("{i} failed halfway")));
                        }
                        Ok(i)
                    })
                    .await;
                (i, r.is_ok())
            }));
        }
        let mut acknowledged = Vec::new();
        for t in tasks {
            let (i, ok) = t.await.unwrap();
            if i % 50 == 7 || i % 50 == 13 || i % 50 == 21 {
                assert!(!ok, "{}: write {i} should have failed", db.backend);
            }
            if ok {
                acknowledged.push(i);
            }
        }
        let stored: Vec<i64> = store
            .read(|c| c.query("select id from grouped order by id", params![]))
            .await
            .unwrap()
            .iter()
            .map(|r| r.i64(0).unwrap())
            .collect();
        acknowledged.sort_unstable();
        assert_eq!(
            stored, acknowledged,
            "{}: stored = acknowledged",
            db.backend
        );
        // Each write failing halfway fails its batch: how many depends on the batching.
        assert!(!stored.is_empty(), "{}: nothing stored", db.backend);
    }
}

/// Group commit on both backends: 200 concurrent sales-like writes of one shop are all
/// acknowledged, carried by far fewer commits (one WAL flush each) than writes.
#[tokio::test]
async fn concurrent_checked_writes_share_commits() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = create_shop(&store, "Batch", Licence::Extended)
            .await
            .shop_id;
        store
            .write(|c| c.batch("create table shared (id bigint primary key)"))
            .await
            .unwrap();
        let before = store.commit_stats();
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .write_checked(shop, move |c| {
                        c.execute("insert into shared (id) values ($1)", params![i])
                    })
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let after = store.commit_stats();
        let (writes, commits) = (after.writes - before.writes, after.commits - before.commits);
        assert_eq!(writes, 200, "{}", db.backend);
        assert!(
            commits <= 100,
            "{}: 200 writes took {commits} commits",
            db.backend
        );
    }
}

/// Sales that fail after writing (their batch or group rolls back) beside sales that
/// stand: the acknowledged ones are numbered 1..N without a gap and the chain verifies,
/// on both backends. On PostgreSQL this covers the counters a lane keeps for the rest of
/// a group, which must be forgotten with a rolled-back transaction.
#[tokio::test]
async fn sales_failing_after_writing_leave_the_numbers_and_the_chain_whole() {
    use comptoir_store::journal::{self, Verification};
    use comptoir_store::sales::{self, SaleFailure, SaleInput};
    for db in TestDb::all() {
        let store = db.store().await;
        let shop_id = create_shop(&store, "Chain", Licence::Extended)
            .await
            .shop_id;
        comptoir_testkit::import_demo(&store, shop_id).await;
        let (shop, item) = store
            .read(move |c| {
                let shop = shops::get_shop(c, shop_id)?.expect("the shop");
                let item = c
                    .query_one(
                        "select min(id) from items where shop_id = $1 and active",
                        params![shop_id],
                    )?
                    .i64(0)?;
                Ok::<_, StoreError>((shop, item))
            })
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..120i64 {
            let (store, shop) = (store.clone(), shop.clone());
            tasks.push(tokio::spawn(async move {
                let input = SaleInput::new(
                    vec![item.to_string()],
                    comptoir_core::sale::PaymentParam::Unpaid,
                );
                store
                    .write_checked(shop.id, move |c| {
                        let order = sales::record_sale(c, &shop, &input)?;
                        if i % 9 == 4 {
                            return Err(SaleFailure::Store(StoreError::Invalid(format!(
                                "sale {i} fails after writing"
                            ))));
                        }
                        Ok(order.number)
                    })
                    .await
                    .ok()
                    .flatten()
            }));
        }
        let mut numbers = Vec::new();
        for t in tasks {
            numbers.extend(t.await.unwrap());
        }
        numbers.sort_unstable();
        let expected: Vec<i64> = (1..=numbers.len() as i64).collect();
        assert!(!numbers.is_empty(), "{}: nothing stood", db.backend);
        assert_eq!(numbers, expected, "{}: acknowledged numbers", db.backend);
        let verdict = store
            .read(move |c| journal::verify(c, shop_id))
            .await
            .unwrap();
        assert!(
            matches!(verdict, Verification::Intact { .. }),
            "{}: {verdict:?}",
            db.backend
        );
    }
}
