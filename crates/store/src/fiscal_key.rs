//! The fiscal signing key's file, kept outside the database: read, or created on first use
//! with mode 0600 (docs/inalterability.md says why it lives apart from the data).

use crate::DbUrl;
use comptoir_core::fiscal_key::{BadKeyText, FiscalKey};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name when no path is given.
pub const FILE_NAME: &str = "comptoir-fiscal.key";

/// Why the key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("fiscal key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fiscal key {path}: {source}")]
    Bad { path: PathBuf, source: BadKeyText },
    /// Like ssh, a secret key that others may read is refused rather than used.
    #[error(
        "fiscal key {path}: mode {mode:o} lets other users read the key; expected 600 (chmod 600 {path})"
    )]
    Exposed { path: PathBuf, mode: u32 },
}

/// Where the key lives when `--fiscal-key` is not given: beside a SQLite database file,
/// or in the current directory for PostgreSQL.
pub fn default_path(db: &DbUrl) -> PathBuf {
    match db {
        DbUrl::Sqlite(file) => match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(FILE_NAME),
            _ => PathBuf::from(FILE_NAME),
        },
        DbUrl::Postgres(_) => PathBuf::from(FILE_NAME),
    }
}

/// The key in `path`, created (32 random bytes, mode 0600) when the file does not exist.
/// The flag says whether it was created now.
pub fn load_or_create(path: &Path) -> Result<(FiscalKey, bool), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_mode(path)?;
            let key = FiscalKey::parse(&text).map_err(|source| KeyFileError::Bad {
                path: path.to_path_buf(),
                source,
            })?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = FiscalKey::from_seed(crate::random_bytes());
            match publish(path, &key.file_text()) {
                Ok(()) => Ok((key, true)),
                // Another process created it first: use theirs, so there is only one key.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
                Err(e) => Err(io(e)),
            }
        }
        Err(e) => Err(io(e)),
    }
}

/// Writes `text` to a private temporary file beside `path`, then links it into place: the
/// key appears whole or not at all, and an existing key is never overwritten.
fn publish(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(FILE_NAME),
        crate::hex(&crate::random_bytes::<8>())
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(unix)]
fn check_mode(path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path) -> Result<(), KeyFileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "comptoir-key-{}",
            crate::hex(&crate::random_bytes::<8>())
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn created_once_with_mode_600_then_read_back() {
        let dir = temp_dir();
        let path = dir.join("k.key");
        let (first, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.public_hex(), again.public_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Only the key is left: no temporary file.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_or_garbled_key_is_refused_not_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir();
        let path = dir.join("k.key");
        load_or_create(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(
            matches!(e, KeyFileError::Exposed { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::write(&path, "not a key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(matches!(e, KeyFileError::Bad { .. }), "{e}");
        assert_ne!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_default_path_sits_beside_a_sqlite_file() {
        let at = |u: &str| default_path(&DbUrl::parse(u).unwrap());
        assert_eq!(
            at("sqlite:///var/lib/comptoir/shop.db"),
            PathBuf::from("/var/lib/comptoir/comptoir-fiscal.key")
        );
        assert_eq!(at("sqlite://comptoir.db"), PathBuf::from(FILE_NAME));
        assert_eq!(at("postgres://u@h/db"), PathBuf::from(FILE_NAME));
    }
}
