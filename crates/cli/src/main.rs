//! The `comptoir` command: serve, migrate, shop, catalog, key, verify (spec/cli.md).
//! Exit codes: 0 success, 1 a check failed, 2 bad usage or input, 3 database unusable.

mod archive;
mod closings;
mod events;
mod fec;
mod fiscal;
mod items_csv;
mod users;
mod webhook;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use comptoir_core::catalog::{self, Catalog};
use comptoir_core::event::{Event, Via};
use comptoir_core::model::{Country, Licence, Name, TimeZoneName};
use comptoir_core::money::Currency;
use comptoir_store::journal::{self, Verification};
use comptoir_store::shops::{self, NewPassword, NewShop};
use comptoir_store::{ConnectionBudget, DbUrl, Store, StoreError};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The demo catalog, kept as data in the repository (spec/demo-shop.md).
const DEMO_CATALOG: &str = include_str!("../../../data/demo-shop.json");

#[derive(Parser)]
#[command(
    name = "comptoir",
    version,
    about = "Comptoir, an open-source point-of-sale server"
)]
struct Cli {
    /// Database: sqlite://PATH (default sqlite://comptoir.db) or postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "COMPTOIR_DB",
        default_value = "sqlite://comptoir.db"
    )]
    db: String,
    /// Log format on stderr.
    #[arg(long, global = true, env = "COMPTOIR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// The fiscal signing key file (default comptoir-fiscal.key beside a SQLite database,
    /// else in the current directory); created with mode 0600 on first use.
    #[arg(long, global = true, env = "COMPTOIR_FISCAL_KEY", value_name = "FILE")]
    fiscal_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Create, list and license shops.
    #[command(subcommand)]
    Shop(ShopCommand),
    /// Import and export a shop's catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// A shop's FEC accounting export settings.
    #[command(subcommand)]
    Fec(fec::FecCommand),
    /// Close a past day (the Z), a month or a fiscal year: a signed entry of the shop's
    /// sealed journal.
    Close(closings::CloseArgs),
    /// The signed archive of a closed month or year (ZIP of CSV files, manifest, signature);
    /// `archive verify FILE` checks one.
    Archive(archive::ArchiveArgs),
    /// A shop's closings.
    #[command(subcommand)]
    Closings(closings::ClosingsCommand),
    /// The fiscal signing key (closings, archives).
    #[command(subcommand)]
    Fiscal(fiscal::FiscalCommand),
    /// List and create back-office users, set their passwords.
    #[command(subcommand)]
    User(users::UserCommand),
    /// A shop's webhook: URL, secret, attempt log, re-sending.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// A shop's or the server's events journal (sign-ins, keys, settings, reports…).
    Events(events::EventsArgs),
    /// Recompute a shop's seal chain from its orders, lines and payments, and the shop's
    /// and the server's events chains.
    Verify {
        #[arg(long)]
        shop: i64,
        #[arg(long)]
        json: bool,
        /// The fiscal key's public half (`comptoir fiscal key`, 64 hex digits) that every
        /// closing must be signed by; without it, each closing's own recorded key is used.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// An archive (`comptoir archive`) whose rows the database must still hold, unchanged.
        #[arg(long, value_name = "ARCHIVE")]
        against: Option<PathBuf>,
    },
}

#[derive(Args)]
struct ServeArgs {
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
    /// FOR MEASURING: how delivery yields while the sales saturate the server, as
    /// `SALES,MS,EVENTS` (at least SALES sales in flight: a look every MS ms, at most
    /// EVENTS events a look); the default is webhooks::Yielding's.
    #[arg(long, env = "COMPTOIR_WEBHOOK_YIELD", hide = true)]
    webhook_yield: Option<String>,
    /// PostgreSQL: most pooled connections of this process (requests, reports, webhooks).
    /// The process holds at most this plus --pg-writer-lanes connections.
    #[arg(long, env = "COMPTOIR_PG_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pg_pool_size: u16,
    /// PostgreSQL: sales writer lanes of this process, one connection each; a shop's
    /// sales always go to the same lane.
    #[arg(long, env = "COMPTOIR_PG_WRITER_LANES", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pg_writer_lanes: u16,
}

