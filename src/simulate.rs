//! Monte Carlo replay of a written plan on the device-level coverage model: each run
//! draws, per device and local hour of its window, whether it is online, downloads at
//! the hour's throughput, drops at the hour's hazard (exponential), resumes or restarts,
//! and retries in the next placement of its local windows before the deadline. Every run
//! is priced by the planner's own accounting (`plan::evaluate::account`) — there is no
//! second pricing here. Pure apart from the rayon pool: no I/O, no clock.

use crate::coverage::{CoverageModel, Profile, hour_of_week};
use crate::domain::Scenario;
use crate::plan::evaluate::{self, Accounting, CostBreakdown, CycleUsage, Download, Spent};
use crate::plan::transfer::{PROTOCOL_OVERHEAD, RESUME_OVERHEAD_BYTES};
use crate::plan::{PlanRow, download_of, load_grid};
use crate::units::Instant;
use chrono::Duration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// What to simulate.
#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    pub runs: usize,
    pub seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("--runs must be at least 1")]
    NoRuns,
}

/// Mean and percentiles (nearest rank) of one quantity over the runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Stats {
    /// Stats of `v` (sorted here).
    pub fn of(mut v: Vec<f64>) -> Stats {
        if v.is_empty() {
            return Stats {
                mean: 0.0,
                p10: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
            };
        }
        v.sort_by(f64::total_cmp);
        // Offsets from the least value: identical runs give that value exactly.
        let lo = v[0];
        let mean = lo + v.iter().map(|x| x - lo).sum::<f64>() / v.len() as f64;
        Stats {
            mean,
            p10: quantile(&v, 0.1),
            p50: quantile(&v, 0.5),
            p90: quantile(&v, 0.9),
            p99: quantile(&v, 0.99),
        }
    }
}

/// Nearest-rank quantile of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleStats {
    pub start: Instant,
    pub end: Instant,
    pub allowance_mb: f64,
    pub baseline_mb: f64,
    /// Projected by the plan (its rows' expected bytes).
    pub projected_update_mb: f64,
    pub projected_overage_cost: f64,
    pub update_mb: Stats,
    pub overage_mb: Stats,
    pub overage_cost: Stats,
    pub zone_cost: Stats,
    /// The cycle's invoice: overage cost + zone cost, per run.
    pub invoice: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStats {
    pub pool_id: String,
    pub cycles: Vec<CycleStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionStats {
    pub region: String,
    pub capacity_mb_per_hour: f64,
    pub projected_peak_mb_per_hour: f64,
    pub peak_mb_per_hour: Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Completion {
    /// Mean share of scheduled devices on the release by the deadline.
    pub mean: f64,
    /// The share that 90% of runs reach or beat.
    pub p10: f64,
}

/// What `simulation.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    /// The plan replayed: [`crate::plan_folder::plan_digest`] of its folder, set by the front
    /// end that read the folder (the report ignores a simulation of another plan).
    pub plan: Option<String>,
    pub runs: usize,
    pub seed: u64,
    pub devices: usize,
    /// The plan's projected total cost (its rows priced by `account`).
    pub projected_total: f64,
    /// Total cost per run (overage, zone, congestion, realised risk, lateness).
    pub cost: Stats,
    pub overage: Stats,
    /// Cash per run: overage + zone (what the invoices add up to).
    pub spend: Stats,
    /// Mean of each cost component over the runs (risk is the realised failed attempts).
    pub mean_cost: CostBreakdown,
    /// The plan's projected components, for comparison.
    pub projected_cost: CostBreakdown,
    /// (simulated mean total − projected total) / projected total (0 when both are 0).
    pub projection_gap: f64,
    pub completion_rate: Completion,
    /// Download attempts per scheduled device, mean over runs.
    pub attempts_per_device: f64,
    /// Failed first attempts (in the plan's own window) per run, mean over runs, against
    /// the plan's Σ (1 − p_success): how well `p_success` is calibrated.
    pub failed_first_attempts: f64,
    pub projected_failed_first_attempts: f64,
    pub pools: Vec<PoolStats>,
    pub regions: Vec<RegionStats>,
    pub model_notes: Vec<String>,
}

/// One stretch of a window inside a single local hour of week.
#[derive(Debug, Clone, Copy)]
struct Segment {
    hours: f64,
    p_online: f64,
    bytes_per_hour: f64,
    drop_rate_per_hour: f64,
}

/// One window a device may download in: the plan's, or a retry.
#[derive(Debug, Clone)]
struct Window {
    start: Instant,
    end: Instant,
    segments: Vec<Segment>,
}

/// A plan row made ready to replay.
#[derive(Debug, Clone)]
struct DeviceSim {
    /// Sizes and resumability of the payload's artifacts, in download order.
    artifacts: Vec<(f64, bool)>,
    /// The plan's window first, then every retry window before the deadline.
    windows: Vec<Window>,
    base: Download,
}

/// `[from, to)` split into stretches of one local hour each, with the profile's stats.
fn segments(profile: &Profile, tz: chrono_tz::Tz, from: Instant, to: Instant) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(4);
    let mut last = usize::MAX;
    let mut t = from;
    while t < to {
        // Every UTC offset is a multiple of 15 minutes: local hours change on quarters.
        let q = 15 * 60;
        let secs = t.timestamp();
        let next = Instant::from_timestamp(secs - secs.rem_euclid(q) + q, 0)
            .unwrap_or(to)
            .min(to);
        let h = hour_of_week(tz, t);
        let hours = (next - t).num_milliseconds() as f64 / 3.6e6;
        match out.last_mut() {
            Some(seg) if h == last => seg.hours += hours,
            _ => {
                let st = profile[h];
                out.push(Segment {
                    hours,
                    p_online: st.p_online.clamp(0.0, 1.0),
                    bytes_per_hour: st.throughput_kbps.max(0.0) * 1000.0 / 8.0 * 3600.0,
                    drop_rate_per_hour: st.drop_rate_per_hour.max(0.0),
                });
            }
        }
        last = h;
        t = next;
    }
    out
}

