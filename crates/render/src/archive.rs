//! The archive's CSV files (core::archive): its rows through the list writer's CSV, the
//! one CSV writer (header row, CRLF, formula neutralisation of text cells).

use crate::list::{Cell, ListFormat, ListWriter};
use comptoir_core::archive::Field;

/// Starts a file: its header row into `out`.
pub fn begin(columns: &[&str], out: &mut Vec<u8>) -> ListWriter {
    ListWriter::begin(ListFormat::CSV, columns, out)
}

/// Appends one row.
pub fn row(w: &mut ListWriter, fields: &[Field], out: &mut Vec<u8>) {
    let cells: Vec<Cell<'_>> = fields
        .iter()
        .map(|f| match f {
            Field::Null => Cell::Null,
            Field::Int(v) => Cell::Int(*v),
            Field::Text(t) => Cell::text(t.as_str()),
        })
        .collect();
    w.row(&cells, out);
}
