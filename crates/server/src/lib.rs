//! Comptoir's HTTP server: application state, the router, health and metrics, startup and
//! graceful shutdown. Feature modules each bring their own router.

mod accept;
pub mod client_address;
pub mod closings;
pub mod error;
pub mod invoices;
pub mod metrics;
pub mod pages;
pub mod private_headers;
pub mod refusals;
pub mod telemetry;
pub mod webhooks;
pub mod workers;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use comptoir_store::Store;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// Server settings that do not come from the database.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Public base URL for links handed out; `None` means `http://` + the bound address.
    pub base_url: Option<String>,
    /// Allow webhook URLs on loopback and private networks (tests, local development).
    pub webhook_allow_private: bool,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the client.
    pub trusted_proxies: Vec<client_address::Cidr>,
    /// The first delay of a sign-in on a login that keeps failing (it doubles, capped);
    /// [`workers::login_limiter::DEFAULT_DELAY_STEP`] unless a test wants it short.
    pub login_delay_step: std::time::Duration,
    /// How the webhook worker runs (retry schedule, retention, concurrency).
    pub webhooks: webhooks::Settings,
    /// The automatic closing (off without a key).
    pub closings: closings::Settings,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// The public base URL, resolved after binding.
    pub base_url: Arc<str>,
    pub metrics: metrics::Metrics,
    pub auth_cache: workers::AuthCache,
    pub in_flight: workers::InFlight,
    pub login_limiter: workers::login_limiter::LoginLimiter,
    /// Wakes the webhook worker after a commit that wrote events.
    pub webhooks: webhooks::Webhooks,
}

impl axum::extract::FromRef<AppState> for metrics::Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    addr: SocketAddr,
    state: AppState,
}

impl Application {
    /// Binds the listener first, so the real port is known before serving.
    pub async fn build(config: Config, store: Store) -> std::io::Result<Application> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let base_url: Arc<str> = config
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .into();
        let login_limiter = workers::login_limiter::LoginLimiter::new(config.login_delay_step);
        let state = AppState {
            store,
            config: Arc::new(config),
            base_url,
            metrics: metrics::Metrics::default(),
            auth_cache: workers::AuthCache::default(),
            in_flight: workers::InFlight::default(),
            login_limiter,
            webhooks: webhooks::Webhooks::default(),
        };
        Ok(Application {
            listener,
            router: router(state.clone()),
            addr,
            state,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests, stops the
    /// webhook worker and returns.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Outside the router, so it sees answers as axum finished them (405 with Allow).
        let service = Router::new()
            .fallback_service(self.router)
            .layer(axum::middleware::from_fn(refusals::with_body));
        let worker = webhooks::Worker::start(&self.state);
        let closer = closings::Closer::start(&self.state);
        let served = accept::serve(self.listener, service, shutdown).await;
        closer.stop().await;
        worker.stop().await;
        served
    }
}

/// Every route of the server, with its middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::handler))
        .merge(workers::router())
        .merge(invoices::router())
        .merge(webhooks::router())
        .merge(pages::router(state.clone()))
        .fallback(refusals::not_found)
        .layer(axum::middleware::from_fn(refusals::limits))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::record,
        ))
        .layer(axum::middleware::from_fn(telemetry::trace_requests))
        .with_state(state)
}

/// `GET /healthz`: 200 `{"status":"ok"}` only when the database answers.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable"})),
            )
        }
    }
}

/// Resolves when the process gets SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
