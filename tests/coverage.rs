//! The coverage model (issue 3): synthetic history with a known truth per local hour of
//! week is recovered within stated tolerances, sparse devices lean on their group and
//! rich ones on their own data, hour of week follows local clocks through daylight
//! saving and odd offsets, and bad history is reported row by row, never a panic.

use assert_cmd::Command;
use otaplan::coverage::fit::{CappedDiags, Fitted, Fitter, HistoryBatch};
use otaplan::coverage::{self, HOURS_PER_WEEK, HourStats, Profile, Source, hour_of_week};
use otaplan::diag::Diagnostic;
use otaplan::domain::Scenario;
use otaplan::ingest::{Loaded, coverage_load, read_scenario};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fs;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn loaded(name: &str) -> Loaded {
    read_scenario(&fixture(name)).unwrap_or_else(|d| panic!("{d}"))
}

fn copy_fixture(name: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
    }
    d
}

/// UTC seconds of an RFC 3339 instant.
fn secs(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

/// What a simulated device does in one local hour of week.
#[derive(Clone, Copy)]
struct Truth {
    p: f64,
    kbps: f64,
    drop_per_online_hour: f64,
}

/// Hourly samples for `device` over `[from, from + hours)`, drawn from `truth(local
/// hour of week)`; throughput is log-normal (sigma 0.2) around the truth's median.
fn simulate(
    s: &Scenario,
    b: &mut HistoryBatch,
    rng: &mut ChaCha8Rng,
    device: &str,
    from: i64,
    hours: i64,
    truth: impl Fn(usize) -> Truth,
) {
    let d = s.devices.iter().position(|x| x.id == device).unwrap();
    let tz = s.devices[d].tz;
    for h in 0..hours {
        let ts = from + h * 3600;
        let how = hour_of_week(tz, chrono::DateTime::from_timestamp(ts, 0).unwrap());
        let t = truth(how);
        let online = rng.random::<f64>() < t.p;
        let z = (-2.0 * rng.random::<f64>().max(1e-12).ln()).sqrt()
            * (std::f64::consts::TAU * rng.random::<f64>()).cos();
        let tp = if online {
            (t.kbps * (0.2 * z).exp()) as f32
        } else {
            f32::NAN
        };
        let dropped = online && rng.random::<f64>() < t.drop_per_online_hour;
        b.push(b.len() as u64 + 1, d as u32, ts, online, tp, dropped);
    }
}

fn fit(s: &Scenario, b: &HistoryBatch) -> Fitted {
    let mut diags = CappedDiags::default();
    let mut f = Fitter::new(s, "coverage.csv", true);
    f.add(b, &mut diags);
    let fitted = f.finish(&mut diags);
    let d = diags.finish();
    assert!(!d.has_errors(), "{d}");
    fitted
}

fn profile<'a>(f: &'a Fitted, key: &str) -> &'a Profile {
    &f.profiles
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no key {key}"))
        .1
}

/// The region's truth: a different availability and speed in every hour of the week,
/// so a misplaced hour shows.
fn region_truth(how: usize) -> Truth {
    Truth {
        p: 0.1 + 0.8 * ((how * 37) % 168) as f64 / 167.0,
        kbps: 2_000.0 * (1.0 + (how % 24) as f64 / 8.0),
        drop_per_online_hour: 0.1,
    }
}

const HALF_YEAR_HOURS: i64 = 26 * 7 * 24;

/// c01..c18 follow the region's truth for 26 weeks; with `extra`, c19 adds 90 days of
/// its own, different truth and c20 three samples of yet another.
fn fleet_fit(extra: bool) -> (Fitted, Scenario) {
    let l = loaded("coverage-fleet");
    let s = l.scenario;
    let mut b = HistoryBatch::default();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let from = secs("2027-01-04T00:00:00Z");
    for i in 1..=18 {
        simulate(
            &s,
            &mut b,
            &mut rng,
            &format!("c{i:02}"),
            from,
            HALF_YEAR_HOURS,
            region_truth,
        );
    }
    if extra {
        simulate(&s, &mut b, &mut rng, "c19", from, 90 * 24, |_| Truth {
            p: 0.95,
            kbps: 20_000.0,
            drop_per_online_hour: 0.1,
        });
        simulate(&s, &mut b, &mut rng, "c20", from + 5 * 3600, 3, |_| Truth {
            p: 1.0,
            kbps: 50_000.0,
            drop_per_online_hour: 0.0,
        });
    }
    (fit(&s, &b), s)
}

