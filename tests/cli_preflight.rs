//! Fail before the work (issue 13): an output that cannot be written, a plan folder that
//! is missing or belongs to another scenario — each is found before the scenario is read
//! or anything is solved, and reported in one line with exit code 1.

mod common;

use assert_cmd::Command;
use common::data;
use std::fs;
use std::path::Path;

/// Runs otaplan and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::cargo_bin("otaplan")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Asserts exit code 1, nothing on stdout and exactly this one line on stderr.
fn fails_with_one_line(args: &[&str], line: &str) {
    let (code, out, err) = run(args);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out, "", "nothing is reported as done");
    assert_eq!(err, format!("{line}\n"));
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn plan_out_that_is_a_file() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("afile.txt");
    fs::write(&file, "keep me").unwrap();
    let line = format!(
        "error: --out {} is a file, not a folder; nothing was planned",
        file.display()
    );
    fails_with_one_line(&["plan", s(&data("minimal")), "--out", s(&file)], &line);
    // Before reading: the same line for a scenario that does not even exist.
    let nowhere = d.path().join("no-such-scenario");
    fails_with_one_line(&["plan", s(&nowhere), "--out", s(&file)], &line);
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep me");
    assert_eq!(names_in(d.path()), ["afile.txt"]);
}

#[test]
fn plan_out_below_a_file() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("afile.txt");
    fs::write(&file, "").unwrap();
    let out = file.join("plans");
    fails_with_one_line(
        &["plan", s(&data("minimal")), "--out", s(&out)],
        &format!(
            "error: --out {} cannot be created: {} is a file, not a folder; nothing was planned",
            out.display(),
            file.display()
        ),
    );
}

#[test]
fn plan_out_in_a_folder_that_cannot_be_written() {
    // /proc takes no new files, whoever runs the tests (root included).
    let out = Path::new("/proc/otaplan-test/out");
    let (code, stdout, err) = run(&["plan", s(&data("minimal")), "--out", s(out)]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(stdout, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: --out /proc/otaplan-test/out cannot be created: /proc cannot be written: "
        ) && err.trim_end().ends_with("; nothing was planned"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn plan_export_model_into_a_folder_or_below_a_file() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    fails_with_one_line(
        &[
            "plan",
            s(&data("minimal")),
            "--out",
            s(&out),
            "--export-model",
            s(d.path()),
        ],
        &format!(
            "error: --export-model {} is a folder, not a file; nothing was planned",
            d.path().display()
        ),
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn plan_progress_that_does_not_exist() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let progress = d.path().join("progress.csv");
    fails_with_one_line(
        &[
            "plan",
            s(&data("minimal")),
            "--out",
            s(&out),
            "--progress",
            s(&progress),
            "--now",
            "2027-03-25T00:00:00Z",
        ],
        &format!(
            "error: --progress {}: no such file; nothing was planned",
            progress.display()
        ),
    );
    assert!(!out.exists());
}

#[test]
fn simulate_plan_that_does_not_exist() {
    let (code, out, err) = run(&["simulate", s(&data("minimal")), "--plan", "nothing"]);
    assert_eq!(code, Some(1));
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error: --plan nothing: no such folder (give the folder `otaplan plan --out` wrote); nothing was simulated\n"
    );
    assert!(!err.contains("[tables]"), "{err}");
}

#[test]
fn simulate_plan_folder_without_a_plan() {
    let d = tempfile::tempdir().unwrap();
    fails_with_one_line(
        &["simulate", s(&data("minimal")), "--plan", s(d.path())],
        &format!(
            "error: --plan {p} holds no plan.csv: make one with `otaplan plan {} --out {p}`; nothing was simulated",
            data("minimal").display(),
            p = d.path().display()
        ),
    );
}

/// A plan folder as `otaplan plan` leaves it, for `scenario`, with these device ids.
fn fake_plan(dir: &Path, scenario: &str, ids: &[&str]) {
    let mut csv = String::from(
        "device_id,wave,pool_id,region,timezone,payload,payload_bytes,expected_bytes,window_start,window_end,p_success\n",
    );
    for id in ids {
        csv += &format!(
            "{id},fleet,p-month,eu-central,Europe/Berlin,full,12000000,12480000,2027-03-22T23:00:00Z,2027-03-23T01:00:00Z,0.95\n"
        );
    }
    fs::write(dir.join("plan.csv"), csv).unwrap();
    fs::write(
        dir.join("summary.json"),
        format!(
            "{{\"scenario\": \"{scenario}\", \"devices\": {}}}",
            ids.len()
        ),
    )
    .unwrap();
}

#[test]
fn simulate_a_plan_of_another_scenario() {
    let d = tempfile::tempdir().unwrap();
    fake_plan(d.path(), "seed-fleet", &["v00001", "v00002", "v00003"]);
    fails_with_one_line(
        &["simulate", s(&data("minimal")), "--plan", s(d.path())],
        &format!(
            "error: the plan in {} belongs to scenario \"seed-fleet\", not to \"minimal\" ({}): simulate it with the scenario it was planned from; nothing was simulated",
            d.path().display(),
            data("minimal").display()
        ),
    );
    assert_eq!(names_in(d.path()), ["plan.csv", "summary.json"]);
}

#[test]
fn simulate_a_plan_of_other_devices_is_one_error() {
    // Same scenario name, other devices (say, generated again at another size): one
    // error for the first unknown id, the rest counted in its note.
    let d = tempfile::tempdir().unwrap();
    fake_plan(d.path(), "minimal", &["v00001", "v00002", "v00003", "d01"]);
    let (code, out, err) = run(&["simulate", s(&data("minimal")), "--plan", s(d.path())]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error: plan.csv row 1, column device_id, value \"v00001\": unknown device_id: not in the scenario's devices\n  \
         …and 2 rows further down name device_ids that scenario minimal (10 devices) does not have: was this table made for another scenario?\n"
    );
    assert_eq!(names_in(d.path()), ["plan.csv", "summary.json"]);
}

#[test]
fn simulate_a_plan_whose_payload_names_no_artifact_chain() {
    let d = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["plan", s(&data("minimal")), "--out", s(d.path()), "--quiet"]);
    assert_eq!(code, Some(0), "{err}");
    let plan = d.path().join("plan.csv");
    let text = fs::read_to_string(&plan).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cells: Vec<&str> = lines[2].split(',').collect();
    cells[5] = "full@9.9.9>2.4.0";
    lines[2] = cells.join(",");
    fs::write(&plan, lines.join("\n") + "\n").unwrap();
    fails_with_one_line(
        &["simulate", s(&data("minimal")), "--plan", s(d.path())],
        "error: plan.csv row 2, column payload, value \"full@9.9.9>2.4.0\": payload is not a chain of the scenario's artifacts to the release: no artifact is a full image of 9.9.9",
    );
    assert!(!d.path().join("simulation.json").exists());
}
