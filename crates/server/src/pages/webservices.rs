//! Configuration › Webservices (`/config/webservices`), admins only: with the extended
//! licence, the shop id and its API keys (create, shown once; revoke); without it, what
//! the licence unlocks and the command that enables it.

use super::{PageError, Signed, Visit, render, require_admin};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use comptoir_core::model::{Licence, Shop};
use comptoir_store::{StoreError, shops};
use serde::Deserialize;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/config",
            get(|| async { Redirect::to("/config/webservices") }),
        )
        .route("/config/webservices", get(page))
        .route("/config/webservices/keys", post(create_key))
        .route("/config/webservices/keys/{id}/revoke", post(revoke_key))
}

/// A key as listed.
struct KeyRow {
    id: i64,
    label: String,
    prefix: String,
    created: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "webservices.html")]
struct WebservicesPage {
    v: Visit,
    shop_id: i64,
    keys: Vec<KeyRow>,
    /// A key just created: shown on this answer only.
    new_key: Option<String>,
}

#[derive(Template)]
#[template(path = "licence_gate.html")]
struct LicenceGate {
    v: Visit,
    shop_id: i64,
}

/// The page, or the licence gate.
async fn show(
    state: &AppState,
    v: Visit,
    shop_id: i64,
    new_key: Option<String>,
) -> Result<Response, PageError> {
    require_admin(&v)?;
    let (shop, keys) = state
        .store
        .read(move |c| {
            let shop = shops::get_shop(c, shop_id)?;
            Ok::<_, StoreError>((shop, shops::list_keys(c, shop_id)?))
        })
        .await?;
    let shop: Shop = shop.ok_or_else(|| PageError::Internal(format!("shop {shop_id} is gone")))?;
    if shop.licence != Licence::Extended {
        return render(&LicenceGate { v, shop_id });
    }
    let zone = super::orders::zone(&shop);
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            label: k.label.unwrap_or_default(),
            prefix: format!("cpt_{}_…", k.prefix),
            created: v.lang.date_time(k.created_at, &zone),
            revoked: k.revoked_at.map(|t| v.lang.date_time(t, &zone)),
        })
        .collect();
    render(&WebservicesPage {
        v,
        shop_id,
        keys,
        new_key,
    })
}

async fn page(State(state): State<AppState>, Signed(v, u): Signed) -> Result<Response, PageError> {
    show(&state, v, u.shop_id, None).await
}

#[derive(Deserialize)]
struct NewKeyForm {
    #[serde(default)]
    label: String,
}

async fn licensed(state: &AppState, v: &Visit, shop_id: i64) -> Result<(), PageError> {
    require_admin(v)?;
    let shop = state
        .store
        .read(move |c| shops::get_shop(c, shop_id))
        .await?;
    if shop.is_some_and(|s| s.licence == Licence::Extended) {
        Ok(())
    } else {
        Err(PageError::Forbidden(v.lang))
    }
}

async fn create_key(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Form(f): Form<NewKeyForm>,
) -> Result<Response, PageError> {
    licensed(&state, &v, u.shop_id).await?;
    let shop_id = u.shop_id;
    // A label is a note for people: trimmed, at most 255 characters, none is fine.
    let label: String = f.label.trim().chars().take(255).collect();
    let key = state
        .store
        .write(move |c| {
            shops::create_key(c, shop_id, Some(label.as_str()).filter(|l| !l.is_empty()))
        })
        .await?;
    show(&state, v, shop_id, Some(key.plain)).await
}

async fn revoke_key(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    licensed(&state, &v, u.shop_id).await?;
    let shop_id = u.shop_id;
    match state
        .store
        .write(move |c| shops::revoke_key(c, shop_id, id))
        .await
    {
        Ok(()) => Ok(Redirect::to("/config/webservices").into_response()),
        Err(StoreError::NotFound) => Err(PageError::NotFound(v.lang)),
        Err(e) => Err(e.into()),
    }
}
