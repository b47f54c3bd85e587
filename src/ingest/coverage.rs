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

    fn parse(
        &self,
        df: &DataFrame,
        first_row: u64,
        ids: &HashMap<&str, u32>,
        cache: &mut IdCache,
        diags: &mut CappedDiags,
        out: &mut HistoryBatch,
    ) -> PolarsResult<()> {
        let file = self.file.as_str();
        let n = df.height();
        let dev = df.column("device_id")?.str()?;
        let ts_col = df.column("ts")?;
        let ts: Vec<Option<Result<i64, String>>> = if self.ts_is_text {
            ts_col
                .str()?
                .iter()
                .map(|s| s.map(|s| parse_ts(s.trim())))
                .collect()
        } else {
            let DataType::Datetime(unit, _) = ts_col.dtype() else {
                polars_bail!(SchemaMismatch: "ts changed type");
            };
            let div = match unit {
                TimeUnit::Nanoseconds => 1_000_000_000,
                TimeUnit::Microseconds => 1_000_000,
                TimeUnit::Milliseconds => 1_000,
            };
            ts_col
                .datetime()?
                .physical()
                .iter()
                .map(|v| v.map(|v| Ok(v.div_euclid(div))))
                .collect()
        };
        let on_col = df.column("online")?;
        let online: Vec<Option<Result<bool, String>>> = if self.online_is_text {
            on_col
                .str()?
                .iter()
                .map(|s| s.map(|s| parse_bool(s.trim())))
                .collect()
        } else {
            on_col.bool()?.iter().map(|v| v.map(Ok)).collect()
        };
        let tp: Vec<Option<Result<f64, String>>> = match self.tp {
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
        };
        let dropped: Vec<Option<Result<bool, String>>> = match self.dropped {
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
        };
        for (i, id) in dev.iter().enumerate() {
            let row = first_row + i as u64;
            let r = row as usize;
            let mut ok = true;
            let device = match id.map(str::trim).filter(|s| !s.is_empty()) {
                None => {
                    diags.push(
                        Diagnostic::error(file, "required value is empty")
                            .row(r)
                            .column("device_id"),
                    );
                    None
                }
                Some(id) => match cache.get(id, ids) {
                    Some(d) => Some(d),
                    None => {
                        diags.push(
                            Diagnostic::error(file, "unknown device_id: not in the devices table")
                                .row(r)
                                .column("device_id")
                                .value(id),
                        );
                        None
                    }
                },
            };
            let raw = |c: &str| -> String {
                match df.column(c) {
                    Ok(col) if col.dtype() == &DataType::String => col
                        .str()
                        .ok()
                        .and_then(|s| s.get(i))
                        .unwrap_or("")
                        .to_string(),
                    Ok(col) => col.get(i).map(|v| v.to_string()).unwrap_or_default(),
                    Err(_) => String::new(),
                }
            };
            let t = match &ts[i] {
                None => {
                    diags.push(
                        Diagnostic::error(file, "required value is empty")
                            .row(r)
                            .column("ts"),
                    );
                    None
                }
                Some(Ok(t)) => Some(*t),
                Some(Err(msg)) => {
                    diags.push(
                        Diagnostic::error(file, msg.clone())
                            .row(r)
                            .column("ts")
                            .value(raw("ts")),
                    );
                    None
                }
            };
            let on = match &online[i] {
                None => {
                    diags.push(
                        Diagnostic::error(file, "required value is empty")
                            .row(r)
                            .column("online"),
                    );
                    None
                }
                Some(Ok(b)) => Some(*b),
                Some(Err(msg)) => {
                    diags.push(
                        Diagnostic::error(file, msg.clone())
                            .row(r)
                            .column("online")
                            .value(raw("online")),
                    );
                    None
                }
            };
            let kbps = match &tp[i] {
                None => f32::NAN,
                Some(Ok(v)) if *v < 0.0 => {
                    diags.push(
                        Diagnostic::error(file, "throughput must not be negative")
                            .row(r)
                            .column("throughput_kbps")
                            .value(raw("throughput_kbps")),
                    );
                    ok = false;
                    f32::NAN
                }
                Some(Ok(v)) => *v as f32,
                Some(Err(msg)) => {
                    diags.push(
                        Diagnostic::error(file, msg.clone())
                            .row(r)
                            .column("throughput_kbps")
                            .value(raw("throughput_kbps")),
                    );
                    ok = false;
                    f32::NAN
                }
            };
            let dr = match &dropped[i] {
                None => None,
                Some(Ok(b)) => Some(*b),
                Some(Err(msg)) => {
                    diags.push(
                        Diagnostic::error(file, msg.clone())
                            .row(r)
                            .column("dropped")
                            .value(raw("dropped")),
                    );
                    ok = false;
                    None
                }
            };
            if let (true, Some(d), Some(t), Some(on)) = (ok, device, t, on) {
                out.push_row(row, d, t, on, kbps, dr);
            }
        }
        Ok(())
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
    let keys = t.texts("key", &mut diags);
    let hours = t.integers("hour_of_week", &mut diags);
    let p = t.numbers("p_online", &mut diags);
    let tp = t.numbers("throughput_kbps", &mut diags);
    let dr = t.numbers("drop_rate_per_hour", &mut diags);
    let samples = t.integers("samples", &mut diags);
    let mut capped = CappedDiags::default();
    let mut ix: HashMap<String, usize> = HashMap::new();
    let mut profiles: Vec<(String, Profile, [bool; HOURS_PER_WEEK])> = Vec::new();
    let empty = HourStats {
        p_online: 0.0,
        throughput_kbps: 1.0,
        drop_rate_per_hour: 0.0,
        samples: 0,
    };
    for i in 0..t.height() {
        let r = i + 1;
        let cell_err = |col: &str, v: String, msg: &str| {
            Diagnostic::error(file, msg).row(r).column(col).value(v)
        };
        let need = |col: &str, c: &mut CappedDiags, v: bool| {
            if !v {
                c.push(
                    Diagnostic::error(file, "required value is empty")
                        .row(r)
                        .column(col),
                );
            }
        };
        need("key", &mut capped, !matches!(keys[i], V::Null));
        need("hour_of_week", &mut capped, !matches!(hours[i], V::Null));
        need("p_online", &mut capped, !matches!(p[i], V::Null));
        need("throughput_kbps", &mut capped, !matches!(tp[i], V::Null));
        need("drop_rate_per_hour", &mut capped, !matches!(dr[i], V::Null));
        need("samples", &mut capped, !matches!(samples[i], V::Null));
        let h = hours[i].ok().filter(|h| {
            let ok = (0..HOURS_PER_WEEK as i64).contains(h);
            if !ok {
                capped.push(cell_err(
                    "hour_of_week",
                    h.to_string(),
                    "hour_of_week must be between 0 and 167",
                ));
            }
            ok
        });
        let pv = p[i].ok().filter(|v| {
            let ok = (0.0..=1.0).contains(v);
            if !ok {
                capped.push(cell_err(
                    "p_online",
                    v.to_string(),
                    "p_online must be between 0 and 1",
                ));
            }
            ok
        });
        let tv = tp[i].ok().filter(|v| {
            let ok = *v > 0.0;
            if !ok {
                capped.push(cell_err(
                    "throughput_kbps",
                    v.to_string(),
                    "throughput must be greater than zero",
                ));
            }
            ok
        });
        let dv = dr[i].ok().filter(|v| {
            let ok = *v >= 0.0;
            if !ok {
                capped.push(cell_err(
                    "drop_rate_per_hour",
                    v.to_string(),
                    "drop rate must not be negative",
                ));
            }
            ok
        });
        let sv = samples[i].ok().filter(|v| {
            let ok = *v >= 0;
            if !ok {
                capped.push(cell_err(
                    "samples",
                    v.to_string(),
                    "samples must not be negative",
                ));
            }
            ok
        });
        let (Some(k), Some(h), Some(pv), Some(tv), Some(dv), Some(sv)) =
            (keys[i].clone().ok(), h, pv, tv, dv, sv)
        else {
            continue;
        };
        let at = *ix.entry(k.clone()).or_insert_with(|| {
            profiles.push((k.clone(), [empty; HOURS_PER_WEEK], [false; HOURS_PER_WEEK]));
            profiles.len() - 1
        });
        let entry = &mut profiles[at];
        let h = h as usize;
        if entry.2[h] {
            capped.push(
                Diagnostic::error(file, "duplicate (key, hour_of_week)")
                    .row(r)
                    .column("hour_of_week")
                    .value(format!("{k} {h}")),
            );
            continue;
        }
        entry.2[h] = true;
        entry.1[h] = HourStats {
            p_online: pv,
            throughput_kbps: tv,
            drop_rate_per_hour: dv,
            samples: u32::try_from(sv).unwrap_or(u32::MAX),
        };
    }
    for (k, _, seen) in &profiles {
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
    diags.extend(capped.finish());
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(profiles.into_iter().map(|(k, p, _)| (k, p)).collect())
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
