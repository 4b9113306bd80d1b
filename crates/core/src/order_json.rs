//! The one serde view of an order (spec: "An order in JSON"): webapp answers, order
//! downloads, webhooks and reports serialise it. Keys are in byte order, as the answers
//! have always printed them; numbers keep their exact text (`1.80`, `20.0`, `0.35`).

use crate::decimal::Fixed;
use crate::money::Money;
use crate::order::{LineView, OrderView, PaymentView, write_rfc3339};
use crate::quantity::Quantity;
use crate::sale::VatLine;
use crate::vat::VatRate;
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use std::fmt;

/// serde_json's name for a number kept as its text (feature `arbitrary_precision`): its
/// serializers write the text as is, and `to_value` keeps it as a `Number`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A fixed-point number serialised as its exact decimal text.
#[derive(Clone, Copy, Debug)]
pub struct ExactNumber(pub Fixed);

impl Serialize for ExactNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.with_str(|text| {
            let mut st = s.serialize_struct(NUMBER_TOKEN, 1)?;
            st.serialize_field(NUMBER_TOKEN, text)?;
            st.end()
        })
    }
}

/// Money with the currency's minor digits: `29.40`.
pub fn money(m: Money, digits: u8) -> ExactNumber {
    ExactNumber(Fixed::exact(m.minor(), digits))
}

/// A VAT rate: `20.0`, `5.5`.
pub fn rate(r: VatRate) -> ExactNumber {
    ExactNumber(Fixed::trimmed(r.hundredths(), 2))
}

/// A quantity, shortest: `2`, `0.35`.
pub fn quantity(q: Quantity) -> ExactNumber {
    ExactNumber(Fixed::shortest(q.thousandths(), 3))
}

/// A time as RFC 3339 in the shop's zone, written straight into the output.
#[derive(Clone, Copy)]
pub struct Time<'a> {
    micros: i64,
    tz: &'a jiff::tz::TimeZone,
}

impl fmt::Display for Time<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rfc3339(f, self.micros, self.tz)
    }
}

impl Serialize for Time<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The invoice link: `BASE/invoices/TOKEN.pdf`.
#[derive(Clone, Copy)]
struct InvoiceLink<'a> {
    base_url: &'a str,
    token: &'a str,
}

impl fmt::Display for InvoiceLink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/invoices/{}.pdf", self.base_url, self.token)
    }
}

impl Serialize for InvoiceLink<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One VAT rate of the breakdown.
#[derive(Serialize)]
struct VatJson {
    amount: ExactNumber,
    base: ExactNumber,
    rate: ExactNumber,
    total: ExactNumber,
}

/// One line.
#[derive(Serialize)]
struct LineJson<'a> {
    #[serde(rename = "departmentID")]
    department_id: Option<i64>,
    #[serde(rename = "itemID")]
    item_id: Option<i64>,
    quantity: ExactNumber,
    title: &'a str,
    total: ExactNumber,
    #[serde(rename = "unitPrice")]
    unit_price: ExactNumber,
    variations: &'a [i64],
    #[serde(rename = "vatRate")]
    vat_rate: ExactNumber,
}

/// One payment.
#[derive(Serialize)]
struct PaymentJson<'a> {
    amount: ExactNumber,
    at: Time<'a>,
    name: &'a str,
    #[serde(rename = "paymentMethodID")]
    payment_method_id: i64,
}

/// The lines, each shaped as it is written.
struct Lines<'a> {
    lines: &'a [LineView],
    digits: u8,
}

impl Serialize for Lines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.digits;
        s.collect_seq(self.lines.iter().map(|l| LineJson {
            department_id: l.department_id,
            item_id: l.item_id,
            quantity: quantity(l.quantity),
            title: &l.title,
            total: money(l.total, d),
            unit_price: money(l.unit_price, d),
            variations: &l.variations,
            vat_rate: rate(l.vat_rate),
        }))
    }
}

/// The payments, each shaped as it is written.
struct Payments<'a> {
    payments: &'a [PaymentView],
    digits: u8,
    tz: &'a jiff::tz::TimeZone,
}

impl Serialize for Payments<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.payments.iter().map(|p| PaymentJson {
            amount: money(p.amount, self.digits),
            at: Time {
                micros: p.at,
                tz: self.tz,
            },
            name: &p.name,
            payment_method_id: p.payment_method_id,
        }))
    }
}

/// The VAT breakdown.
struct Vats {
    vats: Vec<VatLine>,
    digits: u8,
}

impl Serialize for Vats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.digits;
        s.collect_seq(self.vats.iter().map(|v| VatJson {
            amount: money(v.amount, d),
            base: money(v.base, d),
            rate: rate(v.rate),
            total: money(v.total, d),
        }))
    }
}

