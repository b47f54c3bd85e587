//! Writing a plan: `plan.csv`, `unscheduled.csv` and `summary.json` exactly as the
//! contract names them, each written atomically. Formatting is fixed (bytes as integers,
//! instants in RFC 3339 with `Z`, local times with their offset, money rounded here and
//! only here) so the same plan always gives byte-identical files.

use crate::coverage;
use crate::domain::Scenario;
use crate::fsutil::write_atomic;
use crate::plan::evaluate::{CostBreakdown, PoolUsage, RegionLoad};
use crate::plan::{LpReport, Plan, WaveReport};
use crate::units::{push_rfc3339, push_rfc3339_local};
use serde::Serialize;
use std::io;
use std::path::Path;

pub use crate::units::rfc3339_utc as utc;

mod csv_writer;
pub use csv_writer::{CsvWriter, csv_field, csv_text};

pub use crate::units::rfc3339_local as local;

pub use crate::plan::PLAN_COLUMNS;

/// `plan.csv` as text. At a million devices this is the largest file otaplan writes, so
/// rows are formatted without a string per field, in one chunk per core, and the chunks
/// joined in order: the bytes are the same as one writer's.
pub fn plan_csv(s: &Scenario, plan: &Plan) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = plan.rows.len().div_ceil(cores).max(10_000);
    let parts: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let workers: Vec<_> = plan
            .rows
            .chunks(chunk)
            .map(|rows| scope.spawn(move || plan_csv_rows(s, rows)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out = csv_text(&PLAN_COLUMNS, std::iter::empty::<[&str; 0]>()).into_bytes();
    out.reserve(parts.iter().map(Vec::len).sum());
    for p in parts {
        out.extend_from_slice(&p);
    }
    // Every field is UTF-8 text and quoting adds ASCII only.
    String::from_utf8(out).unwrap_or_default()
}

/// `plan.csv`'s rows (no header) for `rows`.
fn plan_csv_rows(s: &Scenario, rows: &[crate::plan::PlanRow]) -> Vec<u8> {
    use std::fmt::Write;
    let mut w = CsvWriter::new(Vec::with_capacity(rows.len() * 240));
    // The row's formatted fields (payload to billing_cycle_start, then reconnect_by),
    // one after the other in plan.csv's column order, and where each ends.
    let mut text = String::with_capacity(192);
    let mut ends = [0usize; 11];
    for r in rows {
        let d = &s.devices[r.device.0 as usize];
        text.clear();
        let _ = write!(text, "{}", r.payload.label(&s.artifacts));
        ends[0] = text.len();
        let _ = write!(text, "{}", r.payload_bytes);
        ends[1] = text.len();
        let _ = write!(text, "{}", r.expected_bytes);
        ends[2] = text.len();
        push_rfc3339(&mut text, r.window_start, None);
        ends[3] = text.len();
        push_rfc3339(&mut text, r.window_end, None);
        ends[4] = text.len();
        push_rfc3339_local(&mut text, r.window_start, d.tz);
        ends[5] = text.len();
        push_rfc3339_local(&mut text, r.window_end, d.tz);
        ends[6] = text.len();
        let _ = write!(text, "{:.6}", r.p_success);
        ends[7] = text.len();
        let _ = write!(text, "{:.3}", r.throughput_kbps);
        ends[8] = text.len();
        if let Some(c) = r.billing_cycle_start {
            push_rfc3339(&mut text, c, None);
        }
        ends[9] = text.len();
        push_rfc3339(&mut text, r.reconnect_by, None);
        ends[10] = text.len();
        let f = |k: usize| &text[if k == 0 { 0 } else { ends[k - 1] }..ends[k]];
        // Writing into memory does not fail.
        let _ = w.row([
            d.id.as_str(),
            s.waves[r.wave].name.as_str(),
            s.pool(d.pool).id.as_str(),
            s.region(d.region).name.as_str(),
            d.tz.name(),
            f(0),
            f(1),
            f(2),
            f(3),
            f(4),
            f(5),
            f(6),
            f(7),
            f(8),
            f(9),
            d.zone.as_deref().unwrap_or_default(),
            f(10),
        ]);
    }
    w.finish().unwrap_or_default()
}

/// `unscheduled.csv` as text.
pub fn unscheduled_csv(s: &Scenario, plan: &Plan) -> String {
    let rows = plan.unscheduled.iter().map(|u| {
        [
            s.devices[u.device.0 as usize].id.as_str(),
            u.reason.as_str(),
        ]
    });
    csv_text(&["device_id", "reason"], rows)
}

/// Money rounded for people (once, here).
fn money(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}
fn mb(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub release: String,
    pub currency: String,
    pub start: String,
    pub deadline: String,
    pub slot_minutes: u32,
    pub devices: usize,
    pub scheduled: usize,
    pub unscheduled: usize,
    pub up_to_date: usize,
    pub coverage_source: coverage::Source,
    pub cost: CostBreakdown,
    pub lp: LpReport,
    pub pools: Vec<PoolUsage>,
    pub regions: Vec<RegionLoad>,
    pub waves: Vec<WaveReport>,
    pub wave_notes: Vec<String>,
    pub baselines: Vec<crate::plan::baselines::BaselineReport>,
    /// The same horizon priced without the release: baseline use only.
    pub business_as_usual: BusinessAsUsual,
    /// What the baselines' savings are measured against (absent without baselines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_comparison: Option<crate::plan::baselines::Comparison>,
    pub stop_rules: crate::domain::StopRules,
    /// How expected bytes and success were modelled (so a reader can re-derive them).
    pub model_notes: Vec<String>,
    /// Wall-clock seconds of each step of the run that wrote this plan.
    pub timings: Timings,
}

/// Wall-clock seconds per step (filled by the front end; `write_seconds` covers
/// plan.csv and unscheduled.csv).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub read_seconds: f64,
    pub coverage_seconds: f64,
    pub plan_seconds: f64,
    pub write_seconds: f64,
    /// `plan_seconds` split by the planner's steps, in order.
    pub plan_steps: Vec<StepTiming>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StepTiming {
    pub step: String,
    pub seconds: f64,
}

/// What the pools would cost over the plan's horizon without the release: every cycle's
/// baseline use alone, priced by the same accounting (`evaluate::account` with no
/// downloads). The release's own cost is the plan's minus this.
#[derive(Debug, Serialize)]
pub struct BusinessAsUsual {
    pub description: String,
    pub cost: CostBreakdown,
    pub pools: Vec<PoolUsage>,
}

fn rounded_cost(c: &CostBreakdown) -> CostBreakdown {
    let mut c = c.clone();
    for v in [
        &mut c.total,
        &mut c.overage,
        &mut c.zone,
        &mut c.congestion,
        &mut c.risk,
        &mut c.lateness,
    ] {
        *v = money(*v);
    }
    c
}

fn rounded_pools(pools: &[PoolUsage]) -> Vec<PoolUsage> {
    pools
        .iter()
        .map(|p| {
            let mut p = p.clone();
            for c in &mut p.cycles {
                c.baseline_mb = mb(c.baseline_mb);
                c.already_mb = mb(c.already_mb);
                c.update_mb = mb(c.update_mb);
                c.overage_mb = mb(c.overage_mb);
                c.overage_cost = money(c.overage_cost);
                c.zone_cost = money(c.zone_cost);
            }
            p
        })
        .collect()
}

fn business_as_usual(s: &Scenario) -> BusinessAsUsual {
    let a = crate::plan::evaluate::account(s, &[], &[], crate::plan::load_grid(s));
    BusinessAsUsual {
        description: "the same billing cycles priced by the same accounting with baseline use only (no release downloads, no bytes spent on it)".into(),
        cost: rounded_cost(&a.cost),
        pools: rounded_pools(&a.pools),
    }
}

pub fn summary(s: &Scenario, plan: &Plan, source: coverage::Source, timings: Timings) -> Summary {
    let cost = rounded_cost(&plan.accounting.cost);
    let pools = rounded_pools(&plan.accounting.pools);
    let regions = plan
        .accounting
        .regions
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.peak_mb_per_hour = mb(r.peak_mb_per_hour);
            r.excess_mb = mb(r.excess_mb);
            r
        })
        .collect();
    let mut lp = plan.lp.clone();
    for v in [
        &mut lp.objective,
        &mut lp.lower_bound,
        &mut lp.rounded_objective,
    ] {
        *v = money(*v);
    }
    let waves = plan.waves.clone();
    Summary {
        scenario: s.name.clone(),
        release: s.release.clone(),
        currency: s.currency.clone(),
        start: utc(s.start),
        deadline: utc(s.deadline),
        slot_minutes: s.slot_minutes,
        devices: s.devices.len(),
        scheduled: plan.rows.len(),
        unscheduled: plan.unscheduled.len(),
        up_to_date: plan.up_to_date,
        coverage_source: source,
        cost,
        lp,
        pools,
        regions,
        waves,
        wave_notes: plan.wave_notes.clone(),
        baselines: rounded_baselines(plan),
        baseline_comparison: plan.comparison.clone().map(|mut c| {
            c.plan_spend = money(c.plan_spend);
            c.plan_total = money(c.plan_total);
            c.spend_per_device_not_updated = money(c.spend_per_device_not_updated);
            c.total_per_device_not_updated = money(c.total_per_device_not_updated);
            c
        }),
        business_as_usual: business_as_usual(s),
        stop_rules: s.stop_rules.clone(),
        model_notes: [
            format!(
                "expected_bytes = Σ over the payload's artifacts of size × (e^(h·d) − 1)/(h·d) when not resumable, size + h·d × {} bytes when resumable, × {} protocol overhead; d = size × 8 / throughput, h = mean drop rate over the window's local hours",
                crate::plan::transfer::RESUME_OVERHEAD_BYTES,
                1.0 + crate::plan::transfer::PROTOCOL_OVERHEAD
            ),
            "p_success = mean p_online over the window's local hours × Π over non-resumable artifacts e^(−h·d)".into(),
            "throughput_kbps = the lowest coverage-model throughput over the local hours the window touches".into(),
            "hard caps keep cap_headroom_mb free below cap_mb in every cycle (by default the largest expected download that may start in the cycle), since carriers enforce caps late; pools[].cycles[].cap_headroom_mb says which".into(),
            "retry policy: a device whose download fails retries in its next allowed local window".into(),
            "waves: every wave but the last must end by the earliest instant all its devices can have downloaded (each at its first window with room under the hard limits; waves[].latest_end), the next starts at that end plus the soak; with these spans fixed, all waves are one model solved together with the scenario's own weights".into(),
            "placements: a window starts a whole number of slots after one of the device's local windows opens and lasts whole slots, so a 4-hour local window gives 4 hours in any UTC offset; its bytes are spread over the UTC load slots it overlaps by the fraction it overlaps each".into(),
            "solver: column generation over every cohort's candidate placements (lp.candidate_placements), priced with HiGHS's row duals; lp.lower_bound = best master optimum + Σ cohorts n × min(0, least reduced cost), a valid bound on cost.total over plans with these wave spans and placements; lp.rounding_gap = (cost.total − lp.lower_bound) / lp.lower_bound".into(),
            "expected_bytes and p_success are the cohort's (devices the model cannot tell apart share them), so cost.total is what the model priced; throughput_kbps is the device's own lowest over its window".into(),
            "baselines: each covers every device needing the release; its bytes are billed in whatever cycle they fall, after the deadline too (such a cycle is charged only the overage its update bytes add); a download that would push a pause/throttle pool past cap_mb waits for the reset (paused_at_cap); devices left out are priced as baseline_comparison states".into(),
        ]
        .into_iter()
        .chain(
            plan.comparison
                .iter()
                .flat_map(|c| c.notes(&rounded_baselines(plan))),
        )
        .collect(),
        timings,
    }
}

