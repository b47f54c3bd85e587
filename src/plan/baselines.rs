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
//! Each device downloads the same payload the planner would choose for it. Like for like
//! with the plan: every baseline covers the devices the plan is judged on (every device
//! needing the release); its bytes are billed in whatever cycle they fall, after the
//! deadline too (`evaluate::account` lists those cycles); a `pause`/`throttle` pool is
//! never pushed past its cap — a download that would is paused until the reset and
//! starts then ([`Caps`]); and a device a baseline or the plan does not update is priced
//! at the same stated penalty ([`Comparison`]). Pure.

use super::evaluate::{self, CostBreakdown, Download};
use super::prepare::{Grid, conditions, hours_touched, window_hours};
use super::transfer;
use crate::billing;
use crate::coverage::{KeyLevel, Profile};
use crate::domain::Scenario;
use crate::payload::{Payload, VersionGraph};
use crate::units::Instant;
use crate::windows::{LocalWindow, WindowSet};
use chrono::Duration;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::sync::Arc;

/// The UTC maintenance window of the `rate-limited` baseline.
pub const MAINTENANCE_WINDOW_UTC: &str = "01:00-05:00";
/// Notifications in the first minute of the ramp; the rate doubles every minute.
pub const RAMP_START_PER_MINUTE: f64 = 50.0;

/// What the baselines are compared with: the plan's spend and total cost, each device
/// it leaves out (needing the release, not scheduled) priced at a penalty that is more
/// than updating it could cost — so leaving devices out never shows as a saving. A
/// baseline that cannot update a device pays the same penalty.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub rule: String,
    /// Devices needing the release that the plan leaves out.
    pub devices_not_updated: usize,
    /// The largest expected MB of any candidate placement × the highest price per MB of
    /// any pool (overage tier or zone rate): more than any device's download can add to
    /// spend.
    pub spend_per_device_not_updated: f64,
    /// The model's penalty for a device left out (`1 + 2 × (largest MB × (highest price +
    /// congestion per MB) + risk weight + horizon days × lateness weight)`): more than
    /// any placement can cost.
    pub total_per_device_not_updated: f64,
    /// The plan's spend (overage + zone) + devices not updated × their spend penalty.
    pub plan_spend: f64,
    /// The plan's total cost + devices not updated × their total penalty.
    pub plan_total: f64,
}

impl Comparison {
    /// The plan of `cost` leaving `not_updated` devices out, each priced at `spend_per`
    /// and `total_per` (see [`spend_per_device`] and the model's unplaced penalty).
    pub fn new(
        cost: &CostBreakdown,
        not_updated: usize,
        spend_per: f64,
        total_per: f64,
    ) -> Comparison {
        let total_per = total_per.max(spend_per);
        Comparison {
            rule: "devices the plan leaves out are priced at spend_per_device_not_updated (spend) and total_per_device_not_updated (total), each more than updating one could cost; a baseline pays the same for a device it cannot update".into(),
            devices_not_updated: not_updated,
            spend_per_device_not_updated: spend_per,
            total_per_device_not_updated: total_per,
            plan_spend: cost.overage + cost.zone + not_updated as f64 * spend_per,
            plan_total: cost.total + not_updated as f64 * total_per,
        }
    }

    /// Sentences for `model_notes` explaining every negative saving.
    pub fn notes(&self, baselines: &[BaselineReport]) -> Vec<String> {
        let mut out = Vec::new();
        for b in baselines {
            if b.saving_total < 0.0 {
                out.push(format!(
                    "saving_total against {} is negative ({:.2}): {}",
                    b.name,
                    b.saving_total,
                    if self.devices_not_updated > b.devices_not_updated {
                        format!(
                            "the plan leaves {} devices out, each priced at {:.2} so that leaving devices out never shows as a saving",
                            self.devices_not_updated, self.total_per_device_not_updated
                        )
                    } else {
                        "the solver stopped before it found a plan as cheap (see lp.status and lp.rounding_gap)".to_string()
                    }
                ));
            }
            if b.saving_spend < 0.0 {
                out.push(format!(
                    "saving_spend against {} is negative ({:.2}): the plan minimises total cost, so it pays more overage and roaming where that saves more in congestion, failure risk or lateness{}",
                    b.name,
                    b.saving_spend,
                    if self.devices_not_updated > 0 {
                        format!(
                            ", and its {} devices left out are priced at {:.2} spend each",
                            self.devices_not_updated, self.spend_per_device_not_updated
                        )
                    } else {
                        String::new()
                    }
                ));
            }
        }
        out
    }
}

