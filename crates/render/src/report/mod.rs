//! The daily sales report in every format of getSales.php. Each format renders the one
//! model of core::report: the aggregates first, then the sales table row by row (streamed
//! into a buffer the caller drains), then the closing bytes.

mod csv;
mod fec;
mod html;
mod json;
mod pdf;
mod xlsx;
mod xml;

use crate::list::Cell;
use comptoir_core::report::fec::FecSettings;
use comptoir_core::report::{Report, SaleRow};

/// A format of `formatExport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// `Std` or `HTML`: one self-contained page.
    Html,
    /// An A4 PDF.
    Pdf,
    /// The sales table, with the list downloads' separator option.
    Csv {
        separator: u8,
    },
    Xml,
    /// `XLS` or `XLSX`: an .xlsx workbook.
    Xlsx,
    /// `frafec`: the French FEC, ISO-8859-15 unless `utf8`.
    Fec {
        utf8: bool,
    },
    Json,
}

impl ReportFormat {
    /// From `formatExport` (any case; default `Std`), `sep` and `charset`; the error
    /// names what was expected.
    pub fn parse(
        format: Option<&str>,
        sep: Option<&str>,
        charset: Option<&str>,
    ) -> Result<ReportFormat, String> {
        let f = format
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .unwrap_or("Std");
        let is = |name: &str| f.eq_ignore_ascii_case(name);
        Ok(if is("std") || is("html") {
            ReportFormat::Html
        } else if is("pdf") {
            ReportFormat::Pdf
        } else if is("csv") {
            match crate::list::ListFormat::from_params(Some("csv"), sep) {
                Some(crate::list::ListFormat::Csv { separator }) => ReportFormat::Csv { separator },
                _ => return Err("sep: expected `,`, `;`, `|` or a tab".into()),
            }
        } else if is("xml") {
            ReportFormat::Xml
        } else if is("xls") || is("xlsx") {
            ReportFormat::Xlsx
        } else if is("frafec") {
            let utf8 = match charset.map(str::trim).filter(|c| !c.is_empty()) {
                None => false,
                Some(c) if c.eq_ignore_ascii_case("utf-8") || c.eq_ignore_ascii_case("utf8") => {
                    true
                }
                Some(c) if c.eq_ignore_ascii_case("iso-8859-15") => false,
                Some(c) => {
                    return Err(format!("charset: expected utf-8 or iso-8859-15, got {c:?}"));
                }
            };
            ReportFormat::Fec { utf8 }
        } else if is("json") {
            ReportFormat::Json
        } else {
            return Err(format!(
                "formatExport: expected Std, HTML, PDF, CSV, XML, XLS, XLSX, frafec or JSON, got {f:?}"
            ));
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Html => "text/html; charset=utf-8",
            ReportFormat::Pdf => "application/pdf",
            ReportFormat::Csv { .. } => "text/csv; charset=utf-8",
            ReportFormat::Xml => "application/xml; charset=utf-8",
            ReportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ReportFormat::Fec { utf8: true } => "text/plain; charset=utf-8",
            ReportFormat::Fec { utf8: false } => "text/plain; charset=iso-8859-15",
            ReportFormat::Json => "application/json; charset=utf-8",
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Pdf => "pdf",
            ReportFormat::Csv { .. } => "csv",
            ReportFormat::Xml => "xml",
            ReportFormat::Xlsx => "xlsx",
            ReportFormat::Fec { .. } => "txt",
            ReportFormat::Json => "json",
        }
    }

    /// Whether the sales rows need their totals per VAT rate (the FEC's entries).
    pub fn needs_rates(self) -> bool {
        matches!(self, ReportFormat::Fec { .. })
    }
}

/// A report being written: one call per sale, then [`SalesWriter::finish`].
pub trait SalesWriter: Send {
    /// Appends one row of the sales table.
    fn sale(&mut self, sale: &SaleRow, out: &mut Vec<u8>);
    /// Appends the closing bytes (or, for a workbook, the whole file).
    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String>;
}

/// Starts `report` in `format`, writing what comes before the sales table into `out`.
pub fn start(
    format: ReportFormat,
    report: &Report,
    fec: &FecSettings,
    out: &mut Vec<u8>,
) -> Result<Box<dyn SalesWriter>, String> {
    Ok(match format {
        ReportFormat::Html => Box::new(html::HtmlReport::begin(report, out)),
        ReportFormat::Pdf => Box::new(pdf::PdfReport::begin(report)?),
        ReportFormat::Csv { separator } => Box::new(csv::CsvReport::begin(report, separator, out)),
        ReportFormat::Xml => Box::new(xml::XmlReport::begin(report, out)?),
        ReportFormat::Xlsx => Box::new(xlsx::XlsxReport::begin(report)?),
        ReportFormat::Fec { utf8 } => {
            Box::new(fec::FecReport::begin(report, fec.clone(), utf8, out))
        }
        ReportFormat::Json => Box::new(json::JsonReport::begin(report, out)?),
    })
}

/// A whole report in one buffer (tests, small days); the server streams with [`start`].
pub fn render(
    format: ReportFormat,
    report: &Report,
    fec: &FecSettings,
    sales: &[SaleRow],
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut w = start(format, report, fec, &mut out)?;
    for s in sales {
        w.sale(s, &mut out);
    }
    w.finish(&mut out)?;
    Ok(out)
}

/// The columns of the sales table (CSV, HTML, XLSX).
pub const SALES_COLUMNS: &[&str] = &[
    "orderID",
    "orderInternalID",
    "time",
    "user",
    "cashBox",
    "clientID",
    "deliveryMethod",
    "total",
    "VAT",
    "payments",
    "isRefund",
    "seal",
];

/// A sales-table row as list cells.
pub(crate) fn sale_cells(s: &SaleRow, digits: u8, tz: &jiff::tz::TimeZone) -> Vec<Cell<'static>> {
    vec![
        s.number.map_or(Cell::Null, Cell::Int),
        Cell::Int(s.id),
        Cell::text(comptoir_core::order::rfc3339(s.value_date, tz)),
        Cell::text(s.user_name.clone()),
        Cell::text(s.cash_box_name.clone()),
        s.client_id.map_or(Cell::Null, Cell::Int),
        Cell::text(comptoir_core::report::delivery_method_name(
            s.delivery_method,
        )),
        Cell::money(s.total, digits),
        Cell::money(s.vat, digits),
        Cell::text(s.payments_text(digits)),
        Cell::Bool(s.is_refund),
        s.seal.clone().map_or(Cell::Null, Cell::text),
    ]
}

