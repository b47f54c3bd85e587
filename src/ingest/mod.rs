//! Reading a scenario folder (`scenario.toml` + CSV/Parquet tables, as the contract says)
//! into a validated [`Scenario`]. Every problem found is reported, located by file, row,
//! column and value, before anything is solved. The only module that touches polars.

pub mod coverage;
pub mod export;
pub mod parquet_guard;
pub mod plan_csv;
pub mod plan_folder;
pub mod progress;
pub mod table;
pub mod toml_doc;

use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::domain::*;
use crate::payload::VersionGraph;
use crate::units::{Bytes, Megabytes, PricePerMb};
use crate::windows::WindowSet;
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use table::{Format, Table, V, read_table};
use toml_doc::{RawWave, Settings};

/// Where the planner's coverage knowledge comes from, as the scenario names it. The
/// files are read by the coverage module, not here.
#[derive(Debug, Clone, PartialEq)]
pub enum CoverageInput {
    /// A fitted `coverage_model` table.
    Model { path: PathBuf, file: String },
    /// Raw `coverage` history, to be fitted on the fly.
    History { path: PathBuf, file: String },
    /// Neither: documented priors per radio.
    Priors,
}

/// A scenario that passed validation, plus what is needed to load its coverage and the
/// warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub coverage: CoverageInput,
    pub warnings: Diagnostics,
    /// The scenario folder (for front ends; the core never sees it).
    pub dir: PathBuf,
}

/// Reads and validates the scenario in `dir`. On any error, every diagnostic found
/// (errors and warnings) is returned.
pub fn read_scenario(dir: &Path) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::default();
    let toml_path = dir.join(toml_doc::FILE);
    let text = match std::fs::read_to_string(&toml_path) {
        Ok(t) => t,
        Err(e) => {
            let msg = if toml_path.exists() {
                format!("cannot be read: {e}")
            } else {
                "file not found".to_string()
            };
            diags.push(
                Diagnostic::error(toml_doc::FILE, msg)
                    .value(toml_path.display().to_string())
                    .hint("a scenario is a folder holding scenario.toml and its tables"),
            );
            return Err(diags);
        }
    };
    let Some(settings) = toml_doc::parse_settings(&text, &mut diags) else {
        return Err(diags);
    };
    let scenario = build(dir, &settings, &mut diags);
    let coverage = coverage_input(dir, &settings, &mut diags);
    match scenario {
        Some(s) if !diags.has_errors() => Ok(Loaded {
            scenario: s,
            coverage,
            warnings: diags,
            dir: dir.to_path_buf(),
        }),
        _ => Err(diags),
    }
}

/// The `name` in a scenario folder's `scenario.toml`, read without the tables (for
/// checks made before the real work); `None` when it cannot be read.
pub fn scenario_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(toml_doc::FILE)).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    doc.get("name")?.as_str().map(String::from)
}

fn coverage_input(dir: &Path, s: &Settings, diags: &mut Diagnostics) -> CoverageInput {
    let model = s
        .tables
        .coverage_model
        .as_ref()
        .map(|f| CoverageInput::Model {
            path: dir.join(f),
            file: f.clone(),
        });
    let history = s.tables.coverage.as_ref().map(|f| CoverageInput::History {
        path: dir.join(f),
        file: f.clone(),
    });
    for input in model.iter().chain(history.iter()) {
        let (CoverageInput::Model { path, file } | CoverageInput::History { path, file }) = input
        else {
            continue;
        };
        if Format::of(path).is_none() {
            diags.push(
                Diagnostic::error(file.clone(), "unknown table format")
                    .hint("name the file *.csv or *.parquet"),
            );
        } else if !path.is_file() {
            diags.push(
                Diagnostic::error(file.clone(), "file not found").value(path.display().to_string()),
            );
        }
    }
    let pick = match s.coverage_source.as_deref() {
        Some("priors") => Some(CoverageInput::Priors),
        Some("model") => {
            if model.is_none() {
                diags.push(
                    Diagnostic::error(
                        toml_doc::FILE,
                        "coverage_source is \"model\" but [tables] names no coverage_model",
                    )
                    .column("coverage_source"),
                );
            }
            model.clone()
        }
        Some("history") => {
            if history.is_none() {
                diags.push(
                    Diagnostic::error(
                        toml_doc::FILE,
                        "coverage_source is \"history\" but [tables] names no coverage",
                    )
                    .column("coverage_source"),
                );
            }
            history.clone()
        }
        _ => None,
    };
    pick.or(model).or(history).unwrap_or(CoverageInput::Priors)
}

