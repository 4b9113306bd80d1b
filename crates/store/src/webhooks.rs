//! Webhooks in the database: each shop's endpoint and secrets, leases on due outbox events
//! (safe with several processes on one PostgreSQL), the frozen body, the attempt log,
//! re-sending and the purge. What to do with an answer is decided by the caller.

use crate::db::{Conn, Row};
use crate::{StoreError, params};
use comptoir_core::model::{Client, Shop};
use comptoir_core::order::OrderView;

/// A shop's webhook settings. `Debug` hides the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub shop_id: i64,
    /// `None` while webhooks are off.
    pub url: Option<String>,
    /// `form` or `json`.
    pub format: String,
    /// `whsec_…`
    pub secret: String,
    /// The secret before the last rotation, with the time (µs) it stops signing.
    pub previous: Option<(String, i64)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("shop_id", &self.shop_id)
            .field("url", &self.url)
            .field("format", &self.format)
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

const ENDPOINT_SELECT: &str =
    "select shop_id, url, format, secret, previous_secret, previous_until from webhook_endpoints";

fn endpoint_from_row(r: &Row) -> Result<Endpoint, StoreError> {
    Ok(Endpoint {
        shop_id: r.i64(0)?,
        url: r.opt_string(1)?,
        format: r.string(2)?,
        secret: r.string(3)?,
        previous: match (r.opt_string(4)?, r.opt_i64(5)?) {
            (Some(s), Some(until)) => Some((s, until)),
            _ => None,
        },
    })
}

/// The shop's webhook settings, if it ever had some.
pub fn endpoint(c: &mut dyn Conn, shop_id: i64) -> Result<Option<Endpoint>, StoreError> {
    c.query_opt(
        &format!("{ENDPOINT_SELECT} where shop_id = $1"),
        params![shop_id],
    )?
    .map(|r| endpoint_from_row(&r))
    .transpose()
}

/// Sets the shop's URL and format. The secret `new_secret` is only used when the shop has
/// none yet. Turning webhooks on (again) delivers the events from `now` on, not older ones.
pub fn set_endpoint(
    c: &mut dyn Conn,
    shop_id: i64,
    url: &str,
    format: &str,
    new_secret: &str,
    now: i64,
) -> Result<Endpoint, StoreError> {
    let changed = c.execute(
        "update webhook_endpoints
         set since = case when url is null then $4 else since end,
             url = $2, format = $3, updated_at = $4
         where shop_id = $1",
        params![shop_id, url, format, now],
    )?;
    if changed == 0 {
        c.execute(
            "insert into webhook_endpoints (shop_id, url, format, secret, since, updated_at)
             values ($1, $2, $3, $4, $5, $5)",
            params![shop_id, url, format, new_secret, now],
        )?;
    }
    // Events from before webhooks were on are never sent: out of the way of the due ones.
    c.execute(
        "update outbox set state = 'skipped'
         where shop_id = $1 and state = 'pending'
           and created_at < (select since from webhook_endpoints where shop_id = $1)",
        params![shop_id],
    )?;
    endpoint(c, shop_id)?.ok_or(StoreError::NotFound)
}

