//! `getAuthToken.php`: admins and managers get a working key labelled with their login;
//! cashiers, wrong passwords, unknown logins, repeated failures and standard licences do not.

use comptoir_core::model::{Licence, Role};
use comptoir_store::shops::{self, CreatedShop};
use comptoir_testkit::{TestApp, TestDb};
use reqwest::header::HeaderMap;
use serde_json::Value;

const PATH: &str = "/workers/getAuthToken.php";

/// One answer: status, headers, JSON body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

async fn add_user(app: &TestApp, shop: &CreatedShop, login: &str, role: Role, password: &str) {
    let p = password.to_string();
    let hash = tokio::task::spawn_blocking(move || shops::hash_password(&p))
        .await
        .expect("hash");
    let (shop_id, login) = (shop.shop_id, login.to_string());
    app.store
        .write(move |c| shops::insert_user(c, shop_id, &login, "Someone", role, &hash))
        .await
        .expect("insert user");
}

async fn sign_in(app: &TestApp, login: &str, password: &str) -> Answer {
    let res = app
        .post_form(PATH, &[("login", login), ("password", password)])
        .await;
    Answer {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.json().await.expect("a JSON body"),
    }
}

async fn key_count(app: &TestApp, shop_id: i64) -> usize {
    app.store
        .read(move |c| shops::list_keys(c, shop_id))
        .await
        .expect("list keys")
        .len()
}

#[tokio::test]
async fn an_admin_gets_a_working_key_labelled_with_the_login() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Auth admin", Licence::Extended).await;
        let a = sign_in(&app, &shop.admin_login, &shop.admin_password).await;
        assert_eq!(a.status, 200, "{}: {}", db.backend, a.body);
        assert_eq!(a.body["result"], "OK");
        assert_eq!(a.body["SHOPID"], shop.shop_id.to_string());
        assert_eq!(a.headers["cache-control"], "no-store");
        let key = a.body["APIKEY"].as_str().expect("APIKEY is a string");
        assert!(key.starts_with("cpt_"), "{key}");
        assert_ne!(key, shop.api_key, "a key of the user's own");

        // The key opens the web services: an unknown order is a 404, not a 401.
        let id = shop.shop_id.to_string();
        let res = app
            .post_form(
                "/workers/getOrder.php",
                &[("idboutique", &id), ("key", key), ("order_id", "999999")],
            )
            .await;
        assert_eq!(res.status(), 404, "{}", db.backend);

        let shop_id = shop.shop_id;
        let keys = app
            .store
            .read(move |c| shops::list_keys(c, shop_id))
            .await
            .expect("list keys");
        // cpt_PREFIX_SECRET: the 8 hex digits after `cpt_` are the listed prefix.
        let prefix = &key[4..12];
        let issued = keys
            .iter()
            .find(|k| k.prefix == prefix)
            .expect("the issued key is listed");
        assert_eq!(issued.label.as_deref(), Some(shop.admin_login.as_str()));
        assert!(issued.revoked_at.is_none());

        // Signing in again gives the same key back, and makes none.
        let again = sign_in(&app, &shop.admin_login, &shop.admin_password).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.body["APIKEY"], a.body["APIKEY"]);
        assert_eq!(key_count(&app, shop.shop_id).await, keys.len());
        app.stop().await;
    }
}

#[tokio::test]
async fn a_manager_gets_a_key_and_a_cashier_is_forbidden() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Auth roles", Licence::Extended).await;
        add_user(&app, &shop, "claire@roles", Role::Manager, "manager secret").await;
        add_user(&app, &shop, "hugo@roles", Role::Cashier, "cashier secret").await;

        // Logins are compared as stored: trimmed, lowercase.
        let a = sign_in(&app, " Claire@Roles ", "manager secret").await;
        assert_eq!(a.status, 200, "{}: {}", db.backend, a.body);
        assert_eq!(a.body["SHOPID"], shop.shop_id.to_string());

        let before = key_count(&app, shop.shop_id).await;
        let a = sign_in(&app, "hugo@roles", "cashier secret").await;
        assert_eq!(a.status, 403, "{}: {}", db.backend, a.body);
        assert_eq!(a.body["result"], "KO");
        assert_eq!(a.body["error"]["code"], "forbidden");
        assert_eq!(key_count(&app, shop.shop_id).await, before, "no key");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_login_get_the_same_401() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Auth wrong", Licence::Extended).await;
        let wrong = sign_in(&app, &shop.admin_login, "not the password").await;
        let unknown = sign_in(&app, "nobody@nowhere", "not the password").await;
        assert_eq!(wrong.status, 401, "{}: {}", db.backend, wrong.body);
        assert_eq!(unknown.status, 401);
        assert_eq!(wrong.body, unknown.body, "no oracle");
        assert_eq!(wrong.body["error"]["code"], "unauthorized");
        let text = wrong.body.to_string();
        assert!(!text.contains("not the password"), "{text}");

        let missing = app.post_form(PATH, &[("login", "x@y")]).await;
        assert_eq!(missing.status(), 400);
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["error"]["code"], "missing_parameter");
        assert_eq!(body["error"]["field"], "password");
        app.stop().await;
    }
}

#[tokio::test]
async fn the_sixth_failure_for_one_login_is_rate_limited_with_retry_after() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Auth limit", Licence::Extended).await;
        for i in 1..=5 {
            let a = sign_in(&app, &shop.admin_login, "guess").await;
            assert_eq!(a.status, 401, "{}: failure {i}", db.backend);
        }
        // Locked now, even with the right password.
        let a = sign_in(&app, &shop.admin_login, &shop.admin_password).await;
        assert_eq!(a.status, 429, "{}: {}", db.backend, a.body);
        assert_eq!(a.body["error"]["code"], "rate_limited");
        let retry: u64 = a.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=900).contains(&retry), "{retry}");

        // Unknown logins are limited alike, so a 429 tells nothing about a login.
        for _ in 0..5 {
            assert_eq!(sign_in(&app, "ghost@nowhere", "guess").await.status, 401);
        }
        assert_eq!(sign_in(&app, "ghost@nowhere", "guess").await.status, 429);
        app.stop().await;
    }
}

#[tokio::test]
async fn twenty_failures_from_one_address_lock_every_login_from_it() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let shop = app.create_shop("Auth address", Licence::Extended).await;
    for i in 0..20 {
        let a = sign_in(&app, &format!("user{}@nowhere", i / 4), "guess").await;
        assert_eq!(a.status, 401, "failure {i}");
    }
    let a = sign_in(&app, &shop.admin_login, &shop.admin_password).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.headers.contains_key("retry-after"));
    app.stop().await;
}

#[tokio::test]
async fn a_standard_licence_gets_licence_required_after_the_password() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Auth standard", Licence::Standard).await;
        let before = key_count(&app, shop.shop_id).await;
        let a = sign_in(&app, &shop.admin_login, &shop.admin_password).await;
        assert_eq!(a.status, 403, "{}: {}", db.backend, a.body);
        assert_eq!(a.body["error"]["code"], "licence_required");
        assert_eq!(key_count(&app, shop.shop_id).await, before, "no key");
        // The password is checked first: a wrong one is a 401, not a licence hint.
        let a = sign_in(&app, &shop.admin_login, "wrong").await;
        assert_eq!(a.status, 401);
        app.stop().await;
    }
}
