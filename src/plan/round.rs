//! From the LP's fractional cohort × placement amounts to whole devices: largest-
//! remainder rounding that keeps every cohort's total exact, a repair pass so rounding
//! never breaks a hard cap or hard regional capacity (moving devices to any candidate
//! placement, in any billing cycle, and making room by moving another device to a cycle
//! with room before giving one up), then each device is given its placement's window,
//! the devices most likely online taking each one. Pure.

use super::model::{PlanModel, own_cost};
use super::prepare::{Prepared, conditions, hours_touched};
use crate::domain::{DeviceIdx, Scenario};
use crate::units::Instant;

/// How many devices of each cohort take each placement, and how many stay unplaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// Per cohort: (placement index, devices), sparse.
    pub placed: Vec<Vec<(usize, u32)>>,
    pub unplaced: Vec<u32>,
}

/// Largest-remainder rounding per cohort: floors first, then the remaining devices go
/// to the items with the largest fractional parts (earlier placements first on ties).
pub fn round_counts(m: &PlanModel, p: &Prepared, values: &[f64]) -> Counts {
    let mut placed = Vec::with_capacity(p.cohorts.len());
    let mut unplaced = Vec::with_capacity(p.cohorts.len());
    for (ci, c) in p.cohorts.iter().enumerate() {
        let n = c.devices.len() as u32;
        let mut items: Vec<f64> = m.x[ci]
            .iter()
            .map(|&(_, col)| values[col].max(0.0))
            .collect();
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
        placed.push(
            m.x[ci]
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(&(k, _), n)| (k, n))
                .collect(),
        );
        unplaced.push(u);
    }
    Counts { placed, unplaced }
}

/// What the hard limits have left: MB under each pool-cycle's cap room and under each
/// region's hard capacity per load slot. Shared with `spans`, which fills an early wave
/// against the same limits.
pub(super) struct Room<'a> {
    s: &'a Scenario,
    m: &'a PlanModel,
    p: &'a Prepared,
    cycle: Vec<f64>,
    load: Vec<f64>,
    hard_slot: Vec<Option<f64>>,
}

impl<'a> Room<'a> {
    pub(super) fn new(
        s: &'a Scenario,
        m: &'a PlanModel,
        p: &'a Prepared,
        counts: &Counts,
    ) -> Room<'a> {
        let mut r = Room {
            s,
            m,
            p,
            cycle: vec![0.0; m.pool_cycles.len()],
            // Downloads in flight (re-planning) already load their slots.
            load: m.fixed_load.clone(),
            hard_slot: s
                .regions
                .iter()
                .map(|r| r.hard_capacity_mb_per_hour.map(|h| h * p.grid.slot_hours()))
                .collect(),
        };
        for (ci, ks) in counts.placed.iter().enumerate() {
            for &(k, n) in ks {
                r.add(ci, k, n as f64);
            }
        }
        r
    }
    fn mb(&self, ci: usize, k: usize) -> f64 {
        self.p.cohorts[ci].placements[k].expected_bytes / 1e6
    }
    pub(super) fn add(&mut self, ci: usize, k: usize, n: f64) {
        let c = &self.p.cohorts[ci];
        let pl = &c.placements[k];
        let mb = self.mb(ci, k) * n;
        if let Some(yi) = self.m.cycle_at(c, pl.start) {
            self.cycle[yi] += mb;
        }
        let r = c.key.region.0 as usize;
        for (t, share) in self.p.grid.spread(pl.start, pl.end) {
            self.load[r * self.p.grid.n + t] += mb * share;
        }
    }
    /// The pool-cycle over its cap room, if placement `k` of `ci` is in one.
    fn over_cycle(&self, ci: usize, k: usize, extra: f64) -> Option<usize> {
        let c = &self.p.cohorts[ci];
        let yi = self.m.cycle_at(c, c.placements[k].start)?;
        let room = self.m.pool_cycles[yi].cap_room_mb?;
        (self.cycle[yi] + extra > room + 1e-6).then_some(yi)
    }
    fn over_slot(&self, ci: usize, k: usize, extra: f64) -> bool {
        let c = &self.p.cohorts[ci];
        let r = c.key.region.0 as usize;
        let Some(h) = self.hard_slot[r] else {
            return false;
        };
        let pl = &c.placements[k];
        self.p
            .grid
            .spread(pl.start, pl.end)
            .any(|(t, share)| self.load[r * self.p.grid.n + t] + extra * share > h + 1e-6)
    }
    pub(super) fn fits(&self, ci: usize, k: usize) -> bool {
        let mb = self.mb(ci, k);
        self.over_cycle(ci, k, mb).is_none() && !self.over_slot(ci, k, mb)
    }
    /// The cheapest placement of cohort `ci` with room for one more device.
    fn cheapest_fit(&self, ci: usize) -> Option<usize> {
        let c = &self.p.cohorts[ci];
        (0..c.placements.len())
            .filter(|&k| self.fits(ci, k))
            .map(|k| (own_cost(self.s, c, k) + self.mb(ci, k) * 1e-3, k))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|x| x.1)
    }
}

fn take(counts: &mut Counts, ci: usize, k: usize) {
    if let Some(e) = counts.placed[ci].iter_mut().find(|e| e.0 == k) {
        e.1 -= 1;
    }
    counts.placed[ci].retain(|e| e.1 > 0);
}