/// The spend penalty of a device not updated: the largest expected MB of any candidate
/// placement × the highest price per MB of any pool (overage tier or zone rate) — more
/// than any one download can add to spend.
pub fn spend_per_device(s: &Scenario, max_mb: f64) -> f64 {
    max_mb * s.max_price_per_mb()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineReport {
    pub name: String,
    pub description: String,
    /// Its downloads priced by the plan's accounting.
    pub cost: CostBreakdown,
    /// Overage + zone, with its devices not updated at the comparison's spend penalty.
    pub spend: f64,
    /// `cost.total`, with its devices not updated at the comparison's total penalty.
    pub total: f64,
    /// The largest regional load in any hour (MB/h), over all regions.
    pub peak_mb_per_hour: f64,
    /// The region where that peak happens.
    pub peak_region: String,
    /// Devices whose download ends by the deadline.
    pub finished_by_deadline: usize,
    /// Devices it covers: every device needing the release (the plan's too).
    pub devices: usize,
    /// Devices it does not update within 60 days after the deadline.
    pub devices_not_updated: usize,
    /// Downloads paused at a pause/throttle cap until the next reset.
    pub paused_at_cap: usize,
    /// `spend` − the comparison's `plan_spend` (positive = the plan spends less).
    pub saving_spend: f64,
    /// `total` − the comparison's `plan_total` (positive = the plan costs less).
    pub saving_total: f64,
}

/// Everything a baseline needs about one device.
#[derive(Clone, Copy)]
pub(super) struct Dev<'a> {
    pub idx: usize,
    pub payload: &'a Payload,
    pub profile: &'a Profile,
}

/// Use of each `pause`/`throttle` pool per billing cycle while a baseline's downloads
/// are admitted in start order: a download that would push its pool past `cap_mb` (no
/// headroom: this is what the carrier does, not what a planner should) waits for the
/// reset — the SIM is paused (a throttled one is treated alike: at ~100 kb/s an image
/// waits in practice) — and is tried again then.
#[derive(Default)]
struct Caps {
    used: FxHashMap<(usize, Instant), f64>,
    /// Per pool, the last billing cycle a download fell in (`[start, next)`): downloads
    /// come in start order, so most fall in the same one and skip the calendar.
    cycle: FxHashMap<usize, (Instant, Instant)>,
    paused: usize,
}

/// Baselines never start a download later than this after the deadline.
const LATEST_DAYS_AFTER_DEADLINE: i64 = 60;

