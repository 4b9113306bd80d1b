//! SQLite group commit: one thread owns the write connection and runs queued writes in
//! batches, each write inside its own savepoint, then commits the batch with one fsync.
//! A caller hears back only after the commit that holds its write.

use crate::StoreError;
use crate::db::{Conn, SqliteConn};
use std::sync::mpsc;

/// Most writes committed together; bounds the latency a batch adds.
const MAX_BATCH: usize = 256;

/// What a successful write still has to do once its batch commits: answer its caller.
type Deliver = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A queued write: runs in the batch's transaction; `Some` when it succeeded.
type Job = Box<dyn FnOnce(&mut dyn Conn) -> Option<Deliver> + Send>;

/// The handle to the writer thread. Dropping every handle stops the thread.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    pub(crate) fn start(conn: SqliteConn) -> Writer {
        // A savepoint keeps the original of every page a write changes, in a temporary
        // sub-journal: in memory, not in a temporary file written at every sale.
        if let Err(e) = conn.0.execute_batch("pragma temp_store = memory") {
            tracing::warn!(error = %e, "SQLite writer: cannot keep temporary data in memory");
        }
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("comptoir-sqlite-writer".into())
            .spawn(move || run(conn, &rx))
            .expect("spawn the SQLite writer thread");
        Writer { queue: tx }
    }

    /// Queues `f`; `answer` receives its result after the commit (or its own error at once).
    pub(crate) fn submit<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let job: Job = Box::new(move |c: &mut dyn Conn| {
            if let Err(e) = c.execute("savepoint w", &[]) {
                answer(Err(e.into()));
                return None;
            }
            match f(c) {
                Ok(v) => match c.execute("release w", &[]) {
                    Ok(_) => Some(Box::new(move |commit: Result<(), &StoreError>| {
                        answer(match commit {
                            Ok(()) => Ok(v),
                            Err(e) => Err(StoreError::Commit(e.to_string()).into()),
                        });
                    }) as Deliver),
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
        });
        if let Err(mpsc::SendError(job)) = self.queue.send(job) {
            // The writer thread is gone (it only stops when every handle is dropped).
            drop(job);
        }
    }
}

/// Undoes the current write's savepoint, keeping the batch's other writes.
fn undo(c: &mut dyn Conn) {
    let _ = c.execute("rollback to w", &[]);
    let _ = c.execute("release w", &[]);
}

fn run(mut conn: SqliteConn, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut jobs = jobs.into_iter();
        let mut delivers: Vec<Deliver> = Vec::with_capacity(jobs.len());
        let mut in_transaction = false;
        while let Some(job) = jobs.next() {
            if !in_transaction {
                if let Err(e) = (&mut conn as &mut dyn Conn).execute("begin immediate", &[]) {
                    // Without a transaction nothing can be written: fail the rest of the batch.
                    tracing::error!(error = %e, "SQLite writer cannot begin a transaction");
                    run_failed(job, &e);
                    for job in jobs.by_ref() {
                        run_failed(job, &e);
                    }
                    break;
                }
                in_transaction = true;
            }
            delivers.extend(job(&mut conn));
            if conn.0.is_autocommit() {
                // SQLite rolled the whole transaction back (I/O error, full disk, ...): the
                // writes of this batch so far are gone. Say so, and go on in a new one.
                let e = StoreError::Commit("SQLite rolled the transaction back".into());
                for d in delivers.drain(..) {
                    d(Err(&e));
                }
                in_transaction = false;
            }
        }
        if !in_transaction {
            continue;
        }
        let c: &mut dyn Conn = &mut conn;
        let commit = c.execute("commit", &[]).map(|_| ());
        if commit.is_err() {
            let _ = c.execute("rollback", &[]);
        }
        for d in delivers {
            d(commit.as_ref().map(|_| ()));
        }
    }
}

/// Answers a job whose batch could not even start, without running it for real: it runs
/// against a connection that refuses everything, so its own error path answers.
fn run_failed(job: Job, cause: &StoreError) {
    struct Refuse(String);
    impl Conn for Refuse {
        fn backend(&self) -> crate::db::Backend {
            crate::db::Backend::Sqlite
        }
        fn execute(&mut self, _: &str, _: &[crate::db::Value]) -> Result<u64, StoreError> {
            Err(StoreError::Commit(self.0.clone()))
        }
        fn query(
            &mut self,
            _: &str,
            _: &[crate::db::Value],
        ) -> Result<Vec<crate::db::Row>, StoreError> {
            Err(StoreError::Commit(self.0.clone()))
        }
        fn query_each(
            &mut self,
            _: &str,
            _: &[crate::db::Value],
            _: &mut dyn FnMut(crate::db::Row) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            Err(StoreError::Commit(self.0.clone()))
        }
        fn batch(&mut self, _: &str) -> Result<(), StoreError> {
            Err(StoreError::Commit(self.0.clone()))
        }
    }
    let _ = job(&mut Refuse(cause.to_string()));
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
        (Writer::start(conn), dir)
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

    fn insert(id: i64) -> impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> + Send {
        move |c| {
            c.execute("insert into t (id) values ($1)", params![id])
                .map(|_| ())
        }
    }

    #[test]
    fn a_failed_write_is_undone_alone_and_a_vanished_transaction_fails_only_its_writes() {
        let (w, dir) = writer();
        // Hold the writer so that the next writes form one batch.
        let (go, wait) = channel::<()>();
        let (started, running) = channel::<()>();
        let held = submit(&w, move |_| {
            let _ = started.send(());
            let _ = wait.recv();
            Ok(())
        });
        running.recv().unwrap();
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
