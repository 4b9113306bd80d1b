//! Webhooks in the database: each shop's endpoint and secrets, leases on due outbox events
//! (safe with several processes on one PostgreSQL), the frozen body, the attempt log,
//! re-sending and the purge. What to do with an answer is decided by the caller.

use crate::db::{Backend, Conn, Row, Value};
use crate::{StoreError, params};
use comptoir_core::model::{Client, Shop};
use comptoir_core::order::OrderView;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

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

/// An event about to be attempted, as much as its body needs.
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
    /// `(shop, id)`.
    pub fn key(&self) -> (i64, i64) {
        (self.shop_id, self.id)
    }
}

/// What one [`lease_due`] may take: `limit` events in all, and of each shop `per_shop`
/// less the attempts the caller has in flight for it already (`busy`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Room {
    pub limit: i64,
    pub per_shop: i64,
    /// `(shop, attempts in flight)`; a shop not named has none.
    pub busy: Vec<(i64, i64)>,
}

impl Room {
    /// How many events of `shop_id` may still be taken.
    fn of(&self, shop_id: i64) -> i64 {
        let busy = self
            .busy
            .iter()
            .find(|(s, _)| *s == shop_id)
            .map_or(0, |(_, n)| *n);
        (self.per_shop - busy).max(0)
    }
}

/// The events that may be attempted now, of every shop, leased until `lease_until` in one
/// statement: pending, due, not leased, of a shop whose webhooks are on; a `terminated`
/// only once its order's `validated` is no longer pending; within `room`, the longest due
/// first. Safe with several processes: on PostgreSQL each event is locked as it is picked
/// and one locked by another process's lease is skipped (`for update skip locked`), so an
/// event is never leased twice and two processes never wait for each other. Returns what
/// was taken, by shop and id; the body of a new event is kept with [`keep_bodies`].
pub fn lease_due(
    c: &mut dyn Conn,
    now: i64,
    lease_until: i64,
    room: &Room,
) -> Result<Vec<Claimed>, StoreError> {
    let mut claimed = match c.backend() {
        Backend::Postgres => lease_due_pg(c, now, lease_until, room)?,
        Backend::Sqlite => {
            // One writer at a time: what `due` reads stays true until the updates.
            let mut taken: Vec<(i64, i64)> = Vec::new();
            let mut keys = Vec::new();
            for d in due(c, now, room.per_shop)? {
                if keys.len() >= usize::try_from(room.limit).unwrap_or(0) {
                    break;
                }
                let n = match taken.iter_mut().find(|(s, _)| *s == d.shop_id) {
                    Some((_, n)) => n,
                    None => {
                        taken.push((d.shop_id, 0));
                        &mut taken.last_mut().expect("just pushed").1
                    }
                };
                if *n < room.of(d.shop_id) {
                    *n += 1;
                    keys.push(d.key());
                }
            }
            let mut claimed = Vec::with_capacity(keys.len());
            for (shop_id, id) in keys {
                let rows = c.query(
                    "update outbox set lease_until = $1, attempts = attempts + 1
                     where shop_id = $3 and id = $4 and state = 'pending' and lease_until < $2
                     returning shop_id, id, event_type, coalesce(order_id, 0), created_at,
                               attempts, failures, body, body_format, verify_token",
                    params![lease_until, now, shop_id, id],
                )?;
                for r in &rows {
                    claimed.push(claimed_from_row(r, lease_until)?);
                }
            }
            claimed
        }
    };
    claimed.sort_by_key(|e| (e.shop_id, e.id));
    Ok(claimed)
}

