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
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The UTC grid regional load is measured on: `n` slots of `slot_minutes` from `start`
/// (the last one may run past the deadline). Placements are not tied to it: a download's
/// bytes are spread over the slots it overlaps, by the fraction it overlaps each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub start: Instant,
    pub slot_minutes: u32,
    pub n: usize,
}

impl Grid {
    /// Slots from `from` until `deadline` is covered.
    pub fn new(from: Instant, deadline: Instant, slot_minutes: u32) -> Grid {
        let total = (deadline - from).num_minutes().max(0) as usize;
        Grid {
            start: from,
            slot_minutes,
            n: total.div_ceil(slot_minutes as usize),
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
    /// The slots `[from, to)` overlaps and the share of its length in each (summing to 1):
    /// the contract's "expected bytes spread evenly over the window".
    pub fn spread(&self, from: Instant, to: Instant) -> Spread {
        let slot_ms = self.slot_minutes as i64 * 60_000;
        let a = (from - self.start).num_milliseconds();
        let b = (to - self.start).num_milliseconds();
        Spread {
            slot_ms,
            a,
            b,
            next: (a.max(0) / slot_ms) as usize,
            n: self.n,
        }
    }
}

/// The iterator [`Grid::spread`] returns: (slot, share), allocation-free.
#[derive(Debug, Clone)]
pub struct Spread {
    slot_ms: i64,
    /// Window in milliseconds from the grid's start.
    a: i64,
    b: i64,
    next: usize,
    n: usize,
}

impl Iterator for Spread {
    type Item = (usize, f64);
    fn next(&mut self) -> Option<(usize, f64)> {
        let len = (self.b - self.a) as f64;
        while self.next < self.n && len > 0.0 {
            let i = self.next;
            let (lo, hi) = (i as i64 * self.slot_ms, (i as i64 + 1) * self.slot_ms);
            if lo >= self.b {
                return None;
            }
            self.next += 1;
            let overlap = hi.min(self.b) - lo.max(self.a);
            if overlap > 0 {
                return Some((i, overlap as f64 / len));
            }
        }
        None
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

/// One way a cohort's download can run: a window `[start, end)` inside one occurrence of
/// the cohort's local windows (anchored to the occurrence's start, so a four-hour local
/// window gives four hours in every UTC offset), and what the cohort's model expects of
/// it there. The window is exactly what a plan row gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub start: Instant,
    pub end: Instant,
    pub cond: Conditions,
    /// Expected billed bytes per device.
    pub expected_bytes: f64,
    pub p_success: f64,
}

/// Devices the model cannot tell apart: same wave, pool, zone, region (hence windows),
/// time zone, payload and coverage bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CohortKey {
    pub wave: usize,
    pub pool: PoolId,
    pub zone: Option<String>,
    pub region: RegionId,
    pub tz: String,
    /// The payload's label: cohorts are ordered by it (as plan.csv shows them).
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
    /// Every placement the cohort may take, in time order (the candidates the model's
    /// columns are generated from).
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

impl Prepared {
    /// The cohorts of several preparations (one per wave) as one model's input.
    pub fn concat(parts: Vec<Prepared>, grid: Grid) -> Prepared {
        let mut out = Prepared {
            grid,
            cohorts: Vec::new(),
            unscheduled: Vec::new(),
            up_to_date: 0,
        };
        for p in parts {
            out.cohorts.extend(p.cohorts);
            out.unscheduled.extend(p.unscheduled);
            out.up_to_date += p.up_to_date;
        }
        out
    }
}

/// Which devices one wave plans, and the span its downloads must lie in.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub wave: usize,
    /// Per device: planned in this wave.
    pub members: Vec<bool>,
    pub span: (Instant, Instant),
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

/// Builds cohorts and placements for the devices `assignment` puts in its wave.
/// `profiles` comes from [`resolve_profiles`]. Devices already on the release are
/// reported when `report_up_to_date`.
pub fn prepare(
    scenario: &Scenario,
    profiles: &[(Arc<Profile>, KeyLevel)],
    grid: Grid,
    assignment: &Assignment,
    report_up_to_date: bool,
) -> Prepared {
    let mut g = group(scenario, profiles, assignment, report_up_to_date);
    let groups = keyed(scenario, assignment.wave, g.compact, &g.payloads);
    Prepared {
        grid,
        cohorts: cohorts_of(scenario, profiles, assignment, groups),
        unscheduled: std::mem::take(&mut g.unscheduled),
        up_to_date: g.up_to_date,
    }
}

/// Compact, allocation-free cohort keys (pool, zone, region, time zone, payload index,
/// coverage group); full keys are made once per cohort by [`keyed`].
type Compact<'a> = (
    PoolId,
    Option<&'a str>,
    RegionId,
    Tz,
    usize,
    (KeyLevel, Radio, Option<(i32, i32, i32)>),
);

/// The wave's devices grouped by compact key, the payloads they take, and the devices
/// left out on the way (already on the release, no artifact path).
struct Grouped<'a> {
    compact: HashMap<Compact<'a>, Vec<DeviceIdx>>,
    payloads: Vec<Payload>,
    unscheduled: Vec<Unscheduled>,
    up_to_date: usize,
}

fn group<'a>(
    scenario: &'a Scenario,
    profiles: &[(Arc<Profile>, KeyLevel)],
    assignment: &Assignment,
    report_up_to_date: bool,
) -> Grouped<'a> {
    let graph = VersionGraph::new(&scenario.artifacts, &scenario.release);
    let mut out = Grouped {
        compact: HashMap::new(),
        payloads: Vec::new(),
        unscheduled: Vec::new(),
        up_to_date: 0,
    };
    // Window hours per region (override or default).
    let region_hours: Vec<Vec<usize>> = scenario
        .regions
        .iter()
        .map(|r| window_hours(r.windows.as_ref().unwrap_or(&scenario.default_windows)))
        .collect();
    // Payload choice is shared by devices with the same version and coverage bucket.
    type CoverageBucket = (KeyLevel, Radio, u32, Option<(i32, i32, i32)>);
    let mut payload_ix: HashMap<(&str, CoverageBucket), Option<usize>> = HashMap::new();
    for (i, d) in scenario.devices.iter().enumerate() {
        let idx = DeviceIdx(i as u32);
        if d.current_version == scenario.release {
            if report_up_to_date {
                out.up_to_date += 1;
                let reason = format!("already on {}", scenario.release);
                out.unscheduled.push(Unscheduled {
                    device: idx,
                    reason,
                });
            }
            continue;
        }
        if !assignment.members[i] {
            continue;
        }
        let (profile, level) = (&profiles[i].0, profiles[i].1);
        let hours = &region_hours[d.region.0 as usize];
        let q = (level == KeyLevel::Device).then(|| quantise(profile, hours));
        let bucket = (level, d.radio, d.region.0, q);
        let payloads = &mut out.payloads;
        let pi = *payload_ix
            .entry((d.current_version.as_str(), bucket))
            .or_insert_with(|| {
                let p = choose_payload(scenario, &graph, &d.current_version, profile, hours)?;
                Some(payloads.iter().position(|x| *x == p).unwrap_or_else(|| {
                    payloads.push(p);
                    payloads.len() - 1
                }))
            });
        let Some(pi) = pi else {
            let reason = format!(
                "no artifact leads from {} to {}",
                d.current_version, scenario.release
            );
            out.unscheduled.push(Unscheduled {
                device: idx,
                reason,
            });
            continue;
        };
        let key = (
            d.pool,
            d.zone.as_deref(),
            d.region,
            d.tz,
            pi,
            (level, d.radio, q),
        );
        out.compact.entry(key).or_default().push(idx);
    }
    out
}

