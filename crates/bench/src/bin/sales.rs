//! Sales benchmark: how many `webapp.php` sales per second a real `comptoir serve` records
//! durably, next to the ceiling of the same server answering `GET /healthz`.
//!
//! Usage:
//!
//!     cargo build --release -p comptoir -p comptoir-bench && target/release/sales [--seconds 10] [--postgres URL]
//!
//! Options: `--seconds N` per measured phase (default 10), `--postgres URL` to run on
//! PostgreSQL (a schema of its own is created and dropped; default: a SQLite file in a
//! temporary folder), `--connections N` (default 64), `--client-threads N` (default 1),
//! `--warmup N` seconds before each phase (default 1), `--catalog PATH` (default
//! `data/demo-shop.json`), `--sales-only` (skip healthz; to profile the server),
//! `--existing-orders N` (the shop holds N orders before the server starts, default 0:
//! pending orders of one line each, added by two set-based statements of
//! `comptoir_store::sales::seed`, then analysed as the store's own upkeep would).
//!
//! CPU per sale is printed for the server and, on PostgreSQL, for the database: the
//! backends of the run's connections (`pg_stat_activity` by application name, which is
//! the run's schema), read from `/proc/PID/stat` at the start and end of the measured
//! window (so PostgreSQL must run on this machine). On SQLite the database works inside
//! the server's process.
//!
//! What it does: creates a fresh database, an extended shop and its catalog with the real
//! CLI (`shop create`, `catalog import`, `catalog export` to find item and payment method
//! ids), starts `comptoir serve`, then drives it with N keep-alive HTTP/1.1 connections
//! from a minimal client written here (so that client overhead stays small): first
//! `GET /healthz`, then 3-line cash sales posted as a form. Every answer must be 200 (and
//! `"result":"OK"` for sales). At the end the server is killed (SIGKILL) and the orders
//! in the database are counted: every acknowledged sale must be there, numbered without
//! gaps.

