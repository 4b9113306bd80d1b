//! Shops, their users and API keys: creation with the country's defaults, licences,
//! password hashing (argon2id) and key authentication (SHA-256, constant-time compare).

use crate::db::{Conn, Row};
use crate::{StoreError, hex, now_micros, params, random_bytes};
use comptoir_core::model::{
    Country, Licence, Name, PaymentKind, Role, Shop, TimeZoneName, User, parse_login,
};
use comptoir_core::money::Currency;
use comptoir_core::vat::VatRate;
use sha2::{Digest, Sha256};

/// What `shop create` needs.
#[derive(Clone, Debug)]
pub struct NewShop {
    pub name: Name,
    pub currency: Currency,
    pub timezone: TimeZoneName,
    pub country: Country,
    pub licence: Licence,
}

/// The facts shown once after creating a shop.
#[derive(Clone)]
pub struct CreatedShop {
    pub shop_id: i64,
    pub admin_login: String,
    pub admin_password: String,
    pub api_key: String,
}

impl std::fmt::Debug for CreatedShop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedShop")
            .field("shop_id", &self.shop_id)
            .field("admin_login", &self.admin_login)
            .field("admin_password", &"***")
            .field("api_key", &"***")
            .finish()
    }
}

/// A password and its argon2id hash, made off any lock because hashing is slow on purpose.
pub struct NewPassword {
    pub plain: String,
    pub hash: String,
}

impl NewPassword {
    pub fn generate() -> NewPassword {
        let plain = random_token(20);
        let hash = hash_password(&plain);
        NewPassword { plain, hash }
    }
}

/// The VAT rates a new shop of `country` starts with, the first being the default.
pub fn default_vat_rates(country: Country) -> Vec<VatRate> {
    let rates: &[&str] = match country.as_str() {
        "FR" => &["20", "10", "5.5", "2.1"],
        "BE" => &["21", "12", "6"],
        "DE" => &["19", "7"],
        "ES" => &["21", "10", "4"],
        "IT" => &["22", "10", "5", "4"],
        "LU" => &["17", "14", "8", "3"],
        "CH" => &["8.1", "3.8", "2.6"],
        "GB" => &["20", "5"],
        _ => &["20"],
    };
    rates
        .iter()
        .filter_map(|r| VatRate::parse(r).ok())
        .collect()
}

/// The payment methods every new shop starts with.
pub const DEFAULT_PAYMENT_METHODS: &[(&str, PaymentKind)] = &[
    ("Cash", PaymentKind::Cash),
    ("Card", PaymentKind::Card),
    ("Cheque", PaymentKind::Cheque),
    ("Cash refund", PaymentKind::Refund),
];

/// Creates a shop with its admin user, its "Web" cash box, the default payment methods
/// and VAT rates of its country, and one API key. One transaction.
pub fn create_shop(
    c: &mut dyn Conn,
    new: &NewShop,
    admin_password: NewPassword,
) -> Result<CreatedShop, StoreError> {
    let rates = default_vat_rates(new.country);
    let default_rate = rates.first().copied().unwrap_or(VatRate::ZERO);
    let now = now_micros();
    let shop_id = c.insert_id(
        "insert into shops (name, currency, timezone, country, prices_include_vat,
             default_vat_rate, licence, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
        params![
            new.name.as_str(),
            new.currency.code(),
            new.timezone.as_str(),
            new.country.as_str(),
            true,
            default_rate.hundredths(),
            new.licence.as_str(),
            now
        ],
    )?;
    c.execute(
        "insert into shop_counters (shop_id, journal_head) values ($1, $2)",
        params![shop_id, comptoir_core::seal::GENESIS],
    )?;
    for r in &rates {
        c.execute(
            "insert into vat_rates (shop_id, rate, name) values ($1, $2, $3)",
            params![shop_id, r.hundredths(), format!("VAT {r} %")],
        )?;
    }
    c.execute(
        "insert into cash_boxes (shop_id, name, is_virtual, is_open, fund)
         values ($1, 'Web', $2, $3, 0)",
        params![shop_id, true, true],
    )?;
    for (name, kind) in DEFAULT_PAYMENT_METHODS {
        c.execute(
            "insert into payment_methods (shop_id, name, kind) values ($1, $2, $3)",
            params![shop_id, *name, kind.as_str()],
        )?;
    }
    let admin_login = format!("admin@shop-{shop_id}");
    insert_user(
        c,
        shop_id,
        &admin_login,
        "Administrator",
        Role::Admin,
        &admin_password.hash,
    )?;
    let key = create_key(
        c,
        shop_id,
        Some("created with the shop"),
        "comptoir shop create",
    )?;
    Ok(CreatedShop {
        shop_id,
        admin_login,
        admin_password: admin_password.plain,
        api_key: key.plain,
    })
}

const SHOP_COLUMNS: &str = "id, name, address, phone, rc_number, vat_number, currency, timezone,
    country, prices_include_vat, default_vat_rate, licence";

