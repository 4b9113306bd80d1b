//! Catalog and data downloads (`/workers/get*.php`): every endpoint in JSON, CSV and HTML,
//! the field lists, escaping, shop isolation, and the common rules of the web services.

use comptoir_core::model::{Licence, Role};
use comptoir_store::StoreError;
use comptoir_store::params;
use comptoir_store::shops::CreatedShop;
use comptoir_testkit::{TestApp, TestDb, encode_form};
use serde_json::Value;

/// Each endpoint, its fields in order, and how many rows the seeded shop has.
const ENDPOINTS: &[(&str, &[&str], usize)] = &[
    (
        "getPlus",
        &[
            "id",
            "name",
            "price",
            "vatRate",
            "departmentID",
            "barcode",
            "reference",
            "position",
            "active",
            "stock",
        ],
        3,
    ),
    (
        "getDepartments",
        &["id", "name", "groupID", "vatRate", "defaultDiscount"],
        3,
    ),
    ("getDepartmentGroups", &["id", "name"], 2),
    ("getDepartmentsGroups", &["id", "name"], 2),
    (
        "getClients",
        &[
            "id",
            "lastName",
            "firstName",
            "email",
            "phone",
            "phone2",
            "address1",
            "address2",
            "addressComment",
            "postcode",
            "city",
            "country",
            "vatNumber",
            "companyNumber",
            "barcode",
            "lat",
            "lng",
        ],
        4,
    ),
    (
        "getDeclinaisons",
        &["id", "itemID", "name", "priceChange"],
        2,
    ),
    ("getLivraisons", &["id", "name"], 7),
    ("getLivreurs", &["id", "name", "phone"], 1),
    (
        "getPaymentModes",
        &["id", "name", "kind", "minAmount", "maxAmount", "cashBoxID"],
        5,
    ),
    ("getCashbox", &["id", "name", "virtual", "open", "fund"], 2),
    (
        "getDeliveryZones",
        &["id", "name", "fee", "minAmount", "address", "radiusMeters"],
        1,
    ),
    (
        "getRelayDeposit",
        &["id", "name", "address", "openingHours"],
        1,
    ),
    ("getDiscounts", &["id", "name", "kind", "value"], 3),
    ("getUsers", &["id", "login", "name", "role"], 2),
    ("getTables", &["id", "name", "seats"], 2),
];

const SCRIPT: &str = "<script>alert(1)</script>";
const FORMULA: &str = "=HYPERLINK(\"x\")";

