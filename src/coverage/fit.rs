//! Fitting a coverage model from history: fixed-size accumulators per device × local
//! hour of week (counts plus a log-scale throughput histogram for the median), filled
//! batch by batch so memory grows with the fleet, never with the history's length, then
//! shrunk toward `<region>/<radio>`, region and radio estimates. Pure: it sees typed
//! batches, never a file, a `DataFrame` or the clock.

use super::{HOURS_PER_WEEK, HourStats, Profile, radio_prior};
use crate::diag::{Diagnostic, Diagnostics};
use crate::domain::{Radio, Scenario};
use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use std::collections::HashMap;

/// Pseudo-count of samples behind the parent's `p_online` (shrinkage weight).
pub const K_P: f64 = 4.0;
/// Pseudo-count of online samples with a throughput behind the parent's throughput.
pub const K_TP: f64 = 4.0;
/// Pseudo online hours behind the parent's drop hazard (drops are rare: more weight).
pub const K_DROP_HOURS: f64 = 24.0;

/// Throughput histogram: bins of 1/8 decade from 1 kbps to 1 Gbps (values outside land
/// in the end bins). The median is interpolated in log space inside its bin.
pub const BINS: usize = 48;
/// log10 of the lower edge of the first bin (kbps).
pub const LOG_LO: f64 = 0.0;
/// Width of one bin in decades.
pub const BIN_W: f64 = 6.0 / BINS as f64;

/// A device's sampling interval (hours) is the mean gap between its samples, clamped to
/// this range; a device with a single sample counts as sampled hourly.
pub const MIN_INTERVAL_HOURS: f64 = 1.0 / 60.0;
pub const MAX_INTERVAL_HOURS: f64 = 24.0;
pub const SINGLE_SAMPLE_INTERVAL_HOURS: f64 = 1.0;

/// The most rows of one kind of problem reported one by one; the rest are counted.
pub const MAX_ROWS_PER_PROBLEM: usize = 20;

/// One batch of parsed history rows (bad rows already reported and left out).
#[derive(Debug, Default, Clone)]
pub struct HistoryBatch {
    /// 1-based data row in the file, for messages.
    pub row: Vec<u64>,
    /// Index into `Scenario::devices`.
    pub device: Vec<u32>,
    /// Seconds since the Unix epoch, UTC.
    pub ts: Vec<i64>,
    pub online: Vec<bool>,
    /// kbps; NaN when absent.
    pub throughput: Vec<f32>,
    /// `false` where the row had no `dropped` value.
    pub dropped: Vec<bool>,
    /// Whether any row of the batch had a `dropped` value (true or false).
    pub any_dropped_value: bool,
}

impl HistoryBatch {
    pub fn len(&self) -> usize {
        self.device.len()
    }
    pub fn is_empty(&self) -> bool {
        self.device.is_empty()
    }
    pub fn clear(&mut self) {
        self.row.clear();
        self.device.clear();
        self.ts.clear();
        self.online.clear();
        self.throughput.clear();
        self.dropped.clear();
        self.any_dropped_value = false;
    }
    /// Adds a row whose `dropped` value is known.
    pub fn push(
        &mut self,
        row: u64,
        device: u32,
        ts: i64,
        online: bool,
        throughput: f32,
        dropped: bool,
    ) {
        self.push_row(row, device, ts, online, throughput, Some(dropped));
    }
    /// Adds a row; `dropped` is `None` where the row's cell was empty.
    pub fn push_row(
        &mut self,
        row: u64,
        device: u32,
        ts: i64,
        online: bool,
        throughput: f32,
        dropped: Option<bool>,
    ) {
        self.row.push(row);
        self.device.push(device);
        self.ts.push(ts);
        self.online.push(online);
        self.throughput.push(throughput);
        self.dropped.push(dropped.unwrap_or(false));
        self.any_dropped_value |= dropped.is_some();
    }
}

/// Diagnostics with a cap per kind of problem (file, column, message), so a history of
/// millions of bad rows yields a readable report and bounded memory.
#[derive(Debug, Default)]
pub struct CappedDiags {
    pub diags: Diagnostics,
    counts: HashMap<(String, Option<String>, String), usize>,
}

