//! Comptoir's storage: SQLite or PostgreSQL behind [`Store`], migrations applied on open,
//! and the queries of each feature (shops, keys, catalog). Blocking work runs off the
//! async workers; a write is one transaction.

pub mod archive;
pub mod auth;
pub mod catalog;
pub mod closings;
pub mod db;
pub mod events;
pub mod fiscal_key;
pub mod invoice_issues;
pub mod item_rows;
pub mod journal;
mod lane;
pub mod lists;
mod migrate;
mod pg_client;
pub mod pg_connect;
mod pg_flusher;
mod pg_writer;
mod pool;
pub mod report;
pub mod sales;
pub mod sealed_keys;
pub mod sessions;
pub mod shops;
pub(crate) mod statistics;
pub mod users;
pub mod webhook_settings;
pub mod webhooks;
mod writer;

use db::{Backend, Conn, PgConn, SqliteConn};
pub use pg_connect::ConnectionBudget;
use pool::Pool;
use std::sync::Arc;
use std::time::Duration;

/// What can go wrong in the store. Domain-level refusals use [`StoreError::Invalid`]
/// and [`StoreError::Conflict`]; everything else is an internal failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", pg_connect::error_text(.0))]
    Postgres(#[from] postgres::Error),
    #[error("cannot decode a row: {0}")]
    Decode(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("no database connection became free within {0:?}")]
    PoolTimeout(Duration),
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("background task failed: {0}")]
    Task(String),
    #[error("the transaction could not be committed: {0}")]
    Commit(String),
}

impl StoreError {
    /// True when a unique constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            StoreError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// How to reach the database, parsed from `--db`.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// A SQLite file (`sqlite://comptoir.db`, `sqlite:///abs/path.db`, or a bare path).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL URL (`postgres://user@host/db`).
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl, String> {
        let u = url.trim();
        if u.starts_with("postgres://") || u.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(u.to_string()));
        }
        let path = u
            .strip_prefix("sqlite://")
            .or_else(|| u.strip_prefix("sqlite:"))
            .unwrap_or(u);
        if path.is_empty() || u.contains("://") && !u.starts_with("sqlite://") {
            return Err(format!(
                "--db: expected sqlite://PATH or postgres://USER@HOST/DB, got {u:?}"
            ));
        }
        Ok(DbUrl::Sqlite(path.into()))
    }
}

impl std::fmt::Debug for DbUrl {
    /// Never prints a password that a PostgreSQL URL may carry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            DbUrl::Postgres(u) => f.write_str(&redact_url(u)),
        }
    }
}

/// Replaces the password of `scheme://user:password@host` and of a `password=` query
/// parameter by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let base = match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => format!("{scheme}://{rest}"),
    };
    match query {
        None => base,
        Some(q) => {
            let q: Vec<String> = q
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", q.join("&"))
        }
    }
}

enum Engine {
    Sqlite {
        writer: writer::Writer,
        readers: Pool<SqliteConn>,
    },
    Postgres {
        pool: Arc<Pool<PgConn>>,
        writers: pg_writer::PgWriters,
        /// The rows the sales' checks read, remembered (see `sales::CheckCache`).
        checks: Arc<sales::CheckCache>,
    },
}

/// The database, shared by every request. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    engine: Arc<Engine>,
    commits: Arc<CommitCounters>,
}

/// Group commit at work (`/metrics`): the writes acknowledged by the SQLite writer or the
/// PostgreSQL sales lanes, and the commits (one fsync each) that carried them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub writes: u64,
    pub commits: u64,
}

/// Where the PostgreSQL sales lanes' time goes (`/metrics`), summed since the start, in
/// microseconds: per write, the wait in its lane's queue, the run of its group's
/// transaction until the commit answered, and the wait for the WAL flush after it; per
/// transaction, the counter rows' lock (the wait for another transaction holding one
/// included) and the group statement with the commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneTimes {
    pub transactions: u64,
    pub queued_micros: u64,
    pub run_micros: u64,
    pub lock_micros: u64,
    pub commit_micros: u64,
    pub flush_micros: u64,
    /// The flusher's flushes (each answers every group and wait queued before it).
    pub flushes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct CommitCounters {
    writes: std::sync::atomic::AtomicU64,
    commits: std::sync::atomic::AtomicU64,
    lanes: std::sync::Mutex<LaneTimes>,
}

