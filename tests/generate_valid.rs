//! `generate` never writes an invalid scenario (issue 13): every preset, at any small
//! size, gives a folder that `validate` accepts with no error (coverage history
//! included, as `validate` checks it).

use assert_cmd::Command;
use clap::ValueEnum;
use otaplan::cli::{FormatArg, GenerateArgs, PresetArg};
use proptest::prelude::*;

/// Generates `preset` at `devices` into a temporary folder and validates it as
/// `otaplan validate` does; returns every problem found as text (empty when valid).
fn problems(preset: PresetArg, devices: usize, seed: u64, coverage_days: u32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateArgs {
        devices: Some(devices),
        seed,
        out: dir.path().to_path_buf(),
        preset,
        coverage_days: Some(coverage_days),
        devices_format: FormatArg::Csv,
    }
    .into_options();
    otaplan::generate::generate(&opts, &|_, _| {}).unwrap();
    match otaplan::ingest::read_scenario(dir.path()) {
        Err(d) => d.to_string(),
        Ok(loaded) => {
            let d = otaplan::ingest::coverage_load::check_history(&loaded);
            if d.has_errors() {
                d.to_string()
            } else {
                String::new()
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn every_preset_at_every_small_size_is_valid(
        devices in 1usize..200,
        seed in 0u64..1000,
        coverage_days in 0u32..3,
    ) {
        for &preset in PresetArg::value_variants() {
            let found = problems(preset, devices, seed, coverage_days);
            prop_assert!(
                found.is_empty(),
                "--preset {:?} --devices {devices} --seed {seed} --coverage-days {coverage_days}:\n{found}",
                preset
            );
        }
    }
}

#[test]
fn the_smallest_fleets_are_valid() {
    for &preset in PresetArg::value_variants() {
        for devices in [1, 2, 3, 5] {
            let found = problems(preset, devices, 1, 1);
            assert!(found.is_empty(), "{preset:?} {devices}:\n{found}");
        }
    }
}

#[test]
fn generate_sample_with_three_devices_then_validate() {
    // The reproduction, through the binary.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s3");
    Command::cargo_bin("otaplan")
        .unwrap()
        .args(["generate", "--preset", "sample", "--devices", "3", "--out"])
        .arg(&out)
        .assert()
        .success();
    let o = Command::cargo_bin("otaplan")
        .unwrap()
        .arg("validate")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
