//! Re-verifying a shop's seal chain (`comptoir verify`): every seal is recomputed from the
//! rows that reports read (orders, order lines, payments), chained from the genesis seal,
//! and compared with the journal, the orders' copies, the counters and the numbering.

use crate::db::{Backend, Conn, Row};
use crate::{StoreError, params};
use comptoir_core::sale::SaleStatus;
use comptoir_core::seal::{GENESIS, PaymentEntry, seal};
use std::fmt;

/// What a journal entry seals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Order,
    Payment,
    /// A daily closing (core::closing); its canonical bytes are kept in `closings`.
    Closing,
}

impl EntryKind {
    /// The name stored in `journal.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Order => "order",
            EntryKind::Payment => "payment",
            EntryKind::Closing => "closing",
        }
    }
}

/// The journal entry a finding is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRef {
    pub seq: i64,
    pub kind: EntryKind,
    /// The order the entry seals (or the order of the payment it seals).
    pub order_internal_id: i64,
    /// The order's accounting number (`orderID`), when its row still has one.
    pub order_number: Option<i64>,
    pub payment_id: Option<i64>,
}

/// What is wrong with a shop's journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The entry's stored seal differs from the seal recomputed from the rows.
    SealMismatch { stored: String, recomputed: String },
    /// The journal holds the right seal, but the order row's copy of it differs.
    OrderSealMismatch {
        stored: Option<String>,
        recomputed: String,
    },
    /// A closing vouches for another journal head than the entry before it.
    ClosingHead { recorded: String, previous: String },
    /// Closings are numbered 1..N on consecutive days: closing `number` (of `day`) is
    /// not the `expected` one.
    ClosingGap {
        number: i64,
        expected: i64,
        day: String,
    },
    /// The closing was signed by another key than the one `verify` was given.
    ClosingKey { number: i64, key: String },
    /// The closing's signature does not sign its bytes.
    ClosingSignature { number: i64 },
    /// No journal entry of kind `closing` seals the closing.
    ClosingUnsealed { number: i64 },
    /// The closing's figures differ from those recomputed from the day's orders now.
    ClosingFigures { number: i64 },
    /// A monthly or yearly closing (`period`, of `label`, number `number` of its kind) is
    /// wrong: `fault` says how.
    PeriodClosing {
        period: &'static str,
        label: String,
        number: i64,
        fault: PeriodFault,
    },
    /// The order, payment or closing row that the entry seals no longer exists.
    MissingRow,
    /// The entry seals an order whose row says it is pending again.
    SealedButPending,
    /// Entries are numbered 1, 2, 3…; this one should have been `expected`.
    SeqGap { expected: i64 },
    /// The head kept in `shop_counters` is not the last entry's seal.
    HeadMismatch { stored: String, recomputed: String },
    /// `shop_counters` counts another number of entries than the journal holds.
    EntryCount { stored: i64, found: i64 },
    /// The validated orders' numbers are not 1..N: `expected` is missing.
    NumberGap { expected: i64, found: Option<i64> },
    /// The next number in `shop_counters` does not follow the last order's number.
    NextNumber { stored: i64, expected: i64 },
    /// A validated order that no journal entry seals.
    UnsealedOrder {
        order_internal_id: i64,
        order_number: Option<i64>,
    },
    /// A payment that no journal entry seals.
    UnsealedPayment {
        payment_id: i64,
        order_internal_id: i64,
    },
    /// The journal and the rows disagree on how many orders or payments are sealed.
    RowCount {
        what: &'static str,
        sealed: i64,
        rows: i64,
    },
}

