//! The server's Ed25519 fiscal signing key (closings, archives): the text of its key file
//! and its public half. Reading and creating the file is store::fiscal_key's job.

use crate::hex::{hex, unhex};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::fmt;

/// The server's signing key. Its `Debug` shows the public half only.
pub struct FiscalKey {
    key: SigningKey,
}

/// Why a key file's text is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected the 32-byte Ed25519 seed as 64 hexadecimal digits on one line")]
pub struct BadKeyText;

impl FiscalKey {
    /// The key whose secret seed is `seed` (32 random bytes).
    pub fn from_seed(seed: [u8; 32]) -> FiscalKey {
        FiscalKey {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads a key file's text: the seed in hexadecimal, surrounding whitespace allowed.
    pub fn parse(text: &str) -> Result<FiscalKey, BadKeyText> {
        let bytes = unhex(text.trim()).ok_or(BadKeyText)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| BadKeyText)?;
        Ok(FiscalKey::from_seed(seed))
    }

    /// The key file's text: the seed in lowercase hexadecimal and a newline.
    pub fn file_text(&self) -> String {
        let mut s = hex(self.key.as_bytes());
        s.push('\n');
        s
    }

    /// The public half in lowercase hexadecimal (64 digits): what `comptoir fiscal key`
    /// prints and what an auditor checks signatures with.
    pub fn public_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    /// The Ed25519 signature of `message`, in lowercase hexadecimal (128 digits).
    pub fn sign(&self, message: &[u8]) -> String {
        hex(&self.key.sign(message).to_bytes())
    }
}

impl fmt::Debug for FiscalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalKey")
            .field("public", &self.public_hex())
            .finish_non_exhaustive()
    }
}

/// Whether `signature_hex` is a valid Ed25519 signature of `message` by `public_hex`.
/// Malformed hex, a bad public key or a bad signature all answer `false`.
pub fn verify(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let Some(public) = unhex(public_hex).and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
        return false;
    };
    let Some(sig) = unhex(signature_hex).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    let Ok(public) = VerifyingKey::from_bytes(&public) else {
        return false;
    };
    // verify_strict refuses the weak keys and malleable signatures that plain verify allows.
    public
        .verify_strict(message, &Signature::from_bytes(&sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1: empty message.
        let key =
            FiscalKey::parse("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n")
                .unwrap();
        assert_eq!(
            key.public_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.sign(b"");
        assert_eq!(
            sig,
            concat!(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155",
                "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            )
        );
        assert!(verify(&key.public_hex(), b"", &sig));
    }

    #[test]
    fn a_changed_message_key_or_signature_fails() {
        let key = FiscalKey::from_seed([7; 32]);
        let other = FiscalKey::from_seed([8; 32]);
        let sig = key.sign(b"closing");
        assert!(verify(&key.public_hex(), b"closing", &sig));
        assert!(!verify(&key.public_hex(), b"closinG", &sig));
        assert!(!verify(&other.public_hex(), b"closing", &sig));
        let mut flipped = sig.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(!verify(&key.public_hex(), b"closing", &flipped));
        assert!(!verify("zz", b"closing", &sig));
        assert!(!verify(&key.public_hex(), b"closing", "00"));
    }

    #[test]
    fn the_file_text_reads_back_and_bad_text_is_refused() {
        let key = FiscalKey::from_seed([42; 32]);
        let again = FiscalKey::parse(&key.file_text()).unwrap();
        assert_eq!(again.public_hex(), key.public_hex());
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(66)] {
            assert_eq!(FiscalKey::parse(bad).unwrap_err(), BadKeyText, "{bad:?}");
        }
        let debug = format!("{key:?}");
        assert!(!debug.contains(&hex(&[42; 32])), "{debug}");
        assert!(debug.contains(&key.public_hex()));
    }
}
