//! The events journal (issue #11): what happened around the sales — sign-ins, keys,
//! licence and configuration changes, report downloads, archives, closings, invoice
//! duplicates, server start and stop — as entries of a chain sealed like the sales
//! journal (`core::seal`). One journal per shop, and one for the server itself.
//! docs/inalterability.md gives the encoding.

use crate::seal::seal;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Version marker inside every event entry.
pub const ENCODING: &str = "comptoir-events-1";

/// The `shop_id` under which the server's own journal is stored (shop ids start at 1).
pub const SERVER_JOURNAL: i64 = 0;

/// Which journal an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Journal {
    /// A shop's events.
    Shop(i64),
    /// Server start and stop, and what names no shop (a sign-in with an unknown login).
    Server,
}

impl Journal {
    /// The key of the journal's rows: the shop id, or [`SERVER_JOURNAL`].
    pub fn key(self) -> i64 {
        match self {
            Journal::Shop(id) => id,
            Journal::Server => SERVER_JOURNAL,
        }
    }

    /// `shop_id` in the canonical bytes: the id, or `null` for the server journal.
    fn shop_id(self) -> Option<i64> {
        match self {
            Journal::Shop(id) => Some(id),
            Journal::Server => None,
        }
    }
}

impl fmt::Display for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Journal::Shop(id) => write!(f, "shop {id}"),
            Journal::Server => f.write_str("the server"),
        }
    }
}

/// Through which door something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The back-office pages.
    BackOffice,
    /// `getAuthToken.php`.
    GetAuthToken,
    /// `getSales.php`.
    GetSales,
    /// The `comptoir` command.
    Cli,
}

/// What happened. Each variant's fields are its entry's `detail` object; the variant's
/// name (snake case) is the entry's `kind`. No secret is ever part of an event (a
/// password, a key, a webhook secret): only that it was used or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Event {
    /// The server started serving.
    ServerStart { version: String, listen: String },
    /// The server stopped serving (after finishing the requests in flight).
    ServerStop {},
    /// A successful sign-in: a back-office session, or an API key given by getAuthToken.php.
    SignIn {
        login: String,
        via: Via,
        /// The key handed out (getAuthToken.php).
        key_id: Option<i64>,
    },
    /// A sign-in refused for a wrong password or an unknown login. Attempts the rate
    /// limiter refuses before checking the password are not recorded.
    SignInFailed { login: String, via: Via },
    /// An API key was created.
    ApiKeyCreated {
        key_id: i64,
        label: Option<String>,
        via: Via,
    },
    /// An API key was revoked.
    ApiKeyRevoked { key_id: i64, via: Via },
    /// The shop's licence was set.
    LicenceChanged { licence: String, via: Via },
    /// Settings changed: each setting's new value (`null` for removed; `"changed"` for a
    /// secret, whose value is never recorded).
    ConfigChanged {
        settings: BTreeMap<String, Option<String>>,
        via: Via,
    },
    /// A sales report was delivered (downloaded or shown).
    ReportDownloaded {
        /// The report's day, `YYYY-MM-DD`.
        day: String,
        format: String,
        via: Via,
        cash_box_id: Option<i64>,
        user_id: Option<i64>,
    },
    /// An archive of a closed period was made.
    ArchiveCreated {
        period: String,
        /// SHA-256 of the archive's manifest, hex.
        manifest_sha256: String,
    },
    /// A closing was recorded in the sales journal.
    Closing {
        /// `day` (later `month`, `year`).
        period: String,
        /// The closed period (`YYYY-MM-DD` for a day).
        date: String,
        number: i64,
        /// The sales journal's entry that seals the closing.
        journal_seq: i64,
    },
    /// An invoice or credit note was issued again: copy `copy` (the first is the
    /// original, the second is duplicate 1).
    InvoiceDuplicate {
        order_internal_id: i64,
        /// The accounting number (`orderID`).
        number: Option<i64>,
        document: String,
        copy: i64,
    },
}

impl Event {
    /// The entry's `kind`, as stored in `events.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ServerStart { .. } => "server_start",
            Event::ServerStop {} => "server_stop",
            Event::SignIn { .. } => "sign_in",
            Event::SignInFailed { .. } => "sign_in_failed",
            Event::ApiKeyCreated { .. } => "api_key_created",
            Event::ApiKeyRevoked { .. } => "api_key_revoked",
            Event::LicenceChanged { .. } => "licence_changed",
            Event::ConfigChanged { .. } => "config_changed",
            Event::ReportDownloaded { .. } => "report_downloaded",
            Event::ArchiveCreated { .. } => "archive_created",
            Event::Closing { .. } => "closing",
            Event::InvoiceDuplicate { .. } => "invoice_duplicate",
        }
    }
}

