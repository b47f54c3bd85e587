//! The finance report: `plan` writes report.html, spend.csv and spend_by_day.csv;
//! `report DIR` re-writes them from the plan folder (with the simulation when it
//! replayed this plan) and adds report.xlsx. The page renders in headless Chromium and is
//! checked by the text Chromium shows; the spreadsheet is opened with an independent
//! reader (Python's openpyxl, installed by bin/setup) and its invoices are added up
//! against spend.csv and summary.json to the cent.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn otaplan(args: &[&std::ffi::OsStr]) -> std::process::Output {
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
    o
}

fn simulate(scenario: &Path, plan: &Path, runs: &str) {
    otaplan(&[
        "simulate".as_ref(),
        scenario.as_os_str(),
        "--plan".as_ref(),
        plan.as_os_str(),
        "--runs".as_ref(),
        runs.as_ref(),
        "--quiet".as_ref(),
    ]);
}

fn report(plan: &Path) -> std::process::Output {
    otaplan(&["report".as_ref(), plan.as_os_str()])
}

fn chromium(args: &[String]) -> std::process::Output {
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
        .args(args)
        .output()
        .expect("chromium is installed (bin/setup installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Screenshots `html` with headless Chromium into `png`.
fn screenshot(html: &Path, png: &Path) {
    chromium(&[
        format!("--screenshot={}", png.display()),
        "--window-size=1280,2400".into(),
        format!("file://{}", html.display()),
    ]);
}

/// The page's text as Chromium parsed it (tags dropped, entities decoded, whitespace
/// collapsed).
fn rendered_text(html: &Path) -> String {
    let o = chromium(&["--dump-dom".into(), format!("file://{}", html.display())]);
    let dom = String::from_utf8_lossy(&o.stdout);
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

/// Money as the report prints it: grouped thousands, two decimals.
fn money(v: f64) -> String {
    let cents = (v.abs() * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && cents > 0 { "−" } else { "" };
    format!("{sign}{grouped}.{:02}", cents % 100)
}

fn cents(v: f64) -> i64 {
    (v * 100.0).round() as i64
}

/// Every sheet of an .xlsx as read by openpyxl: name → rows of cell values, plus the
/// number format of each cell (same shape).
fn read_xlsx(path: &Path) -> Value {
    let script = r#"
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], data_only=True)
out = {"sheets": wb.sheetnames, "values": {}, "formats": {}}
for ws in wb.worksheets:
    out["values"][ws.title] = [[c.value if not hasattr(c.value, "isoformat") else c.value.isoformat() for c in row] for row in ws.iter_rows()]
    out["formats"][ws.title] = [[c.number_format for c in row] for row in ws.iter_rows()]
print(json.dumps(out))
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "openpyxl could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A sheet's rows as column → value (header row first).
fn sheet_rows(x: &Value, sheet: &str) -> Vec<serde_json::Map<String, Value>> {
    let rows = x["values"][sheet].as_array().unwrap();
    let header: Vec<String> = rows[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    rows[1..]
        .iter()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.as_array().unwrap().iter().cloned())
                .collect()
        })
        .collect()
}

#[test]
fn the_report_renders_with_cash_apart_from_shadow_costs_and_invoice_bands() {
    let out = tempfile::tempdir().unwrap();
    let dir = data("minimal");
    run_plan(&dir, out.path(), &[]);
    for f in ["report.html", "spend.csv", "spend_by_day.csv"] {
        assert!(out.path().join(f).exists(), "plan writes {f}");
    }
    assert!(
        !out.path().join("report.xlsx").exists(),
        "the spreadsheet is the finance step's"
    );
    simulate(&dir, out.path(), "40");
    report(out.path());
    assert!(
        out.path().join("report.xlsx").exists(),
        "report writes report.xlsx"
    );
    // Planning again into the folder removes the spreadsheet of the plan it replaces.
    run_plan(&dir, out.path(), &[]);
    assert!(!out.path().join("report.xlsx").exists());
    simulate(&dir, out.path(), "40");
    report(out.path());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    // Self-contained: inline SVG, nothing fetched. (The only URL is the SVG namespace,
    // which is a name, not a fetch.)
    assert!(html.contains("<svg"));
    for needle in [
        "https://", "<script", "<link", "src=", "href=", "url(", "@import",
    ] {
        assert!(
            !html.contains(needle),
            "report.html must not contain {needle}"
        );
    }
    let text = rendered_text(&out.path().join("report.html"));
    let s = read_json(&out.path().join("summary.json"));
    let sim = read_json(&out.path().join("simulation.json"));
    let f = |v: &Value| v.as_f64().unwrap();
    let cash = f(&s["cost"]["overage"]) + f(&s["cost"]["zone"]);
    let bau =
        f(&s["business_as_usual"]["cost"]["overage"]) + f(&s["business_as_usual"]["cost"]["zone"]);
    // The headline: the release's own cost (cash minus business as usual), with the
    // simulated band shifted the same way, then the invoices in full.
    assert!(
        text.contains(&format!(
            "This release costs {} USD P10 {} / P50 {} / P90 {} USD",
            money(cash - bau),
            money(f(&sim["spend"]["p10"]) - bau),
            money(f(&sim["spend"]["p50"]) - bau),
            money(f(&sim["spend"]["p90"]) - bau)
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "Invoices over the horizon, all pools (overage + roaming) {} USD",
        money(cash)
    )));
    assert!(text.contains(&format!(
        "of which roaming (zone rates) {} USD",
        money(f(&s["cost"]["zone"]))
    )));
    // Shadow costs in their own block, labelled as weights.
    assert!(text.contains(&format!(
        "Planning weights (not money) Congestion above regional capacity {} USD Risk of failed attempts {} USD Lateness {} USD",
        money(f(&s["cost"]["congestion"])),
        money(f(&s["cost"]["risk"])),
        money(f(&s["cost"]["lateness"]))
    )), "{text}");
    // One invoice row per pool × cycle with local dates and the simulated band.
    let find = |v: &Value, id: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|q| q["pool_id"] == *id)
            .unwrap()
            .clone()
    };
    for p in s["pools"].as_array().unwrap() {
        let sp = find(&sim["pools"], &p["pool_id"]);
        let bp = find(&s["business_as_usual"]["pools"], &p["pool_id"]);
        let cycles = p["cycles"].as_array().unwrap();
        for (k, c) in cycles.iter().enumerate() {
            let inv = f(&c["overage_cost"]) + f(&c["zone_cost"]);
            let b = &bp["cycles"][k];
            let bau = f(&b["overage_cost"]) + f(&b["zone_cost"]);
            let band = &sp["cycles"][k]["invoice"];
            let needle = format!(
                "{} {} {} {} {} {}",
                money(inv),
                money(bau),
                money(inv - bau),
                money(f(&band["p10"])),
                money(f(&band["p50"])),
                money(f(&band["p90"]))
            );
            assert!(
                text.contains(&needle),
                "{} cycle {}: {needle}\n{text}",
                p["pool_id"],
                c["start"]
            );
        }
    }
    // p-pause's cycles start on the 15th at 00:00 New York time: local dates.
    assert!(
        text.contains("2027-03-15 – 2027-04-14 America/New_York"),
        "{text}"
    );
    for section in [
        "Invoices: one per pool and billing cycle",
        "What the release costs per day",
        "Update data per day",
        "simulated P10–P90",
        "headroom left",
        "hard capacity (never exceeded)",
    ] {
        assert!(text.contains(section), "{section}");
    }
    // No warnings on a clean plan whose simulation is its own.
    assert!(!text.contains("Check before relying"), "{text}");
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
fn the_spreadsheet_invoices_add_up_to_spend_csv_and_summary_to_the_cent() {
    let out = tempfile::tempdir().unwrap();
    let dir = data("minimal");
    run_plan(&dir, out.path(), &[]);
    simulate(&dir, out.path(), "20");
    report(out.path());
    let x = read_xlsx(&out.path().join("report.xlsx"));
    assert_eq!(
        x["sheets"],
        serde_json::json!(["Summary", "Invoices", "Per day", "Baselines", "Devices"])
    );
    let s = read_json(&out.path().join("summary.json"));
    let f = |v: &Value| v.as_f64().unwrap();
    let spend = read_csv(&out.path().join("spend.csv"));
    let mut rows = sheet_rows(&x, "Invoices");
    let total = rows.pop().unwrap();
    assert_eq!(total["pool_id"], "total");
    let cycles: Vec<(&Value, &Value)> = s["pools"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["cycles"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |c| (&p["pool_id"], c))
        })
        .collect();
    assert_eq!(rows.len(), cycles.len());
    assert_eq!(spend.len(), cycles.len());
    let mut sum = 0;
    for ((row, csv), (pool, c)) in rows.iter().zip(&spend).zip(&cycles) {
        assert_eq!(&row["pool_id"], *pool);
        assert_eq!(row["cycle_start"], c["start"]);
        let summary_cents = cents(f(&c["overage_cost"]) + f(&c["zone_cost"]));
        assert_eq!(cents(f(&row["invoice_total"])), summary_cents, "{row:?}");
        assert_eq!(
            cents(csv["invoice_total"].parse::<f64>().unwrap()),
            summary_cents
        );
        assert_eq!(cents(f(&row["overage_cost"])), cents(f(&c["overage_cost"])));
        assert_eq!(cents(f(&row["zone_cost"])), cents(f(&c["zone_cost"])));
        sum += summary_cents;
    }
    let cash = cents(f(&s["cost"]["overage"]) + f(&s["cost"]["zone"]));
    assert_eq!(
        sum, cash,
        "invoices add up to summary.json's overage + zone"
    );
    assert_eq!(cents(f(&total["invoice_total"])), cash);
    let csv_sum: i64 = spend
        .iter()
        .map(|r| cents(r["invoice_total"].parse::<f64>().unwrap()))
        .sum();
    assert_eq!(csv_sum, cash);
    // Money cells carry the currency in their number format.
    let header: Vec<&str> = x["values"]["Invoices"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let j = header.iter().position(|h| *h == "invoice_total").unwrap();
    assert!(
        x["formats"]["Invoices"][1][j]
            .as_str()
            .unwrap()
            .contains("USD")
    );
    // Release cost per invoice = invoice − business as usual, both in the sheet.
    for row in &rows {
        assert_eq!(
            cents(f(&row["release_cost"])),
            cents(f(&row["invoice_total"])) - cents(f(&row["business_as_usual"]))
        );
        assert!(row["simulated_p10"].is_number() && row["simulated_p90"].is_number());
    }
    // Per day: the same rows as spend_by_day.csv.
    let days = sheet_rows(&x, "Per day");
    let days_csv = read_csv(&out.path().join("spend_by_day.csv"));
    assert_eq!(days.len(), days_csv.len());
    let devices: u64 = days.iter().map(|d| d["devices"].as_u64().unwrap()).sum();
    assert_eq!(devices, s["scheduled"].as_u64().unwrap());
    // Devices: plan.csv, same header, one row each.
    let plan = std::fs::read_to_string(out.path().join("plan.csv")).unwrap();
    let plan_header: Vec<&str> = plan.lines().next().unwrap().split(',').collect();
    let dev_header: Vec<&str> = x["values"]["Devices"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(dev_header, plan_header);
    assert_eq!(sheet_rows(&x, "Devices").len(), plan.lines().count() - 1);
    // The release's cost: Σ per invoice = the Summary sheet's = summary.json's invoices −
    // business as usual, to the cent.
    let bau = &s["business_as_usual"]["cost"];
    let release = cash - cents(f(&bau["overage"]) + f(&bau["zone"]));
    let rows_release: i64 = rows.iter().map(|r| cents(f(&r["release_cost"]))).sum();
    assert_eq!(rows_release, release);
    assert_eq!(cents(f(&total["release_cost"])), release);
    let summary_sheet: std::collections::HashMap<String, Value> = sheet_rows(&x, "Summary")
        .into_iter()
        .map(|r| (r["item"].as_str().unwrap().to_string(), r["value"].clone()))
        .collect();
    assert_eq!(
        cents(f(
            &summary_sheet["release cost (cash it adds: overage + roaming)"]
        )),
        release
    );
    // Baselines: one row for the plan, one per baseline; savings as summary.json writes
    // them, each = the baseline's spend (total) − the plan's.
    let baselines = sheet_rows(&x, "Baselines");
    let expected = s["baselines"].as_array().unwrap();
    assert!(!expected.is_empty());
    assert_eq!(baselines.len(), 1 + expected.len());
    let plan_row = &baselines[0];
    let cmp = &s["baseline_comparison"];
    assert_eq!(cents(f(&plan_row["spend"])), cents(f(&cmp["plan_spend"])));
    assert_eq!(cents(f(&plan_row["total"])), cents(f(&cmp["plan_total"])));
    for (row, b) in baselines[1..].iter().zip(expected) {
        assert_eq!(row["rollout"], b["name"]);
        for key in ["spend", "total", "saving_spend", "saving_total"] {
            assert_eq!(cents(f(&row[key])), cents(f(&b[key])), "{key} of {b}");
        }
        assert_eq!(
            cents(f(&row["saving_spend"])),
            cents(f(&row["spend"])) - cents(f(&plan_row["spend"]))
        );
        assert_eq!(
            cents(f(&summary_sheet[&format!(
                "saving vs {} (spend against spend)",
                b["name"].as_str().unwrap()
            )])),
            cents(f(&b["saving_spend"]))
        );
    }
}

#[test]
fn business_as_usual_is_the_horizon_without_the_release() {
    // minimal, with p-month already over its allowance from ordinary use: 600 MB used
    // by the start, 4.5 MB a day until its cycle resets at 00:00 Berlin on 1 April
    // (2027-03-31T22:00Z, 9 days 22 h after the start): 644.625 MB, 144.625 over 500.
    // Marginal tiers: 100 × 0.078 + 44.625 × 0.039 = 9.540375 USD without any download.
    let scen = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(data("minimal")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), scen.path().join(e.file_name())).unwrap();
    }
    let pools = std::fs::read_to_string(scen.path().join("pools.csv")).unwrap();
    std::fs::write(
        scen.path().join("pools.csv"),
        pools.replace(
            "p-month,mvno-calendar,500,1,Europe/Berlin,380,",
            "p-month,mvno-calendar,500,1,Europe/Berlin,600,",
        ),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    run_plan(scen.path(), out.path(), &["--no-baselines"]);
    let s = read_json(&out.path().join("summary.json"));
    let bau = &s["business_as_usual"];
    let bau_overage = bau["cost"]["overage"].as_f64().unwrap();
    assert!((bau_overage - 9.540375).abs() < 1e-4, "{bau_overage}");
    assert_eq!(bau["cost"]["zone"].as_f64().unwrap(), 0.0);
    let month = bau["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pool_id"] == "p-month")
        .unwrap();
    assert!((month["cycles"][0]["overage_mb"].as_f64().unwrap() - 144.625).abs() < 1e-6);
    assert_eq!(month["cycles"][0]["update_mb"].as_f64().unwrap(), 0.0);
    // The plan's own baseline is the same forecast.
    let plan_month = s["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pool_id"] == "p-month")
        .unwrap();
    assert_eq!(
        plan_month["cycles"][0]["baseline_mb"],
        month["cycles"][0]["baseline_mb"]
    );
    let text = rendered_text(&out.path().join("report.html"));
    let f = |v: &Value| v.as_f64().unwrap();
    let cash = f(&s["cost"]["overage"]) + f(&s["cost"]["zone"]);
    assert!(
        text.contains(&format!(
            "This release costs {} USD",
            money(cash - bau_overage)
        )),
        "{text}"
    );
    assert!(
        text.contains("of which business as usual (baseline use without the release) 9.54 USD"),
        "{text}"
    );
}

