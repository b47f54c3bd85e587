//! The README's command table says what `--help` says (issue 13): every subcommand has
//! a row, every option `--help` lists is in that command's row(s) and every option in
//! the rows is in `--help`; options with a default are shown in brackets, required ones
//! without.

mod common;

use common::help;
use std::collections::{BTreeMap, BTreeSet};

/// The subcommands `otaplan --help` lists (without `help`).
fn subcommands() -> Vec<String> {
    let text = help(&[]);
    let mut in_commands = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if !line.starts_with("  ") {
                break;
            }
            let name = line.split_whitespace().next().unwrap_or_default();
            if name != "help" {
                out.push(name.to_string());
            }
        }
    }
    assert!(!out.is_empty(), "no commands in:\n{text}");
    out
}

/// A subcommand's options as `--help` lists them, each with whether it is required
/// (named in the usage line outside `[OPTIONS]`).
fn help_options(cmd: &str) -> BTreeMap<String, bool> {
    let text = help(&[cmd]);
    let usage = text
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_default()
        .to_string();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let t = line.trim_start();
        if !line.starts_with("  ") || !t.starts_with('-') {
            continue;
        }
        let long = t
            .split([',', ' '])
            .find(|w| w.starts_with("--"))
            .unwrap_or_default();
        if long.is_empty() || long == "--help" || long == "--version" {
            continue;
        }
        let required = usage.contains(&format!(" {long} "))
            || usage.ends_with(&format!(" {long}"))
            || usage.contains(&format!(" {long} <"));
        out.insert(long.to_string(), required);
    }
    out
}

/// The README's command table: for each command, each option with whether it is shown
/// inside brackets somewhere (optional) — over every row of that command.
fn readme_options() -> BTreeMap<String, BTreeMap<String, bool>> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("## Commands")
        .nth(1)
        .expect("a Commands section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| `otaplan ")) {
        let usage = line["| `".len()..].split('`').next().unwrap();
        let cmd = usage.split_whitespace().nth(1).unwrap().to_string();
        let opts = out.entry(cmd).or_default();
        let bytes = usage.as_bytes();
        let mut depth = 0i32;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'[' => depth += 1,
                b']' => depth -= 1,
                b'-' if usage[i..].starts_with("--") => {
                    let name: String = usage[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    i += name.len();
                    let optional = opts.entry(name).or_insert(false);
                    *optional |= depth > 0;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

#[test]
fn the_readme_command_table_matches_help() {
    let readme = readme_options();
    let mut problems = Vec::new();
    for cmd in subcommands() {
        let Some(rows) = readme.get(&cmd) else {
            problems.push(format!(
                "`otaplan {cmd}` has no row in the README's command table"
            ));
            continue;
        };
        let help = help_options(&cmd);
        let (h, r): (BTreeSet<&String>, BTreeSet<&String>) =
            (help.keys().collect(), rows.keys().collect());
        for o in h.difference(&r) {
            problems.push(format!("{cmd}: {o} is in --help but not in the README"));
        }
        for o in r.difference(&h) {
            problems.push(format!("{cmd}: {o} is in the README but not in --help"));
        }
        for (o, required) in &help {
            match rows.get(o) {
                Some(true) if *required => problems.push(format!(
                    "{cmd}: {o} is required but the README shows it in brackets"
                )),
                Some(false) if !required => problems.push(format!(
                    "{cmd}: {o} is optional but the README shows it without brackets"
                )),
                _ => {}
            }
        }
    }
    for cmd in readme.keys() {
        if !subcommands().contains(cmd) {
            problems.push(format!(
                "the README has a row for `otaplan {cmd}`, which does not exist"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
