//! What a process remembers of the rows its sales' checks read on PostgreSQL (`CheckCache`):
//! items, variations, departments, payment methods, users, cash boxes and dining tables,
//! per shop, with the shop's catalog version they were read at (the sum of
//! `catalog_changes`, to which triggers add in the transaction of any change to those
//! tables: migration 12).
//!
//! A sale whose rows are all remembered is checked without a statement: no pooled
//! connection, no round trip, no executor start in PostgreSQL. Remembered rows may be
//! stale; what keeps a sale right is its lane, which reads the shop's version with the
//! counter row it locks and checks the sale again, against the database, when the
//! version it was checked at differs (`sales::order_writes`). A refusal is never given
//! from remembered rows: the sale is checked again against the database first, so a
//! reactivated item or an opened cash box is seen at once.
//!
//! Clients and idempotency records are not remembered: a sale creates them.

use super::*;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Most items (and variations) remembered per shop: beyond, an item read is not added
/// (its sales read it each time, as without the cache). A shop's remembered rows cost
/// about 100 bytes an item.
const MAX_ITEMS: usize = 50_000;

/// Most shops remembered: a shop read beyond takes the place of another.
const MAX_SHOPS: usize = 10_000;

/// The rows remembered, by shop (see the module's documentation).
#[derive(Default)]
pub struct CheckCache {
    shops: Mutex<HashMap<i64, Remembered>>,
    remembered: AtomicU64,
    read: AtomicU64,
    again: AtomicU64,
}

/// How the sales' checks found their rows since the start (`/metrics`, PostgreSQL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// Checks that found every row remembered.
    pub remembered: u64,
    /// Checks that read the shop's rows from the database (and remembered them).
    pub read: u64,
    /// Sales checked again in their lane: the catalog changed since their check.
    pub checked_again: u64,
}

/// A shop's rows, all read at the same catalog version.
#[derive(Default)]
struct Remembered {
    version: i64,
    items: HashMap<i64, CatalogItem>,
    variations: HashMap<i64, CatalogVariation>,
    departments: HashMap<i64, CatalogDepartment>,
    methods: HashMap<i64, PaymentMethod>,
    users: HashSet<i64>,
    webservice_user: Option<i64>,
    /// Every cash box of the shop, once a sale naming none has read them.
    every_box: Option<Vec<CashBoxRow>>,
    boxes: HashMap<i64, CashBoxRow>,
    tables: HashSet<i64>,
}