#[test]
fn a_time_limited_plan_and_unscheduled_devices_are_warned_about() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("minimal"), out.path(), &[]);
    // What a plan stopped by its time limit, with devices left out, records.
    let path = out.path().join("summary.json");
    let mut s = read_json(&path);
    s["lp"]["status"] = "time_limit".into();
    std::fs::write(&path, serde_json::to_string_pretty(&s).unwrap()).unwrap();
    let mut unscheduled = std::fs::read_to_string(out.path().join("unscheduled.csv")).unwrap();
    for d in ["x1", "x2"] {
        unscheduled +=
            &format!("{d},\"region us-east cannot carry this download, widen the windows\"\n");
    }
    unscheduled += "x3,pool p-pause has no room left before the deadline\n";
    std::fs::write(out.path().join("unscheduled.csv"), unscheduled).unwrap();
    report(out.path());
    let text = rendered_text(&out.path().join("report.html"));
    assert!(
        text.contains("The solver stopped at its time limit"),
        "{text}"
    );
    assert!(
        text.contains(
            "2 devices not scheduled: region us-east cannot carry this download, widen the windows"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 device not scheduled: pool p-pause has no room left before the deadline")
    );
    // Devices already on the release are not a warning.
    assert!(!text.contains("not scheduled: already on"));
}

#[test]
fn no_report_skips_the_report() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("reset"), out.path(), &["--no-report"]);
    assert!(!out.path().join("report.html").exists());
    assert!(!out.path().join("report.xlsx").exists());
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
        let text = rendered_text(&out.path().join("report.html"));
        assert_eq!(html.contains("replayed another plan"), expect_warning);
        assert_eq!(
            text.contains("Check before relying on these figures"),
            expect_warning,
            "{text}"
        );
        assert_eq!(
            text.contains("Simulated objective P50 / P90"),
            !expect_warning
        );
        // spend.csv carries the simulated band only beside its own plan.
        let spend = read_csv(&out.path().join("spend.csv"));
        assert_eq!(
            spend.iter().all(|r| r["simulated_p50"].is_empty()),
            expect_warning
        );
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
