//! `comptoir user list|create|password` (spec/cli.md "users"): a shop's back-office users
//! and their passwords, stored as argon2id hashes hashed off the writer.

use crate::{Failure, require_shop};
use clap::{Subcommand, ValueEnum};
use comptoir_core::model::{Name, Role};
use comptoir_store::shops::{self, NewPassword};
use comptoir_store::{Store, users};
use serde_json::json;
use std::io::Read;

/// Shortest password accepted from standard input.
const MIN_PASSWORD: usize = 12;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// List a shop's users.
    List {
        #[arg(long)]
        shop: i64,
        #[arg(long)]
        json: bool,
    },
    /// Create a user; prints a new random password once unless --password-stdin.
    Create {
        #[arg(long)]
        shop: i64,
        /// The name shown in the pages and on receipts.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The part before `@shop-ID` of the login (default: from the name).
        #[arg(long)]
        login: Option<String>,
        /// Read the password from standard input (at least 12 characters).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (and sign the user out everywhere).
    Password {
        #[arg(long)]
        shop: i64,
        /// The user's full login (`LOCAL@shop-ID`).
        login: String,
        /// Read the password from standard input (at least 12 characters).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    Admin,
    Manager,
    Cashier,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Admin => Role::Admin,
            RoleArg::Manager => Role::Manager,
            RoleArg::Cashier => Role::Cashier,
        }
    }
}

/// Runs one `user` command.
pub(crate) async fn run(store: Store, cmd: UserCommand) -> Result<(), Failure> {
    match cmd {
        UserCommand::List { shop, json } => {
            require_shop(&store, shop).await?;
            let list = store.read(move |c| shops::list_users(c, shop)).await?;
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|u| {
                        json!({"user_id": u.id.to_string(), "login": u.login.as_str(),
                               "name": u.display_name.as_str(), "role": u.role.as_str()})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for u in &list {
                    println!(
                        "{}\t{}\t{}\t{}",
                        u.id,
                        u.login.as_str(),
                        u.role.as_str(),
                        u.display_name.as_str()
                    );
                }
            }
            Ok(())
        }
        UserCommand::Create {
            shop,
            name,
            role,
            login,
            password_stdin,
            json,
        } => {
            require_shop(&store, shop).await?;
            let name =
                Name::parse(&name).map_err(|e| Failure::usage(format!("--name: expected {e}")))?;
            let local = match login {
                Some(l) => l,
                None => local_part(name.as_str()),
            };
            if local.is_empty() || local.contains('@') {
                return Err(Failure::usage(
                    "--login: expected letters, digits or ._+- without @ (the shop's part is added)",
                ));
            }
            let login = format!("{local}@shop-{shop}");
            let password = new_password(password_stdin).await?;
            let role = role.role();
            let (l, n, hash) = (login.clone(), name.clone(), password.hash);
            let id = store
                .write(move |c| shops::insert_user(c, shop, &l, n.as_str(), role, &hash))
                .await
                .map_err(|e| crate::prefix_failure(e.into(), "--login"))?;
            let shown = (!password_stdin).then_some(password.plain);
            if json {
                println!(
                    "{}",
                    json!({"user_id": id.to_string(), "login": login, "role": role.as_str(),
                           "password": shown})
                );
            } else {
                println!("user {id} created: login {login} ({})", role.as_str());
                if let Some(p) = shown {
                    println!("password: {p}");
                    println!("(the password is shown only now)");
                }
            }
            Ok(())
        }
        UserCommand::Password {
            shop,
            login,
            password_stdin,
        } => {
            require_shop(&store, shop).await?;
            let l = login.clone();
            let user = store
                .read(move |c| users::find_user(c, shop, &l))
                .await?
                .ok_or_else(|| {
                    Failure::usage(format!("LOGIN: shop {shop} has no user {login:?}"))
                })?;
            let password = new_password(password_stdin).await?;
            let hash = password.hash;
            store
                .write(move |c| users::set_password(c, shop, user.id, &hash))
                .await?;
            println!("password of {} changed", user.login.as_str());
            if !password_stdin {
                println!("password: {}", password.plain);
                println!("(the password is shown only now)");
            }
            Ok(())
        }
    }
}

/// A login's local part from a display name: lowercase letters and digits, other
/// characters as `.`, e.g. "Zoé Martin" → "zo.martin".
fn local_part(name: &str) -> String {
    let mut out = String::new();
    for ch in name.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('.') && !out.is_empty() {
            out.push('.');
        }
    }
    out.trim_end_matches('.').to_string()
}

/// A random password, or the one on standard input (trailing newline removed), hashed on
/// the blocking pool.
async fn new_password(from_stdin: bool) -> Result<NewPassword, Failure> {
    if !from_stdin {
        return tokio::task::spawn_blocking(NewPassword::generate)
            .await
            .map_err(|e| Failure::usage(format!("hashing failed: {e}")));
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("--password-stdin: cannot read: {e}")))?;
    let plain = text.trim_end_matches(['\n', '\r']).to_string();
    if plain.chars().count() < MIN_PASSWORD {
        return Err(Failure::usage(format!(
            "--password-stdin: expected a password of at least {MIN_PASSWORD} characters"
        )));
    }
    let p = plain.clone();
    let hash = tokio::task::spawn_blocking(move || shops::hash_password(&p))
        .await
        .map_err(|e| Failure::usage(format!("hashing failed: {e}")))?;
    Ok(NewPassword { plain, hash })
}

#[cfg(test)]
mod tests {
    use super::local_part;

    #[test]
    fn local_parts_keep_letters_and_digits() {
        assert_eq!(local_part("Zoé Martin"), "zo.martin");
        assert_eq!(local_part("  Bob  "), "bob");
        assert_eq!(local_part("Ann-Marie 2"), "ann.marie.2");
    }
}
