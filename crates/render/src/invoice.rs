//! The invoice (or quote, or credit note) of one order as an A4 PDF: Liberation Sans is
//! embedded as a subset with a ToUnicode map, so every word can be searched and copied.

use crate::num::fixed_string;
use crate::pdf::{
    ACCENT, Align, BAND, Canvas, Font, INK, MUTED, PAGE_H, PAGE_W, PdfError, RULE, Rgb,
};
use comptoir_core::money::Money;
use comptoir_core::vat::VatRate;
use std::fmt;

// The invoice tests compare the file's size with the font's.
#[cfg(test)]
use crate::pdf::REGULAR_TTF;

/// Everything printed on an invoice, already decided by the domain: this module only lays
/// it out. Amounts are in minor units of a currency with `currency_digits` decimals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvoiceModel {
    /// The shop's name, top left.
    pub shop_name: String,
    /// The shop's postal address, one line each.
    pub shop_address: Vec<String>,
    /// Trade register (RC/RCS) number, printed when present.
    pub rc_number: Option<String>,
    /// The shop's VAT number, printed when present.
    pub vat_number: Option<String>,
    /// Invoice with its number, credit note, or quote (a pending order).
    pub kind: DocumentKind,
    /// Date and time as the shop reads them (`2026-11-01 12:30`).
    pub date: String,
    /// Minor digits of the currency (EUR: 2).
    pub currency_digits: u8,
    /// Written after the grand totals and payments (`€`); may be empty.
    pub currency_symbol: String,
    /// Who is billed, when the order has a client.
    pub client: Option<ClientBlock>,
    /// The order lines, in order.
    pub lines: Vec<InvoiceLine>,
    /// VAT per rate, as computed by the domain.
    pub vat_breakdown: Vec<VatBreakdownRow>,
    /// Grand total, VAT included.
    pub total_incl_vat: Money,
    /// Sum of the VAT of every rate.
    pub total_vat: Money,
    /// Payments received.
    pub payments: Vec<PaymentRow>,
    /// Change given back (zero for none).
    pub change: Money,
    /// A public comment printed under the totals.
    pub note: Option<String>,
    /// The journal seal of the order, in hexadecimal, printed in small type at the bottom.
    pub seal: Option<String>,
    /// `Some(n)` when this is the n-th copy issued after the original: printed as
    /// "DUPLICATE n" under the title and in every page's footer (docs/inalterability.md).
    pub duplicate: Option<i64>,
}

/// The mark of a copy issued after the original. The invoice's wording is English (its
/// only language so far); a French invoice would say "DUPLICATA n".
fn duplicate_mark(n: i64) -> String {
    format!("DUPLICATE {n}")
}

/// The duplicate mark's colour: red, so a copy is never taken for the original.
const MARK: Rgb = Rgb(0.72, 0.09, 0.09);

/// What the document is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DocumentKind {
    /// A validated order with its accounting number.
    Invoice {
        /// The shop's gapless order number, as printed.
        number: String,
    },
    /// A validated refund (negative order) with its accounting number.
    CreditNote {
        /// The shop's gapless order number, as printed.
        number: String,
    },
    /// A pending order: no number, no seal.
    #[default]
    Quote,
}

impl DocumentKind {
    fn title(&self) -> &'static str {
        match self {
            DocumentKind::Invoice { .. } => "Invoice",
            DocumentKind::CreditNote { .. } => "Credit note",
            DocumentKind::Quote => "Quote",
        }
    }

    fn number(&self) -> Option<&str> {
        match self {
            DocumentKind::Invoice { number } | DocumentKind::CreditNote { number } => Some(number),
            DocumentKind::Quote => None,
        }
    }

    /// `Invoice No. 123`, `Quote`.
    fn label(&self) -> String {
        match self.number() {
            Some(n) => format!("{} No. {n}", self.title()),
            None => self.title().to_owned(),
        }
    }
}

/// The billed client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientBlock {
    /// Name or company, in bold.
    pub name: String,
    /// Address, VAT number, e-mail…: one line each.
    pub lines: Vec<String>,
}

/// One order line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceLine {
    /// What was sold; long titles wrap.
    pub title: String,
    /// The quantity as printed (`2`, `0.350`).
    pub quantity: String,
    /// Unit price, VAT included.
    pub unit_price: Money,
    /// Line total, VAT included.
    pub total: Money,
    /// The line's VAT rate.
    pub vat_rate: VatRate,
}

