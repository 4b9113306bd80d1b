//! Streaming list writers for the `/workers` data downloads: one field list per entity,
//! written as JSON, CSV or an HTML table, row by row into a buffer the caller drains.

use crate::num::{is_json_number, push_fixed};
use comptoir_core::money::Money;
use comptoir_core::vat::VatRate;
use std::borrow::Cow;

/// One value of a list row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    /// No value: JSON `null`, an empty CSV or HTML cell.
    Null,
    /// An integer (ids, counts).
    Int(i64),
    /// An amount in minor units, printed with exactly `digits` decimals (`29.40`).
    Money {
        /// Minor units (cents for EUR).
        minor: i64,
        /// The currency's minor digits (EUR: 2).
        digits: u8,
    },
    /// An already formatted decimal such as a VAT rate (`5.5`). Text that is not a number
    /// in JSON's grammar is written as [`Cell::Text`] instead, so no output is ever broken.
    Number(Cow<'a, str>),
    /// `true` or `false`.
    Bool(bool),
    /// Free text, escaped for the format (and neutralised against formulas in CSV).
    Text(Cow<'a, str>),
}

impl<'a> Cell<'a> {
    /// A text cell, borrowed or owned.
    pub fn text(text: impl Into<Cow<'a, str>>) -> Self {
        Cell::Text(text.into())
    }

    /// An amount of a currency with `digits` minor digits.
    pub fn money(amount: Money, digits: u8) -> Self {
        Cell::Money {
            minor: amount.minor(),
            digits,
        }
    }

    /// A VAT rate as a number (`20.0`, `5.5`), the form of JSON answers.
    pub fn vat_rate(rate: VatRate) -> Self {
        Cell::Number(Cow::Owned(rate.to_string()))
    }
}

impl From<i64> for Cell<'_> {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

impl From<i32> for Cell<'_> {
    fn from(v: i32) -> Self {
        Cell::Int(i64::from(v))
    }
}

impl From<u32> for Cell<'_> {
    fn from(v: u32) -> Self {
        Cell::Int(i64::from(v))
    }
}

impl From<bool> for Cell<'_> {
    fn from(v: bool) -> Self {
        Cell::Bool(v)
    }
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(v: &'a str) -> Self {
        Cell::Text(Cow::Borrowed(v))
    }
}

impl From<String> for Cell<'_> {
    fn from(v: String) -> Self {
        Cell::Text(Cow::Owned(v))
    }
}

impl<'a, T: Into<Cell<'a>>> From<Option<T>> for Cell<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Null, Into::into)
    }
}

/// The output format of a list download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// An array of objects keyed by the column names.
    Json,
    /// RFC 4180 CSV with a header row; `separator` is `,` or `;` (`sep=;`). A separator
    /// that would break the format (`"`, CR, LF or a non-ASCII byte) is replaced by `,`.
    Csv {
        /// The field separator byte.
        separator: u8,
    },
    /// A `<table class="comptoir-list">` fragment.
    Html,
}

impl ListFormat {
    /// CSV with the default `,` separator.
    pub const CSV: ListFormat = ListFormat::Csv { separator: b',' };

    /// From the `format` (`json` default, `csv`, `html`; any case) and `sep` (`,` default,
    /// `;`, `|` or a tab) query parameters; `None` when either is not one of those.
    pub fn from_params(format: Option<&str>, sep: Option<&str>) -> Option<ListFormat> {
        let format = format.map(str::trim).unwrap_or("json");
        if format.eq_ignore_ascii_case("json") || format.is_empty() {
            Some(ListFormat::Json)
        } else if format.eq_ignore_ascii_case("csv") {
            let separator = match sep.unwrap_or(",") {
                "," | "" => b',',
                ";" => b';',
                "|" => b'|',
                "\t" => b'\t',
                _ => return None,
            };
            Some(ListFormat::Csv { separator })
        } else if format.eq_ignore_ascii_case("html") {
            Some(ListFormat::Html)
        } else {
            None
        }
    }

