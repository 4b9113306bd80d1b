//! The delivery worker: leases due events (woken on commit, else on a short poll), runs
//! each attempt as a task (at most `concurrency` in all and `per_shop` per shop, so memory
//! stays bounded whatever the backlog), records the answer and the next try.

use super::{LEASE, Settings, client};
use crate::AppState;
use crate::metrics::Metrics;
use comptoir_core::webhook::{self, EventMeta, EventType, Format, retry, signature};
use comptoir_store::webhooks::{
    self as store_wh, Attempt, Claimed, Due, Endpoint, Frozen, Outcome, Room,
};
use comptoir_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

/// Most events leased in one claim.
const CLAIM_BATCH: usize = 64;
/// Least time between two looks at the outbox: under load, every sale and every answer
/// wakes the worker; gathering them for a few milliseconds makes one look serve many
/// events instead of one each (a look costs a read and a write whatever it finds).
const MIN_LOOK_INTERVAL: Duration = Duration::from_millis(5);
/// The first bytes of an answer that are logged.
const ANSWER_BYTES: usize = 1024;

struct Inner {
    store: Store,
    metrics: Metrics,
    base_url: Arc<str>,
    allow_private: bool,
    settings: Settings,
    wake: Arc<Notify>,
    http: reqwest::Client,
    /// Attempts in flight in this process, by shop.
    in_flight: Mutex<HashMap<i64, usize>>,
    /// Finished attempts, recorded in batches by the next look ([`claim`]).
    results: mpsc::Sender<Finished>,
}

/// A finished attempt waiting to be recorded.
type Finished = (Claimed, Attempt, Outcome);

/// An event leased for an attempt, with its frozen body and the shop's settings.
struct Job {
    event: Claimed,
    frozen: Frozen,
    endpoint: Endpoint,
}

