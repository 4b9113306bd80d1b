//! Fuzzes the itemsList[] grammar and the sale builder: one entry per input line; any
//! text gives lines or errors naming `itemsList[i]`, never a panic.
#![no_main]

use comptoir_core::items_list::{self, LineSpec};
use comptoir_core::money::{Currency, Money};
use comptoir_core::sale::{self, CatalogDepartment, CatalogItem, CatalogVariation, MemoryCatalog};
use comptoir_core::vat::VatRate;
use libfuzzer_sys::fuzz_target;

fn catalog(include_vat: bool) -> MemoryCatalog {
    let rate = |h| VatRate::from_hundredths(h).unwrap_or_default();
    let mut c = MemoryCatalog::new(rate(2000), include_vat);
    c.items.insert(
        1,
        CatalogItem {
            name: "One".into(),
            unit_price: Money::from_minor(1450),
            department_id: Some(1),
            vat_rate: rate(1000),
            active: true,
        },
    );
    c.items.insert(
        2,
        CatalogItem {
            name: "Huge".into(),
            unit_price: Money::from_minor(i64::MAX),
            department_id: None,
            vat_rate: rate(550),
            active: true,
        },
    );
    c.variations.insert(
        1,
        CatalogVariation {
            item_id: 1,
            name: "Large".into(),
            price_change: Money::from_minor(250),
        },
    );
    c.departments.insert(
        1,
        CatalogDepartment {
            name: "Kitchen".into(),
            vat_rate: rate(2000),
        },
    );
    c
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let entries: Vec<&str> = text.split('\n').collect();
    for currency in [Currency::EUR, Currency::parse("JPY").unwrap_or(Currency::EUR)] {
        for (index, entry) in entries.iter().enumerate() {
            match items_list::parse_entry(index, entry, currency) {
                Ok(spec) => {
                    // What parses prints back to an entry that parses to the same line.
                    if let Some(printed) = spec.to_entry(currency) {
                        let again: Result<LineSpec, _> =
                            items_list::parse_entry(index, &printed, currency);
                        assert_eq!(again.as_ref(), Ok(&spec), "{printed:?}");
                    }
                }
                Err(e) => assert_eq!(e.field, items_list::field_name(index)),
            }
        }
        for include_vat in [true, false] {
            if let Ok(order) = sale::build_from_entries(&entries, currency, &catalog(include_vat)) {
                let sum = order
                    .lines()
                    .iter()
                    .try_fold(Money::ZERO, |acc, l| acc.checked_add(l.total()));
                assert_eq!(sum, Some(order.total()));
                if let Ok(refund) = order.negated() {
                    assert_eq!(refund.total().checked_neg(), Some(order.total()));
                }
            }
        }
    }
});
