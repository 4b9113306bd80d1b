//! `getAuthToken.php`: an admin or manager trades a login and password for a new API key
//! of their shop. Failed attempts are limited per login and per client address, in memory.

use super::Params;
use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comptoir_core::model::{Licence, Role};
use comptoir_store::StoreError;
use comptoir_store::auth::{LoginUser, find_user_by_login};
use comptoir_store::shops;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/workers/getAuthToken.php",
        get(get_auth_token).post(get_auth_token),
    )
}

/// How long a failed attempt counts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed attempts allowed per login within the window; the next one gets 429.
pub const MAX_FAILURES_PER_LOGIN: usize = 5;
/// Failed attempts allowed per client address within the window.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// Logins (and addresses) remembered at most; past this the oldest are forgotten first.
const MAX_TRACKED: usize = 100_000;
/// Longest password accepted: argon2 hashes anything, but nobody types more than this.
const MAX_PASSWORD: usize = 1024;

/// Recent failures per key, oldest first.
struct Failures<K> {
    by_key: HashMap<K, VecDeque<Instant>>,
    limit: usize,
}

impl<K: Eq + Hash + Clone> Failures<K> {
    fn new(limit: usize) -> Self {
        Failures {
            by_key: HashMap::new(),
            limit,
        }
    }

    /// Seconds until `key` may try again, or `None` when it may try now.
    fn blocked_for(&mut self, key: &K, now: Instant) -> Option<u64> {
        let q = self.by_key.get_mut(key)?;
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            q.pop_front();
        }
        if q.len() < self.limit {
            if q.is_empty() {
                self.by_key.remove(key);
            }
            return None;
        }
        // The window frees a slot when the failure that keeps the count at the limit ages out.
        let frees_at = q[q.len() - self.limit] + FAILURE_WINDOW;
        let secs = frees_at.saturating_duration_since(now).as_secs_f64().ceil() as u64;
        Some(secs.max(1))
    }

    fn add(&mut self, key: &K, at: Instant) {
        if !self.by_key.contains_key(key) && self.by_key.len() >= MAX_TRACKED {
            self.evict(at);
        }
        self.by_key.entry(key.clone()).or_default().push_back(at);
    }

    /// Forgets expired keys; if none expired, the key whose last failure is the oldest.
    fn evict(&mut self, now: Instant) {
        self.by_key.retain(|_, q| {
            q.back()
                .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
        });
        if self.by_key.len() >= MAX_TRACKED {
            let oldest = self
                .by_key
                .iter()
                .min_by_key(|(_, q)| q.back().copied())
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.by_key.remove(&k);
            }
        }
    }

    fn remove_one(&mut self, key: &K, at: Instant) {
        if let Some(q) = self.by_key.get_mut(key) {
            if let Some(i) = q.iter().position(|t| *t == at) {
                q.remove(i);
            }
            if q.is_empty() {
                self.by_key.remove(key);
            }
        }
    }
}

struct LimiterState {
    logins: Failures<String>,
    addresses: Failures<IpAddr>,
}

/// Failed sign-ins of the last 15 minutes, per login and per client address. In memory:
/// each server process counts its own (several processes behind a balancer each allow
/// as many attempts).
#[derive(Clone)]
pub struct LoginLimiter {
    state: Arc<Mutex<LimiterState>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter {
            state: Arc::new(Mutex::new(LimiterState {
                logins: Failures::new(MAX_FAILURES_PER_LOGIN),
                addresses: Failures::new(MAX_FAILURES_PER_ADDRESS),
            })),
        }
    }
}

/// One attempt in progress. It counts as a failure from the start, so concurrent
/// attempts cannot exceed the limit; a dropped attempt stays a failure.
pub(crate) struct Attempt {
    limiter: LoginLimiter,
    login: String,
    address: Option<IpAddr>,
    at: Instant,
}

impl LoginLimiter {
    /// Starts an attempt, or gives the seconds to wait when the login or address is locked.
    pub(crate) fn begin(&self, login: &str, address: Option<IpAddr>) -> Result<Attempt, u64> {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let login_wait = s.logins.blocked_for(&login.to_string(), now);
        let address_wait = address.and_then(|a| s.addresses.blocked_for(&a, now));
        if let Some(wait) = login_wait.into_iter().chain(address_wait).max() {
            return Err(wait);
        }
        s.logins.add(&login.to_string(), now);
        if let Some(a) = address {
            s.addresses.add(&a, now);
        }
        Ok(Attempt {
            limiter: self.clone(),
            login: login.to_string(),
            address,
            at: now,
        })
    }
}

