//! Schema migrations, one list per backend, applied in order on open. Each runs in its
//! own transaction and is recorded in `schema_migrations`; applying twice is a no-op.

use crate::StoreError;
use crate::db::{Backend, Conn};
use crate::params;

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_sales.sql"),
        postgres: include_str!("../migrations/postgres/0002_sales.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("../migrations/sqlite/0003_invoice_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0003_invoice_tokens.sql"),
    },
    Migration {
        version: 4,
        sqlite: include_str!("../migrations/sqlite/0004_key_reuse.sql"),
        postgres: include_str!("../migrations/postgres/0004_key_reuse.sql"),
    },
    Migration {
        version: 5,
        sqlite: include_str!("../migrations/sqlite/0005_webhooks.sql"),
        postgres: include_str!("../migrations/postgres/0005_webhooks.sql"),
    },
    Migration {
        version: 6,
        sqlite: include_str!("../migrations/sqlite/0006_fec_settings.sql"),
        postgres: include_str!("../migrations/postgres/0006_fec_settings.sql"),
    },
    Migration {
        version: 7,
        sqlite: include_str!("../migrations/sqlite/0007_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0007_sessions.sql"),
    },
    Migration {
        version: 8,
        sqlite: include_str!("../migrations/sqlite/0008_closings.sql"),
        postgres: include_str!("../migrations/postgres/0008_closings.sql"),
    },
    Migration {
        version: 13,
        sqlite: include_str!("../migrations/sqlite/0013_redundant_shop_keys.sql"),
        postgres: include_str!("../migrations/postgres/0013_redundant_shop_keys.sql"),
    },
];

/// Applies every migration not yet applied. Safe to run from several processes at once.
pub(crate) fn run(c: &mut dyn Conn) -> Result<(), StoreError> {
    for m in MIGRATIONS {
        let begin = match c.backend() {
            Backend::Sqlite => "begin immediate",
            Backend::Postgres => "begin",
        };
        c.batch(begin)?;
        let result = apply(c, m);
        match result {
            Ok(()) => c.batch("commit")?,
            Err(e) => {
                let _ = c.batch("rollback");
                return Err(e);
            }
        }
    }
    Ok(())
}

fn apply(c: &mut dyn Conn, m: &Migration) -> Result<(), StoreError> {
    if c.backend() == Backend::Postgres {
        // Serialises concurrent starts: the second process waits, then sees the version.
        c.batch("select pg_advisory_xact_lock(7242031)")?;
    }
    c.batch(
        "create table if not exists schema_migrations (
            version bigint primary key,
            applied_at bigint not null
        )",
    )?;
    let done = c
        .query(
            "select version from schema_migrations where version = $1",
            params![m.version],
        )?
        .len();
    if done > 0 {
        return Ok(());
    }
    let sql = match c.backend() {
        Backend::Sqlite => m.sqlite,
        Backend::Postgres => m.postgres,
    };
    c.batch(sql)?;
    c.execute(
        "insert into schema_migrations (version, applied_at) values ($1, $2)",
        params![m.version, crate::now_micros()],
    )?;
    Ok(())
}
