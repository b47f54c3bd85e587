//! Re-planning a paused rollout: what has happened before `now`, resolved once for the
//! CLI and the server alike. From the progress rows, the scenario and the coverage model
//! it works out the bytes already spent, the rest of every download in flight (its
//! remaining bytes and when it is expected to end), and the gate each wave's updated
//! devices really set; the planner then plans the rest ([`super::replan`]). Pure apart
//! from the solver: when done devices carry no `at` and no original gates are given, the
//! original scenario is planned once to learn them.

use super::baselines::{self, Dev};
use super::evaluate::Spent;
use super::{DeviceState, PlanError, PlanOptions, Progress, SolveOptions};
use crate::coverage::{CoverageModel, KeyLevel, Profile};
use crate::diag::{Diagnostic, Diagnostics};
use crate::domain::{DeviceIdx, Scenario};
use crate::units::{Instant, rfc3339_utc};
use chrono::Duration;
use std::sync::Arc;

/// Re-planning the rest of a paused rollout.
#[derive(Debug, Clone)]
pub struct Replan {
    /// The horizon starts here: no window starts before it.
    pub now: Instant,
    pub progress: Vec<Progress>,
    /// The progress table's name, for messages (`progress.csv`).
    pub progress_file: String,
    /// The gates of the plan being re-planned (its summary.json), used for waves whose
    /// done devices carry no `at`; `None` = re-made from the scenario when needed.
    pub original: Option<OriginalGates>,
}

/// The gates of the plan being re-planned, per wave of the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalGates {
    pub gates: Vec<Option<Instant>>,
    /// Where they were read (for `wave_notes`).
    pub source: String,
}

/// What happened before `now`.
pub(super) struct Happened {
    pub now: Instant,
    pub state: Vec<DeviceState>,
    /// Bytes used so far, and the rest of each download in flight.
    pub spent: Vec<Spent>,
    /// Per wave: the gate its updated devices set (the last done `at`, or the expected
    /// end of a download in flight, plus the soak).
    pub gate: Vec<Option<Instant>>,
    /// Per wave: devices done or downloading.
    pub updated: Vec<usize>,
    /// Per wave: the stop rules say it failed, so retrying its failed devices holds the
    /// later waves.
    pub failed: Vec<bool>,
    pub notes: Vec<String>,
}

/// Resolves progress against the scenario: every row checked (a `bytes_used` above the
/// device's payload is an error naming file, row, column and value), spent and in-flight
/// bytes, and the gates of what happened.
pub(super) fn resolve(
    s: &Scenario,
    coverage: &CoverageModel,
    profiles: &[(Arc<Profile>, KeyLevel)],
    wave_of: &[Option<usize>],
    r: &Replan,
    solve: &SolveOptions,
) -> Result<Happened, PlanError> {
    let payloads = baselines::payloads(s, profiles);
    bytes_within_payloads(s, r, &payloads, profiles)
        .map_err(|diagnostics| PlanError::Input { diagnostics })?;
    let n_waves = s.waves.len();
    let mut h = Happened {
        now: r.now,
        state: vec![DeviceState::Pending; s.devices.len()],
        spent: Vec::new(),
        gate: vec![None; n_waves],
        updated: vec![0; n_waves],
        failed: vec![false; n_waves],
        notes: Vec::new(),
    };
    let mut end: Vec<Option<Instant>> = vec![None; n_waves];
    let mut no_at = vec![false; n_waves];
    let mut failed = vec![0usize; n_waves];
    for p in &r.progress {
        let i = p.device.0 as usize;
        h.state[i] = p.state;
        if p.bytes_used > 0 {
            let at = p.at.unwrap_or(r.now - Duration::seconds(1));
            h.spent.push(Spent::of(s, p.device, at, p.bytes_used, None));
        }
        let Some(w) = wave_of[i] else { continue };
        match p.state {
            DeviceState::Done => {
                h.updated[w] += 1;
                match p.at {
                    Some(at) => end[w] = end[w].max(Some(at)),
                    None => no_at[w] = true,
                }
            }
            DeviceState::InProgress => {
                h.updated[w] += 1;
                let Some(payload) = &payloads[i] else {
                    continue;
                };
                let dev = Dev {
                    idx: i,
                    payload,
                    profile: &profiles[i].0,
                };
                let (rest, until) = in_flight(s, &dev, p, r.now);
                h.spent.extend(rest);
                end[w] = end[w].max(Some(until));
            }
            DeviceState::Failed => failed[w] += 1,
            DeviceState::Pending => {}
        }
    }
    let mut original = r.original.clone();
    for (w, wave) in s.waves.iter().enumerate() {
        let soak = Duration::milliseconds((wave.soak_hours * 3_600_000.0).round() as i64);
        h.gate[w] = end[w].map(|e| e + soak);
        if no_at[w] {
            if original.is_none() {
                original = Some(original_gates(s, coverage, solve)?);
            }
            let o = original.as_ref().expect("set just above");
            let g = o.gates.get(w).copied().flatten();
            h.gate[w] = h.gate[w].max(g);
            h.notes.push(format!(
                "wave {}: progress has no `at` for its done devices, so its gate ({}) is the original plan's, from {}",
                wave.name,
                g.map_or("none".to_string(), rfc3339_utc),
                o.source
            ));
        }
        let tried = h.updated[w] + failed[w];
        h.failed[w] = tried > 0
            && s.stop_rules
                .crash_loop_rate
                .is_some_and(|rate| failed[w] as f64 / tried as f64 > rate);
        if failed[w] > 0 && h.updated[w] > 0 {
            h.notes.push(if h.failed[w] {
                format!(
                    "wave {}: {} of {} devices that tried failed, above the stop rules' crash_loop_rate: its retries hold the later waves",
                    wave.name, failed[w], tried
                )
            } else {
                format!(
                    "wave {}: {} of {} devices that tried failed, within the stop rules: their retries do not hold the later waves",
                    wave.name, failed[w], tried
                )
            });
        }
    }
    Ok(h)
}

