//! The planner: from a validated scenario and a coverage model to one download window
//! per device. Steps: assign waves and spans, prepare cohorts and placements, build the
//! LP, solve it with HiGHS, round to whole devices, give each device its window, and
//! account the result from its rows. Pure apart from the solver call; no file I/O.

pub mod baselines;
pub mod colgen;
pub mod evaluate;
pub mod lp;
pub mod model;
pub mod prepare;
pub mod round;
pub mod solve;
pub mod spans;
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

/// plan.csv's columns, in order (the contract's, then `zone` and `reconnect_by`).
pub const PLAN_COLUMNS: [&str; 17] = [
    "device_id",
    "wave",
    "pool_id",
    "region",
    "timezone",
    "payload",
    "payload_bytes",
    "expected_bytes",
    "window_start",
    "window_end",
    "window_start_local",
    "window_end_local",
    "p_success",
    "throughput_kbps",
    "billing_cycle_start",
    "zone",
    "reconnect_by",
];

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

/// The solver's side of the story: one model for every wave.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LpReport {
    pub status: String,
    /// Objective of the model solved last (the column-generation master, or its integer
    /// model when falling tier prices need binaries), in the same terms as `cost.total`.
    pub objective: f64,
    /// What the model charged for devices it could not place (not a cost): the model
    /// solved (and exported) has optimum `objective + unplaced_penalty`.
    pub unplaced_penalty: f64,
    /// A valid lower bound on `cost.total` for the scenario as planned (these waves'
    /// spans): no plan, on this grid of placements, costs less.
    pub lower_bound: f64,
    /// `cost.total` of the plan written (whole devices, after repair).
    pub rounded_objective: f64,
    /// (rounded − lower bound) / |lower bound|: the true optimality gap.
    pub rounding_gap: f64,
    /// LP columns generated (placement, overage, excess and unplaced columns).
    pub variables: usize,
    /// Placements the cohorts could take (the columns a full model would have).
    pub candidate_placements: usize,
    pub integer_variables: usize,
    pub constraints: usize,
    pub nonzeros: usize,
    pub cohorts: usize,
    pub algorithm: String,
    /// Column-generation rounds (master solves).
    pub rounds: usize,
    pub build_seconds: f64,
    pub solve_seconds: f64,
    pub pricing_seconds: f64,
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
    /// Latest end allowed: the earliest instant by which every placeable device of the
    /// wave can have finished (the deadline for the last wave).
    pub latest_end: Instant,
    /// The stop rules the orchestrator applies while this wave soaks.
    pub stop_rules: crate::domain::StopRules,
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
    #[error("{source}")]
    Solve { source: SolveError },
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

/// Where each wave may run, decided before the one model is built: every wave but the
/// last ends as early as its devices can all have downloaded (each at the first window
/// the hard limits leave room for), the next starts at that end plus the soak (or its
/// pinned start), and the last runs to the deadline. With the spans fixed, the waves
/// need no lateness weight of their own and are solved together.
struct WaveSpans {
    parts: Vec<Prepared>,
    reports: Vec<WaveReport>,
}

/// What [`wave_spans`] reads besides the scenario.
struct SpanInputs<'a> {
    profiles: &'a [(
        std::sync::Arc<crate::coverage::Profile>,
        crate::coverage::KeyLevel,
    )],
    grid: Grid,
    wave_of: &'a [Option<usize>],
    state: &'a [DeviceState],
    replan: Option<&'a Replan>,
    inputs: &'a model::ModelInputs,
}

