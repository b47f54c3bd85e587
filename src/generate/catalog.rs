//! The fixed facts behind each preset (regions, pools, artifacts, waves); pure data, no randomness and no I/O.
//!
//! Every figure here is traceable to `/work/shared/domain.md`; `data/README.md` says which.

use chrono::{DateTime, TimeZone, Utc};

use super::Preset;

/// A cellular radio class, with the practical downlink and drop hazard from the domain brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Radio {
    NbIot,
    LteM,
    Cat1,
    Cat4,
}

impl Radio {
    pub(crate) const ALL: [Radio; 4] = [Radio::NbIot, Radio::LteM, Radio::Cat1, Radio::Cat4];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Radio::NbIot => "nbiot",
            Radio::LteM => "ltem",
            Radio::Cat1 => "cat1",
            Radio::Cat4 => "cat4",
        }
    }

    /// Practical downlink at the quietest hour (domain: ~20 kbps, 200–400 kbps, ~5 Mbps, ~20 Mbps).
    pub(crate) fn base_kbps(self) -> f64 {
        match self {
            Radio::NbIot => 22.0,
            Radio::LteM => 320.0,
            Radio::Cat1 => 5_000.0,
            Radio::Cat4 => 20_000.0,
        }
    }

    /// Chance per online hour that a session drops (no public figure exists; an assumption).
    pub(crate) fn drop_hazard(self) -> f64 {
        match self {
            Radio::NbIot => 0.05,
            Radio::LteM => 0.03,
            Radio::Cat1 => 0.02,
            Radio::Cat4 => 0.015,
        }
    }

    /// Hardware models that carry this radio.
    pub(crate) fn hardware(self) -> &'static [&'static str] {
        match self {
            Radio::NbIot => &["asset-tracker-n1"],
            Radio::LteM => &["tcu-m2", "trailer-tracker-m1"],
            Radio::Cat1 => &["tcu-c1", "dashcam-c1"],
            Radio::Cat4 => &["gateway-c4"],
        }
    }
}

/// One row of the `artifacts` table.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactSpec {
    pub from: Option<&'static str>,
    pub to: &'static str,
    pub size_bytes: u64,
    pub resumable: bool,
}

/// How a pool is billed.
#[derive(Debug, Clone)]
pub(crate) enum PoolKind {
    /// N SIMs × `plan_mb` shared per cycle. Normal telemetry uses `telemetry_share` of the
    /// allowance over an average cycle; `headroom_share` is the part of the pool's expected
    /// update bytes that still fits before the cycle containing `start` ends.
    Pooled {
        plan_mb: u64,
        telemetry_share: f64,
        headroom_share: f64,
    },
    /// No allowance: every MB is billed at the (single) tier price.
    PayAsYouGo { telemetry_mb_per_sim_day: f64 },
    /// A tiny per-SIM bundle (`plan_mb`) that normal telemetry alone outruns: nearly every
    /// MB is billed, like pay-as-you-go with a small allowance.
    Bundle {
        plan_mb: u64,
        telemetry_mb_per_sim_day: f64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct PoolSpec {
    pub id: &'static str,
    pub provider: &'static str,
    pub kind: PoolKind,
    pub cycle_day: u32,
    pub cycle_timezone: &'static str,
    pub on_cap: &'static str,
    /// `cap_mb` as a multiple of the allowance (None = no cap).
    pub cap_over_allowance: Option<f64>,
    /// (`up_to_mb`, `price_per_mb`); the last bound is None.
    pub tiers: &'static [(Option<u64>, f64)],
    /// (`zone`, `price_per_mb`).
    pub zone_rates: &'static [(&'static str, f64)],
    /// Share of the pool's devices that roam in a zone (picked uniformly among `zone_rates`).
    pub roaming_share: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct RegionSpec {
    pub name: &'static str,
    pub weight: f64,
    /// (IANA zone, weight).
    pub timezones: &'static [(&'static str, f64)],
    /// Home pool of the region's devices (a share goes to the pay-as-you-go pool instead).
    pub pool: &'static str,
    /// When not empty, the region's carriers by weight; replaces `pool` (which is then
    /// the first of them).
    pub pool_mix: &'static [(&'static str, f64)],
    /// Radio mix in `Radio::ALL` order.
    pub radio_mix: [f64; 4],
    pub hard_capacity: bool,
    /// Region window override (None = the default windows).
    pub windows: Option<&'static [&'static str]>,
}

#[derive(Debug, Clone)]
pub(crate) enum WaveSize {
    Count(u64),
    Share(f64),
    Rest,
}

