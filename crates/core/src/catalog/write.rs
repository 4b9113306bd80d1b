//! Writing a catalog as a document (`comptoir catalog export`), with its numbers exact:
//! money with the currency's digits, rates as `20.0`.

use super::*;

/// A JSON number written with exactly the digits given (`1.80`, never `1.8`).
pub fn decimal_number(scaled: i64, digits: u8) -> Value {
    exact_number(format_scaled(scaled, digits))
}

/// A JSON number printed exactly as `text` (serde_json's arbitrary_precision keeps it).
pub fn exact_number(text: String) -> Value {
    match text.parse::<Number>() {
        Ok(n) => Value::Number(n),
        Err(_) => Value::String(text),
    }
}

/// A money amount as a JSON number with the currency's minor digits.
pub fn money_json(m: Money, digits: u8) -> Value {
    decimal_number(m.minor(), digits)
}

/// A VAT rate as a JSON number (`20.0`, `5.5`).
pub fn rate_json(r: VatRate) -> Value {
    exact_number(r.to_string())
}

pub(super) fn percent_json(p: i64) -> Value {
    exact_number(crate::money::format_scaled_trimmed(p, 2))
}

/// Writes a catalog as a document. `login_local` turns a stored login into its local part.
pub fn to_document(c: &Catalog, digits: u8) -> Value {
    let m = |x: Money| money_json(x, digits);
    let om = |x: Option<Money>| x.map(m);
    json!({
        "format": FORMAT,
        "version": VERSION,
        "shop": {
            "address": c.shop.address,
            "phone": c.shop.phone,
            "rc_number": c.shop.rc_number,
            "vat_number": c.shop.vat_number,
            "prices_include_vat": c.shop.prices_include_vat,
            "default_vat_rate": c.shop.default_vat_rate.map(rate_json),
        },
        "vat_rates": c.vat_rates.iter().map(|v| json!({
            "id": v.id, "rate": rate_json(v.rate), "name": v.name,
        })).collect::<Vec<_>>(),
        "department_groups": c.department_groups.iter().map(|g| json!({
            "id": g.id, "name": g.name.as_str(),
        })).collect::<Vec<_>>(),
        "departments": c.departments.iter().map(|d| json!({
            "id": d.id, "group_id": d.group_id, "name": d.name.as_str(),
            "vat_rate": rate_json(d.vat_rate),
            "default_discount": percent_json(d.default_discount.hundredths()),
        })).collect::<Vec<_>>(),
        "items": c.items.iter().map(|i| json!({
            "id": i.id, "department_id": i.department_id, "name": i.name.as_str(),
            "price": m(i.price), "vat_rate": i.vat_rate.map(rate_json),
            "barcode": i.barcode, "reference": i.reference, "position": i.position,
            "active": i.active, "stock": i.stock.map(|s| decimal_number(s, 3)),
        })).collect::<Vec<_>>(),
        "variations": c.variations.iter().map(|v| json!({
            "id": v.id, "item_id": v.item_id, "name": v.name.as_str(),
            "price_change": m(v.price_change),
        })).collect::<Vec<_>>(),
        "payment_methods": c.payment_methods.iter().map(|p| json!({
            "id": p.id, "name": p.name.as_str(), "kind": p.kind.as_str(),
            "min_amount": om(p.min_amount), "max_amount": om(p.max_amount),
            "cash_box_id": p.cash_box_id,
        })).collect::<Vec<_>>(),
        "cash_boxes": c.cash_boxes.iter().map(|b| json!({
            "id": b.id, "name": b.name.as_str(), "virtual": b.is_virtual, "open": b.open,
            "fund": m(b.fund),
        })).collect::<Vec<_>>(),
        "users": c.users.iter().map(|u| json!({
            "login": u.login.as_str(), "name": u.display_name.as_str(), "role": u.role.as_str(),
        })).collect::<Vec<_>>(),
        "clients": c.clients.iter().map(|k| json!({
            "id": k.id, "last_name": k.last_name, "first_name": k.first_name,
            "email": k.email, "phone": k.phone, "phone2": k.phone2,
            "address1": k.address1, "address2": k.address2,
            "address_comment": k.address_comment, "postcode": k.postcode, "city": k.city,
            "country": k.country.map(|c| c.as_str().to_string()),
            "vat_number": k.vat_number, "company_number": k.company_number,
            "barcode": k.barcode,
            "lat": k.lat.map(|c| decimal_number(c.e7(), 7)),
            "lng": k.lng.map(|c| decimal_number(c.e7(), 7)),
        })).collect::<Vec<_>>(),
        "delivery_zones": c.delivery_zones.iter().map(|z| json!({
            "id": z.id, "name": z.name.as_str(), "fee": m(z.fee),
            "min_amount": om(z.min_amount), "address": z.address, "radius_m": z.radius_m,
        })).collect::<Vec<_>>(),
        "relay_points": c.relay_points.iter().map(|r| json!({
            "id": r.id, "name": r.name.as_str(), "address": r.address,
            "opening_hours": r.opening_hours,
        })).collect::<Vec<_>>(),
        "delivery_people": c.delivery_people.iter().map(|p| json!({
            "id": p.id, "name": p.name.as_str(), "phone": p.phone,
        })).collect::<Vec<_>>(),
        "discounts": c.discounts.iter().map(|d| json!({
            "id": d.id, "name": d.name.as_str(), "kind": d.kind.as_str(),
            "value": match d.kind {
                DiscountKind::Percent => percent_json(d.value),
                DiscountKind::Amount | DiscountKind::FixedPrice => decimal_number(d.value, digits),
            },
        })).collect::<Vec<_>>(),
        "tables": c.tables.iter().map(|t| json!({
            "id": t.id, "name": t.name.as_str(), "seats": t.seats,
        })).collect::<Vec<_>>(),
    })
}
