//! `comptoir verify`: recomputes a shop's seal chain, then the shop's and the server's
//! events chains, and with `--against` compares the database with an archive.

use crate::{Failure, archive, events, require_shop};
use clap::Args;
use comptoir_store::Store;
use comptoir_store::journal::{self, Verification};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[arg(long)]
    shop: i64,
    #[arg(long)]
    json: bool,
    /// The fiscal key's public half (`comptoir fiscal key`, 64 hex digits) that every
    /// closing must be signed by; without it, each closing's own recorded key is used.
    #[arg(long, value_name = "HEX")]
    public_key: Option<String>,
    /// An archive (`comptoir archive`) whose rows the database must still hold, unchanged.
    #[arg(long, value_name = "ARCHIVE")]
    against: Option<PathBuf>,
}

/// Reads the archive of `--against` (if any), then verifies.
pub(crate) async fn run(store: Store, args: VerifyArgs, key_file: &Path) -> Result<(), Failure> {
    let VerifyArgs {
        shop,
        json,
        public_key,
        against,
    } = args;
    let against = archive::report_against(&store, shop, against, &public_key, key_file).await?;
    verify(store, shop, json, public_key, against).await
}

/// `verify`: exit 0 and `chain ok: N entries, head SEAL`, or exit 1 naming the first
/// entry (or counter) found wrong. `--json` prints one object on stdout either way.
async fn verify(
    store: Store,
    shop: i64,
    json: bool,
    public_key: Option<String>,
    against: Option<archive::AgainstLines>,
) -> Result<(), Failure> {
    if let Some(k) = &public_key
        && comptoir_core::hex::unhex(k.trim()).is_none_or(|b| b.len() != 32)
    {
        return Err(Failure::usage(format!(
            "--public-key: expected 64 hexadecimal digits (comptoir fiscal key), got {k:?}"
        )));
    }
    require_shop(&store, shop).await?;
    let public_key = public_key.map(|k| k.trim().to_ascii_lowercase());
    let outcome = store
        .read(move |c| journal::verify_snapshot_pinned(c, shop, public_key.as_deref()))
        .await?;
    // `--against`: the archive's comparison is reported beside the chain's verdict.
    let against_ok = archive::print_against(json, against.as_ref());
    let with_against = |v| archive::with_against(v, against.as_ref());
    match outcome {
        // The events chains are checked once the sales journal holds.
        Verification::Intact { entries, head } => {
            let chains = match events::verify(&store, shop).await? {
                events::Outcome::Intact(chains) => chains,
                events::Outcome::Broken { json: v, message } => {
                    if json {
                        println!("{}", with_against(v));
                    }
                    return Err(Failure { code: 1, message });
                }
            };
            if json {
                let mut v = json!({"ok": against_ok, "shop_id": shop.to_string(), "entries": entries, "head": head});
                events::add_json(&mut v, &chains);
                println!("{}", with_against(v));
            } else {
                println!("chain ok: {entries} entries, head {head}");
                events::print_lines(&chains);
            }
            if against_ok {
                Ok(())
            } else {
                Err(Failure {
                    code: 1,
                    message:
                        "the database no longer holds, unchanged, everything the archive holds"
                            .into(),
                })
            }
        }
        Verification::Broken(b) => {
            let message = b.to_string();
            if json {
                let entry = b.entry.as_ref().map(|e| {
                    json!({
                        "seq": e.seq, "kind": e.kind.as_str(),
                        "orderInternalID": e.order_internal_id, "orderID": e.order_number,
                        "paymentID": e.payment_id,
                    })
                });
                let (stored, recomputed) = b.problem.seals().unzip();
                println!(
                    "{}",
                    with_against(json!({
                        "ok": false, "shop_id": shop.to_string(), "problem": b.problem.code(),
                        "entry": entry, "stored": stored.flatten(), "recomputed": recomputed,
                        "entries_checked": b.entries_checked, "message": message,
                    }))
                );
            }
            Err(Failure { code: 1, message })
        }
    }
}
