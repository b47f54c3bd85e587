//! Tests of the generator on small fleets: determinism, the contract's columns and referential integrity.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::TimeZone as _;
use polars::prelude::*;

use super::*;

fn opts(
    dir: &Path,
    preset: Preset,
    devices: usize,
    seed: u64,
    format: TableFormat,
) -> GenerateOptions {
    GenerateOptions {
        devices,
        seed,
        out: dir.to_path_buf(),
        preset,
        coverage_days: Some(2),
        devices_format: format,
    }
}

fn run(o: &GenerateOptions) -> GenerateReport {
    generate(o, &|_, _| {}).expect("generation succeeds")
}

/// A CSV table as (header, rows); generated CSV never quotes.
fn csv(dir: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join(name)).expect("table exists");
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>());
    let header = lines.next().expect("header");
    (header, lines.collect())
}

fn column<'a>(header: &[String], rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let i = header
        .iter()
        .position(|h| h == name)
        .expect("column exists");
    rows.iter().map(|r| r[i].as_str()).collect()
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_byte_identical_files() {
    for format in [TableFormat::Csv, TableFormat::Parquet] {
        let (a, b) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        run(&opts(a.path(), Preset::Sample, 400, 7, format));
        run(&opts(b.path(), Preset::Sample, 400, 7, format));
        let (fa, fb) = (files(a.path()), files(b.path()));
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        assert!(fa.contains_key("coverage.parquet"));
        for (name, bytes) in &fa {
            assert!(
                bytes == &fb[name],
                "{name} differs between two runs with the same seed"
            );
        }
    }
}

