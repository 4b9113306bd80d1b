//! Headers that keep private answers out of caches, referrers and search indexes: every
//! `/workers` answer and every invoice.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// `Cache-Control: no-store` on every `/workers` answer. Simplest rule that cannot miss
/// one: orders, clients and users are in most answers, and the order answers hold invoice
/// links that open without a key; the catalog downloads gain nothing from a shared cache.
pub async fn no_store(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// On invoices (and their 404s): never stored, the link (the credential) never sent as
/// a referrer, never indexed if it leaks.
pub async fn invoice(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    res
}
