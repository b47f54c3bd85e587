//! From the LP's fractional cohort × placement amounts to whole devices: largest-
//! remainder rounding that keeps every cohort's total exact, a repair pass so rounding
//! never breaks a hard cap or hard regional capacity, then each device is given the
//! placement where it is most likely online and a staggered start inside its slot.
//! Pure.

use super::model::PlanModel;
use super::prepare::{Prepared, conditions, hours_touched};
use super::transfer;
use crate::billing;
use crate::domain::{DeviceIdx, Scenario};
use crate::units::Instant;
use chrono::Duration;

/// How many devices of each cohort take each placement, and how many stay unplaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub placed: Vec<Vec<u32>>,
    pub unplaced: Vec<u32>,
}

/// Largest-remainder rounding per cohort: floors first, then the remaining devices go
/// to the items with the largest fractional parts (earlier placements first on ties).
pub fn round_counts(m: &PlanModel, p: &Prepared, values: &[f64]) -> Counts {
    let mut placed = Vec::with_capacity(p.cohorts.len());
    let mut unplaced = Vec::with_capacity(p.cohorts.len());
    for (ci, c) in p.cohorts.iter().enumerate() {
        let n = c.devices.len() as u32;
        let mut items: Vec<f64> = m.x[ci].iter().map(|&col| values[col].max(0.0)).collect();
        items.push(values[m.unplaced[ci]].max(0.0));
        let mut counts: Vec<u32> = items.iter().map(|v| (v + 1e-7).floor() as u32).collect();
        let mut total: u32 = counts.iter().sum();
        // Rounding noise may overshoot: take back from the smallest fractions.
        while total > n {
            let i = (0..counts.len())
                .filter(|&i| counts[i] > 0)
                .min_by(|&a, &b| items[a].total_cmp(&items[b]));
            let Some(i) = i else { break };
            counts[i] -= 1;
            total -= 1;
        }
        if total < n {
            let mut order: Vec<usize> = (0..items.len()).collect();
            order.sort_by(|&a, &b| {
                let fa = items[a] - counts[a] as f64;
                let fb = items[b] - counts[b] as f64;
                fb.total_cmp(&fa).then(a.cmp(&b))
            });
            for &i in order.iter().cycle().take((n - total) as usize) {
                counts[i] += 1;
            }
        }
        let u = counts.pop().unwrap_or(0);
        placed.push(counts);
        unplaced.push(u);
    }
    Counts { placed, unplaced }
}

