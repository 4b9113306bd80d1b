//! PostgreSQL group commit for sales. Every write of a shop goes to the same one of a few
//! writer threads ("lanes"). A lane takes everything queued and runs all its sales, of
//! whatever shops, in one transaction with one commit; any other write runs in a
//! transaction per shop. A sale holds its shop's counter row from its number to the
//! commit, so without this one shop would record one sale per WAL flush; with it, one
//! flush (and one lock hold) covers the whole group, and many small shops share it.
//! A transaction of several shops locks their counter rows at once, in the order of their
//! ids, and every other transaction locks a single shop's, so two processes never
//! deadlock on them. Each lane keeps a connection of its own, so that it never waits for
//! the pool behind the requests it is to serve.
//!
//! A lane commits without waiting for the WAL flush (`set local synchronous_commit = off`
//! in each of its transactions), which releases the counter rows as soon as the commit
//! record is written, and hands the group's answers to the process's flusher
//! ([`Flusher`]): it forces the WAL to disk up to a record written after that commit, and
//! only then are the writes answered. An acknowledged write is as durable as before; what changes is that the
//! shop's next transaction (this lane's next group, another process's) no longer waits
//! for this one's fsync while holding the counter row, and the lane does not wait for it
//! before taking its next group.

use crate::StoreError;
use crate::db::{Backend, Committed, Conn, EachRow, PgConn, Row, Sql, Value};
use crate::lane::Lane;
pub(crate) use crate::pg_flusher::Flusher;
use crate::pool::Pool;
use crate::writer::{Deliver, Run, unguarded};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

/// Most writes taken from a lane's queue at once.
const MAX_BATCH: usize = 256;

/// How many times a sale may be handed back to its lane's queue because another
/// transaction held its shop's counter row; its next group then waits for every row.
const MAX_HANDED_BACK: u8 = 2;

struct Job {
    shop_id: i64,
    kind: JobKind,
    run: Run,
    /// When it was queued (the lanes' times, `/metrics`).
    queued: Instant,
    /// Times handed back to the queue, its shop's row held elsewhere ([`run_group`]).
    handed_back: u8,
}

/// How a lane may group a write with others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// A sale: it reads none of the rows its group's writes deferred (see
    /// [`crate::sales::Deferred`]).
    Sale,
    /// Any other write: it runs after the rows its group deferred are written.
    Other,
    /// A write tried again after its group was rolled back: in a transaction of its own,
    /// so that it neither fails for another write nor makes another fail.
    Alone,
}

/// What a write is answered when its group was rolled back before its commit, through
/// no fault of its own (or with its rows refused in the group's statement): nothing of
/// it was committed, so it may be tried again ([`rolled_back_with_its_group`]).
const ROLLED_BACK: &str = "rolled back with its group before the commit";

/// Whether `e` says the write's group was rolled back before its commit: nothing of the
/// write was committed, and it may run again, alone ([`JobKind::Alone`]).
pub(crate) fn rolled_back_with_its_group(e: &StoreError) -> bool {
    matches!(e, StoreError::Commit(m) if m.contains(ROLLED_BACK))
}

/// [`ROLLED_BACK`], with the database's own words when `cause` has them.
fn rolled_back(cause: Option<&StoreError>) -> StoreError {
    let detail = match cause {
        Some(StoreError::Postgres(e)) => e
            .as_db_error()
            .map(|d| format!(": {}", d.message()))
            .unwrap_or_else(|| format!(": {e}")),
        Some(e) => format!(": {e}"),
        None => String::new(),
    };
    StoreError::Commit(format!("{ROLLED_BACK}{detail}"))
}

/// The handles to the lanes. Dropping every handle stops the threads.
#[derive(Clone)]
pub(crate) struct PgWriters {
    lanes: Vec<mpsc::Sender<Job>>,
    flusher: Flusher,
    /// Writes queued in every lane or being written, not yet answered.
    waiting: Arc<AtomicUsize>,
}

