//! Recording sales: an order, its lines and payments, the journal entries with their
//! seals, the outbox events and the idempotency record, all in the caller's transaction.
//! Also reading orders back, and the later steps: validate, pay, refund.

use crate::db::{Backend, Conn, Row, Value};
use crate::lane::Lane;
use crate::lists::Page;
use crate::{StoreError, hex, now_micros, params, random_bytes};
use comptoir_core::cash_box::{CashBoxRow, choose_cash_box};
use comptoir_core::error::{ErrorCode, SaleError};
use comptoir_core::model::Shop;
use comptoir_core::money::Money;
use comptoir_core::order::{LineView, OrderView, PaymentView, parse_variations, variations_text};
use comptoir_core::payment::PaymentMethod;
use comptoir_core::quantity::Quantity;
use comptoir_core::refund::{Balance, check_refund_method, check_refundable, plan_refund};
use comptoir_core::sale::{
    CatalogDepartment, CatalogItem, CatalogVariation, MemoryCatalog, NewOrderLines, Payment,
    PaymentParam, ReferencedIds, SaleStatus, Settlement, apply_refund_method, build_lines,
    referenced_ids, settle,
};
pub use comptoir_core::sale_input::{ClientInput, SaleInput};
use comptoir_core::seal::{PaymentEntry, seal};
use comptoir_core::vat::VatRate;
use comptoir_core::{items_list, model::PaymentKind};
use std::collections::HashMap;

mod check_cache;
mod idempotency;
mod ledger;
mod lookups;
mod order_writes;
mod orders;
mod refunds;
mod sale_rows;
pub mod seed;
mod steps;
mod writes;

pub use check_cache::{CheckCache, CheckStats, compact_catalog_changes};
use idempotency::judge_idempotency;
pub use idempotency::{check_idempotency, lock_shop, save_idempotency};
use ledger::*;
pub use lookups::payment_method;
use lookups::*;
pub use order_writes::{Answer, OrderWrite, Shape};
use orders::*;
pub use orders::{
    OrderFilter, each_order, get_order, get_orders, order_by_invoice_token, orders_page,
};
use refunds::{RefundAsk, refund_in};
pub use refunds::{refund_order, refund_order_paying};
use sale_rows::*;
use steps::not_found;
pub use steps::{add_payment, validate_order};
use steps::{add_payment_in, validate_order_in};
pub(crate) use writes::Deferred;
use writes::*;

/// How long an idempotency key is remembered (spec: 7 days).
pub const IDEMPOTENCY_WINDOW_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

/// Why a sale was not recorded.
#[derive(Debug)]
pub enum SaleFailure {
    /// The request was refused; the first refusal, and every one found.
    Rejected(SaleError, Vec<SaleError>),
    Store(StoreError),
}

impl From<StoreError> for SaleFailure {
    fn from(e: StoreError) -> Self {
        SaleFailure::Store(e)
    }
}

impl From<SaleError> for SaleFailure {
    fn from(e: SaleError) -> Self {
        SaleFailure::Rejected(e.clone(), vec![e])
    }
}

fn rejected_all(errors: Vec<SaleError>) -> SaleFailure {
    match errors.first() {
        Some(first) => SaleFailure::Rejected(first.clone(), errors),
        None => SaleFailure::Store(StoreError::Decode("empty error list".into())),
    }
}

/// An idempotency key and the hash of the request it protects.
#[derive(Clone, Debug)]
pub struct IdempotencyInput {
    pub key: String,
    pub request_hash: String,
}

/// What recording gave: a new order, or the first answer to this idempotency key.
#[derive(Clone, Debug)]
pub enum Recorded {
    New(Box<OrderView>),
    Replayed(String),
}

/// A sale checked against the shop's data by [`check_sale`]: what [`write_sale`] needs.
#[derive(Clone, Debug)]
pub struct CheckedSale {
    lines: NewOrderLines,
    method: Option<PaymentMethod>,
    settlement: Settlement,
    /// `None`: the shop's `webservice` user, which the write creates on first use.
    user_id: Option<i64>,
    cash_box_id: i64,
    /// An existing client; a new one (`ClientInput::New`) is written by the write.
    client_id: Option<i64>,
    /// The shop's catalog version the checks read its rows at (PostgreSQL).
    catalog_version: Option<i64>,
}