#[derive(Debug, Clone)]
pub(crate) struct WaveSpec {
    pub name: &'static str,
    pub size: WaveSize,
    pub select: Option<&'static str>,
    pub region: Option<&'static str>,
    pub soak_hours: Option<u32>,
}

/// Everything a preset fixes; the random part (which device is where) is in `fleet`.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub name: &'static str,
    pub id_prefix: &'static str,
    pub release: &'static str,
    pub start: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub currency: &'static str,
    pub artifacts: Vec<ArtifactSpec>,
    /// (current version, weight).
    pub versions: &'static [(&'static str, f64)],
    pub regions: Vec<RegionSpec>,
    pub pools: Vec<PoolSpec>,
    /// The pay-as-you-go pool that takes `payg_share` of every region's devices.
    pub payg_pool: Option<&'static str>,
    pub payg_share: f64,
    pub default_windows: &'static [&'static str],
    pub waves: Vec<WaveSpec>,
    pub critical_share: f64,
    /// Share of a region's devices kept at its maintenance hub.
    pub hub_share: f64,
    /// Share of non-critical hub devices the operator marked canary-eligible.
    pub canary_share_at_hub: f64,
    /// Nights of the default window it takes a region to carry its whole update at capacity.
    pub nights_at_capacity: f64,
    pub coverage_days: u32,
    /// Share of devices that have coverage history.
    pub coverage_share: f64,
    /// Protocol overhead assumed when sizing headroom and capacity (domain: ~4% headers + retries).
    pub overhead: f64,
    /// Write a fitted coverage model keyed by `region/radio` (`coverage-model.parquet`).
    pub coverage_model: bool,
}

pub(crate) fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("catalog dates are valid UTC dates")
}

/// The MVNO tier sheet quoted in the domain brief.
pub(crate) const MVNO_TIERS: &[(Option<u64>, f64)] =
    &[(Some(100), 0.078), (Some(500), 0.039), (None, 0.0195)];

pub(crate) const MIX_EU: [f64; 4] = [0.15, 0.35, 0.30, 0.20];
pub(crate) const MIX_US: [f64; 4] = [0.05, 0.45, 0.30, 0.20];
pub(crate) const MIX_ASIA: [f64; 4] = [0.30, 0.30, 0.28, 0.12];
pub(crate) const MIX_AU: [f64; 4] = [0.10, 0.40, 0.30, 0.20];
const MIX_MOBILITY: [f64; 4] = [0.05, 0.50, 0.35, 0.10];

pub(crate) fn catalog(preset: Preset) -> Catalog {
    match preset {
        Preset::Sample => sample(),
        Preset::SeedFleet => seed_fleet(),
        Preset::Bench => bench(),
        Preset::Diverse => super::diverse::catalog(),
    }
}

