//! Recording sales: an order, its lines and payments, the journal entries with their
//! seals, the outbox events and the idempotency record, all in the caller's transaction.
//! Also reading orders back, and the later steps: validate, pay, refund.

use crate::db::{Backend, Conn, Row, Value};
use crate::{StoreError, hex, now_micros, params, random_bytes};
use comptoir_core::cash_box::{CashBoxRow, choose_cash_box};
use comptoir_core::error::{ErrorCode, SaleError};
use comptoir_core::model::Shop;
use comptoir_core::money::Money;
use comptoir_core::order::{LineView, OrderView, PaymentView, parse_variations, variations_text};
use comptoir_core::payment::PaymentMethod;
use comptoir_core::quantity::Quantity;
use comptoir_core::refund::{check_refund_method, check_refundable, plan_refund};
use comptoir_core::sale::{
    CatalogDepartment, CatalogItem, CatalogVariation, MemoryCatalog, NewOrderLines, Payment,
    PaymentParam, SaleStatus, Settlement, apply_refund_method, build_lines, referenced_ids, settle,
};
pub use comptoir_core::sale_input::{ClientInput, SaleInput};
use comptoir_core::seal::{PaymentEntry, seal};
use comptoir_core::vat::VatRate;
use comptoir_core::{items_list, model::PaymentKind};
use std::collections::HashMap;

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

/// Checks the idempotency key: `Some(answer)` to replay, an error for a conflict.
pub fn check_idempotency(
    c: &mut dyn Conn,
    shop_id: i64,
    idem: &IdempotencyInput,
    field: &str,
) -> Result<Option<String>, SaleFailure> {
    let Some(row) = c.query_opt(
        "select request_hash, response, created_at from idempotency_keys
         where shop_id = $1 and idem_key = $2",
        params![shop_id, idem.key.as_str()],
    )?
    else {
        return Ok(None);
    };
    // An expired key is as good as unused: reading writes nothing, so that a request
    // refused afterwards leaves its batch alone; the record is replaced when saved.
    if row.i64(2)? < now_micros() - IDEMPOTENCY_WINDOW_MICROS {
        return Ok(None);
    }
    if row.str(0)? != idem.request_hash {
        return Err(SaleError::new(
            ErrorCode::IdempotencyConflict,
            field,
            "this key was already used with different parameters",
        )
        .into());
    }
    Ok(Some(row.string(1)?))
}

/// Waits for the shop's writes in other transactions to commit (PostgreSQL: the shop's
/// counter row, which every sale locks), so that a key they recorded is then visible.
/// SQLite's single writer needs nothing.
pub fn lock_shop(c: &mut dyn Conn, shop_id: i64) -> Result<(), StoreError> {
    if c.backend() == Backend::Postgres {
        c.query(
            "select 1 from shop_counters where shop_id = $1 for update",
            params![shop_id],
        )?;
    }
    Ok(())
}

/// Remembers the answer given to an idempotency key, in the transaction of the write,
/// in place of an expired record of the same key.
pub fn save_idempotency(
    c: &mut dyn Conn,
    shop_id: i64,
    idem: &IdempotencyInput,
    response: &str,
) -> Result<(), StoreError> {
    c.execute(
        "delete from idempotency_keys where shop_id = $1 and idem_key = $2 and created_at < $3",
        params![
            shop_id,
            idem.key.as_str(),
            now_micros() - IDEMPOTENCY_WINDOW_MICROS
        ],
    )?;
    c.execute(
        "insert into idempotency_keys (shop_id, idem_key, request_hash, response, created_at)
         values ($1, $2, $3, $4, $5)",
        params![
            shop_id,
            idem.key.as_str(),
            idem.request_hash.as_str(),
            response,
            now_micros()
        ],
    )?;
    Ok(())
}

