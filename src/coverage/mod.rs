//! The coverage model: for a key (a device id, `<region>/<radio>`, a region or a radio)
//! and an hour of the local week, the chance a device is online, its downlink
//! throughput while online and its session-drop hazard. Lookups resolve the most
//! specific key first and always end at the built-in radio priors. Pure, no I/O: fitting
//! from history lives in [`fit`] (pure too); choosing and reading the model is the input
//! edge's (`ingest::coverage_load`, through `ingest::coverage`).

pub mod fit;
pub mod sql;

use crate::domain::{Device, Radio};
use crate::units::Instant;
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

pub const HOURS_PER_WEEK: usize = 168;

/// Between region and radio in a `<region>/<radio>` key.
pub const REGION_RADIO_SEP: &str = "/";

/// What the model says about one key in one local hour of the week.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HourStats {
    pub p_online: f64,
    pub throughput_kbps: f64,
    pub drop_rate_per_hour: f64,
    /// Observations behind the estimate (0 for priors).
    pub samples: u32,
}

/// One key's week, indexed by [`hour_of_week`].
pub type Profile = [HourStats; HOURS_PER_WEEK];

/// Where a scenario's coverage knowledge came from (reported in summary.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A fitted `coverage_model` table.
    Model,
    /// Fitted on the fly from `coverage` history.
    History,
    /// Built-in priors per radio only.
    Priors,
}

/// How specific the key was that answered for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLevel {
    Device,
    RegionRadio,
    Region,
    Radio,
    Prior,
}

/// Local hour of the week in `tz`: 0 = Monday 00:00–01:00 local.
pub fn hour_of_week(tz: Tz, t: Instant) -> usize {
    let l = tz.from_utc_datetime(&t.naive_utc());
    l.weekday().num_days_from_monday() as usize * 24 + l.hour() as usize
}

/// Built-in priors per radio, from ../shared/domain.md: practical downlink NB-IoT ~20
/// kbps, LTE-M ~300 kbps, Cat-1 ~5 Mbps, Cat-4 ~20 Mbps; cells are busiest 17:00–23:00
/// local (throughput about half the night's) and fastest around 03:00. NB-IoT/LTE-M
/// devices are mostly fixed meters and trackers (usually reachable); Cat-1/Cat-4 are
/// mostly vehicles, parked most of the time with modems that may sleep. Drop hazards
/// are a modest guess to be replaced by fitted history.
pub fn radio_prior(radio: Radio) -> Profile {
    let (base_kbps, p_night, p_day, drop) = match radio {
        Radio::NbIot => (20.0, 0.85, 0.8, 0.10),
        Radio::LteM => (300.0, 0.85, 0.8, 0.08),
        Radio::Cat1 => (5_000.0, 0.7, 0.75, 0.06),
        Radio::Cat4 => (20_000.0, 0.7, 0.75, 0.05),
    };
    std::array::from_fn(|how| {
        let h = how % 24;
        // Throughput multiplier over the local day: 1.0 at 03:00, 0.5 in the 17–23 peak.
        let mult = match h {
            0..=5 => 1.0,
            6..=8 => 0.8,
            9..=16 => 0.7,
            17..=22 => 0.5,
            _ => 0.8,
        };
        let night = !(6..=22).contains(&h);
        HourStats {
            p_online: if night { p_night } else { p_day },
            throughput_kbps: base_kbps * mult,
            drop_rate_per_hour: if night { drop } else { drop * 1.5 },
            samples: 0,
        }
    })
}

/// A coverage model: profiles by key.
#[derive(Debug, Clone)]
pub struct CoverageModel {
    pub source: Source,
    profiles: HashMap<String, Arc<Profile>>,
    priors: [Arc<Profile>; 4],
}

impl CoverageModel {
    /// Priors only.
    pub fn priors() -> CoverageModel {
        CoverageModel::from_profiles(Source::Priors, HashMap::new())
    }

    pub fn from_profiles(source: Source, profiles: HashMap<String, Arc<Profile>>) -> CoverageModel {
        CoverageModel {
            source,
            profiles,
            priors: Radio::ALL.map(|r| Arc::new(radio_prior(r))),
        }
    }

    /// A model from fitted profiles (a model file or a fit on the fly).
    pub fn from_fitted(source: Source, profiles: Vec<(String, Profile)>) -> CoverageModel {
        CoverageModel::from_profiles(
            source,
            profiles
                .into_iter()
                .map(|(k, p)| (k, Arc::new(p)))
                .collect(),
        )
    }

    pub fn profiles(&self) -> &HashMap<String, Arc<Profile>> {
        &self.profiles
    }

    pub fn get(&self, key: &str) -> Option<&Arc<Profile>> {
        self.profiles.get(key)
    }

    /// The key `<region>/<radio>`.
    pub fn region_radio_key(region: &str, radio: Radio) -> String {
        format!("{region}{REGION_RADIO_SEP}{}", radio.as_str())
    }

    /// The most specific profile for a device: its id, `<region>/<radio>`, its region,
    /// its radio, then the built-in radio prior.
    pub fn for_device(&self, device: &Device, region: &str) -> (&Arc<Profile>, KeyLevel) {
        if let Some(p) = self.profiles.get(&device.id) {
            return (p, KeyLevel::Device);
        }
        self.for_group(region, device.radio)
    }

    /// The most specific profile that is not a single device's: what a device of this
    /// region and radio is expected to do.
    pub fn for_group(&self, region: &str, radio: Radio) -> (&Arc<Profile>, KeyLevel) {
        if let Some(p) = self.profiles.get(&Self::region_radio_key(region, radio)) {
            return (p, KeyLevel::RegionRadio);
        }
        if let Some(p) = self.profiles.get(region) {
            return (p, KeyLevel::Region);
        }
        if let Some(p) = self.profiles.get(radio.as_str()) {
            return (p, KeyLevel::Radio);
        }
        (&self.priors[radio as usize], KeyLevel::Prior)
    }

    /// What the model expects of a device at a UTC instant: its most specific profile
    /// at the local hour of week that contains `t`, and how specific that profile was.
    pub fn at(&self, device: &Device, region: &str, t: Instant) -> (HourStats, KeyLevel) {
        let (p, level) = self.for_device(device, region);
        (p[hour_of_week(device.tz, t)], level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::test_utc as utc;

    #[test]
    fn hour_of_week_follows_local_clock() {
        let tz: Tz = "Asia/Kathmandu".parse().unwrap();
        // 2027-01-03 is a Sunday; 18:15Z Sunday = 00:00 Monday in +05:45.
        assert_eq!(hour_of_week(tz, utc("2027-01-03T18:15:00Z")), 0);
        assert_eq!(hour_of_week(tz, utc("2027-01-03T18:14:00Z")), 167);
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Monday 2027-03-29 01:30 CEST = 23:30Z Sunday.
        assert_eq!(hour_of_week(berlin, utc("2027-03-28T23:30:00Z")), 1);
    }

    #[test]
    fn lookups_fall_back_to_priors() {
        let m = CoverageModel::priors();
        let d = Device {
            id: "d".into(),
            pool: crate::domain::PoolId(0),
            region: crate::domain::RegionId(0),
            tz: "UTC".parse().unwrap(),
            current_version: "1".into(),
            radio: Radio::NbIot,
            canary_eligible: false,
            critical: false,
            zone: None,
            hardware: None,
            depot: None,
        };
        let (p, level) = m.for_device(&d, "r");
        assert_eq!(level, KeyLevel::Prior);
        assert_eq!(p[3].throughput_kbps, 20.0);
    }
}
