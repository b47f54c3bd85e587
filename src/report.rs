//! The finance report of a plan: a self-contained `report.html` (inline SVG charts drawn
//! with plotters, no network fetches, print-friendly CSS), `spend.csv` (pool × cycle)
//! and `spend_by_day.csv`. Takes typed values ([`ReportInput`], built from the summary,
//! the optional simulation and the plan's rows); does no I/O and prices nothing itself —
//! every figure comes from the planner's accounting or the simulator.

use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot draw the {chart} chart: {message}")]
    Chart { chart: String, message: String },
}

fn chart_err<E: std::fmt::Display>(chart: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Chart {
        chart: chart.to_string(),
        message: e.to_string(),
    }
}

/// Cost components (the summary's `cost`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub total: f64,
    pub overage: f64,
    #[serde(default)]
    pub zone: f64,
    #[serde(default)]
    pub congestion: f64,
    #[serde(default)]
    pub risk: f64,
    #[serde(default)]
    pub lateness: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cycle {
    pub start: String,
    pub end: String,
    pub allowance_mb: f64,
    pub baseline_mb: f64,
    #[serde(default)]
    pub already_mb: f64,
    pub update_mb: f64,
    pub overage_mb: f64,
    pub overage_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub pool_id: String,
    pub cycles: Vec<Cycle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub region: String,
    pub capacity_mb_per_hour: f64,
    pub peak_mb_per_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wave {
    pub name: String,
    pub devices: usize,
    pub start: Option<String>,
    pub end: Option<String>,
    pub gate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub name: String,
    pub cost: Cost,
    /// Overage + zone (devices it does not update priced as summary.json states).
    #[serde(default)]
    pub spend: f64,
    /// Baseline spend − plan spend.
    #[serde(default)]
    pub saving_spend: f64,
    /// Baseline total − plan total.
    #[serde(default)]
    pub saving_total: f64,
}

/// What the report needs of `summary.json` (a subset of `output::Summary`, read back
/// through serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryView {
    pub scenario: String,
    pub release: String,
    pub currency: String,
    pub start: String,
    pub deadline: String,
    pub devices: usize,
    pub scheduled: usize,
    pub unscheduled: usize,
    pub cost: Cost,
    pub pools: Vec<Pool>,
    pub regions: Vec<Region>,
    pub waves: Vec<Wave>,
    #[serde(default)]
    pub baselines: Vec<Baseline>,
}

/// Mean and percentiles (of `simulation.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompletionView {
    pub mean: f64,
    pub p10: f64,
}

/// What the report needs of `simulation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationView {
    /// The plan it replayed (content hash); absent in files older than the field.
    #[serde(default)]
    pub plan: Option<String>,
    pub runs: usize,
    pub seed: u64,
    pub cost: StatsView,
    pub projection_gap: f64,
    pub completion_rate: CompletionView,
}

/// Update bytes that start downloading on one UTC day in one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct DayUse {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub pool_id: String,
    /// Home-zone MB (draws on the pool's allowance).
    pub update_mb: f64,
    /// Roaming MB (billed at zone rates).
    pub roaming_mb: f64,
    pub devices: usize,
}

/// One plan row as the daily view needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowUse {
    pub pool_id: String,
    pub expected_bytes: u64,
    /// RFC 3339 UTC.
    pub window_start: String,
    pub roaming: bool,
}

