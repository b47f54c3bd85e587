//! From a scenario and a coverage model to the planner's building blocks: the time grid,
//! each device's cheapest payload, the cohorts of interchangeable devices, and every
//! placement (start slot and length) a cohort's download may take inside its local
//! windows and allowed span. Devices that can have no placement get a reason here.
//! Pure; no I/O, no solver.

use super::transfer::{self, Conditions};
use crate::coverage::{CoverageModel, HOURS_PER_WEEK, KeyLevel, Profile, hour_of_week};
use crate::domain::{Device, DeviceIdx, PoolId, Radio, RegionId, Scenario};
use crate::payload::{Payload, VersionGraph};
use crate::units::{Instant, PricePerMb};
use crate::windows::WindowSet;
use chrono::{Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The planning grid: `n` slots of `slot_minutes` from `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub start: Instant,
    pub slot_minutes: u32,
    pub n: usize,
}

impl Grid {
    /// Slots from `from` to `deadline` (a last partial slot is dropped: every download
    /// must end by the deadline).
    pub fn new(from: Instant, deadline: Instant, slot_minutes: u32) -> Grid {
        let total = (deadline - from).num_minutes().max(0) as usize;
        Grid {
            start: from,
            slot_minutes,
            n: total / slot_minutes as usize,
        }
    }
    pub fn slot_start(&self, i: usize) -> Instant {
        self.start + Duration::minutes(i as i64 * self.slot_minutes as i64)
    }
    pub fn slot_end(&self, i: usize) -> Instant {
        self.slot_start(i + 1)
    }
    pub fn slot_hours(&self) -> f64 {
        self.slot_minutes as f64 / 60.0
    }
    /// The slot containing `t` (clamped to the grid).
    pub fn slot_of(&self, t: Instant) -> usize {
        let m = (t - self.start).num_minutes().max(0) as usize;
        (m / self.slot_minutes as usize).min(self.n.saturating_sub(1))
    }
}

/// The local hours of week an interval `[from, to)` touches in `tz`.
pub fn hours_touched(tz: Tz, from: Instant, to: Instant) -> Vec<usize> {
    let mut out = Vec::with_capacity(4);
    let mut t = from;
    while t < to {
        let h = hour_of_week(tz, t);
        if !out.contains(&h) {
            out.push(h);
        }
        t += Duration::minutes(30);
    }
    let last = hour_of_week(tz, to - Duration::seconds(1));
    if to > from && !out.contains(&last) {
        out.push(last);
    }
    out
}

/// Conditions of a profile over some hours: the lowest throughput, mean drop rate and
/// mean p_online (the contract's rule for the assumed throughput).
pub fn conditions(profile: &Profile, hours: &[usize]) -> Conditions {
    if hours.is_empty() {
        return Conditions {
            throughput_kbps: 0.0,
            drop_rate_per_hour: 0.0,
            p_online: 0.0,
        };
    }
    let n = hours.len() as f64;
    Conditions {
        throughput_kbps: hours
            .iter()
            .map(|&h| profile[h].throughput_kbps)
            .fold(f64::INFINITY, f64::min),
        drop_rate_per_hour: hours
            .iter()
            .map(|&h| profile[h].drop_rate_per_hour)
            .sum::<f64>()
            / n,
        p_online: hours.iter().map(|&h| profile[h].p_online).sum::<f64>() / n,
    }
}

/// The local hours of week (Monday 00:00 = 0) that a window set touches.
pub fn window_hours(ws: &WindowSet) -> Vec<usize> {
    let day = NaiveDate::from_ymd_opt(2027, 1, 4)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN); // a Monday
    (0..HOURS_PER_WEEK)
        .filter(|&h| {
            let t = day + Duration::hours((h % 24) as i64);
            [0, 15, 30, 45, 59]
                .iter()
                .any(|&m| ws.occurrence_end(t + Duration::minutes(m)).is_some())
        })
        .collect()
}

/// One way a cohort's download can run: start slot, number of slots occupied, and what
/// the cohort's model expects of it there.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub slot: usize,
    pub slots: usize,
    pub cond: Conditions,
    /// Expected billed bytes per device.
    pub expected_bytes: f64,
    pub p_success: f64,
}

/// Devices the model cannot tell apart: same pool, zone, region (hence windows), time
/// zone, payload, allowed span and coverage bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CohortKey {
    pub wave: usize,
    pub pool: PoolId,
    pub zone: Option<String>,
    pub region: RegionId,
    pub tz: String,
    pub payload: String,
    /// The coverage group (key level, radio) and, for devices with their own history, a
    /// quantised summary of it (p_online tenths, half-octaves of throughput, drop
    /// hazard in 0.05/h steps).
    pub coverage: (KeyLevel, Radio, Option<(i32, i32, i32)>),
}

#[derive(Debug, Clone)]
pub struct Cohort {
    pub key: CohortKey,
    pub devices: Vec<DeviceIdx>,
    pub tz: Tz,
    pub payload: Payload,
    /// Price per MB when roaming (does not draw on the pool).
    pub zone_price: Option<PricePerMb>,
    /// Per hour of week: lowest member throughput, mean p_online, mean drop rate.
    pub profile: Profile,
    pub span: (usize, usize),
    pub placements: Vec<Placement>,
    /// Why no placement exists, when none does.
    pub no_placement: Option<String>,
}

/// A device the planner will not schedule, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unscheduled {
    pub device: DeviceIdx,
    pub reason: String,
}

/// What `prepare` hands to the model builder.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub grid: Grid,
    pub cohorts: Vec<Cohort>,
    pub unscheduled: Vec<Unscheduled>,
    /// Devices already on the release.
    pub up_to_date: usize,
}

/// Inputs that later issues (waves, re-planning) decide: for each device, its wave and
/// the slot span it may download in; `None` = not to plan (e.g. already done).
#[derive(Debug, Clone)]
pub struct Assignment {
    pub wave: Vec<Option<usize>>,
    pub span: Vec<(usize, usize)>,
}

fn quantise(profile: &Profile, hours: &[usize]) -> (i32, i32, i32) {
    let c = conditions(profile, hours);
    (
        (c.p_online * 10.0).round() as i32,
        (c.throughput_kbps.max(1e-3).log2() * 2.0).floor() as i32,
        (c.drop_rate_per_hour / 0.05).round() as i32,
    )
}

/// The payload a device gets: the cheapest way to the release by expected billed bytes
/// under its coverage over its window hours (the lowest throughput, the mean drop rate).
pub fn choose_payload(
    scenario: &Scenario,
    graph: &VersionGraph<'_>,
    current_version: &str,
    profile: &Profile,
    window_hours: &[usize],
) -> Option<Payload> {
    let c = conditions(profile, window_hours);
    graph.cheapest(current_version, |ai| {
        transfer::expected_artifact_bytes(&scenario.artifacts[ai], &c)
    })
}

/// Each device's coverage profile and how specific its key was, resolved once per plan
/// (group lookups are cached: a million devices share a few hundred groups).
pub fn resolve_profiles(
    scenario: &Scenario,
    model: &CoverageModel,
) -> Vec<(Arc<Profile>, KeyLevel)> {
    let mut groups: HashMap<(RegionId, Radio), (Arc<Profile>, KeyLevel)> = HashMap::new();
    scenario
        .devices
        .iter()
        .map(|d| {
            if let Some(p) = model.get(&d.id) {
                return (p.clone(), KeyLevel::Device);
            }
            groups
                .entry((d.region, d.radio))
                .or_insert_with(|| {
                    let (p, level) = model.for_group(&scenario.region(d.region).name, d.radio);
                    (p.clone(), level)
                })
                .clone()
        })
        .collect()
}

/// Builds cohorts and placements for the devices `assignment` puts in a wave.
/// `profiles` comes from [`resolve_profiles`]. Devices already on the release are
/// reported when `report_up_to_date`.
pub fn prepare(
    scenario: &Scenario,
    profiles: &[(Arc<Profile>, KeyLevel)],
    grid: Grid,
    assignment: &Assignment,
    report_up_to_date: bool,
) -> Prepared {
    let graph = VersionGraph::new(&scenario.artifacts, &scenario.release);
    let mut unscheduled = Vec::new();
    let mut up_to_date = 0;
    // Window hours per region (override or default).
    let region_hours: Vec<Vec<usize>> = scenario
        .regions
        .iter()
        .map(|r| window_hours(r.windows.as_ref().unwrap_or(&scenario.default_windows)))
        .collect();

    // Payload choice is shared by devices with the same version and coverage bucket.
    type CoverageBucket = (KeyLevel, Radio, u32, Option<(i32, i32, i32)>);
    let mut payload_ix: HashMap<(&str, CoverageBucket), Option<usize>> = HashMap::new();
    let mut payloads: Vec<Payload> = Vec::new();
    // Compact, allocation-free cohort keys first; full keys once per cohort.
    type Compact<'a> = (
        usize,
        PoolId,
        Option<&'a str>,
        RegionId,
        Tz,
        usize,
        (KeyLevel, Radio, Option<(i32, i32, i32)>),
    );
    let mut compact: HashMap<Compact<'_>, Vec<DeviceIdx>> = HashMap::new();

    for (i, d) in scenario.devices.iter().enumerate() {
        let idx = DeviceIdx(i as u32);
        if d.current_version == scenario.release {
            if report_up_to_date {
                up_to_date += 1;
                unscheduled.push(Unscheduled {
                    device: idx,
                    reason: format!("already on {}", scenario.release),
                });
            }
            continue;
        }
        let Some(wave) = assignment.wave[i] else {
            continue;
        };
        let (profile, level) = (&profiles[i].0, profiles[i].1);
        let hours = &region_hours[d.region.0 as usize];
        let q = (level == KeyLevel::Device).then(|| quantise(profile, hours));
        let bucket = (level, d.radio, d.region.0, q);
        let pi = *payload_ix
            .entry((d.current_version.as_str(), bucket))
            .or_insert_with(|| {
                let p = choose_payload(scenario, &graph, &d.current_version, profile, hours)?;
                match payloads.iter().position(|x| *x == p) {
                    Some(k) => Some(k),
                    None => {
                        payloads.push(p);
                        Some(payloads.len() - 1)
                    }
                }
            });
        let Some(pi) = pi else {
            unscheduled.push(Unscheduled {
                device: idx,
                reason: format!(
                    "no artifact leads from {} to {}",
                    d.current_version, scenario.release
                ),
            });
            continue;
        };
        compact
            .entry((
                wave,
                d.pool,
                d.zone.as_deref(),
                d.region,
                d.tz,
                pi,
                (level, d.radio, q),
            ))
            .or_default()
            .push(idx);
    }
    let mut groups: BTreeMap<CohortKey, (Vec<DeviceIdx>, Payload)> = BTreeMap::new();
    for ((wave, pool, zone, region, tz, pi, coverage), devices) in compact {
        let key = CohortKey {
            wave,
            pool,
            zone: zone.map(String::from),
            region,
            tz: tz.name().to_string(),
            payload: payloads[pi].label.clone(),
            coverage,
        };
        groups.insert(key, (devices, payloads[pi].clone()));
    }

    // Allowed slots per (time zone, region windows), computed once.
    let mut allowed_cache: HashMap<(Tz, u32), Vec<bool>> = HashMap::new();
    let mut cohorts = Vec::with_capacity(groups.len());
    for (key, (devices, payload)) in groups {
        let first = &scenario.devices[devices[0].0 as usize];
        let tz = first.tz;
        let ws = scenario.windows_for(first);
        let allowed = allowed_cache
            .entry((tz, key.region.0))
            .or_insert_with(|| {
                (0..grid.n)
                    .map(|s| ws.contains_interval(tz, grid.slot_start(s), grid.slot_end(s)))
                    .collect()
            })
            .clone();
        let profile = cohort_profile(&devices, profiles);
        let span = assignment.span[devices[0].0 as usize];
        let zone_price = first
            .zone
            .as_ref()
            .and_then(|z| scenario.pool(first.pool).zone_rates.get(z).copied());
        let placements = placements(scenario, &grid, tz, &allowed, span, &profile, &payload);
        let no_placement = placements
            .is_empty()
            .then(|| explain(scenario, &grid, first, &allowed, span, &profile, &payload));
        cohorts.push(Cohort {
            key,
            devices,
            tz,
            payload,
            zone_price,
            profile,
            span,
            placements,
            no_placement,
        });
    }
    Prepared {
        grid,
        cohorts,
        unscheduled,
        up_to_date,
    }
}

fn cohort_profile(devices: &[DeviceIdx], profiles: &[(Arc<Profile>, KeyLevel)]) -> Profile {
    let first = &profiles[devices[0].0 as usize].0;
    if devices
        .iter()
        .all(|d| Arc::ptr_eq(&profiles[d.0 as usize].0, first))
    {
        return **first;
    }
    let n = devices.len() as f64;
    std::array::from_fn(|h| {
        let mut s = first[h];
        s.p_online = 0.0;
        s.drop_rate_per_hour = 0.0;
        s.throughput_kbps = f64::INFINITY;
        for d in devices {
            let p = &profiles[d.0 as usize].0[h];
            s.p_online += p.p_online / n;
            s.drop_rate_per_hour += p.drop_rate_per_hour / n;
            s.throughput_kbps = s.throughput_kbps.min(p.throughput_kbps);
        }
        s
    })
}

/// Every start slot in `span` from which the payload fits in consecutive allowed slots
/// (at the lowest throughput over the local hours those slots touch).
fn placements(
    scenario: &Scenario,
    grid: &Grid,
    tz: Tz,
    allowed: &[bool],
    span: (usize, usize),
    profile: &Profile,
    payload: &Payload,
) -> Vec<Placement> {
    let mut out = Vec::new();
    let (lo, hi) = (span.0, span.1.min(grid.n));
    // run_end[s]: the first slot at or after s that is not allowed (or `hi`).
    let mut run_end = vec![hi; hi.saturating_sub(lo) + 1];
    for s in (lo..hi).rev() {
        run_end[s - lo] = if allowed[s] { run_end[s - lo + 1] } else { s };
    }
    for s in lo..hi {
        if !allowed[s] {
            continue;
        }
        let mut k = 1;
        loop {
            if s + k > run_end[s - lo] {
                break;
            }
            let hours = hours_touched(tz, grid.slot_start(s), grid.slot_end(s + k - 1));
            let cond = conditions(profile, &hours);
            let need =
                transfer::payload_hours(&scenario.artifacts, &payload.steps, cond.throughput_kbps);
            if need <= k as f64 * grid.slot_hours() + 1e-9 {
                out.push(Placement {
                    slot: s,
                    slots: k,
                    cond,
                    expected_bytes: transfer::expected_payload_bytes(
                        &scenario.artifacts,
                        &payload.steps,
                        &cond,
                    ),
                    p_success: transfer::p_success(&scenario.artifacts, &payload.steps, &cond),
                });
                break;
            }
            k = (k + 1).max((need / grid.slot_hours()).ceil() as usize);
        }
    }
    out
}

/// A sentence a person can act on, for a cohort without any placement.
fn explain(
    scenario: &Scenario,
    grid: &Grid,
    device: &Device,
    allowed: &[bool],
    span: (usize, usize),
    profile: &Profile,
    payload: &Payload,
) -> String {
    let ws = scenario.windows_for(device);
    let wins: Vec<String> = ws.windows.iter().map(|w| w.to_string()).collect();
    let wins = wins.join(", ");
    let (lo, hi) = (span.0, span.1.min(grid.n));
    let n_allowed = (lo..hi).filter(|&s| allowed[s]).count();
    if n_allowed == 0 {
        return format!(
            "window {wins} {} gives no whole {}-minute slot between {} and {}",
            device.tz.name(),
            grid.slot_minutes,
            grid.slot_start(lo.min(grid.n))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            grid.slot_start(hi)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    // Longest run of consecutive allowed slots.
    let (mut best, mut run) = (0, 0);
    for &ok in &allowed[lo..hi] {
        run = if ok { run + 1 } else { 0 };
        best = best.max(run);
    }
    let hours: Vec<usize> = window_hours(ws);
    let c = conditions(profile, &hours);
    let need = transfer::payload_hours(&scenario.artifacts, &payload.steps, c.throughput_kbps);
    format!(
        "window {wins} {} gives at most {best} consecutive {}-minute slots ({:.1} h); a {} download of {:.1} MB ({}) needs {:.1} h at {:.0} kbps",
        device.tz.name(),
        grid.slot_minutes,
        best as f64 * grid.slot_hours(),
        radio_name(device.radio),
        payload.bytes.0 as f64 / 1e6,
        payload.label,
        need,
        c.throughput_kbps,
    )
}

pub fn radio_name(r: Radio) -> &'static str {
    match r {
        Radio::NbIot => "NB-IoT",
        Radio::LteM => "LTE-M",
        Radio::Cat1 => "LTE Cat-1",
        Radio::Cat4 => "LTE Cat-4",
    }
}