/// Records a sale (webapp.php) in the caller's transaction: [`check_sale`], then
/// [`write_sale`]. A refused sale writes nothing, even outside a transaction.
pub fn record_sale(
    c: &mut dyn Conn,
    shop: &Shop,
    input: &SaleInput,
) -> Result<OrderView, SaleFailure> {
    let checked = check_sale(c, shop, input)?;
    write_sale(c, shop, input, &checked)
}

/// Checks a sale against the catalog, payment methods, users, cash boxes, tables and
/// clients, reading only: every refusal of a sale happens here. The server runs it on a
/// reader connection, before the write is queued.
pub fn check_sale(
    c: &mut dyn Conn,
    shop: &Shop,
    input: &SaleInput,
) -> Result<CheckedSale, SaleFailure> {
    let specs = items_list::parse_list(&input.entries, shop.currency).map_err(rejected_all)?;
    let rows = SaleRows::load(c, shop, input, &specs, None, Recall::Off)?;
    check_loaded(shop, input, &specs, rows)
}

/// [`check_sale`] from the rows the process remembers ([`CheckCache`]) alone: `None`
/// when one is missing or the checks refuse the sale (a refusal is never given from
/// remembered rows).
pub(super) fn check_remembered(
    cache: &CheckCache,
    shop: &Shop,
    input: &SaleInput,
) -> Option<CheckedSale> {
    let specs = items_list::parse_list(&input.entries, shop.currency).ok()?;
    let rows = cache.answer(shop, input, &referenced_ids(&specs))?;
    check_loaded(shop, input, &specs, rows).ok()
}

/// [`check_sale`] under the request's idempotency key: `Err(first answer)` when the key
/// was used before by the same request (its answer is replayed, whatever the checks say
/// now), a conflict when by another. On PostgreSQL the key's record is read by the same
/// statement as the sale's rows, and those may come from what the process remembers
/// (`recall`); a refusal is then checked again against the database's rows.
pub(super) fn check_sale_keyed(
    c: &mut dyn Conn,
    shop: &Shop,
    input: &SaleInput,
    idem: Option<&IdempotencyInput>,
    recall: Recall<'_>,
) -> Result<Result<CheckedSale, String>, SaleFailure> {
    const FIELD: &str = "idempotencyKey";
    let specs = match items_list::parse_list(&input.entries, shop.currency) {
        Ok(specs) => specs,
        Err(errors) => {
            if let Some(i) = idem
                && let Some(first) = check_idempotency(c, shop.id, i, FIELD)?
            {
                return Ok(Err(first));
            }
            return Err(rejected_all(errors));
        }
    };
    let key = idem.map(|i| i.key.as_str());
    let mut rows = SaleRows::load(c, shop, input, &specs, key, recall)?;
    if let Some(i) = idem {
        // SQLite reads no record with the rows: the key is looked up on its own.
        let first = match (c.backend(), rows.key_record.take()) {
            (Backend::Postgres, record) => judge_idempotency(record, i, FIELD)?,
            (Backend::Sqlite, _) => check_idempotency(c, shop.id, i, FIELD)?,
        };
        if let Some(first) = first {
            return Ok(Err(first));
        }
    }
    let remembered = rows.remembered;
    match check_loaded(shop, input, &specs, rows) {
        Err(SaleFailure::Rejected(..)) if remembered => {
            let learn = match recall {
                Recall::Answer(cache) | Recall::Learn(cache) => Recall::Learn(cache),
                Recall::Off => Recall::Off,
            };
            let rows = SaleRows::load(c, shop, input, &specs, None, learn)?;
            check_loaded(shop, input, &specs, rows).map(Ok)
        }
        checked => checked.map(Ok),
    }
}