/// Sums rows per UTC day and pool, sorted by day then pool.
pub fn days_of(rows: &[RowUse]) -> Vec<DayUse> {
    let mut m: BTreeMap<(String, String), DayUse> = BTreeMap::new();
    for r in rows {
        let date: String = r.window_start.chars().take(10).collect();
        let e = m
            .entry((date.clone(), r.pool_id.clone()))
            .or_insert_with(|| DayUse {
                date,
                pool_id: r.pool_id.clone(),
                update_mb: 0.0,
                roaming_mb: 0.0,
                devices: 0,
            });
        let mb = r.expected_bytes as f64 / 1e6;
        if r.roaming {
            e.roaming_mb += mb;
        } else {
            e.update_mb += mb;
        }
        e.devices += 1;
    }
    m.into_values().collect()
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInput {
    pub summary: SummaryView,
    pub simulation: Option<SimulationView>,
    /// Why a `simulation.json` found beside the plan was left out (it replayed another
    /// plan); shown at the top of the report.
    pub ignored_simulation: Option<String>,
    pub days: Vec<DayUse>,
}

fn money(v: f64) -> String {
    let neg = v < 0.0;
    let cents = (v.abs() * 100.0).round() as u64;
    let mut whole = (cents / 100).to_string();
    let mut out = String::new();
    while whole.len() > 3 {
        let tail = whole.split_off(whole.len() - 3);
        out = format!(",{tail}{out}");
    }
    format!(
        "{}{whole}{out}.{:02}",
        if neg { "−" } else { "" },
        cents % 100
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The headline figures, as printed in the report (tests look for them).
pub fn headline(r: &ReportInput) -> Vec<(String, String)> {
    let s = &r.summary;
    let c = &s.currency;
    let mut out = vec![
        (
            "Projected spend (overage + roaming)".to_string(),
            format!("{} {c}", money(s.cost.overage + s.cost.zone)),
        ),
        (
            "Projected overage".to_string(),
            format!("{} {c}", money(s.cost.overage)),
        ),
        (
            "Plan cost incl. congestion, risk, lateness".to_string(),
            format!("{} {c}", money(s.cost.total)),
        ),
    ];
    for b in &s.baselines {
        out.push((
            format!("Saving vs {} (spend vs spend / total vs total)", b.name),
            format!(
                "{} {c} / {} {c}",
                money(b.saving_spend),
                money(b.saving_total)
            ),
        ));
    }
    if let Some(sim) = &r.simulation {
        out.push((
            format!("Simulated cost P50 / P90 ({} runs)", sim.runs),
            format!("{} / {} {c}", money(sim.cost.p50), money(sim.cost.p90)),
        ));
        out.push((
            "Devices updated by the deadline (mean / P10)".to_string(),
            format!(
                "{:.1}% / {:.1}%",
                sim.completion_rate.mean * 100.0,
                sim.completion_rate.p10 * 100.0
            ),
        ));
    }
    out
}

const BASE: RGBColor = RGBColor(170, 170, 170);
const UPDATE: RGBColor = RGBColor(52, 101, 164);
const OVER: RGBColor = RGBColor(204, 0, 0);
const FONT: &str = "sans-serif";

/// Usage per billing cycle of one pool: baseline + update stacked, the allowance as a
/// line, the part above it in red.
fn pool_chart(p: &Pool) -> Result<String, ReportError> {
    let name = format!("pool {}", p.pool_id);
    let err = chart_err(&name);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let n = p.cycles.len().max(1);
        let ymax = p
            .cycles
            .iter()
            .map(|c| (c.baseline_mb + c.already_mb + c.update_mb).max(c.allowance_mb))
            .fold(1.0, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Pool {}: MB per billing cycle", p.pool_id),
                (FONT, 16),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
            .map_err(&err)?;
        let labels: Vec<String> = p
            .cycles
            .iter()
            .map(|c| c.start.chars().take(10).collect())
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * n + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 1e-6 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("MB")
            .draw()
            .map_err(&err)?;
        let bar = |i: usize, lo: f64, hi: f64, color: RGBColor| {
            Rectangle::new([(i as f64 + 0.2, lo), (i as f64 + 0.8, hi)], color.filled())
        };
        chart
            .draw_series(
                p.cycles
                    .iter()
                    .enumerate()
                    .map(|(i, c)| bar(i, 0.0, c.baseline_mb + c.already_mb, BASE)),
            )
            .map_err(&err)?
            .label("baseline use")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BASE.filled()));
        chart
            .draw_series(p.cycles.iter().enumerate().map(|(i, c)| {
                let lo = c.baseline_mb + c.already_mb;
                bar(i, lo, lo + c.update_mb, UPDATE)
            }))
            .map_err(&err)?
            .label("update")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], UPDATE.filled()));
        chart
            .draw_series(p.cycles.iter().enumerate().filter_map(|(i, c)| {
                let total = c.baseline_mb + c.already_mb + c.update_mb;
                (total > c.allowance_mb).then(|| {
                    Rectangle::new(
                        [(i as f64 + 0.2, c.allowance_mb), (i as f64 + 0.8, total)],
                        OVER.mix(0.6).filled(),
                    )
                })
            }))
            .map_err(&err)?
            .label("overage")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], OVER.filled()));
        chart
            .draw_series(p.cycles.iter().enumerate().map(|(i, c)| {
                PathElement::new(
                    vec![
                        (i as f64 + 0.05, c.allowance_mb),
                        (i as f64 + 0.95, c.allowance_mb),
                    ],
                    BLACK.stroke_width(2),
                )
            }))
            .map_err(&err)?
            .label("allowance")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Horizontal bars: one value per label.
