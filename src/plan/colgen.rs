//! Column generation: solves the cohort × placement LP without writing down every
//! placement. The restricted master starts with a few placements per cohort; after each
//! solve every candidate placement is priced with the row duals (reduced cost = own cost
//! − Σ dual × coefficient) and the most negative ones per cohort join the master, which
//! HiGHS re-solves from its last basis. When no candidate prices out, the master's
//! optimum is the full LP's optimum.
//!
//! The bound: at any master optimum with duals y, the full LP's optimum is at least
//! `z_master + Σ_cohorts n_c · min(0, min_k d_ck)` (Lasdon/Farley: fix y in the
//! Lagrangian that keeps only the "placed or reported" rows, whose solution puts each
//! cohort's n_c devices on its cheapest reduced-cost column). The best such value seen is
//! `lower_bound` — valid at every iteration, so a run stopped by the time limit still
//! reports one. Integer tier-order binaries, when a pool's prices fall, are relaxed
//! while pricing; the integer model over the generated columns is solved last, and the
//! LP bound stays a bound on it. Pure apart from the solver.

use super::model::PlanModel;
use super::prepare::Prepared;
use super::solve::{self, Algorithm, Master, SolveError, SolveOptions, Status};
use crate::domain::Scenario;
use rayon::prelude::*;
use std::time::Instant as Clock;

/// Stop once the master is within this fraction of the bound.
const REL_GAP: f64 = 1e-6;
/// At most this many new columns per cohort per round. A dual re-solve costs about the
/// same whether a round adds 25k or 80k columns, so fewer, fuller rounds win: on the
/// diverse preset at 100k, 8 per cohort converges in 3 rounds where 2 took 6 (LP 6.3 s
/// against 9.1 s); 4 and 6 take 4-5 rounds, 10-16 add columns without saving a round.
const PER_COHORT: usize = 8;
/// Reduced costs above this are not negative (the solver's dual tolerance is 1e-7).
const EPS: f64 = 1e-7;

#[derive(Debug, Clone)]
pub struct Generated {
    pub status: Status,
    /// Values of `m.lp`'s columns.
    pub values: Vec<f64>,
    /// Objective of the model solved last (the master LP, or its integer model).
    pub objective: f64,
    /// A valid lower bound on the full model's optimum.
    pub lower_bound: f64,
    pub rounds: usize,
    pub solve_seconds: f64,
    pub pricing_seconds: f64,
    pub algorithm: Algorithm,
    /// The integer model solved last (generated columns the LP does not use fixed at
    /// zero), when tier prices fall; `None` when the master LP was the model solved.
    pub integer_model: Option<super::lp::Lp>,
}

/// The placements each cohort starts with: per billing cycle it can be billed to (or
/// once for a roaming cohort), the one with the lowest own cost; and the placements a
/// greedy pass gives its devices — cheapest own cost first, as many devices as the
/// region's comfortable capacity per load slot and the pool-cycle's cap room still
/// take — so the first master is close to a plan without congestion or left-out devices.
pub fn initial_columns(s: &Scenario, p: &Prepared, m: &PlanModel) -> Vec<Vec<usize>> {
    let n = p.grid.n;
    let mut load = vec![0.0f64; s.regions.len() * n];
    let cap_slot: Vec<f64> = s
        .regions
        .iter()
        .map(|r| r.capacity_mb_per_hour * p.grid.slot_hours())
        .collect();
    let mut used = vec![0.0f64; m.pool_cycles.len()];
    p.cohorts
        .iter()
        .map(|c| {
            let costs: Vec<f64> = (0..c.placements.len())
                .map(|k| super::model::own_cost(s, c, k))
                .collect();
            let mut out: Vec<usize> = Vec::new();
            let mut best: Vec<(Option<usize>, usize)> = Vec::new();
            for k in 0..c.placements.len() {
                let y = m.cycle_at(c, c.placements[k].start);
                match best.iter_mut().find(|b| b.0 == y) {
                    Some(b) if costs[k] < costs[b.1] => b.1 = k,
                    Some(_) => {}
                    None => best.push((y, k)),
                }
            }
            out.extend(best.iter().map(|b| b.1));
            let mut order: Vec<usize> = (0..c.placements.len()).collect();
            order.sort_by(|&a, &b| costs[a].total_cmp(&costs[b]).then(a.cmp(&b)));
            let r = c.key.region.0 as usize;
            let mut left = c.devices.len() as f64;
            for k in order {
                if left <= 0.0 {
                    break;
                }
                let pl = &c.placements[k];
                let mb = pl.expected_bytes / 1e6;
                if mb <= 0.0 {
                    continue;
                }
                let mut fit = left;
                for (t, share) in p.grid.spread(pl.start, pl.end) {
                    let room = (cap_slot[r] - load[r * n + t]).max(0.0);
                    fit = fit.min((room / (mb * share)).floor());
                }
                let yi = m.cycle_at(c, pl.start);
                if let Some(room) = yi.and_then(|yi| m.pool_cycles[yi].cap_room_mb) {
                    let yi = yi.unwrap_or_default();
                    fit = fit.min(((room - used[yi]).max(0.0) / mb).floor());
                }
                if fit < 1.0 {
                    continue;
                }
                for (t, share) in p.grid.spread(pl.start, pl.end) {
                    load[r * n + t] += fit * mb * share;
                }
                if let Some(yi) = yi {
                    used[yi] += fit * mb;
                }
                left -= fit;
                if !out.contains(&k) {
                    out.push(k);
                }
            }
            out
        })
        .collect()
}

