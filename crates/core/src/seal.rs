//! The seal chain of a shop's journal. Each entry's canonical bytes are compact JSON with
//! sorted keys and integers only; `seal = hex(SHA-256(previous seal in hex ‖ bytes))`,
//! starting from 64 zeros. docs/inalterability.md shows how to re-verify it by hand.

use crate::json_text::{push_bool, push_i64, push_opt_i64, push_str};
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

// The canonical bytes are written by hand, keys in the byte order of serde_json's
// BTreeMap, numbers and escapes as serde_json prints them: the seal of every recorded
// entry depends on each byte. The tests compare them with the serde_json encoding.

impl OrderEntry {
    /// The canonical bytes of this entry.
    pub fn canonical(&self) -> Vec<u8> {
        let per_line: usize = self
            .lines
            .iter()
            .map(|l| 192 + l.title.len() + l.variations.len())
            .sum();
        let mut o = String::with_capacity(448 + per_line + 96 * self.vats.len());
        o.push_str("{\"cash_box_id\":");
        push_i64(&mut o, self.cash_box_id);
        o.push_str(",\"client_id\":");
        push_opt_i64(&mut o, self.client_id);
        o.push_str(",\"created_at\":");
        push_i64(&mut o, self.created_at);
        o.push_str(",\"delivery_method\":");
        push_i64(&mut o, self.delivery_method);
        o.push_str(",\"encoding\":");
        push_str(&mut o, ENCODING);
        o.push_str(",\"is_refund\":");
        push_bool(&mut o, self.is_refund);
        o.push_str(",\"kind\":\"order\",\"lines\":[");
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"department_id\":");
            push_opt_i64(&mut o, l.department_id);
            o.push_str(",\"item_id\":");
            push_opt_i64(&mut o, l.item_id);
            o.push_str(",\"line_no\":");
            push_i64(&mut o, l.line_no);
            o.push_str(",\"quantity\":");
            push_i64(&mut o, l.quantity);
            o.push_str(",\"title\":");
            push_str(&mut o, &l.title);
            o.push_str(",\"total\":");
            push_i64(&mut o, l.total);
            o.push_str(",\"unit_price\":");
            push_i64(&mut o, l.unit_price);
            o.push_str(",\"variations\":");
            push_str(&mut o, &l.variations);
            o.push_str(",\"vat_rate\":");
            push_i64(&mut o, l.vat_rate);
            o.push('}');
        }
        o.push_str("],\"number\":");
        push_i64(&mut o, self.number);
        o.push_str(",\"order_internal_id\":");
        push_i64(&mut o, self.order_internal_id);
        o.push_str(",\"refund_of\":");
        push_opt_i64(&mut o, self.refund_of);
        o.push_str(",\"seq\":");
        push_i64(&mut o, self.seq);
        o.push_str(",\"shop_id\":");
        push_i64(&mut o, self.shop_id);
        o.push_str(",\"table_id\":");
        push_opt_i64(&mut o, self.table_id);
        o.push_str(",\"total\":");
        push_i64(&mut o, self.total);
        o.push_str(",\"user_id\":");
        push_i64(&mut o, self.user_id);
        o.push_str(",\"validated_at\":");
        push_i64(&mut o, self.validated_at);
        o.push_str(",\"value_date\":");
        push_i64(&mut o, self.value_date);
        o.push_str(",\"vat\":");
        push_i64(&mut o, self.vat);
        o.push_str(",\"vats\":[");
        for (i, v) in self.vats.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"amount\":");
            push_i64(&mut o, v.amount);
            o.push_str(",\"base\":");
            push_i64(&mut o, v.base);
            o.push_str(",\"rate\":");
            push_i64(&mut o, v.rate);
            o.push_str(",\"total\":");
            push_i64(&mut o, v.total);
            o.push('}');
        }
        o.push_str("]}");
        o.into_bytes()
    }
}

