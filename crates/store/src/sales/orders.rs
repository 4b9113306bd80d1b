//! Orders as rows: a new order's view and its insert, the update of a changed one, and
//! reading orders back (by id, by invoice token, as pages of a download).

use super::*;

/// The view of a new order (pending, unpaid), before it has a number or a row.
#[allow(clippy::too_many_arguments)]
pub(super) fn new_order(
    id: i64,
    shop_id: i64,
    lines: &NewOrderLines,
    input: &SaleInput,
    user_id: i64,
    cash_box_id: i64,
    client_id: Option<i64>,
    refund_of: Option<i64>,
    now: i64,
) -> OrderView {
    let views = lines
        .lines()
        .iter()
        .enumerate()
        .map(|(i, l)| LineView {
            line_no: i as i64 + 1,
            item_id: l.item_id(),
            department_id: l.department_id(),
            title: l.title().to_string(),
            quantity: l.quantity(),
            unit_price: l.unit_price(),
            total: l.total(),
            vat_rate: l.vat_rate(),
            variations: l.variations().to_vec(),
        })
        .collect();
    OrderView {
        shop_id,
        id,
        number: None,
        status: SaleStatus::Pending,
        is_refund: lines.is_refund(),
        refund_of,
        created_at: now,
        validated_at: None,
        terminated_at: None,
        value_date: input.value_date.unwrap_or(now),
        user_id,
        cash_box_id,
        client_id,
        delivery_method: input.delivery_method,
        table_id: input.table_id,
        covers: input.covers,
        pager_num: input.pager_num.clone(),
        public_comment: input.public_comment.clone(),
        private_comment: input.private_comment.clone(),
        total: lines.total(),
        vat: lines.vat(),
        paid: Money::ZERO,
        change: Money::ZERO,
        invoice_token: format!("{shop_id}-{id}-{}", hex(&random_bytes::<16>())),
        seal: None,
        lines: views,
        payments: Vec::new(),
    }
}

/// Writes a new order's row, in the state it has in memory, and its lines.
pub(super) fn insert_order(w: &mut Writes, o: &OrderView) {
    w.insert(
        &ORDERS,
        vec![
            Value::I64(o.id),
            Value::I64(o.shop_id),
            Value::from(o.number),
            Value::from(o.status.as_str()),
            Value::Bool(o.is_refund),
            Value::from(o.refund_of),
            Value::I64(o.created_at),
            Value::from(o.validated_at),
            Value::from(o.terminated_at),
            Value::I64(o.value_date),
            Value::I64(o.user_id),
            Value::I64(o.cash_box_id),
            Value::from(o.client_id),
            Value::I64(o.delivery_method),
            Value::from(o.table_id),
            Value::from(o.covers),
            Value::from(o.pager_num.as_deref()),
            Value::from(o.public_comment.as_str()),
            Value::from(o.private_comment.as_str()),
            Value::I64(o.total.minor()),
            Value::I64(o.vat.minor()),
            Value::I64(o.paid.minor()),
            Value::I64(o.change.minor()),
            Value::from(o.invoice_token.as_str()),
            Value::from(o.seal.as_deref()),
        ],
    );
    let mut values = Vec::with_capacity(o.lines.len() * 11);
    for l in &o.lines {
        values.extend([
            Value::I64(o.shop_id),
            Value::I64(o.id),
            Value::I64(l.line_no),
            Value::from(l.item_id),
            Value::from(l.department_id),
            Value::from(l.title.as_str()),
            Value::I64(l.quantity.thousandths()),
            Value::I64(l.unit_price.minor()),
            Value::I64(l.total.minor()),
            Value::I64(l.vat_rate.hundredths()),
            Value::Text(variations_text(&l.variations)),
        ]);
    }
    w.insert(&ORDER_LINES, values);
}

