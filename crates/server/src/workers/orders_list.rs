//! Orders as downloads (getOrders.php, getPending.php): JSON (an array of order objects),
//! CSV or HTML (one row per order), streamed page by page like the other downloads.

use super::AuthedShop;
use super::stream::stream;
use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use comptoir_core::form::Form;
use comptoir_core::order::{OrderView, rfc3339};
use comptoir_render::list::{Cell, ListFormat, ListWriter};
use comptoir_store::StoreError;
use comptoir_store::sales::OrderFilter;

/// The columns of an order row in CSV and HTML.
pub(super) const COLUMNS: &[&str] = &[
    "orderInternalID",
    "orderID",
    "status",
    "isRefund",
    "createdAt",
    "validatedAt",
    "valueDate",
    "userID",
    "cashBoxID",
    "clientID",
    "deliveryMethod",
    "price",
    "VAT",
    "paid",
    "change",
    "lines",
    "seal",
];

/// Orders read per query: the connection goes back to the pool between pages.
const PAGE_ORDERS: usize = 500;

pub(super) async fn respond(
    state: &AppState,
    authed: &AuthedShop,
    form: &Form,
    filter: OrderFilter,
    stem: &str,
) -> AppResult<Response> {
    let format = match form.get("format").map(str::trim).filter(|f| !f.is_empty()) {
        None => ListFormat::Json,
        Some(f) => ListFormat::from_params(Some(f), form.get("sep")).ok_or_else(|| {
            AppError::invalid("format", format!("expected json, csv or html, got {f:?}"))
        })?,
    };
    let shop = authed.shop.clone();
    let store = state.store.clone();
    let base = state.base_url.clone();
    let body = stream("orders", move |chunks| {
        let digits = shop.currency.digits();
        let tz = shop.timezone.tz();
        let json = matches!(format, ListFormat::Json);
        let mut writer = (!json).then(|| ListWriter::begin(format, COLUMNS, &mut chunks.out));
        if json {
            chunks.out.push(b'[');
        }
        let mut first = true;
        chunks.pages(PAGE_ORDERS, |after, chunks| {
            store.orders_page_blocking(shop.id, &filter, after, PAGE_ORDERS, &mut |o| {
                match writer.as_mut() {
                    None => {
                        if !first {
                            chunks.out.push(b',');
                        }
                        first = false;
                        // An order of a download is the answer's object without `result`.
                        let view = o.json(digits, &tz, &base).without_result();
                        serde_json::to_writer(&mut chunks.out, &view)
                            .map_err(|e| StoreError::Decode(e.to_string()))?;
                    }
                    Some(w) => w.row(&row(&o, digits, &tz), &mut chunks.out),
                }
                chunks.row_done()
            })
        })?;
        match writer {
            Some(w) => w.end(&mut chunks.out),
            None => chunks.out.push(b']'),
        }
        Ok(())
    })
    .await?;
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if matches!(format, ListFormat::Csv { .. }) {
        let name = format!(
            "attachment; filename=\"{stem}-{}.{}\"",
            shop_id(authed),
            format.extension()
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(res)
}

fn shop_id(authed: &AuthedShop) -> i64 {
    authed.shop.id
}

fn row<'a>(o: &'a OrderView, digits: u8, tz: &jiff::tz::TimeZone) -> Vec<Cell<'a>> {
    let money = |m: comptoir_core::money::Money| Cell::Money {
        minor: m.minor(),
        digits,
    };
    let time = |t: i64| Cell::text(rfc3339(t, tz));
    vec![
        Cell::Int(o.id),
        o.number.map_or(Cell::Null, Cell::Int),
        Cell::text(o.status.as_str()),
        Cell::Bool(o.is_refund),
        time(o.created_at),
        o.validated_at.map_or(Cell::Null, time),
        time(o.value_date),
        Cell::Int(o.user_id),
        Cell::Int(o.cash_box_id),
        o.client_id.map_or(Cell::Null, Cell::Int),
        Cell::Int(o.delivery_method),
        money(o.total),
        money(o.vat),
        money(o.paid),
        money(o.change),
        Cell::Int(o.lines.len() as i64),
        o.seal.as_deref().map_or(Cell::Null, Cell::text),
    ]
}
