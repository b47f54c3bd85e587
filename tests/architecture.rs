//! The module graph ARCHITECTURE.md describes: `bin/module-cycles` finds no import cycle
//! among src/'s modules (top level and file by file), the core and the input edge import
//! nothing downstream of them, only the named edges import polars — and the script does
//! report a cycle when there is one, so these tests can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

fn module_cycles(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new("python3")
        .arg(root.join("bin/module-cycles"))
        .args(args)
        .output()
        .expect("python3 runs bin/module-cycles")
}

fn printed(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn no_import_cycle_among_top_level_modules() {
    let o = module_cycles(&[]);
    assert!(o.status.success(), "{}", printed(&o));
}

#[test]
fn no_import_cycle_among_files() {
    let o = module_cycles(&["--files"]);
    assert!(o.status.success(), "{}", printed(&o));
}

/// The top-level import graph: module → the modules it imports.
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let o = module_cycles(&["--edges"]);
    assert!(o.status.success(), "{}", printed(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .map(|(a, bs)| (a.to_string(), bs.split(", ").map(String::from).collect()))
        .collect()
}

#[test]
fn core_and_input_edge_import_nothing_downstream() {
    let e = edges();
    assert!(e.contains_key("plan") && e.contains_key("ingest"), "{e:?}");
    let front_ends = ["cli", "server", "generate"];
    let output_side = ["output", "plan_folder", "report", "simulate", "handoff"];
    let rules: [(&str, Vec<&str>); 5] = [
        // The planner imports neither the input edge nor the output side.
        (
            "plan",
            [&["ingest"][..], &output_side[..], &front_ends[..]].concat(),
        ),
        // The input edge reads scenario inputs and knows no planner output.
        (
            "ingest",
            [&["plan"][..], &output_side[..], &front_ends[..]].concat(),
        ),
        // The coverage model is pure: loading it is the input edge's.
        (
            "coverage",
            [&["ingest", "plan"][..], &output_side[..], &front_ends[..]].concat(),
        ),
        (
            "simulate",
            [
                &["ingest", "output", "plan_folder", "report", "handoff"][..],
                &front_ends[..],
            ]
            .concat(),
        ),
        (
            "report",
            [
                &["ingest", "output", "plan_folder", "simulate", "handoff"][..],
                &front_ends[..],
            ]
            .concat(),
        ),
    ];
    for (module, forbidden) in rules {
        let imports = e.get(module).cloned().unwrap_or_default();
        let bad: Vec<&str> = forbidden
            .into_iter()
            .filter(|f| imports.contains(*f))
            .collect();
        assert!(bad.is_empty(), "{module} imports {bad:?}");
    }
}

#[test]
fn only_the_named_edges_import_polars() {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let allowed = |rel: &str| {
        rel.starts_with("ingest/")
            || rel.starts_with("generate/")
            || rel == "plan_folder/parquet.rs"
    };
    let mut importers = Vec::new();
    for f in &files {
        let code = std::fs::read_to_string(f).unwrap();
        let uses = code
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .any(|l| l.contains("polars::"));
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if uses {
            importers.push(rel.clone());
            assert!(allowed(&rel), "{rel} imports polars");
        }
    }
    assert!(
        importers.iter().any(|r| r == "plan_folder/parquet.rs"),
        "{importers:?}"
    );
}

#[test]
fn a_cycle_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::c::C;\npub struct A;\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "pub mod c;\n").unwrap();
    std::fs::write(src.join("b/c.rs"), "use crate::a::A;\npub struct C;\n").unwrap();
    let src = src.to_string_lossy();
    let top = module_cycles(&["--src", &src]);
    assert_eq!(top.status.code(), Some(1), "{}", printed(&top));
    assert!(printed(&top).contains("cycle: a, b"), "{}", printed(&top));
    let files = module_cycles(&["--files", "--src", &src]);
    assert_eq!(files.status.code(), Some(1), "{}", printed(&files));
    assert!(
        printed(&files).contains("cycle: a, b::c"),
        "{}",
        printed(&files)
    );
}
