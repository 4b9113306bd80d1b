//! The report's sales table: one row per order, streamed by the store and shown by every
//! format (a view with the shop's decimals and time zone).

use super::{Amount, Rate};
use crate::money::Money;
use crate::vat::VatRate;
use serde::Serialize;

/// A payment of a sale in the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalePayment {
    pub method_id: i64,
    pub name: String,
    /// The method's kind (`cash`, `card`, ...): the FEC picks the account by it.
    pub kind: String,
    /// Handed over, change included, with the sign of the order.
    pub amount: Money,
}

/// One order of the day, as the sales table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleRow {
    pub id: i64,
    pub number: Option<i64>,
    pub is_refund: bool,
    /// Microseconds.
    pub value_date: i64,
    pub validated_at: Option<i64>,
    pub user_id: i64,
    pub user_name: String,
    pub cash_box_id: i64,
    pub cash_box_name: String,
    pub client_id: Option<i64>,
    pub delivery_method: i64,
    pub total: Money,
    pub vat: Money,
    pub paid: Money,
    pub change: Money,
    pub seal: Option<String>,
    pub payments: Vec<SalePayment>,
    /// Per rate, the sum of the order's lines (VAT included); read only for the FEC.
    pub rate_totals: Vec<(VatRate, Money)>,
}

/// A payment in a [`SaleView`].
#[derive(Clone, Debug, Serialize)]
pub struct SalePaymentView {
    pub name: String,
    pub amount: Amount,
}

/// A sales-table row with decimals and local times, as JSON and XML write it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SaleView {
    #[serde(rename = "orderID")]
    pub order_id: Option<i64>,
    #[serde(rename = "orderInternalID")]
    pub order_internal_id: i64,
    /// The value date, RFC 3339 in the shop's zone.
    pub time: String,
    #[serde(rename = "userID")]
    pub user_id: i64,
    pub user: String,
    #[serde(rename = "cashBoxID")]
    pub cash_box_id: i64,
    pub cash_box: String,
    #[serde(rename = "clientID")]
    pub client_id: Option<i64>,
    pub delivery_method: i64,
    pub total: Amount,
    #[serde(rename = "VAT")]
    pub vat: Amount,
    pub payments: Vec<SalePaymentView>,
    pub is_refund: bool,
    pub seal: Option<String>,
}

impl SaleRow {
    /// The row with the currency's `digits` and times in `tz`.
    pub fn view(&self, digits: u8, tz: &jiff::tz::TimeZone) -> SaleView {
        SaleView {
            order_id: self.number,
            order_internal_id: self.id,
            time: crate::order::rfc3339(self.value_date, tz),
            user_id: self.user_id,
            user: self.user_name.clone(),
            cash_box_id: self.cash_box_id,
            cash_box: self.cash_box_name.clone(),
            client_id: self.client_id,
            delivery_method: self.delivery_method,
            total: Amount::new(self.total, digits),
            vat: Amount::new(self.vat, digits),
            payments: self
                .payments
                .iter()
                .map(|p| SalePaymentView {
                    name: p.name.clone(),
                    amount: Amount::new(p.amount, digits),
                })
                .collect(),
            is_refund: self.is_refund,
            seal: self.seal.clone(),
        }
    }

    /// `Cash 20.00, Card 9.40`: the payments in one cell.
    pub fn payments_text(&self, digits: u8) -> String {
        self.payments
            .iter()
            .map(|p| format!("{} {}", p.name, Amount::new(p.amount, digits).text()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Per rate: base, VAT and total of the order, VAT computed per rate on the sum of
    /// the rate's lines, as the order itself did (core::sale::vat_breakdown).
    pub fn vat_lines(&self) -> Vec<(Rate, Money, Money, Money)> {
        let lines =
            crate::sale::vat_breakdown(self.rate_totals.iter().copied()).unwrap_or_default();
        lines
            .into_iter()
            .map(|l| (Rate(l.rate), l.base, l.amount, l.total))
            .collect()
    }
}
