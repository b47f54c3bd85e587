//! Coverage files: streams a `coverage` history (CSV or Parquet) in bounded batches of
//! typed rows, every bad cell reported with file, row, column and value; reads and
//! validates `coverage_model` tables; writes fitted models and synthetic histories. The
//! only place coverage files meet polars. No estimation happens here.

use super::table::{Format, V, parse_bool, parse_instant, read_table};
use crate::coverage::fit::{CappedDiags, HistoryBatch};
use crate::coverage::{HOURS_PER_WEEK, HourStats, Profile};
use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::fsutil;
use polars::prelude::*;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc::sync_channel;

const REQUIRED: [&str; 3] = ["device_id", "ts", "online"];
const OPTIONAL: [&str; 2] = ["throughput_kbps", "dropped"];
/// Rows per batch handed to the fitter.
const BATCH_ROWS: usize = 256 * 1024;

/// A history file whose columns and types have been checked; rows not yet read.
pub struct History {
    file: String,
    lf: LazyFrame,
    ts_is_text: bool,
    online_is_text: bool,
    tp: Option<bool>,
    dropped: Option<bool>,
}

fn type_name(dt: &DataType) -> String {
    match dt {
        DataType::String => "text".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Datetime(..) => "timestamp".into(),
        other => other.to_string(),
    }
}

fn unreadable(file: &str, format: Format, msg: &str) -> Diagnostic {
    let kind = if format == Format::Csv {
        "CSV"
    } else {
        "Parquet"
    };
    Diagnostic::error(
        file,
        format!(
            "cannot be read as {kind}: {}",
            msg.lines().next().unwrap_or(msg)
        ),
    )
}

/// A lazy scan of every part of a history table (one CSV or Parquet file, or Parquet
/// part files with their partition folders as columns), with each part's schema.
fn scan(located: &super::parts::Located) -> PolarsResult<(LazyFrame, Vec<SchemaRef>)> {
    let mut frames = Vec::with_capacity(located.parts.len());
    let mut schemas = Vec::with_capacity(located.parts.len());
    for part in &located.parts {
        let pl = PlRefPath::try_from_path(&part.path)?;
        let mut lf = match located.format {
            Format::Csv => LazyCsvReader::new(pl)
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_missing_is_null(true)
                .finish()?,
            Format::Parquet => LazyFrame::scan_parquet(pl, ScanArgsParquet::default())?,
        };
        let own = lf.collect_schema()?;
        let mut lf = super::parts::with_hive(lf, part, &own);
        schemas.push(lf.collect_schema()?);
        frames.push(lf);
    }
    let lf = if frames.len() == 1 {
        frames.pop().expect("one part")
    } else {
        concat(frames, UnionArgs::default())?
    };
    Ok((lf, schemas))
}

