//! `report.xlsx` for finance (rust_xlsxwriter): sheets Summary, Invoices, Per day,
//! Baselines and Devices, real numbers with number formats and the currency, the same
//! tables as the CSVs. Bytes out, no I/O.

use super::figures::{cash, warnings};
use super::tables::{Cell, Table, baseline_table, day_table, device_table, invoice_table};
use super::{DeviceRow, ReportError, ReportInput};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, Worksheet, XlsxError};

/// Rows an Excel sheet holds below its header.
pub const MAX_ROWS: usize = 1_048_575;

struct Formats {
    header: Format,
    money: Format,
    mb: Format,
    int: Format,
    time: Format,
    bold_money: Format,
}

impl Formats {
    fn new(currency: &str) -> Formats {
        let cur = currency.replace('"', "");
        Formats {
            header: Format::new().set_bold(),
            money: Format::new().set_num_format(format!("#,##0.00 \"{cur}\"")),
            mb: Format::new().set_num_format("#,##0.000"),
            int: Format::new().set_num_format("#,##0"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss \"UTC\""),
            bold_money: Format::new()
                .set_bold()
                .set_num_format(format!("#,##0.00 \"{cur}\"")),
        }
    }
}

fn xerr(e: XlsxError) -> ReportError {
    ReportError::Spreadsheet(e.to_string())
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    c: &Cell,
    f: &Formats,
) -> Result<(), XlsxError> {
    match c {
        Cell::Text(s) => ws.write_string(row, col, s.as_str()).map(|_| ()),
        Cell::Int(n) => ws
            .write_number_with_format(row, col, *n as f64, &f.int)
            .map(|_| ()),
        Cell::Mb(v) => ws.write_number_with_format(row, col, *v, &f.mb).map(|_| ()),
        Cell::Money(v) => ws
            .write_number_with_format(row, col, *v, &f.money)
            .map(|_| ()),
        Cell::Num(v) => ws.write_number(row, col, *v).map(|_| ()),
        Cell::Time(t) => {
            let d = ExcelDateTime::from_timestamp(t.timestamp())?;
            ws.write_datetime_with_format(row, col, &d, &f.time)
                .map(|_| ())
        }
        Cell::Empty => Ok(()),
    }
}

