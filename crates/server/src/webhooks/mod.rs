//! Webhook delivery inside `comptoir serve`: a worker that leases due outbox events, signs
//! and posts them (SSRF-safe client, bounded concurrency), logs every attempt and follows
//! the retry schedule; and the per-event verification URL.

mod client;
mod closing;
pub mod priority;
mod verify;
mod worker;

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub(crate) use verify::router;
pub use worker::Worker;

/// How the worker runs. The defaults are the spec's; tests shorten the retry schedule.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The waits between attempts (`core::webhook::retry::SCHEDULE`).
    pub retry_schedule: Vec<Duration>,
    /// Events (and their attempts) older than this are purged.
    pub retention: Duration,
    /// Attempts in flight at once in this process, across shops.
    pub concurrency: usize,
    /// Attempts in flight at once for one shop, so a slow receiver leaves room for others.
    pub per_shop: usize,
    /// How long an answer may take.
    pub timeout: Duration,
    /// How often the outbox is looked at without a wake-up (events of other processes,
    /// retries coming due).
    pub poll: Duration,
    /// How delivery yields to the sales while they keep this process busy.
    pub yielding: Yielding,
    /// How many nice steps below the rest of the server delivery's threads run (0–19; 0:
    /// beside the sales). Only matters while the cores are all busy: the sales then get
    /// the CPU and delivery a small share ([`priority`]).
    pub nice: u8,
}

/// Sales first: while the writes waiting at the writer for their commit
/// ([`comptoir_store::Store::writes_waiting`], averaged over the last looks) reach
/// `queued` (the sales arrive faster than the writer commits them: the server is
/// saturated), the worker looks at the outbox at most every `interval` and leases at most
/// `batch` events a look, instead of at each commit. Its writes then stay a small share of
/// the writer's (at most `batch / interval` attempts a second) and the backlog goes out
/// once the rush eases, or once a look's worth of events has waited `max_lag` (then
/// delivery takes its share of a rush that lasts); nothing is dropped. Unlike the sales in
/// flight, which include the time their requests take, the writes at the writer stay few
/// at any rate it keeps up with.
#[derive(Clone, Debug)]
pub struct Yielding {
    pub queued: usize,
    pub interval: Duration,
    pub batch: usize,
    pub max_lag: Duration,
}

impl Default for Yielding {
    fn default() -> Self {
        // 12 writes at the writer on average: a steady 500–2,000 sales/s on SQLite keeps
        // a few there (a batch being written, a few queued behind it), 32 clients going
        // flat-out keep nearly all of theirs. 64 events every 250 ms (256 a second) keeps
        // delivery going meanwhile at a twentieth of the writer's flat-out rate. 10 s: the
        // first retry's wait; a rush shorter than that delays events, never stops them.
        Yielding {
            queued: 12,
            interval: Duration::from_millis(250),
            batch: 64,
            max_lag: Duration::from_secs(10),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry_schedule: comptoir_core::webhook::retry::SCHEDULE.to_vec(),
            retention: DEFAULT_RETENTION,
            concurrency: 256,
            per_shop: 16,
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(250),
            yielding: Yielding::default(),
            nice: DEFAULT_NICE,
        }
    }
}

/// Delivery runs beside the sales unless the operator lowers it: at 10 steps below, it
/// did not measurably help the sales flat-out on a machine shared with other work, and
/// there it left events seconds late at 500 sales/s (docs/performance.md).
pub const DEFAULT_NICE: u8 = 0;

/// Events are kept 30 days: well past the two days of retries, long enough to look back.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The lease on an event during an attempt: the answer's 10 s and room to record it. A
/// process killed mid-attempt leaves its events to another after this.
const LEASE: Duration = Duration::from_secs(15);

/// What a handler needs of the webhooks: wake the worker after a commit.
#[derive(Clone, Default)]
pub struct Webhooks {
    wake: Arc<Notify>,
}

impl Webhooks {
    /// Tells the worker that events were just committed: it looks at once rather than at
    /// its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