fn wave_spans(s: &Scenario, w: &SpanInputs<'_>, progress: &dyn Fn(&str)) -> WaveSpans {
    let SpanInputs {
        profiles,
        grid,
        wave_of,
        state,
        replan,
        inputs,
    } = *w;
    let now = replan.map_or(s.start, |r| r.now.max(s.start));
    let mut earliest = s.start;
    let mut parts = Vec::new();
    let mut reports = Vec::new();
    let mut first_prepare = true;
    let n_waves = s.waves.len();
    for (wi, wave) in s.waves.iter().enumerate() {
        let from = wave
            .pinned_start
            .map_or(earliest, |p| p.max(earliest))
            .max(now);
        let members: Vec<bool> = (0..s.devices.len())
            .map(|i| {
                wave_of[i] == Some(wi)
                    && matches!(state[i], DeviceState::Pending | DeviceState::Failed)
            })
            .collect();
        let report = |latest_end: Instant| WaveReport {
            name: wave.name.clone(),
            devices: 0,
            start: None,
            end: None,
            gate: None,
            soak_hours: wave.soak_hours,
            earliest_start: from,
            latest_end,
            stop_rules: s.stop_rules.clone(),
        };
        // A wave whose devices are all done (or downloading) is finished: it keeps the
        // gate of the original plan.
        if let Some(r) = replan {
            let had = wave_of.contains(&Some(wi));
            if had && !members.contains(&true) {
                let mut rep = report(from);
                rep.gate = r.original_gates.get(wi).copied().flatten();
                if let Some(g) = rep.gate {
                    earliest = earliest.max(g);
                }
                reports.push(rep);
                continue;
            }
        }
        progress(&format!("wave {}: preparing cohorts", wave.name));
        let assignment = Assignment {
            wave: wi,
            members,
            span: (from, s.deadline),
        };
        let mut prepared = prepare::prepare(s, profiles, grid, &assignment, first_prepare);
        first_prepare = false;
        let last = wi + 1 == n_waves;
        let mut end = s.deadline;
        if !last {
            if let Some(e) = spans::earliest_finish(s, &prepared, inputs) {
                end = e;
                for c in &mut prepared.cohorts {
                    c.placements.retain(|pl| pl.end <= e);
                }
            }
            earliest =
                earliest.max(
                    end + chrono::Duration::milliseconds(
                        (wave.soak_hours * 3_600_000.0).round() as i64
                    ),
                );
        }
        reports.push(report(end));
        parts.push(prepared);
    }
    WaveSpans { parts, reports }
}

