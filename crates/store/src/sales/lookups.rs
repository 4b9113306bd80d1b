//! What a sale reads before it writes, one lookup at a time: the catalog rows its lines
//! name, the payment method, the user, and whether a row exists (`SaleRows` gathers them).

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
        .query_opt_cached(METHOD, params![shop_id, id])?
        .ok_or_else(|| {
            SaleError::new(
                ErrorCode::UnknownPaymentMethod,
                field,
                format!("payment method {id} does not exist in this shop"),
            )
        })?;
    Ok(method_of(id, &row, 0)?)
}

/// A row a sale names by id, with the field that names it.
#[derive(Clone, Copy)]
pub(super) enum Named {
    User,
    Table,
    Client,
}

/// The `unknown_*` refusal of the field that names row `id`, which the shop lacks.
pub(super) fn unknown(what: Named, id: i64) -> SaleError {
    let (code, field, noun) = match what {
        Named::User => (ErrorCode::UnknownUser, "idUser", "user"),
        Named::Table => (ErrorCode::UnknownTable, "idtable", "table"),
        Named::Client => (ErrorCode::UnknownClient, "idClient", "client"),
    };
    SaleError::new(
        code,
        field,
        format!("{noun} {id} does not exist in this shop"),
    )
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