/// Adds what validation and payments changed on an existing order's row to `w`.
pub(super) fn update_order(w: &mut Writes, o: &OrderView) {
    w.statement(
        "update orders set number = ?, validated_at = ?, status = ?, seal = ?, paid = ?,
             change_given = ?, terminated_at = ?
         where shop_id = ? and id = ?",
        vec![
            Value::from(o.number),
            Value::from(o.validated_at),
            Value::from(o.status.as_str()),
            Value::from(o.seal.as_deref()),
            Value::I64(o.paid.minor()),
            Value::I64(o.change.minor()),
            Value::from(o.terminated_at),
            Value::I64(o.shop_id),
            Value::I64(o.id),
        ],
    );
}

pub(super) fn order_from_row(r: &Row) -> Result<OrderView, StoreError> {
    let status = match r.str(2)? {
        "pending" => SaleStatus::Pending,
        "validated" => SaleStatus::Validated,
        "terminated" => SaleStatus::Terminated,
        other => return Err(StoreError::Decode(format!("invalid stored status {other}"))),
    };
    Ok(OrderView {
        shop_id: r.i64(0)?,
        id: r.i64(1)?,
        status,
        number: r.opt_i64(3)?,
        is_refund: r.bool(4)?,
        refund_of: r.opt_i64(5)?,
        created_at: r.i64(6)?,
        validated_at: r.opt_i64(7)?,
        terminated_at: r.opt_i64(8)?,
        value_date: r.i64(9)?,
        user_id: r.i64(10)?,
        cash_box_id: r.i64(11)?,
        client_id: r.opt_i64(12)?,
        delivery_method: r.i64(13)?,
        table_id: r.opt_i64(14)?,
        covers: r.opt_i64(15)?,
        pager_num: r.opt_string(16)?,
        public_comment: r.string(17)?,
        private_comment: r.string(18)?,
        total: Money::from_minor(r.i64(19)?),
        vat: Money::from_minor(r.i64(20)?),
        paid: Money::from_minor(r.i64(21)?),
        change: Money::from_minor(r.i64(22)?),
        invoice_token: r.string(23)?,
        seal: r.opt_string(24)?,
        lines: Vec::new(),
        payments: Vec::new(),
    })
}

/// The columns read by [`order_from_row`], for `from orders`.
const ORDER_SELECT: &str = "select shop_id, id, status, number, is_refund, refund_of,
    created_at, validated_at, terminated_at, value_date, user_id, cash_box_id, client_id,
    delivery_method, table_id, covers, pager_num, public_comment, private_comment, total, vat,
    paid, change_given, invoice_token, seal from orders";

/// The columns read by [`line_from_row`], for `from order_lines`.
const LINE_COLUMNS: &str =
    "line_no, item_id, department_id, title, quantity, unit_price, total, vat_rate, variations";

fn line_from_row(r: &Row) -> Result<LineView, StoreError> {
    Ok(LineView {
        line_no: r.i64(0)?,
        item_id: r.opt_i64(1)?,
        department_id: r.opt_i64(2)?,
        title: r.string(3)?,
        quantity: Quantity::from_thousandths(r.i64(4)?)
            .ok_or_else(|| StoreError::Decode("invalid stored quantity".into()))?,
        unit_price: Money::from_minor(r.i64(5)?),
        total: Money::from_minor(r.i64(6)?),
        vat_rate: rate(r.i64(7)?)?,
        variations: parse_variations(r.str(8)?),
    })
}

/// The columns read by [`payment_from_row`], for `from payments`.
const PAYMENT_COLUMNS: &str = "id, payment_method_id, name, amount, at";

fn payment_from_row(r: &Row) -> Result<PaymentView, StoreError> {
    Ok(PaymentView {
        id: r.i64(0)?,
        payment_method_id: r.i64(1)?,
        name: r.string(2)?,
        amount: Money::from_minor(r.i64(3)?),
        at: r.i64(4)?,
    })
}

