//! The cohort × placement model, built for column generation. Every row exists from the
//! start (each cohort's "placed or reported", each pool-cycle's overage and cap, each
//! region-slot that could be congested); placement columns are added as pricing finds
//! them worth having. One struct owns the LP and a typed index from domain keys to rows
//! and columns; each business rule is a small function that adds its rows, and
//! [`PlanModel::column`] says, in one place, what one placement contributes to each row.
//! Pure: no I/O, no solver.

use super::lp::Lp;
use super::prepare::{Cohort, Prepared};
use crate::billing::{self, Cycle};
use crate::domain::{Scenario, Tier};
use crate::units::{Instant, MB_PER_GB};
use std::collections::HashMap;

/// Bytes per MB.
const MB: f64 = 1e6;
/// No row here.
pub const NO_ROW: usize = usize::MAX;

/// A pool's billing cycle inside the model.
#[derive(Debug, Clone)]
pub struct PoolCycle {
    pub pool: usize,
    pub cycle: Cycle,
    /// Update MB already billed to this cycle before planning (re-planning), included
    /// in the usage row's constant.
    pub already_mb: f64,
    /// Overage segment columns, one per tier.
    pub segments: Vec<usize>,
    /// MB kept free under the cap (the pool's `cap_headroom_mb`, or the largest single
    /// expected download that may start in the cycle); `None` without a hard cap.
    pub cap_headroom_mb: Option<f64>,
    /// Largest update MB the hard cap leaves (None when the pool has no hard cap).
    pub cap_room_mb: Option<f64>,
    /// The row "Σ segments ≥ usage − allowance", when the cycle has segments.
    pub overage_row: Option<usize>,
    /// The row "update ≤ cap room", for a hard cap.
    pub cap_row: Option<usize>,
}

/// The model and its index.
#[derive(Debug, Clone)]
pub struct PlanModel {
    pub lp: Lp,
    /// Per cohort: the placements that have a column, as (placement index, column).
    pub x: Vec<Vec<(usize, usize)>>,
    /// Per cohort: the column of "devices of this cohort left unscheduled".
    pub unplaced: Vec<usize>,
    /// Per cohort: the row "placed or reported".
    pub place_row: Vec<usize>,
    pub pool_cycles: Vec<PoolCycle>,
    /// Per pool: indices into `pool_cycles`.
    pub cycles_of_pool: Vec<Vec<usize>>,
    /// Per region × load-grid slot (`region * grid.n + slot`): the row "load − excess ≤
    /// capacity", or `NO_ROW` where the region can never be congested.
    pub load_row: Vec<usize>,
    /// Cost of leaving one device unscheduled (dominates any placement).
    pub unplaced_penalty: f64,
    /// Per region × load-grid slot: MB of downloads in flight (re-planning) there.
    pub fixed_load: Vec<f64>,
}

/// Everything the model needs besides the scenario and the prepared cohorts.
#[derive(Debug, Clone, Default)]
pub struct ModelInputs {
    /// Update MB already billed per (pool, instant): bytes spent before a re-plan (and
    /// the rest of downloads in flight at its `now`).
    pub already_used_mb: Vec<(usize, Instant, f64)>,
    /// Regional load no placement can move: (region, from, until, MB) of each download
    /// in flight at a re-plan's `now`, spread evenly over `[from, until)`.
    pub fixed_load_mb: Vec<(usize, Instant, Instant, f64)>,
}

impl PlanModel {
    /// The pool-cycle a home-zone placement starting at `t` is billed to.
    pub fn cycle_at(&self, c: &Cohort, t: Instant) -> Option<usize> {
        if c.zone_price.is_some() {
            return None;
        }
        self.cycles_of_pool[c.key.pool.0 as usize]
            .iter()
            .copied()
            .find(|&yi| self.pool_cycles[yi].cycle.start <= t && t < self.pool_cycles[yi].cycle.end)
    }

    /// The column of one placement: its cost per device (failure risk, lateness, zone
    /// rate), and its coefficient in every row handed to `row` — one in its cohort's
    /// "placed or reported", its MB in its pool-cycle's usage (overage and cap) and,
    /// spread over the load slots its window overlaps, in its region's load.
    pub fn visit_column(
        &self,
        s: &Scenario,
        p: &Prepared,
        ci: usize,
        k: usize,
        mut row: impl FnMut(usize, f64),
    ) -> f64 {
        let c = &p.cohorts[ci];
        let pl = &c.placements[k];
        let mb = pl.expected_bytes / MB;
        row(self.place_row[ci], 1.0);
        if let Some(yi) = self.cycle_at(c, pl.start) {
            let pc = &self.pool_cycles[yi];
            if let Some(r) = pc.overage_row {
                row(r, -mb);
            }
            if let Some(r) = pc.cap_row {
                row(r, mb);
            }
        }
        let base = c.key.region.0 as usize * p.grid.n;
        for (t, share) in p.grid.spread(pl.start, pl.end) {
            let r = self.load_row[base + t];
            if r != NO_ROW {
                row(r, mb * share);
            }
        }
        own_cost(s, c, k)
    }

