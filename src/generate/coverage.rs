//! Synthesises hourly coverage history (online, throughput, drops) for one device; no I/O.
//!
//! Patterns follow the domain brief: cell throughput swings more than 2× over the local
//! day (busiest 17:00–23:00, fastest around 03:00); parked vehicles whose modem sleeps
//! with the ignition off; tunnels on commutes and underground garages cut sessions.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use chrono_tz::Tz;
use rand::Rng;

use super::catalog::{Catalog, Radio};
use super::fleet::{DOMAIN_COVERAGE, DOMAIN_MODEL, Device, stream_rng};
use crate::coverage::{HourStats, Profile as Week};

/// Relative cell throughput by local hour (1.0 = the quiet night peak at 03:00).
const DIURNAL: [f64; 24] = [
    0.90, 0.95, 0.99, 1.00, 0.98, 0.92, 0.85, 0.75, 0.68, 0.66, 0.65, 0.64, 0.63, 0.63, 0.62, 0.60,
    0.55, 0.47, 0.45, 0.45, 0.46, 0.47, 0.48, 0.72,
];

/// How a device's connectivity behaves over the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// Powered from the vehicle's or the hub's mains: always reachable.
    AlwaysOn,
    /// Modem sleeps with the ignition off; reachable when driven and at brief wake-ups.
    ParkedSleeper,
    /// Daily routes through tunnels: drops cluster in rush hours.
    Commuter,
    /// Parked overnight in an underground garage: poor coverage at night.
    Garage,
}

/// Local (hour, is-weekday) for every sampled UTC hour, per time zone.
pub(crate) struct HourTable {
    pub first: DateTime<Utc>,
    pub hours: usize,
    by_tz: BTreeMap<&'static str, Vec<(u8, bool)>>,
}

impl HourTable {
    pub(crate) fn new(cat: &Catalog, days: u32) -> Self {
        let hours = days as usize * 24;
        let first = cat.start - Duration::hours(hours as i64);
        let mut by_tz = BTreeMap::new();
        for r in &cat.regions {
            for (name, _) in r.timezones {
                let tz: Tz = name.parse().expect("catalog time zones are IANA names");
                let v = (0..hours)
                    .map(|h| {
                        let local = (first + Duration::hours(h as i64)).with_timezone(&tz);
                        (
                            local.hour() as u8,
                            local.weekday().num_days_from_monday() < 5,
                        )
                    })
                    .collect();
                by_tz.insert(*name, v);
            }
        }
        Self {
            first,
            hours,
            by_tz,
        }
    }
}

/// Column buffers for a batch of coverage rows.
#[derive(Debug, Default)]
pub(crate) struct CoverageColumns {
    pub device_id: Vec<String>,
    pub ts_us: Vec<i64>,
    pub online: Vec<bool>,
    pub throughput_kbps: Vec<Option<f64>>,
    pub dropped: Vec<bool>,
}

impl CoverageColumns {
    pub(crate) fn append(&mut self, other: CoverageColumns) {
        self.device_id.extend(other.device_id);
        self.ts_us.extend(other.ts_us);
        self.online.extend(other.online);
        self.throughput_kbps.extend(other.throughput_kbps);
        self.dropped.extend(other.dropped);
    }

    pub(crate) fn len(&self) -> usize {
        self.ts_us.len()
    }
}