/// The VAT of one rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VatBreakdownRow {
    /// The rate.
    pub rate: VatRate,
    /// Total of that rate's lines, VAT excluded.
    pub base: Money,
    /// The VAT.
    pub amount: Money,
    /// Total of that rate's lines, VAT included.
    pub total: Money,
}

/// One payment received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRow {
    /// The payment method's name.
    pub name: String,
    /// The amount received.
    pub amount: Money,
    /// When, as the shop reads it.
    pub date: String,
}

/// Why no PDF could be made: only the embedded font can fail, which the tests rule out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvoiceError {
    /// The embedded font could not be read or subset.
    Font(String),
}

impl fmt::Display for InvoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvoiceError::Font(why) => write!(f, "embedded font: {why}"),
        }
    }
}

impl std::error::Error for InvoiceError {}

impl From<PdfError> for InvoiceError {
    fn from(e: PdfError) -> Self {
        InvoiceError::Font(e.0)
    }
}

/// Lays out `model` on as many A4 pages as its lines need and returns the PDF bytes.
pub fn render_invoice(model: &InvoiceModel) -> Result<Vec<u8>, InvoiceError> {
    let mut c = Canvas::new()?;
    let doc = Doc::new(model);
    let y = doc.first_header(&mut c);
    let y = doc.lines_table(&mut c, y);
    doc.summary(&mut c, y);
    doc.seal(&mut c);
    doc.footers(&mut c);
    Ok(c.finish(&format!("{} - {}", doc.label, model.shop_name))?)
}

// Geometry, in points, `y` downwards (see crate::pdf).
const LEFT: f32 = 48.0;
const RIGHT: f32 = PAGE_W - 48.0;
const CONTENT_BOTTOM: f32 = PAGE_H - 76.0;
const FOOTER_RULE: f32 = PAGE_H - 46.0;
const FOOTER_BASE: f32 = PAGE_H - 34.0;

// Lines table: right edges of the numeric columns.
const COL_QTY: f32 = LEFT + 300.0;
const COL_UNIT: f32 = LEFT + 370.0;
const COL_VAT: f32 = LEFT + 420.0;
const PAD: f32 = 6.0;
const TITLE_WIDTH: f32 = COL_QTY - 50.0 - LEFT - 2.0 * PAD;
const TITLE_MAX_LINES: usize = 4;

// Summary: VAT breakdown on the left, totals and payments on the right.
const VAT_RIGHT: f32 = LEFT + 262.0;
const TOTALS_LEFT: f32 = LEFT + 290.0;

/// The model with the strings every page needs formatted once.
struct Doc<'m> {
    m: &'m InvoiceModel,
    label: String,
}

impl<'m> Doc<'m> {
    fn new(m: &'m InvoiceModel) -> Self {
        Doc {
            m,
            label: m.kind.label(),
        }
    }

    fn amount(&self, m: Money) -> String {
        fixed_string(m.minor(), self.m.currency_digits)
    }

    fn amount_with_symbol(&self, m: Money) -> String {
        let a = self.amount(m);
        match self.m.currency_symbol.trim() {
            "" => a,
            s => format!("{a} {s}"),
        }
    }

    /// Shop identity (left), document title, number and date (right), client block.
    fn first_header(&self, c: &mut Canvas) -> f32 {
        let m = self.m;
        let half = TOTALS_LEFT - LEFT - 20.0;
        let mut y = 62.0;
        c.text_fit(
            Font::Bold,
            16.0,
            LEFT,
            y,
            &m.shop_name,
            half,
            Align::Left,
            ACCENT,
        );
        y += 17.0;
        for line in &m.shop_address {
            c.text_fit(Font::Regular, 9.0, LEFT, y, line, half, Align::Left, INK);
            y += 12.0;
        }
        y += 3.0;
        for (label, value) in [("RC", &m.rc_number), ("VAT No.", &m.vat_number)] {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                let text = format!("{label}: {v}");
                c.text_fit(Font::Regular, 8.5, LEFT, y, &text, half, Align::Left, MUTED);
                y += 11.5;
            }
        }

