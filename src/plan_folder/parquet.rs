//! `plan.parquet`, written with polars: the plan folder's one Parquet output (besides
//! `ingest` and `generate`, the only place that imports polars).

use crate::domain::Scenario;
use crate::output::local;
use crate::plan::Plan;
use polars::prelude::*;
use std::io;
use std::path::Path;

fn to_io(e: PolarsError) -> io::Error {
    io::Error::other(e.to_string())
}

/// `plan.parquet`: the same columns as plan.csv, instants as UTC timestamps (ms) and local
/// times as RFC 3339 text with their offset.
pub fn write_plan_parquet(path: &Path, s: &Scenario, plan: &Plan) -> io::Result<()> {
    let rows = &plan.rows;
    let dev = |r: &crate::plan::PlanRow| &s.devices[r.device.0 as usize];
    let ms = |t: crate::units::Instant| t.timestamp_millis();
    let text =
        |f: &dyn Fn(&crate::plan::PlanRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let ts = |name: &str, v: Vec<Option<i64>>| -> PolarsResult<Column> {
        Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
    };
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("device_id".into(), text(&|r| dev(r).id.clone())),
        Column::new("wave".into(), text(&|r| s.waves[r.wave].name.clone())),
        Column::new("pool_id".into(), text(&|r| s.pool(dev(r).pool).id.clone())),
        Column::new(
            "region".into(),
            text(&|r| s.region(dev(r).region).name.clone()),
        ),
        Column::new("timezone".into(), text(&|r| dev(r).tz.name().to_string())),
        Column::new(
            "payload".into(),
            text(&|r| r.payload.label(&s.artifacts).to_string()),
        ),
        Column::new(
            "payload_bytes".into(),
            rows.iter()
                .map(|r| r.payload_bytes as i64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "expected_bytes".into(),
            rows.iter()
                .map(|r| r.expected_bytes as i64)
                .collect::<Vec<_>>(),
        ),
        ts(
            "window_start",
            rows.iter().map(|r| Some(ms(r.window_start))).collect(),
        )
        .map_err(to_io)?,
        ts(
            "window_end",
            rows.iter().map(|r| Some(ms(r.window_end))).collect(),
        )
        .map_err(to_io)?,
        Column::new(
            "window_start_local".into(),
            text(&|r| local(r.window_start, dev(r).tz)),
        ),
        Column::new(
            "window_end_local".into(),
            text(&|r| local(r.window_end, dev(r).tz)),
        ),
        Column::new(
            "p_success".into(),
            rows.iter().map(|r| r.p_success).collect::<Vec<_>>(),
        ),
        Column::new(
            "throughput_kbps".into(),
            rows.iter().map(|r| r.throughput_kbps).collect::<Vec<_>>(),
        ),
        ts(
            "billing_cycle_start",
            rows.iter().map(|r| r.billing_cycle_start.map(ms)).collect(),
        )
        .map_err(to_io)?,
        ts(
            "reconnect_by",
            rows.iter().map(|r| Some(ms(r.reconnect_by))).collect(),
        )
        .map_err(to_io)?,
        Column::new(
            "zone".into(),
            rows.iter()
                .map(|r| dev(r).zone.clone())
                .collect::<Vec<Option<String>>>(),
        ),
    ])
    .map_err(to_io)?;
    crate::fsutil::write_atomic_with(path, |w| {
        ParquetWriter::new(w)
            .finish(&mut df)
            .map(|_| ())
            .map_err(to_io)
    })
}
