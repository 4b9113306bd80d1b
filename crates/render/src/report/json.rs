//! The report as JSON: the whole model (serde), its `sales` array streamed last.

use super::SalesWriter;
use comptoir_core::report::{Report, SaleRow};

pub(super) struct JsonReport {
    digits: u8,
    tz: jiff::tz::TimeZone,
    first: bool,
}

impl JsonReport {
    pub(super) fn begin(r: &Report, out: &mut Vec<u8>) -> Result<JsonReport, String> {
        serde_json::to_writer(&mut *out, r).map_err(|e| e.to_string())?;
        // Reopen the object to add the streamed sales array as its last member.
        out.pop();
        out.extend_from_slice(b",\"sales\":[");
        Ok(JsonReport {
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
            first: true,
        })
    }
}

impl SalesWriter for JsonReport {
    fn sale(&mut self, s: &SaleRow, out: &mut Vec<u8>) {
        if !self.first {
            out.push(b',');
        }
        self.first = false;
        out.push(b'\n');
        // A view of plain strings and numbers cannot fail to serialize.
        let _ = serde_json::to_writer(&mut *out, &s.view(self.digits, &self.tz));
    }

    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(b"]}");
        Ok(())
    }
}