impl Problem {
    /// A stable code for machine-readable output.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::SealMismatch { .. } => "seal_mismatch",
            Problem::OrderSealMismatch { .. } => "order_seal_mismatch",
            Problem::MissingRow => "missing_row",
            Problem::ClosingHead { .. } => "closing_head_mismatch",
            Problem::ClosingGap { .. } => "closing_gap",
            Problem::ClosingKey { .. } => "closing_key_mismatch",
            Problem::ClosingSignature { .. } => "closing_signature_invalid",
            Problem::ClosingUnsealed { .. } => "closing_unsealed",
            Problem::ClosingFigures { .. } => "closing_figures_mismatch",
            Problem::PeriodClosing { fault, .. } => match fault {
                PeriodFault::Gap { .. } => "closing_gap",
                PeriodFault::Key { .. } => "closing_key_mismatch",
                PeriodFault::Signature => "closing_signature_invalid",
                PeriodFault::Unsealed => "closing_unsealed",
                PeriodFault::Sum => "closing_sum_mismatch",
            },
            Problem::SealedButPending => "sealed_but_pending",
            Problem::SeqGap { .. } => "entry_missing",
            Problem::HeadMismatch { .. } => "head_mismatch",
            Problem::EntryCount { .. } => "entry_count_mismatch",
            Problem::NumberGap { .. } => "number_gap",
            Problem::NextNumber { .. } => "next_number_mismatch",
            Problem::UnsealedOrder { .. } => "unsealed_order",
            Problem::UnsealedPayment { .. } => "unsealed_payment",
            Problem::RowCount { .. } => "row_count_mismatch",
        }
    }

    /// The stored and the recomputed seal, for the problems that compare seals.
    pub fn seals(&self) -> Option<(Option<&str>, &str)> {
        match self {
            Problem::SealMismatch { stored, recomputed }
            | Problem::HeadMismatch { stored, recomputed } => {
                Some((Some(stored.as_str()), recomputed.as_str()))
            }
            Problem::OrderSealMismatch { stored, recomputed } => {
                Some((stored.as_deref(), recomputed.as_str()))
            }
            _ => None,
        }
    }
}

/// What is wrong with a monthly or yearly closing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeriodFault {
    /// Not the next of its kind (numbers 1..N on consecutive periods from the one holding
    /// the first closed day): `expected` is the number that should come.
    Gap { expected: i64 },
    /// Signed by another key than the one `verify` was given.
    Key { key: String },
    /// Its signature does not sign its bytes.
    Signature,
    /// No journal entry of kind `closing` seals it.
    Unsealed,
    /// Its figures are not the sum of its days' (months') closings, its last day (month)
    /// is not closed, or its grand totals are not those of its last day (month).
    Sum,
}

/// The first thing found wrong, and how far the walk got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// The entry concerned, when the problem belongs to one entry.
    pub entry: Option<EntryRef>,
    pub problem: Problem,
    /// Entries whose seal was recomputed and found right before this finding.
    pub entries_checked: i64,
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every seal, the head, the counters and the numbering agree.
    Intact {
        entries: i64,
        head: String,
    },
    Broken(Box<Break>),
}

