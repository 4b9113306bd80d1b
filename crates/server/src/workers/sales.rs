//! Recording and reading sales: `webapp.php`, `getOrder.php`, `getOrders.php`,
//! `getPending.php` and the extensions `validateOrder.php`, `addPayment.php`,
//! `refundOrder.php`. Handlers parse, call the store in one transaction, shape the answer.

use super::{AuthedShop, Params, authenticate};
use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use comptoir_core::error::{ErrorCode, SaleError};
use comptoir_core::form::Form;
use comptoir_core::model::{Client, Coordinate, Country, optional_text};
use comptoir_core::quantity::Quantity;
use comptoir_core::sale::{PaymentParam, parse_payment_amount};
use comptoir_store::sales::{
    self, Answer, ClientInput, IdempotencyInput, OrderFilter, OrderWrite, SaleInput, Shape,
};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/workers/webapp.php", order_endpoint("webapp", sale_write))
        .route("/workers/getOrder.php", get(get_order).post(get_order))
        .route("/workers/getOrders.php", get(get_orders).post(get_orders))
        .route(
            "/workers/getPending.php",
            get(get_pending).post(get_pending),
        )
        .route(
            "/workers/validateOrder.php",
            order_endpoint("validateOrder", validate_write),
        )
        .route(
            "/workers/addPayment.php",
            order_endpoint("addPayment", payment_write),
        )
        .route(
            "/workers/refundOrder.php",
            order_endpoint("refundOrder", refund_write),
        )
}

/// Longest comment accepted (spec: 2000 characters).
const MAX_COMMENT: usize = 2000;

pub(super) fn opt_id(form: &Form, name: &str) -> AppResult<Option<i64>> {
    match form.get(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid(name, format!("expected a positive integer id, got {t:?}"))
            }),
    }
}

fn opt_count(form: &Form, name: &str) -> AppResult<Option<i64>> {
    match form.get(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|v| (0..=100_000).contains(v))
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid(
                    name,
                    format!("expected a whole number from 0 to 100000, got {t:?}"),
                )
            }),
    }
}

fn comment(form: &Form, name: &str) -> AppResult<String> {
    let t = form.get(name).unwrap_or("").trim();
    if t.chars().count() > MAX_COMMENT {
        return Err(AppError::invalid(name, "expected at most 2000 characters"));
    }
    Ok(t.to_string())
}

fn text(form: &Form, name: &str) -> AppResult<Option<String>> {
    optional_text(form.get(name).unwrap_or(""))
        .map_err(|e| AppError::invalid(name, format!("expected {e}")))
}

/// `client[...]` with the French names of the spec and their English aliases.
fn client_input(form: &Form) -> AppResult<ClientInput> {
    if let Some(id) = opt_id(form, "idClient")? {
        return Ok(ClientInput::Existing(id));
    }
    let Some(map) = form.map("client").filter(|m| !m.is_empty()) else {
        return Ok(ClientInput::None);
    };
    let field = |names: &[&str]| -> AppResult<Option<String>> {
        let Some((name, v)) = names.iter().find_map(|n| map.get(*n).map(|v| (*n, v))) else {
            return Ok(None);
        };
        optional_text(v)
            .map_err(|e| AppError::invalid(format!("client[{name}]"), format!("expected {e}")))
    };
    let coordinate = |name: &str, max: i64| -> AppResult<Option<Coordinate>> {
        match map.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(t) => Coordinate::parse(t, max)
                .map(Some)
                .map_err(|e| AppError::invalid(format!("client[{name}]"), format!("expected {e}"))),
        }
    };
    let country = match field(&["pays", "country"])? {
        None => None,
        Some(c) => Some(
            Country::parse(&c)
                .map_err(|e| AppError::invalid("client[pays]", format!("expected {e}")))?,
        ),
    };
    let email = field(&["email"])?;
    if let Some(e) = &email
        && (!e.contains('@') || e.contains(' '))
    {
        return Err(AppError::invalid(
            "client[email]",
            format!("expected an e-mail address, got {e:?}"),
        ));
    }
    let client = Client {
        id: 0,
        last_name: field(&["nom", "lastname"])?,
        first_name: field(&["prenom", "firstname"])?,
        email,
        phone: field(&["telephone", "phone"])?,
        phone2: field(&["telephone2"])?,
        address1: field(&["adresseligne1", "address"])?,
        address2: field(&["adresseligne2"])?,
        address_comment: field(&["commentaireadresse"])?,
        postcode: field(&["codepostal", "zip"])?,
        city: field(&["ville", "city"])?,
        country,
        vat_number: field(&["numtva"])?,
        company_number: field(&["rcs"])?,
        barcode: field(&["codeBarre"])?,
        lat: coordinate("lat", 90)?,
        lng: coordinate("lng", 180)?,
    };
    Ok(ClientInput::New(Box::new(client)))
}