/// Fills an order's lines and payments.
pub(super) fn load_details(c: &mut dyn Conn, o: &mut OrderView) -> Result<(), StoreError> {
    o.lines = c
        .query(
            &format!(
                "select {LINE_COLUMNS} from order_lines where shop_id = $1 and order_id = $2
                 order by line_no"
            ),
            params![o.shop_id, o.id],
        )?
        .iter()
        .map(line_from_row)
        .collect::<Result<_, StoreError>>()?;
    o.payments = c
        .query(
            &format!(
                "select {PAYMENT_COLUMNS} from payments where shop_id = $1 and order_id = $2
                 order by id"
            ),
            params![o.shop_id, o.id],
        )?
        .iter()
        .map(payment_from_row)
        .collect::<Result<_, StoreError>>()?;
    Ok(())
}

/// The orders named by `(shop, id)`, with lines and payments, each once; an order that
/// does not exist is left out. On PostgreSQL three statements whatever their number (the
/// orders, all their lines, all their payments); on SQLite, where a read is no round trip,
/// [`get_order`] for each.
pub fn get_orders(c: &mut dyn Conn, keys: &[(i64, i64)]) -> Result<Vec<OrderView>, StoreError> {
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    if c.backend() == Backend::Sqlite {
        let mut orders = Vec::with_capacity(keys.len());
        for (shop_id, id) in keys {
            orders.extend(get_order(c, shop_id, id)?);
        }
        return Ok(orders);
    }
    let (shops, ids): (Vec<Value>, Vec<Value>) = keys
        .iter()
        .map(|(s, id)| (Value::I64(*s), Value::I64(*id)))
        .unzip();
    let keys = [Value::Array(shops), Value::Array(ids)];
    // Each table through its primary key, one probe per order (the `unnest` drives a
    // nested loop); the rows come back grouped by order, in each order's own sequence.
    let mut orders = c
        .query(
            &format!(
                "{ORDER_SELECT} where (shop_id, id) in
                 (select * from unnest($1::bigint[], $2::bigint[])) order by shop_id, id"
            ),
            &keys,
        )?
        .iter()
        .map(order_from_row)
        .collect::<Result<Vec<_>, StoreError>>()?;
    let at = |orders: &[OrderView], shop_id: i64, id: i64| {
        orders.binary_search_by_key(&(shop_id, id), |o| (o.shop_id, o.id))
    };
    for r in c.query(
        &format!(
            "select {LINE_COLUMNS}, shop_id, order_id from order_lines
             where (shop_id, order_id) in (select * from unnest($1::bigint[], $2::bigint[]))
             order by shop_id, order_id, line_no"
        ),
        &keys,
    )? {
        if let Ok(i) = at(&orders, r.i64(9)?, r.i64(10)?) {
            orders[i].lines.push(line_from_row(&r)?);
        }
    }
    for r in c.query(
        &format!(
            "select {PAYMENT_COLUMNS}, shop_id, order_id from payments
             where (shop_id, order_id) in (select * from unnest($1::bigint[], $2::bigint[]))
             order by shop_id, order_id, id"
        ),
        &keys,
    )? {
        if let Ok(i) = at(&orders, r.i64(5)?, r.i64(6)?) {
            orders[i].payments.push(payment_from_row(&r)?);
        }
    }
    Ok(orders)
}

/// An order of the shop by its internal id, with lines and payments.
pub fn get_order(c: &mut dyn Conn, shop_id: i64, id: i64) -> Result<Option<OrderView>, StoreError> {
    let Some(row) = c.query_opt(
        &format!("{ORDER_SELECT} where shop_id = $1 and id = $2"),
        params![shop_id, id],
    )?
    else {
        return Ok(None);
    };
    let mut o = order_from_row(&row)?;
    load_details(c, &mut o)?;
    Ok(Some(o))
}

