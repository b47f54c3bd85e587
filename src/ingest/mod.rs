//! Reading a scenario folder (`scenario.toml` + CSV/Parquet tables, as the contract says)
//! into a validated [`Scenario`]. Every problem found is reported, located by file, row,
//! column and value, before anything is solved. The input edge: it reads scenario inputs
//! (and loads the coverage model, `coverage_load`) and knows nothing of what the planner
//! outputs — the plan folder is `plan_folder`'s. Reading tables with polars happens here
//! (`table`, `parts`, `coverage`); `plan_folder` reads plan.csv and its kin through
//! `table`.

mod build;
pub mod coverage;
pub mod coverage_load;
pub mod parquet_guard;
pub mod parts;
pub mod table;
pub mod toml_doc;

use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::domain::*;
use chrono_tz::Tz;
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use table::{Table, V, read_table};
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
    let scenario = build::build(dir, &settings, &mut diags);
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
        if let Err(d) = parts::locate(path, file, None) {
            diags.push(d);
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
    /// A device may have several rows (spent.csv: bytes used and the rest in flight).
    pub(crate) repeats: bool,
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
            repeats: false,
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
        if let Some(first) = self.seen.insert(dev, row)
            && !self.repeats
        {
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