fn sample() -> Catalog {
    let region = |name, weight, timezones, pool, radio_mix, hard_capacity, windows| RegionSpec {
        name,
        weight,
        timezones,
        pool,
        pool_mix: &[],
        radio_mix,
        hard_capacity,
        windows,
    };
    Catalog {
        name: "sample-spring-2027",
        id_prefix: "dev-",
        release: "2.4.0",
        start: utc(2027, 3, 22),
        deadline: utc(2027, 4, 5),
        currency: "USD",
        artifacts: vec![
            art(None, "2.4.0", 6_400_000, true),
            art(None, "2.3.0", 6_250_000, true),
            art(Some("2.3.0"), "2.4.0", 704_000, true),
            art(Some("2.2.0"), "2.3.0", 1_216_000, true),
            art(Some("2.2.0"), "2.4.0", 1_600_000, true),
            art(Some("2.1.0"), "2.2.0", 1_920_000, false),
            art(Some("1.9.4"), "2.4.0", 8_960_000, false),
        ],
        versions: &[
            ("2.4.0", 0.004),
            ("2.3.0", 0.46),
            ("2.2.0", 0.24),
            ("2.1.0", 0.17),
            ("1.9.4", 0.126),
        ],
        regions: vec![
            region(
                "eu-west",
                0.09,
                &[("Europe/London", 1.0)],
                "eu-cal",
                MIX_EU,
                false,
                None,
            ),
            region(
                "eu-central",
                0.14,
                &[("Europe/Berlin", 0.7), ("Europe/Warsaw", 0.3)],
                "eu-cal",
                MIX_EU,
                true,
                Some(&["02:00-06:00"]),
            ),
            region(
                "eu-north",
                0.06,
                &[("Europe/Helsinki", 0.6), ("Europe/Stockholm", 0.4)],
                "eu-cal",
                MIX_EU,
                false,
                None,
            ),
            region(
                "eu-south",
                0.07,
                &[("Europe/Madrid", 0.5), ("Europe/Rome", 0.5)],
                "eu-cal",
                MIX_EU,
                false,
                None,
            ),
            region(
                "us-east",
                0.10,
                &[("America/New_York", 0.8), ("America/Detroit", 0.2)],
                "am-ann",
                MIX_US,
                true,
                None,
            ),
            region(
                "us-central",
                0.08,
                &[("America/Chicago", 1.0)],
                "am-ann",
                MIX_US,
                false,
                None,
            ),
            region(
                "us-west",
                0.08,
                &[("America/Los_Angeles", 1.0)],
                "am-ann",
                MIX_US,
                false,
                Some(&["22:00-04:00"]),
            ),
            region(
                "in-west",
                0.08,
                &[("Asia/Kolkata", 1.0)],
                "apac-thr",
                MIX_ASIA,
                true,
                Some(&["01:30-05:30"]),
            ),
            region(
                "np",
                0.04,
                &[("Asia/Kathmandu", 1.0)],
                "apac-thr",
                MIX_ASIA,
                false,
                None,
            ),
            region(
                "au-south",
                0.08,
                &[("Australia/Adelaide", 1.0)],
                "apac-thr",
                MIX_AU,
                false,
                None,
            ),
            region(
                "au-east",
                0.08,
                &[("Australia/Sydney", 1.0)],
                "apac-thr",
                MIX_AU,
                false,
                None,
            ),
            region(
                "jp",
                0.10,
                &[("Asia/Tokyo", 1.0)],
                "apac-thr",
                MIX_ASIA,
                true,
                None,
            ),
        ],
        pools: vec![
            PoolSpec {
                id: "eu-cal",
                provider: "calendar-mvno",
                kind: PoolKind::Pooled {
                    plan_mb: 50,
                    telemetry_share: 0.90,
                    headroom_share: 0.20,
                },
                cycle_day: 1,
                cycle_timezone: "Europe/Berlin",
                on_cap: "overage",
                cap_over_allowance: None,
                tiers: MVNO_TIERS,
                zone_rates: &[("zone-2", 0.12)],
                roaming_share: 0.02,
            },
            PoolSpec {
                id: "am-ann",
                provider: "anniversary-carrier",
                kind: PoolKind::Pooled {
                    plan_mb: 25,
                    telemetry_share: 0.93,
                    headroom_share: 0.10,
                },
                cycle_day: 26,
                cycle_timezone: "America/Chicago",
                on_cap: "pause",
                cap_over_allowance: Some(1.05),
                tiers: &[(None, 0.50)],
                zone_rates: &[],
                roaming_share: 0.0,
            },
            PoolSpec {
                id: "apac-thr",
                provider: "regional-carrier",
                kind: PoolKind::Pooled {
                    plan_mb: 100,
                    telemetry_share: 0.88,
                    headroom_share: 0.35,
                },
                cycle_day: 1,
                cycle_timezone: "Asia/Kolkata",
                on_cap: "throttle",
                cap_over_allowance: Some(1.10),
                tiers: &[(Some(2_000), 0.03), (None, 0.06)],
                zone_rates: &[],
                roaming_share: 0.0,
            },
            PoolSpec {
                id: "global-payg",
                provider: "payg-roaming",
                kind: PoolKind::PayAsYouGo {
                    telemetry_mb_per_sim_day: 0.4,
                },
                cycle_day: 1,
                cycle_timezone: "UTC",
                on_cap: "overage",
                cap_over_allowance: None,
                tiers: &[(None, 0.045)],
                zone_rates: &[("zone-2", 0.09), ("zone-3", 0.25)],
                roaming_share: 0.40,
            },
        ],
        payg_pool: Some("global-payg"),
        payg_share: 0.08,
        default_windows: &["01:00-05:00"],
        waves: vec![
            WaveSpec {
                name: "canary",
                size: WaveSize::Count(40),
                select: Some("canary"),
                region: None,
                soak_hours: Some(24),
            },
            WaveSpec {
                name: "region",
                size: WaveSize::Count(300),
                select: None,
                region: Some("eu-central"),
                soak_hours: Some(24),
            },
            WaveSpec {
                name: "fleet",
                size: WaveSize::Rest,
                select: None,
                region: None,
                soak_hours: None,
            },
        ],
        critical_share: 0.06,
        hub_share: 0.12,
        canary_share_at_hub: 0.5,
        nights_at_capacity: 3.0,
        coverage_days: 21,
        coverage_share: 0.8,
        overhead: 1.06,
        coverage_model: false,
    }
}