    /// [`PlanModel::visit_column`], collected.
    pub fn column(
        &self,
        s: &Scenario,
        p: &Prepared,
        ci: usize,
        k: usize,
    ) -> (f64, Vec<(usize, f64)>) {
        let mut coefs = Vec::with_capacity(8);
        let cost = self.visit_column(s, p, ci, k, |r, a| coefs.push((r, a)));
        (cost, coefs)
    }

    /// Adds the column of placement `k` of cohort `ci` (once).
    pub fn add_placement(&mut self, s: &Scenario, p: &Prepared, ci: usize, k: usize) -> usize {
        if let Some(&(_, col)) = self.x[ci].iter().find(|(kk, _)| *kk == k) {
            return col;
        }
        let (cost, coefs) = self.column(s, p, ci, k);
        // No upper bound of its own: the place row bounds it by the cohort's size, and a
        // bound here would let the duals hide behind it (the pricing bound needs every
        // master column's reduced cost ≥ 0 at the optimum).
        let col = self
            .lp
            .col(format!("x_c{ci}_p{k}"), cost, 0.0, f64::INFINITY);
        for (row, a) in coefs {
            self.lp.rows[row].coefs.push((col, a));
        }
        self.x[ci].push((k, col));
        col
    }
}

/// Builds every row and the overage, excess and unplaced columns; placement columns are
/// added with [`PlanModel::add_placement`].
pub fn build(s: &Scenario, p: &Prepared, inputs: &ModelInputs) -> PlanModel {
    let mut m = PlanModel {
        lp: Lp::default(),
        x: vec![Vec::new(); p.cohorts.len()],
        unplaced: Vec::with_capacity(p.cohorts.len()),
        place_row: Vec::with_capacity(p.cohorts.len()),
        pool_cycles: Vec::new(),
        cycles_of_pool: vec![Vec::new(); s.pools.len()],
        load_row: vec![NO_ROW; s.regions.len() * p.grid.n],
        unplaced_penalty: unplaced_penalty(s, p),
        fixed_load: vec![0.0; s.regions.len() * p.grid.n],
    };
    for &(r, from, until, mb) in &inputs.fixed_load_mb {
        for (t, share) in p.grid.spread(from, until) {
            m.fixed_load[r * p.grid.n + t] += mb * share;
        }
    }
    every_device_is_placed_or_reported(&mut m, p);
    pool_cycles(&mut m, s, inputs);
    let most = candidate_update_mb(&m, p);
    overage_is_usage_above_allowance(&mut m, s, &most);
    hard_caps_keep_their_headroom(&mut m, s, &most);
    regional_load_above_capacity_is_congestion(&mut m, s, p);
    m
}

/// Leaving a device unscheduled must cost more than any way of placing it.
fn unplaced_penalty(s: &Scenario, p: &Prepared) -> f64 {
    let max_price = s.max_price_per_mb();
    let max_mb = p
        .cohorts
        .iter()
        .flat_map(|c| c.placements.iter().map(|pl| pl.expected_bytes / MB))
        .fold(0.0, f64::max);
    let days = (s.deadline - s.start).num_hours() as f64 / 24.0;
    let per_device = max_mb * (max_price + s.weights.congestion_per_gb / MB_PER_GB)
        + s.weights.risk_per_failed_attempt
        + days * s.weights.lateness_per_device_day;
    1.0 + 2.0 * per_device
}

/// The cost of one device at one placement that does not depend on other devices:
/// failure risk, lateness, and the zone rate of roaming devices.
pub fn own_cost(s: &Scenario, c: &Cohort, k: usize) -> f64 {
    let pl = &c.placements[k];
    let days = billing::days(s.start, pl.start).max(0.0);
    let zone = c.zone_price.map_or(0.0, |z| z.0 * pl.expected_bytes / MB);
    (1.0 - pl.p_success) * s.weights.risk_per_failed_attempt
        + days * s.weights.lateness_per_device_day
        + zone
}

