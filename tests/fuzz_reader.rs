//! No input may panic the reader: random bytes in place of each table, and random
//! mutations of the fixture's cells, lines and TOML, must all come back as `Ok` or as
//! diagnostics. Bounded by proptest's case count so it runs in CI in seconds.

use otaplan::ingest::read_scenario;
use proptest::prelude::*;
use std::fs;
use std::path::Path;

const FILES: [&str; 7] = [
    "scenario.toml",
    "devices.csv",
    "pools.csv",
    "overage_tiers.csv",
    "zone_rates.csv",
    "artifacts.csv",
    "regions.csv",
];

fn copy_fixture() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minimal");
    let d = tempfile::tempdir().unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
    }
    d
}

/// Values chosen to hit parsers' edges.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("1e400".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("25:00-03:00".to_string()),
        Just("TRUE".to_string()),
        Just("\"".to_string()),
        Just("a,b".to_string()),
        Just("2027-03-22T00:00:00".to_string()),
        Just("Europe/Nowhere".to_string()),
        Just("ünïcødé ✓".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace a whole file with random bytes.
    Garbage { file: usize, bytes: Vec<u8> },
    /// Replace the cell at (line, column) of a CSV file.
    Cell {
        file: usize,
        line: usize,
        col: usize,
        value: String,
    },
    /// Cut a file at a byte offset.
    Truncate { file: usize, at: usize },
    /// Duplicate or delete a line.
    Line {
        file: usize,
        line: usize,
        delete: bool,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (
            0..FILES.len(),
            proptest::collection::vec(any::<u8>(), 0..400)
        )
            .prop_map(|(file, bytes)| Mutation::Garbage { file, bytes }),
        (1..FILES.len(), 0..12usize, 0..12usize, nasty()).prop_map(|(file, line, col, value)| {
            Mutation::Cell {
                file,
                line,
                col,
                value,
            }
        }),
        (0..FILES.len(), 0..2000usize).prop_map(|(file, at)| Mutation::Truncate { file, at }),
        (0..FILES.len(), 0..40usize, any::<bool>())
            .prop_map(|(file, line, delete)| Mutation::Line { file, line, delete }),
    ]
}

fn apply(dir: &Path, m: &Mutation) {
    let path = |f: usize| dir.join(FILES[f]);
    match m {
        Mutation::Garbage { file, bytes } => fs::write(path(*file), bytes).unwrap(),
        Mutation::Cell {
            file,
            line,
            col,
            value,
        } => {
            let s = String::from_utf8_lossy(&fs::read(path(*file)).unwrap()).into_owned();
            let mut lines: Vec<String> = s.lines().map(String::from).collect();
            if let Some(l) = lines.get_mut(*line) {
                let mut cells: Vec<String> = l.split(',').map(String::from).collect();
                let i = col % cells.len().max(1);
                if let Some(c) = cells.get_mut(i) {
                    *c = value.clone();
                }
                *l = cells.join(",");
            }
            fs::write(path(*file), lines.join("\n")).unwrap();
        }
        Mutation::Truncate { file, at } => {
            let b = fs::read(path(*file)).unwrap();
            let at = (*at).min(b.len());
            fs::write(path(*file), &b[..at]).unwrap();
        }
        Mutation::Line { file, line, delete } => {
            let s = String::from_utf8_lossy(&fs::read(path(*file)).unwrap()).into_owned();
            let mut lines: Vec<&str> = s.lines().collect();
            if !lines.is_empty() {
                let i = line % lines.len();
                if *delete {
                    lines.remove(i);
                } else {
                    lines.insert(i, lines[i]);
                }
            }
            fs::write(path(*file), lines.join("\n")).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic(ms in proptest::collection::vec(mutation(), 1..4)) {
        let d = copy_fixture();
        for m in &ms {
            apply(d.path(), m);
        }
        // Either outcome is fine; a panic fails the test.
        let _ = read_scenario(d.path());
    }

    #[test]
    fn random_parquet_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), magic in any::<bool>()) {
        let d = copy_fixture();
        let mut b = bytes;
        if magic {
            // Start and end like a Parquet file so the reader gets past the magic check.
            let mut v = b"PAR1".to_vec();
            v.extend_from_slice(&b);
            v.extend_from_slice(&(b.len() as u32).to_le_bytes());
            v.extend_from_slice(b"PAR1");
            b = v;
        }
        fs::write(d.path().join("devices.parquet"), &b).unwrap();
        let toml = fs::read_to_string(d.path().join("scenario.toml"))
            .unwrap()
            .replace("devices = \"devices.csv\"", "devices = \"devices.parquet\"");
        fs::write(d.path().join("scenario.toml"), toml).unwrap();
        let r = read_scenario(d.path());
        prop_assert!(r.is_err());
    }
}
