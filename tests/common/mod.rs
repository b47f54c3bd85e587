//! Helpers shared by the integration tests: running the built binary, reading its CSV
//! and JSON outputs, and checking a written plan against the contract's invariants with
//! arithmetic of the tests' own (not the planner's).
#![allow(dead_code)]

use assert_cmd::Command;
use chrono::{DateTime, Timelike, Utc};
use otaplan::ingest::read_scenario;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// `otaplan ARGS --help`'s text (the command must succeed).
pub fn help(args: &[&str]) -> String {
    let o = Command::cargo_bin("otaplan")
        .unwrap()
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?} --help failed");
    String::from_utf8(o.stdout).unwrap()
}

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A generated `bench` fleet of `devices` (no coverage history) in a temporary folder.
pub fn generated(devices: usize, seed: u64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let opts = otaplan::generate::GenerateOptions {
        devices,
        seed,
        out: d.path().to_path_buf(),
        preset: otaplan::generate::Preset::Bench,
        coverage_days: Some(0),
        devices_format: otaplan::generate::TableFormat::Csv,
    };
    otaplan::generate::generate(&opts, &|_, _| {}).unwrap();
    d
}

/// Runs `otaplan plan DIR --out OUT --quiet [extra…]` and asserts success.
pub fn run_plan(dir: &Path, out: &Path, extra: &[&str]) {
    let o = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("plan")
        .arg(dir)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "plan failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
}

/// A minimal RFC 4180 reader: rows as column → value.
pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut field, mut rec, mut quoted) = (String::new(), Vec::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => rec.push(std::mem::take(&mut field)),
            ('\n', false) => {
                rec.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut rec));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !rec.is_empty() {
        rec.push(field);
        records.push(rec);
    }
    let header = records.remove(0);
    records
        .into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn f(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col}={:?}", row[col]))
}

/// Marginal tier pricing, written again here on purpose.
fn tiers_cost(tiers: &[(Option<f64>, f64)], over: f64) -> f64 {
    let (mut cost, mut lower) = (0.0, 0.0);
    for &(up, price) in tiers {
        let hi = up.unwrap_or(f64::INFINITY);
        if over > lower {
            cost += (over.min(hi) - lower) * price;
        }
        lower = hi;
    }
    cost
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-3 + 1e-6 * a.abs().max(b.abs()),
        "{what}: {a} vs {b}"
    );
}

/// Checks every invariant of the contract on a written plan, with the tests' own
/// arithmetic. Returns the summary.
pub fn check_invariants(scenario_dir: &Path, out: &Path) -> serde_json::Value {
    check_invariants_with(scenario_dir, out, 0.0)
}

