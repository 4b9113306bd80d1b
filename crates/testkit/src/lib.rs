//! The integration-test harness: a fresh database per test on SQLite and, when
//! `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL (a schema of its own, dropped after);
//! a real server on port 0; typed helpers. Every later feature's tests use it.

use comptoir_core::model::{Country, Licence, Name, TimeZoneName};
use comptoir_core::money::Currency;
use comptoir_core::seal::{GENESIS, PaymentEntry, seal};
use comptoir_store::db::{Backend, Conn};
use comptoir_store::shops::{self, CreatedShop, NewPassword, NewShop};
use comptoir_store::{DbUrl, Store, StoreError, params};
use std::net::SocketAddr;
use std::path::PathBuf;

pub mod cluster;

/// True under `COMPTOIR_TEST_STRICT=1` (CI): a missing outside program fails the test.
pub fn strict() -> bool {
    std::env::var("COMPTOIR_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Skips (prints why and returns `false`) or, in strict mode, fails when `ok` is false.
pub fn require(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(!strict(), "COMPTOIR_TEST_STRICT=1 and {what} is missing");
        eprintln!("skipped: {what} is missing");
    }
    ok
}

/// The PostgreSQL URL tests may use, from `COMPTOIR_TEST_POSTGRES`.
pub fn postgres_url() -> Option<String> {
    std::env::var("COMPTOIR_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

fn random_hex() -> String {
    comptoir_store::hex(&comptoir_store::random_bytes::<8>())
}

enum Cleanup {
    Dir(PathBuf),
    Schema { base: String, schema: String },
}

/// A database of one test, removed when dropped.
pub struct TestDb {
    /// The `--db` URL of this database.
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

impl TestDb {
    /// A new SQLite file in a new temporary folder.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("comptoir-test-{}", random_hex()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        TestDb {
            url: format!("sqlite://{}", dir.join("comptoir.db").display()),
            backend: Backend::Sqlite,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A new schema in the PostgreSQL database of `COMPTOIR_TEST_POSTGRES`, or `None`
    /// (with a message; a failure in strict mode) when it is not set.
    pub fn postgres() -> Option<TestDb> {
        let base = postgres_url();
        if !require(base.is_some(), "COMPTOIR_TEST_POSTGRES (a PostgreSQL URL)") {
            return None;
        }
        let base = base?;
        let schema = format!("t_{}", random_hex());
        let (b, s) = (base.clone(), schema.clone());
        on_thread(move || {
            let mut c = postgres::Client::connect(&b, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {b}: {e}"));
            c.batch_execute(&format!("create schema {s}"))
                .expect("create schema");
        });
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(TestDb {
            // application_name lets a test find (and cut) its own connections.
            url: format!("{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}"),
            backend: Backend::Postgres,
            cleanup: Cleanup::Schema { base, schema },
        })
    }

    /// SQLite, then PostgreSQL when configured: the backends a storage test runs on.
    pub fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite()];
        v.extend(TestDb::postgres());
        v
    }

    /// The PostgreSQL schema of this database (also its connections' application name).
    pub fn schema(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::Schema { schema, .. } => Some(schema),
            Cleanup::Dir(_) => None,
        }
    }

    pub fn db_url(&self) -> DbUrl {
        DbUrl::parse(&self.url).expect("test URLs are valid")
    }

    /// Opens (and migrates) this database.
    pub async fn store(&self) -> Store {
        Store::open(&self.db_url())
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.backend))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Cleanup::Schema { base, schema } => {
                let (b, s) = (base.clone(), schema.clone());
                on_thread(move || {
                    if let Ok(mut c) = postgres::Client::connect(&b, postgres::NoTls) {
                        let _ = c.batch_execute(&format!("drop schema if exists {s} cascade"));
                    }
                });
            }
        }
    }
}

/// Runs blocking PostgreSQL work on a plain thread: the sync client may not run on an
/// async worker.
fn on_thread(f: impl FnOnce() + Send + 'static) {
    if std::thread::spawn(f).join().is_err() {
        panic!("database setup failed");
    }
}

/// Creates a French EUR shop named `name` directly in the store.
pub async fn create_shop(store: &Store, name: &str, licence: Licence) -> CreatedShop {
    let new = NewShop {
        name: Name::parse(name).expect("valid name"),
        currency: Currency::EUR,
        timezone: TimeZoneName::parse("Europe/Paris").expect("zone"),
        country: Country::FR,
        licence,
    };
    let password = tokio::task::spawn_blocking(NewPassword::generate)
        .await
        .expect("hash");
    store
        .write(move |c| shops::create_shop(c, &new, password))
        .await
        .expect("create shop")
}