/// Opens a history table and checks its columns and their types.
pub fn open_history(path: &Path, file: &str) -> Result<History, Diagnostics> {
    let one = |d: Diagnostic| Diagnostics(vec![d]);
    let located = super::parts::locate(path, file, None).map_err(one)?;
    super::parts::guard(&located, file).map_err(one)?;
    let format = located.format;
    let opened = catch_unwind(AssertUnwindSafe(|| scan(&located)));
    let (lf, schemas) = match opened {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Err(one(unreadable(file, format, &e.to_string()))),
        Err(_) => {
            return Err(one(Diagnostic::error(
                file,
                "cannot be read: the file is malformed",
            )));
        }
    };
    let with_parts: Vec<_> = located.parts.iter().zip(schemas).collect();
    super::parts::same_schema(file, &with_parts).map_err(one)?;
    let schema = with_parts[0].1.clone();
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let mut diags = Diagnostics::default();
    for col in REQUIRED {
        if !names.iter().any(|n| n == col) {
            let mut d = Diagnostic::error(file, "required column is missing").column(col);
            let unknown = names
                .iter()
                .filter(|n| !REQUIRED.contains(&n.as_str()) && !OPTIONAL.contains(&n.as_str()));
            d = match closest(col, unknown.map(String::as_str)) {
                Some(c) => d.hint(format!("the file has a column {c:?}: misspelled?")),
                None => d.hint(format!("columns found: {}", names.join(", "))),
            };
            diags.push(d);
        }
    }
    let dtype = |c: &str| schema.get(c).cloned();
    let wrong = |c: &str, dt: &DataType, expected: &str| {
        Diagnostic::error(
            file,
            format!("column has type {}; expected {expected}", type_name(dt)),
        )
        .column(c)
    };
    let mut ts_is_text = false;
    let mut online_is_text = false;
    if let Some(dt) = dtype("ts") {
        match dt {
            DataType::String => ts_is_text = true,
            DataType::Datetime(..) => {}
            ref other => diags.push(wrong(
                "ts",
                other,
                "a timestamp (RFC 3339 text or a timestamp column)",
            )),
        }
    }
    if let Some(dt) = dtype("online") {
        match dt {
            DataType::String => online_is_text = true,
            DataType::Boolean => {}
            ref other => diags.push(wrong("online", other, "boolean")),
        }
    }
    if let Some(dt) = dtype("device_id")
        && !(dt == DataType::String || dt.is_integer())
    {
        diags.push(wrong("device_id", &dt, "text"));
    }
    let tp = match dtype("throughput_kbps") {
        None | Some(DataType::Null) => None,
        Some(DataType::String) => Some(true),
        Some(dt) if dt.is_primitive_numeric() => Some(false),
        Some(dt) => {
            diags.push(wrong("throughput_kbps", &dt, "a number"));
            None
        }
    };
    let dropped = match dtype("dropped") {
        None | Some(DataType::Null) => None,
        Some(DataType::String) => Some(true),
        Some(DataType::Boolean) => Some(false),
        Some(dt) => {
            diags.push(wrong("dropped", &dt, "boolean"));
            None
        }
    };
    if diags.has_errors() {
        return Err(diags);
    }
    let mut cols = vec![
        col("device_id").cast(DataType::String),
        col("ts"),
        col("online"),
    ];
    if let Some(text) = tp {
        cols.push(if text {
            col("throughput_kbps")
        } else {
            col("throughput_kbps").cast(DataType::Float64)
        });
    }
    if dropped.is_some() {
        cols.push(col("dropped"));
    }
    Ok(History {
        file: file.to_string(),
        lf: lf.select(cols),
        ts_is_text,
        online_is_text,
        tp,
        dropped,
    })
}

enum Msg {
    Batch(DataFrame),
    Done(Result<(), String>),
}

impl History {
    pub fn has_dropped(&self) -> bool {
        self.dropped.is_some()
    }

