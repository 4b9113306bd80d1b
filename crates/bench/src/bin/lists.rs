//! Data downloads benchmark: seeds a shop with 100,000 items and 100,000 clients, then
//! downloads `getPlus` and `getClients` in JSON, CSV and HTML from the real server and
//! prints rows/s and the server's peak memory, next to a 1,000-row shop in its own process
//! and to the `/healthz` request rate measured in the same run.
//!
//! Build first, then run: `cargo build --release -p comptoir -p comptoir-bench &&
//! target/release/lists [--postgres] [--rows N] [--reps N]` (`--postgres` uses a fresh
//! schema in the database of `COMPTOIR_TEST_POSTGRES`).

use comptoir_core::model::{Country, Licence, Name, TimeZoneName};
use comptoir_core::money::Currency;
use comptoir_store::db::Conn;
use comptoir_store::shops::{self, CreatedShop, NewPassword, NewShop};
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestDb, encode_form};
use std::time::{Duration, Instant};

const TARGET_ROWS_PER_SECOND: f64 = 500_000.0;
const TARGET_RSS_GROWTH_KIB: u64 = 20 * 1024;
const FORMATS: &[&str] = &["json", "csv", "html"];
const LISTS: &[(&str, &str)] = &[("items", "getPlus"), ("clients", "getClients")];

struct Args {
    postgres: bool,
    rows: usize,
    small: usize,
    reps: u32,
}

fn args() -> Args {
    let mut a = Args {
        postgres: false,
        rows: 100_000,
        small: 1_000,
        reps: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--postgres" => a.postgres = true,
            "--rows" => a.rows = num("--rows"),
            "--small" => a.small = num("--small"),
            "--reps" => a.reps = u32::try_from(num("--reps")).unwrap_or(u32::MAX).max(1),
            other => panic!(
                "unknown argument {other:?}; expected --postgres, --rows N, --small N, --reps N"
            ),
        }
    }
    a
}