/// Turns the shop's webhooks off (the secret is kept); `NotFound` when none was set.
pub fn disable(c: &mut dyn Conn, shop_id: i64, now: i64) -> Result<(), StoreError> {
    let n = c.execute(
        "update webhook_endpoints set url = null, updated_at = $2 where shop_id = $1",
        params![shop_id, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Makes `new_secret` the shop's secret; the old one keeps signing until `previous_until`.
pub fn rotate_secret(
    c: &mut dyn Conn,
    shop_id: i64,
    new_secret: &str,
    previous_until: i64,
    now: i64,
) -> Result<Endpoint, StoreError> {
    let n = c.execute(
        "update webhook_endpoints
         set previous_secret = secret, previous_until = $3, secret = $2, updated_at = $4
         where shop_id = $1",
        params![shop_id, new_secret, previous_until, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    endpoint(c, shop_id)?.ok_or(StoreError::NotFound)
}

/// An event that may be attempted now, as [`due`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub shop_id: i64,
    pub id: i64,
    pub event_type: String,
    /// 0 for a `closing` event (no order: store::closings::event_subject).
    pub order_id: i64,
    pub created_at: i64,
    /// Whether its body was kept already (by an earlier attempt).
    pub frozen: bool,
}

impl Due {
    /// `(shop, id)`, as [`claim`] takes it.
    pub fn key(&self) -> (i64, i64) {
        (self.shop_id, self.id)
    }
}

/// Events that may be attempted now: pending, due, not leased, of a shop whose webhooks
/// are on; a `terminated` only once its order's `validated` is no longer
/// pending. At most `per_shop` per shop (so one shop's backlog does not fill a claim),
/// `limit` in all, the longest due first. A plain read: [`claim`] takes them.
pub fn due(c: &mut dyn Conn, now: i64, per_shop: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
    // Shop by shop, so that each look walks the shop's due index in order and stops after
    // `per_shop` events, whatever the backlog.
    // Events from before webhooks were on are `skipped` by `set_endpoint`, so no condition
    // on their time is needed here: one would tempt the planner away from the due index.
    let shops = c.query(
        "select shop_id from webhook_endpoints where url is not null",
        params![],
    )?;
    let mut due = Vec::new();
    for s in &shops {
        let shop_id = s.i64(0)?;
        let rows = c.query(
            "select o.id, o.event_type, coalesce(o.order_id, 0), o.created_at, o.next_at,
                    o.body is not null
             from outbox o
             where o.shop_id = $1 and o.state = 'pending' and o.next_at <= $2
               and o.lease_until < $2
               and (o.event_type = 'validated' or not exists (
                   select 1 from outbox v
                   where v.shop_id = o.shop_id and v.order_id = o.order_id
                     and v.event_type = 'validated' and v.state = 'pending'))
             order by o.next_at, o.id
             limit $3",
            params![shop_id, now, per_shop],
        )?;
        for r in &rows {
            due.push((
                r.i64(4)?,
                Due {
                    shop_id,
                    id: r.i64(0)?,
                    event_type: r.string(1)?,
                    order_id: r.i64(2)?,
                    created_at: r.i64(3)?,
                    frozen: r.bool(5)?,
                },
            ));
        }
    }
    due.sort_by_key(|(next_at, d)| (*next_at, d.shop_id, d.id));
    Ok(due
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(_, d)| d)
        .collect())
}

/// An event taken for one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub shop_id: i64,
    pub id: i64,
    pub event_type: String,
    pub order_id: i64,
    pub created_at: i64,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
    /// Failures since the event was last (re)sent, before this attempt.
    pub failures: i64,
    /// The lease this attempt holds; its result is recorded against it.
    pub lease_until: i64,
    /// The body as first sent, with its format and verification token, once frozen.
    pub frozen: Option<Frozen>,
}

/// A body kept as first sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frozen {
    pub body: String,
    pub format: String,
    pub verify_token: String,
}

/// Leases the events `ids` until `lease_until`, those still pending and free at `now`
/// (another process may have taken some since [`due`]): the update checks each row under
/// its row lock, so one event is never leased twice. Returns what was taken.
pub fn claim(
    c: &mut dyn Conn,
    ids: &[(i64, i64)],
    now: i64,
    lease_until: i64,
) -> Result<Vec<Claimed>, StoreError> {
    // One statement per event, each through the primary key: a single statement naming
    // them all lets the planner walk every pending row instead.
    let mut claimed = Vec::with_capacity(ids.len());
    for (shop_id, id) in ids {
        let rows = c.query(
            "update outbox set lease_until = $1, attempts = attempts + 1
             where shop_id = $3 and id = $4 and state = 'pending' and lease_until < $2
             returning shop_id, id, event_type, coalesce(order_id, 0), created_at, attempts, failures,
                       body, body_format, verify_token",
            params![lease_until, now, *shop_id, *id],
        )?;
        for r in &rows {
            claimed.push(claimed_from_row(r, lease_until)?);
        }
    }
    Ok(claimed)
}

/// [`claim`] and [`freeze`] in one statement per event: leases each event of `picks` that
/// is still pending and free at `now`, keeping the body given with it when the event has
/// none yet (an event with a body kept already, by an earlier attempt or a worker killed
/// after keeping it, keeps that one, and that one is returned). Returns what was taken.
pub fn claim_keeping(
    c: &mut dyn Conn,
    picks: &[((i64, i64), Option<Frozen>)],
    now: i64,
    lease_until: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let mut claimed = Vec::with_capacity(picks.len());
    for ((shop_id, id), body) in picks {
        // Every SET reads the row as it was, so the three columns are kept together or
        // not at all; RETURNING gives them as they are now.
        let rows = c.query(
            "update outbox set lease_until = $1, attempts = attempts + 1,
                 body = coalesce(body, $5),
                 body_format = case when body is null then $6 else body_format end,
                 verify_token = case when body is null then $7 else verify_token end
             where shop_id = $3 and id = $4 and state = 'pending' and lease_until < $2
             returning shop_id, id, event_type, coalesce(order_id, 0), created_at, attempts, failures,
                       body, body_format, verify_token",
            params![
                lease_until,
                now,
                *shop_id,
                *id,
                body.as_ref().map(|b| b.body.as_str()),
                body.as_ref().map(|b| b.format.as_str()),
                body.as_ref().map(|b| b.verify_token.as_str())
            ],
        )?;
        for r in &rows {
            claimed.push(claimed_from_row(r, lease_until)?);
        }
    }
    Ok(claimed)
}

fn claimed_from_row(r: &Row, lease_until: i64) -> Result<Claimed, StoreError> {
    Ok(Claimed {
        shop_id: r.i64(0)?,
        id: r.i64(1)?,
        event_type: r.string(2)?,
        order_id: r.i64(3)?,
        created_at: r.i64(4)?,
        attempt: r.i64(5)?,
        failures: r.i64(6)?,
        lease_until,
        frozen: match (r.opt_string(7)?, r.opt_string(8)?, r.opt_string(9)?) {
            (Some(body), Some(format), Some(verify_token)) => Some(Frozen {
                body,
                format,
                verify_token,
            }),
            _ => None,
        },
    })
}

/// Keeps the body of an event's first attempt; if one was kept already (a worker killed
/// after freezing), that one stays and is returned.
pub fn freeze(c: &mut dyn Conn, shop_id: i64, id: i64, body: Frozen) -> Result<Frozen, StoreError> {
    c.execute(
        "update outbox set body = $3, body_format = $4, verify_token = $5
         where shop_id = $1 and id = $2 and body is null",
        params![shop_id, id, body.body, body.format, body.verify_token],
    )?;
    let r = c.query_one(
        "select body, body_format, verify_token from outbox where shop_id = $1 and id = $2",
        params![shop_id, id],
    )?;
    Ok(Frozen {
        body: r.string(0)?,
        format: r.string(1)?,
        verify_token: r.string(2)?,
    })
}

/// What an attempt led to, as the caller decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; tried again at this time (µs).
    RetryAt(i64),
    /// Failed for good.
    Failed,
}