impl PgWriters {
    /// Starts `lanes` writer threads taking their connections from `pool`.
    pub(crate) fn start(
        pool: &Arc<Pool<PgConn>>,
        lanes: usize,
        commits: &Arc<crate::CommitCounters>,
    ) -> PgWriters {
        let flusher = Flusher::start(pool, commits);
        let waiting = Arc::new(AtomicUsize::new(0));
        let lanes = (0..lanes.max(1))
            .map(|i| {
                let (tx, rx) = mpsc::channel::<Job>();
                let (pool, commits) = (Arc::clone(pool), Arc::clone(commits));
                let taken = Arc::clone(&waiting);
                let flusher = flusher.clone();
                std::thread::Builder::new()
                    .name(format!("comptoir-pg-writer-{i}"))
                    .spawn(move || run(&pool, &rx, &taken, &commits, &flusher))
                    .expect("spawn a PostgreSQL writer thread");
                tx
            })
            .collect();
        PgWriters {
            lanes,
            flusher,
            waiting,
        }
    }

    /// Calls `done` once the WAL is on disk past every commit made so far, lanes' and
    /// others' alike: for an answer read from rows a lane may have committed without its
    /// flush (an idempotent replay read on a pooled connection).
    pub(crate) fn when_flushed(&self, done: Deliver) {
        self.flusher.answer_when_flushed(vec![done]);
    }

    /// Queues `f` for shop `shop_id`; `answer` receives its result after the commit.
    pub(crate) fn submit<T, E>(
        &self,
        shop_id: i64,
        kind: JobKind,
        f: impl FnOnce(&mut dyn Conn, Lane<'_>) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let lane = usize::try_from(shop_id.unsigned_abs() % self.lanes.len() as u64).unwrap_or(0);
        let job = Job {
            shop_id,
            kind,
            run: unguarded(f, answer),
            queued: Instant::now(),
            handed_back: 0,
        };
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::SendError(job)) = self.lanes[lane].send(job) {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            job.run
                .fail(&StoreError::Task("the PostgreSQL writer stopped".into()));
        }
    }

    /// Writes queued in the lanes or being written, not yet answered (see
    /// `Writer::waiting`).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

fn run(
    pool: &Pool<PgConn>,
    rx: &mpsc::Receiver<Job>,
    waiting: &AtomicUsize,
    commits: &crate::CommitCounters,
    flusher: &Flusher,
) {
    let mut conn: Option<PgConn> = None;
    let mut state = crate::lane::LaneState::default();
    let mut queue = Queue {
        rx,
        carried: VecDeque::new(),
    };
    while let Some(first) = queue.next() {
        let mut jobs = vec![first];
        jobs.extend(queue.take(MAX_BATCH - 1));
        let mut taken = jobs.len();
        // The sales of every shop in one transaction (one commit, one WAL flush); any
        // other write in one transaction per shop, in arrival order within each shop; a
        // write tried again alone.
        let (alone, jobs): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.kind == JobKind::Alone);
        for job in alone {
            run_group(
                pool,
                &mut conn,
                &mut state,
                vec![job],
                commits,
                flusher,
                None,
            );
        }
        let (sales, mut jobs): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.kind == JobKind::Sale);
        if !sales.is_empty() {
            let late = Some(&mut queue);
            let (joined, mut held) =
                run_group(pool, &mut conn, &mut state, sales, commits, flusher, late);
            if !held.is_empty() {
                // The other writes of the shops whose sales wait for the next transaction
                // wait with them, after them: a shop's writes keep their order.
                let mut shops: Vec<i64> = held.iter().map(|j| j.shop_id).collect();
                shops.sort_unstable();
                let (later, now): (Vec<Job>, Vec<Job>) = jobs
                    .into_iter()
                    .partition(|j| shops.binary_search(&j.shop_id).is_ok());
                held.extend(later);
                jobs = now;
            }
            // Handed back: counted again when taken again.
            taken = taken + joined - held.len();
            queue.hand_back(held);
        }
        while let Some(shop_id) = jobs.first().map(|j| j.shop_id) {
            let (group, rest): (Vec<Job>, Vec<Job>) =
                jobs.into_iter().partition(|j| j.shop_id == shop_id);
            jobs = rest;
            run_group(pool, &mut conn, &mut state, group, commits, flusher, None);
        }
        waiting.fetch_sub(taken, Ordering::Relaxed);
    }
}

