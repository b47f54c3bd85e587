//! Where a scenario's coverage model comes from: its fitted `coverage_model` table, a
//! fit on the fly from its `coverage` history, or the built-in priors. The one place a
//! coverage model is loaded: it calls `ingest::coverage` for files and the pure fitter
//! (`coverage::fit`) for the numbers, and never looks inside a file itself.

use super::coverage::{open_history, read_model};
use super::{CoverageInput, Loaded};
use crate::coverage::fit::{CappedDiags, Fitted, Fitter};
use crate::coverage::{CoverageModel, Source};
use crate::diag::{Diagnostic, Diagnostics};
use crate::domain::{Radio, Scenario};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The coverage model the scenario asks for (see [`CoverageInput`]); `source` says
/// which. Errors are the located problems of the model file or the history.
pub fn load(loaded: &Loaded) -> Result<CoverageModel, Diagnostics> {
    match &loaded.coverage {
        CoverageInput::Priors => Ok(CoverageModel::priors()),
        CoverageInput::Model { path, file } => {
            let profiles = read_model(path, file)?;
            Ok(CoverageModel::from_fitted(Source::Model, profiles))
        }
        CoverageInput::History { path, file } => {
            let (fitted, _) = fit_history(&loaded.scenario, path, file)?;
            Ok(CoverageModel::from_fitted(Source::History, fitted.profiles))
        }
    }
}

/// Everything wrong with the scenario's coverage input, for `otaplan validate`: the
/// history's bad rows (unknown devices, duplicates, timestamps without offset, …) and
/// devices without history, or a model file's bad cells and unknown keys.
pub fn check_history(loaded: &Loaded) -> Diagnostics {
    match &loaded.coverage {
        CoverageInput::Priors => Diagnostics::default(),
        CoverageInput::Model { path, file } => match read_model(path, file) {
            Err(d) => d,
            Ok(profiles) => unknown_keys(&loaded.scenario, file, &profiles),
        },
        CoverageInput::History { path, file } => match fit_history(&loaded.scenario, path, file) {
            Err(d) => d,
            Ok((_, warnings)) => warnings,
        },
    }
}

/// Fits a model from a history file, streaming it. `Ok` carries the fit and its
/// warnings; `Err` every problem found (errors and warnings).
pub fn fit_history(
    scenario: &Scenario,
    path: &Path,
    file: &str,
) -> Result<(Fitted, Diagnostics), Diagnostics> {
    let history = open_history(path, file)?;
    let ids: HashMap<&str, u32> = scenario
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i as u32))
        .collect();
    let mut fitter = Fitter::new(scenario, file, history.has_dropped());
    let mut capped = CappedDiags::default();
    let rows = history.for_each_batch(&ids, &mut capped, |b, d| fitter.add(b, d));
    if rows == Some(0) {
        capped.push(Diagnostic::error(file, "the table has no rows"));
    }
    let fitted = fitter.finish(&mut capped);
    let diags = capped.finish();
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok((fitted, diags))
    }
}

fn unknown_keys(
    s: &Scenario,
    file: &str,
    profiles: &[(String, crate::coverage::Profile)],
) -> Diagnostics {
    let mut known: HashSet<String> = s.devices.iter().map(|d| d.id.clone()).collect();
    known.extend(s.regions.iter().map(|r| r.name.clone()));
    for r in Radio::ALL {
        known.insert(r.as_str().to_string());
        known.extend(
            s.regions
                .iter()
                .map(|g| CoverageModel::region_radio_key(&g.name, r)),
        );
    }
    let unknown: Vec<&str> = profiles
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !known.contains(*k))
        .collect();
    let mut d = Diagnostics::default();
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().copied().take(5).collect();
        d.push(
            Diagnostic::warning(
                file,
                format!(
                    "{} keys match no device, region, region/radio or radio of the scenario: {}",
                    unknown.len(),
                    shown.join(", ")
                ),
            )
            .column("key")
            .hint("was the model fitted for another scenario?"),
        );
    }
    d
}
