//! Signing in and out, the session cookie and its expiry, the language switch, and `/`
//! (the sign-in form, or the dashboard once signed in).

use super::i18n::Lang;
use super::{PageError, Visit, cookie, render, set_cookie};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::events;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use comptoir_core::event::{Event, Journal, Via};
use comptoir_core::money::Money;
use comptoir_store::sessions::{self, SessionUser};
use comptoir_store::{auth, sales, shops};
use serde::Deserialize;
use std::sync::LazyLock;
use std::time::Duration;

/// The session cookie.
pub(super) const COOKIE: &str = "comptoir_session";
/// A session unused for this long has ended.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// A session ends this long after signing in, however busy.
pub const SESSION_ABSOLUTE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Recording each request's time would write at every page; once a minute is enough
/// for an idle timeout counted in hours.
const TOUCH_EVERY: i64 = 60_000_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        // A GET of a form's address (a reload, the language switch) goes home.
        .route("/login", get(|| async { Redirect::to("/") }).post(login))
        .route("/logout", post(logout))
        .route("/lang", post(switch_lang))
}

/// What the cookie of a request gave.
pub(super) enum Loaded {
    None,
    Valid(SessionUser),
    /// The cookie names a session that expired or was revoked: the cookie is cleared.
    Ended,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The session of the request's cookie, if it is still open; records its use.
pub(super) async fn load(state: &AppState, headers: &HeaderMap) -> Result<Loaded, PageError> {
    let Some(value) = cookie(headers, COOKIE).map(str::to_string) else {
        return Ok(Loaded::None);
    };
    let Some(s) = state
        .store
        .read(move |c| sessions::find_session(c, &value))
        .await?
    else {
        return Ok(Loaded::Ended);
    };
    let now = comptoir_store::now_micros();
    let open = s.revoked_at.is_none()
        && now - s.last_seen_at < micros(SESSION_IDLE)
        && now - s.created_at < micros(SESSION_ABSOLUTE);
    if !open {
        return Ok(Loaded::Ended);
    }
    if now - s.last_seen_at > TOUCH_EVERY {
        let (shop, id) = (s.shop_id, s.session_id);
        state
            .store
            .write(move |c| sessions::touch_session(c, shop, id, now))
            .await?;
    }
    Ok(Loaded::Valid(s))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    v: Visit,
    error: Option<&'static str>,
    login: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    v: Visit,
    shop_name: String,
    day: String,
    count: usize,
    total: String,
    pending: usize,
}

async fn home(State(state): State<AppState>, v: Visit) -> Result<Response, PageError> {
    let Some(user) = v.user.clone() else {
        return render(&SignInPage {
            v,
            error: None,
            login: String::new(),
        });
    };
    let shop_id = user.shop_id;
    let shop = state
        .store
        .read(move |c| shops::get_shop(c, shop_id))
        .await?
        .ok_or_else(|| PageError::Internal(format!("shop {shop_id} is gone")))?;
    let zone = super::orders::zone(&shop);
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let (from, to) = super::orders::day_bounds(today, &zone)?;
    let (count, total, pending) = if v.sees_orders() {
        state
            .store
            .read(move |c| {
                let (mut count, mut total, mut pending) = (0usize, Money::ZERO, 0usize);
                let day = |validated| super::orders::day_filter(validated, from, to);
                sales::each_order(c, shop_id, &day(true), &mut |o| {
                    count += 1;
                    total = total.checked_add(o.total).unwrap_or(total);
                    Ok(())
                })?;
                sales::each_order(c, shop_id, &day(false), &mut |_| {
                    pending += 1;
                    Ok(())
                })?;
                Ok::<_, comptoir_store::StoreError>((count, total, pending))
            })
            .await?
    } else {
        (0, Money::ZERO, 0)
    };
    let lang = v.lang;
    render(&Dashboard {
        shop_name: shop.name.as_str().to_string(),
        day: lang.day(today),
        count,
        total: lang.money(total, &shop.currency),
        pending,
        v,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// A hash to verify against when the login is unknown, so that an unknown login takes
/// as long as a wrong password (no oracle by timing).
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| shops::hash_password("not a password of anyone"));

async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    v: Visit,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, PageError> {
    let again = |v: Visit, status: StatusCode, key: &'static str, login: String| {
        let error = Some(v.t(key));
        render(&SignInPage { v, error, login }).map(|r| (status, r).into_response())
    };
    let login = f.login.trim().to_string();
    let attempt = match state
        .login_limiter
        .begin(&login.to_ascii_lowercase(), address)
    {
        Ok(a) => a,
        Err(wait) => {
            let mut r = again(v, StatusCode::TOO_MANY_REQUESTS, "signin.locked", login)?;
            if let Ok(h) = wait.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, h);
            }
            return Ok(r);
        }
    };
    // A login that keeps failing is slowed, as on getAuthToken.php, never locked out.
    if !attempt.delay.is_zero() {
        tokio::time::sleep(attempt.delay).await;
    }
    let l = login.clone();
    let found = match state
        .store
        .read(move |c| auth::find_user_by_login(c, &l))
        .await
    {
        Ok(u) => u,
        Err(e) => {
            attempt.cancel();
            return Err(e.into());
        }
    };
    let password = f.password;
    let (user, ok) = tokio::task::spawn_blocking(move || match found {
        Some(u) => {
            let ok = shops::verify_password(&password, &u.password_hash);
            (Some(u), ok)
        }
        None => {
            shops::verify_password(&password, &DUMMY_HASH);
            (None, false)
        }
    })
    .await
    .map_err(|e| PageError::Internal(format!("password check: {e}")))?;
    // A failed sign-in goes to the user's shop's events when the login exists.
    let journal = user
        .as_ref()
        .map_or(Journal::Server, |u| Journal::Shop(u.shop_id));
    let Some(user) = user.filter(|_| ok) else {
        tracing::info!("back-office sign-in refused");
        let failed = Event::SignInFailed {
            login: events::login_text(&login),
            via: Via::BackOffice,
        };
        let origin = events::origin(None, address);
        events::record_or_log(&state, events::now(journal, origin, failed)).await;
        return again(v, StatusCode::UNAUTHORIZED, "signin.wrong", login);
    };
    attempt.succeeded();
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let login = events::login_text(&login);
    let signed_in = events::now(
        Journal::Shop(user.shop_id),
        events::origin(Some(login.clone()), address),
        Event::SignIn {
            login,
            via: Via::BackOffice,
            key_id: None,
        },
    );
    // The session and its event are written together: no session without its event.
    let s = state
        .store
        .write(move |c| {
            let s = sessions::create_session(c, user.shop_id, user.user_id, agent.as_deref())?;
            comptoir_store::events::append(c, &signed_in)?;
            Ok::<_, comptoir_store::StoreError>(s)
        })
        .await?;
    tracing::info!(session = s.id, "back-office sign-in");
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&state, COOKIE, &s.cookie, None),
        )],
        Redirect::to("/"),
    )
        .into_response())
}

async fn logout(State(state): State<AppState>, v: Visit) -> Result<Response, PageError> {
    if let Some(u) = v.user {
        let (shop, user, id) = (u.shop_id, u.user_id, u.session_id);
        match state
            .store
            .write(move |c| sessions::revoke_session(c, shop, user, id))
            .await
        {
            Ok(()) | Err(comptoir_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((
        [(header::SET_COOKIE, set_cookie(&state, COOKIE, "", Some(0)))],
        Redirect::to("/"),
    )
        .into_response())
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// Stores the chosen language in a cookie for a year and goes back to the page.
async fn switch_lang(State(state): State<AppState>, Form(f): Form<LangForm>) -> Response {
    let lang = Lang::parse(&f.lang).unwrap_or(Lang::En);
    // Only a path of this site: never an open redirect.
    // (Redirect::to panics on a value that is not a valid header: printable ASCII only.)
    let safe = f.back.starts_with('/')
        && !f.back.starts_with("//")
        && f.back.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let back = if safe { f.back } else { "/".to_string() };
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, "comptoir_lang", lang.code(), Some(365 * 24 * 3600)),
        )],
        Redirect::to(&back),
    )
        .into_response()
}
