//! The catalog document: parsing, its errors with JSON paths, and the round trip.

use super::*;

const SMALL: &str = r#"{
    "format": "comptoir-catalog", "version": 1,
    "vat_rates": [{"id": 1, "rate": 10}],
    "department_groups": [{"id": 1, "name": "Drinks"}],
    "departments": [{"id": 7, "group_id": 1, "name": "Hot drinks", "vat_rate": 10}],
    "items": [{"id": 3, "department_id": 7, "name": "Espresso", "price": 1.80}],
    "variations": [{"id": 1, "item_id": 3, "name": "Large", "price_change": "0,80"}]
}"#;

#[test]
fn a_small_document_parses_and_round_trips() {
    let c = parse_document(SMALL, 2, &[]).unwrap();
    assert_eq!(c.items[0].price, Money::from_minor(180));
    assert_eq!(c.variations[0].price_change, Money::from_minor(80));
    let doc = to_document(&c, 2);
    assert!(doc.to_string().contains("\"price\":1.80"), "{doc}");
    let again = parse_document(&doc.to_string(), 2, &[]).unwrap();
    assert_eq!(again, c);
}

#[test]
fn every_bad_field_is_named_with_its_path() {
    let bad = r#"{"items": [{"id": 1, "department_id": 9, "name": "", "price": "1.234"}],
                  "departments": [{"id": 2, "name": "D", "vat_rate": 33}]}"#;
    let errs = parse_document(bad, 2, &[]).unwrap_err().0;
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"items[0].name"), "{errs:?}");
    assert!(paths.contains(&"items[0].price"), "{errs:?}");
    assert!(paths.contains(&"departments[0].vat_rate"), "{errs:?}");
}

#[test]
fn a_missing_reference_is_an_error() {
    let bad = r#"{"departments": [{"id": 2, "name": "D", "vat_rate": 20}],
                  "items": [{"id": 1, "department_id": 9, "name": "X", "price": 1}]}"#;
    let errs = parse_document(bad, 2, &[VatRate::parse("20").unwrap()])
        .unwrap_err()
        .0;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path, "items[0].department_id");
    assert!(errs[0].message.contains("department 9"), "{}", errs[0]);
}

#[test]
fn malformed_json_names_line_and_column() {
    let errs = parse_document("{\n  \"items\": [,]\n}", 2, &[])
        .unwrap_err()
        .0;
    assert!(errs[0].message.contains("line 2"), "{}", errs[0]);
}
