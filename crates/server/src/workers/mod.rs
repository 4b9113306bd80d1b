//! The `/workers/*.php` web services: their common rules (parameters from the query string
//! and the body, authentication by shop and key, the extended-licence gate, CORS, limits)
//! and the router that gathers every endpoint.

pub mod auth_token;
mod lists;
pub mod login_limiter;
mod orders_list;
pub(crate) mod reports;
mod sales;
mod stream;
pub use sales::InFlight;

use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use comptoir_core::form::Form;
use comptoir_core::model::{Licence, Shop};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest request body accepted by the web services (spec: 256 KiB).
pub const MAX_BODY: usize = 256 * 1024;

/// Every `/workers` route, with CORS on all of them.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(auth_token::router())
        .merge(lists::router())
        .merge(sales::router())
        .merge(reports::router())
        // The multipart reader's own limit: past it, 413 like the urlencoded path.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(cors))
        .layer(axum::middleware::from_fn(crate::private_headers::no_store))
}

/// The parameters of a web-service call: query string, then the body (which wins).
pub struct Params(pub Form);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let mut form = match req.uri().query() {
            Some(q) => Form::parse(q.as_bytes()).map_err(form_error)?,
            None => Form::default(),
        };
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = axum::extract::Multipart::from_request(req, &())
                .await
                .map_err(|e| {
                    AppError::invalid("body", format!("expected a multipart form ({e})"))
                })?;
            let mut pairs = Vec::new();
            let mut size = 0usize;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| multipart_error(&e))?
            {
                let name = field.name().unwrap_or("").to_string();
                // Raw bytes, not `text()`: that would replace invalid UTF-8 by U+FFFD, and
                // the text rule is the decoder's, the same for both kinds of body.
                let value = field.bytes().await.map_err(|e| multipart_error(&e))?;
                size += name.len() + value.len();
                if size > MAX_BODY {
                    return Err(AppError::PayloadTooLarge(MAX_BODY));
                }
                pairs.push((name, value.to_vec()));
            }
            form.merge(Form::from_pairs(pairs).map_err(form_error)?);
        } else if req.method() == Method::POST {
            let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
                .await
                .map_err(|_| AppError::PayloadTooLarge(MAX_BODY))?;
            form.merge(Form::parse(&body).map_err(form_error)?);
        }
        Ok(Params(form))
    }
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge(MAX_BODY)
    } else {
        AppError::invalid("body", format!("expected a multipart form ({e})"))
    }
}

fn form_error(e: comptoir_core::form::FormError) -> AppError {
    match e.code() {
        "payload_too_large" => AppError::PayloadTooLarge(MAX_BODY),
        _ => AppError::invalid(e.field().unwrap_or("body").to_string(), e.to_string()),
    }
}

/// A shop authenticated by one of its API keys, with the extended licence.
#[derive(Clone, Debug)]
pub struct AuthedShop {
    pub shop: Arc<Shop>,
    pub key_id: i64,
}

/// How long an authentication answer is reused: the CLI's changes (licence, revoked keys)
/// reach a running server within this time (spec: 2 seconds).
const AUTH_TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; the cache is emptied when it grows past this.
const AUTH_CACHE_MAX: usize = 10_000;

type AuthKey = (i64, [u8; 32]);
type AuthEntry = (Instant, Option<AuthedShop>);

/// Recent authentication answers, so a busy integration does not cost two queries a call.
#[derive(Clone, Default)]
pub struct AuthCache {
    entries: Arc<Mutex<HashMap<AuthKey, AuthEntry>>>,
}

impl AuthCache {
    fn get(&self, k: &AuthKey) -> Option<Option<AuthedShop>> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(k)
            .filter(|(at, _)| at.elapsed() < AUTH_TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, k: AuthKey, v: Option<AuthedShop>) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= AUTH_CACHE_MAX {
            map.clear();
        }
        map.insert(k, (Instant::now(), v));
    }
}

/// Checks `idboutique` (or `shopID`) and `key` (or `Authorization: Bearer`), then the
/// licence. An unknown shop and a wrong key give the same 401.
pub async fn authenticate(
    state: &AppState,
    form: &Form,
    headers: &HeaderMap,
) -> AppResult<AuthedShop> {
    let shop_param = form.get("idboutique").or_else(|| form.get("shopID"));
    let Some(shop_text) = shop_param.filter(|s| !s.trim().is_empty()) else {
        return Err(AppError::MissingParameter {
            field: "idboutique".into(),
        });
    };
    let shop_id: i64 = shop_text
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("idboutique", "expected a shop id (a positive integer)"))?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(key) = form.get("key").or(bearer).filter(|k| !k.is_empty()) else {
        return Err(AppError::MissingParameter {
            field: "key".into(),
        });
    };
    let cache_key: AuthKey = (shop_id, Sha256::digest(key.as_bytes()).into());
    let found = match state.auth_cache.get(&cache_key) {
        Some(hit) => hit,
        None => {
            let key = key.to_string();
            let found = state
                .store
                .read(move |c| {
                    let Some(used) = comptoir_store::shops::check_key(c, shop_id, &key)? else {
                        return Ok::<_, comptoir_store::StoreError>(None);
                    };
                    Ok(comptoir_store::shops::get_shop(c, shop_id)?.map(|shop| {
                        let authed = AuthedShop {
                            shop: Arc::new(shop),
                            key_id: used.id,
                        };
                        (authed, used.stale())
                    }))
                })
                .await?;
            let found = found.map(|(authed, stale)| {
                if stale {
                    touch_key(state, shop_id, authed.key_id);
                }
                authed
            });
            state.auth_cache.put(cache_key, found.clone());
            found
        }
    };
    let authed = found.ok_or(AppError::Unauthorized)?;
    if authed.shop.licence != Licence::Extended {
        return Err(AppError::LicenceRequired);
    }
    Ok(authed)
}

/// Records a key's use in the background (at most once a minute per key: `touch_key`
/// skips fresher ones), so `comptoir key list` can say when a key was last used without
/// a write on the request's path.
fn touch_key(state: &AppState, shop_id: i64, key_id: i64) {
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store
            .write(move |c| comptoir_store::shops::touch_key(c, shop_id, key_id))
            .await
        {
            tracing::warn!(error = %e, key_id, "cannot record a key's last use");
        }
    });
}

/// CORS for browser integrations: any origin, no cookies, preflight answered here.
async fn cors(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut res = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "Idempotent-Replayed, Retry-After, Content-Disposition, X-Request-Id",
        ),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type, Authorization, Idempotency-Key, X-Request-Id"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    res
}
