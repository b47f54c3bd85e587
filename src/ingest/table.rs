//! One input table (CSV or Parquet) read with polars and handed out column by column as
//! plain Rust values, each bad cell reported with file, row, column and value. This is
//! the only place polars data frames are looked into.

use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::units::Instant;
use chrono::{DateTime, Utc};
use polars::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// A parsed cell: a value, an empty cell, or a cell already reported as bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum V<T> {
    Val(T),
    Null,
    Bad,
}

impl<T> V<T> {
    pub fn ok(self) -> Option<T> {
        match self {
            V::Val(v) => Some(v),
            _ => None,
        }
    }
}

/// A loaded table. `file` is the name shown to the user (relative to the scenario).
pub struct Table {
    pub file: String,
    pub format: Format,
    df: DataFrame,
}

/// Reads a table, or explains why it cannot be read (missing file, unknown extension,
/// not CSV/Parquet, unreadable). Never panics: a panic inside the parser is reported as
/// an unreadable file.
#[allow(clippy::result_large_err)] // one diagnostic per table read; not a hot path
pub fn read_table(path: &Path, file: &str) -> Result<Table, Diagnostic> {
    read_table_hinting(
        path,
        file,
        Some("paths in [tables] are relative to the scenario folder"),
    )
}

/// [`read_table`], with the hint for a missing file (none for a table named on the
/// command line, which [tables] has nothing to do with).
#[allow(clippy::result_large_err)] // as read_table
fn read_table_hinting(
    path: &Path,
    file: &str,
    not_found_hint: Option<&str>,
) -> Result<Table, Diagnostic> {
    let located = super::parts::locate(path, file, not_found_hint)?;
    super::parts::guard(&located, file)?;
    let format = located.format;
    if format == Format::Parquet {
        let mut df = read_parquet_parts(&located, file)?;
        df.rechunk_mut();
        return Ok(Table {
            file: file.to_string(),
            format,
            df,
        });
    }
    let p = path.to_path_buf();
    let result = catch_unwind(AssertUnwindSafe(|| -> PolarsResult<DataFrame> {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .map_parse_options(|o| o.with_missing_is_null(true))
            .try_into_reader_with_file_path(Some(p))?
            .finish()
    }));
    let mut df = match result {
        Ok(Ok(df)) => df,
        Ok(Err(e)) => {
            // polars names neither the row nor what it expected: find the row ourselves
            // (only when reading failed, so a good file is read once).
            if let Some(d) = ragged_row(path, file) {
                return Err(d);
            }
            return Err(Diagnostic::error(
                file,
                format!("cannot be read as CSV: {}", first_line(&e.to_string())),
            ));
        }
        Err(_) => {
            return Err(Diagnostic::error(
                file,
                "cannot be read: the file is malformed",
            ));
        }
    };
    df.rechunk_mut();
    Ok(Table {
        file: file.to_string(),
        format,
        df,
    })
}

/// Reads every part of a Parquet table (one file, or an engine's part files with their
/// partition folders as columns) into one frame; parts must share one schema.
#[allow(clippy::result_large_err)] // as read_table
fn read_parquet_parts(
    located: &super::parts::Located,
    file: &str,
) -> Result<DataFrame, Diagnostic> {
    let mut frames = Vec::with_capacity(located.parts.len());
    for part in &located.parts {
        let read = catch_unwind(AssertUnwindSafe(|| -> PolarsResult<DataFrame> {
            let df = ParquetReader::new(std::fs::File::open(&part.path)?).finish()?;
            let schema = df.schema().clone();
            super::parts::with_hive(df.lazy(), part, &schema).collect()
        }));
        let bad = |msg: String| {
            let d = Diagnostic::error(file, msg);
            if located.is_set {
                d.value(part.path.display().to_string())
            } else {
                d
            }
        };
        match read {
            Ok(Ok(df)) => frames.push(df),
            Ok(Err(e)) => {
                return Err(bad(format!(
                    "cannot be read as Parquet: {}",
                    first_line(&e.to_string())
                )));
            }
            Err(_) => return Err(bad("cannot be read: the file is malformed".into())),
        }
    }
    let schemas: Vec<_> = located
        .parts
        .iter()
        .zip(&frames)
        .map(|(p, df)| (p, df.schema().clone()))
        .collect();
    super::parts::same_schema(file, &schemas)?;
    let mut frames = frames.into_iter();
    let mut df = frames.next().unwrap_or_default();
    for f in frames {
        df.vstack_mut_owned(f).map_err(|e| {
            Diagnostic::error(
                file,
                format!("cannot be read as Parquet: {}", first_line(&e.to_string())),
            )
        })?;
    }
    Ok(df)
}

