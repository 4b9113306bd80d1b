//! The daily report's queries: GROUP BY sums over the day's orders (by value date,
//! pending ones left out), a streamed read of its sales table, and the shop's FEC
//! settings. The rules (bounds, totals, accounts) are core::report's.

use crate::StoreError;
use crate::db::{Conn, Row, Value};
use crate::params;
use comptoir_core::money::Money;
use comptoir_core::report::{Aggregates, RawDepartment, RawSummary, SalePayment, SaleRow};
use comptoir_core::vat::VatRate;
use std::collections::{BTreeMap, HashMap};

/// The orders a report covers: one shop, value dates in `[from, to)`, optional filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportQuery {
    pub shop_id: i64,
    /// Microseconds.
    pub from: i64,
    pub to: i64,
    pub cash_box_id: Option<i64>,
    pub user_id: Option<i64>,
}

impl ReportQuery {
    fn params(&self) -> Vec<Value> {
        params![
            self.shop_id,
            self.from,
            self.to,
            self.cash_box_id,
            self.user_id
        ]
        .to_vec()
    }
}

/// The orders of the report (`o`), parameters `$1`–`$5` of [`ReportQuery::params`].
/// Queries read `orders o cross join` their lines or payments: SQLite then walks the
/// day's orders by `orders_value_date_idx` and looks their rows up by key, instead of
/// scanning the shop's every line (PostgreSQL plans a cross join with conditions freely).
/// The casts type the optional filters: PostgreSQL cannot infer a type from `$4 is null`.
const WHERE: &str = "o.shop_id = $1 and o.status <> 'pending'
    and o.value_date >= $2 and o.value_date < $3
    and (cast($4 as bigint) is null or o.cash_box_id = $4)
    and (cast($5 as bigint) is null or o.user_id = $5)";

/// A sum as a bigint on both backends (PostgreSQL sums bigints into numerics), 0 on none.
fn s(expr: &str) -> String {
    format!("cast(coalesce(sum({expr}), 0) as bigint)")
}

fn money(r: &Row, i: usize) -> Result<Money, StoreError> {
    r.i64(i).map(Money::from_minor)
}

fn vat_rate(h: i64) -> Result<VatRate, StoreError> {
    VatRate::from_hundredths(h).ok_or_else(|| StoreError::Decode(format!("VAT rate {h}")))
}

fn rate(r: &Row, i: usize) -> Result<VatRate, StoreError> {
    let h = r.i64(i)?;
    VatRate::from_hundredths(h).ok_or_else(|| StoreError::Decode(format!("VAT rate {h}")))
}

