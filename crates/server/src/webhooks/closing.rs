//! The body of a `closing` event (issue #11), made where the worker makes an order
//! event's: from the closing the outbox row names (store::closings::event_subject) and
//! core::webhook::closing_fields, with the same verification token and URL.

use comptoir_core::webhook::{self, EventMeta, EventType, Format};
use comptoir_store::StoreError;
use comptoir_store::db::Conn;
use comptoir_store::webhooks::{Due, Frozen};

/// The first body of closing event `due` in `format`, or why there is none.
pub(super) fn body(
    c: &mut dyn Conn,
    base_url: &str,
    due: &Due,
    format: &str,
) -> Result<Result<Frozen, String>, StoreError> {
    let Some((shop, closing)) = comptoir_store::closings::event_subject(c, due.shop_id, due.id)?
    else {
        return Ok(Err(format!("the closing of event {} is gone", due.id)));
    };
    let format = Format::parse(format).unwrap_or_default();
    let token = comptoir_store::hex(&comptoir_store::random_bytes::<16>());
    let meta = EventMeta {
        event_type: EventType::Closing,
        event_id: webhook::event_id(due.shop_id, due.id),
        created_at: due.created_at,
        verification_url: super::verify::url(base_url, due.shop_id, due.id, &token),
    };
    let Some(fields) = webhook::closing_fields(
        shop.id,
        &closing.entry,
        &closing.signature,
        &closing.public_key,
        &meta,
        shop.currency.digits(),
        &shop.timezone.tz(),
    ) else {
        return Ok(Err(format!("closing {} is not readable", closing.number)));
    };
    Ok(Ok(Frozen {
        body: webhook::body(&fields, format),
        format: format.as_str().to_string(),
        verify_token: token,
    }))
}
