//! The finance report of a plan: what the release costs, on which invoice, and how sure
//! we are. `report.html` (inline SVG charts drawn with plotters, no network fetches,
//! print-friendly CSS), `report.xlsx` (rust_xlsxwriter) and the CSVs `spend.csv` (one
//! row per invoice: pool × billing cycle) and `spend_by_day.csv`. Takes typed values
//! ([`ReportInput`]: the summary, the optional simulation, the plan's rows and its
//! unscheduled reasons); does no I/O and prices nothing itself — every figure comes from
//! the planner's accounting (`plan::evaluate::account`, as recorded in summary.json,
//! business as usual included) or the simulator.
//!
//! - `view` — the subsets of summary.json / simulation.json read back, [`DeviceRow`];
//! - `figures` — invoices, cash, per-day use, warnings (derived, never priced);
//! - `tables` — the CSVs' and sheets' tables as typed [`Cell`]s;
//! - `charts`, `html`, `xlsx` — the outputs.

mod charts;
mod figures;
mod html;
mod tables;
mod view;
mod xlsx;

pub use figures::{
    Cash, DayUse, Invoice, cash, days, invoices, money, unscheduled_groups, warnings,
};
pub use html::html;
pub use tables::{Cell, Table, baseline_table, day_table, device_table, invoice_table};
pub use view::{
    Baseline, BusinessAsUsual, ComparisonView, CompletionView, Cost, Cycle, DeviceRow, Download,
    LpView, Pool, Region, SimCycle, SimPool, SimulationView, StatsView, SummaryView, Wave,
    downloads,
};
pub use xlsx::{MAX_ROWS, xlsx};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot draw the {chart} chart: {message}")]
    Chart { chart: String, message: String },
    #[error("cannot write report.xlsx: {0}")]
    Spreadsheet(String),
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInput {
    pub summary: SummaryView,
    pub simulation: Option<SimulationView>,
    /// Why a simulation.json beside the plan was not used (it replayed another plan):
    /// shown among the headline warnings.
    pub ignored_simulation: Option<String>,
    /// plan.csv's downloads (its full rows go only to the spreadsheet: [`xlsx`]).
    pub downloads: Vec<Download>,
    /// The reason of every row of unscheduled.csv.
    pub unscheduled: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: f64, expected: &str) {
        assert_eq!(money(v), expected);
    }

    #[test]
    fn money_is_grouped_with_two_decimals() {
        check(0.0, "0.00");
        check(1234567.891, "1,234,567.89");
        check(-12.5, "−12.50");
        check(999.999, "1,000.00");
        check(-0.001, "0.00");
    }

    #[test]
    fn unscheduled_groups_leave_out_settled_devices_and_count_the_rest() {
        let reasons: Vec<String> = [
            "already on 2.4.0",
            "region r1 cannot carry this download",
            "done before 2027-01-01T00:00:00Z (progress.csv row 3)",
            "region r1 cannot carry this download",
            "pool p has no room left",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            unscheduled_groups(&reasons),
            vec![
                (2, "region r1 cannot carry this download"),
                (1, "pool p has no room left")
            ]
        );
    }
}