        let right_w = RIGHT - TOTALS_LEFT;
        let title = m.kind.title();
        c.text_fit(
            Font::Bold,
            22.0,
            RIGHT,
            64.0,
            title,
            right_w,
            Align::Right,
            ACCENT,
        );
        let mut ry = 84.0;
        if let Some(n) = m.kind.number() {
            let text = format!("No. {n}");
            c.text_fit(
                Font::Bold,
                11.0,
                RIGHT,
                ry,
                &text,
                right_w,
                Align::Right,
                INK,
            );
            ry += 15.0;
        }
        if let Some(n) = m.duplicate {
            let text = duplicate_mark(n);
            c.text_fit(
                Font::Bold,
                12.0,
                RIGHT,
                ry,
                &text,
                right_w,
                Align::Right,
                MARK,
            );
            ry += 16.0;
        }
        if !m.date.trim().is_empty() {
            let text = format!("Date: {}", m.date);
            c.text_fit(
                Font::Regular,
                9.0,
                RIGHT,
                ry,
                &text,
                right_w,
                Align::Right,
                MUTED,
            );
            ry += 12.0;
        }

        let mut y = y.max(ry) + 6.0;
        c.hline(LEFT, RIGHT, y, 1.2, ACCENT);
        y += 18.0;

        if let Some(client) = &m.client {
            let x = TOTALS_LEFT;
            let w = RIGHT - x;
            let inner = w - 2.0 * 10.0;
            let lines: Vec<&String> = client.lines.iter().take(8).collect();
            let h = 38.0 + 12.0 * lines.len() as f32;
            c.stroke_rect(x, y, w, h, 0.6, RULE);
            let mut by = y + 15.0;
            c.text(Font::Bold, 7.5, x + 10.0, by, "BILL TO", Align::Left, MUTED);
            by += 14.0;
            c.text_fit(
                Font::Bold,
                10.0,
                x + 10.0,
                by,
                &client.name,
                inner,
                Align::Left,
                INK,
            );
            for line in lines {
                by += 12.0;
                c.text_fit(
                    Font::Regular,
                    9.0,
                    x + 10.0,
                    by,
                    line,
                    inner,
                    Align::Left,
                    INK,
                );
            }
            y += h + 22.0;
        }
        y
    }

    /// The small header of every page after the first.
    fn continued_header(&self, c: &mut Canvas) -> f32 {
        let half = (RIGHT - LEFT) / 2.0 - 10.0;
        c.text_fit(
            Font::Bold,
            10.0,
            LEFT,
            50.0,
            &self.m.shop_name,
            half,
            Align::Left,
            ACCENT,
        );
        let text = format!("{} (continued)", self.label);
        c.text_fit(
            Font::Regular,
            9.0,
            RIGHT,
            50.0,
            &text,
            half,
            Align::Right,
            MUTED,
        );
        c.hline(LEFT, RIGHT, 58.0, 0.8, ACCENT);
        76.0
    }

    fn table_header(&self, c: &mut Canvas, y: f32) -> f32 {
        c.fill_rect(LEFT, y, RIGHT - LEFT, 20.0, BAND);
        let b = y + 13.5;
        let f = Font::Bold;
        c.text(f, 8.5, LEFT + PAD, b, "Description", Align::Left, INK);
        c.text(f, 8.5, COL_QTY - PAD, b, "Qty", Align::Right, INK);
        c.text(f, 8.5, COL_UNIT - PAD, b, "Unit price", Align::Right, INK);
        c.text(f, 8.5, COL_VAT - PAD, b, "VAT %", Align::Right, INK);
        c.text(f, 8.5, RIGHT - PAD, b, "Total", Align::Right, INK);
        y + 20.0
    }

    /// The lines, flowing onto new pages (with the header repeated) as needed.
    fn lines_table(&self, c: &mut Canvas, y: f32) -> f32 {
        let mut y = self.table_header(c, y);
        for line in &self.m.lines {
            let title = c.wrap(
                Font::Regular,
                9.0,
                &line.title,
                TITLE_WIDTH,
                TITLE_MAX_LINES,
            );
            let h = 8.0 + 12.0 * title.len() as f32;
            if y + h > CONTENT_BOTTOM {
                c.new_page();
                y = self.continued_header(c);
                y = self.table_header(c, y);
            }
            let b = y + 13.0;
            for (i, t) in title.iter().enumerate() {
                let ty = b + 12.0 * i as f32;
                c.text(Font::Regular, 9.0, LEFT + PAD, ty, t, Align::Left, INK);
            }
            let f = Font::Regular;
            let qty_w = COL_QTY - LEFT - 2.0 * PAD - TITLE_WIDTH;
            c.text_fit(
                f,
                9.0,
                COL_QTY - PAD,
                b,
                &line.quantity,
                qty_w,
                Align::Right,
                INK,
            );
            let unit = self.amount(line.unit_price);
            c.text(f, 9.0, COL_UNIT - PAD, b, &unit, Align::Right, INK);
            let rate = line.vat_rate.to_string();
            c.text(f, 9.0, COL_VAT - PAD, b, &rate, Align::Right, INK);
            let total = self.amount(line.total);
            c.text(f, 9.0, RIGHT - PAD, b, &total, Align::Right, INK);
            y += h;
            c.hline(LEFT, RIGHT, y, 0.5, RULE);
        }
        y
    }

    /// VAT by rate beside the totals, payments and change; then the note.
    fn summary(&self, c: &mut Canvas, y: f32) {
        let m = self.m;
        let mut left = vec![Item::Heading("VAT by rate".into()), Item::VatHeader];
        for r in &m.vat_breakdown {
            left.push(Item::VatRow([
                format!("{} %", r.rate),
                self.amount(r.base),
                self.amount(r.amount),
                self.amount(r.total),
            ]));
        }

        let incl = m.total_incl_vat.minor();
        let excl = incl.saturating_sub(m.total_vat.minor());
        // The gap lines the first total up with the VAT table under its heading.
        let mut right = vec![
            Item::Gap(Item::Heading(String::new()).height()),
            Item::Amount(
                "Total excl. VAT".into(),
                self.amount_with_symbol(Money::from_minor(excl)),
                false,
            ),
            Item::Amount("VAT".into(), self.amount_with_symbol(m.total_vat), false),
            Item::Total(
                "Total incl. VAT".into(),
                self.amount_with_symbol(m.total_incl_vat),
            ),
        ];
        if !m.payments.is_empty() {
            right.push(Item::Heading("Payments".into()));
            for p in &m.payments {
                let label = match p.date.trim() {
                    "" => p.name.clone(),
                    d => format!("{} ({d})", p.name),
                };
                right.push(Item::Amount(
                    label,
                    self.amount_with_symbol(p.amount),
                    false,
                ));
            }
        }
        if m.change.minor() != 0 {
            right.push(Item::Amount(
                "Change given".into(),
                self.amount_with_symbol(m.change),
                false,
            ));
        }
        let paid = m
            .payments
            .iter()
            .fold(0i64, |sum, p| sum.saturating_add(p.amount.minor()))
            .saturating_sub(m.change.minor());
        let due = incl.saturating_sub(paid);
        if m.kind != DocumentKind::Quote && incl > 0 && due > 0 {
            right.push(Item::Amount(
                "Balance due".into(),
                self.amount_with_symbol(Money::from_minor(due)),
                true,
            ));
        }

        let mut y = y + 22.0;
        let hl: f32 = left.iter().map(Item::height).sum();
        let hr: f32 = right.iter().map(Item::height).sum();
        let tallest = hl.max(hr);
        let usable = CONTENT_BOTTOM - 76.0;
        if tallest <= usable {
            if y + tallest > CONTENT_BOTTOM {
                c.new_page();
                y = self.continued_header(c) + 6.0;
            }
            let mut yl = y;
            for item in &left {
                yl = item.draw(c, LEFT, VAT_RIGHT, yl);
            }
            let mut yr = y;
            for item in &right {
                yr = item.draw(c, TOTALS_LEFT, RIGHT, yr);
            }
            y = yl.max(yr);
        } else {
            // Too many rates or payments for one page: one column, breaking between rows.
            for (item, x0, x1) in left
                .iter()
                .map(|i| (i, LEFT, VAT_RIGHT))
                .chain(right.iter().map(|i| (i, TOTALS_LEFT, RIGHT)))
            {
                if y + item.height() > CONTENT_BOTTOM {
                    c.new_page();
                    y = self.continued_header(c) + 6.0;
                }
                y = item.draw(c, x0, x1, y);
            }
        }

        if let Some(note) = m.note.as_deref().filter(|n| !n.trim().is_empty()) {
            y += 16.0;
            for line in c.wrap(Font::Regular, 8.5, note, RIGHT - LEFT, 12) {
                if y + 12.0 > CONTENT_BOTTOM {
                    c.new_page();
                    y = self.continued_header(c) + 6.0;
                }
                y += 11.5;
                c.text(Font::Regular, 8.5, LEFT, y, &line, Align::Left, MUTED);
            }
        }
    }

    /// The journal seal, in small type at the bottom of the last page.
    fn seal(&self, c: &mut Canvas) {
        let Some(seal) = self.m.seal.as_deref().filter(|s| !s.trim().is_empty()) else {
            return;
        };
        let text = format!("Seal: {seal}");
        let lines = c.wrap(Font::Regular, 6.5, &text, RIGHT - LEFT, 2);
        let mut y = FOOTER_RULE - 6.0 - 8.0 * (lines.len() as f32 - 1.0);
        for line in &lines {
            c.text(Font::Regular, 6.5, LEFT, y, line, Align::Left, MUTED);
            y += 8.0;
        }
    }

    /// Shop, document and page number on every page.
    fn footers(&self, c: &mut Canvas) {
        let left = format!("{} \u{b7} {}", self.m.shop_name, self.label);
        let count = c.page_count();
        for i in 0..count {
            c.select_page(i);
            c.hline(LEFT, RIGHT, FOOTER_RULE, 0.5, RULE);
            let half = (RIGHT - LEFT) / 2.0;
            c.text_fit(
                Font::Regular,
                7.5,
                LEFT,
                FOOTER_BASE,
                &left,
                half,
                Align::Left,
                MUTED,
            );
            if let Some(n) = self.m.duplicate {
                let text = duplicate_mark(n);
                c.text(
                    Font::Bold,
                    7.5,
                    RIGHT - 64.0,
                    FOOTER_BASE,
                    &text,
                    Align::Right,
                    MARK,
                );
            }
            let page = format!("Page {} of {count}", i + 1);
            c.text(
                Font::Regular,
                7.5,
                RIGHT,
                FOOTER_BASE,
                &page,
                Align::Right,
                MUTED,
            );
        }
    }
}

