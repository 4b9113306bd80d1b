//! The daily sales report (getSales.php, the back office's report page, fiscal closings):
//! one model built from the day's aggregates, which every format renders.
//!
//! The store computes the aggregates (GROUP BY) and streams the sales table; this module
//! decides the day's bounds, turns the aggregates into tables whose totals are the sums
//! of their rows, and holds the FEC's accounting rules (`fec`).

mod closing;
mod day;
pub mod fec;
mod sales;

pub use closing::ReportClosing;
pub use day::{DayError, ReportDay};
pub use sales::{SalePayment, SaleRow, SaleView};

use crate::model::Shop;
use crate::money::{Money, format_scaled, format_scaled_trimmed};
use crate::vat::VatRate;
use serde::Serialize;
use std::collections::BTreeMap;

/// An amount with its currency's decimals: exact inside, a fixed-decimal number outside
/// (`12.30` in JSON, not `12.3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Amount {
    pub money: Money,
    pub digits: u8,
}

impl Amount {
    pub fn new(money: Money, digits: u8) -> Amount {
        Amount { money, digits }
    }

    /// `12.30`, `-4.90`.
    pub fn text(self) -> String {
        format_scaled(self.money.minor(), self.digits)
    }

    pub fn minor(self) -> i64 {
        self.money.minor()
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // arbitrary_precision keeps the decimals exactly as written.
        let n: serde_json::Number = self
            .text()
            .parse()
            .map_err(|_| serde::ser::Error::custom("amount"))?;
        n.serialize(s)
    }
}

/// A VAT rate outside: `20.0`, `5.5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate(pub VatRate);

impl Rate {
    pub fn text(self) -> String {
        format_scaled_trimmed(self.0.hundredths(), 2)
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n: serde_json::Number = self
            .text()
            .parse()
            .map_err(|_| serde::ser::Error::custom("rate"))?;
        n.serialize(s)
    }
}

/// A quantity in thousandths outside: `3`, `0.35`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Qty(pub i64);

impl Qty {
    pub fn text(self) -> String {
        let t = format_scaled(self.0, 3);
        let t = t.trim_end_matches('0');
        t.strip_suffix('.').unwrap_or(t).to_string()
    }
}

impl Serialize for Qty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n: serde_json::Number = self
            .text()
            .parse()
            .map_err(|_| serde::ser::Error::custom("quantity"))?;
        n.serialize(s)
    }
}

/// What the store sums over the day's orders (not pending, value date in the day,
/// filters applied). Money in minor units, signed: refunds are negative.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub summary: RawSummary,
    /// Per rate: total incl. VAT and VAT (VAT per order and rate, as the orders hold it).
    pub vat: Vec<(VatRate, Money, Money)>,
    /// Per payment method: id, name, kind, payments, amount handed over.
    pub payments: Vec<(i64, String, String, i64, Money)>,
    /// Per delivery method (0–6): orders, gross.
    pub delivery: Vec<(i64, i64, Money)>,
    pub departments: Vec<RawDepartment>,
    /// Per item (or free line by title): item id, title, quantity (thousandths), gross.
    pub items: Vec<(Option<i64>, String, i64, Money)>,
    /// Per user: id, name, orders, gross.
    pub users: Vec<(i64, String, i64, Money)>,
    /// Per cash box: id, name, orders, gross.
    pub cash_boxes: Vec<(i64, String, i64, Money)>,
    /// Per hour bucket (see [`ReportDay::bucket`]): bucket, orders, gross.
    pub hours: Vec<(i64, i64, Money)>,
}

/// The day's totals over orders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawSummary {
    pub sales: i64,
    pub refunds: i64,
    pub refund_total: Money,
    pub gross: Money,
    pub vat: Money,
    pub paid: Money,
    pub change: Money,
    pub covers: i64,
}

/// One department's lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawDepartment {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub quantity: i64,
    pub gross: Money,
    /// VAT of the department's lines, per rate on their sum (an allocation: it can
    /// differ from the orders' VAT by a rounding cent).
    pub vat: Money,
}

/// The name of a delivery method (spec web-services.md, `deliveryMethod`).
pub fn delivery_method_name(m: i64) -> &'static str {
    match m {
        0 => "Take away",
        1 => "Delivery",
        2 => "On site",
        3 => "Drive-thru",
        4 => "Counter sale",
        5 => "Relay point",
        6 => "Shipping",
        _ => "Other",
    }
}

/// The shop as the report shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShopInfo {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    #[serde(rename = "VATNumber")]
    pub vat_number: Option<String>,
    pub currency: String,
}

/// The filters applied (absent: every box, every user).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Filters {
    #[serde(rename = "cashBoxID")]
    pub cash_box_id: Option<i64>,
    #[serde(rename = "userID")]
    pub user_id: Option<i64>,
}

