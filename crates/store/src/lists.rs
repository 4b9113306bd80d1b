//! The entity lists of the data downloads: each list's fields (export name, SQL expression,
//! stored form) in one table, and a paged reader that hands rows out one by one as values
//! borrowed from the database, without collecting or allocating per row on SQLite.

use crate::db::Value;
use crate::{Engine, POOL_WAIT, Store, StoreError, params};
use std::borrow::Cow;
use std::sync::OnceLock;

/// An entity list a shop can download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum List {
    Items,
    Departments,
    DepartmentGroups,
    Clients,
    Variations,
    DeliveryPeople,
    PaymentMethods,
    CashBoxes,
    DeliveryZones,
    RelayPoints,
    Discounts,
    Users,
    Tables,
}

/// How a field's stored value reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An integer as stored: ids, positions, seats, metres.
    Int,
    /// Free text.
    Text,
    /// A boolean (SQLite stores `0`/`1`).
    Bool,
    /// An amount in minor units of the shop's currency.
    Money,
    /// A percentage in hundredths (VAT rates, discounts): `550` is 5.5 %.
    Percent,
    /// A coordinate in 1e-7 degrees.
    Coordinate,
    /// A quantity in thousandths of a unit (stock).
    Quantity,
    /// A discount's value: hundredths of a percent when the row's `kind` field is
    /// `percent`, minor units of the currency otherwise.
    DiscountValue,
}

/// One field of a list: its export name, how its value reads, and where it comes from.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The field name in every format (JSON key, CSV and HTML header).
    pub name: &'static str,
    /// How its stored value reads.
    pub kind: Kind,
    /// Its SQL expression over the list's table, aliased `t`.
    sql: &'static str,
}

const fn col(name: &'static str, kind: Kind, sql: &'static str) -> Column {
    Column { name, kind, sql }
}

use Kind::{Bool, Coordinate, DiscountValue, Int, Money, Percent, Quantity, Text};

// Every list's first field is `id` (`t.id`): pages continue after the last id read.
const ITEMS: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("price", Money, "t.price"),
    // The item's own rate, else its department's: the rate a sale would use. A lookup
    // rather than a join, so there is no join order to plan and most rows skip it.
    col(
        "vatRate",
        Percent,
        "coalesce(t.vat_rate, (select d.vat_rate from departments d
             where d.shop_id = t.shop_id and d.id = t.department_id))",
    ),
    col("departmentID", Int, "t.department_id"),
    col("barcode", Text, "t.barcode"),
    col("reference", Text, "t.reference"),
    col("position", Int, "t.position"),
    col("active", Bool, "t.active"),
    col("stock", Quantity, "t.stock"),
];
const DEPARTMENTS: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("groupID", Int, "t.group_id"),
    col("vatRate", Percent, "t.vat_rate"),
    col("defaultDiscount", Percent, "t.default_discount"),
];
const DEPARTMENT_GROUPS: &[Column] = &[col("id", Int, "t.id"), col("name", Text, "t.name")];
const CLIENTS: &[Column] = &[
    col("id", Int, "t.id"),
    col("lastName", Text, "t.last_name"),
    col("firstName", Text, "t.first_name"),
    col("email", Text, "t.email"),
    col("phone", Text, "t.phone"),
    col("phone2", Text, "t.phone2"),
    col("address1", Text, "t.address1"),
    col("address2", Text, "t.address2"),
    col("addressComment", Text, "t.address_comment"),
    col("postcode", Text, "t.postcode"),
    col("city", Text, "t.city"),
    col("country", Text, "t.country"),
    col("vatNumber", Text, "t.vat_number"),
    col("companyNumber", Text, "t.company_number"),
    col("barcode", Text, "t.barcode"),
    col("lat", Coordinate, "t.lat"),
    col("lng", Coordinate, "t.lng"),
];
const VARIATIONS: &[Column] = &[
    col("id", Int, "t.id"),
    col("itemID", Int, "t.item_id"),
    col("name", Text, "t.name"),
    col("priceChange", Money, "t.price_change"),
];
const DELIVERY_PEOPLE: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("phone", Text, "t.phone"),
];
const PAYMENT_METHODS: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("kind", Text, "t.kind"),
    col("minAmount", Money, "t.min_amount"),
    col("maxAmount", Money, "t.max_amount"),
    col("cashBoxID", Int, "t.cash_box_id"),
];
const CASH_BOXES: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("virtual", Bool, "t.is_virtual"),
    col("open", Bool, "t.is_open"),
    col("fund", Money, "t.fund"),
];
const DELIVERY_ZONES: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("fee", Money, "t.fee"),
    col("minAmount", Money, "t.min_amount"),
    col("address", Text, "t.address"),
    col("radiusMeters", Int, "t.radius_m"),
];
const RELAY_POINTS: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("address", Text, "t.address"),
    col("openingHours", Text, "t.opening_hours"),
];
const DISCOUNTS: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("kind", Text, "t.kind"),
    col("value", DiscountValue, "t.value"),
];
// Never the password hash: only what identifies a user and what they may do.
const USERS: &[Column] = &[
    col("id", Int, "t.id"),
    col("login", Text, "t.login"),
    col("name", Text, "t.display_name"),
    col("role", Text, "t.role"),
];
const TABLES: &[Column] = &[
    col("id", Int, "t.id"),
    col("name", Text, "t.name"),
    col("seats", Int, "t.seats"),
];

