//! Which devices go in which wave. Sizes are counts or shares of the devices needing the
//! release; the last wave takes the rest. A canary wave takes `canary_eligible`,
//! non-critical devices, depot devices first, chosen so every stratum the fleet has
//! (hardware, current version, radio, pool) is represented when the size allows. A
//! wave without a region is confined to the region with the most candidates when one
//! region can fill it. Deterministic for a scenario. Pure.

use crate::domain::{Device, Scenario, WaveSelect, WaveSize};
use std::collections::{BTreeMap, BTreeSet};

fn strata(d: &Device) -> [(&'static str, String); 4] {
    [
        ("hardware", d.hardware.clone().unwrap_or_default()),
        ("current_version", d.current_version.clone()),
        ("radio", d.radio.as_str().to_string()),
        ("pool", d.pool.0.to_string()),
    ]
}

/// The wave of each device (`None` for devices already on the release) and notes that
/// explain the choices (region picked, strata a canary could not cover).
pub fn assign_waves(s: &Scenario) -> (Vec<Option<usize>>, Vec<String>) {
    let mut wave_of: Vec<Option<usize>> = vec![None; s.devices.len()];
    let mut notes = Vec::new();
    let mut needing: Vec<usize> = (0..s.devices.len())
        .filter(|&i| s.devices[i].current_version != s.release)
        .collect();
    needing.sort_by(|&a, &b| s.devices[a].id.cmp(&s.devices[b].id));
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
    let all: BTreeSet<(&'static str, String)> =
        fleet.iter().flat_map(|&i| strata(&s.devices[i])).collect();
    let mut uncovered = all.clone();
    let mut chosen = Vec::new();
    let mut left: Vec<usize> = cand.to_vec();
    // Depot devices first, then by id (cand is in id order).
    left.sort_by_key(|&i| s.devices[i].depot.is_none());
    while chosen.len() < size && !left.is_empty() {
        let best = left
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                (
                    strata(&s.devices[i])
                        .iter()
                        .filter(|st| uncovered.contains(*st))
                        .count(),
                    pos,
                )
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, pos)) = best else { break };
        let i = left.remove(pos);
        for st in strata(&s.devices[i]) {
            uncovered.remove(&st);
        }
        chosen.push(i);
    }
    if !uncovered.is_empty() {
        let list: Vec<String> = uncovered
            .iter()
            .map(|(k, v)| {
                if *k == "pool" {
                    format!("pool={}", pool_name(s, v))
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        notes.push(format!(
            "wave {wave}: strata not covered by the canaries: {}",
            list.join(", ")
        ));
    }
    chosen
}

fn pool_name(s: &Scenario, idx: &str) -> String {
    idx.parse::<usize>()
        .ok()
        .and_then(|i| s.pools.get(i))
        .map_or_else(|| idx.to_string(), |p| p.id.clone())
}
