//! Hands an [`Lp`] to HiGHS through good_lp and reads back values, status, objective and
//! bound. Infeasible, unbounded and "no solution within the time limit" are outcomes
//! with their own message, never a panic.

use super::lp::Lp;
use good_lp::{Expression, ProblemVariables, SolverModel, Variable, variable};
use highs::{ColProblem, HighsModelStatus, Sense};
use serde::Serialize;
use std::time::Instant as Clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Optimal,
    /// Stopped at the time limit with a feasible (not proven optimal) solution.
    TimeLimit,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Optimal => "optimal",
            Status::TimeLimit => "time_limit",
        })
    }
}

/// How a model was solved, as `summary.json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Algorithm {
    #[serde(rename = "simplex")]
    Simplex,
    #[serde(rename = "ipm")]
    Ipm,
    #[serde(rename = "branch-and-bound")]
    BranchAndBound,
    /// Column generation whose master LP is the model's optimum.
    #[serde(rename = "column-generation")]
    ColumnGeneration,
    /// Column generation whose LP point was already integral in the tier binaries.
    #[serde(rename = "column-generation (integral)")]
    ColumnGenerationIntegral,
    /// Column generation, then branch-and-bound over the columns the LP uses.
    #[serde(rename = "column-generation+branch-and-bound")]
    PriceAndBranch,
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
    pub algorithm: Algorithm,
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

/// The model as MPS text, written by HiGHS itself: the model is handed to HiGHS with
/// its `write_model_file` option (which `Highs::run` honours before solving) naming a
/// `.mps` file in a temporary folder, and the solve that follows is cut at once by a
/// time limit of 0. Columns and rows are HiGHS's own names (`c0`, `r0`, …); the
/// objective, bounds, ranges and integrality are the model's.
pub fn mps(lp: &Lp) -> Result<Vec<u8>, SolveError> {
    let io = |e: std::io::Error| SolveError::Solver(format!("writing the MPS file: {e}"));
    let dir = tempfile::tempdir().map_err(io)?;
    let path = dir.path().join("model.mps");
    let file = path
        .to_str()
        .ok_or_else(|| SolveError::Solver("the temporary folder's path is not UTF-8".into()))?;
    let mut pb = ColProblem::default();
    let rows: Vec<highs::Row> = lp.rows.iter().map(|r| pb.add_row(r.lb..=r.ub)).collect();
    let mut by_col: Vec<Vec<(highs::Row, f64)>> = vec![Vec::new(); lp.cols.len()];
    for (ri, r) in lp.rows.iter().enumerate() {
        for &(c, a) in &r.coefs {
            by_col[c].push((rows[ri], a));
        }
    }
    for (c, coefs) in lp.cols.iter().zip(by_col) {
        pb.add_column_with_integrality(c.cost, c.lb..=c.ub, coefs, c.integer);
    }
    let mut model = pb.optimise(Sense::Minimise);
    model.make_quiet();
    model.set_option("write_model_file", file);
    model.set_option("time_limit", 0.0);
    // The solve's outcome does not matter: the file is written before it starts.
    let _ = model.try_solve();
    std::fs::read(&path).map_err(io)
}

/// Above this many columns a pure LP is solved with the interior-point method (measured
/// here: dual simplex stalls beyond ~100 k columns of this shape, IPM does not).
const IPM_ABOVE_COLUMNS: usize = 20_000;

/// Runs HiGHS and turns its ending into a domain outcome: a status with a feasible
/// point, or the error that says why there is none.
fn run(
    model: highs::Model,
    time_limit: Option<f64>,
) -> Result<(highs::SolvedModel, Status), SolveError> {
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
        return Err(SolveError::NoSolutionInTime(time_limit.unwrap_or(0.0)));
    }
    Ok((solved, status))
}

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
        Algorithm::Ipm
    } else if lp.is_mip() {
        model.set_option("mip_rel_gap", 1e-6);
        Algorithm::BranchAndBound
    } else {
        Algorithm::Simplex
    };
    if let Some(t) = opts.time_limit_seconds {
        model.set_option("time_limit", t);
    }
    let (solved, status) = run(model, opts.time_limit_seconds)?;
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

/// One solve of the restricted master: primal values, row duals (one per [`Lp`] row, in
/// HiGHS's sign convention: reduced cost = cost − Σ dual · coefficient) and objective.
#[derive(Debug, Clone)]
pub struct MasterPoint {
    pub status: Status,
    pub values: Vec<f64>,
    pub row_duals: Vec<f64>,
    pub objective: f64,
    /// Simplex iterations this solve took.
    pub iterations: i64,
}

/// The LP relaxation of a model, kept alive in HiGHS between solves so that columns can
/// be added and the next solve starts from the last basis (column generation). Built
/// with the `highs` crate directly — the crate good_lp's HiGHS backend wraps — because
/// adding a column to existing rows needs HiGHS's row handles, which good_lp keeps
/// private. Integrality is relaxed here; [`solve`] solves the integer model at the end.
pub struct Master {
    model: Option<highs::Model>,
    rows: Vec<highs::Row>,
    cols: Vec<highs::Col>,
    threads: u32,
    solves: usize,
}

impl Master {
    pub fn new(lp: &Lp, opts: &SolveOptions) -> Master {
        let mut pb = ColProblem::default();
        let rows: Vec<highs::Row> = lp.rows.iter().map(|r| pb.add_row(r.lb..=r.ub)).collect();
        let mut model = pb.optimise(Sense::Minimise);
        model.make_quiet();
        model.set_option("threads", opts.threads.max(1) as i32);
        // Simplex keeps a basis between solves; a solve after new columns starts there.
        model.set_option("solver", "simplex");
        // The master's rows are few and plain (one per cohort, pool-cycle and loaded
        // region-slot): presolve saved nothing and cost 1-2 s of 12 per run on the
        // diverse preset at 100k, most of it repeated on every round.
        model.set_option("presolve", "off");
        Master {
            model: Some(model),
            rows,
            cols: Vec::new(),
            threads: opts.threads,
            solves: 0,
        }
    }