/// The baselines as summary.json shows them: money rounded once, and each saving the
/// difference of the rounded figures, so that `saving_total = total − plan_total` and
/// `saving_spend = spend − plan_spend` hold to the cent as written.
fn rounded_baselines(plan: &Plan) -> Vec<crate::plan::baselines::BaselineReport> {
    let Some(cmp) = &plan.comparison else {
        return Vec::new();
    };
    plan.baselines
        .iter()
        .map(|b| {
            let mut b = b.clone();
            b.cost = rounded_cost(&b.cost);
            b.spend = money(b.spend);
            b.total = money(b.total);
            b.saving_spend = money(b.spend - money(cmp.plan_spend));
            b.saving_total = money(b.total - money(cmp.plan_total));
            b.peak_mb_per_hour = mb(b.peak_mb_per_hour);
            b
        })
        .collect()
}

/// `spent.csv` as text: the bytes a re-plan charged before its first window — `used`
/// (what progress.csv reported, billed at its `at`) and `in_flight` (the rest of a
/// download running at `--now`, billed then and carried as load until `load_until`).
/// A fresh plan writes the header only.
pub fn spent_csv(s: &Scenario, plan: &Plan) -> String {
    let rows = plan.spent.iter().map(|sp| {
        [
            s.devices[sp.device.0 as usize].id.clone(),
            match sp.load_until {
                Some(_) => "in_flight",
                None => "used",
            }
            .to_string(),
            sp.bytes.to_string(),
            utc(sp.at),
            sp.load_until.map(utc).unwrap_or_default(),
        ]
    });
    csv_text(&["device_id", "kind", "bytes", "at", "load_until"], rows)
}

