//! The typed scenario every command works on: devices, SIM pools, artifacts, regions,
//! windows, waves, weights and stop rules. Values here are already validated and
//! resolved (ids are indices, time zones are `chrono_tz::Tz`, instants are UTC). No
//! polars, no file paths, no clock.

use crate::units::{Bytes, Instant, Megabytes, PricePerMb};
use crate::windows::WindowSet;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Index of a pool in [`Scenario::pools`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PoolId(pub u32);

/// Index of a region in [`Scenario::regions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RegionId(pub u32);

/// Index of a device in [`Scenario::devices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DeviceIdx(pub u32);

/// The cellular radio of a device; decides its throughput priors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Radio {
    NbIot,
    LteM,
    Cat1,
    Cat4,
}

impl Radio {
    pub const ALL: [Radio; 4] = [Radio::NbIot, Radio::LteM, Radio::Cat1, Radio::Cat4];

    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Radio::NbIot => "nbiot",
            Radio::LteM => "ltem",
            Radio::Cat1 => "cat1",
            Radio::Cat4 => "cat4",
        }
    }

    /// The radio `s` names, in any case (`NBIoT` is `nbiot`).
    pub fn parse(s: &str) -> Option<Radio> {
        Radio::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Radio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: String,
    pub pool: PoolId,
    pub region: RegionId,
    pub tz: Tz,
    pub current_version: String,
    pub radio: Radio,
    pub canary_eligible: bool,
    pub critical: bool,
    /// `None` = the pool's home zone; `Some(z)` = roaming, billed at the pool's rate for `z`.
    pub zone: Option<String>,
    pub hardware: Option<String>,
    pub depot: Option<String>,
}

/// What the carrier does when a pool's usage in a cycle reaches `cap_mb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CapBehaviour {
    /// Keep going and bill overage.
    Overage,
    /// Pause the SIMs until the next cycle (a hard limit for the planner).
    Pause,
    /// Throttle the SIMs (a hard limit for the planner).
    Throttle,
}

impl CapBehaviour {
    pub fn parse(s: &str) -> Option<CapBehaviour> {
        match s {
            "overage" => Some(CapBehaviour::Overage),
            "pause" => Some(CapBehaviour::Pause),
            "throttle" => Some(CapBehaviour::Throttle),
            _ => None,
        }
    }
    pub fn is_hard(self) -> bool {
        !matches!(self, CapBehaviour::Overage)
    }
}

/// One marginal overage tier: overage MB up to `up_to` (cumulative) cost `price` each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    /// `None` = unbounded (only the last tier).
    pub up_to: Option<Megabytes>,
    pub price: PricePerMb,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub id: String,
    pub provider: String,
    /// Per cycle, the whole pool.
    pub allowance: Megabytes,
    /// 1..=28: a cycle starts at 00:00 local on this day of each month.
    pub cycle_day: u32,
    pub cycle_tz: Tz,
    /// Used in the cycle that contains `start`, up to `start`.
    pub used: Megabytes,
    /// Forecast non-update use of the whole pool per elapsed day.
    pub baseline_per_day: Megabytes,
    pub on_cap: CapBehaviour,
    pub cap: Option<Megabytes>,
    /// MB kept free under `cap` in every cycle; `None` = the largest single expected
    /// download of the pool that may start in the cycle.
    pub cap_headroom: Option<Megabytes>,
    /// Marginal tiers in order; the last is unbounded.
    pub tiers: Vec<Tier>,
    /// Roaming zone → price per MB.
    pub zone_rates: BTreeMap<String, PricePerMb>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// `None` = the full image of `to`.
    pub from: Option<String>,
    pub to: String,
    pub size: Bytes,
    pub resumable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub name: String,
    /// Update MB per hour the region's network carries comfortably.
    pub capacity_mb_per_hour: f64,
    /// Never exceeded, when set.
    pub hard_capacity_mb_per_hour: Option<f64>,
    /// Windows that replace the default ones for devices in this region.
    pub windows: Option<WindowSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaveSize {
    Count(u32),
    /// A share of the devices needing the release: `round(share × n)`, at least 1.
    Share(f64),
    /// The last wave takes every remaining device.
    Rest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaveSelect {
    /// Any device (the planner chooses).
    Any,
    /// `canary_eligible` and not `critical`, preferring depots and covering strata.
    Canary,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wave {
    pub name: String,
    pub size: WaveSize,
    pub select: WaveSelect,
    pub region: Option<RegionId>,
    pub soak_hours: f64,
    /// The user pinned the wave's earliest start.
    pub pinned_start: Option<Instant>,
}

/// What one unit of each harm is worth, in the scenario's currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    pub congestion_per_gb: f64,
    pub risk_per_failed_attempt: f64,
    pub lateness_per_device_day: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            congestion_per_gb: 2.0,
            risk_per_failed_attempt: 0.05,
            lateness_per_device_day: 0.001,
        }
    }
}

/// Rules decided before the rollout; carried into the plan for the orchestrator. Known
/// keys are typed; any other numeric or text key is carried through unchanged.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StopRules {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_loop_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery_draw_change: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnect_minutes: Option<f64>,
    /// Minutes to install and reboot after the download (the planner's reconnect
    /// deadline; `plan::DEFAULT_INSTALL_MINUTES` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_minutes: Option<f64>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// A whole, validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub release: String,
    pub start: Instant,
    pub deadline: Instant,
    pub slot_minutes: u32,
    pub currency: String,
    pub devices: Vec<Device>,
    pub pools: Vec<Pool>,
    pub artifacts: Vec<Artifact>,
    pub regions: Vec<Region>,
    pub default_windows: WindowSet,
    pub waves: Vec<Wave>,
    pub weights: Weights,
    pub stop_rules: StopRules,
}

impl Scenario {
    /// The highest price per MB any pool charges (an overage tier or a zone rate): what
    /// one MB can cost at most.
    pub fn max_price_per_mb(&self) -> f64 {
        self.pools
            .iter()
            .flat_map(|p| {
                p.tiers
                    .iter()
                    .map(|t| t.price.0)
                    .chain(p.zone_rates.values().map(|z| z.0))
            })
            .fold(0.0, f64::max)
    }

    pub fn pool(&self, id: PoolId) -> &Pool {
        &self.pools[id.0 as usize]
    }
    pub fn region(&self, id: RegionId) -> &Region {
        &self.regions[id.0 as usize]
    }
    /// The windows that apply to a device: its region's override, else the default.
    pub fn windows_for(&self, device: &Device) -> &WindowSet {
        self.region(device.region)
            .windows
            .as_ref()
            .unwrap_or(&self.default_windows)
    }
    pub fn region_id(&self, name: &str) -> Option<RegionId> {
        self.regions
            .iter()
            .position(|r| r.name == name)
            .map(|i| RegionId(i as u32))
    }
    pub fn pool_id(&self, name: &str) -> Option<PoolId> {
        self.pools
            .iter()
            .position(|p| p.id == name)
            .map(|i| PoolId(i as u32))
    }
}
