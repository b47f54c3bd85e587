//! The planner: from a validated scenario and a coverage model to one download window
//! per device. Steps: assign waves and spans, prepare cohorts and placements, build the
//! LP, solve it with HiGHS, round to whole devices, give each device its window, and
//! account the result from its rows. Pure apart from the solver call; no file I/O.

pub mod baselines;
pub mod evaluate;
pub mod lp;
pub mod model;
pub mod prepare;
pub mod round;
pub mod solve;
pub mod transfer;
pub mod waves;

use crate::coverage::CoverageModel;
use crate::domain::{DeviceIdx, PoolId, Scenario};
use crate::units::Instant;
use evaluate::{Accounting, Download, LoadGrid};
use prepare::{Assignment, Grid, Prepared};
use serde::Serialize;
use std::time::Instant as Clock;

pub use solve::{SolveError, SolveOptions, Status};

/// Where a device stands when a paused rollout is re-planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// On the release: not planned again.
    Done,
    /// Its download failed: planned again; the failed attempt's bytes are paid.
    Failed,
    /// Downloading now: not planned again; its bytes so far are counted.
    InProgress,
    /// Not started: planned.
    Pending,
}

impl DeviceState {
    pub fn parse(s: &str) -> Option<DeviceState> {
        match s {
            "done" => Some(DeviceState::Done),
            "failed" => Some(DeviceState::Failed),
            "in_progress" => Some(DeviceState::InProgress),
            "pending" => Some(DeviceState::Pending),
            _ => None,
        }
    }
}

/// One row of `progress.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub device: DeviceIdx,
    pub state: DeviceState,
    pub bytes_used: u64,
    /// When those bytes were used (their billing cycle); `None` = just before `now`.
    pub at: Option<Instant>,
    /// Row in progress.csv (for messages).
    pub row: usize,
}

/// Re-planning the rest of a paused rollout.
#[derive(Debug, Clone)]
pub struct Replan {
    /// The horizon starts here: no window starts before it.
    pub now: Instant,
    pub progress: Vec<Progress>,
    /// The gates of the original plan, kept by waves that are finished.
    pub original_gates: Vec<Option<Instant>>,
}

/// Options of one planning run.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub solve: SolveOptions,
    /// Keep the LP of every wave (for `--export-model`).
    pub keep_models: bool,
    /// Skip pricing the baselines (global push, rate-limited, local off-peak).
    pub skip_baselines: bool,
    /// Re-plan from `now` given progress (None = a fresh plan).
    pub replan: Option<Replan>,
}

/// One row of `plan.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    pub device: DeviceIdx,
    pub wave: usize,
    pub payload: String,
    pub payload_bytes: u64,
    pub expected_bytes: u64,
    pub window_start: Instant,
    pub window_end: Instant,
    pub p_success: f64,
    pub throughput_kbps: f64,
    /// Start of the pool cycle containing `window_start`; `None` for roaming devices.
    pub billing_cycle_start: Option<Instant>,
    /// When the orchestrator should have heard from the device after installing: window
    /// end + install time + `reconnect_minutes`, moved to the next hour the device is
    /// expected online.
    pub reconnect_by: Instant,
}

/// Minutes a device needs to install and reboot after its download (when
/// `[stop_rules] install_minutes` does not say).
pub const DEFAULT_INSTALL_MINUTES: f64 = 10.0;
/// Minutes to reconnect after reboot (when `[stop_rules] reconnect_minutes` does not say).
pub const DEFAULT_RECONNECT_MINUTES: f64 = 30.0;

