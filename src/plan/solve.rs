//! Hands an [`Lp`] to HiGHS through good_lp and reads back values, status, objective and
//! bound. Infeasible, unbounded and "no solution within the time limit" are outcomes
//! with their own message, never a panic.

use super::lp::Lp;
use good_lp::{Expression, ProblemVariables, SolverModel, Variable, variable};
use highs::HighsModelStatus;
use serde::Serialize;
use std::time::Instant as Clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Optimal,
    /// Stopped at the time limit with a feasible (not proven optimal) solution.
    TimeLimit,
}

#[derive(Debug, Clone)]
pub struct Solved {
    pub status: Status,
    pub values: Vec<f64>,
    pub objective: f64,
    /// A proven lower bound on the optimum (equal to the objective when optimal).
    pub lower_bound: f64,
    pub solve_seconds: f64,
    /// The HiGHS algorithm used.
    pub algorithm: &'static str,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    #[error("the model is infeasible")]
    Infeasible,
    #[error("the model is unbounded")]
    Unbounded,
    #[error("no feasible plan was found within the time limit of {0} s")]
    NoSolutionInTime(f64),
    #[error("the solver failed: {0}")]
    Solver(String),
}

#[derive(Debug, Clone, Copy)]
pub struct SolveOptions {
    pub time_limit_seconds: Option<f64>,
    pub threads: u32,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            time_limit_seconds: None,
            threads: 2,
        }
    }
}

/// Above this many columns a pure LP is solved with the interior-point method (measured
/// here: dual simplex stalls beyond ~100 k columns of this shape, IPM does not).
const IPM_ABOVE_COLUMNS: usize = 20_000;

pub fn solve(lp: &Lp, opts: &SolveOptions) -> Result<Solved, SolveError> {
    let t0 = Clock::now();
    let mut vars = ProblemVariables::new();
    let cols: Vec<Variable> = lp
        .cols
        .iter()
        .map(|c| {
            let mut v = variable().min(c.lb);
            if c.ub.is_finite() {
                v = v.max(c.ub);
            }
            if c.integer {
                v = v.integer();
            }
            vars.add(v)
        })
        .collect();
    let mut obj = Expression::with_capacity(lp.cols.len());
    for (c, v) in lp.cols.iter().zip(&cols) {
        if c.cost != 0.0 {
            obj.add_mul(c.cost, *v);
        }
    }
    let mut problem = vars.minimise(obj).using(good_lp::highs);
    for r in &lp.rows {
        let mut e = Expression::with_capacity(r.coefs.len());
        for &(c, a) in &r.coefs {
            e.add_mul(a, cols[c]);
        }
        if r.lb == r.ub {
            problem.add_constraint(e.eq(r.lb));
        } else {
            if r.lb.is_finite() {
                problem.add_constraint(e.clone().geq(r.lb));
            }
            if r.ub.is_finite() {
                problem.add_constraint(e.leq(r.ub));
            }
        }
    }
    let mut model = problem.into_inner();
    model.make_quiet();
    model.set_option("threads", opts.threads.max(1) as i32);
    let algorithm = if !lp.is_mip() && lp.cols.len() > IPM_ABOVE_COLUMNS {
        model.set_option("solver", "ipm");
        "ipm"
    } else if lp.is_mip() {
        model.set_option("mip_rel_gap", 1e-6);
        "branch-and-bound"
    } else {
        "simplex"
    };
    if let Some(t) = opts.time_limit_seconds {
        model.set_option("time_limit", t);
    }
    let solved = model
        .try_solve()
        .map_err(|e| SolveError::Solver(format!("{e:?}")))?;
    let status = match solved.status() {
        HighsModelStatus::Optimal => Status::Optimal,
        HighsModelStatus::Infeasible => return Err(SolveError::Infeasible),
        HighsModelStatus::Unbounded | HighsModelStatus::UnboundedOrInfeasible => {
            return Err(SolveError::Unbounded);
        }
        HighsModelStatus::ReachedTimeLimit
        | HighsModelStatus::ReachedIterationLimit
        | HighsModelStatus::ReachedInterrupt => Status::TimeLimit,
        other => {
            return Err(SolveError::Solver(format!(
                "HiGHS ended with status {other:?}"
            )));
        }
    };
    if solved.primal_solution_status() != highs::HighsSolutionStatus::Feasible {
        return Err(SolveError::NoSolutionInTime(
            opts.time_limit_seconds.unwrap_or(0.0),
        ));
    }
    let values = solved.get_solution().columns().to_vec();
    let objective = lp.objective(&values);
    let lower_bound = if lp.is_mip() {
        solved
            .double_info_value(c"mip_dual_bound")
            .unwrap_or(f64::NEG_INFINITY)
            .min(objective)
    } else if status == Status::Optimal {
        objective
    } else {
        f64::NEG_INFINITY
    };
    Ok(Solved {
        status,
        values,
        objective,
        lower_bound,
        solve_seconds: t0.elapsed().as_secs_f64(),
        algorithm,
    })
}