fn load_reporting(dir: &Path, file: &Option<String>, diags: &mut Diagnostics) -> Option<Table> {
    let f = file.as_ref()?;
    match read_table(&dir.join(f), f) {
        Ok(t) => Some(t),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// A cache of IANA zone lookups (a million devices share a few dozen zones).
#[derive(Default)]
struct Zones(HashMap<String, Option<Tz>>);

impl Zones {
    fn get(&mut self, name: &str) -> Option<Tz> {
        if let Some(z) = self.0.get(name) {
            return *z;
        }
        let z = name.parse::<Tz>().ok();
        self.0.insert(name.to_string(), z);
        z
    }
}

fn tz_error(file: &str, row: usize, col: &str, value: &str) -> Diagnostic {
    let mut d = Diagnostic::error(file, "not an IANA time zone")
        .row(row)
        .column(col)
        .value(value);
    let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
    if let Some(c) = closest(value, names) {
        d = d.hint(format!("did you mean {c:?}?"));
    } else {
        d = d.hint("use a name like \"Europe/Berlin\" or \"America/New_York\", not an abbreviation or offset");
    }
    d
}

fn unknown_ref(
    file: &str,
    row: usize,
    col: &str,
    value: &str,
    what: &str,
    known: &[&str],
) -> Diagnostic {
    let mut d = Diagnostic::error(file, format!("unknown {what}"))
        .row(row)
        .column(col)
        .value(value);
    if let Some(c) = closest(value, known.iter().copied()) {
        d = d.hint(format!("did you mean {c:?}?"));
    } else {
        let mut list: Vec<&str> = known.to_vec();
        list.truncate(12);
        d = d.hint(format!("known: {}", list.join(", ")));
    }
    d
}

/// Resolves the `device_id`s of a per-device table (progress, a written plan) against
/// the scenario, reporting ids it does not know and ids listed twice. Unknown ids are
/// one cause (usually a table of another scenario): the first is reported and the rest
/// counted in its note by [`DeviceLookup::finish`].
pub(crate) struct DeviceLookup<'a> {
    scenario: &'a str,
    total: usize,
    index: HashMap<&'a str, usize>,
    seen: HashMap<usize, usize>,
    /// Where the first unknown id's diagnostic is, and how many more there were.
    first_unknown: Option<usize>,
    more_unknown: usize,
}

impl<'a> DeviceLookup<'a> {
    pub(crate) fn new(s: &'a Scenario) -> Self {
        let index = s
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), i))
            .collect();
        DeviceLookup {
            scenario: &s.name,
            total: s.devices.len(),
            index,
            seen: HashMap::new(),
            first_unknown: None,
            more_unknown: 0,
        }
    }

    /// Adds the count of further unknown ids to the first one's diagnostic.
    pub(crate) fn finish(self, diags: &mut Diagnostics) {
        if let (Some(i), n) = (self.first_unknown, self.more_unknown)
            && n > 0
            && let Some(d) = diags.0.get_mut(i)
        {
            d.note = Some(format!(
                "…and {} further down {} device_ids that scenario {} ({}) does not have: was this table made for another scenario?",
                crate::diag::count(n, "row", "rows"),
                if n == 1 { "names" } else { "name" },
                self.scenario,
                crate::diag::count(self.total, "device", "devices"),
            ));
        }
    }

    /// The device's index, or `None` after reporting why not.
    pub(crate) fn resolve(
        &mut self,
        file: &str,
        row: usize,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<usize> {
        let Some(&dev) = self.index.get(id) else {
            if self.first_unknown.is_some() {
                self.more_unknown += 1;
                return None;
            }
            self.first_unknown = Some(diags.0.len());
            diags.push(
                Diagnostic::error(file, "unknown device_id: not in the scenario's devices")
                    .row(row)
                    .column("device_id")
                    .value(id),
            );
            return None;
        };
        if let Some(first) = self.seen.insert(dev, row) {
            diags.push(
                Diagnostic::error(file, format!("duplicate device_id (first on row {first})"))
                    .row(row)
                    .column("device_id")
                    .value(id),
            );
            return None;
        }
        Some(dev)
    }
}

/// What a folded reference is, in the singular and the plural.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Noun(&'static str, &'static str);

const DEVICES: Noun = Noun("device", "devices");
const TIERS: Noun = Noun("overage tier", "overage tiers");
const ZONE_RATES: Noun = Noun("zone rate", "zone rates");
const WAVES: Noun = Noun("wave", "waves");
const WINDOW_LISTS: Noun = Noun("[windows.regions] entry", "[windows.regions] entries");

/// One cause, one error. A row already reported as invalid (a pool with a bad
/// `cycle_timezone`, a region with a bad capacity) is remembered by the name other rows
/// use for it; references to it are then not reported again ("unknown pool" for each of
/// its 1,175 devices) but counted, and the count is added to the row's error as a note.
#[derive(Default)]
struct Folds {
    /// (kind, name) → the rejected row (file, 1-based data row) and how the note names it.
    rejected: HashMap<(&'static str, String), (String, usize, String)>,
    /// (file, row) → how the note names the row, what was not checked, free-text notes.
    skipped: BTreeMap<(String, usize), Skipped>,
}

#[derive(Default)]
struct Skipped {
    subject: String,
    counts: Vec<(Noun, usize)>,
    notes: Vec<String>,
}

impl Folds {
    /// Remembers that the row defining `name` was rejected (the first such row counts).
    fn reject(&mut self, kind: &'static str, name: &str, file: &str, row: usize, subject: String) {
        self.rejected
            .entry((kind, name.to_string()))
            .or_insert_with(|| (file.to_string(), row, subject));
    }

    /// Counts one reference to a rejected name; false when `name` was not rejected (the
    /// caller then reports the reference as unknown).
    fn skip(&mut self, kind: &'static str, name: &str, noun: Noun) -> bool {
        let Some((file, row, subject)) = self.rejected.get(&(kind, name.to_string())) else {
            return false;
        };
        let entry = self.skipped.entry((file.clone(), *row)).or_default();
        entry.subject.clone_from(subject);
        match entry.counts.iter_mut().find(|(n, _)| *n == noun) {
            Some((_, c)) => *c += 1,
            None => entry.counts.push((noun, 1)),
        }
        true
    }