fn shop_from_row(r: &Row) -> Result<Shop, StoreError> {
    let bad = |what: &str| StoreError::Decode(format!("shop: invalid {what}"));
    Ok(Shop {
        id: r.i64(0)?,
        name: Name::parse(r.str(1)?).map_err(|_| bad("name"))?,
        address: r.opt_string(2)?,
        phone: r.opt_string(3)?,
        rc_number: r.opt_string(4)?,
        vat_number: r.opt_string(5)?,
        currency: Currency::parse(r.str(6)?).map_err(|_| bad("currency"))?,
        timezone: TimeZoneName::parse(r.str(7)?).map_err(|_| bad("timezone"))?,
        country: Country::parse(r.str(8)?).map_err(|_| bad("country"))?,
        prices_include_vat: r.bool(9)?,
        default_vat_rate: VatRate::from_hundredths(r.i64(10)?).ok_or_else(|| bad("VAT rate"))?,
        licence: Licence::parse(r.str(11)?).map_err(|_| bad("licence"))?,
    })
}

/// A shop by id.
pub fn get_shop(c: &mut dyn Conn, shop_id: i64) -> Result<Option<Shop>, StoreError> {
    c.query_opt(
        &format!("select {SHOP_COLUMNS} from shops where id = $1"),
        params![shop_id],
    )?
    .map(|r| shop_from_row(&r))
    .transpose()
}

/// Every shop, by id.
pub fn list_shops(c: &mut dyn Conn) -> Result<Vec<Shop>, StoreError> {
    c.query(
        &format!("select {SHOP_COLUMNS} from shops order by id"),
        params![],
    )?
    .iter()
    .map(shop_from_row)
    .collect()
}

/// The id of the first shop with this exact name.
pub fn find_shop_by_name(c: &mut dyn Conn, name: &str) -> Result<Option<i64>, StoreError> {
    c.query_opt(
        "select id from shops where name = $1 order by id limit 1",
        params![name],
    )?
    .map(|r| r.i64(0))
    .transpose()
}