/// Who did it and from where, as far as the server knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// A login (`admin@shop-1`), `key N` for an API key, `cli`; `None` for the server.
    pub actor: Option<String>,
    /// The requester's address (`client_address.rs`), when there is a request.
    pub address: Option<String>,
}

impl Origin {
    /// The `comptoir` command, run by whoever has the database.
    pub fn cli() -> Origin {
        Origin {
            actor: Some("cli".into()),
            address: None,
        }
    }

    /// Nobody: the server itself.
    pub fn server() -> Origin {
        Origin::default()
    }
}

/// An event with its origin and time, before it has a place in a journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub journal: Journal,
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub at: i64,
    pub origin: Origin,
    pub event: Event,
}

/// An event at its place in its journal: its canonical bytes and seal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEvent {
    pub seq: i64,
    pub kind: &'static str,
    pub at: i64,
    /// The canonical bytes (compact JSON, sorted keys).
    pub entry: String,
    pub seal: String,
}

impl NewEvent {
    /// The canonical bytes of this event as entry `seq` of its journal: a JSON object with
    /// sorted keys at every level (serde_json's `Map` is ordered by key), compact, integers
    /// only: `actor`, `address`, `at`, `detail`, `encoding`, `kind`, `seq`, `shop_id`.
    pub fn canonical(&self, seq: i64) -> String {
        let mut m = match serde_json::to_value(&self.event) {
            Ok(Value::Object(m)) => m,
            // An adjacently tagged enum of named fields always serialises to an object.
            _ => Map::new(),
        };
        m.insert("actor".into(), self.origin.actor.clone().into());
        m.insert("address".into(), self.origin.address.clone().into());
        m.insert("at".into(), self.at.into());
        m.insert("encoding".into(), ENCODING.into());
        m.insert("seq".into(), seq.into());
        m.insert("shop_id".into(), self.journal.shop_id().into());
        Value::Object(m).to_string()
    }

    /// This event sealed as entry `seq`, chained on `previous` (the journal's head).
    pub fn seal_after(&self, seq: i64, previous: &str) -> SealedEvent {
        let entry = self.canonical(seq);
        let seal = seal(previous, entry.as_bytes());
        SealedEvent {
            seq,
            kind: self.event.kind(),
            at: self.at,
            entry,
            seal,
        }
    }
}

/// What is wrong with an events journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventProblem {
    /// Events are numbered 1, 2, 3…; this one should have been `expected`.
    Gap { expected: i64 },
    /// The stored seal differs from the one recomputed from the stored bytes.
    SealMismatch { stored: String, recomputed: String },
    /// The bytes name another journal or position than the row they are stored in, or
    /// are not an event entry.
    Misplaced,
    /// The head kept beside the journal is not the last event's seal, or counts another
    /// number of events (the last events were deleted).
    HeadMismatch {
        stored_seq: i64,
        stored: String,
        found: i64,
        recomputed: String,
    },
}

impl EventProblem {
    /// A stable code for machine-readable output.
    pub fn code(&self) -> &'static str {
        match self {
            EventProblem::Gap { .. } => "event_missing",
            EventProblem::SealMismatch { .. } => "event_seal_mismatch",
            EventProblem::Misplaced => "event_misplaced",
            EventProblem::HeadMismatch { .. } => "event_head_mismatch",
        }
    }
}