impl Attempt {
    /// The password was right: the login's failures are forgiven; the address keeps the
    /// failures it made on other logins.
    pub(crate) fn succeeded(self) {
        let mut s = self.limiter.state.lock().unwrap_or_else(|p| p.into_inner());
        s.logins.by_key.remove(&self.login);
        if let Some(a) = self.address {
            s.addresses.remove_one(&a, self.at);
        }
    }

    /// The attempt could not be judged (the database failed): it does not count.
    pub(crate) fn cancel(self) {
        let mut s = self.limiter.state.lock().unwrap_or_else(|p| p.into_inner());
        s.logins.remove_one(&self.login, self.at);
        if let Some(a) = self.address {
            s.addresses.remove_one(&a, self.at);
        }
    }
}

/// The client's address from the socket (never from `X-Forwarded-For`, which anyone can
/// set). IPv6 clients are counted per /64, the block one subscriber usually holds.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| match a.ip() {
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => IpAddr::V4(v4),
                    None => {
                        let mut s = v6.segments();
                        s[4..].fill(0);
                        IpAddr::V6(s.into())
                    }
                },
                v4 => v4,
            });
        Ok(ClientAddress(ip))
    }
}

/// A valid argon2id hash of nothing anyone knows: an unknown login costs one verification,
/// like a known one, so the answer time does not tell whether the login exists.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| shops::hash_password(&shops::random_token(32)));

fn unauthorized() -> AppError {
    AppError::Invalid {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized",
        field: None,
        message: "unknown login or wrong password".into(),
    }
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
    let verified = tokio::task::spawn_blocking(move || check_password(user, &password)).await;
    let user = match verified {
        Ok(Some(u)) => u,
        Ok(None) => {
            tracing::info!(login = %login, "getAuthToken: failed sign-in");
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
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            field: Some("login".into()),
            message: format!(
                "login: a {} cannot get an API key; only an admin or a manager can",
                user.role
            ),
        });
    }
    let shop_id = user.shop_id;
    let label = login.clone();
    let key = state
        .store
        .write(move |c| {
            let shop = shops::get_shop(c, shop_id)?.ok_or(StoreError::NotFound)?;
            if shop.licence != Licence::Extended {
                return Err(AppError::LicenceRequired);
            }
            Ok(shops::create_key(c, shop_id, Some(&label))?)
        })
        .await?;
    tracing::info!(login = %login, shop_id, key_id = key.id, "getAuthToken: key issued");
    let mut res = axum::Json(json!({
        "result": "OK",
        "APIKEY": key.plain,
        "SHOPID": shop_id.to_string(),
    }))
    .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_of_a_login_is_refused_until_the_window_frees() {
        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES_PER_LOGIN {
            limiter.begin("admin@shop-1", None).expect("allowed");
        }
        let wait = limiter.begin("admin@shop-1", None).err().expect("locked");
        assert!((890..=900).contains(&wait), "{wait}");
        assert!(limiter.begin("admin@shop-2", None).is_ok(), "other logins");
    }

    #[test]
    fn an_address_is_limited_across_logins_and_a_success_forgives_the_login() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            limiter
                .begin(&format!("user{i}"), Some(ip))
                .expect("allowed");
        }
        assert!(limiter.begin("someone", Some(ip)).is_err());
        assert!(limiter.begin("someone", None).is_ok(), "other addresses");

        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES_PER_LOGIN - 1 {
            limiter.begin("boss", None).expect("allowed");
        }
        limiter.begin("boss", None).expect("allowed").succeeded();
        for _ in 0..MAX_FAILURES_PER_LOGIN {
            limiter.begin("boss", None).expect("forgiven");
        }
        assert!(limiter.begin("boss", None).is_err());
    }

    #[test]
    fn a_cancelled_attempt_does_not_count() {
        let limiter = LoginLimiter::default();
        for _ in 0..10 {
            limiter.begin("boss", None).expect("allowed").cancel();
        }
        assert!(limiter.begin("boss", None).is_ok());
    }
}
