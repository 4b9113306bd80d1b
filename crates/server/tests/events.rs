//! The events journal, through the real HTTP interface: back-office and getAuthToken.php
//! sign-ins (and failures), keys made and revoked in the back office, report downloads
//! (getSales.php and the Reports page), server start and stop; each chain verifies.

mod common;

use common::Client;
use comptoir_core::event::Journal;
use comptoir_core::model::Licence;
use comptoir_store::events::{self, EventsVerification};
use comptoir_testkit::{TestApp, TestDb};
use serde_json::Value;

/// The entries of a journal, oldest first.
async fn entries(app: &TestApp, journal: Journal) -> Vec<Value> {
    app.store
        .read(move |c| events::page(c, journal, 0, 1000))
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(&e.entry).unwrap())
        .collect()
}

fn of_kind<'a>(entries: &'a [Value], kind: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["kind"] == kind).collect()
}

async fn assert_intact(app: &TestApp, journal: Journal) -> i64 {
    let v = app
        .store
        .read(move |c| events::verify_snapshot(c, journal))
        .await
        .unwrap();
    match v {
        EventsVerification::Intact { events, .. } => events,
        broken => panic!("{}", broken.message(journal)),
    }
}

#[tokio::test]
async fn back_office_sign_ins_keys_and_report_downloads_are_events_of_the_shop() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Events", Licence::Extended).await;
        let journal = Journal::Shop(shop.shop_id);

        // A wrong password for a known login: the shop's journal; an unknown login: the
        // server's.
        let mut c = Client::new(&app);
        let csrf = c.get("/").await.csrf();
        let wrong = c
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("login", &shop.admin_login),
                    ("password", "not it"),
                ],
            )
            .await;
        assert_eq!(wrong.status, 401);
        let unknown = c
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("login", "nobody@shop-999"),
                    ("password", "x"),
                ],
            )
            .await;
        assert_eq!(unknown.status, 401);
        c.sign_in(&shop.admin_login, &shop.admin_password).await;

        let csrf = c.get("/config/webservices").await.csrf();
        let made = c
            .post(
                "/config/webservices/keys",
                &[("csrf", &csrf), ("label", "till 2")],
            )
            .await;
        assert_eq!(made.status, 200, "{}", made.body);
        let key_id: i64 = app
            .store
            .read(move |c| comptoir_store::shops::list_keys(c, shop.shop_id))
            .await
            .unwrap()
            .iter()
            .find(|k| k.label.as_deref() == Some("till 2"))
            .expect("the new key")
            .id;
        let revoked = c
            .post(
                &format!("/config/webservices/keys/{key_id}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(revoked.status, 303);

        let down = c.get("/reports/download?date=2026-11-02&format=CSV").await;
        assert_eq!(down.status, 200, "{}", down.body);
        let api = app
            .get(&format!(
                "/workers/getSales.php?idboutique={}&key={}&d=3&m=11&y=2026&formatExport=JSON",
                shop.shop_id, shop.api_key
            ))
            .await;
        assert_eq!(api.status(), 200);

        let all = entries(&app, journal).await;
        let kinds: Vec<&str> = all.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "sign_in_failed",
                "sign_in",
                "api_key_created",
                "api_key_revoked",
                "report_downloaded",
                "report_downloaded"
            ],
            "{}",
            db.backend
        );
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e["seq"], i as i64 + 1);
            assert_eq!(e["shop_id"], shop.shop_id);
            assert_eq!(e["encoding"], "comptoir-events-1");
        }
        let failed = &all[0];
        assert_eq!(failed["detail"]["login"], shop.admin_login.as_str());
        assert_eq!(failed["detail"]["via"], "back_office");
        assert_eq!(failed["address"], "127.0.0.1");
        assert!(failed["actor"].is_null(), "{failed}");
        let signed = &all[1];
        assert_eq!(signed["actor"], shop.admin_login.as_str());
        assert_eq!(all[2]["detail"]["key_id"], key_id);
        assert_eq!(all[2]["detail"]["label"], "till 2");
        assert_eq!(all[3]["detail"]["key_id"], key_id);
        assert_eq!(all[4]["detail"]["day"], "2026-11-02");
        assert_eq!(all[4]["detail"]["format"], "csv");
        assert_eq!(all[4]["detail"]["via"], "back_office");
        assert_eq!(all[5]["detail"]["day"], "2026-11-03");
        assert_eq!(all[5]["detail"]["via"], "get_sales");
        assert!(
            all[5]["actor"].as_str().unwrap().starts_with("key "),
            "{}",
            all[5]
        );
        assert_eq!(assert_intact(&app, journal).await, 6);

        let server = entries(&app, Journal::Server).await;
        let unknown = of_kind(&server, "sign_in_failed");
        assert_eq!(unknown.len(), 1, "{server:?}");
        assert_eq!(unknown[0]["detail"]["login"], "nobody@shop-999");
        assert!(unknown[0]["shop_id"].is_null());
        app.stop().await;
    }
}

