//! The report as one self-contained HTML page: inline CSS (phone-readable, printable), the
//! aggregate tables, an inline SVG bar chart of sales per hour, then the sales table.

use super::{SALES_COLUMNS, SalesWriter, sale_cells, tables};
use crate::list::{ListFormat, ListWriter, push_html_text};
use comptoir_core::report::{Report, SaleRow};

const STYLE: &str = "
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'Liberation Sans',sans-serif;color:#1d232a;margin:0;padding:16px;max-width:1240px;margin:auto}
h1{font-size:1.5em;margin:0 0 4px}
h2{font-size:1.1em;margin:24px 0 8px;border-bottom:2px solid #2a6f97;padding-bottom:2px}
.meta{color:#555;margin:0 0 12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:0 24px}
.narrow{max-width:520px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #dde3e8;text-align:left}
td.num,th{white-space:nowrap}
th.r,td.num{text-align:right}
th{background:#eef3f7;font-weight:600}
.tot tbody tr:last-child td{font-weight:700;border-top:2px solid #1d232a}
.closing td{overflow-wrap:anywhere}
.chart svg{width:100%;height:auto;display:block}
.chart rect{fill:#2a6f97}
.chart text{font-size:10px;fill:#333}
footer{margin-top:24px;color:#777;font-size:.85em}
@media (max-width:600px){body{padding:8px;font-size:13px}th,td{padding:3px 5px}}
@media print{body{max-width:none;padding:0;font-size:11px}h2{break-after:avoid}table{break-inside:auto}tr{break-inside:avoid}.scroll{overflow:visible}}
";

pub(super) struct HtmlReport {
    writer: ListWriter,
    digits: u8,
    tz: jiff::tz::TimeZone,
}

fn text(out: &mut Vec<u8>, s: &str) {
    push_html_text(out, s);
}

/// The bar chart of orders' gross per hour bucket, as inline SVG.
fn chart(r: &Report, out: &mut Vec<u8>) {
    let rows = &r.hours.rows;
    let max = rows
        .iter()
        .map(|h| h.gross.minor())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, top, bottom) = (760i64, 220i64, 16i64, 24i64);
    let n = rows.len().max(1) as i64;
    let slot = w / n;
    out.extend_from_slice(
        format!(
            "<div class=\"chart\"><svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Sales per hour\" xmlns=\"http://www.w3.org/2000/svg\">"
        )
        .as_bytes(),
    );
    out.extend_from_slice(
        format!(
            "<line x1=\"0\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#999\"/>",
            y = h - bottom
        )
        .as_bytes(),
    );
    for (i, row) in rows.iter().enumerate() {
        let g = row.gross.minor().max(0);
        let bar = (h - top - bottom) * g / max;
        let x = i as i64 * slot;
        if bar > 0 {
            out.extend_from_slice(
                format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{bar}\"><title>{} {} ({} orders)</title></rect>",
                    x + 2,
                    h - bottom - bar,
                    (slot - 4).max(1),
                    row.hour,
                    row.gross.text(),
                    row.orders
                )
                .as_bytes(),
            );
        }
        // Every other label on a full day keeps them readable on a phone.
        if i % 2 == 0 {
            out.extend_from_slice(
                format!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    x + slot / 2,
                    h - 8,
                    row.hour.get(..2).unwrap_or("")
                )
                .as_bytes(),
            );
        }
    }
    out.extend_from_slice(
        format!(
            "<text x=\"2\" y=\"11\">max {} {}</text></svg></div>\n",
            comptoir_core::money::format_scaled(max, r.digits),
            r.shop.currency
        )
        .as_bytes(),
    );
}

/// Puts `class="r"` on the header cells after the first `text` columns, so the headers of
/// number columns line up with their right-aligned numbers.
fn right_align_headers(out: &mut Vec<u8>, start: usize, text: usize) {
    let head = String::from_utf8_lossy(&out[start..]).into_owned();
    let mut i = 0;
    let fixed = head
        .split("<th scope=\"col\">")
        .enumerate()
        .map(|(k, part)| {
            if k == 0 {
                return part.to_string();
            }
            i += 1;
            let open = if i > text {
                "<th class=\"r\" scope=\"col\">"
            } else {
                "<th scope=\"col\">"
            };
            format!("{open}{part}")
        })
        .collect::<String>();
    out.truncate(start);
    out.extend_from_slice(fixed.as_bytes());
}

impl HtmlReport {
    pub(super) fn begin(r: &Report, out: &mut Vec<u8>) -> HtmlReport {
        out.extend_from_slice(b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>Sales ");
        text(out, &r.day);
        out.extend_from_slice(b" \xe2\x80\x94 ");
        text(out, &r.shop.name);
        out.extend_from_slice(b"</title>\n<style>");
        out.extend_from_slice(STYLE.as_bytes());
        out.extend_from_slice(b"</style></head>\n<body>\n<header><h1>");
        text(out, &r.shop.name);
        out.extend_from_slice(b" \xe2\x80\x94 sales of ");
        text(out, &r.day);
        out.extend_from_slice(b"</h1>\n<p class=\"meta\">");
        for part in [
            r.shop.address.as_deref(),
            r.shop.vat_number.as_deref().map(|v| v.trim()),
        ]
        .into_iter()
        .flatten()
        {
            text(out, part);
            out.extend_from_slice(b" \xc2\xb7 ");
        }
        text(
            out,
            &format!(
                "{} to {} ({}) \u{b7} generated {}",
                r.from, r.to, r.time_zone, r.generated_at
            ),
        );
        if let Some(b) = r.filters.cash_box_id {
            text(out, &format!(" \u{b7} cash box {b}"));
        }
        if let Some(u) = r.filters.user_id {
            text(out, &format!(" \u{b7} user {u}"));
        }
        out.extend_from_slice(b"</p></header>\n");
        let all = tables(r);
        let mut grid_open = false;
        for (i, t) in all.iter().enumerate() {
            if t.title == "Sales per hour" {
                if grid_open {
                    out.extend_from_slice(b"</div>\n");
                    grid_open = false;
                }
                out.extend_from_slice(b"<h2>Sales per hour</h2>\n");
                chart(r, out);
            }
            if i == 1 && !grid_open {
                out.extend_from_slice(b"<div class=\"grid\">\n");
                grid_open = true;
            }
            // The summary has no total row; it and the hours stand alone, narrow.
            let class = match t.title {
                "Summary" => "scroll narrow",
                // The journal head wraps rather than push the values out of sight.
                super::CLOSING_TITLE => "scroll narrow closing",
                "Sales per hour" => "scroll narrow tot",
                _ => "scroll tot",
            };
            out.extend_from_slice(format!("<section class=\"{class}\"><h2>").as_bytes());
            text(out, t.title);
            out.extend_from_slice(b"</h2>\n");
            let start = out.len();
            let mut w = ListWriter::begin(ListFormat::Html, t.columns, out);
            right_align_headers(out, start, t.text_columns);
            for row in &t.rows {
                w.row(row, out);
            }
            w.end(out);
            out.extend_from_slice(b"</section>\n");
        }
        if grid_open {
            out.extend_from_slice(b"</div>\n");
        }
        out.extend_from_slice(b"<section class=\"scroll\"><h2>Sales</h2>\n");
        HtmlReport {
            writer: ListWriter::begin(ListFormat::Html, SALES_COLUMNS, out),
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
        }
    }
}

impl SalesWriter for HtmlReport {
    fn sale(&mut self, s: &SaleRow, out: &mut Vec<u8>) {
        self.writer.row(&sale_cells(s, self.digits, &self.tz), out);
    }

    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String> {
        let rows = self.writer.rows();
        self.writer.end(out);
        out.extend_from_slice(
            format!("<p class=\"meta\">{rows} orders.</p></section>\n").as_bytes(),
        );
        out.extend_from_slice(b"<footer>Generated by Comptoir.</footer>\n</body></html>\n");
        Ok(())
    }
}