/// A table with a bold, frozen header and an autofilter.
fn write_table(ws: &mut Worksheet, t: &Table, f: &Formats) -> Result<(), XlsxError> {
    for (j, name) in t.columns.iter().enumerate() {
        ws.write_string_with_format(0, j as u16, *name, &f.header)?;
        ws.set_column_width(j as u16, (name.len() as f64 + 2.0).max(12.0))?;
    }
    for (i, row) in t.rows.iter().enumerate() {
        for (j, c) in row.iter().enumerate() {
            write_cell(ws, i as u32 + 1, j as u16, c, f)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(
        0,
        0,
        t.rows.len() as u32,
        t.columns.len().saturating_sub(1) as u16,
    )?;
    Ok(())
}

/// The invoices with a totals row: SUM formulas over every money column, their values
/// cached so a reader without a calculation engine sees them too.
fn write_invoices(ws: &mut Worksheet, t: &Table, f: &Formats) -> Result<(), XlsxError> {
    write_table(ws, t, f)?;
    let last = t.rows.len() as u32;
    let total_row = last + 1;
    ws.write_string_with_format(total_row, 0, "total", &f.header)?;
    for (j, _) in t.columns.iter().enumerate() {
        let values: Vec<f64> = t
            .rows
            .iter()
            .filter_map(|r| match r.get(j) {
                Some(Cell::Money(v)) => Some(*v),
                _ => None,
            })
            .collect();
        if values.is_empty() || values.len() < t.rows.len() {
            continue;
        }
        let sum = (values.iter().sum::<f64>() * 100.0).round() / 100.0;
        let col = column_name(j);
        let formula =
            Formula::new(format!("=SUM({col}2:{col}{})", last + 1)).set_result(format!("{sum:.2}"));
        ws.write_formula_with_format(total_row, j as u16, formula, &f.bold_money)?;
    }
    Ok(())
}

/// Excel's name of column `j` (0 = A).
fn column_name(mut j: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (j % 26) as u8);
        if j < 26 {
            break;
        }
        j = j / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Label / value rows of the Summary sheet.
fn summary_rows(r: &ReportInput, devices: usize, devices_written: usize) -> Vec<(String, Cell)> {
    let s = &r.summary;
    let k = cash(r);
    let money = Cell::money;
    let mut rows = vec![
        ("scenario".to_string(), Cell::Text(s.scenario.clone())),
        ("release".into(), Cell::Text(s.release.clone())),
        ("currency".into(), Cell::Text(s.currency.clone())),
        ("horizon start (UTC)".into(), Cell::Text(s.start.clone())),
        ("deadline (UTC)".into(), Cell::Text(s.deadline.clone())),
        ("devices".into(), Cell::Int(s.devices as u64)),
        ("scheduled".into(), Cell::Int(s.scheduled as u64)),
        ("not scheduled".into(), Cell::Int(s.unscheduled as u64)),
        (
            "already on the release".into(),
            Cell::Int(s.up_to_date as u64),
        ),
    ];
    if let (Some(rel), Some(bau)) = (k.release, k.business_as_usual) {
        rows.push((
            "release cost (cash it adds: overage + roaming)".into(),
            money(rel),
        ));
        rows.push((
            "release overage".into(),
            money(k.release_overage.unwrap_or(0.0)),
        ));
        rows.push(("release roaming".into(), money(k.release_zone)));
        rows.push(("business as usual (baseline use only)".into(), money(bau)));
    }
    rows.push((
        "invoices over the horizon (overage + roaming)".into(),
        money(k.invoices),
    ));
    if let Some(sim) = &k.simulated_invoices {
        let bau = k.business_as_usual.unwrap_or(0.0);
        for (q, v) in [
            ("P10", sim.p10),
            ("P50", Some(sim.p50)),
            ("P90", Some(sim.p90)),
        ] {
            if let Some(v) = v {
                rows.push((format!("simulated invoices {q}"), money(v)));
                if k.business_as_usual.is_some() {
                    rows.push((format!("simulated release cost {q}"), money(v - bau)));
                }
            }
        }
    }
    for b in &s.baselines {
        rows.push((
            format!("saving vs {} (spend against spend)", b.name),
            money(b.saving_spend),
        ));
    }
    for (label, v) in [
        ("planning weight, not money: congestion", s.cost.congestion),
        ("planning weight, not money: risk", s.cost.risk),
        ("planning weight, not money: lateness", s.cost.lateness),
        ("planner's objective (cash + weights)", s.cost.total),
    ] {
        rows.push((label.into(), money(v)));
    }
    if let Some(lp) = &s.lp {
        rows.push(("solver status".into(), Cell::Text(lp.status.clone())));
    }
    if let Some(sim) = &r.simulation {
        rows.push(("simulation runs".into(), Cell::Int(sim.runs as u64)));
        rows.push((
            "devices updated by the deadline, mean".into(),
            Cell::Num(sim.completion_rate.mean),
        ));
        rows.push((
            "devices updated by the deadline, P10".into(),
            Cell::Num(sim.completion_rate.p10),
        ));
    }
    for w in warnings(r) {
        rows.push(("warning".into(), Cell::Text(w)));
    }
    if devices_written < devices {
        rows.push((
            "note".into(),
            Cell::Text(format!(
                "the Devices sheet holds the first {devices_written} of {} plan rows (an Excel sheet's limit); plan.csv has all",
                devices
            )),
        ));
    }
    rows
}

/// `report.xlsx` as bytes; `devices` are plan.csv's rows (the Devices sheet).
pub fn xlsx(r: &ReportInput, devices: &[DeviceRow]) -> Result<Vec<u8>, ReportError> {
    let f = Formats::new(&r.summary.currency);
    let mut wb = Workbook::new();
    let rows = devices.len();
    let devices = device_table(devices, MAX_ROWS);
    {
        let ws = wb.add_worksheet().set_name("Summary").map_err(xerr)?;
        ws.write_string_with_format(0, 0, "item", &f.header)
            .map_err(xerr)?;
        ws.write_string_with_format(0, 1, "value", &f.header)
            .map_err(xerr)?;
        ws.set_column_width(0, 52).map_err(xerr)?;
        ws.set_column_width(1, 24).map_err(xerr)?;
        for (i, (label, c)) in summary_rows(r, rows, devices.rows.len()).iter().enumerate() {
            ws.write_string(i as u32 + 1, 0, label.as_str())
                .map_err(xerr)?;
            write_cell(ws, i as u32 + 1, 1, c, &f).map_err(xerr)?;
        }
    }
    let ws = wb.add_worksheet().set_name("Invoices").map_err(xerr)?;
    write_invoices(ws, &invoice_table(r), &f).map_err(xerr)?;
    let ws = wb.add_worksheet().set_name("Per day").map_err(xerr)?;
    write_table(ws, &day_table(r), &f).map_err(xerr)?;
    let ws = wb.add_worksheet().set_name("Baselines").map_err(xerr)?;
    write_table(ws, &baseline_table(r), &f).map_err(xerr)?;
    let ws = wb
        .add_worksheet_with_constant_memory()
        .set_name("Devices")
        .map_err(xerr)?;
    write_table(ws, &devices, &f).map_err(xerr)?;
    wb.save_to_buffer().map_err(xerr)
}
