//! A recorded order as the web services show it, and its JSON answer (spec: "An order in
//! JSON"). Times are RFC 3339 in the shop's time zone; money has the currency's digits.

use crate::catalog::{exact_number, money_json, rate_json};
use crate::money::Money;
use crate::quantity::Quantity;
use crate::sale::{SaleStatus, vat_breakdown};
use crate::seal::{OrderEntry, SealedLine, SealedVat};
use crate::vat::VatRate;
use serde_json::{Value, json};

/// One line of a recorded order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineView {
    pub line_no: i64,
    pub item_id: Option<i64>,
    pub department_id: Option<i64>,
    pub title: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub total: Money,
    pub vat_rate: VatRate,
    pub variations: Vec<i64>,
}

/// One payment of a recorded order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentView {
    pub id: i64,
    pub payment_method_id: i64,
    pub name: String,
    /// What was handed over (change included), with the sign of the order.
    pub amount: Money,
    pub at: i64,
}

/// A recorded order with everything the answers and the journal need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderView {
    pub shop_id: i64,
    pub id: i64,
    pub number: Option<i64>,
    pub status: SaleStatus,
    pub is_refund: bool,
    pub refund_of: Option<i64>,
    pub created_at: i64,
    pub validated_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub value_date: i64,
    pub user_id: i64,
    pub cash_box_id: i64,
    pub client_id: Option<i64>,
    pub delivery_method: i64,
    pub table_id: Option<i64>,
    pub covers: Option<i64>,
    pub pager_num: Option<String>,
    pub public_comment: String,
    pub private_comment: String,
    pub total: Money,
    pub vat: Money,
    pub paid: Money,
    pub change: Money,
    pub invoice_token: String,
    pub seal: Option<String>,
    pub lines: Vec<LineView>,
    pub payments: Vec<PaymentView>,
}

/// Variation ids as stored: `3,8`.
pub fn variations_text(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Variation ids from their stored text; unreadable parts are skipped.
pub fn parse_variations(text: &str) -> Vec<i64> {
    text.split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

impl OrderView {
    /// The VAT breakdown, recomputed from the lines (the rule of the spec).
    pub fn vats(&self) -> Vec<crate::sale::VatLine> {
        vat_breakdown(self.lines.iter().map(|l| (l.vat_rate, l.total))).unwrap_or_default()
    }

    /// What remains to be paid: total − (payments − change).
    pub fn remaining(&self) -> Money {
        let received: Money = self.payments.iter().map(|p| p.amount).sum();
        self.total - (received - self.change)
    }

    /// The journal entry that seals this order, at position `seq` of the shop's journal.
    pub fn journal_entry(&self, seq: i64) -> OrderEntry {
        OrderEntry {
            shop_id: self.shop_id,
            seq,
            order_internal_id: self.id,
            number: self.number.unwrap_or(0),
            created_at: self.created_at,
            validated_at: self.validated_at.unwrap_or(0),
            value_date: self.value_date,
            client_id: self.client_id,
            user_id: self.user_id,
            cash_box_id: self.cash_box_id,
            delivery_method: self.delivery_method,
            table_id: self.table_id,
            is_refund: self.is_refund,
            refund_of: self.refund_of,
            lines: self
                .lines
                .iter()
                .map(|l| SealedLine {
                    line_no: l.line_no,
                    item_id: l.item_id,
                    department_id: l.department_id,
                    title: l.title.clone(),
                    quantity: l.quantity.thousandths(),
                    unit_price: l.unit_price.minor(),
                    total: l.total.minor(),
                    vat_rate: l.vat_rate.hundredths(),
                    variations: variations_text(&l.variations),
                })
                .collect(),
            vats: self
                .vats()
                .iter()
                .map(|v| SealedVat {
                    rate: v.rate.hundredths(),
                    base: v.base.minor(),
                    amount: v.amount.minor(),
                    total: v.total.minor(),
                })
                .collect(),
            total: self.total.minor(),
            vat: self.vat.minor(),
        }
    }

    /// The invoice link handed out: `BASE/invoices/TOKEN.pdf`.
    pub fn invoice_url(&self, base_url: &str) -> String {
        format!("{base_url}/invoices/{}.pdf", self.invoice_token)
    }

    /// The order in JSON (getOrder.php, and the extensions' answers).
    pub fn to_json(&self, digits: u8, tz: &jiff::tz::TimeZone, base_url: &str) -> Value {
        let m = |x: Money| money_json(x, digits);
        let t = |micros: i64| Value::String(rfc3339(micros, tz));
        let vats: Vec<Value> = self
            .vats()
            .iter()
            .map(|v| {
                json!({"rate": rate_json(v.rate), "base": m(v.base), "amount": m(v.amount),
                       "total": m(v.total)})
            })
            .collect();
        let items: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "itemID": l.item_id, "departmentID": l.department_id, "title": l.title,
                    "quantity": exact_number(l.quantity.to_decimal_string()),
                    "unitPrice": m(l.unit_price), "total": m(l.total),
                    "vatRate": rate_json(l.vat_rate), "variations": l.variations,
                })
            })
            .collect();
        let payments: Vec<Value> = self
            .payments
            .iter()
            .map(|p| {
                json!({"paymentMethodID": p.payment_method_id, "name": p.name,
                       "amount": m(p.amount), "at": t(p.at)})
            })
            .collect();
        json!({
            "result": "OK",
            "orderInternalID": self.id,
            "orderID": self.number,
            "status": self.status.as_str(),
            "isRefund": self.is_refund,
            "refundOf": self.refund_of,
            "createdAt": t(self.created_at),
            "validatedAt": self.validated_at.map(t),
            "terminatedAt": self.terminated_at.map(t),
            "valueDate": t(self.value_date),
            "userID": self.user_id,
            "cashBoxID": self.cash_box_id,
            "clientID": self.client_id,
            "deliveryMethod": self.delivery_method,
            "tableID": self.table_id,
            "covers": self.covers,
            "pagerNum": self.pager_num,
            "publicComment": self.public_comment,
            "privateComment": self.private_comment,
            "price": m(self.total),
            "VAT": m(self.vat),
            "VATs": vats,
            "items": items,
            "payments": payments,
            "paid": m(self.paid),
            "change": m(self.change),
            "seal": self.seal,
            "PDFinvoice": self.invoice_url(base_url),
        })
    }
}

/// Microseconds since the epoch as RFC 3339 in `tz`, to the second (`2026-11-28T18:30:00+01:00`).
pub fn rfc3339(micros: i64, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_microsecond(micros) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_with_the_shop_offset() {
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        // 2026-11-28T17:30:00Z is 18:30 in Paris (UTC+1 in winter).
        assert_eq!(
            rfc3339(1_795_887_000_000_000, &tz),
            "2026-11-28T18:30:00+01:00"
        );
    }

    #[test]
    fn variations_round_trip_through_their_text() {
        assert_eq!(variations_text(&[3, 8]), "3,8");
        assert_eq!(parse_variations("3,8"), vec![3, 8]);
        assert!(parse_variations("").is_empty());
    }
}