/// The running worker; [`Worker::stop`] ends it.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Delivery's own runtime, its threads below the sales ([`super::priority`]); `None`
    /// if it could not be built (delivery then runs on the server's runtime).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Worker {
    /// Starts the worker (and its housekeeping: pending gauge, purge) for `state`.
    pub fn start(state: &AppState) -> Worker {
        let settings = state.config.webhooks.clone();
        let allow_private = state.config.webhook_allow_private;
        let http = client::build(allow_private, settings.timeout, settings.per_shop)
            .unwrap_or_else(|e| {
                // Building fails only when TLS cannot initialise: attempts then fail and log it.
                tracing::error!(error = %e, "webhook client");
                reqwest::Client::new()
            });
        let (results, finished) = mpsc::channel(4096);
        let inner = Arc::new(Inner {
            store: state.store.clone(),
            metrics: state.metrics.clone(),
            base_url: state.base_url.clone(),
            allow_private,
            settings,
            wake: state.webhooks.wake.clone(),
            http,
            in_flight: Mutex::new(HashMap::new()),
            results,
        });
        let (stop, rx) = watch::channel(false);
        let runtime = super::priority::runtime(inner.settings.nice)
            .inspect_err(|e| tracing::error!(error = %e, "webhooks: cannot start their runtime"))
            .ok();
        let task = match &runtime {
            Some(rt) => rt.spawn(run(inner, finished, rx)),
            None => tokio::spawn(run(inner, finished, rx)),
        };
        Worker {
            stop,
            task,
            runtime,
        }
    }

    /// Stops claiming, gives attempts in flight a moment, and abandons the rest: their
    /// leases run out and another process (or this one, restarted) tries them again.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which an async caller may not do.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn run(
    inner: Arc<Inner>,
    mut finished: mpsc::Receiver<Finished>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    let housekeeping = tokio::spawn(housekeeping(Arc::clone(&inner), stop.clone()));
    let mut last_look: Option<Instant> = None;
    let mut pressure = Pressure::default();
    loop {
        // While the sales saturate the writer, wait out the longer interval, checking
        // every PROBE whether they still do.
        let batch = loop {
            let (interval, batch) = pace(&inner, &mut pressure);
            match last_look.and_then(|t| interval.checked_sub(t.elapsed())) {
                Some(wait) if !wait.is_zero() => tokio::time::sleep(wait.min(PROBE)).await,
                _ => break batch,
            }
        };
        last_look = Some(Instant::now());
        // Every attempt reaped here has queued its result: the look records it.
        while tasks.try_join_next().is_some() {}
        let done = take(&mut finished, RECORD_BATCH);
        let mut more = done.len() >= RECORD_BATCH;
        let free = inner.settings.concurrency.saturating_sub(tasks.len());
        let limit = free.min(batch);
        if limit > 0 || !done.is_empty() {
            match claim(&inner, limit, done).await {
                Ok((jobs, full)) => {
                    more |= full && tasks.len() + jobs.len() < inner.settings.concurrency;
                    pressure.leased(&jobs, limit, inner.settings.yielding.max_lag);
                    for job in jobs {
                        tasks.spawn(attempt(Arc::clone(&inner), job));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhooks: cannot claim events"),
            }
        }
        if more {
            continue;
        }
        tokio::select! {
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(inner.settings.poll) => {}
            // A finished attempt frees a slot, and may let its order's `terminated` go.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    let grace = tokio::time::sleep(Duration::from_secs(2));
    tokio::pin!(grace);
    while !tasks.is_empty() {
        tokio::select! {
            _ = tasks.join_next() => {}
            () = &mut grace => break,
        }
    }
    tasks.abort_all();
    housekeeping.abort();
    // What the attempts finished meanwhile, recorded (those aborted run out their leases).
    loop {
        let done = take(&mut finished, RECORD_BATCH);
        if done.is_empty() {
            break;
        }
        let n = done.len();
        let recorded = inner
            .store
            .write_aside_autocommit(move |c| store_wh::record_many(c, &done))
            .await;
        recorded_report(n, recorded);
    }
}

/// Most finished attempts a look records.
const RECORD_BATCH: usize = 256;

/// Up to `most` finished attempts waiting to be recorded.
fn take(finished: &mut mpsc::Receiver<Finished>, most: usize) -> Vec<Finished> {
    let mut done = Vec::new();
    while done.len() < most {
        match finished.try_recv() {
            Ok(f) => done.push(f),
            Err(_) => break,
        }
    }
    done
}

/// Says what did not go as planned in recording `n` attempts.
fn recorded_report(n: usize, recorded: Result<usize, StoreError>) {
    match recorded {
        Ok(logged) if logged < n => {
            // Events purged while being attempted: nothing left to log them against.
            tracing::warn!(
                attempts = n,
                logged,
                "webhooks: some attempts were not logged"
            );
        }
        Ok(_) => {}
        // Their leases run out and the events are tried again: at least once.
        Err(e) => tracing::warn!(error = %e, attempts = n, "webhooks: cannot record attempts"),
    }
}

/// How often, while delivery stands aside, the worker checks whether the sales still
/// saturate the writer: it comes back within a few of these of their rush ending.
const PROBE: Duration = Duration::from_millis(10);
/// Weight of the newest sample of the writer's writes in [`Pressure`]'s average: about
/// the last ten samples count (50–100 ms), so a single burst does not make delivery yield.
const SMOOTHING: f64 = 0.2;

/// Whether the sales saturate the writer: the writes waiting there for their commit
/// ([`Store::writes_waiting`]), averaged over the last samples. It yields from when the
/// average reaches [`super::Yielding::queued`] until it falls below a quarter of it, so
/// that the dips between a saturated writer's batches do not end it.
#[derive(Default)]
struct Pressure {
    average: f64,
    saturated: bool,
    /// The last look leased as many events as it could, all of them waiting for their
    /// first attempt longer than [`super::Yielding::max_lag`]: a rush that lasts is then
    /// shared with delivery rather than left to pile up behind it.
    behind: bool,
}

impl Pressure {
    fn sample(&mut self, waiting: usize, threshold: usize) -> bool {
        self.average += (waiting as f64 - self.average) * SMOOTHING;
        let threshold = threshold as f64;
        if self.average >= threshold {
            self.saturated = true;
        } else if self.average < threshold / 4.0 {
            self.saturated = false;
        }
        self.saturated
    }

    /// After a look that leased `leased` of at most `limit` events: whether delivery is
    /// behind by more than `max_lag` (first attempts only: a retry's creation is older
    /// by design).
    fn leased(&mut self, leased: &[Job], limit: usize, max_lag: Duration) {
        let cutoff =
            comptoir_store::now_micros() - i64::try_from(max_lag.as_micros()).unwrap_or(i64::MAX);
        self.behind = leased.len() >= limit
            && leased
                .iter()
                .filter(|j| j.event.attempt == 1)
                .map(|j| j.event.created_at)
                .max()
                .is_some_and(|newest| newest < cutoff);
    }
}

/// The least time between two looks at the outbox and the most events a look leases:
/// ordinary, or standing aside while the sales saturate the writer (and delivery is not
/// yet `max_lag` behind).
fn pace(inner: &Inner, pressure: &mut Pressure) -> (Duration, usize) {
    let y = &inner.settings.yielding;
    if pressure.sample(inner.store.writes_waiting(), y.queued) && !pressure.behind {
        (y.interval, y.batch.max(1))
    } else {
        (MIN_LOOK_INTERVAL, CLAIM_BATCH)
    }
}

/// Records the attempts finished since the last look (`done`), then leases what is due
/// within the per-shop room, in one write; then makes the body of each event's first
/// attempt and keeps it before anything is sent; whether the lease was full (more may be
/// due). Per look: the records and the lease (one write, one statement each on
/// PostgreSQL), one read (each shop's settings and record, then the orders of all the new
/// events with their lines and payments in three statements on PostgreSQL, whatever their
/// number; an order read once for both its events) and, when there are new events, their
/// bodies kept (one statement); the writes beside the sales (they change nothing the
/// sales remember), without a transaction of their own on PostgreSQL.
async fn claim(
    inner: &Arc<Inner>,
    limit: usize,
    done: Vec<Finished>,
) -> Result<(Vec<Job>, bool), StoreError> {
    let now = comptoir_store::now_micros();
    let lease_until = now + i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX);
    let room = Room {
        limit: i64::try_from(limit).unwrap_or(i64::MAX),
        per_shop: i64::try_from(inner.settings.per_shop).unwrap_or(i64::MAX),
        busy: inner
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(shop, n)| (*shop, i64::try_from(*n).unwrap_or(i64::MAX)))
            .collect(),
    };
    let n = done.len();
    let (recorded, claimed) = inner
        .store
        .write_aside_autocommit(move |c| {
            // The records first: a `validated` recorded here lets its `terminated` be
            // leased by the same write. Each statement stands alone (one per attempt or
            // per lease on SQLite, one for all on PostgreSQL), so a failed lease keeps the
            // records, and a failed record does not stop the lease.
            let recorded = if done.is_empty() {
                Ok(0)
            } else {
                store_wh::record_many(c, &done)
            };
            let claimed = if room.limit == 0 {
                Ok(Vec::new())
            } else {
                store_wh::lease_due(c, now, lease_until, &room)
            };
            Ok::<_, StoreError>((recorded, claimed))
        })
        .await?;
    if n > 0 {
        recorded_report(n, recorded);
    }
    let claimed = claimed?;
    let full = limit > 0 && claimed.len() >= limit;
    if claimed.is_empty() {
        return Ok((Vec::new(), false));
    }
    {
        let mut busy = inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for e in &claimed {
            *busy.entry(e.shop_id).or_default() += 1;
        }
    }
    let base_url = inner.base_url.clone();
    let due: Vec<Due> = claimed.iter().map(Claimed::due).collect();
    let made = inner
        .store
        .read(move |c| {
            let mut endpoints: HashMap<i64, Endpoint> = HashMap::new();
            for d in &due {
                if !endpoints.contains_key(&d.shop_id)
                    && let Some(e) = store_wh::endpoint(c, d.shop_id)?
                {
                    endpoints.insert(d.shop_id, e);
                }
            }
            // The orders of every new order event at once: a look's reads do not grow
            // with its events (an order is read once for both its events).
            let orders: Vec<(i64, i64)> = due
                .iter()
                .filter(|d| {
                    !d.frozen
                        && d.event_type != EventType::Closing.as_str()
                        && endpoints.contains_key(&d.shop_id)
                })
                .map(|d| (d.shop_id, d.order_id))
                .collect();
            let subjects = if orders.is_empty() {
                HashMap::new()
            } else {
                store_wh::event_subjects(c, &orders)?
            };
            let mut bodies = Vec::new();
            let mut errors = HashMap::new();
            for d in &due {
                let body = match endpoints.get(&d.shop_id) {
                    Some(endpoint) if !d.frozen && d.event_type == EventType::Closing.as_str() => {
                        super::closing::body(c, &base_url, d, &endpoint.format)?.map(Some)
                    }
                    Some(endpoint) if !d.frozen => match subjects.get(&(d.shop_id, d.order_id)) {
                        Some((shop, order, client)) => {
                            make_body(&base_url, d, &endpoint.format, shop, order, client.as_ref())
                        }
                        None => Err(format!("order {} is gone", d.order_id)),
                    },
                    _ => Ok(None),
                };
                match body {
                    Ok(Some(body)) => bodies.push((d.key(), body)),
                    Ok(None) => {}
                    Err(why) => {
                        errors.insert(d.key(), why);
                    }
                }
            }
            Ok::<_, StoreError>((endpoints, bodies, errors))
        })
        .await;
    let kept = match made {
        Ok((endpoints, bodies, errors)) if bodies.is_empty() => Ok((endpoints, Vec::new(), errors)),
        Ok((endpoints, bodies, errors)) => inner
            .store
            .write_aside_autocommit(move |c| store_wh::keep_bodies(c, &bodies))
            .await
            .map(|kept| (endpoints, kept, errors)),
        Err(e) => Err(e),
    };
    let (endpoints, kept, mut errors) = match kept {
        Ok(k) => k,
        Err(e) => {
            // Nothing was sent: the leases run out and the events are tried again.
            for e in &claimed {
                free_slot(inner, e.shop_id);
            }
            return Err(e);
        }
    };
    let mut kept: HashMap<(i64, i64), Frozen> = kept.into_iter().collect();
    let mut jobs = Vec::with_capacity(claimed.len());
    for e in claimed {
        let why = errors.remove(&e.key());
        let frozen = e.frozen.clone().or_else(|| kept.remove(&e.key()));
        match (frozen, endpoints.get(&e.shop_id), why) {
            (Some(frozen), Some(endpoint), None) => jobs.push(Job {
                event: e,
                frozen,
                endpoint: endpoint.clone(),
            }),
            (_, _, why) => {
                // Nothing to send: logged as a failed attempt, on the schedule.
                let why = why.unwrap_or_else(|| "the shop has no webhook settings".into());
                finish(inner, e, Err(why));
            }
        }
    }
    Ok((jobs, full))
}

/// One attempt of one event: send, then queue the result for the next look to record.
async fn attempt(inner: Arc<Inner>, job: Job) {
    let sent = send(&inner, &job).await;
    finish(&inner, job.event, sent);
}

/// Decides what an attempt led to, counts it, queues it for recording and frees the
/// shop's slot.
fn finish(inner: &Inner, event: Claimed, sent: Result<Sent, String>) {
    let at = comptoir_store::now_micros();
    let (result, status, error, answer, latency) = match sent {
        Ok(sent) => (
            sent.status.is_some_and(|s| (200..300).contains(&s)),
            sent.status,
            sent.error,
            sent.answer,
            sent.latency,
        ),
        Err(e) => (false, None, Some(e), String::new(), Duration::ZERO),
    };
    let outcome = if result {
        Outcome::Delivered
    } else {
        let failed = u32::try_from(event.failures + 1).unwrap_or(u32::MAX);
        match retry::next_delay(&inner.settings.retry_schedule, failed, unit()) {
            Some(wait) => Outcome::RetryAt(
                comptoir_store::now_micros() + i64::try_from(wait.as_micros()).unwrap_or(i64::MAX),
            ),
            None => Outcome::Failed,
        }
    };
    let logged = Attempt {
        attempt: event.attempt,
        at: at - i64::try_from(latency.as_micros()).unwrap_or(0),
        status: status.map(i64::from),
        latency_micros: i64::try_from(latency.as_micros()).unwrap_or(i64::MAX),
        error,
        answer,
    };
    inner.metrics.observe_seconds(
        "comptoir_webhook_attempt_duration_seconds",
        "Time from sending a webhook to its answer (or failure).",
        latency.as_secs_f64(),
    );
    inner.metrics.inc(
        "comptoir_webhook_attempts_total",
        if result {
            "result=\"ok\""
        } else {
            "result=\"failed\""
        },
    );
    match outcome {
        Outcome::Delivered => inner
            .metrics
            .inc("comptoir_webhook_events_total", "outcome=\"delivered\""),
        Outcome::Failed => inner
            .metrics
            .inc("comptoir_webhook_events_total", "outcome=\"failed\""),
        Outcome::RetryAt(_) => {}
    }
    let shop_id = event.shop_id;
    if inner.results.try_send((event, logged, outcome)).is_err() {
        // The looks are far behind recording, or the worker is gone: the lease runs out
        // and the event is tried again (at least once).
        tracing::warn!(
            shop = shop_id,
            "webhooks: an attempt could not be queued for recording"
        );
    }
    free_slot(inner, shop_id);
}

/// One attempt of `shop_id` fewer in flight.
fn free_slot(inner: &Inner, shop_id: i64) {
    let mut busy = inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = busy.get_mut(&shop_id) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            busy.remove(&shop_id);
        }
    }
}

