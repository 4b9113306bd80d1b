//! Refusals made below the handlers (unknown route, wrong method, over-long URL, huge
//! headers, axum's own rejections) answer with the same JSON error body as the handlers.

use crate::error::AppError;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use comptoir_core::error::ErrorCode;

/// Longest request target (path and query) accepted, in bytes: Apache's default for a
/// request line; a longer GET should be a POST.
pub const MAX_URI: usize = 8 * 1024;
/// Most header bytes accepted (names, values and their separators).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields accepted (hyper's own default, now answered with the body).
pub const MAX_HEADER_FIELDS: usize = 100;

/// 404 for a path no route serves.
pub async fn not_found() -> AppError {
    AppError::coded(ErrorCode::NotFound, "no endpoint at this address")
}

/// Refuses a URL longer than [`MAX_URI`] (414) or headers larger than
/// [`MAX_HEADER_BYTES`] or [`MAX_HEADER_FIELDS`] (431). A route layer, so the refusal is logged and counted.
pub async fn limits(req: Request, next: Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI {
        return AppError::coded(
            ErrorCode::UriTooLong,
            format!("the URL is longer than {MAX_URI} bytes; send the parameters in a POST body"),
        )
        .into_response();
    }
    let fields = req.headers().len();
    if header_bytes(req.headers()) > MAX_HEADER_BYTES || fields > MAX_HEADER_FIELDS {
        return AppError::coded(
            ErrorCode::HeadersTooLarge,
            format!(
                "the request headers are larger than {MAX_HEADER_BYTES} bytes or {MAX_HEADER_FIELDS} fields"
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Gives every error answer that is not already JSON (axum's 405, its extractor
/// rejections) the documented body, keeping its status and headers. It wraps the whole
/// router from outside: axum adds `Allow` to a 405 only after the route's own layers.
pub async fn with_body(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || has_own_body(res.headers()) {
        return res;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = res
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            AppError::coded(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed here; allowed: {allowed}"),
            )
        }
        StatusCode::NOT_FOUND => {
            AppError::coded(ErrorCode::NotFound, "no endpoint at this address")
        }
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(crate::workers::MAX_BODY),
        s if s.is_server_error() => AppError::Internal(format!("a {s} answer without a body")),
        // axum's extractor rejections (a path that is not UTF-8, ...): the status they
        // were given is kept below, the body says invalid_parameter.
        s => AppError::coded(
            ErrorCode::InvalidParameter,
            s.canonical_reason().unwrap_or("the request was refused"),
        ),
    };
    let (mut parts, _) = res.into_parts();
    let fresh = error.into_response();
    // Keep what the refusal said (Allow, CORS, ...), with the new body's type and length.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (new_parts, body) = fresh.into_parts();
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, body)
}

/// A JSON error body, or a back-office page's HTML one: kept as it is.
fn has_own_body(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"))
}

/// The size of the header block as sent: `name: value\r\n` per field.
fn header_bytes(h: &HeaderMap) -> usize {
    h.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum()
}
