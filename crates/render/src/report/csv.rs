//! The report's sales table as CSV, written by the list downloads' writer (same header,
//! separator option and formula neutralisation).

use super::{SALES_COLUMNS, SalesWriter, sale_cells};
use crate::list::{ListFormat, ListWriter};
use comptoir_core::report::{Report, SaleRow};

pub(super) struct CsvReport {
    writer: ListWriter,
    digits: u8,
    tz: jiff::tz::TimeZone,
}

impl CsvReport {
    pub(super) fn begin(r: &Report, separator: u8, out: &mut Vec<u8>) -> CsvReport {
        CsvReport {
            writer: ListWriter::begin(ListFormat::Csv { separator }, SALES_COLUMNS, out),
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
        }
    }
}

impl SalesWriter for CsvReport {
    fn sale(&mut self, s: &SaleRow, out: &mut Vec<u8>) {
        self.writer.row(&sale_cells(s, self.digits, &self.tz), out);
    }

    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String> {
        self.writer.end(out);
        Ok(())
    }
}
