//! Catalog and data downloads: the `/workers/get*.php` list endpoints.

use crate::AppState;
use axum::Router;

pub(super) fn router() -> Router<AppState> {
    Router::new()
}