/// The next placement of the device's local windows after `[start, end)`: the same
/// local time a day later when that is allowed, else the first slot-aligned start after
/// the current window occurrence that holds the whole length; `None` past the deadline.
fn next_window(
    s: &Scenario,
    ws: &crate::windows::WindowSet,
    tz: chrono_tz::Tz,
    start: Instant,
    end: Instant,
) -> Option<(Instant, Instant)> {
    let len = end - start;
    let day = start + Duration::hours(24);
    if day + len <= s.deadline && ws.contains_interval(tz, day, day + len) {
        return Some((day, day + len));
    }
    let slot = Duration::minutes(s.slot_minutes as i64);
    let mut cand = end;
    while cand + len <= s.deadline {
        // Still the same occurrence of the window when it runs on without a gap.
        let same = ws.contains_interval(tz, start, cand + len);
        if !same && ws.contains_interval(tz, cand, cand + len) {
            return Some((cand, cand + len));
        }
        cand += slot;
    }
    None
}

fn prepare(s: &Scenario, coverage: &CoverageModel, rows: &[PlanRow]) -> Vec<DeviceSim> {
    rows.par_iter()
        .map(|r| {
            let d = &s.devices[r.device.0 as usize];
            let artifacts = r
                .payload
                .iter()
                .map(|&i| (s.artifacts[i].size.0 as f64, s.artifacts[i].resumable))
                .collect();
            let (profile, _) = coverage.for_device(d, &s.region(d.region).name);
            let ws = s.windows_for(d);
            let mut windows = vec![Window {
                start: r.window_start,
                end: r.window_end,
                segments: segments(profile, d.tz, r.window_start, r.window_end),
            }];
            let (mut a, mut b) = (r.window_start, r.window_end);
            while let Some((na, nb)) = next_window(s, ws, d.tz, a, b) {
                windows.push(Window {
                    start: na,
                    end: nb,
                    segments: segments(profile, d.tz, na, nb),
                });
                (a, b) = (na, nb);
            }
            DeviceSim {
                artifacts,
                windows,
                base: download_of(s, r),
            }
        })
        .collect()
}

/// Where a device's download stands between attempts.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Artifact being downloaded.
    artifact: usize,
    /// Bytes of it received and kept.
    have: f64,
}