/// What came back from the receiver.
struct Sent {
    status: Option<u16>,
    error: Option<String>,
    answer: String,
    latency: Duration,
}

/// Checks the URL, signs and posts. `Err` for what went wrong before anything was sent.
async fn send(inner: &Arc<Inner>, job: &Job) -> Result<Sent, String> {
    let (event, endpoint) = (&job.event, &job.endpoint);
    let frozen = job.frozen.clone();
    let url = endpoint
        .url
        .clone()
        .ok_or_else(|| "webhooks were turned off".to_string())?;
    let target = client::check(&url, inner.allow_private)?;
    let format = Format::parse(&frozen.format).unwrap_or_default();
    let id = webhook::event_id(event.shop_id, event.id);
    let now_secs = jiff::Timestamp::now().as_second();
    let mut keys =
        vec![signature::Secret::parse(&endpoint.secret).map_err(|e| format!("secret: {e}"))?];
    if let Some((previous, until)) = &endpoint.previous
        && *until > comptoir_store::now_micros()
    {
        keys.extend(signature::Secret::parse(previous).ok());
    }
    let key_refs: Vec<&signature::Secret> = keys.iter().collect();
    let sig = signature::header(&key_refs, &id, now_secs, frozen.body.as_bytes());
    let started = Instant::now();
    let request = inner
        .http
        .post(target)
        .header("content-type", format.content_type())
        .header("webhook-id", &id)
        .header("webhook-timestamp", now_secs.to_string())
        .header("webhook-signature", sig)
        .body(frozen.body);
    let mut res = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Ok(Sent {
                status: None,
                error: Some(client::describe(&e)),
                answer: String::new(),
                latency: started.elapsed(),
            });
        }
    };
    let status = res.status().as_u16();
    // Only the first KiB is kept; the rest is not read (the connection is then dropped).
    let mut answer = Vec::with_capacity(ANSWER_BYTES);
    let mut error = None;
    while answer.len() < ANSWER_BYTES {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                let room = ANSWER_BYTES - answer.len();
                answer.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(client::describe(&e));
                break;
            }
        }
    }
    let latency = started.elapsed();
    if (300..400).contains(&status) {
        error = Some("redirects are not followed".into());
    }
    Ok(Sent {
        status: Some(status),
        error,
        answer: String::from_utf8_lossy(&answer).into_owned(),
        latency,
    })
}

