//! The accept loop, on hyper directly rather than `axum::serve`, for one reason: hyper's
//! HTTP/1 limits are set above Comptoir's own (`refusals`), so a request over a limit is
//! refused by Comptoir with the JSON error body instead of a bare status from hyper.

use crate::refusals::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_URI};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;

/// Header fields hyper parses before refusing by itself: ten times Comptoir's limit.
const HYPER_MAX_HEADERS: usize = 10 * MAX_HEADER_FIELDS;
/// Bytes hyper buffers for a request head: room for the longest URL and headers Comptoir
/// accepts, and far beyond, so that over-long ones reach `refusals::limits`.
const HYPER_MAX_BUF: usize = 8 * (MAX_URI + MAX_HEADER_BYTES);

/// Serves `service` on `listener` until `shutdown` completes, then stops accepting and
/// waits for the connections to finish their requests (graceful shutdown).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    service: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(HYPER_MAX_BUF);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers must not wait for Nagle's algorithm (40 ms stalls on keep-alive).
        let _ = tcp.set_nodelay(true);
        let router = service.clone();
        let per_request = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            TowerToHyperService::new(router.clone()).call(req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(tcp), per_request));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A connection that failed while being accepted concerns only its client; anything else
/// (out of file descriptors) is logged and waited out rather than spun on.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
