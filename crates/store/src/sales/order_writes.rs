//! The writes of the sales endpoints, under their idempotency key: a closed set
//! (`OrderWrite`) that the store runs without a savepoint, in group commit, choosing per
//! backend where a sale's checks read the shop's data.

use super::*;
use crate::Store;
use std::sync::Arc;

/// A write of the sales endpoints. Each checks everything before its first change and
/// changes only orders, their lines and payments, the journal, the outbox, the shop's
/// counters and idempotency records, never catalog rows, payment methods, users or cash
/// boxes (on SQLite, writes of the same batch read those from memory): that is what lets
/// them run without a savepoint of their own.
#[derive(Clone, Debug)]
pub enum OrderWrite {
    /// webapp.php.
    Sale(Arc<SaleInput>),
    /// validateOrder.php.
    Validate { order_id: i64 },
    /// addPayment.php.
    Pay {
        order_id: i64,
        method_id: i64,
        amount: Option<Money>,
    },
    /// refundOrder.php: every line, or `(line_no, quantity)`; `amount` is the payout
    /// (`None`: in full, zero: a credit note).
    Refund {
        order_id: i64,
        method_id: i64,
        lines: Vec<(i64, Option<Quantity>)>,
        amount: Option<Money>,
    },
}

/// What an order write answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// The answer given to the first request with this idempotency key.
    Replayed(String),
    /// The answer recorded with the request's idempotency key.
    Recorded(String),
    /// The order, to shape the answer from after the commit (no key to record it under).
    Order(Box<OrderView>),
}

/// How the answer of an order is written, for recording it under its key.
pub type Shape = Arc<dyn Fn(&OrderView) -> String + Send + Sync>;

/// What a write's checks found, handed to its write.
// Not boxed: a sale's checks must not cost an allocation more than they did.
#[allow(clippy::large_enum_variant)]
enum Checked {
    Sale(CheckedSale),
    Nothing,
}

impl OrderWrite {
    /// Whether the checks run on a reader connection before the write is queued.
    /// PostgreSQL: a sale's checks run on a pooled connection, outside the shop's lock,
    /// which then covers about half as many round trips. SQLite: in the single writer,
    /// where its few lookups cost less than handing the request to a reader thread and
    /// back (measured: 9,200 against 12,100 sales/s). The other writes check in the write.
    fn checks_on_reader(&self, backend: Backend) -> bool {
        matches!(self, OrderWrite::Sale(_)) && backend == Backend::Postgres
    }

    fn check(&self, c: &mut dyn Conn, shop: &Shop) -> Result<Checked, SaleFailure> {
        match self {
            OrderWrite::Sale(input) => Ok(Checked::Sale(check_sale(c, shop, input)?)),
            _ => Ok(Checked::Nothing),
        }
    }

    /// [`OrderWrite::check`] under the request's idempotency key: `Err(first answer)`
    /// to replay it. A sale's checks read the key's record with their own rows, and may
    /// read those from what the process remembers (`recall`).
    fn check_keyed(
        &self,
        c: &mut dyn Conn,
        shop: &Shop,
        idem: Option<&IdempotencyInput>,
        recall: Recall<'_>,
    ) -> Result<Result<Checked, String>, SaleFailure> {
        if let OrderWrite::Sale(input) = self {
            return Ok(check_sale_keyed(c, shop, input, idem, recall)?.map(Checked::Sale));
        }
        if let Some(i) = idem
            && let Some(first) = check_idempotency(c, shop.id, i, "idempotencyKey")?
        {
            return Ok(Err(first));
        }
        self.check(c, shop).map(Ok)
    }

    fn write(
        &self,
        c: &mut dyn Conn,
        lane: &mut Lane<'_>,
        shop: &Shop,
        checked: Checked,
    ) -> Result<OrderView, SaleFailure> {
        match (self, checked) {
            (OrderWrite::Sale(input), Checked::Sale(checked)) => {
                write_sale_in(c, lane, shop, input, &checked)
            }
            (OrderWrite::Sale(input), Checked::Nothing) => {
                let checked = check_sale(c, shop, input)?;
                write_sale_in(c, lane, shop, input, &checked)
            }
            (OrderWrite::Validate { order_id }, _) => {
                validate_order_in(c, lane, shop.id, *order_id)
            }
            (
                OrderWrite::Pay {
                    order_id,
                    method_id,
                    amount,
                },
                _,
            ) => add_payment_in(c, lane, shop, *order_id, *method_id, *amount),
            (
                OrderWrite::Refund {
                    order_id,
                    method_id,
                    lines,
                    amount,
                },
                _,
            ) => {
                let ask = RefundAsk {
                    id: *order_id,
                    method_id: *method_id,
                    lines,
                    amount: *amount,
                };
                refund_in(c, lane, shop, ask)
            }
        }
    }
}