/// Parses every parameter of webapp.php except the lines, which the store checks
/// against the catalog.
fn sale_input(form: &Form, authed: &AuthedShop) -> AppResult<SaleInput> {
    let shop = &authed.shop;
    let payment = PaymentParam::parse(form.get("payment"))?;
    let payment_amount = parse_payment_amount(form.get("paymentAmount"), shop.currency)?;
    let delivery_method = match form.get("deliveryMethod").map(str::trim) {
        None | Some("") => 4,
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|v| (0..=6).contains(v))
            .ok_or_else(|| {
                AppError::invalid("deliveryMethod", format!("expected 0 to 6, got {t:?}"))
            })?,
    };
    let value_date = match form.get("dateValeur").map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .filter(|s| (0..=253_402_300_799).contains(s))
                .map(|s| s * 1_000_000)
                .ok_or_else(|| {
                    AppError::invalid(
                        "dateValeur",
                        format!("expected a Unix timestamp in seconds, got {t:?}"),
                    )
                })?,
        ),
    };
    Ok(SaleInput {
        entries: form.list("itemsList").to_vec(),
        payment,
        payment_amount,
        user_id: opt_id(form, "idUser")?,
        client: client_input(form)?,
        delivery_method,
        cash_box_id: opt_id(form, "idcaisse")?,
        table_id: opt_id(form, "idtable")?,
        covers: opt_count(form, "numcouverts")?,
        pager_num: text(form, "pagerNum")?,
        public_comment: comment(form, "publicComment")?,
        private_comment: comment(form, "privateComment")?,
        value_date,
    })
}

/// Keys of requests running now in this process: a second request with the same key gets
/// 409 `idempotency_in_flight` instead of waiting.
#[derive(Clone, Default)]
pub struct InFlight {
    keys: Arc<Mutex<HashSet<(i64, String)>>>,
}

