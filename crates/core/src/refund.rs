//! The refund rules (refundOrder.php): which orders can be refunded, with which method,
//! and the plan of a refund's lines from the original's lines and what earlier refunds took.

use std::collections::HashMap;

use crate::error::{ErrorCode, SaleError};
use crate::model::PaymentKind;
use crate::money::Money;
use crate::order::OrderView;
use crate::payment::{PaymentMethod, SaleStatus};
use crate::quantity::Quantity;
use crate::sale::OrderLine;

/// An order can be refunded once validated, and a refund is not refunded again.
pub fn check_refundable(original: &OrderView) -> Result<(), SaleError> {
    let id = original.id;
    if original.status == SaleStatus::Pending {
        return Err(SaleError::new(
            ErrorCode::Conflict,
            "order_id",
            format_args!("order {id} is not validated: a pending order is changed, not refunded"),
        ));
    }
    if original.is_refund {
        return Err(SaleError::new(
            ErrorCode::InvalidAmount,
            "order_id",
            format_args!("order {id} is itself a refund"),
        ));
    }
    Ok(())
}

/// A refund is paid out with a method of kind *refund*.
pub fn check_refund_method(method: &PaymentMethod) -> Result<(), SaleError> {
    if method.kind != PaymentKind::Refund {
        return Err(SaleError::new(
            ErrorCode::InvalidParameter,
            "payment",
            format_args!("payment method {} is not a refund method", method.id),
        ));
    }
    Ok(())
}

/// The lines of a refund of `original`: every line (`asked` empty) or the `(line_no,
/// quantity)` asked (a missing quantity is the whole line), negated. `refunded` holds
/// what earlier refunds took back per original line, in thousandths; no line is refunded
/// beyond its quantity. Gives `(original line_no, refund line)` in the order asked.
pub fn plan_refund(
    original: &OrderView,
    mut refunded: HashMap<i64, i64>,
    asked: &[(i64, Option<Quantity>)],
) -> Result<Vec<(i64, OrderLine)>, SaleError> {
    let id = original.id;
    let line_of = |no: i64| original.lines.iter().find(|l| l.line_no == no);
    let wanted: Vec<(i64, Quantity)> = if asked.is_empty() {
        original
            .lines
            .iter()
            .map(|l| (l.line_no, l.quantity))
            .collect()
    } else {
        let mut v = Vec::with_capacity(asked.len());
        for (i, (no, qty)) in asked.iter().enumerate() {
            let line = line_of(*no).ok_or_else(|| {
                SaleError::new(
                    ErrorCode::InvalidParameter,
                    format!("lines[{i}]"),
                    format_args!("order {id} has no line {no}"),
                )
            })?;
            v.push((*no, qty.unwrap_or(line.quantity)));
        }
        v
    };
    let mut plan = Vec::with_capacity(wanted.len());
    for (i, (no, qty)) in wanted.iter().enumerate() {
        let Some(line) = line_of(*no) else {
            continue;
        };
        let already = refunded.get(no).copied().unwrap_or(0);
        let left = line.quantity.thousandths() - already;
        if qty.is_negative() || qty.thousandths() > left {
            let field = if asked.is_empty() {
                "order_id".to_string()
            } else {
                format!("lines[{i}]")
            };
            return Err(SaleError::new(
                ErrorCode::InvalidAmount,
                field,
                format_args!(
                    "line {no}: {} left to refund, asked {}",
                    Quantity::from_thousandths(left)
                        .map_or_else(|| "nothing".to_string(), |q| q.to_decimal_string()),
                    qty.to_decimal_string()
                ),
            ));
        }
        *refunded.entry(*no).or_default() += qty.thousandths();
        let refund_line = OrderLine::new(
            line.item_id,
            line.department_id,
            line.title.clone(),
            qty.neg(),
            line.unit_price,
            line.vat_rate,
            line.variations.clone(),
        )
        .ok_or_else(|| {
            SaleError::new(ErrorCode::InvalidAmount, "lines", "the refund is too large")
        })?;
        plan.push((*no, refund_line));
    }
    Ok(plan)
}

/// The money of an order and its refunds: the rule that a refund never pays out money
/// the order did not receive, and that the customer never pays more than is owed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// The order's total plus its refunds' totals (which are negative): what is owed.
    pub owed: Money,
    /// What the order's payments received, change given back deducted.
    pub received: Money,
    /// What its refunds paid out, as a positive amount.
    pub paid_out: Money,
}

impl Balance {
    /// The balance of `original`, given the sums over its refunds of their totals and of
    /// what they paid (payments less change, negative or zero).
    pub fn of(original: &OrderView, refunds_total: Money, refunds_paid: Money) -> Balance {
        Balance {
            owed: original.total + refunds_total,
            received: original.paid - original.change,
            paid_out: -refunds_paid,
        }
    }

    /// What can still be paid out: the money received and not yet paid back.
    pub fn refundable(&self) -> Money {
        self.received - self.paid_out
    }

    /// What the customer can still pay on the order: what is owed less what the shop
    /// holds. Zero or negative: nothing (a credit note may have made it negative).
    pub fn due(&self) -> Money {
        self.owed - self.refundable()
    }

    /// Refuses a refund that pays out `payout` (negative or zero) beyond
    /// [`Balance::refundable`]: `refund_exceeds_received` on `payment`.
    pub fn check_payout(&self, payout: Money, digits: u8) -> Result<(), SaleError> {
        let can = self.refundable().max(Money::ZERO);
        if -payout <= can {
            return Ok(());
        }
        Err(SaleError::new(
            ErrorCode::RefundExceedsReceived,
            "payment",
            format_args!(
                "the order received {} and its refunds paid out {}: a refund can pay out at \
                 most {}, not {} (paymentAmount=0 records a credit note without a payout)",
                self.received.format(digits),
                self.paid_out.format(digits),
                can.format(digits),
                (-payout).format(digits)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(minor: i64) -> Money {
        Money::from_minor(minor)
    }

    #[test]
    fn a_refund_pays_out_at_most_what_was_received_and_not_paid_back() {
        let b = Balance {
            owed: m(1000),
            received: m(400),
            paid_out: m(100),
        };
        assert_eq!(b.refundable(), m(300));
        assert_eq!(b.due(), m(700));
        assert!(b.check_payout(m(-300), 2).is_ok());
        assert!(b.check_payout(Money::ZERO, 2).is_ok());
        let e = b.check_payout(m(-301), 2).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            (ErrorCode::RefundExceedsReceived, "payment")
        );
    }
}