/// A real server on a free port, in this process, with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub store: Store,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts a server on port 0 over `db`.
    pub async fn spawn(db: &TestDb) -> TestApp {
        TestApp::spawn_with(db, |_| {}).await
    }

    /// Starts a server on port 0 over `db`, with `configure` applied to its settings.
    /// Sign-in delays are short (10 ms steps) unless `configure` says otherwise.
    pub async fn spawn_with(
        db: &TestDb,
        configure: impl FnOnce(&mut comptoir_server::Config),
    ) -> TestApp {
        let store = db.store().await;
        let mut config = comptoir_server::Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            base_url: None,
            webhook_allow_private: true,
            trusted_proxies: Vec::new(),
            login_delay_step: std::time::Duration::from_millis(10),
            webhooks: comptoir_server::webhooks::Settings::default(),
            closings: comptoir_server::closings::Settings::default(),
        };
        configure(&mut config);
        let app = comptoir_server::Application::build(config, store.clone())
            .await
            .expect("bind");
        let addr = app.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            base: format!("http://{addr}"),
            store,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// POSTs a form body (`application/x-www-form-urlencoded`).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = encode_form(form);
        self.http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// Creates a shop in this app's database.
    pub async fn create_shop(&self, name: &str, licence: Licence) -> CreatedShop {
        create_shop(&self.store, name, licence).await
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server run");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A clock a test sets by hand, for the automatic closing
/// (`comptoir_server::closings::Settings::clock`).
#[derive(Clone)]
pub struct FakeClock(std::sync::Arc<std::sync::Mutex<jiff::Timestamp>>);

impl FakeClock {
    pub fn at(t: &str) -> FakeClock {
        FakeClock(std::sync::Arc::new(std::sync::Mutex::new(
            t.parse().expect("an RFC 3339 instant"),
        )))
    }

    pub fn set(&self, t: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = t.parse().expect("an RFC 3339 instant");
    }
}

impl comptoir_server::closings::Clock for FakeClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Percent-encodes a form (`a=1&b=x%20y`).
pub fn encode_form(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(s: &str) -> String {
    comptoir_core::form::percent_encode(s)
}

/// The `comptoir` binary built by cargo for this test run, found next to the test binary.
pub fn comptoir_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target folder");
    dir.join(format!("comptoir{}", std::env::consts::EXE_SUFFIX))
}

/// Recomputes every seal of the shop's journal from the order and payment rows, in seq
/// order from the genesis seal, independently of `comptoir_store::journal` (so a test
/// does not trust the code it checks); returns what is wrong, empty when intact.
pub fn recompute_chain(c: &mut dyn Conn, shop_id: i64) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let rows = c.query(
        "select seq, kind, order_id, payment_id, seal from journal where shop_id = $1 order by seq",
        params![shop_id],
    )?;
    let mut previous = GENESIS.to_string();
    for (i, r) in rows.iter().enumerate() {
        let (seq, kind, order_id, stored) = (r.i64(0)?, r.string(1)?, r.i64(2)?, r.string(4)?);
        if seq != i as i64 + 1 {
            problems.push(format!("entry {} is missing", i + 1));
        }
        let canonical = match kind.as_str() {
            "order" => {
                let Some(o) = comptoir_store::sales::get_order(c, shop_id, order_id)? else {
                    problems.push(format!("seq {seq}: order {order_id} is missing"));
                    continue;
                };
                if o.seal.as_deref() != Some(stored.as_str()) {
                    problems.push(format!("seq {seq}: the order's copy of the seal differs"));
                }
                o.journal_entry(seq).canonical()
            }
            "payment" => {
                let payment_id = r.i64(3)?;
                let p = c.query_one(
                    "select order_id, payment_method_id, amount, at from payments
                     where shop_id = $1 and id = $2",
                    params![shop_id, payment_id],
                )?;
                PaymentEntry {
                    shop_id,
                    seq,
                    order_internal_id: p.i64(0)?,
                    payment_id,
                    payment_method_id: p.i64(1)?,
                    amount: p.i64(2)?,
                    at: p.i64(3)?,
                }
                .canonical()
            }
            other => {
                problems.push(format!("seq {seq}: kind {other}"));
                continue;
            }
        };
        let recomputed = seal(&previous, &canonical);
        if recomputed != stored {
            problems.push(format!(
                "seq {seq}: stored {stored}, recomputed {recomputed}"
            ));
        }
        previous = recomputed;
    }
    let head = c.query_one(
        "select journal_seq, journal_head from shop_counters where shop_id = $1",
        params![shop_id],
    )?;
    if head.i64(0)? != rows.len() as i64 || head.str(1)? != previous {
        problems.push("the counters' head is not the last entry".into());
    }
    Ok(problems)
}

