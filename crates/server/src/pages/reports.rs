//! Reports (`/reports`): pick a day, cash box, user and format; download the report or see
//! its HTML inline. Both go through getSales.php's pipeline (`workers::reports`).

use super::{PageError, Signed, Visit, render, require_orders};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::workers::reports::{Disposition, report_response};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comptoir_core::report::{Filters, ReportDay};
use comptoir_render::report::ReportFormat;
use comptoir_store::{StoreError, catalog, shops};
use serde::Deserialize;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(page))
        .route("/reports/download", get(download))
        .route("/reports/view", get(view))
}

/// The page's policy: the pages' own, plus frames from this site (the inline report).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-src 'self'; frame-ancestors 'none'";

/// The inline report's policy: its own inline style sheet and nothing else, no script
/// (sandboxed into an opaque origin), framed only by this site's Reports page.
const VIEW_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox";

/// The formats of the list: (value, label key, `formatExport`, `charset`).
const FORMATS: [(&str, &str, &str, Option<&str>); 8] = [
    ("Std", "reports.f_html", "Std", None),
    ("PDF", "reports.f_pdf", "PDF", None),
    ("CSV", "reports.f_csv", "CSV", None),
    ("XLSX", "reports.f_xlsx", "XLSX", None),
    ("XML", "reports.f_xml", "XML", None),
    ("JSON", "reports.f_json", "JSON", None),
    ("frafec", "reports.f_fec", "frafec", None),
    ("frafec-utf8", "reports.f_fec_utf8", "frafec", Some("utf-8")),
];

/// The query string of the page, the download and the inline view.
#[derive(Debug, Default, Deserialize)]
struct Choice {
    date: Option<String>,
    cashbox: Option<String>,
    user: Option<String>,
    format: Option<String>,
}

/// A choice checked: the day, the filters and the format, or the fields to fix.
struct Checked {
    day: ReportDay,
    filters: Filters,
    format: ReportFormat,
    format_code: &'static str,
}

/// An optional id field: empty is "all", anything else must be a positive integer.
fn opt_id(v: &Option<String>, field: &'static str, errors: &mut Vec<&'static str>) -> Option<i64> {
    let t = v.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
    match t.parse::<i64>() {
        Ok(id) if id > 0 => Some(id),
        _ => {
            errors.push(field);
            None
        }
    }
}

fn check(q: &Choice, tz: &jiff::tz::TimeZone) -> Result<Checked, Vec<&'static str>> {
    let mut errors = Vec::new();
    // No date is yesterday in the shop's zone, as getSales.php without `d`, `m`, `y`.
    let day = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => ReportDay::parse(None, None, None, tz, jiff::Timestamp::now()).ok(),
        Some(d) => d
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| ReportDay::of(d, tz).ok()),
    };
    if day.is_none() {
        errors.push("date");
    }
    let cash_box_id = opt_id(&q.cashbox, "cashbox", &mut errors);
    let user_id = opt_id(&q.user, "user", &mut errors);
    let code = q.format.as_deref().unwrap_or("Std");
    let format = FORMATS.iter().find(|f| f.0 == code).and_then(|f| {
        ReportFormat::parse(Some(f.2), None, f.3)
            .ok()
            .map(|r| (f.0, r))
    });
    if format.is_none() {
        errors.push("format");
    }
    match (day, format) {
        (Some(day), Some((format_code, format))) if errors.is_empty() => Ok(Checked {
            day,
            filters: Filters {
                cash_box_id,
                user_id,
            },
            format,
            format_code,
        }),
        _ => Err(errors),
    }
}

struct Opt {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    v: Visit,
    date: String,
    cash_boxes: Vec<Opt>,
    users: Vec<Opt>,
    formats: Vec<Opt>,
    /// The fields to fix (their names), empty when the choice is good.
    errors: Vec<&'static str>,
    /// The query string of the chosen day, cash box and user (no format).
    inline_query: String,
    download_query: String,
}

impl ReportsPage {
    fn bad(&self, field: &str) -> bool {
        self.errors.contains(&field)
    }
}