/// One attempt, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: i64,
    pub at: i64,
    pub status: Option<i64>,
    pub latency_micros: i64,
    pub error: Option<String>,
    /// The first KiB of the answer.
    pub answer: String,
}

/// Logs an attempt of a claimed event and moves the event on. A result that comes after
/// the lease ran out (another worker may hold the event now) is logged but moves nothing.
pub fn record(
    c: &mut dyn Conn,
    event: &Claimed,
    attempt: &Attempt,
    outcome: Outcome,
) -> Result<(), StoreError> {
    c.execute(
        "insert into webhook_attempts
             (shop_id, event_id, attempt, at, status, latency_micros, error, answer)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            event.shop_id,
            event.id,
            attempt.attempt,
            attempt.at,
            attempt.status,
            attempt.latency_micros,
            attempt.error.as_deref(),
            attempt.answer.as_str()
        ],
    )?;
    let (state, failures, next_at) = match outcome {
        Outcome::Delivered => ("delivered", event.failures, 0),
        Outcome::RetryAt(at) => ("pending", event.failures + 1, at),
        Outcome::Failed => ("failed", event.failures + 1, 0),
    };
    c.execute(
        "update outbox set state = $3, failures = $4, next_at = $5, lease_until = 0
         where shop_id = $1 and id = $2 and lease_until = $6",
        params![
            event.shop_id,
            event.id,
            state,
            failures,
            next_at,
            event.lease_until
        ],
    )?;
    Ok(())
}

/// [`record`] for several attempts, in the caller's one transaction.
pub fn record_many(
    c: &mut dyn Conn,
    results: &[(Claimed, Attempt, Outcome)],
) -> Result<(), StoreError> {
    for (event, attempt, outcome) in results {
        record(c, event, attempt, *outcome)?;
    }
    Ok(())
}

/// One event of the log, with its attempts (oldest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEvent {
    pub id: i64,
    pub event_type: String,
    pub order_id: i64,
    pub created_at: i64,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub next_at: i64,
    pub attempts: Vec<Attempt>,
}