/// The most fields a list has (clients).
pub const MAX_COLUMNS: usize = 17;

impl List {
    /// Every list, in the order of the documentation.
    pub const ALL: &'static [List] = &[
        List::Items,
        List::Departments,
        List::DepartmentGroups,
        List::Clients,
        List::Variations,
        List::DeliveryPeople,
        List::PaymentMethods,
        List::CashBoxes,
        List::DeliveryZones,
        List::RelayPoints,
        List::Discounts,
        List::Users,
        List::Tables,
    ];

    /// The fields of this list, in order; the first is always `id`.
    pub fn columns(self) -> &'static [Column] {
        match self {
            List::Items => ITEMS,
            List::Departments => DEPARTMENTS,
            List::DepartmentGroups => DEPARTMENT_GROUPS,
            List::Clients => CLIENTS,
            List::Variations => VARIATIONS,
            List::DeliveryPeople => DELIVERY_PEOPLE,
            List::PaymentMethods => PAYMENT_METHODS,
            List::CashBoxes => CASH_BOXES,
            List::DeliveryZones => DELIVERY_ZONES,
            List::RelayPoints => RELAY_POINTS,
            List::Discounts => DISCOUNTS,
            List::Users => USERS,
            List::Tables => TABLES,
        }
    }

    /// The field names, in order.
    pub fn names(self) -> Vec<&'static str> {
        self.columns().iter().map(|c| c.name).collect()
    }

    fn table(self) -> &'static str {
        match self {
            List::Items => "items",
            List::Departments => "departments",
            List::DepartmentGroups => "department_groups",
            List::Clients => "clients",
            List::Variations => "variations",
            List::DeliveryPeople => "delivery_people",
            List::PaymentMethods => "payment_methods",
            List::CashBoxes => "cash_boxes",
            List::DeliveryZones => "delivery_zones",
            List::RelayPoints => "relay_points",
            List::Discounts => "discounts",
            List::Users => "users",
            List::Tables => "dining_tables",
        }
    }

    /// One page: `$1` shop, `$2` the last id already read, `$3` the most rows.
    fn page_sql(self) -> &'static str {
        static SQL: OnceLock<Vec<String>> = OnceLock::new();
        let all = SQL.get_or_init(|| {
            List::ALL
                .iter()
                .map(|l| {
                    let fields: Vec<&str> = l.columns().iter().map(|c| c.sql).collect();
                    format!(
                        "select {} from {} t where t.shop_id = $1 and t.id > $2 order by t.id limit $3",
                        fields.join(", "),
                        l.table()
                    )
                })
                .collect()
        });
        let i = List::ALL.iter().position(|l| *l == self).unwrap_or(0);
        &all[i]
    }
}

/// A stored value of a list row, borrowed from the database's row when it can be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// SQL `null`.
    Null,
    /// An integer, in the unit its [`Kind`] says (minor units, hundredths, ...).
    Int(i64),
    /// A boolean (PostgreSQL; SQLite gives [`Field::Int`]).
    Bool(bool),
    /// Text, borrowed unless it had to be repaired (bytes that were not UTF-8).
    Text(Cow<'a, str>),
}

/// What one call of [`Store::list_page_blocking`] read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Rows handed out.
    pub rows: usize,
    /// The id of the last row, to continue after; `None` when the page was empty.
    pub last_id: Option<i64>,
}

impl Page {
    /// The `after` of the next page, or `None` when this one was the last.
    pub fn next_after(&self, limit: usize) -> Option<i64> {
        self.last_id.filter(|_| self.rows >= limit)
    }
}

/// A row handler: gets each row's fields in [`List::columns`] order.
pub type RowFn<'f> = dyn FnMut(&[Field<'_>]) -> Result<(), StoreError> + 'f;