/// Writes `plan.csv`, `unscheduled.csv`, `spent.csv` and `summary.json` into `dir`, which
/// must exist (`plan_folder::write_plan_folder` creates it).
pub fn write_plan(
    dir: &Path,
    s: &Scenario,
    plan: &Plan,
    source: coverage::Source,
    mut timings: Timings,
) -> io::Result<()> {
    let t0 = std::time::Instant::now();
    write_atomic(&dir.join("plan.csv"), plan_csv(s, plan).as_bytes())?;
    write_atomic(
        &dir.join("unscheduled.csv"),
        unscheduled_csv(s, plan).as_bytes(),
    )?;
    write_atomic(&dir.join("spent.csv"), spent_csv(s, plan).as_bytes())?;
    timings.write_seconds = t0.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&summary(s, plan, source, timings))
        .map_err(io::Error::other)?;
    write_atomic(&dir.join("summary.json"), (json + "\n").as_bytes())?;
    Ok(())
}

fn round_stats(s: &mut crate::simulate::Stats, f: fn(f64) -> f64) {
    for v in [&mut s.mean, &mut s.p10, &mut s.p50, &mut s.p90, &mut s.p99] {
        *v = f(*v);
    }
}

/// `simulation.json` as text: money and MB rounded here, keys in a fixed order.
pub fn simulation_json(sim: &crate::simulate::Simulation) -> String {
    let mut sim = sim.clone();
    sim.projected_total = money(sim.projected_total);
    round_stats(&mut sim.cost, money);
    round_stats(&mut sim.overage, money);
    round_stats(&mut sim.spend, money);
    sim.mean_cost = rounded_cost(&sim.mean_cost);
    sim.projected_cost = rounded_cost(&sim.projected_cost);
    sim.projection_gap = (sim.projection_gap * 1e6).round() / 1e6;
    sim.completion_rate.mean = (sim.completion_rate.mean * 1e6).round() / 1e6;
    sim.completion_rate.p10 = (sim.completion_rate.p10 * 1e6).round() / 1e6;
    sim.attempts_per_device = (sim.attempts_per_device * 1e6).round() / 1e6;
    sim.failed_first_attempts = (sim.failed_first_attempts * 1e3).round() / 1e3;
    sim.projected_failed_first_attempts = (sim.projected_failed_first_attempts * 1e3).round() / 1e3;
    for p in &mut sim.pools {
        for c in &mut p.cycles {
            c.baseline_mb = mb(c.baseline_mb);
            c.projected_update_mb = mb(c.projected_update_mb);
            c.projected_overage_cost = money(c.projected_overage_cost);
            round_stats(&mut c.update_mb, mb);
            round_stats(&mut c.overage_mb, mb);
            round_stats(&mut c.overage_cost, money);
            round_stats(&mut c.zone_cost, money);
            round_stats(&mut c.invoice, money);
        }
    }
    for r in &mut sim.regions {
        r.projected_peak_mb_per_hour = mb(r.projected_peak_mb_per_hour);
        round_stats(&mut r.peak_mb_per_hour, mb);
    }
    serde_json::to_string_pretty(&sim).unwrap_or_default() + "\n"
}

