//! `comptoir webhook set|off|secret|log|resend` (spec/cli.md): a shop's webhook URL and
//! format, its signing secret, the attempt log and re-sending an event.

use crate::{Failure, micros_to_rfc3339, require_shop};
use clap::{Subcommand, ValueEnum};
use comptoir_core::webhook::settings::{Target, event_number};
use comptoir_core::webhook::{Format, event_id};
use comptoir_store::webhooks::{self, Endpoint, LoggedEvent};
use comptoir_store::{Store, StoreError, now_micros, webhook_settings};
use serde_json::json;

#[derive(Subcommand)]
pub(crate) enum WebhookCommand {
    /// Set the shop's webhook URL; prints the signing secret.
    Set {
        #[arg(long)]
        shop: i64,
        url: String,
        #[arg(long, value_enum, default_value_t = BodyFormat::Form)]
        format: BodyFormat,
        /// Accept loopback and private addresses (with `serve --webhook-allow-private`).
        #[arg(long)]
        allow_private: bool,
        #[arg(long)]
        json: bool,
    },
    /// Turn the shop's webhooks off (the secret is kept).
    Off {
        #[arg(long)]
        shop: i64,
    },
    /// Print the shop's signing secret, or make a new one with --rotate.
    Secret {
        #[arg(long)]
        shop: i64,
        /// A new secret; the old one still signs for 24 hours (both signatures are sent).
        #[arg(long)]
        rotate: bool,
        #[arg(long)]
        json: bool,
    },
    /// The latest events and their attempts.
    Log {
        #[arg(long)]
        shop: i64,
        /// Only the events that failed for good.
        #[arg(long)]
        failed: bool,
        #[arg(long)]
        json: bool,
    },
    /// Send an event again, with the whole retry schedule.
    Resend {
        #[arg(long)]
        shop: i64,
        /// The event id as sent (`SHOP-ID`) or its number.
        event_id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum BodyFormat {
    Form,
    Json,
}

impl BodyFormat {
    fn format(self) -> Format {
        match self {
            BodyFormat::Form => Format::Form,
            BodyFormat::Json => Format::Json,
        }
    }
}

fn no_settings(shop: i64) -> Failure {
    Failure::usage(format!(
        "--shop: shop {shop} has no webhook; set one with `comptoir webhook set`"
    ))
}

fn print_endpoint(e: &Endpoint, json: bool) {
    if json {
        println!(
            "{}",
            json!({"url": e.url, "format": e.format, "secret": e.secret})
        );
    } else {
        match &e.url {
            Some(u) => println!("webhook of shop {}: {u} ({})", e.shop_id, e.format),
            None => println!("webhook of shop {}: off", e.shop_id),
        }
        println!("secret: {}", e.secret);
    }
}

pub(crate) async fn run(store: Store, cmd: WebhookCommand) -> Result<(), Failure> {
    match cmd {
        WebhookCommand::Set {
            shop,
            url,
            format,
            allow_private,
            json,
        } => {
            require_shop(&store, shop).await?;
            let target = Target::check(&url, format.format(), allow_private)
                .map_err(|m| Failure::usage(format!("URL: {m}")))?;
            let e = store
                .write(move |c| webhook_settings::enable(c, shop, &target, now_micros()))
                .await?;
            print_endpoint(&e, json);
            Ok(())
        }
        WebhookCommand::Off { shop } => {
            require_shop(&store, shop).await?;
            store
                .write(move |c| webhooks::disable(c, shop, now_micros()))
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => no_settings(shop),
                    other => other.into(),
                })?;
            println!("webhook of shop {shop}: off");
            Ok(())
        }
        WebhookCommand::Secret { shop, rotate, json } => {
            require_shop(&store, shop).await?;
            let e = if rotate {
                store
                    .write(move |c| webhook_settings::rotate(c, shop, now_micros()))
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound => no_settings(shop),
                        other => other.into(),
                    })?
            } else {
                store
                    .read(move |c| webhooks::endpoint(c, shop))
                    .await?
                    .ok_or_else(|| no_settings(shop))?
            };
            if json {
                let previous_until = e.previous.as_ref().map(|(_, t)| micros_to_rfc3339(*t));
                println!(
                    "{}",
                    json!({"secret": e.secret, "previous_until": previous_until})
                );
            } else {
                println!("{}", e.secret);
                if let (true, Some((_, until))) = (rotate, &e.previous) {
                    eprintln!(
                        "the previous secret still signs until {}",
                        micros_to_rfc3339(*until)
                    );
                }
            }
            Ok(())
        }
        WebhookCommand::Log { shop, failed, json } => {
            require_shop(&store, shop).await?;
            let events = store
                .read(move |c| webhooks::log(c, shop, failed, 100))
                .await?;
            print_log(shop, &events, json);
            Ok(())
        }
        WebhookCommand::Resend { shop, event_id: id } => {
            require_shop(&store, shop).await?;
            let number =
                event_number(&id, shop).map_err(|m| Failure::usage(format!("EVENT_ID: {m}")))?;
            store
                .write(move |c| webhooks::resend(c, shop, number, now_micros()))
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => Failure::usage(format!(
                        "EVENT_ID: shop {shop} has no event {}",
                        event_id(shop, number)
                    )),
                    other => other.into(),
                })?;
            println!("event {} will be sent again", event_id(shop, number));
            Ok(())
        }
    }
}

fn print_log(shop: i64, events: &[LoggedEvent], json: bool) {
    if json {
        let rows: Vec<_> = events
            .iter()
            .map(|e| {
                json!({
                    "eventID": event_id(shop, e.id), "type": e.event_type,
                    "orderInternalID": e.order_id, "createdAt": micros_to_rfc3339(e.created_at),
                    "state": e.state,
                    "nextAttemptAt": (e.state == "pending" && e.next_at > 0)
                        .then(|| micros_to_rfc3339(e.next_at)),
                    "attempts": e.attempts.iter().map(|a| json!({
                        "attempt": a.attempt, "at": micros_to_rfc3339(a.at),
                        "status": a.status, "latencyMs": a.latency_micros / 1000,
                        "error": a.error, "answer": a.answer,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    for e in events {
        println!(
            "{}\t{}\torder {}\t{}\t{}",
            event_id(shop, e.id),
            e.event_type,
            e.order_id,
            e.state,
            micros_to_rfc3339(e.created_at)
        );
        for a in &e.attempts {
            let status = a.status.map_or_else(|| "-".to_string(), |s| s.to_string());
            println!(
                "  #{}\t{}\tstatus {status}\t{} ms\t{}",
                a.attempt,
                micros_to_rfc3339(a.at),
                a.latency_micros / 1000,
                a.error.as_deref().unwrap_or("")
            );
        }
    }
}
