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
            if let Err(e) = c.batch("savepoint w") {
                answer(Err(e.into()));
                return None;
            }
            match f(c) {
                Ok(v) => match c.batch("release w") {
                    Ok(()) => Some(Box::new(move |commit: Result<(), &StoreError>| {
                        answer(match commit {
                            Ok(()) => Ok(v),
                            Err(e) => Err(StoreError::Commit(e.to_string()).into()),
                        });
                    }) as Deliver),
                    Err(e) => {
                        let _ = c.batch("rollback to w; release w");
                        answer(Err(e.into()));
                        None
                    }
                },
                Err(e) => {
                    // Undo this write only; the others of the batch stand.
                    let _ = c.batch("rollback to w; release w");
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

fn run(mut conn: SqliteConn, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let c: &mut dyn Conn = &mut conn;
        if let Err(e) = c.batch("begin immediate") {
            // Without a transaction nothing can be written: fail every job of the batch.
            tracing::error!(error = %e, "SQLite writer cannot begin a transaction");
            for job in jobs {
                run_failed(job, &e);
            }
            continue;
        }
        let delivers: Vec<Deliver> = jobs.into_iter().filter_map(|job| job(c)).collect();
        let commit = c.batch("commit");
        if commit.is_err() {
            let _ = c.batch("rollback");
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
