//! SQLite group commit: one thread owns the write connection and runs queued writes in
//! batches, each write inside its own savepoint, then commits the batch with one fsync.
//! A caller hears back only after the commit that holds its write. A second thread
//! checkpoints the WAL into the database file, so the writer never stalls on it.

use crate::StoreError;
use crate::db::{Backend, Conn, EachRow, Row, Sql, SqliteConn, Value};
use crate::lane::Lane;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// Most writes committed together; bounds the latency a batch adds.
const MAX_BATCH: usize = 256;

/// How often the checkpoint thread copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// WAL pages past which the writer checkpoints itself, should the checkpoint thread fall
/// behind (40 MiB of 4 KiB pages; SQLite's default is 1,000).
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// What a successful write still has to do once its batch commits: answer its caller.
pub(crate) type Deliver = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A queued write itself, with the two ways it can end: it runs in the batch's
/// transaction, or it fails without running when no transaction could be had.
pub(crate) struct Run(Box<dyn Queued>);

/// What [`Run`] holds: the write and its caller's answer.
trait Queued: Send {
    /// Runs the write: `Some` when it succeeded, having answered its own error otherwise.
    fn run(self: Box<Self>, c: &mut dyn Conn, lane: Lane<'_>) -> Option<Deliver>;
    /// Answers `cause` without running the write.
    fn fail(self: Box<Self>, cause: &StoreError);
}

impl Run {
    /// Runs the write in the caller's transaction: `Some` when it succeeded, having
    /// answered its own error otherwise.
    pub(crate) fn run(self, c: &mut dyn Conn, lane: Lane<'_>) -> Option<Deliver> {
        self.0.run(c, lane)
    }

    /// Answers `cause` (as [`StoreError::Commit`]) without running the write: its batch
    /// could not start.
    pub(crate) fn fail(self, cause: &StoreError) {
        self.0.fail(cause);
    }
}

/// A write and its answer; `guarded`: inside a savepoint of its own.
struct Write<F, A> {
    f: F,
    answer: A,
    guarded: bool,
}

impl<T, E, F, A> Queued for Write<F, A>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut dyn Conn, Lane<'_>) -> Result<T, E> + Send + 'static,
    A: FnOnce(Result<T, E>) + Send + 'static,
{
    fn run(self: Box<Self>, c: &mut dyn Conn, lane: Lane<'_>) -> Option<Deliver> {
        let Write { f, answer, guarded } = *self;
        if !guarded {
            return match f(c, lane) {
                Ok(v) => Some(deliver(v, answer)),
                Err(e) => {
                    answer(Err(e));
                    None
                }
            };
        }
        if let Err(e) = c.execute("savepoint w", &[]) {
            answer(Err(e.into()));
            return None;
        }
        match f(c, lane) {
            Ok(v) => match c.execute("release w", &[]) {
                Ok(_) => Some(deliver(v, answer)),
                Err(e) => {
                    undo(c);
                    answer(Err(e.into()));
                    None
                }
            },
            Err(e) => {
                // Undo this write only; the others of the batch stand.
                undo(c);
                answer(Err(e));
                None
            }
        }
    }

    fn fail(self: Box<Self>, cause: &StoreError) {
        (self.answer)(Err(StoreError::Commit(cause.to_string()).into()));
    }
}

/// A queued write.
struct Job {
    run: Run,
    /// Runs inside a savepoint of its own, so that its failure undoes it alone. Without
    /// one, a write that fails after changing rows rolls back its whole batch.
    guarded: bool,
    /// Changes none of the rows [`Conn::query_cached`] remembers (webhook delivery's
    /// outbox and attempt log), so the memo survives it.
    keeps_memo: bool,
}

/// The handle to the writer thread. Dropping every handle stops the thread.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Job>,
    /// Writes queued or being written, not yet answered ([`Writer::waiting`]).
    waiting: Arc<AtomicUsize>,
    /// Dropped with the last handle: the checkpoint thread then stops.
    _checkpoints: Arc<mpsc::Sender<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, and the checkpoint thread on `checkpointer`,
    /// another connection to the same database.
    pub(crate) fn start(
        conn: SqliteConn,
        checkpointer: SqliteConn,
        commits: Arc<crate::CommitCounters>,
    ) -> Writer {
        // A savepoint keeps the original of every page a write changes, in a temporary
        // sub-journal: in memory, not in a temporary file written at every sale. The page
        // cache stays at its default size: at every commit SQLite walks all of it.
        // Checkpoints are the other thread's.
        if let Err(e) = conn.0.execute_batch(&format!(
            "pragma temp_store = memory; pragma wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};"
        )) {
            tracing::warn!(error = %e, "SQLite writer: cannot set its pragmas");
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let taken = Arc::clone(&waiting);
        std::thread::Builder::new()
            .name("comptoir-sqlite-writer".into())
            .spawn(move || run(conn, &rx, &taken, &commits))
            .expect("spawn the SQLite writer thread");
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("comptoir-sqlite-checkpoint".into())
            .spawn(move || checkpoints(&checkpointer, &stopped))
            .expect("spawn the SQLite checkpoint thread");
        Writer {
            queue: tx,
            waiting,
            _checkpoints: Arc::new(stop),
        }
    }

    /// Queues `f`, inside a savepoint of its own; `answer` receives its result after the
    /// commit (or its own error at once).
    pub(crate) fn submit<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit_guarded(f, answer, false);
    }

