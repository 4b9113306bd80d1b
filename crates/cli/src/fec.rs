//! `comptoir fec accounts`: shows and sets a shop's FEC accounts and journal (the
//! getSales.php `frafec` export); the defaults and the checks are core::report::fec's.

use crate::{Failure, require_shop};
use clap::Subcommand;
use comptoir_core::report::fec::{DEFAULTS, FecSettings, check_setting};
use comptoir_store::Store;
use comptoir_store::report::{fec_settings, set_fec_setting};

#[derive(Subcommand)]
pub(crate) enum FecCommand {
    /// Show a shop's FEC accounts and journal; `--set KEY=ACCOUNT` changes them first.
    Accounts {
        #[arg(long)]
        shop: i64,
        /// A setting such as `payment.cash=531000`, `sales.20=707110` or `journal.code=VT`.
        #[arg(long = "set", value_name = "KEY=ACCOUNT")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn fec(store: Store, cmd: FecCommand) -> Result<(), Failure> {
    let FecCommand::Accounts { shop, set, json } = cmd;
    require_shop(&store, shop).await?;
    // Every setting is checked before any is written.
    let mut changes = Vec::new();
    for s in &set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--set {s:?}: expected KEY=ACCOUNT")))?;
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        check_setting(&k, &v).map_err(|m| Failure::usage(format!("--set: {m}")))?;
        changes.push((k, v));
    }
    let changed = (!changes.is_empty()).then(|| {
        let named: Vec<(String, &str)> = changes
            .iter()
            .map(|(k, v)| (format!("fec.{k}"), v.as_str()))
            .collect();
        let pairs: Vec<(&str, Option<&str>)> =
            named.iter().map(|(k, v)| (k.as_str(), Some(*v))).collect();
        crate::events::config_changed(shop, &pairs)
    });
    let saved = store
        .write(move |c| {
            for (k, v) in &changes {
                set_fec_setting(c, shop, k, v)?;
            }
            if let Some(e) = &changed {
                comptoir_store::events::append(c, e)?;
            }
            fec_settings(c, shop)
        })
        .await?;
    let settings = FecSettings::new(saved.clone());
    if json {
        println!(
            "{}",
            serde_json::to_string(settings.all()).map_err(|e| Failure::usage(e.to_string()))?
        );
    } else {
        for (k, v) in settings.all() {
            let set_here = saved.iter().any(|(s, _)| s == k);
            let label = DEFAULTS.iter().find(|(d, _, _)| d == k).map_or("", |d| d.2);
            let mark = if set_here { "*" } else { " " };
            println!("{mark} {k:<15} {v:<10} {label}");
        }
        println!("(* set for this shop; the others are the defaults)");
    }
    Ok(())
}