/// As [`check_invariants`], with zone charges of bytes spent before a re-plan (which
/// no row of plan.csv carries).
pub fn check_invariants_with(
    scenario_dir: &Path,
    out: &Path,
    spent_zone_cost: f64,
) -> serde_json::Value {
    let loaded = read_scenario(scenario_dir).unwrap_or_else(|d| panic!("{d}"));
    let s = &loaded.scenario;
    let plan = read_csv(&out.join("plan.csv"));
    let uns = read_csv(&out.join("unscheduled.csv"));
    let summary = read_json(&out.join("summary.json"));

    // 1. Every device in exactly one file.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in plan.iter().chain(uns.iter()) {
        *seen.entry(r["device_id"].clone()).or_default() += 1;
    }
    for d in &s.devices {
        assert_eq!(
            seen.get(&d.id),
            Some(&1),
            "device {} appears {:?} times",
            d.id,
            seen.get(&d.id)
        );
    }
    assert_eq!(seen.len(), s.devices.len());
    assert_eq!(summary["scheduled"].as_u64().unwrap() as usize, plan.len());
    assert_eq!(summary["unscheduled"].as_u64().unwrap() as usize, uns.len());
    for u in &uns {
        assert!(!u["reason"].trim().is_empty());
    }

    let by_id: HashMap<&str, &otaplan::domain::Device> =
        s.devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let waves = summary["waves"].as_array().unwrap();
    let wave_ix: HashMap<&str, usize> = waves
        .iter()
        .enumerate()
        .map(|(i, w)| (w["name"].as_str().unwrap(), i))
        .collect();
    type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let mut wave_span: Vec<Span> = vec![(None, None); waves.len()];
    for r in &plan {
        let d = by_id[r["device_id"].as_str()];
        let (ws, we) = (ts(&r["window_start"]), ts(&r["window_end"]));
        // 2. Inside the horizon and, at every minute and its last second, a local window.
        assert!(s.start <= ws && ws < we && we <= s.deadline, "{r:?}");
        let wins = &s.windows_for(d).windows;
        let inside = |t: DateTime<Utc>| {
            let l = t.with_timezone(&d.tz);
            let m = l.hour() * 60 + l.minute();
            wins.iter().any(|w| {
                let (a, b) = (w.start.minutes(), w.end.minutes());
                if a < b {
                    a <= m && m < b
                } else {
                    m >= a || m < b
                }
            })
        };
        let mut t = ws;
        while t < we {
            assert!(
                inside(t),
                "device {} window {}..{} leaves its local windows at {t}",
                d.id,
                ws,
                we
            );
            t += chrono::Duration::seconds(60);
        }
        assert!(inside(we - chrono::Duration::seconds(1)), "{r:?}");
        assert_eq!(
            r["window_start_local"].len(),
            25,
            "local time with offset: {}",
            r["window_start_local"]
        );
        assert_eq!(ts(&r["window_start_local"]), ws);
        // 3. Long enough.
        let need = f(r, "payload_bytes") * 8.0 / (f(r, "throughput_kbps") * 1000.0);
        assert!(
            need <= (we - ws).num_seconds() as f64 + 1e-6,
            "window too short for {}: {need} s",
            d.id
        );
        assert!(f(r, "expected_bytes") >= f(r, "payload_bytes"));
        let p = f(r, "p_success");
        assert!((0.0..=1.0).contains(&p));
        let wi = wave_ix[r["wave"].as_str()];
        let span = &mut wave_span[wi];
        span.0 = Some(span.0.map_or(ws, |x: DateTime<Utc>| x.min(ws)));
        span.1 = Some(span.1.map_or(we, |x: DateTime<Utc>| x.max(we)));
    }
    // 5. Waves: n+1 starts at or after n's gate; summary start/end match rows.
    for (i, w) in waves.iter().enumerate() {
        if let (Some(a), Some(b)) = wave_span[i] {
            assert_eq!(ts(w["start"].as_str().unwrap()), a);
            assert_eq!(ts(w["end"].as_str().unwrap()), b);
        }
        if i + 1 < waves.len()
            && let (Some(gate), Some(next)) = (w["gate"].as_str(), wave_span[i + 1].0)
        {
            assert!(
                next >= ts(gate),
                "wave {} starts before {}'s gate",
                i + 1,
                i
            );
        }
    }

    // 6 & 7. Pools: update per cycle from rows; caps; overage priced through tiers.
    let mut update: BTreeMap<(String, String), f64> = BTreeMap::new();
    let (mut zone, mut risk, mut late) = (spent_zone_cost, 0.0, 0.0);
    for r in &plan {
        let d = by_id[r["device_id"].as_str()];
        let mb = f(r, "expected_bytes") / 1e6;
        risk += (1.0 - f(r, "p_success")) * s.weights.risk_per_failed_attempt;
        late += (ts(&r["window_start"]) - s.start).num_milliseconds() as f64 / 86_400_000.0
            * s.weights.lateness_per_device_day;
        match &d.zone {
            Some(z) => zone += mb * s.pool(d.pool).zone_rates[z].0,
            None => {
                assert!(!r["billing_cycle_start"].is_empty());
                *update
                    .entry((r["pool_id"].clone(), r["billing_cycle_start"].clone()))
                    .or_default() += mb;
            }
        }
    }
    let mut overage = 0.0;
    for p in summary["pools"].as_array().unwrap() {
        let pool = s.pool(s.pool_id(p["pool_id"].as_str().unwrap()).unwrap());
        let tiers: Vec<(Option<f64>, f64)> = pool
            .tiers
            .iter()
            .map(|t| (t.up_to.map(|u| u.0), t.price.0))
            .collect();
        for c in p["cycles"].as_array().unwrap() {
            let start = c["start"].as_str().unwrap();
            let upd = update
                .remove(&(pool.id.clone(), start.to_string()))
                .unwrap_or(0.0);
            close(c["update_mb"].as_f64().unwrap(), upd, "update_mb");
            let base = c["baseline_mb"].as_f64().unwrap()
                + c.get("already_mb").and_then(|v| v.as_f64()).unwrap_or(0.0);
            let over = (base + upd - pool.allowance.0).max(0.0);
            close(c["overage_mb"].as_f64().unwrap(), over, "overage_mb");
            let oc = tiers_cost(&tiers, over);
            close(c["overage_cost"].as_f64().unwrap(), oc, "overage_cost");
            overage += oc;
            if pool.on_cap.is_hard() {
                let cap = pool.cap.unwrap().0;
                // The headroom the plan reports is kept free (after rounding to 0.001 MB).
                let headroom = c["cap_headroom_mb"].as_f64().unwrap();
                if let Some(h) = pool.cap_headroom {
                    close(headroom, h.0, "cap_headroom_mb");
                }
                assert!(
                    base + upd <= cap - headroom + 2e-3,
                    "pool {} over its cap less headroom in cycle {start}: {} > {cap} - {headroom}",
                    pool.id,
                    base + upd
                );
            }
        }
    }
    assert!(
        update.is_empty(),
        "rows billed to cycles the summary does not list: {update:?}"
    );
    // Congestion from rows: expected bytes spread evenly over each window, per slot.
    let slot_min = s.slot_minutes.min(60) as i64;
    let nslots = ((s.deadline - s.start).num_minutes() / slot_min) as usize;
    let mut load: HashMap<String, Vec<f64>> = HashMap::new();
    for r in &plan {
        let (ws, we) = (ts(&r["window_start"]), ts(&r["window_end"]));
        let len = (we - ws).num_milliseconds() as f64;
        let l = load
            .entry(r["region"].clone())
            .or_insert_with(|| vec![0.0; nslots + 1]);
        for (i, slot) in l.iter_mut().enumerate() {
            let a = s.start + chrono::Duration::minutes(i as i64 * slot_min);
            let b = a + chrono::Duration::minutes(slot_min);
            let ov = (we.min(b) - ws.max(a)).num_milliseconds().max(0) as f64;
            *slot += f(r, "expected_bytes") / 1e6 * ov / len;
        }
    }
    // Downloads in flight at a re-plan's --now (spent.csv) load their region too.
    let spent_path = out.join("spent.csv");
    let spent = if spent_path.exists() {
        read_csv(&spent_path)
    } else {
        Vec::new()
    };
    for sp in spent.iter().filter(|r| r["kind"] == "in_flight") {
        let d = by_id[sp["device_id"].as_str()];
        let (ws, we) = (ts(&sp["at"]), ts(&sp["load_until"]));
        let len = (we - ws).num_milliseconds() as f64;
        let l = load
            .entry(s.region(d.region).name.clone())
            .or_insert_with(|| vec![0.0; nslots + 1]);
        for (i, slot) in l.iter_mut().enumerate() {
            let a = s.start + chrono::Duration::minutes(i as i64 * slot_min);
            let b = a + chrono::Duration::minutes(slot_min);
            let ov = (we.min(b) - ws.max(a)).num_milliseconds().max(0) as f64;
            *slot += f(sp, "bytes") / 1e6 * ov / len;
        }
    }
    let mut congestion = 0.0;
    for reg in summary["regions"].as_array().unwrap() {
        let r = &s.regions[s.region_id(reg["region"].as_str().unwrap()).unwrap().0 as usize];
        let cap = r.capacity_mb_per_hour * slot_min as f64 / 60.0;
        let l = load.get(&r.name).cloned().unwrap_or_default();
        let excess: f64 = l.iter().map(|x| (x - cap).max(0.0)).sum();
        close(reg["excess_mb"].as_f64().unwrap(), excess, "excess_mb");
        let peak = l.iter().copied().fold(0.0, f64::max) * 60.0 / slot_min as f64;
        close(reg["peak_mb_per_hour"].as_f64().unwrap(), peak, "peak");
        if let Some(h) = r.hard_capacity_mb_per_hour {
            assert!(peak <= h + 1e-6, "region {} over its hard capacity", r.name);
        }
        congestion += excess / 1000.0 * s.weights.congestion_per_gb;
    }
    let cost = &summary["cost"];
    close(cost["overage"].as_f64().unwrap(), overage, "cost.overage");
    close(cost["zone"].as_f64().unwrap(), zone, "cost.zone");
    close(cost["risk"].as_f64().unwrap(), risk, "cost.risk");
    close(cost["lateness"].as_f64().unwrap(), late, "cost.lateness");
    close(
        cost["congestion"].as_f64().unwrap(),
        congestion,
        "cost.congestion",
    );
    close(
        cost["total"].as_f64().unwrap(),
        overage + zone + risk + late + congestion,
        "cost.total",
    );
    // The bound is a bound on the same quantity, and the gap is the difference.
    let lp = &summary["lp"];
    let (total, lb) = (
        cost["total"].as_f64().unwrap(),
        lp["lower_bound"].as_f64().unwrap(),
    );
    assert!(
        lb <= total + 1e-2 + 1e-6 * total.abs(),
        "lp.lower_bound {lb} above cost.total {total}"
    );
    close(
        lp["rounded_objective"].as_f64().unwrap(),
        total,
        "lp.rounded_objective",
    );
    summary
}
