//! Catalog and data downloads: the `/workers/get*.php` list endpoints. Each streams one
//! entity's rows from the database to the socket as JSON, CSV or an HTML table, through a
//! few 64 KiB chunks in flight, so memory does not grow with the row count.

use super::stream::{Chunks, Stop, stream};
use super::{Params, authenticate};
use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comptoir_render::list::{Cell, ListFormat, ListWriter, render_list};
use comptoir_store::Store;
use comptoir_store::lists::{Column, Field, Kind, List, MAX_COLUMNS};
use std::borrow::Cow;

/// What an endpoint lists.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// Rows of the shop's database.
    Stored(List),
    /// The fixed list of delivery methods ([`DELIVERY_METHODS`]).
    DeliveryMethods,
}

/// One download endpoint: its path, what it lists, and the stem of its CSV file name.
#[derive(Debug)]
struct Endpoint {
    path: &'static str,
    source: Source,
    file: &'static str,
}

const fn endpoint(path: &'static str, source: Source, file: &'static str) -> Endpoint {
    Endpoint { path, source, file }
}

const ENDPOINTS: &[Endpoint] = &[
    endpoint("/workers/getPlus.php", Source::Stored(List::Items), "items"),
    endpoint(
        "/workers/getDepartments.php",
        Source::Stored(List::Departments),
        "departments",
    ),
    endpoint(
        "/workers/getDepartmentGroups.php",
        Source::Stored(List::DepartmentGroups),
        "department-groups",
    ),
    endpoint(
        "/workers/getDepartmentsGroups.php",
        Source::Stored(List::DepartmentGroups),
        "department-groups",
    ),
    endpoint(
        "/workers/getClients.php",
        Source::Stored(List::Clients),
        "clients",
    ),
    endpoint(
        "/workers/getDeclinaisons.php",
        Source::Stored(List::Variations),
        "variations",
    ),
    endpoint(
        "/workers/getLivraisons.php",
        Source::DeliveryMethods,
        "delivery-methods",
    ),
    endpoint(
        "/workers/getLivreurs.php",
        Source::Stored(List::DeliveryPeople),
        "delivery-people",
    ),
    endpoint(
        "/workers/getPaymentModes.php",
        Source::Stored(List::PaymentMethods),
        "payment-methods",
    ),
    endpoint(
        "/workers/getCashbox.php",
        Source::Stored(List::CashBoxes),
        "cash-boxes",
    ),
    endpoint(
        "/workers/getDeliveryZones.php",
        Source::Stored(List::DeliveryZones),
        "delivery-zones",
    ),
    endpoint(
        "/workers/getRelayDeposit.php",
        Source::Stored(List::RelayPoints),
        "relay-points",
    ),
    endpoint(
        "/workers/getDiscounts.php",
        Source::Stored(List::Discounts),
        "discounts",
    ),
    endpoint(
        "/workers/getUsers.php",
        Source::Stored(List::Users),
        "users",
    ),
    endpoint(
        "/workers/getTables.php",
        Source::Stored(List::Tables),
        "tables",
    ),
];

/// The `deliveryMethod` codes of the web services (spec: 0–6), as `getLivraisons` lists them.
const DELIVERY_METHODS: &[(i64, &str)] = &[
    (0, "Take away"),
    (1, "Delivery"),
    (2, "Eat in"),
    (3, "Drive-thru"),
    (4, "Counter sale"),
    (5, "Relay point"),
    (6, "Shipping"),
];

/// Rows read per query: the connection goes back to the pool between pages.
const PAGE_ROWS: usize = 2_000;

/// Every download endpoint, answering GET and POST.
pub(super) fn router() -> Router<AppState> {
    ENDPOINTS.iter().fold(Router::new(), |router, ep| {
        let handler = move |state: State<AppState>, headers: HeaderMap, params: Params| {
            download(state, headers, params, ep)
        };
        router.route(ep.path, get(handler).post(handler))
    })
}

