//! `otaplan validate`: every kind of bad input named in the foundation issue is caught,
//! located by file, row, column and value, and the CLI exits 1. Each test copies the
//! `tests/data/minimal` fixture into a temporary folder and breaks one thing.

use assert_cmd::Command;
use otaplan::diag::{Diagnostic, Diagnostics};
use otaplan::ingest::read_scenario;
use std::fs;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minimal")
}

fn copy_fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in fs::read_dir(fixture()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
    }
    d
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let s = fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{file} does not contain {from:?}");
    fs::write(&p, s.replacen(from, to, 1)).unwrap();
}

/// Breaks the fixture with `f`, validates, and returns the errors.
fn errors_after(f: impl FnOnce(&Path)) -> Vec<Diagnostic> {
    let d = copy_fixture();
    f(d.path());
    match read_scenario(d.path()) {
        Ok(_) => panic!("expected validation errors"),
        Err(diags) => {
            let errs: Vec<Diagnostic> = diags.errors().cloned().collect();
            assert!(!errs.is_empty());
            // The CLI agrees: exit code 1 and the message on stderr.
            let out = Command::cargo_bin("otaplan")
                .unwrap()
                .arg("validate")
                .arg(d.path())
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            for e in &errs {
                assert!(
                    stderr.contains(&e.to_string()),
                    "stderr lacks {e}\n{stderr}"
                );
            }
            errs
        }
    }
}

/// Asserts one error has this file, row, column and value (None = not checked).
fn expect(
    errs: &[Diagnostic],
    file: &str,
    row: Option<usize>,
    column: &str,
    value: Option<&str>,
    msg: &str,
) {
    let hit = errs.iter().any(|e| {
        e.file == file
            && (row.is_none() || e.row == row)
            && e.column.as_deref() == Some(column)
            && (value.is_none() || e.value.as_deref() == value)
            && e.message.contains(msg)
    });
    assert!(
        hit,
        "no error {file} row {row:?} column {column} value {value:?} ~ {msg:?} in:\n{}",
        Diagnostics(errs.to_vec())
    );
}

#[test]
fn the_fixture_is_valid() {
    let l = read_scenario(&fixture()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.scenario.devices.len(), 10);
    assert_eq!(l.scenario.pools.len(), 3);
    Command::cargo_bin("otaplan")
        .unwrap()
        .arg("validate")
        .arg(fixture())
        .assert()
        .success();
}

#[test]
fn missing_file() {
    let errs = errors_after(|d| fs::remove_file(d.join("pools.csv")).unwrap());
    assert!(
        errs.iter()
            .any(|e| e.file == "pools.csv" && e.message.contains("file not found"))
    );
}

#[test]
fn missing_scenario_toml() {
    let errs = errors_after(|d| fs::remove_file(d.join("scenario.toml")).unwrap());
    assert!(
        errs.iter()
            .any(|e| e.file == "scenario.toml" && e.message.contains("file not found"))
    );
}

#[test]
fn misspelled_column() {
    let errs = errors_after(|d| edit(d, "devices.csv", "timezone,", "timezon,"));
    expect(
        &errs,
        "devices.csv",
        None,
        "timezone",
        None,
        "required column is missing",
    );
    assert!(
        errs.iter()
            .any(|e| e.hint.as_deref().is_some_and(|h| h.contains("timezon")))
    );
}

#[test]
fn missing_column() {
    let errs = errors_after(|d| {
        let p = d.join("regions.csv");
        fs::write(p, "region\neu-central\n").unwrap();
    });
    expect(
        &errs,
        "regions.csv",
        None,
        "capacity_mb_per_hour",
        None,
        "required column is missing",
    );
}

#[test]
fn empty_table() {
    let errs = errors_after(|d| {
        fs::write(
            d.join("artifacts.csv"),
            "from_version,to_version,size_bytes,resumable\n",
        )
        .unwrap()
    });
    assert!(
        errs.iter()
            .any(|e| e.file == "artifacts.csv" && e.message.contains("no rows"))
    );
}

#[test]
fn duplicate_device_id() {
    let errs = errors_after(|d| edit(d, "devices.csv", "d05,", "d04,"));
    expect(
        &errs,
        "devices.csv",
        Some(5),
        "device_id",
        Some("d04"),
        "duplicate device_id (first on row 4)",
    );
}

#[test]
fn unknown_pool() {
    let errs = errors_after(|d| edit(d, "devices.csv", "d03,p-month", "d03,p-mnth"));
    expect(
        &errs,
        "devices.csv",
        Some(3),
        "pool_id",
        Some("p-mnth"),
        "unknown pool",
    );
    assert!(
        errs.iter()
            .any(|e| e.hint.as_deref() == Some("did you mean \"p-month\"?"))
    );
}

#[test]
fn unknown_region() {
    let errs = errors_after(|d| edit(d, "devices.csv", "d06,p-payg,asia-south", "d06,p-payg,mars"));
    expect(
        &errs,
        "devices.csv",
        Some(6),
        "region",
        Some("mars"),
        "unknown region",
    );
}

