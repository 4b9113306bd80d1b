//! A shop's history made in bulk, for benchmarks and tests of how a sale's cost grows with
//! it: set-based inserts of orders and their lines, the columns a sale writes.

use super::*;

/// Makes any ANALYZE of `orders`, `order_lines` and `payments` wait for the end of the
/// caller's transaction (PostgreSQL; nothing on SQLite), for a history seeded in bulk in
/// one transaction, here or by a benchmark's own statements. An ANALYZE from another
/// connection (the store's upkeep, which looks every second) would see none of the rows
/// added before the commit and record the tables as empty over all their pages: the
/// lines' foreign-key checks then read every order (seen: a 200,000-order seed still
/// running after 5 minutes), and a report over the seeded day chose a nested loop that
/// ran for minutes. Inserts elsewhere go on meanwhile.
pub fn hold_off_statistics(c: &mut dyn Conn) -> Result<(), StoreError> {
    crate::statistics::hold_off(c, &["orders", "order_lines", "payments"])
}

/// Analyses, inside the caller's transaction, those of a sale's tables that grew (what
/// the store's upkeep does every second; PostgreSQL only): its ANALYZE sees the rows the
/// transaction added, and the foreign-key checks of the rows it adds next are planned
/// again on them. For a history seeded row by row under [`hold_off_statistics`].
pub fn refresh_statistics(c: &mut dyn Conn) -> Result<(), StoreError> {
    if c.backend() != Backend::Postgres {
        return Ok(());
    }
    crate::statistics::refresh(c).map(drop)
}

/// Adds `n` open (pending) orders of one line each to shop `shop_id`, in one statement per
/// table. They are pending, so they take no number and no journal entry: a history of
/// validated sales would need each one sealed in turn, which is what is being measured,
/// not what sets the stage. The rows, indexes and keys a sale touches grow just the same.
pub fn existing_orders(c: &mut dyn Conn, shop_id: i64, n: i64) -> Result<(), StoreError> {
    hold_off_statistics(c)?;
    // A prefix of its own, so that the lines find exactly this run's orders.
    let tag = format!("{shop_id}-seed-{}-", hex(&random_bytes::<8>()));
    c.execute(
        "with recursive g(i) as (
             select cast(1 as bigint) union all select i + 1 from g where i < $2)
         insert into orders (shop_id, status, is_refund, created_at, value_date, user_id,
             cash_box_id, delivery_method, total, vat, invoice_token)
         select $1, 'pending', false, $3 + i, $3 + i,
             (select min(id) from users where shop_id = $1),
             (select min(id) from cash_boxes where shop_id = $1),
             0, 100, 17, cast($4 as text) || cast(i as text)
         from g",
        params![shop_id, n, now_micros() - n, tag.as_str()],
    )?;
    // The lines' foreign-key checks are planned now: on the orders just added, not on
    // statistics of an empty table (which may pick an index that reads them all).
    refresh_statistics(c)?;
    c.execute(
        "insert into order_lines (shop_id, order_id, line_no, title, quantity, unit_price,
             total, vat_rate)
         select shop_id, id, 1, 'Seeded', 1000, 100, 100, 2000 from orders
         where shop_id = $1 and invoice_token like $2",
        params![shop_id, format!("{tag}%").as_str()],
    )?;
    Ok(())
}
