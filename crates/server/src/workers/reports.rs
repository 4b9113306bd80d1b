//! getSales.php: the daily sales report in every format. The aggregates and the sales
//! table are read in one snapshot and rendered on a blocking thread, and streamed through
//! a short channel (workers::stream), so memory holds one page of orders whatever the
//! day's size and no connection waits on a slow client.

use super::sales::opt_id;
use super::stream::Stop;
use super::{Params, authenticate};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use comptoir_core::event::Via;
use comptoir_core::model::Shop;
use comptoir_core::report::fec::FecSettings;
use comptoir_core::report::{Filters, Report, ReportClosing, ReportDay};
use comptoir_render::report::{ReportFormat, start};
use comptoir_store::StoreError;
use comptoir_store::report::{ReportQuery, SaleCursor, aggregates, fec_settings, sales_page};
use std::sync::Arc;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/workers/getSales.php", get(sales).post(sales))
}

async fn sales(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
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
    // Recorded before anything is sent: no report leaves without its event. The report is
    // read and rendered meanwhile (its first bytes wait in the stream until the answer is
    // returned, after the event's commit), so a quiet day's report costs the longer of the
    // two rather than their sum; if the event fails, the answer is dropped unsent.
    let origin = crate::events::origin(Some(format!("key {}", authed.key_id)), address);
    let downloaded = crate::events::report(shop.id, &day, format, &filters, Via::GetSales, origin);
    let (recorded, response) = tokio::join!(
        crate::events::record(&state, downloaded),
        report_response(&state, shop, format, day, filters, Disposition::Attachment)
    );
    recorded?;
    response
}

/// How the browser is told to treat a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// A download named `sales-SHOP-DAY.EXT`.
    Attachment,
    /// Shown in place (the back office's inline HTML report).
    Inline,
}

/// The report of `day` in `format`, rendered on a blocking thread and streamed: the one
/// pipeline of getSales.php and the back office's Reports page.
pub(crate) async fn report_response(
    state: &AppState,
    shop: Arc<Shop>,
    format: ReportFormat,
    day: ReportDay,
    filters: Filters,
    disposition: Disposition,
) -> AppResult<Response> {
    let query = ReportQuery {
        shop_id: shop.id,
        from: day.from,
        to: day.to,
        cash_box_id: filters.cash_box_id,
        user_id: filters.user_id,
    };
    let kind = match disposition {
        Disposition::Attachment => "attachment",
        Disposition::Inline => "inline",
    };
    let name = format!(
        "{kind}; filename=\"sales-{}-{}.{}\"",
        shop.id,
        day.iso(),
        format.extension()
    );
    let store = state.store.clone();
    let body = super::stream::stream("sales report", move |chunks| {
        let rates = format.needs_rates();
        let date = day.date;
        // The aggregates, the closing and the sales table from one snapshot, so that they
        // agree while sales are being recorded. The connection is held for the reading
        // and rendering only: chunks a slow client has not taken wait in memory, then in
        // a temporary file (workers::stream), and the PDF and workbook are assembled once
        // it is back.
        let w = store
            .read_snapshot_blocking(|c| {
                let fec = if rates {
                    fec_settings(c, query.shop_id)?
                } else {
                    Vec::new()
                };
                // A closed day's report shows its closing (issue #11).
                let closing = comptoir_store::closings::of_day(c, query.shop_id, date)?;
                let a = aggregates(c, &query)?;
                let mut report =
                    Report::build(&shop, day, filters, comptoir_store::now_micros(), a);
                report.closing = closing.and_then(|r| {
                    let tz = shop.timezone.tz();
                    let digits = shop.currency.digits();
                    ReportClosing::of(&r.entry, &r.signature, &r.public_key, digits, &tz)
                });
                let mut w = start(format, &report, &FecSettings::new(fec), &mut chunks.out)
                    .map_err(StoreError::Decode)?;
                let mut after = Some(SaleCursor::START);
                while let Some(cursor) = after {
                    let (page, next) = sales_page(c, &query, rates, cursor)?;
                    for s in &page {
                        w.sale(s, &mut chunks.out);
                        chunks.row_done()?;
                    }
                    after = next;
                }
                Ok::<_, StoreError>(w)
            })
            .map_err(|e| chunks.stop(e))?;
        chunks.between_pages()?;
        w.finish(&mut chunks.out)
            .map_err(|e| Stop::Failed(StoreError::Decode(e)))
    })
    .await?;
    let mut res = Response::new(body);
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
