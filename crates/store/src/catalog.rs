//! Reading and writing a shop's whole catalog (the import/export document), and the
//! items CSV. Import is one transaction: every reference resolves or nothing is written.

use crate::db::{Conn, Row};
use crate::shops::{hash_password, random_token};
use crate::{StoreError, now_micros, params};
use comptoir_core::catalog::{Catalog, CatalogUser, ShopSettings};
use comptoir_core::model::{
    CashBox, Client, Coordinate, Country, DeliveryPerson, DeliveryZone, Department,
    DepartmentGroup, Discount, DiscountKind, Item, Name, PaymentKind, PaymentMethod, Percent,
    RelayPoint, Role, Table, Variation, VatRateEntry,
};
use comptoir_core::money::Money;
use comptoir_core::vat::VatRate;
use std::collections::HashMap;

/// How many rows an import created or updated, per entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub counts: Vec<(&'static str, usize)>,
}

/// Maps document ids to database ids, per entity.
#[derive(Default)]
struct IdMap(HashMap<i64, i64>);

impl IdMap {
    fn resolve(&self, doc_id: i64, what: &str, path: String) -> Result<i64, StoreError> {
        self.0.get(&doc_id).copied().ok_or_else(|| {
            StoreError::Invalid(format!(
                "{path}: {what} {doc_id} does not exist in this document"
            ))
        })
    }
}

fn opt_money(m: Option<Money>) -> Option<i64> {
    m.map(Money::minor)
}

/// The tables a sale reads that an import fills: their planner statistics wait for its
/// commit ([`crate::statistics::hold_off`]).
const IMPORTED: &[&str] = &[
    "departments",
    "items",
    "variations",
    "cash_boxes",
    "payment_methods",
    "users",
    "clients",
    "dining_tables",
];

