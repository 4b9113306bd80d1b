//! A recorded order as the web services show it, and its JSON answer (spec: "An order in
//! JSON"). Times are RFC 3339 in the shop's time zone; money has the currency's digits.

use crate::money::Money;
pub use crate::order_json::OrderJson;
use crate::quantity::Quantity;
use crate::sale::{SaleStatus, vat_breakdown};
use crate::seal::{OrderEntry, SealedLine, SealedVat};
use crate::vat::VatRate;
use serde_json::Value;
use std::fmt;

/// One line of a recorded order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineView {
    pub line_no: i64,
    pub item_id: Option<i64>,
    pub department_id: Option<i64>,
    pub title: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub total: Money,
    pub vat_rate: VatRate,
    pub variations: Vec<i64>,
}

/// One payment of a recorded order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentView {
    pub id: i64,
    pub payment_method_id: i64,
    pub name: String,
    /// What was handed over (change included), with the sign of the order.
    pub amount: Money,
    pub at: i64,
}

/// A recorded order with everything the answers and the journal need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderView {
    pub shop_id: i64,
    pub id: i64,
    pub number: Option<i64>,
    pub status: SaleStatus,
    pub is_refund: bool,
    pub refund_of: Option<i64>,
    pub created_at: i64,
    pub validated_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub value_date: i64,
    pub user_id: i64,
    pub cash_box_id: i64,
    pub client_id: Option<i64>,
    pub delivery_method: i64,
    pub table_id: Option<i64>,
    pub covers: Option<i64>,
    pub pager_num: Option<String>,
    pub public_comment: String,
    pub private_comment: String,
    pub total: Money,
    pub vat: Money,
    pub paid: Money,
    pub change: Money,
    pub invoice_token: String,
    pub seal: Option<String>,
    pub lines: Vec<LineView>,
    pub payments: Vec<PaymentView>,
}

