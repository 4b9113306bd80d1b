//! Recording events (core::event, store::events) from the handlers. What changes state
//! records its event in the same transaction as the change (the handler calls
//! `store::events::append` inside its write): both are kept or neither, and the user sees
//! the failure. What only reads (a report, an invoice) records its event before anything
//! is sent, and answers 500 when it cannot. Failed sign-ins, which are refused anyway,
//! log an error when their event cannot be written ([`record_or_log`]).

use crate::AppState;
use comptoir_core::event::{Event, Journal, NewEvent, Origin};
use comptoir_store::StoreError;
use std::net::IpAddr;

/// An origin from a request: who (a login, `key N`) and the client's address as
/// `client_address::ClientAddress` gives it (an IPv6 client by its /64).
pub(crate) fn origin(actor: Option<String>, address: Option<IpAddr>) -> Origin {
    Origin {
        actor,
        address: address.map(|a| a.to_string()),
    }
}

/// `e` now, in `journal`.
pub(crate) fn now(journal: Journal, origin: Origin, event: Event) -> NewEvent {
    NewEvent {
        journal,
        at: comptoir_store::now_micros(),
        origin,
        event,
    }
}

/// Appends `e` in a write of its own.
pub(crate) async fn record(state: &AppState, e: NewEvent) -> Result<(), StoreError> {
    state
        .store
        .write(move |c| comptoir_store::events::append(c, &e).map(|_| ()))
        .await
}

/// Appends `e`; if that fails, logs it as an error (the user's action failed already).
pub(crate) async fn record_or_log(state: &AppState, e: NewEvent) {
    let (journal, kind) = (e.journal, e.event.kind());
    if let Err(err) = record(state, e).await {
        tracing::error!(%journal, kind, error = %err, "an event could not be recorded");
    }
}

/// Logins as typed can be long; an event keeps at most this many characters.
pub(crate) fn login_text(login: &str) -> String {
    login.chars().take(255).collect()
}

/// The event of a sales report delivered (getSales.php, the back office's Reports page).
pub(crate) fn report(
    shop_id: i64,
    day: &comptoir_core::report::ReportDay,
    format: comptoir_render::report::ReportFormat,
    filters: &comptoir_core::report::Filters,
    via: comptoir_core::event::Via,
    origin: Origin,
) -> NewEvent {
    let downloaded = Event::ReportDownloaded {
        day: day.iso(),
        format: format.extension().to_string(),
        via,
        cash_box_id: filters.cash_box_id,
        user_id: filters.user_id,
    };
    now(Journal::Shop(shop_id), origin, downloaded)
}

/// The event of settings changed in the back office: each setting's new value (`None`
/// for removed; a secret is recorded as `"changed"`, never its value).
pub(crate) fn config(shop_id: i64, settings: &[(&str, Option<&str>)], origin: Origin) -> NewEvent {
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
    let changed = Event::ConfigChanged {
        settings,
        via: comptoir_core::event::Via::BackOffice,
    };
    now(Journal::Shop(shop_id), origin, changed)
}
