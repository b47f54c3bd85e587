//! `progress.csv` (or .parquet) for re-planning a paused rollout: `device_id`, `state`
//! (`done` | `failed` | `in_progress` | `pending`), `bytes_used`, optional `at` (when
//! the bytes were used; for a done device, when it finished). Every bad row is reported
//! with file, row, column and value. Also the other inputs of a re-plan: `--now`, the
//! gates of the original plan (its summary.json), and a plan folder's `spent.csv`.

use crate::diag::{Diagnostic, Diagnostics};
use crate::domain::{DeviceIdx, Scenario};
use crate::ingest::table::{V, open_named, parse_instant};
use crate::plan::evaluate::Spent;
use crate::plan::{DeviceState, OriginalGates, Progress};
use crate::units::Instant;
use std::path::Path;

/// Where a re-plan's `now` was given, as messages name it: the CLI's `--now` (a file
/// position of its own) or the `now` field of an HTTP request (file `request`, column
/// `now`).
#[derive(Debug, Clone, Copy)]
pub struct NowField<'a> {
    pub file: &'a str,
    pub column: Option<&'a str>,
}

impl NowField<'_> {
    pub const CLI: NowField<'static> = NowField {
        file: "--now",
        column: None,
    };
    pub const REQUEST: NowField<'static> = NowField {
        file: "request",
        column: Some("now"),
    };
}

/// Parses a re-plan's `now` (named in messages as `field` says); it must lie within the
/// scenario's span: not before its start, before its deadline.
pub fn parse_now(text: &str, field: NowField, s: &Scenario) -> Result<Instant, Diagnostics> {
    let bad = |msg: String| {
        let d = Diagnostic::error(field.file, msg);
        let d = match field.column {
            Some(c) => d.column(c),
            None => d,
        };
        Diagnostics(vec![d.value(text)])
    };
    let now = parse_instant(text).map_err(bad)?;
    if now >= s.deadline {
        return Err(bad(
            "is not before the scenario's deadline: nothing is left to plan".into(),
        ));
    }
    if now < s.start {
        return Err(bad(format!(
            "is before the scenario's start ({}): nothing has happened to re-plan",
            crate::units::rfc3339_utc(s.start)
        )));
    }
    Ok(now)
}