impl CappedDiags {
    pub fn push(&mut self, d: Diagnostic) {
        let key = (d.file.clone(), d.column.clone(), d.message.clone());
        let n = self.counts.entry(key).or_insert(0);
        *n += 1;
        if *n <= MAX_ROWS_PER_PROBLEM {
            self.diags.push(d);
        }
    }
    /// Appends one line per capped problem saying how many more rows had it.
    pub fn finish(mut self) -> Diagnostics {
        let mut more: Vec<_> = self
            .counts
            .into_iter()
            .filter(|(_, n)| *n > MAX_ROWS_PER_PROBLEM)
            .collect();
        more.sort();
        for ((file, column, message), n) in more {
            let sev_error = self
                .diags
                .0
                .iter()
                .any(|d| d.file == file && d.message == message && d.is_error());
            let text = format!(
                "{message} — and {} more rows like this",
                n - MAX_ROWS_PER_PROBLEM
            );
            let mut d = if sev_error {
                Diagnostic::error(file, text)
            } else {
                Diagnostic::warning(file, text)
            };
            d.column = column;
            self.diags.push(d);
        }
        self.diags
    }
    pub fn has_errors(&self) -> bool {
        self.diags.has_errors()
    }
}

/// Local hour of week from UTC seconds, with the zone's UTC offset cached per UTC hour
/// (an hour holding a clock change is converted exactly, row by row).
#[derive(Debug)]
struct OffsetCache {
    tz: Tz,
    base_hour: i64,
    /// Offset in seconds for each UTC hour from `base_hour`; `MIXED` = a change inside.
    offsets: Vec<i32>,
}

const MIXED: i32 = i32::MIN;

impl OffsetCache {
    fn new(tz: Tz) -> Self {
        OffsetCache {
            tz,
            base_hour: 0,
            offsets: Vec::new(),
        }
    }

    fn offset_at(tz: Tz, secs: i64) -> i32 {
        match chrono::DateTime::from_timestamp(secs, 0) {
            Some(t) => tz
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
            None => 0,
        }
    }

    fn hour_offset(tz: Tz, hour: i64) -> i32 {
        let a = Self::offset_at(tz, hour * 3600);
        let b = Self::offset_at(tz, hour * 3600 + 3599);
        if a == b { a } else { MIXED }
    }

    /// Makes the cache cover `hour`, growing by at least 60 days at a time.
    fn cover(&mut self, hour: i64) {
        const GROW: i64 = 24 * 60;
        if self.offsets.is_empty() {
            self.base_hour = hour - GROW / 2;
            self.offsets = (self.base_hour..self.base_hour + GROW)
                .map(|h| Self::hour_offset(self.tz, h))
                .collect();
            return;
        }
        let end = self.base_hour + self.offsets.len() as i64;
        if hour < self.base_hour {
            let new_base = hour.min(self.base_hour - GROW);
            let mut front: Vec<i32> = (new_base..self.base_hour)
                .map(|h| Self::hour_offset(self.tz, h))
                .collect();
            front.append(&mut self.offsets);
            self.offsets = front;
            self.base_hour = new_base;
        } else if hour >= end {
            let new_end = (hour + 1).max(end + GROW);
            let tz = self.tz;
            self.offsets
                .extend((end..new_end).map(|h| Self::hour_offset(tz, h)));
        }
    }

    fn hour_of_week(&mut self, secs: i64) -> usize {
        let hour = secs.div_euclid(3600);
        let i = hour - self.base_hour;
        let off = if i >= 0 && (i as usize) < self.offsets.len() {
            self.offsets[i as usize]
        } else {
            self.cover(hour);
            self.offsets[(hour - self.base_hour) as usize]
        };
        let off = if off == MIXED {
            Self::offset_at(self.tz, secs)
        } else {
            off
        };
        local_hour_of_week(secs + i64::from(off))
    }
}

/// Hour of week of a local wall-clock time given as seconds since 1970-01-01T00:00
/// local. 1970-01-05 was a Monday (96 hours after the epoch).
fn local_hour_of_week(local_secs: i64) -> usize {
    (local_secs.div_euclid(3600) - 96).rem_euclid(HOURS_PER_WEEK as i64) as usize
}