/// A lane's queue, and the writes taken from it for a later transaction.
struct Queue<'a> {
    rx: &'a mpsc::Receiver<Job>,
    /// Taken while a transaction was open, not for it: the next ones', first.
    carried: VecDeque<Job>,
}

impl Queue<'_> {
    /// The next write, waiting for one; `None` once every handle is dropped.
    fn next(&mut self) -> Option<Job> {
        self.carried.pop_front().or_else(|| self.rx.recv().ok())
    }

    /// Puts `jobs`, taken earlier than any write still here, back at the front, in order.
    fn hand_back(&mut self, jobs: Vec<Job>) {
        for mut j in jobs.into_iter().rev() {
            j.handed_back = j.handed_back.saturating_add(1);
            self.carried.push_front(j);
        }
    }

    /// Up to `room` writes already queued, without waiting.
    fn take(&mut self, room: usize) -> Vec<Job> {
        let from_carried = room.min(self.carried.len());
        let mut jobs: Vec<Job> = self.carried.drain(..from_carried).collect();
        while jobs.len() < room {
            match self.rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        jobs
    }

    /// The sales of `shops` (sorted) queued since the transaction that holds their counter
    /// rows began, up to `room`; the other writes taken meanwhile are carried to the next
    /// transactions, in their order.
    // Why: the lock can wait, for another process's transaction on the same shop; the
    // sales that arrive meanwhile then join this transaction rather than wait for the next
    // one (one lock, one statement and one commit for more sales). With two processes
    // selling for one shop they take its counter row in turn, and the groups, each the
    // sales that came while the other held the row, no longer halve.
    //
    // Only sales queued before `before`, when the answer of the statement that read the
    // shops' catalog versions reached the lane. Those queued while the lock waited were
    // checked before that statement's snapshot, so a sale checked from remembered rows at
    // an older version is seen to be (`sales::check_cache`); left open: one queued in the
    // few hundred µs between the snapshot and the answer. A later one waits for the next
    // transaction, with everything queued after it (reading the versions again for it
    // would cost a round trip per late batch under the counter rows: tried, −16 % to
    // −25 % on one shop).
    fn sales_of(&mut self, shops: &[i64], room: usize, before: Instant) -> Vec<Job> {
        let mut joining = Vec::new();
        while joining.len() < room {
            let Ok(j) = self.rx.try_recv() else { break };
            if j.queued >= before {
                self.carried.push_back(j);
                break;
            }
            if j.kind == JobKind::Sale && shops.binary_search(&j.shop_id).is_ok() {
                joining.push(j);
            } else {
                self.carried.push_back(j);
            }
        }
        joining
    }
}