/// Writes a checked catalog into a shop. Matching rules: VAT rates by rate, cash boxes
/// and payment methods by name, users by login, clients by e-mail; everything else is new.
/// On PostgreSQL, an ANALYZE of the tables it fills waits for the caller's commit.
pub fn import(c: &mut dyn Conn, shop_id: i64, cat: &Catalog) -> Result<ImportReport, StoreError> {
    // A catalog of thousands of items takes a while; analysed meanwhile, `items` would be
    // recorded empty and a sale's lookup could read the whole catalog.
    crate::statistics::hold_off(c, IMPORTED)?;
    let mut report = ImportReport::default();
    import_shop_settings(c, shop_id, &cat.shop)?;

    for v in &cat.vat_rates {
        let n = c.execute(
            "update vat_rates set name = coalesce($1, name) where shop_id = $2 and rate = $3",
            params![v.name.as_deref(), shop_id, v.rate.hundredths()],
        )?;
        if n == 0 {
            c.execute(
                "insert into vat_rates (shop_id, rate, name) values ($1, $2, $3)",
                params![shop_id, v.rate.hundredths(), v.name.as_deref()],
            )?;
        }
    }
    report.counts.push(("vat_rates", cat.vat_rates.len()));
    // The shop's default rate must be one of its rates.
    if let Some(r) = cat.shop.default_vat_rate {
        ensure_rate(c, shop_id, r)?;
    }

    let mut groups = IdMap::default();
    for g in &cat.department_groups {
        let id = c.insert_id(
            "insert into department_groups (shop_id, name) values ($1, $2) returning id",
            params![shop_id, g.name.as_str()],
        )?;
        groups.0.insert(g.id, id);
    }
    report
        .counts
        .push(("department_groups", cat.department_groups.len()));

    let mut departments = IdMap::default();
    for (i, d) in cat.departments.iter().enumerate() {
        let group = d
            .group_id
            .map(|g| groups.resolve(g, "department group", format!("departments[{i}].group_id")))
            .transpose()?;
        ensure_rate(c, shop_id, d.vat_rate)?;
        let id = c.insert_id(
            "insert into departments (shop_id, group_id, name, vat_rate, default_discount)
             values ($1, $2, $3, $4, $5) returning id",
            params![
                shop_id,
                group,
                d.name.as_str(),
                d.vat_rate.hundredths(),
                d.default_discount.hundredths()
            ],
        )?;
        departments.0.insert(d.id, id);
    }
    report.counts.push(("departments", cat.departments.len()));

    let mut items = IdMap::default();
    for (i, it) in cat.items.iter().enumerate() {
        let dept = departments.resolve(
            it.department_id,
            "department",
            format!("items[{i}].department_id"),
        )?;
        if let Some(r) = it.vat_rate {
            ensure_rate(c, shop_id, r)?;
        }
        let id = insert_item(c, shop_id, dept, it)?;
        items.0.insert(it.id, id);
    }
    report.counts.push(("items", cat.items.len()));

    for (i, v) in cat.variations.iter().enumerate() {
        let item = items.resolve(v.item_id, "item", format!("variations[{i}].item_id"))?;
        c.execute(
            "insert into variations (shop_id, item_id, name, price_change) values ($1, $2, $3, $4)",
            params![shop_id, item, v.name.as_str(), v.price_change.minor()],
        )?;
    }
    report.counts.push(("variations", cat.variations.len()));

    let mut boxes = IdMap::default();
    for b in &cat.cash_boxes {
        let existing = c.query_opt(
            "select id from cash_boxes where shop_id = $1 and name = $2 order by id limit 1",
            params![shop_id, b.name.as_str()],
        )?;
        let id = match existing {
            Some(r) => {
                let id = r.i64(0)?;
                c.execute(
                    "update cash_boxes set is_virtual = $1, is_open = $2, fund = $3
                     where shop_id = $4 and id = $5",
                    params![b.is_virtual, b.open, b.fund.minor(), shop_id, id],
                )?;
                id
            }
            None => c.insert_id(
                "insert into cash_boxes (shop_id, name, is_virtual, is_open, fund)
                 values ($1, $2, $3, $4, $5) returning id",
                params![
                    shop_id,
                    b.name.as_str(),
                    b.is_virtual,
                    b.open,
                    b.fund.minor()
                ],
            )?,
        };
        boxes.0.insert(b.id, id);
    }
    report.counts.push(("cash_boxes", cat.cash_boxes.len()));

    for (i, p) in cat.payment_methods.iter().enumerate() {
        let cash_box = p
            .cash_box_id
            .map(|b| boxes.resolve(b, "cash box", format!("payment_methods[{i}].cash_box_id")))
            .transpose()?;
        let n = c.execute(
            "update payment_methods set kind = $1, min_amount = $2, max_amount = $3,
                 cash_box_id = $4
             where shop_id = $5 and name = $6",
            params![
                p.kind.as_str(),
                opt_money(p.min_amount),
                opt_money(p.max_amount),
                cash_box,
                shop_id,
                p.name.as_str()
            ],
        )?;
        if n == 0 {
            c.execute(
                "insert into payment_methods (shop_id, name, kind, min_amount, max_amount, cash_box_id)
                 values ($1, $2, $3, $4, $5, $6)",
                params![
                    shop_id,
                    p.name.as_str(),
                    p.kind.as_str(),
                    opt_money(p.min_amount),
                    opt_money(p.max_amount),
                    cash_box
                ],
            )?;
        }
    }
    report
        .counts
        .push(("payment_methods", cat.payment_methods.len()));

    for (i, u) in cat.users.iter().enumerate() {
        import_user(c, shop_id, u).map_err(|e| match e {
            StoreError::Conflict(m) | StoreError::Invalid(m) => {
                StoreError::Invalid(format!("users[{i}].login: {m}"))
            }
            other => other,
        })?;
    }
    report.counts.push(("users", cat.users.len()));

    for k in &cat.clients {
        upsert_client(c, shop_id, k)?;
    }
    report.counts.push(("clients", cat.clients.len()));

    for z in &cat.delivery_zones {
        c.execute(
            "insert into delivery_zones (shop_id, name, fee, min_amount, address, radius_m)
             values ($1, $2, $3, $4, $5, $6)",
            params![
                shop_id,
                z.name.as_str(),
                z.fee.minor(),
                opt_money(z.min_amount),
                z.address.as_deref(),
                z.radius_m
            ],
        )?;
    }
    report
        .counts
        .push(("delivery_zones", cat.delivery_zones.len()));
    for r in &cat.relay_points {
        c.execute(
            "insert into relay_points (shop_id, name, address, opening_hours) values ($1, $2, $3, $4)",
            params![
                shop_id,
                r.name.as_str(),
                r.address.as_deref(),
                r.opening_hours.as_deref()
            ],
        )?;
    }
    report.counts.push(("relay_points", cat.relay_points.len()));
    for p in &cat.delivery_people {
        c.execute(
            "insert into delivery_people (shop_id, name, phone) values ($1, $2, $3)",
            params![shop_id, p.name.as_str(), p.phone.as_deref()],
        )?;
    }
    report
        .counts
        .push(("delivery_people", cat.delivery_people.len()));
    for d in &cat.discounts {
        c.execute(
            "insert into discounts (shop_id, name, kind, value) values ($1, $2, $3, $4)",
            params![shop_id, d.name.as_str(), d.kind.as_str(), d.value],
        )?;
    }
    report.counts.push(("discounts", cat.discounts.len()));
    for t in &cat.tables {
        c.execute(
            "insert into dining_tables (shop_id, name, seats) values ($1, $2, $3)",
            params![shop_id, t.name.as_str(), t.seats],
        )?;
    }
    report.counts.push(("tables", cat.tables.len()));
    Ok(report)
}