use comptoir_bench::{BenchDb, ServerProcess, cli, comptoir_bin, cpu_seconds};
use comptoir_store::{DbUrl, Store, params};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Targets on SQLite (the issue's figures for a 2-core machine).
const TARGET_RATIO: f64 = 0.3;
const TARGET_P99_MS: f64 = 15.0;

struct Args {
    seconds: u64,
    warmup: u64,
    postgres: Option<String>,
    connections: usize,
    client_threads: usize,
    catalog: std::path::PathBuf,
    /// Skip the healthz phase (`--sales-only`, for profiling the server during sales).
    sales_only: bool,
    /// Orders the shop holds before the measured phases (`--existing-orders`).
    existing_orders: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 10,
        warmup: 1,
        postgres: None,
        connections: 64,
        client_threads: 1,
        catalog: default_catalog(),
        sales_only: false,
        existing_orders: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag}: expected a value"));
        let number = |v: String| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: expected a whole number, got {v:?}"))
        };
        match flag.as_str() {
            "--seconds" => a.seconds = number(value()?)?.max(1),
            "--warmup" => a.warmup = number(value()?)?,
            "--postgres" => a.postgres = Some(value()?),
            "--connections" => {
                a.connections = usize::try_from(number(value()?)?.max(1)).unwrap_or(64)
            }
            "--client-threads" => {
                a.client_threads = usize::try_from(number(value()?)?.max(1)).unwrap_or(1);
            }
            "--catalog" => a.catalog = value()?.into(),
            "--sales-only" => a.sales_only = true,
            "--existing-orders" => a.existing_orders = number(value()?)?,
            "-h" | "--help" => {
                return Err("usage: sales [--seconds 10] [--postgres URL] [--connections 64] \
                            [--client-threads 1] [--warmup 1] [--catalog data/demo-shop.json] [--sales-only] \
                            [--existing-orders 0]"
                    .into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(a)
}

/// `data/demo-shop.json` of this checkout, or of the current folder.
fn default_catalog() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-shop.json");
    if here.exists() {
        here
    } else {
        "data/demo-shop.json".into()
    }
}

/// What the sales need: the shop, its key, three item ids and the cash method id.
struct Setup {
    shop_id: i64,
    api_key: String,
    items: [i64; 3],
    cash_id: i64,
}

fn setup(bin: &std::path::Path, db: &str, catalog: &std::path::Path) -> Result<Setup, String> {
    let created: serde_json::Value = serde_json::from_str(&cli(
        bin,
        db,
        &["shop", "create", "--name", "Bench", "--extended", "--json"],
    )?)
    .map_err(|e| format!("shop create --json: {e}"))?;
    let shop_id: i64 = created["shop_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or("shop create --json: no shop_id")?;
    let api_key = created["api_key"]
        .as_str()
        .ok_or("shop create --json: no api_key")?
        .to_string();
    let shop = shop_id.to_string();
    let catalog = catalog.to_str().ok_or("catalog path is not UTF-8")?;
    cli(bin, db, &["catalog", "import", "--shop", &shop, catalog])?;
    let doc: serde_json::Value =
        serde_json::from_str(&cli(bin, db, &["catalog", "export", "--shop", &shop])?)
            .map_err(|e| format!("catalog export: {e}"))?;
    let id = |v: &serde_json::Value| v["id"].as_i64();
    let items: Vec<i64> = doc["items"]
        .as_array()
        .ok_or("catalog export: no items")?
        .iter()
        .filter(|i| i["active"].as_bool() != Some(false))
        .filter_map(id)
        .take(3)
        .collect();
    let items: [i64; 3] = items
        .try_into()
        .map_err(|_| "the catalog needs at least three active items".to_string())?;
    let cash_id = doc["payment_methods"]
        .as_array()
        .ok_or("catalog export: no payment_methods")?
        .iter()
        .find(|m| m["kind"].as_str() == Some("cash") || m["name"].as_str() == Some("Cash"))
        .and_then(id)
        .ok_or("the catalog has no Cash payment method")?;
    Ok(Setup {
        shop_id,
        api_key,
        items,
        cash_id,
    })
}

fn get_request(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

fn post_form_request(host: &str, path: &str, form: &[(&str, String)]) -> Vec<u8> {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = comptoir_testkit::encode_form(&pairs);
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One HTTP/1.1 keep-alive connection that sends a request and reads the whole answer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A parsed answer: status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Reads more bytes into the buffer; an error at end of stream.
    async fn fill(&mut self) -> std::io::Result<()> {
        let len = self.buf.len();
        self.buf.resize(len + 16 * 1024, 0);
        let n = self.stream.read(&mut self.buf[len..]).await?;
        self.buf.truncate(len + n);
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }

    async fn call(&mut self, request: &[u8]) -> std::io::Result<Answer> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        self.stream.write_all(request).await?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head =
            std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("head is not UTF-8"))?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status"))?;
        let mut length = None;
        let mut chunked = false;
        for line in head.split("\r\n").skip(1) {
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding")
                    && v.to_ascii_lowercase().contains("chunked")
                {
                    chunked = true;
                }
            }
        }
        self.buf.drain(..head_end);
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    self.fill().await?;
                };
                let size_text = std::str::from_utf8(&self.buf[..line_end])
                    .map_err(|_| bad("chunk size"))?
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let size = usize::from_str_radix(&size_text, 16).map_err(|_| bad("chunk size"))?;
                while self.buf.len() < line_end + 2 + size + 2 {
                    self.fill().await?;
                }
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            let n = length.ok_or_else(|| bad("neither Content-Length nor chunked"))?;
            while self.buf.len() < n {
                self.fill().await?;
            }
            self.buf.drain(..n).collect()
        };
        Ok(Answer { status, body })
    }
}

