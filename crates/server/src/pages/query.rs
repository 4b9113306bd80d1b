//! The query builder of the Webservices page: the builder's fields, checked against the
//! shop's catalog, become the ordered `webapp.php` parameters of one sale. Pure: the
//! page loads the catalog, this module decides.

use comptoir_core::form::Form;
use comptoir_core::money::Money;
use comptoir_core::quantity::Quantity;

/// Catalog item rows, department lines and free lines the builder offers.
pub(crate) const ITEM_ROWS: usize = 4;
pub(crate) const DEPT_ROWS: usize = 2;
pub(crate) const FREE_ROWS: usize = 2;

/// The delivery methods of `deliveryMethod`, by number (spec/web-services.md).
pub(crate) const DELIVERY_METHODS: [(&str, &str); 7] = [
    ("delivery.take_away", "0"),
    ("delivery.to_deliver", "1"),
    ("delivery.on_site", "2"),
    ("delivery.drive", "3"),
    ("delivery.counter", "4"),
    ("delivery.relay", "5"),
    ("delivery.ship", "6"),
];

/// The new-client fields offered, as `client[...]` names.
pub(crate) const CLIENT_FIELDS: [&str; 8] = [
    "nom",
    "prenom",
    "email",
    "telephone",
    "adresseligne1",
    "codepostal",
    "ville",
    "pays",
];

/// What the builder can pick from, loaded from the shop.
#[derive(Clone, Debug, Default)]
pub(crate) struct Choices {
    pub(crate) shop_id: i64,
    pub(crate) currency_digits: u8,
    /// Payment methods: id, name.
    pub(crate) methods: Vec<(i64, String)>,
    pub(crate) users: Vec<(i64, String)>,
    pub(crate) clients: Vec<(i64, String)>,
    /// Active items: id, name, price text.
    pub(crate) items: Vec<(i64, String)>,
    /// Variations: id, item id, name.
    pub(crate) variations: Vec<(i64, i64, String)>,
    pub(crate) departments: Vec<(i64, String)>,
}

/// One field the builder refused: its name in the page's form and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

/// The builder's text field `name` of `form`, trimmed.
fn field<'a>(form: &'a Form, name: &str) -> &'a str {
    form.get(name).unwrap_or("").trim()
}

