//! The cohort × placement model. One struct owns the LP and a typed index from domain
//! keys (cohort, placement, pool-cycle, region-slot) to columns; each business rule is a
//! small function that adds its columns and rows. Pure: no I/O, no solver.

use super::lp::Lp;
use super::prepare::{Cohort, Prepared};
use crate::billing::{self, Cycle};
use crate::domain::{Scenario, Tier};
use crate::units::MB_PER_GB;

/// Bytes per MB.
const MB: f64 = 1e6;

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
    /// Largest update MB the hard cap leaves (None when the pool has no hard cap).
    pub cap_room_mb: Option<f64>,
    /// The row "Σ segments ≥ usage − allowance", when the cycle has segments.
    pub overage_row: Option<usize>,
}

/// The model and its index.
#[derive(Debug, Clone)]
pub struct PlanModel {
    pub lp: Lp,
    /// Per cohort, per placement: the column of "devices of this cohort that start here".
    pub x: Vec<Vec<usize>>,
    /// Per cohort: the column of "devices of this cohort left unscheduled".
    pub unplaced: Vec<usize>,
    pub pool_cycles: Vec<PoolCycle>,
    /// Per pool: indices into `pool_cycles`.
    pub cycles_of_pool: Vec<Vec<usize>>,
    /// Cost of leaving one device unscheduled (dominates any placement).
    pub unplaced_penalty: f64,
    /// Lateness price per device-day used in this model (higher for early waves).
    pub lateness_per_device_day: f64,
}

/// Everything the model needs besides the scenario and the prepared cohorts.
#[derive(Debug, Clone, Default)]
pub struct ModelInputs {
    /// Update MB already billed per (pool, instant): earlier waves, or progress when
    /// re-planning.
    pub already_used_mb: Vec<(usize, crate::units::Instant, f64)>,
    /// Lateness price per device-day (the scenario's, or higher to finish a wave early).
    pub lateness_per_device_day: f64,
}

/// Builds the whole model.
pub fn build(s: &Scenario, p: &Prepared, inputs: &ModelInputs) -> PlanModel {
    let mut m = PlanModel {
        lp: Lp::default(),
        x: Vec::with_capacity(p.cohorts.len()),
        unplaced: Vec::with_capacity(p.cohorts.len()),
        pool_cycles: Vec::new(),
        cycles_of_pool: vec![Vec::new(); s.pools.len()],
        unplaced_penalty: unplaced_penalty(s, p, inputs.lateness_per_device_day),
        lateness_per_device_day: inputs.lateness_per_device_day,
    };
    placement_columns(&mut m, s, p);
    every_device_is_placed_or_reported(&mut m, p);
    pool_cycles(&mut m, s, inputs);
    overage_is_usage_above_allowance(&mut m, s, p);
    regional_load_above_capacity_is_congestion(&mut m, s, p);
    m
}

/// Leaving a device unscheduled must cost more than any way of placing it.
fn unplaced_penalty(s: &Scenario, p: &Prepared, lateness: f64) -> f64 {
    let max_price = s
        .pools
        .iter()
        .flat_map(|pl| {
            pl.tiers
                .iter()
                .map(|t| t.price.0)
                .chain(pl.zone_rates.values().map(|z| z.0))
        })
        .fold(0.0, f64::max);
    let max_mb = p
        .cohorts
        .iter()
        .flat_map(|c| c.placements.iter().map(|pl| pl.expected_bytes / MB))
        .fold(0.0, f64::max);
    let days = (s.deadline - s.start).num_hours() as f64 / 24.0;
    let per_device = max_mb * (max_price + s.weights.congestion_per_gb / MB_PER_GB)
        + s.weights.risk_per_failed_attempt
        + days * lateness;
    1000.0 + 100.0 * per_device
}

/// The cost of one device at one placement that does not depend on other devices:
/// failure risk, lateness, and the zone rate of roaming devices.
pub fn own_cost(s: &Scenario, lateness: f64, p: &Prepared, c: &Cohort, k: usize) -> f64 {
    let pl = &c.placements[k];
    let days = billing::days(s.start, p.grid.slot_start(pl.slot)).max(0.0);
    let zone = c.zone_price.map_or(0.0, |z| z.0 * pl.expected_bytes / MB);
    (1.0 - pl.p_success) * s.weights.risk_per_failed_attempt + days * lateness + zone
}

fn placement_columns(m: &mut PlanModel, s: &Scenario, p: &Prepared) {
    for (ci, c) in p.cohorts.iter().enumerate() {
        let n = c.devices.len() as f64;
        let cols = (0..c.placements.len())
            .map(|k| {
                let cost = own_cost(s, m.lateness_per_device_day, p, c, k);
                m.lp.col(format!("x_c{ci}_s{}", c.placements[k].slot), cost, 0.0, n)
            })
            .collect();
        m.x.push(cols);
        let u = m.lp.col(format!("u_c{ci}"), m.unplaced_penalty, 0.0, n);
        m.unplaced.push(u);
    }
}

/// Every device of a cohort is placed once or reported unscheduled.
fn every_device_is_placed_or_reported(m: &mut PlanModel, p: &Prepared) {
    for (ci, c) in p.cohorts.iter().enumerate() {
        let n = c.devices.len() as f64;
        let mut coefs: Vec<(usize, f64)> = m.x[ci].iter().map(|&col| (col, 1.0)).collect();
        coefs.push((m.unplaced[ci], 1.0));
        m.lp.row(format!("place_c{ci}"), coefs, n, n);
    }
}

