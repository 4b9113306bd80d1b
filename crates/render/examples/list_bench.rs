//! Prints how many 10-column rows per second each list format writes, streaming through
//! a 64 KiB buffer as the server does. Run with `cargo run --release --example list_bench`.

use comptoir_render::list::{Cell, ListFormat, ListWriter};
use std::hint::black_box;
use std::time::Instant;

const COLUMNS: &[&str] = &[
    "id",
    "name",
    "price",
    "vatRate",
    "departmentID",
    "barcode",
    "active",
    "stock",
    "description",
    "updatedAt",
];
const TARGET_ROWS_PER_SECOND: f64 = 500_000.0;

fn main() {
    let rows: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let names = [
        "Pizza Margherita",
        "Crème brûlée",
        "Café \"serré\"",
        "=cmd()",
        "Eau 50cl",
    ];
    let rate = Cell::Number("5.5".into());
    for (label, format) in [
        ("json", ListFormat::Json),
        ("csv", ListFormat::CSV),
        ("html", ListFormat::Html),
    ] {
        let mut out = Vec::with_capacity(128 * 1024);
        let mut sent = 0usize;
        let start = Instant::now();
        let mut writer = ListWriter::begin(format, COLUMNS, &mut out);
        for i in 0..rows {
            let row = [
                Cell::Int(i64::from(i)),
                Cell::text(names[i as usize % names.len()]),
                Cell::Money {
                    minor: i64::from(i % 100_000) - 500,
                    digits: 2,
                },
                rate.clone(),
                Cell::Int(i64::from(i % 17)),
                Cell::text("3017620422003"),
                Cell::Bool(i % 3 == 0),
                if i % 5 == 0 {
                    Cell::Null
                } else {
                    Cell::Int(i64::from(i % 250))
                },
                Cell::text("Tomato, mozzarella & basil; wood-fired <oven>"),
                Cell::text("2026-11-01T12:30:00+01:00"),
            ];
            writer.row(&row, &mut out);
            if out.len() >= 64 * 1024 {
                sent += black_box(&out).len();
                out.clear();
            }
        }
        writer.end(&mut out);
        sent += black_box(&out).len();
        let secs = start.elapsed().as_secs_f64();
        let per_second = f64::from(rows) / secs;
        println!(
            "{label:>4}: {rows} rows, {:.1} MB in {secs:.3} s = {per_second:.0} rows/s \
             ({:.1}x the {TARGET_ROWS_PER_SECOND:.0} rows/s target), buffer peak {} KiB",
            sent as f64 / 1e6,
            per_second / TARGET_ROWS_PER_SECOND,
            out.capacity() / 1024,
        );
    }
}