fn import_shop_settings(
    c: &mut dyn Conn,
    shop_id: i64,
    s: &ShopSettings,
) -> Result<(), StoreError> {
    c.execute(
        "update shops set address = coalesce($1, address), phone = coalesce($2, phone),
             rc_number = coalesce($3, rc_number), vat_number = coalesce($4, vat_number),
             prices_include_vat = coalesce($5, prices_include_vat),
             default_vat_rate = coalesce($6, default_vat_rate)
         where id = $7",
        params![
            s.address.as_deref(),
            s.phone.as_deref(),
            s.rc_number.as_deref(),
            s.vat_number.as_deref(),
            s.prices_include_vat,
            s.default_vat_rate.map(VatRate::hundredths),
            shop_id
        ],
    )?;
    Ok(())
}

fn ensure_rate(c: &mut dyn Conn, shop_id: i64, r: VatRate) -> Result<(), StoreError> {
    let exists = c
        .query_opt(
            "select id from vat_rates where shop_id = $1 and rate = $2",
            params![shop_id, r.hundredths()],
        )?
        .is_some();
    if exists {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "VAT rate {r} does not exist in this shop"
        )))
    }
}

/// Inserts an item into department `dept` (a database id); returns its id.
pub fn insert_item(
    c: &mut dyn Conn,
    shop_id: i64,
    dept: i64,
    it: &Item,
) -> Result<i64, StoreError> {
    c.insert_id(
        "insert into items (shop_id, department_id, name, price, vat_rate, barcode, reference,
             position, active, stock)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
        params![
            shop_id,
            dept,
            it.name.as_str(),
            it.price.minor(),
            it.vat_rate.map(VatRate::hundredths),
            it.barcode.as_deref(),
            it.reference.as_deref(),
            it.position,
            it.active,
            it.stock
        ],
    )
}

/// Replaces an existing item's fields; `NotFound` when the shop has no item `it.id`.
pub fn update_item(c: &mut dyn Conn, shop_id: i64, it: &Item) -> Result<(), StoreError> {
    let n = c.execute(
        "update items set department_id = $1, name = $2, price = $3, vat_rate = $4,
             barcode = $5, reference = $6, position = $7, active = $8, stock = $9
         where shop_id = $10 and id = $11",
        params![
            it.department_id,
            it.name.as_str(),
            it.price.minor(),
            it.vat_rate.map(VatRate::hundredths),
            it.barcode.as_deref(),
            it.reference.as_deref(),
            it.position,
            it.active,
            it.stock,
            shop_id,
            it.id
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// True when the shop has a department with this id.
pub fn department_exists(c: &mut dyn Conn, shop_id: i64, id: i64) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        "select id from departments where shop_id = $1 and id = $2",
        params![shop_id, id],
    )?
    .is_some())
}

/// True when the shop has this VAT rate.
pub fn vat_rate_exists(c: &mut dyn Conn, shop_id: i64, r: VatRate) -> Result<bool, StoreError> {
    Ok(ensure_rate(c, shop_id, r).is_ok())
}

fn import_user(c: &mut dyn Conn, shop_id: i64, u: &CatalogUser) -> Result<(), StoreError> {
    let login = format!("{}@shop-{shop_id}", u.login);
    let n = c.execute(
        "update users set display_name = $1, role = $2 where shop_id = $3 and login = $4",
        params![
            u.display_name.as_str(),
            u.role.as_str(),
            shop_id,
            login.as_str()
        ],
    )?;
    if n == 0 {
        // Imported users get a random password nobody knows: an admin sets a real one.
        let hash = hash_password(&random_token(24));
        crate::shops::insert_user(c, shop_id, &login, u.display_name.as_str(), u.role, &hash)?;
    }
    Ok(())
}