async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(form): Params,
    ep: &'static Endpoint,
) -> AppResult<Response> {
    let authed = authenticate(&state, &form, &headers).await?;
    let format = list_format(form.get("format"), form.get("sep"))?;
    let digits = authed.shop.currency.digits();
    let body = match ep.source {
        Source::DeliveryMethods => {
            let rows = DELIVERY_METHODS
                .iter()
                .map(|&(id, name)| [Cell::Int(id), Cell::text(name)]);
            Body::from(render_list(format, &["id", "name"], rows))
        }
        Source::Stored(list) => {
            stream_list(&state.store, list, authed.shop.id, format, digits).await?
        }
    };
    let content_type = format.content_type();
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Client and user lists are personal data, fetched with a key in the URL.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let ListFormat::Csv { .. } = format {
        let disposition = format!(
            "attachment; filename=\"{}-{}.csv\"",
            ep.file, authed.shop.id
        );
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(res)
}

/// `format` (json, csv, html) and, for CSV, `sep`; 400 naming the parameter otherwise.
fn list_format(format: Option<&str>, sep: Option<&str>) -> AppResult<ListFormat> {
    if ListFormat::from_params(format, None).is_none() {
        return Err(AppError::invalid("format", "expected json, csv or html"));
    }
    ListFormat::from_params(format, sep)
        .ok_or_else(|| AppError::invalid("sep", "expected a comma, a semicolon, | or a tab"))
}

/// Streams `list` page by page (see [`stream`]).
async fn stream_list(
    store: &Store,
    list: List,
    shop_id: i64,
    format: ListFormat,
    digits: u8,
) -> AppResult<Body> {
    let store = store.clone();
    stream("list", move |chunks| {
        read_all(&store, list, shop_id, format, digits, chunks)
    })
    .await
}

fn read_all(
    store: &Store,
    list: List,
    shop_id: i64,
    format: ListFormat,
    digits: u8,
    chunks: &mut Chunks<'_>,
) -> Result<(), Stop> {
    let columns = list.columns();
    let mut writer = ListWriter::begin(format, &list.names(), &mut chunks.out);
    let cells = RowCells::new(columns, digits);
    chunks.pages(PAGE_ROWS, |after, chunks| {
        store.list_page_blocking(list, shop_id, after, PAGE_ROWS, &mut |fields| {
            cells.write(&mut writer, fields, &mut chunks.out);
            chunks.row_done()
        })
    })?;
    writer.end(&mut chunks.out);
    Ok(())
}

/// How a field becomes a cell.
#[derive(Clone, Copy, Debug)]
enum Render {
    /// As stored: integers, text, booleans.
    Plain,
    /// An integer read as a boolean (SQLite stores `0`/`1`).
    Bool,
    /// A fixed-point decimal with this many digits: money, coordinates, stock.
    Fixed(u8),
    /// A percentage in hundredths, written out in this scratch slot.
    Percent(usize),
    /// A discount's value: a percentage (in this slot) or an amount, by the row's `kind`.
    DiscountValue(usize),
}

/// Percentages one row may hold (departments: VAT rate and default discount).
const PERCENT_SLOTS: usize = 2;
/// Room for a percentage written out (`-92233720368547758.08` at worst).
const NUM: usize = 24;

/// Turns stored fields into cells by their [`Kind`], without allocating.
struct RowCells {
    plan: Vec<Render>,
    digits: u8,
    /// The field that says whether a [`Kind::DiscountValue`] is a percentage.
    discount_kind: Option<usize>,
}

impl RowCells {
    fn new(columns: &[Column], digits: u8) -> RowCells {
        let mut slots = 0..PERCENT_SLOTS;
        let mut slot = || slots.next().expect("at most two percentages per list");
        let plan = columns
            .iter()
            .map(|c| match c.kind {
                Kind::Int | Kind::Text => Render::Plain,
                Kind::Bool => Render::Bool,
                Kind::Money => Render::Fixed(digits),
                Kind::Coordinate => Render::Fixed(7),
                Kind::Quantity => Render::Fixed(3),
                Kind::Percent => Render::Percent(slot()),
                Kind::DiscountValue => Render::DiscountValue(slot()),
            })
            .collect();
        RowCells {
            plan,
            digits,
            discount_kind: columns.iter().position(|c| c.name == "kind"),
        }
    }

    fn write(&self, writer: &mut ListWriter, fields: &[Field<'_>], out: &mut Vec<u8>) {
        let n = fields.len().min(self.plan.len()).min(MAX_COLUMNS);
        let discount_is_percent = self
            .discount_kind
            .is_some_and(|k| matches!(fields.get(k), Some(Field::Text(t)) if t == "percent"));
        // Percentages print like VAT rates elsewhere (`20.0`, `5.5`): written out on the
        // stack first, because the cells borrow the text.
        let mut nums = [[0u8; NUM]; PERCENT_SLOTS];
        let mut lens = [0usize; PERCENT_SLOTS];
        for (render, field) in self.plan.iter().zip(fields) {
            let slot = match *render {
                Render::Percent(s) => s,
                Render::DiscountValue(s) if discount_is_percent => s,
                _ => continue,
            };
            if let Field::Int(h) = field {
                lens[slot] = percent_text(*h, &mut nums[slot]);
            }
        }
        let mut cells = [const { Cell::Null }; MAX_COLUMNS];
        for ((cell, field), render) in cells.iter_mut().zip(fields).zip(&self.plan) {
            *cell = match (field, *render) {
                (Field::Null, _) => Cell::Null,
                (Field::Int(_), Render::Percent(s) | Render::DiscountValue(s)) if lens[s] > 0 => {
                    let text = std::str::from_utf8(&nums[s][..lens[s]]).unwrap_or("");
                    Cell::Number(Cow::Borrowed(text))
                }
                (Field::Int(v), Render::DiscountValue(_)) => Cell::Money {
                    minor: *v,
                    digits: self.digits,
                },
                (Field::Int(v), Render::Fixed(digits)) => Cell::Money { minor: *v, digits },
                (Field::Int(v), Render::Bool) => Cell::Bool(*v != 0),
                (Field::Int(v), _) => Cell::Int(*v),
                (Field::Bool(b), _) => Cell::Bool(*b),
                (Field::Text(t), _) => Cell::Text(Cow::Borrowed(t)),
            };
        }
        writer.row(&cells[..n], out);
    }
}

/// Writes hundredths of a percent as the shortest decimal with at least one decimal
/// (`2000` → `20.0`, `550` → `5.5`, `210` → `2.1`, `5` → `0.05`); returns its length.
fn percent_text(hundredths: i64, buf: &mut [u8; NUM]) -> usize {
    comptoir_core::decimal::Fixed::trimmed(hundredths, 2).with_str(|text| {
        // At most 21 bytes: a sign, 17 digits, a point and two decimals.
        let n = text.len().min(NUM);
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        n
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(h: i64) -> String {
        let mut buf = [0u8; NUM];
        let n = percent_text(h, &mut buf);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn percentages_print_like_vat_rates() {
        assert_eq!(pct(2000), "20.0");
        assert_eq!(pct(550), "5.5");
        assert_eq!(pct(210), "2.1");
        assert_eq!(pct(5), "0.05");
        assert_eq!(pct(0), "0.0");
        assert_eq!(pct(-125), "-1.25");
        assert_eq!(pct(i64::MIN), "-92233720368547758.08");
        for h in 0..10_000 {
            let rate = comptoir_core::vat::VatRate::from_hundredths(h).unwrap();
            assert_eq!(pct(h), rate.to_string());
        }
    }

    #[test]
    fn every_list_has_a_cell_plan() {
        for list in List::ALL {
            let plan = RowCells::new(list.columns(), 2).plan;
            assert_eq!(plan.len(), list.columns().len(), "{list:?}");
        }
    }

    #[test]
    fn every_path_is_routed_once() {
        let mut paths: Vec<&str> = ENDPOINTS.iter().map(|e| e.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ENDPOINTS.len());
        assert_eq!(paths.len(), 15);
    }
}
