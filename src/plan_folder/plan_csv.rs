//! The one reader of a written `plan.csv` (or .parquet): [`read_plan`] into typed
//! [`PlanRow`]s against the scenario it was planned from (for `otaplan simulate`),
//! [`read_device_rows`] for the report, [`read_downloads`] for `handoff`, [`read_text`]
//! for the server's pages. Every bad row is reported with file, row, column and value;
//! nothing here computes or prices.

use crate::diag::{Diagnostic, Diagnostics};
use crate::domain::{DeviceIdx, Scenario};
use crate::ingest::table::{V, open_named};
use crate::payload::Steps;
use crate::plan::PlanRow;
use crate::units::Instant;
use std::path::Path;

const REQUIRED: [&str; 8] = [
    "device_id",
    "wave",
    "payload",
    "payload_bytes",
    "expected_bytes",
    "window_start",
    "window_end",
    "p_success",
];

/// Reads `plan.csv` (or .parquet) and resolves devices and waves by name.
pub fn read_plan(path: &Path, s: &Scenario) -> Result<Vec<PlanRow>, Diagnostics> {
    let t = open_named(path)?;
    let mut diags = Diagnostics::default();
    if t.height() == 0 && REQUIRED.iter().all(|c| t.has_column(c)) {
        return Ok(Vec::new());
    }
    let optional: Vec<&str> = crate::plan::PLAN_COLUMNS
        .iter()
        .copied()
        .filter(|c| !REQUIRED.contains(c))
        .collect();
    if !t.check_shape(&REQUIRED, &optional, &mut diags) {
        return Err(diags);
    }
    let cols = PlanCols::read(&t, &mut diags);
    let mut devices = crate::ingest::DeviceLookup::new(s);
    let out: Vec<PlanRow> = (0..t.height())
        .filter_map(|i| plan_row(s, &t.file, &cols, i, &mut devices, &mut diags))
        .collect();
    devices.finish(&mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// plan.csv's columns, each cell typed or its problem reported.
struct PlanCols<'t> {
    ids: Vec<V<&'t str>>,
    waves: Vec<V<&'t str>>,
    payloads: Vec<V<String>>,
    payload_bytes: Vec<V<i64>>,
    expected: Vec<V<i64>>,
    starts: Vec<V<Instant>>,
    ends: Vec<V<Instant>>,
    p_success: Vec<V<f64>>,
    throughput: Vec<V<f64>>,
    cycles: Vec<V<Instant>>,
    reconnect: Vec<V<Instant>>,
}

impl<'t> PlanCols<'t> {
    fn read(t: &'t crate::ingest::table::Table, diags: &mut Diagnostics) -> Self {
        PlanCols {
            ids: t.text_refs("device_id", diags),
            waves: t.text_refs("wave", diags),
            payloads: t.texts("payload", diags),
            payload_bytes: t.integers("payload_bytes", diags),
            expected: t.integers("expected_bytes", diags),
            starts: t.instants("window_start", diags),
            ends: t.instants("window_end", diags),
            p_success: t.numbers("p_success", diags),
            throughput: t.numbers("throughput_kbps", diags),
            cycles: t.instants("billing_cycle_start", diags),
            reconnect: t.instants("reconnect_by", diags),
        }
    }
}

/// Row `i` (0-based) of plan.csv as a `PlanRow`, or `None` with its problems reported.
fn plan_row(
    s: &Scenario,
    file: &str,
    c: &PlanCols<'_>,
    i: usize,
    devices: &mut crate::ingest::DeviceLookup<'_>,
    diags: &mut Diagnostics,
) -> Option<PlanRow> {
    let row = i + 1;
    let need = |diags: &mut Diagnostics, col: &str| {
        diags.push(
            Diagnostic::error(file, "required value is empty")
                .row(row)
                .column(col),
        );
    };
    let (V::Val(id), V::Val(wave)) = (c.ids[i], c.waves[i]) else {
        if matches!(c.ids[i], V::Null) {
            need(diags, "device_id");
        }
        if matches!(c.waves[i], V::Null) {
            need(diags, "wave");
        }
        return None;
    };
    let dev = devices.resolve(file, row, id, diags)?;
    let Some(wi) = s.waves.iter().position(|w| w.name == wave) else {
        diags.push(
            Diagnostic::error(file, "unknown wave: not in the scenario's [[waves]]")
                .row(row)
                .column("wave")
                .value(wave),
        );
        return None;
    };
    let (V::Val(payload), V::Val(pb), V::Val(eb), V::Val(ws), V::Val(we), V::Val(ps)) = (
        c.payloads[i].clone(),
        c.payload_bytes[i],
        c.expected[i],
        c.starts[i],
        c.ends[i],
        c.p_success[i],
    ) else {
        for (col, null) in [
            ("payload", matches!(c.payloads[i], V::Null)),
            ("payload_bytes", matches!(c.payload_bytes[i], V::Null)),
            ("expected_bytes", matches!(c.expected[i], V::Null)),
            ("window_start", matches!(c.starts[i], V::Null)),
            ("window_end", matches!(c.ends[i], V::Null)),
            ("p_success", matches!(c.p_success[i], V::Null)),
        ] {
            if null {
                need(diags, col);
            }
        }
        return None;
    };
    if pb < 0 || eb < 0 || we <= ws {
        diags.push(
            Diagnostic::error(
                file,
                "bytes must not be negative and window_end must be after window_start",
            )
            .row(row),
        );
        return None;
    }
    let current = &s.devices[dev].current_version;
    let payload = match Steps::parse(&s.artifacts, &s.release, current, &payload) {
        Ok(steps) => steps,
        Err(e) => {
            diags.push(e.diagnostic(file, row, &payload));
            return None;
        }
    };
    Some(PlanRow {
        device: DeviceIdx(dev as u32),
        wave: wi,
        payload,
        payload_bytes: pb as u64,
        expected_bytes: eb as u64,
        window_start: ws,
        window_end: we,
        p_success: ps,
        throughput_kbps: c.throughput.get(i).and_then(|v| v.ok()).unwrap_or(0.0),
        billing_cycle_start: c.cycles.get(i).and_then(|v| v.ok()),
        reconnect_by: c.reconnect.get(i).and_then(|v| v.ok()).unwrap_or(we),
    })
}

/// Reads `plan.csv` (or .parquet) for the finance report, without the scenario: every
/// column typed as the Devices sheet writes it. Rows without `device_id`, `pool_id`,
/// `expected_bytes` or the window are reported.
pub fn read_device_rows(path: &Path) -> Result<Vec<crate::report::DeviceRow>, Diagnostics> {
    let t = open_named(path)?;
    let file = t.file.clone();
    let mut diags = Diagnostics::default();
    let text = |c: &str, d: &mut Diagnostics| t.texts(c, d);
    let (ids, waves, pools, regions) = (
        text("device_id", &mut diags),
        text("wave", &mut diags),
        text("pool_id", &mut diags),
        text("region", &mut diags),
    );
    let (zones_tz, payloads, zones) = (
        text("timezone", &mut diags),
        text("payload", &mut diags),
        text("zone", &mut diags),
    );
    let (ws_local, we_local) = (
        text("window_start_local", &mut diags),
        text("window_end_local", &mut diags),
    );
    let payload_bytes = t.integers("payload_bytes", &mut diags);
    let bytes = t.integers("expected_bytes", &mut diags);
    let starts = t.instants("window_start", &mut diags);
    let ends = t.instants("window_end", &mut diags);
    let p_success = t.numbers("p_success", &mut diags);
    let throughput = t.numbers("throughput_kbps", &mut diags);
    let cycles = t.instants("billing_cycle_start", &mut diags);
    let reconnect = t.instants("reconnect_by", &mut diags);
    let s = |v: &[V<String>], i: usize| match v.get(i) {
        Some(V::Val(x)) => x.clone(),
        _ => String::new(),
    };
    let mut out = Vec::with_capacity(t.height());
    for i in 0..t.height() {
        match (&ids[i], &pools[i], bytes[i], starts[i], ends[i]) {
            (V::Val(_), V::Val(_), V::Val(b), V::Val(ws), V::Val(we)) if b >= 0 => {
                out.push(crate::report::DeviceRow {
                    device_id: s(&ids, i),
                    wave: s(&waves, i),
                    pool_id: s(&pools, i),
                    region: s(&regions, i),
                    timezone: s(&zones_tz, i),
                    payload: s(&payloads, i),
                    payload_bytes: payload_bytes
                        .get(i)
                        .and_then(|v| v.ok())
                        .unwrap_or(0)
                        .max(0) as u64,
                    expected_bytes: b as u64,
                    window_start: ws,
                    window_end: we,
                    window_start_local: s(&ws_local, i),
                    window_end_local: s(&we_local, i),
                    p_success: p_success.get(i).and_then(|v| v.ok()).unwrap_or(0.0),
                    throughput_kbps: throughput.get(i).and_then(|v| v.ok()).unwrap_or(0.0),
                    billing_cycle_start: cycles.get(i).and_then(|v| v.ok()),
                    zone: s(&zones, i),
                    reconnect_by: reconnect.get(i).and_then(|v| v.ok()),
                })
            }
            _ => diags.push(
                Diagnostic::error(
                    &file,
                    "needs device_id, pool_id, expected_bytes, window_start and window_end",
                )
                .row(i + 1),
            ),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// A written table (plan.csv, unscheduled.csv) as text cells, columns in file order and
/// empty cells `None`: what the HTTP server pages through without the scenario.
#[derive(Debug, Clone, Default)]
pub struct TextTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Reads a written table as text (every CSV cell is text here; nothing is resolved).
pub fn read_text(path: &Path) -> Result<TextTable, Diagnostics> {
    let t = open_named(path)?;
    let mut diags = Diagnostics::default();
    let columns = t.column_names();
    let cells: Vec<Vec<V<String>>> = columns.iter().map(|c| t.texts(c, &mut diags)).collect();
    if diags.has_errors() {
        return Err(diags);
    }
    let rows = (0..t.height())
        .map(|i| cells.iter().map(|col| col[i].clone().ok()).collect())
        .collect();
    Ok(TextTable { columns, rows })
}

/// One planned download as the export needs it (a subset of a plan.csv row): what
/// [`read_downloads`] returns for `handoff`.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub device_id: String,
    pub wave: String,
    pub window_start: Instant,
    pub window_end: Instant,
    /// When the orchestrator should have heard from the device (plan.csv `reconnect_by`;
    /// `window_end` when the column is absent).
    pub reconnect_by: Instant,
    pub payload_bytes: u64,
    /// 0 when plan.csv has no throughput.
    pub throughput_kbps: f64,
}

/// Reads the columns of `plan.csv` a hand-off to a rollout system needs (`device_id`,
/// `wave`, `window_start`, `window_end`; `reconnect_by`, `payload_bytes` and
/// `throughput_kbps` when present), without the scenario.
pub fn read_downloads(path: &Path) -> Result<Vec<Download>, Diagnostics> {
    let t = open_named(path)?;
    let file = t.file.clone();
    let mut diags = Diagnostics::default();
    for col in ["device_id", "wave", "window_start", "window_end"] {
        if !t.has_column(col) {
            diags.push(Diagnostic::error(&file, "required column is missing").column(col));
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let ids = t.texts("device_id", &mut diags);
    let waves = t.texts("wave", &mut diags);
    let starts = t.instants("window_start", &mut diags);
    let ends = t.instants("window_end", &mut diags);
    let reconnect = t.instants("reconnect_by", &mut diags);
    let bytes = t.integers("payload_bytes", &mut diags);
    let throughput = t.numbers("throughput_kbps", &mut diags);
    let mut out = Vec::with_capacity(t.height());
    for i in 0..t.height() {
        match (ids[i].clone(), waves[i].clone(), starts[i], ends[i]) {
            (V::Val(device_id), V::Val(wave), V::Val(ws), V::Val(we)) if we > ws => {
                out.push(Download {
                    device_id,
                    wave,
                    window_start: ws,
                    window_end: we,
                    reconnect_by: reconnect.get(i).and_then(|v| v.ok()).unwrap_or(we),
                    payload_bytes: bytes.get(i).and_then(|v| v.ok()).unwrap_or(0).max(0) as u64,
                    throughput_kbps: throughput.get(i).and_then(|v| v.ok()).unwrap_or(0.0),
                })
            }
            (V::Bad, ..) | (_, V::Bad, ..) | (_, _, V::Bad, _) | (.., V::Bad) => {}
            _ => diags.push(
                Diagnostic::error(
                    &file,
                    "needs device_id, wave, window_start and window_end, with window_end after window_start",
                )
                .row(i + 1),
            ),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}