/// Inserts a client, or updates the one with the same e-mail; returns its id.
pub fn upsert_client(c: &mut dyn Conn, shop_id: i64, k: &Client) -> Result<i64, StoreError> {
    if let Some(email) = &k.email {
        let existing = c.query_opt(
            "select id from clients where shop_id = $1 and email = $2 order by id limit 1",
            params![shop_id, email.as_str()],
        )?;
        if let Some(r) = existing {
            return r.i64(0);
        }
    }
    c.insert_id(
        "insert into clients (shop_id, last_name, first_name, email, phone, phone2, address1,
             address2, address_comment, postcode, city, country, vat_number, company_number,
             barcode, lat, lng, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         returning id",
        params![
            shop_id,
            k.last_name.as_deref(),
            k.first_name.as_deref(),
            k.email.as_deref(),
            k.phone.as_deref(),
            k.phone2.as_deref(),
            k.address1.as_deref(),
            k.address2.as_deref(),
            k.address_comment.as_deref(),
            k.postcode.as_deref(),
            k.city.as_deref(),
            k.country.map(|c| c.as_str().to_string()),
            k.vat_number.as_deref(),
            k.company_number.as_deref(),
            k.barcode.as_deref(),
            k.lat.map(Coordinate::e7),
            k.lng.map(Coordinate::e7),
            now_micros()
        ],
    )
}

fn bad(what: &str) -> StoreError {
    StoreError::Decode(format!("invalid stored {what}"))
}

fn name(r: &Row, i: usize) -> Result<Name, StoreError> {
    Name::parse(r.str(i)?).map_err(|_| bad("name"))
}

fn rate(h: i64) -> Result<VatRate, StoreError> {
    VatRate::from_hundredths(h).ok_or_else(|| bad("VAT rate"))
}

fn list<T>(
    c: &mut dyn Conn,
    sql: &str,
    shop_id: i64,
    f: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    c.query(sql, params![shop_id])?.iter().map(f).collect()
}

/// Reads a shop's whole catalog, each list ordered by id.
pub fn export(c: &mut dyn Conn, shop_id: i64) -> Result<Catalog, StoreError> {
    let shop = crate::shops::get_shop(c, shop_id)?.ok_or(StoreError::NotFound)?;
    let suffix = format!("@shop-{shop_id}");
    Ok(Catalog {
        shop: ShopSettings {
            address: shop.address,
            phone: shop.phone,
            rc_number: shop.rc_number,
            vat_number: shop.vat_number,
            prices_include_vat: Some(shop.prices_include_vat),
            default_vat_rate: Some(shop.default_vat_rate),
        },
        vat_rates: list(
            c,
            "select id, rate, name from vat_rates where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(VatRateEntry {
                    id: r.i64(0)?,
                    rate: rate(r.i64(1)?)?,
                    name: r.opt_string(2)?,
                })
            },
        )?,
        department_groups: list(
            c,
            "select id, name from department_groups where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(DepartmentGroup {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                })
            },
        )?,
        departments: list(
            c,
            "select id, group_id, name, vat_rate, default_discount from departments
             where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(Department {
                    id: r.i64(0)?,
                    group_id: r.opt_i64(1)?,
                    name: name(r, 2)?,
                    vat_rate: rate(r.i64(3)?)?,
                    default_discount: Percent::from_hundredths(r.i64(4)?)
                        .ok_or_else(|| bad("discount"))?,
                })
            },
        )?,
        items: list(
            c,
            &format!("{ITEM_SELECT} where shop_id = $1 order by id"),
            shop_id,
            item_from_row,
        )?,
        variations: list(
            c,
            "select id, item_id, name, price_change from variations where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(Variation {
                    id: r.i64(0)?,
                    item_id: r.i64(1)?,
                    name: name(r, 2)?,
                    price_change: Money::from_minor(r.i64(3)?),
                })
            },
        )?,
        payment_methods: list(
            c,
            "select id, name, kind, min_amount, max_amount, cash_box_id from payment_methods
             where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(PaymentMethod {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                    kind: PaymentKind::parse(r.str(2)?).map_err(|_| bad("payment kind"))?,
                    min_amount: r.opt_i64(3)?.map(Money::from_minor),
                    max_amount: r.opt_i64(4)?.map(Money::from_minor),
                    cash_box_id: r.opt_i64(5)?,
                })
            },
        )?,
        cash_boxes: list(
            c,
            "select id, name, is_virtual, is_open, fund from cash_boxes where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(CashBox {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                    is_virtual: r.bool(2)?,
                    open: r.bool(3)?,
                    fund: Money::from_minor(r.i64(4)?),
                })
            },
        )?,
        users: list(
            c,
            "select login, display_name, role from users where shop_id = $1 order by id",
            shop_id,
            |r| {
                let login = r.str(0)?;
                Ok(CatalogUser {
                    login: Name::parse(login.strip_suffix(suffix.as_str()).unwrap_or(login))
                        .map_err(|_| bad("login"))?,
                    display_name: name(r, 1)?,
                    role: Role::parse(r.str(2)?).map_err(|_| bad("role"))?,
                })
            },
        )?,
        clients: list(
            c,
            &format!("{CLIENT_SELECT} where shop_id = $1 order by id"),
            shop_id,
            client_from_row,
        )?,
        delivery_zones: list(
            c,
            "select id, name, fee, min_amount, address, radius_m from delivery_zones
             where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(DeliveryZone {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                    fee: Money::from_minor(r.i64(2)?),
                    min_amount: r.opt_i64(3)?.map(Money::from_minor),
                    address: r.opt_string(4)?,
                    radius_m: r.opt_i64(5)?,
                })
            },
        )?,
        relay_points: list(
            c,
            "select id, name, address, opening_hours from relay_points where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(RelayPoint {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                    address: r.opt_string(2)?,
                    opening_hours: r.opt_string(3)?,
                })
            },
        )?,
        delivery_people: list(
            c,
            "select id, name, phone from delivery_people where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(DeliveryPerson {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                    phone: r.opt_string(2)?,
                })
            },
        )?,
        discounts: list(
            c,
            "select id, name, kind, value from discounts where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(Discount {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                    kind: DiscountKind::parse(r.str(2)?).map_err(|_| bad("discount kind"))?,
                    value: r.i64(3)?,
                })
            },
        )?,
        tables: list(
            c,
            "select id, name, seats from dining_tables where shop_id = $1 order by id",
            shop_id,
            |r| {
                Ok(Table {
                    id: r.i64(0)?,
                    name: name(r, 1)?,
                    seats: r.opt_i64(2)?,
                })
            },
        )?,
    })
}