impl fmt::Display for EntryRef {
    /// `order 5, orderInternalID 12` or `payment 3 of order 5, orderInternalID 12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == EntryKind::Closing {
            return f.write_str("a closing");
        }
        if let Some(p) = self.payment_id {
            write!(f, "payment {p} of ")?;
        }
        match self.order_number {
            Some(n) => write!(f, "order {n}, orderInternalID {}", self.order_internal_id),
            None => write!(f, "orderInternalID {}", self.order_internal_id),
        }
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.entry {
            write!(f, "chain broken at entry {} ({e}): ", e.seq)?;
        }
        match &self.problem {
            Problem::SealMismatch { stored, recomputed } => write!(
                f,
                "stored seal {stored} does not match the recomputed {recomputed}"
            ),
            Problem::OrderSealMismatch { stored, recomputed } => write!(
                f,
                "the order's seal {} does not match the recomputed {recomputed}",
                stored.as_deref().unwrap_or("(none)")
            ),
            Problem::MissingRow => match self.entry.as_ref().map(|e| e.kind) {
                Some(EntryKind::Payment) => f.write_str("the sealed payment row is missing"),
                Some(EntryKind::Closing) => f.write_str("the sealed closing row is missing"),
                _ => f.write_str("the sealed order row is missing"),
            },
            Problem::ClosingHead { recorded, previous } => write!(
                f,
                "the closing records the head {recorded} but the entry before it seals {previous}"
            ),
            Problem::ClosingGap {
                number,
                expected,
                day,
            } => write!(
                f,
                "closing {number} ({day}) breaks the sequence of daily closings: expected closing {expected} of the day after the previous one"
            ),
            Problem::ClosingKey { number, key } => write!(
                f,
                "closing {number} is signed by the key {key}, not by the given public key"
            ),
            Problem::ClosingSignature { number } => write!(
                f,
                "closing {number}: the signature does not match its recorded figures"
            ),
            Problem::ClosingUnsealed { number } => {
                write!(f, "closing {number} has no closing entry in the journal")
            }
            Problem::ClosingFigures { number } => write!(
                f,
                "closing {number}: its figures differ from the day's orders as they are now (a sale of a closed day was changed, added or removed)"
            ),
            Problem::PeriodClosing {
                period,
                label,
                number,
                fault,
            } => {
                write!(f, "{period} closing {number} ({label}): ")?;
                match fault {
                    PeriodFault::Gap { expected } => write!(
                        f,
                        "breaks the sequence of {period}ly closings: expected closing {expected} of the {period} after the previous one (the first of the first closed day)"
                    ),
                    PeriodFault::Key { key } => {
                        write!(f, "signed by the key {key}, not by the given public key")
                    }
                    PeriodFault::Signature => {
                        f.write_str("the signature does not match its recorded figures")
                    }
                    PeriodFault::Unsealed => f.write_str("no closing entry in the journal"),
                    PeriodFault::Sum => f.write_str(
                        "its figures are not the sum of the closings it covers as they are stored now",
                    ),
                }
            }
            Problem::SealedButPending => {
                f.write_str("the sealed order is marked pending in the orders table")
            }
            Problem::SeqGap { expected } => {
                write!(f, "entry {expected} is missing from the journal")
            }
            Problem::HeadMismatch { stored, recomputed } => write!(
                f,
                "chain head in shop_counters {stored} does not match the last entry's seal {recomputed}"
            ),
            Problem::EntryCount { stored, found } => write!(
                f,
                "shop_counters counts {stored} journal entries but the journal holds {found}"
            ),
            Problem::NumberGap { expected, found } => match found {
                Some(n) => write!(
                    f,
                    "order numbers have a gap: orderID {expected} is missing (found {n})"
                ),
                None => write!(f, "order numbers have a gap: orderID {expected} is missing"),
            },
            Problem::NextNumber { stored, expected } => write!(
                f,
                "the next order number in shop_counters is {stored} but should be {expected}"
            ),
            Problem::UnsealedOrder {
                order_internal_id,
                order_number,
            } => match order_number {
                Some(n) => write!(
                    f,
                    "order {n} (orderInternalID {order_internal_id}) is validated but no journal entry seals it"
                ),
                None => write!(
                    f,
                    "orderInternalID {order_internal_id} is validated but has no number and no journal entry"
                ),
            },
            Problem::UnsealedPayment {
                payment_id,
                order_internal_id,
            } => write!(
                f,
                "payment {payment_id} of orderInternalID {order_internal_id} has no journal entry"
            ),
            Problem::RowCount { what, sealed, rows } => write!(
                f,
                "the journal seals {sealed} {what} but the database holds {rows}"
            ),
        }
    }
}

/// Journal rows read per query: memory stays flat whatever the journal's length.
const PAGE: i64 = 500;

struct JournalRow {
    seq: i64,
    kind: EntryKind,
    order_id: i64,
    payment_id: Option<i64>,
    seal: String,
}

fn journal_row(r: &Row) -> Result<JournalRow, StoreError> {
    let kind = match r.str(1)? {
        "order" => EntryKind::Order,
        "payment" => EntryKind::Payment,
        "closing" => EntryKind::Closing,
        other => {
            return Err(StoreError::Decode(format!(
                "journal: invalid entry kind {other}"
            )));
        }
    };
    Ok(JournalRow {
        seq: r.i64(0)?,
        kind,
        order_id: r.i64(2)?,
        payment_id: r.opt_i64(3)?,
        seal: r.string(4)?,
    })
}

