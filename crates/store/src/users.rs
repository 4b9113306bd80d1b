//! A shop's users beyond creation (in `shops`): one user by login, new passwords.

use crate::db::Conn;
use crate::{StoreError, params};
use comptoir_core::model::{Name, Role, User, parse_login};

/// The user of the shop whose login is `login`, or `None`.
pub fn find_user(c: &mut dyn Conn, shop_id: i64, login: &str) -> Result<Option<User>, StoreError> {
    let Ok(login) = parse_login(login) else {
        return Ok(None);
    };
    let Some(r) = c.query_opt(
        "select id, login, display_name, role from users where shop_id = $1 and login = $2",
        params![shop_id, login.as_str()],
    )?
    else {
        return Ok(None);
    };
    let bad = |w: &str| StoreError::Decode(format!("user: invalid {w}"));
    Ok(Some(User {
        id: r.i64(0)?,
        login: Name::parse(r.str(1)?).map_err(|_| bad("login"))?,
        display_name: Name::parse(r.str(2)?).map_err(|_| bad("name"))?,
        role: Role::parse(r.str(3)?).map_err(|_| bad("role"))?,
    }))
}

/// Stores a new password hash for the user and revokes the user's open sessions;
/// `NotFound` when the shop has no such user.
pub fn set_password(
    c: &mut dyn Conn,
    shop_id: i64,
    user_id: i64,
    password_hash: &str,
) -> Result<(), StoreError> {
    let n = c.execute(
        "update users set password_hash = $1 where shop_id = $2 and id = $3",
        params![password_hash, shop_id, user_id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    crate::sessions::revoke_user_sessions(c, shop_id, user_id)?;
    Ok(())
}