    /// The `Content-Type` of the bytes.
    pub fn content_type(self) -> &'static str {
        match self {
            ListFormat::Json => "application/json; charset=utf-8",
            ListFormat::Csv { .. } => "text/csv; charset=utf-8",
            ListFormat::Html => "text/html; charset=utf-8",
        }
    }

    /// The file name extension (`json`, `csv`, `html`).
    pub fn extension(self) -> &'static str {
        match self {
            ListFormat::Json => "json",
            ListFormat::Csv { .. } => "csv",
            ListFormat::Html => "html",
        }
    }
}

/// Writes one list incrementally: [`ListWriter::begin`] writes the opening (header row),
/// [`ListWriter::row`] one row, [`ListWriter::end`] the closing bytes.
///
/// Every call appends to a caller's buffer, which the caller may send and clear between
/// calls, so memory does not grow with the number of rows. A row with fewer cells than
/// columns is padded with [`Cell::Null`]; cells past the last column are ignored.
#[derive(Debug)]
pub struct ListWriter {
    mode: Mode,
    columns: usize,
    rows: u64,
    // JSON: `{"a":` then `,"b":` ... pre-escaped once; `key_ends[i]` closes key i.
    keys: Vec<u8>,
    key_ends: Vec<usize>,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Json,
    Csv(u8),
    Html,
}

const HTML_OPEN: &[u8] = b"<table class=\"comptoir-list\">\n<thead><tr>";

