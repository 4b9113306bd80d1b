//! The closing part of a closed day's report (issue #11): the day's closing number, its
//! grand totals and the journal head it vouches for, from the closing's signed bytes.

use super::Amount;
use crate::closing::ClosingEntry;
use crate::money::Money;
use serde::Serialize;

/// The day's closing, shown whatever the report's filters (it closes the whole day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportClosing {
    /// Among the shop's daily closings: 1, 2, 3…
    pub number: i64,
    pub closed_at: String,
    /// The day's total, refunds negative.
    pub total: Amount,
    /// The perpetual grand totals since the shop began, signed and without sign.
    pub grand_total: Amount,
    pub grand_total_abs: Amount,
    /// The journal entry that seals the closing.
    pub journal_entry: i64,
    /// The journal head the closing vouches for.
    pub head: String,
    /// The Ed25519 signature of the closing's bytes and the public key that made it (hex).
    pub signature: String,
    pub public_key: String,
}

impl ReportClosing {
    /// From a stored closing: its canonical bytes, signature and public key. `None` when
    /// the bytes are not a closing.
    pub fn of(
        entry: &str,
        signature: &str,
        public_key: &str,
        digits: u8,
        tz: &jiff::tz::TimeZone,
    ) -> Option<ReportClosing> {
        let e = ClosingEntry::parse(entry).ok()?;
        let amount = |minor| Amount::new(Money::from_minor(minor), digits);
        let grand = e.grand_totals();
        Some(ReportClosing {
            number: e.number(),
            closed_at: crate::order::rfc3339(e.closed_at(), tz),
            total: amount(e.totals().signed),
            grand_total: amount(grand.signed),
            grand_total_abs: amount(grand.absolute),
            journal_entry: e.seq(),
            head: e.head().to_string(),
            signature: signature.to_string(),
            public_key: public_key.to_string(),
        })
    }
}