/// The demo catalog, `data/demo-shop.json`.
pub const DEMO_CATALOG: &str = include_str!("../../../data/demo-shop.json");

/// Imports the demo catalog into shop `shop_id` (a French EUR shop), in one transaction.
pub async fn import_demo(store: &Store, shop_id: i64) {
    let cat = comptoir_core::catalog::parse_document(DEMO_CATALOG, 2, &[])
        .expect("the demo catalog parses");
    store
        .write(move |c| comptoir_store::catalog::import(c, shop_id, &cat))
        .await
        .expect("import the demo catalog");
}

/// Two stores on `db`, as two `serve` processes on one database (PostgreSQL): each a pool
/// of 4 and one sales lane, whose transactions then carry the sales of every shop.
pub async fn two_stores(db: &TestDb) -> (Store, Store) {
    let url = db.db_url();
    let open = || {
        let budget = comptoir_store::ConnectionBudget::new(4, 1).expect("a connection budget");
        Store::open_with(&url, budget)
    };
    (
        open().await.expect("the first store"),
        open().await.expect("the second store"),
    )
}

/// Holds shop `shop_id`'s counter row for `held` in a transaction of `store`, as another
/// process's lane does while it records its group; the task ends once the row is free.
pub fn hold_counter_row(
    store: &Store,
    shop_id: i64,
    held: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    let store = store.clone();
    tokio::spawn(async move {
        store
            .write(move |c| {
                c.query_one(
                    "select next_order_number from shop_counters where shop_id = $1 for update",
                    params![shop_id],
                )?;
                std::thread::sleep(held);
                Ok::<_, StoreError>(())
            })
            .await
            .expect("the counter row held");
    })
}

/// A new shop with the demo catalog: the shop, its first active item and its first
/// payment method (Cash), for tests that record sales.
pub async fn demo_shop(store: &Store, name: &str) -> (comptoir_core::model::Shop, i64, i64) {
    let shop_id = create_shop(store, name, Licence::Extended).await.shop_id;
    import_demo(store, shop_id).await;
    let (item, cash) = item_and_payment_method(store, shop_id).await;
    let shop = store
        .read(move |c| shops::get_shop(c, shop_id))
        .await
        .expect("read the shop")
        .expect("the shop");
    (shop, item, cash)
}

/// Two units of `item` paid with `method`, recorded through `Store::write_order` as the
/// server records a plain sale: the order, or the failure as text.
pub async fn sell_two(
    store: &Store,
    shop: &comptoir_core::model::Shop,
    item: i64,
    method: i64,
) -> Result<comptoir_core::order::OrderView, String> {
    use comptoir_store::sales::{Answer, OrderWrite, SaleInput, Shape};
    let input = SaleInput::new(
        vec![format!("{item}_2")],
        comptoir_core::sale::PaymentParam::Method(method),
    );
    let shape: Shape = std::sync::Arc::new(|o| o.id.to_string());
    match store
        .write_order(
            shop,
            None,
            OrderWrite::Sale(std::sync::Arc::new(input)),
            shape,
        )
        .await
    {
        Ok(Answer::Order(o)) => Ok(*o),
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// The first active item and the first payment method of shop `shop_id` (with the demo
/// catalog: a sellable item and Cash), for tests that record sales.
pub async fn item_and_payment_method(store: &Store, shop_id: i64) -> (i64, i64) {
    store
        .read(move |c| {
            let mut one = |sql: &str| c.query_one(sql, params![shop_id]).and_then(|r| r.i64(0));
            Ok::<_, StoreError>((
                one("select min(id) from items where shop_id = $1 and active")?,
                one("select min(id) from payment_methods where shop_id = $1")?,
            ))
        })
        .await
        .expect("an item and a payment method")
}
