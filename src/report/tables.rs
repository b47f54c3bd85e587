//! The report's tables as typed cells: `spend.csv` and the Invoices sheet are one table,
//! `spend_by_day.csv` and the Per day sheet another, so the CSVs and the spreadsheet
//! cannot disagree. Money is rounded to the cent here, once.

use super::figures::{days, invoices};
use super::{DeviceRow, ReportInput};
use crate::units::Instant;

/// One cell. `Money` holds a value already rounded to the cent.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(u64),
    /// MB, written with 3 decimals.
    Mb(f64),
    Money(f64),
    /// A plain number, written as is.
    Num(f64),
    /// An instant (UTC): RFC 3339 in CSV, a date-time in the spreadsheet.
    Time(Instant),
    Empty,
}

impl Cell {
    pub fn money(v: f64) -> Cell {
        Cell::Money((v * 100.0).round() / 100.0)
    }

    fn money_or_empty(v: Option<f64>) -> Cell {
        v.map_or(Cell::Empty, Cell::money)
    }

    /// The cell as CSV text (before quoting).
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Mb(v) => format!("{v:.3}"),
            Cell::Money(v) => format!("{v:.2}"),
            Cell::Num(v) => v.to_string(),
            Cell::Time(t) => crate::units::rfc3339_utc(*t),
            Cell::Empty => String::new(),
        }
    }
}

/// A header and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// One row per invoice (pool × billing cycle): `spend.csv` and the Invoices sheet.
pub fn invoice_table(r: &ReportInput) -> Table {
    let rows = invoices(r)
        .iter()
        .map(|i| {
            let c = i.cycle;
            let sim = |f: fn(&super::StatsView) -> Option<f64>| {
                Cell::money_or_empty(i.simulated.as_ref().and_then(f))
            };
            vec![
                Cell::Text(i.pool_id.to_string()),
                Cell::Text(c.start.clone()),
                Cell::Text(c.end.clone()),
                Cell::Mb(c.allowance_mb),
                Cell::Mb(c.baseline_mb + c.already_mb),
                Cell::Mb(c.update_mb),
                Cell::Mb(c.overage_mb),
                Cell::money(c.overage_cost),
                Cell::money(c.zone_cost),
                Cell::money(i.total()),
                Cell::money_or_empty(i.business_as_usual),
                Cell::money_or_empty(i.release()),
                sim(|s| s.p10),
                sim(|s| Some(s.p50)),
                sim(|s| Some(s.p90)),
                Cell::Text(i.timezone.to_string()),
                Cell::Text(i.first_day.clone()),
                Cell::Text(i.last_day.clone()),
            ]
        })
        .collect();
    Table {
        columns: vec![
            "pool_id",
            "cycle_start",
            "cycle_end",
            "allowance_mb",
            "baseline_mb",
            "update_mb",
            "overage_mb",
            "overage_cost",
            "zone_cost",
            "invoice_total",
            "business_as_usual",
            "release_cost",
            "simulated_p10",
            "simulated_p50",
            "simulated_p90",
            "cycle_timezone",
            "first_day_local",
            "last_day_local",
        ],
        rows,
    }
}

/// One row per UTC day × pool: `spend_by_day.csv` and the Per day sheet.
pub fn day_table(r: &ReportInput) -> Table {
    Table {
        columns: vec![
            "date",
            "pool_id",
            "devices",
            "update_mb",
            "roaming_mb",
            "release_cost",
        ],
        rows: days(r)
            .into_iter()
            .map(|d| {
                vec![
                    Cell::Text(d.date),
                    Cell::Text(d.pool_id),
                    Cell::Int(d.devices as u64),
                    Cell::Mb(d.update_mb),
                    Cell::Mb(d.roaming_mb),
                    Cell::money(d.release_cost),
                ]
            })
            .collect(),
    }
}

/// A plan row's cell in plan.csv's column `col`.
fn device_cell(d: &super::DeviceRow, col: &str) -> Cell {
    let text = |s: &str| Cell::Text(s.to_string());
    let time = |t: Option<Instant>| t.map_or(Cell::Empty, Cell::Time);
    match col {
        "device_id" => text(&d.device_id),
        "wave" => text(&d.wave),
        "pool_id" => text(&d.pool_id),
        "region" => text(&d.region),
        "timezone" => text(&d.timezone),
        "payload" => text(&d.payload),
        "payload_bytes" => Cell::Int(d.payload_bytes),
        "expected_bytes" => Cell::Int(d.expected_bytes),
        "window_start" => Cell::Time(d.window_start),
        "window_end" => Cell::Time(d.window_end),
        "window_start_local" => text(&d.window_start_local),
        "window_end_local" => text(&d.window_end_local),
        "p_success" => Cell::Num(d.p_success),
        "throughput_kbps" => Cell::Num(d.throughput_kbps),
        "billing_cycle_start" => time(d.billing_cycle_start),
        "zone" => text(&d.zone),
        "reconnect_by" => time(d.reconnect_by),
        _ => Cell::Empty,
    }
}

/// plan.csv's rows (the Devices sheet), in plan.csv's columns, at most `limit` of them.
pub fn device_table(devices: &[DeviceRow], limit: usize) -> Table {
    let columns = crate::plan::PLAN_COLUMNS.to_vec();
    let rows = devices
        .iter()
        .take(limit)
        .map(|d| columns.iter().map(|c| device_cell(d, c)).collect())
        .collect();
    Table { columns, rows }
}

/// The plan and each baseline (the Baselines sheet and the report's table): cost
/// components, then spend and total with devices not updated priced as summary.json's
/// `baseline_comparison` states, and the savings as summary.json writes them.
pub fn baseline_table(r: &ReportInput) -> Table {
    let s = &r.summary;
    let row = |name: &str, desc: &str, k: &super::view::Cost, not_updated: usize, spend, total| {
        vec![
            Cell::Text(name.to_string()),
            Cell::Text(desc.to_string()),
            Cell::Int(not_updated as u64),
            Cell::money(k.overage),
            Cell::money(k.zone),
            Cell::money(k.congestion),
            Cell::money(k.risk),
            Cell::money(k.lateness),
            Cell::money(spend),
            Cell::money(total),
        ]
    };
    let mut plan = row(
        "this plan",
        "the plan in plan.csv",
        &s.cost,
        s.baseline_comparison
            .as_ref()
            .map_or(0, |c| c.devices_not_updated),
        s.plan_spend(),
        s.plan_total(),
    );
    plan.extend([Cell::Empty, Cell::Empty]);
    let mut rows = vec![plan];
    for b in &s.baselines {
        let mut line = row(
            &b.name,
            &b.description,
            &b.cost,
            b.devices_not_updated,
            b.spend,
            b.total,
        );
        line.extend([Cell::money(b.saving_spend), Cell::money(b.saving_total)]);
        rows.push(line);
    }
    Table {
        columns: vec![
            "rollout",
            "description",
            "devices_not_updated",
            "overage",
            "zone",
            "congestion",
            "risk",
            "lateness",
            "spend",
            "total",
            "saving_spend",
            "saving_total",
        ],
        rows,
    }
}
