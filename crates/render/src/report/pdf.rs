//! The report as an A4 PDF drawn on the invoice's canvas (render::pdf): shop identity and
//! generation time, the aggregate tables, a bar chart of sales per hour, the sales table,
//! and "Page i of n" on every page. A PDF's page count and cross-reference table come at
//! its end, so the file is made in `finish`; the pages' content streams are what grows.

use super::{SalesWriter, TableView, tables};
use crate::list::Cell;
use crate::num::fixed_string;
use crate::pdf::{ACCENT, Align, BAND, Canvas, Font, INK, MUTED, PAGE_H, PAGE_W, RULE};
use comptoir_core::report::{Report, SaleRow};

const LEFT: f32 = 40.0;
const RIGHT: f32 = PAGE_W - 40.0;
const TOP: f32 = 48.0;
const BOTTOM: f32 = PAGE_H - 60.0;
const FOOTER_RULE: f32 = PAGE_H - 40.0;
const FOOTER_BASE: f32 = PAGE_H - 28.0;
const ROW: f32 = 12.5;
const SIZE: f32 = 8.0;

/// Sales-table columns on the page: title, width (points), alignment. The seal is cut
/// to its start (the JSON, XML, CSV and workbook carry it whole).
const SALES: &[(&str, f32, Align)] = &[
    ("No.", 34.0, Align::Right),
    ("Time", 44.0, Align::Left),
    ("User", 62.0, Align::Left),
    ("Cash box", 54.0, Align::Left),
    ("Client", 32.0, Align::Right),
    ("Delivery", 58.0, Align::Left),
    ("Total", 48.0, Align::Right),
    ("VAT", 40.0, Align::Right),
    ("Payments", 86.0, Align::Left),
    ("Ref.", 28.0, Align::Left),
    ("Seal", 29.0, Align::Left),
];

pub(super) struct PdfReport {
    c: Canvas,
    y: f32,
    digits: u8,
    tz: jiff::tz::TimeZone,
    footer: String,
    title: String,
    sales: u64,
    /// The sales table's column edges, computed once.
    sales_cols: Vec<(f32, f32, Align)>,
}

fn text_of(cell: &Cell<'_>) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Int(i) => i.to_string(),
        Cell::Money { minor, digits } => fixed_string(*minor, *digits),
        Cell::Number(t) | Cell::Text(t) => t.to_string(),
        Cell::Bool(b) => if *b { "yes" } else { "" }.to_string(),
    }
}

impl PdfReport {
    pub(super) fn begin(r: &Report) -> Result<PdfReport, String> {
        let c = Canvas::new().map_err(|e| e.to_string())?;
        let mut w = PdfReport {
            c,
            y: TOP,
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
            footer: format!("{} \u{b7} sales of {}", r.shop.name, r.day),
            title: format!("Sales {} - {}", r.day, r.shop.name),
            sales: 0,
            sales_cols: Self::sales_cols(),
        };
        w.header(r);
        for t in tables(r) {
            if t.title == "Sales per hour" {
                w.chart(r);
            }
            if t.title == super::CLOSING_TITLE {
                w.lines(&t);
                continue;
            }
            w.table(&t);
        }
        w.space(30.0);
        w.heading("Sales");
        w.sales_header();
        Ok(w)
    }

    /// Starts a new page when `h` more points do not fit.
    fn space(&mut self, h: f32) -> bool {
        if self.y + h > BOTTOM {
            self.c.new_page();
            self.y = TOP;
            return true;
        }
        false
    }

    fn header(&mut self, r: &Report) {
        let c = &mut self.c;
        c.text_fit(
            Font::Bold,
            16.0,
            LEFT,
            self.y + 4.0,
            &r.shop.name,
            RIGHT - LEFT,
            Align::Left,
            ACCENT,
        );
        self.y += 20.0;
        let mut lines: Vec<String> = Vec::new();
        if let Some(a) = &r.shop.address {
            lines.push(a.clone());
        }
        if let Some(v) = &r.shop.vat_number {
            lines.push(format!("VAT number {v}"));
        }
        for l in lines {
            c.text_fit(
                Font::Regular,
                9.0,
                LEFT,
                self.y + 4.0,
                &l,
                RIGHT - LEFT,
                Align::Left,
                MUTED,
            );
            self.y += 12.0;
        }
        self.y += 8.0;
        c.text(
            Font::Bold,
            13.0,
            LEFT,
            self.y + 4.0,
            &format!("Sales of {}", r.day),
            Align::Left,
            INK,
        );
        self.y += 16.0;
        let mut span = format!("{} to {} ({})", r.from, r.to, r.time_zone);
        if let Some(b) = r.filters.cash_box_id {
            span.push_str(&format!(" \u{b7} cash box {b}"));
        }
        if let Some(u) = r.filters.user_id {
            span.push_str(&format!(" \u{b7} user {u}"));
        }
        c.text_fit(
            Font::Regular,
            8.5,
            LEFT,
            self.y + 4.0,
            &span,
            RIGHT - LEFT,
            Align::Left,
            MUTED,
        );
        self.y += 11.0;
        c.text(
            Font::Regular,
            8.5,
            LEFT,
            self.y + 4.0,
            &format!("Generated {}", r.generated_at),
            Align::Left,
            MUTED,
        );
        self.y += 10.0;
    }

