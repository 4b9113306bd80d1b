//! Every delivery of an order's document (`/invoices/TOKEN.pdf`) is an issue: numbered per
//! order and document (0 the original, n duplicate n) and logged with its time and the
//! requester's address; a duplicate of an invoice or credit note is also an event.

use crate::db::Conn;
use crate::{StoreError, params};
use comptoir_core::event::{Event, Journal, NewEvent, Origin};

/// One issue of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub order_id: i64,
    /// `invoice`, `credit_note` or `quote`.
    pub document: String,
    /// 0 for the original, n for duplicate n.
    pub copy: i64,
    pub at: i64,
    pub address: Option<String>,
}

/// What is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    Invoice,
    CreditNote,
    /// A pending order's quote: logged, but not a fiscal document (no duplicate event).
    Quote,
}

impl Document {
    pub fn as_str(self) -> &'static str {
        match self {
            Document::Invoice => "invoice",
            Document::CreditNote => "credit_note",
            Document::Quote => "quote",
        }
    }
}

/// Records one issue of the order's document in the caller's transaction and returns its
/// copy number. The count is taken by one upsert on the document's row of
/// `invoice_copies` (a row lock on PostgreSQL, the one writer on SQLite), so concurrent
/// fetches never get the same number. A duplicate (copy ≥ 1) of an invoice or credit note
/// is also appended to the shop's events journal, in the same transaction.
pub fn issue(
    c: &mut dyn Conn,
    shop_id: i64,
    order_id: i64,
    number: Option<i64>,
    document: Document,
    at: i64,
    address: Option<&str>,
) -> Result<i64, StoreError> {
    let issued = c
        .query_one(
            "insert into invoice_copies (shop_id, order_id, document, issued)
             values ($1, $2, $3, 1)
             on conflict (shop_id, order_id, document)
             do update set issued = invoice_copies.issued + 1
             returning issued",
            params![shop_id, order_id, document.as_str()],
        )?
        .i64(0)?;
    let copy = issued - 1;
    c.execute(
        "insert into invoice_issues (shop_id, order_id, document, copy, at, address)
         values ($1, $2, $3, $4, $5, $6)",
        params![shop_id, order_id, document.as_str(), copy, at, address],
    )?;
    if copy > 0 && document != Document::Quote {
        crate::events::append(
            c,
            &NewEvent {
                journal: Journal::Shop(shop_id),
                at,
                origin: Origin {
                    actor: None,
                    address: address.map(str::to_string),
                },
                event: Event::InvoiceDuplicate {
                    order_internal_id: order_id,
                    number,
                    document: document.as_str().into(),
                    copy,
                },
            },
        )?;
    }
    Ok(copy)
}

/// The issues of one order's documents, oldest first.
pub fn issues(c: &mut dyn Conn, shop_id: i64, order_id: i64) -> Result<Vec<Issue>, StoreError> {
    c.query(
        "select order_id, document, copy, at, address from invoice_issues
         where shop_id = $1 and order_id = $2 order by at, document, copy",
        params![shop_id, order_id],
    )?
    .iter()
    .map(|r| {
        Ok(Issue {
            order_id: r.i64(0)?,
            document: r.string(1)?,
            copy: r.i64(2)?,
            at: r.i64(3)?,
            address: r.opt_string(4)?,
        })
    })
    .collect()
}
