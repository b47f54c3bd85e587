//! What the fleet would otherwise have done, priced with exactly the plan's accounting
//! (`evaluate::account`) so savings are like for like:
//! - `global-push`: every device downloads at `start` (the temptation the source warns
//!   about);
//! - `rate-limited`: what rollout services offer today — notifications ramped
//!   exponentially (50 in the first minute, doubling every minute) inside one nightly
//!   maintenance window fixed in UTC, wave after wave (each after the previous gate);
//! - `local-off-peak`: every device starts at the beginning of its first local window,
//!   first come first served, wave after wave, with no money model.
//!
//! Each device downloads the same payload the planner would choose for it. Pure.

use super::evaluate::{self, CostBreakdown, Download};
use super::prepare::{Grid, conditions, hours_touched, window_hours};
use super::transfer;
use crate::coverage::{KeyLevel, Profile};
use crate::domain::Scenario;
use crate::payload::{Payload, VersionGraph};
use crate::units::Instant;
use crate::windows::{LocalWindow, WindowSet};
use chrono::Duration;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The UTC maintenance window of the `rate-limited` baseline.
pub const MAINTENANCE_WINDOW_UTC: &str = "01:00-05:00";
/// Notifications in the first minute of the ramp; the rate doubles every minute.
pub const RAMP_START_PER_MINUTE: f64 = 50.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineReport {
    pub name: String,
    pub description: String,
    pub cost: CostBreakdown,
    /// The largest regional load in any hour (MB/h), over all regions.
    pub peak_mb_per_hour: f64,
    /// The region where that peak happens.
    pub peak_region: String,
    /// Devices whose download ends by the deadline.
    pub finished_by_deadline: usize,
    pub devices: usize,
    /// This baseline's total cost minus the plan's (positive = the plan saves).
    pub plan_saves: f64,
}

/// Everything a baseline needs about one device.
struct Dev<'a> {
    idx: usize,
    payload: &'a Payload,
    profile: &'a Profile,
}

/// A download of `d` starting at `t`: its window lasts as long as the payload needs at
/// the lowest throughput over the hours it touches.
fn download_at(s: &Scenario, d: &Dev<'_>, t: Instant) -> Download {
    let dev = &s.devices[d.idx];
    let mut end = t + Duration::seconds(1);
    for _ in 0..3 {
        let c = conditions(d.profile, &hours_touched(dev.tz, t, end));
        let secs = (transfer::payload_hours(&s.artifacts, &d.payload.steps, c.throughput_kbps)
            * 3600.0)
            .ceil();
        end = t + Duration::seconds(secs.max(1.0) as i64);
    }
    let c = conditions(d.profile, &hours_touched(dev.tz, t, end));
    let expected = transfer::expected_payload_bytes(&s.artifacts, &d.payload.steps, &c);
    Download {
        pool: dev.pool,
        region: dev.region,
        zone_price: dev
            .zone
            .as_ref()
            .and_then(|z| s.pool(dev.pool).zone_rates.get(z).map(|p| p.0)),
        expected_bytes: (expected.ceil() as u64).max(d.payload.bytes.0),
        window_start: t,
        window_end: end,
        p_success: transfer::p_success(&s.artifacts, &d.payload.steps, &c),
        counts_lateness: true,
    }
}

/// The devices needing the release with their payloads, by wave (id order inside).
fn devices_by_wave<'a>(
    s: &Scenario,
    profiles: &'a [(Arc<Profile>, KeyLevel)],
    payloads: &'a [Option<Payload>],
    wave_of: &[Option<usize>],
    rank: &[u32],
) -> Vec<Vec<Dev<'a>>> {
    let mut by_wave: Vec<Vec<Dev<'a>>> = (0..s.waves.len()).map(|_| Vec::new()).collect();
    for (i, w) in wave_of.iter().enumerate() {
        if let (Some(w), Some(p)) = (w, &payloads[i]) {
            by_wave[*w].push(Dev {
                idx: i,
                payload: p,
                profile: &profiles[i].0,
            });
        }
    }
    for w in &mut by_wave {
        w.sort_by_key(|d| rank[d.idx]);
    }
    by_wave
}

/// Each device's payload, chosen by the planner's own rule (`prepare::choose_payload`).
pub fn payloads(s: &Scenario, profiles: &[(Arc<Profile>, KeyLevel)]) -> Vec<Option<Payload>> {
    let graph = VersionGraph::new(&s.artifacts, &s.release);
    let region_hours: Vec<Vec<usize>> = s
        .regions
        .iter()
        .map(|r| window_hours(r.windows.as_ref().unwrap_or(&s.default_windows)))
        .collect();
    let mut cache: HashMap<(&str, *const Profile, u32), Option<Payload>> = HashMap::new();
    s.devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if d.current_version == s.release {
                return None;
            }
            let p = &profiles[i].0;
            cache
                .entry((d.current_version.as_str(), Arc::as_ptr(p), d.region.0))
                .or_insert_with(|| {
                    super::prepare::choose_payload(
                        s,
                        &graph,
                        &d.current_version,
                        p,
                        &region_hours[d.region.0 as usize],
                    )
                })
                .clone()
        })
        .collect()
}

fn report(
    s: &Scenario,
    name: &str,
    description: String,
    downloads: &[Download],
    plan_total: f64,
) -> BaselineReport {
    let acc = evaluate::account(s, downloads, &[], super::load_grid(s));
    let (peak, region) = acc
        .regions
        .iter()
        .map(|r| (r.peak_mb_per_hour, r.region.clone()))
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a });
    BaselineReport {
        name: name.to_string(),
        description,
        plan_saves: acc.cost.total - plan_total,
        cost: acc.cost,
        peak_mb_per_hour: peak,
        peak_region: region,
        finished_by_deadline: downloads
            .iter()
            .filter(|d| d.window_end <= s.deadline)
            .count(),
        devices: downloads.len(),
    }
}