/// Opens a table named by its own path (progress.csv, a written plan.csv), shown to the
/// user by its file name; the one diagnostic, if any, as `Diagnostics`.
pub fn open_named(path: &Path) -> Result<Table, Diagnostics> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    read_table_hinting(path, &file, None).map_err(|d| {
        let mut diags = Diagnostics::default();
        diags.push(d);
        diags
    })
}

/// The first CSV record with more fields than the header, as a diagnostic naming its
/// row, its line and the header's columns; `None` when every record fits (or the file
/// cannot be read again). One pass over the bytes with RFC 4180 quoting (`"`), blank
/// lines skipped as polars skips them.
fn ragged_row(path: &Path, file: &str) -> Option<Diagnostic> {
    use std::io::Read;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).ok()?);
    let mut scan = FieldScan::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        buf[..n].iter().for_each(|&b| scan.byte(b));
    }
    scan.end_record();
    let (row, line, found) = scan.first?;
    let names: Vec<String> = String::from_utf8_lossy(&scan.header)
        .trim_end_matches('\r')
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_string())
        .collect();
    let mut d = Diagnostic::error(
        file,
        format!(
            "line {line} has {found} fields but the header has {}: {}",
            names.len(),
            names.join(", ")
        ),
    )
    .row(row)
    .hint("a value containing a comma must be quoted (\"a,b\"); otherwise remove the extra separators");
    if scan.more > 0 {
        d.note = Some(format!(
            "…and {} further down {} too many fields",
            crate::diag::count(scan.more, "row", "rows"),
            if scan.more == 1 { "has" } else { "have" }
        ));
    }
    Some(d)
}

/// Field counts of CSV records, fed one byte at a time.
struct FieldScan {
    header: Vec<u8>,
    header_fields: Option<usize>,
    /// The first record with more fields than the header: (data row, line, fields).
    first: Option<(usize, usize, usize)>,
    /// Further such records.
    more: usize,
    line: usize,
    record_line: usize,
    row: usize,
    fields: usize,
    quoted: bool,
    empty: bool,
}

impl Default for FieldScan {
    fn default() -> Self {
        FieldScan {
            header: Vec::new(),
            header_fields: None,
            first: None,
            more: 0,
            line: 1,
            record_line: 1,
            row: 0,
            fields: 1,
            quoted: false,
            empty: true,
        }
    }
}

impl FieldScan {
    fn byte(&mut self, b: u8) {
        if self.header_fields.is_none() && (b != b'\n' || self.quoted) {
            self.header.push(b);
        }
        match b {
            b'"' => {
                self.quoted = !self.quoted;
                self.empty = false;
            }
            b',' if !self.quoted => {
                self.fields += 1;
                self.empty = false;
            }
            b'\n' => {
                self.line += 1;
                if !self.quoted {
                    self.end_record();
                }
            }
            b'\r' => {}
            _ => self.empty = false,
        }
    }