#[tokio::test]
async fn get_auth_token_sign_ins_and_failures_are_events() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Tokens", Licence::Extended).await;
        let path = "/workers/getAuthToken.php";
        let bad = app
            .post_form(path, &[("login", &shop.admin_login), ("password", "nope")])
            .await;
        assert_eq!(bad.status(), 401);
        let good = app
            .post_form(
                path,
                &[
                    ("login", &shop.admin_login),
                    ("password", &shop.admin_password),
                ],
            )
            .await;
        assert_eq!(good.status(), 200);
        let all = entries(&app, Journal::Shop(shop.shop_id)).await;
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0]["kind"], "sign_in_failed");
        assert_eq!(all[0]["detail"]["via"], "get_auth_token");
        assert_eq!(all[1]["kind"], "sign_in");
        assert_eq!(all[1]["detail"]["via"], "get_auth_token");
        assert!(all[1]["detail"]["key_id"].as_i64().is_some(), "{}", all[1]);
        assert_intact(&app, Journal::Shop(shop.shop_id)).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn the_server_journal_records_each_start_and_stop() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        // The start is written before the first request is accepted.
        assert_eq!(app.get("/healthz").await.status(), 200);
        app.stop().await;
        let again = TestApp::spawn(&db).await;
        assert_eq!(again.get("/healthz").await.status(), 200);
        let all = entries(&again, Journal::Server).await;
        let kinds: Vec<&str> = all.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["server_start", "server_stop", "server_start"],
            "{}",
            db.backend
        );
        assert!(
            all[0]["detail"]["listen"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
        assert_eq!(assert_intact(&again, Journal::Server).await, 3);
        again.stop().await;
    }
}

#[tokio::test]
async fn webhook_settings_changed_in_the_back_office_are_events() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Config", Licence::Extended).await;
        let mut c = Client::new(&app);
        c.sign_in(&shop.admin_login, &shop.admin_password).await;
        let csrf = c.get("/config/general").await.csrf();
        let saved = c
            .post(
                "/config/general/webhook",
                &[
                    ("csrf", &csrf),
                    ("url", "https://hooks.example.com/in"),
                    ("format", "json"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        // A refused URL saves nothing, so records nothing.
        let refused = c
            .post(
                "/config/general/webhook",
                &[("csrf", &csrf), ("url", "ftp://x"), ("format", "json")],
            )
            .await;
        assert_eq!(refused.status, 400);
        let rotated = c
            .post("/config/general/secret/rotate", &[("csrf", &csrf)])
            .await;
        assert_eq!(rotated.status, 200);
        let off = c
            .post("/config/general/webhook/off", &[("csrf", &csrf)])
            .await;
        assert_eq!(off.status, 303);

        let all = entries(&app, Journal::Shop(shop.shop_id)).await;
        let changes: Vec<&Value> = of_kind(&all, "config_changed");
        assert_eq!(changes.len(), 3, "{}: {all:?}", db.backend);
        let settings = |i: usize| &changes[i]["detail"]["settings"];
        assert_eq!(settings(0)["webhook.url"], "https://hooks.example.com/in");
        assert_eq!(settings(0)["webhook.format"], "json");
        assert_eq!(settings(1)["webhook.secret"], "changed");
        assert!(settings(2)["webhook.url"].is_null(), "{}", changes[2]);
        for e in &changes {
            assert_eq!(e["detail"]["via"], "back_office");
            assert_eq!(e["actor"], shop.admin_login.as_str());
            assert_eq!(e["address"], "127.0.0.1");
        }
        assert_intact(&app, Journal::Shop(shop.shop_id)).await;
        app.stop().await;
    }
}
