//! `comptoir serve`: its options, the start (bind, the autovacuum warning, the demo shop),
//! the automatic closings' settings, and the run until a shutdown signal.

use crate::Failure;
use anyhow::Context;
use clap::Args;
use comptoir_core::catalog;
use comptoir_core::model::{Country, Licence, Name, TimeZoneName};
use comptoir_core::money::Currency;
use comptoir_store::shops::{self, NewPassword, NewShop};
use comptoir_store::{ConnectionBudget, Store, StoreError};
use std::io::Write;
use std::path::PathBuf;

/// The demo catalog, kept as data in the repository (spec/demo-shop.md).
const DEMO_CATALOG: &str = include_str!("../../../data/demo-shop.json");

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to bind; port 0 picks a free port.
    #[arg(long, env = "COMPTOIR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Public URL used in the links the server hands out.
    #[arg(long, env = "COMPTOIR_BASE_URL")]
    base_url: Option<String>,
    /// Create the demo shop if no shop named "Demo" exists.
    #[arg(long)]
    demo: bool,
    /// Allow webhook URLs on loopback and private addresses.
    #[arg(long)]
    webhook_allow_private: bool,
    /// A reverse proxy (address or CIDR block) whose Forwarded / X-Forwarded-For headers
    /// name the client; repeatable. Headers from any other peer are ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "COMPTOIR_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<comptoir_server::client_address::Cidr>,
    /// Days webhook events and their attempts are kept (at least 3: retries last 2 days).
    #[arg(long, env = "COMPTOIR_WEBHOOK_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(3..=3650))]
    webhook_retention_days: u64,
    /// How many nice steps below the sales webhook delivery runs (0-19; 0: beside them).
    /// While the sales keep every core busy they get the CPU and delivery catches up after.
    #[arg(long, env = "COMPTOIR_WEBHOOK_NICE",
          default_value_t = comptoir_server::webhooks::DEFAULT_NICE,
          value_parser = clap::value_parser!(u8).range(0..=19))]
    webhook_nice: u8,
    /// Do not close days, months and years automatically (at each shop's closing hour,
    /// and at start for the days the server was down for); `comptoir close` still works.
    #[arg(long, env = "COMPTOIR_NO_AUTO_CLOSE")]
    no_auto_close: bool,
    /// FOR TESTS ONLY: the webhook retry waits in milliseconds (`100,200,400`) instead of
    /// the schedule of the spec (10 s, 1 min, … 24 h).
    #[arg(long, env = "COMPTOIR_WEBHOOK_TEST_SCHEDULE", hide = true)]
    webhook_test_schedule: Option<String>,
    /// FOR MEASURING: how delivery yields while the sales saturate the writer, as
    /// `QUEUED,MS,EVENTS` (at least QUEUED writes queued at the writer on average: a look
    /// every MS ms, at most EVENTS events a look); the default is webhooks::Yielding's.
    #[arg(long, env = "COMPTOIR_WEBHOOK_YIELD", hide = true)]
    webhook_yield: Option<String>,
    /// PostgreSQL: most pooled connections of this process (requests, reports, webhooks).
    /// The process holds at most this plus --pg-writer-lanes connections.
    #[arg(long, env = "COMPTOIR_PG_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pg_pool_size: u16,
    /// PostgreSQL: sales writer lanes of this process, one connection each; a shop's
    /// sales always go to the same lane. Default: one per two cores, 1 to 4.
    #[arg(long, env = "COMPTOIR_PG_WRITER_LANES",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pg_writer_lanes: Option<u16>,
}

impl ServeArgs {
    /// The PostgreSQL connections this server may hold.
    pub(crate) fn budget(&self) -> Result<ConnectionBudget, Failure> {
        let lanes = match self.pg_writer_lanes {
            Some(n) => n.into(),
            None => ConnectionBudget::default().lanes(),
        };
        ConnectionBudget::new(self.pg_pool_size.into(), lanes)
            .map_err(|e| Failure::usage(format!("--pg-pool-size/--pg-writer-lanes: {e}")))
    }
}