#[test]
fn known_hourly_truth_is_recovered() {
    let (f, _) = fleet_fit(false);
    // 18 devices × 26 weeks = 468 samples per hour of week at the group level.
    // Tolerances: p_online ±0.08 in every hour; median throughput within 10% in every
    // hour; drop rate per online hour within 15% averaged over the week.
    let g = profile(&f, "eu-central/cat1");
    let mut drop_sum = 0.0;
    for (h, s) in g.iter().enumerate() {
        let t = region_truth(h);
        // 18 × 25 in the Sunday 02:00 hour the spring change skips.
        assert!(s.samples >= 18 * 25, "hour {h}: {} samples", s.samples);
        assert!(
            (s.p_online - t.p).abs() <= 0.08,
            "hour {h}: p {} vs truth {}",
            s.p_online,
            t.p
        );
        let r = s.throughput_kbps / t.kbps;
        assert!(
            (0.9..=1.1).contains(&r),
            "hour {h}: throughput {} vs truth {}",
            s.throughput_kbps,
            t.kbps
        );
        drop_sum += s.drop_rate_per_hour;
    }
    let mean_drop = drop_sum / HOURS_PER_WEEK as f64;
    assert!(
        (mean_drop - 0.1).abs() <= 0.015,
        "mean drop rate {mean_drop}"
    );
    // The region and radio rows exist too and agree with the group.
    for key in ["eu-central", "cat1"] {
        let p = profile(&f, key);
        for h in 0..HOURS_PER_WEEK {
            assert!(
                (p[h].p_online - g[h].p_online).abs() <= 0.1,
                "{key} hour {h}"
            );
        }
    }
    // A device with 26 weeks of the region's truth: each hour from 26 samples, so a
    // looser per-hour bound (±0.3) but a tight weekly mean (±0.05).
    let d = profile(&f, "c01");
    let mean_err: f64 = (0..HOURS_PER_WEEK)
        .map(|h| d[h].p_online - region_truth(h).p)
        .sum::<f64>()
        / 168.0;
    assert!(mean_err.abs() <= 0.05, "c01 mean error {mean_err}");
    assert!((0..HOURS_PER_WEEK).all(|h| (d[h].p_online - region_truth(h).p).abs() <= 0.3));
}

#[test]
fn three_samples_land_near_the_region() {
    let (f, _) = fleet_fit(true);
    let g = profile(&f, "eu-central/cat1");
    let d = profile(&f, "c20");
    // Own truth: always online at 50 Mbps; the region: 10–90% at 2–8 Mbps.
    for h in 0..HOURS_PER_WEEK {
        assert!(
            (d[h].p_online - g[h].p_online).abs() <= 0.2,
            "hour {h}: {} vs region {}",
            d[h].p_online,
            g[h].p_online
        );
        let r = d[h].throughput_kbps / g[h].throughput_kbps;
        assert!((0.99..=2.0).contains(&r), "hour {h}: throughput ratio {r}");
    }
    assert_eq!(d.iter().map(|s| s.samples).sum::<u32>(), 3);
}

#[test]
fn three_months_land_near_own_truth() {
    let (f, _) = fleet_fit(true);
    let g = profile(&f, "eu-central/cat1");
    let d = profile(&f, "c19");
    let mean = |p: &Profile, get: fn(&HourStats) -> f64| p.iter().map(get).sum::<f64>() / 168.0;
    let own = mean(d, |s| s.p_online);
    let region = mean(g, |s| s.p_online);
    // Truth 0.95 against a region near 0.5: within 0.15 on average.
    assert!((own - 0.95).abs() <= 0.15, "c19 mean p {own}");
    assert!((own - 0.95).abs() < (own - region).abs() / 2.0);
    // Throughput: truth 20 Mbps, the region about 4.5 Mbps: within ×1.5 on geometric mean.
    let log_mean = mean(d, |s| s.throughput_kbps.ln()).exp();
    assert!(
        (20_000.0 / 1.5..=20_000.0 * 1.1).contains(&log_mean),
        "c19 throughput {log_mean}"
    );
}