/// What checking one entry found: its recomputed seal, or a problem.
enum Checked {
    Sealed(String),
    Broken(EntryRef, Problem),
}

fn order_number(c: &mut dyn Conn, shop_id: i64, id: i64) -> Result<Option<i64>, StoreError> {
    Ok(c.query_opt(
        "select number from orders where shop_id = $1 and id = $2",
        params![shop_id, id],
    )?
    .map(|r| r.opt_i64(0))
    .transpose()?
    .flatten())
}

/// Recomputes one entry's seal from the rows, chained on `previous`.
fn check_entry(
    c: &mut dyn Conn,
    shop_id: i64,
    j: &JournalRow,
    previous: &str,
) -> Result<Checked, StoreError> {
    let mut at = EntryRef {
        seq: j.seq,
        kind: j.kind,
        order_internal_id: j.order_id,
        order_number: None,
        payment_id: j.payment_id,
    };
    match j.kind {
        EntryKind::Order => {
            let Some(order) = crate::sales::get_order(c, shop_id, j.order_id)? else {
                return Ok(Checked::Broken(at, Problem::MissingRow));
            };
            at.order_number = order.number;
            let recomputed = seal(previous, &order.journal_entry(j.seq).canonical());
            if recomputed != j.seal {
                return Ok(Checked::Broken(
                    at,
                    Problem::SealMismatch {
                        stored: j.seal.clone(),
                        recomputed,
                    },
                ));
            }
            if order.seal.as_deref() != Some(recomputed.as_str()) {
                return Ok(Checked::Broken(
                    at,
                    Problem::OrderSealMismatch {
                        stored: order.seal,
                        recomputed,
                    },
                ));
            }
            if order.status == SaleStatus::Pending {
                return Ok(Checked::Broken(at, Problem::SealedButPending));
            }
            Ok(Checked::Sealed(recomputed))
        }
        EntryKind::Payment => {
            let row = match j.payment_id {
                Some(id) => c.query_opt(
                    "select order_id, payment_method_id, amount, at from payments
                     where shop_id = $1 and id = $2",
                    params![shop_id, id],
                )?,
                None => None,
            };
            let (Some(r), Some(payment_id)) = (row, j.payment_id) else {
                at.order_number = order_number(c, shop_id, j.order_id)?;
                return Ok(Checked::Broken(at, Problem::MissingRow));
            };
            // The payment row's own order id is sealed, not the journal's copy of it.
            let entry = PaymentEntry {
                shop_id,
                seq: j.seq,
                order_internal_id: r.i64(0)?,
                payment_id,
                payment_method_id: r.i64(1)?,
                amount: r.i64(2)?,
                at: r.i64(3)?,
            };
            let recomputed = seal(previous, &entry.canonical());
            if recomputed != j.seal {
                at.order_internal_id = entry.order_internal_id;
                at.order_number = order_number(c, shop_id, entry.order_internal_id)?;
                return Ok(Checked::Broken(
                    at,
                    Problem::SealMismatch {
                        stored: j.seal.clone(),
                        recomputed,
                    },
                ));
            }
            Ok(Checked::Sealed(recomputed))
        }
        EntryKind::Closing => {
            let Some(entry) = crate::closings::entry_at(c, shop_id, j.seq)? else {
                return Ok(Checked::Broken(at, Problem::MissingRow));
            };
            let recomputed = seal(previous, entry.as_bytes());
            if recomputed != j.seal {
                return Ok(Checked::Broken(
                    at,
                    Problem::SealMismatch {
                        stored: j.seal.clone(),
                        recomputed,
                    },
                ));
            }
            // The seal covers the recorded head, but only this compares it with the chain.
            let recorded = serde_json::from_str::<serde_json::Value>(&entry)
                .ok()
                .and_then(|v| v["head"].as_str().map(str::to_string))
                .unwrap_or_default();
            if recorded != previous {
                return Ok(Checked::Broken(
                    at,
                    Problem::ClosingHead {
                        recorded,
                        previous: previous.to_string(),
                    },
                ));
            }
            Ok(Checked::Sealed(recomputed))
        }
    }
}

