//! The later steps of an order: validateOrder.php and addPayment.php.

use super::*;

/// Validates a pending order (validateOrder.php); validating twice changes nothing.
pub fn validate_order(c: &mut dyn Conn, shop_id: i64, id: i64) -> Result<OrderView, SaleFailure> {
    validate_order_in(c, &mut None, shop_id, id)
}

/// [`validate_order`] in the write's lane, if any.
pub(super) fn validate_order_in(
    c: &mut dyn Conn,
    lane: &mut Lane<'_>,
    shop_id: i64,
    id: i64,
) -> Result<OrderView, SaleFailure> {
    // The shop's counters before the order: concurrent writers of the shop (another
    // process on PostgreSQL) have committed by then, so the order is read as it is.
    let (mut ledger, _, _) = Ledger::open(c, lane, shop_id, false, false)?;
    let mut o = get_order(c, shop_id, id)?.ok_or_else(|| not_found(id))?;
    if o.status == SaleStatus::Pending {
        crate::closings::refuse_if_closed_in(c, lane, shop_id, o.value_date)?;
        let now = now_micros();
        ledger.validate(&mut o, now);
        if o.total == Money::ZERO {
            ledger.terminate(&mut o, now);
        }
        let mut w = Writes::default();
        update_order(&mut w, &o);
        ledger.write(c, lane, w)?;
    }
    Ok(o)
}

pub(super) fn not_found(id: i64) -> SaleError {
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
    add_payment_in(c, &mut None, shop, id, method_id, amount)
}

/// [`add_payment`] in the write's lane, if any.
pub(super) fn add_payment_in(
    c: &mut dyn Conn,
    lane: &mut Lane<'_>,
    shop: &Shop,
    id: i64,
    method_id: i64,
    amount: Option<Money>,
) -> Result<OrderView, SaleFailure> {
    // Counters (and on PostgreSQL the shop's lock) before the order is read.
    let (mut ledger, _, payment_id) = Ledger::open(c, lane, shop.id, false, true)?;
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
    if o.status == SaleStatus::Pending {
        crate::closings::refuse_if_closed_in(c, lane, shop.id, o.value_date)?;
    }
    let method = payment_method(c, shop.id, method_id, "payment")?;
    let digits = shop.currency.digits();
    // What is due counts the order's refunds: a credit note lowers it, and the customer
    // never pays more than is owed. Paying out more on a refund is held to what its
    // original received.
    let (due, original) = match o.refund_of {
        None => {
            let due = balance(c, &o)?.due();
            if due.is_negative() {
                return Err(SaleError::new(
                    ErrorCode::Conflict,
                    "order_id",
                    format!("order {id} has nothing left to pay after its refunds"),
                )
                .into());
            }
            (due, None)
        }
        Some(of) => (o.remaining(), get_order(c, shop.id, of)?),
    };
    let settlement = settle(due, method.payment(), amount)?;
    if let Some(original) = &original {
        balance(c, original)?.check_payout(settlement.paid, digits)?;
    }
    if settlement.records_payment() {
        method.check_limits(settlement.paid, digits)?;
    }
    let now = now_micros();
    if o.status == SaleStatus::Pending {
        ledger.validate(&mut o, now);
    }
    settle_in_memory(&mut ledger, &mut o, settlement, now);
    let mut w = Writes::default();
    update_order(&mut w, &o);
    // A payment of 0.00 is never recorded: nothing was due.
    if settlement.records_payment() {
        ledger.record_payment(&mut w, &mut o, &method, payment_id, settlement.paid, now);
    }
    ledger.write(c, lane, w)?;
    Ok(o)
}