/// A device online only in one local hour of the week (Tuesday 02:00–03:00), sampled
/// hourly across a whole year: the fitted profile must peak in exactly that hour, both
/// daylight-saving changes and fractional offsets included.
#[test]
fn hour_of_week_is_local_across_dst_and_odd_offsets() {
    let l = loaded("coverage-fleet");
    let s = &l.scenario;
    const TARGET: usize = 24 + 2;
    for device in ["c01", "k01", "a01", "n01"] {
        let mut b = HistoryBatch::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // 2027: Berlin changes on 03-28 and 10-31, New York on 03-14 and 11-07,
        // Adelaide on 04-04 and 10-03; Kathmandu is +05:45 all year.
        simulate(
            s,
            &mut b,
            &mut rng,
            device,
            secs("2027-01-01T00:00:00Z"),
            365 * 24,
            |how| Truth {
                p: if how == TARGET { 1.0 } else { 0.0 },
                kbps: 1000.0,
                drop_per_online_hour: 0.0,
            },
        );
        let f = fit(s, &b);
        let p = profile(&f, device);
        #[allow(clippy::needless_range_loop)] // h is the hour of week asserted on
        for h in 0..HOURS_PER_WEEK {
            if h == TARGET {
                assert!(
                    p[h].p_online > 0.9,
                    "{device}: hour {h} p {}",
                    p[h].p_online
                );
            } else {
                assert!(
                    p[h].p_online < 0.1,
                    "{device}: hour {h} p {}",
                    p[h].p_online
                );
            }
        }
    }
}

fn errors_of(d: &otaplan::diag::Diagnostics) -> Vec<Diagnostic> {
    d.errors().cloned().collect()
}

fn expect(errs: &[Diagnostic], row: usize, column: &str, value: Option<&str>, msg: &str) {
    let hit = errs.iter().any(|e| {
        e.file == "coverage.csv"
            && e.row == Some(row)
            && e.column.as_deref() == Some(column)
            && (value.is_none() || e.value.as_deref() == value)
            && e.message.contains(msg)
    });
    assert!(
        hit,
        "no error at row {row}, column {column}, value {value:?}, message ~{msg:?} in:\n{errs:#?}"
    );
}

#[test]
fn bad_history_is_reported_row_by_row() {
    let l = loaded("coverage-bad");
    let d = coverage_load::check_history(&l);
    let errs = errors_of(&d);
    expect(&errs, 2, "device_id", Some("zz9"), "unknown device_id");
    expect(&errs, 3, "ts", None, "duplicate (device_id, ts)");
    expect(&errs, 4, "ts", Some("2027-03-01 01:00:00"), "no offset");
    expect(&errs, 5, "online", Some("yes"), "not a boolean");
    expect(
        &errs,
        6,
        "throughput_kbps",
        Some("-5"),
        "must not be negative",
    );
    expect(&errs, 7, "throughput_kbps", Some("fast"), "not a number");
    expect(&errs, 8, "dropped", Some("maybe"), "not a boolean");
    expect(&errs, 9, "device_id", None, "required value is empty");
    assert_eq!(errs.len(), 8, "{errs:#?}");
    // Devices without history are a warning.
    assert!(
        d.warnings()
            .any(|w| w.message.contains("no coverage history")),
        "{d}"
    );
    assert!(coverage_load::load(&l).is_err());

    // The CLI agrees: exit 1 with every error on stderr, for fit-coverage and validate.
    let out_dir = tempfile::tempdir().unwrap();
    for args in [
        vec![
            "fit-coverage".to_string(),
            fixture("coverage-bad").display().to_string(),
            "--out".into(),
            out_dir.path().join("m.parquet").display().to_string(),
        ],
        vec![
            "validate".to_string(),
            fixture("coverage-bad").display().to_string(),
        ],
    ] {
        let out = Command::cargo_bin("otaplan")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        for e in &errs {
            assert!(
                stderr.contains(&e.to_string()),
                "{args:?}: stderr lacks {e}\n{stderr}"
            );
        }
    }
    assert!(
        !out_dir.path().join("m.parquet").exists(),
        "no model is written from bad history"
    );
}