/// The "fails to reconnect after reboot within the expected window" deadline of one
/// device: its window end plus install and reconnect time, and if that lands in an hour
/// the device is not expected online (p_online < 0.5), the end of the next hour it is.
pub fn reconnect_by(
    s: &Scenario,
    profile: &crate::coverage::Profile,
    tz: chrono_tz::Tz,
    window_end: Instant,
) -> Instant {
    let install = s
        .stop_rules
        .other
        .get("install_minutes")
        .and_then(|v| v.as_f64())
        .unwrap_or(DEFAULT_INSTALL_MINUTES);
    let reconnect = s
        .stop_rules
        .reconnect_minutes
        .unwrap_or(DEFAULT_RECONNECT_MINUTES);
    let mut t =
        window_end + chrono::Duration::seconds(((install + reconnect) * 60.0).round() as i64);
    for _ in 0..crate::coverage::HOURS_PER_WEEK {
        if profile[crate::coverage::hour_of_week(tz, t)].p_online >= 0.5 {
            return t;
        }
        // Jump to the end of the next local hour.
        t += chrono::Duration::hours(1);
    }
    t
}

/// One row of `unscheduled.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnscheduledRow {
    pub device: DeviceIdx,
    pub reason: String,
}

/// The solver's side of the story, per wave and in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LpReport {
    pub status: String,
    pub objective: f64,
    pub lower_bound: f64,
    /// Cost of the rounded plan in the LP's own terms (cohort-level coefficients).
    pub rounded_objective: f64,
    /// (rounded − lower bound) / |lower bound|.
    pub rounding_gap: f64,
    pub variables: usize,
    pub integer_variables: usize,
    pub constraints: usize,
    pub nonzeros: usize,
    pub cohorts: usize,
    pub algorithm: String,
    pub build_seconds: f64,
    pub solve_seconds: f64,
    pub round_seconds: f64,
    /// Devices moved by the repair pass to keep hard limits after rounding.
    pub repaired_devices: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveReport {
    pub name: String,
    pub devices: usize,
    pub start: Option<Instant>,
    pub end: Option<Instant>,
    pub gate: Option<Instant>,
    pub soak_hours: f64,
    /// Earliest start allowed (the previous wave's gate, a pinned start, or `start`).
    pub earliest_start: Instant,
    /// The stop rules the orchestrator applies while this wave soaks.
    pub stop_rules: crate::domain::StopRules,
    pub lp: LpReport,
}

/// A whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rows: Vec<PlanRow>,
    pub unscheduled: Vec<UnscheduledRow>,
    pub up_to_date: usize,
    pub accounting: Accounting,
    pub lp: LpReport,
    pub waves: Vec<WaveReport>,
    /// The LP of each wave, when asked for.
    pub models: Vec<(String, lp::Lp)>,
    pub wave_notes: Vec<String>,
    /// What the fleet would otherwise have done, priced the same way.
    pub baselines: Vec<baselines::BaselineReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("wave {wave}: {source}")]
    Solve { wave: String, source: SolveError },
}

/// The accounting grid for a scenario.
pub fn load_grid(s: &Scenario) -> LoadGrid {
    LoadGrid {
        start: s.start,
        end: s.deadline,
        slot_minutes: s.slot_minutes.min(60),
    }
}

/// What the cost accounting needs of a plan row.
pub fn download_of(s: &Scenario, r: &PlanRow) -> Download {
    let d = &s.devices[r.device.0 as usize];
    Download {
        pool: d.pool,
        region: d.region,
        zone_price: d
            .zone
            .as_ref()
            .and_then(|z| s.pool(d.pool).zone_rates.get(z).map(|p| p.0)),
        expected_bytes: r.expected_bytes,
        window_start: r.window_start,
        window_end: r.window_end,
        p_success: r.p_success,
        counts_lateness: true,
    }
}