/// Runs writes in one transaction: one shop's, or sales of any number of shops, whose
/// counter rows the transaction then locks all at once, in the order of their ids, before
/// the first sale runs ([`crate::lane::LaneState::lock_shops`]), so that two processes
/// never deadlock on them. Without savepoints (a round trip each): a write that failed
/// without writing leaves the transaction as it was. One that failed
/// after writing (or deferring rows), or left the transaction failed, rolls the group
/// back: the group's earlier writes are answered [`ROLLED_BACK`], and the rest run in a
/// new transaction. The rows the writes deferred are written by one statement before
/// the commit, and before any write that is not a sale; should that statement fail,
/// every write it carried is answered [`ROLLED_BACK`]. The sales endpoints try such a
/// write once more, alone (`Store::write_order`).
///
/// With `late`, a group of sales takes in the sales of its shops queued while it runs,
/// before its statement, if queued before it read its shops' catalog versions
/// ([`Queue::sales_of`]). Such a group, of several shops, skips the counter rows that another
/// transaction holds (another process's lane), and gives their sales back, for the
/// lane's next transaction; it waits for them only when it could lock none, or once one
/// of its sales was handed back [`MAX_HANDED_BACK`] times. Returns how many sales it took
/// in, and the sales it gives back, in their order.
// Why: two processes selling for the same many shops each lock most of them in every
// transaction; waiting for every row, each process's transaction waited for the other's
// (100 shops, two processes: 3.5–4.5 ms of a 7–8 ms transaction spent in the lock).
fn run_group(
    pool: &Pool<PgConn>,
    conn: &mut Option<PgConn>,
    state: &mut crate::lane::LaneState,
    jobs: Vec<Job>,
    commits: &crate::CommitCounters,
    flusher: &Flusher,
    mut late: Option<&mut Queue<'_>>,
) -> (usize, Vec<Job>) {
    // Held counters belong to one transaction.
    state.clear_counters();
    let started = Instant::now();
    let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let mut times = crate::LaneTimes {
        transactions: 1,
        queued_micros: jobs
            .iter()
            .map(|j| micros(started.saturating_duration_since(j.queued)))
            .sum(),
        ..crate::LaneTimes::default()
    };
    // Sales alone: their shops' counter rows, locked up front in id order.
    let mut shops: Vec<i64> = Vec::new();
    if jobs.iter().all(|j| j.kind == JobKind::Sale) {
        shops = jobs.iter().map(|j| j.shop_id).collect();
        shops.sort_unstable();
        shops.dedup();
    }
    let mut delivers: Vec<Deliver> = Vec::with_capacity(jobs.len());
    // Whether `conn` is inside this group's transaction.
    let mut open = false;
    let skip_held =
        late.is_some() && shops.len() > 1 && jobs.iter().all(|j| j.handed_back < MAX_HANDED_BACK);
    let (mut jobs, mut joined, mut held_back) = (VecDeque::from(jobs), 0, Vec::new());
    loop {
        if jobs.is_empty()
            && open
            && !shops.is_empty()
            && let Some(queue) = late.as_deref_mut()
            && let Some(before) = state.versions_read_at()
        {
            let more = queue.sales_of(&shops, MAX_BATCH.saturating_sub(delivers.len()), before);
            let now = Instant::now();
            for j in &more {
                times.queued_micros += micros(now.saturating_duration_since(j.queued));
            }
            joined += more.len();
            jobs.extend(more);
        }
        let Some(job) = jobs.pop_front() else { break };
        if open
            && job.kind == JobKind::Other
            && state.deferred().writes() > 0
            && let Some(c) = conn.as_mut()
            && let Err(e) = state.deferred().flush(c)
        {
            abort(c, state, &mut delivers, &rolled_back(Some(&e)));
            open = false;
        }
        if !open {
            let t = Instant::now();
            let begun = begin(pool, conn, state, &shops, skip_held);
            times.lock_micros += micros(t.elapsed());
            let locked = match begun {
                Ok(locked) => locked,
                Err(e) => {
                    job.run.fail(&e);
                    continue;
                }
            };
            if skip_held && locked.len() < shops.len() {
                // The sales of the shops held elsewhere wait for the next transaction.
                jobs.push_front(job);
                let (mine, held): (VecDeque<Job>, VecDeque<Job>) = jobs
                    .into_iter()
                    .partition(|j| locked.binary_search(&j.shop_id).is_ok());
                held_back.extend(held);
                (jobs, shops) = (mine, locked);
                open = true;
                continue;
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        open = true;
        let deferred_before = state.deferred().writes();
        let mut tracked = Tracked { c, wrote: false };
        // A panicking write must not take the lane down with it; what it wrote is undone.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job.run.run(&mut tracked, Some(&mut *state))
        }));
        let failed = match ran {
            Ok(Some(d)) => {
                delivers.push(d);
                false
            }
            // The probe fails in a failed transaction ("current transaction is aborted"),
            // whose commit would silently roll back.
            Ok(None) => {
                tracked.wrote
                    || state.deferred().writes() != deferred_before
                    || tracked.c.batch("select 1").is_err()
            }
            Err(_) => {
                tracing::error!("a write panicked in a PostgreSQL writer lane");
                true
            }
        };
        // A connection lost mid-group took the group's transaction with it.
        if failed || tracked.c.is_closed() {
            abort(tracked.c, state, &mut delivers, &rolled_back(None));
            open = false;
        }
    }
    if !open {
        return (joined, held_back);
    }
    let Some(c) = conn.as_mut() else {
        return (joined, held_back);
    };
    // A failed commit may have committed all the same (the connection lost on the way):
    // only a failed statement before it is known to leave nothing.
    let t = Instant::now();
    // The group's statement and the commit in one round trip: the counter rows are
    // held one round trip less.
    let result = match state.deferred().take_statement() {
        None => c.batch("commit"),
        Some((sql, values)) => match c.execute_then_commit(&sql, &values) {
            Committed::Yes => Ok(()),
            Committed::NotBeforeItsStatementFailed(e) => Err(rolled_back(Some(&e))),
            Committed::Unknown(e) => Err(e),
        },
    };
    times.commit_micros = micros(t.elapsed());
    if let Err(e) = result {
        let _ = c.batch("rollback");
        state.rolled_back();
        for d in delivers {
            d(Err(&e));
        }
        return (joined, held_back);
    }
    state.committed();
    commits.record(delivers.len());
    times.run_micros = micros(started.elapsed()) * delivers.len() as u64;
    commits.record_lane(&times);
    // Committed, the counter rows released; answered once on disk.
    flusher.answer_when_flushed(delivers);
    (joined, held_back)
}