/// The rules of a sale over the rows [`SaleRows::load`] read, in the order a refusal is
/// reported: lines, payment method, payment, user, cash box, table, client.
fn check_loaded(
    shop: &Shop,
    input: &SaleInput,
    specs: &[items_list::LineSpec],
    rows: SaleRows,
) -> Result<CheckedSale, SaleFailure> {
    let currency = shop.currency;
    let mut lines = build_lines(specs, &rows.catalog).map_err(rejected_all)?;

    let method = match input.payment {
        PaymentParam::Method(id) => Some(rows.method.ok_or_else(|| {
            SaleError::new(
                ErrorCode::UnknownPaymentMethod,
                "payment",
                format!("payment method {id} does not exist in this shop"),
            )
        })?),
        _ => None,
    };
    if method
        .as_ref()
        .is_some_and(|m| m.kind == PaymentKind::Refund)
    {
        lines = apply_refund_method(lines)?;
    }
    let payment = match (&input.payment, &method) {
        (PaymentParam::Pending, _) => Payment::Pending,
        (PaymentParam::Unpaid, _) | (PaymentParam::Method(_), None) => Payment::Unpaid,
        (PaymentParam::Method(_), Some(m)) => m.payment(),
    };
    let settlement = settle(lines.total(), payment, input.payment_amount)?;
    // A payment of 0.00 is never recorded (a zero total is complete without one), so
    // the method's limits do not apply to it.
    let method = method.filter(|_| settlement.records_payment());
    if let Some(m) = &method {
        m.check_limits(settlement.paid, currency.digits())?;
    }
    let user_id = match input.user_id {
        Some(id) => Some(rows.user.ok_or_else(|| unknown(Named::User, id))?),
        None => rows.user,
    };
    let cash_box_id = choose_cash_box(input.cash_box_id, rows.cash_boxes)?;
    if let Some(t) = input.table_id
        && !rows.table
    {
        return Err(unknown(Named::Table, t).into());
    }
    let client_id = match &input.client {
        ClientInput::None | ClientInput::New(_) => None,
        ClientInput::Existing(id) if rows.client => Some(*id),
        ClientInput::Existing(id) => return Err(unknown(Named::Client, *id).into()),
    };
    Ok(CheckedSale {
        catalog_version: rows.version,
        lines,
        method,
        settlement,
        user_id,
        cash_box_id,
        client_id,
    })
}

/// Writes a sale that [`check_sale`] accepted, in the caller's transaction. The order is
/// written once, in its final state: about ten statements for a paid sale, and no
/// refusal once the first row is written.
pub fn write_sale(
    c: &mut dyn Conn,
    shop: &Shop,
    input: &SaleInput,
    checked: &CheckedSale,
) -> Result<OrderView, SaleFailure> {
    write_sale_in(c, &mut None, shop, input, checked)
}

/// [`write_sale`] in the write's lane, if any.
fn write_sale_in(
    c: &mut dyn Conn,
    lane: &mut Lane<'_>,
    shop: &Shop,
    input: &SaleInput,
    checked: &CheckedSale,
) -> Result<OrderView, SaleFailure> {
    let (settlement, method) = (checked.settlement, &checked.method);
    // The shop's counters first: whatever else this sale waits for (another process
    // creating the same web user), it then waits holding the only lock it takes.
    let (mut ledger, id, payment_id) = Ledger::open(c, lane, shop.id, true, method.is_some())?;
    let id = id.ok_or_else(|| StoreError::Decode("no order id drawn".into()))?;
    if settlement.status != SaleStatus::Pending {
        let value_date = input.value_date.unwrap_or_else(now_micros);
        crate::closings::refuse_if_closed_in(c, lane, shop.id, value_date)?;
    }
    let user_id = match checked.user_id {
        Some(id) => id,
        None => webservice_user(c, shop.id)?,
    };
    let client_id = match &input.client {
        ClientInput::New(k) => Some(crate::catalog::upsert_client(c, shop.id, k)?),
        _ => checked.client_id,
    };

    let now = now_micros();
    let mut order = new_order(
        id,
        shop.id,
        &checked.lines,
        input,
        user_id,
        checked.cash_box_id,
        client_id,
        None,
        now,
    );
    if settlement.status != SaleStatus::Pending {
        ledger.validate(&mut order, now);
    }
    match &method {
        Some(_) => settle_in_memory(&mut ledger, &mut order, settlement, now),
        // Validated with nothing to pay (a zero total): terminated at once.
        None if settlement.status == SaleStatus::Terminated => ledger.terminate(&mut order, now),
        None => {}
    }
    // The row goes in once, in its final state; the payment row then refers to it.
    let mut w = Writes::default();
    insert_order(&mut w, &order);
    if let (Some(m), Some(payment_id)) = (method, payment_id) {
        ledger.record_payment(&mut w, &mut order, m, payment_id, settlement.paid, now);
    }
    ledger.write(c, lane, w)?;
    Ok(order)
}