/// Plans the scenario. `progress` is told each step's name as it starts.
pub fn plan(
    s: &Scenario,
    coverage: &CoverageModel,
    opts: &PlanOptions,
    progress: &dyn Fn(&str),
) -> Result<Plan, PlanError> {
    let grid = Grid::new(s.start, s.deadline, s.slot_minutes);
    progress("assigning waves");
    let rank = id_rank(s);
    let (wave_of, wave_notes) = waves::assign_waves(s, &rank);
    progress("resolving coverage profiles");
    let profiles = prepare::resolve_profiles(s, coverage);
    let mut rows: Vec<PlanRow> = Vec::new();
    let mut unscheduled: Vec<UnscheduledRow> = Vec::new();
    let mut up_to_date = 0;
    let mut wave_reports = Vec::new();
    let mut models = Vec::new();
    // Re-planning: who is still to plan, and the bytes already spent.
    let mut state = vec![DeviceState::Pending; s.devices.len()];
    let mut spent: Vec<evaluate::Spent> = Vec::new();
    let now = opts.replan.as_ref().map_or(s.start, |r| r.now.max(s.start));
    if let Some(r) = &opts.replan {
        for p in &r.progress {
            state[p.device.0 as usize] = p.state;
            if p.bytes_used > 0 {
                let d = &s.devices[p.device.0 as usize];
                spent.push(evaluate::Spent {
                    pool: d.pool,
                    zone_price: d
                        .zone
                        .as_ref()
                        .and_then(|z| s.pool(d.pool).zone_rates.get(z).map(|x| x.0)),
                    at: p.at.unwrap_or(r.now - chrono::Duration::seconds(1)),
                    mb: p.bytes_used as f64 / 1e6,
                });
            }
            let reason = match p.state {
                DeviceState::Done => Some(format!(
                    "done before {} (progress.csv row {})",
                    crate::output::utc(r.now),
                    p.row
                )),
                DeviceState::InProgress => Some(format!(
                    "downloading at {} (progress.csv row {}); not planned again",
                    crate::output::utc(r.now),
                    p.row
                )),
                _ => None,
            };
            if let Some(reason) = reason
                && s.devices[p.device.0 as usize].current_version != s.release
            {
                unscheduled.push(UnscheduledRow {
                    device: p.device,
                    reason,
                });
            }
        }
    }
    let mut already: Vec<(PoolId, Instant, f64)> = spent
        .iter()
        .filter(|sp| sp.zone_price.is_none())
        .map(|sp| (sp.pool, sp.at, sp.mb))
        .collect();
    let mut earliest = s.start;
    let mut up_to_date_reported = false;
    let mut total = LpReport::default();
    let n_waves = s.waves.len();
    for (wi, wave) in s.waves.iter().enumerate() {
        let last = wi + 1 == n_waves;
        let from = wave
            .pinned_start
            .map_or(earliest, |p| p.max(earliest))
            .max(now);
        let from_slot = grid_slot_at_or_after(&grid, from);
        let to_plan = |i: usize| matches!(state[i], DeviceState::Pending | DeviceState::Failed);
        let assignment = Assignment {
            wave: wave_of
                .iter()
                .enumerate()
                .map(|(i, w)| (*w == Some(wi) && to_plan(i)).then_some(wi))
                .collect(),
            span: vec![(from_slot, grid.n); s.devices.len()],
        };
        // A wave whose devices are all done (or downloading) is finished: it keeps the
        // gate of the original plan.
        if let Some(r) = &opts.replan {
            let members = wave_of.iter().filter(|w| **w == Some(wi)).count();
            let open = assignment.wave.iter().filter(|w| w.is_some()).count();
            if members > 0 && open == 0 {
                let gate = r.original_gates.get(wi).copied().flatten();
                wave_reports.push(WaveReport {
                    name: wave.name.clone(),
                    devices: 0,
                    start: None,
                    end: None,
                    gate,
                    soak_hours: wave.soak_hours,
                    earliest_start: from,
                    stop_rules: s.stop_rules.clone(),
                    lp: LpReport::default(),
                });
                if let Some(g) = gate {
                    earliest = earliest.max(g);
                }
                continue;
            }
        }
        progress(&format!("wave {}: preparing cohorts", wave.name));
        let t0 = Clock::now();
        // Every wave but the last completes as early as windows and capacity allow.
        let lateness = if last {
            s.weights.lateness_per_device_day
        } else {
            s.weights.lateness_per_device_day.max(1.0)
        };
        let first_prepare = !up_to_date_reported;
        up_to_date_reported = true;
        let prepared = prepare::prepare(s, &profiles, grid, &assignment, first_prepare);
        if first_prepare {
            up_to_date = prepared.up_to_date;
        }
        // Devices already on the release are reported once; any other pre-check failure
        // belongs to this wave's devices.
        for u in &prepared.unscheduled {
            let on_release = s.devices[u.device.0 as usize].current_version == s.release;
            if first_prepare || !on_release {
                unscheduled.push(UnscheduledRow {
                    device: u.device,
                    reason: u.reason.clone(),
                });
            }
        }
        let inputs = model::ModelInputs {
            already_used_mb: already
                .iter()
                .map(|(p, t, mb)| (p.0 as usize, *t, *mb))
                .collect(),
            lateness_per_device_day: lateness,
        };
        progress(&format!("wave {}: building the model", wave.name));
        let m = model::build(s, &prepared, &inputs);
        let build_seconds = t0.elapsed().as_secs_f64();
        progress(&format!(
            "wave {}: solving ({} variables, {} constraints)",
            wave.name,
            m.lp.cols.len(),
            m.lp.rows.len()
        ));
        let solved = solve::solve(&m.lp, &opts.solve).map_err(|e| PlanError::Solve {
            wave: wave.name.clone(),
            source: e,
        })?;
        progress(&format!("wave {}: rounding", wave.name));
        let t1 = Clock::now();
        let mut counts = round::round_counts(&m, &prepared, &solved.values);
        let repaired = round::repair_hard_limits(s, &m, &prepared, &mut counts);
        let rounded_objective = rounded_objective(&m, &counts);
        let (scheduled, left) = round::assign(s, &prepared, &profiles, &counts);
        let round_seconds = t1.elapsed().as_secs_f64();
        let mut wave_rows = Vec::with_capacity(scheduled.len());
        let mut cycle_cache: std::collections::HashMap<(PoolId, usize), Instant> =
            Default::default();
        for sc in scheduled {
            let c = &prepared.cohorts[sc.cohort];
            let pool = s.pool(c.key.pool);
            wave_rows.push(PlanRow {
                device: sc.device,
                wave: wi,
                payload: c.payload.label.clone(),
                payload_bytes: c.payload.bytes.0,
                expected_bytes: sc.expected_bytes,
                window_start: sc.window_start,
                window_end: sc.window_end,
                p_success: sc.p_success,
                throughput_kbps: sc.throughput_kbps,
                // A download stays in the billing cycle of its slot's start (the stagger
                // never crosses a cycle boundary), so one lookup per pool and slot.
                billing_cycle_start: c.zone_price.is_none().then(|| {
                    *cycle_cache
                        .entry((c.key.pool, c.placements[sc.placement].slot))
                        .or_insert_with(|| {
                            crate::billing::cycle_start_containing(pool, sc.window_start)
                        })
                }),
                reconnect_by: reconnect_by(
                    s,
                    &profiles[sc.device.0 as usize].0,
                    c.tz,
                    sc.window_end,
                ),
            });
        }
        for (d, ci) in left {
            let reason = prepared.cohorts[ci]
                .no_placement
                .clone()
                .unwrap_or_else(|| limit_reason(s, &prepared, ci, &m));
            unscheduled.push(UnscheduledRow { device: d, reason });
        }
        for r in &wave_rows {
            let d = &s.devices[r.device.0 as usize];
            if d.zone.is_none() {
                already.push((d.pool, r.window_start, r.expected_bytes as f64 / 1e6));
            }
        }
        let start = wave_rows.iter().map(|r| r.window_start).min();
        let end = wave_rows.iter().map(|r| r.window_end).max();
        let gate = end.map(|e| {
            e + chrono::Duration::milliseconds((wave.soak_hours * 3_600_000.0).round() as i64)
        });
        let lp_report = LpReport {
            status: match solved.status {
                Status::Optimal => "optimal".into(),
                Status::TimeLimit => "time_limit".into(),
            },
            objective: solved.objective,
            lower_bound: solved.lower_bound,
            rounded_objective,
            rounding_gap: if solved.lower_bound.abs() > 1e-9 {
                (rounded_objective - solved.lower_bound) / solved.lower_bound.abs()
            } else {
                0.0
            },
            variables: m.lp.cols.len(),
            integer_variables: m.lp.cols.iter().filter(|c| c.integer).count(),
            constraints: m.lp.rows.len(),
            nonzeros: m.lp.nonzeros(),
            cohorts: prepared.cohorts.len(),
            algorithm: solved.algorithm.into(),
            build_seconds,
            solve_seconds: solved.solve_seconds,
            round_seconds,
            repaired_devices: repaired,
        };
        accumulate(&mut total, &lp_report);
        wave_reports.push(WaveReport {
            name: wave.name.clone(),
            devices: wave_rows.len(),
            start,
            end,
            gate,
            soak_hours: wave.soak_hours,
            earliest_start: from,
            stop_rules: s.stop_rules.clone(),
            lp: lp_report,
        });
        if opts.keep_models {
            models.push((wave.name.clone(), m.lp));
        }
        if let Some(g) = gate {
            earliest = earliest.max(g);
        }
        rows.extend(wave_rows);
    }
    if !up_to_date_reported {
        // Every wave was finished (re-planning): still report devices on the release.
        for (i, d) in s.devices.iter().enumerate() {
            if d.current_version == s.release {
                up_to_date += 1;
                unscheduled.push(UnscheduledRow {
                    device: DeviceIdx(i as u32),
                    reason: format!("already on {}", s.release),
                });
            }
        }
    }
    rows.sort_unstable_by_key(|r| rank[r.device.0 as usize]);
    unscheduled.sort_unstable_by_key(|u| rank[u.device.0 as usize]);
    progress("accounting");
    let downloads: Vec<Download> = rows.iter().map(|r| download_of(s, r)).collect();
    let accounting = evaluate::account(s, &downloads, &spent, load_grid(s));
    let baselines = if opts.skip_baselines || opts.replan.is_some() {
        Vec::new()
    } else {
        progress("pricing the baselines");
        baselines::baselines(s, &profiles, &wave_of, &rank, accounting.cost.total)
    };
    Ok(Plan {
        rows,
        unscheduled,
        up_to_date,
        accounting,
        lp: total,
        waves: wave_reports,
        models,
        wave_notes,
        baselines,
    })
}

