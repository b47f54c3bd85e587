//! The plan folder: what `otaplan plan` writes and later commands (`simulate`, `report`,
//! `export`, a re-plan, the server) read back. The output side of the crate: it may use
//! the planner's, the report's and `output`'s types; `ingest` (scenario inputs) and
//! `plan` (the optimizer) never use it. Reading tables goes through `ingest::table`, the
//! one table reader.

pub mod plan_csv;
pub mod progress;
pub mod report_input;

use std::io;
use std::path::Path;

/// The content hash of a plan folder's `plan.csv` and `summary.json` (SHA-256 over both,
/// each preceded by its length): what `simulation.json` records as the plan it replayed.
pub fn plan_digest(dir: &Path) -> io::Result<String> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for name in ["plan.csv", "summary.json"] {
        let bytes = std::fs::read(dir.join(name))?;
        ctx.update(&(bytes.len() as u64).to_le_bytes());
        ctx.update(&bytes);
    }
    let hex: String = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}
