//! Draws each device of a fleet from its own random stream `(seed, device index)`; no I/O.
//!
//! A device depends only on the catalog, the seed and its index, never on the order in
//! which devices are drawn, so chunks can be drawn in parallel and stay byte-identical.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{Catalog, Radio};

/// Separate random domains, so adding coverage draws never shifts the device draws.
pub(crate) const DOMAIN_DEVICES: u64 = 0x6465_7669_6365_7301;
pub(crate) const DOMAIN_COVERAGE: u64 = 0x636f_7665_7261_6702;
pub(crate) const DOMAIN_MODEL: u64 = 0x6d6f_6465_6c00_0003;

/// The random stream of one device in one domain.
pub(crate) fn stream_rng(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&domain.to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// Picks an index by weight (weights need not sum to one).
pub(crate) fn pick_weighted<T>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> usize {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (i, (_, w)) in items.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    items.len() - 1
}

/// One generated device, holding indices into the catalog where it can.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub index: u64,
    pub region: usize,
    pub timezone: &'static str,
    pub pool: usize,
    pub zone: Option<&'static str>,
    pub version: &'static str,
    /// Index of `version` in `Catalog::versions`.
    pub version_idx: usize,
    pub radio: Radio,
    pub hardware: &'static str,
    /// 0 = the region's maintenance hub, 1.. = its yards.
    pub depot: u8,
    pub canary_eligible: bool,
    pub critical: bool,
}

pub(crate) fn draw_device(cat: &Catalog, seed: u64, index: u64) -> Device {
    let mut rng = stream_rng(seed, DOMAIN_DEVICES, index);
    let weights: Vec<(usize, f64)> = cat
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r.weight))
        .collect();
    let region = pick_weighted(&mut rng, &weights);
    let spec = &cat.regions[region];
    let timezone = spec.timezones[pick_weighted(&mut rng, spec.timezones)].0;
    let radio_w: Vec<(Radio, f64)> = Radio::ALL.iter().copied().zip(spec.radio_mix).collect();
    let radio = Radio::ALL[pick_weighted(&mut rng, &radio_w)];
    let hw = radio.hardware();
    let hardware = hw[rng.random_range(0..hw.len())];
    let version_idx = pick_weighted(&mut rng, cat.versions);
    let version = cat.versions[version_idx].0;

    // Only regions with several carriers draw one, so the other presets' streams are unchanged.
    let home = if spec.pool_mix.is_empty() {
        spec.pool
    } else {
        spec.pool_mix[pick_weighted(&mut rng, spec.pool_mix)].0
    };
    let payg = cat
        .payg_pool
        .filter(|_| rng.random::<f64>() < cat.payg_share);
    let pool = cat.pool_index(payg.unwrap_or(home));
    let pool_spec = &cat.pools[pool];
    let roams = !pool_spec.zone_rates.is_empty() && rng.random::<f64>() < pool_spec.roaming_share;
    let zone =
        roams.then(|| pool_spec.zone_rates[rng.random_range(0..pool_spec.zone_rates.len())].0);

    let depot = if rng.random::<f64>() < cat.hub_share {
        0
    } else {
        1 + rng.random_range(0..2u8)
    };
    let critical = rng.random::<f64>() < cat.critical_share;
    let canary_eligible = depot == 0 && !critical && rng.random::<f64>() < cat.canary_share_at_hub;
    Device {
        index,
        region,
        timezone,
        pool,
        zone,
        version,
        version_idx,
        radio,
        hardware,
        depot,
        canary_eligible,
        critical,
    }
}

/// `dev-000042`: the prefix and a zero-padded 1-based index, at least six digits wide.
pub(crate) fn device_id(prefix: &str, index: u64, width: usize) -> String {
    format!("{prefix}{:0width$}", index + 1)
}

pub(crate) fn id_width(devices: usize) -> usize {
    devices.to_string().len().max(6)
}

pub(crate) fn depot_name(region: &str, depot: u8) -> String {
    if depot == 0 {
        format!("{region}-hub")
    } else {
        format!("{region}-yard-{depot}")
    }
}

/// What the fleet adds up to, for sizing pools and regions.
#[derive(Debug, Clone, Default)]
pub(crate) struct FleetTotals {
    pub pool_sims: Vec<u64>,
    /// Cheapest payload bytes of the pool's home-zone devices that need the release.
    pub pool_home_update_bytes: Vec<u64>,
    pub region_devices: Vec<u64>,
    pub region_update_bytes: Vec<u64>,
    /// Devices per region and radio (`Radio::ALL` order).
    pub region_radio_devices: Vec<[u64; 4]>,
    pub canary_candidates: u64,
    /// Devices not yet on the release.
    pub needing: u64,
    /// Cheapest payload bytes per `Catalog::versions` entry.
    version_bytes: Vec<u64>,
}

impl FleetTotals {
    pub(crate) fn new(cat: &Catalog) -> Self {
        Self {
            pool_sims: vec![0; cat.pools.len()],
            pool_home_update_bytes: vec![0; cat.pools.len()],
            region_devices: vec![0; cat.regions.len()],
            region_update_bytes: vec![0; cat.regions.len()],
            region_radio_devices: vec![[0; 4]; cat.regions.len()],
            canary_candidates: 0,
            needing: 0,
            version_bytes: cat
                .versions
                .iter()
                .map(|(v, _)| {
                    cat.cheapest_bytes(v)
                        .expect("every catalog version has a path to the release")
                })
                .collect(),
        }
    }

    pub(crate) fn add(&mut self, cat: &Catalog, d: &Device) {
        let bytes = self.version_bytes[d.version_idx];
        self.pool_sims[d.pool] += 1;
        if d.zone.is_none() {
            self.pool_home_update_bytes[d.pool] += bytes;
        }
        self.region_devices[d.region] += 1;
        self.region_update_bytes[d.region] += bytes;
        self.region_radio_devices[d.region][d.radio as usize] += 1;
        if d.version != cat.release {
            self.needing += 1;
        }
        if d.canary_eligible && !d.critical && d.version != cat.release {
            self.canary_candidates += 1;
        }
    }
}
