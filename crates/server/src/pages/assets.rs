//! The static files of the pages, compiled into the binary: nothing is fetched from
//! another site (no CDN).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    // jQuery (MIT, its licence header kept in the file and in jquery.LICENSE.txt): for
    // the jQuery sample of the query builder; the pages themselves do not use it.
    (
        "jquery.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/jquery.min.js"),
    ),
    (
        "jquery.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../static/jquery.LICENSE.txt"),
    ),
];

pub(super) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/static/{name}", get(file))
}

async fn file(Path(name): Path<String>) -> Response {
    let Some((_, kind, bytes)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        *bytes,
    )
        .into_response()
}