fn lease_due_pg(
    c: &mut dyn Conn,
    now: i64,
    lease_until: i64,
    room: &Room,
) -> Result<Vec<Claimed>, StoreError> {
    let (busy_shops, busy): (Vec<Value>, Vec<Value>) = room
        .busy
        .iter()
        .map(|(s, n)| (Value::I64(*s), Value::I64(*n)))
        .unzip();
    // Each shop's due events are walked in order on its due index, at most its room of
    // them (so one shop's backlog neither fills a lease nor makes it slow), each locked as
    // it is taken: a row another transaction holds is passed over, and a row leased by
    // another process since this statement's snapshot is read again and dropped by the
    // conditions. Only the outer `limit` of them is leased; the others' row locks end
    // with the statement's transaction (at once with `Store::write_aside_autocommit`).
    // Why a lateral `limit 1` for a `terminated` whose `validated` is pending, and not
    // `not exists`: beside an `or`, `not exists` cannot become a join, and the planner
    // made it a hashed subplan that read every pending `validated` of every shop at each
    // look (O(backlog), and a plan costly enough to be JIT-compiled: docs/performance.md,
    // "Where a look's time went"). The lateral is one probe of `outbox_order_idx` per
    // `terminated` walked, skipped for the others.
    let rows = c.query(
        "with busy as (
             select * from unnest($4::bigint[], $5::bigint[]) as b(shop_id, n)
             ), picked as (
                 select d.shop_id, d.id
                 from webhook_endpoints w
                 left join busy b on b.shop_id = w.shop_id
                 cross join lateral (
                     select o.shop_id, o.id, o.next_at from outbox o
                     left join lateral (
                         select true as blocked from outbox v
                         where o.event_type = 'terminated' and v.shop_id = o.shop_id
                           and v.order_id = o.order_id and v.event_type = 'validated'
                           and v.state = 'pending'
                         limit 1
                     ) v on true
                     where o.shop_id = w.shop_id and o.state = 'pending' and o.next_at <= $1
                       and o.lease_until < $1 and v.blocked is null
                     order by o.next_at, o.id
                     limit least($3, greatest(0, $6 - coalesce(b.n, 0)))
                     for update of o skip locked
                 ) d
                 where w.url is not null
                 order by d.next_at, d.shop_id, d.id
                 limit $3
             )
             update outbox o set lease_until = $2, attempts = o.attempts + 1
             from picked p
             where o.shop_id = p.shop_id and o.id = p.id
             returning o.shop_id, o.id, o.event_type, coalesce(o.order_id, 0), o.created_at,
                       o.attempts, o.failures, o.body, o.body_format, o.verify_token",
        params![
            now,
            lease_until,
            room.limit,
            Value::Array(busy_shops),
            Value::Array(busy),
            room.per_shop
        ],
    )?;
    rows.iter()
        .map(|r| claimed_from_row(r, lease_until))
        .collect()
}

/// SQLite's due events: shop by shop, so that each look walks the shop's due index in
/// order and stops after `per_shop` events, whatever the backlog; the longest due first.
fn due(c: &mut dyn Conn, now: i64, per_shop: i64) -> Result<Vec<Due>, StoreError> {
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
    Ok(due.into_iter().map(|(_, d)| d).collect())
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

impl Claimed {
    /// `(shop, id)`.
    pub fn key(&self) -> (i64, i64) {
        (self.shop_id, self.id)
    }

    /// What the event's body is made of.
    pub fn due(&self) -> Due {
        Due {
            shop_id: self.shop_id,
            id: self.id,
            event_type: self.event_type.clone(),
            order_id: self.order_id,
            created_at: self.created_at,
            frozen: self.frozen.is_some(),
        }
    }
}

/// An event's body: `((shop, id), body)`, as [`keep_bodies`] takes and returns them.
pub type KeptBody = ((i64, i64), Frozen);

/// A body kept as first sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frozen {
    pub body: String,
    pub format: String,
    pub verify_token: String,
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
        frozen: frozen_from(r, 7)?,
    })
}

/// The body, format and token in columns `at`, `at + 1` and `at + 2`, if kept.
fn frozen_from(r: &Row, at: usize) -> Result<Option<Frozen>, StoreError> {
    Ok(
        match (
            r.opt_string(at)?,
            r.opt_string(at + 1)?,
            r.opt_string(at + 2)?,
        ) {
            (Some(body), Some(format), Some(verify_token)) => Some(Frozen {
                body,
                format,
                verify_token,
            }),
            _ => None,
        },
    )
}