#[test]
fn different_seed_gives_different_devices() {
    let (a, b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    run(&opts(a.path(), Preset::Sample, 300, 1, TableFormat::Csv));
    run(&opts(b.path(), Preset::Sample, 300, 2, TableFormat::Csv));
    let read = |d: &Path| std::fs::read(d.join("devices.csv")).expect("devices");
    assert_ne!(read(a.path()), read(b.path()));
    let read = |d: &Path| std::fs::read(d.join("coverage.parquet")).expect("coverage");
    assert_ne!(read(a.path()), read(b.path()));
}

#[test]
fn tables_have_exactly_the_contract_columns() {
    let dir = tempfile::tempdir().expect("tmp");
    run(&opts(dir.path(), Preset::Sample, 200, 3, TableFormat::Csv));
    let expect = [
        ("devices.csv", &DEVICE_COLUMNS[..]),
        (
            "pools.csv",
            &[
                "pool_id",
                "provider",
                "allowance_mb",
                "cycle_day",
                "cycle_timezone",
                "used_mb",
                "baseline_mb_per_day",
                "on_cap",
                "cap_mb",
            ][..],
        ),
        (
            "overage_tiers.csv",
            &["pool_id", "up_to_mb", "price_per_mb"][..],
        ),
        ("zone_rates.csv", &["pool_id", "zone", "price_per_mb"][..]),
        (
            "artifacts.csv",
            &["from_version", "to_version", "size_bytes", "resumable"][..],
        ),
        (
            "regions.csv",
            &[
                "region",
                "capacity_mb_per_hour",
                "hard_capacity_mb_per_hour",
            ][..],
        ),
    ];
    for (name, cols) in expect {
        let (header, rows) = csv(dir.path(), name);
        assert_eq!(header, cols, "{name}");
        assert!(
            rows.iter().all(|r| r.len() == cols.len()),
            "{name} has ragged rows"
        );
    }
    let f = std::fs::File::open(dir.path().join("coverage.parquet")).expect("coverage");
    let df = ParquetReader::new(f).finish().expect("parquet");
    let schema: Vec<(String, DataType)> = df
        .schema()
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    assert_eq!(
        schema,
        vec![
            ("device_id".into(), DataType::String),
            (
                "ts".into(),
                DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            ),
            ("online".into(), DataType::Boolean),
            ("throughput_kbps".into(), DataType::Float64),
            ("dropped".into(), DataType::Boolean),
        ]
    );
}

#[test]
fn parquet_devices_match_csv_devices() {
    let (a, b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    run(&opts(a.path(), Preset::SeedFleet, 250, 5, TableFormat::Csv));
    run(&opts(
        b.path(),
        Preset::SeedFleet,
        250,
        5,
        TableFormat::Parquet,
    ));
    let (header, rows) = csv(a.path(), "devices.csv");
    let f = std::fs::File::open(b.path().join("devices.parquet")).expect("devices");
    let df = ParquetReader::new(f).finish().expect("parquet");
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, header);
    assert_eq!(df.height(), rows.len());
    let zone = df.column("zone").expect("zone");
    let csv_zone = column(&header, &rows, "zone");
    for (i, z) in csv_zone.iter().enumerate() {
        let pq = zone.get(i).expect("row");
        match pq {
            AnyValue::Null => assert_eq!(*z, ""),
            v => assert_eq!(v.get_str(), Some(*z)),
        }
    }
    let toml = std::fs::read_to_string(b.path().join("scenario.toml")).expect("toml");
    assert!(toml.contains("devices = \"devices.parquet\""));
}

/// Cheapest bytes from each version to `release` over the artifacts rows, by relaxation.
fn reachable(rows: &[Vec<String>], release: &str) -> BTreeMap<String, bool> {
    let mut ok: BTreeMap<String, bool> = BTreeMap::new();
    ok.insert(release.to_owned(), true);
    if rows.iter().any(|r| r[0].is_empty() && r[1] == release) {
        for r in rows {
            ok.insert(r[1].clone(), true);
            if !r[0].is_empty() {
                ok.insert(r[0].clone(), true);
            }
        }
        return ok;
    }
    for _ in 0..rows.len() {
        for r in rows {
            if !r[0].is_empty() && ok.get(&r[1]).copied().unwrap_or(false) {
                ok.insert(r[0].clone(), true);
            }
        }
    }
    ok
}

#[test]
fn every_reference_resolves_and_every_number_is_sane() {
    for preset in [Preset::Sample, Preset::SeedFleet, Preset::Bench] {
        let dir = tempfile::tempdir().expect("tmp");
        run(&opts(dir.path(), preset, 600, 11, TableFormat::Csv));
        let d = dir.path();
        let toml: toml::Table = std::fs::read_to_string(d.join("scenario.toml"))
            .expect("toml")
            .parse()
            .expect("valid TOML");
        let release = toml["release"].as_str().expect("release");
        for file in toml["tables"].as_table().expect("tables").values() {
            assert!(
                d.join(file.as_str().expect("path")).exists(),
                "{file} missing"
            );
        }

        let (ph, prow) = csv(d, "pools.csv");
        let pools: BTreeSet<&str> = column(&ph, &prow, "pool_id").into_iter().collect();
        for r in &prow {
            let allowance: u64 = r[2].parse().expect("allowance");
            let day: u32 = r[3].parse().expect("cycle_day");
            assert!((1..=28).contains(&day));
            r[4].parse::<chrono_tz::Tz>().expect("cycle tz");
            assert!(r[5].parse::<f64>().expect("used") >= 0.0);
            assert!(r[6].parse::<f64>().expect("baseline") > 0.0);
            assert!(["overage", "pause", "throttle"].contains(&r[7].as_str()));
            if r[7] != "overage" {
                assert!(r[8].parse::<u64>().expect("cap") >= allowance);
            }
        }
        let (rh, rrow) = csv(d, "regions.csv");
        let regions: BTreeSet<&str> = column(&rh, &rrow, "region").into_iter().collect();
        for r in &rrow {
            let cap: u64 = r[1].parse().expect("capacity");
            assert!(cap > 0);
            if !r[2].is_empty() {
                assert!(r[2].parse::<u64>().expect("hard") >= cap);
            }
        }
        let (_, zrow) = csv(d, "zone_rates.csv");
        let zones: BTreeSet<(&str, &str)> = zrow
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();

        let (_, trow) = csv(d, "overage_tiers.csv");
        for pool in &pools {
            let tiers: Vec<&Vec<String>> = trow.iter().filter(|r| r[0] == *pool).collect();
            assert!(!tiers.is_empty(), "{pool} has no tier");
            let bounds: Vec<&str> = tiers.iter().map(|r| r[1].as_str()).collect();
            let (last, rest) = bounds.split_last().expect("non-empty");
            assert_eq!(*last, "", "{pool}: last tier must be unbounded");
            let rest: Vec<u64> = rest.iter().map(|b| b.parse().expect("bound")).collect();
            assert!(
                rest.windows(2).all(|w| w[0] < w[1]),
                "{pool}: tiers out of order"
            );
            assert!(
                tiers
                    .iter()
                    .all(|r| r[2].parse::<f64>().expect("price") > 0.0)
            );
        }

        let (_, arow) = csv(d, "artifacts.csv");
        let pairs: BTreeSet<(&str, &str)> = arow
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();
        assert_eq!(pairs.len(), arow.len(), "duplicate artifact");
        assert!(arow.iter().all(|r| r[2].parse::<u64>().expect("size") > 0));
        let reach = reachable(&arow, release);

        let (dh, drow) = csv(d, "devices.csv");
        assert_eq!(drow.len(), 600);
        let ids: BTreeSet<&str> = column(&dh, &drow, "device_id").into_iter().collect();
        assert_eq!(ids.len(), 600, "device ids are unique");
        for r in &drow {
            assert!(pools.contains(r[1].as_str()), "pool {}", r[1]);
            assert!(regions.contains(r[2].as_str()), "region {}", r[2]);
            r[3].parse::<chrono_tz::Tz>().expect("device tz");
            assert!(
                reach.get(&r[4]).copied().unwrap_or(false),
                "no path from {}",
                r[4]
            );
            assert!(["nbiot", "ltem", "cat1", "cat4"].contains(&r[5].as_str()));
            assert!(["true", "false"].contains(&r[6].as_str()));
            if !r[8].is_empty() {
                assert!(
                    zones.contains(&(r[1].as_str(), r[8].as_str())),
                    "zone {} of {}",
                    r[8],
                    r[1]
                );
            }
        }
        if let Some(w) = toml["windows"].get("regions") {
            for name in w.as_table().expect("table").keys() {
                assert!(
                    regions.contains(name.as_str()),
                    "window for unknown region {name}"
                );
            }
        }
        for wave in toml["waves"].as_array().expect("waves") {
            if let Some(r) = wave.get("region") {
                assert!(regions.contains(r.as_str().expect("str")));
            }
        }
    }
}

#[test]
fn cycles_start_at_local_midnight() {
    let start = chrono::Utc
        .with_ymd_and_hms(2027, 3, 22, 0, 0, 0)
        .single()
        .expect("date");
    let (s, e) = tables::cycle_containing("Europe/Berlin", 1, start);
    assert_eq!(s.to_rfc3339(), "2027-02-28T23:00:00+00:00");
    assert_eq!(e.to_rfc3339(), "2027-03-31T22:00:00+00:00");
    let (s, e) = tables::cycle_containing("America/Chicago", 26, start);
    assert_eq!(s.to_rfc3339(), "2027-02-26T06:00:00+00:00");
    assert_eq!(e.to_rfc3339(), "2027-03-26T05:00:00+00:00");
}

#[test]
fn zero_devices_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = opts(dir.path(), Preset::Sample, 0, 1, TableFormat::Csv);
    assert!(matches!(
        generate(&o, &|_, _| {}),
        Err(GenerateError::NoDevices)
    ));
}

