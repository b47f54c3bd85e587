//! A solver-neutral linear program (columns, rows, bounds, integrality) that the model
//! builder fills and that is handed to good_lp/HiGHS, or to HiGHS to write as MPS
//! (`solve::mps`), so the exported file is exactly the model solved. Pure.

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
}
