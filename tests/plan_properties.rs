//! Property test: on generated small scenarios (random seed and size), every plan keeps
//! the contract's invariants, checked by `common::check_invariants` with its own
//! arithmetic. Few cases, each a real solve, so it stays within seconds.

mod common;
use otaplan::generate::{GenerateOptions, Preset, TableFormat, generate};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_plans_keep_the_invariants(seed in 0u64..1_000_000, devices in 120usize..300, hist in any::<bool>()) {
        let scen = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            devices,
            seed,
            out: scen.path().to_path_buf(),
            preset: Preset::Bench,
            coverage_days: Some(if hist { 7 } else { 0 }),
            devices_format: TableFormat::Csv,
        };
        generate(&opts, &|_, _| {}).unwrap();
        let out = tempfile::tempdir().unwrap();
        common::run_plan(scen.path(), out.path(), &[]);
        common::check_invariants(scen.path(), out.path());
    }
}
