//! The planner: from a validated scenario and a coverage model to one download window
//! per device. Steps: assign waves and spans, prepare cohorts and placements, build the
//! LP, solve it with HiGHS, round to whole devices, give each device its window, and
//! account the result from its rows. Pure apart from the solver call: no file I/O (but
//! the temporary file HiGHS writes `solve::mps` into), no wall-clock date; a monotonic
//! clock times the steps (`LpReport`'s seconds) and shares `--time-limit` between solves.
//! Imports neither `ingest` nor the output side (`output`, `plan_folder`).

pub mod baselines;
pub mod colgen;
pub mod evaluate;
pub mod lp;
pub mod model;
pub mod prepare;
pub mod replan;
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

pub use solve::{Algorithm, SolveError, SolveOptions, Status};

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

pub use replan::{OriginalGates, Replan};

/// Options of one planning run.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub solve: SolveOptions,
    /// Keep the LP of every wave (for `--export-model`).
    pub keep_models: bool,
    /// Skip pricing the baselines (global push, rate-limited, local off-peak).
    pub skip_baselines: bool,
    /// Re-plan from `now` given progress (None = a fresh plan); see [`replan()`].
    pub replan: Option<Replan>,
}

/// One row of `plan.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    pub device: DeviceIdx,
    pub wave: usize,
    /// What the device downloads; `payload.label(&scenario.artifacts)` is plan.csv's
    /// `payload` column.
    pub payload: crate::payload::Steps,
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
        .install_minutes
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LpReport {
    pub status: Status,
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
    pub algorithm: Algorithm,
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
    /// What the baselines are compared with: the plan, its devices left out priced.
    pub comparison: Option<baselines::Comparison>,
    /// Bytes spent before a re-plan and the rest of downloads in flight (priced in
    /// `accounting`; written to spent.csv so a replay charges them too).
    pub spent: Vec<evaluate::Spent>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{source}")]
    Solve { source: SolveError },
    /// Progress that contradicts the scenario (re-planning).
    #[error("{diagnostics}")]
    Input {
        diagnostics: crate::diag::Diagnostics,
    },
}