    /// Streams the rows through `f` in batches (the file is never loaded whole). Rows
    /// with a bad or unknown cell are reported in `diags` and left out. Returns the
    /// number of data rows read, or `None` when the file could not be read to its end
    /// (reported in `diags`).
    pub fn for_each_batch(
        self,
        ids: &HashMap<&str, u32>,
        diags: &mut CappedDiags,
        mut f: impl FnMut(&HistoryBatch, &mut CappedDiags),
    ) -> Option<u64> {
        let (tx, rx) = sync_channel::<Msg>(2);
        let done_tx = tx.clone();
        let chunk = NonZeroUsize::new(BATCH_ROWS);
        let sink = self.lf.clone().sink_batches(
            PlanCallback::new(move |df: DataFrame| Ok(tx.send(Msg::Batch(df)).is_err())),
            true,
            chunk,
        );
        let lf = match sink {
            Ok(lf) => lf,
            Err(e) => {
                diags.push(Diagnostic::error(
                    &self.file,
                    format!("cannot be read: {e}"),
                ));
                return None;
            }
        };
        let runner = std::thread::spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| {
                lf.collect_with_engine(Engine::Streaming)
            }));
            let r = match r {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the file is malformed".to_string()),
            };
            let _ = done_tx.send(Msg::Done(r));
        });
        let mut next_row: u64 = 1;
        let mut batch = HistoryBatch::default();
        let mut cache = IdCache::default();
        let mut outcome = Err("the reader stopped".to_string());
        for msg in rx.iter() {
            match msg {
                Msg::Batch(df) => {
                    batch.clear();
                    if let Err(e) = self.parse(&df, next_row, ids, &mut cache, diags, &mut batch) {
                        outcome = Err(e.to_string());
                        break;
                    }
                    next_row += df.height() as u64;
                    f(&batch, diags);
                }
                Msg::Done(r) => {
                    outcome = r;
                    break;
                }
            }
        }
        drop(rx);
        let _ = runner.join();
        match outcome {
            Ok(()) => Some(next_row - 1),
            Err(e) => {
                diags.push(Diagnostic::error(
                    &self.file,
                    format!("cannot be read: {}", e.lines().next().unwrap_or(&e)),
                ));
                None
            }
        }
    }

    /// Parses one batch: every cell checked, every good row pushed to `out`, every bad
    /// cell one diagnostic (file, row, column, value).
    fn parse(
        &self,
        df: &DataFrame,
        first_row: u64,
        ids: &HashMap<&str, u32>,
        cache: &mut IdCache,
        diags: &mut CappedDiags,
        out: &mut HistoryBatch,
    ) -> PolarsResult<()> {
        let n = df.height();
        let dev = df.column("device_id")?.str()?;
        let ts = self.ts_values(df)?;
        let online = self.online_values(df)?;
        let tp = self.throughput_values(df, n)?;
        let dropped = self.dropped_values(df, n)?;
        for (i, id) in dev.iter().enumerate() {
            let row = first_row + i as u64;
            let at = At {
                file: self.file.as_str(),
                row: row as usize,
                df,
                i,
            };
            let device = at.device(id, cache, ids, diags);
            let t = at.required(&ts[i], "ts", diags);
            let on = at.required(&online[i], "online", diags);
            let kbps = at.throughput(&tp[i], diags);
            let dr = at.optional(&dropped[i], "dropped", diags);
            if let (Some(kbps), Some(dr), Some(d), Some(t), Some(on)) = (kbps, dr, device, t, on) {
                out.push_row(row, d, t, on, kbps, dr);
            }
        }
        Ok(())
    }

    /// `ts` as seconds since the epoch (text parsed, or a Datetime column of any unit).
    fn ts_values(&self, df: &DataFrame) -> PolarsResult<Vec<Parsed<i64>>> {
        let ts_col = df.column("ts")?;
        if self.ts_is_text {
            return Ok(ts_col
                .str()?
                .iter()
                .map(|s| s.map(|s| parse_ts(s.trim())))
                .collect());
        }
        let DataType::Datetime(unit, _) = ts_col.dtype() else {
            polars_bail!(SchemaMismatch: "ts changed type");
        };
        let div = match unit {
            TimeUnit::Nanoseconds => 1_000_000_000,
            TimeUnit::Microseconds => 1_000_000,
            TimeUnit::Milliseconds => 1_000,
        };
        Ok(ts_col
            .datetime()?
            .physical()
            .iter()
            .map(|v| v.map(|v| Ok(v.div_euclid(div))))
            .collect())
    }

    fn online_values(&self, df: &DataFrame) -> PolarsResult<Vec<Parsed<bool>>> {
        let on_col = df.column("online")?;
        Ok(if self.online_is_text {
            on_col
                .str()?
                .iter()
                .map(|s| s.map(|s| parse_bool(s.trim())))
                .collect()
        } else {
            on_col.bool()?.iter().map(|v| v.map(Ok)).collect()
        })
    }

    fn throughput_values(&self, df: &DataFrame, n: usize) -> PolarsResult<Vec<Parsed<f64>>> {
        Ok(match self.tp {
            None => vec![None; n],
            Some(true) => df
                .column("throughput_kbps")?
                .str()?
                .iter()
                .map(|s| {
                    s.map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| match s.parse::<f64>() {
                            Ok(v) if v.is_finite() => Ok(v),
                            _ => Err("not a number".to_string()),
                        })
                })
                .collect(),
            Some(false) => df
                .column("throughput_kbps")?
                .f64()?
                .iter()
                .map(|v| v.map(Ok))
                .collect(),
        })
    }

    fn dropped_values(&self, df: &DataFrame, n: usize) -> PolarsResult<Vec<Parsed<bool>>> {
        Ok(match self.dropped {
            None => vec![None; n],
            Some(true) => df
                .column("dropped")?
                .str()?
                .iter()
                .map(|s| s.map(str::trim).filter(|s| !s.is_empty()).map(parse_bool))
                .collect(),
            Some(false) => df
                .column("dropped")?
                .bool()?
                .iter()
                .map(|v| v.map(Ok))
                .collect(),
        })
    }
}

