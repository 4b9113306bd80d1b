//! The body of a `closing` event (issue #11): a closing's number, period, grand totals,
//! journal head and signature, sent out so that someone outside the database keeps them.

use super::EventMeta;
use crate::closing::ClosingEntry;
use crate::report::ReportClosing;
use serde_json::Value;

/// The fields of a closing event, in this order: `type`, `shopID`, `period`, `date`,
/// `from`, `to`, then the report's closing part (`number`, `closedAt`, `total`,
/// `grandTotal`, `grandTotalAbs`, `journalEntry`, `head`, `signature`, `publicKey`), the
/// signed bytes `entry`, and `eventID`, `createdAt`, `signatureVerificationURL`. `None`
/// when `entry` is not a closing's bytes.
pub fn closing_fields(
    shop_id: i64,
    entry: &str,
    signature: &str,
    public_key: &str,
    event: &EventMeta,
    digits: u8,
    tz: &jiff::tz::TimeZone,
) -> Option<Vec<(&'static str, Value)>> {
    let e = ClosingEntry::parse(entry).ok()?;
    let part = ReportClosing::of(entry, signature, public_key, digits, tz)?;
    let Value::Object(mut part) = serde_json::to_value(part).ok()? else {
        return None;
    };
    let mut take = |k: &str| part.remove(k).unwrap_or(Value::Null);
    let time = |micros: i64| Value::String(crate::order::rfc3339(micros, tz));
    let (from, to) = e.bounds();
    Some(vec![
        ("type", Value::from(event.event_type.as_str())),
        ("shopID", Value::from(shop_id)),
        ("period", Value::from(e.period())),
        ("date", Value::from(e.date())),
        ("from", time(from)),
        ("to", time(to)),
        ("number", take("number")),
        ("closedAt", take("closedAt")),
        ("total", take("total")),
        ("grandTotal", take("grandTotal")),
        ("grandTotalAbs", take("grandTotalAbs")),
        ("journalEntry", take("journalEntry")),
        ("head", take("head")),
        ("signature", take("signature")),
        ("publicKey", take("publicKey")),
        ("entry", Value::from(entry)),
        ("eventID", Value::from(event.event_id.as_str())),
        ("createdAt", time(event.created_at)),
        (
            "signatureVerificationURL",
            Value::from(event.verification_url.as_str()),
        ),
    ])
}
