//! The report as an .xlsx workbook (rust_xlsxwriter): one sheet per table, number cells
//! with number formats, date-time cells, frozen header rows, widths that fit. The sales
//! sheet is a constant-memory worksheet: its rows go to a temporary file, not to memory.

use super::{SALES_COLUMNS, SalesWriter, tables};
use crate::list::Cell;
use comptoir_core::report::{Report, SaleRow};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

pub(super) struct XlsxReport {
    book: Workbook,
    digits: u8,
    tz: jiff::tz::TimeZone,
    row: u32,
    money: Format,
    date: Format,
}

fn err(e: XlsxError) -> String {
    e.to_string()
}

/// `0.00` for a currency of two digits.
fn money_format(digits: u8) -> Format {
    let pattern = if digits == 0 {
        "#,##0".to_string()
    } else {
        format!("#,##0.{}", "0".repeat(usize::from(digits)))
    };
    Format::new().set_num_format(pattern)
}

fn header(ws: &mut Worksheet, columns: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, name) in columns.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn cell(ws: &mut Worksheet, r: u32, c: u16, v: &Cell<'_>, money: &Format) -> Result<(), XlsxError> {
    match v {
        Cell::Null => {}
        Cell::Int(i) => {
            ws.write_number(r, c, *i as f64)?;
        }
        Cell::Money { minor, digits } => {
            // A spreadsheet's numbers are binary floats; the exact decimal is one division away.
            let v = *minor as f64 / 10f64.powi(i32::from(*digits));
            ws.write_number_with_format(r, c, v, money)?;
        }
        Cell::Number(t) => match t.parse::<f64>() {
            Ok(n) => {
                ws.write_number(r, c, n)?;
            }
            Err(_) => {
                ws.write_string(r, c, t.as_ref())?;
            }
        },
        Cell::Bool(b) => {
            ws.write_boolean(r, c, *b)?;
        }
        Cell::Text(t) => {
            ws.write_string(r, c, t.as_ref())?;
        }
    }
    Ok(())
}

fn width(v: &Cell<'_>) -> usize {
    match v {
        Cell::Null => 0,
        Cell::Int(i) => i.to_string().len(),
        Cell::Money { minor, .. } => minor.to_string().len() + 3,
        Cell::Number(t) | Cell::Text(t) => t.chars().count(),
        Cell::Bool(_) => 5,
    }
}

impl XlsxReport {
    pub(super) fn begin(r: &Report) -> Result<XlsxReport, String> {
        let mut book = Workbook::new();
        // Deflating the Sales sheet's XML is a good part of a big workbook's time: level 1
        // rather than the default 6 makes the 100,000-order workbook 9.2 MB instead of
        // 5.4 MB (docs/performance.md).
        book.set_zip_compression_level(1);
        let bold = Format::new().set_bold();
        let money = money_format(r.digits);
        for t in tables(r) {
            let ws = book.add_worksheet();
            ws.set_name(t.title).map_err(err)?;
            header(ws, t.columns, &bold).map_err(err)?;
            let mut widths: Vec<usize> = t.columns.iter().map(|c| c.len() + 2).collect();
            for (i, row) in t.rows.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    cell(ws, i as u32 + 1, c as u16, v, &money).map_err(err)?;
                    if let Some(w) = widths.get_mut(c) {
                        *w = (*w).max(width(v) + 2);
                    }
                }
            }
            for (c, w) in widths.iter().enumerate() {
                ws.set_column_width(c as u16, (*w).min(60) as f64)
                    .map_err(err)?;
            }
        }
        let ws = book.add_worksheet_with_constant_memory().map_err(err)?;
        ws.set_name("Sales").map_err(err)?;
        // Widths first: a constant-memory sheet writes its rows as they come.
        let widths = [9, 16, 20, 18, 16, 9, 15, 12, 10, 40, 9, 66];
        for (c, w) in widths.iter().enumerate() {
            ws.set_column_width(c as u16, *w as f64).map_err(err)?;
        }
        header(ws, SALES_COLUMNS, &bold).map_err(err)?;
        Ok(XlsxReport {
            book,
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
            row: 1,
            money,
            date: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        })
    }

    fn write_sale(&mut self, s: &SaleRow) -> Result<(), XlsxError> {
        let ws = self.book.worksheet_from_name("Sales")?;
        let cells = super::sale_cells(s, self.digits, &self.tz);
        for (c, v) in cells.iter().enumerate() {
            if c == 2 {
                // The value date as a real date-time cell, in the shop's local time.
                if let Ok(t) = jiff::Timestamp::from_microsecond(s.value_date) {
                    let z = t.to_zoned(self.tz.clone());
                    let d =
                        ExcelDateTime::from_ymd(z.year() as u16, z.month() as u8, z.day() as u8)?
                            .and_hms(z.hour() as u16, z.minute() as u8, z.second())?;
                    ws.write_datetime_with_format(self.row, 2, &d, &self.date)?;
                }
                continue;
            }
            cell(ws, self.row, c as u16, v, &self.money)?;
        }
        self.row += 1;
        Ok(())
    }
}

impl SalesWriter for XlsxReport {
    fn sale(&mut self, s: &SaleRow, _out: &mut Vec<u8>) {
        // Only a full sheet (1,048,576 rows) fails here; the rows past it are left out.
        let _ = self.write_sale(s);
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(&self.book.save_to_buffer().map_err(err)?);
        Ok(())
    }
}
