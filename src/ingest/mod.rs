//! Reading a scenario folder (`scenario.toml` + CSV/Parquet tables, as the contract says)
//! into a validated [`Scenario`]. Every problem found is reported, located by file, row,
//! column and value, before anything is solved. The only module that touches polars.

pub mod coverage;
pub mod export;
pub mod parquet_guard;
pub mod plan_csv;
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
/// the scenario, reporting ids it does not know and ids listed twice.
pub(crate) struct DeviceLookup<'a> {
    index: HashMap<&'a str, usize>,
    seen: HashMap<usize, usize>,
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
            index,
            seen: HashMap::new(),
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

/// References from one table to another by name (a device's pool, a tier's pool).
/// Unknown names are reported only when the referenced table itself could be read, so
/// one missing table does not bury the user in follow-on errors.
struct Refs<'a> {
    ix: &'a HashMap<String, u32>,
    names: &'a [&'a str],
    what: &'static str,
    report: bool,
}

impl Refs<'_> {
    fn get(
        &self,
        t: &Table,
        row0: usize,
        col: &str,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Option<u32> {
        let found = self.ix.get(name).copied();
        if found.is_none() && self.report {
            diags.push(unknown_ref(
                &t.file,
                row0 + 1,
                col,
                name,
                self.what,
                self.names,
            ));
        }
        found
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

    // Regions.
    let regions_t = load_reporting(dir, &s.tables.regions, diags);
    let mut regions: Vec<Region> = Vec::new();
    let mut region_ix: HashMap<String, u32> = HashMap::new();
    if let Some(t) = &regions_t
        && t.check_shape(
            &["region", "capacity_mb_per_hour"],
            &["hard_capacity_mb_per_hour"],
            diags,
        )
    {
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
            let (Some(name), Some(c)) = (name, c) else {
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
            None if regions_t.is_some() => diags.push(
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
            if let Some(o) = oc
                && o.is_hard()
                && c.is_none()
                && !matches!(cap[i], V::Bad)
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
                (id, prov, a, day, tz, u, b, oc)
            else {
                continue;
            };
            if !register(&mut pool_ix, &id, t, i, "pool_id", diags) {
                continue;
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
    let pools_ok = pools_t.is_some();
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
        report: regions_t.is_some(),
    };

    // Overage tiers.
    if let Some(t) = load_reporting(dir, &s.tables.overage_tiers, diags)
        && t.check_shape(&["pool_id", "up_to_mb", "price_per_mb"], &[], diags)
    {
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
            let (Some(id), Some(p), Some(u)) = (id, p, u) else {
                continue;
            };
            let Some(pi) = pool_refs.get(&t, i, "pool_id", &id, diags) else {
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
    for p in &pools {
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

    // Zone rates.
    if let Some(t) = load_reporting(dir, &s.tables.zone_rates, diags)
        && t.check_shape(&["pool_id", "zone", "price_per_mb"], &[], diags)
    {
        let ids = t.texts("pool_id", diags);
        let zone = t.texts("zone", diags);
        let price = t.numbers("price_per_mb", diags);
        for i in 0..t.height() {
            let id = need(&t, i, "pool_id", ids[i].clone(), diags);
            let z = need(&t, i, "zone", zone[i].clone(), diags);
            let p = need(&t, i, "price_per_mb", price[i], diags)
                .and_then(|v| positive(&t, i, "price_per_mb", v, diags, true));
            let (Some(id), Some(z), Some(p)) = (id, z, p) else {
                continue;
            };
            let Some(pi) = pool_refs.get(&t, i, "pool_id", &id, diags) else {
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
    if let Some(t) = &artifacts_t
        && t.check_shape(
            &["from_version", "to_version", "size_bytes", "resumable"],
            &[],
            diags,
        )
    {
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
            let pool = need(t, i, "pool_id", pool_c[i], diags)
                .and_then(|p| pool_refs.get(t, i, "pool_id", p, diags))
                .map(PoolId);
            let region = need(t, i, "region", region_c[i], diags)
                .and_then(|r| region_refs.get(t, i, "region", r, diags))
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
    }

    // Every current version must reach the release.
    if artifacts_t.is_some() && !s.release.is_empty() && !devices.is_empty() {
        let g = VersionGraph::new(&artifacts, &s.release);
        let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &devices {
            *versions.entry(d.current_version.as_str()).or_default() += 1;
        }
        let stuck: Vec<String> = versions
            .iter()
            .filter(|(v, _)| !g.reaches_release(v))
            .map(|(v, n)| format!("{v} ({n} devices)"))
            .collect();
        if !stuck.is_empty() {
            let file = s.tables.artifacts.clone().unwrap_or_default();
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
    let needing = devices
        .iter()
        .filter(|d| d.current_version != s.release)
        .count();
    let waves = build_waves(
        &s.waves,
        &region_ix,
        &region_names,
        needing,
        regions_t.is_some() && devices_t.is_some(),
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

fn build_waves(
    raw: &[RawWave],
    region_ix: &HashMap<String, u32>,
    region_names: &[&str],
    needing: usize,
    check_fleet: bool,
    diags: &mut Diagnostics,
) -> Vec<Wave> {
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
            Some(r) => match region_ix.get(r) {
                Some(&ix) => Some(RegionId(ix)),
                None => {
                    if check_fleet {
                        let mut d = unknown_ref(
                            toml_doc::FILE,
                            0,
                            &format!("waves[{i}].region"),
                            r,
                            "wave region",
                            region_names,
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
    if check_fleet && fixed > needing {
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