/// Each device's position when devices are sorted by id (outputs are in id order).
pub fn id_rank(s: &Scenario) -> Vec<u32> {
    let n = s.devices.len();
    if s.devices.windows(2).all(|w| w[0].id <= w[1].id) {
        return (0..n as u32).collect();
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by(|&a, &b| s.devices[a as usize].id.cmp(&s.devices[b as usize].id));
    let mut rank = vec![0u32; n];
    for (pos, &i) in order.iter().enumerate() {
        rank[i as usize] = pos as u32;
    }
    rank
}

fn accumulate(total: &mut LpReport, w: &LpReport) {
    total.status = if total.status.is_empty() || total.status == "optimal" {
        w.status.clone()
    } else {
        total.status.clone()
    };
    total.objective += w.objective;
    total.lower_bound += w.lower_bound;
    total.rounded_objective += w.rounded_objective;
    total.rounding_gap = if total.lower_bound.abs() > 1e-9 {
        (total.rounded_objective - total.lower_bound) / total.lower_bound.abs()
    } else {
        0.0
    };
    total.variables += w.variables;
    total.integer_variables += w.integer_variables;
    total.constraints += w.constraints;
    total.nonzeros += w.nonzeros;
    total.cohorts += w.cohorts;
    if total.algorithm.is_empty() {
        total.algorithm = w.algorithm.clone();
    } else if !total.algorithm.split('+').any(|a| a == w.algorithm) {
        total.algorithm = format!("{}+{}", total.algorithm, w.algorithm);
    }
    total.build_seconds += w.build_seconds;
    total.solve_seconds += w.solve_seconds;
    total.round_seconds += w.round_seconds;
    total.repaired_devices += w.repaired_devices;
}

fn grid_slot_at_or_after(grid: &Grid, t: Instant) -> usize {
    if t <= grid.start {
        return 0;
    }
    let m = (t - grid.start).num_seconds();
    let slot = grid.slot_minutes as i64 * 60;
    ((m + slot - 1) / slot) as usize
}

/// The LP objective of the rounded counts, with the model's own (cohort-level)
/// coefficients: the honest measure of what rounding cost against the LP bound.
fn rounded_objective(m: &model::PlanModel, counts: &round::Counts) -> f64 {
    // Fix x and u, then the cheapest overage/excess columns given them.
    let mut x = vec![0.0; m.lp.cols.len()];
    for (ci, cols) in m.x.iter().enumerate() {
        for (k, &col) in cols.iter().enumerate() {
            x[col] = counts.placed[ci][k] as f64;
        }
        x[m.unplaced[ci]] = counts.unplaced[ci] as f64;
    }
    let mut total = m.lp.objective(&x);
    // Overage: fill segments in order up to the usage above allowance.
    for pc in &m.pool_cycles {
        let Some(row) = pc.overage_row.map(|r| &m.lp.rows[r]) else {
            continue;
        };
        let update: f64 = row
            .coefs
            .iter()
            .filter(|(c, _)| !pc.segments.contains(c))
            .map(|&(c, a)| -a * x[c])
            .sum();
        let mut need = (row.lb + update).max(0.0);
        for &sc in &pc.segments {
            let take = need.min(m.lp.cols[sc].ub);
            total += take * m.lp.cols[sc].cost;
            need -= take;
        }
    }
    // Congestion: excess per loaded region-slot.
    for r in &m.lp.rows {
        if !r.name.starts_with("load_") {
            continue;
        }
        let (mut load, mut ex) = (0.0, None);
        for &(c, a) in &r.coefs {
            if a < 0.0 {
                ex = Some(c);
            } else {
                load += a * x[c];
            }
        }
        if let Some(ex) = ex {
            total += (load - r.ub).max(0.0) * m.lp.cols[ex].cost;
        }
    }
    total
}

/// Why a device that had placements still ended up unscheduled: a hard limit left no
/// room for it.
fn limit_reason(s: &Scenario, p: &Prepared, ci: usize, m: &model::PlanModel) -> String {
    let c = &p.cohorts[ci];
    let pool = s.pool(c.key.pool);
    let capped: Vec<String> = m.cycles_of_pool[c.key.pool.0 as usize]
        .iter()
        .filter_map(|&yi| {
            let pc = &m.pool_cycles[yi];
            pc.cap_room_mb.map(|room| {
                format!(
                    "cycle from {} has {:.1} MB of room under cap {:.0} MB",
                    pc.cycle.start.format("%Y-%m-%d"),
                    room,
                    pool.cap.map_or(0.0, |c| c.0)
                )
            })
        })
        .collect();
    if !capped.is_empty() {
        return format!(
            "pool {} ({} at cap) has no room left before the deadline: {}; raise cap_mb, move the deadline past the next reset, or free allowance",
            pool.id,
            match pool.on_cap {
                crate::domain::CapBehaviour::Pause => "pauses SIMs",
                _ => "throttles SIMs",
            },
            capped.join("; ")
        );
    }
    let region = s.region(c.key.region);
    format!(
        "region {} cannot carry this download inside its windows without exceeding its hard capacity of {} MB/h; raise hard_capacity_mb_per_hour, widen the windows or move the deadline",
        region.name,
        region
            .hard_capacity_mb_per_hour
            .unwrap_or(region.capacity_mb_per_hour)
    )
}