#[test]
fn unknown_zone() {
    let errs = errors_after(|d| edit(d, "devices.csv", "roam-eu", "roam-us"));
    expect(
        &errs,
        "devices.csv",
        Some(7),
        "zone",
        Some("roam-us"),
        "unknown zone for pool p-payg",
    );
}

#[test]
fn invalid_time_zone() {
    let errs = errors_after(|d| {
        edit(
            d,
            "devices.csv",
            "d02,p-month,eu-central,Europe/Berlin",
            "d02,p-month,eu-central,Europe/Berln",
        )
    });
    expect(
        &errs,
        "devices.csv",
        Some(2),
        "timezone",
        Some("Europe/Berln"),
        "not an IANA time zone",
    );
    assert!(
        errs.iter()
            .any(|e| e.hint.as_deref() == Some("did you mean \"Europe/Berlin\"?"))
    );
}

#[test]
fn invalid_cycle_time_zone() {
    let errs = errors_after(|d| edit(d, "pools.csv", "America/New_York", "EST5"));
    expect(
        &errs,
        "pools.csv",
        Some(2),
        "cycle_timezone",
        Some("EST5"),
        "not an IANA time zone",
    );
}

#[test]
fn timestamp_without_offset() {
    let errs = errors_after(|d| {
        edit(
            d,
            "scenario.toml",
            "2027-03-22T00:00:00Z",
            "2027-03-22T00:00:00",
        )
    });
    expect(
        &errs,
        "scenario.toml",
        None,
        "start",
        Some("2027-03-22T00:00:00"),
        "no offset",
    );
}

#[test]
fn deadline_not_after_start() {
    let errs = errors_after(|d| {
        edit(
            d,
            "scenario.toml",
            "2027-04-05T00:00:00Z",
            "2027-03-21T00:00:00Z",
        )
    });
    expect(
        &errs,
        "scenario.toml",
        None,
        "deadline",
        Some("2027-03-21T00:00:00Z"),
        "deadline must be after start",
    );
}

#[test]
fn slot_minutes_must_divide_the_hour_or_day() {
    let errs = errors_after(|d| edit(d, "scenario.toml", "slot_minutes = 60", "slot_minutes = 50"));
    expect(
        &errs,
        "scenario.toml",
        None,
        "slot_minutes",
        Some("50"),
        "must divide 60 or 1440",
    );
}

#[test]
fn malformed_window_hour() {
    let errs = errors_after(|d| {
        edit(
            d,
            "scenario.toml",
            "default = [\"01:00-05:00\"]",
            "default = [\"25:00-03:00\"]",
        )
    });
    expect(
        &errs,
        "scenario.toml",
        None,
        "windows.default[0]",
        Some("25:00-03:00"),
        "malformed window",
    );
}

#[test]
fn empty_window() {
    let errs = errors_after(|d| edit(d, "scenario.toml", "[\"22:00-04:00\"]", "[\"03:00-03:00\"]"));
    expect(
        &errs,
        "scenario.toml",
        None,
        "windows.regions.eu-central[0]",
        Some("03:00-03:00"),
        "empty",
    );
}

#[test]
fn cycle_day_out_of_range() {
    let errs = errors_after(|d| edit(d, "pools.csv", "300,15,", "300,31,"));
    expect(
        &errs,
        "pools.csv",
        Some(2),
        "cycle_day",
        Some("31"),
        "between 1 and 28",
    );
}

#[test]
fn zero_or_negative_sizes() {
    let errs = errors_after(|d| {
        edit(d, "artifacts.csv", "12000000", "0");
        edit(d, "artifacts.csv", "900000", "-5");
    });
    expect(
        &errs,
        "artifacts.csv",
        Some(1),
        "size_bytes",
        Some("0"),
        "greater than zero",
    );
    expect(
        &errs,
        "artifacts.csv",
        Some(4),
        "size_bytes",
        Some("-5"),
        "greater than zero",
    );
}

#[test]
fn negative_allowance() {
    let errs = errors_after(|d| {
        edit(
            d,
            "pools.csv",
            "p-month,mvno-calendar,500",
            "p-month,mvno-calendar,-500",
        )
    });
    expect(
        &errs,
        "pools.csv",
        Some(1),
        "allowance_mb",
        Some("-500"),
        "must not be negative",
    );
}

#[test]
fn tiers_out_of_order() {
    let errs = errors_after(|d| {
        edit(
            d,
            "overage_tiers.csv",
            "p-month,500,0.039",
            "p-month,50,0.039",
        )
    });
    expect(
        &errs,
        "overage_tiers.csv",
        Some(2),
        "up_to_mb",
        Some("50"),
        "tiers out of order",
    );
}

#[test]
fn two_unbounded_tiers() {
    let errs = errors_after(|d| {
        edit(
            d,
            "overage_tiers.csv",
            "p-month,500,0.039",
            "p-month,,0.039",
        )
    });
    expect(
        &errs,
        "overage_tiers.csv",
        Some(3),
        "up_to_mb",
        None,
        "two unbounded tiers",
    );
}

