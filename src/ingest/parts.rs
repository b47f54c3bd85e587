//! Where a table path points: one file, or the Parquet part files an engine wrote — a
//! folder (Spark's `part-*.parquet` beside `_SUCCESS`, DuckDB's `PER_THREAD_OUTPUT`,
//! polars' partitioned writes), a glob (`models/cov/*.parquet`), hive-style partition
//! folders (`hour_of_week=12/`) included. Every part goes through
//! [`super::parquet_guard`] before polars opens it, and all parts must share one schema.

use super::table::Format;
use crate::diag::Diagnostic;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// One file to read, with the `key=value` partition folders it sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub path: PathBuf,
    /// (column, value) of each `key=value` folder between the table's folder and the file.
    pub hive: Vec<(String, String)>,
}

/// The files behind a table path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub format: Format,
    pub parts: Vec<Part>,
    /// A folder or glob (several parts may follow), not a single file.
    pub is_set: bool,
}

fn is_glob(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// Spark and Hadoop mark their bookkeeping files (`_SUCCESS`, `.part-0.crc`, `_temporary/`)
/// with a leading `_` or `.`.
fn is_bookkeeping(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('.')
}

fn hive_pair(name: &str) -> Option<(String, String)> {
    let (k, v) = name.split_once('=')?;
    (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
}

/// The `key=value` folders of `path` below `root`.
fn hive_of(root: &Path, path: &Path) -> Vec<(String, String)> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut dirs: Vec<_> = rel.components().collect();
    dirs.pop();
    dirs.iter()
        .filter_map(|c| hive_pair(&c.as_os_str().to_string_lossy()))
        .collect()
}

/// Every Parquet file under `dir` (sorted), skipping bookkeeping files and folders.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_bookkeeping(&name) {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if Format::of(&p) == Some(Format::Parquet) {
            out.push(p);
        }
    }
    Ok(())
}

/// The files a table path names, or why there are none. `file` is the path as the user
/// wrote it, for messages; `not_found_hint` is added when nothing is at the path.
#[allow(clippy::result_large_err)] // one diagnostic per table
pub fn locate(
    path: &Path,
    file: &str,
    not_found_hint: Option<&str>,
) -> Result<Located, Diagnostic> {
    let none_found = |what: &str| {
        Diagnostic::error(file, format!("{what} holds no Parquet part files (*.parquet)"))
            .value(path.display().to_string())
            .hint("an engine's output folder holds part-*.parquet files, possibly in key=value/ partition folders")
    };
    if is_glob(path) {
        let pattern = path.to_string_lossy();
        let paths = glob::glob(&pattern).map_err(|e| {
            Diagnostic::error(file, format!("not a valid glob pattern: {}", e.msg))
                .value(pattern.to_string())
        })?;
        let mut files: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| is_bookkeeping(&n.to_string_lossy()))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(none_found("the glob"));
        }
        if let Some(p) = files
            .iter()
            .find(|p| Format::of(p) != Some(Format::Parquet))
        {
            return Err(
                Diagnostic::error(file, "a glob may only match Parquet files (*.parquet)")
                    .value(p.display().to_string()),
            );
        }
        let root = glob_root(path);
        return Ok(set(files, &root));
    }
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files).map_err(|e| {
            Diagnostic::error(file, format!("cannot read the folder: {e}"))
                .value(path.display().to_string())
        })?;
        if files.is_empty() {
            return Err(none_found("the folder"));
        }
        return Ok(set(files, path));
    }
    let format = Format::of(path).ok_or_else(|| {
        Diagnostic::error(file, "unknown table format")
            .hint("name a *.csv or *.parquet file, or a folder or glob of Parquet part files")
    })?;
    if !path.is_file() {
        let mut d = Diagnostic::error(file, "file not found").value(path.display().to_string());
        if let Some(h) = not_found_hint {
            d = d.hint(h);
        }
        return Err(d);
    }
    Ok(Located {
        format,
        parts: vec![Part {
            path: path.to_path_buf(),
            hive: Vec::new(),
        }],
        is_set: false,
    })
}

