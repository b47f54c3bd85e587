//! The written tables of finished plans (plan.csv, unscheduled.csv) served as pages:
//! each is read once through `plan_folder::plan_csv::read_text` (the one reader), on the work
//! pool, and its rows serialised once into a `RowsIndex` kept in a small cache, so a
//! page is a slice of bytes, not a parse. Requests for a table being read wait for that
//! one read. Rows go out as JSON objects with the file's columns in order (the
//! contract's) and `null` for empty cells. No pricing, no writing.

use super::error::ApiError;
use super::work::WorkPool;
use crate::plan_folder::plan_csv::{TextTable, read_text};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Tables kept in memory at most (a 100k-device plan.csv is ~60 MB as row JSON).
const CACHED: usize = 4;

/// Columns sent as JSON numbers.
const NUMERIC: [&str; 4] = [
    "payload_bytes",
    "expected_bytes",
    "p_success",
    "throughput_kbps",
];

/// A table's key: plan id and file name.
type Key = (String, &'static str);

/// A table, or the one read of it under way.
type Entry = Arc<OnceCell<Arc<RowsIndex>>>;

/// The most recently used tables (last = most recent).
#[derive(Debug, Default)]
pub struct TableCache {
    entries: Mutex<Vec<(Key, Entry)>>,
}

impl TableCache {
    /// The table `file` of plan `id` at `path`, read and indexed on `work` on first use.
    pub async fn get(
        &self,
        work: &WorkPool,
        id: &str,
        file: &'static str,
        path: PathBuf,
    ) -> Result<Arc<RowsIndex>, ApiError> {
        let entry = self.entry((id.to_string(), file));
        let index = entry
            .get_or_try_init(|| async move { work.run(move || index_file(&path)).await? })
            .await?;
        Ok(index.clone())
    }

    /// The key's entry, made most recent (created, and the oldest dropped, if new).
    fn entry(&self, key: Key) -> Entry {
        let Ok(mut e) = self.entries.lock() else {
            return Entry::default();
        };
        let hit = match e.iter().position(|(k, _)| *k == key) {
            Some(i) => e.remove(i),
            None => (key, Entry::default()),
        };
        let entry = hit.1.clone();
        e.push(hit);
        if e.len() > CACHED {
            e.remove(0);
        }
        entry
    }

    /// Forgets a plan's tables (it was deleted).
    pub fn forget(&self, id: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|((k, _), _)| k != id);
        }
    }
}

fn index_file(path: &Path) -> Result<Arc<RowsIndex>, ApiError> {
    let table = read_text(path).map_err(|d| ApiError::internal("reading a plan table", d))?;
    let index =
        RowsIndex::build(&table).map_err(|e| ApiError::internal("serialising a plan table", e))?;
    Ok(Arc::new(index))
}

/// A table's rows serialised once, joined by commas: row `i` is
/// `json[starts[i]..starts[i + 1] - 1]` (the last start is one past the end).
#[derive(Debug)]
pub struct RowsIndex {
    json: Vec<u8>,
    starts: Vec<usize>,
}

impl RowsIndex {
    pub fn build(t: &TextTable) -> Result<RowsIndex, serde_json::Error> {
        let mut json = Vec::new();
        let mut starts = Vec::with_capacity(t.rows.len() + 1);
        for r in &t.rows {
            if !starts.is_empty() {
                json.push(b',');
            }
            starts.push(json.len());
            serde_json::to_writer(&mut json, &row(&t.columns, r))?;
        }
        starts.push(json.len() + 1);
        Ok(RowsIndex { json, starts })
    }

    /// Rows in the table.
    pub fn total(&self) -> usize {
        self.starts.len() - 1
    }

    /// The page of rows `offset..offset + limit` as the `RowsPage` JSON object:
    /// `{"total", "offset", "limit", "devices": [rows]}`.
    pub fn page_json(&self, offset: usize, limit: usize) -> Vec<u8> {
        let total = self.total();
        let (a, b) = (offset.min(total), offset.saturating_add(limit).min(total));
        let rows = if a < b {
            &self.json[self.starts[a]..self.starts[b] - 1]
        } else {
            &[]
        };
        let mut out = Vec::with_capacity(rows.len() + 80);
        let _ = write!(
            out,
            "{{\"total\":{total},\"offset\":{offset},\"limit\":{limit},\"devices\":["
        );
        out.extend_from_slice(rows);
        out.extend_from_slice(b"]}");
        out
    }
}

/// One row as a JSON object whose keys keep the table's column order.
#[derive(Debug)]
struct OrderedRow(Vec<(String, Value)>);

impl Serialize for OrderedRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A cell as JSON: null when empty, a number in a numeric column, else a string.
fn cell(column: &str, v: &Option<String>) -> Value {
    let Some(v) = v else { return Value::Null };
    if NUMERIC.contains(&column) {
        if let Ok(i) = v.parse::<u64>() {
            return Value::from(i);
        }
        if let Some(n) = v.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(v.clone())
}

/// One row of a table as a JSON object in the table's column order.
fn row(columns: &[String], cells: &[Option<String>]) -> OrderedRow {
    OrderedRow(
        columns
            .iter()
            .zip(cells)
            .map(|(c, v)| (c.clone(), cell(c, v)))
            .collect(),
    )
}
