//! The finance report: `plan` writes report.html, spend.csv and spend_by_day.csv;
//! `report DIR` re-writes them from the plan folder (with the simulation when there is
//! one); the page renders in headless Chromium, is not blank and shows the headline
//! figures.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn otaplan(args: &[&std::ffi::OsStr]) {
    let o = assert_cmd::Command::cargo_bin("otaplan")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Screenshots `html` with headless Chromium into `png`.
fn screenshot(html: &Path, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2400")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium is installed (bin/setup installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn the_report_renders_with_its_headline_figures() {
    let out = tempfile::tempdir().unwrap();
    let dir = data("falling-tiers");
    run_plan(&dir, out.path(), &[]);
    for f in ["report.html", "spend.csv", "spend_by_day.csv"] {
        assert!(out.path().join(f).exists(), "plan writes {f}");
    }
    otaplan(&[
        "simulate".as_ref(),
        dir.as_os_str(),
        "--plan".as_ref(),
        out.path().as_os_str(),
        "--runs".as_ref(),
        "50".as_ref(),
        "--quiet".as_ref(),
    ]);
    otaplan(&["report".as_ref(), out.path().as_os_str()]);
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    // Self-contained: inline SVG, nothing fetched.
    assert!(html.contains("<svg"));
    // (The only URL is the SVG namespace, which is a name, not a fetch.)
    for needle in [
        "https://", "<script", "<link", "src=", "href=", "url(", "@import",
    ] {
        assert!(
            !html.contains(needle),
            "report.html must not contain {needle}"
        );
    }
    // Headline figures: 50 × 0.10 + 54 × 0.01 overage; simulated P50/P90 the same.
    assert!(
        html.contains("Projected overage</td><td>5.54 USD"),
        "{html}"
    );
    assert!(html.contains("Simulated cost P50 / P90 (50 runs)"));
    let s = read_json(&out.path().join("summary.json"));
    for b in s["baselines"].as_array().unwrap() {
        assert!(html.contains(&format!("Saving vs {}", b["name"].as_str().unwrap())));
    }
    // spend.csv: pool × cycle with the summary's figures.
    let spend = read_csv(&out.path().join("spend.csv"));
    let cycles: usize = s["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["cycles"].as_array().unwrap().len())
        .sum();
    assert_eq!(spend.len(), cycles);
    let cost: f64 = spend
        .iter()
        .map(|r| r["overage_cost"].parse::<f64>().unwrap())
        .sum();
    assert!((cost - 5.54).abs() < 1e-9);
    let days = read_csv(&out.path().join("spend_by_day.csv"));
    let devices: usize = days
        .iter()
        .map(|r| r["devices"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(devices, s["scheduled"].as_u64().unwrap() as usize);
    // Renders: a screenshot that is not blank.
    let png = out.path().join("report.png");
    screenshot(&out.path().join("report.html"), &png);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), (1280, 2400));
    // A blank 1280 × 2400 page compresses to a few kB; text and charts do not.
    assert!(
        bytes.len() > 60_000,
        "the screenshot is {} bytes: blank page?",
        bytes.len()
    );
}

#[test]
fn no_report_skips_the_report() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("reset"), out.path(), &["--no-report"]);
    assert!(!out.path().join("report.html").exists());
    assert!(out.path().join("summary.json").exists());
}

/// `simulation.json` names the plan it replayed; after the folder is planned again, the
/// report leaves the old simulation out and says so, instead of showing its P50/P90
/// beside the new plan's figures.
#[test]
fn a_simulation_of_another_plan_is_named_and_left_out() {
    let out = tempfile::tempdir().unwrap();
    let dir = data("falling-tiers");
    run_plan(&dir, out.path(), &[]);
    let simulate = [
        "simulate".as_ref(),
        dir.as_os_str(),
        "--plan".as_ref(),
        out.path().as_os_str(),
        "--runs".as_ref(),
        "20".as_ref(),
        "--quiet".as_ref(),
    ];
    otaplan(&simulate);
    let sim = read_json(&out.path().join("simulation.json"));
    let digest = sim["plan"].as_str().unwrap().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 7 + 64,
        "{digest}"
    );
    let report = |expect_warning: bool| {
        let o = assert_cmd::Command::cargo_bin("otaplan")
            .unwrap()
            .args(["report".as_ref(), out.path().as_os_str()])
            .output()
            .unwrap();
        assert!(o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
        assert_eq!(
            stderr.contains("replayed another plan"),
            expect_warning,
            "{stderr}"
        );
        assert_eq!(html.contains("replayed another plan"), expect_warning);
        assert_eq!(html.contains("Simulated cost P50 / P90"), !expect_warning);
    };
    report(false);
    // Planned again: a new summary.json (its timings differ), so another plan.
    run_plan(&dir, out.path(), &[]);
    report(true);
    // Simulated again: the simulation is this plan's and shows.
    otaplan(&simulate);
    assert_ne!(
        read_json(&out.path().join("simulation.json"))["plan"],
        digest
    );
    report(false);
}
