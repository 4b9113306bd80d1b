//! Items as CSV for `catalog import` and `catalog export --format csv`: one header row,
//! `.` decimals; an empty `id` is a new item, an existing id updates that item.

use comptoir_core::model::{Item, Name, optional_text};
use comptoir_core::money::{Decimal, Money, format_scaled};
use comptoir_core::vat::VatRate;

/// The columns, in order.
pub(crate) const COLUMNS: [&str; 10] = [
    "id",
    "department_id",
    "name",
    "price",
    "vat_rate",
    "barcode",
    "reference",
    "position",
    "active",
    "stock",
];

/// One parsed line: the item (id 0 when new), its line number in the file, and which of
/// [`COLUMNS`] the file has (an update keeps the stored value of a column it lacks).
pub(crate) use comptoir_store::item_rows::ItemRow as ItemLine;

/// Parses an items CSV; every bad cell is reported as `line N, column C: expected ...`.
pub(crate) fn parse(text: &str, digits: u8) -> Result<Vec<ItemLine>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("line 1: expected a header row ({e})"))?
        .clone();
    let index = |name: &str| headers.iter().position(|h| h.trim() == name);
    let mut missing = Vec::new();
    for required in ["department_id", "name", "price"] {
        if index(required).is_none() {
            missing.push(required);
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "line 1: expected a header with the columns {}; missing {}",
            COLUMNS.join(","),
            missing.join(", ")
        ));
    }
    let cols: Vec<Option<usize>> = COLUMNS.iter().map(|c| index(c)).collect();
    let mut present = [false; 10];
    for (p, c) in present.iter_mut().zip(&cols) {
        *p = c.is_some();
    }
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(format!("line {line}: expected a CSV record ({e})"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| cols[i].and_then(|c| record.get(c)).unwrap_or("").trim();
        let mut bad = |col: &str, expected: &str, got: &str| {
            errors.push(format!(
                "line {line}, column {col}: expected {expected}, got {got:?}"
            ));
        };
        let id = match cell(0) {
            "" => Some(0),
            t => t.parse::<i64>().ok().filter(|v| *v > 0).or_else(|| {
                bad("id", "a positive integer or nothing for a new item", t);
                None
            }),
        };
        let department_id = cell(1).parse::<i64>().ok().filter(|v| *v > 0).or_else(|| {
            bad("department_id", "a positive integer", cell(1));
            None
        });
        let name = Name::parse(cell(2))
            .map_err(|e| bad("name", e, cell(2)))
            .ok();
        let price = Money::parse(cell(3), digits)
            .map_err(|e| bad("price", &e.to_string(), cell(3)))
            .ok();
        let vat_rate = match cell(4) {
            "" => Some(None),
            t => VatRate::parse(t)
                .map(Some)
                .map_err(|e| bad("vat_rate", e, t))
                .ok(),
        };
        let barcode = optional_text(cell(5))
            .map_err(|e| bad("barcode", e, cell(5)))
            .ok();
        let reference = optional_text(cell(6))
            .map_err(|e| bad("reference", e, cell(6)))
            .ok();
        let position = match cell(7) {
            "" => Some(0),
            t => t
                .parse::<i64>()
                .map_err(|_| bad("position", "an integer", t))
                .ok(),
        };
        let active = match cell(8).to_ascii_lowercase().as_str() {
            "" | "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" => Some(false),
            _ => {
                bad("active", "true or false", cell(8));
                None
            }
        };
        let stock = match cell(9) {
            "" => Some(None),
            t => Decimal::parse(t, 3)
                .map(|d| Some(d.scaled))
                .map_err(|_| bad("stock", "a quantity with at most 3 decimals", t))
                .ok(),
        };
        if let (
            Some(id),
            Some(department_id),
            Some(name),
            Some(price),
            Some(vat_rate),
            Some(barcode),
            Some(reference),
            Some(position),
            Some(active),
            Some(stock),
        ) = (
            id,
            department_id,
            name,
            price,
            vat_rate,
            barcode,
            reference,
            position,
            active,
            stock,
        ) {
            out.push(ItemLine {
                line,
                present,
                item: Item {
                    id,
                    department_id,
                    name,
                    price,
                    vat_rate,
                    barcode,
                    reference,
                    position,
                    active,
                    stock,
                },
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

/// Items as CSV with the header row of [`COLUMNS`].
pub(crate) fn render(items: &[Item], digits: u8) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for it in items {
        w.write_record([
            it.id.to_string(),
            it.department_id.to_string(),
            it.name.to_string(),
            it.price.format(digits),
            it.vat_rate.map(|r| r.to_string()).unwrap_or_default(),
            it.barcode.clone().unwrap_or_default(),
            it.reference.clone().unwrap_or_default(),
            it.position.to_string(),
            it.active.to_string(),
            it.stock.map(|s| format_scaled(s, 3)).unwrap_or_default(),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
