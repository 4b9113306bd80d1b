//! Refunds of a recorded order (refundOrder.php): core plans the lines, this writes them.

use super::*;

/// Refunds an order (refundOrder.php): a new negative order of the whole order or of
/// `lines` (`(line_no, quantity)`), paid out in full with a refund method, dated now.
pub fn refund_order(
    c: &mut dyn Conn,
    shop: &Shop,
    id: i64,
    method_id: i64,
    lines: &[(i64, Option<Quantity>)],
) -> Result<OrderView, SaleFailure> {
    refund_order_paying(c, shop, id, method_id, lines, None)
}

/// [`refund_order`] paying out `amount` (`paymentAmount`): `None` pays out the refund in
/// full, zero records a credit note without a payout. A payout never exceeds what the
/// order received less what its refunds already paid out (`refund_exceeds_received`).
pub fn refund_order_paying(
    c: &mut dyn Conn,
    shop: &Shop,
    id: i64,
    method_id: i64,
    lines: &[(i64, Option<Quantity>)],
    amount: Option<Money>,
) -> Result<OrderView, SaleFailure> {
    let ask = RefundAsk {
        id,
        method_id,
        lines,
        amount,
    };
    refund_in(c, &mut None, shop, ask)
}

/// What a refund asks for: of order `id`, `lines` (all when empty), paid out with
/// `method_id`, `amount` (`None`: in full, zero: a credit note).
pub(super) struct RefundAsk<'a> {
    pub(super) id: i64,
    pub(super) method_id: i64,
    pub(super) lines: &'a [(i64, Option<Quantity>)],
    pub(super) amount: Option<Money>,
}

/// [`refund_order_paying`] in the write's lane, if any.
pub(super) fn refund_in(
    c: &mut dyn Conn,
    lane: &mut Lane<'_>,
    shop: &Shop,
    ask: RefundAsk<'_>,
) -> Result<OrderView, SaleFailure> {
    let RefundAsk {
        id,
        method_id,
        lines,
        amount,
    } = ask;
    // Counters (and on PostgreSQL the shop's lock) before the order and its earlier
    // refunds are read, so that two refunds never both take the last units.
    let (mut ledger, id_new, payment_id) = Ledger::open(c, lane, shop.id, true, true)?;
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
    let settlement = match amount {
        // A credit note: refunded, nothing paid out now.
        Some(a) if a == Money::ZERO => Settlement {
            paid: Money::ZERO,
            change: Money::ZERO,
            status: SaleStatus::Terminated,
        },
        _ => settle(new_lines.total(), Payment::Method { cash: false }, amount)?,
    };
    balance(c, &original)?.check_payout(settlement.paid, shop.currency.digits())?;
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
    w.insert(&REFUND_LINES, values);
    if settlement.records_payment() {
        ledger.record_payment(
            &mut w,
            &mut order,
            &method,
            payment_id,
            settlement.paid,
            now,
        );
    }
    ledger.write(c, lane, w)?;
    Ok(order)
}
