//! The refund rules (refundOrder.php): which orders can be refunded, with which method,
//! and the plan of a refund's lines from the original's lines and what earlier refunds took.

use std::collections::HashMap;

use crate::error::{ErrorCode, SaleError};
use crate::model::PaymentKind;
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
