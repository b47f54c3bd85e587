//! `otaplan plan` end to end on small fixtures: the contract's invariants hold (checked
//! with the tests' own arithmetic in `common`), hand-made scenarios reach their known
//! optimum, and the exported model re-solved by another HiGHS gives the same objective.

mod common;
use common::*;

#[test]
fn minimal_fixture_keeps_every_invariant() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("minimal"), out.path(), &[]);
    let s = check_invariants(&data("minimal"), out.path());
    assert_eq!(s["up_to_date"], 1);
    let uns = read_csv(&out.path().join("unscheduled.csv"));
    assert!(
        uns.iter()
            .any(|u| u["device_id"] == "d08" && u["reason"].starts_with("already on"))
    );
    // Three waves, in order, each after the previous gate.
    assert_eq!(s["waves"].as_array().unwrap().len(), 3);
    // The major jump's delta (1.9.0 -> 2.4.0) is larger than the full image: full wins.
    let plan = read_csv(&out.path().join("plan.csv"));
    let d04 = plan.iter().find(|r| r["device_id"] == "d04").unwrap();
    assert_eq!(d04["payload"], "full");
    let d02 = plan.iter().find(|r| r["device_id"] == "d02").unwrap();
    assert_eq!(d02["payload"], "2.2.0>2.3.0>2.4.0");
    let d07 = plan.iter().find(|r| r["device_id"] == "d07").unwrap();
    assert_eq!(
        d07["billing_cycle_start"], "",
        "roaming devices have no billing cycle"
    );
}

#[test]
fn the_cycle_reset_is_used_and_the_optimum_is_found_exactly() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("reset"), out.path(), &[]);
    let s = check_invariants(&data("reset"), out.path());
    assert_eq!(s["cost"]["overage"].as_f64().unwrap(), 0.0);
    for r in read_csv(&out.path().join("plan.csv")) {
        assert!(
            ts(&r["window_start"]) >= ts("2027-04-01T01:00:00Z"),
            "{r:?}"
        );
        assert!(
            ts(&r["window_start"]) < ts("2027-04-01T02:00:00Z"),
            "first window after the reset: {r:?}"
        );
    }
    // By hand: 5 devices × (3 days + 1 hour) × 0.001 per device-day.
    let by_hand = 5.0 * (3.0 + 1.0 / 24.0) * 0.001;
    assert!(
        (s["lp"]["objective"].as_f64().unwrap() - by_hand).abs() < 1e-4,
        "{}",
        s["lp"]
    );
}

#[test]
fn falling_tiers_are_priced_in_order() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("falling-tiers"), out.path(), &[]);
    let s = check_invariants(&data("falling-tiers"), out.path());
    // 10 × 10 MB × 1.04 = 104 MB of overage: 50 at 0.10, 54 at 0.01.
    let expect = 50.0 * 0.10 + 54.0 * 0.01;
    assert!(
        (s["cost"]["overage"].as_f64().unwrap() - expect).abs() < 1e-3,
        "{}",
        s["cost"]
    );
    // The LP priced it the same way (an LP without binaries would say 1.04).
    assert!(
        (s["lp"]["objective"].as_f64().unwrap() - expect).abs() < 1e-3,
        "{}",
        s["lp"]
    );
    assert!(s["lp"]["integer_variables"].as_u64().unwrap() > 0);
}

