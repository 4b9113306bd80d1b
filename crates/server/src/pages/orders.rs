//! Orders (`/orders`, `/orders/ID`): the day's validated and pending orders in the shop's
//! time zone, with date navigation and a search (an order number, a client id, or words of
//! a client's name); one order's lines, payments and seal.

use super::i18n::Lang;
use super::{PageError, Signed, Visit, render, require_orders};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use comptoir_core::model::{Client, Shop};
use comptoir_core::order::OrderView;
use comptoir_store::{StoreError, catalog, sales, shops};
use serde::Deserialize;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(detail))
}

/// The shop's time zone (UTC if the stored name is unknown to this system).
pub(super) fn zone(shop: &Shop) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(shop.timezone.as_str()).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// `[start, next start)` of `day` in `zone`, in microseconds.
pub(super) fn day_bounds(
    day: jiff::civil::Date,
    zone: &jiff::tz::TimeZone,
) -> Result<(i64, i64), PageError> {
    let bad = |e: jiff::Error| PageError::Internal(format!("day bounds: {e}"));
    let start = day.to_zoned(zone.clone()).map_err(bad)?;
    let next = day
        .tomorrow()
        .map_err(bad)?
        .to_zoned(zone.clone())
        .map_err(bad)?;
    Ok((
        start.timestamp().as_microsecond(),
        next.timestamp().as_microsecond(),
    ))
}

/// The validated (or pending) orders of `[from, to)`, whatever their cash box or user.
pub(super) fn day_filter(validated: bool, from: i64, to: i64) -> sales::OrderFilter {
    sales::OrderFilter {
        validated,
        from: Some(from),
        to: Some(to),
        delivery_method: None,
        cash_box_id: None,
        user_id: None,
    }
}

pub(super) async fn shop_of(state: &AppState, shop_id: i64) -> Result<Shop, PageError> {
    state
        .store
        .read(move |c| shops::get_shop(c, shop_id))
        .await?
        .ok_or_else(|| PageError::Internal(format!("shop {shop_id} is gone")))
}

/// An order as listed.
struct OrderRow {
    id: i64,
    number: String,
    time: String,
    client: String,
    status: &'static str,
    total: String,
}

/// An order's client as shown: `Lefèvre Anne (#5)`, or `#5` when it has no name.
fn client_label(id: Option<i64>, client: Option<&Client>) -> String {
    let name = client.map(Client::display_name).unwrap_or_default();
    match id {
        Some(id) if !name.is_empty() => format!("{name} (#{id})"),
        Some(id) => format!("#{id}"),
        None => String::new(),
    }
}

/// The clients of the day's orders, by id, each read once.
type Clients = HashMap<i64, Option<Client>>;

fn row(
    o: &OrderView,
    lang: Lang,
    shop: &Shop,
    zone: &jiff::tz::TimeZone,
    clients: &Clients,
) -> OrderRow {
    let client = o
        .client_id
        .and_then(|id| clients.get(&id))
        .and_then(Option::as_ref);
    OrderRow {
        id: o.id,
        number: o.number.map(|n| n.to_string()).unwrap_or_default(),
        time: lang.time(o.value_date, zone),
        client: client_label(o.client_id, client),
        status: lang.t(status_key(o)),
        total: lang.money(o.total, &shop.currency),
    }
}

fn status_key(o: &OrderView) -> &'static str {
    match o.status.as_str() {
        "pending" => "status.pending",
        "validated" => "status.validated",
        _ => "status.terminated",
    }
}

#[derive(Deserialize)]
struct ListQuery {
    date: Option<String>,
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    v: Visit,
    day: String,
    date: String,
    prev: String,
    next: String,
    q: String,
    validated: Vec<OrderRow>,
    pending: Vec<OrderRow>,
}