/// One aggregate table of the report, as titled rows of cells (the total row last).
pub(crate) struct TableView {
    pub title: &'static str,
    pub columns: &'static [&'static str],
    /// How many leading columns hold text (the others hold numbers).
    pub text_columns: usize,
    pub rows: Vec<Vec<Cell<'static>>>,
}

/// The aggregate tables in the order the HTML page, the workbook and the PDF show them.
pub(crate) fn tables(r: &Report) -> Vec<TableView> {
    let m = |a: comptoir_core::report::Amount| Cell::Money {
        minor: a.minor(),
        digits: a.digits,
    };
    let id = |i: Option<i64>| i.map_or(Cell::Null, Cell::Int);
    let num = |t: String| Cell::Number(t.into());
    let s = &r.summary;
    let summary = vec![
        vec![Cell::text("Orders"), Cell::Int(s.orders)],
        vec![Cell::text("Refunds"), Cell::Int(s.refunds)],
        vec![Cell::text("Refunds amount"), m(s.refunds_amount)],
        vec![Cell::text("Gross (VAT incl.)"), m(s.gross)],
        vec![Cell::text("VAT"), m(s.vat)],
        vec![Cell::text("Net (excl. VAT)"), m(s.net)],
        vec![Cell::text("Average basket"), m(s.average_basket)],
        vec![Cell::text("Payments received"), m(s.payments_received)],
        vec![Cell::text("Change given"), m(s.change_given)],
        vec![Cell::text("Covers"), Cell::Int(s.covers)],
    ];
    let mut vat: Vec<Vec<Cell>> = r
        .vat
        .rows
        .iter()
        .map(|v| {
            vec![
                v.rate.map_or(Cell::Null, |x| num(x.text())),
                m(v.base),
                m(v.vat),
                m(v.total),
            ]
        })
        .collect();
    let t = &r.vat.total;
    vat.push(vec![Cell::text("Total"), m(t.base), m(t.vat), m(t.total)]);
    let with_total = |rows: Vec<Vec<Cell<'static>>>, total: Vec<Cell<'static>>| {
        let mut rows = rows;
        rows.push(total);
        rows
    };
    let payments = with_total(
        r.payments
            .rows
            .iter()
            .map(|p| {
                vec![
                    id(p.id),
                    Cell::text(p.name.clone()),
                    Cell::Int(p.count),
                    m(p.amount),
                ]
            })
            .collect(),
        vec![
            Cell::Null,
            Cell::text("Total"),
            Cell::Int(r.payments.total.count),
            m(r.payments.total.amount),
        ],
    );
    let counts = |t: &comptoir_core::report::Table<comptoir_core::report::CountRow>| {
        with_total(
            t.rows
                .iter()
                .map(|c| {
                    vec![
                        id(c.id),
                        Cell::text(c.name.clone()),
                        Cell::Int(c.orders),
                        m(c.gross),
                    ]
                })
                .collect(),
            vec![
                Cell::Null,
                Cell::text("Total"),
                Cell::Int(t.total.orders),
                m(t.total.gross),
            ],
        )
    };
    let depts = |t: &comptoir_core::report::Table<comptoir_core::report::DepartmentRow>| {
        with_total(
            t.rows
                .iter()
                .map(|d| {
                    vec![
                        id(d.id),
                        Cell::text(d.name.clone()),
                        num(d.quantity.text()),
                        m(d.gross),
                        m(d.vat),
                    ]
                })
                .collect(),
            vec![
                Cell::Null,
                Cell::text("Total"),
                num(t.total.quantity.text()),
                m(t.total.gross),
                m(t.total.vat),
            ],
        )
    };
    let items = with_total(
        r.items
            .rows
            .iter()
            .map(|i| {
                vec![
                    id(i.id),
                    Cell::text(i.title.clone()),
                    num(i.quantity.text()),
                    m(i.gross),
                ]
            })
            .collect(),
        vec![
            Cell::Null,
            Cell::text("Total"),
            num(r.items.total.quantity.text()),
            m(r.items.total.gross),
        ],
    );
    let hours = with_total(
        r.hours
            .rows
            .iter()
            .map(|h| vec![Cell::text(h.hour.clone()), Cell::Int(h.orders), m(h.gross)])
            .collect(),
        vec![
            Cell::text("Total"),
            Cell::Int(r.hours.total.orders),
            m(r.hours.total.gross),
        ],
    );
    let mut all = vec![
        TableView {
            title: "Summary",
            text_columns: 1,
            columns: &["figure", "value"],
            rows: summary,
        },
        TableView {
            title: "VAT",
            text_columns: 0,
            columns: &["rate", "base", "VAT", "total"],
            rows: vat,
        },
        TableView {
            title: "Payment methods",
            text_columns: 2,
            columns: &["id", "method", "count", "amount"],
            rows: payments,
        },
        TableView {
            title: "Delivery methods",
            text_columns: 2,
            columns: &["id", "method", "orders", "gross"],
            rows: counts(&r.delivery_methods),
        },
        TableView {
            title: "Departments",
            text_columns: 2,
            columns: &["id", "department", "quantity", "gross", "VAT"],
            rows: depts(&r.departments),
        },
        TableView {
            title: "Department groups",
            text_columns: 2,
            columns: &["id", "group", "quantity", "gross", "VAT"],
            rows: depts(&r.department_groups),
        },
        TableView {
            title: "Items",
            text_columns: 2,
            columns: &["id", "item", "quantity", "gross"],
            rows: items,
        },
        TableView {
            title: "Users",
            text_columns: 2,
            columns: &["id", "user", "orders", "gross"],
            rows: counts(&r.users),
        },
        TableView {
            title: "Cash boxes",
            text_columns: 2,
            columns: &["id", "cash box", "orders", "gross"],
            rows: counts(&r.cash_boxes),
        },
        TableView {
            title: "Sales per hour",
            text_columns: 1,
            columns: &["hour", "orders", "gross"],
            rows: hours,
        },
    ];
    if let Some(c) = &r.closing {
        all.insert(1, closing_table(c));
    }
    all
}

/// The title of the closed day's closing table; like the summary, it has no total row.
pub(crate) const CLOSING_TITLE: &str = "Fiscal closing";

/// A closed day's closing (issue #11): its number, grand totals and the journal head it
/// vouches for. The signature and public key are in the JSON and XML.
fn closing_table(c: &comptoir_core::report::ReportClosing) -> TableView {
    let m = |a: comptoir_core::report::Amount| Cell::Money {
        minor: a.minor(),
        digits: a.digits,
    };
    TableView {
        title: CLOSING_TITLE,
        text_columns: 1,
        columns: &["figure", "value"],
        rows: vec![
            vec![Cell::text("Closing number"), Cell::Int(c.number)],
            vec![Cell::text("Closed at"), Cell::text(c.closed_at.clone())],
            vec![Cell::text("Day total"), m(c.total)],
            vec![Cell::text("Grand total"), m(c.grand_total)],
            vec![Cell::text("Grand total (absolute)"), m(c.grand_total_abs)],
            vec![Cell::text("Journal entry"), Cell::Int(c.journal_entry)],
            vec![Cell::text("Journal head"), Cell::text(c.head.clone())],
        ],
    }
}