/// The body of an event's first attempt, with its verification token.
fn make_body(
    base_url: &str,
    due: &Due,
    format: &str,
    shop: &comptoir_core::model::Shop,
    order: &comptoir_core::order::OrderView,
    client: Option<&comptoir_core::model::Client>,
) -> Result<Option<Frozen>, String> {
    let event_type = EventType::parse(&due.event_type).map_err(|e| format!("event type: {e}"))?;
    let format = Format::parse(format).unwrap_or_default();
    let token = comptoir_store::hex(&comptoir_store::random_bytes::<16>());
    let meta = EventMeta {
        event_type,
        event_id: webhook::event_id(due.shop_id, due.id),
        created_at: due.created_at,
        verification_url: super::verify::url(base_url, due.shop_id, due.id, &token),
    };
    let fields = webhook::fields(
        order,
        client,
        &meta,
        shop.currency.digits(),
        &shop.timezone.tz(),
        base_url,
    );
    Ok(Some(Frozen {
        body: webhook::body(&fields, format),
        format: format.as_str().to_string(),
        verify_token: token,
    }))
}

/// A random draw in [0, 1) for the jitter.
fn unit() -> f64 {
    let bits = u64::from_le_bytes(comptoir_store::random_bytes::<8>()) >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// Every few seconds the pending gauge; every hour (and at start) the purge.
async fn housekeeping(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut last_purge: Option<Instant> = None;
    loop {
        match inner.store.read(store_wh::pending_count).await {
            Ok(n) => inner.metrics.set_gauge(
                "comptoir_webhook_events_pending",
                "Webhook events waiting for delivery (all processes).",
                n,
            ),
            Err(e) => tracing::warn!(error = %e, "webhooks: cannot count pending events"),
        }
        if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_purge = Some(Instant::now());
            let cutoff = comptoir_store::now_micros()
                - i64::try_from(inner.settings.retention.as_micros()).unwrap_or(i64::MAX);
            loop {
                const BATCH: i64 = 500;
                match inner
                    .store
                    .write(move |c| store_wh::purge(c, cutoff, BATCH))
                    .await
                {
                    Ok(n) if n > 0 => {
                        tracing::info!(removed = n, "webhooks: purged events past retention");
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhooks: purge failed");
                        break;
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pressure;

    #[test]
    fn pressure_yields_for_a_queue_that_stays_long_until_it_empties() {
        let mut p = Pressure::default();
        // One long sample among short ones is a burst, not a saturated writer.
        assert!(!p.sample(20, 8));
        assert!(!p.sample(0, 8));
        assert!(!p.sample(1, 8));
        // A queue that stays long makes it yield within a few samples.
        let mut samples = 0;
        while !p.sample(16, 8) {
            samples += 1;
            assert!(samples < 8, "still not yielding after {samples} samples");
        }
        // A saturated writer's queue empties at each batch and refills: still yielding.
        for i in 0..40 {
            assert!(p.sample(if i % 2 == 0 { 0 } else { 8 }, 8), "sample {i}");
        }
        // Once it stays empty, within a few samples (PROBE apart) it stops.
        let mut samples = 0;
        while p.sample(0, 8) {
            samples += 1;
            assert!(samples < 8, "still yielding after {samples} empty samples");
        }
        // With a mark of 0 it always yields (the tests' setting).
        assert!(Pressure::default().sample(0, 0));
    }
}