/// What one phase measured.
struct Phase {
    name: &'static str,
    /// CPU used during the measured window, in cores: (server, this client).
    cpu: Option<(f64, f64)>,
    /// CPU of the PostgreSQL backends during the measured window, in cores.
    db_cpu: Option<f64>,
    /// Latencies of the measured requests, in microseconds, sorted.
    latencies: Vec<u32>,
    elapsed: Duration,
    /// Answers that passed the check, warm-up included.
    ok_total: u64,
    failures: u64,
    first_failure: Option<String>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1);
        f64::from(self.latencies[i]) / 1000.0
    }
}

struct TaskResult {
    latencies: Vec<u32>,
    ok_total: u64,
    failures: u64,
    first_failure: Option<String>,
}

/// Keeps `connections` connections busy with `request` for `warmup` then `measure`;
/// every connection finishes its request in flight before stopping.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    name: &'static str,
    server_pid: u32,
    addr: SocketAddr,
    request: Arc<Vec<u8>>,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    check: fn(&Answer) -> bool,
    db: &BenchDb,
) -> Result<Phase, String> {
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + warmup;
    let deadline = measure_from + measure;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr)
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?;
            tokio::time::sleep_until(start.into()).await;
            let mut r = TaskResult {
                latencies: Vec::with_capacity(64 * 1024),
                ok_total: 0,
                failures: 0,
                first_failure: None,
            };
            loop {
                let t0 = Instant::now();
                if t0 >= deadline {
                    break;
                }
                let answer = conn
                    .call(&request)
                    .await
                    .map_err(|e| format!("{name}: {e}"))?;
                let t1 = Instant::now();
                if check(&answer) {
                    r.ok_total += 1;
                } else {
                    r.failures += 1;
                    if r.first_failure.is_none() {
                        r.first_failure = Some(format!(
                            "{} {}",
                            answer.status,
                            String::from_utf8_lossy(&answer.body)
                        ));
                    }
                }
                if t0 >= measure_from {
                    let us = (t1 - t0).as_micros();
                    r.latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            Ok::<_, String>(r)
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_from = (cpu_seconds(server_pid), cpu_seconds(std::process::id()));
    // A blocking client: off the runtime's worker, which drives the connections.
    let db_from = tokio::task::block_in_place(|| db.backends_cpu());
    tokio::time::sleep_until(deadline.into()).await;
    // A backend that started within the window counts from zero (its start-up included).
    let db_cpu = db_from
        .zip(tokio::task::block_in_place(|| db.backends_cpu()))
        .map(|(from, to)| {
            let used: f64 = to
                .iter()
                .map(|(pid, t)| t - from.get(pid).copied().unwrap_or(0.0))
                .sum();
            used / measure.as_secs_f64()
        });
    let cpu = match (
        cpu_from,
        (cpu_seconds(server_pid), cpu_seconds(std::process::id())),
    ) {
        ((Some(s0), Some(c0)), (Some(s1), Some(c1))) => {
            let secs = measure.as_secs_f64();
            Some(((s1 - s0) / secs, (c1 - c0) / secs))
        }
        _ => None,
    };
    let mut phase = Phase {
        name,
        cpu,
        db_cpu,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        ok_total: 0,
        failures: 0,
        first_failure: None,
    };
    let mut error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(r)) => {
                phase.latencies.extend(r.latencies);
                phase.ok_total += r.ok_total;
                phase.failures += r.failures;
                if phase.first_failure.is_none() {
                    phase.first_failure = r.first_failure;
                }
            }
            Ok(Err(e)) => error = error.or(Some(e)),
            Err(e) => error = error.or(Some(format!("{name}: task failed: {e}"))),
        }
    }
    // The measured window ends at the deadline plus the last answers still in flight.
    phase.elapsed = Instant::now().saturating_duration_since(measure_from);
    phase.latencies.sort_unstable();
    match error {
        Some(e) => Err(format!(
            "{e} (after {} answers of which {} passed)",
            phase.ok_total + phase.failures,
            phase.ok_total
        )),
        None => Ok(phase),
    }
}

fn is_ok(a: &Answer) -> bool {
    a.status == 200
}

