//! Turns a catalog and the fleet's totals into the small tables and `scenario.toml` text; no I/O, no randomness.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::catalog::{Catalog, PoolKind, WaveSize, WaveSpec, window_hours};
use super::fleet::FleetTotals;
use crate::output::csv_text;

/// One `pools` row, numbers already rounded for output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PoolRow {
    pub pool_id: &'static str,
    pub provider: &'static str,
    pub allowance_mb: u64,
    pub cycle_day: u32,
    pub cycle_timezone: &'static str,
    pub used_mb: f64,
    pub baseline_mb_per_day: f64,
    pub on_cap: &'static str,
    pub cap_mb: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RegionRow {
    pub region: &'static str,
    pub capacity_mb_per_hour: u64,
    pub hard_capacity_mb_per_hour: Option<u64>,
}

fn parse_tz(name: &str) -> Tz {
    name.parse().expect("catalog time zones are IANA names")
}

/// 00:00 local on `day` of the month, or the first instant after it that exists.
pub(crate) fn local_midnight(tz: Tz, year: i32, month: u32, day: u32) -> DateTime<Utc> {
    let mut t = NaiveDate::from_ymd_opt(year, month, day)
        .expect("cycle days are 1-28")
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
    loop {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => return x.with_timezone(&Utc),
            LocalResult::None => t += Duration::minutes(1),
        }
    }
}

fn shift_month(year: i32, month: u32, by: i32) -> (i32, u32) {
    let m = year * 12 + month as i32 - 1 + by;
    (m.div_euclid(12), (m.rem_euclid(12) + 1) as u32)
}

/// The billing cycle `[start, end)` that contains `t`.
pub(crate) fn cycle_containing(
    tz_name: &str,
    day: u32,
    t: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = parse_tz(tz_name);
    let local = t.with_timezone(&tz);
    let (mut y, mut m) = (local.year(), local.month());
    let mut s = local_midnight(tz, y, m, day);
    if s > t {
        (y, m) = shift_month(y, m, -1);
        s = local_midnight(tz, y, m, day);
    }
    let (ny, nm) = shift_month(y, m, 1);
    (s, local_midnight(tz, ny, nm, day))
}

fn days(d: Duration) -> f64 {
    d.num_seconds() as f64 / 86_400.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn pool_rows(cat: &Catalog, totals: &FleetTotals) -> Vec<PoolRow> {
    cat.pools
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let sims = totals.pool_sims[i];
            let (cs, ce) = cycle_containing(p.cycle_timezone, p.cycle_day, cat.start);
            let elapsed = days(cat.start - cs);
            let remaining = days(ce - cat.start);
            let (allowance_mb, used_mb, baseline) = match p.kind {
                PoolKind::Pooled {
                    plan_mb,
                    telemetry_share,
                    headroom_share,
                } => {
                    let allowance = sims * plan_mb;
                    // An average cycle is 365.25 / 12 days.
                    let baseline = allowance as f64 * telemetry_share * 12.0 / 365.25;
                    let update_mb = totals.pool_home_update_bytes[i] as f64 * cat.overhead / 1e6;
                    let used = allowance as f64 - baseline * remaining - headroom_share * update_mb;
                    (allowance, used.max(0.0), baseline)
                }
                PoolKind::PayAsYouGo {
                    telemetry_mb_per_sim_day,
                } => {
                    let baseline = sims as f64 * telemetry_mb_per_sim_day;
                    (0, baseline * elapsed, baseline)
                }
                PoolKind::Bundle {
                    plan_mb,
                    telemetry_mb_per_sim_day,
                } => {
                    let baseline = sims as f64 * telemetry_mb_per_sim_day;
                    (sims * plan_mb, baseline * elapsed, baseline)
                }
            };
            PoolRow {
                pool_id: p.id,
                provider: p.provider,
                allowance_mb,
                cycle_day: p.cycle_day,
                cycle_timezone: p.cycle_timezone,
                used_mb: round1(used_mb),
                baseline_mb_per_day: round1(baseline),
                on_cap: p.on_cap,
                // A pool none of whose SIMs is in the fleet still needs a positive cap.
                cap_mb: p
                    .cap_over_allowance
                    .map(|f| ((allowance_mb as f64 * f).round() as u64).max(1)),
            }
        })
        .collect()
}