/// Reads and checks a progress table against the scenario's devices and `now`: unknown
/// devices, an `at` after `now`, and (when the table has an `at` column) a done device
/// without one are errors.
pub fn read_progress(
    path: &Path,
    s: &Scenario,
    now: Instant,
) -> Result<Vec<Progress>, Diagnostics> {
    let t = open_named(path)?;
    let file = t.file.clone();
    let mut diags = Diagnostics::default();
    // An empty table is fine: nothing has happened yet.
    if t.height() == 0
        && ["device_id", "state", "bytes_used"]
            .iter()
            .all(|c| t.has_column(c))
    {
        return Ok(Vec::new());
    }
    if !t.check_shape(&["device_id", "state", "bytes_used"], &["at"], &mut diags) {
        return Err(diags);
    }
    let ids = t.text_refs("device_id", &mut diags);
    let states = t.text_refs("state", &mut diags);
    let bytes = t.integers("bytes_used", &mut diags);
    let at = t.instants("at", &mut diags);
    let mut devices = crate::ingest::DeviceLookup::new(s);
    let mut out = Vec::with_capacity(t.height());
    for i in 0..t.height() {
        let row = i + 1;
        let id = match ids[i] {
            V::Val(id) => id,
            V::Null => {
                diags.push(
                    Diagnostic::error(&file, "required value is empty")
                        .row(row)
                        .column("device_id"),
                );
                continue;
            }
            V::Bad => continue,
        };
        let Some(dev) = devices.resolve(&file, row, id, &mut diags) else {
            continue;
        };
        let state = match states[i] {
            V::Val(v) => match DeviceState::parse(&v.to_ascii_lowercase()) {
                Some(st) => st,
                None => {
                    diags.push(
                        Diagnostic::error(&file, "unknown state")
                            .row(row)
                            .column("state")
                            .value(v)
                            .hint("expected done, failed, in_progress or pending"),
                    );
                    continue;
                }
            },
            V::Null => {
                diags.push(
                    Diagnostic::error(&file, "required value is empty")
                        .row(row)
                        .column("state"),
                );
                continue;
            }
            V::Bad => continue,
        };
        let bytes_used = match bytes[i] {
            V::Val(b) if b >= 0 => b as u64,
            V::Val(b) => {
                diags.push(
                    Diagnostic::error(&file, "bytes_used must not be negative")
                        .row(row)
                        .column("bytes_used")
                        .value(b.to_string()),
                );
                continue;
            }
            V::Null => 0,
            V::Bad => continue,
        };
        let at = match at.get(i) {
            Some(V::Val(a)) if *a > now => {
                diags.push(
                    Diagnostic::error(&file, "is after --now: progress cannot report the future")
                        .row(row)
                        .column("at")
                        .value(crate::units::rfc3339_utc(*a)),
                );
                continue;
            }
            Some(V::Val(a)) => Some(*a),
            Some(V::Null) if state == DeviceState::Done && t.has_column("at") => {
                diags.push(
                    Diagnostic::error(&file, "a done device needs the instant it finished")
                        .row(row)
                        .column("at")
                        .value("")
                        .hint("its wave's gate counts from it; drop the whole at column to use the original plan's gates"),
                );
                continue;
            }
            _ => None,
        };
        out.push(Progress {
            device: DeviceIdx(dev as u32),
            state,
            bytes_used,
            at,
            row,
        });
    }
    devices.finish(&mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// The gates of the plan being re-planned, from its `summary.json` (`waves[].gate` by
/// wave name).
pub fn read_original_gates(path: &Path, s: &Scenario) -> Result<OriginalGates, Diagnostics> {
    let file = path.display().to_string();
    let fail = |msg: String| Diagnostics(vec![Diagnostic::error(&file, msg)]);
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let waves = v["waves"]
        .as_array()
        .ok_or_else(|| fail("has no waves (not a plan's summary.json)".into()))?;
    let mut gates = Vec::with_capacity(s.waves.len());
    for w in &s.waves {
        let found = waves.iter().find(|x| x["name"].as_str() == Some(&w.name));
        let gate = match found.map(|x| &x["gate"]) {
            Some(serde_json::Value::String(g)) => Some(
                parse_instant(g).map_err(|e| fail(format!("wave {}: gate {g:?}: {e}", w.name)))?,
            ),
            Some(serde_json::Value::Null) => None,
            _ => {
                return Err(fail(format!(
                    "has no wave {:?} (planned from another scenario?)",
                    w.name
                )));
            }
        };
        gates.push(gate);
    }
    Ok(OriginalGates {
        gates,
        source: file.clone(),
    })
}

/// A plan folder's `spent.csv` (see `output::spent_csv`): the bytes its re-plan charged
/// before its first window. A folder without one spent nothing.
pub fn read_spent(path: &Path, s: &Scenario) -> Result<Vec<Spent>, Diagnostics> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let t = open_named(path)?;
    let file = t.file.clone();
    let mut diags = Diagnostics::default();
    let cols = ["device_id", "kind", "bytes", "at", "load_until"];
    if t.height() == 0 && cols.iter().all(|c| t.has_column(c)) {
        return Ok(Vec::new());
    }
    if !t.check_shape(&cols, &[], &mut diags) {
        return Err(diags);
    }
    let ids = t.text_refs("device_id", &mut diags);
    let bytes = t.integers("bytes", &mut diags);
    let at = t.instants("at", &mut diags);
    let until = t.instants("load_until", &mut diags);
    let mut devices = crate::ingest::DeviceLookup::new(s);
    devices.repeats = true;
    let mut out = Vec::with_capacity(t.height());
    for i in 0..t.height() {
        let row = i + 1;
        let (V::Val(id), V::Val(b), V::Val(a)) = (&ids[i], &bytes[i], &at[i]) else {
            diags.push(Diagnostic::error(&file, "device_id, bytes and at are required").row(row));
            continue;
        };
        let Some(dev) = devices.resolve(&file, row, id, &mut diags) else {
            continue;
        };
        out.push(Spent::of(
            s,
            DeviceIdx(dev as u32),
            *a,
            (*b).max(0) as u64,
            until[i].ok(),
        ));
    }
    devices.finish(&mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// Everything a re-plan reads besides the scenario, checked: `now` (named `now_field` in
/// messages), the progress table, and the original plan's `summary.json` when given (its
/// gates serve waves whose done devices carry no `at`).
pub fn read_replan(
    s: &Scenario,
    progress: &Path,
    now: &str,
    now_field: NowField,
    original_summary: Option<&Path>,
) -> Result<crate::plan::Replan, Diagnostics> {
    let now = parse_now(now, now_field, s)?;
    let rows = read_progress(progress, s, now)?;
    let original = original_summary
        .map(|p| read_original_gates(p, s))
        .transpose()?;
    Ok(crate::plan::Replan {
        now,
        progress: rows,
        progress_file: progress.file_name().map_or_else(
            || progress.display().to_string(),
            |n| n.to_string_lossy().to_string(),
        ),
        original,
    })
}