/// A row of the summary columns.
enum Item {
    Gap(f32),
    Heading(String),
    VatHeader,
    VatRow([String; 4]),
    Amount(String, String, bool),
    Total(String, String),
}

impl Item {
    fn height(&self) -> f32 {
        match self {
            Item::Gap(h) => *h,
            Item::Heading(_) => 22.0,
            Item::VatHeader => 18.0,
            Item::VatRow(_) | Item::Amount(..) => 16.0,
            Item::Total(..) => 26.0,
        }
    }

    /// Draws the row between `x0` and `x1` from `y` down; returns the `y` below it.
    fn draw(&self, c: &mut Canvas, x0: f32, x1: f32, y: f32) -> f32 {
        // VAT columns: rate on the left, then right edges of base, VAT and total.
        let cols = [x0 + 4.0, x0 + 118.0, x0 + 172.0, x1 - 4.0];
        match self {
            Item::Gap(_) => {}
            Item::Heading(t) => {
                c.text_fit(
                    Font::Bold,
                    9.5,
                    x0,
                    y + 15.0,
                    t,
                    x1 - x0,
                    Align::Left,
                    ACCENT,
                );
            }
            Item::VatHeader => {
                c.fill_rect(x0, y, x1 - x0, 18.0, BAND);
                let b = y + 12.0;
                let f = Font::Bold;
                c.text(f, 7.5, cols[0], b, "Rate", Align::Left, INK);
                c.text(f, 7.5, cols[1], b, "Base excl. VAT", Align::Right, INK);
                c.text(f, 7.5, cols[2], b, "VAT", Align::Right, INK);
                c.text(f, 7.5, cols[3], b, "Total incl. VAT", Align::Right, INK);
            }
            Item::VatRow(v) => {
                let b = y + 11.5;
                let f = Font::Regular;
                c.text(f, 8.5, cols[0], b, &v[0], Align::Left, INK);
                c.text(f, 8.5, cols[1], b, &v[1], Align::Right, INK);
                c.text(f, 8.5, cols[2], b, &v[2], Align::Right, INK);
                c.text(f, 8.5, cols[3], b, &v[3], Align::Right, INK);
                c.hline(x0, x1, y + 16.0, 0.5, RULE);
            }
            Item::Amount(label, value, strong) => {
                let f = if *strong { Font::Bold } else { Font::Regular };
                let b = y + 11.5;
                let vw = c.width(f, 9.0, value);
                let lw = (x1 - x0 - vw - 10.0).max(0.0);
                c.text_fit(f, 9.0, x0, b, label, lw, Align::Left, INK);
                c.text(f, 9.0, x1, b, value, Align::Right, INK);
            }
            Item::Total(label, value) => {
                c.hline(x0, x1, y + 4.0, 0.8, ACCENT);
                let b = y + 20.0;
                let vw = c.width(Font::Bold, 11.5, value);
                let lw = (x1 - x0 - vw - 10.0).max(0.0);
                c.text_fit(Font::Bold, 11.5, x0, b, label, lw, Align::Left, ACCENT);
                c.text(Font::Bold, 11.5, x1, b, value, Align::Right, ACCENT);
            }
        }
        y + self.height()
    }
}

#[cfg(test)]
mod tests;
