//! What the report reads: the subsets of `summary.json` and `simulation.json` it needs
//! (read back through serde, so the CLI and `plan` take the same path) and a plan row.
//! Keys added after a file was written are optional, so older plan folders still report.

use crate::units::Instant;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Cost components (the summary's `cost`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub total: f64,
    pub overage: f64,
    #[serde(default)]
    pub zone: f64,
    #[serde(default)]
    pub congestion: f64,
    #[serde(default)]
    pub risk: f64,
    #[serde(default)]
    pub lateness: f64,
}

impl Cost {
    /// Money that is invoiced: overage + zone charges.
    pub fn cash(&self) -> f64 {
        self.overage + self.zone
    }

    /// Planning weights priced as money in the objective, never invoiced.
    pub fn shadow(&self) -> f64 {
        self.congestion + self.risk + self.lateness
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cycle {
    pub start: String,
    pub end: String,
    pub allowance_mb: f64,
    pub baseline_mb: f64,
    #[serde(default)]
    pub already_mb: f64,
    pub update_mb: f64,
    pub overage_mb: f64,
    pub overage_cost: f64,
    #[serde(default)]
    pub zone_cost: f64,
    #[serde(default)]
    pub cap_mb: Option<f64>,
    #[serde(default)]
    pub cap_headroom_mb: Option<f64>,
}

impl Cycle {
    /// The invoice of this cycle: overage + zone charges.
    pub fn invoice(&self) -> f64 {
        self.overage_cost + self.zone_cost
    }

    /// Pool usage in the cycle: baseline, bytes spent before a re-plan, update.
    pub fn usage_mb(&self) -> f64 {
        self.baseline_mb + self.already_mb + self.update_mb
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub pool_id: String,
    #[serde(default)]
    pub cycle_timezone: Option<String>,
    pub cycles: Vec<Cycle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub region: String,
    pub capacity_mb_per_hour: f64,
    #[serde(default)]
    pub hard_capacity_mb_per_hour: Option<f64>,
    pub peak_mb_per_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wave {
    pub name: String,
    pub devices: usize,
    pub start: Option<String>,
    pub end: Option<String>,
    pub gate: Option<String>,
}

/// A baseline of summary.json: what the fleet would otherwise have done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub cost: Cost,
    #[serde(default)]
    pub devices: Option<usize>,
    #[serde(default)]
    pub finished_by_deadline: Option<usize>,
    /// Overage + zone, its devices not updated priced as `baseline_comparison` states.
    #[serde(default)]
    pub spend: f64,
    /// `cost.total`, its devices not updated priced likewise.
    #[serde(default)]
    pub total: f64,
    #[serde(default)]
    pub devices_not_updated: usize,
    /// Baseline spend − the comparison's plan spend (as summary.json writes it).
    #[serde(default)]
    pub saving_spend: f64,
    /// Baseline total − the comparison's plan total.
    #[serde(default)]
    pub saving_total: f64,
}

/// What the baselines' savings are measured against (summary.json
/// `baseline_comparison`): the plan with its devices left out priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonView {
    pub plan_spend: f64,
    pub plan_total: f64,
    pub devices_not_updated: usize,
}

/// The solver's outcome (summary.json `lp`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LpView {
    pub status: String,
    #[serde(default)]
    pub lower_bound: f64,
    #[serde(default)]
    pub rounding_gap: f64,
}

/// The horizon priced with baseline use only (summary.json `business_as_usual`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessAsUsual {
    pub cost: Cost,
    pub pools: Vec<Pool>,
}