/// Re-plans the rest of a paused rollout: the one pipeline behind `otaplan plan
/// --progress` and `POST /v1/plans/{id}/replan`. Progress is checked against the
/// scenario (bad rows are [`PlanError::Input`]), spent and in-flight bytes are charged,
/// finished waves keep the gates of what happened, and the rest is planned.
pub fn replan(
    s: &Scenario,
    coverage: &CoverageModel,
    r: Replan,
    opts: &PlanOptions,
    progress: &dyn Fn(&str),
) -> Result<Plan, PlanError> {
    let opts = PlanOptions {
        replan: Some(r),
        ..opts.clone()
    };
    plan(s, coverage, &opts, progress)
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
        zone_price: evaluate::zone_price(s, d),
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
///
/// Re-planning, a wave's devices that did update set a gate of their own
/// ([`replan::Happened`]): a finished wave keeps it, a partly done one gates the next at
/// the later of it and its planned end, and a wave left only with failed devices to retry
/// does not hold the later waves unless its stop rules say it failed.
struct WaveSpans {
    parts: Vec<Prepared>,
    reports: Vec<WaveReport>,
    /// Per wave: its gate counts only the devices that did update (retries of a wave
    /// that passed its stop rules).
    gate_from_happened: Vec<bool>,
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
    happened: Option<&'a replan::Happened>,
    inputs: &'a model::ModelInputs,
}

fn soak(hours: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((hours * 3_600_000.0).round() as i64)
}

fn wave_spans(s: &Scenario, w: &SpanInputs<'_>, progress: &dyn Fn(&str)) -> WaveSpans {
    let SpanInputs {
        profiles,
        grid,
        wave_of,
        state,
        happened,
        inputs,
    } = *w;
    let now = happened.map_or(s.start, |h| h.now.max(s.start));
    let mut earliest = s.start;
    let mut out = WaveSpans {
        parts: Vec::new(),
        reports: Vec::new(),
        gate_from_happened: Vec::new(),
    };
    let mut first_prepare = true;
    let n_waves = s.waves.len();
    for (wi, wave) in s.waves.iter().enumerate() {
        let from = wave
            .pinned_start
            .map_or(earliest, |p| p.max(earliest))
            .max(now);
        let of_wave =
            |i: usize, st: &[DeviceState]| wave_of[i] == Some(wi) && st.contains(&state[i]);
        let members: Vec<bool> = (0..s.devices.len())
            .map(|i| of_wave(i, &[DeviceState::Pending, DeviceState::Failed]))
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
        let happened_gate = happened.and_then(|h| h.gate[wi]);
        // A wave whose devices are all done (or downloading) is finished: its gate is
        // what happened.
        if happened.is_some() && wave_of.contains(&Some(wi)) && !members.contains(&true) {
            let mut rep = report(from);
            rep.gate = happened_gate;
            if let Some(g) = rep.gate {
                earliest = earliest.max(g);
            }
            out.reports.push(rep);
            out.gate_from_happened.push(true);
            continue;
        }
        // Only failed devices left to retry, in a wave that passed its stop rules: the
        // retries run to the deadline without holding the later waves.
        let retries_only = happened.is_some_and(|h| h.updated[wi] > 0 && !h.failed[wi])
            && !(0..s.devices.len()).any(|i| of_wave(i, &[DeviceState::Pending]));
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
        if retries_only {
            if let Some(g) = happened_gate {
                earliest = earliest.max(g);
            }
        } else if !last {
            let next = match (spans::earliest_finish(s, &prepared, inputs), happened_gate) {
                (Some(e), g) => {
                    end = e;
                    for c in &mut prepared.cohorts {
                        c.placements.retain(|pl| pl.end <= e);
                    }
                    (e + soak(wave.soak_hours)).max(g.unwrap_or(e))
                }
                // None of the rest can be placed: the devices that did update gate.
                (None, Some(g)) => g,
                (None, None) => s.deadline + soak(wave.soak_hours),
            };
            earliest = earliest.max(next);
        }
        out.reports.push(report(end));
        out.gate_from_happened.push(retries_only);
        out.parts.push(prepared);
    }
    out
}

/// Profiles and coverage of every device, shared by the planner's steps.
type Profiles = [(
    std::sync::Arc<crate::coverage::Profile>,
    crate::coverage::KeyLevel,
)];

/// Plans the scenario. `progress` is told each step's name as it starts.
pub fn plan(
    s: &Scenario,
    coverage: &CoverageModel,
    opts: &PlanOptions,
    progress: &dyn Fn(&str),
) -> Result<Plan, PlanError> {
    progress("assigning waves");
    let rank = id_rank(s);
    let (wave_of, wave_notes) = waves::assign_waves(s, &rank);
    progress("resolving coverage profiles");
    let profiles = prepare::resolve_profiles(s, coverage);
    let price_baselines = !opts.skip_baselines && opts.replan.is_none();
    // The baselines need nothing of the plan until they are compared with it, so they
    // are priced on a thread of their own while the planner works (HiGHS solves on one
    // core; the other was idle). Their parallel loops run in a pool of their own: in
    // rayon's shared pool the planner's pricing rounds, on its critical path, queued
    // behind them (bench 1M: a pricing round of ~2,000 simplex iterations took 2.5 s,
    // the round before it 0.08 s; the plan took 5.1 s). With one thread of
    // their own the plan then waited 3.5 s for them at the end (6.7 s in all); with one
    // per core the operating system shares the cores and the plan took 4.7 s.
    std::thread::scope(|scope| {
        let pricing = price_baselines.then(|| {
            scope.spawn(|| {
                let own = rayon::ThreadPoolBuilder::new().build();
                let price = || baselines::price(s, &profiles, &wave_of, &rank);
                match own {
                    Ok(pool) => pool.install(price),
                    Err(_) => price(),
                }
            })
        });
        let cx = Context {
            s,
            coverage,
            opts,
            profiles: &profiles,
            wave_of: &wave_of,
            rank: &rank,
        };
        let (mut plan, cmp) = plan_devices(&cx, wave_notes, progress)?;
        if let Some(pricing) = pricing {
            progress("pricing the baselines");
            let priced = pricing
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            plan.baselines = priced.into_iter().map(|b| b.compare(&cmp)).collect();
            plan.comparison = Some(cmp);
        }
        Ok(plan)
    })
}

/// What every step of [`plan`] reads.
struct Context<'a> {
    s: &'a Scenario,
    coverage: &'a CoverageModel,
    opts: &'a PlanOptions,
    profiles: &'a Profiles,
    wave_of: &'a [Option<usize>],
    rank: &'a [u32],
}

