//! The closing lines of `otaplan plan` count the right things (issue 13): every device
//! once — scheduled, already done, downloading, could not be placed, already on the
//! release — and `--export-model` names the files it wrote.

mod common;

use assert_cmd::Command;
use common::{data, read_csv};
use std::path::Path;

/// Runs `otaplan plan minimal --out OUT --quiet [extra…]`; returns (stdout, stderr).
fn plan(out: &Path, extra: &[&str]) -> (String, String) {
    let o = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("plan")
        .arg(data("minimal"))
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--no-baselines", "--no-report"])
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{stderr}");
    (stdout, stderr)
}

/// The counts of the closing line "minimal: 10 devices: 7 scheduled, …; projected …",
/// by their words.
fn counts(line: &str) -> Vec<(String, usize)> {
    let head = line
        .strip_prefix("minimal: 10 devices: ")
        .unwrap_or_else(|| panic!("{line}"));
    let head = head.split("; projected").next().unwrap();
    head.split(", ")
        .map(|part| {
            let (n, what) = part.split_once(' ').unwrap();
            let what = what.split(" (see ").next().unwrap();
            (what.to_string(), n.replace(',', "").parse().unwrap())
        })
        .collect()
}

fn unscheduled_not(out: &Path, prefixes: &[&str]) -> usize {
    read_csv(&out.join("unscheduled.csv"))
        .iter()
        .filter(|r| !prefixes.iter().any(|p| r["reason"].starts_with(p)))
        .count()
}

#[test]
fn a_plan_counts_scheduled_unplaced_and_up_to_date() {
    let d = tempfile::tempdir().unwrap();
    let (stdout, _) = plan(d.path(), &[]);
    let c = counts(stdout.trim_end());
    let words: Vec<&str> = c.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        words,
        ["scheduled", "could not be placed", "already on 2.4.0"]
    );
    assert_eq!(c[0].1, read_csv(&d.path().join("plan.csv")).len());
    assert_eq!(c[1].1, unscheduled_not(d.path(), &["already on"]));
    assert_eq!(c[2].1, 1, "d08 is on 2.4.0");
    assert_eq!(c.iter().map(|(_, n)| n).sum::<usize>(), 10);
}

#[test]
fn a_replan_separates_done_and_downloading_from_unplaced() {
    let d = tempfile::tempdir().unwrap();
    let progress = d.path().join("progress.csv");
    std::fs::write(
        &progress,
        "device_id,state,bytes_used\nd01,done,900000\nd02,in_progress,500000\nd05,failed,100000\nd08,done,0\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let (stdout, _) = plan(
        &out,
        &[
            "--progress",
            progress.to_str().unwrap(),
            "--now",
            "2027-03-24T00:00:00Z",
        ],
    );
    let c = counts(stdout.trim_end());
    let words: Vec<&str> = c.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        words,
        [
            "scheduled",
            "already done",
            "downloading",
            "could not be placed",
            "already on 2.4.0"
        ]
    );
    assert_eq!(c[0].1, read_csv(&out.join("plan.csv")).len());
    assert_eq!((c[1].1, c[2].1), (1, 1), "d01 done, d02 downloading");
    assert_eq!(
        c[3].1,
        unscheduled_not(&out, &["already on", "done before", "downloading at"])
    );
    assert_eq!(c[4].1, 1, "d08 is on 2.4.0 (its `done` changes nothing)");
    assert_eq!(c.iter().map(|(_, n)| n).sum::<usize>(), 10);
}

#[test]
fn export_model_names_the_files_it_wrote() {
    let d = tempfile::tempdir().unwrap();
    let mps = d.path().join("model.mps");
    let (_, stderr) = plan(
        &d.path().join("out"),
        &["--export-model", mps.to_str().unwrap()],
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("exported the model solved: "))
        .unwrap_or_else(|| panic!("no export line in {stderr}"));
    let files: Vec<&str> = line["exported the model solved: ".len()..]
        .split(", ")
        .map(|f| f.split(" (").next().unwrap())
        .collect();
    assert!(!files.is_empty());
    for f in &files {
        assert!(Path::new(f).is_file(), "{f} listed but not written");
    }
    let written = std::fs::read_dir(d.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".mps")
        })
        .count();
    assert_eq!(written, files.len(), "{line}");
}