impl Caps {
    /// The download `d` really makes, first asked for at `dl`; `relocate` says when the
    /// baseline would start it again from an instant (the reset). `None`: not within 60
    /// days after the deadline.
    fn admit(
        &mut self,
        s: &Scenario,
        d: &Dev<'_>,
        mut dl: Download,
        relocate: &dyn Fn(&Dev<'_>, Instant) -> Option<Instant>,
    ) -> Option<Download> {
        let pool = s.pool(dl.pool);
        let (true, Some(cap), None) = (pool.on_cap.is_hard(), pool.cap, dl.zone_price) else {
            return Some(dl);
        };
        let limit = s.deadline + Duration::days(LATEST_DAYS_AFTER_DEADLINE);
        let mb = dl.expected_bytes as f64 / 1e6;
        let mut moved = false;
        loop {
            let (start, next) = match self.cycle.get(&(dl.pool.0 as usize)) {
                Some(&(a, b)) if a <= dl.window_start && dl.window_start < b => (a, b),
                _ => {
                    let a = billing::cycle_start_containing(pool, dl.window_start);
                    let b = billing::next_cycle_start(pool, a);
                    self.cycle.insert(dl.pool.0 as usize, (a, b));
                    (a, b)
                }
            };
            let used = self
                .used
                .entry((dl.pool.0 as usize, start))
                .or_insert_with(|| cycle_baseline(s, pool, start, next));
            if *used + mb <= cap.0 {
                *used += mb;
                self.paused += usize::from(moved);
                return Some(dl);
            }
            let at = relocate(d, next).filter(|&t| t < limit && t > dl.window_start)?;
            dl = download_at(s, d, at);
            moved = true;
        }
    }
}

/// Forecast non-update use of the cycle `[start, end)`, as `billing::cycles` lists it.
fn cycle_baseline(s: &Scenario, pool: &crate::domain::Pool, start: Instant, end: Instant) -> f64 {
    if start <= s.start {
        pool.used.0 + pool.baseline_per_day.0 * billing::days(s.start, end)
    } else {
        pool.baseline_per_day.0 * billing::days(start, end)
    }
}

/// A download of `d` starting at `t`: its window lasts as long as the payload needs at
/// the lowest throughput over the hours it touches.
pub(super) fn download_at(s: &Scenario, d: &Dev<'_>, t: Instant) -> Download {
    download_of(s, d, t, transfer_at(s, d, t))
}

/// What a download started at `t` takes; the same for every device of one payload,
/// coverage profile and time zone.
#[derive(Clone, Copy)]
struct Transfer {
    end: Instant,
    expected_bytes: u64,
    p_success: f64,
}

fn transfer_at(s: &Scenario, d: &Dev<'_>, t: Instant) -> Transfer {
    let tz = s.devices[d.idx].tz;
    let mut end = t + Duration::seconds(1);
    // Three refinements at most; a window that no longer changes stays as it is.
    for _ in 0..3 {
        let c = conditions(d.profile, &hours_touched(tz, t, end));
        let secs = (transfer::payload_hours(&s.artifacts, &d.payload.steps, c.throughput_kbps)
            * 3600.0)
            .ceil();
        let next = t + Duration::seconds(secs.max(1.0) as i64);
        if next == end {
            break;
        }
        end = next;
    }
    let c = conditions(d.profile, &hours_touched(tz, t, end));
    let expected = transfer::expected_payload_bytes(&s.artifacts, &d.payload.steps, &c);
    Transfer {
        end,
        expected_bytes: (expected.ceil() as u64).max(d.payload.bytes.0),
        p_success: transfer::p_success(&s.artifacts, &d.payload.steps, &c),
    }
}

fn download_of(s: &Scenario, d: &Dev<'_>, t: Instant, x: Transfer) -> Download {
    let dev = &s.devices[d.idx];
    Download {
        pool: dev.pool,
        region: dev.region,
        zone_price: evaluate::zone_price(s, dev),
        expected_bytes: x.expected_bytes,
        window_start: t,
        window_end: x.end,
        p_success: x.p_success,
        counts_lateness: true,
    }
}

/// [`download_at`] for every device of `devs` that starts (`at[j]`), with its index:
/// each distinct (payload, coverage profile, time zone, start) is worked out once — a
/// baseline starts whole groups of like devices at one instant, so a fleet has far
/// fewer of those than devices.
fn downloads_at(s: &Scenario, devs: &[Dev<'_>], at: &[Option<Instant>]) -> Vec<(usize, Download)> {
    type Key<'k> = (&'k [usize], *const Profile, chrono_tz::Tz, Instant);
    // Sized for the worst case (every start distinct, as the rate-limited baseline's
    // are): growing it from empty rehashed a million keys several times.
    let mut distinct: FxHashMap<Key<'_>, usize> =
        FxHashMap::with_capacity_and_hasher(devs.len(), Default::default());
    let mut first: Vec<(usize, Instant)> = Vec::new();
    let which: Vec<Option<usize>> = devs
        .iter()
        .zip(at)
        .enumerate()
        .map(|(j, (d, t))| {
            let t = (*t)?;
            let key = (
                d.payload.steps.as_slice(),
                std::ptr::from_ref(d.profile),
                s.devices[d.idx].tz,
                t,
            );
            Some(*distinct.entry(key).or_insert_with(|| {
                first.push((j, t));
                first.len() - 1
            }))
        })
        .collect();
    let transfers: Vec<Transfer> = first
        .par_iter()
        .map(|&(j, t)| transfer_at(s, &devs[j], t))
        .collect();
    which
        .iter()
        .zip(at)
        .enumerate()
        .filter_map(|(j, (k, t))| Some((j, download_of(s, &devs[j], (*t)?, transfers[(*k)?]))))
        .collect()
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
    let mut cache: FxHashMap<(&str, *const Profile, u32), Option<Payload>> = FxHashMap::default();
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

/// A baseline run priced by the one accounting, before it is compared with the plan.
pub struct Priced {
    name: &'static str,
    description: String,
    cost: CostBreakdown,
    peak_mb_per_hour: f64,
    peak_region: String,
    finished_by_deadline: usize,
    devices: usize,
    not_updated: usize,
    paused: usize,
}

fn priced(s: &Scenario, name: &'static str, description: String, run: Run) -> Priced {
    let acc = evaluate::account(s, &run.downloads, &[], super::load_grid(s));
    let (peak, region) = acc
        .regions
        .iter()
        .map(|r| (r.peak_mb_per_hour, r.region.clone()))
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a });
    Priced {
        name,
        description,
        cost: acc.cost,
        peak_mb_per_hour: peak,
        peak_region: region,
        finished_by_deadline: run
            .downloads
            .iter()
            .filter(|d| d.window_end <= s.deadline)
            .count(),
        devices: run.downloads.len() + run.not_updated,
        not_updated: run.not_updated,
        paused: run.paused,
    }
}

