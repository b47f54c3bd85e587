//! When an early wave can be finished: the earliest instant by which every placeable
//! device of the wave can have downloaded, each device taking the placement that ends
//! first among those the hard limits (hard regional capacity, cap headroom) leave room
//! for. This fixes the wave's span before the one model of all waves is solved, so no
//! wave needs a lateness weight of its own to finish early. Pure.

use super::model::{self, ModelInputs};
use super::prepare::Prepared;
use super::round::{Counts, Room};
use crate::domain::Scenario;
use crate::units::Instant;

/// `None` when no device of the wave can be placed at all.
pub fn earliest_finish(s: &Scenario, p: &Prepared, inputs: &ModelInputs) -> Option<Instant> {
    let m = model::build(s, p, inputs);
    let none = Counts {
        placed: vec![Vec::new(); p.cohorts.len()],
        unplaced: vec![0; p.cohorts.len()],
    };
    let mut room = Room::new(s, &m, p, &none);
    let mut finish: Option<Instant> = None;
    for (ci, c) in p.cohorts.iter().enumerate() {
        let mut order: Vec<usize> = (0..c.placements.len()).collect();
        order.sort_by_key(|&k| (c.placements[k].end, c.placements[k].start));
        // Room only shrinks while this cohort's devices are placed, so the first
        // placement with room never moves back.
        let mut at = 0;
        for _ in &c.devices {
            while at < order.len() && !room.fits(ci, order[at]) {
                at += 1;
            }
            let Some(&k) = order.get(at) else { break };
            room.add(ci, k, 1.0);
            finish = finish.max(Some(c.placements[k].end));
        }
    }
    finish
}