/// A cell of a history batch: empty, a value, or why its text is not one.
type Parsed<T> = Option<Result<T, String>>;

/// Where a cell is (file, row, and the batch's row `i`), for its diagnostics.
struct At<'a> {
    file: &'a str,
    row: usize,
    df: &'a DataFrame,
    i: usize,
}

impl At<'_> {
    /// The cell's text as the file holds it, for a diagnostic's value.
    fn raw(&self, c: &str) -> String {
        match self.df.column(c) {
            Ok(col) if col.dtype() == &DataType::String => col
                .str()
                .ok()
                .and_then(|s| s.get(self.i))
                .unwrap_or("")
                .to_string(),
            Ok(col) => col.get(self.i).map(|v| v.to_string()).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    fn error(&self, message: impl Into<String>, column: &str) -> Diagnostic {
        Diagnostic::error(self.file, message.into())
            .row(self.row)
            .column(column)
    }

    /// The device's index, or one error: empty, or not in the devices table.
    fn device(
        &self,
        id: Option<&str>,
        cache: &mut IdCache,
        ids: &HashMap<&str, u32>,
        diags: &mut CappedDiags,
    ) -> Option<u32> {
        let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) else {
            diags.push(self.error("required value is empty", "device_id"));
            return None;
        };
        let d = cache.get(id, ids);
        if d.is_none() {
            diags.push(
                self.error("unknown device_id: not in the devices table", "device_id")
                    .value(id),
            );
        }
        d
    }

    /// A required cell's value, or one error (empty, or the reason with the value).
    fn required<T: Copy>(
        &self,
        cell: &Parsed<T>,
        column: &str,
        diags: &mut CappedDiags,
    ) -> Option<T> {
        match cell {
            None => {
                diags.push(self.error("required value is empty", column));
                None
            }
            Some(Ok(v)) => Some(*v),
            Some(Err(msg)) => {
                diags.push(self.error(msg.clone(), column).value(self.raw(column)));
                None
            }
        }
    }

    /// An optional cell: `Some(None)` when empty, `None` (the row is rejected) when bad.
    fn optional<T: Copy>(
        &self,
        cell: &Parsed<T>,
        column: &str,
        diags: &mut CappedDiags,
    ) -> Option<Option<T>> {
        match cell {
            None => Some(None),
            Some(Ok(v)) => Some(Some(*v)),
            Some(Err(msg)) => {
                diags.push(self.error(msg.clone(), column).value(self.raw(column)));
                None
            }
        }
    }

    /// Throughput in kbps (NaN when not given); `None` (the row is rejected) when bad.
    fn throughput(&self, cell: &Parsed<f64>, diags: &mut CappedDiags) -> Option<f32> {
        const COLUMN: &str = "throughput_kbps";
        match self.optional(cell, COLUMN, diags)? {
            None => Some(f32::NAN),
            Some(v) if v < 0.0 => {
                diags.push(
                    self.error("throughput must not be negative", COLUMN)
                        .value(self.raw(COLUMN)),
                );
                None
            }
            Some(v) => Some(v as f32),
        }
    }
}

/// Device id → index, remembering the last id (history is usually grouped by device).
#[derive(Default)]
struct IdCache {
    last: String,
    last_ix: Option<u32>,
}

impl IdCache {
    fn get(&mut self, id: &str, ids: &HashMap<&str, u32>) -> Option<u32> {
        if self.last_ix.is_some() && self.last == id {
            return self.last_ix;
        }
        let ix = ids.get(id).copied();
        self.last.clear();
        self.last.push_str(id);
        self.last_ix = ix;
        ix
    }
}

/// RFC 3339 to Unix seconds; a fast path for the common `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_ts(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    if b.len() == 20
        && b[19] == b'Z'
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':'
    {
        let num = |a: usize, z: usize| -> Option<i64> {
            let mut v = 0i64;
            for &c in &b[a..z] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some(v)
        };
        if let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
            num(0, 4),
            num(5, 7),
            num(8, 10),
            num(11, 13),
            num(14, 16),
            num(17, 19),
        ) && let Some(date) = chrono::NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)
            && h < 24
            && mi < 60
            && se < 60
        {
            let days = i64::from(date.to_epoch_days());
            return Ok(days * 86_400 + h * 3600 + mi * 60 + se);
        }
    }
    parse_instant(s).map(|t| t.timestamp())
}

