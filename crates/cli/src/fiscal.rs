//! `comptoir fiscal key`: the public half of the server's Ed25519 fiscal signing key, the
//! key file found (or created, mode 0600) by store::fiscal_key. `comptoir fiscal settings`:
//! a shop's first month of the fiscal year and closing hour (store::closings::settings).

use crate::{Failure, require_shop};
use clap::Subcommand;
use comptoir_core::closing::settings::{parse_closing_hour, parse_first_month};
use comptoir_core::fiscal_key::FiscalKey;
use comptoir_store::DbUrl;
use comptoir_store::Store;
use comptoir_store::fiscal_key::{default_path, load_or_create};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(crate) enum FiscalCommand {
    /// Print the public half of the fiscal signing key (64 hex digits), creating the key
    /// file on first use.
    Key,
    /// Show or change a shop's fiscal settings: the first month of its fiscal year
    /// (default 1, January) and the local time its days close (default 04:00).
    Settings {
        #[arg(long)]
        shop: i64,
        /// 1 to 12; cannot change once a fiscal year is closed.
        #[arg(long, value_name = "M")]
        first_month: Option<String>,
        /// HH:MM, the local time at which the server closes the previous day.
        #[arg(long, value_name = "HH:MM")]
        closing_hour: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// The key file: `--fiscal-key`, else `comptoir-fiscal.key` beside a SQLite database (or in
/// the current directory for PostgreSQL).
pub(crate) fn key_path(explicit: Option<&Path>, db: &str) -> Result<PathBuf, Failure> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let url = DbUrl::parse(db).map_err(|m| Failure {
        code: 3,
        message: m,
    })?;
    Ok(default_path(&url))
}

/// The key in `key_file`, created on first use (said on stderr); exit 3 when unusable.
pub(crate) fn load_key(key_file: &Path) -> Result<FiscalKey, Failure> {
    let (key, created) = load_or_create(key_file).map_err(|e| Failure {
        code: 3,
        message: e.to_string(),
    })?;
    if created {
        eprintln!("created the fiscal signing key {}", key_file.display());
    }
    Ok(key)
}

/// `comptoir fiscal key`.
pub(crate) fn run(key_file: PathBuf) -> Result<(), Failure> {
    println!("{}", load_key(&key_file)?.public_hex());
    Ok(())
}

/// `comptoir fiscal settings`: prints the settings after any change.
pub(crate) async fn settings(store: Store, cmd: FiscalCommand) -> Result<(), Failure> {
    let FiscalCommand::Settings {
        shop,
        first_month,
        closing_hour,
        json,
    } = cmd
    else {
        return Err(Failure::usage("expected fiscal settings"));
    };
    let first_month = first_month
        .map(|t| {
            parse_first_month(&t)
                .map_err(|e| Failure::usage(format!("--first-month: expected {e}, got {t:?}")))
        })
        .transpose()?;
    let closing_minute = closing_hour
        .map(|t| {
            parse_closing_hour(&t)
                .map_err(|e| Failure::usage(format!("--closing-hour: expected {e}, got {t:?}")))
        })
        .transpose()?;
    require_shop(&store, shop).await?;
    let s = if first_month.is_none() && closing_minute.is_none() {
        store
            .read(move |c| comptoir_store::closings::settings::get(c, shop))
            .await?
    } else {
        // The change and its event (the settings as given) are written together.
        let month_text = first_month.map(|m| m.to_string());
        let hour_text = closing_minute.map(|m| format!("{:02}:{:02}", m / 60, m % 60));
        let mut given = Vec::new();
        if let Some(m) = &month_text {
            given.push(("fiscal.first_month", Some(m.as_str())));
        }
        if let Some(h) = &hour_text {
            given.push(("fiscal.closing_hour", Some(h.as_str())));
        }
        let changed = crate::events::config_changed(shop, &given);
        store
            .write(move |c| {
                let s =
                    comptoir_store::closings::settings::set(c, shop, first_month, closing_minute)?;
                comptoir_store::events::append(c, &changed)?;
                Ok::<_, comptoir_store::StoreError>(s)
            })
            .await?
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "shop_id": shop.to_string(), "first_month": s.first_month(),
                "closing_hour": s.closing_hour(),
            })
        );
    } else {
        println!(
            "shop {shop}: fiscal year from month {}, days close at {}",
            s.first_month(),
            s.closing_hour()
        );
    }
    Ok(())
}
