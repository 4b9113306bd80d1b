//! The report as XML: the JSON model's members as elements of the same names (arrays as
//! repeated `<row>`, sales as `<sale>`, nulls left out), under `<salesReport>`.

use super::SalesWriter;
use comptoir_core::report::{Report, SaleRow};
use serde_json::Value;

pub(super) struct XmlReport {
    digits: u8,
    tz: jiff::tz::TimeZone,
}

/// Escapes text for element content.
fn push_text(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            // XML 1.0 cannot hold other control characters, even escaped.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(b' '),
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

fn element(out: &mut Vec<u8>, name: &str, v: &Value) {
    let open = |out: &mut Vec<u8>| {
        out.push(b'<');
        out.extend_from_slice(name.as_bytes());
        out.push(b'>');
    };
    let close = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"</");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b">");
    };
    match v {
        Value::Null => {}
        Value::Object(m) => {
            open(out);
            for (k, v) in m {
                element(out, k, v);
            }
            close(out);
        }
        Value::Array(a) => {
            open(out);
            for v in a {
                element(out, "row", v);
            }
            close(out);
        }
        Value::String(s) => {
            open(out);
            push_text(out, s);
            close(out);
        }
        other => {
            open(out);
            out.extend_from_slice(other.to_string().as_bytes());
            close(out);
        }
    }
}

impl XmlReport {
    pub(super) fn begin(r: &Report, out: &mut Vec<u8>) -> Result<XmlReport, String> {
        let v = serde_json::to_value(r).map_err(|e| e.to_string())?;
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<salesReport>");
        if let Value::Object(m) = &v {
            for (k, v) in m {
                element(out, k, v);
            }
        }
        out.extend_from_slice(b"\n<sales>");
        Ok(XmlReport {
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
        })
    }
}

impl SalesWriter for XmlReport {
    fn sale(&mut self, s: &SaleRow, out: &mut Vec<u8>) {
        out.push(b'\n');
        let v = serde_json::to_value(s.view(self.digits, &self.tz)).unwrap_or(Value::Null);
        element(out, "sale", &v);
    }

    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(b"</sales>\n</salesReport>\n");
        Ok(())
    }
}
