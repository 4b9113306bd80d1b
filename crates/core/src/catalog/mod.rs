//! The catalog document: the JSON shape of `comptoir catalog export` and `import`.
//! Parsing collects every bad field with its JSON path; references use document ids.

use crate::model::{
    CashBox, Client, Coordinate, Country, DeliveryPerson, DeliveryZone, Department,
    DepartmentGroup, Discount, DiscountKind, Item, Name, PaymentKind, PaymentMethod, Percent,
    RelayPoint, Role, Table, Variation, VatRateEntry, optional_text, parse_login,
};
use crate::money::{Decimal, Money, format_scaled};
use crate::vat::VatRate;
use serde_json::{Map, Number, Value, json};
use std::collections::HashSet;
use std::fmt;

mod write;
pub use write::{decimal_number, exact_number, money_json, rate_json, to_document};

/// The document's `format` marker.
pub const FORMAT: &str = "comptoir-catalog";
/// The document version this code reads and writes.
pub const VERSION: i64 = 1;

/// Shop settings carried by a catalog document (identity fixed at creation is not).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ShopSettings {
    pub address: Option<String>,
    pub phone: Option<String>,
    pub rc_number: Option<String>,
    pub vat_number: Option<String>,
    pub prices_include_vat: Option<bool>,
    pub default_vat_rate: Option<VatRate>,
}

/// A user in a catalog document: `login` is the local part, the server adds `@shop-ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogUser {
    pub login: Name,
    pub display_name: Name,
    pub role: Role,
}

/// A whole catalog, checked: every field valid, every reference resolvable in the document.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Catalog {
    pub shop: ShopSettings,
    pub vat_rates: Vec<VatRateEntry>,
    pub department_groups: Vec<DepartmentGroup>,
    pub departments: Vec<Department>,
    pub items: Vec<Item>,
    pub variations: Vec<Variation>,
    pub payment_methods: Vec<PaymentMethod>,
    pub cash_boxes: Vec<CashBox>,
    pub users: Vec<CatalogUser>,
    pub clients: Vec<Client>,
    pub delivery_zones: Vec<DeliveryZone>,
    pub relay_points: Vec<RelayPoint>,
    pub delivery_people: Vec<DeliveryPerson>,
    pub discounts: Vec<Discount>,
    pub tables: Vec<Table>,
}

/// One bad field: where (a JSON path such as `items[3].price`) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every bad field of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentErrors(pub Vec<FieldError>);

impl fmt::Display for DocumentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DocumentErrors {}

/// Parses and checks a catalog document. `digits` are the shop currency's minor digits;
/// `known_rates` are VAT rates the shop already has (a document may use them unlisted).
pub fn parse_document(
    text: &str,
    digits: u8,
    known_rates: &[VatRate],
) -> Result<Catalog, DocumentErrors> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        DocumentErrors(vec![FieldError {
            path: "$".into(),
            message: format!(
                "expected a JSON document (line {}, column {}: {e})",
                e.line(),
                e.column()
            ),
        }])
    })?;
    let mut r = Reader {
        errors: Vec::new(),
        digits,
    };
    let catalog = r.catalog(&root, known_rates);
    if r.errors.is_empty() {
        Ok(catalog)
    } else {
        Err(DocumentErrors(r.errors))
    }
}

struct Reader {
    errors: Vec<FieldError>,
    digits: u8,
}

/// One JSON object being read, with its path for error messages.
struct Obj<'a> {
    map: Option<&'a Map<String, Value>>,
    path: String,
}

