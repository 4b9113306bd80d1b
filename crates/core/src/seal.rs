//! The seal chain of a shop's journal. Each entry's canonical bytes are compact JSON with
//! sorted keys and integers only; `seal = hex(SHA-256(previous seal in hex ‖ bytes))`,
//! starting from 64 zeros. docs/inalterability.md shows how to re-verify it by hand.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The "previous seal" of a shop's first journal entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Version marker inside every entry, so the encoding can evolve without ambiguity.
pub const ENCODING: &str = "comptoir-journal-1";

/// One sealed order line, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedLine {
    pub line_no: i64,
    pub item_id: Option<i64>,
    pub department_id: Option<i64>,
    pub title: String,
    /// Thousandths of a unit.
    pub quantity: i64,
    /// Minor units, VAT included.
    pub unit_price: i64,
    pub total: i64,
    /// Hundredths of a percent.
    pub vat_rate: i64,
    /// Comma-separated variation ids, as stored.
    pub variations: String,
}

/// One VAT rate of an order, in minor units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedVat {
    pub rate: i64,
    pub base: i64,
    pub amount: i64,
    pub total: i64,
}

/// The content of a validated order, as the journal seals it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEntry {
    pub shop_id: i64,
    pub seq: i64,
    pub order_internal_id: i64,
    pub number: i64,
    pub created_at: i64,
    pub validated_at: i64,
    pub value_date: i64,
    pub client_id: Option<i64>,
    pub user_id: i64,
    pub cash_box_id: i64,
    pub delivery_method: i64,
    pub table_id: Option<i64>,
    pub is_refund: bool,
    pub refund_of: Option<i64>,
    pub lines: Vec<SealedLine>,
    pub vats: Vec<SealedVat>,
    pub total: i64,
    pub vat: i64,
}

/// A payment, as the journal seals it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentEntry {
    pub shop_id: i64,
    pub seq: i64,
    pub order_internal_id: i64,
    pub payment_id: i64,
    pub payment_method_id: i64,
    pub amount: i64,
    pub at: i64,
}

fn compact(v: &Value) -> Vec<u8> {
    // serde_json's Map is a BTreeMap here (no preserve_order): keys come out sorted.
    serde_json::to_vec(v).expect("a JSON value always serialises")
}

impl OrderEntry {
    /// The canonical bytes of this entry.
    pub fn canonical(&self) -> Vec<u8> {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "line_no": l.line_no, "item_id": l.item_id, "department_id": l.department_id,
                    "title": l.title, "quantity": l.quantity, "unit_price": l.unit_price,
                    "total": l.total, "vat_rate": l.vat_rate, "variations": l.variations,
                })
            })
            .collect();
        let vats: Vec<Value> = self
            .vats
            .iter()
            .map(|v| json!({"rate": v.rate, "base": v.base, "amount": v.amount, "total": v.total}))
            .collect();
        let mut m = Map::new();
        for (k, v) in [
            ("encoding", json!(ENCODING)),
            ("kind", json!("order")),
            ("shop_id", json!(self.shop_id)),
            ("seq", json!(self.seq)),
            ("order_internal_id", json!(self.order_internal_id)),
            ("number", json!(self.number)),
            ("created_at", json!(self.created_at)),
            ("validated_at", json!(self.validated_at)),
            ("value_date", json!(self.value_date)),
            ("client_id", json!(self.client_id)),
            ("user_id", json!(self.user_id)),
            ("cash_box_id", json!(self.cash_box_id)),
            ("delivery_method", json!(self.delivery_method)),
            ("table_id", json!(self.table_id)),
            ("is_refund", json!(self.is_refund)),
            ("refund_of", json!(self.refund_of)),
            ("lines", Value::Array(lines)),
            ("vats", Value::Array(vats)),
            ("total", json!(self.total)),
            ("vat", json!(self.vat)),
        ] {
            m.insert(k.to_string(), v);
        }
        compact(&Value::Object(m))
    }
}

impl PaymentEntry {
    /// The canonical bytes of this entry.
    pub fn canonical(&self) -> Vec<u8> {
        compact(&json!({
            "encoding": ENCODING,
            "kind": "payment",
            "shop_id": self.shop_id,
            "seq": self.seq,
            "order_internal_id": self.order_internal_id,
            "payment_id": self.payment_id,
            "payment_method_id": self.payment_method_id,
            "amount": self.amount,
            "at": self.at,
        }))
    }
}

/// `hex(SHA-256(previous ‖ canonical))`, where `previous` is the previous seal in hex.
pub fn seal(previous: &str, canonical: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update(canonical);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> OrderEntry {
        OrderEntry {
            shop_id: 1,
            seq: 1,
            order_internal_id: 7,
            number: 1,
            created_at: 1_700_000_000_000_000,
            validated_at: 1_700_000_000_000_000,
            value_date: 1_700_000_000_000_000,
            client_id: None,
            user_id: 3,
            cash_box_id: 1,
            delivery_method: 4,
            table_id: None,
            is_refund: false,
            refund_of: None,
            lines: vec![SealedLine {
                line_no: 1,
                item_id: Some(12),
                department_id: Some(3),
                title: "Crème brûlée \"maison\"".into(),
                quantity: 2000,
                unit_price: 1450,
                total: 2900,
                vat_rate: 1000,
                variations: "3,8".into(),
            }],
            vats: vec![SealedVat {
                rate: 1000,
                base: 2636,
                amount: 264,
                total: 2900,
            }],
            total: 2900,
            vat: 264,
        }
    }

    #[test]
    fn canonical_bytes_are_compact_sorted_json() {
        let text = String::from_utf8(entry().canonical()).unwrap();
        assert!(
            text.starts_with(r#"{"cash_box_id":1,"client_id":null,"created_at":"#),
            "{text}"
        );
        assert!(
            text.contains(r#""title":"Crème brûlée \"maison\"""#),
            "{text}"
        );
        assert!(
            !text.contains(' ') || text.contains("Crème brûlée"),
            "no spaces but in text"
        );
    }

    #[test]
    fn seals_chain_and_change_with_any_field() {
        let a = seal(GENESIS, &entry().canonical());
        assert_eq!(a.len(), 64);
        assert_eq!(a, seal(GENESIS, &entry().canonical()), "deterministic");
        let mut e = entry();
        e.lines[0].total += 1;
        assert_ne!(a, seal(GENESIS, &e.canonical()));
        let mut e = entry();
        e.delivery_method = 0;
        assert_ne!(a, seal(GENESIS, &e.canonical()));
        assert_ne!(
            a,
            seal(&a, &entry().canonical()),
            "the previous seal counts"
        );
    }

    #[test]
    fn a_known_vector_stays_stable() {
        // sha256("0"*64 + "{}"), computed independently with `printf ... | sha256sum`.
        assert_eq!(
            seal(GENESIS, b"{}"),
            "5508d2b710e64bc470079e1b211d9c58e21011e59d0559e422345dc19d659a75"
        );
    }
}
