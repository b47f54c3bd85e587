//! `scenario.toml`: parsed into typed settings with every bad key reported by its key
//! path (`waves[2].size`) and value. Tables are read elsewhere; this module only reads
//! the TOML document.

use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::ingest::table::parse_instant;
use crate::units::Instant;
use crate::windows::{LocalWindow, WindowSet};
use std::collections::BTreeMap;

pub const FILE: &str = "scenario.toml";

/// A wave as written, before regions are resolved and sizes checked against the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct RawWave {
    pub name: String,
    pub count: Option<u32>,
    pub share: Option<f64>,
    pub canary: bool,
    pub region: Option<String>,
    pub soak_hours: f64,
    pub start: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawTables {
    pub devices: Option<String>,
    pub pools: Option<String>,
    pub overage_tiers: Option<String>,
    pub zone_rates: Option<String>,
    pub artifacts: Option<String>,
    pub regions: Option<String>,
    pub coverage: Option<String>,
    pub coverage_model: Option<String>,
}

/// `scenario.toml`, typed but not yet cross-checked against the tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    pub release: String,
    pub start: Option<Instant>,
    pub deadline: Option<Instant>,
    pub slot_minutes: u32,
    pub currency: String,
    pub tables: RawTables,
    pub default_windows: Option<WindowSet>,
    pub region_windows: BTreeMap<String, WindowSet>,
    pub waves: Vec<RawWave>,
    pub weights: crate::domain::Weights,
    pub stop_rules: crate::domain::StopRules,
    /// `"model"`, `"history"`, `"priors"` or unset (= the contract's order).
    pub coverage_source: Option<String>,
}

struct Reader<'a> {
    diags: &'a mut Diagnostics,
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Reader<'_> {
    fn err(&mut self, key: &str, v: Option<&toml::Value>, msg: impl Into<String>) {
        let mut d = Diagnostic::error(FILE, msg).column(key);
        if let Some(v) = v {
            d = d.value(describe(v));
        }
        self.diags.push(d);
    }

    fn unknown_keys(&mut self, prefix: &str, t: &toml::Table, known: &[&str]) {
        for k in t.keys() {
            if !known.contains(&k.as_str()) {
                let mut d = Diagnostic::warning(FILE, "unknown key is ignored")
                    .column(format!("{prefix}{k}"));
                if let Some(c) = closest(k, known.iter().copied()) {
                    d = d.hint(format!("did you mean {c:?}?"));
                }
                self.diags.push(d);
            }
        }
    }

    fn string(
        &mut self,
        t: &toml::Table,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<String> {
        match t.get(key) {
            None if required => {
                self.err(&format!("{prefix}{key}"), None, "required key is missing");
                None
            }
            None => None,
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(v) => {
                self.err(
                    &format!("{prefix}{key}"),
                    Some(v),
                    "expected a non-empty string",
                );
                None
            }
        }
    }

    fn instant(
        &mut self,
        t: &toml::Table,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<Instant> {
        let full = format!("{prefix}{key}");
        let v = match t.get(key) {
            None => {
                if required {
                    self.err(&full, None, "required key is missing");
                }
                return None;
            }
            Some(v) => v,
        };
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            _ => {
                self.err(
                    &full,
                    Some(v),
                    "expected an RFC 3339 timestamp like \"2026-12-01T00:00:00Z\"",
                );
                return None;
            }
        };
        match parse_instant(&text) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.err(&full, Some(v), msg);
                None
            }
        }
    }

    fn number(&mut self, t: &toml::Table, prefix: &str, key: &str) -> Option<f64> {
        let v = t.get(key)?;
        match v {
            toml::Value::Integer(i) => Some(*i as f64),
            toml::Value::Float(f) if f.is_finite() => Some(*f),
            _ => {
                self.err(&format!("{prefix}{key}"), Some(v), "expected a number");
                None
            }
        }
    }

    fn non_negative(&mut self, t: &toml::Table, prefix: &str, key: &str) -> Option<f64> {
        let n = self.number(t, prefix, key)?;
        if n < 0.0 {
            self.err(
                &format!("{prefix}{key}"),
                t.get(key),
                "must not be negative",
            );
            return None;
        }
        Some(n)
    }

    fn windows(&mut self, key: &str, v: &toml::Value) -> Option<WindowSet> {
        let items: Vec<&toml::Value> = match v {
            toml::Value::Array(a) => a.iter().collect(),
            toml::Value::String(_) => vec![v],
            _ => {
                self.err(
                    key,
                    Some(v),
                    "expected a list of windows like [\"01:00-05:00\"]",
                );
                return None;
            }
        };
        if items.is_empty() {
            self.err(
                key,
                Some(v),
                "no window given: devices here could never download",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let k = format!("{key}[{i}]");
            match item {
                toml::Value::String(s) => match LocalWindow::parse(s) {
                    Ok(w) => out.push(w),
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::error(FILE, format!("malformed window: {e}"))
                                .column(k)
                                .value(s.clone())
                                .hint("windows are local wall-clock \"HH:MM-HH:MM\", end exclusive, e.g. \"22:00-04:00\""),
                        );
                        ok = false;
                    }
                },
                other => {
                    self.err(&k, Some(other), "expected a string like \"01:00-05:00\"");
                    ok = false;
                }
            }
        }
        ok.then(|| WindowSet::new(out))
    }
}

