//! `bin/setup --check` finds each prerequisite the way the build looks for it, and says
//! so when one is missing — libclang above all, which bindgen (highs-sys's build script)
//! loads through clang-sys and which `libclang-cpp.so.N` does not replace.

use std::path::Path;
use std::process::{Command, Output};

fn check(env: &[(&str, &str)], unset: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut c = Command::new(root.join("bin/setup"));
    c.arg("--check");
    for k in unset {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("bin/setup runs")
}

fn line(out: &Output, name: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_default()
        .to_string()
}

/// Hides every place clang-sys would look except the folder given.
fn only_in(dir: &Path) -> Output {
    let d = dir.to_str().unwrap();
    check(
        &[
            ("OTAPLAN_SETUP_SYSTEM_LIBDIRS", d),
            ("LLVM_CONFIG_PATH", "/nonexistent/llvm-config"),
            ("LD_LIBRARY_PATH", ""),
            ("LIBRARY_PATH", ""),
        ],
        &["LIBCLANG_PATH"],
    )
}

#[test]
fn a_machine_without_libclang_is_told_so_and_fails() {
    let empty = tempfile::tempdir().unwrap();
    let out = only_in(empty.path());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let l = line(&out, "libclang");
    assert!(l.contains("MISSING") && l.contains("libclang-dev"), "{l}");
}

#[test]
fn libclang_cpp_is_not_libclang() {
    // The library that fooled the old check: present, but not what bindgen loads.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("libclang-cpp.so.14"), b"").unwrap();
    let out = only_in(dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(line(&out, "libclang").contains("MISSING"));
}

#[test]
fn a_versioned_libclang_is_found_where_clang_sys_looks() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libclang-14.so.1");
    std::fs::write(&lib, b"").unwrap();
    let out = only_in(dir.path());
    let l = line(&out, "libclang");
    assert!(l.contains("ok") && l.contains(lib.to_str().unwrap()), "{l}");
    // LIBCLANG_PATH wins over everything else, as in clang-sys.
    let out = check(&[("LIBCLANG_PATH", lib.to_str().unwrap())], &[]);
    assert!(line(&out, "libclang").contains(lib.to_str().unwrap()));
}

#[test]
fn this_machine_has_every_prerequisite() {
    // bin/test runs bin/setup first, so here everything must be found.
    let out = check(&[], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for name in [
        "cmake",
        "c++ compiler",
        "libclang",
        "clang headers",
        "chromium",
        "highspy",
        "openpyxl",
        "botocore",
        "jsonschema",
        "duckdb",
        "pyspark",
        "java",
    ] {
        assert!(line(&out, name).contains("ok"), "{name}");
    }
}