fn bar_chart(
    title: &str,
    unit: &str,
    bars: &[(String, f64, RGBColor)],
    reference: Option<(&str, Vec<f64>)>,
) -> Result<String, ReportError> {
    let err = chart_err(title);
    let mut svg = String::new();
    {
        let h = 80 + 34 * bars.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (560, h)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let n = bars.len().max(1);
        let xmax = bars
            .iter()
            .map(|b| b.1)
            .chain(reference.iter().flat_map(|r| r.1.iter().copied()))
            .fold(1e-9, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(140)
            .build_cartesian_2d(0f64..xmax, 0f64..n as f64)
            .map_err(&err)?;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(2 * n + 1)
            .y_label_formatter(&|y| {
                let i = y.floor() as usize;
                if (y - y.floor() - 0.5).abs() < 1e-6 {
                    names.get(n - 1 - i.min(n - 1)).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc(unit)
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, color))| {
                let y = (n - 1 - i) as f64;
                Rectangle::new([(0.0, y + 0.2), (*v, y + 0.8)], color.filled())
            }))
            .map_err(&err)?;
        if let Some((label, refs)) = reference {
            chart
                .draw_series(refs.iter().enumerate().map(|(i, v)| {
                    let y = (n - 1 - i) as f64;
                    PathElement::new(vec![(*v, y + 0.05), (*v, y + 0.95)], OVER.stroke_width(3))
                }))
                .map_err(&err)?
                .label(label)
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], OVER.stroke_width(3)));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font((FONT, 12))
                .draw()
                .map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Update MB per UTC day, all pools together.
fn day_chart(days: &[DayUse]) -> Result<String, ReportError> {
    let err = chart_err("spend per day");
    let mut per_day: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for d in days {
        let e = per_day.entry(d.date.as_str()).or_default();
        e.0 += d.update_mb;
        e.1 += d.roaming_mb;
    }
    let v: Vec<(&str, f64, f64)> = per_day.into_iter().map(|(k, (a, b))| (k, a, b)).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let n = v.len().max(1);
        let ymax = v.iter().map(|x| x.1 + x.2).fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Update data per day (MB, by download start, UTC)",
                (FONT, 16),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
            .map_err(&err)?;
        let labels: Vec<String> = v.iter().map(|x| x.0[5..].to_string()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(30) + 1)
            .x_label_formatter(&|x| labels.get(x.floor() as usize).cloned().unwrap_or_default())
            .y_desc("MB")
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(v.iter().enumerate().map(|(i, x)| {
                Rectangle::new(
                    [(i as f64 + 0.1, 0.0), (i as f64 + 0.9, x.1)],
                    UPDATE.filled(),
                )
            }))
            .map_err(&err)?
            .label("home zone (draws on allowances)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], UPDATE.filled()));
        chart
            .draw_series(v.iter().enumerate().map(|(i, x)| {
                Rectangle::new(
                    [(i as f64 + 0.1, x.1), (i as f64 + 0.9, x.1 + x.2)],
                    RGBColor(233, 185, 110).filled(),
                )
            }))
            .map_err(&err)?
            .label("roaming (zone rates)")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 10, y + 5)],
                    RGBColor(233, 185, 110).filled(),
                )
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Hours from the horizon's start of an RFC 3339 instant.
fn hours_from(start: &str, t: &str) -> Option<f64> {
    let a = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(t).ok()?;
    Some((b - a).num_minutes() as f64 / 60.0)
}