/// Loads the catalog rows a sale's lines refer to.
fn load_catalog(
    c: &mut dyn Conn,
    shop: &Shop,
    specs: &[items_list::LineSpec],
) -> Result<MemoryCatalog, StoreError> {
    let ids = referenced_ids(specs);
    let mut cat = MemoryCatalog::new(shop.default_vat_rate, shop.prices_include_vat);
    // One statement for all the items (SQL texts per count of ids, each prepared once).
    let items: Vec<i64> = ids.items.into_iter().collect();
    for chunk in items.chunks(100) {
        let mut sql = String::from(
            "select i.id, i.name, i.price, i.department_id, coalesce(i.vat_rate, d.vat_rate),
                 i.active
             from items i join departments d on d.shop_id = i.shop_id and d.id = i.department_id
             where i.shop_id = ? and i.id in (?",
        );
        sql.push_str(&", ?".repeat(chunk.len() - 1));
        sql.push(')');
        let mut values = Vec::with_capacity(chunk.len() + 1);
        values.push(Value::I64(shop.id));
        values.extend(chunk.iter().map(|id| Value::I64(*id)));
        for r in c.query_cached(&numbered(&[&sql]), &values)? {
            cat.items.insert(
                r.i64(0)?,
                CatalogItem {
                    name: r.string(1)?,
                    unit_price: Money::from_minor(r.i64(2)?),
                    department_id: Some(r.i64(3)?),
                    vat_rate: rate(r.i64(4)?)?,
                    active: r.bool(5)?,
                },
            );
        }
    }
    for id in ids.variations {
        if let Some(r) = c.query_opt_cached(
            "select item_id, name, price_change from variations where shop_id = $1 and id = $2",
            params![shop.id, id],
        )? {
            cat.variations.insert(
                id,
                CatalogVariation {
                    item_id: r.i64(0)?,
                    name: r.string(1)?,
                    price_change: Money::from_minor(r.i64(2)?),
                },
            );
        }
    }
    for id in ids.departments {
        if let Some(r) = c.query_opt_cached(
            "select name, vat_rate from departments where shop_id = $1 and id = $2",
            params![shop.id, id],
        )? {
            cat.departments.insert(
                id,
                CatalogDepartment {
                    name: r.string(0)?,
                    vat_rate: rate(r.i64(1)?)?,
                },
            );
        }
    }
    Ok(cat)
}

fn rate(h: i64) -> Result<VatRate, StoreError> {
    VatRate::from_hundredths(h).ok_or_else(|| StoreError::Decode("invalid stored VAT rate".into()))
}

/// The shop's payment method `id`, or `unknown_payment_method` on `field`.
pub fn payment_method(
    c: &mut dyn Conn,
    shop_id: i64,
    id: i64,
    field: &str,
) -> Result<PaymentMethod, SaleFailure> {
    let row = c
        .query_opt_cached(
            "select name, kind, min_amount, max_amount from payment_methods
             where shop_id = $1 and id = $2",
            params![shop_id, id],
        )?
        .ok_or_else(|| {
            SaleError::new(
                ErrorCode::UnknownPaymentMethod,
                field,
                format!("payment method {id} does not exist in this shop"),
            )
        })?;
    Ok(PaymentMethod {
        id,
        name: row.string(0)?,
        kind: PaymentKind::parse(row.str(1)?)
            .map_err(|_| StoreError::Decode("invalid stored payment kind".into()))?,
        min_amount: row.opt_i64(2)?.map(Money::from_minor),
        max_amount: row.opt_i64(3)?.map(Money::from_minor),
    })
}

fn exists(c: &mut dyn Conn, table: &str, shop_id: i64, id: i64) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        &format!("select 1 from {table} where shop_id = $1 and id = $2"),
        params![shop_id, id],
    )?
    .is_some())
}

/// The shop's `webservice` user, if it exists yet.
fn find_webservice_user(c: &mut dyn Conn, shop_id: i64) -> Result<Option<i64>, StoreError> {
    c.query_opt_cached(
        "select id from users where shop_id = $1 and login = $2",
        params![shop_id, format!("webservice@shop-{shop_id}")],
    )?
    .map(|r| r.i64(0))
    .transpose()
}

/// The shop's `webservice` user, created on first use (it cannot sign in).
fn webservice_user(c: &mut dyn Conn, shop_id: i64) -> Result<i64, StoreError> {
    if let Some(id) = find_webservice_user(c, shop_id)? {
        return Ok(id);
    }
    let login = format!("webservice@shop-{shop_id}");
    // "!" is no argon2 hash: no password ever matches it. Concurrent first sales of a shop
    // (PostgreSQL) may all find no user: the insert waits for the one that wins, then
    // yields to it, and every sale reads the same user back.
    c.execute(
        "insert into users (shop_id, login, display_name, role, password_hash, created_at)
         values ($1, $2, 'webservice', $3, '!', $4) on conflict (login) do nothing",
        params![
            shop_id,
            login.as_str(),
            comptoir_core::model::Role::Cashier.as_str(),
            now_micros()
        ],
    )?;
    c.query_one(
        "select id from users where shop_id = $1 and login = $2",
        params![shop_id, login.as_str()],
    )?
    .i64(0)
}

/// The cash box of a sale: the rows [`choose_cash_box`] needs, loaded, then its rule.
fn cash_box(c: &mut dyn Conn, shop_id: i64, asked: Option<i64>) -> Result<i64, SaleFailure> {
    let rows = match asked {
        Some(id) => c.query_cached(
            "select id, is_open, name = 'Web', is_virtual from cash_boxes
             where shop_id = $1 and id = $2",
            params![shop_id, id],
        )?,
        None => c.query_cached(
            "select id, is_open, name = 'Web', is_virtual from cash_boxes where shop_id = $1",
            params![shop_id],
        )?,
    };
    // Decoded as the rule reads them, without collecting: the first bad row stops it.
    let mut bad = None;
    let boxes = rows.iter().map_while(|r| {
        let decoded = (|| {
            Ok::<_, StoreError>(CashBoxRow {
                id: r.i64(0)?,
                is_open: r.bool(1)?,
                is_web: r.bool(2)?,
                is_virtual: r.bool(3)?,
            })
        })();
        decoded.map_err(|e| bad = Some(e)).ok()
    });
    let chosen = choose_cash_box(asked, boxes);
    if let Some(e) = bad {
        return Err(e.into());
    }
    Ok(chosen?)
}

/// One sealed journal entry, waiting to be written by [`Ledger::close`].
struct JournalRow {
    seq: i64,
    kind: &'static str,
    order_id: i64,
    payment_id: Option<i64>,
    at: i64,
    seal: String,
}

