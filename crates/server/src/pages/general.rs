//! Configuration › General options › Interface options (`/config/general`), admins only:
//! the shop's webhook (URL and body format, turning it off), its signing secret (revealed
//! only on a deliberate POST, rotated) and the delivery log with a re-send per event. The
//! rules are core's (`webhook::settings`) and the writes the store's
//! (`store::webhook_settings`, `store::webhooks`), shared with `comptoir webhook`.

use super::{PageError, Signed, Visit, render, require_admin};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use comptoir_core::webhook::address::EXPECTED_URL;
use comptoir_core::webhook::settings::{Target, event_number};
use comptoir_core::webhook::{Format, event_id};
use comptoir_store::webhooks::{self, Attempt, Endpoint, LoggedEvent};
use comptoir_store::{StoreError, now_micros, shops, webhook_settings};
use serde::Deserialize;

/// The page's address.
const PAGE: &str = "/config/general";

/// Events shown in the log, newest first (the CLI's `webhook log` shows 100).
const LOG_LIMIT: i64 = 50;

/// Characters of an answer shown before it folds into a disclosure.
const ANSWER_PREVIEW: usize = 60;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route("/config/general/webhook", get(back).post(save))
        .route("/config/general/webhook/off", get(back).post(off))
        .route("/config/general/secret", get(back).post(reveal))
        .route("/config/general/secret/rotate", get(back).post(rotate))
        .route(
            "/config/general/events/{event}/resend",
            get(back).post(resend),
        )
}

/// A field that could not be saved, and what was expected (in the visit's language).
struct FieldError {
    field: &'static str,
    message: String,
}

/// An event of the log, with what its last attempt gave.
struct EventRow {
    /// `SHOP-N`, as sent in `eventID`.
    id: String,
    event_type: String,
    order_id: i64,
    /// `pending`, `delivered` or `failed` (also the row's class).
    state: String,
    state_text: &'static str,
    attempts: usize,
    /// The last answer's HTTP status, empty when there was none.
    status: String,
    /// Why the last attempt got no answer (timeout, refused address, …).
    error: String,
    latency: String,
    /// When the last attempt ran (or the event happened, before any).
    at: String,
    /// When a waiting event is tried next.
    next: String,
    answer: String,
    /// Every attempt, oldest first: `#1 · time · status or error · latency`.
    history: Vec<String>,
}

impl EventRow {
    /// The answer's first characters, when it is too long to show whole.
    fn answer_preview(&self) -> Option<String> {
        (self.answer.chars().count() > ANSWER_PREVIEW)
            .then(|| self.answer.chars().take(ANSWER_PREVIEW).collect::<String>() + "…")
    }
}

#[derive(Template)]
#[template(path = "general.html")]
struct GeneralPage {
    v: Visit,
    /// The form's values: the saved ones, or the ones just refused.
    url: String,
    format: String,
    /// The URL events go to now; `None` while webhooks are off.
    current: Option<String>,
    /// Whether the shop has a secret (it had a webhook once).
    has_secret: bool,
    /// The secret, only on the answer to "Reveal" or "Rotate".
    secret: Option<String>,
    /// Until when the previous secret still signs, during a rotation window.
    previous_until: Option<String>,
    errors: Vec<FieldError>,
    notice: Option<&'static str>,
    events: Vec<EventRow>,
    failed_only: bool,
}

impl GeneralPage {
    fn error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}

/// What one answer adds to the stored state.
#[derive(Default)]
struct Extra {
    /// The refused form's `(url, format)`, shown back with `errors`.
    form: Option<(String, String)>,
    errors: Vec<FieldError>,
    reveal: bool,
    notice: Option<&'static str>,
    failed_only: bool,
}