impl CommitCounters {
    /// One commit that carried `writes` acknowledged writes.
    pub(crate) fn record(&self, writes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.commits.fetch_add(1, Relaxed);
        self.writes
            .fetch_add(u64::try_from(writes).unwrap_or(u64::MAX), Relaxed);
    }

    /// Adds one lane transaction's times (see [`LaneTimes`]).
    pub(crate) fn record_lane(&self, t: &LaneTimes) {
        let mut all = self
            .lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.transactions += t.transactions;
        all.queued_micros += t.queued_micros;
        all.run_micros += t.run_micros;
        all.lock_micros += t.lock_micros;
        all.commit_micros += t.commit_micros;
        all.flush_micros += t.flush_micros;
        all.flushes += t.flushes;
    }

    pub(crate) fn lane_times(&self) -> LaneTimes {
        *self
            .lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn stats(&self) -> CommitStats {
        use std::sync::atomic::Ordering::Relaxed;
        CommitStats {
            writes: self.writes.load(Relaxed),
            commits: self.commits.load(Relaxed),
        }
    }
}

/// Connection pool figures for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStats {
    pub size: usize,
    pub in_use: usize,
    pub max: usize,
}

const POOL_WAIT: Duration = Duration::from_secs(10);

/// `f` handed to SQLite's writer by `submit` (a way to queue it), its answer awaited.
async fn on_sqlite_writer<T, E, F>(
    f: F,
    submit: impl FnOnce(F, Box<dyn FnOnce(Result<T, E>) + Send>),
) -> Result<T, E>
where
    F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    submit(
        f,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx.await
        .unwrap_or_else(|_| Err(StoreError::Task("the SQLite writer stopped".into()).into()))
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database.
    pub fn open_blocking(url: &DbUrl) -> Result<Store, StoreError> {
        Store::open_with_blocking(url, ConnectionBudget::default())
    }

    /// [`Store::open_blocking`] with, on PostgreSQL, `budget` connections (SQLite's own
    /// are fixed: one writer and up to 8 readers).
    pub fn open_with_blocking(url: &DbUrl, budget: ConnectionBudget) -> Result<Store, StoreError> {
        let store = match url {
            DbUrl::Sqlite(path) => {
                let open = {
                    let path = path.clone();
                    move || open_sqlite(&path)
                };
                let mut writer = open()?;
                migrate::run(&mut writer)?;
                let checkpointer = open()?;
                let commits = Arc::new(CommitCounters::default());
                Store {
                    commits: Arc::clone(&commits),
                    engine: Arc::new(Engine::Sqlite {
                        writer: writer::Writer::start(writer, checkpointer, commits),
                        readers: Pool::new(8, Box::new(open)),
                    }),
                }
            }
            DbUrl::Postgres(u) => {
                let target = pg_connect::PgTarget::parse(u)?;
                let connect = move || target.connect().and_then(PgConn::open);
                let mut first = connect()?;
                migrate::run(&mut first)?;
                statistics::refresh(&mut first)?;
                let pool = Arc::new(Pool::new(budget.pool(), Box::new(connect)));
                pool.put(first);
                statistics::start(&pool);
                let commits = Arc::new(CommitCounters::default());
                let writers = pg_writer::PgWriters::start(&pool, budget.lanes(), &commits);
                Store {
                    commits,
                    engine: Arc::new(Engine::Postgres {
                        pool,
                        writers,
                        checks: Arc::default(),
                    }),
                }
            }
        };
        Ok(store)
    }

    /// [`Store::open_blocking`] off the async workers.
    pub async fn open(url: &DbUrl) -> Result<Store, StoreError> {
        Store::open_with(url, ConnectionBudget::default()).await
    }

    /// [`Store::open_with_blocking`] off the async workers.
    pub async fn open_with(url: &DbUrl, budget: ConnectionBudget) -> Result<Store, StoreError> {
        let url = url.clone();
        spawn(move || Store::open_with_blocking(&url, budget)).await
    }

    /// Analyses, on PostgreSQL, those of a sale's tables that grew past the threshold
    /// since their last ANALYZE (what the store's own thread does every few seconds);
    /// returns their names. Nothing to do on SQLite.
    pub fn refresh_statistics_blocking(&self) -> Result<Vec<String>, StoreError> {
        match &*self.engine {
            Engine::Sqlite { .. } => Ok(Vec::new()),
            Engine::Postgres { .. } => self.read_blocking(statistics::refresh),
        }
    }

    /// Whether the database is PostgreSQL running with autovacuum off (for the server's
    /// warning at start; the store's own upkeep analyses a sale's tables either way).
    pub async fn autovacuum_off(&self) -> Result<bool, StoreError> {
        match self.backend() {
            Backend::Sqlite => Ok(false),
            Backend::Postgres => self.read(|c| Ok(!statistics::autovacuum_on(c)?)).await,
        }
    }

    pub fn backend(&self) -> Backend {
        match &*self.engine {
            Engine::Sqlite { .. } => Backend::Sqlite,
            Engine::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The rows the sales' checks read, as the process remembers them (PostgreSQL).
    pub(crate) fn check_cache(&self) -> Option<Arc<sales::CheckCache>> {
        match &*self.engine {
            Engine::Sqlite { .. } => None,
            Engine::Postgres { checks, .. } => Some(Arc::clone(checks)),
        }
    }

    /// Runs `f` on a connection outside any explicit transaction (reads).
    pub fn read_blocking<T, E>(&self, f: impl FnOnce(&mut dyn Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        match &*self.engine {
            Engine::Sqlite { readers, .. } => {
                let mut c = readers.get(POOL_WAIT)?;
                f(&mut *c)
            }
            Engine::Postgres { pool, .. } => {
                let mut c = pool.get(POOL_WAIT)?;
                let r = f(&mut *c);
                if c.is_closed() {
                    c.discard();
                }
                r
            }
        }
    }

    /// Runs `f` on a reader in one read-only transaction, so that every query it makes
    /// sees the same state of the database (a report's aggregates and its sales table
    /// agree while sales are being recorded). SQLite: a read transaction, whose snapshot
    /// is taken at its first read (WAL: the writer goes on meanwhile); PostgreSQL:
    /// `repeatable read, read only`. The connection is held until `f` returns.
    pub fn read_snapshot_blocking<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let begin = match &*self.engine {
            Engine::Sqlite { .. } => "begin",
            Engine::Postgres { .. } => "begin isolation level repeatable read read only",
        };
        self.read_blocking(|c| transaction(c, begin, f))
    }

    /// Runs `f` in one transaction: committed when `f` succeeds, rolled back otherwise.
    pub fn write_blocking<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &*self.engine {
            Engine::Sqlite { writer, .. } => {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                writer.submit(f, move |r| {
                    let _ = tx.send(r);
                });
                rx.recv().unwrap_or_else(|_| {
                    Err(StoreError::Task("the SQLite writer stopped".into()).into())
                })
            }
            Engine::Postgres { pool, .. } => {
                let mut c = pool.get(POOL_WAIT)?;
                let r = transaction(&mut *c, "begin", f);
                if c.is_closed() {
                    c.discard();
                }
                r
            }
        }
    }

    /// Async [`Store::read_blocking`].
    pub async fn read<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        spawn(move || store.read_blocking(f)).await
    }

    /// Async [`Store::write_blocking`].
    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if let Engine::Sqlite { writer, .. } = &*self.engine {
            return on_sqlite_writer(f, |f, answer| writer.submit(f, answer)).await;
        }
        let store = self.clone();
        spawn(move || store.write_blocking(f)).await
    }

    /// [`Store::write`] for a write that changes no catalog rows, payment methods, users or
    /// cash boxes (webhook delivery: the outbox and the attempt log). On SQLite the sales
    /// committed in the same batch keep the lookups they remember
    /// ([`db::Conn::query_cached`]) across it; elsewhere it is [`Store::write`].
    pub async fn write_aside<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if let Engine::Sqlite { writer, .. } = &*self.engine {
            return on_sqlite_writer(f, |f, answer| writer.submit_aside(f, answer)).await;
        }
        self.write(f).await
    }

    /// [`Store::write_aside`] for a write each of whose statements stands alone: atomic by
    /// itself, with nothing to roll back should a later one fail (webhook delivery's
    /// leases, kept bodies and attempt records, one statement each). On PostgreSQL they
    /// run on a pooled connection without `begin` and `commit`: one round trip a
    /// statement rather than three, and row locks held for the statement only. On SQLite
    /// it is [`Store::write_aside`] (its writer commits them with the batch they join).
    pub async fn write_aside_autocommit<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if let Engine::Postgres { .. } = &*self.engine {
            // A pooled connection outside any transaction, as a read has.
            return self.read(f).await;
        }
        self.write_aside(f).await
    }

    /// [`Store::write`] for a write of shop `shop_id` that checks everything before its
    /// first change, as a sale does, and is committed with the other writes queued at the
    /// same time (group commit on both backends), without a savepoint of its own (on
    /// SQLite a savepoint copies every page a write touches, on PostgreSQL it costs round
    /// trips): should it fail after changing rows all the same, the other writes of its
    /// batch fail with it, and nothing of them is written. On PostgreSQL one of a few
    /// writer threads runs the shop's queued writes in one transaction. A checked write
    /// must not change or remove catalog rows, payment methods, users or cash boxes: on
    /// SQLite its batch-mates may answer their lookups of those from memory
    /// ([`db::Conn::query_cached`]).
    pub async fn write_checked<T, E>(
        &self,
        shop_id: i64,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_in_lane(shop_id, pg_writer::JobKind::Other, move |c, lane| {
            // `f` may record sales without the lane: later writes of its group must read
            // the shop's counters again rather than trust what the lane holds.
            if let Some(lane) = lane {
                lane.clear_counters();
            }
            f(c)
        })
        .await
    }

    /// [`Store::write_checked`] handing `f` the lane it runs in, if any: the sales'
    /// ledger keeps a PostgreSQL lane's held counters and drawn ids there, and defers its
    /// rows to the group's one statement. `kind`: how the lane may group `f` with others.
    pub(crate) async fn write_in_lane<T, E>(
        &self,
        shop_id: i64,
        kind: pg_writer::JobKind,
        f: impl FnOnce(&mut dyn Conn, lane::Lane<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let answer = move |r| {
            let _ = tx.send(r);
        };
        match &*self.engine {
            Engine::Sqlite { writer, .. } => writer.submit_checked(f, answer),
            Engine::Postgres { writers, .. } => writers.submit(shop_id, kind, f, answer),
        }
        rx.await
            .unwrap_or_else(|_| Err(StoreError::Task("the writer stopped".into()).into()))
    }

    /// Answers when the database does: a trivial query on a pooled connection.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_one("select 1", params![]).map(|_| ()))
            .await
    }

    /// Writes given to the SQLite writer (or this process's PostgreSQL sales lanes) and
    /// not yet answered, queued or in the batch being written: a few while the writes
    /// keep up, and nearly every client's while they arrive faster than they are
    /// committed. Webhook delivery reads it to stand aside while the sales saturate the
    /// writer.
    pub fn writes_waiting(&self) -> usize {
        match &*self.engine {
            Engine::Sqlite { writer, .. } => writer.waiting(),
            Engine::Postgres { writers, .. } => writers.waiting(),
        }
    }

    /// Writes acknowledged through group commit, and the commits that carried them.
    pub fn commit_stats(&self) -> CommitStats {
        self.commits.stats()
    }

    /// Where the PostgreSQL sales lanes' time went (zero on SQLite).
    /// Returns once every commit made before the call is on disk. PostgreSQL lanes commit
    /// without waiting for the WAL flush and answer their writes only after the flusher's
    /// (see `pg_writer`), so rows a pooled read sees may not be on disk yet: an answer
    /// built from such rows (an idempotent replay) waits for this first, or a crash of the
    /// database in that millisecond would lose a sale whose replay was acknowledged.
    /// Nothing to wait for on SQLite, whose writer answers after its commit.
    pub async fn durable(&self) -> Result<(), StoreError> {
        let Engine::Postgres { writers, .. } = &*self.engine else {
            return Ok(());
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        writers.when_flushed(Box::new(move |r: Result<(), &StoreError>| {
            let _ = tx.send(r.map_err(|e| StoreError::Commit(e.to_string())));
        }));
        rx.await
            .unwrap_or_else(|_| Err(StoreError::Task("the PostgreSQL flusher stopped".into())))
    }

    /// How the sales' checks found their rows (PostgreSQL; zeros on SQLite).
    pub fn sale_check_stats(&self) -> sales::CheckStats {
        self.check_cache().map(|c| c.stats()).unwrap_or_default()
    }

    pub fn lane_times(&self) -> LaneTimes {
        self.commits.lane_times()
    }

    pub fn pool_stats(&self) -> PoolStats {
        match &*self.engine {
            Engine::Sqlite { readers, .. } => readers.stats(),
            Engine::Postgres { pool, .. } => pool.stats(),
        }
    }
}