/// The summary figures.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Orders that are not refunds.
    pub orders: i64,
    pub refunds: i64,
    /// The refunds' total (negative or zero).
    pub refunds_amount: Amount,
    /// Sales minus refunds, VAT included.
    pub gross: Amount,
    #[serde(rename = "VAT")]
    pub vat: Amount,
    /// `gross − VAT`.
    pub net: Amount,
    /// `gross / orders`, rounded half away from zero; 0 without orders.
    pub average_basket: Amount,
    /// Handed over by clients, change included.
    pub payments_received: Amount,
    pub change_given: Amount,
    pub covers: i64,
}

/// A table: its rows and a total row that is their sum.
#[derive(Clone, Debug, Serialize)]
pub struct Table<R> {
    pub rows: Vec<R>,
    pub total: R,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VatRow {
    /// `None` on the total row.
    pub rate: Option<Rate>,
    pub base: Amount,
    #[serde(rename = "VAT")]
    pub vat: Amount,
    pub total: Amount,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRow {
    #[serde(rename = "paymentMethodID")]
    pub id: Option<i64>,
    pub name: String,
    pub kind: String,
    pub count: i64,
    pub amount: Amount,
}

/// A row of orders and gross: delivery methods, users, cash boxes.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountRow {
    pub id: Option<i64>,
    pub name: String,
    pub orders: i64,
    pub gross: Amount,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentRow {
    pub id: Option<i64>,
    pub name: String,
    #[serde(rename = "groupID", skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    pub quantity: Qty,
    pub gross: Amount,
    #[serde(rename = "VAT")]
    pub vat: Amount,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRow {
    #[serde(rename = "itemID")]
    pub id: Option<i64>,
    pub title: String,
    pub quantity: Qty,
    pub gross: Amount,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HourRow {
    /// Local start of the hour (`14:00`); a repeated hour (October) appears twice.
    pub hour: String,
    /// The same start as RFC 3339 (tells the two repeated hours apart).
    pub from: String,
    pub orders: i64,
    pub gross: Amount,
}

/// The report, without its sales table (streamed beside it: see [`SaleRow`]).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub shop: ShopInfo,
    pub day: String,
    pub time_zone: String,
    pub from: String,
    pub to: String,
    pub generated_at: String,
    pub filters: Filters,
    pub summary: Summary,
    #[serde(rename = "VAT")]
    pub vat: Table<VatRow>,
    pub payments: Table<PaymentRow>,
    pub delivery_methods: Table<CountRow>,
    pub departments: Table<DepartmentRow>,
    pub department_groups: Table<DepartmentRow>,
    pub items: Table<ItemRow>,
    pub users: Table<CountRow>,
    pub cash_boxes: Table<CountRow>,
    pub hours: Table<HourRow>,
    /// The day's closing, once the day is closed (set by the caller after [`Report::build`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closing: Option<ReportClosing>,
    #[serde(skip)]
    pub digits: u8,
    #[serde(skip)]
    pub bounds: ReportDay,
}

fn sum<T>(rows: &[T], f: impl Fn(&T) -> Money) -> Money {
    rows.iter().map(f).sum()
}

fn count_table(rows: Vec<(Option<i64>, String, i64, Money)>, d: u8) -> Table<CountRow> {
    let rows: Vec<CountRow> = rows
        .into_iter()
        .map(|(id, name, orders, gross)| CountRow {
            id,
            name,
            orders,
            gross: Amount::new(gross, d),
        })
        .collect();
    let total = CountRow {
        id: None,
        name: "Total".into(),
        orders: rows.iter().map(|r| r.orders).sum(),
        gross: Amount::new(sum(&rows, |r| r.gross.money), d),
    };
    Table { rows, total }
}

fn department_table(rows: Vec<DepartmentRow>, d: u8) -> Table<DepartmentRow> {
    let total = DepartmentRow {
        id: None,
        name: "Total".into(),
        group_id: None,
        quantity: Qty(rows.iter().map(|r| r.quantity.0).sum()),
        gross: Amount::new(sum(&rows, |r| r.gross.money), d),
        vat: Amount::new(sum(&rows, |r| r.vat.money), d),
    };
    Table { rows, total }
}

impl Report {
    /// The report of `day` from the store's aggregates. `generated_at` in microseconds.
    pub fn build(
        shop: &Shop,
        day: ReportDay,
        filters: Filters,
        generated_at: i64,
        a: Aggregates,
    ) -> Report {
        let d = shop.currency.digits();
        let tz = shop.timezone.tz();
        let amount = |m: Money| Amount::new(m, d);
        let s = &a.summary;
        let average = if s.sales > 0 {
            s.gross.mul_div(1, s.sales).unwrap_or(Money::ZERO)
        } else {
            Money::ZERO
        };
        let summary = Summary {
            orders: s.sales,
            refunds: s.refunds,
            refunds_amount: amount(s.refund_total),
            gross: amount(s.gross),
            vat: amount(s.vat),
            net: amount(s.gross - s.vat),
            average_basket: amount(average),
            payments_received: amount(s.paid),
            change_given: amount(s.change),
            covers: s.covers,
        };

        let mut vat_rows: Vec<VatRow> = a
            .vat
            .iter()
            .map(|&(rate, total, vat)| VatRow {
                rate: Some(Rate(rate)),
                base: amount(total - vat),
                vat: amount(vat),
                total: amount(total),
            })
            .collect();
        vat_rows.sort_by_key(|r| std::cmp::Reverse(r.rate));
        let vat = Table {
            total: VatRow {
                rate: None,
                base: amount(sum(&vat_rows, |r| r.base.money)),
                vat: amount(sum(&vat_rows, |r| r.vat.money)),
                total: amount(sum(&vat_rows, |r| r.total.money)),
            },
            rows: vat_rows,
        };

        let pay_rows: Vec<PaymentRow> = a
            .payments
            .into_iter()
            .map(|(id, name, kind, count, amt)| PaymentRow {
                id: Some(id),
                name,
                kind,
                count,
                amount: amount(amt),
            })
            .collect();
        let payments = Table {
            total: PaymentRow {
                id: None,
                name: "Total".into(),
                kind: String::new(),
                count: pay_rows.iter().map(|r| r.count).sum(),
                amount: amount(sum(&pay_rows, |r| r.amount.money)),
            },
            rows: pay_rows,
        };

        let delivery_methods = count_table(
            a.delivery
                .into_iter()
                .map(|(m, n, g)| (Some(m), delivery_method_name(m).to_string(), n, g))
                .collect(),
            d,
        );
        let users = count_table(
            a.users
                .into_iter()
                .map(|(id, name, n, g)| (Some(id), name, n, g))
                .collect(),
            d,
        );
        let cash_boxes = count_table(
            a.cash_boxes
                .into_iter()
                .map(|(id, name, n, g)| (Some(id), name, n, g))
                .collect(),
            d,
        );

        let mut groups: BTreeMap<Option<i64>, DepartmentRow> = BTreeMap::new();
        let dept_rows: Vec<DepartmentRow> = a
            .departments
            .into_iter()
            .map(|r| {
                let g = groups.entry(r.group_id).or_insert_with(|| DepartmentRow {
                    id: r.group_id,
                    name: r.group_name.clone().unwrap_or_else(|| "No group".into()),
                    group_id: None,
                    quantity: Qty(0),
                    gross: amount(Money::ZERO),
                    vat: amount(Money::ZERO),
                });
                g.quantity.0 += r.quantity;
                g.gross.money = g.gross.money + r.gross;
                g.vat.money = g.vat.money + r.vat;
                DepartmentRow {
                    id: r.id,
                    name: r.name.unwrap_or_else(|| "No department".into()),
                    group_id: r.group_id,
                    quantity: Qty(r.quantity),
                    gross: amount(r.gross),
                    vat: amount(r.vat),
                }
            })
            .collect();
        let departments = department_table(dept_rows, d);
        let department_groups = department_table(groups.into_values().collect(), d);

        let item_rows: Vec<ItemRow> = a
            .items
            .into_iter()
            .map(|(id, title, q, g)| ItemRow {
                id,
                title,
                quantity: Qty(q),
                gross: amount(g),
            })
            .collect();
        let items = Table {
            total: ItemRow {
                id: None,
                title: "Total".into(),
                quantity: Qty(item_rows.iter().map(|r| r.quantity.0).sum()),
                gross: amount(sum(&item_rows, |r| r.gross.money)),
            },
            rows: item_rows,
        };

        let mut per_bucket = vec![(0i64, Money::ZERO); day.hours()];
        for (bucket, n, g) in a.hours {
            if let Some(slot) = usize::try_from(bucket)
                .ok()
                .and_then(|b| per_bucket.get_mut(b))
            {
                slot.0 += n;
                slot.1 = slot.1 + g;
            }
        }
        let hour_rows: Vec<HourRow> = per_bucket
            .into_iter()
            .enumerate()
            .map(|(i, (n, g))| {
                let start = day.bucket_start(i);
                let from = crate::order::rfc3339(start, &tz);
                HourRow {
                    hour: from.get(11..16).unwrap_or("").to_string(),
                    from,
                    orders: n,
                    gross: amount(g),
                }
            })
            .collect();
        let hours = Table {
            total: HourRow {
                hour: "Total".into(),
                from: String::new(),
                orders: hour_rows.iter().map(|r| r.orders).sum(),
                gross: amount(sum(&hour_rows, |r| r.gross.money)),
            },
            rows: hour_rows,
        };

        Report {
            shop: ShopInfo {
                id: shop.id,
                name: shop.name.as_str().to_string(),
                address: shop.address.clone(),
                vat_number: shop.vat_number.clone(),
                currency: shop.currency.code().to_string(),
            },
            day: day.iso(),
            time_zone: shop.timezone.as_str().to_string(),
            from: crate::order::rfc3339(day.from, &tz),
            to: crate::order::rfc3339(day.to, &tz),
            generated_at: crate::order::rfc3339(generated_at, &tz),
            filters,
            summary,
            vat,
            payments,
            delivery_methods,
            departments,
            department_groups,
            items,
            users,
            cash_boxes,
            hours,
            closing: None,
            digits: d,
            bounds: day,
        }
    }
}
