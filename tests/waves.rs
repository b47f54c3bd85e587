//! Waves, canaries, re-planning after a pause, and the baselines: the behaviours of
//! issue 5, through the built binary on fixtures and generated fleets.

mod common;
use assert_cmd::Command;
use common::*;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

fn devices(dir: &Path) -> HashMap<String, HashMap<String, String>> {
    read_csv(&dir.join("devices.csv"))
        .into_iter()
        .map(|r| (r["device_id"].clone(), r))
        .collect()
}

#[test]
fn canaries_are_eligible_and_cover_every_stratum_they_can() {
    let scen = generated(1500, 7);
    let out = tempfile::tempdir().unwrap();
    run_plan(scen.path(), out.path(), &["--no-baselines"]);
    let s = check_invariants(scen.path(), out.path());
    let devs = devices(scen.path());
    let plan = read_csv(&out.path().join("plan.csv"));
    let canaries: Vec<&HashMap<String, String>> =
        plan.iter().filter(|r| r["wave"] == "canary").collect();
    let eligible = devs
        .values()
        .filter(|d| {
            d["canary_eligible"] == "true"
                && d["critical"] == "false"
                && d["current_version"] != "2.4.0"
        })
        .count();
    assert!(
        eligible >= 50,
        "the fixture should have enough candidates: {eligible}"
    );
    assert_eq!(canaries.len(), 50);
    let strata = |d: &HashMap<String, String>| {
        ["hardware", "current_version", "radio", "pool_id"].map(|k| (k.to_string(), d[k].clone()))
    };
    let mut covered = BTreeSet::new();
    for c in &canaries {
        let d = &devs[&c["device_id"]];
        assert_eq!(d["canary_eligible"], "true", "{d:?}");
        assert_eq!(d["critical"], "false", "{d:?}");
        covered.extend(strata(d));
    }
    // Every stratum that some eligible, non-critical device needing the release has is
    // covered (50 canaries are more than the strata).
    let candidates: BTreeSet<(String, String)> = devs
        .values()
        .filter(|d| {
            d["canary_eligible"] == "true"
                && d["critical"] == "false"
                && d["current_version"] != "2.4.0"
        })
        .flat_map(strata)
        .collect();
    assert!(candidates.len() < 50);
    let missing: Vec<_> = candidates.difference(&covered).collect();
    assert!(missing.is_empty(), "uncovered strata: {missing:?}");
    // Depot devices are preferred: at least as many canaries at a depot as there are
    // eligible depot devices, up to the wave size.
    let depot_candidates = devs
        .values()
        .filter(|d| {
            d["canary_eligible"] == "true" && d["critical"] == "false" && !d["depot"].is_empty()
        })
        .count();
    let depot_canaries = canaries
        .iter()
        .filter(|c| !devs[&c["device_id"]]["depot"].is_empty())
        .count();
    assert!(
        depot_canaries >= depot_candidates.min(50) - candidates.len().min(depot_candidates),
        "{depot_canaries} of {depot_candidates}"
    );
    // Waves do not overlap their gates and the summary says so.
    let waves = s["waves"].as_array().unwrap();
    for w in waves.windows(2) {
        assert!(ts(w[1]["start"].as_str().unwrap()) >= ts(w[0]["gate"].as_str().unwrap()));
    }
    assert!(waves.iter().all(|w| w["stop_rules"].is_object()));
}

#[test]
fn every_row_has_a_reconnect_deadline_after_its_window() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("minimal"), out.path(), &[]);
    for r in read_csv(&out.path().join("plan.csv")) {
        let end = ts(&r["window_end"]);
        // window end + 10 min install + 30 min reconnect (minimal's stop rule), at least.
        assert!(
            ts(&r["reconnect_by"]) >= end + chrono::Duration::minutes(40),
            "{r:?}"
        );
        assert!(
            ts(&r["reconnect_by"]) <= end + chrono::Duration::days(7),
            "{r:?}"
        );
    }
}

#[test]
fn replanning_with_nothing_done_at_start_gives_the_same_cost() {
    let scen = generated(300, 11);
    let a = tempfile::tempdir().unwrap();
    run_plan(scen.path(), a.path(), &["--no-baselines"]);
    let progress = a.path().join("empty-progress.csv");
    std::fs::write(&progress, "device_id,state,bytes_used\n").unwrap();
    let b = tempfile::tempdir().unwrap();
    run_plan(
        scen.path(),
        b.path(),
        &[
            "--progress",
            progress.to_str().unwrap(),
            "--now",
            "2027-03-22T00:00:00Z",
        ],
    );
    let (sa, sb) = (
        read_json(&a.path().join("summary.json")),
        read_json(&b.path().join("summary.json")),
    );
    assert_eq!(sa["cost"], sb["cost"]);
    assert_eq!(
        read_csv(&a.path().join("plan.csv")),
        read_csv(&b.path().join("plan.csv"))
    );
}

