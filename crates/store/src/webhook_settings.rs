//! What the CLI and the configuration page do to a shop's webhook, on top of the
//! [`webhooks`] queries: turn it on with a checked [`Target`] (a shop's first URL gets a
//! new secret) and rotate the secret for core's rotation window. One place, so the two
//! never make secrets or windows differently.

use crate::StoreError;
use crate::db::Conn;
use crate::webhooks::{self, Endpoint};
use comptoir_core::webhook::settings::{ROTATION_WINDOW_MICROS, Target};
use comptoir_core::webhook::signature::Secret;

/// A new signing secret, `whsec_…`, of random bytes from the operating system.
fn new_secret() -> String {
    Secret::from_bytes(crate::random_bytes()).to_text()
}

/// Sets the shop's URL and format (see [`webhooks::set_endpoint`]); a shop that never had
/// a webhook gets a new secret, one that had keeps its own.
pub fn enable(
    c: &mut dyn Conn,
    shop_id: i64,
    target: &Target,
    now: i64,
) -> Result<Endpoint, StoreError> {
    webhooks::set_endpoint(
        c,
        shop_id,
        target.url(),
        target.format().as_str(),
        &new_secret(),
        now,
    )
}

/// Gives the shop a new secret; the old one keeps signing for the rotation window.
/// `NotFound` when the shop never had a webhook.
pub fn rotate(c: &mut dyn Conn, shop_id: i64, now: i64) -> Result<Endpoint, StoreError> {
    webhooks::rotate_secret(
        c,
        shop_id,
        &new_secret(),
        now.saturating_add(ROTATION_WINDOW_MICROS),
        now,
    )
}
