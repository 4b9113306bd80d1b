//! Back-office sessions: created at sign-in, found by their cookie, listed and revoked.
//! The cookie value is `SHOPID-SECRET`; only its SHA-256 is stored. When a session
//! expires is the server's rule: this module loads and saves.

use crate::db::{Conn, Row};
use crate::{StoreError, hex, now_micros, params, random_bytes};
use comptoir_core::model::Role;
use sha2::{Digest, Sha256};

/// A session just opened: the cookie value exists only here.
pub struct NewSession {
    pub id: i64,
    /// `SHOPID-SECRET` (the secret is 128 random bits in hex).
    pub cookie: String,
    pub csrf: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("id", &self.id)
            .field("cookie", &"***")
            .field("csrf", &"***")
            .finish()
    }
}

/// A session found by its cookie, with its user.
#[derive(Clone)]
pub struct SessionUser {
    pub session_id: i64,
    pub shop_id: i64,
    pub user_id: i64,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// The token every form of this session must post back.
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for SessionUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionUser")
            .field("session_id", &self.session_id)
            .field("shop_id", &self.shop_id)
            .field("user_id", &self.user_id)
            .field("login", &self.login)
            .field("role", &self.role)
            .field("csrf", &"***")
            .finish()
    }
}

/// A session as listed on the account page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: i64,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
}

fn token_hash(cookie: &str) -> String {
    hex(&Sha256::digest(cookie.as_bytes()))
}

/// Opens a session for a user of the shop.
pub fn create_session(
    c: &mut dyn Conn,
    shop_id: i64,
    user_id: i64,
    user_agent: Option<&str>,
) -> Result<NewSession, StoreError> {
    let cookie = format!("{shop_id}-{}", hex(&random_bytes::<16>()));
    let csrf = hex(&random_bytes::<16>());
    let now = now_micros();
    // A browser's user agent is shown back to its owner only; 255 characters are plenty.
    let user_agent = user_agent.map(|u| u.chars().take(255).collect::<String>());
    let id = c.insert_id(
        "insert into sessions (shop_id, user_id, token_hash, csrf_token, user_agent,
             created_at, last_seen_at)
         values ($1, $2, $3, $4, $5, $6, $6) returning id",
        params![
            shop_id,
            user_id,
            token_hash(&cookie),
            csrf.as_str(),
            user_agent,
            now
        ],
    )?;
    Ok(NewSession { id, cookie, csrf })
}

fn session_from_row(r: &Row) -> Result<SessionUser, StoreError> {
    Ok(SessionUser {
        session_id: r.i64(0)?,
        shop_id: r.i64(1)?,
        user_id: r.i64(2)?,
        login: r.string(3)?,
        display_name: r.string(4)?,
        role: Role::parse(r.str(5)?)
            .map_err(|_| StoreError::Decode("user: invalid role".into()))?,
        csrf: r.string(6)?,
        created_at: r.i64(7)?,
        last_seen_at: r.i64(8)?,
        revoked_at: r.opt_i64(9)?,
    })
}

/// The session whose cookie value is `cookie` (revoked ones included: the caller judges),
/// or `None`, also for a value that cannot be a cookie of ours.
pub fn find_session(c: &mut dyn Conn, cookie: &str) -> Result<Option<SessionUser>, StoreError> {
    let Some(shop_id) = cookie
        .split_once('-')
        .and_then(|(shop, _)| shop.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    c.query_opt(
        "select s.id, s.shop_id, s.user_id, u.login, u.display_name, u.role, s.csrf_token,
                s.created_at, s.last_seen_at, s.revoked_at
         from sessions s join users u on u.shop_id = s.shop_id and u.id = s.user_id
         where s.shop_id = $1 and s.token_hash = $2",
        params![shop_id, token_hash(cookie)],
    )?
    .map(|r| session_from_row(&r))
    .transpose()
}

/// Records that the session was used at `at` (microseconds).
pub fn touch_session(
    c: &mut dyn Conn,
    shop_id: i64,
    session_id: i64,
    at: i64,
) -> Result<(), StoreError> {
    c.execute(
        "update sessions set last_seen_at = $1 where shop_id = $2 and id = $3",
        params![at, shop_id, session_id],
    )?;
    Ok(())
}

/// The user's sessions not revoked, last used at or after `seen_since` and created at or
/// after `created_since` (the open ones, for the server's timeouts), newest first.
pub fn list_sessions(
    c: &mut dyn Conn,
    shop_id: i64,
    user_id: i64,
    seen_since: i64,
    created_since: i64,
) -> Result<Vec<SessionInfo>, StoreError> {
    c.query(
        "select id, user_agent, created_at, last_seen_at from sessions
         where shop_id = $1 and user_id = $2 and revoked_at is null
           and last_seen_at >= $3 and created_at >= $4
         order by id desc",
        params![shop_id, user_id, seen_since, created_since],
    )?
    .iter()
    .map(|r| {
        Ok(SessionInfo {
            id: r.i64(0)?,
            user_agent: r.opt_string(1)?,
            created_at: r.i64(2)?,
            last_seen_at: r.i64(3)?,
        })
    })
    .collect()
}

/// Revokes one session of the user; `NotFound` when the user has no such open session.
pub fn revoke_session(
    c: &mut dyn Conn,
    shop_id: i64,
    user_id: i64,
    session_id: i64,
) -> Result<(), StoreError> {
    let n = c.execute(
        "update sessions set revoked_at = $1
         where shop_id = $2 and user_id = $3 and id = $4 and revoked_at is null",
        params![now_micros(), shop_id, user_id, session_id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Revokes every open session of the user (a new password signs everyone out).
pub fn revoke_user_sessions(
    c: &mut dyn Conn,
    shop_id: i64,
    user_id: i64,
) -> Result<usize, StoreError> {
    let n = c.execute(
        "update sessions set revoked_at = $1
         where shop_id = $2 and user_id = $3 and revoked_at is null",
        params![now_micros(), shop_id, user_id],
    )?;
    Ok(n as usize)
}
