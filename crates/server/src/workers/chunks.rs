//! A download's body from the chunks a blocking reader sends through a channel: the first
//! chunk (or error) is awaited before answering, so a failure before any byte is a proper
//! error status; a failure later cuts the body (and is logged).

use crate::error::{AppError, AppResult};
use axum::body::{Body, Bytes};
use comptoir_store::StoreError;
use tokio::sync::mpsc;

/// The body of `rx`'s chunks; `what` names the download in the log.
pub(super) async fn body(
    mut rx: mpsc::Receiver<Result<Bytes, StoreError>>,
    what: &'static str,
) -> AppResult<Body> {
    let first = match rx.recv().await {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(AppError::Internal(format!("the {what} reader stopped"))),
    };
    let rest = futures_util::stream::unfold(rx, move |mut rx| async move {
        let item = rx.recv().await?.map_err(|e| {
            tracing::error!(error = %e, download = what, "download cut");
            std::io::Error::other("the download was cut by a database error")
        });
        Some((item, rx))
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(first))),
        rest,
    );
    Ok(Body::from_stream(stream))
}