    /// [`Writer::submit`] for a write that changes none of the tables checked writes look
    /// up through [`Conn::query_cached`] (catalog, payment methods, users, cash boxes):
    /// the sales of its batch keep their memo. Webhook delivery writes beside every few
    /// sales; emptying the memo each time made those sales read their lookups again.
    pub(crate) fn submit_aside<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit_guarded(f, answer, true);
    }

    /// `f` queued inside a savepoint of its own, the batch's memo kept or not.
    fn submit_guarded<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
        keeps_memo: bool,
    ) where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let run = Run(Box::new(Write {
            f: move |c: &mut dyn Conn, _: Lane<'_>| f(c),
            answer,
            guarded: true,
        }));
        self.queue(Job {
            run,
            guarded: true,
            keeps_memo,
        });
    }

    /// Queues `f` without a savepoint, for a write that checks everything before its first
    /// change (a sale): a savepoint copies every page the write touches, about a tenth of
    /// a sale's cost. Should `f` fail after changing rows all the same, the batch's
    /// transaction is rolled back and the batch's earlier writes fail with it.
    pub(crate) fn submit_checked<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn, Lane<'_>) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.queue(Job {
            run: unguarded(f, answer),
            guarded: false,
            keeps_memo: false,
        });
    }

    fn queue(&self, job: Job) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::SendError(job)) = self.queue.send(job) {
            // The writer thread is gone (it only stops when every handle is dropped).
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            drop(job);
        }
    }

    /// Writes queued or in the batch being written, not yet answered: a few while the
    /// writer keeps up, many while writes arrive faster than it commits them (the sales
    /// saturate it: their clients all wait on it).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// `f` as a queued write that answers through `answer`, with no savepoint of its own.
pub(crate) fn unguarded<T, E>(
    f: impl FnOnce(&mut dyn Conn, Lane<'_>) -> Result<T, E> + Send + 'static,
    answer: impl FnOnce(Result<T, E>) + Send + 'static,
) -> Run
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    Run(Box::new(Write {
        f,
        answer,
        guarded: false,
    }))
}

/// The answer of a write that succeeded, given once its batch's commit is known.
fn deliver<T, E>(v: T, answer: impl FnOnce(Result<T, E>) + Send + 'static) -> Deliver
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    Box::new(move |commit: Result<(), &StoreError>| {
        answer(match commit {
            Ok(()) => Ok(v),
            Err(e) => Err(StoreError::Commit(e.to_string()).into()),
        });
    })
}

/// Copies the WAL into the database file every [`CHECKPOINT_EVERY`], beside the writer
/// (a passive checkpoint waits for nobody), until every [`Writer`] handle is dropped. The
/// checkpoint syncs the database file before SQLite may reuse the WAL, so acknowledged
/// writes stay on disk.
fn checkpoints(conn: &SqliteConn, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.0.execute_batch("pragma wal_checkpoint(passive)") {
            tracing::warn!(error = %e, "SQLite WAL checkpoint failed; the next one retries");
        }
    }
}

/// Undoes the current write's savepoint, keeping the batch's other writes.
fn undo(c: &mut dyn Conn) {
    let _ = c.execute("rollback to w", &[]);
    let _ = c.execute("release w", &[]);
}

