//! The `comptoir` command: serve, migrate, shop, catalog, key, verify (spec/cli.md).
//! Exit codes: 0 success, 1 a check failed, 2 bad usage or input, 3 database unusable.

mod archive;
mod closings;
mod events;
mod fec;
mod fiscal;
mod items_csv;
mod serve;
mod users;
mod verify;
mod webhook;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use comptoir_core::catalog::{self, Catalog};
use comptoir_core::event::{Event, Via};
use comptoir_core::model::{Country, Licence, Name, TimeZoneName};
use comptoir_core::money::Currency;
use comptoir_store::shops::{self, NewPassword, NewShop};
use comptoir_store::{ConnectionBudget, DbUrl, Store, StoreError};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
    Serve(serve::ServeArgs),
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
    Verify(verify::VerifyArgs),
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
        Command::Serve(a) => a.budget()?,
        _ => ConnectionBudget::default(),
    };
    let store = open(&cli.db, budget).await?;
    match cli.command {
        Command::Serve(args) => serve::run(store, args, key_file).await,
        Command::Migrate => {
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Shop(cmd) => shop(store, cmd).await,
        Command::Catalog(cmd) => catalog_cmd(store, cmd).await,
        Command::Key(cmd) => key(store, cmd).await,
        Command::User(cmd) => users::run(store, cmd).await,
        Command::Webhook(cmd) => webhook::run(store, cmd).await,
        Command::Verify(args) => verify::run(store, args, &key_file).await,
        Command::Archive(args) => archive::run(store, key_file, args).await,
        Command::Fec(cmd) => fec::fec(store, cmd).await,
        Command::Close(args) => closings::close(store, key_file, args).await,
        Command::Closings(cmd) => closings::run(store, cmd).await,
        Command::Events(args) => events::run(store, args).await,
        Command::Fiscal(cmd) => fiscal::settings(store, cmd).await,
    }
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