/// One device's counts in one local hour of the week.
#[derive(Debug, Clone, Copy)]
struct Cell {
    n: u32,
    online: u32,
    drops: u32,
    tp_n: u32,
    hist: [u8; BINS],
}

impl Default for Cell {
    fn default() -> Self {
        Cell {
            n: 0,
            online: 0,
            drops: 0,
            tp_n: 0,
            hist: [0; BINS],
        }
    }
}

/// A group's (radio, region, `<region>/<radio>`) counts in one hour of the week.
#[derive(Debug, Clone)]
struct GroupCell {
    n: u64,
    online: u64,
    drops: u64,
    online_hours: f64,
    tp_n: u64,
    hist: [u32; BINS],
}

impl Default for GroupCell {
    fn default() -> Self {
        GroupCell {
            n: 0,
            online: 0,
            drops: 0,
            online_hours: 0.0,
            tp_n: 0,
            hist: [0; BINS],
        }
    }
}

fn bin_of(kbps: f32) -> usize {
    let l = (f64::from(kbps)).log10();
    (((l - LOG_LO) / BIN_W).floor().max(0.0) as usize).min(BINS - 1)
}

/// The median of a histogram, interpolated in log space inside its bin.
fn hist_median<T: Copy + Into<f64>>(hist: &[T; BINS]) -> Option<f64> {
    let total: f64 = hist.iter().map(|&c| c.into()).sum();
    if total <= 0.0 {
        return None;
    }
    let half = total / 2.0;
    let mut cum = 0.0;
    for (b, &c) in hist.iter().enumerate() {
        let c: f64 = c.into();
        if c > 0.0 && cum + c >= half {
            let frac = (half - cum) / c;
            return Some(10f64.powf(LOG_LO + (b as f64 + frac) * BIN_W));
        }
        cum += c;
    }
    None
}

#[derive(Debug)]
struct DeviceState {
    zone: u16,
    min_ts: i64,
    max_ts: i64,
    last_ts: i64,
    n: u64,
    /// The last few timestamps, to catch duplicates in slightly unordered history.
    recent: [i64; 4],
}

/// Accumulates history batch by batch; [`Fitter::finish`] turns it into profiles.
pub struct Fitter<'s> {
    scenario: &'s Scenario,
    file: String,
    zones: Vec<OffsetCache>,
    devices: Vec<DeviceState>,
    cells: Vec<Option<Box<[Cell]>>>,
    /// Group index of each device: (radio, region, region/radio).
    groups: Vec<[usize; 3]>,
    group_keys: Vec<String>,
    group_cells: Vec<Box<[GroupCell]>>,
    has_dropped: bool,
    /// Whether any row added had a `dropped` value.
    saw_dropped: bool,
    rows: u64,
    out_of_order: u64,
}

/// What a fit produced: one profile per key, sorted by key, and counts for the report.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub profiles: Vec<(String, Profile)>,
    pub rows: u64,
    pub devices_with_history: usize,
    pub devices_without_history: Vec<String>,
}