/// The writer's connection, with the answers of [`Conn::query_cached`] for the current
/// batch. The batch holds SQLite's write lock, so no other connection changes anything
/// meanwhile; the memo is emptied when a batch starts, after every guarded write (which
/// may change anything) but the aside ones ([`Writer::submit_aside`]), and after every
/// write that failed. Checked writes (sales) do not change the tables it is used for.
struct WriterConn {
    conn: SqliteConn,
    memo: HashMap<(String, Vec<Value>), Vec<Row>>,
}

/// Entries past which the memo starts over.
const MEMO_MAX: usize = 4096;

impl Conn for WriterConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.conn.execute(sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.conn.query(sql, params)
    }
    fn query_each(&mut self, sql: &str, params: &[Value], f: &mut EachRow<'_>) -> Sql<()> {
        self.conn.query_each(sql, params, f)
    }
    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.batch(sql)
    }
    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, StoreError> {
        self.conn.insert_id(sql, params)
    }
    fn query_cached(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let key = (sql.to_string(), params.to_vec());
        if let Some(rows) = self.memo.get(&key) {
            return Ok(rows.clone());
        }
        let rows = self.conn.query(sql, params)?;
        // Only what exists is remembered: a sale may create what was missing (its shop's
        // `webservice` user), never remove what exists.
        if !rows.is_empty() {
            if self.memo.len() >= MEMO_MAX {
                self.memo.clear();
            }
            self.memo.insert(key, rows.clone());
        }
        Ok(rows)
    }
}

