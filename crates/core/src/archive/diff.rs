//! `verify --against`'s comparison of one archived file with the same file re-exported
//! from the database: both sides in key order, row by row, as the CSV cells read back.

use std::cmp::Ordering;
use std::fmt;

/// Differences kept per file for the report; the rest are only counted.
const KEPT: usize = 20;

/// One difference between the archive and the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowDiff {
    /// Archive row `row` (1 = the first after the header) is not in the database.
    Missing { row: u64, key: String },
    /// The database holds archive row `row` with another value in `column`.
    Changed {
        row: u64,
        key: String,
        column: String,
        archive: String,
        database: String,
    },
    /// Archive row `row` has no readable key.
    Unreadable { row: u64 },
}

impl fmt::Display for RowDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowDiff::Missing { row, key } => {
                write!(
                    f,
                    "row {row} ({key}) is in the archive but not in the database"
                )
            }
            RowDiff::Changed {
                row,
                key,
                column,
                archive,
                database,
            } => write!(
                f,
                "row {row} ({key}) differs in {column}: the archive has {archive:?}, the database {database:?}"
            ),
            RowDiff::Unreadable { row } => write!(f, "row {row} has no readable key"),
        }
    }
}

/// What comparing one file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    pub name: String,
    /// The first differences, in row order.
    pub differences: Vec<RowDiff>,
    /// How many archive rows are missing from the database or differ there.
    pub wrong: u64,
    /// Rows the database holds in the period that the archive does not (recorded since).
    pub added: u64,
}

/// Compares a file row by row: feed it the database's rows in key order with
/// [`FileDiff::database_row`], pulling the archive's rows as needed, then [`FileDiff::finish`].
pub struct FileDiff<'c> {
    report: FileReport,
    columns: &'c [&'c str],
    keys: usize,
    /// The archive row read ahead, with its number.
    pending: Option<(u64, Vec<String>)>,
    read: u64,
}

/// What the archive side gives: its next row's cells, or `None` at the end.
pub type NextRow<'a> = dyn FnMut() -> Option<Vec<String>> + 'a;

impl<'c> FileDiff<'c> {
    /// `keys` leading columns, integers, make the order both sides are in.
    pub fn new(name: &str, columns: &'c [&'c str], keys: usize) -> FileDiff<'c> {
        FileDiff {
            report: FileReport {
                name: name.to_string(),
                differences: Vec::new(),
                wrong: 0,
                added: 0,
            },
            columns,
            keys,
            pending: None,
            read: 0,
        }
    }

    fn key(&self, row: &[String]) -> Option<Vec<i64>> {
        (0..self.keys)
            .map(|i| row.get(i).and_then(|c| c.parse().ok()))
            .collect()
    }

    fn key_text(&self, row: &[String]) -> String {
        (0..self.keys)
            .map(|i| {
                format!(
                    "{} {}",
                    self.columns.get(i).unwrap_or(&"?"),
                    row.get(i).map_or("", String::as_str)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn wrong(&mut self, d: RowDiff) {
        self.report.wrong += 1;
        if self.report.differences.len() < KEPT {
            self.report.differences.push(d);
        }
    }

    fn next(&mut self, archive: &mut NextRow<'_>) -> Option<(u64, Vec<String>)> {
        self.pending.take().or_else(|| {
            let r = archive()?;
            self.read += 1;
            Some((self.read, r))
        })
    }

    /// One row of the database, in key order.
    pub fn database_row(&mut self, db: &[String], archive: &mut NextRow<'_>) {
        let Some(db_key) = self.key(db) else {
            self.report.added += 1;
            return;
        };
        while let Some((row, a)) = self.next(archive) {
            let Some(a_key) = self.key(&a) else {
                self.wrong(RowDiff::Unreadable { row });
                continue;
            };
            match a_key.cmp(&db_key) {
                Ordering::Less => {
                    let key = self.key_text(&a);
                    self.wrong(RowDiff::Missing { row, key });
                }
                Ordering::Equal => {
                    let differs = (0..self.columns.len().max(a.len()).max(db.len()))
                        .find(|&i| a.get(i) != db.get(i));
                    if let Some(i) = differs {
                        let cell = |r: &[String]| r.get(i).cloned().unwrap_or_default();
                        let d = RowDiff::Changed {
                            row,
                            key: self.key_text(&a),
                            column: self
                                .columns
                                .get(i)
                                .map_or_else(|| format!("column {}", i + 1), |c| c.to_string()),
                            archive: cell(&a),
                            database: cell(db),
                        };
                        self.wrong(d);
                    }
                    return;
                }
                Ordering::Greater => {
                    self.pending = Some((row, a));
                    self.report.added += 1;
                    return;
                }
            }
        }
        self.report.added += 1;
    }

    /// The archive's remaining rows are missing from the database.
    pub fn finish(mut self, archive: &mut NextRow<'_>) -> FileReport {
        while let Some((row, a)) = self.next(archive) {
            let d = match self.key(&a) {
                Some(_) => RowDiff::Missing {
                    row,
                    key: self.key_text(&a),
                },
                None => RowDiff::Unreadable { row },
            };
            self.wrong(d);
        }
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[&[&str]]) -> Vec<Vec<String>> {
        text.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    fn compare(archive: &[&[&str]], db: &[&[&str]]) -> FileReport {
        let mut a = rows(archive).into_iter();
        let mut next = || a.next();
        let mut d = FileDiff::new("lines.csv", &["order_id", "line_no", "title"], 2);
        for r in rows(db) {
            d.database_row(&r, &mut next);
        }
        d.finish(&mut next)
    }

    #[test]
    fn same_rows_agree_and_each_difference_is_named() {
        let archive: &[&[&str]] = &[&["1", "1", "a"], &["1", "2", "b"], &["2", "1", "c"]];
        let same = compare(archive, archive);
        assert_eq!((same.wrong, same.added, same.differences.len()), (0, 0, 0));

        let r = compare(archive, &[&["1", "1", "a"], &["2", "1", "c"]]);
        assert_eq!(r.wrong, 1);
        assert_eq!(
            r.differences[0].to_string(),
            "row 2 (order_id 1, line_no 2) is in the archive but not in the database"
        );
        let r = compare(
            archive,
            &[
                &["1", "1", "a"],
                &["1", "2", "B"],
                &["2", "1", "c"],
                &["3", "1", "d"],
            ],
        );
        assert_eq!((r.wrong, r.added), (1, 1));
        assert_eq!(
            r.differences[0].to_string(),
            "row 2 (order_id 1, line_no 2) differs in title: the archive has \"b\", the database \"B\""
        );
        let r = compare(archive, &[&["1", "1", "a"]]);
        assert_eq!(r.wrong, 2, "{r:?}");
        let r = compare(
            archive,
            &[
                &["0", "9", "z"],
                &["1", "1", "a"],
                &["1", "2", "b"],
                &["2", "1", "c"],
            ],
        );
        assert_eq!((r.wrong, r.added), (0, 1));
    }
}