/// Parses the text of `scenario.toml`. Problems go to `diags`; the returned settings
/// carry whatever could be read (`None` where a required value was bad).
pub fn parse_settings(text: &str, diags: &mut Diagnostics) -> Option<Settings> {
    let doc: toml::Table = match toml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            diags.push(Diagnostic::error(
                FILE,
                format!("not valid TOML: {}", e.to_string().trim()),
            ));
            return None;
        }
    };
    let mut r = Reader { diags };
    r.unknown_keys(
        "",
        &doc,
        &[
            "name",
            "release",
            "start",
            "deadline",
            "slot_minutes",
            "currency",
            "coverage_source",
            "tables",
            "windows",
            "waves",
            "weights",
            "stop_rules",
        ],
    );
    let name = r.string(&doc, "", "name", true).unwrap_or_default();
    let release = r.string(&doc, "", "release", true).unwrap_or_default();
    let (start, deadline) = r.horizon(&doc);
    let slot_minutes = r.slot_minutes(&doc);
    let currency = r
        .string(&doc, "", "currency", false)
        .unwrap_or_else(|| "USD".to_string());
    let coverage_source = r.coverage_source(&doc);
    let tables = r.tables(&doc);
    let (default_windows, region_windows) = r.windows_section(&doc);
    let waves = r.waves(&doc);
    let weights = r.weights(&doc);
    let stop_rules = r.stop_rules(&doc);
    Some(Settings {
        name,
        release,
        start,
        deadline,
        slot_minutes,
        currency,
        tables,
        default_windows,
        region_windows,
        waves,
        weights,
        stop_rules,
        coverage_source,
    })
}