/// Plans the devices (everything but the baselines), and states what the baselines are
/// compared with: the plan, its left-out devices priced.
fn plan_devices(
    cx: &Context<'_>,
    mut wave_notes: Vec<String>,
    progress: &dyn Fn(&str),
) -> Result<(Plan, baselines::Comparison), PlanError> {
    let s = cx.s;
    let grid = Grid::new(s.start, s.deadline, s.slot_minutes.min(60));
    let mut unscheduled: Vec<UnscheduledRow> = Vec::new();
    let before = before_planning(cx, &mut wave_notes, &mut unscheduled)?;
    let t0 = Clock::now();
    let spans = wave_spans(
        s,
        &SpanInputs {
            profiles: cx.profiles,
            grid,
            wave_of: cx.wave_of,
            state: &before.state,
            happened: before.happened.as_ref(),
            inputs: &before.inputs,
        },
        progress,
    );
    let mut wave_reports = spans.reports;
    let prepared = Prepared::concat(spans.parts, grid);
    let up_to_date = up_to_date(s, &prepared, &mut unscheduled);
    let mut sr = solve_and_round(cx, &prepared, &before.inputs, t0, progress)?;
    let rows = plan_rows(s, &prepared, cx.profiles, &sr.scheduled);
    for &(d, ci) in &sr.left {
        let reason = prepared.cohorts[ci]
            .no_placement
            .clone()
            .unwrap_or_else(|| limit_reason(s, &prepared, ci, &sr.m));
        unscheduled.push(UnscheduledRow { device: d, reason });
    }
    finish_waves(&mut wave_reports, &rows, &before, &spans.gate_from_happened);
    let rows = in_rank_order(rows, |r| cx.rank[r.device.0 as usize]);
    unscheduled.sort_unstable_by_key(|u| cx.rank[u.device.0 as usize]);
    progress("accounting");
    let downloads: Vec<Download> = rows.iter().map(|r| download_of(s, r)).collect();
    let accounting = evaluate::account(s, &downloads, &before.spent, load_grid(s));
    let lp = lp_report(&prepared, &sr, accounting.cost.total);
    let cmp = baselines::Comparison::new(
        &accounting.cost,
        unscheduled.len().saturating_sub(up_to_date),
        baselines::spend_per_device(s, max_placement_mb(&prepared)),
        sr.m.unplaced_penalty,
    );
    let models = if cx.opts.keep_models {
        let lp = sr.solved.integer_model.take().unwrap_or(sr.m.lp);
        vec![("plan".to_string(), lp)]
    } else {
        Vec::new()
    };
    let plan = Plan {
        rows,
        unscheduled,
        up_to_date,
        accounting,
        lp,
        waves: wave_reports,
        models,
        wave_notes,
        baselines: Vec::new(),
        comparison: None,
        spent: before.spent,
    };
    Ok((plan, cmp))
}

/// What happened before this plan (re-planning): each device's state, the bytes spent
/// or in flight and what the model must take as given.
struct Before {
    happened: Option<replan::Happened>,
    state: Vec<DeviceState>,
    spent: Vec<evaluate::Spent>,
    inputs: model::ModelInputs,
}