/// Moves devices until no hard limit is broken: a pool-cycle over its cap room or a
/// region-slot over its hard capacity loses devices to the cheapest placement of the
/// same cohort that has room, or to "unplaced" when none has. Returns the number moved.
pub fn repair_hard_limits(s: &Scenario, m: &PlanModel, p: &Prepared, counts: &mut Counts) -> usize {
    let per_mb = |ci: usize, k: usize| p.cohorts[ci].placements[k].expected_bytes / 1e6;
    let cycle_of = |ci: usize, k: usize| -> Option<usize> {
        let c = &p.cohorts[ci];
        if c.zone_price.is_some() {
            return None;
        }
        let t = p.grid.slot_start(c.placements[k].slot);
        m.cycles_of_pool[c.key.pool.0 as usize]
            .iter()
            .copied()
            .find(|&yi| m.pool_cycles[yi].cycle.start <= t && t < m.pool_cycles[yi].cycle.end)
    };
    let nslots = p.grid.n;
    let mut moved = 0;
    let hard_slot: Vec<Option<f64>> = s
        .regions
        .iter()
        .map(|r| r.hard_capacity_mb_per_hour.map(|h| h * p.grid.slot_hours()))
        .collect();
    for _round in 0..4 {
        // Current usage.
        let mut cyc = vec![0.0; m.pool_cycles.len()];
        let mut load = vec![0.0; s.regions.len() * nslots];
        for (ci, c) in p.cohorts.iter().enumerate() {
            for (k, &n) in counts.placed[ci].iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let mb = per_mb(ci, k) * n as f64;
                if let Some(yi) = cycle_of(ci, k) {
                    cyc[yi] += mb;
                }
                let pl = &c.placements[k];
                for t in pl.slot..pl.slot + pl.slots {
                    load[c.key.region.0 as usize * nslots + t] += mb / pl.slots as f64;
                }
            }
        }
        let over_cycle = |yi: usize, cyc: &[f64]| {
            m.pool_cycles[yi]
                .cap_room_mb
                .is_some_and(|room| cyc[yi] > room + 1e-6)
        };
        let over_slot = |r: usize, t: usize, load: &[f64]| {
            hard_slot[r].is_some_and(|h| load[r * nslots + t] > h + 1e-6)
        };
        let mut changed = false;
        for ci in 0..p.cohorts.len() {
            let c = &p.cohorts[ci];
            let r = c.key.region.0 as usize;
            for k in 0..c.placements.len() {
                while counts.placed[ci][k] > 0 {
                    let pl = &c.placements[k];
                    let bad_cycle = cycle_of(ci, k).is_some_and(|yi| over_cycle(yi, &cyc));
                    let bad_slot = (pl.slot..pl.slot + pl.slots).any(|t| over_slot(r, t, &load));
                    if !bad_cycle && !bad_slot {
                        break;
                    }
                    // Take one device off this placement.
                    let mb = per_mb(ci, k);
                    counts.placed[ci][k] -= 1;
                    if let Some(yi) = cycle_of(ci, k) {
                        cyc[yi] -= mb;
                    }
                    for t in pl.slot..pl.slot + pl.slots {
                        load[r * nslots + t] -= mb / pl.slots as f64;
                    }
                    // Best other placement with room.
                    let mut best: Option<(f64, usize)> = None;
                    for (k2, pl2) in c.placements.iter().enumerate() {
                        if k2 == k {
                            continue;
                        }
                        let mb2 = per_mb(ci, k2);
                        if let Some(yi) = cycle_of(ci, k2)
                            && m.pool_cycles[yi]
                                .cap_room_mb
                                .is_some_and(|room| cyc[yi] + mb2 > room + 1e-6)
                        {
                            continue;
                        }
                        if hard_slot[r].is_some_and(|h| {
                            (pl2.slot..pl2.slot + pl2.slots)
                                .any(|t| load[r * nslots + t] + mb2 / pl2.slots as f64 > h + 1e-6)
                        }) {
                            continue;
                        }
                        let cost = super::model::own_cost(s, m.lateness_per_device_day, p, c, k2)
                            + mb2 * 1e-3;
                        if best.is_none_or(|(b, _)| cost < b) {
                            best = Some((cost, k2));
                        }
                    }
                    match best {
                        Some((_, k2)) => {
                            counts.placed[ci][k2] += 1;
                            let mb2 = per_mb(ci, k2);
                            if let Some(yi) = cycle_of(ci, k2) {
                                cyc[yi] += mb2;
                            }
                            let pl2 = &c.placements[k2];
                            for t in pl2.slot..pl2.slot + pl2.slots {
                                load[r * nslots + t] += mb2 / pl2.slots as f64;
                            }
                        }
                        None => counts.unplaced[ci] += 1,
                    }
                    moved += 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    moved
}

/// One scheduled device, with everything a plan row says.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub device: DeviceIdx,
    pub cohort: usize,
    pub placement: usize,
    pub window_start: Instant,
    pub window_end: Instant,
    pub expected_bytes: u64,
    pub p_success: f64,
    pub throughput_kbps: f64,
}

/// Gives each device of each cohort a placement (the devices most likely online there
/// first), then its own window: the placement's slots, the start staggered across the
/// slack so a region does not see every download start on the hour. Devices left
/// over (the cohort's unplaced count) are returned with their cohort.
pub fn assign(
    s: &Scenario,
    p: &Prepared,
    profiles: &[(
        std::sync::Arc<crate::coverage::Profile>,
        crate::coverage::KeyLevel,
    )],
    counts: &Counts,
) -> (Vec<Scheduled>, Vec<(DeviceIdx, usize)>) {
    let mut out = Vec::new();
    let mut left_out = Vec::new();
    for (ci, c) in p.cohorts.iter().enumerate() {
        let mut free: Vec<DeviceIdx> = c.devices.clone();
        let uniform = {
            let first = &profiles[c.devices[0].0 as usize].0;
            c.devices
                .iter()
                .all(|d| std::sync::Arc::ptr_eq(&profiles[d.0 as usize].0, first))
        };
        // Placements in slot order (deterministic); each takes, among the devices left,
        // those most likely to be online in its hours.
        let phase = (ci as f64 * 0.618_033_988_75).fract();
        for (k, &n) in counts.placed[ci].iter().enumerate() {
            if n == 0 {
                continue;
            }
            let pl = &c.placements[k];
            let from = p.grid.slot_start(pl.slot);
            let to = p.grid.slot_end(pl.slot + pl.slots - 1);
            let chosen: Vec<DeviceIdx> = if uniform {
                free.drain(..n as usize).collect()
            } else {
                let hours = hours_touched(c.tz, from, to);
                let mut scored: Vec<(f64, usize)> = free
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (conditions(&profiles[d.0 as usize].0, &hours).p_online, i))
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let mut take: Vec<usize> = scored.iter().take(n as usize).map(|x| x.1).collect();
                take.sort_unstable();
                let picked: Vec<DeviceIdx> = take.iter().map(|&i| free[i]).collect();
                for &i in take.iter().rev() {
                    free.remove(i);
                }
                picked
            };
            // The latest start keeping the window long enough for every chosen device and
            // inside the billing cycle of the slot start.
            let slot_len = (to - from).num_seconds();
            let cycle_limit =
                cycle_boundary_within(s, c, from, to).map(|b| (b - from).num_seconds() - 1);
            for (j, d) in chosen.iter().enumerate() {
                let dev_profile = &profiles[d.0 as usize].0;
                let full_hours = hours_touched(c.tz, from, to);
                let cond_full = conditions(dev_profile, &full_hours);
                let need = transfer::payload_hours(
                    &s.artifacts,
                    &c.payload.steps,
                    cond_full.throughput_kbps,
                );
                let need_s = (need * 3600.0).ceil() as i64;
                // Stagger only single-slot downloads on a grid of at most an hour: the
                // window then stays in the slot the model counted its load in.
                let mut slack = if pl.slots == 1 && p.grid.slot_minutes <= 60 {
                    (slot_len - need_s).max(0)
                } else {
                    0
                };
                if let Some(l) = cycle_limit {
                    slack = slack.min(l.max(0));
                }
                let frac = ((j as f64 + phase) / n as f64).fract();
                let delta = (slack as f64 * frac).floor() as i64;
                let ws = from + Duration::seconds(delta);
                let hours = hours_touched(c.tz, ws, to);
                let cond = conditions(dev_profile, &hours);
                let exp = transfer::expected_payload_bytes(&s.artifacts, &c.payload.steps, &cond);
                out.push(Scheduled {
                    device: *d,
                    cohort: ci,
                    placement: k,
                    window_start: ws,
                    window_end: to,
                    expected_bytes: (exp.ceil() as u64).max(c.payload.bytes.0),
                    p_success: transfer::p_success(&s.artifacts, &c.payload.steps, &cond),
                    throughput_kbps: cond.throughput_kbps,
                });
            }
        }
        left_out.extend(free.into_iter().map(|d| (d, ci)));
    }
    (out, left_out)
}

/// A pool-cycle boundary strictly inside `(from, to)` for a home-zone cohort.
fn cycle_boundary_within(
    s: &Scenario,
    c: &super::prepare::Cohort,
    from: Instant,
    to: Instant,
) -> Option<Instant> {
    if c.zone_price.is_some() {
        return None;
    }
    let pool = s.pool(c.key.pool);
    let start = billing::cycle_start_containing(pool, from);
    let next = billing::next_cycle_start(pool, start);
    (next > from && next < to).then_some(next)
}
