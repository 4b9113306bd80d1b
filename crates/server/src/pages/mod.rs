//! The back office: server-rendered pages (askama templates, auto-escaped), their static
//! files compiled into the binary, sessions, CSRF checks and security headers.
//! Each page family is a module with its own `router()`; reports and webhooks plug in here.

mod account;
mod assets;
mod builder;
mod general;
pub mod i18n;
mod i18n_general;
mod orders;
mod query;
mod reports;
mod samples;
mod session;
mod webservices;

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use comptoir_core::model::Role;
use comptoir_store::sessions::SessionUser;
use i18n::Lang;

pub use session::{SESSION_ABSOLUTE, SESSION_IDLE};

/// Largest form the pages accept.
const MAX_FORM: usize = 64 * 1024;

/// The Content-Security-Policy of every page: no inline script or style, nothing from
/// another origin, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

/// Every page route, behind the session, CSRF and header layer.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(account::router())
        .merge(orders::router())
        .merge(webservices::router())
        .merge(reports::router())
        .merge(general::router())
        .layer(axum::middleware::from_fn_with_state(state, guard))
        .merge(assets::router())
}

/// What every page knows about the request: language, the signed-in user, the token its
/// forms post back, and the path (for the language switch to come back).
#[derive(Clone, Debug)]
pub struct Visit {
    pub lang: Lang,
    pub user: Option<SessionUser>,
    /// The session's CSRF token, or the anonymous one of the `comptoir_csrf` cookie.
    pub csrf: String,
    pub path: String,
}

impl Visit {
    /// The text of `key` in the visit's language (templates call it).
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.role == Role::Admin)
    }

    /// Orders and reports: admins, managers and cashiers.
    pub fn sees_orders(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| matches!(u.role, Role::Admin | Role::Manager | Role::Cashier))
    }

    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }

    pub fn user_name(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.display_name.as_str())
    }

    pub fn other_lang(&self) -> &'static str {
        match self.lang {
            Lang::En => "fr",
            Lang::Fr => "en",
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Visit>()
            .cloned()
            .ok_or_else(|| PageError::Internal("the page guard did not run".into()))
    }
}

/// A signed-in visit; anyone else is sent to the sign-in form.
pub struct Signed(pub Visit, pub SessionUser);

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let visit = Visit::from_request_parts(parts, s)
            .await
            .map_err(IntoResponse::into_response)?;
        match visit.user.clone() {
            Some(u) => Ok(Signed(visit, u)),
            None => Err(Redirect::to("/").into_response()),
        }
    }
}

/// A page that could not be shown.
#[derive(Debug)]
pub enum PageError {
    Forbidden(Lang),
    NotFound(Lang),
    Csrf(Lang),
    /// Logged, never shown.
    Internal(String),
}

impl From<comptoir_store::StoreError> for PageError {
    fn from(e: comptoir_store::StoreError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    v: Visit,
    message: &'static str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, lang, key) = match self {
            PageError::Forbidden(l) => (StatusCode::FORBIDDEN, l, "error.forbidden"),
            PageError::NotFound(l) => (StatusCode::NOT_FOUND, l, "error.not_found"),
            PageError::Csrf(l) => (StatusCode::FORBIDDEN, l, "error.csrf"),
            PageError::Internal(detail) => {
                tracing::error!(%detail, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Lang::En,
                    "error.internal",
                )
            }
        };
        let v = Visit {
            lang,
            user: None,
            csrf: String::new(),
            path: "/".into(),
        };
        let message = lang.t(key);
        match (ErrorPage { v, message }).render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}

/// An HTML answer.
pub struct Html(pub String);

impl IntoResponse for Html {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// Renders a template into an HTML answer.
pub fn render(t: &impl Template) -> Result<Response, PageError> {
    Ok(Html(t.render()?).into_response())
}

/// Admins only.
pub fn require_admin(v: &Visit) -> Result<(), PageError> {
    if v.is_admin() {
        Ok(())
    } else {
        Err(PageError::Forbidden(v.lang))
    }
}

/// Admins, managers and cashiers.
pub fn require_orders(v: &Visit) -> Result<(), PageError> {
    if v.sees_orders() {
        Ok(())
    } else {
        Err(PageError::Forbidden(v.lang))
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure behind https;
/// `max_age` `None` for a cookie that ends with the browser, `Some(0)` to delete.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if state.base_url.starts_with("https://") {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// The layer of every page: finds the session and the language, refuses a POST whose
/// `csrf` field is not the visit's token (403), and adds the security headers.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let mut set_cookies = Vec::new();
    let user = match session::load(&state, &parts.headers).await {
        Ok(session::Loaded::Valid(u)) => Some(u),
        Ok(session::Loaded::None) => None,
        Ok(session::Loaded::Ended) => {
            set_cookies.push(set_cookie(&state, session::COOKIE, "", Some(0)));
            None
        }
        Err(e) => return with_headers(e.into_response()),
    };
    let lang = cookie(&parts.headers, "comptoir_lang")
        .and_then(Lang::parse)
        .unwrap_or_else(|| {
            let accept = parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Lang::from_accept_language(accept)
        });
    // Forms shown before signing in (sign-in, language) carry a token of their own,
    // kept in a cookie and posted back (double submit): a login CSRF is refused too.
    let anonymous = cookie(&parts.headers, ANON_CSRF)
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string);
    let anonymous = anonymous.unwrap_or_else(|| {
        let t = comptoir_store::hex(&comptoir_store::random_bytes::<16>());
        set_cookies.push(set_cookie(&state, ANON_CSRF, &t, None));
        t
    });
    let csrf = user.as_ref().map_or(anonymous, |u| u.csrf.clone());
    let visit = Visit {
        lang,
        user,
        csrf,
        path: parts.uri.path().to_string(),
    };
    let body = if parts.method == Method::POST {
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
            return with_headers((StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response());
        };
        let posted = comptoir_core::form::Form::parse(&bytes)
            .ok()
            .and_then(|f| f.get("csrf").map(str::to_string));
        let ok = posted.is_some_and(|p| {
            comptoir_store::shops::constant_time_eq(p.as_bytes(), visit.csrf.as_bytes())
        });
        if !ok {
            tracing::warn!(path = %visit.path, "page form refused: missing or wrong CSRF token");
            return with_headers(PageError::Csrf(visit.lang).into_response());
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(visit);
    let mut res = next.run(Request::from_parts(parts, body)).await;
    for c in set_cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    with_headers(res)
}

/// The anonymous CSRF cookie.
const ANON_CSRF: &str = "comptoir_csrf";

/// Adds the security headers of every page.
fn with_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    // A page that needs more (the Reports page's frame, the framed report) sets its own.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Pages show private data: never kept by a shared cache or the back button's cache.
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
