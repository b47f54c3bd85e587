//! The plan folder: what `otaplan plan` writes and later commands (`simulate`, `report`,
//! `export`, a re-plan, the server) read back. The output side of the crate: it may use
//! the planner's, the report's and `output`'s types; `ingest` (scenario inputs) and
//! `plan` (the optimizer) never use it. Reading tables goes through `ingest::table`, the
//! one table reader.

pub mod plan_csv;
pub mod progress;
