//! The catalog as a sale sees it: the rows its lines name (items, variations,
//! departments), looked up through `CatalogLookup`, and the ids a sale needs loaded.

use std::collections::{BTreeSet, HashMap};

use crate::items_list::LineSpec;
use crate::money::Money;
use crate::vat::VatRate;

/// A catalog item as the sale needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogItem {
    pub name: String,
    /// In the shop's convention: VAT included unless
    /// [`CatalogLookup::prices_include_vat`] is false.
    pub unit_price: Money,
    pub department_id: Option<i64>,
    pub vat_rate: VatRate,
    /// An inactive item cannot be sold.
    pub active: bool,
}

/// A variation (declinaison) of one item, which changes its price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogVariation {
    pub item_id: i64,
    pub name: String,
    /// Added to the item's catalog unit price, in the shop's convention; may be negative.
    pub price_change: Money,
}

/// A department: the VAT rate of its free lines, and their default title.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogDepartment {
    pub name: String,
    pub vat_rate: VatRate,
}

/// What building a sale reads from the shop's catalog; implemented over rows loaded for
/// the ids of [`referenced_ids`], so lookups are plain memory reads.
pub trait CatalogLookup {
    /// The item with this id in the shop, active or not.
    fn item(&self, id: i64) -> Option<&CatalogItem>;
    /// The variation with this id in the shop, whichever item it belongs to.
    fn variation(&self, id: i64) -> Option<&CatalogVariation>;
    /// The department with this id in the shop.
    fn department(&self, id: i64) -> Option<&CatalogDepartment>;
    /// The rate of `Free_…` lines.
    fn default_vat_rate(&self) -> VatRate;
    /// The shop setting: catalog and wire prices include VAT (the usual case).
    fn prices_include_vat(&self) -> bool;
}

/// A [`CatalogLookup`] held in hash maps.
#[derive(Clone, Debug)]
pub struct MemoryCatalog {
    pub items: HashMap<i64, CatalogItem>,
    pub variations: HashMap<i64, CatalogVariation>,
    pub departments: HashMap<i64, CatalogDepartment>,
    pub default_vat_rate: VatRate,
    pub prices_include_vat: bool,
}

impl MemoryCatalog {
    /// An empty catalog with the shop's two pricing settings.
    pub fn new(default_vat_rate: VatRate, prices_include_vat: bool) -> Self {
        MemoryCatalog {
            items: HashMap::new(),
            variations: HashMap::new(),
            departments: HashMap::new(),
            default_vat_rate,
            prices_include_vat,
        }
    }
}

impl CatalogLookup for MemoryCatalog {
    fn item(&self, id: i64) -> Option<&CatalogItem> {
        self.items.get(&id)
    }
    fn variation(&self, id: i64) -> Option<&CatalogVariation> {
        self.variations.get(&id)
    }
    fn department(&self, id: i64) -> Option<&CatalogDepartment> {
        self.departments.get(&id)
    }
    fn default_vat_rate(&self) -> VatRate {
        self.default_vat_rate
    }
    fn prices_include_vat(&self) -> bool {
        self.prices_include_vat
    }
}

/// The catalog rows a list of lines refers to, so the store loads only those.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReferencedIds {
    pub items: BTreeSet<i64>,
    pub variations: BTreeSet<i64>,
    pub departments: BTreeSet<i64>,
}

/// The item, variation and department ids that `specs` mention.
pub fn referenced_ids(specs: &[LineSpec]) -> ReferencedIds {
    let mut ids = ReferencedIds::default();
    for spec in specs {
        match spec {
            LineSpec::Item {
                item_id,
                variations,
                ..
            } => {
                ids.items.insert(*item_id);
                ids.variations.extend(variations.iter().copied());
            }
            LineSpec::Department { department_id, .. } => {
                ids.departments.insert(*department_id);
            }
            LineSpec::Free { .. } => {}
        }
    }
    ids
}
