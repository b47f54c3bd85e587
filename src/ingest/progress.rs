//! `progress.csv` (or .parquet) for re-planning a paused rollout: `device_id`, `state`
//! (`done` | `failed` | `in_progress` | `pending`), `bytes_used`, optional `at` (when
//! the bytes were used). Every bad row is reported with file, row, column and value.

use super::table::V;
use crate::diag::{Diagnostic, Diagnostics};
use crate::domain::{DeviceIdx, Scenario};
use crate::plan::{DeviceState, Progress};
use std::path::Path;

/// Reads and checks a progress table against the scenario's devices.
pub fn read_progress(path: &Path, s: &Scenario) -> Result<Vec<Progress>, Diagnostics> {
    let t = super::table::open_named(path)?;
    let file = t.file.clone();
    let mut diags = Diagnostics::default();
    // An empty table is fine: nothing has happened yet.
    if t.height() == 0
        && ["device_id", "state", "bytes_used"]
            .iter()
            .all(|c| t.has_column(c))
    {
        return Ok(Vec::new());
    }
    if !t.check_shape(&["device_id", "state", "bytes_used"], &["at"], &mut diags) {
        return Err(diags);
    }
    let ids = t.text_refs("device_id", &mut diags);
    let states = t.text_refs("state", &mut diags);
    let bytes = t.integers("bytes_used", &mut diags);
    let at = t.instants("at", &mut diags);
    let mut devices = super::DeviceLookup::new(s);
    let mut out = Vec::with_capacity(t.height());
    for i in 0..t.height() {
        let row = i + 1;
        let id = match ids[i] {
            V::Val(id) => id,
            V::Null => {
                diags.push(
                    Diagnostic::error(&file, "required value is empty")
                        .row(row)
                        .column("device_id"),
                );
                continue;
            }
            V::Bad => continue,
        };
        let Some(dev) = devices.resolve(&file, row, id, &mut diags) else {
            continue;
        };
        let state = match states[i] {
            V::Val(v) => match DeviceState::parse(&v.to_ascii_lowercase()) {
                Some(st) => st,
                None => {
                    diags.push(
                        Diagnostic::error(&file, "unknown state")
                            .row(row)
                            .column("state")
                            .value(v)
                            .hint("expected done, failed, in_progress or pending"),
                    );
                    continue;
                }
            },
            V::Null => {
                diags.push(
                    Diagnostic::error(&file, "required value is empty")
                        .row(row)
                        .column("state"),
                );
                continue;
            }
            V::Bad => continue,
        };
        let bytes_used = match bytes[i] {
            V::Val(b) if b >= 0 => b as u64,
            V::Val(b) => {
                diags.push(
                    Diagnostic::error(&file, "bytes_used must not be negative")
                        .row(row)
                        .column("bytes_used")
                        .value(b.to_string()),
                );
                continue;
            }
            V::Null => 0,
            V::Bad => continue,
        };
        out.push(Progress {
            device: DeviceIdx(dev as u32),
            state,
            bytes_used,
            at: at[i].ok(),
            row,
        });
    }
    devices.finish(&mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}