/// Every device of a cohort is placed once or reported unscheduled.
fn every_device_is_placed_or_reported(m: &mut PlanModel, p: &Prepared) {
    for (ci, c) in p.cohorts.iter().enumerate() {
        let n = c.devices.len() as f64;
        let u =
            m.lp.col(format!("u_c{ci}"), m.unplaced_penalty, 0.0, f64::INFINITY);
        m.unplaced.push(u);
        let row = m.lp.row(format!("place_c{ci}"), vec![(u, 1.0)], n, n);
        m.place_row.push(row);
    }
}

/// One entry per pool and billing cycle overlapping the horizon, with the update MB
/// already billed to it (bytes spent before a re-plan).
fn pool_cycles(m: &mut PlanModel, s: &Scenario, inputs: &ModelInputs) {
    for (pi, pool) in s.pools.iter().enumerate() {
        for cy in billing::cycles(pool, s.start, s.deadline) {
            let already_mb: f64 = inputs
                .already_used_mb
                .iter()
                .filter(|(ip, t, _)| *ip == pi && cy.start <= *t && *t < cy.end)
                .map(|(_, _, mb)| mb)
                .sum();
            m.cycles_of_pool[pi].push(m.pool_cycles.len());
            m.pool_cycles.push(PoolCycle {
                pool: pi,
                cycle: cy,
                already_mb,
                segments: Vec::new(),
                cap_headroom_mb: None,
                cap_room_mb: None,
                overage_row: None,
                cap_row: None,
            });
        }
    }
}

/// Per pool-cycle: the most update MB the candidates could bill to it, and the largest
/// single expected download among them.
fn candidate_update_mb(m: &PlanModel, p: &Prepared) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0f64); m.pool_cycles.len()];
    for c in &p.cohorts {
        let n = c.devices.len() as f64;
        let mut most: HashMap<usize, f64> = HashMap::new();
        for pl in &c.placements {
            if let Some(yi) = m.cycle_at(c, pl.start) {
                let mb = pl.expected_bytes / MB;
                let e = most.entry(yi).or_default();
                *e = e.max(mb * n);
                out[yi].1 = out[yi].1.max(mb);
            }
        }
        for (yi, mb) in most {
            out[yi].0 += mb;
        }
    }
    out
}

/// A pool's overage in a cycle is what its usage (baseline + update bytes of home-zone
/// downloads starting in the cycle) exceeds the allowance by, priced through its tiers.
fn overage_is_usage_above_allowance(m: &mut PlanModel, s: &Scenario, most: &[(f64, f64)]) {
    for (yi, &(most_mb, _)) in most.iter().enumerate() {
        let (pi, cy, already) = (
            m.pool_cycles[yi].pool,
            m.pool_cycles[yi].cycle,
            m.pool_cycles[yi].already_mb,
        );
        let pool = &s.pools[pi];
        let base = cy.baseline.0 + already;
        // Overage segments: Σ o_k ≥ base + update − allowance.
        let segs = segments(&pool.tiers, (base + most_mb - pool.allowance.0).max(0.0));
        let seg_cols: Vec<usize> = segs
            .iter()
            .enumerate()
            .map(|(k, (width, price))| {
                m.lp.col(format!("ov_p{pi}_y{yi}_t{k}"), *price, 0.0, *width)
            })
            .collect();
        if !seg_cols.is_empty() {
            let coefs: Vec<(usize, f64)> = seg_cols.iter().map(|&c| (c, 1.0)).collect();
            let row = m.lp.row(
                format!("overage_p{pi}_y{yi}"),
                coefs,
                base - pool.allowance.0,
                f64::INFINITY,
            );
            m.pool_cycles[yi].overage_row = Some(row);
            if !billing::tiers_are_convex(&pool.tiers) {
                tiers_fill_in_order(m, pi, yi, &seg_cols, &segs);
            }
        }
        m.pool_cycles[yi].segments = seg_cols;
    }
}

/// A `pause`/`throttle` pool's usage stays at least its headroom below the cap in every
/// cycle (carriers enforce caps late, at session close): `cap_headroom_mb`, or by default
/// the largest single expected download that may start in the cycle.
fn hard_caps_keep_their_headroom(m: &mut PlanModel, s: &Scenario, most: &[(f64, f64)]) {
    for (yi, &(_, largest)) in most.iter().enumerate() {
        let pc = &m.pool_cycles[yi];
        let pool = &s.pools[pc.pool];
        let (true, Some(cap)) = (pool.on_cap.is_hard(), pool.cap) else {
            continue;
        };
        let headroom = pool.cap_headroom.map_or(largest, |h| h.0);
        let room = (cap.0 - pc.cycle.baseline.0 - pc.already_mb - headroom).max(0.0);
        let pi = pc.pool;
        let row = m.lp.row(
            format!("cap_p{pi}_y{yi}"),
            Vec::new(),
            f64::NEG_INFINITY,
            room,
        );
        let pc = &mut m.pool_cycles[yi];
        pc.cap_headroom_mb = Some(headroom);
        pc.cap_room_mb = Some(room);
        pc.cap_row = Some(row);
    }
}

