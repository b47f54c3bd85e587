//! Hands a written plan to the rollout systems that run it — AWS IoT Jobs, Eclipse
//! hawkBit, Mender: pure functions from the plan's downloads and `summary.json` to the
//! request bodies (one per call) and the calls in the order to send them. Reading the plan
//! folder and writing the files are the two edges (`read_plan_dir`, `write_export`);
//! nothing here talks to a network or reads the clock.

pub mod aws;
pub mod hawkbit;
pub mod mender;

use crate::units::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::plan_folder::plan_csv::Download;

/// What the export needs of `summary.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SummaryView {
    pub scenario: String,
    pub release: String,
    pub waves: Vec<WaveView>,
    #[serde(default)]
    pub stop_rules: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WaveView {
    pub name: String,
    #[serde(default)]
    pub devices: usize,
    #[serde(default)]
    pub gate: Option<Instant>,
    #[serde(default)]
    pub soak_hours: f64,
}

/// A plan folder read back: its summary and its downloads.
#[derive(Debug, Clone)]
pub struct PlanDir {
    pub summary: SummaryView,
    pub downloads: Vec<Download>,
}

/// The rollout system a plan is exported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    AwsIotJobs,
    Hawkbit,
    Mender,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::AwsIotJobs => "aws-iot-jobs",
            Target::Hawkbit => "hawkbit",
            Target::Mender => "mender",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        [Target::AwsIotJobs, Target::Hawkbit, Target::Mender]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

/// What the user chooses beyond the plan (resolved from the command line or a query).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// AWS: thing ARN template holding `{device_id}`.
    pub thing_arn: String,
    /// AWS: the job document's S3 URL (`documentSource`)…
    pub document_source: Option<String>,
    /// …or the job document itself (`document`).
    pub document: Option<String>,
    /// AWS: `schedulingConfig.endBehavior` (`STOP_ROLLOUT`, `CANCEL`, `FORCE_CANCEL`).
    pub end_behavior: String,
    /// AWS job ids and Mender deployment names start with this (default: scenario and
    /// release).
    pub name_prefix: Option<String>,
    /// Retries a failed device gets inside its window (AWS `numberOfRetries` for
    /// FAILED, Mender `retries`).
    pub retries: u32,
    /// hawkBit: the distribution set of the release.
    pub distribution_set_id: Option<String>,
    /// Mender: the artifact name of the release (default: the release).
    pub artifact_name: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            thing_arn: "arn:aws:iot:REGION:ACCOUNT:thing/{device_id}".into(),
            document_source: None,
            document: None,
            end_behavior: "STOP_ROLLOUT".into(),
            name_prefix: None,
            retries: 1,
            distribution_set_id: None,
            artifact_name: None,
        }
    }
}

/// One call to the rollout system, in the order to send them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub seq: usize,
    /// Send at or after this instant (empty: before the first window; AWS needs 30 minutes
    /// ahead of a job's start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Instant>,
    /// Send only when the stop rules stayed quiet through this wave's gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_gate_of: Option<String>,
    pub method: String,
    pub path: String,
    /// The request body, a file beside `calls.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub what: String,
}

/// Everything one export writes: request bodies, the calls in order, and the limits and
/// choices applied (for README.txt).
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub target: Target,
    pub files: Vec<(String, String)>,
    pub calls: Vec<Call>,
    pub notes: Vec<String>,
}

/// Devices of one wave whose windows are the same `[start, end)`: one job or deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Group<'a> {
    pub wave: usize,
    pub start: Instant,
    pub end: Instant,
    pub downloads: Vec<&'a Download>,
}

impl Group<'_> {
    pub fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes()
    }
}

/// The plan's downloads grouped by wave and exact window, ordered by start, then wave,
/// then end; devices in plan order. Fails on a row whose wave is not in summary.json.
pub fn window_groups(plan: &PlanDir) -> Result<Vec<Group<'_>>, String> {
    let mut groups: BTreeMap<(Instant, usize, Instant), Vec<&Download>> = BTreeMap::new();
    for (i, d) in plan.downloads.iter().enumerate() {
        let Some(w) = plan.summary.waves.iter().position(|w| w.name == d.wave) else {
            return Err(format!(
                "plan.csv row {}: wave {:?} of device {} is not in summary.json's waves",
                i + 1,
                d.wave,
                d.device_id
            ));
        };
        groups
            .entry((d.window_start, w, d.window_end))
            .or_default()
            .push(d);
    }
    Ok(groups
        .into_iter()
        .map(|((start, wave, end), downloads)| Group {
            wave,
            start,
            end,
            downloads,
        })
        .collect())
}

/// Exports a plan to `target`.
pub fn export(plan: &PlanDir, target: Target, opts: &Options) -> Result<Export, String> {
    match target {
        Target::AwsIotJobs => aws::export(plan, opts),
        Target::Hawkbit => hawkbit::export(plan, opts),
        Target::Mender => mender::export(plan, opts),
    }
}