fn main() {
    let args = args();
    let bin = comptoir_bench::comptoir_bin();
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p comptoir -p comptoir-bench` first",
        bin.display()
    );
    let db = if args.postgres {
        TestDb::postgres().expect("--postgres needs COMPTOIR_TEST_POSTGRES")
    } else {
        TestDb::sqlite()
    };
    let store = Store::open_blocking(&db.db_url()).expect("open the database");

    let started = Instant::now();
    let big = seeded_shop(&store, "Big", args.rows);
    let small = seeded_shop(&store, "Small", args.small);
    println!(
        "seeded {} + {} items and clients on {} in {:.1} s",
        args.rows,
        args.small,
        db.backend,
        started.elapsed().as_secs_f64()
    );
    drop(store);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let small_run = runtime.block_on(run(&bin, &db.url, &small, args.small, args.reps, false));
    let big_run = runtime.block_on(run(&bin, &db.url, &big, args.rows, args.reps, true));
    report(&args, db.backend, &small_run, &big_run);
}

/// Creates a shop with `n` items and `n` clients, in one transaction after the shop.
fn seeded_shop(store: &Store, name: &str, n: usize) -> CreatedShop {
    let new = NewShop {
        name: Name::parse(name).expect("name"),
        currency: Currency::EUR,
        timezone: TimeZoneName::parse("Europe/Paris").expect("zone"),
        country: Country::FR,
        licence: Licence::Extended,
    };
    let password = NewPassword::generate();
    let shop = store
        .write_blocking(move |c| shops::create_shop(c, &new, password))
        .expect("create shop");
    let shop_id = shop.shop_id;
    store
        .write_blocking(move |c| seed(c, shop_id, n))
        .expect("seed the shop");
    shop
}

const FIRST: &[&str] = &[
    "Marie", "Jean", "Léa", "Hugo", "Chloé", "Lucas", "Zoé", "Noah",
];
const LAST: &[&str] = &[
    "Durand",
    "Martin",
    "Bernard",
    "Petit",
    "Lefèvre",
    "O'Brien",
    "Dupont-Moreau",
    "=cmd()",
];
const DISHES: &[&str] = &[
    "Pizza Margherita",
    "Crème brûlée",
    "Café \"serré\"",
    "Eau plate, 50 cl",
    "Tarte aux pommes",
    "Salade niçoise",
];

fn seed(c: &mut dyn Conn, shop_id: i64, n: usize) -> Result<(), StoreError> {
    let group = c.insert_id(
        "insert into department_groups (shop_id, name) values ($1, 'Food') returning id",
        params![shop_id],
    )?;
    let mut departments = Vec::new();
    for (name, rate) in [("Plats", 1000_i64), ("Desserts", 550), ("Boissons", 2000)] {
        departments.push(c.insert_id(
            "insert into departments (shop_id, group_id, name, vat_rate) values ($1, $2, $3, $4)
             returning id",
            params![shop_id, group, name, rate],
        )?);
    }
    for i in 0..n as i64 {
        let k = i as usize;
        c.execute(
            "insert into items (shop_id, department_id, name, price, vat_rate, barcode,
                 reference, position, active, stock)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            params![
                shop_id,
                departments[k % departments.len()],
                format!("{} n°{i}", DISHES[k % DISHES.len()]),
                150 + (i * 37) % 4_000,
                (i % 7 == 0).then_some(550_i64),
                format!("30176204{:05}", i % 100_000),
                format!("REF-{i:06}"),
                i,
                i % 11 != 0,
                (i % 3 == 0).then_some((i % 500) * 250)
            ],
        )?;
        c.execute(
            "insert into clients (shop_id, last_name, first_name, email, phone, address1,
                 postcode, city, country, vat_number, lat, lng, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, 'FR', $9, $10, $11, 0)",
            params![
                shop_id,
                LAST[k % LAST.len()],
                FIRST[(k / 8) % FIRST.len()],
                format!("client{i}@example.org"),
                format!(
                    "+33 6 {:02} {:02} {:02} {:02}",
                    i % 100,
                    (i / 7) % 100,
                    (i / 3) % 100,
                    (i / 11) % 100
                ),
                format!("{} rue de la République", 1 + i % 200),
                format!("{:05}", 75_001 + i % 20),
                "Paris",
                (i % 5 == 0).then(|| format!("FR{i:011}")),
                (i % 2 == 0).then_some(488_462_000 + i),
                (i % 2 == 0).then_some(23_447_000 - i)
            ],
        )?;
    }
    Ok(())
}

/// Figures of one server process.
struct Run {
    /// (list, format) → (rows per download, bytes per download, rows/s).
    downloads: Vec<(&'static str, &'static str, usize, u64, f64)>,
    healthz_per_second: f64,
    /// A four-row list (`getPaymentModes`): the fixed cost of a download.
    small_list_per_second: f64,
    rss_before_kib: u64,
    peak_rss_kib: u64,
}

async fn run(
    bin: &std::path::Path,
    db_url: &str,
    shop: &CreatedShop,
    rows: usize,
    reps: u32,
    with_healthz: bool,
) -> Run {
    let server = comptoir_bench::ServerProcess::start(bin, db_url, &[]);
    let http = reqwest::Client::new();
    // Warm the connection and the authentication cache.
    let url = |endpoint: &str, format: &str| {
        let id = shop.shop_id.to_string();
        format!(
            "{}/workers/{endpoint}.php?{}",
            server.base,
            encode_form(&[
                ("idboutique", &id),
                ("key", &shop.api_key),
                ("format", format)
            ])
        )
    };
    download(&http, &url("getTables", "json")).await;
    let rss_before_kib = server.rss_kib().unwrap_or(0);

    let mut downloads = Vec::new();
    for &(list, endpoint) in LISTS {
        for &format in FORMATS {
            let u = url(endpoint, format);
            let (newlines, bytes) = download(&http, &u).await;
            let framing = match format {
                "html" => 5,
                _ => 1,
            };
            assert_eq!(newlines, (rows + framing) as u64, "{list} {format}: rows");
            let started = Instant::now();
            for _ in 0..reps {
                drain(&http, &u).await;
            }
            let secs = started.elapsed().as_secs_f64();
            let rate = (rows as f64) * f64::from(reps) / secs;
            downloads.push((list, format, rows, bytes, rate));
        }
    }
    let peak_rss_kib = server.peak_rss_kib().unwrap_or(0);

    let (healthz_per_second, small_list_per_second) = if with_healthz {
        (
            requests_per_second(&http, &format!("{}/healthz", server.base)).await,
            requests_per_second(&http, &url("getPaymentModes", "json")).await,
        )
    } else {
        (0.0, 0.0)
    };
    Run {
        downloads,
        healthz_per_second,
        small_list_per_second,
        rss_before_kib,
        peak_rss_kib,
    }
}

/// Sequential requests per second to `url` on one keep-alive connection.
async fn requests_per_second(http: &reqwest::Client, url: &str) -> f64 {
    let n = 3_000u32;
    for _ in 0..100 {
        drain(http, url).await;
    }
    let started = Instant::now();
    for _ in 0..n {
        drain(http, url).await;
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

/// Downloads `url` without keeping the body; returns its newlines and bytes.
async fn download(http: &reqwest::Client, url: &str) -> (u64, u64) {
    let mut res = get(http, url).await;
    let (mut newlines, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = res.chunk().await.expect("body") {
        bytes += chunk.len() as u64;
        newlines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    (newlines, bytes)
}

/// Downloads `url` and drops the bytes as they come: the client's share of the CPU stays
/// small, for the server shares the machine with it.
async fn drain(http: &reqwest::Client, url: &str) {
    let mut res = get(http, url).await;
    while res.chunk().await.expect("body").is_some() {}
}

async fn get(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let res = http
        .get(url)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res
}

fn report(args: &Args, backend: comptoir_store::db::Backend, small: &Run, big: &Run) {
    println!();
    println!(
        "downloads on {backend}, {} timed downloads each over one keep-alive connection",
        args.reps
    );
    println!(
        "{:<8} {:<6} {:>10} {:>16} {:>12} {:>16}",
        "list", "format", "MB", "rows/s (big)", "vs target", "rows/s (small)"
    );
    for (b, s) in big.downloads.iter().zip(&small.downloads) {
        let (list, format, _, bytes, rate) = *b;
        let target = if format == "html" {
            "-".to_string()
        } else {
            format!("{:.2}x", rate / TARGET_ROWS_PER_SECOND)
        };
        println!(
            "{list:<8} {format:<6} {:>10.1} {:>16.0} {:>12} {:>16.0}",
            bytes as f64 / 1e6,
            rate,
            target,
            s.4
        );
    }
    let rows_per_second = |format: &str| {
        let (rows, secs) = big
            .downloads
            .iter()
            .filter(|d| d.1 == format)
            .fold((0.0, 0.0), |(r, t), d| {
                (r + d.2 as f64, t + d.2 as f64 / d.4)
            });
        rows / secs
    };
    println!();
    for format in FORMATS {
        let rate = rows_per_second(format);
        let verdict = match *format {
            "html" => "no target",
            _ if rate >= TARGET_ROWS_PER_SECOND => "meets the 500,000 rows/s target",
            _ => "MISSES the 500,000 rows/s target",
        };
        println!("{format:<5} items+clients: {rate:>10.0} rows/s  ({verdict})");
    }
    // The per-request ceiling of this server on this machine: one JSON row costs this
    // fraction of the cheapest request it answers.
    println!(
        "/healthz: {:.0} req/s on one keep-alive connection; a JSON row costs 1/{:.0} of a health check",
        big.healthz_per_second,
        rows_per_second("json") / big.healthz_per_second
    );
    println!(
        "getPaymentModes (4 rows, JSON): {:.0} req/s, {:.0}% of /healthz: the fixed cost of a download",
        big.small_list_per_second,
        100.0 * big.small_list_per_second / big.healthz_per_second
    );
    println!();
    let growth = big.peak_rss_kib.saturating_sub(small.peak_rss_kib);
    println!("server peak RSS (VmHWM), one process per shop, same requests:");
    println!(
        "  {:>7} rows: {:>7.1} MB (RSS before the downloads {:.1} MB)",
        args.small,
        small.peak_rss_kib as f64 / 1024.0,
        small.rss_before_kib as f64 / 1024.0
    );
    println!(
        "  {:>7} rows: {:>7.1} MB (RSS before the downloads {:.1} MB)",
        args.rows,
        big.peak_rss_kib as f64 / 1024.0,
        big.rss_before_kib as f64 / 1024.0
    );
    println!(
        "  growth: {:.1} MB ({} the 20 MB budget)",
        growth as f64 / 1024.0,
        if growth <= TARGET_RSS_GROWTH_KIB {
            "within"
        } else {
            "OVER"
        }
    );
}
