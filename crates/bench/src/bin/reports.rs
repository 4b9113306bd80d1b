//! Daily report benchmark: seeds one day of 100,000 orders (3 lines each at three VAT
//! rates, two cash boxes, three users, four payment methods) and a quiet day of 10 orders,
//! starts the real server, and prints for each format of getSales.php the time to the
//! last byte and the server's peak RSS, then a quiet day's report against a
//! getPaymentModes call measured in the same run.
//!
//! The orders, lines and payments are inserted directly through comptoir_store in one
//! transaction, with the columns a sale writes (totals and per-rate VAT computed by
//! core::sale::vat_breakdown, as webapp.php does); the journal and outbox, which the
//! report does not read, are left out. That is ~50x faster than 100,000 HTTP sales.
//!
//! Build first, then run: `cargo build --release -p comptoir -p comptoir-bench &&
//! target/release/reports [--postgres] [--orders N]`.

use comptoir_core::money::Money;
use comptoir_core::vat::VatRate;
use comptoir_store::db::Conn;
use comptoir_store::{Store, StoreError, params};
use comptoir_testkit::{TestDb, encode_form};
use std::time::{Duration, Instant};

const TARGET_SECONDS: f64 = 2.0;
const TARGET_RSS_MIB: f64 = 200.0;
const TARGET_QUIET_RATIO: f64 = 3.0;
const FORMATS: &[&str] = &["JSON", "CSV", "XML", "XLSX", "frafec", "Std", "PDF"];
/// 2026-03-10T00:00:00+01:00 (Europe/Paris), in microseconds.
const DAY_START: i64 = 1_773_097_200_000_000;
const QUIET_START: i64 = DAY_START + 86_400_000_000;

