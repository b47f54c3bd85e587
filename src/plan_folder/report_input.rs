//! Reads a plan folder for the finance report (`otaplan report DIR`): summary.json,
//! plan.csv, unscheduled.csv and — when it replayed this very plan — simulation.json
//! (`simulate` records [`super::plan_digest`] of the folder it replayed; a simulation of
//! another plan is named and left out).

use crate::diag::{Diagnostic, Diagnostics};
use crate::report::{DeviceRow, ReportInput, SimulationView, SummaryView};
use std::io;
use std::path::Path;

fn one(d: Diagnostic) -> Diagnostics {
    let mut ds = Diagnostics::default();
    ds.push(d);
    ds
}

/// A file of the folder, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, Diagnostics> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(one(Diagnostic::error(
            path.display().to_string(),
            format!("cannot read it: {e}"),
        ))),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, Diagnostics> {
    serde_json::from_str(text).map_err(|e| {
        one(Diagnostic::error(
            path.display().to_string(),
            format!("not what otaplan writes: {e}"),
        ))
    })
}

/// Why a simulation cannot be shown beside the plan whose digest is `this`, if it cannot.
fn foreign_simulation(sim: &SimulationView, this: &str, dir: &Path) -> Option<String> {
    let file = dir.join("simulation.json");
    let again =
        "run `otaplan simulate SCENARIO --plan` on this folder again to see simulated figures";
    match sim.plan.as_deref() {
        None => Some(format!(
            "{} was ignored: it does not record which plan it replayed (an older otaplan wrote it); {again}.",
            file.display()
        )),
        Some(theirs) if theirs != this => Some(format!(
            "{} was ignored: it replayed another plan ({theirs}), not this folder's plan.csv and summary.json ({this}); {again}.",
            file.display()
        )),
        Some(_) => None,
    }
}

/// The reasons of unscheduled.csv (none when the file is missing).
fn unscheduled_reasons(path: &Path) -> Result<Vec<String>, Diagnostics> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let t = crate::ingest::table::open_named(path)?;
    let mut diags = Diagnostics::default();
    let reasons = t
        .texts("reason", &mut diags)
        .into_iter()
        .map(|v| v.ok().unwrap_or_default())
        .collect();
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(reasons)
    }
}

/// Everything `otaplan report DIR` shows, read from the plan folder `dir`, and plan.csv's
/// rows (the spreadsheet's Devices sheet).
pub fn read_report_input(dir: &Path) -> Result<(ReportInput, Vec<DeviceRow>), Diagnostics> {
    let summary_path = dir.join("summary.json");
    let summary: SummaryView = match read_optional(&summary_path)? {
        Some(t) => parse_json(&summary_path, &t)?,
        None => {
            return Err(one(Diagnostic::error(
                summary_path.display().to_string(),
                "no such file: run `otaplan plan SCENARIO --out DIR` first",
            )));
        }
    };
    let devices = super::plan_csv::read_device_rows(&dir.join("plan.csv"))?;
    let unscheduled = unscheduled_reasons(&dir.join("unscheduled.csv"))?;
    let sim_path = dir.join("simulation.json");
    let mut simulation: Option<SimulationView> = match read_optional(&sim_path)? {
        Some(t) => Some(parse_json(&sim_path, &t)?),
        None => None,
    };
    let mut ignored_simulation = None;
    if let Some(sim) = &simulation {
        let this = super::plan_digest(dir).map_err(|e| {
            one(Diagnostic::error(
                dir.display().to_string(),
                format!("cannot read the plan: {e}"),
            ))
        })?;
        ignored_simulation = foreign_simulation(sim, &this, dir);
        if ignored_simulation.is_some() {
            simulation = None;
        }
    }
    let input = ReportInput {
        summary,
        simulation,
        ignored_simulation,
        downloads: crate::report::downloads(&devices),
        unscheduled,
    };
    Ok((input, devices))
}