    /// A figure/value table whose values are too long for a number column (the closing's
    /// journal head), as "figure: value" lines across the page.
    fn lines(&mut self, t: &TableView) {
        self.heading(t.title);
        for r in &t.rows {
            self.space(ROW);
            let line = r.iter().map(text_of).collect::<Vec<_>>().join(": ");
            let y = self.y + 9.0;
            self.c.text_fit(
                Font::Regular,
                SIZE,
                LEFT + 4.0,
                y,
                &line,
                RIGHT - LEFT - 8.0,
                Align::Left,
                INK,
            );
            self.y += ROW;
        }
    }

    fn heading(&mut self, title: &str) {
        self.space(24.0 + 2.0 * ROW);
        self.y += 14.0;
        self.c
            .text(Font::Bold, 10.5, LEFT, self.y, title, Align::Left, ACCENT);
        self.y += 4.0;
        self.c.hline(LEFT, RIGHT, self.y, 0.8, ACCENT);
        self.y += 2.0;
    }

    /// Column edges of an aggregate table: text columns share what the numbers leave.
    fn layout(t: &TableView) -> Vec<(f32, f32, Align)> {
        let n = t.columns.len();
        let numbers = n - t.text_columns.min(n);
        let num_w = 80.0;
        let id_w = 36.0;
        let width = (RIGHT - LEFT).min(if t.text_columns == 2 { 420.0 } else { 340.0 });
        let text_w = width - numbers as f32 * num_w - if t.text_columns == 2 { id_w } else { 0.0 };
        let mut x = LEFT;
        (0..n)
            .map(|i| {
                let (w, a) = if i >= t.text_columns {
                    (num_w, Align::Right)
                } else if t.text_columns == 2 && i == 0 {
                    (id_w, Align::Right)
                } else {
                    (text_w.max(60.0), Align::Left)
                };
                let col = (x, x + w, a);
                x += w;
                col
            })
            .collect()
    }

    fn row(&mut self, cols: &[(f32, f32, Align)], cells: &[String], font: Font) {
        for (i, (x0, x1, a)) in cols.iter().enumerate() {
            let s = cells.get(i).map_or("", String::as_str);
            let (x, w) = (*x0 + 4.0, *x1 - *x0 - 8.0);
            let x = match a {
                Align::Left => x,
                Align::Right => *x1 - 4.0,
            };
            self.c.text_fit(font, SIZE, x, self.y + 9.0, s, w, *a, INK);
        }
    }

    fn table(&mut self, t: &TableView) {
        self.heading(t.title);
        let cols = Self::layout(t);
        let right = cols.last().map_or(RIGHT, |c| c.1);
        let header: Vec<String> = t.columns.iter().map(|s| s.to_string()).collect();
        let draw_header = |w: &mut PdfReport| {
            w.c.fill_rect(LEFT, w.y, right - LEFT, ROW, BAND);
            w.row(&cols, &header, Font::Bold);
            w.y += ROW;
        };
        draw_header(self);
        let last = t.rows.len().saturating_sub(1);
        let has_total = t.title != "Summary";
        for (i, r) in t.rows.iter().enumerate() {
            if self.space(ROW) {
                draw_header(self);
            }
            let total = has_total && i == last;
            if total {
                self.c.hline(LEFT, right, self.y, 0.8, INK);
            }
            let cells: Vec<String> = r.iter().map(text_of).collect();
            self.row(
                &cols,
                &cells,
                if total { Font::Bold } else { Font::Regular },
            );
            self.y += ROW;
            if !total {
                self.c.hline(LEFT, right, self.y, 0.3, RULE);
            }
        }
    }

