//! PostgreSQL group commit for sales. Every write of a shop goes to the same one of a few
//! writer threads ("lanes"). A lane takes everything queued, groups it by shop, and runs
//! each shop's group in one transaction, each write inside its own savepoint, with one
//! commit. A sale holds its shop's counter row from its number to the commit, so without
//! this one shop would record one sale per WAL flush; with it, one flush (and one lock
//! hold) covers the whole group. Shops of different lanes, and other processes, proceed
//! in parallel; each transaction locks a single shop's counters, so two processes never
//! deadlock on them. Each lane keeps a connection of its own, so that it never waits for
//! the pool behind the requests it is to serve.

use crate::db::{Conn, PgConn};
use crate::pool::Pool;
use crate::writer::{Deliver, Run, run_failed, unguarded};
use crate::StoreError;
use std::sync::{Arc, mpsc};

/// Most writes taken from a lane's queue at once.
const MAX_BATCH: usize = 256;

struct Job {
    shop_id: i64,
    run: Run,
}

/// The handles to the lanes. Dropping every handle stops the threads.
#[derive(Clone)]
pub(crate) struct PgWriters {
    lanes: Vec<mpsc::Sender<Job>>,
}

impl PgWriters {
    /// Starts `lanes` writer threads taking their connections from `pool`.
    pub(crate) fn start(pool: &Arc<Pool<PgConn>>, lanes: usize) -> PgWriters {
        let lanes = (0..lanes.max(1))
            .map(|i| {
                let (tx, rx) = mpsc::channel::<Job>();
                let pool = Arc::clone(pool);
                std::thread::Builder::new()
                    .name(format!("comptoir-pg-writer-{i}"))
                    .spawn(move || run(&pool, &rx))
                    .expect("spawn a PostgreSQL writer thread");
                tx
            })
            .collect();
        PgWriters { lanes }
    }

    /// Queues `f` for shop `shop_id`; `answer` receives its result after the commit.
    pub(crate) fn submit<T, E>(
        &self,
        shop_id: i64,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let lane = usize::try_from(shop_id.unsigned_abs() % self.lanes.len() as u64).unwrap_or(0);
        let job = Job {
            shop_id,
            run: unguarded(f, answer),
        };
        if let Err(mpsc::SendError(job)) = self.lanes[lane].send(job) {
            run_failed(
                job.run,
                &StoreError::Task("the PostgreSQL writer stopped".into()),
            );
        }
    }
}

fn run(pool: &Pool<PgConn>, rx: &mpsc::Receiver<Job>) {
    let mut conn: Option<PgConn> = None;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // One transaction per shop, in arrival order within each shop.
        while let Some(shop_id) = jobs.first().map(|j| j.shop_id) {
            let (group, rest): (Vec<Job>, Vec<Job>) =
                jobs.into_iter().partition(|j| j.shop_id == shop_id);
            jobs = rest;
            run_group(pool, &mut conn, group);
        }
    }
}

/// Runs one shop's writes in one transaction. A write that fails is rolled back to its
/// savepoint alone; a failure of the transaction itself fails every write of the group.
fn run_group(pool: &Pool<PgConn>, conn: &mut Option<PgConn>, jobs: Vec<Job>) {
    if conn.as_ref().is_none_or(PgConn::is_closed) {
        *conn = None;
        match pool.connect() {
            Ok(c) => *conn = Some(c),
            Err(e) => {
                for job in jobs {
                    run_failed(job.run, &e);
                }
                return;
            }
        }
    }
    let Some(c) = conn.as_mut() else { return };
    let mut delivers: Vec<Deliver> = Vec::with_capacity(jobs.len());
    // What closes the previous write's savepoint and opens the next one, in one round trip.
    let mut next = "begin; savepoint w";
    let mut failure: Option<StoreError> = None;
    let mut jobs = jobs.into_iter();
    for job in jobs.by_ref() {
        if let Err(e) = c.batch(next) {
            run_failed(job.run, &e);
            failure = Some(e);
            break;
        }
        next = match (job.run)(c) {
            Some(d) => {
                delivers.push(d);
                "release w; savepoint w"
            }
            None => "rollback to w; release w; savepoint w",
        };
    }
    let result = match failure {
        Some(e) => Err(e),
        None => {
            let end = if next.starts_with("release") {
                "release w; commit"
            } else {
                "rollback to w; release w; commit"
            };
            c.batch(end)
        }
    };
    if let Err(e) = &result {
        let _ = c.batch("rollback");
        for job in jobs {
            run_failed(job.run, e);
        }
    }
    for d in delivers {
        d(result.as_ref().map(|_| ()));
    }
}