/// Checks the builder's fields and gives the sale's parameters in the order the samples
/// send them, starting with `idboutique` and `key`; every bad field otherwise.
/// `value_date` turns the date-time picker's text into a Unix timestamp (the shop's zone).
pub(crate) fn build(
    form: &Form,
    c: &Choices,
    value_date: impl Fn(&str) -> Option<i64>,
) -> Result<Vec<(String, String)>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.to_string(),
            message: message.to_string(),
        })
    };
    let mut p: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: &str| p.push((k.to_string(), v.to_string()));
    push("idboutique", &c.shop_id.to_string());
    let key = field(form, "key");
    if key.is_empty() {
        push("key", "YOUR_API_KEY");
    } else if key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        bad("key", "an API key (cpt_…) without spaces");
    } else {
        push("key", key);
    }

    let payment = field(form, "payment");
    let known_method = |id: i64| c.methods.iter().any(|(m, _)| *m == id);
    match payment.parse::<i64>() {
        Ok(-2 | -1) => push("payment", payment),
        Ok(id) if known_method(id) => push("payment", payment),
        _ => bad("payment", "-2, -1 or one of the shop's payment methods"),
    }
    let delivery = field(form, "deliveryMethod");
    if !delivery.is_empty() {
        if DELIVERY_METHODS.iter().any(|(_, n)| *n == delivery) {
            push("deliveryMethod", delivery);
        } else {
            bad("deliveryMethod", "a delivery method from 0 to 6");
        }
    }
    let user = field(form, "idUser");
    if !user.is_empty() {
        match user.parse::<i64>() {
            Ok(id) if c.users.iter().any(|(u, _)| *u == id) => push("idUser", user),
            _ => bad("idUser", "one of the shop's users"),
        }
    }
    match field(form, "clientMode") {
        "" | "none" => {}
        "existing" => {
            let id = field(form, "idClient");
            match id.parse::<i64>() {
                Ok(n) if c.clients.iter().any(|(k, _)| *k == n) => push("idClient", id),
                _ => bad("idClient", "one of the shop's clients"),
            }
        }
        "new" => {
            let mut any = false;
            for name in CLIENT_FIELDS {
                let key = format!("client[{name}]");
                let v = form.map_get("client", name).unwrap_or("").trim();
                if v.is_empty() {
                    continue;
                }
                any = true;
                let ok = match name {
                    "email" => v.contains('@') && !v.contains(' ') && v.len() <= 255,
                    "pays" => v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphabetic()),
                    _ => v.chars().count() <= 255,
                };
                if ok {
                    let v = if name == "pays" {
                        v.to_ascii_uppercase()
                    } else {
                        v.to_string()
                    };
                    push(&key, &v);
                } else if name == "email" {
                    bad(&key, "an e-mail address");
                } else if name == "pays" {
                    bad(&key, "a two-letter country code (FR)");
                } else {
                    bad(&key, "at most 255 characters");
                }
            }
            if !any {
                bad("client[nom]", "a name or an e-mail for the new client");
            }
        }
        _ => bad("clientMode", "none, existing or new"),
    }

    let digits = c.currency_digits;
    let price_ok = |t: &str| Money::parse(t, digits).is_ok();
    let title_ok = |t: &str| !t.contains('_') && t.chars().count() <= 255;
    let mut lines = 0;
    for i in 1..=ITEM_ROWS {
        let item = field(form, &format!("item{i}"));
        if item.is_empty() {
            continue;
        }
        let Some(item_id) = item
            .parse::<i64>()
            .ok()
            .filter(|id| c.items.iter().any(|(k, _)| k == id))
        else {
            bad(&format!("item{i}"), "one of the shop's items");
            continue;
        };
        let qty = field(form, &format!("qty{i}"));
        let qty = if qty.is_empty() { "1" } else { qty };
        if let Err(e) = Quantity::parse(qty) {
            bad(&format!("qty{i}"), e);
        }
        let title = field(form, &format!("title{i}"));
        if !title_ok(title) {
            bad(
                &format!("title{i}"),
                "a title without _ (at most 255 characters)",
            );
        }
        let price = field(form, &format!("price{i}"));
        if !price.is_empty() && !price_ok(price) {
            bad(&format!("price{i}"), "an amount such as 12.50");
        }
        let vars: Vec<&str> = form
            .list(&format!("var{i}"))
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let vars_ok = vars.len() <= 5
            && vars.iter().all(|v| {
                v.parse::<i64>().is_ok_and(|id| {
                    c.variations
                        .iter()
                        .any(|(k, it, _)| *k == id && *it == item_id)
                })
            });
        if !vars_ok {
            bad(&format!("var{i}"), "at most five variations of this item");
        }
        let mut entry = format!("{item_id}_{qty}");
        if !vars.is_empty() {
            entry.push_str(&format!("_{title}_{price}_{}", vars.join("_")));
        } else if !price.is_empty() {
            entry.push_str(&format!("_{title}_{price}"));
        } else if !title.is_empty() {
            entry.push_str(&format!("_{title}"));
        }
        push("itemsList[]", &entry);
        lines += 1;
    }
    for j in 1..=DEPT_ROWS {
        let dept = field(form, &format!("dept{j}"));
        if dept.is_empty() {
            continue;
        }
        if !dept
            .parse::<i64>()
            .is_ok_and(|id| c.departments.iter().any(|(k, _)| *k == id))
        {
            bad(&format!("dept{j}"), "one of the shop's departments");
        }
        let price = field(form, &format!("deptPrice{j}"));
        if !price_ok(price) {
            bad(&format!("deptPrice{j}"), "an amount such as 12.50");
        }
        let title = field(form, &format!("deptTitle{j}"));
        if title.chars().count() > 255 {
            bad(&format!("deptTitle{j}"), "at most 255 characters");
        }
        push("itemsList[]", &format!("-{dept}_{price}_{title}"));
        lines += 1;
    }
    for k in 1..=FREE_ROWS {
        let price = field(form, &format!("freePrice{k}"));
        let title = field(form, &format!("freeTitle{k}"));
        if price.is_empty() && title.is_empty() {
            continue;
        }
        if !price_ok(price) {
            bad(&format!("freePrice{k}"), "an amount such as 12.50");
        }
        if title.is_empty() || title.chars().count() > 255 {
            bad(&format!("freeTitle{k}"), "a title (at most 255 characters)");
        }
        push("itemsList[]", &format!("Free_{price}_{title}"));
        lines += 1;
    }
    if lines == 0 {
        bad(
            "item1",
            "at least one line (an item, a department line or a free line)",
        );
    }
    for name in ["publicComment", "privateComment"] {
        let v = field(form, name);
        if v.chars().count() > 2000 {
            bad(name, "at most 2000 characters");
        } else if !v.is_empty() {
            push(name, v);
        }
    }
    let date = field(form, "valueDate");
    if !date.is_empty() {
        match value_date(date) {
            Some(ts) => push("dateValeur", &ts.to_string()),
            None => bad("valueDate", "a date and time such as 2026-12-01T14:30"),
        }
    }
    let idem = field(form, "idempotencyKey");
    if !idem.is_empty() {
        if idem.len() <= 255 && idem.bytes().all(|b| b.is_ascii_graphic()) {
            push("idempotencyKey", idem);
        } else {
            bad(
                "idempotencyKey",
                "at most 255 printable characters without spaces",
            );
        }
    }
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> Choices {
        Choices {
            shop_id: 7,
            currency_digits: 2,
            methods: vec![(3, "Cash".into())],
            users: vec![(2, "Claire".into())],
            clients: vec![(5, "Durand".into())],
            items: vec![(10, "Coffee".into()), (11, "Tea".into())],
            variations: vec![(20, 10, "Large".into()), (21, 11, "Mint".into())],
            departments: vec![(30, "Bakery".into())],
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn ts(_: &str) -> Option<i64> {
        Some(1_764_600_000)
    }

    #[test]
    fn a_full_builder_gives_the_parameters_in_order() {
        let f = form(&[
            ("key", "cpt_x"),
            ("payment", "3"),
            ("deliveryMethod", "1"),
            ("idUser", "2"),
            ("clientMode", "new"),
            ("client[nom]", "Durand"),
            ("client[email]", "d@example.org"),
            ("client[pays]", "fr"),
            ("item1", "10"),
            ("qty1", "2"),
            ("var1[]", "20"),
            ("item2", "11"),
            ("qty2", "0.5"),
            ("price2", "3,20"),
            ("item3", "11"),
            ("title3", "Green tea"),
            ("dept1", "30"),
            ("deptPrice1", "4.10"),
            ("deptTitle1", "Bread_loaf"),
            ("freePrice1", "1"),
            ("freeTitle1", "Bag"),
            ("publicComment", "Thanks"),
            ("valueDate", "2026-12-01T15:40"),
            ("idempotencyKey", "order-42"),
        ]);
        let p = build(&f, &choices(), ts).unwrap();
        let text: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            text,
            [
                "idboutique=7",
                "key=cpt_x",
                "payment=3",
                "deliveryMethod=1",
                "idUser=2",
                "client[nom]=Durand",
                "client[email]=d@example.org",
                "client[pays]=FR",
                "itemsList[]=10_2___20",
                "itemsList[]=11_0.5__3,20",
                "itemsList[]=11_1_Green tea",
                "itemsList[]=-30_4.10_Bread_loaf",
                "itemsList[]=Free_1_Bag",
                "publicComment=Thanks",
                "dateValeur=1764600000",
                "idempotencyKey=order-42",
            ]
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let f = form(&[
            ("payment", "99"),
            ("deliveryMethod", "9"),
            ("idUser", "8"),
            ("clientMode", "existing"),
            ("idClient", "6"),
            ("item1", "12"),
            ("item2", "10"),
            ("qty2", "0"),
            ("title2", "a_b"),
            ("var2[]", "21"),
            ("dept1", "31"),
            ("deptPrice1", "x"),
            ("freeTitle1", "Bag"),
            ("valueDate", "soon"),
        ]);
        let errors = build(&f, &choices(), |_| None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "payment",
                "deliveryMethod",
                "idUser",
                "idClient",
                "item1",
                "qty2",
                "title2",
                "var2",
                "dept1",
                "deptPrice1",
                "freePrice1",
                "valueDate",
            ]
        );
        // No line at all, and a new client without anything.
        let f = form(&[("payment", "-2"), ("clientMode", "new")]);
        let fields: Vec<String> = build(&f, &choices(), ts)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["client[nom]", "item1"]);
    }

    #[test]
    fn no_key_gives_a_placeholder() {
        let f = form(&[("payment", "-1"), ("freePrice1", "2"), ("freeTitle1", "X")]);
        let p = build(&f, &choices(), ts).unwrap();
        assert_eq!(p[1], ("key".into(), "YOUR_API_KEY".into()));
    }
}
