//! `comptoir fiscal key`: the public half of the server's Ed25519 fiscal signing key, the
//! key file found (or created, mode 0600) by store::fiscal_key.

use crate::Failure;
use clap::Subcommand;
use comptoir_core::fiscal_key::FiscalKey;
use comptoir_store::DbUrl;
use comptoir_store::fiscal_key::{default_path, load_or_create};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(crate) enum FiscalCommand {
    /// Print the public half of the fiscal signing key (64 hex digits), creating the key
    /// file on first use.
    Key,
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

pub(crate) fn run(key_file: PathBuf, cmd: FiscalCommand) -> Result<(), Failure> {
    let FiscalCommand::Key = cmd;
    println!("{}", load_key(&key_file)?.public_hex());
    Ok(())
}