/// Tier widths and prices, the unbounded last tier bounded by what usage could reach.
fn segments(tiers: &[Tier], max_overage: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut lower = 0.0;
    for t in tiers {
        let width = match t.up_to {
            Some(u) => u.0 - lower,
            None => (max_overage - lower).max(0.0) + 1.0,
        };
        out.push((width.max(0.0), t.price.0));
        if let Some(u) = t.up_to {
            lower = u.0;
        }
        if lower >= max_overage + 1.0 {
            break;
        }
    }
    out
}

/// When a later tier is cheaper than an earlier one, an LP would fill the cheap tier
/// first; binaries force tiers to fill in order: tier k+1 may hold MB only when tier k
/// is full.
fn tiers_fill_in_order(
    m: &mut PlanModel,
    pi: usize,
    yi: usize,
    seg_cols: &[usize],
    segs: &[(f64, f64)],
) {
    for k in 0..seg_cols.len().saturating_sub(1) {
        let z =
            m.lp.int_col(format!("full_p{pi}_y{yi}_t{k}"), 0.0, 0.0, 1.0);
        // o_k ≥ width_k · z_k
        m.lp.row(
            format!("fullk_p{pi}_y{yi}_t{k}"),
            vec![(seg_cols[k], 1.0), (z, -segs[k].0)],
            0.0,
            f64::INFINITY,
        );
        // o_{k+1} ≤ width_{k+1} · z_k
        m.lp.row(
            format!("nextk_p{pi}_y{yi}_t{k}"),
            vec![(seg_cols[k + 1], 1.0), (z, -segs[k + 1].0)],
            f64::NEG_INFINITY,
            0.0,
        );
    }
}

/// Update MB a region carries in a load slot above its comfortable capacity (scaled to
/// the slot) is congestion, priced per GB; the hard capacity is never exceeded by what
/// the plan adds. A device's expected bytes are spread evenly over its window; downloads
/// in flight (re-planning) are a fixed load. Rows exist only where the candidates could
/// ever exceed a capacity.
fn regional_load_above_capacity_is_congestion(m: &mut PlanModel, s: &Scenario, p: &Prepared) {
    // Most MB each (region, slot) could carry: per cohort, its largest share there.
    let mut most: HashMap<(usize, usize), f64> = HashMap::new();
    for c in &p.cohorts {
        let r = c.key.region.0 as usize;
        let n = c.devices.len() as f64;
        let mut own: HashMap<usize, f64> = HashMap::new();
        for pl in &c.placements {
            let mb = pl.expected_bytes / MB;
            for (t, share) in p.grid.spread(pl.start, pl.end) {
                let e = own.entry(t).or_default();
                *e = e.max(mb * share * n);
            }
        }
        for (t, mb) in own {
            *most.entry((r, t)).or_default() += mb;
        }
    }
    let price = s.weights.congestion_per_gb / MB_PER_GB;
    let mut keys: Vec<((usize, usize), f64)> = most.into_iter().collect();
    keys.sort_unstable_by_key(|(k, _)| *k);
    for ((r, t), max_load) in keys {
        let region = &s.regions[r];
        let fixed = m.fixed_load[r * p.grid.n + t];
        let cap = region.capacity_mb_per_hour * p.grid.slot_hours();
        // A fixed load above the hard capacity is a fact: nothing more may be added.
        let hard = region
            .hard_capacity_mb_per_hour
            .map(|h| (h * p.grid.slot_hours()).max(fixed));
        let max_load = max_load + fixed;
        if max_load <= cap && hard.is_none_or(|h| max_load <= h) {
            continue; // can never be congested
        }
        let row_ub = hard.map_or(cap, |h| h.min(cap)) - fixed;
        let excess_ub = hard.map_or(f64::INFINITY, |h| (h - cap).max(0.0));
        let ex = m.lp.col(format!("ex_r{r}_s{t}"), price, 0.0, excess_ub);
        let row = m.lp.row(
            format!("load_r{r}_s{t}"),
            vec![(ex, -1.0)],
            f64::NEG_INFINITY,
            row_ub,
        );
        m.load_row[r * p.grid.n + t] = row;
    }
}
