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
        version: 9,
        sqlite: include_str!("../migrations/sqlite/0009_period_closings.sql"),
        postgres: include_str!("../migrations/postgres/0009_period_closings.sql"),
    },
    Migration {
        version: 10,
        sqlite: include_str!("../migrations/sqlite/0010_events.sql"),
        postgres: include_str!("../migrations/postgres/0010_events.sql"),
    },
    Migration {
        version: 11,
        sqlite: include_str!("../migrations/sqlite/0011_redundant_shop_keys.sql"),
        postgres: include_str!("../migrations/postgres/0011_redundant_shop_keys.sql"),
    },
    Migration {
        version: 12,
        sqlite: include_str!("../migrations/sqlite/0012_catalog_versions.sql"),
        postgres: include_str!("../migrations/postgres/0012_catalog_versions.sql"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 9 rebuilds SQLite's outbox; webhook_attempts references it with `on delete
    /// cascade`, so an upgrade with foreign keys on must keep both tables' rows.
    #[test]
    fn migration_9_keeps_the_outbox_and_its_attempts_on_sqlite() {
        let dir = std::env::temp_dir().join(format!(
            "comptoir-migrate-{}",
            crate::hex(&crate::random_bytes::<8>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = crate::open_sqlite(&dir.join("old.db")).unwrap();
        let c: &mut dyn Conn = &mut c;
        for m in &MIGRATIONS[..8] {
            c.batch("begin immediate").unwrap();
            apply(c, m).unwrap();
            c.batch("commit").unwrap();
        }
        // A shop's order with two events and an attempt each, as version 8 holds them
        // (the order's user and cash box are left out: not what this is about).
        c.batch(
            "pragma foreign_keys = off;
             insert into shops (id, name, currency, timezone, country, prices_include_vat,
                 default_vat_rate, licence, created_at)
             values (1, 'S', 'EUR', 'Europe/Paris', 'FR', 1, 2000, 'extended', 0);
             insert into orders (id, shop_id, number, status, is_refund, created_at,
                 value_date, user_id, cash_box_id, delivery_method, total, vat, invoice_token)
             values (5, 1, 1, 'terminated', 0, 0, 0, 1, 1, 4, 100, 17, 't');
             insert into outbox (id, shop_id, event_type, order_id, created_at, state, attempts)
             values (1, 1, 'validated', 5, 0, 'delivered', 1),
                    (2, 1, 'terminated', 5, 0, 'pending', 1);
             insert into webhook_attempts (shop_id, event_id, attempt, at, latency_micros, answer)
             values (1, 1, 1, 0, 5, 'ok'), (1, 2, 1, 0, 5, 'down');
             pragma foreign_keys = on;",
        )
        .unwrap();
        c.batch("begin immediate").unwrap();
        apply(c, &MIGRATIONS[8]).unwrap();
        c.batch("commit").unwrap();
        let count =
            |c: &mut dyn Conn, sql: &str| c.query_one(sql, params![]).unwrap().i64(0).unwrap();
        assert_eq!(
            count(c, "select count(*) from outbox where order_id = 5"),
            2
        );
        assert_eq!(count(c, "select count(*) from webhook_attempts"), 2);
        assert_eq!(
            count(
                c,
                "select count(*) from sqlite_master where type = 'index'
                 and name in ('outbox_due_idx', 'outbox_order_idx', 'outbox_created_idx')"
            ),
            3
        );
        // The new event kind, without an order; deleting an event still takes its attempts.
        c.execute(
            "insert into outbox (shop_id, event_type, order_id, created_at, closing_seq)
             values (1, 'closing', null, 0, 3)",
            params![],
        )
        .unwrap();
        assert!(
            c.execute(
                "insert into outbox (shop_id, event_type, order_id, created_at)
                 values (1, 'closing', null, 0)",
                params![],
            )
            .is_err(),
            "a closing event names its closing"
        );
        c.execute("delete from outbox where id = 2", params![])
            .unwrap();
        assert_eq!(count(c, "select count(*) from webhook_attempts"), 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
