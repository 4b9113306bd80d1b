//! The Standard Webhooks 1.0 signature: `v1,BASE64(HMAC-SHA256(key, id.timestamp.body))`,
//! with `whsec_` secrets, so receivers verify with its published libraries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};

/// Bytes of a secret that Comptoir makes.
pub const SECRET_BYTES: usize = 32;

/// A shop's signing key. `Debug` hides it; [`Secret::to_text`] is what the shop is shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// A secret of the random bytes given (from the operating system's source).
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Secret {
        Secret(bytes.to_vec())
    }

    /// `whsec_` + base64 of the key, as shown to the shop and stored.
    pub fn to_text(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    /// Reads [`Secret::to_text`] back: `whsec_` then base64 of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Secret, &'static str> {
        const EXPECTED: &str = "whsec_ followed by the base64 of 24 to 64 bytes";
        let b64 = text.strip_prefix("whsec_").ok_or(EXPECTED)?;
        let key = STANDARD.decode(b64).map_err(|_| EXPECTED)?;
        if !(24..=64).contains(&key.len()) {
            return Err(EXPECTED);
        }
        Ok(Secret(key))
    }

    /// `v1,BASE64` of the message `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // Any key length is accepted by HMAC; `new_from_slice` cannot fail for it.
        let Ok(mut mac) = <Hmac<sha2_hmac::Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: the signature with each key in force, space-separated
/// (the current key first, then the previous one during a rotation window).
pub fn header(keys: &[&Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| k.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a receiver checks: one `v1,` signature of `header` is the key's for this message,
/// and `timestamp` is within `tolerance_secs` of `now`. Constant-time comparison.
pub fn verify(
    key: &Secret,
    header: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> bool {
    if (now - timestamp).abs() > tolerance_secs {
        return false;
    }
    let expected = key.sign(id, timestamp, body);
    header
        .split(' ')
        .any(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (and of its libraries' tests).
        let key = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_round_trip_and_hide() {
        let s = Secret::from_bytes([7; SECRET_BYTES]);
        let text = s.to_text();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text), Ok(s.clone()));
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(Secret::parse("whsec_short").is_err());
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    }

    #[test]
    fn rotation_sends_both_and_either_verifies() {
        let (new, old) = (
            Secret::from_bytes([1; SECRET_BYTES]),
            Secret::from_bytes([2; SECRET_BYTES]),
        );
        let h = header(&[&new, &old], "1-2", 1000, b"a=b");
        assert_eq!(h.split(' ').count(), 2);
        assert!(verify(&new, &h, "1-2", 1000, b"a=b", 1100, 300));
        assert!(verify(&old, &h, "1-2", 1000, b"a=b", 1100, 300));
        assert!(!verify(&old, &h, "1-2", 1000, b"a=c", 1100, 300));
        assert!(!verify(&new, &h, "1-2", 1000, b"a=b", 1400, 300), "too old");
        let third = Secret::from_bytes([3; SECRET_BYTES]);
        assert!(!verify(&third, &h, "1-2", 1000, b"a=b", 1000, 300));
    }
}