    /// Adds the columns of `lp` created since the last call (all of them, the first
    /// time), keeping HiGHS's handle of each.
    pub fn sync(&mut self, lp: &Lp) -> Result<(), SolveError> {
        let Some(model) = self.model.as_mut() else {
            return Err(SolveError::Solver("the master model was lost".into()));
        };
        let have = self.cols.len();
        if have == lp.cols.len() {
            return Ok(());
        }
        let mut by_col: Vec<Vec<(highs::Row, f64)>> = vec![Vec::new(); lp.cols.len() - have];
        for (ri, r) in lp.rows.iter().enumerate() {
            // Columns are appended to each row's list in creation order.
            for &(c, a) in r.coefs.iter().rev() {
                if c < have {
                    break;
                }
                by_col[c - have].push((self.rows[ri], a));
            }
        }
        for (c, coefs) in lp.cols[have..].iter().zip(by_col) {
            let col = model
                .try_add_column(c.cost, c.lb..=c.ub, coefs)
                .map_err(|e| SolveError::Solver(format!("adding a column: {e:?}")))?;
            self.cols.push(col);
        }
        Ok(())
    }

    /// Gives column `col` of the model the bounds it now has in `lp`.
    pub fn update_bounds(&mut self, lp: &Lp, col: usize) {
        if let (Some(model), Some(&handle)) = (self.model.as_mut(), self.cols.get(col)) {
            let c = &lp.cols[col];
            model.change_column_bounds(handle, c.lb..=c.ub);
        }
    }

    /// Solves from the last basis, within `time_limit` seconds when given.
    pub fn solve(&mut self, lp: &Lp, time_limit: Option<f64>) -> Result<MasterPoint, SolveError> {
        self.sync(lp)?;
        let Some(mut model) = self.model.take() else {
            return Err(SolveError::Solver("the master model was lost".into()));
        };
        model.set_option("time_limit", time_limit.unwrap_or(f64::INFINITY).max(0.01));
        // Dual simplex (HiGHS's default) for every solve, the warm re-solves after
        // columns are added included. Primal looks natural there (the last basis stays
        // primal feasible) but is slower on this master. Diverse preset at 100k, the
        // column-generation LP time, each run at real-time priority on this 2-core
        // machine: 10.7 s primal against 9.1 s dual with 2 columns per cohort per round,
        // 14.5 s against 6.8 s with 8.
        model.set_option("simplex_strategy", 1);
        self.solves += 1;
        model.set_option("threads", self.threads.max(1) as i32);
        let (solved, status) = run(model, time_limit)?;
        let sol = solved.get_solution();
        let values = sol.columns().to_vec();
        let row_duals = sol.dual_rows().to_vec();
        let iterations = solved.simplex_iteration_count();
        self.model = Some(highs::Model::from(solved));
        Ok(MasterPoint {
            status,
            objective: lp.objective(&values),
            values,
            row_duals,
            iterations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HiGHS's sign convention, which pricing relies on: reduced cost = cost − Σ y·a.
    #[test]
    fn master_duals_price_a_new_column() {
        // min x1 + 2 x2  s.t.  x1 + x2 = 1 (place),  x1 ≤ 0.5 (cap).
        let mut lp = Lp::default();
        let x1 = lp.col("x1".into(), 1.0, 0.0, 1.0);
        let x2 = lp.col("x2".into(), 2.0, 0.0, 1.0);
        lp.row("place".into(), vec![(x1, 1.0), (x2, 1.0)], 1.0, 1.0);
        lp.row("cap".into(), vec![(x1, 1.0)], f64::NEG_INFINITY, 0.5);
        let mut m = Master::new(&lp, &SolveOptions::default());
        let p = m.solve(&lp, None).unwrap();
        assert!((p.objective - 1.5).abs() < 1e-9);
        assert!((p.row_duals[0] - 2.0).abs() < 1e-9, "{:?}", p.row_duals);
        assert!((p.row_duals[1] + 1.0).abs() < 1e-9, "{:?}", p.row_duals);
        // A column of cost 1.2 in the place row prices out at 1.2 − 2 < 0; added, it
        // takes x2's share and the warm re-solve finds 0.5 + 0.6.
        let x3 = lp.col("x3".into(), 1.2, 0.0, 1.0);
        lp.rows[0].coefs.push((x3, 1.0));
        let p = m.solve(&lp, None).unwrap();
        assert!((p.objective - 1.1).abs() < 1e-9, "{}", p.objective);
        assert_eq!(p.values.len(), 3);
    }

    /// The exported MPS is HiGHS's own: every section, the integer marker, a range row.
    #[test]
    fn mps_is_written_by_highs_with_every_section() {
        let mut lp = Lp::default();
        let x = lp.col("x".into(), 1.0, 0.0, f64::INFINITY);
        let z = lp.int_col("z".into(), 2.0, 0.0, 1.0);
        lp.row("r1".into(), vec![(x, 1.0), (z, 3.0)], 2.0, f64::INFINITY);
        lp.row("r2".into(), vec![(x, 1.0)], 1.0, 5.0);
        let m = String::from_utf8(mps(&lp).unwrap()).unwrap();
        for part in [
            "ROWS", "COLUMNS", "MARKER", "RHS", "RANGES", "BOUNDS", "ENDATA",
        ] {
            assert!(m.contains(part), "{part} missing in\n{m}");
        }
    }
}
