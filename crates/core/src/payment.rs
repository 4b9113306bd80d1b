//! The payment rules of a sale: the `payment` and `paymentAmount` parameters, what a
//! payment does to an order (settle), and a payment method's limits.

use crate::error::{ErrorCode, SaleError};
use crate::money::{Currency, Money};

/// The `payment` parameter of `webapp.php`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentParam {
    /// `-2`: not paid, not validated.
    Pending,
    /// `-1`: not paid, validated.
    Unpaid,
    /// The id of one of the shop's payment methods.
    Method(i64),
}

impl PaymentParam {
    /// Parses `-2`, `-1` or a positive method id; `None` (absent) is `missing_parameter`.
    pub fn parse(raw: Option<&str>) -> Result<PaymentParam, SaleError> {
        let Some(raw) = raw.map(str::trim) else {
            return Err(SaleError::new(
                ErrorCode::MissingParameter,
                "payment",
                "required: -2 (pending), -1 (validated, not paid) or a payment method id",
            ));
        };
        match raw {
            "-2" => Ok(PaymentParam::Pending),
            "-1" => Ok(PaymentParam::Unpaid),
            _ => raw
                .parse::<i64>()
                .ok()
                .filter(|&id| id > 0 && raw.bytes().all(|b| b.is_ascii_digit()))
                .map(PaymentParam::Method)
                .ok_or_else(|| {
                    let shown: String = raw.chars().take(40).collect();
                    SaleError::new(
                        ErrorCode::InvalidParameter,
                        "payment",
                        format_args!(
                            "expected -2 (pending), -1 (validated, not paid) or the id of one \
                             of the shop's payment methods, got {shown:?}"
                        ),
                    )
                }),
        }
    }
}

/// Parses `paymentAmount`: absent or empty means "the amount due".
pub fn parse_payment_amount(
    raw: Option<&str>,
    currency: Currency,
) -> Result<Option<Money>, SaleError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => Money::parse(text, currency.digits())
            .map(Some)
            .map_err(|e| {
                SaleError::new(
                    ErrorCode::InvalidParameter,
                    "paymentAmount",
                    format_args!("expected {e}"),
                )
            }),
    }
}

/// How an order is paid, once the payment method is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payment {
    /// `payment=-2`.
    Pending,
    /// `payment=-1`.
    Unpaid,
    /// A payment method; only a cash method may receive more than is due (change).
    Method { cash: bool },
}

/// The status of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SaleStatus {
    Pending,
    Validated,
    Terminated,
}

impl SaleStatus {
    /// `pending`, `validated`, `terminated`.
    pub fn as_str(self) -> &'static str {
        match self {
            SaleStatus::Pending => "pending",
            SaleStatus::Validated => "validated",
            SaleStatus::Terminated => "terminated",
        }
    }
}

/// What a payment does to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The amount of the payment recorded (what was handed over, change included), with
    /// the sign of the amount due; zero without a payment method.
    pub paid: Money,
    /// Given back in cash, same sign as `paid`; zero unless a cash method overpays.
    pub change: Money,
    pub status: SaleStatus,
}

impl Settlement {
    /// Whether the payment is recorded as a row: never a payment of 0.00. An order whose
    /// total (or what remains of it) is zero is settled without one.
    pub fn records_payment(&self) -> bool {
        self.paid != Money::ZERO
    }
}