/// Reads and validates a `coverage_model` table (CSV or Parquet): every key must have
/// all 168 hours once, `hour_of_week` in 0..=167, `p_online` in [0, 1],
/// `throughput_kbps` > 0, `drop_rate_per_hour` ≥ 0, `samples` a count ≥ 0.
pub fn read_model(path: &Path, file: &str) -> Result<Vec<(String, Profile)>, Diagnostics> {
    let t = read_table(path, file).map_err(|d| Diagnostics(vec![d]))?;
    let mut diags = Diagnostics::default();
    let required = [
        "key",
        "hour_of_week",
        "p_online",
        "throughput_kbps",
        "drop_rate_per_hour",
        "samples",
    ];
    if !t.check_shape(&required, &[], &mut diags) {
        return Err(diags);
    }
    let cols = ModelColumns {
        file,
        keys: t.texts("key", &mut diags),
        hours: t.integers("hour_of_week", &mut diags),
        p: t.numbers("p_online", &mut diags),
        tp: t.numbers("throughput_kbps", &mut diags),
        dr: t.numbers("drop_rate_per_hour", &mut diags),
        samples: t.integers("samples", &mut diags),
    };
    let mut capped = CappedDiags::default();
    let mut profiles = ModelProfiles::default();
    for i in 0..t.height() {
        if let Some((k, h, stats)) = cols.row(i, &mut capped) {
            profiles.add(file, i + 1, k, h, stats, &mut capped);
        }
    }
    profiles.check_complete(file, &mut capped);
    diags.extend(capped.finish());
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(profiles.into_profiles())
}

/// The columns of a `coverage_model` table, read as values.
struct ModelColumns<'a> {
    file: &'a str,
    keys: Vec<V<String>>,
    hours: Vec<V<i64>>,
    p: Vec<V<f64>>,
    tp: Vec<V<f64>>,
    dr: Vec<V<f64>>,
    samples: Vec<V<i64>>,
}

impl ModelColumns<'_> {
    /// Row `i` as (key, hour of week, stats), or `None` with one error per bad cell.
    fn row(&self, i: usize, capped: &mut CappedDiags) -> Option<(String, usize, HourStats)> {
        let r = i + 1;
        let need = |col: &str, c: &mut CappedDiags, v: bool| {
            if !v {
                c.push(
                    Diagnostic::error(self.file, "required value is empty")
                        .row(r)
                        .column(col),
                );
            }
        };
        need("key", capped, !matches!(self.keys[i], V::Null));
        need("hour_of_week", capped, !matches!(self.hours[i], V::Null));
        need("p_online", capped, !matches!(self.p[i], V::Null));
        need("throughput_kbps", capped, !matches!(self.tp[i], V::Null));
        need("drop_rate_per_hour", capped, !matches!(self.dr[i], V::Null));
        need("samples", capped, !matches!(self.samples[i], V::Null));
        let rule = |col: &'static str, msg: &'static str| Rule {
            file: self.file,
            row: r,
            col,
            msg,
        };
        let h = rule("hour_of_week", "hour_of_week must be between 0 and 167").check(
            self.hours[i],
            |h| (0..HOURS_PER_WEEK as i64).contains(h),
            capped,
        );
        let pv = rule("p_online", "p_online must be between 0 and 1").check(
            self.p[i],
            |v| (0.0..=1.0).contains(v),
            capped,
        );
        let tv = rule("throughput_kbps", "throughput must be greater than zero").check(
            self.tp[i],
            |v| *v > 0.0,
            capped,
        );
        let dv = rule("drop_rate_per_hour", "drop rate must not be negative").check(
            self.dr[i],
            |v| *v >= 0.0,
            capped,
        );
        let sv = rule("samples", "samples must not be negative").check(
            self.samples[i],
            |v| *v >= 0,
            capped,
        );
        let (k, h, pv, tv, dv, sv) = (self.keys[i].clone().ok()?, h?, pv?, tv?, dv?, sv?);
        let stats = HourStats {
            p_online: pv,
            throughput_kbps: tv,
            drop_rate_per_hour: dv,
            samples: u32::try_from(sv).unwrap_or(u32::MAX),
        };
        Some((k, h as usize, stats))
    }
}