    /// Bars of gross per hour bucket, labelled every other hour.
    fn chart(&mut self, r: &Report) {
        let h = 120.0;
        self.heading("Sales per hour (gross)");
        self.space(h + 24.0);
        let rows = &r.hours.rows;
        let max = rows
            .iter()
            .map(|x| x.gross.minor())
            .max()
            .unwrap_or(0)
            .max(1);
        let base = self.y + 8.0 + h;
        let slot = (RIGHT - LEFT) / rows.len().max(1) as f32;
        self.c.text(
            Font::Regular,
            7.0,
            LEFT,
            self.y + 10.0,
            &format!("max {} {}", fixed_string(max, r.digits), r.shop.currency),
            Align::Left,
            MUTED,
        );
        for (i, row) in rows.iter().enumerate() {
            let g = row.gross.minor().max(0);
            let bar = (h - 14.0) * g as f32 / max as f32;
            let x = LEFT + i as f32 * slot;
            if bar > 0.0 {
                self.c
                    .fill_rect(x + 2.0, base - bar, slot - 4.0, bar, ACCENT);
            }
            if i % 2 == 0 {
                let label = row.hour.get(..2).unwrap_or("");
                let lw = self.c.width(Font::Regular, 7.0, label);
                self.c.text(
                    Font::Regular,
                    7.0,
                    x + (slot - lw) / 2.0,
                    base + 10.0,
                    label,
                    Align::Left,
                    MUTED,
                );
            }
        }
        self.c.hline(LEFT, RIGHT, base, 0.6, MUTED);
        self.y = base + 14.0;
    }

    fn sales_cols() -> Vec<(f32, f32, Align)> {
        let mut x = LEFT;
        SALES
            .iter()
            .map(|(_, w, a)| {
                let c = (x, x + w, *a);
                x += w;
                c
            })
            .collect()
    }

    fn sales_header(&mut self) {
        let cols = std::mem::take(&mut self.sales_cols);
        self.c.fill_rect(LEFT, self.y, RIGHT - LEFT, ROW, BAND);
        let names: Vec<String> = SALES.iter().map(|s| s.0.to_string()).collect();
        self.row(&cols, &names, Font::Bold);
        self.sales_cols = cols;
        self.y += ROW;
    }
}

impl SalesWriter for PdfReport {
    fn sale(&mut self, s: &SaleRow, _out: &mut Vec<u8>) {
        if self.space(ROW) {
            self.sales_header();
        }
        let time = comptoir_core::order::rfc3339(s.value_date, &self.tz);
        let cells = vec![
            s.number.map_or(String::new(), |n| n.to_string()),
            time.get(11..19).unwrap_or("").to_string(),
            s.user_name.clone(),
            s.cash_box_name.clone(),
            s.client_id.map_or(String::new(), |c| c.to_string()),
            comptoir_core::report::delivery_method_name(s.delivery_method).to_string(),
            fixed_string(s.total.minor(), self.digits),
            fixed_string(s.vat.minor(), self.digits),
            s.payments_text(self.digits),
            if s.is_refund { "R" } else { "" }.to_string(),
            s.seal.clone().unwrap_or_default(),
        ];
        let cols = std::mem::take(&mut self.sales_cols);
        self.row(&cols, &cells, Font::Regular);
        self.sales_cols = cols;
        self.y += ROW;
        self.c.hline(LEFT, RIGHT, self.y, 0.3, RULE);
        self.sales += 1;
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String> {
        self.space(ROW * 2.0);
        let n = self.sales;
        self.c.text(
            Font::Regular,
            SIZE,
            LEFT,
            self.y + 12.0,
            &format!("{n} orders."),
            Align::Left,
            MUTED,
        );
        let count = self.c.page_count();
        for i in 0..count {
            self.c.select_page(i);
            self.c.hline(LEFT, RIGHT, FOOTER_RULE, 0.5, RULE);
            self.c.text_fit(
                Font::Regular,
                7.5,
                LEFT,
                FOOTER_BASE,
                &self.footer,
                (RIGHT - LEFT) / 2.0,
                Align::Left,
                MUTED,
            );
            self.c.text(
                Font::Regular,
                7.5,
                RIGHT,
                FOOTER_BASE,
                &format!("Page {} of {count}", i + 1),
                Align::Right,
                MUTED,
            );
        }
        let title = self.title.clone();
        out.extend_from_slice(&self.c.finish(&title).map_err(|e| e.to_string())?);
        Ok(())
    }
}