/// Writes `simulation.json` into `dir` atomically.
pub fn write_simulation(dir: &Path, sim: &crate::simulate::Simulation) -> io::Result<()> {
    write_atomic(
        &dir.join("simulation.json"),
        simulation_json(sim).as_bytes(),
    )
}

/// The report's view of a plan: its summary read through the report's own types (the
/// same serde path `otaplan report` takes from summary.json), its rows and the reasons
/// of its unscheduled devices. No simulation: `plan` has not simulated yet.
pub fn report_input(
    s: &Scenario,
    plan: &Plan,
    source: coverage::Source,
) -> io::Result<crate::report::ReportInput> {
    let value = serde_json::to_value(summary(s, plan, source, Timings::default()))
        .map_err(io::Error::other)?;
    let summary: crate::report::SummaryView =
        serde_json::from_value(value).map_err(io::Error::other)?;
    let pool_ids: Vec<std::sync::Arc<str>> = s
        .pools
        .iter()
        .map(|p| std::sync::Arc::from(p.id.as_str()))
        .collect();
    let downloads = plan
        .rows
        .iter()
        .map(|r| {
            let d = &s.devices[r.device.0 as usize];
            crate::report::Download {
                pool_id: pool_ids[d.pool.0 as usize].clone(),
                window_start: r.window_start,
                roaming: d.zone.is_some(),
                expected_bytes: r.expected_bytes,
            }
        })
        .collect();
    Ok(crate::report::ReportInput {
        summary,
        simulation: None,
        ignored_simulation: None,
        downloads,
        unscheduled: plan.unscheduled.iter().map(|u| u.reason.clone()).collect(),
    })
}

