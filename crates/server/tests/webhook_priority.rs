//! Delivery runs below the sales: the worker's threads (its runtime's and the blocking
//! threads its store reads use) run at the configured nice value, the server's others at
//! the process's. A test binary of its own, so that no other test's server (at the
//! default) has threads of the same name in the process. Linux only (nice per thread).
#![cfg(target_os = "linux")]

use axum::http::StatusCode;
use comptoir_core::model::Licence;
use comptoir_core::webhook::signature::Secret;
use comptoir_server::webhooks::priority;
use comptoir_store::webhooks;
use comptoir_testkit::{TestApp, TestDb, import_demo, item_and_payment_method};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Every thread of this process: its name and nice value, from /proc.
fn threads() -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // `pid (comm) state ppid …`: the name may hold spaces, so split after its `)`;
        // the nice value is the 19th field, the 17th after the name.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let nice = stat[close + 1..]
            .split_whitespace()
            .nth(16)
            .and_then(|n| n.parse().ok())
            .unwrap();
        out.push((name, nice));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_threads_run_at_the_configured_nice_value_and_the_sales_do_not() {
    let base = priority::current();
    for db in TestDb::all() {
        let app = TestApp::spawn_with(&db, |c| {
            c.webhooks.nice = 3;
        })
        .await;
        // A receiver counting calls.
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let rx = axum::Router::new().fallback(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, rx).await });

        let shop = app.create_shop("Niced", Licence::Extended).await;
        import_demo(&app.store, shop.shop_id).await;
        let (item, method) = item_and_payment_method(&app.store, shop.shop_id).await;
        let (id, text) = (
            shop.shop_id,
            Secret::from_bytes([7; comptoir_core::webhook::signature::SECRET_BYTES]).to_text(),
        );
        app.store
            .write(move |c| {
                webhooks::set_endpoint(c, id, &url, "form", &text, comptoir_store::now_micros())
            })
            .await
            .unwrap();
        let (sid, item, method) = (id.to_string(), item.to_string(), method.to_string());
        let res = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", sid.as_str()),
                    ("key", shop.api_key.as_str()),
                    ("itemsList[]", item.as_str()),
                    ("payment", method.as_str()),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        while calls.load(Ordering::SeqCst) < 2 {
            assert!(
                Instant::now() < deadline,
                "{}: events not delivered",
                db.backend
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The events went out through the worker's threads: they (and the blocking
        // threads its reads ran on) are 3 below the process; nothing else is.
        let all = threads();
        let (delivery, others): (Vec<_>, Vec<_>) = all
            .iter()
            .partition(|(name, _)| name.as_str() == priority::THREAD_NAME);
        assert!(
            delivery.len() >= 2,
            "{}: a worker and a blocking thread at least: {all:?}",
            db.backend
        );
        for (name, nice) in &delivery {
            assert_eq!(*nice, (base + 3).min(19), "{}: {name}", db.backend);
        }
        for (name, nice) in &others {
            assert_eq!(
                *nice, base,
                "{}: {name} runs at the process's priority",
                db.backend
            );
        }
        app.stop().await;
    }
}