fn gate(s: &Scenario, wave: usize, downloads: &[Download]) -> Option<Instant> {
    let end = downloads.iter().map(|d| d.window_end).max()?;
    Some(end + Duration::milliseconds((s.waves[wave].soak_hours * 3_600_000.0).round() as i64))
}

/// All three baselines, with the plan's total cost for the savings.
pub fn baselines(
    s: &Scenario,
    profiles: &[(Arc<Profile>, KeyLevel)],
    wave_of: &[Option<usize>],
    rank: &[u32],
    plan_total: f64,
) -> Vec<BaselineReport> {
    let payloads = payloads(s, profiles);
    let by_wave = devices_by_wave(s, profiles, &payloads, wave_of, rank);
    vec![
        global_push(s, &by_wave, plan_total),
        rate_limited(s, &by_wave, plan_total),
        local_off_peak(s, &by_wave, plan_total),
    ]
}

fn global_push(s: &Scenario, by_wave: &[Vec<Dev<'_>>], plan_total: f64) -> BaselineReport {
    let devs: Vec<&Dev<'_>> = by_wave.iter().flatten().collect();
    let downloads: Vec<Download> = devs
        .par_iter()
        .map(|d| download_at(s, d, s.start))
        .collect();
    report(
        s,
        "global-push",
        "every device downloads at start, ignoring waves, windows and pools".into(),
        &downloads,
        plan_total,
    )
}

fn rate_limited(s: &Scenario, by_wave: &[Vec<Dev<'_>>], plan_total: f64) -> BaselineReport {
    let maint = WindowSet::new(
        LocalWindow::parse(MAINTENANCE_WINDOW_UTC)
            .into_iter()
            .collect(),
    );
    let utc: chrono_tz::Tz = chrono_tz::UTC;
    let mut downloads = Vec::new();
    let mut earliest = s.start;
    for (w, devs) in by_wave.iter().enumerate() {
        let mut starts: Vec<(&Dev<'_>, Instant)> = Vec::with_capacity(devs.len());
        // Walk minute by minute through the maintenance windows from the wave's start.
        let mut t = earliest;
        let mut minute = 0u32;
        let mut next = 0usize;
        let limit = s.deadline + Duration::days(60);
        while next < devs.len() && t < limit {
            if maint.contains_interval(utc, t, t + Duration::minutes(1)) {
                let rate = RAMP_START_PER_MINUTE * 2f64.powi(minute.min(30) as i32);
                let n = (rate as usize).min(devs.len() - next);
                for (j, d) in devs[next..next + n].iter().enumerate() {
                    // Spread the minute's notifications evenly over it.
                    let at = t + Duration::milliseconds((60_000.0 * j as f64 / n as f64) as i64);
                    starts.push((d, at));
                }
                next += n;
                minute += 1;
            }
            t += Duration::minutes(1);
        }
        let wave_dl: Vec<Download> = starts
            .par_iter()
            .map(|(d, at)| download_at(s, d, *at))
            .collect();
        if let Some(g) = gate(s, w, &wave_dl) {
            earliest = earliest.max(g);
        }
        downloads.extend(wave_dl);
    }
    report(
        s,
        "rate-limited",
        format!(
            "notifications ramp from {RAMP_START_PER_MINUTE}/min, doubling every minute, inside the maintenance window {MAINTENANCE_WINDOW_UTC} UTC; waves in order after each gate"
        ),
        &downloads,
        plan_total,
    )
}

fn local_off_peak(s: &Scenario, by_wave: &[Vec<Dev<'_>>], plan_total: f64) -> BaselineReport {
    let grid = Grid::new(s.start, s.deadline + Duration::days(60), 15);
    let mut allowed_cache: HashMap<(chrono_tz::Tz, u32), Vec<bool>> = HashMap::new();
    let mut downloads = Vec::new();
    let mut earliest = s.start;
    for (w, devs) in by_wave.iter().enumerate() {
        let from = grid.slot_of(earliest)
            + usize::from(grid.slot_start(grid.slot_of(earliest)) < earliest);
        // Allowed slots per (time zone, region), computed once; then every device's
        // first window, in parallel.
        for d in devs {
            let dev = &s.devices[d.idx];
            let ws = s.windows_for(dev);
            allowed_cache
                .entry((dev.tz, dev.region.0))
                .or_insert_with(|| {
                    (0..grid.n)
                        .map(|k| ws.contains_interval(dev.tz, grid.slot_start(k), grid.slot_end(k)))
                        .collect()
                });
        }
        let wave_dl: Vec<Download> = devs
            .par_iter()
            .filter_map(|d| {
                let dev = &s.devices[d.idx];
                let allowed = &allowed_cache[&(dev.tz, dev.region.0)];
                (from..grid.n)
                    .find(|&k| allowed[k])
                    .map(|k| download_at(s, d, grid.slot_start(k)))
            })
            .collect();
        if let Some(g) = gate(s, w, &wave_dl) {
            earliest = earliest.max(g);
        }
        downloads.extend(wave_dl);
    }
    report(
        s,
        "local-off-peak",
        "every device starts at the beginning of its first local window, first come first served; waves in order after each gate".into(),
        &downloads,
        plan_total,
    )
}