/// Checks progress against what the planner knows of each device: a `bytes_used` above
/// the device's payload as billed (the planner's own choice of payload, × its
/// expected-bytes factor in the device's worst hour of the week: the lowest throughput
/// and the highest drop rate, protocol overhead included) is an error naming file, row,
/// column and value. [`super::replan`] runs it too; a front end may run it first to
/// refuse bad input before queueing a solve.
pub fn check_progress(
    s: &Scenario,
    coverage: &CoverageModel,
    r: &Replan,
) -> Result<(), Diagnostics> {
    let profiles = super::prepare::resolve_profiles(s, coverage);
    bytes_within_payloads(s, r, &baselines::payloads(s, &profiles), &profiles)
}

/// The most bytes a device's payload can be billed for in one download, as the planner
/// models it (see [`check_progress`]).
fn billed_limit(s: &Scenario, payload: &crate::payload::Payload, profile: &Profile) -> u64 {
    let hours = 0..crate::coverage::HOURS_PER_WEEK;
    let worst = super::transfer::Conditions {
        throughput_kbps: hours
            .clone()
            .map(|h| profile[h].throughput_kbps)
            .fold(f64::INFINITY, f64::min),
        drop_rate_per_hour: hours
            .map(|h| profile[h].drop_rate_per_hour)
            .fold(0.0, f64::max),
        p_online: 1.0,
    };
    let e = super::transfer::expected_payload_bytes(&s.artifacts, &payload.steps, &worst);
    (e.ceil() as u64).max(payload.bytes.0)
}

fn bytes_within_payloads(
    s: &Scenario,
    r: &Replan,
    payloads: &[Option<crate::payload::Payload>],
    profiles: &[(Arc<Profile>, KeyLevel)],
) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::default();
    for p in &r.progress {
        let i = p.device.0 as usize;
        let Some(pl) = &payloads[i] else { continue };
        let limit = billed_limit(s, pl, &profiles[i].0);
        if p.bytes_used > limit {
            diags.push(
                Diagnostic::error(&r.progress_file, "bytes_used is more than the device's payload")
                    .row(p.row)
                    .column("bytes_used")
                    .value(p.bytes_used.to_string())
                    .hint(format!(
                        "device {} downloads {} ({} bytes, at most {limit} billed with retries and overhead as modelled); bytes_used counts this release's update bytes only",
                        s.devices[i].id,
                        pl.steps.label(&s.artifacts),
                        pl.bytes.0
                    )),
            );
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(())
    }
}

/// The rest of a download in flight at `now`: its expected bytes (a download of the
/// device's payload starting at `now`) less the bytes already used, billed to the cycle
/// containing `now` and carried as regional load from `now` until the download's share
/// of that window still to run. Returns the spent bytes (none when nothing is left) and
/// the expected end.
fn in_flight(s: &Scenario, dev: &Dev<'_>, p: &Progress, now: Instant) -> (Option<Spent>, Instant) {
    let d = baselines::download_at(s, dev, now);
    let rest = d.expected_bytes.saturating_sub(p.bytes_used);
    if rest == 0 {
        return (None, now);
    }
    // Whole seconds (at least one), as spent.csv writes instants.
    let len = (d.window_end - now).num_milliseconds() as f64 / 1000.0;
    let secs = (len * rest as f64 / d.expected_bytes.max(1) as f64)
        .ceil()
        .max(1.0);
    let until = now + Duration::seconds(secs as i64);
    (
        Some(Spent::of(
            s,
            DeviceIdx(dev.idx as u32),
            now,
            rest,
            Some(until),
        )),
        until,
    )
}

/// The original plan's gates, re-made from the scenario.
fn original_gates(
    s: &Scenario,
    coverage: &CoverageModel,
    solve: &SolveOptions,
) -> Result<OriginalGates, PlanError> {
    let original = super::plan(
        s,
        coverage,
        &PlanOptions {
            solve: *solve,
            skip_baselines: true,
            ..Default::default()
        },
        &|_| {},
    )?;
    Ok(OriginalGates {
        gates: original.waves.iter().map(|w| w.gate).collect(),
        source: "the original plan re-made from the scenario".into(),
    })
}
