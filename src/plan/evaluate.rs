//! The cost accounting of a plan, from its rows alone: pool usage and overage per
//! billing cycle, zone charges, regional load and congestion, failure risk and
//! lateness — exactly the contract's definitions. The planner's summary, the baselines
//! and any later replay price plans with this one function. Pure.

use crate::billing::{self, Cycle};
use crate::domain::{DeviceIdx, PoolId, RegionId, Scenario};
use crate::units::{Instant, MB_PER_GB, Megabytes};
use serde::Serialize;

/// What the accounting needs of one scheduled download.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub pool: PoolId,
    pub region: RegionId,
    /// `None` = home zone; `Some(price per MB)` = roaming.
    pub zone_price: Option<f64>,
    pub expected_bytes: u64,
    pub window_start: Instant,
    pub window_end: Instant,
    pub p_success: f64,
    /// Counts toward lateness. A replay's failed attempts that were retried set this to
    /// false: lateness is per device, to the start of its last attempt.
    pub counts_lateness: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostBreakdown {
    pub total: f64,
    pub overage: f64,
    pub zone: f64,
    pub congestion: f64,
    pub risk: f64,
    pub lateness: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleUsage {
    pub start: Instant,
    pub end: Instant,
    pub allowance_mb: f64,
    pub baseline_mb: f64,
    /// Update MB billed before this plan (re-planning), part of the usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub already_mb: f64,
    pub update_mb: f64,
    pub overage_mb: f64,
    pub overage_cost: f64,
    /// Roaming charges of the pool's devices whose download starts in this cycle (zone
    /// rates; on the same invoice as the cycle's overage).
    pub zone_cost: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_mb: Option<f64>,
    /// MB kept free under `cap_mb` (the pool's `cap_headroom_mb`, or the largest single
    /// expected download starting in the cycle): usage ≤ cap_mb − cap_headroom_mb.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_headroom_mb: Option<f64>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolUsage {
    pub pool_id: String,
    /// The IANA zone its billing cycles start in (invoice dates are local to it).
    pub cycle_timezone: String,
    pub cycles: Vec<CycleUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionLoad {
    pub region: String,
    pub capacity_mb_per_hour: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hard_capacity_mb_per_hour: Option<f64>,
    pub peak_mb_per_hour: f64,
    pub excess_mb: f64,
    /// Load per slot in MB per hour (for charts), from the horizon's start.
    #[serde(skip)]
    pub load_mb_per_hour: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accounting {
    pub cost: CostBreakdown,
    pub pools: Vec<PoolUsage>,
    pub regions: Vec<RegionLoad>,
}

/// Grid the accounting measures regional load on: slots of `slot_minutes` from `start`.
#[derive(Debug, Clone, Copy)]
pub struct LoadGrid {
    pub start: Instant,
    pub end: Instant,
    pub slot_minutes: u32,
}

/// The price per MB a device's traffic pays outside its pool: `None` in the home zone.
pub fn zone_price(s: &Scenario, dev: &crate::domain::Device) -> Option<f64> {
    dev.zone
        .as_ref()
        .and_then(|z| s.pool(dev.pool).zone_rates.get(z).map(|p| p.0))
}

/// Update bytes spent before planning (re-planning after a pause): what devices that
/// are done, failed or downloading have already used, and what downloads in flight at
/// `--now` are still expected to fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct Spent {
    pub device: DeviceIdx,
    pub pool: PoolId,
    pub region: RegionId,
    /// `None` = home zone (billed to the pool's cycle containing `at`); `Some(price)` =
    /// roaming, billed at the zone rate.
    pub zone_price: Option<f64>,
    pub at: Instant,
    pub bytes: u64,
    /// A download in flight: its bytes are regional load spread evenly over
    /// `[at, load_until)` (bytes already used carry no load: they are past).
    pub load_until: Option<Instant>,
}

impl Spent {
    /// `bytes` of device `d` billed at `at` (and, in flight, carried until `load_until`).
    pub fn of(
        s: &Scenario,
        d: DeviceIdx,
        at: Instant,
        bytes: u64,
        load_until: Option<Instant>,
    ) -> Spent {
        let dev = &s.devices[d.0 as usize];
        Spent {
            device: d,
            pool: dev.pool,
            region: dev.region,
            zone_price: zone_price(s, dev),
            at,
            bytes,
            load_until,
        }
    }
    pub fn mb(&self) -> f64 {
        self.bytes as f64 / 1e6
    }
}

/// The instants after the last billing (download start, spent bytes) and the last load
/// (window end, end of a download in flight) of `downloads` and `spent`, at least `end`:
/// the accounting lists cycles and load slots until them, so a download after the
/// deadline (a baseline's) is billed and carried too.
fn horizon_ends(end: Instant, downloads: &[Download], spent: &[Spent]) -> (Instant, Instant) {
    let ms = chrono::Duration::milliseconds(1);
    let bill = downloads
        .iter()
        .map(|d| d.window_start + ms)
        .chain(spent.iter().map(|sp| sp.at + ms))
        .fold(end, Instant::max);
    let load = downloads
        .iter()
        .map(|d| d.window_end)
        .chain(spent.iter().filter_map(|sp| sp.load_until))
        .fold(end, Instant::max);
    (bill, load)
}

/// Prices `downloads` plus the bytes already `spent`.
pub fn account(
    s: &Scenario,
    downloads: &[Download],
    spent: &[Spent],
    grid: LoadGrid,
) -> Accounting {
    let mut cost = CostBreakdown::default();
    let (bill_until, load_until) = horizon_ends(s.deadline, downloads, spent);
    for d in downloads {
        cost.risk += (1.0 - d.p_success) * s.weights.risk_per_failed_attempt;
        if d.counts_lateness {
            cost.lateness +=
                billing::days(s.start, d.window_start).max(0.0) * s.weights.lateness_per_device_day;
        }
    }
    let pools = pool_usage(s, downloads, spent, bill_until, &mut cost);
    let regions = region_load(s, downloads, spent, grid, load_until, &mut cost);
    cost.total = cost.overage + cost.zone + cost.congestion + cost.risk + cost.lateness;
    Accounting {
        cost,
        pools,
        regions,
    }
}

/// Usage and overage of every pool per billing cycle (adding overage and roaming to
/// `cost`): every cycle overlapping the horizon, and after it those a download (a
/// baseline's) falls in, up to `bill_until`.
fn pool_usage(
    s: &Scenario,
    downloads: &[Download],
    spent: &[Spent],
    bill_until: Instant,
    cost: &mut CostBreakdown,
) -> Vec<PoolUsage> {
    let mut out = Vec::with_capacity(s.pools.len());
    let cycles: Vec<Vec<Cycle>> = s
        .pools
        .iter()
        .map(|p| billing::cycles(p, s.start, bill_until))
        .collect();
    let mut update: Vec<Vec<f64>> = cycles.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut already_mb: Vec<Vec<f64>> = cycles.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut largest: Vec<Vec<f64>> = cycles.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut zone: Vec<Vec<f64>> = cycles.iter().map(|c| vec![0.0; c.len()]).collect();
    for d in downloads {
        let mb = d.expected_bytes as f64 / 1e6;
        let pi = d.pool.0 as usize;
        let ci = billing::cycle_index(&cycles[pi], d.window_start);
        match (d.zone_price, ci) {
            (Some(price), _) => {
                cost.zone += mb * price;
                if let Some(ci) = ci {
                    zone[pi][ci] += mb * price;
                }
            }
            (None, Some(ci)) => {
                update[pi][ci] += mb;
                largest[pi][ci] = largest[pi][ci].max(mb);
            }
            (None, None) => {}
        }
    }
    for sp in spent {
        let pi = sp.pool.0 as usize;
        let ci = billing::cycle_index(&cycles[pi], sp.at);
        match (sp.zone_price, ci) {
            (Some(price), _) => {
                cost.zone += sp.mb() * price;
                if let Some(ci) = ci {
                    zone[pi][ci] += sp.mb() * price;
                }
            }
            (None, Some(ci)) => already_mb[pi][ci] += sp.mb(),
            (None, None) => {}
        }
    }
    for (pi, pool) in s.pools.iter().enumerate() {
        let mut cs = Vec::with_capacity(cycles[pi].len());
        for (ci, c) in cycles[pi].iter().enumerate() {
            let usage = Megabytes(c.baseline.0 + already_mb[pi][ci] + update[pi][ci]);
            let over = billing::overage_mb(pool.allowance, usage);
            let mut oc = billing::tier_cost(&pool.tiers, over).0;
            if c.start >= s.deadline {
                // A cycle after the horizon (only a baseline reaches it) is charged what
                // its update bytes add: the overage baseline use alone would cause there
                // is not part of this rollout, and the plan, which lists no such cycle,
                // does not pay it either.
                let alone = billing::overage_mb(pool.allowance, c.baseline);
                oc -= billing::tier_cost(&pool.tiers, alone).0;
            }
            cost.overage += oc;
            cs.push(CycleUsage {
                start: c.start,
                end: c.end,
                allowance_mb: pool.allowance.0,
                baseline_mb: c.baseline.0,
                already_mb: already_mb[pi][ci],
                update_mb: update[pi][ci],
                overage_mb: over.0,
                overage_cost: oc,
                zone_cost: zone[pi][ci],
                cap_mb: pool
                    .on_cap
                    .is_hard()
                    .then_some(pool.cap.map(|c| c.0))
                    .flatten(),
                cap_headroom_mb: (pool.on_cap.is_hard() && pool.cap.is_some())
                    .then(|| pool.cap_headroom.map_or(largest[pi][ci], |h| h.0)),
            });
        }
        out.push(PoolUsage {
            pool_id: pool.id.clone(),
            cycle_timezone: pool.cycle_tz.name().to_string(),
            cycles: cs,
        });
    }
    out
}

/// Each region's load per slot up to `load_until`, expected bytes spread evenly over each
/// window (adding congestion above comfortable capacity to `cost`).
fn region_load(
    s: &Scenario,
    downloads: &[Download],
    spent: &[Spent],
    grid: LoadGrid,
    load_until: Instant,
    cost: &mut CostBreakdown,
) -> Vec<RegionLoad> {
    let slot = chrono::Duration::minutes(grid.slot_minutes as i64);
    let n = ((grid.end.max(load_until) - grid.start).num_minutes().max(0) as usize)
        .div_ceil(grid.slot_minutes as usize);
    let slot_hours = grid.slot_minutes as f64 / 60.0;
    let mut load = vec![vec![0.0f64; n]; s.regions.len()];
    // `mb` spread evenly over `[from, to)` into one region's slots.
    let spread = |slots: &mut [f64], mb: f64, from: Instant, to: Instant| {
        let len = (to - from).num_milliseconds() as f64;
        if len <= 0.0 {
            return;
        }
        let first =
            ((from - grid.start).num_milliseconds().max(0) / slot.num_milliseconds()) as usize;
        for (i, l) in slots.iter_mut().enumerate().skip(first) {
            let a = grid.start + slot * i as i32;
            if a >= to {
                break;
            }
            let lo = a.max(from);
            let hi = (a + slot).min(to);
            if hi > lo {
                *l += mb * (hi - lo).num_milliseconds() as f64 / len;
            }
        }
    };
    for d in downloads {
        let mb = d.expected_bytes as f64 / 1e6;
        spread(
            &mut load[d.region.0 as usize],
            mb,
            d.window_start,
            d.window_end,
        );
    }
    for sp in spent {
        if let Some(until) = sp.load_until {
            spread(&mut load[sp.region.0 as usize], sp.mb(), sp.at, until);
        }
    }
    let mut out = Vec::with_capacity(s.regions.len());
    for (ri, r) in s.regions.iter().enumerate() {
        let cap = r.capacity_mb_per_hour * slot_hours;
        let excess: f64 = load[ri].iter().map(|&l| (l - cap).max(0.0)).sum();
        cost.congestion += excess / MB_PER_GB * s.weights.congestion_per_gb;
        let per_hour: Vec<f64> = load[ri].iter().map(|l| l / slot_hours).collect();
        out.push(RegionLoad {
            region: r.name.clone(),
            capacity_mb_per_hour: r.capacity_mb_per_hour,
            hard_capacity_mb_per_hour: r.hard_capacity_mb_per_hour,
            peak_mb_per_hour: per_hour.iter().copied().fold(0.0, f64::max),
            excess_mb: excess,
            load_mb_per_hour: per_hour,
        });
    }
    out
}
