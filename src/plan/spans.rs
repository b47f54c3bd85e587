//! When an early wave can be finished: the earliest instant by which every placeable
//! device of the wave can have downloaded, each device taking the placement that ends
//! first among those the hard limits (hard regional capacity, cap headroom) leave room
//! for. This fixes the wave's span before the one model of all waves is solved, so no
//! wave needs a lateness weight of its own to finish early. Pure.

use super::model::{self, ModelInputs};
use super::prepare::Prepared;
use crate::domain::Scenario;
use crate::units::Instant;

/// `None` when no device of the wave can be placed at all.
pub fn earliest_finish(s: &Scenario, p: &Prepared, inputs: &ModelInputs) -> Option<Instant> {
    let m = model::build(s, p, inputs);
    let hard_slot: Vec<Option<f64>> = s
        .regions
        .iter()
        .map(|r| r.hard_capacity_mb_per_hour.map(|h| h * p.grid.slot_hours()))
        .collect();
    let mut cycle = vec![0.0; m.pool_cycles.len()];
    let mut load = vec![0.0; s.regions.len() * p.grid.n];
    let mut finish: Option<Instant> = None;
    for c in &p.cohorts {
        let r = c.key.region.0 as usize;
        let mut order: Vec<usize> = (0..c.placements.len()).collect();
        order.sort_by_key(|&k| (c.placements[k].end, c.placements[k].start));
        // Room only shrinks while this cohort's devices are placed, so the first
        // placement with room never moves back.
        let mut at = 0;
        for _ in &c.devices {
            while at < order.len() {
                let pl = &c.placements[order[at]];
                let mb = pl.expected_bytes / 1e6;
                let yi = m.cycle_at(c, pl.start);
                let cap_ok = yi.is_none_or(|yi| {
                    m.pool_cycles[yi]
                        .cap_room_mb
                        .is_none_or(|room| cycle[yi] + mb <= room + 1e-6)
                });
                let spread = p.grid.spread(pl.start, pl.end);
                let slot_ok = hard_slot[r].is_none_or(|h| {
                    spread
                        .clone()
                        .all(|(t, share)| load[r * p.grid.n + t] + mb * share <= h + 1e-6)
                });
                if cap_ok && slot_ok {
                    if let Some(yi) = yi {
                        cycle[yi] += mb;
                    }
                    for (t, share) in spread {
                        load[r * p.grid.n + t] += mb * share;
                    }
                    finish = finish.max(Some(pl.end));
                    break;
                }
                at += 1;
            }
        }
    }
    finish
}