#[derive(Subcommand)]
enum ShopCommand {
    /// Create a shop with its admin user, "Web" cash box, payment methods, VAT rates and a key.
    Create {
        #[arg(long)]
        name: String,
        /// Give the shop the extended licence (web services).
        #[arg(long)]
        extended: bool,
        #[arg(long, default_value = "EUR")]
        currency: String,
        #[arg(long, default_value = "Europe/Paris")]
        timezone: String,
        #[arg(long, default_value = "FR")]
        country: String,
        #[arg(long)]
        json: bool,
    },
    /// List shops.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a shop's licence.
    Licence {
        shop_id: i64,
        #[arg(
            long,
            conflicts_with = "standard",
            required_unless_present = "standard"
        )]
        extended: bool,
        #[arg(long)]
        standard: bool,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ExportFormat {
    Json,
    Csv,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Import a catalog: a .json document (the export shape) or a .csv of items.
    Import {
        #[arg(long)]
        shop: i64,
        file: PathBuf,
    },
    /// Export a catalog to FILE or stdout.
    Export {
        #[arg(long)]
        shop: i64,
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// One list only (items, departments, clients, ...); CSV supports items.
        #[arg(long)]
        entity: Option<String>,
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key; it is printed once.
    Create {
        #[arg(long)]
        shop: i64,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List a shop's keys (prefixes only).
    List {
        #[arg(long)]
        shop: i64,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key.
    Revoke {
        #[arg(long)]
        shop: i64,
        key_id: i64,
    },
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) | StoreError::Conflict(m) => Failure::usage(m),
            StoreError::Open(m) => Failure {
                code: 3,
                message: format!("cannot open the database: {m}"),
            },
            other => Failure {
                code: 1,
                message: other.to_string(),
            },
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn init_logging(format: LogFormat, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("COMPTOIR_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn open(db: &str, budget: ConnectionBudget) -> Result<Store, Failure> {
    let url = DbUrl::parse(db).map_err(|m| Failure {
        code: 3,
        message: m,
    })?;
    Store::open_with(&url, budget).await.map_err(|e| Failure {
        code: 3,
        message: match e {
            StoreError::Open(m) => format!("cannot open the database {url:?}: {m}"),
            other => format!("cannot open the database {url:?}: {other}"),
        },
    })
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Fiscal(fiscal::FiscalCommand::Key) = cli.command {
        // The key lives outside the database: no need to open (or create) one.
        return fiscal::run(fiscal::key_path(cli.fiscal_key.as_deref(), &cli.db)?);
    }
    let key_file = fiscal::key_path(cli.fiscal_key.as_deref(), &cli.db)?;
    if let Command::Archive(args) = &cli.command
        && let Some(done) = archive::without_database(args, &key_file)
    {
        return done;
    }
    // Only a server sizes its connections; other commands use one or two.
    let budget = match &cli.command {
        Command::Serve(a) => ConnectionBudget::new(a.pg_pool_size.into(), a.pg_writer_lanes.into())
            .map_err(|e| Failure::usage(format!("--pg-pool-size/--pg-writer-lanes: {e}")))?,
        _ => ConnectionBudget::default(),
    };
    let store = open(&cli.db, budget).await?;
    match cli.command {
        Command::Serve(args) => serve(store, args, key_file).await,
        Command::Migrate => {
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Shop(cmd) => shop(store, cmd).await,
        Command::Catalog(cmd) => catalog_cmd(store, cmd).await,
        Command::Key(cmd) => key(store, cmd).await,
        Command::User(cmd) => users::run(store, cmd).await,
        Command::Webhook(cmd) => webhook::run(store, cmd).await,
        Command::Verify {
            shop,
            json,
            public_key,
            against,
        } => {
            let against =
                archive::report_against(&store, shop, against, &public_key, &key_file).await?;
            verify(store, shop, json, public_key, against).await
        }
        Command::Archive(args) => archive::run(store, key_file, args).await,
        Command::Fec(cmd) => fec::fec(store, cmd).await,
        Command::Close(args) => closings::close(store, key_file, args).await,
        Command::Closings(cmd) => closings::run(store, cmd).await,
        Command::Events(args) => events::run(store, args).await,
        Command::Fiscal(cmd) => fiscal::settings(store, cmd).await,
    }
}

async fn serve(store: Store, args: ServeArgs, key_file: PathBuf) -> Result<(), Failure> {
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
            .map_err(|_| Failure::usage("--webhook-yield: expected SALES,MS,EVENTS"))?;
        let [sales, ms, events] = n[..] else {
            return Err(Failure::usage("--webhook-yield: expected SALES,MS,EVENTS"));
        };
        webhooks.yielding = comptoir_server::webhooks::Yielding {
            sales: usize::try_from(sales).unwrap_or(usize::MAX),
            interval: std::time::Duration::from_millis(ms),
            batch: usize::try_from(events).unwrap_or(usize::MAX),
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

async fn create_shop(store: &Store, new: NewShop) -> Result<shops::CreatedShop, Failure> {
    // Argon2 is slow on purpose: hash before taking the write lock.
    let password = tokio::task::spawn_blocking(NewPassword::generate)
        .await
        .context("hashing the admin password")?;
    Ok(store
        .write(move |c| shops::create_shop(c, &new, password))
        .await?)
}

async fn shop(store: Store, cmd: ShopCommand) -> Result<(), Failure> {
    match cmd {
        ShopCommand::Create {
            name,
            extended,
            currency,
            timezone,
            country,
            json,
        } => {
            let new = NewShop {
                name: Name::parse(&name)
                    .map_err(|e| Failure::usage(format!("--name: expected {e}")))?,
                currency: Currency::parse(&currency)
                    .map_err(|e| Failure::usage(format!("--currency: expected {e}")))?,
                timezone: TimeZoneName::parse(&timezone)
                    .map_err(|e| Failure::usage(format!("--timezone: expected {e}")))?,
                country: Country::parse(&country)
                    .map_err(|e| Failure::usage(format!("--country: expected {e}")))?,
                licence: if extended {
                    Licence::Extended
                } else {
                    Licence::Standard
                },
            };
            let c = create_shop(&store, new).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "shop_id": c.shop_id.to_string(),
                        "admin_login": c.admin_login,
                        "admin_password": c.admin_password,
                        "api_key": c.api_key,
                    })
                );
            } else {
                println!("shop created: id {}", c.shop_id);
                println!("admin login: {}", c.admin_login);
                println!("admin password: {}", c.admin_password);
                println!("api key: {}", c.api_key);
                println!("(the password and the key are shown only now)");
            }
            Ok(())
        }
        ShopCommand::List { json } => {
            let list = store.read(shops::list_shops).await?;
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|s| {
                        json!({
                            "shop_id": s.id.to_string(), "name": s.name.as_str(),
                            "licence": s.licence.as_str(), "currency": s.currency.code(),
                            "timezone": s.timezone.as_str(), "country": s.country.as_str(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for s in &list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        s.id,
                        s.name,
                        s.licence,
                        s.currency.code(),
                        s.timezone.as_str()
                    );
                }
            }
            Ok(())
        }
        ShopCommand::Licence {
            shop_id,
            extended,
            standard: _,
        } => {
            let licence = if extended {
                Licence::Extended
            } else {
                Licence::Standard
            };
            let changed = Event::LicenceChanged {
                licence: licence.as_str().into(),
                via: Via::Cli,
            };
            store
                .write(move |c| {
                    shops::set_licence(c, shop_id, licence)?;
                    events::append(c, shop_id, changed)
                })
                .await
                .map_err(|e| not_found_shop(e, shop_id))?;
            println!("shop {shop_id}: licence {licence}");
            Ok(())
        }
    }
}

fn not_found_shop(e: StoreError, shop_id: i64) -> Failure {
    match e {
        StoreError::NotFound => Failure::usage(format!("SHOP_ID: shop {shop_id} does not exist")),
        other => other.into(),
    }
}

async fn require_shop(store: &Store, shop_id: i64) -> Result<comptoir_core::model::Shop, Failure> {
    store
        .read(move |c| shops::get_shop(c, shop_id))
        .await?
        .ok_or_else(|| Failure::usage(format!("--shop: shop {shop_id} does not exist")))
}

/// Parses a catalog document against the shop's currency and VAT rates.
async fn parse_catalog(store: &Store, shop_id: i64, text: &str) -> Result<Catalog, Failure> {
    let shop = require_shop(store, shop_id).await?;
    let known = store
        .read(move |c| comptoir_store::catalog::export(c, shop_id))
        .await?
        .vat_rates
        .into_iter()
        .map(|v| v.rate)
        .collect::<Vec<_>>();
    catalog::parse_document(text, shop.currency.digits(), &known)
        .map_err(|e| Failure::usage(e.to_string()))
}

async fn catalog_cmd(store: Store, cmd: CatalogCommand) -> Result<(), Failure> {
    match cmd {
        CatalogCommand::Import { shop, file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
            let is_csv = file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            let name = file.display().to_string();
            if is_csv {
                let s = require_shop(&store, shop).await?;
                let rows = items_csv::parse(&text, s.currency.digits())
                    .map_err(|e| Failure::usage(format!("{name}: {e}")))?;
                let n = rows.len();
                store
                    .write(move |c| comptoir_store::item_rows::apply(c, shop, &rows))
                    .await
                    .map_err(|e| prefix_failure(e.into(), &name))?;
                println!("imported {n} items into shop {shop}");
            } else {
                let cat = parse_catalog(&store, shop, &text)
                    .await
                    .map_err(|f| prefix_failure(f, &name))?;
                let report = store
                    .write(move |c| comptoir_store::catalog::import(c, shop, &cat))
                    .await
                    .map_err(|e| prefix_failure(e.into(), &name))?;
                let summary: Vec<String> = report
                    .counts
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect();
                println!("imported into shop {shop}: {}", summary.join(", "));
            }
            Ok(())
        }
        CatalogCommand::Export {
            shop,
            format,
            entity,
            file,
        } => {
            let s = require_shop(&store, shop).await?;
            let cat = store
                .read(move |c| comptoir_store::catalog::export(c, shop))
                .await?;
            let bytes = match format {
                ExportFormat::Csv => {
                    if entity.as_deref().is_some_and(|e| e != "items") {
                        return Err(Failure::usage("--entity: CSV export supports items only"));
                    }
                    items_csv::render(&cat.items, s.currency.digits())
                        .map_err(|e| Failure::usage(e.to_string()))?
                }
                ExportFormat::Json => {
                    let mut doc = catalog::to_document(&cat, s.currency.digits());
                    if let Some(e) = &entity {
                        let Some(list) = doc.get(e.as_str()).filter(|v| v.is_array()).cloned()
                        else {
                            return Err(Failure::usage(format!(
                                "--entity: expected one of the document's lists (items, departments, clients, ...), got {e:?}"
                            )));
                        };
                        doc = json!({"format": catalog::FORMAT, "version": catalog::VERSION, e.as_str(): list});
                    }
                    let mut b = serde_json::to_vec_pretty(&doc).context("writing JSON")?;
                    b.push(b'\n');
                    b
                }
            };
            match file {
                Some(path) => std::fs::write(&path, bytes)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?,
                None => std::io::stdout()
                    .write_all(&bytes)
                    .context("writing to stdout")?,
            }
            Ok(())
        }
    }
}

fn prefix_failure(f: Failure, name: &str) -> Failure {
    Failure {
        code: f.code,
        message: format!("{name}: {}", f.message),
    }
}

async fn key(store: Store, cmd: KeyCommand) -> Result<(), Failure> {
    match cmd {
        KeyCommand::Create { shop, label, json } => {
            require_shop(&store, shop).await?;
            let k = store
                .write(move |c| {
                    let k = shops::create_key(c, shop, label.as_deref(), "comptoir key create")?;
                    let label = label.clone();
                    let created = Event::ApiKeyCreated {
                        key_id: k.id,
                        label,
                        via: Via::Cli,
                    };
                    events::append(c, shop, created)?;
                    Ok::<_, StoreError>(k)
                })
                .await?;
            if json {
                println!(
                    "{}",
                    json!({"key_id": k.id.to_string(), "prefix": k.prefix, "api_key": k.plain})
                );
            } else {
                println!("key {} created (prefix {})", k.id, k.prefix);
                println!("api key: {}", k.plain);
                println!("(the key is shown only now)");
            }
            Ok(())
        }
        KeyCommand::List { shop, json } => {
            require_shop(&store, shop).await?;
            let keys = store.read(move |c| shops::list_keys(c, shop)).await?;
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "key_id": k.id.to_string(), "prefix": k.prefix, "label": k.label,
                            "created_at": micros_to_rfc3339(k.created_at),
                            "created_by": k.created_by,
                            "last_used_at": k.last_used_at.map(micros_to_rfc3339),
                            "revoked_at": k.revoked_at.map(micros_to_rfc3339),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for k in &keys {
                    println!(
                        "{}\tcpt_{}_…\t{}\tcreated {} by {}\tlast used {}\t{}",
                        k.id,
                        k.prefix,
                        k.label.as_deref().unwrap_or("-"),
                        micros_to_rfc3339(k.created_at),
                        k.created_by.as_deref().unwrap_or("unknown"),
                        k.last_used_at
                            .map_or_else(|| "never".to_string(), micros_to_rfc3339),
                        k.revoked_at.map_or_else(
                            || "active".to_string(),
                            |t| format!("revoked {}", micros_to_rfc3339(t))
                        )
                    );
                }
            }
            Ok(())
        }
        KeyCommand::Revoke { shop, key_id } => {
            store
                .write(move |c| {
                    shops::revoke_key(c, shop, key_id)?;
                    events::append(
                        c,
                        shop,
                        Event::ApiKeyRevoked {
                            key_id,
                            via: Via::Cli,
                        },
                    )
                })
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        Failure::usage(format!("KEY_ID: shop {shop} has no active key {key_id}"))
                    }
                    other => other.into(),
                })?;
            println!("key {key_id} revoked");
            Ok(())
        }
    }
}