impl<'s> Fitter<'s> {
    /// `file` names the history in messages; `has_dropped` says whether the file has a
    /// `dropped` column. Without it, or when no row has a `dropped` value, drop hazards
    /// come from the parents (the generated SQL of [`super::sql`] decides the same way).
    pub fn new(scenario: &'s Scenario, file: &str, has_dropped: bool) -> Self {
        let mut zone_ix: HashMap<Tz, u16> = HashMap::new();
        let mut zones = Vec::new();
        let mut group_ix: HashMap<String, usize> = HashMap::new();
        let mut group_keys = Vec::new();
        let mut group = |k: String| -> usize {
            *group_ix.entry(k.clone()).or_insert_with(|| {
                group_keys.push(k);
                group_keys.len() - 1
            })
        };
        for r in Radio::ALL {
            group(r.as_str().to_string());
        }
        let mut devices = Vec::with_capacity(scenario.devices.len());
        let mut groups = Vec::with_capacity(scenario.devices.len());
        for d in &scenario.devices {
            let z = *zone_ix.entry(d.tz).or_insert_with(|| {
                zones.push(OffsetCache::new(d.tz));
                (zones.len() - 1) as u16
            });
            devices.push(DeviceState {
                zone: z,
                min_ts: i64::MAX,
                max_ts: i64::MIN,
                last_ts: i64::MIN,
                n: 0,
                recent: [i64::MIN; 4],
            });
            let region = &scenario.region(d.region).name;
            let g = [
                group(d.radio.as_str().to_string()),
                group(region.clone()),
                group(super::CoverageModel::region_radio_key(region, d.radio)),
            ];
            groups.push(g);
        }
        let group_cells = group_keys
            .iter()
            .map(|_| vec![GroupCell::default(); HOURS_PER_WEEK].into_boxed_slice())
            .collect();
        Fitter {
            scenario,
            file: file.to_string(),
            zones,
            cells: (0..devices.len()).map(|_| None).collect(),
            devices,
            groups,
            group_keys,
            group_cells,
            has_dropped,
            saw_dropped: false,
            rows: 0,
            out_of_order: 0,
        }
    }

    /// Adds one batch. Duplicate (device, ts) rows are reported and skipped.
    pub fn add(&mut self, b: &HistoryBatch, diags: &mut CappedDiags) {
        self.saw_dropped |= b.any_dropped_value;
        for i in 0..b.len() {
            let d = b.device[i] as usize;
            let ts = b.ts[i];
            let st = &mut self.devices[d];
            if ts <= st.last_ts {
                if st.recent.contains(&ts) {
                    diags.push(
                        Diagnostic::error(&self.file, "duplicate (device_id, ts): this device already has a sample at this instant")
                            .row(b.row[i] as usize)
                            .column("ts")
                            .value(format!("{} {}", self.scenario.devices[d].id, fmt_ts(ts))),
                    );
                    continue;
                }
                self.out_of_order += 1;
            }
            st.recent.rotate_right(1);
            st.recent[0] = ts;
            st.last_ts = st.last_ts.max(ts);
            st.min_ts = st.min_ts.min(ts);
            st.max_ts = st.max_ts.max(ts);
            st.n += 1;
            self.rows += 1;
            let how = self.zones[st.zone as usize].hour_of_week(ts);
            let cells = self.cells[d]
                .get_or_insert_with(|| vec![Cell::default(); HOURS_PER_WEEK].into_boxed_slice());
            let c = &mut cells[how];
            let online = b.online[i];
            let tp = b.throughput[i];
            let dropped = b.dropped[i];
            c.n = c.n.saturating_add(1);
            let tp_bin = (online && tp.is_finite() && tp > 0.0).then(|| bin_of(tp));
            if online {
                c.online = c.online.saturating_add(1);
            }
            if dropped {
                c.drops = c.drops.saturating_add(1);
            }
            if let Some(bin) = tp_bin {
                c.tp_n = c.tp_n.saturating_add(1);
                if c.hist[bin] == u8::MAX {
                    for v in c.hist.iter_mut() {
                        *v = v.div_ceil(2);
                    }
                }
                c.hist[bin] += 1;
            }
            for &g in &self.groups[d] {
                let gc = &mut self.group_cells[g][how];
                gc.n += 1;
                gc.online += u64::from(online);
                gc.drops += u64::from(dropped);
                if let Some(bin) = tp_bin {
                    gc.tp_n += 1;
                    gc.hist[bin] = gc.hist[bin].saturating_add(1);
                }
            }
        }
    }

    /// Shrinks every level toward its parent and returns the profiles, plus warnings
    /// (devices without history, unordered history) in `diags`.
    pub fn finish(mut self, diags: &mut CappedDiags) -> Fitted {
        let intervals = self.intervals();
        self.add_online_hours(&intervals);
        let has_dropped = self.has_dropped && self.saw_dropped;
        let mut out: Vec<(String, Profile)> = Vec::new();
        let radio_prof = self.radio_profiles(has_dropped, &mut out);
        let regions = Regions::of(self.scenario);
        self.region_profiles(&regions, &radio_prof, has_dropped, &mut out);
        let rr_prof = self.region_radio_profiles(&regions, &radio_prof, has_dropped, &mut out);
        let without = self.device_profiles(&intervals, &rr_prof, has_dropped, &mut out);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        self.warn(&without, diags);
        Fitted {
            profiles: out,
            rows: self.rows,
            devices_with_history: self.scenario.devices.len() - without.len(),
            devices_without_history: without,
        }
    }

