//! Webhooks: the body of an order event (form-encoded or JSON), its Standard Webhooks
//! signature, the retry schedule and the URLs and addresses a webhook may reach.
//! Pure functions: the store keeps the events, the server sends them.

pub mod address;
mod closing;
pub mod retry;
pub mod settings;
pub mod signature;

pub use closing::closing_fields;

use crate::model::Client;
use crate::order::OrderView;
use serde_json::{Map, Value};

/// What happened to the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The order is validated and its invoice exists.
    Validated,
    /// Its payments are complete.
    Terminated,
    /// Not an order's: a closing was made (its head, to keep elsewhere; `closing_fields`).
    Closing,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Validated => "validated",
            EventType::Terminated => "terminated",
            EventType::Closing => "closing",
        }
    }

    pub fn parse(text: &str) -> Result<EventType, &'static str> {
        match text {
            "validated" => Ok(EventType::Validated),
            "terminated" => Ok(EventType::Terminated),
            "closing" => Ok(EventType::Closing),
            _ => Err("validated, terminated or closing"),
        }
    }
}

/// How the body is encoded; form by default, so PHP receivers read `$_POST`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Form,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Form => "form",
            Format::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Result<Format, &'static str> {
        match text {
            "form" => Ok(Format::Form),
            "json" => Ok(Format::Json),
            _ => Err("form or json"),
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Form => "application/x-www-form-urlencoded; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// The event a body describes, beside the order it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta {
    pub event_type: EventType,
    /// The unique event id (`webhook-id`, `eventID`).
    pub event_id: String,
    /// When the event happened, in microseconds since the epoch.
    pub created_at: i64,
    /// The per-event link that confirms a body (`signatureVerificationURL`).
    pub verification_url: String,
}

/// The event id of outbox row `id` of shop `shop_id`: `SHOP-ID`, unique across shops.
pub fn event_id(shop_id: i64, id: i64) -> String {
    format!("{shop_id}-{id}")
}

/// Reads an event id back into `(shop, id)`.
pub fn parse_event_id(text: &str) -> Option<(i64, i64)> {
    let (shop, id) = text.split_once('-')?;
    let number = |t: &str| {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<i64>().ok())
            .flatten()
    };
    Some((number(shop)?, number(id)?))
}

/// The names of the body's fields, in the order of the spec (and of [`fields`]).
pub const FIELDS: [&str; 21] = [
    "type",
    "orderID",
    "orderInternalID",
    "price",
    "clientID",
    "customer",
    "client",
    "cashBoxID",
    "deliveryMethod",
    "PDFinvoice",
    "items",
    "VATs",
    "VAT",
    "isRefund",
    "creationDate",
    "validationDate",
    "valueDate",
    "shopID",
    "eventID",
    "createdAt",
    "signatureVerificationURL",
];

/// The fields of an event's body, in the order of the spec, as JSON values: numbers keep
/// the exact text of the order's JSON (`1.80`), the lines and VATs are those of
/// getOrder.php (the order's own [`OrderView::to_json`]), `customer` and its alias
/// `client` the client as the catalog export writes it. Missing values are `null`.
pub fn fields(
    order: &OrderView,
    client: Option<&Client>,
    event: &EventMeta,
    digits: u8,
    tz: &jiff::tz::TimeZone,
    base_url: &str,
) -> Vec<(&'static str, Value)> {
    let mut o = match order.to_json(digits, tz, base_url) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut take = |k: &str| o.remove(k).unwrap_or(Value::Null);
    let customer = client.map_or(Value::Null, |c| {
        let one = crate::catalog::Catalog {
            clients: vec![c.clone()],
            ..Default::default()
        };
        // The export's own shape for a client, so the two never differ.
        crate::catalog::to_document(&one, digits)["clients"][0].take()
    });
    let time = |micros: i64| Value::String(crate::order::rfc3339(micros, tz));
    vec![
        ("type", Value::from(event.event_type.as_str())),
        ("orderID", take("orderID")),
        ("orderInternalID", take("orderInternalID")),
        ("price", take("price")),
        ("clientID", take("clientID")),
        ("customer", customer.clone()),
        ("client", customer),
        ("cashBoxID", take("cashBoxID")),
        ("deliveryMethod", take("deliveryMethod")),
        ("PDFinvoice", take("PDFinvoice")),
        ("items", take("items")),
        ("VATs", take("VATs")),
        ("VAT", take("VAT")),
        ("isRefund", take("isRefund")),
        ("creationDate", take("createdAt")),
        ("validationDate", take("validatedAt")),
        ("valueDate", take("valueDate")),
        ("shopID", Value::from(order.shop_id)),
        ("eventID", Value::from(event.event_id.as_str())),
        ("createdAt", time(event.created_at)),
        (
            "signatureVerificationURL",
            Value::from(event.verification_url.as_str()),
        ),
    ]
}

/// The body of an event in `format`. JSON: one object of [`fields`]. Form: each field as
/// text (numbers as written, `true`/`false`, arrays and objects as JSON text, `null` as
/// empty), percent-encoded.
pub fn body(fields: &[(&'static str, Value)], format: Format) -> String {
    match format {
        Format::Json => {
            let map: Map<String, Value> = fields
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect();
            Value::Object(map).to_string()
        }
        Format::Form => {
            let mut out = String::with_capacity(2048);
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push('&');
                }
                percent_encode(&mut out, k);
                out.push('=');
                match v {
                    Value::Null => {}
                    Value::String(s) => percent_encode(&mut out, s),
                    other => percent_encode(&mut out, &other.to_string()),
                }
            }
            out
        }
    }
}

/// `application/x-www-form-urlencoded` as browsers write it: unreserved bytes kept,
/// space as `+`, everything else `%XX`.
fn percent_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

#[cfg(test)]
mod tests;