/// Rounds to three significant digits, as a modem's reported rate would be.
fn round_sig3(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let mag = 10f64.powi(x.log10().floor() as i32 - 2);
    (x / mag).round() * mag
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// (chance of being online, drop hazard per online hour) of a device of `profile` and
/// `radio` in a local hour of a weekday or weekend day.
fn behaviour(profile: Profile, radio: Radio, hour: u8, weekday: bool) -> (f64, f64) {
    let rush = weekday && ((7..9).contains(&hour) || (16..19).contains(&hour));
    let night = !(6..21).contains(&hour);
    let p_online = match profile {
        Profile::AlwaysOn => 0.97,
        Profile::ParkedSleeper if weekday && (7..19).contains(&hour) => 0.85,
        Profile::ParkedSleeper if !weekday && (10..18).contains(&hour) => 0.5,
        Profile::ParkedSleeper => 0.15,
        Profile::Commuter if rush => 0.75,
        Profile::Commuter => 0.95,
        Profile::Garage if night => 0.3,
        Profile::Garage => 0.93,
    };
    let mut hazard = radio.drop_hazard();
    if (17..23).contains(&hour) {
        hazard *= 1.5;
    }
    if profile == Profile::Commuter && rush {
        hazard *= 6.0;
    }
    if profile == Profile::Garage && night {
        hazard *= 4.0;
    }
    (p_online, hazard)
}

/// The behaviours and their shares among devices with history (as `device_history` draws them).
const BEHAVIOURS: [(Profile, f64); 4] = [
    (Profile::AlwaysOn, 0.45),
    (Profile::ParkedSleeper, 0.25),
    (Profile::Commuter, 0.18),
    (Profile::Garage, 0.12),
];

fn round_to(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// The weeks a model fitted on three weeks of this generator's history would show for one
/// region, one per radio (`Radio::ALL` order), keyed `<region>/<radio>`: the region has
/// its own network speed (log-normal, σ = 0.35), drop hazard (σ = 0.3) and behaviour mix
/// (each share × a log-normal σ = 0.25 factor, renormalised); each radio its own speed
/// (σ = 0.15). `p_online` is the mix's chance of being online, `drop_rate_per_hour` its
/// drop hazard per online hour, `throughput_kbps` the median rate (the radio's practical
/// rate × speeds × the diurnal curve), `samples` three per device of the key.
pub(crate) fn region_weeks(seed: u64, region: u64, devices: [u64; 4]) -> [Week; 4] {
    let mut rng = stream_rng(seed, DOMAIN_MODEL, region);
    let speed = (0.35 * normal(&mut rng)).exp();
    let drops = (0.3 * normal(&mut rng)).exp();
    let mut mix = BEHAVIOURS.map(|(p, w)| (p, w * (0.25 * normal(&mut rng)).exp()));
    let total: f64 = mix.iter().map(|(_, w)| w).sum();
    mix.iter_mut().for_each(|(_, w)| *w /= total);
    Radio::ALL.map(|radio| {
        let radio_speed = (0.15 * normal(&mut rng)).exp();
        let samples = u32::try_from(devices[radio as usize] * 3).unwrap_or(u32::MAX);
        std::array::from_fn(|how| {
            let hour = (how % 24) as u8;
            let weekday = how / 24 < 5;
            let (mut p, mut p_hazard) = (0.0, 0.0);
            for (profile, w) in mix {
                let (on, hazard) = behaviour(profile, radio, hour, weekday);
                p += w * on;
                p_hazard += w * on * hazard;
            }
            let kbps = radio.base_kbps() * speed * radio_speed * DIURNAL[hour as usize];
            let floor = if radio == Radio::NbIot { 1.0 } else { 10.0 };
            HourStats {
                p_online: round_to(p, 3),
                throughput_kbps: round_sig3(kbps).max(floor),
                drop_rate_per_hour: round_to(drops * p_hazard / p, 4),
                samples,
            }
        })
    })
}

/// Whether device `d` has history at all, and if so its rows (None = no history).
pub(crate) fn device_history(
    cat: &Catalog,
    seed: u64,
    d: &Device,
    id: &str,
    table: &HourTable,
) -> Option<CoverageColumns> {
    let mut rng = stream_rng(seed, DOMAIN_COVERAGE, d.index);
    if rng.random::<f64>() >= cat.coverage_share {
        return None;
    }
    let profile = match rng.random::<f64>() {
        x if x < 0.45 => Profile::AlwaysOn,
        x if x < 0.70 => Profile::ParkedSleeper,
        x if x < 0.88 => Profile::Commuter,
        _ => Profile::Garage,
    };
    // Devices differ: antenna, placement, cell edge.
    let speed = (0.3 * normal(&mut rng)).exp();
    let local = table
        .by_tz
        .get(d.timezone)
        .expect("hour table covers every catalog zone");
    let first_us = table.first.timestamp_micros();
    let mut out = CoverageColumns::default();
    let n = table.hours;
    out.device_id = vec![id.to_owned(); n];
    out.ts_us.reserve(n);
    out.online.reserve(n);
    out.throughput_kbps.reserve(n);
    out.dropped.reserve(n);
    for (h, &(hour, weekday)) in local.iter().enumerate() {
        let (p_online, hazard) = behaviour(profile, d.radio, hour, weekday);
        let online = rng.random::<f64>() < p_online;
        let noise = 0.85 + 0.3 * rng.random::<f64>();
        let drop_draw: f64 = rng.random();
        out.ts_us.push(first_us + h as i64 * 3_600_000_000);
        out.online.push(online);
        if online {
            let kbps = d.radio.base_kbps() * speed * DIURNAL[hour as usize] * noise;
            let floor = if d.radio == Radio::NbIot { 1.0 } else { 10.0 };
            out.throughput_kbps.push(Some(round_sig3(kbps).max(floor)));
            out.dropped.push(drop_draw < hazard.min(0.9));
        } else {
            out.throughput_kbps.push(None);
            out.dropped.push(false);
        }
    }
    Some(out)
}
