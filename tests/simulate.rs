//! `otaplan simulate`: the Monte Carlo replay prices every run with the planner's own
//! accounting, reproduces the projection exactly when nothing is random, matches the
//! theoretical completion rate when it is, and gives the same numbers for a seed.

mod common;
use common::*;
use otaplan::plan::{PlanOptions, PlanRow};
use otaplan::simulate::{SimOptions, Simulation, simulate};

fn plan_and_simulate(name: &str, runs: usize, seed: u64) -> (Vec<PlanRow>, Simulation) {
    let loaded = otaplan::ingest::read_scenario(&data(name)).unwrap();
    let coverage = otaplan::ingest::coverage_load::load(&loaded).unwrap();
    let s = &loaded.scenario;
    let plan = otaplan::plan::plan(s, &coverage, &PlanOptions::default(), &|_| {}).unwrap();
    let sim = simulate(
        s,
        &coverage,
        &plan.rows,
        &plan.spent,
        SimOptions { runs, seed },
        &|| {},
    )
    .unwrap();
    // The projection the simulator compares against is the planner's own accounting.
    assert_eq!(sim.projected_total, plan.accounting.cost.total);
    (plan.rows, sim)
}

#[test]
fn without_randomness_the_simulated_cost_is_the_projection_exactly() {
    for name in ["reset", "falling-tiers"] {
        let (_, sim) = plan_and_simulate(name, 64, 7);
        assert!(sim.projected_total > 0.0, "{name}: a fixture with a cost");
        for v in [sim.cost.mean, sim.cost.p50, sim.cost.p90, sim.cost.p99] {
            assert_eq!(v, sim.projected_total, "{name}");
        }
        assert_eq!(sim.projection_gap, 0.0, "{name}");
        assert_eq!(sim.completion_rate.mean, 1.0, "{name}");
        assert_eq!(sim.completion_rate.p10, 1.0, "{name}");
        assert_eq!(sim.attempts_per_device, 1.0, "{name}");
        assert_eq!(sim.mean_cost, sim.projected_cost, "{name}");
        for p in &sim.pools {
            for c in &p.cycles {
                assert_eq!(c.update_mb.mean, c.projected_update_mb, "{name}");
                assert_eq!(c.overage_cost.p99, c.projected_overage_cost, "{name}");
            }
        }
        for r in &sim.regions {
            assert_eq!(
                r.peak_mb_per_hour.p99, r.projected_peak_mb_per_hour,
                "{name}"
            );
        }
    }
}

#[test]
fn falling_tiers_cost_what_the_fixture_says() {
    // 50 × 0.10 + 54 × 0.01 (see the fixture's scenario.toml).
    let (_, sim) = plan_and_simulate("falling-tiers", 16, 1);
    assert!(
        (sim.overage.mean - 5.54).abs() < 1e-9,
        "{}",
        sim.overage.mean
    );
}

#[test]
fn completion_matches_the_online_probability() {
    // One hour-long window per device, online with p = 0.6, no drops, no retry window
    // before the deadline: each device completes with probability 0.6.
    let runs = 2000;
    let (rows, sim) = plan_and_simulate("coin-flip", runs, 3);
    assert_eq!(rows.len(), 20);
    let n = (rows.len() * runs) as f64;
    let sd = (0.6f64 * 0.4 / n).sqrt();
    assert!(
        (sim.completion_rate.mean - 0.6).abs() < 4.0 * sd,
        "completion {} vs 0.6 ± {}",
        sim.completion_rate.mean,
        4.0 * sd
    );
    assert_eq!(
        sim.attempts_per_device, 1.0,
        "no retry fits before the deadline"
    );
    // The plan's p_success is the same 0.6: failed first attempts agree.
    assert!((sim.projected_failed_first_attempts - 8.0).abs() < 1e-9);
    assert!((sim.failed_first_attempts - 8.0).abs() < 4.0 * sd * 20.0);
    // Binomial(20, 0.6): P(X ≤ 9) ≈ 0.128 and P(X ≤ 10) ≈ 0.245, so the P10 is 9 or 10 of 20.
    assert!(
        [0.45, 0.5].contains(&sim.completion_rate.p10),
        "{}",
        sim.completion_rate.p10
    );
}

#[test]
fn the_same_seed_gives_the_same_numbers() {
    let (_, a) = plan_and_simulate("coin-flip", 300, 11);
    let (_, b) = plan_and_simulate("coin-flip", 300, 11);
    assert_eq!(a, b);
    let (_, c) = plan_and_simulate("coin-flip", 300, 12);
    assert_ne!(a.completion_rate, c.completion_rate);
}

#[test]
fn the_cli_writes_simulation_json_into_the_plan_folder() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("falling-tiers"), out.path(), &[]);
    let o = assert_cmd::Command::cargo_bin("otaplan")
        .unwrap()
        .args(["simulate"])
        .arg(data("falling-tiers"))
        .arg("--plan")
        .arg(out.path())
        .args(["--runs", "20", "--seed", "5", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = std::fs::read(out.path().join("simulation.json")).unwrap();
    let j = read_json(&out.path().join("simulation.json"));
    assert_eq!(j["runs"], 20);
    assert_eq!(j["seed"], 5);
    for k in ["mean", "p50", "p90", "p99"] {
        assert!(j["cost"][k].as_f64().is_some(), "cost.{k}");
        assert!(j["pools"][0]["cycles"][0]["overage_cost"][k].is_number());
    }
    assert_eq!(j["projection_gap"].as_f64(), Some(0.0));
    assert_eq!(j["completion_rate"]["p10"].as_f64(), Some(1.0));
    // Deterministic: a second run writes the same bytes.
    let o = assert_cmd::Command::cargo_bin("otaplan")
        .unwrap()
        .args(["simulate"])
        .arg(data("falling-tiers"))
        .arg("--plan")
        .arg(out.path())
        .args(["--runs", "20", "--seed", "5", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        first,
        std::fs::read(out.path().join("simulation.json")).unwrap()
    );
}