/// A rule one cell must keep, and the error that names it.
struct Rule<'a> {
    file: &'a str,
    row: usize,
    col: &'static str,
    msg: &'static str,
}

impl Rule<'_> {
    /// The cell's value when it keeps the rule; otherwise one error with the value.
    fn check<T: ToString>(
        &self,
        v: V<T>,
        keeps: impl Fn(&T) -> bool,
        capped: &mut CappedDiags,
    ) -> Option<T> {
        v.ok().filter(|v| {
            let ok = keeps(v);
            if !ok {
                capped.push(
                    Diagnostic::error(self.file, self.msg)
                        .row(self.row)
                        .column(self.col)
                        .value(v.to_string()),
                );
            }
            ok
        })
    }
}

/// Profiles by key in order of first appearance, with the hours each has seen.
#[derive(Default)]
struct ModelProfiles {
    ix: HashMap<String, usize>,
    profiles: Vec<(String, Profile, [bool; HOURS_PER_WEEK])>,
}

impl ModelProfiles {
    /// Adds one hour of a key's profile; a second row for the same hour is an error.
    fn add(
        &mut self,
        file: &str,
        r: usize,
        k: String,
        h: usize,
        stats: HourStats,
        capped: &mut CappedDiags,
    ) {
        let empty = HourStats {
            p_online: 0.0,
            throughput_kbps: 1.0,
            drop_rate_per_hour: 0.0,
            samples: 0,
        };
        let profiles = &mut self.profiles;
        let at = *self.ix.entry(k.clone()).or_insert_with(|| {
            profiles.push((k.clone(), [empty; HOURS_PER_WEEK], [false; HOURS_PER_WEEK]));
            profiles.len() - 1
        });
        let entry = &mut profiles[at];
        if entry.2[h] {
            capped.push(
                Diagnostic::error(file, "duplicate (key, hour_of_week)")
                    .row(r)
                    .column("hour_of_week")
                    .value(format!("{k} {h}")),
            );
            return;
        }
        entry.2[h] = true;
        entry.1[h] = stats;
    }

    /// One error per key that lacks an hour of the week.
    fn check_complete(&self, file: &str, capped: &mut CappedDiags) {
        for (k, _, seen) in &self.profiles {
            let have = seen.iter().filter(|s| **s).count();
            if have < HOURS_PER_WEEK {
                let missing = seen.iter().position(|s| !*s).unwrap_or(0);
                capped.push(
                    Diagnostic::error(
                        file,
                        format!(
                            "key has {have} of the 168 hours of the week (hour {missing} is missing)"
                        ),
                    )
                    .column("key")
                    .value(k.clone()),
                );
            }
        }
    }

    fn into_profiles(self) -> Vec<(String, Profile)> {
        self.profiles.into_iter().map(|(k, p, _)| (k, p)).collect()
    }
}

/// Writes a model as the contract's `coverage_model` table (Parquet, or CSV when the
/// path ends in `.csv`), atomically. Rows are in the order given, hours 0..167.
pub fn write_model(path: &Path, profiles: &[(String, Profile)]) -> Result<u64, String> {
    let n = profiles.len() * HOURS_PER_WEEK;
    let mut key = Vec::with_capacity(n);
    let mut how = Vec::with_capacity(n);
    let mut p = Vec::with_capacity(n);
    let mut tp = Vec::with_capacity(n);
    let mut dr = Vec::with_capacity(n);
    let mut samples = Vec::with_capacity(n);
    for (k, prof) in profiles {
        for (h, s) in prof.iter().enumerate() {
            key.push(k.as_str());
            how.push(h as i32);
            p.push(s.p_online);
            tp.push(s.throughput_kbps);
            dr.push(s.drop_rate_per_hour);
            samples.push(i64::from(s.samples));
        }
    }
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("key".into(), key),
            Column::new("hour_of_week".into(), how),
            Column::new("p_online".into(), p),
            Column::new("throughput_kbps".into(), tp),
            Column::new("drop_rate_per_hour".into(), dr),
            Column::new("samples".into(), samples),
        ],
    )
    .map_err(|e| e.to_string())?;
    let csv = Format::of(path) == Some(Format::Csv);
    fsutil::write_atomic_with(path, |w| {
        let r = if csv {
            CsvWriter::new(w)
                .include_header(true)
                .finish(&mut df)
                .map(|_| ())
        } else {
            ParquetWriter::new(w).finish(&mut df).map(|_| ())
        };
        r.map_err(std::io::Error::other)
    })
    .map_err(|e| e.to_string())?;
    Ok(n as u64)
}