impl PaymentEntry {
    /// The canonical bytes of this entry.
    pub fn canonical(&self) -> Vec<u8> {
        let mut o = String::with_capacity(320);
        o.push_str("{\"amount\":");
        push_i64(&mut o, self.amount);
        o.push_str(",\"at\":");
        push_i64(&mut o, self.at);
        o.push_str(",\"encoding\":");
        push_str(&mut o, ENCODING);
        o.push_str(",\"kind\":\"payment\",\"order_internal_id\":");
        push_i64(&mut o, self.order_internal_id);
        o.push_str(",\"payment_id\":");
        push_i64(&mut o, self.payment_id);
        o.push_str(",\"payment_method_id\":");
        push_i64(&mut o, self.payment_method_id);
        o.push_str(",\"seq\":");
        push_i64(&mut o, self.seq);
        o.push_str(",\"shop_id\":");
        push_i64(&mut o, self.shop_id);
        o.push('}');
        o.into_bytes()
    }
}

/// `hex(SHA-256(previous ‖ canonical))`, where `previous` is the previous seal in hex.
pub fn seal(previous: &str, canonical: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update(canonical);
    crate::hex::hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    // The encoding before the bytes were written by hand: serde_json Values with sorted
    // keys. Kept as the oracle the hand-written bytes must equal, byte for byte.
    fn compact(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).expect("a JSON value always serialises")
    }

    fn oracle_order(e: &OrderEntry) -> Vec<u8> {
        let lines: Vec<Value> = e
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
        let vats: Vec<Value> = e
            .vats
            .iter()
            .map(|v| json!({"rate": v.rate, "base": v.base, "amount": v.amount, "total": v.total}))
            .collect();
        let mut m = Map::new();
        for (k, v) in [
            ("encoding", json!(ENCODING)),
            ("kind", json!("order")),
            ("shop_id", json!(e.shop_id)),
            ("seq", json!(e.seq)),
            ("order_internal_id", json!(e.order_internal_id)),
            ("number", json!(e.number)),
            ("created_at", json!(e.created_at)),
            ("validated_at", json!(e.validated_at)),
            ("value_date", json!(e.value_date)),
            ("client_id", json!(e.client_id)),
            ("user_id", json!(e.user_id)),
            ("cash_box_id", json!(e.cash_box_id)),
            ("delivery_method", json!(e.delivery_method)),
            ("table_id", json!(e.table_id)),
            ("is_refund", json!(e.is_refund)),
            ("refund_of", json!(e.refund_of)),
            ("lines", Value::Array(lines)),
            ("vats", Value::Array(vats)),
            ("total", json!(e.total)),
            ("vat", json!(e.vat)),
        ] {
            m.insert(k.to_string(), v);
        }
        compact(&Value::Object(m))
    }

    fn oracle_payment(p: &PaymentEntry) -> Vec<u8> {
        compact(&json!({
            "encoding": ENCODING,
            "kind": "payment",
            "shop_id": p.shop_id,
            "seq": p.seq,
            "order_internal_id": p.order_internal_id,
            "payment_id": p.payment_id,
            "payment_method_id": p.payment_method_id,
            "amount": p.amount,
            "at": p.at,
        }))
    }

    fn oracle_seal(previous: &str, canonical: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(previous.as_bytes());
        h.update(canonical);
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn int() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            -10_000i64..10_000,
            Just(0),
            Just(-1),
            Just(i64::MIN),
            Just(i64::MAX),
        ]
    }

    /// Titles with the characters that need escaping, and any string at all.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            r#"[a-z0-9 "\\\x00-\x1f\x7fé€🥐\u{2028}]{0,24}"#,
            any::<String>(),
        ]
    }

    fn line() -> impl Strategy<Value = SealedLine> {
        (
            (
                int(),
                proptest::option::of(int()),
                proptest::option::of(int()),
            ),
            text(),
            (int(), int(), int(), int()),
            prop_oneof![text(), "[0-9]{1,3}(,[0-9]{1,3}){0,3}"],
        )
            .prop_map(
                |((line_no, item_id, department_id), title, (q, u, t, r), variations)| SealedLine {
                    line_no,
                    item_id,
                    department_id,
                    title,
                    quantity: q,
                    unit_price: u,
                    total: t,
                    vat_rate: r,
                    variations,
                },
            )
    }

    fn vat() -> impl Strategy<Value = SealedVat> {
        (int(), int(), int(), int()).prop_map(|(rate, base, amount, total)| SealedVat {
            rate,
            base,
            amount,
            total,
        })
    }

    fn order_entry() -> impl Strategy<Value = OrderEntry> {
        (
            (int(), int(), int(), int(), int(), int(), int()),
            (
                proptest::option::of(int()),
                int(),
                int(),
                int(),
                proptest::option::of(int()),
            ),
            (any::<bool>(), proptest::option::of(int())),
            proptest::collection::vec(line(), 0..5),
            proptest::collection::vec(vat(), 0..4),
            (int(), int()),
        )
            .prop_map(
                |(
                    (shop_id, seq, order_internal_id, number, created_at, validated_at, value_date),
                    (client_id, user_id, cash_box_id, delivery_method, table_id),
                    (is_refund, refund_of),
                    lines,
                    vats,
                    (total, vat),
                )| OrderEntry {
                    shop_id,
                    seq,
                    order_internal_id,
                    number,
                    created_at,
                    validated_at,
                    value_date,
                    client_id,
                    user_id,
                    cash_box_id,
                    delivery_method,
                    table_id,
                    is_refund,
                    refund_of,
                    lines,
                    vats,
                    total,
                    vat,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn order_bytes_equal_the_serde_json_encoding(e in order_entry()) {
            let bytes = e.canonical();
            prop_assert_eq!(&bytes, &oracle_order(&e));
            prop_assert_eq!(seal(GENESIS, &bytes), oracle_seal(GENESIS, &bytes));
        }

        #[test]
        fn payment_bytes_equal_the_serde_json_encoding(
            (shop_id, seq, order_internal_id) in (int(), int(), int()),
            (payment_id, payment_method_id, amount, at) in (int(), int(), int(), int()),
        ) {
            let p = PaymentEntry { shop_id, seq, order_internal_id, payment_id, payment_method_id, amount, at };
            prop_assert_eq!(p.canonical(), oracle_payment(&p));
        }

        #[test]
        fn seals_equal_the_per_byte_hex(previous in "[0-9a-f]{64}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(seal(&previous, &bytes), oracle_seal(&previous, &bytes));
        }
    }

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
    fn the_example_entries_keep_their_exact_bytes_and_seal() {
        // Recorded journals depend on these bytes: they must never change.
        let order = concat!(
            r#"{"cash_box_id":1,"client_id":null,"created_at":1700000000000000,"#,
            r#""delivery_method":4,"encoding":"comptoir-journal-1","is_refund":false,"#,
            r#""kind":"order","lines":[{"department_id":3,"item_id":12,"line_no":1,"#,
            r#""quantity":2000,"title":"Crème brûlée \"maison\"","total":2900,"#,
            r#""unit_price":1450,"variations":"3,8","vat_rate":1000}],"number":1,"#,
            r#""order_internal_id":7,"refund_of":null,"seq":1,"shop_id":1,"table_id":null,"#,
            r#""total":2900,"user_id":3,"validated_at":1700000000000000,"#,
            r#""value_date":1700000000000000,"vat":264,"#,
            r#""vats":[{"amount":264,"base":2636,"rate":1000,"total":2900}]}"#,
        );
        assert_eq!(String::from_utf8(entry().canonical()).unwrap(), order);
        // Computed independently with `printf '%s%s' GENESIS BYTES | sha256sum`.
        assert_eq!(
            seal(GENESIS, &entry().canonical()),
            "cb894866ca3b5af2ab381691d118b85de3f727bec59e14a217cebdb01864904a"
        );
        let p = PaymentEntry {
            shop_id: 1,
            seq: 2,
            order_internal_id: 7,
            payment_id: 9,
            payment_method_id: 1,
            amount: -2900,
            at: 1_700_000_000_000_000,
        };
        assert_eq!(
            String::from_utf8(p.canonical()).unwrap(),
            concat!(
                r#"{"amount":-2900,"at":1700000000000000,"encoding":"comptoir-journal-1","#,
                r#""kind":"payment","order_internal_id":7,"payment_id":9,"#,
                r#""payment_method_id":1,"seq":2,"shop_id":1}"#,
            )
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