fn transaction<T, E: From<StoreError>>(
    c: &mut dyn Conn,
    begin: &str,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
) -> Result<T, E> {
    c.batch(begin)?;
    match f(c) {
        Ok(v) => {
            if let Err(e) = c.batch("commit") {
                let _ = c.batch("rollback");
                return Err(e.into());
            }
            Ok(v)
        }
        Err(e) => {
            let _ = c.batch("rollback");
            Err(e)
        }
    }
}

async fn spawn<T: Send + 'static, E: From<StoreError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Task(e.to_string()).into()),
    }
}

fn open_sqlite(path: &std::path::Path) -> Result<SqliteConn, StoreError> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL lets readers run beside the writer; FULL syncs the WAL at every commit so an
    // acknowledged write survives a power cut, not only a crash.
    conn.execute_batch(
        "pragma journal_mode = wal; pragma synchronous = full; pragma foreign_keys = on;",
    )
    .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(SqliteConn(conn))
}

/// Current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS source only fails when the kernel cannot provide entropy at all.
    getrandom::fill(&mut b).expect("the operating system random source is available");
    b
}

/// Lowercase hexadecimal (core's one encoder).
pub use comptoir_core::hex::hex;

/// The PostgreSQL server of this crate's unit tests (`COMPTOIR_TEST_POSTGRES`); `None`,
/// said on stderr, when it is not set: the test skips. Under `COMPTOIR_TEST_STRICT=1` a
/// missing server fails the test instead.
#[cfg(test)]
pub(crate) fn test_postgres_url() -> Option<String> {
    let url = std::env::var("COMPTOIR_TEST_POSTGRES").ok();
    if url.is_none() {
        let strict = std::env::var("COMPTOIR_TEST_STRICT").is_ok_and(|v| v == "1");
        assert!(!strict, "COMPTOIR_TEST_POSTGRES is needed");
        eprintln!("skipping: COMPTOIR_TEST_POSTGRES is not set");
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_urls_are_recognised_and_redacted() {
        assert_eq!(
            DbUrl::parse("sqlite://comptoir.db").unwrap(),
            DbUrl::Sqlite("comptoir.db".into())
        );
        assert_eq!(
            DbUrl::parse("/tmp/x.db").unwrap(),
            DbUrl::Sqlite("/tmp/x.db".into())
        );
        assert!(DbUrl::parse("mysql://x").is_err());
        assert_eq!(
            format!("{:?}", DbUrl::parse("postgres://u:secret@h/db").unwrap()),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&password=secret"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
    }
}