/// One method per part of the document, each reporting its own bad keys.
impl Reader<'_> {
    /// `start` and `deadline`, the deadline after the start.
    fn horizon(&mut self, doc: &toml::Table) -> (Option<Instant>, Option<Instant>) {
        let start = self.instant(doc, "", "start", true);
        let deadline = self.instant(doc, "", "deadline", true);
        if let (Some(s), Some(d)) = (start, deadline)
            && d <= s
        {
            self.err(
                "deadline",
                doc.get("deadline"),
                format!("deadline must be after start ({})", s.to_rfc3339()),
            );
        }
        (start, deadline)
    }

    /// `slot_minutes`: divides an hour or a day (60 when unset or bad).
    fn slot_minutes(&mut self, doc: &toml::Table) -> u32 {
        match doc.get("slot_minutes") {
            None => 60,
            Some(toml::Value::Integer(m))
                if *m > 0 && *m <= 1440 && (60 % m == 0 || 1440 % m == 0) =>
            {
                *m as u32
            }
            Some(v) => {
                self.err(
                    "slot_minutes",
                    Some(v),
                    "slot_minutes must divide 60 or 1440 (e.g. 15, 30, 60, 120)",
                );
                60
            }
        }
    }

    fn coverage_source(&mut self, doc: &toml::Table) -> Option<String> {
        let c = self.string(doc, "", "coverage_source", false)?;
        if !["model", "history", "priors"].contains(&c.as_str()) {
            self.err(
                "coverage_source",
                doc.get("coverage_source"),
                "expected \"model\", \"history\" or \"priors\"",
            );
        }
        Some(c)
    }

    /// `[tables]`: the file of each table.
    fn tables(&mut self, doc: &toml::Table) -> RawTables {
        let mut tables = RawTables::default();
        let t = match doc.get("tables") {
            Some(toml::Value::Table(t)) => t,
            Some(v) => {
                self.err("tables", Some(v), "expected a [tables] section");
                return tables;
            }
            None => {
                self.err("tables", None, "required section [tables] is missing");
                return tables;
            }
        };
        let known = [
            "devices",
            "pools",
            "overage_tiers",
            "zone_rates",
            "artifacts",
            "regions",
            "coverage",
            "coverage_model",
        ];
        self.unknown_keys("tables.", t, &known);
        tables.devices = self.string(t, "tables.", "devices", true);
        tables.pools = self.string(t, "tables.", "pools", true);
        tables.overage_tiers = self.string(t, "tables.", "overage_tiers", true);
        tables.zone_rates = self.string(t, "tables.", "zone_rates", false);
        tables.artifacts = self.string(t, "tables.", "artifacts", true);
        tables.regions = self.string(t, "tables.", "regions", true);
        tables.coverage = self.string(t, "tables.", "coverage", false);
        tables.coverage_model = self.string(t, "tables.", "coverage_model", false);
        tables
    }

    /// `[windows]`: the default local windows and each region's own.
    fn windows_section(
        &mut self,
        doc: &toml::Table,
    ) -> (Option<WindowSet>, BTreeMap<String, WindowSet>) {
        let mut default_windows = None;
        let mut region_windows = BTreeMap::new();
        let t = match doc.get("windows") {
            Some(toml::Value::Table(t)) => t,
            Some(v) => {
                self.err("windows", Some(v), "expected a [windows] section");
                return (default_windows, region_windows);
            }
            None => {
                self.err("windows", None, "required section [windows] is missing");
                return (default_windows, region_windows);
            }
        };
        self.unknown_keys("windows.", t, &["default", "regions"]);
        match t.get("default") {
            Some(v) => default_windows = self.windows("windows.default", v),
            None => self.err(
                "windows.default",
                None,
                "required key is missing: the local hours downloads may run in",
            ),
        }
        match t.get("regions") {
            Some(toml::Value::Table(rt)) => {
                for (region, v) in rt {
                    if let Some(ws) = self.windows(&format!("windows.regions.{region}"), v) {
                        region_windows.insert(region.clone(), ws);
                    }
                }
            }
            Some(v) => self.err(
                "windows.regions",
                Some(v),
                "expected a table of region = [windows]",
            ),
            None => {}
        }
        (default_windows, region_windows)
    }

    /// `[[waves]]`: each wave as written; only the last may omit its size.
    fn waves(&mut self, doc: &toml::Table) -> Vec<RawWave> {
        let mut waves: Vec<RawWave> = Vec::new();
        let items = match doc.get("waves") {
            None => return waves,
            Some(toml::Value::Array(items)) => items,
            Some(v) => {
                self.err("waves", Some(v), "expected [[waves]] tables");
                return waves;
            }
        };
        for (i, item) in items.iter().enumerate() {
            let Some(t) = item.as_table() else {
                self.err(
                    &format!("waves[{i}]"),
                    Some(item),
                    "expected a [[waves]] table",
                );
                continue;
            };
            let w = self.wave(i, t);
            if waves.iter().any(|x| x.name == w.name) {
                self.err(
                    &format!("waves[{i}].name"),
                    t.get("name"),
                    "two waves have this name",
                );
            }
            waves.push(w);
        }
        let n = waves.len();
        for (i, w) in waves.iter().enumerate() {
            if i + 1 < n && w.count.is_none() && w.share.is_none() {
                self.err(
                    &format!("waves[{i}].size"),
                    None,
                    "only the last wave may omit its size (it takes every remaining device)",
                );
            }
        }
        waves
    }

    /// The `i`-th `[[waves]]` table.
    fn wave(&mut self, i: usize, t: &toml::Table) -> RawWave {
        let p = format!("waves[{i}].");
        self.unknown_keys(
            &p,
            t,
            &[
                "name",
                "size",
                "share",
                "select",
                "region",
                "soak_hours",
                "start",
            ],
        );
        let name = self
            .string(t, &p, "name", true)
            .unwrap_or_else(|| format!("wave-{}", i + 1));
        let count = match t.get("size") {
            None => None,
            Some(toml::Value::Integer(n)) if *n >= 1 && *n <= u32::MAX as i64 => Some(*n as u32),
            Some(v) => {
                self.err(
                    &format!("{p}size"),
                    Some(v),
                    "size must be a whole number of devices, at least 1 (or use share = 0.05)",
                );
                None
            }
        };
        let share = match self.number(t, &p, "share") {
            Some(s) if s > 0.0 && s <= 1.0 => Some(s),
            Some(_) => {
                self.err(
                    &format!("{p}share"),
                    t.get("share"),
                    "share must be in (0, 1]",
                );
                None
            }
            None => None,
        };
        if count.is_some() && share.is_some() {
            self.err(
                &format!("{p}share"),
                t.get("share"),
                "give size or share, not both",
            );
        }
        let canary = match self.string(t, &p, "select", false).as_deref() {
            None | Some("any") => false,
            Some("canary") => true,
            Some(_) => {
                self.err(
                    &format!("{p}select"),
                    t.get("select"),
                    "expected \"canary\" or \"any\"",
                );
                false
            }
        };
        RawWave {
            name,
            count,
            share,
            canary,
            region: self.string(t, &p, "region", false),
            soak_hours: self.non_negative(t, &p, "soak_hours").unwrap_or(0.0),
            start: self.instant(t, &p, "start", false),
        }
    }

    /// `[weights]`: the shadow prices, defaults where unset.
    fn weights(&mut self, doc: &toml::Table) -> crate::domain::Weights {
        let mut weights = crate::domain::Weights::default();
        let t = match doc.get("weights") {
            Some(toml::Value::Table(t)) => t,
            Some(v) => {
                self.err("weights", Some(v), "expected a [weights] section");
                return weights;
            }
            None => return weights,
        };
        self.unknown_keys(
            "weights.",
            t,
            &[
                "congestion_per_gb",
                "risk_per_failed_attempt",
                "lateness_per_device_day",
            ],
        );
        if let Some(v) = self.non_negative(t, "weights.", "congestion_per_gb") {
            weights.congestion_per_gb = v;
        }
        if let Some(v) = self.non_negative(t, "weights.", "risk_per_failed_attempt") {
            weights.risk_per_failed_attempt = v;
        }
        if let Some(v) = self.non_negative(t, "weights.", "lateness_per_device_day") {
            weights.lateness_per_device_day = v;
        }
        weights
    }

    /// `[stop_rules]`: the known thresholds, and any other key carried into the plan.
    fn stop_rules(&mut self, doc: &toml::Table) -> crate::domain::StopRules {
        let mut stop_rules = crate::domain::StopRules::default();
        let t = match doc.get("stop_rules") {
            Some(toml::Value::Table(t)) => t,
            Some(v) => {
                self.err("stop_rules", Some(v), "expected a [stop_rules] section");
                return stop_rules;
            }
            None => return stop_rules,
        };
        let known = [
            "crash_loop_rate",
            "battery_draw_change",
            "reconnect_minutes",
            "install_minutes",
        ];
        stop_rules.crash_loop_rate = self.non_negative(t, "stop_rules.", "crash_loop_rate");
        stop_rules.battery_draw_change = self.non_negative(t, "stop_rules.", "battery_draw_change");
        stop_rules.reconnect_minutes = self.non_negative(t, "stop_rules.", "reconnect_minutes");
        stop_rules.install_minutes = self.non_negative(t, "stop_rules.", "install_minutes");
        for (k, v) in t.iter().filter(|(k, _)| !known.contains(&k.as_str())) {
            match serde_json::to_value(v) {
                Ok(j) => {
                    stop_rules.other.insert(k.clone(), j);
                }
                Err(_) => self.err(
                    &format!("stop_rules.{k}"),
                    Some(v),
                    "cannot be carried into the plan",
                ),
            }
        }
        stop_rules
    }
}