async fn show(
    state: &AppState,
    v: Visit,
    shop_id: i64,
    extra: Extra,
) -> Result<Response, PageError> {
    let failed_only = extra.failed_only;
    let (shop, endpoint, events) = state
        .store
        .read(move |c| {
            Ok::<_, StoreError>((
                shops::get_shop(c, shop_id)?,
                webhooks::endpoint(c, shop_id)?,
                webhooks::log(c, shop_id, failed_only, LOG_LIMIT)?,
            ))
        })
        .await?;
    let shop = shop.ok_or_else(|| PageError::Internal(format!("shop {shop_id} is gone")))?;
    let zone = super::orders::zone(&shop);
    let when = |t: i64| v.lang.date_time(t, &zone);
    let events = events
        .iter()
        .map(|e| event_row(&v, shop_id, e, &when))
        .collect();
    let now = now_micros();
    let (url, format) = extra.form.unwrap_or_else(|| match &endpoint {
        Some(e) => (e.url.clone().unwrap_or_default(), e.format.clone()),
        None => (String::new(), Format::default().as_str().to_string()),
    });
    let status = if extra.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = GeneralPage {
        url,
        format,
        current: endpoint.as_ref().and_then(|e| e.url.clone()),
        has_secret: endpoint.is_some(),
        secret: endpoint
            .as_ref()
            .filter(|_| extra.reveal)
            .map(|e| e.secret.clone()),
        previous_until: endpoint
            .as_ref()
            .and_then(|e: &Endpoint| e.previous.as_ref())
            .filter(|(_, until)| *until > now)
            .map(|(_, until)| when(*until)),
        errors: extra.errors,
        notice: extra.notice,
        events,
        failed_only,
        v,
    };
    Ok((status, render(&page)?).into_response())
}