/// Reads a generated folder back the way `otaplan validate` does and fails on any error.
fn validates(dir: &Path) -> crate::ingest::Loaded {
    let loaded = match crate::ingest::read_scenario(dir) {
        Ok(l) => l,
        Err(d) => panic!("{} does not validate: {d:?}", dir.display()),
    };
    let coverage = crate::ingest::coverage_load::check_history(&loaded);
    assert!(!coverage.has_errors(), "coverage: {coverage:?}");
    loaded
}

#[test]
fn diverse_fleets_of_every_size_validate() {
    for (devices, format) in [
        (1, TableFormat::Csv),
        (7, TableFormat::Parquet),
        (500, TableFormat::Csv),
        (3000, TableFormat::Parquet),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let mut o = opts(dir.path(), Preset::Diverse, devices, 17, format);
        o.coverage_days = None;
        let report = run(&o);
        let loaded = validates(dir.path());
        let s = &loaded.scenario;
        assert_eq!(s.devices.len(), devices);
        assert_eq!((s.pools.len(), s.regions.len()), (48, 90));
        assert!(matches!(
            loaded.coverage,
            crate::ingest::CoverageInput::Model { .. }
        ));
        assert_eq!(report.coverage_rows, 0, "no history by default");
        let model = crate::ingest::coverage_load::load(&loaded).expect("the model loads");
        assert_eq!(model.profiles().len(), 90 * 4);
        for r in &s.regions {
            for radio in crate::domain::Radio::ALL {
                let key = crate::coverage::CoverageModel::region_radio_key(&r.name, radio);
                assert!(model.get(&key).is_some(), "{key}");
            }
        }
        if devices >= 3000 {
            // The designed waves survive at a few thousand devices.
            assert_eq!(s.waves.len(), 3);
            assert_eq!(s.waves[1].size, crate::domain::WaveSize::Count(300));
        }
    }
}

#[test]
fn diverse_is_deterministic() {
    let (a, b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    for d in [a.path(), b.path()] {
        run(&opts(d, Preset::Diverse, 300, 9, TableFormat::Parquet));
    }
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert!(fa.contains_key("coverage-model.parquet"));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between two runs");
    }
}

#[test]
fn small_fleets_get_waves_they_can_fill() {
    for (devices, preset) in [
        (1, Preset::Sample),
        (5, Preset::SeedFleet),
        (2, Preset::Bench),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        // Waves only: a history with no rows for a handful of devices is another matter.
        let mut o = opts(dir.path(), preset, devices, 3, TableFormat::Csv);
        o.coverage_days = Some(0);
        run(&o);
        let s = validates(dir.path()).scenario;
        assert!(s.waves.len() < 3, "{preset:?}: {} waves", s.waves.len());
    }
}
