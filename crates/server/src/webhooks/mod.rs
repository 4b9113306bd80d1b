//! Webhook delivery inside `comptoir serve`: a worker that leases due outbox events, signs
//! and posts them (SSRF-safe client, bounded concurrency), logs every attempt and follows
//! the retry schedule; and the per-event verification URL.

mod client;
mod closing;
pub mod priority;
mod verify;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Sales first: while at least `sales` sales are being recorded at once in this process
/// (the server is saturated with them), the worker looks at the outbox at most every
/// `interval` and leases at most `batch` events a look, instead of at each commit. Its
/// cost then stays a small share of the machine (at most `batch / interval` attempts a
/// second) and the backlog goes out once the rush eases; nothing is dropped.
#[derive(Clone, Debug)]
pub struct Yielding {
    pub sales: usize,
    pub interval: Duration,
    pub batch: usize,
}

impl Default for Yielding {
    fn default() -> Self {
        // 16 sales at once is far above a steady 2,000 sales/s on SQLite (a few in
        // flight) and below what a saturating load keeps waiting. 64 events every 25 ms
        // is 2,560/s: well above the events of a busy shop's steady rate, so a backlog
        // cannot grow for ever while a slower backend keeps sales in flight.
        Yielding {
            sales: 16,
            interval: Duration::from_millis(25),
            batch: 64,
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

/// What a handler needs of the webhooks: wake the worker after a commit, and say when a
/// sale is being recorded.
#[derive(Clone, Default)]
pub struct Webhooks {
    wake: Arc<Notify>,
    /// Sales being recorded now, for [`Yielding`].
    recording: Arc<AtomicUsize>,
}

/// A sale being recorded, counted until dropped.
pub struct Recording(Arc<AtomicUsize>);

impl Drop for Recording {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Webhooks {
    /// Counts a sale as being recorded until the guard drops: the worker yields to the
    /// sales while many are ([`Yielding`]).
    pub fn recording(&self) -> Recording {
        self.recording.fetch_add(1, Ordering::Relaxed);
        Recording(Arc::clone(&self.recording))
    }

    /// Tells the worker that events were just committed: it looks at once rather than at
    /// its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