impl ListWriter {
    /// Starts a list of `columns` in `format`, appending its opening bytes to `out`.
    pub fn begin(format: ListFormat, columns: &[&str], out: &mut Vec<u8>) -> ListWriter {
        let mode = match format {
            ListFormat::Json => Mode::Json,
            ListFormat::Csv { separator } => {
                let ok = separator.is_ascii() && !matches!(separator, b'"' | b'\r' | b'\n');
                Mode::Csv(if ok { separator } else { b',' })
            }
            ListFormat::Html => Mode::Html,
        };
        let mut keys = Vec::new();
        let mut key_ends = Vec::with_capacity(columns.len());
        match mode {
            Mode::Json => {
                for (i, name) in columns.iter().enumerate() {
                    keys.push(if i == 0 { b'{' } else { b',' });
                    push_json_str(&mut keys, name);
                    keys.push(b':');
                    key_ends.push(keys.len());
                }
                out.push(b'[');
            }
            Mode::Csv(sep) => {
                let lone = columns.len() == 1;
                for (i, name) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(sep);
                    }
                    push_csv_text(out, name, sep, lone);
                }
                out.extend_from_slice(b"\r\n");
            }
            Mode::Html => {
                out.extend_from_slice(HTML_OPEN);
                for name in columns {
                    out.extend_from_slice(b"<th scope=\"col\">");
                    push_html_text(out, name);
                    out.extend_from_slice(b"</th>");
                }
                out.extend_from_slice(b"</tr></thead>\n<tbody>\n");
            }
        }
        ListWriter {
            mode,
            columns: columns.len(),
            rows: 0,
            keys,
            key_ends,
        }
    }

    /// Appends one row.
    pub fn row(&mut self, cells: &[Cell<'_>], out: &mut Vec<u8>) {
        let cell = |i: usize| cells.get(i).unwrap_or(&Cell::Null);
        match self.mode {
            Mode::Json => {
                out.extend_from_slice(if self.rows == 0 { b"\n" } else { b",\n" });
                if self.columns == 0 {
                    out.push(b'{');
                }
                let mut start = 0;
                for (i, &end) in self.key_ends.iter().enumerate() {
                    out.extend_from_slice(&self.keys[start..end]);
                    start = end;
                    push_json_cell(out, cell(i));
                }
                out.push(b'}');
            }
            Mode::Csv(sep) => {
                let lone = self.columns == 1;
                for i in 0..self.columns {
                    if i > 0 {
                        out.push(sep);
                    }
                    push_csv_cell(out, cell(i), sep, lone);
                }
                out.extend_from_slice(b"\r\n");
            }
            Mode::Html => {
                out.extend_from_slice(b"<tr>");
                for i in 0..self.columns {
                    push_html_cell(out, cell(i));
                }
                out.extend_from_slice(b"</tr>\n");
            }
        }
        self.rows += 1;
    }

    /// Appends the closing bytes; the list is complete.
    pub fn end(self, out: &mut Vec<u8>) {
        match self.mode {
            Mode::Json => out.extend_from_slice(if self.rows == 0 { b"]" } else { b"\n]" }),
            Mode::Csv(_) => {}
            Mode::Html => out.extend_from_slice(b"</tbody>\n</table>\n"),
        }
    }

    /// The number of rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// A whole list in one buffer (small lists, tests); large ones use [`ListWriter`].
pub fn render_list<'a, R>(
    format: ListFormat,
    columns: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> Vec<u8>
where
    R: AsRef<[Cell<'a>]>,
{
    let mut out = Vec::new();
    let mut writer = ListWriter::begin(format, columns, &mut out);
    for row in rows {
        writer.row(row.as_ref(), &mut out);
    }
    writer.end(&mut out);
    out
}

fn push_json_cell(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes()),
        Cell::Money { minor, digits } => push_fixed(out, *minor, *digits),
        Cell::Number(n) if is_json_number(n.as_bytes()) => out.extend_from_slice(n.as_bytes()),
        Cell::Number(t) | Cell::Text(t) => push_json_str(out, t),
        Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn push_csv_cell(out: &mut Vec<u8>, cell: &Cell<'_>, sep: u8, lone: bool) {
    match cell {
        // A lone empty field would be an empty line, which readers skip: quote it.
        Cell::Null if lone => out.extend_from_slice(b"\"\""),
        Cell::Null => {}
        Cell::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes()),
        Cell::Money { minor, digits } => push_fixed(out, *minor, *digits),
        // Numbers are never prefixed: `-3.50` must stay a number for the spreadsheet.
        Cell::Number(n) if is_json_number(n.as_bytes()) => out.extend_from_slice(n.as_bytes()),
        Cell::Number(t) | Cell::Text(t) => push_csv_text(out, t, sep, lone),
        Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

/// Writes a text field: `'` before a leading `=`, `+`, `-`, `@`, tab or CR (spreadsheets
/// would run it as a formula), then quoted when it holds the separator, `"`, CR or LF.
fn push_csv_text(out: &mut Vec<u8>, s: &str, sep: u8, lone: bool) {
    let bytes = s.as_bytes();
    let prefix = matches!(
        bytes.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let quote = (lone && bytes.is_empty())
        || bytes
            .iter()
            .any(|&b| b == sep || matches!(b, b'"' | b'\r' | b'\n'));
    if !quote {
        if prefix {
            out.push(b'\'');
        }
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(bytes.len() + 3);
    out.push(b'"');
    if prefix {
        out.push(b'\'');
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' {
            out.extend_from_slice(&bytes[start..=i]);
            out.push(b'"');
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn push_html_cell(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell {
        Cell::Null => out.extend_from_slice(b"<td></td>"),
        Cell::Int(v) => {
            out.extend_from_slice(b"<td class=\"num\">");
            out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
            out.extend_from_slice(b"</td>");
        }
        Cell::Money { minor, digits } => {
            out.extend_from_slice(b"<td class=\"num\">");
            push_fixed(out, *minor, *digits);
            out.extend_from_slice(b"</td>");
        }
        Cell::Number(n) if is_json_number(n.as_bytes()) => {
            out.extend_from_slice(b"<td class=\"num\">");
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b"</td>");
        }
        Cell::Number(t) | Cell::Text(t) => {
            out.extend_from_slice(b"<td>");
            push_html_text(out, t);
            out.extend_from_slice(b"</td>");
        }
        Cell::Bool(b) => {
            out.extend_from_slice(if *b {
                b"<td>true</td>"
            } else {
                b"<td>false</td>"
            });
        }
    }
}

pub(crate) fn push_html_text(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let entity: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&#39;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(entity);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COLUMNS: &[&str] = &["id", "name", "price", "vatRate", "active", "barcode"];

    fn sample() -> Vec<Vec<Cell<'static>>> {
        vec![
            vec![
                Cell::Int(1),
                Cell::text("Crème brûlée"),
                Cell::Money {
                    minor: 2940,
                    digits: 2,
                },
                Cell::Number("5.5".into()),
                Cell::Bool(true),
                Cell::Null,
            ],
            vec![
                Cell::Int(-2),
                Cell::text("say \"hi\", then\r\nleave"),
                Cell::Money {
                    minor: -350,
                    digits: 2,
                },
                Cell::vat_rate(VatRate::parse("20").unwrap_or_default()),
                Cell::Bool(false),
                Cell::text("0123"),
            ],
        ]
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("writers emit UTF-8")
    }

    #[test]
    fn json_parses_back_to_the_expected_values() {
        let out = render_list(ListFormat::Json, COLUMNS, sample());
        let parsed: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        // Parsed from text: with serde_json's arbitrary_precision, 29.40 != 29.4.
        let expected: serde_json::Value = serde_json::from_str(
            r#"[{"id":1,"name":"Crème brûlée","price":29.40,"vatRate":5.5,"active":true,"barcode":null},
                {"id":-2,"name":"say \"hi\", then\r\nleave","price":-3.50,"vatRate":20.0,
                 "active":false,"barcode":"0123"}]"#,
        )
        .expect("expected JSON");
        assert_eq!(parsed, expected);
        let s = text(out);
        // Money keeps its minor digits in the bytes, not only in value.
        assert!(s.contains("\"price\":29.40,"), "{s}");
        assert!(s.contains("\"price\":-3.50,"), "{s}");
        assert!(s.contains("\"vatRate\":20.0,"), "{s}");
    }

    #[test]
    fn json_of_no_rows_is_an_empty_array() {
        let out = render_list(ListFormat::Json, COLUMNS, Vec::<Vec<Cell<'_>>>::new());
        assert_eq!(out, b"[]");
        let out = render_list(ListFormat::Json, &[], [vec![Cell::Int(1)]]);
        assert_eq!(text(out), "[\n{}\n]");
    }

    #[test]
    fn json_escapes_control_characters_and_keys() {
        let out = render_list(
            ListFormat::Json,
            &["we\"ird\\key"],
            [vec![Cell::text("\u{0}\u{1f}\u{8}\u{c}\t</script>")]],
        );
        let parsed: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(
            parsed,
            serde_json::json!([{"we\"ird\\key": "\u{0}\u{1f}\u{8}\u{c}\t</script>"}])
        );
    }

    #[test]
    fn a_number_that_is_not_a_number_is_written_as_text() {
        let cells = [vec![Cell::Number("=1+1".into()), Cell::Number("1e".into())]];
        let json = render_list(ListFormat::Json, &["a", "b"], &cells);
        assert_eq!(text(json), "[\n{\"a\":\"=1+1\",\"b\":\"1e\"}\n]");
        let csv = render_list(ListFormat::CSV, &["a", "b"], &cells);
        assert_eq!(text(csv), "a,b\r\n'=1+1,1e\r\n");
    }

    #[test]
    fn csv_parses_back_to_the_same_values() {
        for separator in [b',', b';'] {
            let out = render_list(ListFormat::Csv { separator }, COLUMNS, sample());
            assert!(out.ends_with(b"\r\n"));
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(separator)
                .from_reader(out.as_slice());
            let header: Vec<String> = reader
                .headers()
                .expect("header")
                .iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(header, COLUMNS);
            let rows: Vec<Vec<String>> = reader
                .records()
                .map(|r| r.expect("record").iter().map(str::to_owned).collect())
                .collect();
            assert_eq!(
                rows,
                vec![
                    vec!["1", "Crème brûlée", "29.40", "5.5", "true", ""],
                    vec![
                        "-2",
                        "say \"hi\", then\r\nleave",
                        "-3.50",
                        "20.0",
                        "false",
                        "0123"
                    ],
                ]
            );
        }
    }

    #[test]
    fn csv_uses_crlf_and_quotes_only_when_needed() {
        let out = render_list(
            ListFormat::Csv { separator: b';' },
            &["a", "b", "c"],
            [vec![
                Cell::text("x,y"),
                Cell::text("x;y"),
                Cell::Money {
                    minor: 105,
                    digits: 2,
                },
            ]],
        );
        assert_eq!(text(out), "a;b;c\r\nx,y;\"x;y\";1.05\r\n");
    }

    #[test]
    fn csv_neutralises_formulas_but_not_numbers() {
        let out = render_list(
            ListFormat::CSV,
            &["t", "m", "i", "n"],
            [
                vec![
                    Cell::text("=HYPERLINK(\"x\")"),
                    Cell::Money {
                        minor: -350,
                        digits: 2,
                    },
                    Cell::Int(-7),
                    Cell::Number("-5.5".into()),
                ],
                vec![
                    Cell::text("+1"),
                    Cell::text("-1"),
                    Cell::text("@SUM(A1)"),
                    Cell::text("\tx"),
                ],
                vec![Cell::text("\rx"), Cell::text("a=b"), Cell::Null, Cell::Null],
            ],
        );
        assert_eq!(
            text(out),
            "t,m,i,n\r\n\"'=HYPERLINK(\"\"x\"\")\",-3.50,-7,-5.5\r\n\
             '+1,'-1,'@SUM(A1),'\tx\r\n\"'\rx\",a=b,,\r\n"
        );
    }

    #[test]
    fn csv_with_one_column_keeps_empty_rows() {
        let out = render_list(
            ListFormat::CSV,
            &["name"],
            [
                vec![Cell::Null],
                vec![Cell::text("")],
                vec![Cell::text("a")],
            ],
        );
        assert_eq!(text(out.clone()), "name\r\n\"\"\r\n\"\"\r\na\r\n");
        let mut reader = csv::Reader::from_reader(out.as_slice());
        assert_eq!(reader.records().count(), 3);
    }

    #[test]
    fn a_separator_that_would_break_csv_falls_back_to_comma() {
        let out = render_list(
            ListFormat::Csv { separator: b'"' },
            &["a", "b"],
            [vec![Cell::Int(1), Cell::Int(2)]],
        );
        assert_eq!(text(out), "a,b\r\n1,2\r\n");
    }

    #[test]
    fn html_escapes_every_value() {
        let out = text(render_list(
            ListFormat::Html,
            &["id", "<name>"],
            [
                vec![Cell::Int(1), Cell::text("<script>alert(1)</script>")],
                vec![Cell::Null, Cell::text("Tom & \"Jerry\" 'n' co")],
            ],
        ));
        assert!(!out.contains("<script>"), "{out}");
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
        assert!(
            out.contains("Tom &amp; &quot;Jerry&quot; &#39;n&#39; co"),
            "{out}"
        );
        assert!(out.contains("<th scope=\"col\">&lt;name&gt;</th>"), "{out}");
        assert!(out.starts_with("<table class=\"comptoir-list\">\n<thead><tr>"));
        assert!(out.contains("<tr><td></td>"), "{out}");
        assert!(out.ends_with("</tbody>\n</table>\n"), "{out}");
    }

    #[test]
    fn rows_with_missing_or_extra_cells_keep_the_shape() {
        let rows = [
            vec![Cell::Int(1)],
            vec![Cell::Int(1), Cell::Int(2), Cell::Int(3)],
        ];
        let json = render_list(ListFormat::Json, &["a", "b"], &rows);
        let parsed: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(parsed, serde_json::json!([{"a":1,"b":null},{"a":1,"b":2}]));
        assert_eq!(
            text(render_list(ListFormat::CSV, &["a", "b"], &rows)),
            "a,b\r\n1,\r\n1,2\r\n"
        );
    }

    #[test]
    fn the_writer_streams_into_a_drained_buffer() {
        let mut out = Vec::new();
        let mut sent = Vec::new();
        let mut w = ListWriter::begin(ListFormat::Json, &["id"], &mut out);
        for i in 0..10_000 {
            w.row(&[Cell::Int(i)], &mut out);
            if out.len() > 1024 {
                sent.append(&mut out);
            }
            assert!(out.len() <= 1024 + 32);
        }
        assert_eq!(w.rows(), 10_000);
        w.end(&mut out);
        sent.append(&mut out);
        let parsed: Vec<serde_json::Value> = serde_json::from_slice(&sent).expect("valid JSON");
        assert_eq!(parsed.len(), 10_000);
    }

    #[test]
    fn formats_come_from_query_parameters() {
        assert_eq!(ListFormat::from_params(None, None), Some(ListFormat::Json));
        assert_eq!(
            ListFormat::from_params(Some("CSV"), Some(";")),
            Some(ListFormat::Csv { separator: b';' })
        );
        assert_eq!(
            ListFormat::from_params(Some("csv"), None),
            Some(ListFormat::CSV)
        );
        assert_eq!(
            ListFormat::from_params(Some("html"), None),
            Some(ListFormat::Html)
        );
        assert_eq!(ListFormat::from_params(Some("xml"), None), None);
        assert_eq!(ListFormat::from_params(Some("csv"), Some("\"")), None);
        assert_eq!(ListFormat::Html.content_type(), "text/html; charset=utf-8");
    }

    fn csv_expected(s: &str) -> String {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s.to_owned()
        }
    }

    proptest! {
        #[test]
        fn csv_round_trips_any_text(
            a in any::<String>(),
            b in "[=+\\-@\t\r\n\",; a-zé€]{0,12}",
            sep in prop::sample::select(vec![b',', b';']),
        ) {
            let out = render_list(
                ListFormat::Csv { separator: sep },
                &["a", "b"],
                [vec![Cell::text(a.as_str()), Cell::text(b.as_str())]],
            );
            let mut reader = csv::ReaderBuilder::new().delimiter(sep).from_reader(out.as_slice());
            let records: Vec<csv::StringRecord> =
                reader.records().collect::<Result<_, _>>().expect("parses");
            prop_assert_eq!(records.len(), 1);
            prop_assert_eq!(records[0][0].to_owned(), csv_expected(&a));
            prop_assert_eq!(records[0][1].to_owned(), csv_expected(&b));
        }

        #[test]
        fn csv_round_trips_one_column_text(a in any::<String>()) {
            let out = render_list(ListFormat::CSV, &["a"], [vec![Cell::text(a.as_str())]]);
            let mut reader = csv::Reader::from_reader(out.as_slice());
            let records: Vec<csv::StringRecord> =
                reader.records().collect::<Result<_, _>>().expect("parses");
            prop_assert_eq!(records.len(), 1);
            prop_assert_eq!(records[0][0].to_owned(), csv_expected(&a));
        }

        #[test]
        fn json_round_trips_any_text_and_amount(
            a in any::<String>(),
            minor in any::<i64>(),
            digits in 0u8..=4,
        ) {
            let out = render_list(
                ListFormat::Json,
                &["t", "m"],
                [vec![Cell::text(a.as_str()), Cell::Money { minor, digits }]],
            );
            let parsed: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
            prop_assert_eq!(&parsed[0]["t"], &serde_json::Value::String(a));
            prop_assert_eq!(
                parsed[0]["m"].to_string(),
                comptoir_core::money::format_scaled(minor, digits)
            );
        }
    }
}