    /// Adds a sentence to the note of a rejected row.
    fn note(&mut self, file: &str, row: usize, text: String) {
        self.skipped
            .entry((file.to_string(), row))
            .or_default()
            .notes
            .push(text);
    }

    /// Writes each note into the first error of its row (or of its file, for a column
    /// whose type is wrong as a whole).
    fn attach(self, diags: &mut Diagnostics) {
        for ((file, row), sk) in self.skipped {
            let mut parts = Vec::new();
            if !sk.counts.is_empty() {
                // Devices first: they are what the user counts.
                let rank = [DEVICES, WAVES, TIERS, ZONE_RATES, WINDOW_LISTS];
                let mut counts = sk.counts;
                counts.sort_by_key(|(n, _)| rank.iter().position(|r| r == n));
                let what: Vec<String> = counts
                    .iter()
                    .map(|(n, c)| crate::diag::count(*c, n.0, n.1))
                    .collect();
                let total: usize = counts.iter().map(|(_, c)| c).sum();
                let verb = if total == 1 { "is" } else { "are" };
                parts.push(format!(
                    "…and {} of {} {verb} not checked further",
                    what.join(", "),
                    sk.subject
                ));
            }
            parts.extend(sk.notes);
            let text = parts.join("; ");
            let target = diags
                .0
                .iter()
                .position(|d| d.is_error() && d.file == file && d.row == Some(row))
                .or_else(|| {
                    diags
                        .0
                        .iter()
                        .position(|d| d.is_error() && d.file == file && d.row.is_none())
                });
            if let Some(i) = target {
                let d = &mut diags.0[i];
                d.note = Some(match d.note.take() {
                    Some(n) => format!("{n}; {text}"),
                    None => text,
                });
            }
        }
    }
}

/// References from one table to another by name (a device's pool, a tier's pool).
/// Unknown names are reported only when the referenced table itself could be read (one
/// missing table does not bury the user in follow-on errors), and names whose own row
/// was rejected are folded into that row's error.
struct Refs<'a> {
    ix: &'a HashMap<String, u32>,
    names: &'a [&'a str],
    what: &'static str,
    report: bool,
}

impl Refs<'_> {
    #[allow(clippy::too_many_arguments)]
    fn get(
        &self,
        t: &Table,
        row0: usize,
        col: &str,
        name: &str,
        noun: Noun,
        folds: &mut Folds,
        diags: &mut Diagnostics,
    ) -> Option<u32> {
        if let Some(&i) = self.ix.get(name) {
            return Some(i);
        }
        if !folds.skip(self.what, name, noun) && self.report {
            diags.push(unknown_ref(
                &t.file,
                row0 + 1,
                col,
                name,
                self.what,
                self.names,
            ));
        }
        None
    }
}

/// Gives `name` the next index of its table; a name seen before is reported.
fn register(
    ix: &mut HashMap<String, u32>,
    name: &str,
    t: &Table,
    row0: usize,
    col: &str,
    diags: &mut Diagnostics,
) -> bool {
    if ix.contains_key(name) {
        diags.push(
            Diagnostic::error(&t.file, format!("duplicate {col}"))
                .row(row0 + 1)
                .column(col)
                .value(name),
        );
        return false;
    }
    let next = ix.len() as u32;
    ix.insert(name.to_string(), next);
    true
}

/// Required cell: reports an empty one.
fn need<T>(t: &Table, row0: usize, col: &str, v: V<T>, diags: &mut Diagnostics) -> Option<T> {
    match v {
        V::Val(x) => Some(x),
        V::Null => {
            diags.push(
                Diagnostic::error(&t.file, "required value is empty")
                    .row(row0 + 1)
                    .column(col),
            );
            None
        }
        V::Bad => None,
    }
}

fn positive(
    t: &Table,
    row0: usize,
    col: &str,
    v: f64,
    diags: &mut Diagnostics,
    allow_zero: bool,
) -> Option<f64> {
    if v < 0.0 || (!allow_zero && v == 0.0) {
        let what = if allow_zero {
            "must not be negative"
        } else {
            "must be greater than zero"
        };
        diags.push(
            Diagnostic::error(&t.file, what)
                .row(row0 + 1)
                .column(col)
                .value(format_num(v)),
        );
        return None;
    }
    Some(v)
}

fn format_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn build(dir: &Path, s: &Settings, diags: &mut Diagnostics) -> Option<Scenario> {
    let mut zones = Zones::default();
    let mut folds = Folds::default();
    let scenario = build_folding(dir, s, &mut zones, &mut folds, diags);
    folds.attach(diags);
    scenario
}