/// What the report needs of `summary.json` (a subset of `output::Summary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryView {
    pub scenario: String,
    pub release: String,
    pub currency: String,
    pub start: String,
    pub deadline: String,
    pub devices: usize,
    pub scheduled: usize,
    pub unscheduled: usize,
    #[serde(default)]
    pub up_to_date: usize,
    pub cost: Cost,
    #[serde(default)]
    pub lp: Option<LpView>,
    pub pools: Vec<Pool>,
    pub regions: Vec<Region>,
    pub waves: Vec<Wave>,
    #[serde(default)]
    pub baselines: Vec<Baseline>,
    #[serde(default)]
    pub baseline_comparison: Option<ComparisonView>,
    #[serde(default)]
    pub business_as_usual: Option<BusinessAsUsual>,
}

impl SummaryView {
    /// The plan's spend the baselines are compared with: overage + zone, plus its
    /// devices not updated priced as `baseline_comparison` states.
    pub fn plan_spend(&self) -> f64 {
        self.baseline_comparison
            .as_ref()
            .map_or(self.cost.cash(), |c| c.plan_spend)
    }

    /// The plan's objective total, compared likewise.
    pub fn plan_total(&self) -> f64 {
        self.baseline_comparison
            .as_ref()
            .map_or(self.cost.total, |c| c.plan_total)
    }
}

/// Mean and percentiles of one quantity over the runs (`p10` since invoices got bands).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    pub mean: f64,
    #[serde(default)]
    pub p10: Option<f64>,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompletionView {
    pub mean: f64,
    pub p10: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimCycle {
    pub start: String,
    #[serde(default)]
    pub invoice: Option<StatsView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimPool {
    pub pool_id: String,
    pub cycles: Vec<SimCycle>,
}

/// What the report needs of `simulation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationView {
    /// The plan it replayed (`plan_folder::plan_digest`); absent in files older than the field.
    #[serde(default)]
    pub plan: Option<String>,
    pub runs: usize,
    pub seed: u64,
    pub cost: StatsView,
    #[serde(default)]
    pub spend: Option<StatsView>,
    pub projection_gap: f64,
    pub completion_rate: CompletionView,
    #[serde(default)]
    pub pools: Vec<SimPool>,
}

impl SimulationView {
    /// The simulated invoice of a pool's cycle, when the file has one.
    pub fn invoice(&self, pool_id: &str, start: &str) -> Option<StatsView> {
        self.pools
            .iter()
            .find(|p| p.pool_id == pool_id)?
            .cycles
            .iter()
            .find(|c| c.start == start)?
            .invoice
    }
}

/// One row of plan.csv, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    pub device_id: String,
    pub wave: String,
    pub pool_id: String,
    pub region: String,
    pub timezone: String,
    pub payload: String,
    pub payload_bytes: u64,
    pub expected_bytes: u64,
    pub window_start: Instant,
    pub window_end: Instant,
    pub window_start_local: String,
    pub window_end_local: String,
    pub p_success: f64,
    pub throughput_kbps: f64,
    pub billing_cycle_start: Option<Instant>,
    /// Empty = the pool's home zone.
    pub zone: String,
    pub reconnect_by: Option<Instant>,
}

/// One download as the page and the spend tables count it: the pool that pays, when it
/// starts, whether it roams, its expected bytes. A plan writes these straight from its
/// rows; `otaplan report` takes them from plan.csv's [`DeviceRow`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub pool_id: Arc<str>,
    pub window_start: Instant,
    /// Billed at zone rates instead of drawing on the pool's allowance.
    pub roaming: bool,
    pub expected_bytes: u64,
}

/// The downloads of plan.csv's rows, in order (pool ids shared, one allocation per pool).
pub fn downloads(rows: &[DeviceRow]) -> Vec<Download> {
    let mut ids: std::collections::HashMap<&str, Arc<str>> = Default::default();
    rows.iter()
        .map(|d| Download {
            pool_id: ids
                .entry(d.pool_id.as_str())
                .or_insert_with(|| Arc::from(d.pool_id.as_str()))
                .clone(),
            window_start: d.window_start,
            roaming: !d.zone.is_empty(),
            expected_bytes: d.expected_bytes,
        })
        .collect()
}