impl Priced {
    /// The baseline's figures beside the plan's: devices it does not update priced as
    /// `cmp` prices the plan's left-out ones, savings as differences of the two.
    pub fn compare(self, cmp: &Comparison) -> BaselineReport {
        let missing = self.not_updated as f64;
        let spend = self.cost.overage + self.cost.zone + missing * cmp.spend_per_device_not_updated;
        let total = self.cost.total + missing * cmp.total_per_device_not_updated;
        BaselineReport {
            name: self.name.to_string(),
            description: self.description,
            spend,
            total,
            saving_spend: spend - cmp.plan_spend,
            saving_total: total - cmp.plan_total,
            cost: self.cost,
            peak_mb_per_hour: self.peak_mb_per_hour,
            peak_region: self.peak_region,
            finished_by_deadline: self.finished_by_deadline,
            devices: self.devices,
            devices_not_updated: self.not_updated,
            paused_at_cap: self.paused,
        }
    }
}

fn gate(s: &Scenario, wave: usize, downloads: &[Download]) -> Option<Instant> {
    let end = downloads.iter().map(|d| d.window_end).max()?;
    Some(end + Duration::milliseconds((s.waves[wave].soak_hours * 3_600_000.0).round() as i64))
}

/// A baseline's downloads, and the devices it could not update.
struct Run {
    downloads: Vec<Download>,
    not_updated: usize,
    paused: usize,
}

/// When a baseline starts each device of a group, given the earliest instant the group
/// may start (`None`: never within 60 days after the deadline).
type Starts<'r> = dyn Fn(&[Dev<'_>], Instant) -> Vec<Option<Instant>> + 'r;
/// When a baseline starts a device again from an instant (a cap's reset).
type Relocate<'r> = dyn Fn(&Dev<'_>, Instant) -> Option<Instant> + Sync + 'r;

