//! `comptoir events`: a shop's or the server's events journal (core::event,
//! store::events); the events that the commands record; `verify`'s check of the events
//! chains.

use crate::{Failure, micros_to_rfc3339, require_shop};
use clap::{ArgGroup, Args};
use comptoir_core::event::{Event, Journal, NewEvent, Origin, Via};
use comptoir_store::events::{self, EventsVerification, StoredEvent};
use comptoir_store::{Store, now_micros};
use serde_json::{Value, json};
use std::io::Write;

#[derive(Args)]
#[command(group(ArgGroup::new("journal").required(true).args(["shop", "server"])))]
pub(crate) struct EventsArgs {
    /// The shop whose events to show.
    #[arg(long)]
    shop: Option<i64>,
    /// The server's own journal (start, stop, sign-ins with an unknown login).
    #[arg(long)]
    server: bool,
    /// One JSON array of the stored entries, each with its seal.
    #[arg(long)]
    json: bool,
}

/// Appends `event`, made by the `comptoir` command now, to the shop's journal inside the
/// command's write: the change and its event are kept together or not at all.
pub(crate) fn append(
    c: &mut dyn comptoir_store::db::Conn,
    shop: i64,
    event: Event,
) -> Result<(), comptoir_store::StoreError> {
    events::append(c, &by_cli(Journal::Shop(shop), event)).map(|_| ())
}

/// An event made by the `comptoir` command, now.
pub(crate) fn by_cli(journal: Journal, event: Event) -> NewEvent {
    NewEvent {
        journal,
        at: now_micros(),
        origin: Origin::cli(),
        event,
    }
}

/// The event of settings changed by a command.
pub(crate) fn config_changed(shop: i64, settings: &[(&str, Option<&str>)]) -> NewEvent {
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
    by_cli(
        Journal::Shop(shop),
        Event::ConfigChanged {
            settings,
            via: Via::Cli,
        },
    )
}

/// Events read per query: the list is printed page by page.
const PAGE: i64 = 500;

fn entry_json(e: &StoredEvent) -> Result<Value, Failure> {
    serde_json::from_str(&e.entry).map_err(|err| Failure {
        code: 1,
        message: format!("event {}: the stored entry is not JSON: {err}", e.seq),
    })
}

pub(crate) async fn run(store: Store, args: EventsArgs) -> Result<(), Failure> {
    let journal = match args.shop {
        Some(shop) => {
            require_shop(&store, shop).await?;
            Journal::Shop(shop)
        }
        None => Journal::Server,
    };
    let mut out = std::io::stdout().lock();
    let mut after = 0;
    let mut first = true;
    if args.json {
        let _ = write!(out, "[");
    } else {
        let _ = writeln!(out, "seq\tat\tkind\tactor\taddress\tdetail");
    }
    loop {
        let page = store
            .read(move |c| events::page(c, journal, after, PAGE))
            .await?;
        for e in &page {
            let v = entry_json(e)?;
            if args.json {
                let sep = if first { "" } else { "," };
                first = false;
                let row = json!({"seq": e.seq, "entry": v, "seal": e.seal});
                let _ = write!(out, "{sep}{row}");
            } else {
                let text = |k: &str| v[k].as_str().unwrap_or("-").to_string();
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    e.seq,
                    micros_to_rfc3339(e.at),
                    e.kind,
                    text("actor"),
                    text("address"),
                    v["detail"]
                );
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = last.seq,
            _ => break,
        }
    }
    if args.json {
        let _ = writeln!(out, "]");
    }
    Ok(())
}

/// What `verify` found in the events chains.
pub(crate) enum Outcome {
    /// Each journal with its count and head.
    Intact(Vec<(Journal, i64, String)>),
    /// The first broken one: `verify --json`'s object and the message (exit 1).
    Broken { json: Value, message: String },
}

/// `verify`'s second part, once the sales journal holds: the shop's and the server's
/// events chains, each in its own snapshot.
pub(crate) async fn verify(store: &Store, shop: i64) -> Result<Outcome, Failure> {
    let mut ok = Vec::new();
    for journal in [Journal::Shop(shop), Journal::Server] {
        let v = store
            .read(move |c| events::verify_snapshot(c, journal))
            .await?;
        match v {
            EventsVerification::Intact { events, head } => ok.push((journal, events, head)),
            broken => {
                return Ok(Outcome::Broken {
                    json: broken_json(shop, journal, &broken),
                    message: broken.message(journal),
                });
            }
        }
    }
    Ok(Outcome::Intact(ok))
}

/// `"events":{"entries","head"}` and `"server_events":{…}` in `verify --json`'s object.
pub(crate) fn add_json(v: &mut Value, chains: &[(Journal, i64, String)]) {
    for (j, n, h) in chains {
        v[journal_name(*j)] = json!({"entries": n, "head": h});
    }
}

/// `events ok: N events, head H` and `server events ok: …`, after the chain's line.
pub(crate) fn print_lines(chains: &[(Journal, i64, String)]) {
    for (j, n, h) in chains {
        let name = journal_name(*j).replace('_', " ");
        println!("{name} ok: {n} events, head {h}");
    }
}

/// The name of a journal in `verify`'s answers.
fn journal_name(j: Journal) -> &'static str {
    match j {
        Journal::Shop(_) => "events",
        Journal::Server => "server_events",
    }
}

/// `verify --json`'s object for a broken events chain.
fn broken_json(shop: i64, journal: Journal, v: &EventsVerification) -> Value {
    let EventsVerification::Broken {
        at,
        problem,
        events_checked,
    } = v
    else {
        return Value::Null;
    };
    let event = at
        .as_ref()
        .map(|(seq, kind)| json!({"seq": seq, "kind": kind}));
    let (stored, recomputed) = match problem {
        comptoir_core::event::EventProblem::SealMismatch { stored, recomputed } => {
            (Some(stored.as_str()), Some(recomputed.as_str()))
        }
        _ => (None, None),
    };
    json!({
        "ok": false, "shop_id": shop.to_string(), "journal": journal_name(journal),
        "problem": problem.code(), "event": event, "stored": stored,
        "recomputed": recomputed, "events_checked": events_checked,
        "message": v.message(journal),
    })
}
