//! The process's WAL flusher for the PostgreSQL sales lanes (pg_writer.rs): a lane
//! commits without waiting for its WAL flush, and hands the group's answers here; they
//! are given once the WAL is on disk past that commit.

use crate::StoreError;
use crate::db::{Conn, PgConn};
use crate::pool::Pool;
use crate::writer::Deliver;
use std::sync::{Arc, mpsc};
use std::time::Instant;

/// What the flusher forces to disk: a transactional message (an xid and a WAL record,
/// nothing stored in any table) committed synchronously, so its commit flushes the WAL
/// up to its own record, after every commit the lanes made before sending it.
const FLUSH_WAL: &str = "select pg_logical_emit_message(true, 'comptoir', 'flush')";

/// The process's WAL flusher: the answers of lane transactions committed without waiting
/// for their WAL flush, answered once a later record is on disk. One flush answers every
/// group queued meanwhile, of every lane.
#[derive(Clone)]
pub(crate) struct Flusher {
    tx: mpsc::Sender<(Vec<Deliver>, Instant)>,
}

impl Flusher {
    /// Starts the flusher thread, its connection taken from `pool`; it stops when every
    /// handle is dropped.
    pub(crate) fn start(pool: &Arc<Pool<PgConn>>, commits: &Arc<crate::CommitCounters>) -> Flusher {
        Flusher::start_with(pool, commits, FLUSH_WAL)
    }

    /// [`Flusher::start`], flushing with `flush` (tests slow it down or make it fail).
    pub(crate) fn start_with(
        pool: &Arc<Pool<PgConn>>,
        commits: &Arc<crate::CommitCounters>,
        flush: &'static str,
    ) -> Flusher {
        let (tx, rx) = mpsc::channel::<(Vec<Deliver>, Instant)>();
        let (pool, commits) = (Arc::clone(pool), Arc::clone(commits));
        std::thread::Builder::new()
            .name("comptoir-pg-flusher".into())
            .spawn(move || {
                let mut conn: Option<PgConn> = None;
                while let Ok(first) = rx.recv() {
                    let mut groups = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        groups.push(more);
                    }
                    let flushed = flush_wal(&pool, &mut conn, flush);
                    let waited = groups
                        .iter()
                        .map(|(delivers, committed)| {
                            let us = u64::try_from(committed.elapsed().as_micros());
                            us.unwrap_or(u64::MAX) * delivers.len() as u64
                        })
                        .sum();
                    commits.record_lane(&crate::LaneTimes {
                        flush_micros: waited,
                        flushes: 1,
                        ..crate::LaneTimes::default()
                    });
                    for d in groups.into_iter().flat_map(|(delivers, _)| delivers) {
                        d(flushed.as_ref().map(|_| ()));
                    }
                }
            })
            .expect("spawn the PostgreSQL flusher thread");
        Flusher { tx }
    }

    /// Answers `delivers`, whose transaction has committed, once the WAL is flushed past
    /// its commit; at once with an error when the flusher has stopped.
    pub(crate) fn answer_when_flushed(&self, delivers: Vec<Deliver>) {
        if let Err(mpsc::SendError((delivers, _))) = self.tx.send((delivers, Instant::now())) {
            let e = StoreError::Commit(
                "committed, but not known to be on disk: the PostgreSQL flusher stopped".into(),
            );
            for d in delivers {
                d(Err(&e));
            }
        }
    }
}

/// Flushes the WAL up to a record written now. The WAL is the database's, not the
/// connection's: a fresh connection's flush covers the lanes' commits as well, so a
/// connection that broke is replaced once.
fn flush_wal(
    pool: &Pool<PgConn>,
    conn: &mut Option<PgConn>,
    flush: &str,
) -> Result<(), StoreError> {
    let mut tries = 0;
    loop {
        tries += 1;
        if conn.as_ref().is_none_or(PgConn::is_closed) {
            *conn = None;
            *conn = Some(pool.connect().map_err(not_known_on_disk)?);
        }
        let Some(c) = conn.as_mut() else { continue };
        match c.execute(flush, &[]) {
            Ok(_) => return Ok(()),
            Err(e) if tries >= 2 => return Err(not_known_on_disk(e)),
            Err(_) => *conn = None,
        }
    }
}

/// The answer of a write committed without its WAL flush when the flush failed.
fn not_known_on_disk(e: StoreError) -> StoreError {
    StoreError::Commit(format!("committed, but not known to be on disk: {e}"))
}