    /// Each device's sampling interval in hours: the mean gap between its samples,
    /// clamped to [1 minute, 1 day] (what an online sample counts as online hours).
    fn intervals(&self) -> Vec<f64> {
        self.devices
            .iter()
            .map(|s| {
                if s.n > 1 {
                    ((s.max_ts - s.min_ts) as f64 / (s.n - 1) as f64 / 3600.0)
                        .clamp(MIN_INTERVAL_HOURS, MAX_INTERVAL_HOURS)
                } else {
                    SINGLE_SAMPLE_INTERVAL_HOURS
                }
            })
            .collect()
    }

    /// Adds every device's online hours to its groups' cells.
    fn add_online_hours(&mut self, intervals: &[f64]) {
        for (d, cells) in self.cells.iter().enumerate() {
            let Some(cells) = cells else { continue };
            for &g in &self.groups[d] {
                for (h, c) in cells.iter().enumerate() {
                    self.group_cells[g][h].online_hours += f64::from(c.online) * intervals[d];
                }
            }
        }
    }

    /// A group's profile shrunk toward `parent`.
    fn group_profile(&self, g: usize, parent: &Profile, has_dropped: bool) -> Profile {
        let gc = &self.group_cells[g];
        std::array::from_fn(|h| {
            let raw = &gc[h];
            shrink(
                raw.n as f64,
                raw.online as f64,
                raw.tp_n as f64,
                hist_median(&raw.hist),
                raw.drops as f64,
                raw.online_hours,
                has_dropped,
                &parent[h],
            )
        })
    }

    /// Radios: toward the built-in priors.
    fn radio_profiles(
        &self,
        has_dropped: bool,
        out: &mut Vec<(String, Profile)>,
    ) -> HashMap<Radio, Profile> {
        let mut radio_prof = HashMap::new();
        for (ri, r) in Radio::ALL.into_iter().enumerate() {
            let p = self.group_profile(ri, &radio_prior(r), has_dropped);
            radio_prof.insert(r, p);
            out.push((r.as_str().to_string(), p));
        }
        radio_prof
    }

    fn group_index(&self, key: &str) -> Option<usize> {
        // The last of equal keys, as a map built from them in order would keep.
        self.group_keys.iter().rposition(|k| k == key)
    }

    /// Regions: toward the mix of their devices' radios.
    fn region_profiles(
        &self,
        regions: &Regions,
        radio_prof: &HashMap<Radio, Profile>,
        has_dropped: bool,
        out: &mut Vec<(String, Profile)>,
    ) {
        for name in &regions.names {
            let w = regions.mix[name.as_str()];
            let total: f64 = w.iter().sum();
            let parent: Profile = std::array::from_fn(|h| {
                let mut p = 0.0;
                let mut ltp = 0.0;
                let mut dr = 0.0;
                for r in Radio::ALL {
                    let s = radio_prof[&r][h];
                    let f = w[r as usize] / total;
                    p += f * s.p_online;
                    ltp += f * s.throughput_kbps.ln();
                    dr += f * s.drop_rate_per_hour;
                }
                HourStats {
                    p_online: p,
                    throughput_kbps: ltp.exp(),
                    drop_rate_per_hour: dr,
                    samples: 0,
                }
            });
            if let Some(g) = self.group_index(name) {
                out.push((name.clone(), self.group_profile(g, &parent, has_dropped)));
            }
        }
    }

