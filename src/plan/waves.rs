//! Which devices go in which wave. Sizes are counts or shares of the devices needing the
//! release; the last wave takes the rest. A canary wave takes `canary_eligible`,
//! non-critical devices, depot devices first, chosen so every stratum the fleet has
//! (hardware, current version, radio, pool) is represented when the size allows. A
//! wave without a region is confined to the region with the most candidates when one
//! region can fill it. Deterministic for a scenario. Pure.

use crate::domain::{Scenario, WaveSelect, WaveSize};
use hashbrown::HashMap;
use std::collections::BTreeMap;

/// The wave of each device (`None` for devices already on the release) and notes that
/// explain the choices (region picked, strata a canary could not cover). `rank` orders
/// devices by id ([`super::id_rank`]).
pub fn assign_waves(s: &Scenario, rank: &[u32]) -> (Vec<Option<usize>>, Vec<String>) {
    let mut wave_of: Vec<Option<usize>> = vec![None; s.devices.len()];
    let mut notes = Vec::new();
    let mut needing: Vec<usize> = (0..s.devices.len())
        .filter(|&i| s.devices[i].current_version != s.release)
        .collect();
    needing.sort_by_key(|&i| rank[i]);
    let n_needing = needing.len();
    let n_waves = s.waves.len();
    for (wi, w) in s.waves.iter().enumerate() {
        let free: Vec<usize> = needing
            .iter()
            .copied()
            .filter(|&i| wave_of[i].is_none())
            .collect();
        if wi + 1 == n_waves || w.size == WaveSize::Rest {
            for i in free {
                wave_of[i] = Some(wi);
            }
            continue;
        }
        let size = match w.size {
            WaveSize::Count(c) => c as usize,
            WaveSize::Share(sh) => ((sh * n_needing as f64).round() as usize).max(1),
            WaveSize::Rest => free.len(),
        };
        let mut cand: Vec<usize> = free
            .iter()
            .copied()
            .filter(|&i| w.region.is_none_or(|r| s.devices[i].region == r))
            .filter(|&i| {
                w.select != WaveSelect::Canary
                    || (s.devices[i].canary_eligible && !s.devices[i].critical)
            })
            .collect();
        if w.region.is_none() && w.select == WaveSelect::Any {
            let mut by_region: BTreeMap<u32, usize> = BTreeMap::new();
            for &i in &cand {
                *by_region.entry(s.devices[i].region.0).or_default() += 1;
            }
            if let Some((&r, &n)) = by_region
                .iter()
                .max_by_key(|(r, n)| (**n, std::cmp::Reverse(**r)))
                && n >= size
            {
                cand.retain(|&i| s.devices[i].region.0 == r);
                notes.push(format!(
                    "wave {}: region {} chosen: it alone has enough devices ({n} candidates for {size})",
                    w.name,
                    s.regions[r as usize].name
                ));
            }
        }
        let chosen = if w.select == WaveSelect::Canary {
            pick_canaries(s, &needing, &cand, size, &w.name, &mut notes)
        } else {
            cand.into_iter().take(size).collect()
        };
        if chosen.len() < size {
            notes.push(format!(
                "wave {}: only {} of {size} devices could be chosen",
                w.name,
                chosen.len()
            ));
        }
        for i in chosen {
            wave_of[i] = Some(wi);
        }
    }
    (wave_of, notes)
}

fn pick_canaries(
    s: &Scenario,
    fleet: &[usize],
    cand: &[usize],
    size: usize,
    wave: &str,
    notes: &mut Vec<String>,
) -> Vec<usize> {
    // Strata as small ids (kind, value), computed once per device without copies.
    const KINDS: [&str; 4] = ["hardware", "current_version", "radio", "pool"];
    let mut ids: HashMap<(usize, &str), usize> = HashMap::new();
    let mut names: Vec<(usize, &str)> = Vec::new();
    let mut strata_of = |i: usize| -> [usize; 4] {
        let d = &s.devices[i];
        let values = [
            d.hardware.as_deref().unwrap_or(""),
            d.current_version.as_str(),
            d.radio.as_str(),
            s.pools[d.pool.0 as usize].id.as_str(),
        ];
        std::array::from_fn(|k| {
            *ids.entry((k, values[k])).or_insert_with(|| {
                names.push((k, values[k]));
                names.len() - 1
            })
        })
    };
    for &i in fleet {
        strata_of(i);
    }
    let cand_strata: Vec<[usize; 4]> = cand.iter().map(|&i| strata_of(i)).collect();
    let mut uncovered = vec![true; names.len()];
    let mut n_uncovered = names.len();
    // Depot devices first, then by id (cand is in id order).
    let mut left: Vec<usize> = (0..cand.len()).collect();
    left.sort_by_key(|&k| s.devices[cand[k]].depot.is_none());
    let mut chosen = Vec::new();
    while chosen.len() < size && !left.is_empty() {
        // The candidate covering the most strata not yet covered (earliest on ties);
        // once all are covered, simply the next in depot-first order.
        let pos = if n_uncovered == 0 {
            0
        } else {
            let mut best = (0, 0);
            for (pos, &k) in left.iter().enumerate() {
                let gain = cand_strata[k].iter().filter(|&&st| uncovered[st]).count();
                if gain > best.0 {
                    best = (gain, pos);
                }
            }
            best.1
        };
        let k = left.remove(pos);
        for &st in &cand_strata[k] {
            if uncovered[st] {
                uncovered[st] = false;
                n_uncovered -= 1;
            }
        }
        chosen.push(cand[k]);
    }
    if n_uncovered > 0 {
        let mut list: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(id, _)| uncovered[*id])
            .map(|(_, (k, v))| format!("{}={}", KINDS[*k], if v.is_empty() { "(none)" } else { v }))
            .collect();
        list.sort();
        notes.push(format!(
            "wave {wave}: strata not covered by the canaries: {}",
            list.join(", ")
        ));
    }
    chosen
}