/// The columns read by [`item_from_row`].
pub(crate) const ITEM_SELECT: &str = "select id, department_id, name, price, vat_rate, barcode,
    reference, position, active, stock from items";

pub(crate) fn item_from_row(r: &Row) -> Result<Item, StoreError> {
    Ok(Item {
        id: r.i64(0)?,
        department_id: r.i64(1)?,
        name: name(r, 2)?,
        price: Money::from_minor(r.i64(3)?),
        vat_rate: r.opt_i64(4)?.map(rate).transpose()?,
        barcode: r.opt_string(5)?,
        reference: r.opt_string(6)?,
        position: r.i64(7)?,
        active: r.bool(8)?,
        stock: r.opt_i64(9)?,
    })
}

/// The shop's client `id`, if it has one.
pub fn get_client(c: &mut dyn Conn, shop_id: i64, id: i64) -> Result<Option<Client>, StoreError> {
    c.query_opt(
        &format!("{CLIENT_SELECT} where shop_id = $1 and id = $2"),
        params![shop_id, id],
    )?
    .map(|r| client_from_row(&r))
    .transpose()
}

/// The columns read by [`client_from_row`].
const CLIENT_SELECT: &str = "select id, last_name, first_name, email, phone, phone2,
    address1, address2, address_comment, postcode, city, country, vat_number, company_number,
    barcode, lat, lng from clients";

fn client_from_row(r: &Row) -> Result<Client, StoreError> {
    Ok(Client {
        id: r.i64(0)?,
        last_name: r.opt_string(1)?,
        first_name: r.opt_string(2)?,
        email: r.opt_string(3)?,
        phone: r.opt_string(4)?,
        phone2: r.opt_string(5)?,
        address1: r.opt_string(6)?,
        address2: r.opt_string(7)?,
        address_comment: r.opt_string(8)?,
        postcode: r.opt_string(9)?,
        city: r.opt_string(10)?,
        country: r
            .opt_string(11)?
            .map(|c| Country::parse(&c).map_err(|_| bad("country")))
            .transpose()?,
        vat_number: r.opt_string(12)?,
        company_number: r.opt_string(13)?,
        barcode: r.opt_string(14)?,
        lat: r.opt_i64(15)?.map(Coordinate::from_e7),
        lng: r.opt_i64(16)?.map(Coordinate::from_e7),
    })
}