fn event_row(v: &Visit, shop_id: i64, e: &LoggedEvent, when: &impl Fn(i64) -> String) -> EventRow {
    let last = e.attempts.last();
    let state_text = match e.state.as_str() {
        "delivered" => v.t("gen.state_delivered"),
        "failed" => v.t("gen.state_failed"),
        _ => v.t("gen.state_pending"),
    };
    EventRow {
        id: event_id(shop_id, e.id),
        event_type: e.event_type.clone(),
        order_id: e.order_id,
        state: e.state.clone(),
        state_text,
        attempts: e.attempts.len(),
        status: last
            .and_then(|a| a.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        error: last.and_then(|a| a.error.clone()).unwrap_or_default(),
        latency: last.map(latency).unwrap_or_default(),
        at: when(last.map_or(e.created_at, |a| a.at)),
        next: if e.state == "pending" && e.next_at > 0 {
            when(e.next_at)
        } else {
            String::new()
        },
        answer: last.map(|a| a.answer.clone()).unwrap_or_default(),
        history: e
            .attempts
            .iter()
            .map(|a| {
                let outcome = match (a.status, a.error.as_deref()) {
                    (Some(s), _) => s.to_string(),
                    (None, Some(err)) => err.to_string(),
                    (None, None) => "—".to_string(),
                };
                format!(
                    "#{} · {} · {outcome} · {}",
                    a.attempt,
                    when(a.at),
                    latency(a)
                )
            })
            .collect(),
    }
}

/// How long an attempt took, to the millisecond.
fn latency(a: &Attempt) -> String {
    match a.latency_micros / 1000 {
        0 => "< 1 ms".to_string(),
        ms => format!("{ms} ms"),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    done: Option<String>,
    failed: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    require_admin(&v)?;
    // The notice of the action just redirected from (post, redirect, get).
    let notice = match q.done.as_deref() {
        Some("saved") => Some("gen.saved"),
        Some("off") => Some("gen.turned_off"),
        Some("resent") => Some("gen.resent"),
        _ => None,
    };
    let extra = Extra {
        notice,
        failed_only: q.failed.as_deref() == Some("1"),
        ..Extra::default()
    };
    show(&state, v, u.shop_id, extra).await
}

#[derive(Deserialize)]
struct WebhookForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    format: String,
}

/// Saves the URL and format, or shows every bad field and saves nothing.
async fn save(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Form(form): Form<WebhookForm>,
) -> Result<Response, PageError> {
    require_admin(&v)?;
    let format = Format::parse(form.format.trim()).map_err(|_| FieldError {
        field: "format",
        message: v.t("gen.err_format").to_string(),
    });
    let target = Target::check(
        &form.url,
        format.as_ref().copied().unwrap_or_default(),
        state.config.webhook_allow_private,
    )
    .map_err(|m| FieldError {
        field: "url",
        message: url_message(&v, &m),
    });
    let target = match (target, format) {
        (Ok(t), Ok(_)) => t,
        (t, f) => {
            let errors = t.err().into_iter().chain(f.err()).collect();
            let extra = Extra {
                form: Some((form.url, form.format)),
                errors,
                ..Extra::default()
            };
            return show(&state, v, u.shop_id, extra).await;
        }
    };
    let shop_id = u.shop_id;
    state
        .store
        .write(move |c| webhook_settings::enable(c, shop_id, &target, now_micros()))
        .await?;
    Ok(Redirect::to("/config/general?done=saved").into_response())
}

/// Why a URL was refused, in the visit's language: core says what a URL must look like
/// (translated here) or which address it may not reach (its detail names the address).
fn url_message(v: &Visit, core: &str) -> String {
    if core == EXPECTED_URL {
        v.t("gen.err_url").to_string()
    } else {
        format!("{} ({core})", v.t("gen.err_url_refused"))
    }
}

/// Turns webhooks off; the secret is kept. Already off is fine.
async fn off(State(state): State<AppState>, Signed(v, u): Signed) -> Result<Response, PageError> {
    require_admin(&v)?;
    let shop_id = u.shop_id;
    match state
        .store
        .write(move |c| webhooks::disable(c, shop_id, now_micros()))
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => {
            Ok(Redirect::to("/config/general?done=off").into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Shows the secret: on this answer to a POST only, never in a page fetched with GET.
async fn reveal(
    State(state): State<AppState>,
    Signed(v, u): Signed,
) -> Result<Response, PageError> {
    require_admin(&v)?;
    let extra = Extra {
        reveal: true,
        ..Extra::default()
    };
    show(&state, v, u.shop_id, extra).await
}

/// A new secret, shown at once; the previous one signs on for the rotation window.
async fn rotate(
    State(state): State<AppState>,
    Signed(v, u): Signed,
) -> Result<Response, PageError> {
    require_admin(&v)?;
    let shop_id = u.shop_id;
    let notice = match state
        .store
        .write(move |c| webhook_settings::rotate(c, shop_id, now_micros()))
        .await
    {
        Ok(_) => "gen.rotated",
        Err(StoreError::NotFound) => "gen.no_secret",
        Err(e) => return Err(e.into()),
    };
    let extra = Extra {
        reveal: true,
        notice: Some(notice),
        ..Extra::default()
    };
    show(&state, v, u.shop_id, extra).await
}

/// Sends an event again at once, with the whole retry schedule and its first body.
async fn resend(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Path(event): Path<String>,
) -> Result<Response, PageError> {
    require_admin(&v)?;
    let shop_id = u.shop_id;
    let number = event_number(&event, shop_id).map_err(|_| PageError::NotFound(v.lang))?;
    match state
        .store
        .write(move |c| webhooks::resend(c, shop_id, number, now_micros()))
        .await
    {
        Ok(()) => {
            state.webhooks.wake();
            Ok(Redirect::to("/config/general?done=resent").into_response())
        }
        Err(StoreError::NotFound) => Err(PageError::NotFound(v.lang)),
        Err(e) => Err(e.into()),
    }
}

/// A GET of a form's address (a reload, the language switch): the page itself.
async fn back() -> Redirect {
    Redirect::to(PAGE)
}
