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

/// Breaks the fixture with `f`, validates, and returns the errors (the CLI agrees: exit
/// code 1 and every message on stderr).
fn errors_after(f: impl FnOnce(&Path)) -> Vec<Diagnostic> {
    let d = copy_fixture();
    f(d.path());
    let errs = errors_after_in(d.path());
    assert!(!errs.is_empty());
    errs
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
fn install_minutes_is_checked_like_the_other_stop_rules() {
    for (value, message) in [("-5", "must not be negative"), ("\"ten\"", "number")] {
        let errs = errors_after(|d| {
            edit(
                d,
                "scenario.toml",
                "reconnect_minutes = 30",
                &format!("reconnect_minutes = 30\ninstall_minutes = {value}"),
            )
        });
        expect(
            &errs,
            "scenario.toml",
            None,
            "stop_rules.install_minutes",
            None,
            message,
        );
    }
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
    assert!(e.message.contains("1.0.0 (1 device)"), "{e}");
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

// One cause, one error (issue 13): a problem whose consequences would show up as many
// errors elsewhere is reported once, with what was not checked because of it.

/// Breaks the fixture, validates, asserts there is exactly one error (through the
/// library and in the CLI's closing line, "1 error") and returns it.
fn single_error(f: impl FnOnce(&Path)) -> Diagnostic {
    let d = copy_fixture();
    f(d.path());
    let errs = errors_after_in(d.path());
    assert_eq!(errs.len(), 1, "{}", Diagnostics(errs.clone()));
    let out = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("validate")
        .arg(d.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.ends_with(": 1 error, 0 warnings"), "{stderr}");
    errs.into_iter().next().unwrap()
}

/// The errors of an already broken copy, checked against the CLI like `errors_after`.
fn errors_after_in(dir: &Path) -> Vec<Diagnostic> {
    let errs: Vec<Diagnostic> = match read_scenario(dir) {
        Ok(_) => panic!("expected validation errors"),
        Err(diags) => diags.errors().cloned().collect(),
    };
    let out = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("validate")
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for e in &errs {
        assert!(
            stderr.contains(&e.to_string()),
            "stderr lacks {e}\n{stderr}"
        );
    }
    errs
}

fn located(
    e: &Diagnostic,
    file: &str,
    row: Option<usize>,
    column: Option<&str>,
    value: Option<&str>,
) {
    assert_eq!(e.file, file, "{e}");
    assert_eq!(e.row, row, "{e}");
    assert_eq!(e.column.as_deref(), column, "{e}");
    assert_eq!(e.value.as_deref(), value, "{e}");
}

#[test]
fn a_bad_cycle_timezone_is_one_error_not_one_per_device_of_the_pool() {
    // p-month has 4 devices and 3 overage tiers; before, each was "unknown pool".
    let e = single_error(|d| {
        edit(
            d,
            "pools.csv",
            "p-month,mvno-calendar,500,1,Europe/Berlin",
            "p-month,mvno-calendar,500,1,Europe/Berln",
        )
    });
    located(
        &e,
        "pools.csv",
        Some(1),
        Some("cycle_timezone"),
        Some("Europe/Berln"),
    );
    assert!(e.message.contains("not an IANA time zone"), "{e}");
    assert_eq!(
        e.note.as_deref(),
        Some("…and 4 devices, 3 overage tiers of pool p-month are not checked further")
    );
}

#[test]
fn an_allowance_that_is_not_a_number_is_one_error() {
    let e = single_error(|d| {
        edit(
            d,
            "pools.csv",
            "p-pause,carrier-anniversary,300,",
            "p-pause,carrier-anniversary,82k,",
        )
    });
    located(&e, "pools.csv", Some(2), Some("allowance_mb"), Some("82k"));
    assert_eq!(e.message, "not a number");
    assert_eq!(
        e.note.as_deref(),
        Some("…and 3 devices, 1 overage tier of pool p-pause are not checked further")
    );
}

#[test]
fn a_bad_region_row_folds_its_devices_and_waves() {
    let e = single_error(|d| edit(d, "regions.csv", "us-east,40,", "us-east,forty,"));
    located(
        &e,
        "regions.csv",
        Some(2),
        Some("capacity_mb_per_hour"),
        Some("forty"),
    );
    assert_eq!(
        e.note.as_deref(),
        Some("…and 4 devices, 1 wave of region us-east are not checked further")
    );
}

#[test]
fn a_missing_radio_column_does_not_empty_the_waves() {
    // Before: also "the waves before the last ask for 5 devices but only 0 need the release".
    let e = single_error(|d| {
        let p = d.join("devices.csv");
        let text = fs::read_to_string(&p).unwrap();
        let cut: Vec<String> = text
            .lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split(',').collect();
                f.remove(5);
                f.join(",")
            })
            .collect();
        fs::write(&p, cut.join("\n") + "\n").unwrap();
    });
    located(&e, "devices.csv", None, Some("radio"), None);
    assert_eq!(e.message, "required column is missing");
}

#[test]
fn a_row_with_an_extra_field_names_its_row_line_and_the_header() {
    let e = single_error(|d| {
        edit(
            d,
            "devices.csv",
            "d03,p-month,us-east,America/New_York,2.3.0,ltem,false,true,,hw-a,",
            "d03,p-month,us-east,America/New_York,2.3.0,ltem,false,true,,hw-a,,oops",
        )
    });
    located(&e, "devices.csv", Some(3), None, None);
    assert_eq!(
        e.message,
        "line 4 has 12 fields but the header has 11: device_id, pool_id, region, timezone, \
         current_version, radio, canary_eligible, critical, zone, hardware, depot"
    );
    assert!(e.note.is_none(), "{e}");
}