/// The waves on a timeline: download span, then soak until the gate.
fn wave_chart(s: &SummaryView) -> Result<String, ReportError> {
    let err = chart_err("waves");
    let mut svg = String::new();
    {
        let n = s.waves.len().max(1);
        let root =
            SVGBackend::with_string(&mut svg, (1100, 80 + 34 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let total = hours_from(&s.start, &s.deadline).unwrap_or(1.0).max(1.0) / 24.0;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Waves: downloads (blue) and soak until the gate (grey), days from start",
                (FONT, 16),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..total, 0f64..n as f64)
            .map_err(&err)?;
        let names: Vec<String> = s
            .waves
            .iter()
            .map(|w| format!("{} ({})", w.name, w.devices))
            .collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(2 * n + 1)
            .y_label_formatter(&|y| {
                let i = y.floor() as usize;
                if (y - y.floor() - 0.5).abs() < 1e-6 {
                    names.get(n - 1 - i.min(n - 1)).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("days")
            .draw()
            .map_err(&err)?;
        let day = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| hours_from(&s.start, t))
                .map(|h| h / 24.0)
        };
        let mut rects = Vec::new();
        for (i, w) in s.waves.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            if let (Some(a), Some(b)) = (day(&w.start), day(&w.end)) {
                rects.push(Rectangle::new(
                    [(a, y + 0.2), (b.max(a + 0.02), y + 0.8)],
                    UPDATE.filled(),
                ));
                if let Some(g) = day(&w.gate) {
                    rects.push(Rectangle::new(
                        [(b, y + 0.35), (g.min(total), y + 0.65)],
                        BASE.filled(),
                    ));
                }
            }
        }
        chart.draw_series(rects).map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

const CSS: &str = "body{font-family:sans-serif;max-width:1140px;margin:24px auto;color:#222}\
h1{font-size:24px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}\
.headline td{font-size:16px}.over{color:#c00;font-weight:bold}.charts svg{margin:4px}\
.note{color:#555;font-size:13px}\
.warning{background:#fff4e5;border-left:4px solid #e67e22;padding:8px 12px}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}svg,table{break-inside:avoid}}";

/// `report.html` as text.
pub fn html(r: &ReportInput) -> Result<String, ReportError> {
    let s = &r.summary;
    let c = &s.currency;
    let mut h = String::with_capacity(200_000);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Release {} — data spend ({})</title><style>{CSS}</style></head><body>",
        esc(&s.release),
        esc(&s.scenario)
    );
    let _ = write!(
        h,
        "<h1>Release {} of {}: projected data spend</h1><p class=\"note\">{} devices, {} scheduled, {} not scheduled; downloads between {} and {}. Currency: {}.</p>",
        esc(&s.release),
        esc(&s.scenario),
        s.devices,
        s.scheduled,
        s.unscheduled,
        esc(&s.start),
        esc(&s.deadline),
        esc(c)
    );
    if let Some(why) = &r.ignored_simulation {
        let _ = write!(
            h,
            "<p class=\"warning\"><strong>Warning:</strong> {}</p>",
            esc(why)
        );
    }
    h.push_str("<table class=\"headline\">");
    for (k, v) in headline(r) {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(&k), esc(&v));
    }
    h.push_str("</table>");
    if let Some(sim) = &r.simulation {
        let _ = write!(
            h,
            "<p class=\"note\">Simulated over {} runs (seed {}): mean {} {c}, P99 {} {c}: {:+.1}% against the plan's projected total (the simulated total prices every failed attempt, retries included).</p>",
            sim.runs,
            sim.seed,
            money(sim.cost.mean),
            money(sim.cost.p99),
            sim.projection_gap * 100.0
        );
    }
    h.push_str(
        "<h2>Pools: usage per billing cycle against the allowance</h2><div class=\"charts\">",
    );
    for p in &s.pools {
        h.push_str(&pool_chart(p)?);
    }
    h.push_str("</div><table><tr><th>pool</th><th>cycle start</th><th>allowance MB</th><th>baseline MB</th><th>update MB</th><th>overage MB</th><th>overage cost</th></tr>");
    for p in &s.pools {
        for cy in &p.cycles {
            let cls = if cy.overage_mb > 0.0 {
                " class=\"over\""
            } else {
                ""
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td{cls}>{:.1}</td><td{cls}>{}</td></tr>",
                esc(&p.pool_id),
                esc(&cy.start[..cy.start.len().min(10)]),
                cy.allowance_mb,
                cy.baseline_mb + cy.already_mb,
                cy.update_mb,
                cy.overage_mb,
                money(cy.overage_cost)
            );
        }
    }
    h.push_str("</table>");
    h.push_str("<h2>Data per day</h2><div class=\"charts\">");
    h.push_str(&day_chart(&r.days)?);
    h.push_str("</div><h2>The plan against the usual ways to roll out</h2><div class=\"charts\">");
    let mut bars = vec![(
        "this plan".to_string(),
        s.cost.overage + s.cost.zone,
        UPDATE,
    )];
    for b in &s.baselines {
        bars.push((b.name.clone(), b.cost.overage + b.cost.zone, BASE));
    }
    h.push_str(&bar_chart(
        &format!("Spend (overage + roaming), {c}"),
        c,
        &bars,
        None,
    )?);
    h.push_str("</div><table><tr><th>rollout</th><th>overage</th><th>roaming</th><th>congestion</th><th>total incl. risk and lateness</th></tr>");
    let _ = write!(
        h,
        "<tr><td>this plan</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        money(s.cost.overage),
        money(s.cost.zone),
        money(s.cost.congestion),
        money(s.cost.total)
    );
    for b in &s.baselines {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&b.name),
            money(b.cost.overage),
            money(b.cost.zone),
            money(b.cost.congestion),
            money(b.cost.total)
        );
    }
    h.push_str("</table><h2>Waves</h2><div class=\"charts\">");
    h.push_str(&wave_chart(s)?);
    h.push_str("</div><h2>Regions: peak load against capacity</h2><div class=\"charts\">");
    let bars: Vec<(String, f64, RGBColor)> = s
        .regions
        .iter()
        .map(|g| (g.region.clone(), g.peak_mb_per_hour, UPDATE))
        .collect();
    h.push_str(&bar_chart(
        "Peak update load (MB per hour)",
        "MB/h",
        &bars,
        Some((
            "capacity",
            s.regions.iter().map(|g| g.capacity_mb_per_hour).collect(),
        )),
    )?);
    h.push_str(
        "</div><p class=\"note\">Figures from summary.json (the planner's accounting of plan.csv)",
    );
    if r.simulation.is_some() {
        h.push_str(" and simulation.json (Monte Carlo replay priced by the same accounting)");
    }
    h.push_str(". 1 MB = 1,000,000 bytes.</p></body></html>\n");
    Ok(h)
}

/// `spend.csv`: pool × cycle.
pub fn spend_csv(s: &SummaryView) -> String {
    let mut out = String::from(
        "pool_id,cycle_start,cycle_end,allowance_mb,baseline_mb,update_mb,overage_mb,overage_cost\n",
    );
    for p in &s.pools {
        for c in &p.cycles {
            let _ = writeln!(
                out,
                "{},{},{},{:.3},{:.3},{:.3},{:.3},{:.2}",
                csv(&p.pool_id),
                c.start,
                c.end,
                c.allowance_mb,
                c.baseline_mb + c.already_mb,
                c.update_mb,
                c.overage_mb,
                c.overage_cost
            );
        }
    }
    out
}

/// `spend_by_day.csv`: UTC day × pool.
pub fn spend_by_day_csv(days: &[DayUse]) -> String {
    let mut out = String::from("date,pool_id,devices,update_mb,roaming_mb\n");
    for d in days {
        let _ = writeln!(
            out,
            "{},{},{},{:.3},{:.3}",
            d.date,
            csv(&d.pool_id),
            d.devices,
            d.update_mb,
            d.roaming_mb
        );
    }
    out
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
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
    }
}