/// The shop's counters for the length of one write: read once (and row-locked, on
/// PostgreSQL) before the first number or journal entry, advanced in memory, and written
/// back once by [`Ledger::close`] with the journal entries and outbox events they produced.
/// Concurrent writers of one shop queue on the counter row, so numbers and the chain stay
/// gapless; on SQLite the single writer already serialises them.
struct Ledger {
    shop_id: i64,
    next_number: i64,
    seq: i64,
    head: String,
    journal: Vec<JournalRow>,
    /// `(event type, order id, at)`.
    events: Vec<(&'static str, i64, i64)>,
}

impl Ledger {
    /// Reads (on PostgreSQL, locks) the shop's counters, with the ids of a new order and
    /// of a new payment when asked. The ids are the caller's alone: SQLite's single writer
    /// holds the write lock, PostgreSQL draws them from the sequences.
    fn open(
        c: &mut dyn Conn,
        shop_id: i64,
        order_id: bool,
        payment_id: bool,
    ) -> Result<(Ledger, Option<i64>, Option<i64>), StoreError> {
        // Later sales of a PostgreSQL lane's group: the counters are this transaction's
        // own (it holds the row), and ids come from a supply drawn ahead: no round trip.
        if let Some((next_number, seq, head)) = c.held_counters(shop_id) {
            let order = if order_id {
                c.drawn_id("orders")?
            } else {
                None
            };
            let payment = if payment_id {
                c.drawn_id("payments")?
            } else {
                None
            };
            if order.is_some() == order_id && payment.is_some() == payment_id {
                return Ok((Ledger::new(shop_id, next_number, seq, head), order, payment));
            }
        }
        let next_id = |table: &str| match c.backend() {
            Backend::Sqlite => format!(", (select coalesce(max(id), 0) + 1 from {table})"),
            Backend::Postgres => format!(", nextval(pg_get_serial_sequence('{table}', 'id'))"),
        };
        let mut sql = String::from("select next_order_number, journal_seq, journal_head");
        if order_id {
            sql.push_str(&next_id("orders"));
        }
        if payment_id {
            sql.push_str(&next_id("payments"));
        }
        sql.push_str(" from shop_counters where shop_id = $1");
        if c.backend() == Backend::Postgres {
            sql.push_str(" for update");
        }
        let row = c.query_one(&sql, params![shop_id])?;
        let ledger = Ledger::from_row(shop_id, &row)?;
        let order = if order_id { Some(row.i64(3)?) } else { None };
        let payment = if payment_id {
            Some(row.i64(3 + usize::from(order_id))?)
        } else {
            None
        };
        Ok((ledger, order, payment))
    }

    fn from_row(shop_id: i64, row: &Row) -> Result<Ledger, StoreError> {
        Ok(Ledger::new(
            shop_id,
            row.i64(0)?,
            row.i64(1)?,
            row.string(2)?,
        ))
    }

    fn new(shop_id: i64, next_number: i64, seq: i64, head: String) -> Ledger {
        Ledger {
            shop_id,
            next_number,
            seq,
            head,
            journal: Vec::with_capacity(2),
            events: Vec::with_capacity(2),
        }
    }

    /// Chains an entry whose canonical bytes `canonical(seq)` gives; returns its seal.
    fn append(
        &mut self,
        kind: &'static str,
        order_id: i64,
        payment_id: Option<i64>,
        at: i64,
        canonical: impl FnOnce(i64) -> Vec<u8>,
    ) -> String {
        self.seq += 1;
        let s = seal(&self.head, &canonical(self.seq));
        self.head.clone_from(&s);
        self.journal.push(JournalRow {
            seq: self.seq,
            kind,
            order_id,
            payment_id,
            at,
            seal: s.clone(),
        });
        s
    }

    /// Gives a pending order its number, validation time and seal; queues `validated`.
    fn validate(&mut self, order: &mut OrderView, at: i64) {
        order.number = Some(self.next_number);
        self.next_number += 1;
        order.validated_at = Some(at);
        order.status = SaleStatus::Validated;
        // The entry borrows the order: no copy of its lines for the seal.
        let s = self.append("order", order.id, None, at, |seq| {
            order.journal_entry(seq).canonical()
        });
        order.seal = Some(s);
        self.events.push(("validated", order.id, at));
    }

    /// Marks a validated order as paid in full at `at`; queues `terminated`.
    fn terminate(&mut self, order: &mut OrderView, at: i64) {
        order.status = SaleStatus::Terminated;
        order.terminated_at = Some(at);
        self.events.push(("terminated", order.id, at));
    }

    /// Writes payment `payment_id` of `amount` on an order written before it, and seals
    /// it. The order's paid amount and status are [`settle_in_memory`]'s.
    fn record_payment(
        &mut self,
        w: &mut Writes,
        order: &mut OrderView,
        method: &PaymentMethod,
        payment_id: i64,
        amount: Money,
        at: i64,
    ) {
        w.insert(
            "insert into payments (id, shop_id, order_id, payment_method_id, name, amount, at)",
            vec![
                Value::I64(payment_id),
                Value::I64(order.shop_id),
                Value::I64(order.id),
                Value::I64(method.id),
                Value::from(method.name.as_str()),
                Value::I64(amount.minor()),
                Value::I64(at),
            ],
            7,
        );
        self.append("payment", order.id, Some(payment_id), at, |seq| {
            PaymentEntry {
                shop_id: order.shop_id,
                seq,
                order_internal_id: order.id,
                payment_id,
                payment_method_id: method.id,
                amount: amount.minor(),
                at,
            }
            .canonical()
        });
        order.payments.push(PaymentView {
            id: payment_id,
            payment_method_id: method.id,
            name: method.name.clone(),
            amount,
            at,
        });
    }