/// A region's capacity lets it carry its whole update in `nights_at_capacity` nights of its
/// windows; regions marked hard also get a hard bound at three times that.
pub(crate) fn region_rows(cat: &Catalog, totals: &FleetTotals) -> Vec<RegionRow> {
    cat.regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mb = totals.region_update_bytes[i] as f64 * cat.overhead / 1e6;
            let hours =
                window_hours(r.windows.unwrap_or(cat.default_windows)) * cat.nights_at_capacity;
            let cap = ((mb / hours / 5.0).ceil() as u64 * 5).max(5);
            RegionRow {
                region: r.name,
                capacity_mb_per_hour: cap,
                hard_capacity_mb_per_hour: r.hard_capacity.then_some(cap * 3),
            }
        })
        .collect()
}

/// The waves a fleet with `needing` devices not yet on the release can fill. The waves
/// before the last take at most half of those devices between them: each keeps its size
/// when that fits, shrinks to what is left otherwise, and is left out when nothing is
/// left; the last wave takes the rest. Fleets of the size a preset is designed for keep
/// the catalog's waves unchanged.
pub(crate) fn waves_for_fleet(waves: &[WaveSpec], needing: u64) -> Vec<WaveSpec> {
    let Some((last, sized)) = waves.split_last() else {
        return Vec::new();
    };
    let mut left = needing / 2;
    let mut out = Vec::with_capacity(waves.len());
    for w in sized {
        // The reader's rule: a share is round(share × needing), at least 1.
        let want = match w.size {
            WaveSize::Count(n) => n,
            WaveSize::Share(f) => ((f * needing as f64).round() as u64).max(1),
            WaveSize::Rest => {
                out.push(w.clone());
                continue;
            }
        };
        let take = want.min(left);
        if take == 0 {
            continue;
        }
        left -= take;
        let mut w = w.clone();
        if take < want {
            w.size = WaveSize::Count(take);
        }
        out.push(w);
    }
    out.push(last.clone());
    out
}

fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

pub(crate) struct TableNames<'a> {
    pub devices: &'a str,
    pub coverage: Option<&'a str>,
    pub coverage_model: Option<&'a str>,
}