fn main() {
    let mut postgres = false;
    let mut orders = 100_000usize;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--postgres" => postgres = true,
            "--orders" => orders = it.next().and_then(|v| v.parse().ok()).expect("--orders N"),
            other => panic!("unknown argument {other:?}; expected --postgres, --orders N"),
        }
    }
    let bin = comptoir_bench::comptoir_bin();
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p comptoir -p comptoir-bench` first",
        bin.display()
    );
    let db = if postgres {
        TestDb::postgres().expect("--postgres needs COMPTOIR_TEST_POSTGRES")
    } else {
        TestDb::sqlite()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = Store::open_blocking(&db.db_url()).expect("open the database");
    let shop = runtime.block_on(comptoir_testkit::create_shop(
        &store,
        "Report bench",
        comptoir_core::model::Licence::Extended,
    ));
    runtime.block_on(comptoir_testkit::import_demo(&store, shop.shop_id));
    let started = Instant::now();
    let id = shop.shop_id;
    store
        .write_blocking(move |c| {
            comptoir_store::sales::seed::hold_off_statistics(c)?;
            seed(c, id, DAY_START, orders, 0)?;
            seed(c, id, QUIET_START, 10, orders)
        })
        .expect("seed");
    println!(
        "seeded {orders} + 10 orders (3 lines, 1 payment each) on {} in {:.1} s",
        db.backend,
        started.elapsed().as_secs_f64()
    );
    drop(store);

    let server = comptoir_bench::ServerProcess::start(&bin, &db.url, &[]);
    let http = reqwest::Client::new();
    let sid = id.to_string();
    let url = |endpoint: &str, extra: &[(&str, &str)]| {
        let mut form = vec![("idboutique", sid.as_str()), ("key", shop.api_key.as_str())];
        form.extend_from_slice(extra);
        format!("{}/workers/{endpoint}?{}", server.base, encode_form(&form))
    };
    let report = |format: &'static str, d: &'static str| {
        url(
            "getSales.php",
            &[
                ("d", d),
                ("m", "3"),
                ("y", "2026"),
                ("formatExport", format),
            ],
        )
    };
    let rss_start = server.rss_kib().unwrap_or(0);
    println!(
        "\nserver RSS at start: {:.1} MiB",
        rss_start as f64 / 1024.0
    );
    // The server's CPU time per format is steadier than the time to the last byte on a
    // machine shared with other work: it does not count the time spent waiting for a core.
    println!(
        "{:<8} {:>10} {:>12} {:>10} {:>12} {:>16}",
        "format", "MB", "last byte s", "vs 2 s", "server CPU s", "peak RSS MiB"
    );
    let mut worst = 0f64;
    runtime.block_on(async {
        for &f in FORMATS {
            let cpu = server.cpu_seconds();
            let started = Instant::now();
            let bytes = fetch(&http, &report(f, "10")).await;
            let secs = started.elapsed().as_secs_f64();
            let cpu = server.cpu_seconds().zip(cpu).map(|(b, a)| b - a);
            worst = worst.max(secs);
            let peak = server.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
            println!(
                "{f:<8} {:>10.1} {secs:>12.2} {:>9.2}x {:>12} {peak:>16.1}",
                bytes as f64 / 1e6,
                secs / TARGET_SECONDS,
                cpu.map_or("-".to_string(), |c| format!("{c:.2}")),
            );
        }
    });
    let peak = server.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;

    let (quiet, modes) = runtime.block_on(async {
        let quiet_url = report("JSON", "11");
        let modes_url = url("getPaymentModes.php", &[]);
        for _ in 0..20 {
            fetch(&http, &quiet_url).await;
            fetch(&http, &modes_url).await;
        }
        let n = 200u32;
        let mut q = Duration::ZERO;
        let mut m = Duration::ZERO;
        for _ in 0..n {
            let t = Instant::now();
            fetch(&http, &quiet_url).await;
            q += t.elapsed();
            let t = Instant::now();
            fetch(&http, &modes_url).await;
            m += t.elapsed();
        }
        (q / n, m / n)
    });
    let ratio = quiet.as_secs_f64() / modes.as_secs_f64();
    println!();
    println!(
        "slowest format {worst:.2} s (target <= {TARGET_SECONDS} s: {})",
        verdict(worst <= TARGET_SECONDS)
    );
    println!(
        "server peak RSS {peak:.1} MiB (target < {TARGET_RSS_MIB} MiB: {})",
        verdict(peak < TARGET_RSS_MIB)
    );
    println!(
        "quiet day (10 orders) JSON report {:.2} ms vs getPaymentModes {:.2} ms: {ratio:.2}x (target <= {TARGET_QUIET_RATIO}x: {})",
        quiet.as_secs_f64() * 1e3,
        modes.as_secs_f64() * 1e3,
        verdict(ratio <= TARGET_QUIET_RATIO)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

async fn fetch(http: &reqwest::Client, url: &str) -> u64 {
    let mut res = http
        .get(url)
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{url}: {}", res.status());
    let mut bytes = 0u64;
    while let Some(chunk) = res.chunk().await.expect("body") {
        bytes += chunk.len() as u64;
    }
    bytes
}

/// The ids of the demo catalog's rows the seeded orders use.
fn ids(c: &mut dyn Conn, shop_id: i64, table: &str) -> Result<Vec<i64>, StoreError> {
    c.query(
        &format!("select id from {table} where shop_id = $1 order by id"),
        params![shop_id],
    )?
    .iter()
    .map(|r| r.i64(0))
    .collect()
}

/// `n` terminated orders spread over the day from `start`, numbered after `first`.
fn seed(
    c: &mut dyn Conn,
    shop_id: i64,
    start: i64,
    n: usize,
    first: usize,
) -> Result<(), StoreError> {
    let users = ids(c, shop_id, "users")?;
    let boxes = ids(c, shop_id, "cash_boxes")?;
    // Cash, card, cheque, meal voucher: the demo's first four methods.
    let methods: Vec<(i64, String)> = c
        .query(
            "select id, name from payment_methods where shop_id = $1 and kind <> 'refund' order by id",
            params![shop_id],
        )?
        .iter()
        .map(|r| Ok((r.i64(0)?, r.string(1)?)))
        .collect::<Result<_, StoreError>>()?;
    let items: Vec<(i64, i64, String, i64, i64)> = c
        .query(
            "select i.id, i.department_id, i.name, i.price, d.vat_rate from items i
             join departments d on d.shop_id = i.shop_id and d.id = i.department_id
             where i.shop_id = $1 order by i.id",
            params![shop_id],
        )?
        .iter()
        .map(|r| Ok((r.i64(0)?, r.i64(1)?, r.string(2)?, r.i64(3)?, r.i64(4)?)))
        .collect::<Result<_, StoreError>>()?;
    // Three lines from different departments, so three VAT rates appear.
    let picks = [[0usize, 5, 10], [8, 3, 11], [1, 6, 9], [2, 7, 10]];
    for k in 0..n {
        // The upkeep's ANALYZE waits for this transaction (`hold_off_statistics`): the
        // statistics, and the plans of the lines' foreign-key checks, follow the seed
        // from inside it instead.
        if k % 2_000 == 1_000 {
            comptoir_store::sales::seed::refresh_statistics(c)?;
        }
        let at = start + (k as i64 * 86_000_000_000) / n.max(1) as i64;
        let lines: Vec<_> = picks[k % picks.len()]
            .iter()
            .map(|&i| items[i % items.len()].clone())
            .enumerate()
            .map(|(j, it)| (j as i64 + 1, it, 1 + (k + j) as i64 % 3))
            .collect();
        let amounts: Vec<(VatRate, Money)> = lines
            .iter()
            .map(|(_, it, q)| {
                (
                    VatRate::from_hundredths(it.4).expect("rate"),
                    Money::from_minor(it.3 * q),
                )
            })
            .collect();
        let total: Money = amounts.iter().map(|a| a.1).sum();
        let vat: Money = comptoir_core::sale::vat_breakdown(amounts.iter().copied())
            .expect("vat")
            .iter()
            .map(|v| v.amount)
            .sum();
        let (method, name) = &methods[k % methods.len()];
        let cash = k % methods.len() == 0;
        let paid = if cash {
            Money::from_minor((total.minor() / 1000 + 1) * 1000)
        } else {
            total
        };
        let order = c.insert_id(
            "insert into orders (shop_id, number, status, is_refund, created_at, validated_at,
                 terminated_at, value_date, user_id, cash_box_id, delivery_method, total, vat,
                 paid, change_given, invoice_token, seal)
             values ($1, $2, 'terminated', $3, $4, $4, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             returning id",
            params![
                shop_id,
                (first + k + 1) as i64,
                false,
                at,
                users[k % users.len()],
                boxes[k % boxes.len()],
                [4i64, 0, 2][k % 3],
                total.minor(),
                vat.minor(),
                paid.minor(),
                (paid - total).minor(),
                format!("bench{:026}", first + k),
                format!("{:064x}", first + k)
            ],
        )?;
        for (no, it, q) in &lines {
            c.execute(
                "insert into order_lines (shop_id, order_id, line_no, item_id, department_id,
                     title, quantity, unit_price, total, vat_rate)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                params![
                    shop_id,
                    order,
                    *no,
                    it.0,
                    it.1,
                    it.2.as_str(),
                    q * 1000,
                    it.3,
                    it.3 * q,
                    it.4
                ],
            )?;
        }
        c.execute(
            "insert into payments (shop_id, order_id, payment_method_id, name, amount, at)
             values ($1, $2, $3, $4, $5, $6)",
            params![shop_id, order, *method, name.as_str(), paid.minor(), at],
        )?;
    }
    Ok(())
}
