//! The events journal (core::event): appending an event after its journal's head, reading
//! a journal in pages (by position, or over a time range for archives), and re-verifying
//! a journal's chain for `comptoir verify`.

use crate::db::{Backend, Conn, Row};
use crate::{StoreError, params};
use comptoir_core::event::{EventProblem, Journal, NewEvent, SealedEvent, check_stored};
use comptoir_core::seal::GENESIS;

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: String,
    /// Microseconds since the epoch.
    pub at: i64,
    /// The canonical bytes (compact JSON) that `seal` covers.
    pub entry: String,
    pub seal: String,
}

const COLUMNS: &str = "seq, kind, at, entry, seal";

fn stored(r: &Row) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: r.i64(0)?,
        kind: r.string(1)?,
        at: r.i64(2)?,
        entry: r.string(3)?,
        seal: r.string(4)?,
    })
}

/// Appends `e` to its journal inside the caller's transaction: takes the journal's head
/// row (created on the first event; `for update` on PostgreSQL, so concurrent appends to
/// one journal queue there; SQLite has one writer), seals the event after it and moves
/// the head. The head row is not `shop_counters`: a sale never waits for an event.
/// Write it in the same transaction as the change it records, so both or neither are kept.
pub fn append(c: &mut dyn Conn, e: &NewEvent) -> Result<SealedEvent, StoreError> {
    let key = e.journal.key();
    c.execute(
        "insert into event_heads (shop_id, seq, head) values ($1, 0, $2)
         on conflict (shop_id) do nothing",
        params![key, GENESIS],
    )?;
    let lock = if c.backend() == Backend::Postgres {
        " for update"
    } else {
        ""
    };
    let head = c.query_one(
        &format!("select seq, head from event_heads where shop_id = $1{lock}"),
        params![key],
    )?;
    let sealed = e.seal_after(head.i64(0)? + 1, head.str(1)?);
    c.execute(
        "insert into events (shop_id, seq, kind, at, entry, seal)
         values ($1, $2, $3, $4, $5, $6)",
        params![
            key,
            sealed.seq,
            sealed.kind,
            sealed.at,
            sealed.entry.as_str(),
            sealed.seal.as_str()
        ],
    )?;
    c.execute(
        "update event_heads set seq = $1, head = $2 where shop_id = $3",
        params![sealed.seq, sealed.seal.as_str(), key],
    )?;
    Ok(sealed)
}

/// At most `limit` events of the journal after position `after`, in order.
pub fn page(
    c: &mut dyn Conn,
    journal: Journal,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    c.query(
        &format!(
            "select {COLUMNS} from events where shop_id = $1 and seq > $2
             order by seq limit $3"
        ),
        params![journal.key(), after, limit],
    )?
    .iter()
    .map(stored)
    .collect()
}

/// At most `limit` of the shop's events recorded in `[from, to)` (microseconds), after
/// position `after` (0 to start), in journal order: continue with the last `seq` until a
/// page comes back shorter than `limit`. For the archive's events.csv.
pub fn range_page(
    c: &mut dyn Conn,
    shop_id: i64,
    from: i64,
    to: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    // The first page starts at the first event of the range (index events_at); events
    // are in time order but for clock steps, so the range is also filtered row by row.
    let start = if after > 0 {
        after
    } else {
        c.query_one(
            "select coalesce(min(seq), 0) from events where shop_id = $1 and at >= $2 and at < $3",
            params![shop_id, from, to],
        )?
        .i64(0)?
            - 1
    };
    c.query(
        &format!(
            "select {COLUMNS} from events where shop_id = $1 and seq > $2
             and at >= $3 and at < $4 order by seq limit $5"
        ),
        params![shop_id, start.max(0), from, to, limit],
    )?
    .iter()
    .map(stored)
    .collect()
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventsVerification {
    Intact {
        events: i64,
        head: String,
    },
    Broken {
        /// The event concerned (its position and stored kind), when there is one.
        at: Option<(i64, String)>,
        problem: EventProblem,
        /// Events found right before this one.
        events_checked: i64,
    },
}

impl EventsVerification {
    /// `events chain broken at event 7 (sign_in): …`, or `events ok: …`.
    pub fn message(&self, journal: Journal) -> String {
        match self {
            EventsVerification::Intact { events, head } => {
                format!("events ok: {events} events, head {head}")
            }
            EventsVerification::Broken { at, problem, .. } => {
                let place = match at {
                    Some((seq, kind)) => {
                        format!("events chain of {journal} broken at event {seq} ({kind})")
                    }
                    None => format!("events chain of {journal} broken"),
                };
                let what = match problem {
                    EventProblem::Gap { expected } => {
                        format!("event {expected} is missing from the journal")
                    }
                    EventProblem::SealMismatch { stored, recomputed } => {
                        format!("stored seal {stored} does not match the recomputed {recomputed}")
                    }
                    EventProblem::Misplaced => {
                        "its bytes are not an event of this journal at this position".into()
                    }
                    EventProblem::HeadMismatch {
                        stored_seq,
                        stored,
                        found,
                        recomputed,
                    } => format!(
                        "the journal's head records {stored_seq} events, head {stored}, \
                         but the journal holds {found}, head {recomputed}"
                    ),
                };
                format!("{place}: {what}")
            }
        }
    }
}

/// Events read per query while verifying.
const PAGE: i64 = 500;

/// Walks the journal by position (1, 2, 3… without a hole), re-seals every event from
/// its stored bytes chained on the recomputed previous seal, then compares the last seal
/// and the count with the head row (which catches the last events deleted).
pub fn verify(c: &mut dyn Conn, journal: Journal) -> Result<EventsVerification, StoreError> {
    let mut head = GENESIS.to_string();
    let mut n = 0i64;
    loop {
        let rows = page(c, journal, n, PAGE)?;
        if rows.is_empty() {
            break;
        }
        for e in rows {
            let broken = |problem| EventsVerification::Broken {
                at: Some((e.seq, e.kind.clone())),
                problem,
                events_checked: n,
            };
            if e.seq != n + 1 {
                return Ok(broken(EventProblem::Gap { expected: n + 1 }));
            }
            match check_stored(journal, e.seq, &e.entry, &e.seal, &head) {
                Ok(s) => head = s,
                Err(p) => return Ok(broken(p)),
            }
            n += 1;
        }
    }
    let (stored_seq, stored) = match c.query_opt(
        "select seq, head from event_heads where shop_id = $1",
        params![journal.key()],
    )? {
        Some(r) => (r.i64(0)?, r.string(1)?),
        None => (0, GENESIS.to_string()),
    };
    if stored_seq != n || stored != head {
        return Ok(EventsVerification::Broken {
            at: None,
            problem: EventProblem::HeadMismatch {
                stored_seq,
                stored,
                found: n,
                recomputed: head,
            },
            events_checked: n,
        });
    }
    Ok(EventsVerification::Intact { events: n, head })
}

/// [`verify`] inside one read-only snapshot (a server may append meanwhile). Takes a
/// connection outside any transaction (`Store::read`).
pub fn verify_snapshot(
    c: &mut dyn Conn,
    journal: Journal,
) -> Result<EventsVerification, StoreError> {
    let begin = match c.backend() {
        Backend::Sqlite => "begin",
        Backend::Postgres => "begin isolation level repeatable read read only",
    };
    c.batch(begin)?;
    let r = verify(c, journal);
    let end = c.batch("rollback");
    let v = r?;
    end?;
    Ok(v)
}
