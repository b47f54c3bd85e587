//! A solver-neutral linear program (columns, rows, bounds, integrality) that the model
//! builder fills and that is handed to good_lp/HiGHS or written as MPS, so the exported
//! file is exactly the model solved. Pure; writing the text is the caller's I/O.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
pub struct Col {
    pub name: String,
    pub cost: f64,
    pub lb: f64,
    /// `f64::INFINITY` = unbounded.
    pub ub: f64,
    pub integer: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub coefs: Vec<(usize, f64)>,
    /// `f64::NEG_INFINITY` / `f64::INFINITY` for a one-sided row.
    pub lb: f64,
    pub ub: f64,
}

/// Minimise Σ cost·x subject to lb ≤ A x ≤ ub and column bounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lp {
    pub cols: Vec<Col>,
    pub rows: Vec<Row>,
}

impl Lp {
    pub fn col(&mut self, name: String, cost: f64, lb: f64, ub: f64) -> usize {
        self.cols.push(Col {
            name,
            cost,
            lb,
            ub,
            integer: false,
        });
        self.cols.len() - 1
    }
    pub fn int_col(&mut self, name: String, cost: f64, lb: f64, ub: f64) -> usize {
        self.cols.push(Col {
            name,
            cost,
            lb,
            ub,
            integer: true,
        });
        self.cols.len() - 1
    }
    pub fn row(&mut self, name: String, coefs: Vec<(usize, f64)>, lb: f64, ub: f64) -> usize {
        self.rows.push(Row {
            name,
            coefs,
            lb,
            ub,
        });
        self.rows.len() - 1
    }
    pub fn is_mip(&self) -> bool {
        self.cols.iter().any(|c| c.integer)
    }
    pub fn nonzeros(&self) -> usize {
        self.rows.iter().map(|r| r.coefs.len()).sum()
    }
    /// Σ cost·x for a column vector.
    pub fn objective(&self, x: &[f64]) -> f64 {
        self.cols.iter().zip(x).map(|(c, v)| c.cost * v).sum()
    }

    /// Free-format MPS, readable by HiGHS, Clp, SCIP and others.
    pub fn to_mps(&self, name: &str) -> String {
        let mut s = String::with_capacity(64 * (self.cols.len() + self.nonzeros()));
        let _ = writeln!(s, "NAME {name}");
        let _ = writeln!(s, "OBJSENSE\n    MIN");
        s.push_str("ROWS\n N obj\n");
        for r in &self.rows {
            let kind = match (r.lb.is_finite(), r.ub.is_finite()) {
                (true, true) if r.lb == r.ub => "E",
                (true, true) => "L",
                (true, false) => "G",
                (false, true) => "L",
                (false, false) => "N",
            };
            let _ = writeln!(s, " {kind} {}", r.name);
        }
        // Column-major coefficients.
        let mut by_col: Vec<Vec<(usize, f64)>> = vec![Vec::new(); self.cols.len()];
        for (ri, r) in self.rows.iter().enumerate() {
            for &(c, v) in &r.coefs {
                by_col[c].push((ri, v));
            }
        }
        s.push_str("COLUMNS\n");
        let mut in_int = false;
        for (ci, c) in self.cols.iter().enumerate() {
            if c.integer != in_int {
                let m = if c.integer { "'INTORG'" } else { "'INTEND'" };
                let _ = writeln!(s, "    MARKER 'MARKER' {m}");
                in_int = c.integer;
            }
            let _ = writeln!(s, "    {} obj {:e}", c.name, c.cost);
            for &(ri, v) in &by_col[ci] {
                let _ = writeln!(s, "    {} {} {:e}", c.name, self.rows[ri].name, v);
            }
        }
        if in_int {
            s.push_str("    MARKER 'MARKER' 'INTEND'\n");
        }
        s.push_str("RHS\n");
        for r in &self.rows {
            let rhs = match (r.lb.is_finite(), r.ub.is_finite()) {
                (true, true) if r.lb == r.ub => Some(r.lb),
                (_, true) => Some(r.ub),
                (true, false) => Some(r.lb),
                _ => None,
            };
            if let Some(v) = rhs
                && v != 0.0
            {
                let _ = writeln!(s, "    rhs {} {:e}", r.name, v);
            }
        }
        s.push_str("RANGES\n");
        for r in &self.rows {
            if r.lb.is_finite() && r.ub.is_finite() && r.lb != r.ub {
                let _ = writeln!(s, "    rng {} {:e}", r.name, r.ub - r.lb);
            }
        }
        s.push_str("BOUNDS\n");
        for c in &self.cols {
            if c.integer && c.lb == 0.0 && c.ub == 1.0 {
                let _ = writeln!(s, " BV bnd {}", c.name);
                continue;
            }
            if c.lb == c.ub {
                let _ = writeln!(s, " FX bnd {} {:e}", c.name, c.lb);
                continue;
            }
            if c.lb != 0.0 {
                if c.lb.is_finite() {
                    let _ = writeln!(s, " LO bnd {} {:e}", c.name, c.lb);
                } else {
                    let _ = writeln!(s, " MI bnd {}", c.name);
                }
            }
            if c.ub.is_finite() {
                let _ = writeln!(s, " UP bnd {} {:e}", c.name, c.ub);
            } else if c.integer {
                let _ = writeln!(s, " PL bnd {}", c.name);
            }
        }
        s.push_str("ENDATA\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mps_has_every_section() {
        let mut lp = Lp::default();
        let x = lp.col("x".into(), 1.0, 0.0, f64::INFINITY);
        let z = lp.int_col("z".into(), 2.0, 0.0, 1.0);
        lp.row("r1".into(), vec![(x, 1.0), (z, 3.0)], 2.0, f64::INFINITY);
        lp.row("r2".into(), vec![(x, 1.0)], 1.0, 5.0);
        let m = lp.to_mps("t");
        for part in [
            "ROWS",
            " G r1",
            " L r2",
            "COLUMNS",
            "'INTORG'",
            "RHS",
            "rng r2 4e0",
            " BV bnd z",
            "ENDATA",
        ] {
            assert!(m.contains(part), "{part} missing in\n{m}");
        }
    }
}
