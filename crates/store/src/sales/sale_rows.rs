//! What a sale's checks read (`SaleRows`): the catalog rows its lines name, the payment
//! method, the user, the cash boxes, the table and client it names, and on PostgreSQL the
//! record of its idempotency key. Loaded before the checks run, in one statement on
//! PostgreSQL, where each statement is a round trip to the database and an executor
//! start in it: one instead of four or more per sale.

use super::*;

/// An idempotency record as read: `(request_hash, response, created_at)`.
pub(super) type KeyRecord = (String, String, i64);

/// The rows a sale's checks read, loaded by [`SaleRows::load`].
pub(super) struct SaleRows {
    pub(super) catalog: MemoryCatalog,
    /// The payment method asked for, if one was and the shop has it.
    pub(super) method: Option<PaymentMethod>,
    /// The user asked for, if the shop has it; without one asked, the shop's `webservice`
    /// user if it exists yet.
    pub(super) user: Option<i64>,
    /// The cash box asked for, or the shop's every box when none was.
    pub(super) cash_boxes: Vec<CashBoxRow>,
    /// Whether the table asked for exists (`true` when none was).
    pub(super) table: bool,
    /// Whether the existing client asked for exists (`true` when none was).
    pub(super) client: bool,
    /// The record of the request's idempotency key, when asked for (PostgreSQL).
    pub(super) key_record: Option<KeyRecord>,
    /// The shop's catalog version the rows were read at (PostgreSQL).
    pub(super) version: Option<i64>,
    /// Whether the rows came from what the process remembers ([`CheckCache`]).
    pub(super) remembered: bool,
}

