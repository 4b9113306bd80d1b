//! Orders as downloads (getOrders.php, getPending.php): JSON (an array of order objects),
//! CSV or HTML (one row per order), streamed from the database page by page.

use super::AuthedShop;
use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use comptoir_core::form::Form;
use comptoir_core::order::{OrderView, rfc3339};
use comptoir_render::list::{Cell, ListFormat, ListWriter};
use comptoir_store::StoreError;
use comptoir_store::sales::{OrderFilter, each_order};
use tokio::sync::mpsc;

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

const CHUNK: usize = 32 * 1024;

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
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, StoreError>>(4);
    tokio::task::spawn_blocking(move || {
        let digits = shop.currency.digits();
        let tz = shop.timezone.tz();
        let mut buf = Vec::with_capacity(CHUNK * 2);
        let mut first = true;
        let json = matches!(format, ListFormat::Json);
        let mut writer = (!json).then(|| ListWriter::begin(format, COLUMNS, &mut buf));
        if json {
            buf.push(b'[');
        }
        let result = store.read_blocking(|c| {
            each_order(c, shop.id, &filter, &mut |o: OrderView| {
                match writer.as_mut() {
                    None => {
                        if !first {
                            buf.push(b',');
                        }
                        first = false;
                        let mut v = o.to_json(digits, &tz, &base);
                        if let Some(m) = v.as_object_mut() {
                            m.remove("result");
                        }
                        serde_json::to_writer(&mut buf, &v)
                            .map_err(|e| StoreError::Decode(e.to_string()))?;
                    }
                    Some(w) => w.row(&row(&o, digits, &tz), &mut buf),
                }
                if buf.len() >= CHUNK {
                    let chunk = Bytes::from(std::mem::take(&mut buf));
                    tx.blocking_send(Ok(chunk))
                        .map_err(|_| StoreError::Task("client went away".into()))?;
                }
                Ok(())
            })
        });
        match result {
            Ok(()) => {
                match writer {
                    Some(w) => w.end(&mut buf),
                    None => buf.push(b']'),
                }
                let _ = tx.blocking_send(Ok(Bytes::from(buf)));
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    let first = match rx.recv().await {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(AppError::Internal("the orders reader stopped".into())),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?.map_err(|e| {
            tracing::error!(error = %e, "orders download cut");
            std::io::Error::other("the download was cut by a database error")
        });
        Some((item, rx))
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(first))),
        rest,
    );
    let mut res = Response::new(Body::from_stream(stream));
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