struct InFlightGuard {
    set: InFlight,
    key: (i64, String),
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.set
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl InFlight {
    fn enter(&self, shop_id: i64, key: &str) -> AppResult<InFlightGuard> {
        let k = (shop_id, key.to_string());
        let fresh = self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(k.clone());
        if !fresh {
            return Err(AppError::Conflict {
                code: ErrorCode::IdempotencyInFlight,
                message: "a request with this idempotency key is still running; retry shortly"
                    .into(),
            });
        }
        Ok(InFlightGuard {
            set: self.clone(),
            key: k,
        })
    }
}

/// Parameters that do not make two requests different.
const NOT_HASHED: &[&str] = &["key", "idboutique", "shopID", "idempotencyKey"];

fn idempotency(
    form: &Form,
    headers: &HeaderMap,
    endpoint: &str,
) -> AppResult<Option<IdempotencyInput>> {
    let key = form
        .get("idempotencyKey")
        .or_else(|| headers.get("idempotency-key").and_then(|v| v.to_str().ok()));
    let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if key.len() > 255 {
        return Err(AppError::invalid(
            "idempotencyKey",
            "expected at most 255 characters",
        ));
    }
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update(b"\n");
    h.update(form.fingerprint(NOT_HASHED).as_bytes());
    Ok(Some(IdempotencyInput {
        key: key.to_string(),
        request_hash: comptoir_store::hex(&h.finalize()),
    }))
}

fn json_response(body: String, replayed: bool) -> Response {
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    if replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

/// The route of an order write, GET and POST: `read` turns the request into the write.
fn order_endpoint(
    endpoint: &'static str,
    read: fn(&Form, &AuthedShop) -> AppResult<OrderWrite>,
) -> MethodRouter<AppState> {
    let handler = move |State(state): State<AppState>, headers: HeaderMap, Params(form): Params| {
        order_write(state, headers, form, endpoint, read)
    };
    get(handler).post(handler)
}

/// Authenticates, reads the write the request asks for (`what`), runs it under the
/// request's idempotency key (see [`comptoir_store::Store::write_order`]) and answers
/// with the order, or with the first answer to the key.
async fn order_write(
    state: AppState,
    headers: HeaderMap,
    form: Form,
    endpoint: &'static str,
    what: impl FnOnce(&Form, &AuthedShop) -> AppResult<OrderWrite>,
) -> AppResult<Response> {
    let authed = authenticate(&state, &form, &headers).await?;
    let what = what(&form, &authed)?;
    let idem = idempotency(&form, &headers, endpoint)?;
    let _guard = match &idem {
        Some(i) => Some(state.in_flight.enter(authed.shop.id, &i.key)?),
        None => None,
    };
    let shop = &authed.shop;
    let (digits, tz, base) = (
        shop.currency.digits(),
        shop.timezone.tz(),
        state.base_url.clone(),
    );
    let shape: Shape = Arc::new(move |o| o.to_json_string(digits, &tz, &base));
    let answer = state
        .store
        .write_order(shop, idem, what, Arc::clone(&shape))
        .await?;
    if !matches!(answer, Answer::Replayed(_)) {
        state.webhooks.wake(); // the write's outbox events are committed
    }
    Ok(match answer {
        Answer::Replayed(body) => json_response(body, true),
        Answer::Recorded(body) => json_response(body, false),
        // No answer to remember: shaped now, after the commit, off the single writer.
        Answer::Order(order) => json_response(shape(&order), false),
    })
}

/// webapp.php: a sale.
fn sale_write(form: &Form, authed: &AuthedShop) -> AppResult<OrderWrite> {
    Ok(OrderWrite::Sale(Arc::new(sale_input(form, authed)?)))
}

fn order_id(form: &Form) -> AppResult<i64> {
    opt_id(form, "order_id")?.ok_or(AppError::MissingParameter {
        field: "order_id".into(),
    })
}

async fn get_order(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(form): Params,
) -> AppResult<Response> {
    let authed = authenticate(&state, &form, &headers).await?;
    let id = order_id(&form)?;
    let shop_id = authed.shop.id;
    let order = state
        .store
        .read(move |c| sales::get_order(c, shop_id, id))
        .await?
        .ok_or_else(|| {
            // Like the extensions' 404: the error names the `order_id` field.
            AppError::from(SaleError::new(
                ErrorCode::NotFound,
                "order_id",
                format!("order {id} does not exist in this shop"),
            ))
        })?;
    let body = order.to_json_string(
        authed.shop.currency.digits(),
        &authed.shop.timezone.tz(),
        &state.base_url,
    );
    Ok(json_response(body, false))
}

/// validateOrder.php.
fn validate_write(form: &Form, _: &AuthedShop) -> AppResult<OrderWrite> {
    Ok(OrderWrite::Validate {
        order_id: order_id(form)?,
    })
}

/// The `payment` parameter of the extensions: a payment method id (no -1 or -2 here).
fn method_id(form: &Form, what: &str) -> AppResult<i64> {
    let parsed = PaymentParam::parse(form.get("payment"))?;
    let PaymentParam::Method(id) = parsed else {
        return Err(AppError::invalid(
            "payment",
            format!("expected the id of one of the shop's {what}"),
        ));
    };
    Ok(id)
}

/// addPayment.php.
fn payment_write(form: &Form, authed: &AuthedShop) -> AppResult<OrderWrite> {
    Ok(OrderWrite::Pay {
        order_id: order_id(form)?,
        method_id: method_id(form, "payment methods")?,
        amount: parse_payment_amount(form.get("paymentAmount"), authed.shop.currency)?,
    })
}

/// refundOrder.php.
fn refund_write(form: &Form, authed: &AuthedShop) -> AppResult<OrderWrite> {
    Ok(OrderWrite::Refund {
        order_id: order_id(form)?,
        method_id: method_id(form, "refund payment methods")?,
        lines: refund_lines(form)?,
        amount: parse_payment_amount(form.get("paymentAmount"), authed.shop.currency)?,
    })
}

/// `lines[]` of refundOrder.php: `N` (the whole line) or `N_QTY`.
fn refund_lines(form: &Form) -> AppResult<Vec<(i64, Option<Quantity>)>> {
    let mut lines = Vec::new();
    for (i, entry) in form.list("lines").iter().enumerate() {
        let field = format!("lines[{i}]");
        let (no, qty) = match entry.split_once('_') {
            Some((n, q)) => (n, Some(q)),
            None => (entry.as_str(), None),
        };
        let no = no
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                AppError::invalid(
                    &field,
                    format!("expected N or N_QTY with N a line number, got {entry:?}"),
                )
            })?;
        let qty = match qty {
            None => None,
            Some(q) => Some(
                Quantity::parse(q)
                    .map_err(|e| AppError::invalid(&field, format!("expected {e}")))?,
            ),
        };
        lines.push((no, qty));
    }
    Ok(lines)
}