#[test]
fn outputs_are_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run_plan(&data("minimal"), a.path(), &[]);
    run_plan(&data("minimal"), b.path(), &[]);
    for f in ["plan.csv", "unscheduled.csv"] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn parquet_plan_matches_csv() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("minimal"), out.path(), &["--format", "parquet"]);
    let f = std::fs::File::open(out.path().join("plan.parquet")).unwrap();
    use polars::prelude::*;
    let df = ParquetReader::new(f).finish().unwrap();
    let csv = read_csv(&out.path().join("plan.csv"));
    assert_eq!(df.height(), csv.len());
    let ids: Vec<String> = df
        .column("device_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        csv.iter()
            .map(|r| r["device_id"].clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn exported_model_resolves_to_the_reported_objective() {
    let out = tempfile::tempdir().unwrap();
    let mps = out.path().join("model.mps");
    run_plan(
        &data("falling-tiers"),
        out.path(),
        &["--export-model", mps.to_str().unwrap()],
    );
    let s = read_json(&out.path().join("summary.json"));
    let script = r#"
import sys, highspy
h = highspy.Highs()
h.setOptionValue("output_flag", False)
h.readModel(sys.argv[1])
h.run()
print(h.getInfo().objective_function_value)

"#;
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&mps)
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "highspy re-solve failed (pip install highspy): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // HiGHS prints its banner on stdout before the options take effect: the objective is
    // the last line.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let obj: f64 = stdout
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{stdout}"));
    let reported = s["lp"]["objective"].as_f64().unwrap();
    assert!(
        (obj - reported).abs() <= 1e-4 * reported.abs().max(1.0),
        "re-solved {obj} vs reported {reported}"
    );
}

#[test]
fn bad_scenario_exits_1_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let o = assert_cmd::Command::cargo_bin("otaplan")
        .unwrap()
        .args(["plan", "/nonexistent/scenario", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

fn copy_fixture(name: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(data(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
    }
    d
}

fn replace_in(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{file}: {from}");
    std::fs::write(&p, s.replace(from, to)).unwrap();
}

#[test]
fn a_download_longer_than_any_window_is_explained() {
    // A 150 MB delta chain for the NB-IoT device d05 (20 kbps): ~17 hours, in a
    // 4-hour window.
    let scen = copy_fixture("minimal");
    replace_in(
        scen.path(),
        "artifacts.csv",
        "2.2.0,2.3.0,1500000,false",
        "2.2.0,2.3.0,150000000,false",
    );
    replace_in(
        scen.path(),
        "artifacts.csv",
        ",2.3.0,11500000,true",
        ",2.3.0,115000000,true",
    );
    replace_in(
        scen.path(),
        "artifacts.csv",
        ",2.4.0,12000000,true",
        ",2.4.0,120000000,true",
    );
    let out = tempfile::tempdir().unwrap();
    run_plan(scen.path(), out.path(), &[]);
    check_invariants(scen.path(), out.path());
    let uns = read_csv(&out.path().join("unscheduled.csv"));
    let d05 = uns
        .iter()
        .find(|u| u["device_id"] == "d05")
        .expect("d05 cannot be placed");
    let r = &d05["reason"];
    for part in [
        "window 01:00-05:00 America/New_York",
        "4 consecutive 60-minute slots",
        "NB-IoT download",
        "h at 20 kbps",
    ] {
        assert!(r.contains(part), "{part} missing in {r:?}");
    }
}

#[test]
fn a_pause_cap_without_room_is_explained_and_never_exceeded() {
    // p-pause: its cycle runs from March 15 to April 15 (after the deadline); 120 MB used
    // + 6 MB/day to the cycle's end = 264 MB, so a 270 MB cap leaves 6 MB — less than one
    // download plus the one-session margin. Its devices cannot download.
    let scen = copy_fixture("minimal");
    replace_in(scen.path(), "pools.csv", "pause,360", "pause,270");
    let out = tempfile::tempdir().unwrap();
    run_plan(scen.path(), out.path(), &[]);
    check_invariants(scen.path(), out.path());
    let uns = read_csv(&out.path().join("unscheduled.csv"));
    let capped: Vec<_> = uns
        .iter()
        .filter(|u| u["reason"].contains("pool p-pause"))
        .collect();
    assert!(!capped.is_empty(), "{uns:?}");
    assert!(
        capped.iter().all(|u| u["reason"].contains("raise cap_mb")),
        "{capped:?}"
    );
}

#[test]
fn four_hour_local_windows_give_four_hours_in_every_offset() {
    // 3.8 h downloads in a 01:00-05:00 window at +05:30, +05:45, +12:45/+13:45 and -03:30:
    // on a grid of whole UTC hours these windows held only three usable hours.
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("odd-offsets"), out.path(), &[]);
    let s = check_invariants(&data("odd-offsets"), out.path());
    assert_eq!(
        s["unscheduled"],
        0,
        "{}",
        read_to(&out.path().join("unscheduled.csv"))
    );
    for r in read_csv(&out.path().join("plan.csv")) {
        let (ws, we) = (ts(&r["window_start"]), ts(&r["window_end"]));
        assert_eq!((we - ws).num_minutes(), 240, "{r:?}");
        assert!(
            r["window_start_local"].contains("T01:00:00"),
            "starts when the local window opens: {r:?}"
        );
    }
}

#[test]
fn a_binding_cap_still_places_every_device_an_integer_plan_can() {
    // 40 MB of room before the reset: the LP fills it with fractions of devices; the
    // plan keeps the cap and moves the rest past the reset instead of leaving one out.
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("binding-cap"), out.path(), &[]);
    let s = check_invariants(&data("binding-cap"), out.path());
    assert_eq!(
        s["unscheduled"],
        0,
        "{}",
        read_to(&out.path().join("unscheduled.csv"))
    );
    let cycles = s["pools"][0]["cycles"].as_array().unwrap();
    assert_eq!(cycles[0]["cap_headroom_mb"].as_f64(), Some(0.0));
    let first = cycles[0]["update_mb"].as_f64().unwrap();
    assert!(
        first <= 40.0 + 1e-6 && first > 30.0,
        "the room before the reset is used: {first}"
    );
}

#[test]
fn the_bound_is_below_the_cost_on_every_fixture_and_close_to_it() {
    for name in [
        "minimal",
        "reset",
        "falling-tiers",
        "odd-offsets",
        "binding-cap",
        "coverage-fleet",
    ] {
        let out = tempfile::tempdir().unwrap();
        run_plan(&data(name), out.path(), &[]);
        let s = check_invariants(&data(name), out.path());
        let total = s["cost"]["total"].as_f64().unwrap();
        let lb = s["lp"]["lower_bound"].as_f64().unwrap();
        assert!(lb <= total + 1e-6, "{name}: bound {lb} > cost {total}");
        assert_eq!(s["lp"]["status"], "optimal", "{name}");
        assert!(
            lb > 0.0 || total == 0.0,
            "{name}: a bound of {lb} says nothing"
        );
    }
}

fn read_to(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}