fn bench() -> Catalog {
    let mut c = sample();
    c.name = "bench-spring-2027";
    c.waves[0].size = WaveSize::Count(50);
    c.waves[1].size = WaveSize::Share(0.01);
    c.coverage_days = 0;
    c.coverage_share = 0.05;
    c
}

fn seed_fleet() -> Catalog {
    let region = |name, weight, timezones, pool, windows| RegionSpec {
        name,
        weight,
        timezones,
        pool,
        pool_mix: &[],
        radio_mix: MIX_MOBILITY,
        hard_capacity: false,
        windows,
    };
    let mut regions = vec![
        region(
            "new-york",
            0.22,
            &[("America/New_York", 1.0)],
            "fleet-cal",
            None,
        ),
        region(
            "boston",
            0.10,
            &[("America/New_York", 1.0)],
            "fleet-cal",
            None,
        ),
        region(
            "chicago",
            0.20,
            &[("America/Chicago", 1.0)],
            "fleet-cal",
            None,
        ),
        region(
            "dallas",
            0.14,
            &[("America/Chicago", 1.0)],
            "fleet-ann",
            None,
        ),
        region(
            "los-angeles",
            0.22,
            &[("America/Los_Angeles", 1.0)],
            "fleet-ann",
            Some(&["23:00-05:00"]),
        ),
        region(
            "seattle",
            0.12,
            &[("America/Los_Angeles", 1.0)],
            "fleet-ann",
            None,
        ),
    ];
    regions[0].hard_capacity = true;
    Catalog {
        name: "seed-fleet-winter-2027",
        id_prefix: "veh-",
        release: "3.2.0",
        start: utc(2027, 1, 25),
        deadline: utc(2027, 2, 8),
        currency: "USD",
        artifacts: vec![
            art(None, "3.2.0", 5_000_000, true),
            art(None, "3.1.0", 4_900_000, true),
            art(Some("3.1.0"), "3.2.0", 410_000, true),
            art(Some("3.0.0"), "3.1.0", 640_000, true),
            art(Some("3.0.0"), "3.2.0", 900_000, true),
            art(Some("2.7.1"), "3.2.0", 7_000_000, false),
        ],
        versions: &[
            ("3.2.0", 0.01),
            ("3.1.0", 0.52),
            ("3.0.0", 0.30),
            ("2.7.1", 0.17),
        ],
        regions,
        pools: vec![
            PoolSpec {
                id: "fleet-cal",
                provider: "calendar-mvno",
                kind: PoolKind::Pooled {
                    plan_mb: 50,
                    telemetry_share: 0.90,
                    headroom_share: 0.25,
                },
                cycle_day: 1,
                cycle_timezone: "America/New_York",
                on_cap: "overage",
                cap_over_allowance: None,
                tiers: MVNO_TIERS,
                zone_rates: &[],
                roaming_share: 0.0,
            },
            PoolSpec {
                id: "fleet-ann",
                provider: "anniversary-carrier",
                kind: PoolKind::Pooled {
                    plan_mb: 50,
                    telemetry_share: 0.92,
                    headroom_share: 0.30,
                },
                cycle_day: 4,
                cycle_timezone: "America/Chicago",
                on_cap: "overage",
                cap_over_allowance: None,
                tiers: &[(Some(1_000), 0.05), (None, 0.03)],
                zone_rates: &[],
                roaming_share: 0.0,
            },
            PoolSpec {
                id: "cross-border-payg",
                provider: "payg-roaming",
                kind: PoolKind::PayAsYouGo {
                    telemetry_mb_per_sim_day: 0.8,
                },
                cycle_day: 1,
                cycle_timezone: "UTC",
                on_cap: "overage",
                cap_over_allowance: None,
                tiers: &[(None, 0.04)],
                zone_rates: &[("canada-mexico", 0.12)],
                roaming_share: 0.35,
            },
        ],
        payg_pool: Some("cross-border-payg"),
        payg_share: 0.03,
        default_windows: &["01:00-05:00"],
        waves: vec![
            WaveSpec {
                name: "canary",
                size: WaveSize::Count(40),
                select: Some("canary"),
                region: None,
                soak_hours: Some(24),
            },
            WaveSpec {
                name: "region",
                size: WaveSize::Count(300),
                select: None,
                region: Some("chicago"),
                soak_hours: Some(24),
            },
            WaveSpec {
                name: "fleet",
                size: WaveSize::Rest,
                select: None,
                region: None,
                soak_hours: None,
            },
        ],
        critical_share: 0.05,
        hub_share: 0.08,
        canary_share_at_hub: 0.5,
        nights_at_capacity: 3.0,
        coverage_days: 14,
        coverage_share: 0.12,
        overhead: 1.06,
        coverage_model: false,
    }
}