/// Parses `from_date_ISO8601` / `to_date_ISO8601`: a date (`2026-11-28`, the whole day in
/// the shop's zone) or a date-time with offset. Gives `[from, to)` in microseconds.
fn date_range(form: &Form, tz: &jiff::tz::TimeZone) -> AppResult<(Option<i64>, Option<i64>)> {
    let parse = |name: &str, end: bool| -> AppResult<Option<i64>> {
        let Some(t) = form.get(name).map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if let Ok(ts) = t.parse::<jiff::Timestamp>() {
            return Ok(Some(ts.as_microsecond()));
        }
        let date: jiff::civil::Date = t.parse().map_err(|_| {
            AppError::invalid(
                name,
                format!(
                    "expected an ISO 8601 date (2026-11-28) or date-time with offset, got {t:?}"
                ),
            )
        })?;
        let date = if end {
            date.tomorrow()
                .map_err(|_| AppError::invalid(name, "date out of range"))?
        } else {
            date
        };
        let z = date
            .to_zoned(tz.clone())
            .map_err(|_| AppError::invalid(name, "date out of range"))?;
        Ok(Some(z.timestamp().as_microsecond()))
    };
    let from = parse("from_date_ISO8601", false)?;
    let to = parse("to_date_ISO8601", true)?;
    if from.is_none() && to.is_none() {
        // Default: today in the shop's zone.
        let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
        let start = today
            .to_zoned(tz.clone())
            .map_err(|_| AppError::Internal("today".into()))?;
        let end = today
            .tomorrow()
            .and_then(|d| d.to_zoned(tz.clone()))
            .map_err(|_| AppError::Internal("tomorrow".into()))?;
        return Ok((
            Some(start.timestamp().as_microsecond()),
            Some(end.timestamp().as_microsecond()),
        ));
    }
    Ok((from, to))
}

fn bool_param(form: &Form, name: &str, default: bool) -> AppResult<bool> {
    match form
        .get(name)
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => Ok(default),
        Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(other) => Err(AppError::invalid(
            name,
            format!("expected 1, 0, true or false, got {other:?}"),
        )),
    }
}

async fn get_orders(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(form): Params,
) -> AppResult<Response> {
    let authed = authenticate(&state, &form, &headers).await?;
    let validated = bool_param(&form, "validatedOrders", true)?;
    let (from, to) = date_range(&form, &authed.shop.timezone.tz())?;
    let delivery_method = match form.get("filterDeliveryMethod").map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .filter(|v| (0..=6).contains(v))
                .ok_or_else(|| {
                    AppError::invalid(
                        "filterDeliveryMethod",
                        format!("expected 0 to 6, got {t:?}"),
                    )
                })?,
        ),
    };
    let filter = OrderFilter {
        validated,
        from,
        to,
        delivery_method,
        cash_box_id: opt_id(&form, "idcaisse")?,
        user_id: opt_id(&form, "idUser")?,
    };
    super::orders_list::respond(&state, &authed, &form, filter, "orders").await
}

async fn get_pending(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(form): Params,
) -> AppResult<Response> {
    let authed = authenticate(&state, &form, &headers).await?;
    let filter = OrderFilter {
        validated: false,
        from: None,
        to: None,
        delivery_method: None,
        cash_box_id: opt_id(&form, "idcaisse")?,
        user_id: opt_id(&form, "idUser")?,
    };
    super::orders_list::respond(&state, &authed, &form, filter, "pending").await
}
