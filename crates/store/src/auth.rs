//! Signing in with a login and a password (getAuthToken.php): the user behind a login,
//! looked up across the whole server because logins are unique server-wide.

use crate::db::Conn;
use crate::{StoreError, params};
use comptoir_core::model::{Role, parse_login};

/// The user a login names, with what signing in needs.
#[derive(Clone)]
pub struct LoginUser {
    pub shop_id: i64,
    pub user_id: i64,
    pub role: Role,
    /// The argon2id hash in PHC form; `!` for users that cannot sign in.
    pub password_hash: String,
}

impl std::fmt::Debug for LoginUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginUser")
            .field("shop_id", &self.shop_id)
            .field("user_id", &self.user_id)
            .field("role", &self.role)
            .field("password_hash", &"***")
            .finish()
    }
}

/// The user whose login is `login` (compared as stored: trimmed, lowercase), or `None`,
/// also for a text that cannot be a login at all.
pub fn find_user_by_login(c: &mut dyn Conn, login: &str) -> Result<Option<LoginUser>, StoreError> {
    let Ok(login) = parse_login(login) else {
        return Ok(None);
    };
    let Some(r) = c.query_opt(
        "select shop_id, id, role, password_hash from users where login = $1",
        params![login.as_str()],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(LoginUser {
        shop_id: r.i64(0)?,
        user_id: r.i64(1)?,
        role: Role::parse(r.str(2)?)
            .map_err(|_| StoreError::Decode("user: invalid role".into()))?,
        password_hash: r.string(3)?,
    }))
}