/// The shop's latest `limit` events that were attempted or are waiting (only failed ones
/// with `failed_only`), newest first, with their attempts.
pub fn log(
    c: &mut dyn Conn,
    shop_id: i64,
    failed_only: bool,
    limit: i64,
) -> Result<Vec<LoggedEvent>, StoreError> {
    let rows = c.query(
        "select id, event_type, coalesce(order_id, 0), created_at, state, next_at from outbox
         where shop_id = $1 and (attempts > 0 or state in ('delivered', 'failed'))
           and ($2 = 0 or state = 'failed')
         order by id desc limit $3",
        params![shop_id, i64::from(failed_only), limit],
    )?;
    let mut events = Vec::with_capacity(rows.len());
    for r in &rows {
        let id = r.i64(0)?;
        let attempts = c
            .query(
                "select attempt, at, status, latency_micros, error, answer from webhook_attempts
                 where shop_id = $1 and event_id = $2 order by attempt",
                params![shop_id, id],
            )?
            .iter()
            .map(|a| {
                Ok(Attempt {
                    attempt: a.i64(0)?,
                    at: a.i64(1)?,
                    status: a.opt_i64(2)?,
                    latency_micros: a.i64(3)?,
                    error: a.opt_string(4)?,
                    answer: a.string(5)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        events.push(LoggedEvent {
            id,
            event_type: r.string(1)?,
            order_id: r.i64(2)?,
            created_at: r.i64(3)?,
            state: r.string(4)?,
            next_at: r.i64(5)?,
            attempts,
        });
    }
    Ok(events)
}

/// Sends an event again from now, with the whole schedule; `NotFound` when the shop has no
/// such event. The body stays the one first sent.
pub fn resend(c: &mut dyn Conn, shop_id: i64, id: i64, now: i64) -> Result<(), StoreError> {
    let n = c.execute(
        "update outbox set state = 'pending', failures = 0, next_at = $3, lease_until = 0
         where shop_id = $1 and id = $2",
        params![shop_id, id, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// What the verification URL needs of an event: `(event type, order id, body, token)`.
pub fn verification(
    c: &mut dyn Conn,
    shop_id: i64,
    id: i64,
) -> Result<Option<(String, i64, Frozen)>, StoreError> {
    let Some(r) = c.query_opt(
        "select event_type, coalesce(order_id, 0), body, body_format, verify_token from outbox
         where shop_id = $1 and id = $2 and body is not null",
        params![shop_id, id],
    )?
    else {
        return Ok(None);
    };
    Ok(Some((
        r.string(0)?,
        r.i64(1)?,
        Frozen {
            body: r.string(2)?,
            format: r.string(3)?,
            verify_token: r.string(4)?,
        },
    )))
}

/// Removes the events (every state, with their attempts) created before `cutoff`, shop by
/// shop, at most `batch` per shop and call (so a purge never holds a long transaction);
/// returns how many went.
pub fn purge(c: &mut dyn Conn, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
    let shops = c.query("select id from shops order by id", params![])?;
    let mut removed = 0;
    for s in &shops {
        let shop_id = s.i64(0)?;
        let ids = c.query(
            "select id from outbox where shop_id = $1 and created_at < $2 order by created_at
             limit $3",
            params![shop_id, cutoff, batch],
        )?;
        for r in &ids {
            let id = r.i64(0)?;
            c.execute(
                "delete from webhook_attempts where shop_id = $1 and event_id = $2",
                params![shop_id, id],
            )?;
            removed += c.execute(
                "delete from outbox where shop_id = $1 and id = $2",
                params![shop_id, id],
            )?;
        }
    }
    Ok(removed)
}

/// Events waiting for delivery (pending, of shops whose webhooks are on), for `/metrics`.
pub fn pending_count(c: &mut dyn Conn) -> Result<i64, StoreError> {
    c.query_one(
        "select count(*) from webhook_endpoints w join outbox o on o.shop_id = w.shop_id
         where w.url is not null and o.state = 'pending' and o.created_at >= w.since",
        params![],
    )?
    .i64(0)
}

/// What an event's body is made of: the shop, the order and its client, if they exist.
pub fn event_subject(
    c: &mut dyn Conn,
    shop_id: i64,
    order_id: i64,
) -> Result<Option<(Shop, OrderView, Option<Client>)>, StoreError> {
    let Some(shop) = crate::shops::get_shop(c, shop_id)? else {
        return Ok(None);
    };
    let Some(order) = crate::sales::get_order(c, shop_id, order_id)? else {
        return Ok(None);
    };
    let client = match order.client_id {
        Some(id) => crate::catalog::get_client(c, shop_id, id)?,
        None => None,
    };
    Ok(Some((shop, order, client)))
}