fn before_planning(
    cx: &Context<'_>,
    wave_notes: &mut Vec<String>,
    unscheduled: &mut Vec<UnscheduledRow>,
) -> Result<Before, PlanError> {
    let s = cx.s;
    let happened = match &cx.opts.replan {
        Some(r) => Some(replan::resolve(
            s,
            cx.coverage,
            cx.profiles,
            cx.wave_of,
            r,
            &cx.opts.solve,
        )?),
        None => None,
    };
    let state = happened.as_ref().map_or_else(
        || vec![DeviceState::Pending; s.devices.len()],
        |h| h.state.clone(),
    );
    let spent = happened.as_ref().map_or_else(Vec::new, |h| h.spent.clone());
    if let (Some(r), Some(h)) = (&cx.opts.replan, &happened) {
        wave_notes.extend(h.notes.iter().cloned());
        unscheduled.extend(replanned_rows(s, r));
    }
    let inputs = model::ModelInputs {
        already_used_mb: spent
            .iter()
            .filter(|sp| sp.zone_price.is_none())
            .map(|sp| (sp.pool.0 as usize, sp.at, sp.mb()))
            .collect(),
        fixed_load_mb: spent
            .iter()
            .filter_map(|sp| {
                sp.load_until
                    .map(|u| (sp.region.0 as usize, sp.at, u, sp.mb()))
            })
            .collect(),
    };
    Ok(Before {
        happened,
        state,
        spent,
        inputs,
    })
}