#[test]
fn more_rows_with_extra_fields_are_counted_on_the_first() {
    let e = single_error(|d| {
        edit(d, "regions.csv", "asia-south,20,", "asia-south,20,,x");
        edit(d, "regions.csv", "au-south,20,", "au-south,20,,x,y");
    });
    located(&e, "regions.csv", Some(3), None, None);
    assert!(
        e.message
            .starts_with("line 4 has 4 fields but the header has 3: region, "),
        "{e}"
    );
    assert_eq!(
        e.note.as_deref(),
        Some("…and 1 row further down has too many fields")
    );
}

#[test]
fn a_zero_cap_is_one_error_not_two() {
    // Before: also "on_cap is pause but cap_mb is empty".
    let e = single_error(|d| edit(d, "pools.csv", "pause,360", "pause,0"));
    located(&e, "pools.csv", Some(2), Some("cap_mb"), Some("0"));
    assert_eq!(e.message, "must be greater than zero");
}

#[test]
fn an_empty_cap_on_a_pause_pool_is_still_reported() {
    let e = single_error(|d| edit(d, "pools.csv", "pause,360", "pause,"));
    located(&e, "pools.csv", Some(2), Some("cap_mb"), None);
    assert_eq!(e.message, "on_cap is pause but cap_mb is empty");
}

#[test]
fn a_rejected_artifact_row_does_not_add_an_unreachable_release() {
    // With the full images, d04 (1.9.0) does not need its delta; without them, breaking
    // the delta leaves d04 stuck only because of the broken row.
    let e = single_error(|d| {
        edit(
            d,
            "artifacts.csv",
            "1.9.0,2.4.0,16800000,",
            "1.9.0,2.4.0,16.8M,",
        )
    });
    located(
        &e,
        "artifacts.csv",
        Some(5),
        Some("size_bytes"),
        Some("16.8M"),
    );
    assert!(
        e.note.is_none(),
        "1.9.0 reaches 2.4.0 through the full image: {e}"
    );
    let e = single_error(|d| {
        edit(d, "artifacts.csv", ",2.4.0,12000000,true\n", "");
        edit(d, "artifacts.csv", ",2.3.0,11500000,true\n", "");
        edit(
            d,
            "artifacts.csv",
            "1.9.0,2.4.0,16800000,",
            "1.9.0,2.4.0,16.8M,",
        );
    });
    located(
        &e,
        "artifacts.csv",
        Some(3),
        Some("size_bytes"),
        Some("16.8M"),
    );
    assert_eq!(
        e.note.as_deref(),
        Some(
            "…and whether current_version 1.9.0 (1 device) reaches release 2.4.0 is not checked further"
        )
    );
}

#[test]
fn a_rejected_tier_row_does_not_leave_its_pool_without_tiers() {
    let e = single_error(|d| edit(d, "overage_tiers.csv", "p-pause,,1.00", "p-pause,,one"));
    located(
        &e,
        "overage_tiers.csv",
        Some(4),
        Some("price_per_mb"),
        Some("one"),
    );
}

#[test]
fn a_missing_overage_tiers_file_is_one_error() {
    // Before: also "pool has no overage tier" for each of the three pools.
    let e = single_error(|d| fs::remove_file(d.join("overage_tiers.csv")).unwrap());
    assert_eq!(
        (e.file.as_str(), e.row, e.column.as_deref()),
        ("overage_tiers.csv", None, None)
    );
    assert_eq!(e.message, "file not found");
}

#[test]
fn a_rejected_zone_rate_folds_the_devices_roaming_in_it() {
    let e = single_error(|d| {
        edit(
            d,
            "zone_rates.csv",
            "p-payg,roam-eu,0.08",
            "p-payg,roam-eu,cheap",
        )
    });
    located(
        &e,
        "zone_rates.csv",
        Some(1),
        Some("price_per_mb"),
        Some("cheap"),
    );
    assert_eq!(
        e.note.as_deref(),
        Some("…and 1 device of zone roam-eu of pool p-payg is not checked further")
    );
}

#[test]
fn independent_problems_are_still_all_reported() {
    let d = copy_fixture();
    edit(d.path(), "pools.csv", "pause,360", "pause,0");
    edit(
        d.path(),
        "devices.csv",
        "d06,p-payg,asia-south",
        "d06,p-payg,mars",
    );
    edit(
        d.path(),
        "scenario.toml",
        "slot_minutes = 60",
        "slot_minutes = 7",
    );
    let errs = errors_after_in(d.path());
    assert_eq!(errs.len(), 3, "{}", Diagnostics(errs.clone()));
    let out = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("validate")
        .arg(d.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim_end().ends_with(": 3 errors, 0 warnings"),
        "{stderr}"
    );
}

#[test]
fn one_warning_is_one_warning() {
    let d = copy_fixture();
    edit(
        d.path(),
        "scenario.toml",
        "currency = \"USD\"",
        "currency = \"USD\"\ncurency = \"EUR\"",
    );
    let out = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("validate")
        .arg(d.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("minimal: ok — 10 devices, 3 pools, 4 regions, 5 artifacts, 3 waves")
            && stdout.trim_end().ends_with("(1 warning)"),
        "{stdout}"
    );
}