/// One entry per pool and billing cycle overlapping the horizon, with the update MB
/// already billed to it (earlier waves, or bytes spent before a re-plan).
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
                overage_row: None,
                cap_room_mb: None,
            });
        }
    }
}

/// A pool's overage in a cycle is what its usage (baseline + update bytes of home-zone
/// downloads starting in the cycle) exceeds the allowance by, priced through its tiers;
/// a `pause`/`throttle` pool's usage stays below its cap by one session's margin.
fn overage_is_usage_above_allowance(m: &mut PlanModel, s: &Scenario, p: &Prepared) {
    for yi in 0..m.pool_cycles.len() {
        let (pi, cy, already) = (
            m.pool_cycles[yi].pool,
            m.pool_cycles[yi].cycle,
            m.pool_cycles[yi].already_mb,
        );
        let pool = &s.pools[pi];
        let mut update: Vec<(usize, f64)> = Vec::new();
        let mut max_update_mb = 0.0;
        let mut largest_session_mb: f64 = 0.0;
        for (ci, c) in p.cohorts.iter().enumerate() {
            if c.key.pool.0 as usize != pi || c.zone_price.is_some() {
                continue;
            }
            for (k, pl) in c.placements.iter().enumerate() {
                let t = p.grid.slot_start(pl.slot);
                if cy.start <= t && t < cy.end {
                    let mb = pl.expected_bytes / MB;
                    update.push((m.x[ci][k], mb));
                    max_update_mb += mb * c.devices.len() as f64;
                    largest_session_mb = largest_session_mb.max(mb);
                }
            }
        }
        let base = cy.baseline.0 + already;
        // Overage segments: Σ o_k ≥ base + update − allowance.
        let segs = segments(
            &pool.tiers,
            (base + max_update_mb - pool.allowance.0).max(0.0),
        );
        let convex = billing::tiers_are_convex(&pool.tiers);
        let mut seg_cols = Vec::new();
        for (k, (width, price)) in segs.iter().enumerate() {
            seg_cols.push(m.lp.col(format!("ov_p{pi}_y{yi}_t{k}"), *price, 0.0, *width));
        }
        if !seg_cols.is_empty() {
            let mut coefs: Vec<(usize, f64)> = seg_cols.iter().map(|&c| (c, 1.0)).collect();
            coefs.extend(update.iter().map(|&(c, mb)| (c, -mb)));
            let row = m.lp.row(
                format!("overage_p{pi}_y{yi}"),
                coefs,
                base - pool.allowance.0,
                f64::INFINITY,
            );
            m.pool_cycles[yi].overage_row = Some(row);
            if !convex {
                tiers_fill_in_order(m, pi, yi, &seg_cols, &segs);
            }
        }
        m.pool_cycles[yi].segments = seg_cols;
        if let (true, Some(cap)) = (pool.on_cap.is_hard(), pool.cap) {
            // Caps are enforced late (at session close): keep one session of margin.
            let room = (cap.0 - base - largest_session_mb).max(0.0);
            m.pool_cycles[yi].cap_room_mb = Some(room);
            if !update.is_empty() {
                m.lp.row(format!("cap_p{pi}_y{yi}"), update, f64::NEG_INFINITY, room);
            }
        }
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

/// Update MB a region carries in a slot above its comfortable capacity (scaled to the
/// slot) is congestion, priced per GB; the hard capacity is never exceeded. A device's
/// expected bytes are spread evenly over the slots its download occupies.
fn regional_load_above_capacity_is_congestion(m: &mut PlanModel, s: &Scenario, p: &Prepared) {
    let n_regions = s.regions.len();
    let mut load: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_regions * p.grid.n];
    for (ci, c) in p.cohorts.iter().enumerate() {
        let r = c.key.region.0 as usize;
        for (k, pl) in c.placements.iter().enumerate() {
            let per_slot = pl.expected_bytes / MB / pl.slots as f64;
            for t in pl.slot..pl.slot + pl.slots {
                load[r * p.grid.n + t].push((m.x[ci][k], per_slot));
            }
        }
    }
    let price = s.weights.congestion_per_gb / MB_PER_GB;
    for (i, coefs) in load.into_iter().enumerate() {
        if coefs.is_empty() {
            continue;
        }
        let (r, t) = (i / p.grid.n, i % p.grid.n);
        let region = &s.regions[r];
        let cap = region.capacity_mb_per_hour * p.grid.slot_hours();
        let hard = region
            .hard_capacity_mb_per_hour
            .map(|h| h * p.grid.slot_hours());
        let max_load: f64 = coefs.iter().map(|&(col, mb)| mb * m.lp.cols[col].ub).sum();
        if max_load <= cap && hard.is_none_or(|h| max_load <= h) {
            continue; // can never be congested
        }
        let row_ub = hard.map_or(cap, |h| h.min(cap));
        let excess_ub = hard.map_or(f64::INFINITY, |h| (h - cap).max(0.0));
        let ex = m.lp.col(format!("ex_r{r}_s{t}"), price, 0.0, excess_ub);
        let mut coefs = coefs;
        coefs.push((ex, -1.0));
        m.lp.row(format!("load_r{r}_s{t}"), coefs, f64::NEG_INFINITY, row_ub);
    }
}