    /// `<region>/<radio>`: toward the radio (the radio decides reach and speed).
    fn region_radio_profiles(
        &self,
        regions: &Regions,
        radio_prof: &HashMap<Radio, Profile>,
        has_dropped: bool,
        out: &mut Vec<(String, Profile)>,
    ) -> HashMap<String, Profile> {
        let mut rr_prof = HashMap::new();
        for name in &regions.names {
            for r in Radio::ALL {
                if !regions.radios[name.as_str()][r as usize] {
                    continue;
                }
                let key = super::CoverageModel::region_radio_key(name, r);
                let Some(g) = self.group_index(&key) else {
                    continue;
                };
                let p = self.group_profile(g, &radio_prof[&r], has_dropped);
                rr_prof.insert(key.clone(), p);
                out.push((key, p));
            }
        }
        rr_prof
    }

    /// Devices: toward their `<region>/<radio>`. Returns the devices without history.
    fn device_profiles(
        &self,
        intervals: &[f64],
        rr_prof: &HashMap<String, Profile>,
        has_dropped: bool,
        out: &mut Vec<(String, Profile)>,
    ) -> Vec<String> {
        let mut without = Vec::new();
        for (d, dev) in self.scenario.devices.iter().enumerate() {
            let Some(cells) = &self.cells[d] else {
                without.push(dev.id.clone());
                continue;
            };
            let region = &self.scenario.region(dev.region).name;
            let parent = &rr_prof[&super::CoverageModel::region_radio_key(region, dev.radio)];
            let iv = intervals[d];
            let p: Profile = std::array::from_fn(|h| {
                let c = &cells[h];
                shrink(
                    f64::from(c.n),
                    f64::from(c.online),
                    f64::from(c.tp_n),
                    hist_median(&c.hist),
                    f64::from(c.drops),
                    f64::from(c.online) * iv,
                    has_dropped,
                    &parent[h],
                )
            });
            out.push((dev.id.clone(), p));
        }
        without
    }

    /// Warnings: devices without history, rows out of time order.
    fn warn(&self, without: &[String], diags: &mut CappedDiags) {
        if !without.is_empty() {
            let mut shown: Vec<&str> = without.iter().take(5).map(String::as_str).collect();
            if without.len() > 5 {
                shown.push("…");
            }
            diags.push(
                Diagnostic::warning(
                    &self.file,
                    format!(
                        "{} devices have no coverage history: {}",
                        without.len(),
                        shown.join(", ")
                    ),
                )
                .column("device_id")
                .hint("their region/radio estimate is used instead"),
            );
        }
        if self.out_of_order > 0 {
            diags.push(
                Diagnostic::warning(
                    &self.file,
                    format!("{} rows are not in time order for their device; duplicate timestamps are only detected among a device's latest samples", self.out_of_order),
                )
                .column("ts")
                .hint("sort the history by device_id, ts for a complete duplicate check"),
            );
        }
    }
}

/// The scenario's regions in name order, with the count of their devices per radio and
/// which radios they have.
struct Regions {
    names: Vec<String>,
    mix: HashMap<String, [f64; 4]>,
    radios: HashMap<String, [bool; 4]>,
}

impl Regions {
    fn of(s: &Scenario) -> Regions {
        let mut mix: HashMap<String, [f64; 4]> = HashMap::new();
        let mut radios: HashMap<String, [bool; 4]> = HashMap::new();
        for d in &s.devices {
            let name = &s.region(d.region).name;
            mix.entry(name.clone()).or_default()[d.radio as usize] += 1.0;
            radios.entry(name.clone()).or_default()[d.radio as usize] = true;
        }
        let mut names: Vec<String> = mix.keys().cloned().collect();
        names.sort();
        Regions { names, mix, radios }
    }
}

/// The shrinkage rule (see docs/coverage.md): each quantity is a weighted mean of the
/// key's own estimate and its parent's, the parent counting as `K_*` observations.
#[allow(clippy::too_many_arguments)]
fn shrink(
    n: f64,
    online: f64,
    tp_n: f64,
    median: Option<f64>,
    drops: f64,
    online_hours: f64,
    has_dropped: bool,
    parent: &HourStats,
) -> HourStats {
    let p_online = (online + K_P * parent.p_online) / (n + K_P);
    let throughput_kbps = match median {
        Some(m) if tp_n > 0.0 => {
            ((tp_n * m.ln() + K_TP * parent.throughput_kbps.ln()) / (tp_n + K_TP)).exp()
        }
        _ => parent.throughput_kbps,
    };
    let drop_rate_per_hour = if has_dropped {
        (drops + K_DROP_HOURS * parent.drop_rate_per_hour) / (online_hours + K_DROP_HOURS)
    } else {
        parent.drop_rate_per_hour
    };
    HourStats {
        p_online,
        throughput_kbps,
        drop_rate_per_hour,
        samples: n.min(f64::from(u32::MAX)) as u32,
    }
}