fn build_folding(
    dir: &Path,
    s: &Settings,
    zones: &mut Zones,
    folds: &mut Folds,
    diags: &mut Diagnostics,
) -> Option<Scenario> {
    // Regions.
    let regions_t = load_reporting(dir, &s.tables.regions, diags);
    let mut regions: Vec<Region> = Vec::new();
    let mut region_ix: HashMap<String, u32> = HashMap::new();
    // Whether the table could be used at all: references into it are checked only then.
    let mut regions_ok = false;
    if let Some(t) = &regions_t
        && t.check_shape(
            &["region", "capacity_mb_per_hour"],
            &["hard_capacity_mb_per_hour"],
            diags,
        )
    {
        regions_ok = true;
        let names = t.texts("region", diags);
        let cap = t.numbers("capacity_mb_per_hour", diags);
        let hard = t.numbers("hard_capacity_mb_per_hour", diags);
        for i in 0..t.height() {
            let name = need(t, i, "region", names[i].clone(), diags);
            let c = need(t, i, "capacity_mb_per_hour", cap[i], diags)
                .and_then(|c| positive(t, i, "capacity_mb_per_hour", c, diags, false));
            let h = hard[i]
                .ok()
                .and_then(|h| positive(t, i, "hard_capacity_mb_per_hour", h, diags, false));
            if let (Some(h), Some(c)) = (h, c)
                && h < c
            {
                diags.push(
                    Diagnostic::warning(&t.file, "hard capacity is below the comfortable capacity")
                        .row(i + 1)
                        .column("hard_capacity_mb_per_hour")
                        .value(format_num(h)),
                );
            }
            let (Some(name), Some(c)) = (name.clone(), c) else {
                if let Some(name) = &name {
                    folds.reject("region", name, &t.file, i + 1, format!("region {name}"));
                }
                continue;
            };
            if !register(&mut region_ix, &name, t, i, "region", diags) {
                continue;
            }
            regions.push(Region {
                name,
                capacity_mb_per_hour: c,
                hard_capacity_mb_per_hour: h,
                windows: None,
            });
        }
    }
    let region_name_list: Vec<String> = regions.iter().map(|r| r.name.clone()).collect();
    let region_names: Vec<&str> = region_name_list.iter().map(String::as_str).collect();
    let mut region_windows: Vec<(usize, WindowSet)> = Vec::new();
    for (name, ws) in &s.region_windows {
        match region_ix.get(name) {
            Some(&i) => region_windows.push((i as usize, ws.clone())),
            None if folds.skip("region", name, WINDOW_LISTS) => {}
            None if regions_ok => diags.push(
                unknown_ref(
                    toml_doc::FILE,
                    0,
                    &format!("windows.regions.{name}"),
                    name,
                    "region",
                    &region_names,
                )
                .row(0),
            ),
            None => {}
        }
    }
    for d in diags.0.iter_mut() {
        if d.file == toml_doc::FILE && d.row == Some(0) {
            d.row = None;
        }
    }
    for (i, ws) in region_windows {
        regions[i].windows = Some(ws);
    }

    // Pools.
    let pools_t = load_reporting(dir, &s.tables.pools, diags);
    let mut pools: Vec<Pool> = Vec::new();
    let mut pool_ix: HashMap<String, u32> = HashMap::new();
    let mut pools_ok = false;
    // Pools whose cap_mb was reported bad: whether they need a tier is not checked.
    let mut cap_bad: Vec<String> = Vec::new();
    if let Some(t) = &pools_t
        && t.check_shape(
            &[
                "pool_id",
                "provider",
                "allowance_mb",
                "cycle_day",
                "cycle_timezone",
                "used_mb",
                "baseline_mb_per_day",
                "on_cap",
            ],
            &["cap_mb", "cap_headroom_mb"],
            diags,
        )
    {
        let ids = t.texts("pool_id", diags);
        let provider = t.texts("provider", diags);
        let allowance = t.numbers("allowance_mb", diags);
        let cycle_day = t.integers("cycle_day", diags);
        let cycle_tz = t.texts("cycle_timezone", diags);
        let used = t.numbers("used_mb", diags);
        let baseline = t.numbers("baseline_mb_per_day", diags);
        let on_cap = t.texts("on_cap", diags);
        let cap = t.numbers("cap_mb", diags);
        let headroom = t.numbers("cap_headroom_mb", diags);
        pools_ok = true;
        for i in 0..t.height() {
            let id = need(t, i, "pool_id", ids[i].clone(), diags);
            let prov = need(t, i, "provider", provider[i].clone(), diags);
            let a = need(t, i, "allowance_mb", allowance[i], diags)
                .and_then(|v| positive(t, i, "allowance_mb", v, diags, true));
            let day = need(t, i, "cycle_day", cycle_day[i], diags).and_then(|d| {
                if (1..=28).contains(&d) {
                    Some(d as u32)
                } else {
                    diags.push(
                        Diagnostic::error(&t.file, "cycle_day must be between 1 and 28")
                            .row(i + 1)
                            .column("cycle_day")
                            .value(d.to_string())
                            .hint("days 29-31 do not exist in every month; carriers use 1-28"),
                    );
                    None
                }
            });
            let tz = need(t, i, "cycle_timezone", cycle_tz[i].clone(), diags).and_then(|z| {
                let r = zones.get(&z);
                if r.is_none() {
                    diags.push(tz_error(&t.file, i + 1, "cycle_timezone", &z));
                }
                r
            });
            let u = need(t, i, "used_mb", used[i], diags)
                .and_then(|v| positive(t, i, "used_mb", v, diags, true));
            let b = need(t, i, "baseline_mb_per_day", baseline[i], diags)
                .and_then(|v| positive(t, i, "baseline_mb_per_day", v, diags, true));
            let oc = need(t, i, "on_cap", on_cap[i].clone(), diags).and_then(|v| {
                let r = CapBehaviour::parse(&v);
                if r.is_none() {
                    diags.push(
                        Diagnostic::error(&t.file, "expected overage, pause or throttle")
                            .row(i + 1)
                            .column("on_cap")
                            .value(v),
                    );
                }
                r
            });
            let c = cap[i]
                .ok()
                .and_then(|v| positive(t, i, "cap_mb", v, diags, false));
            // An empty cap on a pause/throttle pool; a cap given but invalid has its own
            // error already.
            if let Some(o) = oc
                && o.is_hard()
                && matches!(cap[i], V::Null)
            {
                diags.push(
                    Diagnostic::error(
                        &t.file,
                        format!(
                            "on_cap is {} but cap_mb is empty",
                            on_cap[i].clone().ok().unwrap_or_default()
                        ),
                    )
                    .row(i + 1)
                    .column("cap_mb")
                    .hint("give the usage in MB at which the SIMs pause or throttle"),
                );
            }
            // MB kept free under the cap in every cycle (empty = the largest download).
            let h = headroom[i]
                .ok()
                .and_then(|v| positive(t, i, "cap_headroom_mb", v, diags, true));
            if let (Some(h), Some(cap)) = (h, c)
                && h >= cap
            {
                diags.push(
                    Diagnostic::error(&t.file, "cap_headroom_mb must be below cap_mb")
                        .row(i + 1)
                        .column("cap_headroom_mb")
                        .value(format!("{h}"))
                        .hint(format!(
                            "cap_mb is {cap}; the headroom is kept free under it"
                        )),
                );
            }
            let (Some(id), Some(prov), Some(a), Some(day), Some(tz), Some(u), Some(b), Some(oc)) =
                (id.clone(), prov, a, day, tz, u, b, oc)
            else {
                if let Some(id) = &id {
                    folds.reject("pool", id, &t.file, i + 1, format!("pool {id}"));
                }
                continue;
            };
            if !register(&mut pool_ix, &id, t, i, "pool_id", diags) {
                continue;
            }
            if c.is_none() && !matches!(cap[i], V::Null) {
                cap_bad.push(id.clone());
            }
            pools.push(Pool {
                id,
                provider: prov,
                allowance: Megabytes(a),
                cycle_day: day,
                cycle_tz: tz,
                used: Megabytes(u),
                baseline_per_day: Megabytes(b),
                on_cap: oc,
                cap: c.map(Megabytes),
                cap_headroom: h.map(Megabytes),
                tiers: Vec::new(),
                zone_rates: BTreeMap::new(),
            });
        }
    }
    let pool_names: Vec<String> = pools.iter().map(|p| p.id.clone()).collect();
    let pool_names: Vec<&str> = pool_names.iter().map(String::as_str).collect();
    let pool_refs = Refs {
        ix: &pool_ix,
        names: &pool_names,
        what: "pool",
        report: pools_ok,
    };
    let region_refs = Refs {
        ix: &region_ix,
        names: &region_names,
        what: "region",
        report: regions_ok,
    };

    // Overage tiers. A pool one of whose tier rows was rejected is not checked for a
    // missing or bounded last tier (that follows from the rejected row); a rejected row
    // without a readable pool_id leaves every pool unchecked.
    let mut tiers_ok = false;
    let mut tiers_incomplete: Vec<String> = Vec::new();
    let mut tier_pool_unknown = false;
    if let Some(t) = load_reporting(dir, &s.tables.overage_tiers, diags)
        && t.check_shape(&["pool_id", "up_to_mb", "price_per_mb"], &[], diags)
    {
        tiers_ok = true;
        let ids = t.texts("pool_id", diags);
        let up = t.numbers("up_to_mb", diags);
        let price = t.numbers("price_per_mb", diags);
        let mut rows_of: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for i in 0..t.height() {
            let id = need(&t, i, "pool_id", ids[i].clone(), diags);
            let p = need(&t, i, "price_per_mb", price[i], diags)
                .and_then(|v| positive(&t, i, "price_per_mb", v, diags, true));
            let u = match up[i] {
                V::Val(u) => {
                    positive(&t, i, "up_to_mb", u, diags, false).map(|u| Some(Megabytes(u)))
                }
                V::Null => Some(None),
                V::Bad => None,
            };
            let (Some(id), Some(p), Some(u)) = (id.clone(), p, u) else {
                match id {
                    Some(id) => tiers_incomplete.push(id),
                    None => tier_pool_unknown = true,
                }
                continue;
            };
            let Some(pi) = pool_refs.get(&t, i, "pool_id", &id, TIERS, folds, diags) else {
                continue;
            };
            let pool = &mut pools[pi as usize];
            let prev = pool.tiers.last().copied();
            match (prev, u) {
                (Some(Tier { up_to: None, .. }), None) => diags.push(
                    Diagnostic::error(&t.file, format!("pool {} has two unbounded tiers", pool.id))
                        .row(i + 1)
                        .column("up_to_mb")
                        .hint("only the last tier of a pool may leave up_to_mb empty"),
                ),
                (Some(Tier { up_to: None, .. }), Some(u)) => diags.push(
                    Diagnostic::error(
                        &t.file,
                        format!("pool {}: a tier follows the unbounded tier", pool.id),
                    )
                    .row(i + 1)
                    .column("up_to_mb")
                    .value(format_num(u.0))
                    .hint("list each pool's tiers in increasing up_to_mb, the unbounded one last"),
                ),
                (
                    Some(Tier {
                        up_to: Some(pu), ..
                    }),
                    Some(u),
                ) if u.0 <= pu.0 => diags.push(
                    Diagnostic::error(&t.file, format!("pool {}: tiers out of order", pool.id))
                        .row(i + 1)
                        .column("up_to_mb")
                        .value(format_num(u.0))
                        .hint(format!(
                            "up_to_mb must rise: the tier before ends at {}",
                            format_num(pu.0)
                        )),
                ),
                _ => {}
            }
            pool.tiers.push(Tier {
                up_to: u,
                price: PricePerMb(p),
            });
            rows_of.entry(pi).or_default().push(i);
        }
        for (pi, rows) in rows_of {
            let pool = &pools[pi as usize];
            if tiers_incomplete.contains(&pool.id) {
                continue;
            }
            if pool.tiers.last().is_some_and(|t| t.up_to.is_some()) {
                diags.push(
                    Diagnostic::error(
                        &t.file,
                        format!("pool {}: the last tier must be unbounded", pool.id),
                    )
                    .row(rows[rows.len() - 1] + 1)
                    .column("up_to_mb")
                    .hint("leave up_to_mb empty on the last tier"),
                );
            }
        }
    }
    let tiers_checkable = tiers_ok && !tier_pool_unknown;
    for p in pools.iter().filter(|_| tiers_checkable) {
        if tiers_incomplete.contains(&p.id) || cap_bad.contains(&p.id) {
            continue;
        }
        let can_exceed = match (p.on_cap.is_hard(), p.cap) {
            (true, Some(c)) => c.0 > p.allowance.0,
            _ => true,
        };
        if p.tiers.is_empty() && can_exceed {
            diags.push(
                Diagnostic::error(
                    s.tables.overage_tiers.clone().unwrap_or_default(),
                    "pool has no overage tier",
                )
                .column("pool_id")
                .value(p.id.clone())
                .hint("every pool whose usage may exceed its allowance needs at least one tier"),
            );
        }
    }

    // Zone rates. Devices' zones are checked against them when the table is not named
    // (then no zone is priced) or could be read.
    let zone_rates_t = load_reporting(dir, &s.tables.zone_rates, diags);
    let mut zones_ok = s.tables.zone_rates.is_none();
    if let Some(t) = zone_rates_t
        && t.check_shape(&["pool_id", "zone", "price_per_mb"], &[], diags)
    {
        zones_ok = true;
        let ids = t.texts("pool_id", diags);
        let zone = t.texts("zone", diags);
        let price = t.numbers("price_per_mb", diags);
        for i in 0..t.height() {
            let id = need(&t, i, "pool_id", ids[i].clone(), diags);
            let z = need(&t, i, "zone", zone[i].clone(), diags);
            let p = need(&t, i, "price_per_mb", price[i], diags)
                .and_then(|v| positive(&t, i, "price_per_mb", v, diags, true));
            let (Some(id), Some(z), Some(p)) = (id.clone(), z.clone(), p) else {
                if let (Some(id), Some(z)) = (&id, &z) {
                    folds.reject(
                        "zone",
                        &format!("{id}\u{1f}{z}"),
                        &t.file,
                        i + 1,
                        format!("zone {z} of pool {id}"),
                    );
                }
                continue;
            };
            let Some(pi) = pool_refs.get(&t, i, "pool_id", &id, ZONE_RATES, folds, diags) else {
                continue;
            };
            if pools[pi as usize]
                .zone_rates
                .insert(z.clone(), PricePerMb(p))
                .is_some()
            {
                diags.push(
                    Diagnostic::error(&t.file, "duplicate zone for this pool")
                        .row(i + 1)
                        .column("zone")
                        .value(z),
                );
            }
        }
    }

    // Artifacts.
    let mut artifacts: Vec<Artifact> = Vec::new();
    let artifacts_t = load_reporting(dir, &s.tables.artifacts, diags);
    let mut artifacts_ok = false;
    // The first artifact row rejected (1-based): reachability of the release is then not
    // checked, only noted on it.
    let mut artifact_rejected: Option<usize> = None;
    if let Some(t) = &artifacts_t
        && t.check_shape(
            &["from_version", "to_version", "size_bytes", "resumable"],
            &[],
            diags,
        )
    {
        artifacts_ok = true;
        let from = t.texts("from_version", diags);
        let to = t.texts("to_version", diags);
        let size = t.integers("size_bytes", diags);
        let res = t.bools("resumable", diags);
        let mut seen: HashMap<(Option<String>, String), usize> = HashMap::new();
        for i in 0..t.height() {
            let f = from[i].clone().ok();
            let to_v = need(t, i, "to_version", to[i].clone(), diags);
            let sz = need(t, i, "size_bytes", size[i], diags).and_then(|v| {
                if v <= 0 {
                    diags.push(
                        Diagnostic::error(&t.file, "size must be greater than zero")
                            .row(i + 1)
                            .column("size_bytes")
                            .value(v.to_string()),
                    );
                    None
                } else {
                    Some(v as u64)
                }
            });
            let r = need(t, i, "resumable", res[i], diags);
            let (Some(to_v), Some(sz), Some(r)) = (to_v, sz, r) else {
                artifact_rejected.get_or_insert(i + 1);
                continue;
            };
            if f.as_deref() == Some(to_v.as_str()) {
                diags.push(
                    Diagnostic::error(&t.file, "a delta from a version to itself")
                        .row(i + 1)
                        .column("to_version")
                        .value(to_v),
                );
                continue;
            }
            if let Some(first) = seen.insert((f.clone(), to_v.clone()), i) {
                diags.push(
                    Diagnostic::error(
                        &t.file,
                        format!(
                            "duplicate artifact {} -> {} (also row {})",
                            f.as_deref().unwrap_or("full"),
                            to_v,
                            first + 1
                        ),
                    )
                    .row(i + 1)
                    .column("to_version")
                    .value(to_v),
                );
                continue;
            }
            artifacts.push(Artifact {
                from: f,
                to: to_v,
                size: Bytes(sz),
                resumable: r,
            });
        }
    }

    // Devices.
    let devices_t = load_reporting(dir, &s.tables.devices, diags);
    let mut devices: Vec<Device> = Vec::new();
    // Devices that need the release, counted over every row whose own version is not
    // the release (a row rejected for another reason still counts): `None` when the
    // table could not be used, and then wave sizes are not checked against the fleet.
    let mut needing: Option<usize> = None;
    if let Some(t) = &devices_t
        && t.check_shape(
            &[
                "device_id",
                "pool_id",
                "region",
                "timezone",
                "current_version",
                "radio",
                "canary_eligible",
                "critical",
            ],
            &["zone", "hardware", "depot"],
            diags,
        )
    {
        let n = t.height();
        let ids = t.text_refs("device_id", diags);
        let pool_c = t.text_refs("pool_id", diags);
        let region_c = t.text_refs("region", diags);
        let tz_c = t.text_refs("timezone", diags);
        let ver_c = t.text_refs("current_version", diags);
        let radio_c = t.text_refs("radio", diags);
        let canary_c = t.bools("canary_eligible", diags);
        let crit_c = t.bools("critical", diags);
        let zone_c = t.text_refs("zone", diags);
        let hw_c = t.text_refs("hardware", diags);
        let depot_c = t.text_refs("depot", diags);
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(n);
        devices.reserve(n);
        let mut need_count = 0usize;
        for i in 0..n {
            let id = need(t, i, "device_id", ids[i], diags);
            if let V::Val(id) = ids[i]
                && let Some(first) = seen.insert(id, i)
            {
                diags.push(
                    Diagnostic::error(
                        &t.file,
                        format!("duplicate device_id (first on row {})", first + 1),
                    )
                    .row(i + 1)
                    .column("device_id")
                    .value(id),
                );
                continue;
            }
            if !matches!(ver_c[i], V::Val(v) if v == s.release) {
                need_count += 1;
            }
            let pool = need(t, i, "pool_id", pool_c[i], diags)
                .and_then(|p| pool_refs.get(t, i, "pool_id", p, DEVICES, folds, diags))
                .map(PoolId);
            let region = need(t, i, "region", region_c[i], diags)
                .and_then(|r| region_refs.get(t, i, "region", r, DEVICES, folds, diags))
                .map(RegionId);
            let tz = need(t, i, "timezone", tz_c[i], diags).and_then(|z| {
                let r = zones.get(z);
                if r.is_none() {
                    diags.push(tz_error(&t.file, i + 1, "timezone", z));
                }
                r
            });
            let ver = need(t, i, "current_version", ver_c[i], diags);
            let radio = need(t, i, "radio", radio_c[i], diags).and_then(|r| {
                let x = Radio::parse(&r.to_ascii_lowercase());
                if x.is_none() {
                    diags.push(
                        Diagnostic::error(&t.file, "unknown radio")
                            .row(i + 1)
                            .column("radio")
                            .value(r)
                            .hint("expected nbiot, ltem, cat1 or cat4"),
                    );
                }
                x
            });
            let canary = need(t, i, "canary_eligible", canary_c[i], diags);
            let crit = need(t, i, "critical", crit_c[i], diags);
            let zone = zone_c[i].ok();
            if let (Some(z), Some(p)) = (zone, pool)
                && !pools[p.0 as usize].zone_rates.contains_key(z)
            {
                let pool_name = &pools[p.0 as usize].id;
                if !zones_ok || folds.skip("zone", &format!("{pool_name}\u{1f}{z}"), DEVICES) {
                    continue;
                }
                let known: Vec<&str> = pools[p.0 as usize]
                    .zone_rates
                    .keys()
                    .map(String::as_str)
                    .collect();
                let mut d = Diagnostic::error(
                    &t.file,
                    format!(
                        "unknown zone for pool {}: no zone_rates row prices it",
                        pools[p.0 as usize].id
                    ),
                )
                .row(i + 1)
                .column("zone")
                .value(z);
                d = match closest(z, known.iter().copied()) {
                    Some(c) => d.hint(format!("did you mean {c:?}?")),
                    None => {
                        d.hint("leave zone empty for the pool's home zone, or add a zone_rates row")
                    }
                };
                diags.push(d);
                continue;
            }
            let (
                Some(id),
                Some(pool),
                Some(region),
                Some(tz),
                Some(ver),
                Some(radio),
                Some(canary),
                Some(crit),
            ) = (id, pool, region, tz, ver, radio, canary, crit)
            else {
                continue;
            };
            devices.push(Device {
                id: id.to_string(),
                pool,
                region,
                tz,
                current_version: ver.to_string(),
                radio,
                canary_eligible: canary,
                critical: crit,
                zone: zone.map(String::from),
                hardware: hw_c[i].ok().map(String::from),
                depot: depot_c[i].ok().map(String::from),
            });
        }
        needing = Some(need_count);
    }

    // Every current version must reach the release.
    if artifacts_ok && !s.release.is_empty() && !devices.is_empty() {
        let g = VersionGraph::new(&artifacts, &s.release);
        let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &devices {
            *versions.entry(d.current_version.as_str()).or_default() += 1;
        }
        let stuck: Vec<String> = versions
            .iter()
            .filter(|(v, _)| !g.reaches_release(v))
            .map(|(v, n)| format!("{v} ({})", crate::diag::count(*n, "device", "devices")))
            .collect();
        let file = s.tables.artifacts.clone().unwrap_or_default();
        if let (false, Some(row)) = (stuck.is_empty(), artifact_rejected) {
            folds.note(
                &file,
                row,
                format!(
                    "…and whether current_version {} reaches release {} is not checked further",
                    stuck.join(", "),
                    s.release
                ),
            );
        } else if !stuck.is_empty() {
            diags.push(
                Diagnostic::error(
                    file,
                    format!("no artifact chain or full image reaches release {} from current_version {}", s.release, stuck.join(", ")),
                )
                .column("to_version")
                .hint(format!("add a full image (empty from_version, to_version {}) or the missing deltas", s.release)),
            );
        }
    }

    // Waves.
    let waves = build_waves(
        &s.waves,
        &WaveRefs {
            region_ix: &region_ix,
            region_names: &region_names,
            regions_ok,
            needing,
        },
        folds,
        diags,
    );

    let (Some(start), Some(deadline), Some(default_windows)) =
        (s.start, s.deadline, s.default_windows.clone())
    else {
        return None;
    };
    if diags.has_errors() {
        return None;
    }
    Some(Scenario {
        name: s.name.clone(),
        release: s.release.clone(),
        start,
        deadline,
        slot_minutes: s.slot_minutes,
        currency: s.currency.clone(),
        devices,
        pools,
        artifacts,
        regions,
        default_windows,
        waves,
        weights: s.weights,
        stop_rules: s.stop_rules.clone(),
    })
}

