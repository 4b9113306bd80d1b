//! Shops for the sales benchmark, set up with the real CLI: `shop create --extended`,
//! `catalog import`, then `catalog export` to find three active items and Cash.

use crate::cli;

/// What the sales need: the shop, its key, three item ids and the cash method id.
pub struct Setup {
    pub shop_id: i64,
    pub api_key: String,
    pub items: [i64; 3],
    pub cash_id: i64,
}

/// One shop set up with the real CLI, in the database `db`, with the catalog file `catalog`.
pub fn setup(bin: &std::path::Path, db: &str, catalog: &std::path::Path) -> Result<Setup, String> {
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

/// Sets up `n` shops with the real CLI, four at a time.
pub fn setup_shops(
    bin: &std::path::Path,
    db: &str,
    catalog: &std::path::Path,
    n: usize,
) -> Result<Vec<Setup>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|scope| {
        for _ in 0..n.min(4) {
            scope.spawn(|| {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let s = setup(bin, db, catalog);
                    done.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                }
            });
        }
    });
    let mut shops = done
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    shops.sort_by_key(|s| s.shop_id);
    Ok(shops)
}