impl CheckCache {
    fn shops(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Remembered>> {
        self.shops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The rows `input` needs from what is remembered of `shop`, or `None` when one is
    /// missing or the sale names an existing client (never remembered).
    pub(super) fn answer(
        &self,
        shop: &Shop,
        input: &SaleInput,
        ids: &ReferencedIds,
    ) -> Option<SaleRows> {
        if matches!(input.client, ClientInput::Existing(_)) {
            return None;
        }
        let shops = self.shops();
        let r = shops.get(&shop.id)?;
        let rows = Self::answer_from(r, shop, input, ids)?;
        self.remembered.fetch_add(1, Relaxed);
        Some(rows)
    }

    fn answer_from(
        r: &Remembered,
        shop: &Shop,
        input: &SaleInput,
        ids: &ReferencedIds,
    ) -> Option<SaleRows> {
        let mut catalog = MemoryCatalog::new(shop.default_vat_rate, shop.prices_include_vat);
        for id in &ids.items {
            catalog.items.insert(*id, r.items.get(id)?.clone());
        }
        for id in &ids.variations {
            catalog
                .variations
                .insert(*id, r.variations.get(id)?.clone());
        }
        for id in &ids.departments {
            catalog
                .departments
                .insert(*id, r.departments.get(id)?.clone());
        }
        let method = match input.payment {
            PaymentParam::Method(id) => Some(r.methods.get(&id)?.clone()),
            _ => None,
        };
        let user = match input.user_id {
            Some(id) => r.users.contains(&id).then_some(id)?,
            None => r.webservice_user?,
        };
        let cash_boxes = match input.cash_box_id {
            Some(id) => vec![*r.boxes.get(&id)?],
            None => r.every_box.clone()?,
        };
        if let Some(id) = input.table_id {
            r.tables.contains(&id).then_some(())?;
        }
        Some(SaleRows {
            catalog,
            method,
            user: Some(user),
            cash_boxes,
            table: true,
            client: true,
            key_record: None,
            version: Some(r.version),
            remembered: true,
        })
    }

    /// Remembers the rows `rows` holds for `input`, read at `rows.version`: added to what
    /// is remembered at that version, in place of what was at an older one, ignored when
    /// newer ones are remembered.
    pub(super) fn learn(&self, shop_id: i64, input: &SaleInput, rows: &SaleRows) {
        let Some(version) = rows.version else { return };
        self.read.fetch_add(1, Relaxed);
        let mut shops = self.shops();
        if shops.len() >= MAX_SHOPS
            && !shops.contains_key(&shop_id)
            && let Some(other) = shops.keys().next().copied()
        {
            shops.remove(&other);
        }
        let r = shops.entry(shop_id).or_default();
        if r.version > version {
            return;
        }
        if r.version < version {
            *r = Remembered {
                version,
                ..Remembered::default()
            };
        }
        for (id, item) in &rows.catalog.items {
            if r.items.len() < MAX_ITEMS {
                r.items.insert(*id, item.clone());
            }
        }
        for (id, v) in &rows.catalog.variations {
            if r.variations.len() < MAX_ITEMS {
                r.variations.insert(*id, v.clone());
            }
        }
        for (id, d) in &rows.catalog.departments {
            r.departments.insert(*id, d.clone());
        }
        if let Some(m) = &rows.method {
            r.methods.insert(m.id, m.clone());
        }
        match (input.user_id, rows.user) {
            (Some(_), Some(id)) => {
                r.users.insert(id);
            }
            (None, Some(id)) => r.webservice_user = Some(id),
            (_, None) => {}
        }
        if input.cash_box_id.is_none() {
            r.every_box = Some(rows.cash_boxes.clone());
        }
        r.boxes.extend(rows.cash_boxes.iter().map(|b| (b.id, *b)));
        if let Some(id) = input.table_id
            && rows.table
        {
            r.tables.insert(id);
        }
    }

    /// Notes a sale of `shop_id` checked again in its lane, and forgets what is
    /// remembered of the shop at a version older than `current`, which the lane just read
    /// with the shop's counter row.
    pub(super) fn checked_again(&self, shop_id: i64, current: Option<i64>) {
        self.again.fetch_add(1, Relaxed);
        let mut shops = self.shops();
        if shops
            .get(&shop_id)
            .is_some_and(|r| current.is_none_or(|c| r.version < c))
        {
            shops.remove(&shop_id);
        }
    }

    /// The counts since the start.
    pub fn stats(&self) -> CheckStats {
        CheckStats {
            remembered: self.remembered.load(Relaxed),
            read: self.read.load(Relaxed),
            checked_again: self.again.load(Relaxed),
        }
    }
}

/// Replaces each shop's rows of `catalog_changes` by one holding their sum (the shop's
/// catalog version, unchanged), and vacuums the table once that left many dead rows. Run
/// by the statistics upkeep; any number of processes may run it at once: a row deleted
/// by another is neither summed nor deleted here.
pub fn compact_catalog_changes(c: &mut dyn Conn) -> Result<u64, StoreError> {
    let gone = c.query_one(
        "with many as (select shop_id from catalog_changes group by shop_id having count(*) > 1),
              gone as (delete from catalog_changes c using many where c.shop_id = many.shop_id
                       returning c.shop_id, c.n),
              kept as (insert into catalog_changes (shop_id, n)
                       select shop_id, sum(n) from gone group by shop_id)
         select count(*) from gone",
        &[],
    )?;
    let gone = u64::try_from(gone.i64(0)?).unwrap_or(0);
    if gone > 1_000 {
        c.batch("vacuum (skip_locked) catalog_changes")?;
    }
    Ok(gone)
}