    fn end_record(&mut self) {
        if !self.empty {
            match self.header_fields {
                None => self.header_fields = Some(self.fields),
                Some(h) => {
                    self.row += 1;
                    if self.fields > h {
                        if self.first.is_none() {
                            self.first = Some((self.row, self.record_line, self.fields));
                        } else {
                            self.more += 1;
                        }
                    }
                }
            }
        }
        (self.fields, self.empty, self.record_line) = (1, true, self.line);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The display form of a polars dtype for messages.
fn dtype_name(dt: &DataType) -> String {
    match dt {
        DataType::String => "text".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Datetime(..) => "timestamp".into(),
        other => other.to_string(),
    }
}

impl Table {
    pub fn height(&self) -> usize {
        self.df.height()
    }

    pub fn has_column(&self, col: &str) -> bool {
        self.df.column(col).is_ok()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.df
            .get_column_names()
            .into_iter()
            .map(|c| c.to_string())
            .collect()
    }

    /// Reports required columns that are missing (with a "did you mean"), and an empty
    /// table. Returns false when the table cannot be used.
    pub fn check_shape(
        &self,
        required: &[&str],
        optional: &[&str],
        diags: &mut Diagnostics,
    ) -> bool {
        let names = self.column_names();
        let mut ok = true;
        for &col in required {
            if !names.iter().any(|n| n == col) {
                ok = false;
                let mut d = Diagnostic::error(&self.file, "required column is missing").column(col);
                let unknown = names
                    .iter()
                    .filter(|n| !required.contains(&n.as_str()) && !optional.contains(&n.as_str()));
                if let Some(c) = closest(col, unknown.map(String::as_str)) {
                    d = d.hint(format!("the file has a column {c:?}: misspelled?"));
                } else {
                    d = d.hint(format!("columns found: {}", names.join(", ")));
                }
                diags.push(d);
            }
        }
        if self.height() == 0 {
            ok = false;
            diags.push(Diagnostic::error(&self.file, "the table has no rows"));
        }
        ok
    }

    fn wrong_type(&self, col: &str, expected: &str) -> Diagnostic {
        let dt = self
            .df
            .column(col)
            .map(|c| dtype_name(c.dtype()))
            .unwrap_or_default();
        Diagnostic::error(
            &self.file,
            format!("column has type {dt}; expected {expected}"),
        )
        .column(col)
    }

    fn cell_err(&self, row0: usize, col: &str, value: &str, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.file, msg)
            .row(row0 + 1)
            .column(col)
            .value(value)
    }

    /// Generic column reader: text cells go through `parse`; typed Parquet cells through
    /// `typed`, which returns `None` when the column's type is wrong for the field.
    fn read<T>(
        &self,
        col: &str,
        expected: &str,
        diags: &mut Diagnostics,
        mut parse: impl FnMut(&str) -> Result<T, String>,
        typed: impl Fn(&Column) -> Option<Vec<Option<T>>>,
    ) -> Vec<V<T>> {
        let n = self.height();
        let Ok(c) = self.df.column(col) else {
            return (0..n).map(|_| V::Null).collect();
        };
        if c.dtype() == &DataType::String {
            let Ok(ca) = c.str() else {
                return (0..n).map(|_| V::Bad).collect();
            };
            return ca
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    None => V::Null,
                    Some(s) if s.trim().is_empty() => V::Null,
                    Some(s) => match parse(s.trim()) {
                        Ok(v) => V::Val(v),
                        Err(msg) => {
                            diags.push(self.cell_err(i, col, s, msg));
                            V::Bad
                        }
                    },
                })
                .collect();
        }
        if c.dtype() == &DataType::Null {
            return (0..n).map(|_| V::Null).collect();
        }
        match typed(c) {
            Some(vals) => vals
                .into_iter()
                .map(|v| v.map_or(V::Null, V::Val))
                .collect(),
            None => {
                diags.push(self.wrong_type(col, expected));
                (0..n).map(|_| V::Bad).collect()
            }
        }
    }

    /// A text column borrowed from the table (no copies: the hot path for a million
    /// devices). In Parquet it must be a string column.
    pub fn text_refs<'a>(&'a self, col: &str, diags: &mut Diagnostics) -> Vec<V<&'a str>> {
        let n = self.height();
        let Ok(c) = self.df.column(col) else {
            return vec![V::Null; n];
        };
        match c.dtype() {
            DataType::String => match c.str() {
                Ok(ca) => ca
                    .iter()
                    .map(|s| match s.map(str::trim) {
                        None | Some("") => V::Null,
                        Some(s) => V::Val(s),
                    })
                    .collect(),
                Err(_) => vec![V::Bad; n],
            },
            DataType::Null => vec![V::Null; n],
            _ => {
                diags.push(self.wrong_type(col, "text"));
                vec![V::Bad; n]
            }
        }
    }

    /// A text column. In Parquet it must be a string column.
    pub fn texts(&self, col: &str, diags: &mut Diagnostics) -> Vec<V<String>> {
        self.read(col, "text", diags, |s| Ok(s.to_string()), |_| None)
    }

    /// A boolean column: `true`/`false` (any case) or `1`/`0` in CSV; boolean in Parquet.
    pub fn bools(&self, col: &str, diags: &mut Diagnostics) -> Vec<V<bool>> {
        self.read(col, "boolean", diags, parse_bool, |c| {
            Some(c.bool().ok()?.iter().collect())
        })
    }

    /// A real number. In Parquet any integer or float column.
    pub fn numbers(&self, col: &str, diags: &mut Diagnostics) -> Vec<V<f64>> {
        self.read(
            col,
            "a number",
            diags,
            |s| match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err("not a number".to_string()),
            },
            |c| {
                if !c.dtype().is_primitive_numeric() {
                    return None;
                }
                let f = c.cast(&DataType::Float64).ok()?;
                Some(f.f64().ok()?.iter().collect())
            },
        )
    }

    /// A whole number (bytes are integers). In Parquet an integer column.
    pub fn integers(&self, col: &str, diags: &mut Diagnostics) -> Vec<V<i64>> {
        self.read(
            col,
            "an integer",
            diags,
            |s| {
                s.parse::<i64>()
                    .map_err(|_| "not a whole number".to_string())
            },
            |c| {
                if !c.dtype().is_integer() {
                    return None;
                }
                let f = c.cast(&DataType::Int64).ok()?;
                Some(f.i64().ok()?.iter().collect())
            },
        )
    }

    /// An instant: RFC 3339 with an offset (text), or a Parquet timestamp (taken as UTC).
    pub fn instants(&self, col: &str, diags: &mut Diagnostics) -> Vec<V<Instant>> {
        self.read(col, "a timestamp", diags, parse_instant, |c| {
            let DataType::Datetime(unit, _) = c.dtype() else {
                return None;
            };
            let unit = *unit;
            let ca = c.datetime().ok()?;
            Some(
                ca.physical()
                    .iter()
                    .map(|v| {
                        v.and_then(|v| match unit {
                            TimeUnit::Nanoseconds => Some(DateTime::<Utc>::from_timestamp_nanos(v)),
                            TimeUnit::Microseconds => DateTime::<Utc>::from_timestamp_micros(v),
                            TimeUnit::Milliseconds => DateTime::<Utc>::from_timestamp_millis(v),
                        })
                    })
                    .collect(),
            )
        })
    }
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("not a boolean (write true or false)".to_string()),
    }
}

/// RFC 3339 with an explicit offset (`Z` or `+02:00`). A time without an offset is
/// ambiguous and rejected.
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => Ok(t.with_timezone(&Utc)),
        Err(_) => {
            let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
                || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
                || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").is_ok();
            if naive {
                Err(
                    "timestamp has no offset (add Z for UTC, or the local offset like +02:00)"
                        .to_string(),
                )
            } else {
                Err("not an RFC 3339 timestamp (like 2026-12-01T00:00:00Z)".to_string())
            }
        }
    }
}