/// Rolls the group's transaction back and fails the writes it carried with `e`.
fn abort(
    c: &mut PgConn,
    state: &mut crate::lane::LaneState,
    delivers: &mut Vec<Deliver>,
    e: &StoreError,
) {
    let _ = c.batch("rollback");
    state.rolled_back();
    for d in delivers.drain(..) {
        d(Err(e));
    }
}

/// How a lane's transaction starts, in one round trip, with two settings for the
/// transaction only (`set local`: nothing outlives it, as PgBouncer's transaction mode
/// needs, where the next transaction may run on another server connection):
///
/// - its commit does not wait for the WAL flush, which the [`Flusher`] waits for before
///   the writes are answered; the counter rows are released meanwhile;
/// - no sequential scans. A lane's statements, and the foreign-key checks their rows
///   fire, look rows up by key. On a table of a page or two (a new shop's first orders)
///   the planner prefers reading it whole, and PostgreSQL keeps a foreign-key check's
///   plan until the next ANALYZE of the table: until then every check reads every row
///   (measured in the sales benchmark on a new shop: 145 µs a check at ~1,500 orders, six
///   checks into `orders` per sale). Without sequential scans the key's index is used
///   whatever the table's size. (A lookup without an index of its own, a refund's
///   balance by `refund_of`, reads the shop's orders through an index leading with
///   `shop_id`.)
const BEGIN: &str = "begin; set local synchronous_commit = off; set local enable_seqscan = off";

/// Opens a transaction on the lane's connection and locks the counter rows of `shops`
/// (if any) in it, with `skip_held` those no other transaction holds (waiting for all
/// when every one is held); the transaction is rolled back when the locks fail.
/// Returns the shops locked.
fn begin(
    pool: &Pool<PgConn>,
    conn: &mut Option<PgConn>,
    state: &mut crate::lane::LaneState,
    shops: &[i64],
    skip_held: bool,
) -> Result<Vec<i64>, StoreError> {
    begin_transaction(pool, conn)?;
    if shops.is_empty() {
        return Ok(Vec::new());
    }
    let Some(c) = conn.as_mut() else {
        return Err(StoreError::Task("no lane connection".into()));
    };
    let mut locked = state.lock_shops(c, shops, skip_held);
    if locked.as_ref().is_ok_and(Vec::is_empty) {
        locked = state.lock_shops(c, shops, false);
    }
    if locked.is_err() {
        let _ = c.batch("rollback");
        state.rolled_back();
    }
    locked
}

