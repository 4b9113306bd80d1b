//! Hardening of the web services, each through HTTP on a real server and on every backend:
//! error bodies that integrations can print, refusals below the handlers, headers that
//! keep order data out of caches, multipart text, sign-in lockouts and reused keys.

use comptoir_core::model::Licence;
use comptoir_testkit::{TestApp, TestDb};
use serde_json::{Value, json};

/// Status and JSON body of an answer (the body must be JSON).
async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: not a JSON body ({e}): {text:?}"));
    (status, body)
}

/// Checks the documented error body: `result`, `errorMessage` equal to `error.message`,
/// and `error.code`.
fn assert_ko(what: &str, status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{what}: {body}");
    assert_eq!(body["result"], "KO", "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no message: {body}");
    assert_eq!(body["errorMessage"], message, "{what}: {body}");
}

// ---- 9. errorMessage ---------------------------------------------------------------------

#[tokio::test]
async fn every_ko_answer_carries_a_top_level_error_message() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Errors", Licence::Extended).await;
        let id = shop.shop_id.to_string();
        let key = shop.api_key.as_str();

        let (s, b) = answer(
            app.post_form("/workers/getOrder.php", &[("idboutique", &id)])
                .await,
        )
        .await;
        assert_eq!(
            (s, &b),
            (
                400,
                &json!({"result": "KO", "errorMessage": "key: is required",
                    "error": {"code": "missing_parameter", "message": "key: is required", "field": "key"}})
            ),
            "{}",
            db.backend
        );
        let (s, b) = answer(
            app.post_form(
                "/workers/getOrder.php",
                &[("idboutique", &id), ("key", "cpt_00000000_x")],
            )
            .await,
        )
        .await;
        assert_ko("wrong key", s, &b, 401, "unauthorized");
        let (s, b) = answer(
            app.post_form(
                "/workers/getOrder.php",
                &[("idboutique", &id), ("key", key), ("order_id", "999999")],
            )
            .await,
        )
        .await;
        assert_ko("unknown order", s, &b, 404, "not_found");
        let (s, b) = answer(
            app.post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &id),
                    ("key", key),
                    ("payment", "-1"),
                    ("itemsList[]", "999999"),
                ],
            )
            .await,
        )
        .await;
        assert_ko("unknown item", s, &b, 422, "unknown_item");
        assert_eq!(b["error"]["field"], "itemsList[0]");
        // The text keeps the spec's key order, where a hand-written parser may look.
        let res = app
            .post_form("/workers/getOrder.php", &[("idboutique", &id)])
            .await;
        let text = res.text().await.unwrap();
        assert!(
            text.starts_with(r#"{"result":"KO","errorMessage":"key: is required","error":{"#),
            "{text}"
        );
        app.stop().await;
    }
}