/// Runs a baseline group after group: each device starts when `starts` says, downloads
/// are admitted under the pools' caps in start order, and with `gated` each group starts
/// after the previous one's gate (its last download's end plus its wave's soak).
fn run(
    s: &Scenario,
    groups: &[Vec<Dev<'_>>],
    gated: bool,
    starts: &Starts<'_>,
    relocate: &Relocate<'_>,
) -> Run {
    let mut caps = Caps::default();
    let mut out = Run {
        downloads: Vec::new(),
        not_updated: 0,
        paused: 0,
    };
    let mut earliest = s.start;
    for (w, devs) in groups.iter().enumerate() {
        let at = starts(devs, earliest);
        let mut asked = downloads_at(s, devs, &at);
        out.not_updated += at.iter().filter(|t| t.is_none()).count();
        // (start, index) is unique: an unstable sort gives the one order.
        asked.sort_unstable_by_key(|(j, d)| (d.window_start, *j));
        let mut admitted = Vec::with_capacity(asked.len());
        for (j, d) in asked {
            match caps.admit(s, &devs[j], d, relocate) {
                Some(d) => admitted.push(d),
                None => out.not_updated += 1,
            }
        }
        if gated && let Some(g) = gate(s, w, &admitted) {
            earliest = earliest.max(g);
        }
        out.downloads.extend(admitted);
    }
    out.paused = caps.paused;
    out
}

/// All three baselines, priced (compare each with the plan by [`Priced::compare`]).
pub fn price(
    s: &Scenario,
    profiles: &[(Arc<Profile>, KeyLevel)],
    wave_of: &[Option<usize>],
    rank: &[u32],
) -> Vec<Priced> {
    let payloads = payloads(s, profiles);
    let by_wave = devices_by_wave(s, profiles, &payloads, wave_of, rank);
    // Independent of each other: priced side by side.
    let (push, (rate, local)) = rayon::join(
        || global_push(s, &by_wave),
        || rayon::join(|| rate_limited(s, &by_wave), || local_off_peak(s, &by_wave)),
    );
    vec![push, rate, local]
}

fn global_push(s: &Scenario, by_wave: &[Vec<Dev<'_>>]) -> Priced {
    let all: Vec<Dev<'_>> = by_wave.iter().flatten().copied().collect();
    let r = run(
        s,
        &[all],
        false,
        &|devs, _| vec![Some(s.start); devs.len()],
        &|_, t| Some(t),
    );
    priced(
        s,
        "global-push",
        "every device downloads at start, ignoring waves, windows and pools (a paused SIM downloads at its reset)".into(),
        r,
    )
}

fn rate_limited(s: &Scenario, by_wave: &[Vec<Dev<'_>>]) -> Priced {
    let maint = WindowSet::new(
        LocalWindow::parse(MAINTENANCE_WINDOW_UTC)
            .into_iter()
            .collect(),
    );
    let utc: chrono_tz::Tz = chrono_tz::UTC;
    let limit = s.deadline + Duration::days(LATEST_DAYS_AFTER_DEADLINE);
    // Walk minute by minute through the maintenance windows from the group's start.
    let starts = |devs: &[Dev<'_>], from: Instant| {
        let mut starts = vec![None; devs.len()];
        let mut t = from;
        let mut minute = 0u32;
        let mut next = 0usize;
        while next < devs.len() && t < limit {
            if maint.contains_interval(utc, t, t + Duration::minutes(1)) {
                let rate = RAMP_START_PER_MINUTE * 2f64.powi(minute.min(30) as i32);
                let n = (rate as usize).min(devs.len() - next);
                for (j, at) in starts[next..next + n].iter_mut().enumerate() {
                    // Spread the minute's notifications evenly over it.
                    *at = Some(t + Duration::milliseconds((60_000.0 * j as f64 / n as f64) as i64));
                }
                next += n;
                minute += 1;
            }
            t += Duration::minutes(1);
        }
        starts
    };
    let r = run(s, by_wave, true, &starts, &|_, t| Some(t));
    priced(
        s,
        "rate-limited",
        format!(
            "notifications ramp from {RAMP_START_PER_MINUTE}/min, doubling every minute, inside the maintenance window {MAINTENANCE_WINDOW_UTC} UTC; waves in order after each gate (a paused SIM downloads at its reset)"
        ),
        r,
    )
}

fn local_off_peak(s: &Scenario, by_wave: &[Vec<Dev<'_>>]) -> Priced {
    let grid = Grid::new(
        s.start,
        s.deadline + Duration::days(LATEST_DAYS_AFTER_DEADLINE),
        15,
    );
    // Allowed slots per (time zone, region), computed once.
    let mut allowed: FxHashMap<(chrono_tz::Tz, u32), Vec<bool>> = FxHashMap::default();
    for d in by_wave.iter().flatten() {
        let dev = &s.devices[d.idx];
        allowed.entry((dev.tz, dev.region.0)).or_insert_with(|| {
            let ws = s.windows_for(dev);
            (0..grid.n)
                .map(|k| ws.contains_interval(dev.tz, grid.slot_start(k), grid.slot_end(k)))
                .collect()
        });
    }
    // A device's first window at or after `t`.
    let first = |d: &Dev<'_>, t: Instant| {
        let dev = &s.devices[d.idx];
        let from = grid.slot_of(t) + usize::from(grid.slot_start(grid.slot_of(t)) < t);
        let ok = &allowed[&(dev.tz, dev.region.0)];
        (from..grid.n).find(|&k| ok[k]).map(|k| grid.slot_start(k))
    };
    let starts = |devs: &[Dev<'_>], from: Instant| devs.iter().map(|d| first(d, from)).collect();
    let r = run(s, by_wave, true, &starts, &first);
    priced(
        s,
        "local-off-peak",
        "every device starts at the beginning of its first local window, first come first served; waves in order after each gate (a paused SIM starts in its first window after the reset)".into(),
        r,
    )
}
