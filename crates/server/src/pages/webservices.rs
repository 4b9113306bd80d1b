//! Configuration › Webservices (`/config/webservices`), admins only: with the extended
//! licence, the shop id and its API keys (create, shown once; revoke); without it, what
//! the licence unlocks and the command that enables it.

use super::builder::{self, Builder};
use super::{PageError, Signed, Visit, query, render, require_admin};
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
        .route("/config", get(|| async { Redirect::to("/config/general") }))
        .route("/config/webservices", get(page))
        .route("/config/webservices/keys", post(create_key))
        .route("/config/webservices/keys/{id}/revoke", post(revoke_key))
        .route("/config/webservices/build", get(back).post(build))
        .route("/config/webservices/send", get(back).post(send))
}

/// A key as listed.
struct KeyRow {
    id: i64,
    label: String,
    prefix: String,
    created: String,
    /// A login or the CLI command; empty for keys older than this record.
    created_by: String,
    /// Empty when never used.
    last_used: String,
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
    b: Builder,
    delivery: Vec<(&'static str, &'static str)>,
    item_rows: Vec<usize>,
    dept_rows: Vec<usize>,
    free_rows: Vec<usize>,
    client_fields: &'static [&'static str],
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
    builder: Option<Builder>,
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
            created_by: k.created_by.unwrap_or_default(),
            last_used: k
                .last_used_at
                .map(|t| v.lang.date_time(t, &zone))
                .unwrap_or_default(),
            revoked: k.revoked_at.map(|t| v.lang.date_time(t, &zone)),
        })
        .collect();
    let b = match builder {
        Some(b) => b,
        None => {
            // A new key fills the builder's key field, so its samples run as shown.
            let mut pairs = vec![("payment".to_string(), "-1".to_string())];
            pairs.extend(new_key.clone().map(|k| ("key".to_string(), k)));
            let choices = builder::choices(state, &shop).await?;
            let mut b = builder::build(state, &shop, choices, pairs);
            // An empty builder shows no error and no sample until it is filled.
            b.errors.clear();
            b
        }
    };
    render(&WebservicesPage {
        delivery: builder::delivery_names(&v),
        v,
        shop_id,
        keys,
        new_key,
        b,
        item_rows: (1..=query::ITEM_ROWS).collect(),
        dept_rows: (1..=query::DEPT_ROWS).collect(),
        free_rows: (1..=query::FREE_ROWS).collect(),
        client_fields: &query::CLIENT_FIELDS,
    })
}

async fn page(State(state): State<AppState>, Signed(v, u): Signed) -> Result<Response, PageError> {
    show(&state, v, u.shop_id, None, None).await
}

#[derive(Deserialize)]
struct NewKeyForm {
    #[serde(default)]
    label: String,
}

/// The shop, when the user may manage its web services (admin, extended licence).
async fn licensed(state: &AppState, v: &Visit, shop_id: i64) -> Result<Shop, PageError> {
    require_admin(v)?;
    let shop = state
        .store
        .read(move |c| shops::get_shop(c, shop_id))
        .await?;
    shop.filter(|s| s.licence == Licence::Extended)
        .ok_or(PageError::Forbidden(v.lang))
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
    let created_by = u.login.clone();
    let key = state
        .store
        .write(move |c| {
            shops::create_key(
                c,
                shop_id,
                Some(label.as_str()).filter(|l| !l.is_empty()),
                &created_by,
            )
        })
        .await?;
    show(&state, v, shop_id, Some(key.plain), None).await
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

async fn build(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let shop = licensed(&state, &v, u.shop_id).await?;
    let choices = builder::choices(&state, &shop).await?;
    let b = builder::build(&state, &shop, choices, pairs);
    show(&state, v, u.shop_id, None, Some(b)).await
}

/// "Send now": the same checks as the builder, then the sale through webapp.php.
async fn send(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let shop = licensed(&state, &v, u.shop_id).await?;
    let choices = builder::choices(&state, &shop).await?;
    let mut b = builder::build(&state, &shop, choices, pairs);
    if b.errors.is_empty() {
        b.answer = Some(builder::send(&state, &b.params).await?);
    }
    show(&state, v, u.shop_id, None, Some(b)).await
}

/// A GET of a builder form's address (a reload, the language switch): the page itself.
async fn back() -> Redirect {
    Redirect::to("/config/webservices")
}