impl Obj<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        // With serde_json's arbitrary_precision, a number prints exactly as written.
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Reader {
    fn error(&mut self, path: String, message: impl Into<String>) {
        self.errors.push(FieldError {
            path,
            message: message.into(),
        });
    }

    fn expected(&mut self, path: String, expected: &str, got: &Value) {
        let got = match got {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        let got: String = got.chars().take(60).collect();
        self.error(path, format!("expected {expected}, got {got}"));
    }

    fn list<'a>(&mut self, root: &'a Value, key: &str) -> Vec<Obj<'a>> {
        match root.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let path = format!("{key}[{i}]");
                    let map = v.as_object();
                    if map.is_none() {
                        self.expected(path.clone(), "an object", v);
                    }
                    Obj { map, path }
                })
                .collect(),
            Some(other) => {
                self.expected(key.to_string(), "an array", other);
                Vec::new()
            }
        }
    }

    /// A parsed field, or `None` (with an error recorded) when absent or invalid.
    fn req<T>(
        &mut self,
        o: &Obj<'_>,
        key: &str,
        parse: impl Fn(&str) -> Result<T, &'static str>,
    ) -> Option<T> {
        match o.get(key) {
            None => {
                if o.map.is_some() {
                    self.error(o.at(key), "is required");
                }
                None
            }
            Some(v) => self.parse_value(o.at(key), v, parse),
        }
    }

    /// An optional parsed field: `Some(None)` when absent or null, `None` when invalid.
    fn opt<T>(
        &mut self,
        o: &Obj<'_>,
        key: &str,
        parse: impl Fn(&str) -> Result<T, &'static str>,
    ) -> Option<Option<T>> {
        match o.get(key) {
            None => Some(None),
            Some(v) => self.parse_value(o.at(key), v, parse).map(Some),
        }
    }

    fn parse_value<T>(
        &mut self,
        path: String,
        v: &Value,
        parse: impl Fn(&str) -> Result<T, &'static str>,
    ) -> Option<T> {
        let Some(text) = scalar_text(v) else {
            self.expected(path, "a text or a number", v);
            return None;
        };
        match parse(&text) {
            Ok(t) => Some(t),
            Err(expected) => {
                self.expected(path, expected, v);
                None
            }
        }
    }

    fn text(&mut self, o: &Obj<'_>, key: &str) -> Option<Option<String>> {
        self.opt(o, key, optional_text).map(Option::flatten)
    }

    fn bool_or(&mut self, o: &Obj<'_>, key: &str, default: bool) -> Option<bool> {
        match o.get(key) {
            None => Some(default),
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.expected(o.at(key), "true or false", v);
                None
            }
        }
    }

    fn money(&self) -> impl Fn(&str) -> Result<Money, &'static str> + use<> {
        let digits = self.digits;
        move |t| Money::parse(t, digits).map_err(|_| money_expected(digits))
    }

    /// An amount that cannot be negative (fees, funds, limits).
    fn amount(&self) -> impl Fn(&str) -> Result<Money, &'static str> + use<> {
        let digits = self.digits;
        move |t| match Money::parse(t, digits) {
            Ok(m) if m.is_negative() => Err("an amount of at least 0"),
            Ok(m) => Ok(m),
            Err(_) => Err(money_expected(digits)),
        }
    }

    fn catalog(&mut self, root: &Value, known_rates: &[VatRate]) -> Catalog {
        let Some(obj) = root.as_object() else {
            self.expected("$".into(), "a JSON object", root);
            return Catalog::default();
        };
        if let Some(f) = obj.get("format").filter(|v| !v.is_null())
            && f.as_str() != Some(FORMAT)
        {
            self.expected("format".into(), "\"comptoir-catalog\"", f);
        }
        if let Some(v) = obj.get("version").filter(|v| !v.is_null())
            && v.as_i64() != Some(VERSION)
        {
            self.expected("version".into(), "1", v);
        }
        let shop = self.shop_settings(root);
        let mut c = Catalog {
            shop,
            ..Catalog::default()
        };

        for o in self.list(root, "vat_rates") {
            if let (Some(id), Some(rate), Some(name)) = (
                self.id(&o),
                self.req(&o, "rate", VatRate::parse),
                self.text(&o, "name"),
            ) {
                c.vat_rates.push(VatRateEntry { id, rate, name });
            }
        }
        for o in self.list(root, "department_groups") {
            if let (Some(id), Some(name)) = (self.id(&o), self.req(&o, "name", Name::parse)) {
                c.department_groups.push(DepartmentGroup { id, name });
            }
        }
        for o in self.list(root, "departments") {
            if let (Some(id), Some(group_id), Some(name), Some(vat_rate), Some(discount)) = (
                self.id(&o),
                self.opt(&o, "group_id", parse_id),
                self.req(&o, "name", Name::parse),
                self.req(&o, "vat_rate", VatRate::parse),
                self.opt(&o, "default_discount", Percent::parse),
            ) {
                c.departments.push(Department {
                    id,
                    group_id,
                    name,
                    vat_rate,
                    default_discount: discount.unwrap_or_default(),
                });
            }
        }
        let money = self.money();
        let amount = self.amount();
        for o in self.list(root, "items") {
            let fields = (
                self.id(&o),
                self.req(&o, "department_id", parse_id),
                self.req(&o, "name", Name::parse),
                self.req(&o, "price", &money),
                self.opt(&o, "vat_rate", VatRate::parse),
                self.text(&o, "barcode"),
                self.text(&o, "reference"),
                self.opt(&o, "position", parse_int),
                self.bool_or(&o, "active", true),
                self.opt(&o, "stock", |t| {
                    Decimal::parse(t, 3)
                        .map(|d| d.scaled)
                        .map_err(|_| "a stock quantity with at most 3 decimals")
                }),
            );
            if let (
                Some(id),
                Some(department_id),
                Some(name),
                Some(price),
                Some(vat_rate),
                Some(barcode),
                Some(reference),
                Some(position),
                Some(active),
                Some(stock),
            ) = fields
            {
                c.items.push(Item {
                    id,
                    department_id,
                    name,
                    price,
                    vat_rate,
                    barcode,
                    reference,
                    position: position.unwrap_or(0),
                    active,
                    stock,
                });
            }
        }
        for o in self.list(root, "variations") {
            if let (Some(id), Some(item_id), Some(name), Some(price_change)) = (
                self.id(&o),
                self.req(&o, "item_id", parse_id),
                self.req(&o, "name", Name::parse),
                self.opt(&o, "price_change", &money),
            ) {
                c.variations.push(Variation {
                    id,
                    item_id,
                    name,
                    price_change: price_change.unwrap_or_default(),
                });
            }
        }
        for o in self.list(root, "cash_boxes") {
            if let (Some(id), Some(name), Some(is_virtual), Some(open), Some(fund)) = (
                self.id(&o),
                self.req(&o, "name", Name::parse),
                self.bool_or(&o, "virtual", false),
                self.bool_or(&o, "open", true),
                self.opt(&o, "fund", &amount),
            ) {
                c.cash_boxes.push(CashBox {
                    id,
                    name,
                    is_virtual,
                    open,
                    fund: fund.unwrap_or_default(),
                });
            }
        }
        for o in self.list(root, "payment_methods") {
            let fields = (
                self.id(&o),
                self.req(&o, "name", Name::parse),
                self.req(&o, "kind", PaymentKind::parse),
                self.opt(&o, "min_amount", &amount),
                self.opt(&o, "max_amount", &amount),
                self.opt(&o, "cash_box_id", parse_id),
            );
            if let (Some(id), Some(name), Some(kind), Some(min), Some(max), Some(cash_box_id)) =
                fields
            {
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    self.error(o.at("max_amount"), "expected at least min_amount");
                    continue;
                }
                c.payment_methods.push(PaymentMethod {
                    id,
                    name,
                    kind,
                    min_amount: min,
                    max_amount: max,
                    cash_box_id,
                });
            }
        }
        for o in self.list(root, "users") {
            if let (Some(login), Some(display_name), Some(role)) = (
                self.req(&o, "login", parse_login_local),
                self.req(&o, "name", Name::parse),
                self.req(&o, "role", Role::parse),
            ) {
                c.users.push(CatalogUser {
                    login,
                    display_name,
                    role,
                });
            }
        }
        for o in self.list(root, "clients") {
            if let Some(client) = self.client(&o) {
                c.clients.push(client);
            }
        }
        for o in self.list(root, "delivery_zones") {
            let fields = (
                self.id(&o),
                self.req(&o, "name", Name::parse),
                self.opt(&o, "fee", &amount),
                self.opt(&o, "min_amount", &amount),
                self.text(&o, "address"),
                self.opt(&o, "radius_m", parse_non_negative),
            );
            if let (Some(id), Some(name), Some(fee), Some(min_amount), Some(address), Some(r)) =
                fields
            {
                c.delivery_zones.push(DeliveryZone {
                    id,
                    name,
                    fee: fee.unwrap_or_default(),
                    min_amount,
                    address,
                    radius_m: r,
                });
            }
        }
        for o in self.list(root, "relay_points") {
            if let (Some(id), Some(name), Some(address), Some(opening_hours)) = (
                self.id(&o),
                self.req(&o, "name", Name::parse),
                self.text(&o, "address"),
                self.text(&o, "opening_hours"),
            ) {
                c.relay_points.push(RelayPoint {
                    id,
                    name,
                    address,
                    opening_hours,
                });
            }
        }
        for o in self.list(root, "delivery_people") {
            if let (Some(id), Some(name), Some(phone)) = (
                self.id(&o),
                self.req(&o, "name", Name::parse),
                self.text(&o, "phone"),
            ) {
                c.delivery_people.push(DeliveryPerson { id, name, phone });
            }
        }
        for o in self.list(root, "discounts") {
            if let (Some(id), Some(name), Some(kind)) = (
                self.id(&o),
                self.req(&o, "name", Name::parse),
                self.req(&o, "kind", DiscountKind::parse),
            ) {
                let value = match kind {
                    DiscountKind::Percent => self
                        .req(&o, "value", Percent::parse)
                        .map(Percent::hundredths),
                    DiscountKind::Amount | DiscountKind::FixedPrice => self
                        .req(&o, "value", &money)
                        .filter(|m| {
                            let ok = !m.is_negative();
                            if !ok {
                                self.error(o.at("value"), "expected an amount of at least 0");
                            }
                            ok
                        })
                        .map(Money::minor),
                };
                if let Some(value) = value {
                    c.discounts.push(Discount {
                        id,
                        name,
                        kind,
                        value,
                    });
                }
            }
        }
        for o in self.list(root, "tables") {
            if let (Some(id), Some(name), Some(seats)) = (
                self.id(&o),
                self.req(&o, "name", Name::parse),
                self.opt(&o, "seats", parse_non_negative),
            ) {
                c.tables.push(Table { id, name, seats });
            }
        }
        self.check_references(&c, known_rates);
        c
    }

    fn id(&mut self, o: &Obj<'_>) -> Option<i64> {
        self.req(o, "id", parse_id)
    }

    fn shop_settings(&mut self, root: &Value) -> ShopSettings {
        let Some(v) = root.get("shop").filter(|v| !v.is_null()) else {
            return ShopSettings::default();
        };
        let o = Obj {
            map: v.as_object(),
            path: "shop".into(),
        };
        if o.map.is_none() {
            self.expected("shop".into(), "an object", v);
            return ShopSettings::default();
        }
        let prices_include_vat = match o.get("prices_include_vat") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.expected(o.at("prices_include_vat"), "true or false", v);
                None
            }
        };
        ShopSettings {
            address: self.text(&o, "address").flatten(),
            phone: self.text(&o, "phone").flatten(),
            rc_number: self.text(&o, "rc_number").flatten(),
            vat_number: self.text(&o, "vat_number").flatten(),
            prices_include_vat,
            default_vat_rate: self.opt(&o, "default_vat_rate", VatRate::parse).flatten(),
        }
    }

    fn client(&mut self, o: &Obj<'_>) -> Option<Client> {
        let id = self.id(o);
        let texts: Vec<Option<Option<String>>> = [
            "last_name",
            "first_name",
            "email",
            "phone",
            "phone2",
            "address1",
            "address2",
            "address_comment",
            "postcode",
            "city",
            "vat_number",
            "company_number",
            "barcode",
        ]
        .iter()
        .map(|k| self.text(o, k))
        .collect();
        let country = self.opt(o, "country", Country::parse);
        let lat = self.opt(o, "lat", |t| Coordinate::parse(t, 90));
        let lng = self.opt(o, "lng", |t| Coordinate::parse(t, 180));
        let mut t = texts.into_iter().collect::<Option<Vec<_>>>()?.into_iter();
        let mut next = || t.next().flatten();
        Some(Client {
            id: id?,
            last_name: next(),
            first_name: next(),
            email: next(),
            phone: next(),
            phone2: next(),
            address1: next(),
            address2: next(),
            address_comment: next(),
            postcode: next(),
            city: next(),
            vat_number: next(),
            company_number: next(),
            barcode: next(),
            country: country?,
            lat: lat?,
            lng: lng?,
        })
    }

    fn check_references(&mut self, c: &Catalog, known_rates: &[VatRate]) {
        fn ids<T>(list: &[T], id: impl Fn(&T) -> i64) -> Vec<i64> {
            list.iter().map(id).collect()
        }
        let mut unique = |name: &str, ids: Vec<i64>| -> HashSet<i64> {
            let mut seen = HashSet::new();
            for (i, id) in ids.into_iter().enumerate() {
                if !seen.insert(id) {
                    self.errors.push(FieldError {
                        path: format!("{name}[{i}].id"),
                        message: format!("id {id} is used twice in {name}"),
                    });
                }
            }
            seen
        };
        let groups = unique("department_groups", ids(&c.department_groups, |g| g.id));
        let departments = unique("departments", ids(&c.departments, |d| d.id));
        let items = unique("items", ids(&c.items, |i| i.id));
        let cash_boxes = unique("cash_boxes", ids(&c.cash_boxes, |b| b.id));
        for (name, list) in [
            ("vat_rates", ids(&c.vat_rates, |v| v.id)),
            ("variations", ids(&c.variations, |v| v.id)),
            ("payment_methods", ids(&c.payment_methods, |p| p.id)),
            ("clients", ids(&c.clients, |p| p.id)),
            ("delivery_zones", ids(&c.delivery_zones, |p| p.id)),
            ("relay_points", ids(&c.relay_points, |p| p.id)),
            ("delivery_people", ids(&c.delivery_people, |p| p.id)),
            ("discounts", ids(&c.discounts, |p| p.id)),
            ("tables", ids(&c.tables, |p| p.id)),
        ] {
            unique(name, list);
        }
        let rates: HashSet<VatRate> = c
            .vat_rates
            .iter()
            .map(|v| v.rate)
            .chain(known_rates.iter().copied())
            .collect();
        if let Some(r) = c.shop.default_vat_rate
            && !rates.contains(&r)
        {
            self.error(
                "shop.default_vat_rate".into(),
                format!("VAT rate {r} is neither in vat_rates nor one of the shop's rates"),
            );
        }
        let mut logins = HashSet::new();
        for (i, u) in c.users.iter().enumerate() {
            if !logins.insert(u.login.as_str()) {
                self.error(format!("users[{i}].login"), "is used twice in users");
            }
        }
        let mut missing = |path: String, what: &str, id: String| {
            self.errors.push(FieldError {
                path,
                message: if what == "VAT rate" {
                    format!("VAT rate {id} is neither in vat_rates nor one of the shop's rates")
                } else {
                    format!("{what} {id} does not exist in this document")
                },
            });
        };
        for (i, d) in c.departments.iter().enumerate() {
            if let Some(g) = d.group_id
                && !groups.contains(&g)
            {
                missing(
                    format!("departments[{i}].group_id"),
                    "department group",
                    g.to_string(),
                );
            }
            if !rates.contains(&d.vat_rate) {
                missing(
                    format!("departments[{i}].vat_rate"),
                    "VAT rate",
                    d.vat_rate.to_string(),
                );
            }
        }
        for (i, it) in c.items.iter().enumerate() {
            if !departments.contains(&it.department_id) {
                missing(
                    format!("items[{i}].department_id"),
                    "department",
                    it.department_id.to_string(),
                );
            }
            if let Some(r) = it.vat_rate
                && !rates.contains(&r)
            {
                missing(format!("items[{i}].vat_rate"), "VAT rate", r.to_string());
            }
        }
        for (i, v) in c.variations.iter().enumerate() {
            if !items.contains(&v.item_id) {
                missing(
                    format!("variations[{i}].item_id"),
                    "item",
                    v.item_id.to_string(),
                );
            }
        }
        for (i, p) in c.payment_methods.iter().enumerate() {
            if let Some(b) = p.cash_box_id
                && !cash_boxes.contains(&b)
            {
                missing(
                    format!("payment_methods[{i}].cash_box_id"),
                    "cash box",
                    b.to_string(),
                );
            }
        }
    }
}

fn money_expected(digits: u8) -> &'static str {
    match digits {
        0 => "an amount without decimals, at most 10000000",
        1 => "an amount with at most 1 decimal, at most 10000000",
        3 => "an amount with at most 3 decimals, at most 10000000",
        _ => "an amount with at most 2 decimals such as 12.50, at most 10000000",
    }
}

fn parse_id(t: &str) -> Result<i64, &'static str> {
    t.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or("a positive integer id")
}

fn parse_int(t: &str) -> Result<i64, &'static str> {
    t.trim().parse::<i64>().map_err(|_| "an integer")
}

fn parse_non_negative(t: &str) -> Result<i64, &'static str> {
    t.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or("an integer of at least 0")
}

fn parse_login_local(t: &str) -> Result<Name, &'static str> {
    if t.contains('@') {
        return Err("a login without @ (the server adds @shop-ID)");
    }
    parse_login(t)
}

#[cfg(test)]
mod tests;