fn run(
    conn: SqliteConn,
    rx: &mpsc::Receiver<Job>,
    waiting: &AtomicUsize,
    commits: &crate::CommitCounters,
) {
    let mut conn = WriterConn {
        conn,
        memo: HashMap::new(),
    };
    while let Ok(first) = rx.recv() {
        conn.memo.clear();
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let taken = jobs.len();
        let mut jobs = jobs.into_iter();
        let mut delivers: Vec<Deliver> = Vec::with_capacity(jobs.len());
        let mut in_transaction = false;
        while let Some(job) = jobs.next() {
            if !in_transaction {
                if let Err(e) = (&mut conn as &mut dyn Conn).execute("begin immediate", &[]) {
                    // Without a transaction nothing can be written: fail the rest of the batch.
                    tracing::error!(error = %e, "SQLite writer cannot begin a transaction");
                    job.run.fail(&e);
                    for job in jobs.by_ref() {
                        job.run.fail(&e);
                    }
                    break;
                }
                in_transaction = true;
            }
            let changes = conn.conn.0.total_changes();
            let (guarded, keeps_memo) = (job.guarded, job.keeps_memo);
            // A panicking write must not stop the writer; what it wrote is undone.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job.run.run(&mut conn, None)
            }));
            let undo_batch = match ran {
                Ok(Some(d)) => {
                    delivers.push(d);
                    if guarded && !keeps_memo {
                        conn.memo.clear();
                    }
                    false
                }
                // An unguarded write failed halfway: only the whole batch can undo it.
                Ok(None) => {
                    conn.memo.clear();
                    !guarded && conn.conn.0.total_changes() != changes
                }
                Err(_) => {
                    tracing::error!("a write panicked in the SQLite writer");
                    conn.memo.clear();
                    true
                }
            };
            if undo_batch {
                let _ = (&mut conn as &mut dyn Conn).batch("rollback");
                if !conn.conn.0.is_autocommit() {
                    // Still inside the transaction: none of it may be committed.
                    let e = StoreError::Commit("the batch could not be rolled back".into());
                    for d in delivers.drain(..) {
                        d(Err(&e));
                    }
                    let _ = (&mut conn as &mut dyn Conn).batch("rollback");
                    in_transaction = !conn.conn.0.is_autocommit();
                }
            }
            if conn.conn.0.is_autocommit() {
                // SQLite rolled the whole transaction back (I/O error, full disk, ...): the
                // writes of this batch so far are gone. Say so, and go on in a new one.
                let e = StoreError::Commit("SQLite rolled the transaction back".into());
                for d in delivers.drain(..) {
                    d(Err(&e));
                }
                in_transaction = false;
            }
        }
        if in_transaction {
            let c: &mut dyn Conn = &mut conn;
            let commit = c.execute("commit", &[]).map(|_| ());
            if commit.is_err() {
                let _ = c.execute("rollback", &[]);
            } else {
                commits.record(delivers.len());
            }
            for d in delivers {
                d(commit.as_ref().map(|_| ()));
            }
        }
        waiting.fetch_sub(taken, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;
    use std::sync::mpsc::{Receiver, channel};

    fn writer() -> (Writer, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "comptoir-writer-{}",
            crate::hex(&crate::random_bytes::<8>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = crate::open_sqlite(&dir.join("w.db")).unwrap();
        conn.0
            .execute_batch("create table t (id integer primary key)")
            .unwrap();
        let checkpointer = crate::open_sqlite(&dir.join("w.db")).unwrap();
        (Writer::start(conn, checkpointer, Arc::default()), dir)
    }

    /// Queues a write; its answer arrives on the receiver.
    fn submit(
        w: &Writer,
        f: impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> + Send + 'static,
    ) -> Receiver<Result<(), StoreError>> {
        let (tx, rx) = channel();
        w.submit(f, move |r| {
            let _ = tx.send(r);
        });
        rx
    }

    /// Keeps the writer busy with a write of its own until `go` is sent, so that the writes
    /// queued meanwhile form one batch. Returns that write's answer and `go`.
    fn hold(
        w: &Writer,
    ) -> (
        Receiver<Result<(), StoreError>>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (go, wait) = channel::<()>();
        let (started, running) = channel::<()>();
        let held = submit(w, move |_| {
            let _ = started.send(());
            let _ = wait.recv();
            Ok(())
        });
        running.recv().unwrap();
        (held, go)
    }

    fn insert(id: i64) -> impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> + Send {
        move |c| {
            c.execute("insert into t (id) values ($1)", params![id])
                .map(|_| ())
        }
    }

    /// Queues an unguarded write; its answer arrives on the receiver.
    fn submit_checked(
        w: &Writer,
        f: impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> + Send + 'static,
    ) -> Receiver<Result<(), StoreError>> {
        let (tx, rx) = channel();
        w.submit_checked(
            move |c: &mut dyn Conn, _: Lane<'_>| f(c),
            move |r| {
                let _ = tx.send(r);
            },
        );
        rx
    }

    #[test]
    fn an_unguarded_write_failing_halfway_takes_its_batch_and_a_clean_refusal_does_not() {
        let (w, dir) = writer();
        let (held, go) = hold(&w);
        let first = submit_checked(&w, insert(1));
        let refused = submit_checked(&w, |_| Err(StoreError::Invalid("refused".into())));
        let second = submit_checked(&w, insert(2));
        let halfway = submit_checked(&w, |c| {
            c.execute("insert into t (id) values (3)", &[])?;
            Err(StoreError::Invalid("failed after writing".into()))
        });
        let third = submit_checked(&w, insert(4));
        go.send(()).unwrap();
        assert!(held.recv().unwrap().is_ok(), "a batch of its own");
        assert!(refused.recv().unwrap().is_err());
        assert!(first.recv().unwrap().is_err(), "rolled back with its batch");
        assert!(
            second.recv().unwrap().is_err(),
            "rolled back with its batch"
        );
        assert!(halfway.recv().unwrap().is_err());
        assert!(
            third.recv().unwrap().is_ok(),
            "written in a new transaction"
        );
        let ids = submit(&w, |c| {
            let rows = c.query("select id from t order by id", &[])?;
            let ids: Vec<i64> = rows.iter().map(|r| r.i64(0)).collect::<Result<_, _>>()?;
            assert_eq!(ids, vec![4]);
            Ok(())
        });
        ids.recv().unwrap().unwrap();

        // A refusal before any change leaves the batch alone.
        let (held, go) = hold(&w);
        let fifth = submit_checked(&w, insert(5));
        let refused = submit_checked(&w, |_| Err(StoreError::Invalid("refused".into())));
        let sixth = submit_checked(&w, insert(6));
        go.send(()).unwrap();
        assert!(held.recv().unwrap().is_ok());
        assert!(fifth.recv().unwrap().is_ok());
        assert!(refused.recv().unwrap().is_err());
        assert!(sixth.recv().unwrap().is_ok());
        drop(w);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn cached_lookups_are_forgotten_after_a_guarded_write_of_the_same_batch() {
        let (w, dir) = writer();
        let setup = submit(&w, |c| {
            c.batch(
                "create table r (id integer primary key, v text); insert into r values (1, 'old')",
            )
        });
        setup.recv().unwrap().unwrap();
        let (held, go) = hold(&w);
        let read = |c: &mut dyn Conn| -> Result<String, StoreError> {
            c.query_cached("select v from r where id = $1", &[Value::I64(1)])?[0].string(0)
        };
        let (tx, seen) = channel::<String>();
        let (t1, t2) = (tx.clone(), tx.clone());
        let first = submit_checked(&w, move |c| {
            let _ = t1.send(read(c)?);
            Ok(())
        });
        let change = submit(&w, |c| {
            c.execute("update r set v = 'new' where id = 1", &[])
                .map(|_| ())
        });
        let after = submit_checked(&w, move |c| {
            let _ = t2.send(read(c)?);
            Ok(())
        });
        go.send(()).unwrap();
        for r in [held, first, change, after] {
            r.recv().unwrap().unwrap();
        }
        drop(tx);
        assert_eq!(seen.iter().collect::<Vec<_>>(), vec!["old", "new"]);
        drop(w);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn cached_lookups_outlive_an_aside_write_of_the_same_batch() {
        let (w, dir) = writer();
        let setup = submit(&w, |c| {
            c.batch(
                "create table r (id integer primary key, v text); insert into r values (1, 'old')",
            )
        });
        setup.recv().unwrap().unwrap();
        let (held, go) = hold(&w);
        let read = |c: &mut dyn Conn| -> Result<String, StoreError> {
            c.query_cached("select v from r where id = $1", &[Value::I64(1)])?[0].string(0)
        };
        let (tx, seen) = channel::<String>();
        let (t1, t2) = (tx.clone(), tx.clone());
        let first = submit_checked(&w, move |c| {
            let _ = t1.send(read(c)?);
            Ok(())
        });
        // An aside write promises not to change remembered rows; this one breaks the
        // promise only to show that the memo was kept (a later lookup still sees 'old').
        let (atx, aside) = channel();
        w.submit_aside(
            |c| {
                c.execute("update r set v = 'new' where id = 1", &[])
                    .map(|_| ())
            },
            move |r: Result<(), StoreError>| {
                let _ = atx.send(r);
            },
        );
        let after = submit_checked(&w, move |c| {
            let _ = t2.send(read(c)?);
            Ok(())
        });
        go.send(()).unwrap();
        for r in [held, first, aside, after] {
            r.recv().unwrap().unwrap();
        }
        drop(tx);
        assert_eq!(seen.iter().collect::<Vec<_>>(), vec!["old", "old"]);
        drop(w);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failed_write_is_undone_alone_and_a_vanished_transaction_fails_only_its_writes() {
        let (w, dir) = writer();
        // Hold the writer so that the next writes form one batch.
        let (held, go) = hold(&w);
        let first = submit(&w, insert(1));
        let failed = submit(&w, |c| {
            c.execute("insert into t (id) values (2)", &[])?;
            Err(StoreError::Invalid("refused".into()))
        });
        let second = submit(&w, insert(3));
        // Ends the batch's transaction under the writer's feet, as SQLite does after some
        // I/O errors.
        let vanish = submit(&w, |c| c.batch("rollback"));
        let third = submit(&w, insert(4));
        go.send(()).unwrap();
        assert!(held.recv().unwrap().is_ok());
        assert!(first.recv().unwrap().is_err(), "rolled back with its batch");
        assert!(failed.recv().unwrap().is_err());
        assert!(
            second.recv().unwrap().is_err(),
            "rolled back with its batch"
        );
        assert!(vanish.recv().unwrap().is_err());
        assert!(
            third.recv().unwrap().is_ok(),
            "written in a new transaction"
        );
        let ids = submit(&w, |c| {
            let rows = c.query("select id from t order by id", &[])?;
            let ids: Vec<i64> = rows.iter().map(|r| r.i64(0)).collect::<Result<_, _>>()?;
            assert_eq!(ids, vec![4]);
            Ok(())
        });
        ids.recv().unwrap().unwrap();
        drop(w);
        let _ = std::fs::remove_dir_all(dir);
    }
}