#[test]
fn pool_without_tiers() {
    let errs = errors_after(|d| edit(d, "overage_tiers.csv", "p-payg,,0.05\n", ""));
    expect(
        &errs,
        "overage_tiers.csv",
        None,
        "pool_id",
        Some("p-payg"),
        "no overage tier",
    );
}

#[test]
fn no_way_to_the_release() {
    let errs = errors_after(|d| {
        edit(d, "artifacts.csv", ",2.4.0,12000000,true\n", "");
        edit(d, "artifacts.csv", ",2.3.0,11500000,true\n", "");
        edit(
            d,
            "devices.csv",
            "d06,p-payg,asia-south,Asia/Kathmandu,2.3.0",
            "d06,p-payg,asia-south,Asia/Kathmandu,1.0.0",
        );
    });
    let e = errs
        .iter()
        .find(|e| e.message.contains("no artifact chain"))
        .expect("reachability error");
    assert_eq!(e.file, "artifacts.csv");
    assert!(e.message.contains("1.0.0 (1 devices)"), "{e}");
    assert!(
        !e.message.contains("2.2.0"),
        "2.2.0 reaches 2.4.0 through 2.3.0: {e}"
    );
}

#[test]
fn waves_larger_than_the_fleet() {
    let errs = errors_after(|d| edit(d, "scenario.toml", "size = 3", "size = 30"));
    expect(
        &errs,
        "scenario.toml",
        None,
        "waves",
        None,
        "ask for 32 devices but only 9 need the release",
    );
}

#[test]
fn unknown_wave_region() {
    let errs = errors_after(|d| {
        edit(
            d,
            "scenario.toml",
            "region = \"us-east\"",
            "region = \"us-est\"",
        )
    });
    expect(
        &errs,
        "scenario.toml",
        None,
        "waves[1].region",
        Some("us-est"),
        "unknown wave region",
    );
}

#[test]
fn non_boolean_in_bool_column() {
    let errs = errors_after(|d| {
        edit(
            d,
            "devices.csv",
            "d03,p-month,us-east,America/New_York,2.3.0,ltem,false",
            "d03,p-month,us-east,America/New_York,2.3.0,ltem,maybe",
        )
    });
    expect(
        &errs,
        "devices.csv",
        Some(3),
        "canary_eligible",
        Some("maybe"),
        "not a boolean",
    );
}

#[test]
fn parquet_column_of_the_wrong_type() {
    use polars::prelude::*;
    let errs = errors_after(|d| {
        let mut df = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(d.join("devices.csv")))
            .unwrap()
            .finish()
            .unwrap();
        // Make `critical` an integer column instead of a boolean one.
        let crit: Vec<i64> = (0..df.height() as i64).map(|i| i % 2).collect();
        df.with_column(Column::new("critical".into(), crit))
            .unwrap();
        let mut f = fs::File::create(d.join("devices.parquet")).unwrap();
        ParquetWriter::new(&mut f).finish(&mut df).unwrap();
        edit(
            d,
            "scenario.toml",
            "devices = \"devices.csv\"",
            "devices = \"devices.parquet\"",
        );
    });
    expect(
        &errs,
        "devices.parquet",
        None,
        "critical",
        None,
        "column has type i64; expected boolean",
    );
}

#[test]
fn parquet_devices_are_read() {
    use polars::prelude::*;
    let d = copy_fixture();
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(d.path().join("devices.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let mut f = fs::File::create(d.path().join("devices.parquet")).unwrap();
    ParquetWriter::new(&mut f).finish(&mut df).unwrap();
    edit(
        d.path(),
        "scenario.toml",
        "devices = \"devices.csv\"",
        "devices = \"devices.parquet\"",
    );
    let from_parquet = read_scenario(d.path()).unwrap_or_else(|e| panic!("{e}"));
    let from_csv = read_scenario(&fixture()).unwrap();
    assert_eq!(from_parquet.scenario.devices, from_csv.scenario.devices);
}

#[test]
fn all_problems_are_reported_at_once() {
    let errs = errors_after(|d| {
        edit(d, "devices.csv", "d03,p-month", "d03,p-nope");
        edit(d, "pools.csv", "300,15,", "300,0,");
        edit(d, "scenario.toml", "slot_minutes = 60", "slot_minutes = 7");
    });
    assert!(errs.len() >= 3, "{}", Diagnostics(errs.clone()));
}

#[test]
fn warnings_do_not_fail() {
    let d = copy_fixture();
    edit(
        d.path(),
        "scenario.toml",
        "currency = \"USD\"",
        "currency = \"USD\"\ncurency = \"EUR\"",
    );
    let l = read_scenario(d.path()).unwrap_or_else(|e| panic!("{e}"));
    let w: Vec<_> = l.warnings.warnings().collect();
    assert!(
        w.iter().any(|w| w.column.as_deref() == Some("curency")),
        "{:?}",
        w
    );
    Command::cargo_bin("otaplan")
        .unwrap()
        .arg("validate")
        .arg(d.path())
        .assert()
        .success();
}