#[test]
fn many_bad_rows_are_capped_not_listed() {
    let d = copy_fixture("coverage-fleet");
    let mut csv = String::from("device_id,ts,online\n");
    for i in 0..5000 {
        csv.push_str(&format!("ghost{i},2027-03-01T00:00:00Z,true\n"));
    }
    fs::write(d.path().join("coverage.csv"), csv).unwrap();
    let l = read_scenario(d.path()).unwrap();
    let diags = coverage_load::check_history(&l);
    assert!(diags.0.len() < 30, "{} diagnostics", diags.0.len());
    assert!(
        diags.errors().any(|e| e.message.contains("4980 more rows")),
        "{diags}"
    );
}

#[test]
fn fit_coverage_writes_a_model_that_loads_back() {
    let d = copy_fixture("coverage-fleet");
    let model = d.path().join("model.parquet");
    let out = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("fit-coverage")
        .arg(d.path())
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no coverage history"));

    // Fitted on the fly from the history…
    let l = read_scenario(d.path()).unwrap();
    let on_the_fly = coverage_load::load(&l).unwrap();
    assert_eq!(on_the_fly.source, Source::History);
    // …and read back from the written model: the same numbers.
    let toml = fs::read_to_string(d.path().join("scenario.toml")).unwrap();
    fs::write(
        d.path().join("scenario.toml"),
        toml.replace(
            "coverage = \"coverage.csv\"",
            "coverage_model = \"model.parquet\"",
        ),
    )
    .unwrap();
    let l2 = read_scenario(d.path()).unwrap();
    let from_file = coverage_load::load(&l2).unwrap();
    assert_eq!(from_file.source, Source::Model);
    assert!(coverage_load::check_history(&l2).0.is_empty());
    // 4 devices with history, 4 regions, 4 region/radio groups, 4 radios.
    assert_eq!(from_file.profiles().len(), 16);
    for (k, p) in on_the_fly.profiles() {
        assert_eq!(from_file.get(k).map(|x| **x), Some(**p), "{k}");
    }
    // The planner's question: a device at a UTC instant.
    let c01 = l.scenario.devices.iter().find(|x| x.id == "c01").unwrap();
    let (stats, level) = from_file.at(
        c01,
        "eu-central",
        chrono::DateTime::parse_from_rfc3339("2027-04-06T01:30:00Z")
            .unwrap()
            .into(),
    );
    assert_eq!(level, coverage::KeyLevel::Device);
    assert!(stats.throughput_kbps > 0.0 && (0.0..=1.0).contains(&stats.p_online));
    let n01 = l.scenario.devices.iter().find(|x| x.id == "n01").unwrap();
    assert_eq!(
        from_file.for_device(n01, "us-east").1,
        coverage::KeyLevel::RegionRadio
    );

    // The same model as CSV.
    let csv = d.path().join("model.csv");
    let out = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("fit-coverage")
        .arg(fixture("coverage-fleet"))
        .arg("--out")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("key,hour_of_week,p_online,throughput_kbps,drop_rate_per_hour,samples\n")
    );
    assert_eq!(text.lines().count(), 1 + 16 * 168);
}