/// Every aggregate of the report, summed by the database (GROUP BY).
pub fn aggregates(c: &mut dyn Conn, q: &ReportQuery) -> Result<Aggregates, StoreError> {
    let p = q.params();
    // The figures over orders alone (summary, delivery methods, users, cash boxes, hours)
    // from one pass over the day's orders, grouped by all four keys at once (a few
    // hundred groups), then summed per table here: one walk of the orders and one sort
    // instead of five.
    let mut summary = RawSummary::default();
    let mut delivery: BTreeMap<i64, (i64, Money)> = BTreeMap::new();
    let mut per_user: BTreeMap<i64, (i64, Money)> = BTreeMap::new();
    let mut per_box: BTreeMap<i64, (i64, Money)> = BTreeMap::new();
    let mut per_hour: BTreeMap<i64, (i64, Money)> = BTreeMap::new();
    let add = |m: &mut BTreeMap<i64, (i64, Money)>, k: i64, n: i64, g: Money| {
        let e = m.entry(k).or_insert((0, Money::ZERO));
        e.0 += n;
        e.1 = e.1 + g;
    };
    c.query_each(
        &format!(
            "select o.delivery_method, o.user_id, o.cash_box_id,
                    (o.value_date - $2) / 3600000000 as h, count(*),
                    {}, {}, {}, {}, {}, {}, {}, {}
             from orders o where {WHERE}
             group by o.delivery_method, o.user_id, o.cash_box_id, h",
            s("case when o.is_refund then 0 else 1 end"),
            s("case when o.is_refund then 1 else 0 end"),
            s("case when o.is_refund then o.total else 0 end"),
            s("o.total"),
            s("o.vat"),
            s("o.paid"),
            s("o.change_given"),
            s("o.covers"),
        ),
        &p,
        &mut |r| {
            let n = r.i64(4)?;
            let gross = money(&r, 8)?;
            summary.sales += r.i64(5)?;
            summary.refunds += r.i64(6)?;
            summary.refund_total = summary.refund_total + money(&r, 7)?;
            summary.gross = summary.gross + gross;
            summary.vat = summary.vat + money(&r, 9)?;
            summary.paid = summary.paid + money(&r, 10)?;
            summary.change = summary.change + money(&r, 11)?;
            summary.covers += r.i64(12)?;
            add(&mut delivery, r.i64(0)?, n, gross);
            add(&mut per_user, r.i64(1)?, n, gross);
            add(&mut per_box, r.i64(2)?, n, gross);
            add(&mut per_hour, r.i64(3)?, n, gross);
            Ok(())
        },
    )?;
    let delivery = delivery.into_iter().map(|(k, (n, g))| (k, n, g)).collect();
    let hours = per_hour.into_iter().map(|(k, (n, g))| (k, n, g)).collect();
    let named = |c: &mut dyn Conn,
                 sql: &str,
                 rows: BTreeMap<i64, (i64, Money)>|
     -> Result<Vec<(i64, String, i64, Money)>, StoreError> {
        let names: HashMap<i64, String> = c
            .query(sql, params![q.shop_id])?
            .iter()
            .map(|r| Ok((r.i64(0)?, r.string(1)?)))
            .collect::<Result<_, StoreError>>()?;
        // Orders always name an existing user and cash box (foreign keys).
        Ok(rows
            .into_iter()
            .filter_map(|(id, (n, g))| Some((id, names.get(&id)?.clone(), n, g)))
            .collect())
    };
    let users = named(
        c,
        "select id, display_name from users where shop_id = $1",
        per_user,
    )?;
    let cash_boxes = named(
        c,
        "select id, name from cash_boxes where shop_id = $1",
        per_box,
    )?;

    // The figures over lines (VAT per rate, departments, items) from one pass over the
    // day's lines, summed here as they come. They come in the orders' (value date, id)
    // order, which SQLite reads straight from orders_value_date_idx, so an order's lines
    // are consecutive and nothing is sorted: grouping the day's lines in SQL (a sort of
    // every line, titles included) was most of the aggregates' time.
    // - VAT per order and rate (VatRate::vat_in_inclusive on the order's lines at that
    //   rate, as the order computed it), then summed per rate;
    // - departments: quantity and gross per department and rate, VAT per rate on those
    //   sums (an allocation), then per department, by id ("no department" last);
    // - items: catalog items by id (their greatest title), free lines by title, largest
    //   gross first, then by title.
    let mut per_rate: BTreeMap<i64, (Money, Money)> = BTreeMap::new();
    let mut per_department: BTreeMap<(bool, i64, i64), (i64, Money)> = BTreeMap::new();
    let mut catalog_items: HashMap<i64, (String, i64, Money)> = HashMap::new();
    let mut free_lines: HashMap<String, (i64, Money)> = HashMap::new();
    let mut order: (i64, Vec<(i64, Money)>) = (i64::MIN, Vec::new());
    let settle = |per_rate: &mut BTreeMap<i64, (Money, Money)>,
                  lines: &mut Vec<(i64, Money)>|
     -> Result<(), StoreError> {
        for (h, total) in lines.drain(..) {
            let vat = vat_rate(h)?.vat_in_inclusive(total);
            let e = per_rate.entry(h).or_insert((Money::ZERO, Money::ZERO));
            e.0 = e.0 + total;
            e.1 = e.1 + vat;
        }
        Ok(())
    };
    c.query_each(
        &format!(
            "select o.id, l.vat_rate, l.total, l.quantity, l.department_id, l.item_id, l.title
             from orders o cross join order_lines l
             where l.shop_id = o.shop_id and l.order_id = o.id and {WHERE}
             order by o.value_date, o.id"
        ),
        &p,
        &mut |r| {
            let id = r.i64(0)?;
            if id != order.0 {
                settle(&mut per_rate, &mut order.1)?;
                order.0 = id;
            }
            let (h, total, quantity) = (r.i64(1)?, money(&r, 2)?, r.i64(3)?);
            match order.1.iter_mut().find(|(x, _)| *x == h) {
                Some(e) => e.1 = e.1 + total,
                None => order.1.push((h, total)),
            }
            let department = r.opt_i64(4)?;
            let e = per_department
                .entry((department.is_none(), department.unwrap_or(0), h))
                .or_insert((0, Money::ZERO));
            e.0 += quantity;
            e.1 = e.1 + total;
            let title = r.str(6)?;
            match r.opt_i64(5)? {
                Some(item) => {
                    let e = catalog_items
                        .entry(item)
                        .or_insert_with(|| (title.to_string(), 0, Money::ZERO));
                    if title > e.0.as_str() {
                        e.0 = title.to_string();
                    }
                    e.1 += quantity;
                    e.2 = e.2 + total;
                }
                None => {
                    let e = match free_lines.get_mut(title) {
                        Some(e) => e,
                        None => free_lines
                            .entry(title.to_string())
                            .or_insert((0, Money::ZERO)),
                    };
                    e.0 += quantity;
                    e.1 = e.1 + total;
                }
            }
            Ok(())
        },
    )?;
    settle(&mut per_rate, &mut order.1)?;
    let vat = per_rate
        .into_iter()
        .rev()
        .map(|(h, (total, vat))| Ok((vat_rate(h)?, total, vat)))
        .collect::<Result<_, StoreError>>()?;

    let names: HashMap<i64, (String, Option<i64>, Option<String>)> = c
        .query(
            "select d.id, d.name, d.group_id, g.name from departments d
             left join department_groups g on g.shop_id = d.shop_id and g.id = d.group_id
             where d.shop_id = $1",
            params![q.shop_id],
        )?
        .iter()
        .map(|r| Ok((r.i64(0)?, (r.string(1)?, r.opt_i64(2)?, r.opt_string(3)?))))
        .collect::<Result<_, StoreError>>()?;
    let mut departments: Vec<RawDepartment> = Vec::new();
    for ((none, id, h), (quantity, gross)) in per_department {
        let id = (!none).then_some(id);
        let vat = vat_rate(h)?.vat_in_inclusive(gross);
        match departments.last_mut() {
            Some(d) if d.id == id => {
                d.quantity += quantity;
                d.gross = d.gross + gross;
                d.vat = d.vat + vat;
            }
            _ => {
                let named = id.and_then(|i| names.get(&i));
                departments.push(RawDepartment {
                    id,
                    name: named.map(|n| n.0.clone()),
                    group_id: named.and_then(|n| n.1),
                    group_name: named.and_then(|n| n.2.clone()),
                    quantity,
                    gross,
                    vat,
                });
            }
        }
    }
    let mut items: Vec<(Option<i64>, String, i64, Money)> = catalog_items
        .into_iter()
        .map(|(id, (title, q, g))| (Some(id), title, q, g))
        .chain(
            free_lines
                .into_iter()
                .map(|(title, (q, g))| (None, title, q, g)),
        )
        .collect();
    items.sort_by(|a, b| {
        b.3.cmp(&a.3)
            .then_with(|| a.1.cmp(&b.1))
            .then(a.0.cmp(&b.0))
    });

    let payments = c
        .query(
            &format!(
                "select p.payment_method_id, max(p.name), max(m.kind), count(*), {}
                 from orders o cross join payments p
                 join payment_methods m on m.shop_id = p.shop_id and m.id = p.payment_method_id
                 where p.shop_id = o.shop_id and p.order_id = o.id and {WHERE} group by p.payment_method_id order by p.payment_method_id",
                s("p.amount")
            ),
            &p,
        )?
        .iter()
        .map(|r| {
            Ok((
                r.i64(0)?,
                r.string(1)?,
                r.string(2)?,
                r.i64(3)?,
                money(r, 4)?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;

    Ok(Aggregates {
        summary,
        vat,
        payments,
        delivery,
        departments,
        items,
        users,
        cash_boxes,
        hours,
    })
}

/// Orders read per page of the sales table.
const PAGE: i64 = 1000;

/// Where the next page of the sales table starts: after this (value date, order id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaleCursor {
    value_date: i64,
    id: i64,
}

impl SaleCursor {
    /// Before the first sale of the day.
    pub const START: SaleCursor = SaleCursor {
        value_date: i64::MIN,
        id: 0,
    };
}

/// One page of the report's sales table in value-date order, after `after` (with one
/// query for the page's payments and, when `rates` is set, one for its totals per VAT
/// rate), and where the next page starts (`None` after the last). Callers read page by
/// page on a connection each, so a slow client never holds one and memory holds one page.
pub fn sales_page(
    c: &mut dyn Conn,
    q: &ReportQuery,
    rates: bool,
    after: SaleCursor,
) -> Result<(Vec<SaleRow>, Option<SaleCursor>), StoreError> {
    let page_sql = format!(
        "select o.id, o.number, o.is_refund, o.value_date, o.validated_at, o.user_id,
                u.display_name, o.cash_box_id, b.name, o.client_id, o.delivery_method,
                o.total, o.vat, o.paid, o.change_given, o.seal
         from orders o
         join users u on u.shop_id = o.shop_id and u.id = o.user_id
         join cash_boxes b on b.shop_id = o.shop_id and b.id = o.cash_box_id
         where {WHERE} and o.value_date >= $6 and (o.value_date > $6 or o.id > $7)
         order by o.value_date, o.id limit {PAGE}"
    );
    // The page's window in (value date, id) order; other orders in it are skipped.
    let window = "o.shop_id = $1 and o.status <> 'pending'
        and o.value_date >= $2 and o.value_date <= $4
        and (o.value_date > $2 or o.id >= $3) and (o.value_date < $4 or o.id <= $5)";
    let pay_sql = format!(
        "select p.order_id, p.payment_method_id, p.name, m.kind, p.amount
         from orders o cross join payments p
         join payment_methods m on m.shop_id = p.shop_id and m.id = p.payment_method_id
         where p.shop_id = o.shop_id and p.order_id = o.id and {window} order by p.id"
    );
    let rate_sql = format!(
        "select l.order_id, l.vat_rate, cast(sum(l.total) as bigint)
         from orders o cross join order_lines l
         where l.shop_id = o.shop_id and l.order_id = o.id and {window}
         group by l.order_id, l.vat_rate"
    );
    {
        let mut p = q.params();
        p.push(Value::I64(after.value_date));
        p.push(Value::I64(after.id));
        let rows = c.query(&page_sql, &p)?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok((Vec::new(), None));
        };
        let w = params![
            q.shop_id,
            first.i64(3)?,
            first.i64(0)?,
            last.i64(3)?,
            last.i64(0)?
        ];
        let mut page = Vec::with_capacity(rows.len());
        let mut index = HashMap::with_capacity(rows.len());
        for r in &rows {
            let id = r.i64(0)?;
            index.insert(id, page.len());
            page.push(SaleRow {
                id,
                number: r.opt_i64(1)?,
                is_refund: r.bool(2)?,
                value_date: r.i64(3)?,
                validated_at: r.opt_i64(4)?,
                user_id: r.i64(5)?,
                user_name: r.string(6)?,
                cash_box_id: r.i64(7)?,
                cash_box_name: r.string(8)?,
                client_id: r.opt_i64(9)?,
                delivery_method: r.i64(10)?,
                total: money(r, 11)?,
                vat: money(r, 12)?,
                paid: money(r, 13)?,
                change: money(r, 14)?,
                seal: r.opt_string(15)?,
                payments: Vec::new(),
                rate_totals: Vec::new(),
            });
        }
        c.query_each(&pay_sql, w, &mut |r| {
            if let Some(&i) = index.get(&r.i64(0)?) {
                page[i].payments.push(SalePayment {
                    method_id: r.i64(1)?,
                    name: r.string(2)?,
                    kind: r.string(3)?,
                    amount: money(&r, 4)?,
                });
            }
            Ok(())
        })?;
        if rates {
            c.query_each(&rate_sql, w, &mut |r| {
                if let Some(&i) = index.get(&r.i64(0)?) {
                    page[i].rate_totals.push((rate(&r, 1)?, money(&r, 2)?));
                }
                Ok(())
            })?;
        }
        let next = (page.len() as i64 >= PAGE).then_some(SaleCursor {
            value_date: last.i64(3)?,
            id: last.i64(0)?,
        });
        Ok((page, next))
    }
}

/// The FEC settings a shop changed, `(key, value)` by key (the defaults are core's).
pub fn fec_settings(c: &mut dyn Conn, shop_id: i64) -> Result<Vec<(String, String)>, StoreError> {
    c.query(
        "select setting, value from fec_settings where shop_id = $1 order by setting",
        params![shop_id],
    )?
    .iter()
    .map(|r| Ok((r.string(0)?, r.string(1)?)))
    .collect()
}

/// Sets one FEC setting of a shop (checked by core::report::fec::check_setting first).
pub fn set_fec_setting(
    c: &mut dyn Conn,
    shop_id: i64,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    c.execute(
        "delete from fec_settings where shop_id = $1 and setting = $2",
        params![shop_id, key],
    )?;
    c.execute(
        "insert into fec_settings (shop_id, setting, value) values ($1, $2, $3)",
        params![shop_id, key, value],
    )?;
    Ok(())
}