/// Reduced cost of placement `k` of cohort `ci` under `duals`.
fn reduced_cost(
    s: &Scenario,
    p: &Prepared,
    m: &PlanModel,
    duals: &[f64],
    ci: usize,
    k: usize,
) -> f64 {
    let mut priced = 0.0;
    let cost = m.visit_column(s, p, ci, k, |r, a| priced += duals[r] * a);
    cost - priced
}

/// Prices every candidate placement under `duals`: per cohort, its devices times its
/// most negative reduced cost (0 when none is negative; the bound's term) and the
/// [`PER_COHORT`] most negative placements not yet in the master.
fn price(s: &Scenario, p: &Prepared, m: &PlanModel, duals: &[f64]) -> Vec<(f64, Vec<usize>)> {
    (0..p.cohorts.len())
        .into_par_iter()
        .map(|ci| {
            let c = &p.cohorts[ci];
            let have: Vec<usize> = m.x[ci].iter().map(|x| x.0).collect();
            let mut best: Vec<(f64, usize)> = Vec::new();
            let mut min_d = 0.0f64;
            for k in 0..c.placements.len() {
                let d = reduced_cost(s, p, m, duals, ci, k);
                min_d = min_d.min(d);
                if d < -EPS && !have.contains(&k) {
                    best.push((d, k));
                }
            }
            best.sort_by(|a, b| a.0.total_cmp(&b.0));
            best.truncate(PER_COHORT);
            (
                c.devices.len() as f64 * min_d,
                best.into_iter().map(|b| b.1).collect(),
            )
        })
        .collect()
}

/// Solves the model by column generation within `opts.time_limit_seconds`, on `master`
/// (built from `m.lp`; kept by the caller so a later solve starts from its basis): the
/// LP relaxation first, then the integer model over its columns when there is one.
pub fn solve(
    s: &Scenario,
    p: &Prepared,
    m: &mut PlanModel,
    master: &mut Master,
    opts: &SolveOptions,
    progress: &dyn Fn(&str),
) -> Result<Generated, SolveError> {
    let t0 = Clock::now();
    let left = || {
        opts.time_limit_seconds
            .map(|l| (l - t0.elapsed().as_secs_f64()).max(0.0))
    };
    let relaxed = relaxation(s, p, m, master, &left, progress)?;
    integer_point(m, opts, left(), relaxed)
}

/// The column-generation loop: the master LP re-solved with the placements that price
/// out, until none does, the master is within [`REL_GAP`] of the bound, or time is up.
fn relaxation(
    s: &Scenario,
    p: &Prepared,
    m: &mut PlanModel,
    master: &mut Master,
    left: &dyn Fn() -> Option<f64>,
    progress: &dyn Fn(&str),
) -> Result<Generated, SolveError> {
    let mut lower_bound = f64::NEG_INFINITY;
    let mut rounds = 0;
    let (mut solve_s, mut pricing_s) = (0.0, 0.0);
    let mut status = Status::Optimal;
    let mut last: Option<super::solve::MasterPoint> = None;
    let point = loop {
        rounds += 1;
        let ts = Clock::now();
        // The first master (a few columns per cohort) is always solved to the end, so a
        // time-limited run still has a plan; later rounds get what time is left and fall
        // back to the last complete round.
        let limit = if last.is_none() { None } else { left() };
        let solved = master.solve(&m.lp, limit);
        solve_s += ts.elapsed().as_secs_f64();
        let point = match (solved, last.take()) {
            (Ok(p), prev) if p.status == Status::Optimal => {
                drop(prev);
                p
            }
            (Ok(p), None) => {
                status = Status::TimeLimit;
                break p;
            }
            (Ok(_) | Err(SolveError::NoSolutionInTime(_)), Some(prev)) => {
                status = Status::TimeLimit;
                break prev;
            }
            (Err(e), _) => return Err(e),
        };
        let tp = Clock::now();
        let priced = price(s, p, m, &point.row_duals);
        pricing_s += tp.elapsed().as_secs_f64();
        let bound = point.objective + priced.iter().map(|x| x.0).sum::<f64>();
        lower_bound = lower_bound.max(bound);
        let added: usize = priced.iter().map(|x| x.1.len()).sum();
        progress(&format!(
            "column generation round {rounds}: master {:.4} ({} simplex iterations), bound {:.4}, {added} new columns",
            point.objective, point.iterations, lower_bound
        ));
        let converged = point.objective - lower_bound <= REL_GAP * point.objective.abs().max(1.0);
        if added == 0 || converged {
            break point;
        }
        if left().is_some_and(|l| l <= 0.0) {
            status = Status::TimeLimit;
            break point;
        }
        last = Some(point.clone());
        for (ci, (_, ks)) in priced.into_iter().enumerate() {
            for k in ks {
                m.add_placement(s, p, ci, k);
            }
        }
    };
    let mut values = point.values;
    values.resize(m.lp.cols.len(), 0.0);
    Ok(Generated {
        status,
        values,
        objective: point.objective,
        lower_bound,
        rounds,
        solve_seconds: solve_s,
        pricing_seconds: pricing_s,
        algorithm: Algorithm::ColumnGeneration,
        integer_model: None,
    })
}