fn set(files: Vec<PathBuf>, root: &Path) -> Located {
    Located {
        format: Format::Parquet,
        parts: files
            .into_iter()
            .map(|p| Part {
                hive: hive_of(root, &p),
                path: p,
            })
            .collect(),
        is_set: true,
    }
}

/// The folders of a glob before its first wildcard: where partition folders start.
fn glob_root(path: &Path) -> PathBuf {
    let mut root = PathBuf::new();
    for c in path.components() {
        if c.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        root.push(c);
    }
    root
}

/// Checks every part with [`super::parquet_guard`]; the first bad one, by name.
#[allow(clippy::result_large_err)]
pub fn guard(located: &Located, file: &str) -> Result<(), Diagnostic> {
    if located.format != Format::Parquet {
        return Ok(());
    }
    for part in &located.parts {
        if let Err(msg) = super::parquet_guard::check_parquet(&part.path) {
            let mut d = Diagnostic::error(file, format!("cannot be read as Parquet: {msg}"));
            if located.is_set {
                d = d.value(part.path.display().to_string());
            }
            return Err(d);
        }
    }
    Ok(())
}

/// Adds a part's partition values as text columns (a column the file has wins).
pub fn with_hive(lf: LazyFrame, part: &Part, schema: &Schema) -> LazyFrame {
    let cols: Vec<Expr> = part
        .hive
        .iter()
        .filter(|(k, _)| schema.get(k.as_str()).is_none())
        .map(|(k, v)| lit(v.clone()).alias(k.as_str()))
        .collect();
    if cols.is_empty() {
        lf
    } else {
        lf.with_columns(cols)
    }
}

/// One schema for all parts, or an error naming the folder and two parts that differ.
#[allow(clippy::result_large_err)]
pub fn same_schema(file: &str, parts: &[(&Part, SchemaRef)]) -> Result<(), Diagnostic> {
    let describe = |s: &Schema| {
        s.iter()
            .map(|(n, dt)| format!("{n} {dt}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((first, s0)) = parts.first() else {
        return Ok(());
    };
    for (part, s) in &parts[1..] {
        if s != s0 {
            let name = |p: &Part| {
                p.path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            };
            return Err(
                Diagnostic::error(file, "the part files do not share one schema")
                    .value(format!(
                        "{} has ({}); {} has ({})",
                        name(first),
                        describe(s0),
                        name(part),
                        describe(s)
                    ))
                    .hint("write the table again in one job, or point at one set of parts"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_folders_become_columns_and_bookkeeping_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hour_of_week=12").join("region=eu");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::create_dir_all(d.path().join("_temporary")).unwrap();
        std::fs::write(p.join("part-0.parquet"), b"x").unwrap();
        std::fs::write(p.join(".part-0.parquet.crc"), b"x").unwrap();
        std::fs::write(d.path().join("_SUCCESS"), b"").unwrap();
        std::fs::write(d.path().join("_temporary").join("x.parquet"), b"x").unwrap();
        let l = locate(d.path(), "cov", None).unwrap();
        assert!(l.is_set);
        assert_eq!(l.parts.len(), 1);
        assert_eq!(
            l.parts[0].hive,
            vec![
                ("hour_of_week".to_string(), "12".to_string()),
                ("region".to_string(), "eu".to_string())
            ]
        );
        let g = locate(&d.path().join("*/*/*.parquet"), "cov/*", None).unwrap();
        assert_eq!(g.parts, l.parts);
    }

    #[test]
    fn an_empty_folder_names_itself() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("_SUCCESS"), b"").unwrap();
        let e = locate(d.path(), "models/cov", None).unwrap_err();
        assert_eq!(e.file, "models/cov");
        assert!(e.message.contains("no Parquet part files"), "{e:?}");
    }
}