/// The payment rules of `webapp.php` and `addPayment.php`.
///
/// `due` is the order total (or what remains to be paid). `amount` defaults to `due`.
/// For a refund (`due < 0`) the amount may be sent negative or unsigned: `10` and `-10`
/// both pay out 10. For a sale, a negative amount is `invalid_amount`. A zero amount
/// against a non-zero due is `invalid_amount` (use `payment=-1`). When `|amount| > |due|`
/// a cash method gives the difference as change, any other method is `invalid_amount`.
/// The order is terminated when `|paid| ≥ |due|`, else validated (partly paid). With
/// nothing due and no amount, nothing is paid ([`Settlement::records_payment`] is false).
/// `Pending` and `Unpaid` ignore `amount`; `Unpaid` with nothing due is terminated.
pub fn settle(
    due: Money,
    payment: Payment,
    amount: Option<Money>,
) -> Result<Settlement, SaleError> {
    let zero = |status| Settlement {
        paid: Money::ZERO,
        change: Money::ZERO,
        status,
    };
    let cash = match payment {
        Payment::Pending => return Ok(zero(SaleStatus::Pending)),
        Payment::Unpaid if due == Money::ZERO => return Ok(zero(SaleStatus::Terminated)),
        Payment::Unpaid => return Ok(zero(SaleStatus::Validated)),
        Payment::Method { cash } => cash,
    };
    let invalid = |detail: &str| SaleError::new(ErrorCode::InvalidAmount, "paymentAmount", detail);
    let overflow = || invalid("the amount is too large");
    let mut paid = amount.unwrap_or(due);
    if due.is_negative() && paid > Money::ZERO {
        paid = paid.checked_neg().ok_or_else(overflow)?;
    }
    if !due.is_negative() && paid.is_negative() {
        return Err(invalid(
            "a negative amount cannot pay a sale (negative amounts are for refunds)",
        ));
    }
    if paid == Money::ZERO && due != Money::ZERO {
        return Err(invalid(
            "a payment of zero records nothing: use payment=-1 for a validated, unpaid order",
        ));
    }
    // `paid` has the sign of `due` now (or is zero); compare magnitudes without `abs`,
    // which would overflow on `i64::MIN`.
    let more_than_due = if due.is_negative() {
        paid < due
    } else {
        paid > due
    };
    if more_than_due {
        if !cash {
            return Err(invalid(
                "more than the amount due is accepted only with a cash payment method \
                 (the difference is the change given)",
            ));
        }
        let change = paid.checked_sub(due).ok_or_else(overflow)?;
        return Ok(Settlement {
            paid,
            change,
            status: SaleStatus::Terminated,
        });
    }
    let status = if paid == due {
        SaleStatus::Terminated
    } else {
        SaleStatus::Validated
    };
    Ok(Settlement {
        paid,
        change: Money::ZERO,
        status,
    })
}

/// A payment method of the shop, as the payment rules need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: i64,
    pub name: String,
    pub kind: crate::model::PaymentKind,
    pub min_amount: Option<Money>,
    pub max_amount: Option<Money>,
}

impl PaymentMethod {
    /// How the payment rules see this method: only cash gives change.
    pub fn payment(&self) -> Payment {
        Payment::Method {
            cash: self.kind == crate::model::PaymentKind::Cash,
        }
    }