fn count(c: &mut dyn Conn, sql: &str, shop_id: i64) -> Result<i64, StoreError> {
    c.query_one(sql, params![shop_id])?.i64(0)
}

fn broken(entries_checked: i64, entry: Option<EntryRef>, problem: Problem) -> Verification {
    Verification::Broken(Box::new(Break {
        entry,
        problem,
        entries_checked,
    }))
}

/// Walks the shop's journal in order and recomputes every seal from the orders, order
/// lines and payments rows, chaining from [`GENESIS`] with the recomputed seals; then
/// checks the head and counters in `shop_counters`, that every validated order and every
/// payment is sealed, and that the validated orders are numbered 1..N without a gap.
/// Reads only; see [`verify_snapshot`] to read while a server writes.
pub fn verify(c: &mut dyn Conn, shop_id: i64) -> Result<Verification, StoreError> {
    verify_pinned(c, shop_id, None)
}

/// [`verify`], then every daily closing (store::closings::check_all): signatures by
/// `public_key` when given (else by the key each closing names), gapless numbering and
/// days, and figures that still match the days' orders.
pub fn verify_pinned(
    c: &mut dyn Conn,
    shop_id: i64,
    public_key: Option<&str>,
) -> Result<Verification, StoreError> {
    let mut head = GENESIS.to_string();
    let mut entries = 0i64;
    let mut order_entries = 0i64;
    let mut payment_entries = 0i64;
    loop {
        let page = c.query(
            "select seq, kind, order_id, payment_id, seal from journal
             where shop_id = $1 and seq > $2 order by seq limit $3",
            params![shop_id, entries, PAGE],
        )?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            let j = journal_row(r)?;
            if j.seq != entries + 1 {
                let at = EntryRef {
                    seq: j.seq,
                    kind: j.kind,
                    order_internal_id: j.order_id,
                    order_number: order_number(c, shop_id, j.order_id)?,
                    payment_id: j.payment_id,
                };
                return Ok(broken(
                    entries,
                    Some(at),
                    Problem::SeqGap {
                        expected: entries + 1,
                    },
                ));
            }
            match check_entry(c, shop_id, &j, &head)? {
                Checked::Sealed(s) => head = s,
                Checked::Broken(at, problem) => return Ok(broken(entries, Some(at), problem)),
            }
            entries += 1;
            match j.kind {
                EntryKind::Order => order_entries += 1,
                EntryKind::Payment => payment_entries += 1,
                EntryKind::Closing => {}
            }
        }
    }

    let counters = c
        .query_opt(
            "select next_order_number, journal_seq, journal_head from shop_counters
             where shop_id = $1",
            params![shop_id],
        )?
        .ok_or(StoreError::NotFound)?;
    let stored_head = counters.string(2)?;
    if stored_head != head {
        return Ok(broken(
            entries,
            None,
            Problem::HeadMismatch {
                stored: stored_head,
                recomputed: head,
            },
        ));
    }
    let stored_seq = counters.i64(1)?;
    if stored_seq != entries {
        return Ok(broken(
            entries,
            None,
            Problem::EntryCount {
                stored: stored_seq,
                found: entries,
            },
        ));
    }
    if let Some(p) = check_rows(c, shop_id, order_entries, payment_entries)? {
        return Ok(broken(entries, None, p));
    }
    if let Some(p) = check_numbering(c, shop_id, counters.i64(0)?)? {
        return Ok(broken(entries, None, p));
    }
    if let Some(p) = crate::closings::check_all(c, shop_id, public_key)? {
        return Ok(broken(entries, None, p));
    }
    Ok(Verification::Intact { entries, head })
}