async fn list(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    require_orders(&v)?;
    let shop = shop_of(&state, u.shop_id).await?;
    let zone = zone(&shop);
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    // An unreadable date shows today rather than an error: the field says which day it is.
    let day = query
        .date
        .as_deref()
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
        .unwrap_or(today);
    let (from, to) = day_bounds(day, &zone)?;
    let q = query.q.unwrap_or_default().trim().to_string();
    // A number matches an order number or a client id; words, the client's name.
    let wanted: Option<i64> = q.trim_start_matches('#').parse().ok();
    let shop_id = u.shop_id;
    let ((validated, pending), clients) = state
        .store
        .read(move |c| {
            let mut out = (Vec::new(), Vec::new());
            for validated in [true, false] {
                sales::each_order(c, shop_id, &day_filter(validated, from, to), &mut |o| {
                    if validated { &mut out.0 } else { &mut out.1 }.push(o);
                    Ok(())
                })?;
            }
            let mut clients = Clients::new();
            for id in out.0.iter().chain(&out.1).filter_map(|o| o.client_id) {
                if let Entry::Vacant(slot) = clients.entry(id) {
                    slot.insert(catalog::get_client(c, shop_id, id)?);
                }
            }
            Ok::<_, StoreError>((out, clients))
        })
        .await?;
    let hit = |o: &OrderView| match wanted {
        _ if q.is_empty() => true,
        Some(w) => o.number == Some(w) || o.client_id == Some(w),
        None => o
            .client_id
            .and_then(|id| clients.get(&id))
            .and_then(Option::as_ref)
            .is_some_and(|k| k.matches(&q)),
    };
    let lang = v.lang;
    let rows = |list: Vec<OrderView>| -> Vec<OrderRow> {
        list.iter()
            .rev()
            .filter(|o| hit(o))
            .map(|o| row(o, lang, &shop, &zone, &clients))
            .collect()
    };
    let around =
        |d: Result<jiff::civil::Date, jiff::Error>| d.map(|d| d.to_string()).unwrap_or_default();
    let (validated, pending) = (rows(validated), rows(pending));
    render(&OrdersPage {
        day: lang.day(day),
        date: day.to_string(),
        prev: around(day.yesterday()),
        next: around(day.tomorrow()),
        q,
        validated,
        pending,
        v,
    })
}

/// A line as shown.
struct LineRow {
    title: String,
    quantity: String,
    unit: String,
    vat: String,
    total: String,
}

/// A payment as shown.
struct PaymentRow {
    method: String,
    amount: String,
    at: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    v: Visit,
    title: String,
    status: &'static str,
    created: String,
    value_date: String,
    client: String,
    comment: String,
    lines: Vec<LineRow>,
    payments: Vec<PaymentRow>,
    total: String,
    vat: String,
    paid: String,
    seal: String,
    invoice: String,
}

async fn detail(
    State(state): State<AppState>,
    Signed(v, u): Signed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    require_orders(&v)?;
    let shop = shop_of(&state, u.shop_id).await?;
    let shop_id = u.shop_id;
    let Some((o, client)) = state
        .store
        .read(move |c| {
            let Some(o) = sales::get_order(c, shop_id, id)? else {
                return Ok(None);
            };
            let client = match o.client_id {
                Some(k) => catalog::get_client(c, shop_id, k)?,
                None => None,
            };
            Ok::<_, StoreError>(Some((o, client)))
        })
        .await?
    else {
        return Err(PageError::NotFound(v.lang));
    };
    let (lang, zone, cur) = (v.lang, zone(&shop), &shop.currency);
    let title = match o.number {
        Some(n) => format!("{} {n}", lang.t("order.title")),
        None => format!("{} ({})", lang.t("order.title"), lang.t("status.pending")),
    };
    render(&OrderPage {
        title,
        status: lang.t(status_key(&o)),
        created: lang.date_time(o.created_at, &zone),
        value_date: lang.date_time(o.value_date, &zone),
        client: client_label(o.client_id, client.as_ref()),
        comment: o.public_comment.clone(),
        lines: o
            .lines
            .iter()
            .map(|l| LineRow {
                title: l.title.clone(),
                quantity: l.quantity.to_decimal_string(),
                unit: lang.money(l.unit_price, cur),
                vat: format!("{} %", l.vat_rate),
                total: lang.money(l.total, cur),
            })
            .collect(),
        payments: o
            .payments
            .iter()
            .map(|p| PaymentRow {
                method: p.name.clone(),
                amount: lang.money(p.amount, cur),
                at: lang.date_time(p.at, &zone),
            })
            .collect(),
        total: lang.money(o.total, cur),
        vat: lang.money(o.vat, cur),
        paid: lang.money(o.paid, cur),
        seal: o.seal.clone().unwrap_or_default(),
        invoice: format!("/invoices/{}.pdf", o.invoice_token),
        v,
    })
}