/// Letters, digits, `-` and `_` kept, anything else `-` (job ids, deployment names).
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The default name prefix: scenario and release.
pub fn default_prefix(plan: &PlanDir) -> String {
    sanitize(&format!(
        "{}-{}",
        plan.summary.scenario, plan.summary.release
    ))
}

/// Windows must be whole minutes: every rollout system here schedules to the minute.
pub fn check_whole_minutes(g: &Group) -> Result<(), String> {
    use chrono::Timelike;
    for t in [g.start, g.end] {
        if t.second() != 0 || t.nanosecond() != 0 {
            return Err(format!(
                "device {}'s window {} – {} is not on whole minutes, which rollout systems cannot schedule",
                g.downloads[0].device_id,
                crate::units::rfc3339_utc(g.start),
                crate::units::rfc3339_utc(g.end)
            ));
        }
    }
    Ok(())
}

/// The stop rules as a person reads them, for README.txt.
pub fn stop_rules_line(plan: &PlanDir) -> String {
    if plan.summary.stop_rules.is_empty() {
        return "none".into();
    }
    plan.summary
        .stop_rules
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `README.txt`: what was exported, the calls in order, the limits applied.
pub fn readme(plan: &PlanDir, e: &Export) -> String {
    use std::fmt::Write;
    let s = &plan.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "otaplan export --to {} — scenario {}, release {}: {} in {}, {}.\n",
        e.target.name(),
        s.scenario,
        s.release,
        crate::diag::count(plan.downloads.len(), "device", "devices"),
        crate::diag::count(s.waves.len(), "wave", "waves"),
        crate::diag::count(e.calls.len(), "call", "calls")
    );
    let _ = writeln!(
        out,
        "Stop rules decided in advance: {}.",
        stop_rules_line(plan)
    );
    for w in &s.waves {
        let _ = writeln!(
            out,
            "  wave {}: {}, gate {} (last download end + {} h soak): check the stop rules before the next wave goes on",
            w.name,
            crate::diag::count(w.devices, "device", "devices"),
            w.gate.map_or("-".into(), crate::units::rfc3339_utc),
            w.soak_hours
        );
    }
    let _ = writeln!(out, "\nChoices and limits applied:");
    for n in &e.notes {
        let _ = writeln!(out, "  - {n}");
    }
    let _ = writeln!(
        out,
        "\nCalls in order (calls.json holds the same list):\n\n{:>5}  {:<20}  {:<12}  {:<6}  {:<40}  path",
        "seq", "not before (UTC)", "after gate", "method", "body"
    );
    for c in &e.calls {
        let _ = writeln!(
            out,
            "{:>5}  {:<20}  {:<12}  {:<6}  {:<40}  {}",
            c.seq,
            c.not_before.map_or("-".into(), crate::units::rfc3339_utc),
            c.after_gate_of.as_deref().unwrap_or("-"),
            c.method,
            c.body.as_deref().unwrap_or("-"),
            c.path
        );
    }
    out
}

/// Reads a plan folder: `summary.json` and `plan.csv`.
pub fn read_plan_dir(dir: &Path) -> Result<PlanDir, String> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (give the folder `otaplan plan --out` wrote)",
            path.display()
        )
    })?;
    let summary: SummaryView =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let downloads = crate::plan_folder::plan_csv::read_downloads(&dir.join("plan.csv"))
        .map_err(|d| d.to_string().trim_end().to_string())?;
    Ok(PlanDir { summary, downloads })
}

/// Writes the export into `dir` atomically file by file: the bodies, `calls.json` and
/// `README.txt` (last). Bodies a previous export listed in its `calls.json` and this one
/// does not write are removed. Returns the files written.
pub fn write_export(dir: &Path, plan: &PlanDir, e: &Export) -> std::io::Result<Vec<PathBuf>> {
    let previous: Vec<Call> = std::fs::read_to_string(dir.join("calls.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut written = Vec::with_capacity(e.files.len() + 2);
    for (name, body) in &e.files {
        let p = dir.join(name);
        crate::fsutil::write_atomic(&p, body.as_bytes())?;
        written.push(p);
    }
    let calls = serde_json::to_string_pretty(&e.calls).map_err(std::io::Error::other)? + "\n";
    crate::fsutil::write_atomic(&dir.join("calls.json"), calls.as_bytes())?;
    crate::fsutil::write_atomic(&dir.join("README.txt"), readme(plan, e).as_bytes())?;
    written.push(dir.join("calls.json"));
    written.push(dir.join("README.txt"));
    for c in previous {
        if let Some(b) = c.body
            && !e.files.iter().any(|(n, _)| *n == b)
            && !b.contains('/')
        {
            let _ = std::fs::remove_file(dir.join(b));
        }
    }
    Ok(written)
}

/// `summary.json`'s wave order decides when each wave's calls may go out: the first at
/// once, every later one after the previous wave's gate.
pub fn previous_gate(plan: &PlanDir, wave: usize) -> (Option<Instant>, Option<String>) {
    match wave.checked_sub(1).and_then(|p| plan.summary.waves.get(p)) {
        Some(p) => (p.gate, Some(p.name.clone())),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests;
