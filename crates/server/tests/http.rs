//! The HTTP basics every feature relies on: health, metrics, request ids.

use comptoir_testkit::{TestApp, TestDb};

#[tokio::test]
async fn healthz_answers_ok_when_the_database_answers() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let res = app.get("/healthz").await;
        assert_eq!(res.status(), 200, "{}", db.backend);
        assert_eq!(res.text().await.unwrap(), r#"{"status":"ok"}"#);
        app.stop().await;
    }
}

#[tokio::test]
async fn healthz_answers_503_while_the_database_is_gone() {
    let Some(db) = TestDb::postgres() else { return };
    let app = TestApp::spawn(&db).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    // Cut every connection of this test's schema from the server side, waiting (up to
    // 5 s each) until each has ended: one signalled but not yet gone could still answer.
    let url = comptoir_testkit::postgres_url().unwrap();
    let schema = db.schema().unwrap().to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let killed = c
            .execute(
                "select pg_terminate_backend(pid, 5000) from pg_stat_activity where application_name = $1",
                &[&schema],
            )
            .unwrap();
        assert!(killed > 0, "no connection of the test was found");
    })
    .join()
    .unwrap();
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 503, "a dead connection must not answer ok");
    assert_eq!(res.text().await.unwrap(), r#"{"status":"unavailable"}"#);
    // Broken connections are discarded as they are used: a later probe reconnects. The
    // webhook worker's idle connections died too, so the next probe may meet one of them.
    let mut status = 0;
    for _ in 0..8 {
        status = app.get("/healthz").await.status().as_u16();
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    assert_eq!(app.get("/no/such/page").await.status(), 404);
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains(r#"comptoir_http_requests_total{route="/healthz",status="200"} 3"#),
        "{body}"
    );
    assert!(
        body.contains(r#"comptoir_http_requests_total{route="unmatched",status="404"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(r#"comptoir_http_request_duration_seconds_count{route="/healthz"} 3"#),
        "{body}"
    );
    assert!(
        body.contains("comptoir_db_pool_connections{state=\"in_use\"}"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE comptoir_db_group_commits_total counter")
            && body.contains("comptoir_db_group_committed_writes_total "),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_echoes_the_callers() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let res = app.get("/healthz").await;
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{id}");
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-42");
    app.stop().await;
}