    /// Adds the journal entries, the outbox events and the counters to `w`, runs it, and
    /// notes the counters on the connection (see [`Conn::held_counters`]).
    fn write(self, c: &mut dyn Conn, mut w: Writes) -> Result<(), StoreError> {
        let (shop_id, counters) = (
            self.shop_id,
            (self.next_number, self.seq, self.head.clone()),
        );
        let changed = self.close(&mut w);
        w.run(c)?;
        if changed {
            c.hold_counters(shop_id, counters);
        }
        Ok(())
    }

    /// Adds the journal entries, the outbox events and the counters to `w`; whether the
    /// counters changed.
    fn close(self, w: &mut Writes) -> bool {
        if self.journal.is_empty() && self.events.is_empty() {
            return false;
        }
        let mut values = Vec::with_capacity(self.journal.len() * 7);
        for j in self.journal {
            values.extend([
                Value::I64(self.shop_id),
                Value::I64(j.seq),
                Value::from(j.kind),
                Value::I64(j.order_id),
                Value::from(j.payment_id),
                Value::I64(j.at),
                Value::Text(j.seal),
            ]);
        }
        w.insert(
            "insert into journal (shop_id, seq, kind, order_id, payment_id, at, seal)",
            values,
            7,
        );
        let mut values = Vec::with_capacity(self.events.len() * 4);
        for (event, order_id, at) in &self.events {
            values.extend([
                Value::I64(self.shop_id),
                Value::from(*event),
                Value::I64(*order_id),
                Value::I64(*at),
            ]);
        }
        w.insert(
            "insert into outbox (shop_id, event_type, order_id, created_at)",
            values,
            4,
        );
        w.statement(
            "update shop_counters set next_order_number = ?, journal_seq = ?, journal_head = ?
             where shop_id = ?",
            vec![
                Value::I64(self.next_number),
                Value::I64(self.seq),
                Value::Text(self.head),
                Value::I64(self.shop_id),
            ],
        );
        true
    }
}

/// Applies a payment's settlement to the order in memory.
fn settle_in_memory(ledger: &mut Ledger, order: &mut OrderView, settlement: Settlement, at: i64) {
    order.paid = order.paid + settlement.paid;
    order.change = order.change + settlement.change;
    if settlement.status == SaleStatus::Terminated {
        ledger.terminate(order, at);
    }
}

/// The statements of a write, gathered to run together at its end: one after the other
/// on SQLite; on PostgreSQL as one statement, every part but the last in a `with` clause,
/// so that a sale's rows cost one round trip while it holds the shop's counter row.
/// Parts only refer to one another through foreign keys, which PostgreSQL checks once the
/// whole statement has run. Each part's text marks its parameters with `?`.
#[derive(Default)]
struct Writes {
    parts: Vec<(String, Vec<Value>)>,
}

/// Most parameters in one part: PostgreSQL takes at most 65,535 in a statement.
const MAX_PART_VALUES: usize = 11 * 100;

impl Writes {
    /// `values` as rows of `width` columns: `head` is `insert into TABLE (COLUMNS)`.
    fn insert(&mut self, head: &str, values: Vec<Value>, width: usize) {
        let mut values = values;
        while !values.is_empty() {
            let rest = values.split_off(values.len().min(MAX_PART_VALUES / width * width));
            let rows = values.len() / width;
            let mut sql = String::with_capacity(head.len() + 8 + rows * (width * 3 + 4));
            sql.push_str(head);
            sql.push_str(" values ");
            for r in 0..rows {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for col in 0..width {
                    sql.push_str(if col == 0 { "?" } else { ", ?" });
                }
                sql.push(')');
            }
            self.parts.push((sql, values));
            values = rest;
        }
    }

    fn statement(&mut self, sql: &str, values: Vec<Value>) {
        self.parts.push((sql.to_string(), values));
    }

