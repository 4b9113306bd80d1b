//! `/account`: the language and the user's open sessions, each revocable.

use super::session::{SESSION_ABSOLUTE, SESSION_IDLE};
use super::{PageError, Signed, Visit, render};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use comptoir_store::{StoreError, sessions, shops};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(page))
        .route("/account/sessions/{id}/revoke", post(revoke))
}

/// One open session as shown.
struct Row {
    id: i64,
    device: String,
    started: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    v: Visit,
    login: String,
    rows: Vec<Row>,
}

async fn page(State(state): State<AppState>, Signed(v, u): Signed) -> Result<Response, PageError> {
    let (shop_id, user_id) = (u.shop_id, u.user_id);
    let now = comptoir_store::now_micros();
    let ago = |d: std::time::Duration| now - i64::try_from(d.as_micros()).unwrap_or(now);
    let (seen, created) = (ago(SESSION_IDLE), ago(SESSION_ABSOLUTE));
    let (shop, list) = state
        .store
        .read(move |c| {
            let shop = shops::get_shop(c, shop_id)?;
            let list = sessions::list_sessions(c, shop_id, user_id, seen, created)?;
            Ok::<_, StoreError>((shop, list))
        })
        .await?;
    let zone = shop
        .as_ref()
        .map_or(jiff::tz::TimeZone::UTC, super::orders::zone);
    let rows = list
        .into_iter()
        .map(|s| Row {
            id: s.id,
            device: s.user_agent.unwrap_or_default(),
            started: v.lang.date_time(s.created_at, &zone),
            last_seen: v.lang.date_time(s.last_seen_at, &zone),
            current: s.id == u.session_id,
        })
        .collect();
    render(&AccountPage {
        login: u.login.clone(),
        rows,
        v,
    })
}

async fn revoke(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (shop, user) = (u.shop_id, u.user_id);
    match state
        .store
        .write(move |c| sessions::revoke_session(c, shop, user, id))
        .await
    {
        Ok(()) => Ok(axum::response::IntoResponse::into_response(Redirect::to(
            "/account",
        ))),
        Err(StoreError::NotFound) => Err(PageError::NotFound(v.lang)),
        Err(e) => Err(e.into()),
    }
}
