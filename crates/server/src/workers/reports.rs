//! getSales.php: the daily sales report in every format. The aggregates and the sales
//! table are read and rendered on a blocking thread and streamed through a short channel
//! (workers::chunks), so memory holds one page of orders whatever the day's size.

use super::sales::opt_id;
use super::{Params, authenticate};
use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use comptoir_core::report::fec::FecSettings;
use comptoir_core::report::{Filters, Report, ReportDay};
use comptoir_render::report::{ReportFormat, start};
use comptoir_store::StoreError;
use comptoir_store::report::{ReportQuery, aggregates, each_sale, fec_settings};
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/workers/getSales.php", get(sales).post(sales))
}

async fn sales(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(form): Params,
) -> AppResult<Response> {
    let authed = authenticate(&state, &form, &headers).await?;
    let shop = authed.shop.clone();
    let format = ReportFormat::parse(
        form.get("formatExport"),
        form.get("sep"),
        form.get("charset"),
    )
    .map_err(|m| {
        let (field, msg) = m.split_once(": ").unwrap_or(("formatExport", &m));
        AppError::invalid(field.to_string(), msg.to_string())
    })?;
    let day = ReportDay::parse(
        form.get("d"),
        form.get("m"),
        form.get("y"),
        &shop.timezone.tz(),
        jiff::Timestamp::now(),
    )
    .map_err(|e| AppError::invalid(e.field, e.message))?;
    let filters = Filters {
        cash_box_id: opt_id(&form, "idcaisse")?,
        user_id: opt_id(&form, "idUser")?,
    };
    let query = ReportQuery {
        shop_id: shop.id,
        from: day.from,
        to: day.to,
        cash_box_id: filters.cash_box_id,
        user_id: filters.user_id,
    };
    let name = format!(
        "attachment; filename=\"sales-{}-{}.{}\"",
        shop.id,
        day.iso(),
        format.extension()
    );
    let store = state.store.clone();
    let (tx, rx) = mpsc::channel::<Result<Bytes, StoreError>>(4);
    tokio::task::spawn_blocking(move || {
        let result = store.read_blocking(|c| {
            let a = aggregates(c, &query)?;
            let fec = FecSettings::new(if format.needs_rates() {
                fec_settings(c, query.shop_id)?
            } else {
                Vec::new()
            });
            let report = Report::build(&shop, day, filters, comptoir_store::now_micros(), a);
            let mut buf = Vec::with_capacity(CHUNK * 2);
            let mut w = start(format, &report, &fec, &mut buf).map_err(StoreError::Decode)?;
            each_sale(c, &query, format.needs_rates(), &mut |s| {
                w.sale(&s, &mut buf);
                if buf.len() >= CHUNK {
                    tx.blocking_send(Ok(Bytes::from(std::mem::take(&mut buf))))
                        .map_err(|_| StoreError::Task("client went away".into()))?;
                }
                Ok(())
            })?;
            w.finish(&mut buf).map_err(StoreError::Decode)?;
            Ok::<_, StoreError>(buf)
        });
        let _ = tx.blocking_send(result.map(Bytes::from));
    });
    let mut res = Response::new(super::chunks::body(rx, "sales report").await?);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