impl Store {
    /// Runs `what` for `shop` under the request's idempotency key: replays the first
    /// answer, refuses a different request with the same key, records the answer (written
    /// by `shape`) with the write. Without a key the order is handed back, to be shaped
    /// after the commit, off the single writer.
    pub async fn write_order(
        &self,
        shop: &Shop,
        idem: Option<IdempotencyInput>,
        what: OrderWrite,
        shape: Shape,
    ) -> Result<Answer, SaleFailure> {
        let mut checked = None;
        let cache = self.check_cache();
        // Without a key, a sale whose rows the process remembers is checked here, with
        // no statement; its lane then compares the catalog version (see `in_lane`).
        if let (OrderWrite::Sale(input), None, Some(cache)) = (&what, &idem, &cache) {
            checked = check_remembered(cache, shop, input).map(Checked::Sale);
        }
        if checked.is_none() && what.checks_on_reader(self.backend()) {
            let (shop_r, idem_r, what_r) = (shop.clone(), idem.clone(), what.clone());
            let cache_r = cache.clone();
            // A replay answers what the first request got, whatever the checks say now.
            let found = self
                .read(move |c| {
                    let recall = cache_r.as_deref().map_or(Recall::Off, Recall::Answer);
                    what_r.check_keyed(c, &shop_r, idem_r.as_ref(), recall)
                })
                .await?;
            match found {
                Err(first) => {
                    // Read on a pooled connection: the first answer's commit may not be
                    // on disk yet (the lanes answer after their flush, not their commit).
                    self.durable().await?;
                    return Ok(Answer::Replayed(first));
                }
                Ok(c) => checked = Some(c),
            }
        }
        use crate::pg_writer::{JobKind, rolled_back_with_its_group};
        // A sale reads only the catalog, users, cash boxes, closings, idempotency records
        // and the counters its lane holds: never rows its group's other sales deferred.
        let kind = match what {
            OrderWrite::Sale(_) => JobKind::Sale,
            _ => JobKind::Other,
        };
        let first_try = in_lane(shop, &idem, &what, checked, &shape, cache.clone());
        let mut result = self.write_in_lane(shop.id, kind, first_try).await;
        // Rolled back for another write of its group (PostgreSQL): nothing of it was
        // committed. Once more, in a transaction of its own, checked anew there.
        if let Err(SaleFailure::Store(e)) = &result
            && rolled_back_with_its_group(e)
        {
            let again = in_lane(shop, &idem, &what, None, &shape, None);
            result = self.write_in_lane(shop.id, JobKind::Alone, again).await;
        }
        match (result, idem) {
            // Another process recorded this key between our check and our insert: replay it.
            (Err(SaleFailure::Store(e)), Some(i)) if e.is_unique_violation() => {
                let shop_id = shop.id;
                let first = self
                    .read(move |c| check_idempotency(c, shop_id, &i, "idempotencyKey"))
                    .await?;
                match first {
                    Some(body) => {
                        self.durable().await?;
                        Ok(Answer::Replayed(body))
                    }
                    None => Err(StoreError::Conflict("idempotency record vanished".into()).into()),
                }
            }
            (result, _) => result,
        }
    }
}

/// The write of `what` in a lane, under its idempotency key: replays the first answer,
/// or writes (checking first unless `checked`) and records the answer with the write.
/// A sale checked at another catalog version than the one the lane read with the shop's
/// counter row is checked again, and what `cache` remembers of the shop at an older
/// version is forgotten.
fn in_lane(
    shop: &Shop,
    idem: &Option<IdempotencyInput>,
    what: &OrderWrite,
    checked: Option<Checked>,
    shape: &Shape,
    cache: Option<Arc<CheckCache>>,
) -> impl FnOnce(&mut dyn Conn, Lane<'_>) -> Result<Answer, SaleFailure> + Send + 'static {
    let (shop, idem, what, shape) = (shop.clone(), idem.clone(), what.clone(), shape.clone());
    move |c, mut lane| {
        if let Some(i) = &idem {
            // Another process may be recording this key: its commit comes first,
            // then the key is seen here and replayed instead of failing on the
            // unique key.
            lock_shop(c, shop.id)?;
            if let Some(first) = check_idempotency(c, shop.id, i, "idempotencyKey")? {
                return Ok(Answer::Replayed(first));
            }
        }
        let held = lane.as_deref().and_then(|l| l.catalog_version(shop.id));
        let checked = match checked {
            Some(Checked::Sale(s)) if held.is_none() || s.catalog_version != held => {
                if let Some(cache) = &cache {
                    cache.checked_again(shop.id, held);
                }
                what.check(c, &shop)?
            }
            Some(checked) => checked,
            None => what.check(c, &shop)?,
        };
        let order = what.write(c, &mut lane, &shop, checked)?;
        let Some(i) = &idem else {
            return Ok(Answer::Order(Box::new(order)));
        };
        let body = shape(&order);
        save_idempotency(c, shop.id, i, &body)?;
        Ok(Answer::Recorded(body))
    }
}
