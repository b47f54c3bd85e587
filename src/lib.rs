//! otaplan: plans when each device of a fleet downloads a firmware release so that SIM
//! pool overage and network congestion cost the least, inside each device's local
//! off-peak hours, in staged waves, by the deadline.
//!
//! The library is the product; the CLI (`cli`) and the HTTP server (`server`) are front
//! ends over it. See ARCHITECTURE.md for the codemap and invariants.
#![forbid(unsafe_code)]

pub mod billing;
pub mod cli;
pub mod coverage;
pub mod diag;
pub mod domain;
pub mod fsutil;
pub mod generate;
pub mod handoff;
pub mod ingest;
pub mod output;
pub mod payload;
pub mod plan;
pub mod plan_folder;
pub mod report;
pub mod server;
pub mod simulate;
pub mod units;
pub mod windows;