fn is_sale_ok(a: &Answer) -> bool {
    a.status == 200 && find(&a.body, br#""result":"OK""#).is_some()
}

/// Orders of the shop in the database: (count, numbered, min number, max number).
fn count_orders(url: &str, shop_id: i64) -> Result<(i64, i64, i64, i64), String> {
    let db = DbUrl::parse(url)?;
    let store = Store::open_blocking(&db).map_err(|e| e.to_string())?;
    let row = store
        .read_blocking(|c| {
            c.query_one(
                "select count(*), count(number), coalesce(min(number), 0), coalesce(max(number), 0)
                 from orders where shop_id = $1",
                params![shop_id],
            )
        })
        .map_err(|e| e.to_string())?;
    let get = |i| row.i64(i).map_err(|e| e.to_string());
    Ok((get(0)?, get(1)?, get(2)?, get(3)?))
}

/// Adds `n` orders to the shop before the server starts (`--existing-orders`), then
/// analyses what grew, as the store's upkeep would within seconds.
fn seed(url: &str, shop_id: i64, n: i64) -> Result<(), String> {
    let t0 = Instant::now();
    let store = Store::open_blocking(&DbUrl::parse(url)?).map_err(|e| e.to_string())?;
    store
        .write_blocking(move |c| comptoir_store::sales::seed::existing_orders(c, shop_id, n))
        .map_err(|e: comptoir_store::StoreError| format!("seeding {n} orders: {e}"))?;
    store
        .refresh_statistics_blocking()
        .map_err(|e| format!("analysing after the seed: {e}"))?;
    eprintln!(
        "seeded {n} existing orders in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the benchmark; `Ok(false)` when an answer failed or the database disagrees.
fn run() -> Result<bool, String> {
    let args = parse_args()?;
    let bin = comptoir_bin();
    if !bin.exists() {
        return Err(format!(
            "{} not found: cargo build --release -p comptoir -p comptoir-bench",
            bin.display()
        ));
    }
    let db = match &args.postgres {
        Some(base) => BenchDb::postgres(base)?,
        None => BenchDb::sqlite(),
    };
    let s = setup(&bin, db.url(), &args.catalog)?;
    let existing =
        i64::try_from(args.existing_orders).map_err(|_| "--existing-orders: too large")?;
    if existing > 0 {
        seed(db.url(), s.shop_id, existing)?;
    }
    let server = ServerProcess::start(&bin, db.url(), &[]);
    let addr: SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("server address {}: {e}", server.base))?;
    let host = addr.to_string();

    let health = Arc::new(get_request(&host, "/healthz"));
    let [a, b, c] = s.items;
    let sale = Arc::new(post_form_request(
        &host,
        "/workers/webapp.php",
        &[
            ("idboutique", s.shop_id.to_string()),
            ("key", s.api_key.clone()),
            ("payment", s.cash_id.to_string()),
            ("itemsList[]", format!("{a}_2")),
            ("itemsList[]", format!("{b}_1")),
            ("itemsList[]", format!("{c}_1")),
        ],
    ));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()
        .map_err(|e| format!("client runtime: {e}"))?;
    let warmup = Duration::from_secs(args.warmup);
    let measure = Duration::from_secs(args.seconds);
    let n = args.connections;
    let sales_only = args.sales_only;
    let pid = server.child.id();
    let flushes_before = db.wal_flushes();
    let (healthz, sales) = rt.block_on(async {
        let h = if sales_only {
            None
        } else {
            Some(run_phase("healthz", pid, addr, health, n, warmup, measure, is_ok, &db).await?)
        };
        let s = run_phase(
            "sales", pid, addr, sale, n, warmup, measure, is_sale_ok, &db,
        )
        .await?;
        Ok::<_, String>((h, s))
    })?;
    drop(rt);
    let flushes = flushes_before.zip(db.wal_flushes()).map(|(a, b)| b - a);
    let peak_rss = server.peak_rss_kib();
    // SIGKILL: what was acknowledged must already be on disk.
    drop(server);
    let (orders, numbered, first, last) = count_orders(db.url(), s.shop_id)?;
    // The seeded orders are pending: no number, and not the run's.
    let orders = orders - existing;

    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!();
    println!(
        "Comptoir sales benchmark: {}, {n} keep-alive connections, {} s per phase \
         (+{} s warm-up), {cpus} CPUs, {} client thread(s)",
        db.backend(),
        args.seconds,
        args.warmup,
        args.client_threads
    );
    println!();
    println!(
        "{:<10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>12} {:>12}",
        "phase", "requests", "req/s", "p50 ms", "p99 ms", "failed", "server CPU", "client CPU"
    );
    let phases: Vec<&Phase> = healthz.iter().chain([&sales]).collect();
    for p in &phases {
        println!(
            "{:<10} {:>10} {:>10.0} {:>9.2} {:>9.2} {:>9} {:>12} {:>12}",
            p.name,
            p.latencies.len(),
            p.rate(),
            p.percentile_ms(0.50),
            p.percentile_ms(0.99),
            p.failures,
            p.cpu.map_or("?".into(), |c| format!("{:.2} cores", c.0)),
            p.cpu.map_or("?".into(), |c| format!("{:.2} cores", c.1)),
        );
    }
    let p99 = sales.percentile_ms(0.99);
    println!();
    // The issue's targets are for SQLite; on PostgreSQL the figures are reported as they are.
    let verdict = |ok: bool| match (args.postgres.is_some(), ok) {
        (true, _) => "a SQLite target",
        (false, true) => "met",
        (false, false) => "MISSED",
    };
    if let Some(h) = &healthz {
        let ratio = sales.rate() / h.rate();
        println!(
            "sales/healthz: {ratio:.3} (target >= {TARGET_RATIO}: {})",
            verdict(ratio >= TARGET_RATIO)
        );
    }
    println!(
        "sales p99: {p99:.2} ms (target <= {TARGET_P99_MS} ms: {})",
        verdict(p99 <= TARGET_P99_MS)
    );
    if let Some(n) = flushes {
        // Group commit: many sales per flush (healthz writes nothing; the count is the
        // whole cluster's, so other activity would show here too).
        let sales_total = sales.ok_total as f64;
        println!(
            "PostgreSQL WAL flushes during the run: {n} for {} sales ({:.1} sales per flush)",
            sales.ok_total,
            sales_total / (n.max(1) as f64)
        );
    }
    let per_sale_ms = |cores: f64| cores * 1000.0 / sales.rate();
    println!(
        "CPU per sale: server {}, database {} (existing orders: {existing})",
        sales
            .cpu
            .map_or("?".into(), |c| format!("{:.3} ms", per_sale_ms(c.0))),
        match sales.db_cpu {
            Some(c) => format!(
                "{:.3} ms (PostgreSQL backends; target <= 0.3 ms: {})",
                per_sale_ms(c),
                if per_sale_ms(c) <= 0.3 {
                    "met"
                } else {
                    "MISSED"
                }
            ),
            None => "inside the server".into(),
        }
    );
    if let Some(kib) = peak_rss {
        println!("server peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    let acked = i64::try_from(sales.ok_total).unwrap_or(i64::MAX);
    let gapless = numbered == orders && (orders == 0 || (first == 1 && last == orders));
    println!(
        "orders in the database after SIGKILL: {orders}, acknowledged: {acked} ({}); \
         orderIDs {first}..{last} {}",
        if orders == acked {
            "equal"
        } else {
            "DIFFERENT"
        },
        if gapless { "gapless" } else { "NOT GAPLESS" }
    );
    let mut ok = orders == acked && gapless;
    for p in &phases {
        if let Some(f) = &p.first_failure {
            println!("{}: {} failed answers; first: {f}", p.name, p.failures);
            ok = false;
        }
    }
    Ok(ok)
}