fn fmt_ts(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached conversion agrees with chrono-tz every 15 minutes for two years in
    /// zones with DST both ways, +05:45, +10:30/+09:30 and a 30-minute DST shift that
    /// happens in the middle of a UTC hour (Lord Howe).
    #[test]
    fn cached_hour_of_week_matches_chrono_tz() {
        let start = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .timestamp();
        for zone in [
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kathmandu",
            "Australia/Adelaide",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "UTC",
        ] {
            let tz: Tz = zone.parse().unwrap();
            let mut cache = OffsetCache::new(tz);
            // Backwards first, so the cache also grows toward the past.
            for step in (0..2 * 365 * 96).rev() {
                let secs = start + step * 900 + 7;
                let t = chrono::DateTime::from_timestamp(secs, 0).unwrap();
                assert_eq!(
                    cache.hour_of_week(secs),
                    super::super::hour_of_week(tz, t),
                    "{zone} at {t}"
                );
            }
        }
    }

    fn check_median(values: &[f32], expected: f64, tol: f64) {
        let mut h = [0u32; BINS];
        for &v in values {
            h[bin_of(v)] += 1;
        }
        let m = hist_median(&h).unwrap();
        assert!(
            (m / expected - 1.0).abs() <= tol,
            "median {m} vs {expected}"
        );
    }

    #[test]
    fn histogram_median_is_close() {
        check_median(&[1000.0; 7], 1000.0, 0.16);
        check_median(&[10.0, 20.0, 5000.0], 20.0, 0.16);
        let spread: Vec<f32> = (1..=1001).map(|i| 100.0 * 1.001f32.powi(i)).collect();
        check_median(&spread, 100.0 * 1.001f64.powi(501), 0.03);
        assert_eq!(hist_median(&[0u32; BINS]), None);
        assert_eq!(bin_of(0.001), 0);
        assert_eq!(bin_of(1e12), BINS - 1);
    }

    #[test]
    fn shrinkage_weighs_data_against_the_parent() {
        let parent = HourStats {
            p_online: 0.5,
            throughput_kbps: 100.0,
            drop_rate_per_hour: 0.1,
            samples: 0,
        };
        let none = shrink(0.0, 0.0, 0.0, None, 0.0, 0.0, true, &parent);
        assert_eq!(
            (none.p_online, none.throughput_kbps, none.samples),
            (0.5, 100.0, 0)
        );
        assert!((none.drop_rate_per_hour - 0.1).abs() < 1e-12);
        let s = shrink(4.0, 4.0, 4.0, Some(10_000.0), 0.0, 4.0, true, &parent);
        assert!((s.p_online - 0.75).abs() < 1e-12);
        assert!((s.throughput_kbps - 1000.0).abs() < 1e-6);
        assert!((s.drop_rate_per_hour - 2.4 / 28.0).abs() < 1e-12);
        let no_drops_column = shrink(4.0, 4.0, 4.0, Some(10_000.0), 3.0, 4.0, false, &parent);
        assert_eq!(no_drops_column.drop_rate_per_hour, 0.1);
    }

    #[test]
    fn capped_diagnostics_count_the_rest() {
        let mut c = CappedDiags::default();
        for r in 0..25 {
            c.push(Diagnostic::error("h.csv", "bad").row(r + 1).column("ts"));
        }
        let d = c.finish();
        assert_eq!(d.0.len(), MAX_ROWS_PER_PROBLEM + 1);
        assert!(d.0[MAX_ROWS_PER_PROBLEM].message.contains("5 more rows"));
        assert!(d.0[MAX_ROWS_PER_PROBLEM].is_error());
    }
}
