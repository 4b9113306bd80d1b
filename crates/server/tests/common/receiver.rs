//! A webhook receiver for the page tests: a tiny HTTP server on 127.0.0.1:0 that answers
//! 200 and records each request's `webhook-id` and body.

use axum::extract::State;
use axum::http::HeaderMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One call received.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) webhook_id: String,
    pub(crate) body: String,
}

pub(crate) struct Receiver {
    /// `http://127.0.0.1:PORT/hook`
    pub(crate) url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, calls }
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    /// Waits (at most 15 s) until `n` calls came; returns them.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {n} webhook calls, got {}",
                calls.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn record(
    State(calls): State<Arc<Mutex<Vec<Call>>>>,
    headers: HeaderMap,
    body: String,
) -> &'static str {
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    calls.lock().expect("calls").push(Call { webhook_id, body });
    "ok"
}