/// Every validated order and every payment has its journal entry.
fn check_rows(
    c: &mut dyn Conn,
    shop_id: i64,
    order_entries: i64,
    payment_entries: i64,
) -> Result<Option<Problem>, StoreError> {
    let validated = count(
        c,
        "select count(*) from orders where shop_id = $1 and status <> 'pending'",
        shop_id,
    )?;
    if validated != order_entries {
        // Only on a broken database: the anti-join names the culprit.
        if let Some(r) = c.query_opt(
            "select o.id, o.number from orders o
             where o.shop_id = $1 and o.status <> 'pending' and not exists (
                 select 1 from journal j
                 where j.shop_id = o.shop_id and j.kind = 'order' and j.order_id = o.id)
             order by o.id limit 1",
            params![shop_id],
        )? {
            return Ok(Some(Problem::UnsealedOrder {
                order_internal_id: r.i64(0)?,
                order_number: r.opt_i64(1)?,
            }));
        }
        return Ok(Some(Problem::RowCount {
            what: "orders",
            sealed: order_entries,
            rows: validated,
        }));
    }
    let payments = count(
        c,
        "select count(*) from payments where shop_id = $1",
        shop_id,
    )?;
    if payments != payment_entries {
        if let Some(r) = c.query_opt(
            "select p.id, p.order_id from payments p
             where p.shop_id = $1 and not exists (
                 select 1 from journal j
                 where j.shop_id = p.shop_id and j.kind = 'payment' and j.payment_id = p.id)
             order by p.id limit 1",
            params![shop_id],
        )? {
            return Ok(Some(Problem::UnsealedPayment {
                payment_id: r.i64(0)?,
                order_internal_id: r.i64(1)?,
            }));
        }
        return Ok(Some(Problem::RowCount {
            what: "payments",
            sealed: payment_entries,
            rows: payments,
        }));
    }
    Ok(None)
}

/// The numbers of validated orders are 1..N and the counter's next number is N + 1.
fn check_numbering(
    c: &mut dyn Conn,
    shop_id: i64,
    next: i64,
) -> Result<Option<Problem>, StoreError> {
    let r = c.query_one(
        "select count(*), coalesce(min(number), 0), coalesce(max(number), 0) from orders
         where shop_id = $1 and number is not null",
        params![shop_id],
    )?;
    let (n, min, max) = (r.i64(0)?, r.i64(1)?, r.i64(2)?);
    // Numbers are unique per shop (an index), so 1..N holds exactly when min = 1, max = N.
    if n > 0 && (min != 1 || max != n) {
        let mut expected = 1i64;
        let mut from = min.min(1);
        loop {
            let page = c.query(
                "select number from orders where shop_id = $1 and number >= $2
                 order by number limit $3",
                params![shop_id, from, PAGE],
            )?;
            if page.is_empty() {
                break;
            }
            for r in &page {
                let number = r.i64(0)?;
                if number != expected {
                    return Ok(Some(Problem::NumberGap {
                        expected,
                        found: Some(number),
                    }));
                }
                expected += 1;
                from = number + 1;
            }
        }
        return Ok(Some(Problem::NumberGap {
            expected,
            found: None,
        }));
    }
    if next != max + 1 {
        return Ok(Some(Problem::NextNumber {
            stored: next,
            expected: max + 1,
        }));
    }
    Ok(None)
}

/// [`verify`] inside one read-only snapshot, so a server writing meanwhile cannot make
/// the head look wrong. Takes a connection outside any transaction (`Store::read`).
pub fn verify_snapshot(c: &mut dyn Conn, shop_id: i64) -> Result<Verification, StoreError> {
    verify_snapshot_pinned(c, shop_id, None)
}

/// [`verify_pinned`] inside one read-only snapshot, as [`verify_snapshot`].
pub fn verify_snapshot_pinned(
    c: &mut dyn Conn,
    shop_id: i64,
    public_key: Option<&str>,
) -> Result<Verification, StoreError> {
    let begin = match c.backend() {
        Backend::Sqlite => "begin",
        Backend::Postgres => "begin isolation level repeatable read read only",
    };
    c.batch(begin)?;
    let r = verify_pinned(c, shop_id, public_key);
    let end = c.batch("rollback");
    let v = r?;
    end?;
    Ok(v)
}