/// Opens a transaction on the lane's connection, connecting first if it has none or it
/// broke; a connection that went stale while idle gets one more try on a fresh one.
fn begin_transaction(pool: &Pool<PgConn>, conn: &mut Option<PgConn>) -> Result<(), StoreError> {
    let mut tries = 0;
    loop {
        tries += 1;
        if conn.as_ref().is_none_or(PgConn::is_closed) {
            *conn = None;
            *conn = Some(pool.connect()?);
        }
        let Some(c) = conn.as_mut() else { continue };
        match c.batch(BEGIN) {
            Ok(()) => return Ok(()),
            Err(e) if tries >= 2 || !c.is_closed() => return Err(e),
            Err(_) => {}
        }
    }
}

/// A connection that notes whether a statement other than a `select` ran on it.
struct Tracked<'a> {
    c: &'a mut PgConn,
    wrote: bool,
}

impl Tracked<'_> {
    fn note(&mut self, sql: &str) {
        let head = sql.trim_start().get(..6).unwrap_or("");
        if !head.eq_ignore_ascii_case("select") {
            self.wrote = true;
        }
    }
}

impl Conn for Tracked<'_> {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.note(sql);
        self.c.execute(sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.note(sql);
        self.c.query(sql, params)
    }
    fn query_each(&mut self, sql: &str, params: &[Value], f: &mut EachRow<'_>) -> Sql<()> {
        self.note(sql);
        self.c.query_each(sql, params, f)
    }
    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.wrote = true;
        self.c.batch(sql)
    }
    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, StoreError> {
        self.wrote = true;
        self.c.insert_id(sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;
    use std::sync::mpsc::channel;

    /// A job answering on `tx` with whether it succeeded, once its group is known.
    fn job(
        tx: &mpsc::Sender<(i64, bool)>,
        i: i64,
        f: impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> + Send + 'static,
    ) -> Job {
        let tx = tx.clone();
        answering(f, move |r| {
            let _ = tx.send((i, r.is_ok()));
        })
    }

    /// A write of shop 1 (no counter row to lock in the tests' schemas: as a shop's other
    /// writes) running `f` and handing its result to `answer`.
    fn answering(
        f: impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> + Send + 'static,
        answer: impl FnOnce(Result<(), StoreError>) + Send + 'static,
    ) -> Job {
        Job {
            shop_id: 1,
            kind: JobKind::Other,
            queued: Instant::now(),
            handed_back: 0,
            run: unguarded(move |c: &mut dyn Conn, _: Lane<'_>| f(c), answer),
        }
    }

    /// A schema of its own with table `t`, a pool of one connection into it, and an admin
    /// connection; `None` (skipping) without `COMPTOIR_TEST_POSTGRES`.
    fn schema_with_t() -> Option<(String, Pool<PgConn>, PgConn)> {
        let url = crate::test_postgres_url()?;
        let schema = format!("pgw_{}", crate::hex(&crate::random_bytes::<6>()));
        let config: postgres::Config = url.parse().unwrap();
        let connect = {
            let mut config = config.clone();
            config.options(&format!("-csearch_path={schema}"));
            move || -> Result<PgConn, StoreError> {
                Ok(PgConn::new(
                    config
                        .connect(postgres::NoTls)
                        .map_err(|e| StoreError::Open(e.to_string()))?,
                ))
            }
        };
        let mut admin = PgConn::new(config.connect(postgres::NoTls).unwrap());
        admin
            .batch(&format!(
                "create schema {schema}; create table {schema}.t (id bigint primary key)"
            ))
            .unwrap();
        Some((schema, Pool::new(1, Box::new(connect)), admin))
    }

    fn insert(i: i64) -> impl FnOnce(&mut dyn Conn) -> Result<(), StoreError> {
        move |c: &mut dyn Conn| {
            c.execute("insert into t (id) values ($1)", params![i])
                .map(|_| ())
        }
    }

    #[test]
    fn a_statement_error_last_in_a_group_fails_the_group_instead_of_a_silent_rollback() {
        let Some((schema, pool, mut admin)) = schema_with_t() else {
            return;
        };
        let mut conn = None;
        let (tx, rx) = channel();
        let counters = crate::CommitCounters::default();
        let mut state = crate::lane::LaneState::default();
        let pool = Arc::new(pool);
        let counters = Arc::new(counters);
        let flusher = Flusher::start(&pool, &counters);
        let mut group = |jobs: Vec<Job>| {
            run_group(
                &pool, &mut conn, &mut state, jobs, &counters, &flusher, None,
            )
        };
        // Ok, then a failed statement that writes nothing, last of its group.
        group(vec![
            job(&tx, 1, insert(1)),
            job(&tx, 2, |c| {
                c.query("select nothing from no_such_table", &[])
                    .map(|_| ())
            }),
        ]);
        // A clean refusal leaves its group alone.
        group(vec![
            job(&tx, 3, insert(3)),
            job(&tx, 4, |_| Err(StoreError::Invalid("refused".into()))),
            job(&tx, 5, insert(5)),
        ]);
        drop(tx);
        let mut answers: Vec<(i64, bool)> = rx.iter().collect();
        answers.sort_unstable();
        assert_eq!(
            answers,
            vec![(1, false), (2, false), (3, true), (4, false), (5, true)]
        );
        let stored: Vec<i64> = admin
            .query(&format!("select id from {schema}.t order by id"), &[])
            .unwrap()
            .iter()
            .map(|r| r.i64(0).unwrap())
            .collect();
        assert_eq!(stored, vec![3, 5]);
        // One commit, of the second group's two writes; the first group committed nothing.
        assert_eq!(
            counters.stats(),
            crate::CommitStats {
                writes: 2,
                commits: 1
            }
        );
        admin
            .batch(&format!("drop schema {schema} cascade"))
            .unwrap();
    }

    /// A lane's group is committed (its rows visible, its locks released) before the
    /// flusher's flush, and answered only after it; a flush that fails answers an error
    /// saying the write was committed, and the rows stay.
    #[test]
    fn a_group_is_answered_once_flushed_after_its_commit() {
        let Some((schema, pool, mut admin)) = schema_with_t() else {
            return;
        };
        let (pool, counters) = (Arc::new(pool), Arc::new(crate::CommitCounters::default()));
        let slow = Flusher::start_with(
            &pool,
            &counters,
            "select pg_sleep(1.5), pg_logical_emit_message(true, 'comptoir', 'flush')",
        );
        let failing = Flusher::start_with(&pool, &counters, "select nothing from no_such_table");
        let (mut conn, mut state) = (None, crate::lane::LaneState::default());
        let (tx, rx) = channel::<(i64, Result<(), String>)>();
        let job = |i: i64| {
            let tx = tx.clone();
            answering(insert(i), move |r| {
                let _ = tx.send((i, r.map_err(|e| e.to_string())));
            })
        };
        let mut stored = || -> Vec<i64> {
            admin
                .query(&format!("select id from {schema}.t order by id"), &[])
                .unwrap()
                .iter()
                .map(|r| r.i64(0).unwrap())
                .collect()
        };
        let t0 = Instant::now();
        run_group(
            &pool,
            &mut conn,
            &mut state,
            vec![job(1)],
            &counters,
            &slow,
            None,
        );
        assert_eq!(stored(), vec![1], "committed before its flush");
        assert!(rx.try_recv().is_err(), "answered before its flush");
        let (i, answer) = rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
        assert_eq!((i, answer), (1, Ok(())));
        assert!(t0.elapsed() >= std::time::Duration::from_millis(1500));
        let flushed = counters.lane_times();
        assert!(flushed.flush_micros >= 1_500_000, "{flushed:?}");

        run_group(
            &pool,
            &mut conn,
            &mut state,
            vec![job(2)],
            &counters,
            &failing,
            None,
        );
        let (i, answer) = rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
        assert_eq!(i, 2);
        let e = answer.unwrap_err();
        assert!(e.contains("committed, but not known to be on disk"), "{e}");
        assert_eq!(stored(), vec![1, 2]);
        admin
            .batch(&format!("drop schema {schema} cascade"))
            .unwrap();
    }
}