/// With falling tier prices the model has integer tier-order columns: the LP point when
/// it is integral as it is, else the integer model over the placements the LP uses
/// (price-and-branch: the others fixed at zero, which keeps branch-and-bound small),
/// within `left` seconds. The LP bound stays a bound on the integer model.
fn integer_point(
    m: &PlanModel,
    opts: &SolveOptions,
    left: Option<f64>,
    mut g: Generated,
) -> Result<Generated, SolveError> {
    if m.lp.is_mip() && integral_as_is(&m.lp, &mut g.values) {
        g.algorithm = Algorithm::ColumnGenerationIntegral;
    } else if m.lp.is_mip() {
        g.algorithm = Algorithm::PriceAndBranch;
        let mut restricted = m.lp.clone();
        for cols in &m.x {
            for &(_, col) in cols {
                if g.values[col] <= 1e-9 {
                    restricted.cols[col].ub = 0.0;
                }
            }
        }
        let mut o = *opts;
        o.time_limit_seconds = left.map(|l| l.max(1.0));
        let outcome = solve::solve(&restricted, &o);
        g.integer_model = Some(restricted);
        match outcome {
            Ok(solved) => {
                g.solve_seconds += solved.solve_seconds;
                if solved.status != Status::Optimal {
                    g.status = Status::TimeLimit;
                }
                g.values = solved.values;
                g.objective = solved.objective;
            }
            // Out of time before an integer point: the LP's placements still make a
            // plan (the binaries only order the tiers the accounting prices exactly).
            Err(SolveError::NoSolutionInTime(_)) => g.status = Status::TimeLimit,
            Err(e) => return Err(e),
        }
    }
    g.lower_bound = g.lower_bound.min(g.objective);
    Ok(g)
}

/// Whether the LP point becomes a point of the integer model by giving each integer
/// column 0 or 1 (the tier-order binaries: each sits in its own rows with continuous
/// columns only); if so, sets them. Their cost is zero, so the objective stays.
fn integral_as_is(lp: &super::lp::Lp, values: &mut [f64]) -> bool {
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); lp.cols.len()];
    for (ri, r) in lp.rows.iter().enumerate() {
        let ints: Vec<usize> = r
            .coefs
            .iter()
            .map(|c| c.0)
            .filter(|&c| lp.cols[c].integer)
            .collect();
        match ints.as_slice() {
            [] => {}
            [c] => rows_of[*c].push(ri),
            _ => return false,
        }
    }
    let mut chosen = Vec::new();
    for (c, col) in lp.cols.iter().enumerate() {
        if !col.integer {
            continue;
        }
        let fits = |v: f64| {
            rows_of[c].iter().all(|&ri| {
                let r = &lp.rows[ri];
                let act: f64 = r
                    .coefs
                    .iter()
                    .map(|&(j, a)| a * if j == c { v } else { values[j] })
                    .sum();
                let tol = 1e-7 * (1.0 + act.abs());
                act >= r.lb - tol && act <= r.ub + tol
            })
        };
        match [0.0, 1.0]
            .into_iter()
            .find(|&v| v >= col.lb && v <= col.ub && fits(v))
        {
            Some(v) => chosen.push((c, v)),
            None => return false,
        }
    }
    for (c, v) in chosen {
        values[c] = v;
    }
    true
}