/// Fills a new shop's catalog: a few rows of every list, with awkward text on purpose.
async fn seed(app: &TestApp, shop: &CreatedShop, tag: &str) {
    let (shop_id, tag) = (shop.shop_id, tag.to_string());
    app.store
        .write(move |c| {
            let food = c.insert_id(
                "insert into department_groups (shop_id, name) values ($1, 'Food') returning id",
                params![shop_id],
            )?;
            c.execute(
                "insert into department_groups (shop_id, name) values ($1, 'Drinks')",
                params![shop_id],
            )?;
            let dept = |c: &mut dyn comptoir_store::db::Conn, name: &str, group, rate, disc| {
                c.insert_id(
                    "insert into departments (shop_id, group_id, name, vat_rate, default_discount)
                     values ($1, $2, $3, $4, $5) returning id",
                    params![shop_id, group, name, rate, disc],
                )
            };
            let pizzas = dept(c, "Pizzas", Some(food), 1000_i64, 0_i64)?;
            let desserts = dept(c, "Desserts", Some(food), 550, 1000)?;
            let wine = dept(c, "Wine", None::<i64>, 2000, 0)?;
            let item = |c: &mut dyn comptoir_store::db::Conn,
                        dept: i64,
                        name: String,
                        price: i64,
                        rate: Option<i64>,
                        barcode: Option<&str>,
                        active: bool,
                        stock: Option<i64>| {
                c.insert_id(
                    "insert into items (shop_id, department_id, name, price, vat_rate, barcode,
                         reference, position, active, stock)
                     values ($1, $2, $3, $4, $5, $6, 'REF-1', 1, $7, $8) returning id",
                    params![shop_id, dept, name, price, rate, barcode, active, stock],
                )
            };
            let margherita = item(
                c,
                pizzas,
                format!("Margherita {tag}"),
                1450,
                None,
                Some("0123"),
                true,
                Some(2500),
            )?;
            item(c, desserts, "Crème brûlée".into(), 650, Some(1000), None, true, None)?;
            item(c, wine, "Bordeaux, \"2019\"".into(), 2400, None, None, false, Some(-1000))?;
            for (name, change) in [("Extra cheese", 150_i64), ("Small", -350)] {
                c.execute(
                    "insert into variations (shop_id, item_id, name, price_change)
                     values ($1, $2, $3, $4)",
                    params![shop_id, margherita, name, change],
                )?;
            }
            c.execute(
                "insert into clients (shop_id, last_name, first_name, email, phone, address1,
                     address_comment, postcode, city, country, vat_number, lat, lng, created_at)
                 values ($1, $2, 'Marie', 'marie@example.org', '+33 1 23 45 67 89',
                     '12 rue Monge', 'Code 1234
2nd floor', '75005', 'Paris', 'FR', 'FR123', 488462000, 23447000, 0)",
                params![shop_id, format!("Durand {tag}")],
            )?;
            for name in [SCRIPT, FORMULA] {
                c.execute(
                    "insert into clients (shop_id, last_name, created_at) values ($1, $2, 0)",
                    params![shop_id, name],
                )?;
            }
            c.execute(
                "insert into clients (shop_id, created_at) values ($1, 0)",
                params![shop_id],
            )?;
            c.execute(
                "insert into delivery_people (shop_id, name, phone) values ($1, 'Karim', '0600')",
                params![shop_id],
            )?;
            c.execute(
                "insert into delivery_zones (shop_id, name, fee, min_amount, address, radius_m)
                 values ($1, 'Paris 5e', 300, 1500, '12 rue Monge', 2000)",
                params![shop_id],
            )?;
            c.execute(
                "insert into relay_points (shop_id, name, address, opening_hours)
                 values ($1, 'Tabac du coin', '1 place Maubert', 'Mon-Sat 8-20')",
                params![shop_id],
            )?;
            for (name, kind, value) in [
                ("Happy hour", "percent", 1050_i64),
                ("Loyalty", "amount", 250),
                ("Menu", "fixed_price", 1200),
            ] {
                c.execute(
                    "insert into discounts (shop_id, name, kind, value) values ($1, $2, $3, $4)",
                    params![shop_id, name, kind, value],
                )?;
            }
            c.execute(
                "insert into dining_tables (shop_id, name, seats) values ($1, '1', 4)",
                params![shop_id],
            )?;
            c.execute(
                "insert into dining_tables (shop_id, name) values ($1, 'Terrace')",
                params![shop_id],
            )?;
            comptoir_store::shops::insert_user(
                c,
                shop_id,
                &format!("alice@shop-{shop_id}"),
                "Alice",
                Role::Cashier,
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            )?;
            let counter = c.insert_id(
                "insert into cash_boxes (shop_id, name, is_virtual, is_open, fund)
                 values ($1, 'Counter', $2, $3, 15000) returning id",
                params![shop_id, false, false],
            )?;
            c.execute(
                "insert into payment_methods (shop_id, name, kind, min_amount, max_amount, cash_box_id)
                 values ($1, 'Ticket', 'voucher', 100, 5000, $2)",
                params![shop_id, counter],
            )?;
            Ok::<_, StoreError>(())
        })
        .await
        .expect("seed");
}

fn path(endpoint: &str, shop: &CreatedShop, extra: &[(&str, &str)]) -> String {
    let id = shop.shop_id.to_string();
    let mut form = vec![("idboutique", id.as_str()), ("key", shop.api_key.as_str())];
    form.extend_from_slice(extra);
    format!("/workers/{endpoint}.php?{}", encode_form(&form))
}