/// Variation ids as stored: `3,8`.
pub fn variations_text(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Variation ids from their stored text; unreadable parts are skipped.
pub fn parse_variations(text: &str) -> Vec<i64> {
    text.split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

impl OrderView {
    /// The VAT breakdown, recomputed from the lines (the rule of the spec).
    pub fn vats(&self) -> Vec<crate::sale::VatLine> {
        vat_breakdown(self.lines.iter().map(|l| (l.vat_rate, l.total))).unwrap_or_default()
    }

    /// What remains to be paid: total − (payments − change).
    pub fn remaining(&self) -> Money {
        let received: Money = self.payments.iter().map(|p| p.amount).sum();
        self.total - (received - self.change)
    }

    /// The journal entry that seals this order, at position `seq` of the shop's journal.
    pub fn journal_entry(&self, seq: i64) -> OrderEntry {
        OrderEntry {
            shop_id: self.shop_id,
            seq,
            order_internal_id: self.id,
            number: self.number.unwrap_or(0),
            created_at: self.created_at,
            validated_at: self.validated_at.unwrap_or(0),
            value_date: self.value_date,
            client_id: self.client_id,
            user_id: self.user_id,
            cash_box_id: self.cash_box_id,
            delivery_method: self.delivery_method,
            table_id: self.table_id,
            is_refund: self.is_refund,
            refund_of: self.refund_of,
            lines: self
                .lines
                .iter()
                .map(|l| SealedLine {
                    line_no: l.line_no,
                    item_id: l.item_id,
                    department_id: l.department_id,
                    title: l.title.clone(),
                    quantity: l.quantity.thousandths(),
                    unit_price: l.unit_price.minor(),
                    total: l.total.minor(),
                    vat_rate: l.vat_rate.hundredths(),
                    variations: variations_text(&l.variations),
                })
                .collect(),
            vats: self
                .vats()
                .iter()
                .map(|v| SealedVat {
                    rate: v.rate.hundredths(),
                    base: v.base.minor(),
                    amount: v.amount.minor(),
                    total: v.total.minor(),
                })
                .collect(),
            total: self.total.minor(),
            vat: self.vat.minor(),
        }
    }

    /// The invoice link handed out: `BASE/invoices/TOKEN.pdf`.
    pub fn invoice_url(&self, base_url: &str) -> String {
        format!("{base_url}/invoices/{}.pdf", self.invoice_token)
    }

    /// The order's serde view (getOrder.php, the extensions' answers, downloads,
    /// webhooks): serialise it, or drop `result` first for a download.
    pub fn json<'a>(
        &'a self,
        digits: u8,
        tz: &'a jiff::tz::TimeZone,
        base_url: &'a str,
    ) -> OrderJson<'a> {
        OrderJson::new(self, digits, tz, base_url)
    }

    /// The order in JSON as a value, for callers that edit it; numbers keep their exact
    /// text (`1.80`).
    pub fn to_json(&self, digits: u8, tz: &jiff::tz::TimeZone, base_url: &str) -> Value {
        // Every part serialises infallibly (numbers are valid decimals, keys are strings).
        serde_json::to_value(self.json(digits, tz, base_url)).unwrap_or(Value::Null)
    }

    /// The order in JSON as text: the same bytes as `self.to_json(..).to_string()` (keys
    /// in byte order, so `PDFinvoice`, `VAT`, `VATs` first), the answer to every sale.
    pub fn to_json_string(&self, digits: u8, tz: &jiff::tz::TimeZone, base_url: &str) -> String {
        // Room for the whole answer at once, as the hand-written answer had.
        let per_line: usize = self
            .lines
            .iter()
            .map(|l| 224 + l.title.len() + 21 * l.variations.len())
            .sum();
        let per_payment: usize = self.payments.iter().map(|p| 128 + p.name.len()).sum();
        let mut out = Vec::with_capacity(
            768 + per_line
                + per_payment
                + 112 * self.lines.len().min(4)
                + base_url.len()
                + self.invoice_token.len()
                + self.public_comment.len()
                + self.private_comment.len()
                + self.pager_num.as_ref().map_or(0, String::len)
                + self.seal.as_ref().map_or(0, String::len),
        );
        // Writing into a Vec cannot fail, and serde_json writes UTF-8 only.
        let _ = serde_json::to_writer(&mut out, &self.json(digits, tz, base_url));
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Microseconds since the epoch as RFC 3339 in `tz`, to the second
/// (`2026-11-28T18:30:00+01:00`); empty outside the range of jiff's timestamps.
pub fn rfc3339(micros: i64, tz: &jiff::tz::TimeZone) -> String {
    let mut s = String::with_capacity(32);
    // Writing into a String cannot fail.
    let _ = write_rfc3339(&mut s, micros, tz);
    s
}

/// Appends what [`rfc3339`] returns: jiff's `%Y-%m-%dT%H:%M:%S%:z`, written without
/// cloning the time zone or reading a format. As jiff pads them, a year has four
/// characters counting its sign (`0044`, `-044`, `-9999`), and an offset shows seconds
/// only when it has some (`+00:09:21`, the local mean time of old Paris dates).
pub(crate) fn write_rfc3339(
    out: &mut impl fmt::Write,
    micros: i64,
    tz: &jiff::tz::TimeZone,
) -> fmt::Result {
    let Ok(ts) = jiff::Timestamp::from_microsecond(micros) else {
        return Ok(());
    };
    let offset = tz.to_offset(ts);
    let dt = offset.to_datetime(ts);
    // Years are within -9999..=9999.
    let year = dt.year();
    let y = year.unsigned_abs();
    if year < 0 {
        write!(out, "-{y:03}")?;
    } else {
        write!(out, "{y:04}")?;
    }
    let two = |n: i8| n.unsigned_abs();
    write!(
        out,
        "-{:02}-{:02}T{:02}:{:02}:{:02}",
        two(dt.month()),
        two(dt.day()),
        two(dt.hour()),
        two(dt.minute()),
        two(dt.second())
    )?;
    let seconds = offset.seconds();
    // Offsets stay within ±25:59:59: every part has two digits.
    let total = seconds.unsigned_abs();
    let sign = if seconds < 0 { '-' } else { '+' };
    write!(out, "{sign}{:02}:{:02}", total / 3600, total / 60 % 60)?;
    if !total.is_multiple_of(60) {
        write!(out, ":{:02}", total % 60)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{exact_number, money_json, rate_json};
    use jiff::tz::{Offset, TimeZone};
    use proptest::prelude::*;
    use serde_json::json;

    // The answer before it was written by hand: a serde_json Value tree. Kept as the
    // oracle the text of `to_json_string` must equal, byte for byte.
    fn oracle_to_json(o: &OrderView, digits: u8, tz: &TimeZone, base_url: &str) -> Value {
        let m = |x: Money| money_json(x, digits);
        let t = |micros: i64| Value::String(oracle_rfc3339(micros, tz));
        let vats: Vec<Value> = o
            .vats()
            .iter()
            .map(|v| {
                json!({"rate": rate_json(v.rate), "base": m(v.base), "amount": m(v.amount),
                       "total": m(v.total)})
            })
            .collect();
        let items: Vec<Value> = o
            .lines
            .iter()
            .map(|l| {
                json!({
                    "itemID": l.item_id, "departmentID": l.department_id, "title": l.title,
                    "quantity": exact_number(l.quantity.to_decimal_string()),
                    "unitPrice": m(l.unit_price), "total": m(l.total),
                    "vatRate": rate_json(l.vat_rate), "variations": l.variations,
                })
            })
            .collect();
        let payments: Vec<Value> = o
            .payments
            .iter()
            .map(|p| {
                json!({"paymentMethodID": p.payment_method_id, "name": p.name,
                       "amount": m(p.amount), "at": t(p.at)})
            })
            .collect();
        json!({
            "result": "OK",
            "orderInternalID": o.id,
            "orderID": o.number,
            "status": o.status.as_str(),
            "isRefund": o.is_refund,
            "refundOf": o.refund_of,
            "createdAt": t(o.created_at),
            "validatedAt": o.validated_at.map(t),
            "terminatedAt": o.terminated_at.map(t),
            "valueDate": t(o.value_date),
            "userID": o.user_id,
            "cashBoxID": o.cash_box_id,
            "clientID": o.client_id,
            "deliveryMethod": o.delivery_method,
            "tableID": o.table_id,
            "covers": o.covers,
            "pagerNum": o.pager_num,
            "publicComment": o.public_comment,
            "privateComment": o.private_comment,
            "price": m(o.total),
            "VAT": m(o.vat),
            "VATs": vats,
            "items": items,
            "payments": payments,
            "paid": m(o.paid),
            "change": m(o.change),
            "seal": o.seal,
            "PDFinvoice": o.invoice_url(base_url),
        })
    }

    // The former `rfc3339`, through jiff's strftime.
    fn oracle_rfc3339(micros: i64, tz: &TimeZone) -> String {
        match jiff::Timestamp::from_microsecond(micros) {
            Ok(ts) => ts
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            Err(_) => String::new(),
        }
    }

    // jiff::Timestamp::MIN and MAX in microseconds (checked by a test below).
    const MIN_MICROS: i64 = -377_705_023_201_000_000;
    const MAX_MICROS: i64 = 253_402_207_200_999_999;

    fn zones() -> Vec<TimeZone> {
        let mut zones: Vec<TimeZone> = ["Europe/Paris", "UTC", "America/New_York", "Asia/Kolkata"]
            .into_iter()
            .map(|name| TimeZone::get(name).unwrap())
            .collect();
        // The extreme offsets jiff allows, with seconds.
        for secs in [93_599, -93_599, -(5 * 3600 + 30 * 60), 561] {
            zones.push(TimeZone::fixed(Offset::from_seconds(secs).unwrap()));
        }
        zones
    }

    fn zone() -> impl Strategy<Value = TimeZone> {
        proptest::sample::select(zones())
    }

    /// Microseconds: ordinary dates, anywhere in jiff's range, and just outside it.
    fn micros() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => 1_500_000_000_000_000i64..2_100_000_000_000_000,
            4 => MIN_MICROS..=MAX_MICROS,
            1 => prop_oneof![
                Just(MIN_MICROS),
                Just(MAX_MICROS),
                Just(MIN_MICROS - 1),
                Just(MAX_MICROS + 1),
                Just(0),
                Just(-1),
                Just(i64::MIN),
                Just(i64::MAX),
            ],
            1 => any::<i64>(),
        ]
    }

    fn int() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            -10_000i64..10_000,
            Just(i64::MIN),
            Just(i64::MAX)
        ]
    }

    fn money() -> impl Strategy<Value = Money> {
        prop_oneof![
            -10_000_000i64..10_000_000,
            any::<i64>(),
            Just(0i64),
            Just(-5i64),
        ]
        .prop_map(Money::from_minor)
    }

    /// Texts with the characters that need escaping, and any string at all.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            r#"[a-zA-Z0-9 "\\\x00-\x1f\x7fé€🥐\u{2028}]{0,24}"#,
            any::<String>(),
        ]
    }

    fn line() -> impl Strategy<Value = LineView> {
        (
            (
                int(),
                proptest::option::of(int()),
                proptest::option::of(int()),
            ),
            text(),
            prop_oneof![-100_000_000i64..=100_000_000, Just(1), Just(-1), Just(1000)],
            (money(), money(), 0i64..10_000),
            proptest::collection::vec(int(), 0..4),
        )
            .prop_map(
                |(
                    (line_no, item_id, department_id),
                    title,
                    q,
                    (unit_price, total, r),
                    variations,
                )| {
                    LineView {
                        line_no,
                        item_id,
                        department_id,
                        title,
                        quantity: Quantity::from_thousandths(q).unwrap_or(Quantity::ONE),
                        unit_price,
                        total,
                        vat_rate: VatRate::from_hundredths(r).unwrap(),
                        variations,
                    }
                },
            )
    }

    fn payment() -> impl Strategy<Value = PaymentView> {
        (int(), int(), text(), money(), micros()).prop_map(
            |(id, payment_method_id, name, amount, at)| PaymentView {
                id,
                payment_method_id,
                name,
                amount,
                at,
            },
        )
    }

    fn order_view() -> impl Strategy<Value = OrderView> {
        (
            (int(), int(), proptest::option::of(int())),
            (
                prop_oneof![
                    Just(SaleStatus::Pending),
                    Just(SaleStatus::Validated),
                    Just(SaleStatus::Terminated),
                ],
                any::<bool>(),
                proptest::option::of(int()),
            ),
            (
                micros(),
                proptest::option::of(micros()),
                proptest::option::of(micros()),
                micros(),
            ),
            (int(), int(), proptest::option::of(int()), int()),
            (
                proptest::option::of(int()),
                proptest::option::of(int()),
                proptest::option::of(text()),
            ),
            (text(), text()),
            (money(), money(), money(), money()),
            (text(), proptest::option::of("[0-9a-f]{64}")),
            proptest::collection::vec(line(), 0..5),
            proptest::collection::vec(payment(), 0..4),
        )
            .prop_map(
                |(
                    (shop_id, id, number),
                    (status, is_refund, refund_of),
                    (created_at, validated_at, terminated_at, value_date),
                    (user_id, cash_box_id, client_id, delivery_method),
                    (table_id, covers, pager_num),
                    (public_comment, private_comment),
                    (total, vat, paid, change),
                    (invoice_token, seal),
                    lines,
                    payments,
                )| OrderView {
                    shop_id,
                    id,
                    number,
                    status,
                    is_refund,
                    refund_of,
                    created_at,
                    validated_at,
                    terminated_at,
                    value_date,
                    user_id,
                    cash_box_id,
                    client_id,
                    delivery_method,
                    table_id,
                    covers,
                    pager_num,
                    public_comment,
                    private_comment,
                    total,
                    vat,
                    paid,
                    change,
                    invoice_token,
                    seal,
                    lines,
                    payments,
                },
            )
    }

    fn base_url() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("https://pos.example".to_string()),
            Just(String::new()),
            text(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn the_json_text_equals_the_value_encoding(
            o in order_view(),
            digits in prop_oneof![Just(0u8), Just(2u8), Just(3u8)],
            tz in zone(),
            base in base_url(),
        ) {
            let text = o.to_json_string(digits, &tz, &base);
            let oracle = oracle_to_json(&o, digits, &tz, &base);
            prop_assert_eq!(&text, &oracle.to_string());
            // The value callers edit is the same value, and prints the same text.
            let value = o.to_json(digits, &tz, &base);
            prop_assert_eq!(&value, &oracle);
            prop_assert_eq!(value.to_string(), text);
        }

        #[test]
        fn times_print_as_jiff_strftime_did(at in micros(), tz in zone()) {
            prop_assert_eq!(rfc3339(at, &tz), oracle_rfc3339(at, &tz));
        }
    }

    #[test]
    fn times_at_the_ends_of_jiffs_range_print_as_strftime_did() {
        assert_eq!(MIN_MICROS, jiff::Timestamp::MIN.as_microsecond());
        assert_eq!(MAX_MICROS, jiff::Timestamp::MAX.as_microsecond());
        let far = [
            MIN_MICROS,
            MIN_MICROS + 1,
            MAX_MICROS,
            MAX_MICROS - 1,
            -62_135_596_800_000_000, // 0001-01-01T00:00:00Z
            -62_135_596_800_000_001, // the last microsecond of year 0
            -62_167_219_200_000_000, // 0000-01-01T00:00:00Z
            -62_198_755_200_000_000, // a day in year -1
            -65_000_000_000_000_000, // year -90
            -2_000_000_000_000_000,  // 1906: Paris on local mean time, +00:09:21
            -1,
            0,
            1,
        ];
        for tz in zones() {
            for at in far {
                assert_eq!(rfc3339(at, &tz), oracle_rfc3339(at, &tz), "{at} in {tz:?}");
            }
            assert_eq!(rfc3339(MIN_MICROS - 1, &tz), "");
            assert_eq!(rfc3339(MAX_MICROS + 1, &tz), "");
        }
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            rfc3339(-2_000_000_000_000_000, &paris),
            "1906-08-16T20:36:01+00:09:21"
        );
        assert_eq!(
            rfc3339(MIN_MICROS, &TimeZone::UTC),
            "-9999-01-02T01:59:59+00:00"
        );
    }

    #[test]
    fn an_order_answer_has_its_exact_text() {
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let o = OrderView {
            shop_id: 1,
            id: 7,
            number: Some(1),
            status: SaleStatus::Terminated,
            is_refund: false,
            refund_of: None,
            created_at: 1_795_887_000_000_000,
            validated_at: Some(1_795_887_000_000_000),
            terminated_at: None,
            value_date: 1_795_887_000_000_000,
            user_id: 3,
            cash_box_id: 1,
            client_id: None,
            delivery_method: 4,
            table_id: Some(12),
            covers: None,
            pager_num: None,
            public_comment: "Merci \"beaucoup\"\n".into(),
            private_comment: String::new(),
            total: Money::from_minor(2940),
            vat: Money::from_minor(490),
            paid: Money::from_minor(3000),
            change: Money::from_minor(60),
            invoice_token: "tok".into(),
            seal: None,
            lines: vec![LineView {
                line_no: 1,
                item_id: Some(12),
                department_id: None,
                title: "Crème brûlée".into(),
                quantity: Quantity::from_thousandths(350).unwrap(),
                unit_price: Money::from_minor(8400),
                total: Money::from_minor(2940),
                vat_rate: VatRate::from_hundredths(2000).unwrap(),
                variations: vec![3, 8],
            }],
            payments: vec![PaymentView {
                id: 9,
                payment_method_id: 1,
                name: "Cash".into(),
                amount: Money::from_minor(3000),
                at: 1_795_887_000_000_000,
            }],
        };
        let expected = concat!(
            r#"{"PDFinvoice":"https://pos.example/invoices/tok.pdf","VAT":4.90,"#,
            r#""VATs":[{"amount":4.90,"base":24.50,"rate":20.0,"total":29.40}],"#,
            r#""cashBoxID":1,"change":0.60,"clientID":null,"covers":null,"#,
            r#""createdAt":"2026-11-28T18:30:00+01:00","deliveryMethod":4,"isRefund":false,"#,
            r#""items":[{"departmentID":null,"itemID":12,"quantity":0.35,"#,
            r#""title":"Crème brûlée","total":29.40,"unitPrice":84.00,"variations":[3,8],"#,
            r#""vatRate":20.0}],"orderID":1,"orderInternalID":7,"pagerNum":null,"#,
            r#""paid":30.00,"payments":[{"amount":30.00,"at":"2026-11-28T18:30:00+01:00","#,
            r#""name":"Cash","paymentMethodID":1}],"price":29.40,"privateComment":"","#,
            r#""publicComment":"Merci \"beaucoup\"\n","refundOf":null,"result":"OK","#,
            r#""seal":null,"status":"terminated","tableID":12,"terminatedAt":null,"#,
            r#""userID":3,"validatedAt":"2026-11-28T18:30:00+01:00","#,
            r#""valueDate":"2026-11-28T18:30:00+01:00"}"#,
        );
        assert_eq!(o.to_json_string(2, &tz, "https://pos.example"), expected);
        assert_eq!(
            oracle_to_json(&o, 2, &tz, "https://pos.example").to_string(),
            expected
        );
        assert_eq!(
            o.to_json(2, &tz, "https://pos.example")["price"].to_string(),
            "29.40"
        );
    }

    #[test]
    fn times_print_with_the_shop_offset() {
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        // 2026-11-28T17:30:00Z is 18:30 in Paris (UTC+1 in winter).
        assert_eq!(
            rfc3339(1_795_887_000_000_000, &tz),
            "2026-11-28T18:30:00+01:00"
        );
    }

    #[test]
    fn variations_round_trip_through_their_text() {
        assert_eq!(variations_text(&[3, 8]), "3,8");
        assert_eq!(parse_variations("3,8"), vec![3, 8]);
        assert!(parse_variations("").is_empty());
    }
}