/// Plans the scenario. `progress` is told each step's name as it starts.
pub fn plan(
    s: &Scenario,
    coverage: &CoverageModel,
    opts: &PlanOptions,
    progress: &dyn Fn(&str),
) -> Result<Plan, PlanError> {
    let grid = Grid::new(s.start, s.deadline, s.slot_minutes.min(60));
    progress("assigning waves");
    let rank = id_rank(s);
    let (wave_of, wave_notes) = waves::assign_waves(s, &rank);
    progress("resolving coverage profiles");
    let profiles = prepare::resolve_profiles(s, coverage);
    let mut unscheduled: Vec<UnscheduledRow> = Vec::new();
    // Re-planning: who is still to plan, and the bytes already spent.
    let mut state = vec![DeviceState::Pending; s.devices.len()];
    let mut spent: Vec<evaluate::Spent> = Vec::new();
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
                    crate::units::rfc3339_utc(r.now),
                    p.row
                )),
                DeviceState::InProgress => Some(format!(
                    "downloading at {} (progress.csv row {}); not planned again",
                    crate::units::rfc3339_utc(r.now),
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
    let inputs = model::ModelInputs {
        already_used_mb: spent
            .iter()
            .filter(|sp| sp.zone_price.is_none())
            .map(|sp| (sp.pool.0 as usize, sp.at, sp.mb))
            .collect(),
    };
    let t0 = Clock::now();
    let spans = wave_spans(
        s,
        &SpanInputs {
            profiles: &profiles,
            grid,
            wave_of: &wave_of,
            state: &state,
            replan: opts.replan.as_ref(),
            inputs: &inputs,
        },
        progress,
    );
    let mut wave_reports = spans.reports;
    let prepared = Prepared::concat(spans.parts, grid);
    let up_to_date = if prepared.up_to_date == 0 && prepared.cohorts.is_empty() {
        // Every wave was finished (re-planning): still report devices on the release.
        let mut n = 0;
        for (i, d) in s.devices.iter().enumerate() {
            if d.current_version == s.release {
                n += 1;
                unscheduled.push(UnscheduledRow {
                    device: DeviceIdx(i as u32),
                    reason: format!("already on {}", s.release),
                });
            }
        }
        n
    } else {
        prepared.up_to_date
    };
    unscheduled.extend(prepared.unscheduled.iter().map(|u| UnscheduledRow {
        device: u.device,
        reason: u.reason.clone(),
    }));
    progress("building the model");
    let mut m = model::build(s, &prepared, &inputs);
    for (ci, ks) in colgen::initial_columns(s, &prepared, &m)
        .into_iter()
        .enumerate()
    {
        for k in ks {
            m.add_placement(s, &prepared, ci, k);
        }
    }
    let build_seconds = t0.elapsed().as_secs_f64();
    progress(&format!(
        "solving ({} cohorts, {} candidate placements, {} constraints)",
        prepared.cohorts.len(),
        prepared
            .cohorts
            .iter()
            .map(|c| c.placements.len())
            .sum::<usize>(),
        m.lp.rows.len()
    ));
    let mut master = solve::Master::new(&m.lp, &opts.solve);
    let mut solved = colgen::solve(s, &prepared, &mut m, &mut master, &opts.solve, progress)
        .map_err(|e| PlanError::Solve { source: e })?;
    progress("rounding");
    let t1 = Clock::now();
    let mut counts = round::round_counts(&m, &prepared, &solved.values);
    let repaired = round::repair_hard_limits(s, &m, &prepared, &mut counts);
    // Rounding left out devices the LP had (fractionally) placed: bound the plans that
    // leave out at least as many per cohort, so the bound covers the plan written.
    let mut short = false;
    for (ci, &u) in m.unplaced.iter().enumerate() {
        if counts.unplaced[ci] as f64 > solved.values[u] + 1e-6 {
            m.lp.cols[u].lb = counts.unplaced[ci] as f64;
            master.update_bounds(&m.lp, u);
            short = true;
        }
    }
    if short {
        progress("bounding the plan's device set");
        let again = colgen::solve(s, &prepared, &mut m, &mut master, &opts.solve, progress)
            .map_err(|e| PlanError::Solve { source: e })?;
        solved.lower_bound = again.lower_bound;
        solved.objective = again.objective;
        solved.values = again.values;
        solved.integer_model = again.integer_model;
        solved.rounds += again.rounds;
        solved.solve_seconds += again.solve_seconds;
        solved.pricing_seconds += again.pricing_seconds;
        if again.status != Status::Optimal {
            solved.status = again.status;
        }
    }
    let (scheduled, left) = round::assign(&prepared, &profiles, &counts);
    let round_seconds = t1.elapsed().as_secs_f64();
    let mut rows = Vec::with_capacity(scheduled.len());
    let mut cycle_cache: std::collections::HashMap<(PoolId, Instant), Instant> = Default::default();
    for sc in scheduled {
        let c = &prepared.cohorts[sc.cohort];
        let pool = s.pool(c.key.pool);
        rows.push(PlanRow {
            device: sc.device,
            wave: c.key.wave,
            payload: c.payload.label.clone(),
            payload_bytes: c.payload.bytes.0,
            expected_bytes: sc.expected_bytes,
            window_start: sc.window_start,
            window_end: sc.window_end,
            p_success: sc.p_success,
            throughput_kbps: sc.throughput_kbps,
            billing_cycle_start: c.zone_price.is_none().then(|| {
                *cycle_cache
                    .entry((c.key.pool, sc.window_start))
                    .or_insert_with(|| {
                        crate::billing::cycle_start_containing(pool, sc.window_start)
                    })
            }),
            reconnect_by: reconnect_by(s, &profiles[sc.device.0 as usize].0, c.tz, sc.window_end),
        });
    }
    for (d, ci) in left {
        let reason = prepared.cohorts[ci]
            .no_placement
            .clone()
            .unwrap_or_else(|| limit_reason(s, &prepared, ci, &m));
        unscheduled.push(UnscheduledRow { device: d, reason });
    }
    for (wi, rep) in wave_reports.iter_mut().enumerate() {
        let of_wave = || rows.iter().filter(|r| r.wave == wi);
        if rep.gate.is_some() && of_wave().next().is_none() {
            continue; // a finished wave keeps its gate
        }
        rep.devices = of_wave().count();
        rep.start = of_wave().map(|r| r.window_start).min();
        rep.end = of_wave().map(|r| r.window_end).max();
        rep.gate = rep.end.map(|e| {
            e + chrono::Duration::milliseconds((rep.soak_hours * 3_600_000.0).round() as i64)
        });
    }
    rows.sort_unstable_by_key(|r| rank[r.device.0 as usize]);
    unscheduled.sort_unstable_by_key(|u| rank[u.device.0 as usize]);
    progress("accounting");
    let downloads: Vec<Download> = rows.iter().map(|r| download_of(s, r)).collect();
    let accounting = evaluate::account(s, &downloads, &spent, load_grid(s));
    // The plan is a point of the model with its left-out devices on the unplaced
    // columns, so model bound − their penalty bounds cost.total.
    let left_out: u32 = counts.unplaced.iter().sum();
    let lower_bound = solved.lower_bound - m.unplaced_penalty * left_out as f64;
    let unplaced_lp: f64 = m.unplaced.iter().map(|&u| solved.values[u]).sum();
    let penalty = m.unplaced_penalty * unplaced_lp;
    let total = accounting.cost.total;
    let lp = LpReport {
        status: match solved.status {
            Status::Optimal => "optimal".into(),
            Status::TimeLimit => "time_limit".into(),
        },
        objective: solved.objective - penalty,
        unplaced_penalty: penalty,
        lower_bound,
        rounded_objective: total,
        rounding_gap: if lower_bound.abs() > 1e-9 {
            (total - lower_bound) / lower_bound.abs()
        } else {
            0.0
        },
        variables: m.lp.cols.len(),
        candidate_placements: prepared.cohorts.iter().map(|c| c.placements.len()).sum(),
        integer_variables: m.lp.cols.iter().filter(|c| c.integer).count(),
        constraints: m.lp.rows.len(),
        nonzeros: m.lp.nonzeros(),
        cohorts: prepared.cohorts.len(),
        algorithm: solved.algorithm.into(),
        rounds: solved.rounds,
        build_seconds,
        solve_seconds: solved.solve_seconds,
        pricing_seconds: solved.pricing_seconds,
        round_seconds,
        repaired_devices: repaired,
    };
    let models = if opts.keep_models {
        vec![(
            "plan".to_string(),
            solved.integer_model.take().unwrap_or(m.lp),
        )]
    } else {
        Vec::new()
    };
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
        lp,
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
                    "cycle from {} has {:.1} MB of room for updates under cap {:.0} MB (baseline {:.1} MB, headroom {:.1} MB kept free)",
                    pc.cycle.start.format("%Y-%m-%d"),
                    room,
                    pool.cap.map_or(0.0, |c| c.0),
                    pc.cycle.baseline.0 + pc.already_mb,
                    pc.cap_headroom_mb.unwrap_or(0.0),
                )
            })
        })
        .collect();
    // Which limit blocks it: with the cap's room as the only limit, would a placement of
    // this cohort have fitted an empty cycle?
    let blocked_by_cap = !capped.is_empty()
        && s.region(c.key.region).hard_capacity_mb_per_hour.is_none()
        || c.placements.iter().any(|pl| {
            m.cycle_at(c, pl.start)
                .and_then(|yi| m.pool_cycles[yi].cap_room_mb)
                .is_some_and(|room| room < pl.expected_bytes / 1e6 * c.devices.len() as f64)
        });
    if !capped.is_empty() && blocked_by_cap {
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