/// Checks one stored event, chained on `previous`: its bytes name this journal and
/// position, and its seal is `seal(previous, bytes)`. Returns the recomputed seal.
pub fn check_stored(
    journal: Journal,
    seq: i64,
    entry: &str,
    stored_seal: &str,
    previous: &str,
) -> Result<String, EventProblem> {
    let recomputed = seal(previous, entry.as_bytes());
    if recomputed != stored_seal {
        return Err(EventProblem::SealMismatch {
            stored: stored_seal.to_string(),
            recomputed,
        });
    }
    // The seal covers `seq` and `shop_id`; this only ties the bytes to the row.
    let v: Value = serde_json::from_str(entry).map_err(|_| EventProblem::Misplaced)?;
    let placed = v["seq"].as_i64() == Some(seq)
        && v["shop_id"].as_i64() == journal.shop_id()
        && v["encoding"].as_str() == Some(ENCODING);
    if !placed {
        return Err(EventProblem::Misplaced);
    }
    Ok(recomputed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::GENESIS;

    fn sign_in() -> NewEvent {
        NewEvent {
            journal: Journal::Shop(3),
            at: 1_795_889_453_575_710,
            origin: Origin {
                actor: Some("admin@shop-3".into()),
                address: Some("192.0.2.7".into()),
            },
            event: Event::SignIn {
                login: "admin@shop-3".into(),
                via: Via::BackOffice,
                key_id: None,
            },
        }
    }

    #[test]
    fn canonical_bytes_are_compact_json_with_sorted_keys() {
        assert_eq!(
            sign_in().canonical(1),
            r#"{"actor":"admin@shop-3","address":"192.0.2.7","at":1795889453575710,"detail":{"key_id":null,"login":"admin@shop-3","via":"back_office"},"encoding":"comptoir-events-1","kind":"sign_in","seq":1,"shop_id":3}"#
        );
        let stop = NewEvent {
            journal: Journal::Server,
            at: 5,
            origin: Origin::server(),
            event: Event::ServerStop {},
        };
        assert_eq!(
            stop.canonical(2),
            r#"{"actor":null,"address":null,"at":5,"detail":{},"encoding":"comptoir-events-1","kind":"server_stop","seq":2,"shop_id":null}"#
        );
    }

    #[test]
    fn nested_settings_are_sorted_and_text_is_escaped_as_the_journal_does() {
        let mut settings = BTreeMap::new();
        settings.insert("webhook.url".to_string(), Some("https://e.x/\"é\"".into()));
        settings.insert("webhook.format".to_string(), Some("json".into()));
        let e = NewEvent {
            journal: Journal::Shop(1),
            at: 1,
            origin: Origin::cli(),
            event: Event::ConfigChanged {
                settings,
                via: Via::Cli,
            },
        };
        let text = e.canonical(4);
        assert!(
            text.contains(
                r#""detail":{"settings":{"webhook.format":"json","webhook.url":"https://e.x/\"é\""},"via":"cli"}"#
            ),
            "{text}"
        );
    }

    #[test]
    fn every_kind_is_the_serialised_tag() {
        let events = [
            Event::ServerStart {
                version: "1".into(),
                listen: "x".into(),
            },
            Event::ServerStop {},
            Event::SignInFailed {
                login: "a".into(),
                via: Via::GetAuthToken,
            },
            Event::ApiKeyCreated {
                key_id: 1,
                label: None,
                via: Via::Cli,
            },
            Event::ApiKeyRevoked {
                key_id: 1,
                via: Via::Cli,
            },
            Event::LicenceChanged {
                licence: "extended".into(),
                via: Via::Cli,
            },
            Event::ReportDownloaded {
                day: "2026-11-30".into(),
                format: "pdf".into(),
                via: Via::GetSales,
                cash_box_id: None,
                user_id: Some(2),
            },
            Event::ArchiveCreated {
                period: "2026-11".into(),
                manifest_sha256: "00".into(),
            },
            Event::Closing {
                period: "day".into(),
                date: "2026-11-30".into(),
                number: 1,
                journal_seq: 9,
            },
            Event::InvoiceDuplicate {
                order_internal_id: 7,
                number: Some(3),
                document: "invoice".into(),
                copy: 1,
            },
        ];
        for e in events {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["kind"], e.kind(), "{v}");
            assert!(v["detail"].is_object(), "{v}");
        }
    }

    #[test]
    fn a_chain_checks_and_any_changed_byte_breaks_it() {
        let a = sign_in().seal_after(1, GENESIS);
        let b = sign_in().seal_after(2, &a.seal);
        let j = Journal::Shop(3);
        assert_eq!(
            check_stored(j, 1, &a.entry, &a.seal, GENESIS),
            Ok(a.seal.clone())
        );
        assert_eq!(
            check_stored(j, 2, &b.entry, &b.seal, &a.seal),
            Ok(b.seal.clone())
        );
        let altered = a.entry.replace("192.0.2.7", "192.0.2.8");
        assert_eq!(
            check_stored(j, 1, &altered, &a.seal, GENESIS)
                .unwrap_err()
                .code(),
            "event_seal_mismatch"
        );
        // Entry 2 stored at position 1 (entry 1 deleted, the rest moved up) still has
        // its own seal, but not the one chained on the genesis.
        assert!(check_stored(j, 1, &b.entry, &b.seal, GENESIS).is_err());
        // Bytes of another shop's journal, sealed correctly, are not this journal's.
        assert_eq!(
            check_stored(Journal::Shop(4), 1, &a.entry, &a.seal, GENESIS),
            Err(EventProblem::Misplaced)
        );
    }
}
