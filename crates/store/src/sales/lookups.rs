//! What a sale reads before it writes: the catalog rows its lines name, the payment
//! method, the user, the cash box, and whether a row exists.

use super::*;

/// Loads the catalog rows a sale's lines refer to.
pub(super) fn load_catalog(
    c: &mut dyn Conn,
    shop: &Shop,
    specs: &[items_list::LineSpec],
) -> Result<MemoryCatalog, StoreError> {
    let ids = referenced_ids(specs);
    let mut cat = MemoryCatalog::new(shop.default_vat_rate, shop.prices_include_vat);
    // One statement for all the items (SQL texts per count of ids, each prepared once).
    let items: Vec<i64> = ids.items.into_iter().collect();
    for chunk in items.chunks(100) {
        let mut sql = String::from(
            "select i.id, i.name, i.price, i.department_id, coalesce(i.vat_rate, d.vat_rate),
                 i.active
             from items i join departments d on d.shop_id = i.shop_id and d.id = i.department_id
             where i.shop_id = ? and i.id in (?",
        );
        sql.push_str(&", ?".repeat(chunk.len() - 1));
        sql.push(')');
        let mut values = Vec::with_capacity(chunk.len() + 1);
        values.push(Value::I64(shop.id));
        values.extend(chunk.iter().map(|id| Value::I64(*id)));
        for r in c.query_cached(&numbered(&[&sql]), &values)? {
            cat.items.insert(
                r.i64(0)?,
                CatalogItem {
                    name: r.string(1)?,
                    unit_price: Money::from_minor(r.i64(2)?),
                    department_id: Some(r.i64(3)?),
                    vat_rate: rate(r.i64(4)?)?,
                    active: r.bool(5)?,
                },
            );
        }
    }
    for id in ids.variations {
        if let Some(r) = c.query_opt_cached(
            "select item_id, name, price_change from variations where shop_id = $1 and id = $2",
            params![shop.id, id],
        )? {
            cat.variations.insert(
                id,
                CatalogVariation {
                    item_id: r.i64(0)?,
                    name: r.string(1)?,
                    price_change: Money::from_minor(r.i64(2)?),
                },
            );
        }
    }
    for id in ids.departments {
        if let Some(r) = c.query_opt_cached(
            "select name, vat_rate from departments where shop_id = $1 and id = $2",
            params![shop.id, id],
        )? {
            cat.departments.insert(
                id,
                CatalogDepartment {
                    name: r.string(0)?,
                    vat_rate: rate(r.i64(1)?)?,
                },
            );
        }
    }
    Ok(cat)
}

pub(super) fn rate(h: i64) -> Result<VatRate, StoreError> {
    VatRate::from_hundredths(h).ok_or_else(|| StoreError::Decode("invalid stored VAT rate".into()))
}

/// The shop's payment method `id`, or `unknown_payment_method` on `field`.
pub fn payment_method(
    c: &mut dyn Conn,
    shop_id: i64,
    id: i64,
    field: &str,
) -> Result<PaymentMethod, SaleFailure> {
    let row = c
        .query_opt_cached(
            "select name, kind, min_amount, max_amount from payment_methods
             where shop_id = $1 and id = $2",
            params![shop_id, id],
        )?
        .ok_or_else(|| {
            SaleError::new(
                ErrorCode::UnknownPaymentMethod,
                field,
                format!("payment method {id} does not exist in this shop"),
            )
        })?;
    Ok(PaymentMethod {
        id,
        name: row.string(0)?,
        kind: PaymentKind::parse(row.str(1)?)
            .map_err(|_| StoreError::Decode("invalid stored payment kind".into()))?,
        min_amount: row.opt_i64(2)?.map(Money::from_minor),
        max_amount: row.opt_i64(3)?.map(Money::from_minor),
    })
}

/// A row a sale names by id, with the field that names it.
#[derive(Clone, Copy)]
pub(super) enum Named {
    User,
    Table,
    Client,
}

/// `id`, when the shop has that row; else the `unknown_*` refusal of its field.
pub(super) fn must_exist(
    c: &mut dyn Conn,
    what: Named,
    shop_id: i64,
    id: i64,
) -> Result<i64, SaleFailure> {
    let (table, code, field, noun) = match what {
        Named::User => ("users", ErrorCode::UnknownUser, "idUser", "user"),
        Named::Table => ("dining_tables", ErrorCode::UnknownTable, "idtable", "table"),
        Named::Client => ("clients", ErrorCode::UnknownClient, "idClient", "client"),
    };
    if exists(c, table, shop_id, id)? {
        return Ok(id);
    }
    Err(SaleError::new(
        code,
        field,
        format!("{noun} {id} does not exist in this shop"),
    )
    .into())
}

pub(super) fn exists(
    c: &mut dyn Conn,
    table: &str,
    shop_id: i64,
    id: i64,
) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        &format!("select 1 from {table} where shop_id = $1 and id = $2"),
        params![shop_id, id],
    )?
    .is_some())
}

