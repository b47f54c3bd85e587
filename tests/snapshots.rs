//! Snapshot tests (insta): every subcommand's `--help` text and `summary.json` of the
//! minimal fixture, so an unintended change of what users read shows up in review as a
//! changed file under `tests/snapshots/`. Timings are redacted (`[seconds]`); nothing
//! else in summary.json depends on the machine.
//!
//! A deliberate change: run with `INSTA_UPDATE=always` (or `cargo insta review`) and
//! commit the new snapshots. Under CI, insta writes none and fails on a difference.

mod common;

use common::{data, help, run_plan};
use serde_json::Value;

const SUBCOMMANDS: [&str; 8] = [
    "validate",
    "plan",
    "generate",
    "fit-coverage",
    "simulate",
    "report",
    "serve",
    "export",
];

#[test]
fn help_of_otaplan() {
    insta::assert_snapshot!("help", help(&[]));
}

#[test]
fn help_of_every_subcommand() {
    for sub in SUBCOMMANDS {
        insta::assert_snapshot!(format!("help-{sub}"), help(&[sub]));
    }
}

/// Replaces every value whose key ends in `seconds` (wall-clock timings) by a marker.
fn redact_timings(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.ends_with("seconds") {
                    *x = Value::String("[seconds]".into());
                } else {
                    redact_timings(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_timings),
        _ => {}
    }
}

#[test]
fn summary_of_the_minimal_fixture() {
    let out = tempfile::tempdir().unwrap();
    run_plan(&data("minimal"), out.path(), &["--no-report"]);
    let text = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    let mut summary: Value = serde_json::from_str(&text).unwrap();
    redact_timings(&mut summary);
    insta::assert_json_snapshot!("summary-minimal", summary);
}