/// An order as JSON: build it with [`OrderView::json`], serialise it with serde.
#[derive(Serialize)]
pub struct OrderJson<'a> {
    #[serde(rename = "PDFinvoice")]
    pdf_invoice: InvoiceLink<'a>,
    #[serde(rename = "VAT")]
    vat: ExactNumber,
    #[serde(rename = "VATs")]
    vats: Vats,
    #[serde(rename = "cashBoxID")]
    cash_box_id: i64,
    change: ExactNumber,
    #[serde(rename = "clientID")]
    client_id: Option<i64>,
    covers: Option<i64>,
    #[serde(rename = "createdAt")]
    created_at: Time<'a>,
    #[serde(rename = "deliveryMethod")]
    delivery_method: i64,
    #[serde(rename = "isRefund")]
    is_refund: bool,
    items: Lines<'a>,
    #[serde(rename = "orderID")]
    order_id: Option<i64>,
    #[serde(rename = "orderInternalID")]
    order_internal_id: i64,
    #[serde(rename = "pagerNum")]
    pager_num: Option<&'a str>,
    paid: ExactNumber,
    payments: Payments<'a>,
    price: ExactNumber,
    #[serde(rename = "privateComment")]
    private_comment: &'a str,
    #[serde(rename = "publicComment")]
    public_comment: &'a str,
    #[serde(rename = "refundOf")]
    refund_of: Option<i64>,
    /// `"OK"` in answers; left out of the objects of a download.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'static str>,
    seal: Option<&'a str>,
    status: &'static str,
    #[serde(rename = "tableID")]
    table_id: Option<i64>,
    #[serde(rename = "terminatedAt")]
    terminated_at: Option<Time<'a>>,
    #[serde(rename = "userID")]
    user_id: i64,
    #[serde(rename = "validatedAt")]
    validated_at: Option<Time<'a>>,
    #[serde(rename = "valueDate")]
    value_date: Time<'a>,
}

impl<'a> OrderJson<'a> {
    /// The view of `o`, with its VAT breakdown ([`OrderView::vats`]).
    pub(crate) fn new(
        o: &'a OrderView,
        digits: u8,
        tz: &'a jiff::tz::TimeZone,
        base_url: &'a str,
    ) -> OrderJson<'a> {
        let t = |micros: i64| Time { micros, tz };
        OrderJson {
            pdf_invoice: InvoiceLink {
                base_url,
                token: &o.invoice_token,
            },
            vat: money(o.vat, digits),
            vats: Vats {
                vats: o.vats(),
                digits,
            },
            cash_box_id: o.cash_box_id,
            change: money(o.change, digits),
            client_id: o.client_id,
            covers: o.covers,
            created_at: t(o.created_at),
            delivery_method: o.delivery_method,
            is_refund: o.is_refund,
            items: Lines {
                lines: &o.lines,
                digits,
            },
            order_id: o.number,
            order_internal_id: o.id,
            pager_num: o.pager_num.as_deref(),
            paid: money(o.paid, digits),
            payments: Payments {
                payments: &o.payments,
                digits,
                tz,
            },
            price: money(o.total, digits),
            private_comment: &o.private_comment,
            public_comment: &o.public_comment,
            refund_of: o.refund_of,
            result: Some("OK"),
            seal: o.seal.as_deref(),
            status: o.status.as_str(),
            table_id: o.table_id,
            terminated_at: o.terminated_at.map(t),
            user_id: o.user_id,
            validated_at: o.validated_at.map(t),
            value_date: t(o.value_date),
        }
    }

    /// The same view without `"result":"OK"`: an order inside a download.
    pub fn without_result(mut self) -> OrderJson<'a> {
        self.result = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{exact_number, money_json, rate_json};
    use proptest::prelude::*;

    /// What serde_json writes for an exact number of the view.
    fn text(n: ExactNumber) -> String {
        serde_json::to_string(&n).unwrap()
    }

    #[test]
    fn money_at_the_edges_prints_like_money_json() {
        for minor in [0, 5, -5, 100, -100, 1450, -1450, i64::MAX, i64::MIN] {
            for digits in 0..=18 {
                assert_eq!(
                    text(money(Money::from_minor(minor), digits)),
                    money_json(Money::from_minor(minor), digits).to_string(),
                    "{minor} with {digits} digits"
                );
            }
        }
    }

    #[test]
    fn rates_and_quantities_print_like_their_values() {
        for h in [0, 1, 10, 55, 100, 210, 550, 1000, 2000, 9999] {
            let r = VatRate::from_hundredths(h).unwrap();
            assert_eq!(text(rate(r)), rate_json(r).to_string());
        }
        for t in [
            1,
            -1,
            10,
            350,
            -1500,
            1000,
            2000,
            100_000,
            100_000_000,
            -100_000_000,
        ] {
            let q = Quantity::from_thousandths(t).unwrap();
            assert_eq!(
                text(quantity(q)),
                exact_number(q.to_decimal_string()).to_string()
            );
        }
    }

    proptest! {
        #[test]
        fn money_matches_money_json(minor in any::<i64>(), digits in 0u8..=6) {
            prop_assert_eq!(
                text(money(Money::from_minor(minor), digits)),
                money_json(Money::from_minor(minor), digits).to_string()
            );
        }

        #[test]
        fn rates_and_quantities_match(h in 0i64..10_000, t in -100_000_000i64..=100_000_000) {
            let r = VatRate::from_hundredths(h).unwrap();
            prop_assert_eq!(text(rate(r)), rate_json(r).to_string());
            if let Some(q) = Quantity::from_thousandths(t) {
                prop_assert_eq!(
                    text(quantity(q)),
                    exact_number(q.to_decimal_string()).to_string()
                );
            }
        }
    }
}