/// The `scenario.toml` text, keys in a fixed order.
pub(crate) fn scenario_toml(cat: &Catalog, command: &str, names: &TableNames<'_>) -> String {
    let mut s = String::new();
    let ts = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // Writing into a String cannot fail.
    let _ = writeln!(
        s,
        "# Generated by `{command}`; regenerate rather than edit."
    );
    let _ = writeln!(s, "name = \"{}\"", cat.name);
    let _ = writeln!(s, "release = \"{}\"", cat.release);
    let _ = writeln!(s, "start = \"{}\"", ts(cat.start));
    let _ = writeln!(s, "deadline = \"{}\"", ts(cat.deadline));
    let _ = writeln!(s, "slot_minutes = 60");
    let _ = writeln!(s, "currency = \"{}\"", cat.currency);
    let _ = writeln!(s, "\n[tables]");
    let _ = writeln!(s, "devices = \"{}\"", names.devices);
    let _ = writeln!(s, "pools = \"pools.csv\"");
    let _ = writeln!(s, "overage_tiers = \"overage_tiers.csv\"");
    let _ = writeln!(s, "zone_rates = \"zone_rates.csv\"");
    let _ = writeln!(s, "artifacts = \"artifacts.csv\"");
    let _ = writeln!(s, "regions = \"regions.csv\"");
    if let Some(c) = names.coverage {
        let _ = writeln!(s, "coverage = \"{c}\"");
    }
    if let Some(c) = names.coverage_model {
        let _ = writeln!(s, "coverage_model = \"{c}\"");
    }
    let _ = writeln!(s, "\n[windows]");
    let _ = writeln!(s, "default = {}", toml_list(cat.default_windows));
    let overrides: Vec<_> = cat
        .regions
        .iter()
        .filter_map(|r| r.windows.map(|w| (r.name, w)))
        .collect();
    if !overrides.is_empty() {
        let _ = writeln!(s, "\n[windows.regions]");
        for (name, w) in overrides {
            let _ = writeln!(s, "\"{name}\" = {}", toml_list(w));
        }
    }
    for w in &cat.waves {
        let _ = writeln!(s, "\n[[waves]]");
        let _ = writeln!(s, "name = \"{}\"", w.name);
        match w.size {
            WaveSize::Count(n) => {
                let _ = writeln!(s, "size = {n}");
            }
            WaveSize::Share(f) => {
                let _ = writeln!(s, "share = {f}");
            }
            WaveSize::Rest => {}
        }
        if let Some(sel) = w.select {
            let _ = writeln!(s, "select = \"{sel}\"");
        }
        if let Some(r) = w.region {
            let _ = writeln!(s, "region = \"{r}\"");
        }
        if let Some(h) = w.soak_hours {
            let _ = writeln!(s, "soak_hours = {h}");
        }
    }
    s.push_str(
        "\n[weights]\ncongestion_per_gb = 2.0\nrisk_per_failed_attempt = 0.05\nlateness_per_device_day = 0.001\n\
         \n[stop_rules]\ncrash_loop_rate = 0.02\nbattery_draw_change = 0.10\nreconnect_minutes = 30\n",
    );
    s
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub(crate) fn pools_csv(rows: &[PoolRow]) -> String {
    let header = [
        "pool_id",
        "provider",
        "allowance_mb",
        "cycle_day",
        "cycle_timezone",
        "used_mb",
        "baseline_mb_per_day",
        "on_cap",
        "cap_mb",
    ];
    let body = rows.iter().map(|r| {
        [
            r.pool_id.to_string(),
            r.provider.to_string(),
            r.allowance_mb.to_string(),
            r.cycle_day.to_string(),
            r.cycle_timezone.to_string(),
            format!("{:.1}", r.used_mb),
            format!("{:.1}", r.baseline_mb_per_day),
            r.on_cap.to_string(),
            opt(r.cap_mb),
        ]
    });
    csv_text(&header, body)
}

pub(crate) fn tiers_csv(cat: &Catalog) -> String {
    let body = cat.pools.iter().flat_map(|p| {
        p.tiers
            .iter()
            .map(|(up_to, price)| [p.id.to_string(), opt(*up_to), price.to_string()])
    });
    csv_text(&["pool_id", "up_to_mb", "price_per_mb"], body)
}

pub(crate) fn zone_rates_csv(cat: &Catalog) -> String {
    let body = cat.pools.iter().flat_map(|p| {
        p.zone_rates
            .iter()
            .map(|(zone, price)| [p.id.to_string(), zone.to_string(), price.to_string()])
    });
    csv_text(&["pool_id", "zone", "price_per_mb"], body)
}

pub(crate) fn artifacts_csv(cat: &Catalog) -> String {
    let body = cat.artifacts.iter().map(|a| {
        [
            a.from.unwrap_or("").to_string(),
            a.to.to_string(),
            a.size_bytes.to_string(),
            a.resumable.to_string(),
        ]
    });
    csv_text(
        &["from_version", "to_version", "size_bytes", "resumable"],
        body,
    )
}

pub(crate) fn regions_csv(rows: &[RegionRow]) -> String {
    let body = rows.iter().map(|r| {
        [
            r.region.to_string(),
            r.capacity_mb_per_hour.to_string(),
            opt(r.hard_capacity_mb_per_hour),
        ]
    });
    csv_text(
        &[
            "region",
            "capacity_mb_per_hour",
            "hard_capacity_mb_per_hour",
        ],
        body,
    )
}