/// Devices already on the release, listed in `unscheduled` when no wave prepared them
/// (every wave finished before a re-plan).
fn up_to_date(s: &Scenario, prepared: &Prepared, unscheduled: &mut Vec<UnscheduledRow>) -> usize {
    let n = if prepared.up_to_date == 0 && prepared.cohorts.is_empty() {
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
    n
}

/// The model solved and rounded to whole devices.
struct SolvedAndRounded {
    m: model::PlanModel,
    solved: colgen::Generated,
    counts: round::Counts,
    repaired: usize,
    scheduled: Vec<round::Scheduled>,
    left: Vec<(DeviceIdx, usize)>,
    build_seconds: f64,
    round_seconds: f64,
}

/// Builds the model (timed from `t0`, when preparing began), solves it by column
/// generation, rounds it and repairs hard limits; when rounding leaves devices out that
/// the LP placed, solves again with them left out so the bound covers the plan written.
fn solve_and_round(
    cx: &Context<'_>,
    prepared: &Prepared,
    inputs: &model::ModelInputs,
    t0: Clock,
    progress: &dyn Fn(&str),
) -> Result<SolvedAndRounded, PlanError> {
    let (s, opts) = (cx.s, &cx.opts.solve);
    progress("building the model");
    let mut m = model::build(s, prepared, inputs);
    for (ci, ks) in colgen::initial_columns(s, prepared, &m)
        .into_iter()
        .enumerate()
    {
        for k in ks {
            m.add_placement(s, prepared, ci, k);
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
    let solve_err = |e| PlanError::Solve { source: e };
    let mut master = solve::Master::new(&m.lp, opts);
    let mut solved =
        colgen::solve(s, prepared, &mut m, &mut master, opts, progress).map_err(solve_err)?;
    progress("rounding");
    let t1 = Clock::now();
    let mut counts = round::round_counts(&m, prepared, &solved.values);
    let repaired = round::repair_hard_limits(s, &m, prepared, &mut counts);
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
        let again =
            colgen::solve(s, prepared, &mut m, &mut master, opts, progress).map_err(solve_err)?;
        solved.absorb(again);
    }
    let (scheduled, left) = round::assign(prepared, cx.profiles, &counts);
    Ok(SolvedAndRounded {
        m,
        solved,
        counts,
        repaired,
        scheduled,
        left,
        build_seconds,
        round_seconds: t1.elapsed().as_secs_f64(),
    })
}

/// One plan row per scheduled device.
fn plan_rows(
    s: &Scenario,
    prepared: &Prepared,
    profiles: &Profiles,
    scheduled: &[round::Scheduled],
) -> Vec<PlanRow> {
    let mut cycle_cache: rustc_hash::FxHashMap<(PoolId, Instant), Instant> = Default::default();
    scheduled
        .iter()
        .map(|sc| {
            let c = &prepared.cohorts[sc.cohort];
            let pool = s.pool(c.key.pool);
            PlanRow {
                device: sc.device,
                wave: c.key.wave,
                payload: c.payload.steps.clone(),
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
                reconnect_by: reconnect_by(
                    s,
                    &profiles[sc.device.0 as usize].0,
                    c.tz,
                    sc.window_end,
                ),
            }
        })
        .collect()
}

/// Each wave's devices, first start, last end and gate (from what happened when that
/// is what holds the next wave).
fn finish_waves(
    reports: &mut [WaveReport],
    rows: &[PlanRow],
    before: &Before,
    gate_from_happened: &[bool],
) {
    for (wi, rep) in reports.iter_mut().enumerate() {
        let of_wave = || rows.iter().filter(|r| r.wave == wi);
        rep.devices = of_wave().count();
        rep.start = of_wave().map(|r| r.window_start).min();
        rep.end = of_wave().map(|r| r.window_end).max();
        let happened_gate = before.happened.as_ref().and_then(|h| h.gate[wi]);
        let planned_gate = rep.end.map(|e| e + soak(rep.soak_hours));
        rep.gate = if gate_from_happened[wi] {
            happened_gate.or(planned_gate)
        } else {
            planned_gate.max(happened_gate)
        };
    }
}

/// The LP's figures beside the plan's `total`. The plan is a point of the model with
/// its left-out devices on the unplaced columns, so model bound − their penalty bounds
/// `cost.total`.
fn lp_report(prepared: &Prepared, sr: &SolvedAndRounded, total: f64) -> LpReport {
    let (m, solved) = (&sr.m, &sr.solved);
    let left_out: u32 = sr.counts.unplaced.iter().sum();
    let lower_bound = solved.lower_bound - m.unplaced_penalty * left_out as f64;
    let unplaced_lp: f64 = m.unplaced.iter().map(|&u| solved.values[u]).sum();
    let penalty = m.unplaced_penalty * unplaced_lp;
    LpReport {
        status: solved.status,
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
        algorithm: solved.algorithm,
        rounds: solved.rounds,
        build_seconds: sr.build_seconds,
        solve_seconds: solved.solve_seconds,
        pricing_seconds: solved.pricing_seconds,
        round_seconds: sr.round_seconds,
        repaired_devices: sr.repaired,
    }
}

/// The largest expected MB of any candidate placement.
fn max_placement_mb(p: &Prepared) -> f64 {
    p.cohorts
        .iter()
        .flat_map(|c| c.placements.iter().map(|pl| pl.expected_bytes / 1e6))
        .fold(0.0, f64::max)
}

/// The unscheduled rows of devices a re-plan leaves alone: done, or downloading at `now`
/// (devices already on the release are reported as such instead).
fn replanned_rows(s: &Scenario, r: &Replan) -> Vec<UnscheduledRow> {
    r.progress
        .iter()
        .filter(|p| s.devices[p.device.0 as usize].current_version != s.release)
        .filter_map(|p| {
            let reason = match p.state {
                DeviceState::Done => format!(
                    "done before {} ({} row {})",
                    crate::units::rfc3339_utc(r.now),
                    r.progress_file,
                    p.row
                ),
                DeviceState::InProgress => format!(
                    "downloading at {} ({} row {}); not planned again",
                    crate::units::rfc3339_utc(r.now),
                    r.progress_file,
                    p.row
                ),
                _ => return None,
            };
            Some(UnscheduledRow {
                device: p.device,
                reason,
            })
        })
        .collect()
}

/// `items` ordered by `rank` (distinct per item). The rank and index pairs are sorted and
/// the items moved once: sorting a million plan rows themselves moved each of them
/// about twenty times.
fn in_rank_order<T>(items: Vec<T>, rank: impl Fn(&T) -> u32) -> Vec<T> {
    let mut order: Vec<(u32, u32)> = (items.iter().enumerate())
        .map(|(i, x)| (rank(x), i as u32))
        .collect();
    order.sort_unstable();
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    // Each index is in `order` once, so every item is taken.
    order
        .into_iter()
        .filter_map(|(_, i)| slots[i as usize].take())
        .collect()
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

#[cfg(test)]
mod tests {
    use super::in_rank_order;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn items_come_out_sorted_by_their_distinct_ranks(
            ranks in (0u32..300).prop_flat_map(|n| Just((0..n).collect::<Vec<u32>>()).prop_shuffle())
        ) {
            let items: Vec<(u32, String)> = ranks.iter().map(|&r| (r, format!("item {r}"))).collect();
            let mut expected = items.clone();
            expected.sort_by_key(|x| x.0);
            prop_assert_eq!(in_rank_order(items, |x| x.0), expected);
        }
    }
}