/// Keeps the body of each event's first attempt, in one statement on PostgreSQL; an event
/// that has one already (kept by an earlier attempt, or by a worker killed after keeping
/// it) keeps that one. Returns the body each event has now, by `(shop, id)`; an event that
/// is gone is left out.
pub fn keep_bodies(c: &mut dyn Conn, bodies: &[KeptBody]) -> Result<Vec<KeptBody>, StoreError> {
    // Every SET reads the row as it was, so the three columns are kept together or not at
    // all; RETURNING gives them as they are now.
    let rows = match c.backend() {
        Backend::Postgres => {
            let column =
                |f: &dyn Fn(&KeptBody) -> Value| Value::Array(bodies.iter().map(f).collect());
            c.query(
                "update outbox o set body = coalesce(o.body, b.body),
                     body_format = case when o.body is null then b.body_format else o.body_format end,
                     verify_token = case when o.body is null then b.verify_token else o.verify_token end
                 from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
                      as b(shop_id, id, body, body_format, verify_token)
                 where o.shop_id = b.shop_id and o.id = b.id
                 returning o.shop_id, o.id, o.body, o.body_format, o.verify_token",
                &[
                    column(&|((s, _), _)| Value::I64(*s)),
                    column(&|((_, id), _)| Value::I64(*id)),
                    column(&|(_, f)| Value::Text(f.body.clone())),
                    column(&|(_, f)| Value::Text(f.format.clone())),
                    column(&|(_, f)| Value::Text(f.verify_token.clone())),
                ],
            )?
        }
        Backend::Sqlite => {
            let mut rows = Vec::with_capacity(bodies.len());
            for ((shop_id, id), f) in bodies {
                rows.extend(c.query(
                    "update outbox set body = coalesce(body, $3),
                         body_format = case when body is null then $4 else body_format end,
                         verify_token = case when body is null then $5 else verify_token end
                     where shop_id = $1 and id = $2
                     returning shop_id, id, body, body_format, verify_token",
                    params![
                        *shop_id,
                        *id,
                        f.body.as_str(),
                        f.format.as_str(),
                        f.verify_token.as_str()
                    ],
                )?);
            }
            rows
        }
    };
    let mut kept = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(f) = frozen_from(r, 2)? {
            kept.push(((r.i64(0)?, r.i64(1)?), f));
        }
    }
    Ok(kept)
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

