//! The cash-box rule of a sale: the box asked for, or the shop's "Web" box; it must be open.

use crate::error::{ErrorCode, SaleError};

/// A cash box as the rule needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CashBoxRow {
    pub id: i64,
    pub is_open: bool,
    /// Named "Web".
    pub is_web: bool,
    pub is_virtual: bool,
}

/// The cash box of a sale. `asked`: the `idcaisse` sent, and `rows` then holds that box
/// if the shop has it; without one, `rows` holds all the shop's boxes and the "Web" box
/// is taken, else the first virtual one, else the first (lowest id).
pub fn choose_cash_box(
    asked: Option<i64>,
    rows: impl IntoIterator<Item = CashBoxRow>,
) -> Result<i64, SaleError> {
    // A shop has a few boxes: choosing here spares SQLite a sorter at every sale.
    let rank = |b: &CashBoxRow| (b.is_web, b.is_virtual, std::cmp::Reverse(b.id));
    let best = rows
        .into_iter()
        .fold(None::<CashBoxRow>, |best, b| match best {
            Some(x) if rank(&x) >= rank(&b) => Some(x),
            _ => Some(b),
        });
    let chosen = best.ok_or_else(|| match asked {
        Some(id) => SaleError::new(
            ErrorCode::UnknownCashbox,
            "idcaisse",
            format_args!("cash box {id} does not exist in this shop"),
        ),
        None => SaleError::new(
            ErrorCode::UnknownCashbox,
            "idcaisse",
            "the shop has no cash box",
        ),
    })?;
    if !chosen.is_open {
        return Err(SaleError::new(
            ErrorCode::CashboxClosed,
            "idcaisse",
            format_args!(
                "cash box {} is closed: open it before recording sales",
                chosen.id
            ),
        ));
    }
    Ok(chosen.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: i64, is_open: bool, is_web: bool, is_virtual: bool) -> CashBoxRow {
        CashBoxRow {
            id,
            is_open,
            is_web,
            is_virtual,
        }
    }

    #[test]
    fn the_web_box_then_a_virtual_one_then_the_first() {
        let boxes = [
            b(3, true, false, false),
            b(5, true, true, true),
            b(4, true, false, true),
        ];
        assert_eq!(choose_cash_box(None, boxes), Ok(5));
        assert_eq!(
            choose_cash_box(
                None,
                boxes[..1]
                    .iter()
                    .copied()
                    .chain([b(4, true, false, true), b(2, true, false, true)])
            ),
            Ok(2)
        );
        assert_eq!(
            choose_cash_box(None, [b(9, true, false, false), b(7, true, false, false)]),
            Ok(7)
        );
    }

    #[test]
    fn a_closed_or_missing_box_is_refused() {
        let e = choose_cash_box(Some(3), [b(3, false, false, false)]).unwrap_err();
        assert_eq!(e.code, ErrorCode::CashboxClosed);
        let e = choose_cash_box(Some(8), []).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                ErrorCode::UnknownCashbox,
                "idcaisse: cash box 8 does not exist in this shop"
            )
        );
        let e = choose_cash_box(None, []).unwrap_err();
        assert_eq!(e.message, "idcaisse: the shop has no cash box");
    }
}
