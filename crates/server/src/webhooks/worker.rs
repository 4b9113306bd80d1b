//! The delivery worker: leases due events (woken on commit, else on a short poll), runs
//! each attempt as a task (at most `concurrency` in all and `per_shop` per shop, so memory
//! stays bounded whatever the backlog), records the answer and the next try.

use super::{LEASE, Settings, client};
use crate::AppState;
use crate::metrics::Metrics;
use comptoir_core::webhook::{self, EventMeta, EventType, Format, retry, signature};
use comptoir_store::webhooks::{self as store_wh, Attempt, Claimed, Frozen, Outcome};
use comptoir_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// Most events leased in one claim.
const CLAIM_BATCH: usize = 64;
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
}

/// The running worker; [`Worker::stop`] ends it.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts the worker (and its housekeeping: pending gauge, purge) for `state`.
    pub fn start(state: &AppState) -> Worker {
        let settings = state.config.webhooks.clone();
        let allow_private = state.config.webhook_allow_private;
        let http = client::build(allow_private, settings.timeout).unwrap_or_else(|e| {
            // Building fails only when TLS cannot initialise: attempts then fail and log it.
            tracing::error!(error = %e, "webhook client");
            reqwest::Client::new()
        });
        let inner = Arc::new(Inner {
            store: state.store.clone(),
            metrics: state.metrics.clone(),
            base_url: state.base_url.clone(),
            allow_private,
            settings,
            wake: state.webhooks.wake.clone(),
            http,
            in_flight: Mutex::new(HashMap::new()),
        });
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run(inner, rx));
        Worker { stop, task }
    }

    /// Stops claiming, gives attempts in flight a moment, and abandons the rest: their
    /// leases run out and another process (or this one, restarted) tries them again.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    let housekeeping = tokio::spawn(housekeeping(Arc::clone(&inner), stop.clone()));
    loop {
        while tasks.try_join_next().is_some() {}
        let free = inner.settings.concurrency.saturating_sub(tasks.len());
        let mut more = false;
        if free > 0 {
            match claim(&inner, free.min(CLAIM_BATCH)).await {
                Ok((claimed, full)) => {
                    more = full;
                    for e in claimed {
                        tasks.spawn(attempt(Arc::clone(&inner), e));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhooks: cannot claim events"),
            }
        }
        if more && tasks.len() < inner.settings.concurrency {
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
}

/// Leases what is due, within the per-shop room; whether the claim was full (more may be
/// due).
async fn claim(inner: &Arc<Inner>, limit: usize) -> Result<(Vec<Claimed>, bool), StoreError> {
    let now = comptoir_store::now_micros();
    let per_shop = inner.settings.per_shop;
    let fetch = i64::try_from(limit * 4).unwrap_or(i64::MAX);
    let per_shop_i = i64::try_from(per_shop).unwrap_or(i64::MAX);
    let due = inner
        .store
        .read(move |c| store_wh::due(c, now, per_shop_i, fetch))
        .await?;
    let full = due.len() >= limit;
    let mut ids = Vec::with_capacity(limit.min(due.len()));
    {
        let busy = inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let mut taken: HashMap<i64, usize> = HashMap::new();
        for (shop, id) in due {
            let now_busy =
                busy.get(&shop).copied().unwrap_or(0) + taken.get(&shop).copied().unwrap_or(0);
            if now_busy < per_shop && ids.len() < limit {
                *taken.entry(shop).or_default() += 1;
                ids.push((shop, id));
            }
        }
    }
    if ids.is_empty() {
        return Ok((Vec::new(), false));
    }
    let lease_until = now + i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX);
    let claimed = inner
        .store
        .write(move |c| store_wh::claim(c, &ids, now, lease_until))
        .await?;
    let mut busy = inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
    for e in &claimed {
        *busy.entry(e.shop_id).or_default() += 1;
    }
    Ok((claimed, full))
}

/// One attempt of one event, from loading its body to recording what came of it.
async fn attempt(inner: Arc<Inner>, event: Claimed) {
    let at = comptoir_store::now_micros();
    let (result, status, error, answer, latency) = match send(&inner, &event).await {
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
        at,
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
    let e = event.clone();
    if let Err(err) = inner
        .store
        .write(move |c| store_wh::record(c, &e, &logged, outcome))
        .await
    {
        // The lease runs out and the event is tried again: at least once.
        tracing::warn!(error = %err, shop = event.shop_id, event = event.id, "webhooks: cannot record an attempt");
    }
    {
        let mut busy = inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = busy.get_mut(&event.shop_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                busy.remove(&event.shop_id);
            }
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

/// Loads (and on the first attempt, freezes) the body, checks the URL, signs and posts.
/// `Err` for what went wrong before anything was sent.
async fn send(inner: &Arc<Inner>, event: &Claimed) -> Result<Sent, String> {
    let (shop_id, order_id, frozen) = (event.shop_id, event.order_id, event.frozen.clone());
    let loaded = inner
        .store
        .read(move |c| {
            let endpoint = store_wh::endpoint(c, shop_id)?;
            let subject = match frozen {
                Some(_) => None,
                None => store_wh::event_subject(c, shop_id, order_id)?,
            };
            Ok::<_, StoreError>((endpoint, subject))
        })
        .await
        .map_err(|e| format!("database: {e}"))?;
    let (Some(endpoint), subject) = loaded else {
        return Err("the shop has no webhook settings".into());
    };
    let url = endpoint
        .url
        .clone()
        .ok_or_else(|| "webhooks were turned off".to_string())?;
    let frozen = match &event.frozen {
        Some(f) => f.clone(),
        None => {
            let (shop, order, client) =
                subject.ok_or_else(|| format!("order {order_id} is gone"))?;
            let frozen = make_body(
                inner,
                event,
                &endpoint.format,
                &shop,
                &order,
                client.as_ref(),
            )?;
            let (shop_id, id) = (event.shop_id, event.id);
            inner
                .store
                .write(move |c| store_wh::freeze(c, shop_id, id, frozen))
                .await
                .map_err(|e| format!("database: {e}"))?
        }
    };
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
    inner: &Inner,
    event: &Claimed,
    format: &str,
    shop: &comptoir_core::model::Shop,
    order: &comptoir_core::order::OrderView,
    client: Option<&comptoir_core::model::Client>,
) -> Result<Frozen, String> {
    let event_type = EventType::parse(&event.event_type).map_err(|e| format!("event type: {e}"))?;
    let format = Format::parse(format).unwrap_or_default();
    let token = comptoir_store::hex(&comptoir_store::random_bytes::<16>());
    let meta = EventMeta {
        event_type,
        event_id: webhook::event_id(event.shop_id, event.id),
        created_at: event.created_at,
        verification_url: super::verify::url(&inner.base_url, event.shop_id, event.id, &token),
    };
    let fields = webhook::fields(
        order,
        client,
        &meta,
        shop.currency.digits(),
        &shop.timezone.tz(),
        &inner.base_url,
    );
    Ok(Frozen {
        body: webhook::body(&fields, format),
        format: format.as_str().to_string(),
        verify_token: token,
    })
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