pub(crate) fn art(
    from: Option<&'static str>,
    to: &'static str,
    size_bytes: u64,
    resumable: bool,
) -> ArtifactSpec {
    ArtifactSpec {
        from,
        to,
        size_bytes,
        resumable,
    }
}

impl Catalog {
    pub(crate) fn pool_index(&self, id: &str) -> usize {
        self.pools
            .iter()
            .position(|p| p.id == id)
            .expect("catalog regions name catalog pools")
    }

    /// Smallest total bytes from `version` to the release (full image or a delta chain), or
    /// None when no path exists.
    pub(crate) fn cheapest_bytes(&self, version: &str) -> Option<u64> {
        if version == self.release {
            return Some(0);
        }
        // Bellman-Ford over a handful of edges: best[v] = cheapest bytes to be *on* v.
        let mut best: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        best.insert(version, 0);
        for a in self.artifacts.iter().filter(|a| a.from.is_none()) {
            let e = best.entry(a.to).or_insert(u64::MAX);
            *e = (*e).min(a.size_bytes);
        }
        for _ in 0..self.artifacts.len() {
            for a in &self.artifacts {
                let Some(b) = a.from.and_then(|from| best.get(from).copied()) else {
                    continue;
                };
                if b == u64::MAX {
                    continue;
                }
                let cand = b + a.size_bytes;
                let e = best.entry(a.to).or_insert(u64::MAX);
                if cand < *e {
                    *e = cand;
                }
            }
        }
        best.get(self.release).copied().filter(|&b| b != u64::MAX)
    }
}

/// Length in hours of a set of `"HH:MM-HH:MM"` windows (a window may cross midnight).
pub(crate) fn window_hours(windows: &[&str]) -> f64 {
    windows
        .iter()
        .map(|w| {
            let (a, b) = w.split_once('-').expect("catalog windows are HH:MM-HH:MM");
            let mins = |s: &str| {
                let (h, m) = s.split_once(':').expect("catalog times are HH:MM");
                h.parse::<u32>().expect("catalog hour") * 60
                    + m.parse::<u32>().expect("catalog minute")
            };
            let (a, b) = (mins(a), mins(b));
            let len = if b > a { b - a } else { 24 * 60 - a + b };
            f64::from(len) / 60.0
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(preset: Preset, version: &str, expected: Option<u64>) {
        assert_eq!(
            catalog(preset).cheapest_bytes(version),
            expected,
            "{version}"
        );
    }

    #[test]
    fn cheapest_payloads_follow_the_artifacts() {
        check(Preset::Sample, "2.4.0", Some(0));
        check(Preset::Sample, "2.3.0", Some(704_000));
        // The direct delta beats the chain 2.2.0>2.3.0>2.4.0.
        check(Preset::Sample, "2.2.0", Some(1_600_000));
        check(Preset::Sample, "2.1.0", Some(1_920_000 + 1_600_000));
        // Across the major jump the delta is ~140% of the image: the full image wins.
        check(Preset::Sample, "1.9.4", Some(6_400_000));
        check(Preset::SeedFleet, "2.7.1", Some(5_000_000));
        check(Preset::SeedFleet, "3.0.0", Some(900_000));
    }

    #[test]
    fn window_hours_cross_midnight() {
        assert_eq!(window_hours(&["01:00-05:00"]), 4.0);
        assert_eq!(window_hours(&["22:00-04:00"]), 6.0);
        assert_eq!(window_hours(&["01:30-05:30", "23:00-24:00"]), 5.0);
    }

    #[test]
    fn version_weights_and_region_weights_sum_to_one() {
        for p in [
            Preset::Sample,
            Preset::SeedFleet,
            Preset::Bench,
            Preset::Diverse,
        ] {
            let c = catalog(p);
            let v: f64 = c.versions.iter().map(|(_, w)| w).sum();
            let r: f64 = c.regions.iter().map(|r| r.weight).sum();
            assert!(
                (v - 1.0).abs() < 1e-9 && (r - 1.0).abs() < 1e-9,
                "{p:?}: {v} {r}"
            );
        }
    }
}