/// One attempt in one window: the bytes it put on the wire (protocol overhead included)
/// and whether the payload is complete at its end. Bytes are billed when they move: a
/// resumable artifact's kept part is not billed again when it completes.
fn attempt(dev: &DeviceSim, w: &Window, p: &mut Progress, rng: &mut ChaCha8Rng) -> (f64, bool) {
    let n = dev.artifacts.len();
    let mut wire = 0.0;
    // Bytes moved for the current artifact in this attempt (added to `wire` per
    // artifact, so that a clean pass bills exactly what the plan priced).
    let mut moved = 0.0;
    let mut connected = false;
    for seg in &w.segments {
        if p.artifact >= n {
            break;
        }
        let online = seg.p_online >= 1.0 || rng.random::<f64>() < seg.p_online;
        if !online {
            // The session ends: a non-resumable artifact starts over.
            if !dev.artifacts[p.artifact].1 {
                p.have = 0.0;
            }
            connected = false;
            continue;
        }
        if !connected && p.have > 0.0 {
            // Resuming a partly received resumable artifact.
            moved += RESUME_OVERHEAD_BYTES;
        }
        connected = true;
        let mut t = seg.hours;
        while t > 0.0 && p.artifact < n && seg.bytes_per_hour > 0.0 {
            let (size, resumable) = dev.artifacts[p.artifact];
            let need = (size - p.have) / seg.bytes_per_hour;
            let to_drop = if seg.drop_rate_per_hour > 0.0 {
                -(1.0 - rng.random::<f64>()).ln() / seg.drop_rate_per_hour
            } else {
                f64::INFINITY
            };
            if need <= t && need <= to_drop {
                moved += size - p.have;
                wire += moved * (1.0 + PROTOCOL_OVERHEAD);
                moved = 0.0;
                t -= need;
                p.artifact += 1;
                p.have = 0.0;
            } else if to_drop < t {
                let got = to_drop * seg.bytes_per_hour;
                t -= to_drop;
                moved += got;
                if resumable {
                    p.have += got;
                    moved += RESUME_OVERHEAD_BYTES;
                } else {
                    p.have = 0.0;
                }
            } else {
                let got = t * seg.bytes_per_hour;
                moved += got;
                p.have += got;
                t = 0.0;
            }
        }
    }
    // The window closes: a non-resumable partial download is lost.
    if p.artifact < n {
        if !dev.artifacts[p.artifact].1 {
            p.have = 0.0;
        }
        wire += moved * (1.0 + PROTOCOL_OVERHEAD);
    }
    (wire, p.artifact >= n)
}

/// What one run gives: its accounting, devices completed, attempts made and first
/// attempts failed.
type RunResult = (Accounting, usize, usize, usize);

/// One run: every device's attempts, priced by the planner's accounting. Returns the
/// accounting, the devices completed and the attempts made.
fn run_once(devs: &[DeviceSim], s: &Scenario, spent: &[Spent], seed: u64, run: u64) -> RunResult {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(run);
    let mut downloads = Vec::with_capacity(devs.len() + devs.len() / 4);
    let mut completed = 0;
    let mut attempts = 0;
    let mut failed_first = 0;
    for dev in devs {
        let mut p = Progress::default();
        for (k, w) in dev.windows.iter().enumerate() {
            let (wire, done) = attempt(dev, w, &mut p, &mut rng);
            let last = done || k + 1 == dev.windows.len();
            attempts += 1;
            if k == 0 && !done {
                failed_first += 1;
            }
            downloads.push(Download {
                expected_bytes: wire.ceil() as u64,
                window_start: w.start,
                window_end: w.end,
                // Risk, as the contract defines it, is the failure of the planned attempt;
                // a retry's bytes and lateness are paid, its own failure is only counted
                // in the attempt statistics.
                p_success: if done || k > 0 { 1.0 } else { 0.0 },
                counts_lateness: last,
                ..dev.base.clone()
            });
            if done {
                completed += 1;
                break;
            }
        }
    }
    (
        evaluate::account(s, &downloads, spent, load_grid(s)),
        completed,
        attempts,
        failed_first,
    )
}

/// Replays `rows` `opts.runs` times; `tick` is called once per finished run. `spent` is
/// what the plan charged before its first window (a re-plan's `spent.csv`): every run
/// and the projection pay it exactly as the plan does.
pub fn simulate(
    s: &Scenario,
    coverage: &CoverageModel,
    rows: &[PlanRow],
    spent: &[Spent],
    opts: SimOptions,
    tick: &(dyn Fn() + Sync),
) -> Result<Simulation, SimError> {
    if opts.runs == 0 {
        return Err(SimError::NoRuns);
    }
    let devs = prepare(s, coverage, rows);
    let projected = evaluate::account(
        s,
        &rows.iter().map(|r| download_of(s, r)).collect::<Vec<_>>(),
        spent,
        load_grid(s),
    );
    let results: Vec<RunResult> = (0..opts.runs as u64)
        .into_par_iter()
        .map(|run| {
            let r = run_once(&devs, s, spent, opts.seed, run);
            tick();
            r
        })
        .collect();
    Ok(summarise(rows, opts, &projected, &results))
}

/// Stats of one accounting figure over the runs.
fn col(results: &[RunResult], f: impl Fn(&Accounting) -> f64) -> Stats {
    Stats::of(results.iter().map(|r| f(&r.0)).collect())
}

