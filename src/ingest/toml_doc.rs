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
    let start = r.instant(&doc, "", "start", true);
    let deadline = r.instant(&doc, "", "deadline", true);
    if let (Some(s), Some(d)) = (start, deadline)
        && d <= s
    {
        r.err(
            "deadline",
            doc.get("deadline"),
            format!("deadline must be after start ({})", s.to_rfc3339()),
        );
    }
    let slot_minutes = match doc.get("slot_minutes") {
        None => 60,
        Some(toml::Value::Integer(m)) if *m > 0 && *m <= 1440 && (60 % m == 0 || 1440 % m == 0) => {
            *m as u32
        }
        Some(v) => {
            r.err(
                "slot_minutes",
                Some(v),
                "slot_minutes must divide 60 or 1440 (e.g. 15, 30, 60, 120)",
            );
            60
        }
    };
    let currency = r
        .string(&doc, "", "currency", false)
        .unwrap_or_else(|| "USD".to_string());
    let coverage_source = r.string(&doc, "", "coverage_source", false);
    if let Some(c) = &coverage_source
        && !["model", "history", "priors"].contains(&c.as_str())
    {
        r.err(
            "coverage_source",
            doc.get("coverage_source"),
            "expected \"model\", \"history\" or \"priors\"",
        );
    }

    // [tables]
    let mut tables = RawTables::default();
    match doc.get("tables") {
        Some(toml::Value::Table(t)) => {
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
            r.unknown_keys("tables.", t, &known);
            tables.devices = r.string(t, "tables.", "devices", true);
            tables.pools = r.string(t, "tables.", "pools", true);
            tables.overage_tiers = r.string(t, "tables.", "overage_tiers", true);
            tables.zone_rates = r.string(t, "tables.", "zone_rates", false);
            tables.artifacts = r.string(t, "tables.", "artifacts", true);
            tables.regions = r.string(t, "tables.", "regions", true);
            tables.coverage = r.string(t, "tables.", "coverage", false);
            tables.coverage_model = r.string(t, "tables.", "coverage_model", false);
        }
        Some(v) => r.err("tables", Some(v), "expected a [tables] section"),
        None => r.err("tables", None, "required section [tables] is missing"),
    }

    // [windows]
    let mut default_windows = None;
    let mut region_windows = BTreeMap::new();
    match doc.get("windows") {
        Some(toml::Value::Table(t)) => {
            r.unknown_keys("windows.", t, &["default", "regions"]);
            match t.get("default") {
                Some(v) => default_windows = r.windows("windows.default", v),
                None => r.err(
                    "windows.default",
                    None,
                    "required key is missing: the local hours downloads may run in",
                ),
            }
            match t.get("regions") {
                Some(toml::Value::Table(rt)) => {
                    for (region, v) in rt {
                        if let Some(ws) = r.windows(&format!("windows.regions.{region}"), v) {
                            region_windows.insert(region.clone(), ws);
                        }
                    }
                }
                Some(v) => r.err(
                    "windows.regions",
                    Some(v),
                    "expected a table of region = [windows]",
                ),
                None => {}
            }
        }
        Some(v) => r.err("windows", Some(v), "expected a [windows] section"),
        None => r.err("windows", None, "required section [windows] is missing"),
    }

    // [[waves]]
    let mut waves = Vec::new();
    match doc.get("waves") {
        None => {}
        Some(toml::Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("waves[{i}].");
                let Some(t) = item.as_table() else {
                    r.err(
                        &format!("waves[{i}]"),
                        Some(item),
                        "expected a [[waves]] table",
                    );
                    continue;
                };
                r.unknown_keys(
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
                let name = r
                    .string(t, &p, "name", true)
                    .unwrap_or_else(|| format!("wave-{}", i + 1));
                let count = match t.get("size") {
                    None => None,
                    Some(toml::Value::Integer(n)) if *n >= 1 && *n <= u32::MAX as i64 => {
                        Some(*n as u32)
                    }
                    Some(v) => {
                        r.err(&format!("{p}size"), Some(v), "size must be a whole number of devices, at least 1 (or use share = 0.05)");
                        None
                    }
                };
                let share = match r.number(t, &p, "share") {
                    Some(s) if s > 0.0 && s <= 1.0 => Some(s),
                    Some(_) => {
                        r.err(
                            &format!("{p}share"),
                            t.get("share"),
                            "share must be in (0, 1]",
                        );
                        None
                    }
                    None => None,
                };
                if count.is_some() && share.is_some() {
                    r.err(
                        &format!("{p}share"),
                        t.get("share"),
                        "give size or share, not both",
                    );
                }
                let canary = match r.string(t, &p, "select", false).as_deref() {
                    None | Some("any") => false,
                    Some("canary") => true,
                    Some(_) => {
                        r.err(
                            &format!("{p}select"),
                            t.get("select"),
                            "expected \"canary\" or \"any\"",
                        );
                        false
                    }
                };
                let region = r.string(t, &p, "region", false);
                let soak_hours = r.non_negative(t, &p, "soak_hours").unwrap_or(0.0);
                let start = r.instant(t, &p, "start", false);
                if waves.iter().any(|w: &RawWave| w.name == name) {
                    r.err(
                        &format!("{p}name"),
                        t.get("name"),
                        "two waves have this name",
                    );
                }
                waves.push(RawWave {
                    name,
                    count,
                    share,
                    canary,
                    region,
                    soak_hours,
                    start,
                });
            }
            let n = waves.len();
            for (i, w) in waves.iter().enumerate() {
                if i + 1 < n && w.count.is_none() && w.share.is_none() {
                    r.err(
                        &format!("waves[{i}].size"),
                        None,
                        "only the last wave may omit its size (it takes every remaining device)",
                    );
                }
            }
        }
        Some(v) => r.err("waves", Some(v), "expected [[waves]] tables"),
    }

    // [weights]
    let mut weights = crate::domain::Weights::default();
    match doc.get("weights") {
        Some(toml::Value::Table(t)) => {
            r.unknown_keys(
                "weights.",
                t,
                &[
                    "congestion_per_gb",
                    "risk_per_failed_attempt",
                    "lateness_per_device_day",
                ],
            );
            if let Some(v) = r.non_negative(t, "weights.", "congestion_per_gb") {
                weights.congestion_per_gb = v;
            }
            if let Some(v) = r.non_negative(t, "weights.", "risk_per_failed_attempt") {
                weights.risk_per_failed_attempt = v;
            }
            if let Some(v) = r.non_negative(t, "weights.", "lateness_per_device_day") {
                weights.lateness_per_device_day = v;
            }
        }
        Some(v) => r.err("weights", Some(v), "expected a [weights] section"),
        None => {}
    }

    // [stop_rules]
    let mut stop_rules = crate::domain::StopRules::default();
    match doc.get("stop_rules") {
        Some(toml::Value::Table(t)) => {
            stop_rules.crash_loop_rate = r.non_negative(t, "stop_rules.", "crash_loop_rate");
            stop_rules.battery_draw_change =
                r.non_negative(t, "stop_rules.", "battery_draw_change");
            stop_rules.reconnect_minutes = r.non_negative(t, "stop_rules.", "reconnect_minutes");
            for (k, v) in t {
                if [
                    "crash_loop_rate",
                    "battery_draw_change",
                    "reconnect_minutes",
                ]
                .contains(&k.as_str())
                {
                    continue;
                }
                match serde_json::to_value(v) {
                    Ok(j) => {
                        stop_rules.other.insert(k.clone(), j);
                    }
                    Err(_) => r.err(
                        &format!("stop_rules.{k}"),
                        Some(v),
                        "cannot be carried into the plan",
                    ),
                }
            }
        }
        Some(v) => r.err("stop_rules", Some(v), "expected a [stop_rules] section"),
        None => {}
    }

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