    fn run(self, c: &mut dyn Conn) -> Result<(), StoreError> {
        match c.backend() {
            Backend::Sqlite => {
                for (sql, values) in self.parts {
                    c.execute(&numbered(&[&sql]), &values)?;
                }
            }
            Backend::Postgres => {
                let Some(((last, _), rest)) = self.parts.split_last() else {
                    return Ok(());
                };
                let mut texts: Vec<String> = rest
                    .iter()
                    .enumerate()
                    .map(|(i, (sql, _))| {
                        format!("{}w{i} as ({sql})", if i == 0 { "with " } else { ", " })
                    })
                    .collect();
                texts.push(format!(" {last}"));
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let values: Vec<Value> = self.parts.into_iter().flat_map(|(_, v)| v).collect();
                c.execute(&numbered(&texts), &values)?;
            }
        }
        Ok(())
    }
}

/// The texts joined, each `?` replaced by `$1`, `$2`… in order.
fn numbered(texts: &[&str]) -> String {
    let mut out = String::with_capacity(texts.iter().map(|t| t.len() * 2).sum());
    let mut n = 0u32;
    let mut digits = [0u8; 10];
    for t in texts {
        // `?` is ASCII: the pieces between them are whole characters.
        let mut pieces = t.split('?');
        if let Some(first) = pieces.next() {
            out.push_str(first);
        }
        for piece in pieces {
            n += 1;
            out.push('$');
            let mut i = digits.len();
            let mut v = n;
            loop {
                i -= 1;
                digits[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
            out.push_str(piece);
        }
    }
    out
}

/// The view of a new order (pending, unpaid), before it has a number or a row.
#[allow(clippy::too_many_arguments)]
fn new_order(
    id: i64,
    shop_id: i64,
    lines: &NewOrderLines,
    input: &SaleInput,
    user_id: i64,
    cash_box_id: i64,
    client_id: Option<i64>,
    refund_of: Option<i64>,
    now: i64,
) -> OrderView {
    let views = lines
        .lines()
        .iter()
        .enumerate()
        .map(|(i, l)| LineView {
            line_no: i as i64 + 1,
            item_id: l.item_id(),
            department_id: l.department_id(),
            title: l.title().to_string(),
            quantity: l.quantity(),
            unit_price: l.unit_price(),
            total: l.total(),
            vat_rate: l.vat_rate(),
            variations: l.variations().to_vec(),
        })
        .collect();
    OrderView {
        shop_id,
        id,
        number: None,
        status: SaleStatus::Pending,
        is_refund: lines.is_refund(),
        refund_of,
        created_at: now,
        validated_at: None,
        terminated_at: None,
        value_date: input.value_date.unwrap_or(now),
        user_id,
        cash_box_id,
        client_id,
        delivery_method: input.delivery_method,
        table_id: input.table_id,
        covers: input.covers,
        pager_num: input.pager_num.clone(),
        public_comment: input.public_comment.clone(),
        private_comment: input.private_comment.clone(),
        total: lines.total(),
        vat: lines.vat(),
        paid: Money::ZERO,
        change: Money::ZERO,
        invoice_token: format!("{shop_id}-{id}-{}", hex(&random_bytes::<16>())),
        seal: None,
        lines: views,
        payments: Vec::new(),
    }
}

/// Writes a new order's row, in the state it has in memory, and its lines.
fn insert_order(w: &mut Writes, o: &OrderView) {
    w.insert(
        "insert into orders (id, shop_id, number, status, is_refund, refund_of, created_at,
             validated_at, terminated_at, value_date, user_id, cash_box_id, client_id,
             delivery_method, table_id, covers, pager_num, public_comment, private_comment,
             total, vat, paid, change_given, invoice_token, seal)",
        vec![
            Value::I64(o.id),
            Value::I64(o.shop_id),
            Value::from(o.number),
            Value::from(o.status.as_str()),
            Value::Bool(o.is_refund),
            Value::from(o.refund_of),
            Value::I64(o.created_at),
            Value::from(o.validated_at),
            Value::from(o.terminated_at),
            Value::I64(o.value_date),
            Value::I64(o.user_id),
            Value::I64(o.cash_box_id),
            Value::from(o.client_id),
            Value::I64(o.delivery_method),
            Value::from(o.table_id),
            Value::from(o.covers),
            Value::from(o.pager_num.as_deref()),
            Value::from(o.public_comment.as_str()),
            Value::from(o.private_comment.as_str()),
            Value::I64(o.total.minor()),
            Value::I64(o.vat.minor()),
            Value::I64(o.paid.minor()),
            Value::I64(o.change.minor()),
            Value::from(o.invoice_token.as_str()),
            Value::from(o.seal.as_deref()),
        ],
        25,
    );
    let mut values = Vec::with_capacity(o.lines.len() * 11);
    for l in &o.lines {
        values.extend([
            Value::I64(o.shop_id),
            Value::I64(o.id),
            Value::I64(l.line_no),
            Value::from(l.item_id),
            Value::from(l.department_id),
            Value::from(l.title.as_str()),
            Value::I64(l.quantity.thousandths()),
            Value::I64(l.unit_price.minor()),
            Value::I64(l.total.minor()),
            Value::I64(l.vat_rate.hundredths()),
            Value::Text(variations_text(&l.variations)),
        ]);
    }
    w.insert(
        "insert into order_lines (shop_id, order_id, line_no, item_id, department_id, title,
             quantity, unit_price, total, vat_rate, variations)",
        values,
        11,
    );
}

/// Adds what validation and payments changed on an existing order's row to `w`.
fn update_order(w: &mut Writes, o: &OrderView) {
    w.statement(
        "update orders set number = ?, validated_at = ?, status = ?, seal = ?, paid = ?,
             change_given = ?, terminated_at = ?
         where shop_id = ? and id = ?",
        vec![
            Value::from(o.number),
            Value::from(o.validated_at),
            Value::from(o.status.as_str()),
            Value::from(o.seal.as_deref()),
            Value::I64(o.paid.minor()),
            Value::I64(o.change.minor()),
            Value::from(o.terminated_at),
            Value::I64(o.shop_id),
            Value::I64(o.id),
        ],
    );
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
    let currency = shop.currency;
    let specs = items_list::parse_list(&input.entries, currency).map_err(rejected_all)?;
    let catalog = load_catalog(c, shop, &specs)?;
    let mut lines = build_lines(&specs, &catalog).map_err(rejected_all)?;

    let method = match input.payment {
        PaymentParam::Method(id) => Some(payment_method(c, shop.id, id, "payment")?),
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
    if let Some(m) = &method {
        m.check_limits(settlement.paid, currency.digits())?;
    }
    let user_id = match input.user_id {
        Some(id) if exists(c, "users", shop.id, id)? => Some(id),
        Some(id) => {
            return Err(SaleError::new(
                ErrorCode::UnknownUser,
                "idUser",
                format!("user {id} does not exist in this shop"),
            )
            .into());
        }
        None => find_webservice_user(c, shop.id)?,
    };
    let cash_box_id = cash_box(c, shop.id, input.cash_box_id)?;
    if let Some(t) = input.table_id
        && !exists(c, "dining_tables", shop.id, t)?
    {
        return Err(SaleError::new(
            ErrorCode::UnknownTable,
            "idtable",
            format!("table {t} does not exist in this shop"),
        )
        .into());
    }
    let client_id = match &input.client {
        ClientInput::None => None,
        ClientInput::Existing(id) if exists(c, "clients", shop.id, *id)? => Some(*id),
        ClientInput::Existing(id) => {
            return Err(SaleError::new(
                ErrorCode::UnknownClient,
                "idClient",
                format!("client {id} does not exist in this shop"),
            )
            .into());
        }
        ClientInput::New(_) => None,
    };
    Ok(CheckedSale {
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
    let CheckedSale {
        lines,
        method,
        settlement,
        user_id,
        cash_box_id,
        client_id,
    } = checked;
    let settlement = *settlement;
    let cash_box_id = *cash_box_id;
    // The shop's counters first: whatever else this sale waits for (another process
    // creating the same web user), it then waits holding the only lock it takes.
    let (mut ledger, id, payment_id) = Ledger::open(c, shop.id, true, method.is_some())?;
    let id = id.ok_or_else(|| StoreError::Decode("no order id drawn".into()))?;
    let user_id = match user_id {
        Some(id) => *id,
        None => webservice_user(c, shop.id)?,
    };
    let client_id = match &input.client {
        ClientInput::New(k) => Some(crate::catalog::upsert_client(c, shop.id, k)?),
        _ => *client_id,
    };

    let now = now_micros();
    let mut order = new_order(
        id,
        shop.id,
        lines,
        input,
        user_id,
        cash_box_id,
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
    ledger.write(c, w)?;
    Ok(order)
}

fn order_from_row(r: &Row) -> Result<OrderView, StoreError> {
    let status = match r.str(2)? {
        "pending" => SaleStatus::Pending,
        "validated" => SaleStatus::Validated,
        "terminated" => SaleStatus::Terminated,
        other => return Err(StoreError::Decode(format!("invalid stored status {other}"))),
    };
    Ok(OrderView {
        shop_id: r.i64(0)?,
        id: r.i64(1)?,
        status,
        number: r.opt_i64(3)?,
        is_refund: r.bool(4)?,
        refund_of: r.opt_i64(5)?,
        created_at: r.i64(6)?,
        validated_at: r.opt_i64(7)?,
        terminated_at: r.opt_i64(8)?,
        value_date: r.i64(9)?,
        user_id: r.i64(10)?,
        cash_box_id: r.i64(11)?,
        client_id: r.opt_i64(12)?,
        delivery_method: r.i64(13)?,
        table_id: r.opt_i64(14)?,
        covers: r.opt_i64(15)?,
        pager_num: r.opt_string(16)?,
        public_comment: r.string(17)?,
        private_comment: r.string(18)?,
        total: Money::from_minor(r.i64(19)?),
        vat: Money::from_minor(r.i64(20)?),
        paid: Money::from_minor(r.i64(21)?),
        change: Money::from_minor(r.i64(22)?),
        invoice_token: r.string(23)?,
        seal: r.opt_string(24)?,
        lines: Vec::new(),
        payments: Vec::new(),
    })
}

/// The columns read by [`order_from_row`], for `from orders`.
pub const ORDER_SELECT: &str = "select shop_id, id, status, number, is_refund, refund_of,
    created_at, validated_at, terminated_at, value_date, user_id, cash_box_id, client_id,
    delivery_method, table_id, covers, pager_num, public_comment, private_comment, total, vat,
    paid, change_given, invoice_token, seal from orders";

/// Fills an order's lines and payments.
pub fn load_details(c: &mut dyn Conn, o: &mut OrderView) -> Result<(), StoreError> {
    o.lines = c
        .query(
            "select line_no, item_id, department_id, title, quantity, unit_price, total, vat_rate,
                 variations
             from order_lines where shop_id = $1 and order_id = $2 order by line_no",
            params![o.shop_id, o.id],
        )?
        .iter()
        .map(|r| {
            Ok(LineView {
                line_no: r.i64(0)?,
                item_id: r.opt_i64(1)?,
                department_id: r.opt_i64(2)?,
                title: r.string(3)?,
                quantity: Quantity::from_thousandths(r.i64(4)?)
                    .ok_or_else(|| StoreError::Decode("invalid stored quantity".into()))?,
                unit_price: Money::from_minor(r.i64(5)?),
                total: Money::from_minor(r.i64(6)?),
                vat_rate: rate(r.i64(7)?)?,
                variations: parse_variations(r.str(8)?),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    o.payments = c
        .query(
            "select id, payment_method_id, name, amount, at from payments
             where shop_id = $1 and order_id = $2 order by id",
            params![o.shop_id, o.id],
        )?
        .iter()
        .map(|r| {
            Ok(PaymentView {
                id: r.i64(0)?,
                payment_method_id: r.i64(1)?,
                name: r.string(2)?,
                amount: Money::from_minor(r.i64(3)?),
                at: r.i64(4)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(())
}

/// An order of the shop by its internal id, with lines and payments.
pub fn get_order(c: &mut dyn Conn, shop_id: i64, id: i64) -> Result<Option<OrderView>, StoreError> {
    let Some(row) = c.query_opt(
        &format!("{ORDER_SELECT} where shop_id = $1 and id = $2"),
        params![shop_id, id],
    )?
    else {
        return Ok(None);
    };
    let mut o = order_from_row(&row)?;
    load_details(c, &mut o)?;
    Ok(Some(o))
}

/// An order by its invoice token, with lines and payments. Tokens are
/// `SHOPID-ORDERID-HEX32`, found through the primary key; links handed out before
/// migration 3 are `SHOPID-HEX32`.
pub fn order_by_invoice_token(
    c: &mut dyn Conn,
    token: &str,
) -> Result<Option<OrderView>, StoreError> {
    let Some((shop, rest)) = token.split_once('-') else {
        return Ok(None);
    };
    let Ok(shop_id) = shop.parse::<i64>() else {
        return Ok(None);
    };
    let row = match rest.split_once('-') {
        Some((id, secret)) if secret.len() == 32 => {
            let Ok(id) = id.parse::<i64>() else {
                return Ok(None);
            };
            c.query_opt(
                &format!("{ORDER_SELECT} where shop_id = $1 and id = $2 and invoice_token = $3"),
                params![shop_id, id, token],
            )?
        }
        None if rest.len() == 32 => c.query_opt(
            &format!(
                "{ORDER_SELECT} where shop_id = $1 and invoice_token = $2
                   and invoice_token not like '%-%-%'"
            ),
            params![shop_id, token],
        )?,
        _ => None,
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let mut o = order_from_row(&row)?;
    load_details(c, &mut o)?;
    Ok(Some(o))
}

/// Filters of getOrders.php.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    /// true: validated and terminated orders; false: pending ones.
    pub validated: bool,
    /// Value dates (validated) or creation dates (pending) in `[from, to)`, microseconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub delivery_method: Option<i64>,
    pub cash_box_id: Option<i64>,
    pub user_id: Option<i64>,
}

/// Streams the shop's orders matching `f`, ordered by id, each with its details.
pub fn each_order(
    c: &mut dyn Conn,
    shop_id: i64,
    f: &OrderFilter,
    out: &mut dyn FnMut(OrderView) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let date_col = if f.validated {
        "value_date"
    } else {
        "created_at"
    };
    let status = if f.validated {
        "status <> 'pending'"
    } else {
        "status = 'pending'"
    };
    // Pages of headers, then each order's details: one cursor open at a time.
    // The casts type the optional filters: PostgreSQL cannot infer a type from `$2 is null`.
    let sql = format!(
        "{ORDER_SELECT} where shop_id = $1 and {status}
           and (cast($2 as bigint) is null or {date_col} >= $2)
           and (cast($3 as bigint) is null or {date_col} < $3)
           and (cast($4 as bigint) is null or delivery_method = $4)
           and (cast($5 as bigint) is null or cash_box_id = $5)
           and (cast($6 as bigint) is null or user_id = $6) and id > $7
         order by id limit 500"
    );
    let mut after = 0i64;
    loop {
        let page = c.query(
            &sql,
            params![
                shop_id,
                f.from,
                f.to,
                f.delivery_method,
                f.cash_box_id,
                f.user_id,
                after
            ],
        )?;
        if page.is_empty() {
            return Ok(());
        }
        for r in &page {
            let mut o = order_from_row(r)?;
            after = o.id;
            load_details(c, &mut o)?;
            out(o)?;
        }
    }
}

/// Validates a pending order (validateOrder.php); validating twice changes nothing.
pub fn validate_order(c: &mut dyn Conn, shop_id: i64, id: i64) -> Result<OrderView, SaleFailure> {
    // The shop's counters before the order: concurrent writers of the shop (another
    // process on PostgreSQL) have committed by then, so the order is read as it is.
    let (mut ledger, _, _) = Ledger::open(c, shop_id, false, false)?;
    let mut o = get_order(c, shop_id, id)?.ok_or_else(|| not_found(id))?;
    if o.status == SaleStatus::Pending {
        let now = now_micros();
        ledger.validate(&mut o, now);
        if o.total == Money::ZERO {
            ledger.terminate(&mut o, now);
        }
        let mut w = Writes::default();
        update_order(&mut w, &o);
        ledger.write(c, w)?;
    }
    Ok(o)
}

fn not_found(id: i64) -> SaleError {
    SaleError::new(
        ErrorCode::NotFound,
        "order_id",
        format!("order {id} does not exist in this shop"),
    )
}

/// Adds a payment (addPayment.php): validates a pending order first; terminates it when
/// the payments cover the total; a terminated order cannot be paid (409).
pub fn add_payment(
    c: &mut dyn Conn,
    shop: &Shop,
    id: i64,
    method_id: i64,
    amount: Option<Money>,
) -> Result<OrderView, SaleFailure> {
    // Counters (and on PostgreSQL the shop's lock) before the order is read.
    let (mut ledger, _, payment_id) = Ledger::open(c, shop.id, false, true)?;
    let payment_id = payment_id.ok_or_else(|| StoreError::Decode("no payment id drawn".into()))?;
    let mut o = get_order(c, shop.id, id)?.ok_or_else(|| not_found(id))?;
    if o.status == SaleStatus::Terminated {
        return Err(SaleError::new(
            ErrorCode::Conflict,
            "order_id",
            format!("order {id} is already paid in full"),
        )
        .into());
    }
    let method = payment_method(c, shop.id, method_id, "payment")?;
    let due = o.remaining();
    let settlement = settle(due, method.payment(), amount)?;
    method.check_limits(settlement.paid, shop.currency.digits())?;
    let now = now_micros();
    if o.status == SaleStatus::Pending {
        ledger.validate(&mut o, now);
    }
    settle_in_memory(&mut ledger, &mut o, settlement, now);
    let mut w = Writes::default();
    update_order(&mut w, &o);
    ledger.record_payment(&mut w, &mut o, &method, payment_id, settlement.paid, now);
    ledger.write(c, w)?;
    Ok(o)
}

/// Refunds an order (refundOrder.php): a new negative order of the whole order or of
/// `lines` (`(line_no, quantity)`), paid out with a refund method, dated now.
pub fn refund_order(
    c: &mut dyn Conn,
    shop: &Shop,
    id: i64,
    method_id: i64,
    lines: &[(i64, Option<Quantity>)],
) -> Result<OrderView, SaleFailure> {
    // Counters (and on PostgreSQL the shop's lock) before the order and its earlier
    // refunds are read, so that two refunds never both take the last units.
    let (mut ledger, id_new, payment_id) = Ledger::open(c, shop.id, true, true)?;
    let (Some(id_new), Some(payment_id)) = (id_new, payment_id) else {
        return Err(StoreError::Decode("no order or payment id drawn".into()).into());
    };
    let original = get_order(c, shop.id, id)?.ok_or_else(|| not_found(id))?;
    check_refundable(&original)?;
    let method = payment_method(c, shop.id, method_id, "payment")?;
    check_refund_method(&method)?;
    // What earlier refunds of this order already took back, per original line.
    let mut refunded: HashMap<i64, i64> = HashMap::new();
    for r in c.query(
        "select original_line, quantity from refund_lines where shop_id = $1 and original_order = $2",
        params![shop.id, id],
    )? {
        *refunded.entry(r.i64(0)?).or_default() += r.i64(1)?;
    }
    let refund_lines = plan_refund(&original, refunded, lines)?;
    let new_lines =
        NewOrderLines::from_lines(refund_lines.iter().map(|(_, l)| l.clone()).collect())?;
    let settlement = settle(new_lines.total(), Payment::Method { cash: false }, None)?;
    let input = SaleInput {
        user_id: Some(original.user_id),
        delivery_method: original.delivery_method,
        cash_box_id: Some(original.cash_box_id),
        private_comment: format!("refund of order {}", original.number.unwrap_or(original.id)),
        ..SaleInput::new(Vec::new(), PaymentParam::Method(method_id))
    };
    let now = now_micros();
    let mut order = new_order(
        id_new,
        shop.id,
        &new_lines,
        &input,
        original.user_id,
        original.cash_box_id,
        original.client_id,
        Some(original.id),
        now,
    );
    ledger.validate(&mut order, now);
    settle_in_memory(&mut ledger, &mut order, settlement, now);
    let mut w = Writes::default();
    insert_order(&mut w, &order);
    let mut values = Vec::with_capacity(refund_lines.len() * 6);
    for (i, (no, _)) in refund_lines.iter().enumerate() {
        values.extend([
            Value::I64(shop.id),
            Value::I64(id),
            Value::I64(*no),
            Value::I64(order.id),
            Value::I64(i as i64 + 1),
            Value::I64(-order.lines[i].quantity.thousandths()),
        ]);
    }
    w.insert(
        "insert into refund_lines (shop_id, original_order, original_line, refund_order,
             refund_line, quantity)",
        values,
        6,
    );
    ledger.record_payment(
        &mut w,
        &mut order,
        &method,
        payment_id,
        settlement.paid,
        now,
    );
    ledger.write(c, w)?;
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_across_parts() {
        assert_eq!(numbered(&["a ? b ?", "(?)", "none"]), "a $1 b $2($3)none");
        let many = "?,".repeat(12);
        assert_eq!(numbered(&[&many]).matches('$').count(), 12);
        assert!(numbered(&[&many]).ends_with("$11,$12,"));
        assert_eq!(numbered(&["é?ü"]), "é$1ü");
    }
}