    /// The method's minimum and maximum amounts, on the magnitude of what is paid;
    /// `invalid_amount` on `paymentAmount` outside them.
    pub fn check_limits(&self, paid: Money, digits: u8) -> Result<(), SaleError> {
        let amount = paid.abs();
        let refuse = |bound: &str, limit: Money| {
            SaleError::new(
                ErrorCode::InvalidAmount,
                "paymentAmount",
                format_args!(
                    "{} accepts {bound} {}, got {}",
                    self.name,
                    limit.format(digits),
                    amount.format(digits)
                ),
            )
        };
        if let Some(min) = self.min_amount
            && amount < min
        {
            return Err(refuse("at least", min));
        }
        if let Some(max) = self.max_amount
            && amount > max
        {
            return Err(refuse("at most", max));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EUR: Currency = Currency::EUR;

    fn m(minor: i64) -> Money {
        Money::from_minor(minor)
    }

    #[test]
    fn payment_param() {
        assert_eq!(PaymentParam::parse(Some("-2")), Ok(PaymentParam::Pending));
        assert_eq!(PaymentParam::parse(Some(" -1")), Ok(PaymentParam::Unpaid));
        assert_eq!(PaymentParam::parse(Some("7")), Ok(PaymentParam::Method(7)));
        let e = PaymentParam::parse(None).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            (ErrorCode::MissingParameter, "payment")
        );
        for bad in ["", "0", "-3", "+7", "cash", "1.0", "99999999999999999999"] {
            let e = PaymentParam::parse(Some(bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{bad}");
        }
    }

    #[test]
    fn payment_amount_param() {
        assert_eq!(parse_payment_amount(None, EUR), Ok(None));
        assert_eq!(parse_payment_amount(Some(" "), EUR), Ok(None));
        assert_eq!(parse_payment_amount(Some("30,00"), EUR), Ok(Some(m(3000))));
        let e = parse_payment_amount(Some("3.001"), EUR).unwrap_err();
        assert_eq!(e.message, "paymentAmount: expected at most 2 decimals");
        assert_eq!(e.code, ErrorCode::InvalidParameter);
    }

    fn ok(due: i64, p: Payment, amount: Option<i64>) -> (i64, i64, SaleStatus) {
        let s = settle(m(due), p, amount.map(m)).unwrap();
        (s.paid.minor(), s.change.minor(), s.status)
    }

    fn refused(due: i64, p: Payment, amount: Option<i64>) -> SaleError {
        let e = settle(m(due), p, amount.map(m)).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            (ErrorCode::InvalidAmount, "paymentAmount")
        );
        e
    }

    const CASH: Payment = Payment::Method { cash: true };
    const CARD: Payment = Payment::Method { cash: false };

    #[test]
    fn payment_rules_for_sales() {
        use SaleStatus::*;
        assert_eq!(
            ok(2940, CASH, Some(3000)),
            (3000, 60, Terminated),
            "the spec example"
        );
        assert_eq!(ok(2940, CARD, None), (2940, 0, Terminated));
        assert_eq!(ok(2940, CARD, Some(2940)), (2940, 0, Terminated));
        assert_eq!(ok(2940, CARD, Some(1000)), (1000, 0, Validated));
        assert_eq!(ok(2940, Payment::Pending, Some(5)), (0, 0, Pending));
        assert_eq!(ok(2940, Payment::Unpaid, None), (0, 0, Validated));
        assert_eq!(ok(0, Payment::Unpaid, None), (0, 0, Terminated));
        assert_eq!(ok(0, CARD, None), (0, 0, Terminated));
        assert_eq!(ok(0, CASH, Some(100)), (100, 100, Terminated));
        assert!(
            refused(2940, CARD, Some(3000))
                .message
                .contains("only with a cash")
        );
        assert!(
            refused(2940, CASH, Some(-100))
                .message
                .contains("negative amount")
        );
        assert!(refused(2940, CASH, Some(0)).message.contains("payment=-1"));
        assert!(
            refused(0, CARD, Some(1))
                .message
                .contains("only with a cash")
        );
    }

    #[test]
    fn payment_rules_for_refunds_are_symmetric() {
        use SaleStatus::*;
        assert_eq!(ok(-2940, CARD, None), (-2940, 0, Terminated));
        assert_eq!(
            ok(-2940, CARD, Some(2940)),
            (-2940, 0, Terminated),
            "unsigned amount"
        );
        assert_eq!(ok(-2940, CARD, Some(-1000)), (-1000, 0, Validated));
        assert_eq!(ok(-2940, CASH, Some(-3000)), (-3000, -60, Terminated));
        refused(-2940, CARD, Some(-3000));
        refused(-2940, CARD, Some(0));
        assert_eq!(
            settle(m(-1), CARD, Some(m(i64::MIN))).unwrap_err().code,
            ErrorCode::InvalidAmount,
            "more than due, not cash"
        );
        assert_eq!(
            settle(m(1), CASH, Some(m(i64::MAX))).map(|s| s.change),
            Ok(m(i64::MAX - 1))
        );
        assert!(settle(m(-1), CASH, Some(m(i64::MIN))).is_ok());
    }

    #[test]
    fn statuses_print_as_in_the_spec() {
        assert_eq!(SaleStatus::Pending.as_str(), "pending");
        assert_eq!(SaleStatus::Validated.as_str(), "validated");
        assert_eq!(SaleStatus::Terminated.as_str(), "terminated");
        assert_eq!(
            ErrorCode::UnknownDepartment.to_string(),
            "unknown_department"
        );
    }

    #[test]
    fn method_limits_apply_to_the_magnitude_paid() {
        let method = PaymentMethod {
            id: 3,
            name: "Card".into(),
            kind: crate::model::PaymentKind::Card,
            min_amount: Some(m(100)),
            max_amount: Some(m(1000)),
        };
        assert!(method.check_limits(m(-500), 2).is_ok());
        let e = method.check_limits(m(50), 2).unwrap_err();
        assert_eq!(
            e.message,
            "paymentAmount: Card accepts at least 1.00, got 0.50"
        );
        let e = method.check_limits(m(-1001), 2).unwrap_err();
        assert_eq!(
            e.message,
            "paymentAmount: Card accepts at most 10.00, got 10.01"
        );
    }

    proptest! {
        #[test]
        fn settling_a_refund_mirrors_settling_a_sale(
            due in 1i64..1_000_000,
            amount in proptest::option::of(0i64..2_000_000),
            cash in any::<bool>(),
        ) {
            let p = Payment::Method { cash };
            let sale = settle(m(due), p, amount.map(m));
            let refund = settle(m(-due), p, amount.map(|a| m(-a)));
            match (sale, refund) {
                (Ok(s), Ok(r)) => {
                    prop_assert_eq!(r.paid, -s.paid);
                    prop_assert_eq!(r.change, -s.change);
                    prop_assert_eq!(r.status, s.status);
                    prop_assert!(s.paid - s.change <= m(due));
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (s, r) => prop_assert!(false, "asymmetric: {:?} vs {:?}", s, r),
            }
        }

    }
}