fn micros_to_rfc3339(t: i64) -> String {
    jiff::Timestamp::from_microsecond(t).map_or_else(|_| t.to_string(), |ts| ts.to_string())
}

/// `verify`: exit 0 and `chain ok: N entries, head SEAL`, or exit 1 naming the first
/// entry (or counter) found wrong. `--json` prints one object on stdout either way.
async fn verify(
    store: Store,
    shop: i64,
    json: bool,
    public_key: Option<String>,
    against: Option<archive::AgainstLines>,
) -> Result<(), Failure> {
    if let Some(k) = &public_key
        && comptoir_core::hex::unhex(k.trim()).is_none_or(|b| b.len() != 32)
    {
        return Err(Failure::usage(format!(
            "--public-key: expected 64 hexadecimal digits (comptoir fiscal key), got {k:?}"
        )));
    }
    require_shop(&store, shop).await?;
    let public_key = public_key.map(|k| k.trim().to_ascii_lowercase());
    let outcome = store
        .read(move |c| journal::verify_snapshot_pinned(c, shop, public_key.as_deref()))
        .await?;
    // `--against`: the archive's comparison is reported beside the chain's verdict.
    let against_ok = archive::print_against(json, against.as_ref());
    let with_against = |v| archive::with_against(v, against.as_ref());
    match outcome {
        // The events chains are checked once the sales journal holds.
        Verification::Intact { entries, head } => {
            let chains = match events::verify(&store, shop).await? {
                events::Outcome::Intact(chains) => chains,
                events::Outcome::Broken { json: v, message } => {
                    if json {
                        println!("{}", with_against(v));
                    }
                    return Err(Failure { code: 1, message });
                }
            };
            if json {
                let mut v = json!({"ok": against_ok, "shop_id": shop.to_string(), "entries": entries, "head": head});
                events::add_json(&mut v, &chains);
                println!("{}", with_against(v));
            } else {
                println!("chain ok: {entries} entries, head {head}");
                events::print_lines(&chains);
            }
            if against_ok {
                Ok(())
            } else {
                Err(Failure {
                    code: 1,
                    message:
                        "the database no longer holds, unchanged, everything the archive holds"
                            .into(),
                })
            }
        }
        Verification::Broken(b) => {
            let message = b.to_string();
            if json {
                let entry = b.entry.as_ref().map(|e| {
                    json!({
                        "seq": e.seq, "kind": e.kind.as_str(),
                        "orderInternalID": e.order_internal_id, "orderID": e.order_number,
                        "paymentID": e.payment_id,
                    })
                });
                let (stored, recomputed) = b.problem.seals().unzip();
                println!(
                    "{}",
                    with_against(json!({
                        "ok": false, "shop_id": shop.to_string(), "problem": b.problem.code(),
                        "entry": entry, "stored": stored.flatten(), "recomputed": recomputed,
                        "entries_checked": b.entries_checked, "message": message,
                    }))
                );
            }
            Err(Failure { code: 1, message })
        }
    }
}