/// What the waves are checked against: the regions (when the table could be read) and
/// the number of devices needing the release (when the devices table could be read).
struct WaveRefs<'a> {
    region_ix: &'a HashMap<String, u32>,
    region_names: &'a [&'a str],
    regions_ok: bool,
    needing: Option<usize>,
}

fn build_waves(
    raw: &[RawWave],
    refs: &WaveRefs<'_>,
    folds: &mut Folds,
    diags: &mut Diagnostics,
) -> Vec<Wave> {
    let needing = refs.needing.unwrap_or(0);
    if raw.is_empty() {
        return vec![Wave {
            name: "fleet".into(),
            size: WaveSize::Rest,
            select: WaveSelect::Any,
            region: None,
            soak_hours: 0.0,
            pinned_start: None,
        }];
    }
    let mut out = Vec::new();
    let mut fixed = 0usize;
    let n = raw.len();
    for (i, w) in raw.iter().enumerate() {
        let last = i + 1 == n;
        let size = if last {
            if w.count.is_some() || w.share.is_some() {
                diags.push(
                    Diagnostic::warning(
                        toml_doc::FILE,
                        "the last wave's size is ignored: it takes every remaining device",
                    )
                    .column(format!("waves[{i}].size")),
                );
            }
            WaveSize::Rest
        } else if let Some(c) = w.count {
            fixed += c as usize;
            WaveSize::Count(c)
        } else if let Some(sh) = w.share {
            fixed += ((sh * needing as f64).round() as usize).max(1);
            WaveSize::Share(sh)
        } else {
            WaveSize::Rest
        };
        let region = match &w.region {
            None => None,
            Some(r) => match refs.region_ix.get(r) {
                Some(&ix) => Some(RegionId(ix)),
                None => {
                    if !folds.skip("region", r, WAVES) && refs.regions_ok {
                        let mut d = unknown_ref(
                            toml_doc::FILE,
                            0,
                            &format!("waves[{i}].region"),
                            r,
                            "wave region",
                            refs.region_names,
                        );
                        d.row = None;
                        diags.push(d);
                    }
                    None
                }
            },
        };
        out.push(Wave {
            name: w.name.clone(),
            size,
            select: if w.canary {
                WaveSelect::Canary
            } else {
                WaveSelect::Any
            },
            region,
            soak_hours: w.soak_hours,
            pinned_start: w.start,
        });
    }
    if refs.needing.is_some() && fixed > needing {
        diags.push(
            Diagnostic::error(
                toml_doc::FILE,
                format!("the waves before the last ask for {fixed} devices but only {needing} need the release"),
            )
            .column("waves")
            .hint("shrink the wave sizes or use share = …"),
        );
    }
    out
}