#[test]
fn replanning_after_the_canary_and_a_pause_counts_spent_bytes() {
    let scen = generated(300, 13);
    let first = tempfile::tempdir().unwrap();
    run_plan(scen.path(), first.path(), &["--no-baselines"]);
    let s1 = read_json(&first.path().join("summary.json"));
    let plan = read_csv(&first.path().join("plan.csv"));
    let devs = devices(scen.path());
    // The canary wave is done (its home-zone devices; roaming ones are pending), then
    // the rollout pauses for three days after the canary gate.
    let gate = ts(s1["waves"][0]["gate"].as_str().unwrap());
    let now = gate + chrono::Duration::days(3);
    let mut csv = String::from("device_id,state,bytes_used,at\n");
    let mut spent_mb = 0.0;
    let mut done = BTreeSet::new();
    let mut last_at = None;
    for r in plan
        .iter()
        .filter(|r| r["wave"] == "canary" && devs[&r["device_id"]]["zone"].is_empty())
    {
        csv += &format!(
            "{},done,{},{}\n",
            r["device_id"], r["expected_bytes"], r["window_end"]
        );
        last_at = last_at.max(Some(ts(&r["window_end"])));
        spent_mb += r["expected_bytes"].parse::<f64>().unwrap() / 1e6;
        done.insert(r["device_id"].clone());
    }
    // One failed device from the next wave: its failed attempt's bytes are paid.
    let failed = plan
        .iter()
        .find(|r| r["wave"] != "canary" && devs[&r["device_id"]]["zone"].is_empty())
        .unwrap();
    // Its failed attempt happened before --now (at the canary gate).
    let failed_bytes = failed["payload_bytes"].parse::<u64>().unwrap() / 2;
    csv += &format!(
        "{},failed,{failed_bytes},{}\n",
        failed["device_id"],
        s1["waves"][0]["gate"].as_str().unwrap()
    );
    spent_mb += failed_bytes as f64 / 1e6;
    let progress = first.path().join("progress.csv");
    std::fs::write(&progress, csv).unwrap();
    let out = tempfile::tempdir().unwrap();
    let now_s = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    run_plan(
        scen.path(),
        out.path(),
        &["--progress", progress.to_str().unwrap(), "--now", &now_s],
    );
    let s2 = check_invariants(scen.path(), out.path());
    let rows = read_csv(&out.path().join("plan.csv"));
    assert!(
        rows.iter().all(|r| ts(&r["window_start"]) >= now),
        "a window starts before --now"
    );
    assert!(
        rows.iter().all(|r| !done.contains(&r["device_id"])),
        "a done device was planned again"
    );
    assert!(
        rows.iter().any(|r| r["device_id"] == failed["device_id"]),
        "the failed device is re-planned"
    );
    let uns = read_csv(&out.path().join("unscheduled.csv"));
    assert_eq!(
        uns.iter()
            .filter(|u| u["reason"].starts_with("done before"))
            .count(),
        done.len()
    );
    // The bytes already spent are in the pools' usage.
    let already: f64 = s2["pools"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["cycles"].as_array().unwrap().iter())
        .map(|c| c.get("already_mb").and_then(|v| v.as_f64()).unwrap_or(0.0))
        .sum();
    assert!((already - spent_mb).abs() < 1e-3, "{already} vs {spent_mb}");
    // The finished canary wave's gate is its last done device's `at` plus the soak.
    let soak = chrono::Duration::hours(s1["waves"][0]["soak_hours"].as_f64().unwrap() as i64);
    assert_eq!(
        ts(s2["waves"][0]["gate"].as_str().unwrap()),
        last_at.unwrap() + soak
    );
    assert_eq!(s2["waves"][0]["devices"], 0);
}

#[test]
fn bad_progress_is_reported_with_row_and_column() {
    let out = tempfile::tempdir().unwrap();
    let p = out.path().join("progress.csv");
    std::fs::write(
        &p,
        "device_id,state,bytes_used\nd01,done,100\nnope,done,1\nd02,maybe,1\nd03,failed,-5\n",
    )
    .unwrap();
    let o = Command::cargo_bin("otaplan")
        .unwrap()
        .args([
            "plan",
            data("minimal").to_str().unwrap(),
            "--quiet",
            "--out",
            out.path().join("o").to_str().unwrap(),
        ])
        .args([
            "--progress",
            p.to_str().unwrap(),
            "--now",
            "2027-03-25T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for part in [
        "progress.csv row 2, column device_id, value \"nope\": unknown device_id",
        "progress.csv row 3, column state, value \"maybe\": unknown state",
        "progress.csv row 4, column bytes_used, value \"-5\"",
    ] {
        assert!(err.contains(part), "{part} missing in {err}");
    }
}

#[test]
fn baselines_are_priced_like_the_plan() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("reset"), out.path(), &[]);
    let s = read_json(&out.path().join("summary.json"));
    let b = s["baselines"].as_array().unwrap();
    let names: Vec<&str> = b.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["global-push", "rate-limited", "local-off-peak"]);
    let plan_total = s["baseline_comparison"]["plan_total"].as_f64().unwrap();
    assert_eq!(
        plan_total,
        s["cost"]["total"].as_f64().unwrap(),
        "every device planned"
    );
    for x in b {
        // Every baseline downloads before the reset on April 1st and pays 5 × 10.4 MB at
        // $1/MB of overage; the plan waits for the fresh allowance.
        assert!(
            (x["cost"]["overage"].as_f64().unwrap() - 52.0).abs() < 1e-6,
            "{x}"
        );
        assert_eq!(x["finished_by_deadline"], 5);
        let saves = x["total"].as_f64().unwrap() - plan_total;
        assert!((x["saving_total"].as_f64().unwrap() - saves).abs() < 1e-9);
        assert!(saves > 50.0);
    }
    assert_eq!(s["cost"]["overage"].as_f64().unwrap(), 0.0);
}