/// Writes a coverage history as Parquet in row groups (for benchmarks and tests):
/// `ts` as a UTC timestamp column in milliseconds.
pub struct HistoryWriter {
    inner: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
}

/// One batch of history rows to write.
#[derive(Debug, Default, Clone)]
pub struct HistoryRows {
    pub device_id: Vec<String>,
    /// Unix seconds.
    pub ts: Vec<i64>,
    pub online: Vec<bool>,
    pub throughput_kbps: Vec<Option<f64>>,
    pub dropped: Vec<bool>,
}

impl HistoryWriter {
    pub fn create(path: &Path) -> Result<HistoryWriter, String> {
        let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let schema = Schema::from_iter([
            Field::new("device_id".into(), DataType::String),
            Field::new(
                "ts".into(),
                DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
            ),
            Field::new("online".into(), DataType::Boolean),
            Field::new("throughput_kbps".into(), DataType::Float64),
            Field::new("dropped".into(), DataType::Boolean),
        ]);
        let w = ParquetWriter::new(f)
            .batched(&schema)
            .map_err(|e| e.to_string())?;
        Ok(HistoryWriter { inner: Some(w) })
    }

    pub fn write(&mut self, rows: &HistoryRows) -> Result<(), String> {
        let n = rows.ts.len();
        let ts = Int64Chunked::from_vec("ts".into(), rows.ts.iter().map(|s| s * 1000).collect())
            .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
        let df = DataFrame::new(
            n,
            vec![
                Column::new("device_id".into(), &rows.device_id),
                ts.into_column(),
                Column::new("online".into(), &rows.online),
                Column::new("throughput_kbps".into(), &rows.throughput_kbps),
                Column::new("dropped".into(), &rows.dropped),
            ],
        )
        .map_err(|e| e.to_string())?;
        match &mut self.inner {
            Some(w) => w.write_batch(&df).map_err(|e| e.to_string()),
            None => Err("writer already finished".into()),
        }
    }

    pub fn finish(mut self) -> Result<(), String> {
        match self.inner.take() {
            Some(w) => w.finish().map(|_| ()).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// The history table `scenario.toml` in `dir` names (`[tables] coverage`), whichever
/// coverage source the scenario otherwise uses: (path, name as written).
pub fn history_table(dir: &Path) -> Option<(std::path::PathBuf, String)> {
    let text = std::fs::read_to_string(dir.join(super::toml_doc::FILE)).ok()?;
    let mut diags = Diagnostics::default();
    let s = super::toml_doc::parse_settings(&text, &mut diags)?;
    let f = s.tables.coverage?;
    Some((dir.join(&f), f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str, expected: Result<&str, ()>) {
        let got = parse_ts(s);
        match expected {
            Ok(want) => {
                let want = chrono::DateTime::parse_from_rfc3339(want)
                    .unwrap()
                    .timestamp();
                assert_eq!(got, Ok(want), "{s}");
            }
            Err(()) => assert!(got.is_err(), "{s} parsed as {got:?}"),
        }
    }

    #[test]
    fn timestamps_fast_path_agrees_with_rfc3339() {
        check("2027-03-28T01:30:00Z", Ok("2027-03-28T01:30:00Z"));
        check("1969-12-31T23:59:59Z", Ok("1969-12-31T23:59:59Z"));
        check("2027-03-28T03:30:00+02:00", Ok("2027-03-28T01:30:00Z"));
        check("2027-03-28T01:30:00.250Z", Ok("2027-03-28T01:30:00Z"));
        check("2027-03-28T01:30:00", Err(()));
        check("2027-02-30T01:30:00Z", Err(()));
        check("yesterday", Err(()));
    }
}