fn query_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", comptoir_core::form::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn page(
    State(state): State<AppState>,
    Signed(v, user): Signed,
    Query(q): Query<Choice>,
) -> Result<Response, PageError> {
    require_orders(&v)?;
    let shop = super::orders::shop_of(&state, user.shop_id).await?;
    let checked = check(&q, &shop.timezone.tz());
    let shop_id = shop.id;
    let (cat, shop_users) = state
        .store
        .read(move |c| {
            Ok::<_, StoreError>((catalog::export(c, shop_id)?, shops::list_users(c, shop_id)?))
        })
        .await?;
    let errors = checked.as_ref().err().cloned().unwrap_or_default();
    let (date, cashbox, chosen_user, format) = match &checked {
        Ok(c) => (
            c.day.iso(),
            c.filters.cash_box_id,
            c.filters.user_id,
            c.format_code,
        ),
        Err(_) => (q.date.clone().unwrap_or_default(), None, None, FORMATS[0].0),
    };
    let id = |o: Option<i64>| o.map(|i| i.to_string()).unwrap_or_default();
    let all = |selected: bool| Opt {
        value: String::new(),
        label: v.t("reports.all").to_string(),
        selected,
    };
    let mut cash_boxes = vec![all(cashbox.is_none())];
    cash_boxes.extend(cat.cash_boxes.iter().map(|b| Opt {
        value: b.id.to_string(),
        label: b.name.as_str().to_string(),
        selected: Some(b.id) == cashbox,
    }));
    let mut users = vec![all(chosen_user.is_none())];
    users.extend(shop_users.iter().map(|u| Opt {
        value: u.id.to_string(),
        label: format!("{} ({})", u.display_name.as_str(), u.login.as_str()),
        selected: Some(u.id) == chosen_user,
    }));
    let formats = FORMATS
        .iter()
        .map(|f| Opt {
            value: f.0.to_string(),
            label: v.t(f.1).to_string(),
            selected: f.0 == format,
        })
        .collect();
    let base = [
        ("date", date.clone()),
        ("cashbox", id(cashbox)),
        ("user", id(chosen_user)),
    ];
    let inline_query = query_string(&base);
    let mut with_format = base.to_vec();
    with_format.push(("format", format.to_string()));
    let download_query = query_string(&with_format);
    let page = ReportsPage {
        v,
        date,
        cash_boxes,
        users,
        formats,
        errors,
        inline_query,
        download_query,
    };
    let mut res = render(&page)?;
    if !page.errors.is_empty() {
        *res.status_mut() = StatusCode::BAD_REQUEST;
    }
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    Ok(res)
}

/// The report as a download, through the session (no API key in the page).
async fn download(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Signed(v, user): Signed,
    Query(q): Query<Choice>,
) -> Result<Response, PageError> {
    let origin = crate::events::origin(Some(user.login.clone()), address);
    stream(
        &state,
        &v,
        user.shop_id,
        &q,
        false,
        Disposition::Attachment,
        origin,
    )
    .await
}

/// The HTML report alone, shown in the Reports page's frame.
async fn view(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Signed(v, user): Signed,
    Query(q): Query<Choice>,
) -> Result<Response, PageError> {
    let origin = crate::events::origin(Some(user.login.clone()), address);
    let mut res = stream(
        &state,
        &v,
        user.shop_id,
        &q,
        true,
        Disposition::Inline,
        origin,
    )
    .await?;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(VIEW_CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    Ok(res)
}

async fn stream(
    state: &AppState,
    v: &Visit,
    shop_id: i64,
    q: &Choice,
    html: bool,
    disposition: Disposition,
    origin: comptoir_core::event::Origin,
) -> Result<Response, PageError> {
    require_orders(v)?;
    let shop = super::orders::shop_of(state, shop_id).await?;
    let Ok(mut c) = check(q, &shop.timezone.tz()) else {
        // The page names the fields to fix.
        let back = format!(
            "/reports?{}",
            query_string(&[
                ("date", q.date.clone().unwrap_or_default()),
                ("cashbox", q.cashbox.clone().unwrap_or_default()),
                ("user", q.user.clone().unwrap_or_default()),
                ("format", q.format.clone().unwrap_or_default()),
            ])
        );
        return Ok(axum::response::Redirect::to(&back).into_response());
    };
    if html {
        c.format = ReportFormat::Html;
    }
    // The download and the framed view are both deliveries of the report: each is
    // recorded before anything is sent.
    let via = comptoir_core::event::Via::BackOffice;
    let shown = crate::events::report(shop_id, &c.day, c.format, &c.filters, via, origin);
    crate::events::record(state, shown).await?;
    report_response(
        state,
        std::sync::Arc::new(shop),
        c.format,
        c.day,
        c.filters,
        disposition,
    )
    .await
    .map_err(|e| PageError::Internal(format!("report: {e}")))
}