/// Whether a sale's checks read the shop's rows from what the process remembers
/// ([`CheckCache`], PostgreSQL).
#[derive(Clone, Copy)]
pub(crate) enum Recall<'a> {
    /// From the database only.
    Off,
    /// From what is remembered when it has them all, else from the database, adding them.
    Answer(&'a CheckCache),
    /// From the database, adding them to what is remembered.
    Learn(&'a CheckCache),
}

impl SaleRows {
    /// Loads what `input`'s checks read, its lines already parsed into `specs`; with
    /// `key`, also the record of that idempotency key (PostgreSQL only: SQLite's single
    /// writer reads it beside the write); on PostgreSQL, as `recall` says.
    pub(super) fn load(
        c: &mut dyn Conn,
        shop: &Shop,
        input: &SaleInput,
        specs: &[items_list::LineSpec],
        key: Option<&str>,
        recall: Recall<'_>,
    ) -> Result<SaleRows, StoreError> {
        if c.backend() == Backend::Sqlite {
            return load_one_by_one(c, shop, input, specs);
        }
        let ids = referenced_ids(specs);
        let remembered = match recall {
            Recall::Answer(cache) => cache.answer(shop, input, &ids),
            Recall::Off | Recall::Learn(_) => None,
        };
        let from_memory = remembered.is_some();
        let rows = load_in_one(c, shop, input, &ids, key, remembered)?;
        if let (false, Recall::Answer(cache) | Recall::Learn(cache)) = (from_memory, recall) {
            cache.learn(shop.id, input, &rows);
        }
        Ok(rows)
    }
}

/// The lookups one after the other: on SQLite's writer each is a function call, and
/// those of the catalog, payment method, user and cash boxes are answered from memory
/// when repeated within a batch ([`Conn::query_cached`]).
fn load_one_by_one(
    c: &mut dyn Conn,
    shop: &Shop,
    input: &SaleInput,
    specs: &[items_list::LineSpec],
) -> Result<SaleRows, StoreError> {
    let catalog = load_catalog(c, shop, specs)?;
    let method = match input.payment {
        PaymentParam::Method(id) => c
            .query_opt_cached(METHOD, params![shop.id, id])?
            .map(|r| method_of(id, &r, 0))
            .transpose()?,
        _ => None,
    };
    let user = match input.user_id {
        Some(id) => exists(c, "users", shop.id, id)?.then_some(id),
        None => find_webservice_user(c, shop.id)?,
    };
    let boxes = match input.cash_box_id {
        Some(id) => c.query_cached(
            "select id, is_open, name = 'Web', is_virtual from cash_boxes
             where shop_id = $1 and id = $2",
            params![shop.id, id],
        )?,
        None => c.query_cached(
            "select id, is_open, name = 'Web', is_virtual from cash_boxes where shop_id = $1",
            params![shop.id],
        )?,
    };
    let cash_boxes = boxes
        .iter()
        .map(|r| cash_box_of(r, 0))
        .collect::<Result<_, _>>()?;
    let table = match input.table_id {
        Some(id) => exists(c, "dining_tables", shop.id, id)?,
        None => true,
    };
    let client = match &input.client {
        ClientInput::Existing(id) => exists(c, "clients", shop.id, *id)?,
        _ => true,
    };
    Ok(SaleRows {
        catalog,
        method,
        user,
        cash_boxes,
        table,
        client,
        key_record: None,
        version: None,
        remembered: false,
    })
}

/// The payment method `id`'s columns (`name, kind, min_amount, max_amount`).
pub(super) const METHOD: &str = "select name, kind, min_amount, max_amount from payment_methods
     where shop_id = $1 and id = $2";

/// Payment method `id` from `r`'s columns `at..at + 4` as [`METHOD`] gives them.
pub(super) fn method_of(id: i64, r: &Row, at: usize) -> Result<PaymentMethod, StoreError> {
    Ok(PaymentMethod {
        id,
        name: r.string(at)?,
        kind: PaymentKind::parse(r.str(at + 1)?)
            .map_err(|_| StoreError::Decode("invalid stored payment kind".into()))?,
        min_amount: r.opt_i64(at + 2)?.map(Money::from_minor),
        max_amount: r.opt_i64(at + 3)?.map(Money::from_minor),
    })
}

/// A cash box from `r`'s columns `at..at + 4`: `id, is_open, is_web, is_virtual`.
fn cash_box_of(r: &Row, at: usize) -> Result<CashBoxRow, StoreError> {
    Ok(CashBoxRow {
        id: r.i64(at)?,
        is_open: r.bool(at + 1)?,
        is_web: r.bool(at + 2)?,
        is_virtual: r.bool(at + 3)?,
    })
}

/// What each row of [`load_in_one`]'s statement is, in its first column.
mod tag {
    pub(super) const ITEM: i64 = 0;
    pub(super) const VARIATION: i64 = 1;
    pub(super) const DEPARTMENT: i64 = 2;
    pub(super) const METHOD: i64 = 3;
    pub(super) const USER: i64 = 4;
    pub(super) const CASH_BOX: i64 = 5;
    pub(super) const TABLE: i64 = 6;
    pub(super) const CLIENT: i64 = 7;
    pub(super) const KEY: i64 = 8;
    pub(super) const VERSION: i64 = 9;
}

/// A `union all` statement being built: its parts and their parameters, `$1` the shop.
struct Union {
    parts: Vec<String>,
    values: Vec<Value>,
}

impl Union {
    /// `select tag, columns rest`, the `?` of `rest` standing for `value`.
    fn part(&mut self, tag: i64, columns: &str, rest: &str, value: Option<Value>) {
        let rest = match value {
            Some(v) => {
                self.values.push(v);
                rest.replace('?', &format!("${}", self.values.len()))
            }
            None => rest.to_string(),
        };
        self.parts
            .push(format!("select {tag}::bigint, {columns} {rest}"));
    }
}

/// Every lookup as one `union all` of the parts the sale needs, each row shaped
/// `(tag, id, text, text, bigint, bigint, bigint, boolean, boolean, boolean)`. Each part
/// is a key lookup (or the shop's few cash boxes). The text depends only on which parts
/// are needed, never on how many items, so a handful of prepared plans serve every sale.
/// The catalog rows come with the shop's catalog version, read in the same snapshot.
/// With `remembered` rows, only the key's record is read: no statement without a key.
fn load_in_one(
    c: &mut dyn Conn,
    shop: &Shop,
    input: &SaleInput,
    ids: &ReferencedIds,
    key: Option<&str>,
    remembered: Option<SaleRows>,
) -> Result<SaleRows, StoreError> {
    let mut q = Union {
        parts: Vec::with_capacity(9),
        values: vec![Value::I64(shop.id)],
    };
    if remembered.is_none() {
        catalog_parts(&mut q, shop, input, ids);
    }
    if let Some(key) = key {
        q.part(
            tag::KEY,
            &format!(
                "created_at, request_hash, response, null::bigint, null::bigint, null::bigint,
                 {NO_FLAGS}"
            ),
            "from idempotency_keys where shop_id = $1 and idem_key = ?",
            Some(Value::from(key)),
        );
    }
    let mut rows = remembered.unwrap_or_else(|| SaleRows {
        catalog: MemoryCatalog::new(shop.default_vat_rate, shop.prices_include_vat),
        method: None,
        user: None,
        cash_boxes: Vec::new(),
        table: input.table_id.is_none(),
        client: !matches!(input.client, ClientInput::Existing(_)),
        key_record: None,
        version: None,
        remembered: false,
    });
    if q.parts.is_empty() {
        return Ok(rows);
    }
    for r in c.query(&q.parts.join(" union all "), &q.values)? {
        let id = r.i64(1)?;
        match r.i64(0)? {
            tag::ITEM => {
                rows.catalog.items.insert(
                    id,
                    CatalogItem {
                        name: r.string(2)?,
                        unit_price: Money::from_minor(r.i64(4)?),
                        department_id: Some(r.i64(5)?),
                        vat_rate: rate(r.i64(6)?)?,
                        active: r.bool(7)?,
                    },
                );
            }
            tag::VARIATION => {
                rows.catalog.variations.insert(
                    id,
                    CatalogVariation {
                        item_id: r.i64(4)?,
                        name: r.string(2)?,
                        price_change: Money::from_minor(r.i64(5)?),
                    },
                );
            }
            tag::DEPARTMENT => {
                rows.catalog.departments.insert(
                    id,
                    CatalogDepartment {
                        name: r.string(2)?,
                        vat_rate: rate(r.i64(4)?)?,
                    },
                );
            }
            tag::METHOD => rows.method = Some(method_of(id, &r, 2)?),
            tag::USER => rows.user = Some(id),
            tag::CASH_BOX => rows.cash_boxes.push(CashBoxRow {
                id,
                is_open: r.bool(7)?,
                is_web: r.bool(8)?,
                is_virtual: r.bool(9)?,
            }),
            tag::TABLE => rows.table = true,
            tag::CLIENT => rows.client = true,
            tag::KEY => rows.key_record = Some((r.string(2)?, r.string(3)?, id)),
            tag::VERSION => rows.version = Some(id),
            other => return Err(StoreError::Decode(format!("sale lookup tag {other}"))),
        }
    }
    Ok(rows)
}

const NO_FLAGS: &str = "null::boolean, null::boolean, null::boolean";

/// The parts of [`load_in_one`]'s statement that read the shop's rows (all but the
/// key's record), the catalog version among them.
fn catalog_parts(q: &mut Union, shop: &Shop, input: &SaleInput, ids: &ReferencedIds) {
    let array = |ids: &std::collections::BTreeSet<i64>| {
        Value::Array(ids.iter().map(|id| Value::I64(*id)).collect())
    };
    if !ids.items.is_empty() {
        q.part(
            tag::ITEM,
            "i.id, i.name, null::text, i.price, i.department_id, coalesce(i.vat_rate, d.vat_rate),
             i.active, null::boolean, null::boolean",
            "from items i join departments d on d.shop_id = i.shop_id and d.id = i.department_id
             where i.shop_id = $1 and i.id = any(?::bigint[])",
            Some(array(&ids.items)),
        );
    }
    if !ids.variations.is_empty() {
        q.part(
            tag::VARIATION,
            &format!("id, name, null::text, item_id, price_change, null::bigint, {NO_FLAGS}"),
            "from variations where shop_id = $1 and id = any(?::bigint[])",
            Some(array(&ids.variations)),
        );
    }
    if !ids.departments.is_empty() {
        q.part(
            tag::DEPARTMENT,
            &format!("id, name, null::text, vat_rate, null::bigint, null::bigint, {NO_FLAGS}"),
            "from departments where shop_id = $1 and id = any(?::bigint[])",
            Some(array(&ids.departments)),
        );
    }
    if let PaymentParam::Method(id) = input.payment {
        q.part(
            tag::METHOD,
            &format!("id, name, kind, min_amount, max_amount, null::bigint, {NO_FLAGS}"),
            "from payment_methods where shop_id = $1 and id = ?",
            Some(Value::I64(id)),
        );
    }
    const ID_ONLY: &str = "id, null::text, null::text, null::bigint, null::bigint, null::bigint,
         null::boolean, null::boolean, null::boolean";
    match input.user_id {
        Some(id) => q.part(
            tag::USER,
            ID_ONLY,
            "from users where shop_id = $1 and id = ?",
            Some(Value::I64(id)),
        ),
        None => q.part(
            tag::USER,
            ID_ONLY,
            "from users where shop_id = $1 and login = ?",
            Some(Value::Text(format!("webservice@shop-{}", shop.id))),
        ),
    }
    let box_columns = "id, null::text, null::text, null::bigint, null::bigint, null::bigint,
         is_open, name = 'Web', is_virtual";
    match input.cash_box_id {
        Some(id) => q.part(
            tag::CASH_BOX,
            box_columns,
            "from cash_boxes where shop_id = $1 and id = ?",
            Some(Value::I64(id)),
        ),
        None => q.part(
            tag::CASH_BOX,
            box_columns,
            "from cash_boxes where shop_id = $1",
            None,
        ),
    }
    if let Some(id) = input.table_id {
        q.part(
            tag::TABLE,
            ID_ONLY,
            "from dining_tables where shop_id = $1 and id = ?",
            Some(Value::I64(id)),
        );
    }
    if let ClientInput::Existing(id) = input.client {
        q.part(
            tag::CLIENT,
            ID_ONLY,
            "from clients where shop_id = $1 and id = ?",
            Some(Value::I64(id)),
        );
    }
    // One row whether or not the shop's catalog was ever changed (version 0).
    q.part(
        tag::VERSION,
        "cast(coalesce(sum(n), 0) as bigint), null::text, null::text, null::bigint,
         null::bigint, null::bigint, null::boolean, null::boolean, null::boolean",
        "from catalog_changes where shop_id = $1",
        None,
    );
}