/// Sets a shop's licence; `NotFound` for an unknown shop.
pub fn set_licence(c: &mut dyn Conn, shop_id: i64, licence: Licence) -> Result<(), StoreError> {
    let n = c.execute(
        "update shops set licence = $1 where id = $2",
        params![licence.as_str(), shop_id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Adds a user; a login already taken anywhere on the server is a `Conflict`.
pub fn insert_user(
    c: &mut dyn Conn,
    shop_id: i64,
    login: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> Result<i64, StoreError> {
    let login = parse_login(login)
        .map_err(|e| StoreError::Invalid(format!("login: expected {e}, got {login:?}")))?;
    let taken = c
        .query_opt(
            "select id from users where login = $1",
            params![login.as_str()],
        )?
        .is_some();
    if taken {
        return Err(StoreError::Conflict(format!(
            "login {login} is already taken"
        )));
    }
    c.insert_id(
        "insert into users (shop_id, login, display_name, role, password_hash, created_at)
         values ($1, $2, $3, $4, $5, $6) returning id",
        params![
            shop_id,
            login.as_str(),
            display_name,
            role.as_str(),
            password_hash,
            now_micros()
        ],
    )
}

/// The shop's users, by id.
pub fn list_users(c: &mut dyn Conn, shop_id: i64) -> Result<Vec<User>, StoreError> {
    c.query(
        "select id, login, display_name, role from users where shop_id = $1 order by id",
        params![shop_id],
    )?
    .iter()
    .map(|r| {
        let bad = |w: &str| StoreError::Decode(format!("user: invalid {w}"));
        Ok(User {
            id: r.i64(0)?,
            login: Name::parse(r.str(1)?).map_err(|_| bad("login"))?,
            display_name: Name::parse(r.str(2)?).map_err(|_| bad("name"))?,
            role: Role::parse(r.str(3)?).map_err(|_| bad("role"))?,
        })
    })
    .collect()
}

/// An argon2id hash in PHC string form (OWASP parameters: 19 MiB, 2 passes).
pub fn hash_password(plain: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes is a valid salt");
    argon2::Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .expect("default argon2 parameters accept any password")
        .to_string()
}

/// Checks a password against a stored argon2id hash.
pub fn verify_password(plain: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(plain.as_bytes(), &h)
            .is_ok()
    })
}

/// A random text of `len` letters and digits (about 5.95 bits each).
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes::<64>() {
            // Rejection sampling keeps every character equally likely.
            let limit = 256 - 256 % ALPHABET.len();
            if usize::from(b) < limit && out.len() < len {
                out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// A new API key: `cpt_` + 8 hex public prefix + `_` + 32 hex secret (128 bits).
pub struct NewKey {
    pub id: i64,
    pub plain: String,
    pub prefix: String,
}

/// API key as listed: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: i64,
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Who made it: a user's login (getAuthToken.php) or the CLI command; `None` for keys
    /// made before this was recorded.
    pub created_by: Option<String>,
    /// When it last opened a web service, to the minute ([`KEY_USE_GRANULARITY`]).
    pub last_used_at: Option<i64>,
}

/// How stale `last_used_at` may get before a use writes it again: one write per key per
/// minute at most, not one per request.
pub const KEY_USE_GRANULARITY: i64 = 60_000_000;

/// The text of a key: `cpt_` + the 8 hex digits of its prefix + `_` + its secret in hex.
pub(crate) fn plain_key(prefix: &str, secret: &[u8]) -> String {
    format!("cpt_{prefix}_{}", hex(secret))
}

pub(crate) fn key_hash(plain: &str) -> String {
    hex(&Sha256::digest(plain.as_bytes()))
}

/// Creates an API key for a shop; the plain key exists only in the returned value.
/// `created_by` says who asked (a login, or the CLI command).
pub fn create_key(
    c: &mut dyn Conn,
    shop_id: i64,
    label: Option<&str>,
    created_by: &str,
) -> Result<NewKey, StoreError> {
    let prefix = hex(&random_bytes::<4>());
    let plain = plain_key(&prefix, &random_bytes::<16>());
    let id = c.insert_id(
        "insert into api_keys (shop_id, prefix, key_hash, label, created_at, created_by)
         values ($1, $2, $3, $4, $5, $6) returning id",
        params![
            shop_id,
            prefix.as_str(),
            key_hash(&plain),
            label,
            now_micros(),
            created_by
        ],
    )?;
    Ok(NewKey { id, plain, prefix })
}

/// The shop's keys, by id, revoked ones included.
pub fn list_keys(c: &mut dyn Conn, shop_id: i64) -> Result<Vec<KeyInfo>, StoreError> {
    c.query(
        "select id, prefix, label, created_at, revoked_at, created_by, last_used_at
         from api_keys where shop_id = $1 order by id",
        params![shop_id],
    )?
    .iter()
    .map(|r| {
        Ok(KeyInfo {
            id: r.i64(0)?,
            prefix: r.string(1)?,
            label: r.opt_string(2)?,
            created_at: r.i64(3)?,
            revoked_at: r.opt_i64(4)?,
            created_by: r.opt_string(5)?,
            last_used_at: r.opt_i64(6)?,
        })
    })
    .collect()
}

/// Records that a key was used now, unless its last use is already recorded within
/// [`KEY_USE_GRANULARITY`].
pub fn touch_key(c: &mut dyn Conn, shop_id: i64, key_id: i64) -> Result<(), StoreError> {
    let now = now_micros();
    c.execute(
        "update api_keys set last_used_at = $1
         where shop_id = $2 and id = $3 and (last_used_at is null or last_used_at < $4)",
        params![now, shop_id, key_id, now - KEY_USE_GRANULARITY],
    )?;
    Ok(())
}

/// Revokes a key of the shop; `NotFound` when the shop has no such active key.
pub fn revoke_key(c: &mut dyn Conn, shop_id: i64, key_id: i64) -> Result<(), StoreError> {
    let n = c.execute(
        "update api_keys set revoked_at = $1
         where shop_id = $2 and id = $3 and revoked_at is null",
        params![now_micros(), shop_id, key_id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The id of the active key of `shop_id` equal to `plain`, or `None`.
pub fn authenticate_key(
    c: &mut dyn Conn,
    shop_id: i64,
    plain: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(check_key(c, shop_id, plain)?.map(|k| k.id))
}

/// An active key that matched, with its recorded last use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUse {
    pub id: i64,
    pub last_used_at: Option<i64>,
}

impl KeyUse {
    /// Whether this use should be written (the recorded one is older than a minute).
    pub fn stale(&self) -> bool {
        self.last_used_at
            .is_none_or(|t| t < now_micros() - KEY_USE_GRANULARITY)
    }
}

/// The active key of `shop_id` equal to `plain`, or `None`.
pub fn check_key(
    c: &mut dyn Conn,
    shop_id: i64,
    plain: &str,
) -> Result<Option<KeyUse>, StoreError> {
    let Some(prefix) = plain
        .strip_prefix("cpt_")
        .and_then(|rest| rest.get(..8))
        .filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return Ok(None);
    };
    let Some(row) = c.query_opt(
        "select id, key_hash, last_used_at from api_keys
         where shop_id = $1 and prefix = $2 and revoked_at is null",
        params![shop_id, prefix],
    )?
    else {
        return Ok(None);
    };
    let stored = row.string(1)?;
    if !constant_time_eq(stored.as_bytes(), key_hash(plain).as_bytes()) {
        return Ok(None);
    }
    Ok(Some(KeyUse {
        id: row.i64(0)?,
        last_used_at: row.opt_i64(2)?,
    }))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_well_formed() {
        let a = random_token(20);
        assert_eq!(a.len(), 20);
        assert_ne!(a, random_token(20));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn french_shops_get_the_four_french_rates() {
        let r: Vec<String> = default_vat_rates(Country::FR)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(r, ["20.0", "10.0", "5.5", "2.1"]);
    }
}