/// An order by its invoice token, with lines and payments. Tokens are
/// `SHOPID-ORDERID-HEX32`, found through the primary key; links handed out before
/// migration 3 are `SHOPID-HEX32`.
pub fn order_by_invoice_token(
    c: &mut dyn Conn,
    token: &str,
) -> Result<Option<OrderView>, StoreError> {
    let Some((shop, rest)) = token.split_once('-') else {
        return Ok(None);
    };
    let Ok(shop_id) = shop.parse::<i64>() else {
        return Ok(None);
    };
    let row = match rest.split_once('-') {
        Some((id, secret)) if secret.len() == 32 => {
            let Ok(id) = id.parse::<i64>() else {
                return Ok(None);
            };
            c.query_opt(
                &format!("{ORDER_SELECT} where shop_id = $1 and id = $2 and invoice_token = $3"),
                params![shop_id, id, token],
            )?
        }
        None if rest.len() == 32 => c.query_opt(
            &format!(
                "{ORDER_SELECT} where shop_id = $1 and invoice_token = $2
                   and invoice_token not like '%-%-%'"
            ),
            params![shop_id, token],
        )?,
        _ => None,
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let mut o = order_from_row(&row)?;
    load_details(c, &mut o)?;
    Ok(Some(o))
}

/// Filters of getOrders.php.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    /// true: validated and terminated orders; false: pending ones.
    pub validated: bool,
    /// Value dates (validated) or creation dates (pending) in `[from, to)`, microseconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub delivery_method: Option<i64>,
    pub cash_box_id: Option<i64>,
    pub user_id: Option<i64>,
}

/// Streams the shop's orders matching `f`, ordered by id, each with its details.
pub fn each_order(
    c: &mut dyn Conn,
    shop_id: i64,
    f: &OrderFilter,
    out: &mut dyn FnMut(OrderView) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut after = 0;
    while let Some(next) = orders_page(c, shop_id, f, after, 500, out)?.next_after(500) {
        after = next;
    }
    Ok(())
}

/// Hands `out` at most `limit` of the shop's orders matching `f` whose id is above
/// `after`, in id order, each with its details: one page of [`each_order`].
pub fn orders_page(
    c: &mut dyn Conn,
    shop_id: i64,
    f: &OrderFilter,
    after: i64,
    limit: usize,
    out: &mut dyn FnMut(OrderView) -> Result<(), StoreError>,
) -> Result<Page, StoreError> {
    let date_col = if f.validated {
        "value_date"
    } else {
        "created_at"
    };
    let status = if f.validated {
        "status <> 'pending'"
    } else {
        "status = 'pending'"
    };
    // The page's headers, then each order's details: one cursor open at a time.
    // The casts type the optional filters: PostgreSQL cannot infer a type from `$2 is null`.
    let sql = format!(
        "{ORDER_SELECT} where shop_id = $1 and {status}
           and (cast($2 as bigint) is null or {date_col} >= $2)
           and (cast($3 as bigint) is null or {date_col} < $3)
           and (cast($4 as bigint) is null or delivery_method = $4)
           and (cast($5 as bigint) is null or cash_box_id = $5)
           and (cast($6 as bigint) is null or user_id = $6) and id > $7
         order by id limit $8"
    );
    let rows = c.query(
        &sql,
        params![
            shop_id,
            f.from,
            f.to,
            f.delivery_method,
            f.cash_box_id,
            f.user_id,
            after,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
    )?;
    let mut page = Page {
        rows: 0,
        last_id: None,
    };
    for r in &rows {
        let mut o = order_from_row(r)?;
        page.rows += 1;
        page.last_id = Some(o.id);
        load_details(c, &mut o)?;
        out(o)?;
    }
    Ok(page)
}

impl crate::Store {
    /// [`orders_page`] on a pooled reader connection, which returns to the pool when this
    /// returns: a download that pages never holds one while it waits for a slow client.
    pub fn orders_page_blocking(
        &self,
        shop_id: i64,
        f: &OrderFilter,
        after: i64,
        limit: usize,
        out: &mut dyn FnMut(OrderView) -> Result<(), StoreError>,
    ) -> Result<Page, StoreError> {
        self.read_blocking(|c| orders_page(c, shop_id, f, after, limit, out))
    }
}