struct Answer {
    status: u16,
    content_type: String,
    disposition: Option<String>,
    body: String,
}

async fn fetch(app: &TestApp, path: &str) -> Answer {
    let res = app.get(path).await;
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    Answer {
        status: res.status().as_u16(),
        content_type: header("content-type").unwrap_or_default(),
        disposition: header("content-disposition"),
        body: res.text().await.expect("body"),
    }
}

async fn json_rows(app: &TestApp, endpoint: &str, shop: &CreatedShop) -> Vec<Value> {
    let a = fetch(app, &path(endpoint, shop, &[])).await;
    assert_eq!(a.status, 200, "{endpoint}: {}", a.body);
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{endpoint}: {e}: {}", a.body))
}

fn csv_rows(body: &str, sep: u8) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .from_reader(body.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A JSON value as its CSV cell: null is empty, numbers keep their digits, text that a
/// spreadsheet would run as a formula gets a leading `'`.
fn as_csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn seeded() -> Vec<(TestDb, TestApp, CreatedShop)> {
    let mut out = Vec::new();
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Chez Test", Licence::Extended).await;
        seed(&app, &shop, "A").await;
        out.push((db, app, shop));
    }
    out
}

#[tokio::test]
async fn every_list_answers_in_json_csv_and_html_with_its_fields() {
    for (db, app, shop) in seeded().await {
        for &(endpoint, fields, count) in ENDPOINTS {
            let at = format!("{} {endpoint}", db.backend);

            let a = fetch(&app, &path(endpoint, &shop, &[])).await;
            assert_eq!(a.status, 200, "{at}: {}", a.body);
            assert_eq!(a.content_type, "application/json; charset=utf-8", "{at}");
            assert_eq!(a.disposition, None, "{at}");
            let rows: Vec<serde_json::Map<String, Value>> =
                serde_json::from_str(&a.body).expect("JSON objects");
            assert_eq!(rows.len(), count, "{at}: {}", a.body);
            for row in &rows {
                let mut keys: Vec<&str> = row.keys().map(String::as_str).collect();
                let mut expected = fields.to_vec();
                keys.sort_unstable();
                expected.sort_unstable();
                assert_eq!(keys, expected, "{at}");
                assert!(row["id"].is_i64(), "{at}: ids are numbers");
            }
            let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
            assert!(ids.is_sorted(), "{at}: ordered by id: {ids:?}");
            assert!(a.body.starts_with("[\n{\"id\":"), "{at}: {}", a.body);

            let a = fetch(&app, &path(endpoint, &shop, &[("format", "csv")])).await;
            assert_eq!(a.status, 200, "{at}: {}", a.body);
            assert_eq!(a.content_type, "text/csv; charset=utf-8", "{at}");
            let disposition = a.disposition.expect("a CSV is a file");
            assert!(
                disposition.starts_with("attachment; filename=\"")
                    && disposition.ends_with(&format!("-{}.csv\"", shop.shop_id)),
                "{at}: {disposition}"
            );
            let (header, csv) = csv_rows(&a.body, b',');
            assert_eq!(header, fields, "{at}");
            assert_eq!(csv.len(), count, "{at}");

            let a = fetch(&app, &path(endpoint, &shop, &[("format", "html")])).await;
            assert_eq!(a.status, 200, "{at}: {}", a.body);
            assert_eq!(a.content_type, "text/html; charset=utf-8", "{at}");
            assert!(a.body.starts_with("<table"), "{at}: {}", a.body);
            assert!(a.body.trim_end().ends_with("</table>"), "{at}");
            let th: Vec<&str> = a
                .body
                .split("<th scope=\"col\">")
                .skip(1)
                .map(|s| s.split("</th>").next().unwrap())
                .collect();
            assert_eq!(th, fields, "{at}");
            assert_eq!(a.body.matches("<tr>").count(), count + 1, "{at}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_csv_parsed_back_equals_the_json() {
    for (db, app, shop) in seeded().await {
        for &(endpoint, fields, _) in ENDPOINTS {
            let at = format!("{} {endpoint}", db.backend);
            let json = json_rows(&app, endpoint, &shop).await;
            for sep in [",", ";"] {
                let a = fetch(
                    &app,
                    &path(endpoint, &shop, &[("format", "csv"), ("sep", sep)]),
                )
                .await;
                let (header, rows) = csv_rows(&a.body, sep.as_bytes()[0]);
                assert_eq!(header, fields, "{at}");
                let from_json: Vec<Vec<String>> = json
                    .iter()
                    .map(|o| fields.iter().map(|f| as_csv_cell(&o[*f])).collect())
                    .collect();
                assert_eq!(rows, from_json, "{at} sep={sep}");
            }
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn amounts_rates_and_coordinates_keep_their_digits() {
    for (db, app, shop) in seeded().await {
        let at = db.backend;
        let body = fetch(&app, &path("getPlus", &shop, &[])).await.body;
        assert!(
            body.contains("\"price\":14.50,\"vatRate\":10.0,"),
            "{at}: {body}"
        );
        // The item's own rate wins over its department's (5.5).
        assert!(
            body.contains("\"price\":6.50,\"vatRate\":10.0,"),
            "{at}: {body}"
        );
        assert!(
            body.contains("\"active\":true,\"stock\":2.500}"),
            "{at}: {body}"
        );
        assert!(
            body.contains("\"active\":false,\"stock\":-1.000}"),
            "{at}: {body}"
        );
        let body = fetch(&app, &path("getDeclinaisons", &shop, &[])).await.body;
        assert!(body.contains("\"priceChange\":-3.50}"), "{at}: {body}");
        let body = fetch(&app, &path("getDepartments", &shop, &[])).await.body;
        assert!(
            body.contains("\"vatRate\":5.5,\"defaultDiscount\":10.0}"),
            "{at}: {body}"
        );
        let body = fetch(&app, &path("getClients", &shop, &[])).await.body;
        assert!(
            body.contains("\"lat\":48.8462000,\"lng\":2.3447000}"),
            "{at}: {body}"
        );
        let body = fetch(&app, &path("getDiscounts", &shop, &[])).await.body;
        assert!(
            body.contains("\"kind\":\"percent\",\"value\":10.5}"),
            "{at}: {body}"
        );
        assert!(
            body.contains("\"kind\":\"amount\",\"value\":2.50}"),
            "{at}: {body}"
        );
        assert!(
            body.contains("\"kind\":\"fixed_price\",\"value\":12.00}"),
            "{at}: {body}"
        );
        let body = fetch(&app, &path("getCashbox", &shop, &[])).await.body;
        assert!(
            body.contains("\"virtual\":false,\"open\":false,\"fund\":150.00}"),
            "{at}: {body}"
        );
        let body = fetch(&app, &path("getPaymentModes", &shop, &[])).await.body;
        assert!(
            body.contains("\"minAmount\":1.00,\"maxAmount\":50.00,"),
            "{at}: {body}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_client_named_like_a_script_comes_out_escaped_in_html() {
    for (db, app, shop) in seeded().await {
        let body = fetch(&app, &path("getClients", &shop, &[("format", "html")]))
            .await
            .body;
        assert!(!body.contains("<script>"), "{}: {body}", db.backend);
        assert!(
            body.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"),
            "{}: {body}",
            db.backend
        );
        assert!(
            body.contains("<td>=HYPERLINK(&quot;x&quot;)</td>"),
            "{body}"
        );
        // The JSON keeps the name as it is: escaping belongs to the page that shows it.
        let json = json_rows(&app, "getClients", &shop).await;
        assert!(json.iter().any(|c| c["lastName"] == SCRIPT));
        app.stop().await;
    }
}

#[tokio::test]
async fn a_formula_in_a_client_name_is_neutralised_in_csv_while_a_negative_amount_stays_a_number() {
    for (db, app, shop) in seeded().await {
        let at = db.backend;
        let body = fetch(&app, &path("getClients", &shop, &[("format", "csv")]))
            .await
            .body;
        assert!(
            body.contains(",\"'=HYPERLINK(\"\"x\"\")\","),
            "{at}: {body}"
        );
        let (_, rows) = csv_rows(&body, b',');
        assert!(rows.iter().any(|r| r[1] == format!("'{FORMULA}")), "{at}");
        assert!(
            !rows.iter().any(|r| r.iter().any(|c| c.starts_with('='))),
            "{at}"
        );

        let body = fetch(&app, &path("getDeclinaisons", &shop, &[("format", "csv")]))
            .await
            .body;
        assert!(body.contains(",Small,-3.50\r\n"), "{at}: {body}");
        app.stop().await;
    }
}

#[tokio::test]
async fn sep_semicolon_gives_semicolons() {
    for (db, app, shop) in seeded().await {
        let a = fetch(
            &app,
            &path("getPlus", &shop, &[("format", "csv"), ("sep", ";")]),
        )
        .await;
        assert_eq!(a.status, 200);
        let mut lines = a.body.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("id;name;price;vatRate;departmentID;barcode;reference;position;active;stock"),
            "{}",
            db.backend
        );
        // A comma inside a value no longer needs quotes; the quote inside still does.
        assert!(
            a.body.contains(";\"Bordeaux, \"\"2019\"\"\";24.00;"),
            "{}",
            a.body
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn users_never_show_a_password_hash() {
    for (db, app, shop) in seeded().await {
        for format in ["json", "csv", "html"] {
            let body = fetch(&app, &path("getUsers", &shop, &[("format", format)]))
                .await
                .body;
            assert!(!body.contains("argon2"), "{} {format}: {body}", db.backend);
            assert!(!body.to_lowercase().contains("password"), "{body}");
        }
        let users = json_rows(&app, "getUsers", &shop).await;
        assert_eq!(users[0]["login"], shop.admin_login.as_str());
        assert_eq!(users[0]["role"], "admin");
        assert_eq!(users[1]["name"], "Alice");
        assert_eq!(users[1]["role"], "cashier");
        app.stop().await;
    }
}

#[tokio::test]
async fn delivery_methods_are_the_seven_codes_of_the_web_services() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Chez Test", Licence::Extended).await;
    let rows = json_rows(&app, "getLivraisons", &shop).await;
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(rows[0]["name"], "Take away");
    assert_eq!(rows[4]["name"], "Counter sale");
    app.stop().await;
}

#[tokio::test]
async fn an_empty_list_is_an_empty_array_a_header_or_an_empty_table() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Empty", Licence::Extended).await;
        let a = fetch(&app, &path("getTables", &shop, &[])).await;
        assert_eq!((a.status, a.body.as_str()), (200, "[]"), "{}", db.backend);
        let a = fetch(&app, &path("getTables", &shop, &[("format", "csv")])).await;
        assert_eq!(a.body, "id,name,seats\r\n");
        let a = fetch(&app, &path("getTables", &shop, &[("format", "html")])).await;
        assert!(a.body.contains("<tbody>\n</tbody>"), "{}", a.body);
        app.stop().await;
    }
}

#[tokio::test]
async fn another_shops_key_sees_none_of_these_rows() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let a = app.create_shop("Shop A", Licence::Extended).await;
        let b = app.create_shop("Shop B", Licence::Extended).await;
        seed(&app, &a, "of-A").await;
        seed(&app, &b, "of-B").await;
        let a_key_on_b = CreatedShop {
            shop_id: b.shop_id,
            ..a.clone()
        };
        for &(endpoint, _, _) in ENDPOINTS {
            for format in ["json", "csv", "html"] {
                let at = format!("{} {endpoint} {format}", db.backend);
                let res = fetch(&app, &path(endpoint, &a_key_on_b, &[("format", format)])).await;
                assert_eq!(res.status, 401, "{at}");
                let body: Value = serde_json::from_str(&res.body).expect("error JSON");
                assert_eq!(body["error"]["code"], "unauthorized", "{at}");
                assert!(!res.body.contains("of-B"), "{at}");

                let own = fetch(&app, &path(endpoint, &a, &[("format", format)])).await;
                assert_eq!(own.status, 200, "{at}");
                assert!(!own.body.contains("of-B"), "{at}: {}", own.body);
            }
        }
        // Each shop's lists hold only its own rows.
        for &(endpoint, _, _) in ENDPOINTS {
            if endpoint == "getLivraisons" {
                continue;
            }
            let ids = |rows: Vec<Value>| -> Vec<i64> {
                rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
            };
            let a_ids = ids(json_rows(&app, endpoint, &a).await);
            let b_ids = ids(json_rows(&app, endpoint, &b).await);
            assert!(a_ids.iter().all(|id| !b_ids.contains(id)), "{endpoint}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_shop_without_the_extended_licence_gets_403_licence_required() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Standard", Licence::Standard).await;
    for &(endpoint, _, _) in ENDPOINTS {
        let a = fetch(&app, &path(endpoint, &shop, &[])).await;
        assert_eq!(a.status, 403, "{endpoint}");
        let body: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(body["error"]["code"], "licence_required", "{endpoint}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_missing_key_or_shop_is_a_400_missing_parameter() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Chez Test", Licence::Extended).await;
    let a = fetch(
        &app,
        &format!("/workers/getPlus.php?idboutique={}", shop.shop_id),
    )
    .await;
    assert_eq!(a.status, 400);
    let body: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["error"]["code"], "missing_parameter");
    assert_eq!(body["error"]["field"], "key");
    let a = fetch(&app, "/workers/getClients.php?format=csv").await;
    assert_eq!(a.status, 400);
    let body: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["error"]["field"], "idboutique");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_format_or_separator_is_a_400_naming_it() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Chez Test", Licence::Extended).await;
    for (extra, field) in [
        (&[("format", "xml")][..], "format"),
        (&[("format", "csv"), ("sep", "x")][..], "sep"),
    ] {
        let a = fetch(&app, &path("getPlus", &shop, extra)).await;
        assert_eq!(a.status, 400, "{extra:?}");
        let body: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter");
        assert_eq!(body["error"]["field"], field);
    }
    // Case does not matter, and a separator is ignored outside CSV.
    let a = fetch(
        &app,
        &path("getPlus", &shop, &[("format", "HTML"), ("sep", "x")]),
    )
    .await;
    assert_eq!(a.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn post_and_a_bearer_key_answer_like_get() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Chez Test", Licence::Extended).await;
    seed(&app, &shop, "A").await;
    let id = shop.shop_id.to_string();
    let get = fetch(&app, &path("getClients", &shop, &[("format", "csv")])).await;
    assert_eq!(get.status, 200);

    let res = app
        .post_form(
            "/workers/getClients.php",
            &[
                ("idboutique", &id),
                ("key", &shop.api_key),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), get.body);

    let res = app
        .http
        .post(app.url("/workers/getClients.php?format=csv"))
        .bearer_auth(&shop.api_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("shopID={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), get.body);
    app.stop().await;
}

#[tokio::test]
async fn browsers_get_cors_headers_and_a_preflight_answer() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Chez Test", Licence::Extended).await;
    let res = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/workers/getPlus.php"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let res = app
        .http
        .get(app.url(&path("getPlus", &shop, &[("format", "csv")])))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("Content-Disposition")
    );
    app.stop().await;
}

/// More rows than one page of the reader and than one chunk of the body.
const MANY: i64 = 5_000;

async fn seed_many_clients(app: &TestApp, shop: &CreatedShop) {
    let shop_id = shop.shop_id;
    app.store
        .write(move |c| {
            for i in 0..MANY {
                c.execute(
                    "insert into clients (shop_id, last_name, email, created_at)
                     values ($1, $2, $3, 0)",
                    params![shop_id, format!("Client {i}"), format!("c{i}@example.org")],
                )?;
            }
            Ok::<_, StoreError>(())
        })
        .await
        .expect("seed clients");
}

#[tokio::test]
async fn a_long_list_streams_whole_and_in_order_across_pages() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Big", Licence::Extended).await;
        seed_many_clients(&app, &shop).await;
        for format in ["json", "csv", "html"] {
            let res = app
                .get(&path("getClients", &shop, &[("format", format)]))
                .await;
            assert_eq!(res.status(), 200);
            // Streamed: the length is not known up front (small lists get one).
            assert!(res.headers().get("content-length").is_none(), "{format}");
            let body = res.text().await.unwrap();
            let at = format!("{} {format}", db.backend);
            let names: Vec<String> = match format {
                "json" => serde_json::from_str::<Vec<Value>>(&body)
                    .expect("whole JSON")
                    .iter()
                    .map(|c| c["lastName"].as_str().unwrap().to_string())
                    .collect(),
                "csv" => csv_rows(&body, b',')
                    .1
                    .into_iter()
                    .map(|r| r[1].clone())
                    .collect(),
                _ => body
                    .split("<tr><td class=\"num\">")
                    .skip(1)
                    .map(|r| r.split("</td><td>").nth(1).unwrap().to_string())
                    .collect(),
            };
            let expected: Vec<String> = (0..MANY).map(|i| format!("Client {i}")).collect();
            assert_eq!(names, expected, "{at}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_download_leaves_the_server_serving() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Big", Licence::Extended).await;
        seed_many_clients(&app, &shop).await;
        for _ in 0..20 {
            let mut res = app
                .get(&path("getClients", &shop, &[("format", "html")]))
                .await;
            let first = res.chunk().await.unwrap().expect("a first chunk");
            assert!(first.starts_with(b"<table"));
            drop(res);
        }
        // Every reader went back to the pool; the next download is whole.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while app.store.pool_stats().in_use > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(app.store.pool_stats().in_use, 0, "{}", db.backend);
        let rows = json_rows(&app, "getClients", &shop).await;
        assert_eq!(rows.len(), MANY as usize);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_database_error_before_the_first_byte_is_a_plain_500() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Broken", Licence::Extended).await;
        app.store
            .write(|c| c.batch("alter table relay_points rename column name to label"))
            .await
            .expect("break the table");
        let a = fetch(&app, &path("getRelayDeposit", &shop, &[("format", "csv")])).await;
        assert_eq!(a.status, 500, "{}", db.backend);
        assert_eq!(a.content_type, "application/json");
        let body: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(!a.body.contains("relay_points"), "no internals: {}", a.body);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_database_error_mid_download_cuts_the_body_instead_of_ending_it() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Big", Licence::Extended).await;
        let shop_id = shop.shop_id;
        // More bytes than the socket buffers and the channel hold together.
        app.store
            .write(move |c| {
                c.execute(
                    "with recursive n(i) as (select 1 union all select i + 1 from n where i < 40000)
                     insert into clients (shop_id, last_name, address1, created_at)
                     select $1, 'Client ' || i, $2, 0 from n",
                    params![shop_id, "x".repeat(400)],
                )
            })
            .await
            .expect("seed");
        let mut res = app
            .get(&path("getClients", &shop, &[("format", "csv")]))
            .await;
        assert_eq!(res.status(), 200);
        let first = res.chunk().await.unwrap().expect("a first chunk");
        assert!(first.starts_with(b"id,lastName,"));
        app.store
            .write(|c| c.batch("alter table clients rename column last_name to surname"))
            .await
            .expect("break the table");
        let mut read = first.len();
        let end = loop {
            match res.chunk().await {
                Ok(Some(c)) => read += c.len(),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        assert!(
            end.is_err(),
            "{}: the body ended cleanly after {read} bytes",
            db.backend
        );
        assert!(read < 40_000 * 400, "{}", db.backend);
        // The server goes on serving.
        assert_eq!(app.get("/healthz").await.status(), 200);
        app.stop().await;
    }
}
