//! `getAuthToken.php`: an admin or manager trades a login and password for an API key of
//! their shop, the same one at each sign-in while it is valid. Failed attempts are limited
//! by `login_limiter`.

use super::Params;
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{AppError, AppResult};
use crate::events;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comptoir_core::error::ErrorCode;
use comptoir_core::event::{Event, Journal, Via};
use comptoir_core::model::{Licence, Role};
use comptoir_store::StoreError;
use comptoir_store::auth::{LoginUser, find_user_by_login};
use comptoir_store::sealed_keys::{self, NewSealedKey};
use comptoir_store::shops;
use serde_json::json;
use std::sync::LazyLock;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/workers/getAuthToken.php",
        get(get_auth_token).post(get_auth_token),
    )
}

/// Longest password accepted: argon2 hashes anything, but nobody types more than this.
const MAX_PASSWORD: usize = 1024;

/// A valid argon2id hash of nothing anyone knows: an unknown login costs one verification,
/// like a known one, so the answer time does not tell whether the login exists.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| shops::hash_password(&shops::random_token(32)));

fn unauthorized() -> AppError {
    AppError::coded(ErrorCode::Unauthorized, "unknown login or wrong password")
}

fn required<'a>(form: &'a comptoir_core::form::Form, name: &str) -> AppResult<&'a str> {
    form.get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AppError::MissingParameter { field: name.into() })
}

/// `POST /workers/getAuthToken.php`: `login`, `password` → `{"result":"OK","APIKEY","SHOPID"}`.
async fn get_auth_token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Params(form): Params,
) -> AppResult<Response> {
    let login = required(&form, "login")?.trim().to_ascii_lowercase();
    let password = required(&form, "password")?.to_string();
    if login.len() > 255 {
        return Err(AppError::invalid(
            "login",
            "expected at most 255 characters",
        ));
    }
    if password.chars().count() > MAX_PASSWORD {
        return Err(AppError::invalid(
            "password",
            format!("expected at most {MAX_PASSWORD} characters"),
        ));
    }
    let attempt = state
        .login_limiter
        .begin(&login, address)
        .map_err(AppError::RateLimited)?;
    // A login that keeps failing is slowed for everyone rather than locked for everyone.
    if !attempt.delay.is_zero() {
        tokio::time::sleep(attempt.delay).await;
    }

    let user = {
        let login = login.clone();
        state
            .store
            .read(move |c| find_user_by_login(c, &login))
            .await
    };
    let user = match user {
        Ok(u) => u,
        Err(e) => {
            attempt.cancel();
            return Err(e.into());
        }
    };
    // A failed sign-in goes to the user's shop's events when the login exists.
    let journal = user
        .as_ref()
        .map_or(Journal::Server, |u| Journal::Shop(u.shop_id));
    let verified = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || check_password(user, &password)).await
    };
    let user = match verified {
        Ok(Some(u)) => u,
        Ok(None) => {
            tracing::info!(login = %login, "getAuthToken: failed sign-in");
            let failed = Event::SignInFailed {
                login: events::login_text(&login),
                via: Via::GetAuthToken,
            };
            let origin = events::origin(None, address);
            events::record_or_log(&state, events::now(journal, origin, failed)).await;
            return Err(unauthorized());
        }
        Err(e) => {
            attempt.cancel();
            return Err(AppError::Internal(format!("password check failed: {e}")));
        }
    };
    attempt.succeeded();

    if !matches!(user.role, Role::Admin | Role::Manager) {
        return Err(AppError::Invalid {
            code: ErrorCode::Forbidden,
            field: Some("login".into()),
            message: format!(
                "login: a {} cannot get an API key; only an admin or a manager can",
                user.role
            ),
        });
    }
    let shop_id = user.shop_id;
    let (key_id, plain, reused) = issue_key(&state, &user, &login, password).await?;
    // The key is handed out only once its sign-in is recorded.
    let signed_in = Event::SignIn {
        login: events::login_text(&login),
        via: Via::GetAuthToken,
        key_id: Some(key_id),
    };
    let origin = events::origin(Some(events::login_text(&login)), address);
    events::record(
        &state,
        events::now(Journal::Shop(shop_id), origin, signed_in),
    )
    .await?;
    tracing::info!(login = %login, shop_id, key_id, reused, "getAuthToken: key issued");
    let mut res = axum::Json(json!({
        "result": "OK",
        "APIKEY": plain,
        "SHOPID": shop_id.to_string(),
    }))
    .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The user's current key when `password` still opens it, else a new one sealed with
/// it: (key id, key, reused). Argon2 runs off the writer, before the write.
async fn issue_key(
    state: &AppState,
    user: &LoginUser,
    login: &str,
    password: String,
) -> AppResult<(i64, String, bool)> {
    let (shop_id, user_id) = (user.shop_id, user.user_id);
    let current = state
        .store
        .read(move |c| {
            require_extended(c, shop_id)?;
            Ok::<_, AppError>(sealed_keys::current_sealed_key(c, shop_id, user_id)?)
        })
        .await?;
    let opened = tokio::task::spawn_blocking(move || {
        match current
            .as_ref()
            .and_then(|k| Some((k.id, k.open(&password)?)))
        {
            Some(found) => Ok(found),
            None => Err(NewSealedKey::generate(&password)),
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("key sealing stopped: {e}")))?;
    let new = match opened {
        Ok((id, plain)) => return Ok((id, plain, true)),
        Err(new) => new,
    };
    let login = login.to_string();
    let key = state
        .store
        .write(move |c| {
            require_extended(c, shop_id)?;
            Ok::<_, AppError>(sealed_keys::insert_sealed_key(
                c, shop_id, user_id, &login, &new,
            )?)
        })
        .await?;
    Ok((key.id, key.plain, false))
}

/// 403 `licence_required` unless the shop has the extended licence (checked after the
/// password, so the answer tells nothing to someone who does not know it).
fn require_extended(c: &mut dyn comptoir_store::db::Conn, shop_id: i64) -> AppResult<()> {
    let shop = shops::get_shop(c, shop_id)?.ok_or(StoreError::NotFound)?;
    if shop.licence != Licence::Extended {
        return Err(AppError::LicenceRequired);
    }
    Ok(())
}

/// The user when `password` is theirs. Runs argon2 once whatever happens (against a dummy
/// hash for an unknown login or a user that cannot sign in), for an even answer time.
fn check_password(user: Option<LoginUser>, password: &str) -> Option<LoginUser> {
    match user {
        Some(u) if u.password_hash.starts_with("$argon2") => {
            shops::verify_password(password, &u.password_hash).then_some(u)
        }
        _ => {
            let _ = shops::verify_password(password, &DUMMY_HASH);
            None
        }
    }
}