fn put(counts: &mut Counts, ci: usize, k: usize) {
    match counts.placed[ci].iter_mut().find(|e| e.0 == k) {
        Some(e) => e.1 += 1,
        None => counts.placed[ci].push((k, 1)),
    }
}

/// Moves devices until no hard limit is broken, then places the devices left unplaced
/// wherever the limits leave room — if need be after moving one device of the same pool
/// from the blocked cycle to another cycle with room. Returns the number of devices moved
/// or placed.
pub fn repair_hard_limits(s: &Scenario, m: &PlanModel, p: &Prepared, counts: &mut Counts) -> usize {
    let mut room = Room::new(s, m, p, counts);
    let mut moved = 0;
    // 1. Over a limit: take devices off and re-place them.
    for ci in 0..p.cohorts.len() {
        let ks: Vec<usize> = counts.placed[ci].iter().map(|e| e.0).collect();
        for k in ks {
            while counts.placed[ci].iter().any(|e| e.0 == k)
                && (room.over_cycle(ci, k, 0.0).is_some() || room.over_slot(ci, k, 0.0))
            {
                take(counts, ci, k);
                room.add(ci, k, -1.0);
                counts.unplaced[ci] += 1;
                moved += 1;
            }
        }
    }
    // 2. Every unplaced device: the cheapest placement with room, or one made by moving
    //    a device of the same pool out of the blocked cycle.
    for ci in 0..p.cohorts.len() {
        while counts.unplaced[ci] > 0 {
            let k = room
                .cheapest_fit(ci)
                .or_else(|| make_room(&mut room, counts, ci));
            let Some(k) = k else { break };
            put(counts, ci, k);
            room.add(ci, k, 1.0);
            counts.unplaced[ci] -= 1;
            moved += 1;
        }
    }
    moved
}

/// Frees cap room for one device of cohort `ci`: for a placement blocked only by its
/// pool-cycle's cap, moves one device of the same pool from that cycle to a placement in
/// another cycle that has room. Returns the placement now free for `ci`.
fn make_room(room: &mut Room<'_>, counts: &mut Counts, ci: usize) -> Option<usize> {
    let p = room.p;
    let c = &p.cohorts[ci];
    for k in 0..c.placements.len() {
        let mb = room.mb(ci, k);
        if room.over_slot(ci, k, mb) {
            continue;
        }
        let Some(yi) = room.over_cycle(ci, k, mb) else {
            continue;
        };
        let need = room.cycle[yi] + mb - room.m.pool_cycles[yi].cap_room_mb.unwrap_or(0.0);
        // A device in cycle yi, at least `need` MB, whose cohort fits elsewhere.
        for cj in 0..p.cohorts.len() {
            if p.cohorts[cj].key.pool != c.key.pool {
                continue;
            }
            let here: Vec<usize> = counts.placed[cj]
                .iter()
                .map(|e| e.0)
                .filter(|&kk| {
                    room.m
                        .cycle_at(&p.cohorts[cj], p.cohorts[cj].placements[kk].start)
                        == Some(yi)
                        && room.mb(cj, kk) + 1e-9 >= need
                })
                .collect();
            for kk in here {
                room.add(cj, kk, -1.0);
                let alt = room.cheapest_fit(cj).filter(|&k2| {
                    room.m
                        .cycle_at(&p.cohorts[cj], p.cohorts[cj].placements[k2].start)
                        != Some(yi)
                });
                match alt {
                    Some(k2) if room.fits(ci, k) => {
                        take(counts, cj, kk);
                        put(counts, cj, k2);
                        room.add(cj, k2, 1.0);
                        return Some(k);
                    }
                    _ => room.add(cj, kk, 1.0),
                }
            }
        }
    }
    None
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

/// Gives each device of each cohort a placement (among the devices left, those most
/// likely online in its hours first) and its window, which is the placement's. Expected
/// bytes and p_success are the cohort's (the figures the model priced, so the plan's
/// cost is the model's); throughput is the device's own lowest over the window's hours
/// (at least the cohort's, so the window is long enough for it). Devices left over (the
/// cohort's unplaced count) are returned with their cohort.
pub fn assign(
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
        let mut ks = counts.placed[ci].clone();
        ks.sort_unstable();
        for (k, n) in ks {
            let pl = &c.placements[k];
            let hours = hours_touched(c.tz, pl.start, pl.end);
            let chosen: Vec<DeviceIdx> = if uniform {
                free.drain(..n as usize).collect()
            } else {
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
            let expected = (pl.expected_bytes.ceil() as u64).max(c.payload.bytes.0);
            for d in chosen {
                let throughput = if uniform {
                    pl.cond.throughput_kbps
                } else {
                    conditions(&profiles[d.0 as usize].0, &hours).throughput_kbps
                };
                out.push(Scheduled {
                    device: d,
                    cohort: ci,
                    placement: k,
                    window_start: pl.start,
                    window_end: pl.end,
                    expected_bytes: expected,
                    p_success: pl.p_success,
                    throughput_kbps: throughput,
                });
            }
        }
        left_out.extend(free.into_iter().map(|d| (d, ci)));
    }
    (out, left_out)
}