/// Binds, then serves until SIGTERM or Ctrl-C: the webhook worker and the automatic
/// closings run beside the server and stop with it.
pub(crate) async fn run(store: Store, args: ServeArgs, key_file: PathBuf) -> Result<(), Failure> {
    let mut webhooks = comptoir_server::webhooks::Settings {
        retention: std::time::Duration::from_secs(args.webhook_retention_days * 24 * 3600),
        nice: args.webhook_nice,
        ..Default::default()
    };
    if let Some(text) = &args.webhook_test_schedule {
        webhooks.retry_schedule = comptoir_core::webhook::retry::parse_schedule(text)
            .map_err(|e| Failure::usage(format!("--webhook-test-schedule: expected {e}")))?;
    }
    if let Some(text) = &args.webhook_yield {
        let n: Vec<u64> = text
            .split(',')
            .map(|t| t.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| Failure::usage("--webhook-yield: expected QUEUED,MS,EVENTS"))?;
        let [queued, ms, events] = n[..] else {
            return Err(Failure::usage("--webhook-yield: expected QUEUED,MS,EVENTS"));
        };
        webhooks.yielding = comptoir_server::webhooks::Yielding {
            queued: usize::try_from(queued).unwrap_or(usize::MAX),
            interval: std::time::Duration::from_millis(ms),
            batch: usize::try_from(events).unwrap_or(usize::MAX),
            ..Default::default()
        };
    }
    let config = comptoir_server::Config {
        listen: args.listen,
        base_url: args.base_url,
        webhook_allow_private: args.webhook_allow_private,
        trusted_proxies: args.trusted_proxies,
        login_delay_step: comptoir_server::workers::login_limiter::DEFAULT_DELAY_STEP,
        webhooks,
        closings: comptoir_server::closings::Settings {
            key: (!args.no_auto_close)
                .then_some(comptoir_server::closings::KeySource::File(key_file)),
            ..Default::default()
        },
    };
    // Bind first: if the address is taken, nothing (not even the demo shop) is created.
    let app = comptoir_server::Application::build(config, store.clone())
        .await
        .map_err(|e| Failure::usage(format!("--listen {}: {e}", args.listen)))?;
    if store.autovacuum_off().await.unwrap_or(false) {
        tracing::warn!(
            "PostgreSQL runs with autovacuum off: Comptoir analyses a sale's tables itself, \
             but nothing vacuums them (see docs/operations.md)"
        );
    }
    let demo = if args.demo {
        ensure_demo(&store).await?
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://{}", app.local_addr());
    if let Some(d) = demo {
        let _ = writeln!(
            out,
            "demo shop: id={} login={} password={} api_key={}",
            d.shop_id, d.admin_login, d.admin_password, d.api_key
        );
    }
    let _ = out.flush();
    drop(out);
    tracing::info!(addr = %app.local_addr(), "serving");
    app.run(comptoir_server::shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Creates the demo shop unless a shop named "Demo" exists; `Some` when it was created.
async fn ensure_demo(store: &Store) -> Result<Option<shops::CreatedShop>, Failure> {
    let exists = store.read(|c| shops::find_shop_by_name(c, "Demo")).await?;
    if let Some(id) = exists {
        tracing::info!(
            shop_id = id,
            "demo shop already exists; its credentials were shown when it was created"
        );
        return Ok(None);
    }
    let new = NewShop {
        name: Name::parse("Demo").map_err(Failure::usage)?,
        currency: Currency::EUR,
        timezone: TimeZoneName::parse("Europe/Paris").map_err(Failure::usage)?,
        country: Country::FR,
        licence: Licence::Extended,
    };
    // The demo catalog is checked before anything is written, against the French
    // defaults every new shop gets; then shop and catalog are written in one transaction.
    let known = shops::default_vat_rates(new.country);
    let catalog = catalog::parse_document(DEMO_CATALOG, new.currency.digits(), &known)
        .map_err(|e| Failure::usage(format!("data/demo-shop.json: {e}")))?;
    let password = tokio::task::spawn_blocking(NewPassword::generate)
        .await
        .context("hashing the admin password")?;
    let created = store
        .write(move |c| {
            let created = shops::create_shop(c, &new, password)?;
            comptoir_store::catalog::import(c, created.shop_id, &catalog)?;
            Ok::<_, StoreError>(created)
        })
        .await?;
    Ok(Some(created))
}