/// Full cohort keys, in key order, with each cohort's devices and payload.
fn keyed(
    scenario: &Scenario,
    wave: usize,
    compact: HashMap<Compact<'_>, Vec<DeviceIdx>>,
    payloads: &[Payload],
) -> BTreeMap<CohortKey, (Vec<DeviceIdx>, Payload)> {
    let mut groups = BTreeMap::new();
    for ((pool, zone, region, tz, pi, coverage), devices) in compact {
        let key = CohortKey {
            wave,
            pool,
            zone: zone.map(String::from),
            region,
            tz: tz.name().to_string(),
            payload: payloads[pi].steps.label(&scenario.artifacts).to_string(),
            coverage,
        };
        groups.insert(key, (devices, payloads[pi].clone()));
    }
    groups
}

/// Each group as a cohort: its profile, zone price and every placement its windows
/// allow (or why none exists). Window occurrences are computed once per (time zone,
/// region windows).
fn cohorts_of(
    scenario: &Scenario,
    profiles: &[(Arc<Profile>, KeyLevel)],
    assignment: &Assignment,
    groups: BTreeMap<CohortKey, (Vec<DeviceIdx>, Payload)>,
) -> Vec<Cohort> {
    let step = step_minutes(scenario.slot_minutes);
    let mut calendars: HashMap<(Tz, u32), Arc<Vec<Occurrence>>> = HashMap::new();
    let mut cohorts = Vec::with_capacity(groups.len());
    for (key, (devices, payload)) in groups {
        let first = &scenario.devices[devices[0].0 as usize];
        let tz = first.tz;
        let calendar = calendars
            .entry((tz, key.region.0))
            .or_insert_with(|| {
                let windows = scenario.windows_for(first);
                Arc::new(calendar(windows, tz, assignment.span, step))
            })
            .clone();
        let profile = cohort_profile(&devices, profiles);
        let zone_price = first
            .zone
            .as_ref()
            .and_then(|z| scenario.pool(first.pool).zone_rates.get(z).copied());
        let placements = placements(scenario, &calendar, step, &profile, &payload);
        let no_placement = placements.is_empty().then(|| {
            let span = assignment.span;
            explain(scenario, first, &calendar, step, span, &profile, &payload)
        });
        cohorts.push(Cohort {
            key,
            devices,
            tz,
            payload,
            zone_price,
            profile,
            placements,
            no_placement,
        });
    }
    cohorts
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

/// The sampling step inside an occurrence: placements start a whole number of slots
/// after the occurrence opens, and each step holds at most one local hour boundary
/// (offsets are whole quarters of an hour), so the hours a window touches are the hours
/// of its steps' first and last instants.
fn step_minutes(slot_minutes: u32) -> u32 {
    let (mut a, mut b) = (slot_minutes.max(1), 15);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// One occurrence of a local window inside a span, with the local hours of week of its
/// steps (first and last instant of each).
#[derive(Debug, Clone)]
pub struct Occurrence {
    pub start: Instant,
    /// Per step from `start`: hour of week at the step's first and last second.
    steps: Vec<(u8, u8)>,
}

impl Occurrence {
    fn hours(&self, from: usize, to: usize, out: &mut Vec<usize>) {
        out.clear();
        for &(a, b) in &self.steps[from..to] {
            for h in [a as usize, b as usize] {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
    }
}

// Hours of week fit a u8 only up to 255; 168 do.
const _: () = assert!(HOURS_PER_WEEK <= 256);

fn calendar(ws: &WindowSet, tz: Tz, span: (Instant, Instant), step: u32) -> Vec<Occurrence> {
    let step_d = Duration::minutes(step as i64);
    ws.occurrences(tz, span.0, span.1)
        .into_iter()
        .map(|(start, end)| {
            let n = ((end - start).num_minutes() / step as i64).max(0) as usize;
            let steps = (0..n)
                .map(|k| {
                    let a = start + step_d * k as i32;
                    let b = a + step_d - Duration::seconds(1);
                    (hour_of_week(tz, a) as u8, hour_of_week(tz, b) as u8)
                })
                .collect();
            Occurrence { start, steps }
        })
        .collect()
}

/// Every window a whole number of slots long, starting a whole number of slots after an
/// occurrence opens, inside the occurrence, long enough for the payload at the lowest
/// throughput over the local hours it touches.
fn placements(
    scenario: &Scenario,
    calendar: &[Occurrence],
    step: u32,
    profile: &Profile,
    payload: &Payload,
) -> Vec<Placement> {
    let per_slot = (scenario.slot_minutes / step) as usize;
    let slot_h = scenario.slot_minutes as f64 / 60.0;
    let mut out = Vec::new();
    let mut hours = Vec::with_capacity(8);
    for occ in calendar {
        let q = occ.steps.len();
        let mut s0 = 0;
        while s0 + per_slot <= q {
            let mut k = 1;
            while s0 + k * per_slot <= q {
                occ.hours(s0, s0 + k * per_slot, &mut hours);
                let cond = conditions(profile, &hours);
                let need = transfer::payload_hours(
                    &scenario.artifacts,
                    &payload.steps,
                    cond.throughput_kbps,
                );
                if need <= k as f64 * slot_h + 1e-9 {
                    let start = occ.start + Duration::minutes((s0 as u32 * step) as i64);
                    out.push(Placement {
                        start,
                        end: start + Duration::minutes((k * per_slot) as i64 * step as i64),
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
                k = (k + 1).max((need / slot_h).ceil() as usize);
            }
            s0 += per_slot;
        }
    }
    out
}

/// A sentence a person can act on, for a cohort without any placement.
fn explain(
    scenario: &Scenario,
    device: &Device,
    calendar: &[Occurrence],
    step: u32,
    span: (Instant, Instant),
    profile: &Profile,
    payload: &Payload,
) -> String {
    let ws = scenario.windows_for(device);
    let wins: Vec<String> = ws.windows.iter().map(|w| w.to_string()).collect();
    let wins = wins.join(", ");
    let per_slot = (scenario.slot_minutes / step) as usize;
    let slot_h = scenario.slot_minutes as f64 / 60.0;
    let best = calendar
        .iter()
        .map(|o| o.steps.len() / per_slot.max(1))
        .max()
        .unwrap_or(0);
    if best == 0 {
        return format!(
            "window {wins} {} gives no whole {}-minute slot between {} and {}",
            device.tz.name(),
            scenario.slot_minutes,
            span.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            span.1.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    let hours: Vec<usize> = window_hours(ws);
    let c = conditions(profile, &hours);
    let need = transfer::payload_hours(&scenario.artifacts, &payload.steps, c.throughput_kbps);
    format!(
        "window {wins} {} gives at most {best} consecutive {}-minute slots ({:.1} h); a {} download of {:.1} MB ({}) needs {:.1} h at {:.0} kbps",
        device.tz.name(),
        scenario.slot_minutes,
        best as f64 * slot_h,
        radio_name(device.radio),
        payload.bytes.0 as f64 / 1e6,
        payload.steps.label(&scenario.artifacts),
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
