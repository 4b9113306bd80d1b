//! Keys that getAuthToken.php gives back to the same user while they are valid: the key's
//! secret is stored sealed with a pad derived from the user's password (argon2id), so
//! only a sign-in with that password can reopen it; the key itself stays hashed.

use crate::db::Conn;
use crate::shops::{NewKey, key_hash, plain_key};
use crate::{StoreError, hex, now_micros, params, random_bytes};

/// A new key for a user, sealed with their password. Made off any lock: argon2 is slow.
pub struct NewSealedKey {
    prefix: String,
    plain: String,
    sealed: [u8; 16],
    salt: [u8; 16],
}

impl std::fmt::Debug for NewSealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSealedKey")
            .field("prefix", &self.prefix)
            .field("plain", &"***")
            .finish_non_exhaustive()
    }
}

impl NewSealedKey {
    /// A random key, and its secret sealed with `password` under a new random salt.
    pub fn generate(password: &str) -> NewSealedKey {
        let prefix = hex(&random_bytes::<4>());
        let secret = random_bytes::<16>();
        let salt = random_bytes::<16>();
        NewSealedKey {
            plain: plain_key(&prefix, &secret),
            prefix,
            sealed: xor(&secret, &pad(password, &salt)),
            salt,
        }
    }

    /// The key, to hand to the user.
    pub fn plain(&self) -> &str {
        &self.plain
    }
}

/// A user's key as stored: its hash and its sealed secret.
pub struct SealedKey {
    pub id: i64,
    prefix: String,
    key_hash: String,
    sealed: Vec<u8>,
    salt: Vec<u8>,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedKey")
            .field("id", &self.id)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SealedKey {
    /// The key, when `password` is the one it was sealed with (checked against the key's
    /// hash); `None` after a password change, for instance.
    pub fn open(&self, password: &str) -> Option<String> {
        let salt: [u8; 16] = self.salt.as_slice().try_into().ok()?;
        let sealed: [u8; 16] = self.sealed.as_slice().try_into().ok()?;
        let plain = plain_key(&self.prefix, &xor(&sealed, &pad(password, &salt)));
        crate::shops::constant_time_eq(key_hash(&plain).as_bytes(), self.key_hash.as_bytes())
            .then_some(plain)
    }
}

/// 16 bytes from `password` and `salt` by argon2id (the password hash's parameters): a
/// database leak makes each password guess against a sealed key cost what a guess
/// against the password hash costs. Each salt seals one secret only, so XOR is enough.
fn pad(password: &str, salt: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    argon2::Argon2::default()
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .expect("default argon2 parameters accept a 16-byte salt and output");
    out
}

fn xor(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// The newest active sealed key of `user_id` in `shop_id`.
pub fn current_sealed_key(
    c: &mut dyn Conn,
    shop_id: i64,
    user_id: i64,
) -> Result<Option<SealedKey>, StoreError> {
    c.query_opt(
        "select id, prefix, key_hash, sealed_secret, seal_salt from api_keys
         where shop_id = $1 and user_id = $2 and revoked_at is null
           and sealed_secret is not null
         order by id desc limit 1",
        params![shop_id, user_id],
    )?
    .map(|r| {
        Ok(SealedKey {
            id: r.i64(0)?,
            prefix: r.string(1)?,
            key_hash: r.string(2)?,
            sealed: r.bytes(3)?.to_vec(),
            salt: r.bytes(4)?.to_vec(),
        })
    })
    .transpose()
}

/// Stores `key` for the user `user_id` whose login is `login` (its label and creator).
pub fn insert_sealed_key(
    c: &mut dyn Conn,
    shop_id: i64,
    user_id: i64,
    login: &str,
    key: &NewSealedKey,
) -> Result<NewKey, StoreError> {
    let id = c.insert_id(
        "insert into api_keys (shop_id, prefix, key_hash, label, created_at, created_by,
             user_id, sealed_secret, seal_salt)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
        params![
            shop_id,
            key.prefix.as_str(),
            key_hash(&key.plain),
            login,
            now_micros(),
            login,
            user_id,
            key.sealed.to_vec(),
            key.salt.to_vec()
        ],
    )?;
    Ok(NewKey {
        id,
        plain: key.plain.clone(),
        prefix: key.prefix.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_its_password_only() {
        let new = NewSealedKey::generate("correct horse");
        let stored = SealedKey {
            id: 1,
            prefix: new.prefix.clone(),
            key_hash: key_hash(&new.plain),
            sealed: new.sealed.to_vec(),
            salt: new.salt.to_vec(),
        };
        assert_eq!(stored.open("correct horse").as_deref(), Some(new.plain()));
        assert_eq!(stored.open("wrong"), None);
        assert!(new.plain().starts_with(&format!("cpt_{}_", new.prefix)));
        assert_eq!(new.plain().len(), 4 + 8 + 1 + 32);
        assert!(!format!("{new:?}{stored:?}").contains(&new.plain[13..]));
    }
}