/// A report table as CSV text (cells formatted as `report::Cell::text` says).
pub fn table_csv(t: &crate::report::Table) -> String {
    let header: Vec<&str> = t.columns.iter().map(|c| c.as_ref()).collect();
    csv_text(
        &header,
        t.rows.iter().map(|row| row.iter().map(|c| c.text())),
    )
}

/// Which files [`write_report`] writes.
#[derive(Debug, Clone, Copy)]
pub enum ReportFiles<'a> {
    /// `report.html`, `spend.csv` and `spend_by_day.csv`: what `plan` writes. A
    /// `report.xlsx` left by an earlier `otaplan report` belongs to the plan it replaces
    /// and is removed.
    Page,
    /// Those and `report.xlsx` (`otaplan report`). Its Devices sheet costs about 4 s per
    /// 100,000 devices (measured on the bench preset), more than planning them, so
    /// `plan` leaves the spreadsheet to the finance step.
    WithSpreadsheet(&'a [crate::report::DeviceRow]),
}

/// Writes the report's files into `dir`, each atomically.
pub fn write_report(
    dir: &Path,
    r: &crate::report::ReportInput,
    files: ReportFiles<'_>,
) -> io::Result<()> {
    let html = crate::report::html(r).map_err(io::Error::other)?;
    write_atomic(&dir.join("report.html"), html.as_bytes())?;
    let xlsx_path = dir.join("report.xlsx");
    match files {
        ReportFiles::WithSpreadsheet(devices) => {
            let xlsx = crate::report::xlsx(r, devices).map_err(io::Error::other)?;
            write_atomic(&xlsx_path, &xlsx)?;
        }
        ReportFiles::Page => match std::fs::remove_file(&xlsx_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
    }
    write_atomic(
        &dir.join("spend.csv"),
        table_csv(&crate::report::invoice_table(r)).as_bytes(),
    )?;
    write_atomic(
        &dir.join("spend_by_day.csv"),
        table_csv(&crate::report::day_table(r)).as_bytes(),
    )?;
    Ok(())
}