/// The runs against the plan's projection: what `simulation.json` holds.
fn summarise(
    rows: &[PlanRow],
    opts: SimOptions,
    projected: &Accounting,
    results: &[RunResult],
) -> Simulation {
    let n = rows.len().max(1) as f64;
    let cost = col(results, |a| a.cost.total);
    let overage = col(results, |a| a.cost.overage);
    let mut rates: Vec<f64> = results.iter().map(|r| r.1 as f64 / n).collect();
    rates.sort_by(f64::total_cmp);
    let completion_rate = Completion {
        mean: Stats::of(rates.clone()).mean,
        p10: quantile(&rates, 0.1),
    };
    let attempts_per_device =
        results.iter().map(|r| r.2 as f64).sum::<f64>() / (opts.runs as f64 * n);
    let mean_cost = CostBreakdown {
        total: cost.mean,
        overage: overage.mean,
        zone: col(results, |a| a.cost.zone).mean,
        congestion: col(results, |a| a.cost.congestion).mean,
        risk: col(results, |a| a.cost.risk).mean,
        lateness: col(results, |a| a.cost.lateness).mean,
    };
    let projected_total = projected.cost.total;
    Simulation {
        plan: None,
        runs: opts.runs,
        seed: opts.seed,
        devices: rows.len(),
        projected_total,
        projection_gap: projection_gap(cost.mean, projected_total),
        cost,
        overage,
        spend: col(results, |a| a.cost.overage + a.cost.zone),
        mean_cost,
        projected_cost: projected.cost.clone(),
        completion_rate,
        attempts_per_device,
        failed_first_attempts: Stats::of(results.iter().map(|r| r.3 as f64).collect()).mean,
        projected_failed_first_attempts: rows.iter().map(|r| 1.0 - r.p_success).sum(),
        pools: pool_stats(projected, results),
        regions: region_stats(projected, results),
        model_notes: model_notes(),
    }
}

/// (simulated mean total − projected total) / projected total; 0 when the projection
/// is 0.
fn projection_gap(mean: f64, projected: f64) -> f64 {
    if projected.abs() > 1e-12 {
        let gap = (mean - projected) / projected;
        if gap.is_finite() { gap } else { 0.0 }
    } else {
        0.0
    }
}

/// Every pool cycle's projection beside its simulated usage and invoice.
fn pool_stats(projected: &Accounting, results: &[RunResult]) -> Vec<PoolStats> {
    projected
        .pools
        .iter()
        .enumerate()
        .map(|(pi, p)| PoolStats {
            pool_id: p.pool_id.clone(),
            cycles: p
                .cycles
                .iter()
                .enumerate()
                .map(|(ci, c)| {
                    let of =
                        |f: fn(&CycleUsage) -> f64| col(results, |a| f(&a.pools[pi].cycles[ci]));
                    CycleStats {
                        start: c.start,
                        end: c.end,
                        allowance_mb: c.allowance_mb,
                        baseline_mb: c.baseline_mb,
                        projected_update_mb: c.update_mb,
                        projected_overage_cost: c.overage_cost,
                        update_mb: of(|c| c.update_mb),
                        overage_mb: of(|c| c.overage_mb),
                        overage_cost: of(|c| c.overage_cost),
                        zone_cost: of(|c| c.zone_cost),
                        invoice: of(|c| c.overage_cost + c.zone_cost),
                    }
                })
                .collect(),
        })
        .collect()
}

/// Every region's projected peak load beside its simulated peaks.
fn region_stats(projected: &Accounting, results: &[RunResult]) -> Vec<RegionStats> {
    projected
        .regions
        .iter()
        .enumerate()
        .map(|(ri, r)| RegionStats {
            region: r.region.clone(),
            capacity_mb_per_hour: r.capacity_mb_per_hour,
            projected_peak_mb_per_hour: r.peak_mb_per_hour,
            peak_mb_per_hour: col(results, |a| a.regions[ri].peak_mb_per_hour),
        })
        .collect()
}

/// What the replay assumes, in words (written into `simulation.json`).
fn model_notes() -> Vec<String> {
    vec![
        "each device is online in each local hour of its window with that hour's p_online (one draw per hour), downloads at that hour's throughput_kbps and drops at its drop_rate_per_hour (exponential)".into(),
        format!(
            "a resumable artifact resumes after a drop or an offline hour, paying {RESUME_OVERHEAD_BYTES} bytes per resume; a non-resumable one starts over (the lost bytes are billed); every byte carries {PROTOCOL_OVERHEAD} protocol overhead"
        ),
        "a device that fails retries in the next placement of its local windows (the same local time a day later when allowed) before the deadline; retries are not confined to the wave's span".into(),
        "each run is priced by plan::evaluate::account with one download per attempt: its bytes and its window; risk counts the planned attempt when it failed (the contract's definition, Σ (1 − p_success) over planned downloads), retries add their bytes and lateness; lateness counts each device once, to the start of its last attempt".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: &[f64], q: f64, expected: f64) {
        assert_eq!(quantile(v, q), expected);
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        check(&v, 0.5, 5.0);
        check(&v, 0.9, 9.0);
        check(&v, 0.99, 10.0);
        check(&v, 0.1, 1.0);
        check(&[3.0], 0.99, 3.0);
    }
}