impl Store {
    /// Reads at most `limit` rows of `list` for `shop_id` whose id is above `after`, in id
    /// order, handing each to `row` as it comes. The connection returns to the pool when
    /// this returns, so a caller that pages (`after` = the last id) never holds one while
    /// it waits for a slow client. An error from `row` stops the query and is returned.
    pub fn list_page_blocking(
        &self,
        list: List,
        shop_id: i64,
        after: i64,
        limit: usize,
        row: &mut RowFn<'_>,
    ) -> Result<Page, StoreError> {
        let sql = list.page_sql();
        let n = list.columns().len();
        let limit_param = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut page = Page {
            rows: 0,
            last_id: None,
        };
        let mut seen = |fields: &[Field<'_>]| -> Result<(), StoreError> {
            let Some(Field::Int(id)) = fields.first() else {
                return Err(StoreError::Decode("a list row without an id".into()));
            };
            page.rows += 1;
            page.last_id = Some(*id);
            row(fields)
        };
        match &*self.engine {
            Engine::Sqlite { readers, .. } => {
                let mut conn = readers.get(POOL_WAIT)?;
                let conn = &mut conn.0;
                // Straight from SQLite's row buffer: no `Row` is built, no text is copied.
                let mut st = conn.prepare_cached(&crate::db::sqlite_placeholders(sql))?;
                let mut rows = st.query(rusqlite::params![shop_id, after, limit_param])?;
                while let Some(r) = rows.next()? {
                    let mut fields = [const { Field::Null }; MAX_COLUMNS];
                    for (i, f) in fields.iter_mut().enumerate().take(n) {
                        *f = sqlite_field(r.get_ref(i)?);
                    }
                    seen(&fields[..n])?;
                }
            }
            Engine::Postgres { .. } => {
                self.read_blocking(|c| {
                    // Pages must come from the primary key in order. Without statistics (a
                    // catalog just imported, before autoanalyze) the planner would rather
                    // read and sort every remaining row of the shop for each page, which
                    // makes a download quadratic; with sorting ruled out it cannot.
                    c.batch("begin read only; set local enable_sort = off")?;
                    let read = c.query_each(sql, params![shop_id, after, limit_param], &mut |r| {
                        let mut fields = [const { Field::Null }; MAX_COLUMNS];
                        for (f, v) in fields.iter_mut().zip(&r.0).take(n) {
                            *f = match v {
                                Value::Null => Field::Null,
                                Value::I64(i) => Field::Int(*i),
                                Value::Bool(b) => Field::Bool(*b),
                                Value::Text(s) => Field::Text(Cow::Borrowed(s)),
                                Value::Bytes(b) => Field::Text(String::from_utf8_lossy(b)),
                                // No column is read as an array.
                                Value::Array(_) => Field::Null,
                            };
                        }
                        seen(&fields[..n])
                    });
                    match read {
                        Ok(()) => c.batch("commit"),
                        Err(e) => {
                            let _ = c.batch("rollback");
                            Err(e)
                        }
                    }
                })?;
            }
        }
        Ok(page)
    }
}

fn sqlite_field(v: rusqlite::types::ValueRef<'_>) -> Field<'_> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Field::Null,
        ValueRef::Integer(i) => Field::Int(i),
        // No column is declared REAL: a float here is a stray value, kept exact as text.
        ValueRef::Real(f) => Field::Text(Cow::Owned(f.to_string())),
        // Borrowed unless the bytes are not UTF-8; `from_utf8` first, as it is the faster
        // check of the two.
        ValueRef::Text(t) | ValueRef::Blob(t) => Field::Text(match std::str::from_utf8(t) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(t),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_starts_with_its_id_and_fits_the_row_buffer() {
        for l in List::ALL {
            let cols = l.columns();
            assert_eq!(cols[0].name, "id", "{l:?}");
            assert_eq!(cols[0].sql, "t.id", "{l:?}");
            assert!(cols.len() <= MAX_COLUMNS, "{l:?}");
            let sql = l.page_sql();
            assert!(sql.contains("where t.shop_id = $1"), "{sql}");
            assert!(sql.ends_with("order by t.id limit $3"), "{sql}");
        }
    }

    #[test]
    fn no_list_reads_a_secret() {
        for l in List::ALL {
            for c in l.columns() {
                for secret in ["password", "hash", "key", "secret", "token"] {
                    assert!(!c.sql.contains(secret), "{l:?}.{}", c.name);
                    assert!(!c.name.to_lowercase().contains(secret), "{l:?}.{}", c.name);
                }
            }
        }
    }
}
