//! `GET /webhooks/verify/{token}`: the `signatureVerificationURL` of one event. It answers
//! the SHA-256 of the body sent, so a receiver without the secret can check a call. The
//! 128-bit token in the link is the credential; any other link gets 404.

use crate::AppState;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use comptoir_store::shops::constant_time_eq;
use comptoir_store::webhooks as store_wh;
use sha2::{Digest, Sha256};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/webhooks/verify/{token}", get(verify))
}

/// The link of event `id` of `shop_id` with its token.
pub(super) fn url(base_url: &str, shop_id: i64, id: i64, token: &str) -> String {
    format!("{base_url}/webhooks/verify/{shop_id}-{id}-{token}")
}

/// `SHOP-ID-HEX32` read back; anything else cannot be a link.
fn parse(token: &str) -> Option<(i64, i64, &str)> {
    let mut parts = token.splitn(3, '-');
    let number = |t: &str| {
        (!t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<i64>().ok())
            .flatten()
    };
    let shop = number(parts.next()?)?;
    let id = number(parts.next()?)?;
    let secret = parts.next()?;
    let hex = secret.len() == 32
        && secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    hex.then_some((shop, id, secret))
}

fn not_found() -> AppError {
    AppError::NotFound("no webhook event at this address".into())
}

async fn verify(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<axum::Json<serde_json::Value>> {
    let (shop_id, id, secret) = parse(&token).ok_or_else(not_found)?;
    let secret = secret.to_string();
    let found = state
        .store
        .read(move |c| store_wh::verification(c, shop_id, id))
        .await?;
    let (event_type, order_id, frozen) = found.ok_or_else(not_found)?;
    if !constant_time_eq(frozen.verify_token.as_bytes(), secret.as_bytes()) {
        return Err(not_found());
    }
    Ok(axum::Json(serde_json::json!({
        "result": "OK",
        "eventID": comptoir_core::webhook::event_id(shop_id, id),
        "type": event_type,
        "orderInternalID": order_id,
        "bodySha256": comptoir_store::hex(&Sha256::digest(frozen.body.as_bytes())),
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_well_formed_links_reach_the_database() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(super::parse(&format!("3-41-{hex}")), Some((3, 41, hex)));
        assert_eq!(super::parse(&format!("3-{hex}")), None);
        assert_eq!(super::parse(&format!("3-41-{}", &hex[1..])), None);
        assert_eq!(super::parse(&format!("3-41-{}", hex.to_uppercase())), None);
        assert_eq!(super::parse(&format!("x-41-{hex}")), None);
        assert_eq!(super::parse("../../etc"), None);
    }
}
