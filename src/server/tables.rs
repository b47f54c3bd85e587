//! The written tables of finished plans (plan.csv, unscheduled.csv) served as pages:
//! each is read once through `ingest::plan_csv::read_text` (the one reader) and kept in
//! a small cache, so a page costs a slice, not a parse of the whole file. Rows go out
//! as JSON objects with the file's columns in order (the contract's) and `null` for
//! empty cells. No pricing, no writing.

use super::error::ApiError;
use crate::ingest::plan_csv::{TextTable, read_text};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Tables kept in memory at most (a 100k-device plan.csv is ~60 MB as text).
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

/// The most recently used tables (last = most recent).
#[derive(Debug, Default)]
pub struct TableCache {
    entries: Mutex<Vec<(Key, Arc<TextTable>)>>,
}

impl TableCache {
    /// The table `file` of plan `id` in folder `dir`, read on first use.
    pub async fn get(
        &self,
        id: &str,
        file: &'static str,
        path: PathBuf,
    ) -> Result<Arc<TextTable>, ApiError> {
        let key = (id.to_string(), file);
        if let Some(t) = self.lookup(&key) {
            return Ok(t);
        }
        let table = tokio::task::spawn_blocking(move || read_text(&path))
            .await
            .map_err(|e| ApiError::internal("reading a plan table", e))?
            .map_err(|d| ApiError::internal("reading a plan table", d))?;
        let table = Arc::new(table);
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|(k, _)| *k != key);
            e.push((key, table.clone()));
            if e.len() > CACHED {
                e.remove(0);
            }
        }
        Ok(table)
    }

    fn lookup(&self, key: &Key) -> Option<Arc<TextTable>> {
        let mut e = self.entries.lock().ok()?;
        let i = e.iter().position(|(k, _)| k == key)?;
        let hit = e.remove(i);
        let t = hit.1.clone();
        e.push(hit);
        Some(t)
    }

    /// Forgets a plan's tables (it was deleted).
    pub fn forget(&self, id: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|((k, _), _)| k != id);
        }
    }
}

/// One row as a JSON object whose keys keep the table's column order.
#[derive(Debug)]
pub struct OrderedRow(Vec<(String, Value)>);

impl Serialize for OrderedRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl OrderedRow {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
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

/// Rows `offset..offset + limit` of a table as JSON objects.
pub fn page(t: &TextTable, offset: usize, limit: usize) -> Vec<OrderedRow> {
    t.rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            OrderedRow(
                t.columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| (c.clone(), cell(c, v)))
                    .collect(),
            )
        })
        .collect()
}