/// The shop's `webservice` user, if it exists yet.
pub(super) fn find_webservice_user(
    c: &mut dyn Conn,
    shop_id: i64,
) -> Result<Option<i64>, StoreError> {
    c.query_opt_cached(
        "select id from users where shop_id = $1 and login = $2",
        params![shop_id, format!("webservice@shop-{shop_id}")],
    )?
    .map(|r| r.i64(0))
    .transpose()
}

/// The shop's `webservice` user, created on first use (it cannot sign in).
pub(super) fn webservice_user(c: &mut dyn Conn, shop_id: i64) -> Result<i64, StoreError> {
    if let Some(id) = find_webservice_user(c, shop_id)? {
        return Ok(id);
    }
    let login = format!("webservice@shop-{shop_id}");
    // "!" is no argon2 hash: no password ever matches it. Concurrent first sales of a shop
    // (PostgreSQL) may all find no user: the insert waits for the one that wins, then
    // yields to it, and every sale reads the same user back.
    c.execute(
        "insert into users (shop_id, login, display_name, role, password_hash, created_at)
         values ($1, $2, 'webservice', $3, '!', $4) on conflict (login) do nothing",
        params![
            shop_id,
            login.as_str(),
            comptoir_core::model::Role::Cashier.as_str(),
            now_micros()
        ],
    )?;
    c.query_one(
        "select id from users where shop_id = $1 and login = $2",
        params![shop_id, login.as_str()],
    )?
    .i64(0)
}

/// The cash box of a sale: the rows [`choose_cash_box`] needs, loaded, then its rule.
pub(super) fn cash_box(
    c: &mut dyn Conn,
    shop_id: i64,
    asked: Option<i64>,
) -> Result<i64, SaleFailure> {
    let rows = match asked {
        Some(id) => c.query_cached(
            "select id, is_open, name = 'Web', is_virtual from cash_boxes
             where shop_id = $1 and id = $2",
            params![shop_id, id],
        )?,
        None => c.query_cached(
            "select id, is_open, name = 'Web', is_virtual from cash_boxes where shop_id = $1",
            params![shop_id],
        )?,
    };
    // Decoded as the rule reads them, without collecting: the first bad row stops it.
    let mut bad = None;
    let boxes = rows.iter().map_while(|r| {
        let decoded = (|| {
            Ok::<_, StoreError>(CashBoxRow {
                id: r.i64(0)?,
                is_open: r.bool(1)?,
                is_web: r.bool(2)?,
                is_virtual: r.bool(3)?,
            })
        })();
        decoded.map_err(|e| bad = Some(e)).ok()
    });
    let chosen = choose_cash_box(asked, boxes);
    if let Some(e) = bad {
        return Err(e.into());
    }
    Ok(chosen?)
}

/// The money of order `id` and its refunds (see [`Balance`]): its own row as `original`,
/// and the sums over its refunds.
pub(super) fn balance(c: &mut dyn Conn, original: &OrderView) -> Result<Balance, StoreError> {
    let r = c.query_one(
        // PostgreSQL sums bigints as numeric: cast back.
        "select cast(coalesce(sum(total), 0) as bigint),
                cast(coalesce(sum(paid - change_given), 0) as bigint)
         from orders where shop_id = $1 and refund_of = $2",
        params![original.shop_id, original.id],
    )?;
    Ok(Balance::of(
        original,
        Money::from_minor(r.i64(0)?),
        Money::from_minor(r.i64(1)?),
    ))
}