#[test]
fn a_bad_model_file_is_reported_like_a_table() {
    let d = copy_fixture("coverage-fleet");
    let mut csv =
        String::from("key,hour_of_week,p_online,throughput_kbps,drop_rate_per_hour,samples\n");
    for h in 0..168 {
        csv.push_str(&format!("cat1,{h},0.5,1000,0.1,10\n"));
    }
    csv.push_str("c01,168,0.5,1000,0.1,1\n"); // row 169
    csv.push_str("c01,0,1.5,1000,0.1,1\n"); // row 170
    csv.push_str("c01,1,0.5,0,0.1,1\n"); // row 171
    csv.push_str("c01,2,0.5,10,-1,1\n"); // row 172
    csv.push_str("cat1,3,0.5,10,0.1,1\n"); // row 173: duplicate
    csv.push_str("k01,5,0.5,10,0.1,1\n"); // row 174: k01 has 1 of 168 hours
    fs::write(d.path().join("model.csv"), csv).unwrap();
    let toml = fs::read_to_string(d.path().join("scenario.toml")).unwrap();
    fs::write(
        d.path().join("scenario.toml"),
        toml.replace(
            "coverage = \"coverage.csv\"",
            "coverage_model = \"model.csv\"",
        ),
    )
    .unwrap();
    let l = read_scenario(d.path()).unwrap();
    let errs = errors_of(&coverage_load::load(&l).unwrap_err());
    let has = |row: Option<usize>, col: &str, msg: &str| {
        errs.iter().any(|e| {
            e.file == "model.csv"
                && e.row == row
                && e.column.as_deref() == Some(col)
                && e.message.contains(msg)
        })
    };
    assert!(
        has(Some(169), "hour_of_week", "between 0 and 167"),
        "{errs:#?}"
    );
    assert!(has(Some(170), "p_online", "between 0 and 1"), "{errs:#?}");
    assert!(
        has(Some(171), "throughput_kbps", "greater than zero"),
        "{errs:#?}"
    );
    assert!(
        has(Some(172), "drop_rate_per_hour", "negative"),
        "{errs:#?}"
    );
    assert!(has(Some(173), "hour_of_week", "duplicate"), "{errs:#?}");
    assert!(has(None, "key", "of the 168 hours"), "{errs:#?}");
}

#[test]
fn parquet_history_with_timestamp_columns_fits() {
    use otaplan::ingest::coverage::{HistoryRows, HistoryWriter};
    let d = copy_fixture("coverage-fleet");
    let mut w = HistoryWriter::create(&d.path().join("coverage.parquet")).unwrap();
    let mut rows = HistoryRows::default();
    let t0 = secs("2027-03-27T00:00:00Z");
    for h in 0..48 {
        rows.device_id.push("c01".into());
        rows.ts.push(t0 + h * 3600);
        rows.online.push(h % 3 != 0);
        rows.throughput_kbps.push((h % 3 != 0).then_some(4000.0));
        rows.dropped.push(false);
    }
    w.write(&rows).unwrap();
    w.finish().unwrap();
    let toml = fs::read_to_string(d.path().join("scenario.toml")).unwrap();
    fs::write(
        d.path().join("scenario.toml"),
        toml.replace("coverage.csv", "coverage.parquet"),
    )
    .unwrap();
    let l = read_scenario(d.path()).unwrap();
    let m = coverage_load::load(&l).unwrap();
    let p = m.get("c01").unwrap();
    assert_eq!(p.iter().map(|s| s.samples).sum::<u32>(), 48);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Garbage in a history file (CSV or Parquet) is an error, never a panic.
    #[test]
    fn garbage_history_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), parquet in any::<bool>(), header in any::<bool>()) {
        let d = copy_fixture("coverage-fleet");
        let name = if parquet { "coverage.parquet" } else { "coverage.csv" };
        let mut content = Vec::new();
        if header && !parquet {
            content.extend_from_slice(b"device_id,ts,online,throughput_kbps,dropped\n");
        }
        content.extend_from_slice(&bytes);
        fs::write(d.path().join(name), content).unwrap();
        if parquet {
            let toml = fs::read_to_string(d.path().join("scenario.toml")).unwrap();
            fs::write(d.path().join("scenario.toml"), toml.replace("coverage.csv", "coverage.parquet")).unwrap();
        }
        let l = read_scenario(d.path()).unwrap();
        let diags = coverage_load::check_history(&l);
        prop_assert!(diags.has_errors() || !diags.0.is_empty());
    }
}
