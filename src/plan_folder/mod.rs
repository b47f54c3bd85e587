//! The plan folder: what `otaplan plan` writes and later commands (`simulate`, `report`,
//! `export`, a re-plan, the server) read back. The output side of the crate: it may use
//! the planner's, the report's and `output`'s types; `ingest` (scenario inputs) and
//! `plan` (the optimizer) never use it. Reading tables goes through `ingest::table`, the
//! one table reader.

pub mod parquet;
pub mod plan_csv;
pub mod progress;
pub mod report_input;

use crate::domain::Scenario;
use crate::plan::Plan;
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

/// What a plan folder holds besides `plan.csv`, `unscheduled.csv`, `spent.csv` and
/// `summary.json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FolderOptions {
    /// `plan.parquet` too.
    pub parquet: bool,
    /// The finance report (`report.html`, `spend.csv`, `spend_by_day.csv`).
    pub report: bool,
}

/// Writes a whole plan folder: the one way the CLI and the server write a plan. Every
/// file is written atomically. The report needs only the plan in memory, so it is
/// written on a thread of its own beside plan.csv (at 1M devices each takes seconds).
pub fn write_plan_folder(
    dir: &Path,
    s: &Scenario,
    plan: &Plan,
    source: crate::coverage::Source,
    timings: crate::output::Timings,
    opts: FolderOptions,
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::thread::scope(|scope| {
        let report = opts.report.then(|| {
            scope.spawn(|| {
                let input = crate::output::report_input(s, plan, source)?;
                crate::output::write_report(dir, &input, crate::output::ReportFiles::Page)
            })
        });
        let mut written = crate::output::write_plan(dir, s, plan, source, timings);
        if opts.parquet && written.is_ok() {
            written = parquet::write_plan_parquet(&dir.join("plan.parquet"), s, plan);
        }
        let reported = report.map_or(Ok(()), |h| {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
        written.and(reported)
    })
}