/// Logs the attempts of claimed events and moves each event on, in one statement on
/// PostgreSQL. A result that comes after its lease ran out (another worker may hold the
/// event now) is logged but moves nothing. A row that cannot be logged does not stop the
/// others: an event that is gone (purged) is passed over, an attempt logged already stays
/// as first logged, and a NUL character (which PostgreSQL's text refuses) in an answer or
/// an error is kept as U+FFFD. Returns how many attempts were logged.
pub fn record_many(
    c: &mut dyn Conn,
    results: &[(Claimed, Attempt, Outcome)],
) -> Result<usize, StoreError> {
    match c.backend() {
        Backend::Postgres => match record_pg(c, results) {
            // The conditions keep every known bad row out; should another one still fail
            // the statement (an event purged meanwhile), the others go one by one.
            Err(StoreError::Postgres(e)) if e.as_db_error().is_some() && results.len() > 1 => {
                let mut logged = 0;
                for r in results {
                    logged += record_pg(c, std::slice::from_ref(r)).unwrap_or(0);
                }
                Ok(logged)
            }
            r => r,
        },
        Backend::Sqlite => {
            let mut logged = 0;
            for (event, attempt, outcome) in results {
                let (state, failures, next_at) = moved(event, *outcome);
                logged += c.execute(
                    "insert into webhook_attempts
                         (shop_id, event_id, attempt, at, status, latency_micros, error, answer)
                     select $1, $2, $3, $4, $5, $6, $7, $8
                     where exists (select 1 from outbox where shop_id = $1 and id = $2)
                     on conflict do nothing",
                    params![
                        event.shop_id,
                        event.id,
                        attempt.attempt,
                        attempt.at,
                        attempt.status,
                        attempt.latency_micros,
                        attempt.error.as_deref().map(without_nul),
                        without_nul(&attempt.answer)
                    ],
                )?;
                let moved = c.execute(
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
                if moved > 0 && state == "pending" && event.event_type == "validated" {
                    c.execute(
                        WAITING_TERMINATED,
                        params![event.shop_id, event.order_id, next_at],
                    )?;
                }
            }
            Ok(usize::try_from(logged).unwrap_or(usize::MAX))
        }
    }
}

// Why a `terminated` waiting for its `validated` is moved to the validated's next try:
// it cannot go before, and where it was (its first `next_at`, at the head of the shop's
// due index) every look walked over it again until then. A shop whose receiver is down
// for a day would have every look read its whole day of `terminated`.
/// What moves a `validated`'s pending `terminated` along to the validated's next try
/// (`$3`) on SQLite; PostgreSQL does the same in [`record_pg`]'s statement.
const WAITING_TERMINATED: &str = "update outbox set next_at = $3
     where shop_id = $1 and order_id = $2 and event_type = 'terminated' and state = 'pending'
       and next_at < $3";

/// The event's state, failures and next try after `outcome`.
fn moved(event: &Claimed, outcome: Outcome) -> (&'static str, i64, i64) {
    match outcome {
        Outcome::Delivered => ("delivered", event.failures, 0),
        Outcome::RetryAt(at) => ("pending", event.failures + 1, at),
        Outcome::Failed => ("failed", event.failures + 1, 0),
    }
}

/// `s` with each NUL character replaced by U+FFFD.
fn without_nul(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

/// [`record_many`]'s statement on PostgreSQL: one array per column. A `validated` to be
/// tried again takes its order's pending `terminated` along to its next try
/// ([`WAITING_TERMINATED`]).
fn record_pg(
    c: &mut dyn Conn,
    results: &[(Claimed, Attempt, Outcome)],
) -> Result<usize, StoreError> {
    type Col<'a> = &'a dyn Fn(&(Claimed, Attempt, Outcome)) -> Value;
    let column = |f: Col<'_>| Value::Array(results.iter().map(f).collect());
    let rows = c.query(
        "with r as (
             select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                                  $5::bigint[], $6::bigint[], $7::text[], $8::text[],
                                  $9::text[], $10::bigint[], $11::bigint[], $12::bigint[])
                 as r(shop_id, event_id, attempt, at, status, latency_micros, error, answer,
                      state, failures, next_at, lease_until)
         ), logged as (
             insert into webhook_attempts
                 (shop_id, event_id, attempt, at, status, latency_micros, error, answer)
             select r.shop_id, r.event_id, r.attempt, r.at, r.status, r.latency_micros,
                    r.error, r.answer
             from r
             where exists (select 1 from outbox o where o.shop_id = r.shop_id and o.id = r.event_id)
             on conflict do nothing
             returning 1
         ), moved as (
             update outbox o set state = r.state, failures = r.failures, next_at = r.next_at,
                 lease_until = 0
             from r
             where o.shop_id = r.shop_id and o.id = r.event_id and o.lease_until = r.lease_until
         ), waiting as (
             update outbox t set next_at = r.next_at
             from r join outbox v on v.shop_id = r.shop_id and v.id = r.event_id
             where r.state = 'pending' and v.event_type = 'validated'
               and v.lease_until = r.lease_until
               and t.shop_id = v.shop_id and t.order_id = v.order_id
               and t.event_type = 'terminated' and t.state = 'pending' and t.next_at < r.next_at
         )
         select count(*) from logged",
        &[
            column(&|(e, ..)| Value::I64(e.shop_id)),
            column(&|(e, ..)| Value::I64(e.id)),
            column(&|(_, a, _)| Value::I64(a.attempt)),
            column(&|(_, a, _)| Value::I64(a.at)),
            column(&|(_, a, _)| a.status.into()),
            column(&|(_, a, _)| Value::I64(a.latency_micros)),
            column(&|(_, a, _)| a.error.as_deref().map(without_nul).into()),
            column(&|(_, a, _)| Value::Text(without_nul(&a.answer))),
            column(&|(e, _, o)| Value::Text(moved(e, *o).0.into())),
            column(&|(e, _, o)| Value::I64(moved(e, *o).1)),
            column(&|(e, _, o)| Value::I64(moved(e, *o).2)),
            column(&|(e, ..)| Value::I64(e.lease_until)),
        ],
    )?;
    let n = rows.first().map_or(Ok(0), |r| r.i64(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
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
/// such event. The body stays the one first sent. A `validated` brings back its order's
/// `terminated` that waits for it without having failed itself (moved along to the
/// validated's retries by [`record_many`]), so that it follows at once.
pub fn resend(c: &mut dyn Conn, shop_id: i64, id: i64, now: i64) -> Result<(), StoreError> {
    let n = c.execute(
        "update outbox set state = 'pending', failures = 0, next_at = $3, lease_until = 0
         where shop_id = $1 and id = $2",
        params![shop_id, id, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    c.execute(
        "update outbox set next_at = $3
         where shop_id = $1 and event_type = 'terminated' and state = 'pending'
           and failures = 0 and next_at > $3
           and order_id = (select order_id from outbox
                           where shop_id = $1 and id = $2 and event_type = 'validated')",
        params![shop_id, id, now],
    )?;
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

/// Dead row versions of `outbox` past which [`vacuum_outbox`] vacuums it: about 4,000
/// delivered events (an event leaves two or three: lease, body, record).
const OUTBOX_DEAD_ROWS: i64 = 10_000;

/// Vacuums `outbox` (PostgreSQL) once it holds more than [`OUTBOX_DEAD_ROWS`] dead row
/// versions, unless a vacuum (autovacuum's, another process's) already runs on it; whether
/// it did. Run by the store's upkeep thread, outside any transaction.
// Why: each delivered event leaves its pending versions in `outbox_due_idx`, at the head
// of its shop's range (the lowest `next_at`, `id`): every lease walks over them, one index
// page per ~300, before the first due event, and with autovacuum off (or its default
// 20 % of a large table) nothing removes them. Measured: 0.2–1.2 ms per shop and look
// after 110,000 delivered events (992 pages), 0.4 ms for the whole lease after a vacuum.
// A vacuum after a few thousand events costs the pages those events changed and one pass
// over the table's indexes.
pub(crate) fn vacuum_outbox(c: &mut dyn Conn) -> Result<bool, StoreError> {
    let dead = c
        .query_opt(
            "select n_dead_tup from pg_stat_user_tables
             where schemaname = current_schema() and relname = 'outbox'",
            &[],
        )?
        .map_or(Ok(0), |r| r.i64(0))?;
    if dead <= OUTBOX_DEAD_ROWS {
        return Ok(false);
    }
    // `index_cleanup on`: with few dead rows per page PostgreSQL may otherwise skip the
    // indexes, which are the point here.
    c.batch("vacuum (skip_locked, index_cleanup on) outbox")?;
    Ok(true)
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

/// What an order event's body is made of: the shop, the order and its client.
pub type Subject = (Shop, OrderView, Option<Client>);

/// The subjects of the orders named by `(shop, order)`, by `(shop, order)`: each shop and
/// each client read once, the orders with their lines and payments in one read for all
/// ([`crate::sales::get_orders`]), so that a look's bodies cost a few statements however
/// many events it took. An order (or its shop) that is gone is left out.
pub fn event_subjects(
    c: &mut dyn Conn,
    orders: &[(i64, i64)],
) -> Result<HashMap<(i64, i64), Subject>, StoreError> {
    let mut shops: HashMap<i64, Option<Shop>> = HashMap::new();
    let mut clients: HashMap<(i64, i64), Option<Client>> = HashMap::new();
    let mut subjects = HashMap::with_capacity(orders.len());
    for order in crate::sales::get_orders(c, orders)? {
        let shop = match shops.entry(order.shop_id) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert(crate::shops::get_shop(c, order.shop_id)?),
        };
        let Some(shop) = shop.clone() else { continue };
        let client = match order.client_id {
            Some(id) => match clients.entry((order.shop_id, id)) {
                Entry::Occupied(o) => o.get().clone(),
                Entry::Vacant(v) => v
                    .insert(crate::catalog::get_client(c, order.shop_id, id)?)
                    .clone(),
            },
            None => None,
        };
        subjects.insert((order.shop_id, order.id), (shop, order, client));
    }
    Ok(subjects)
}
