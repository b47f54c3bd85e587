//! The report's charts: plotters SVG, each with its legend as HTML keys (drawn beside
//! the plot, never over it). Every colour a chart uses has a key.

use super::ReportError;
use super::figures::{DayUse, Invoice, horizon_days, hours_between};
use super::view::{Cycle, Pool, SummaryView};
use crate::diag::thousands;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::collections::BTreeMap;

pub const BASE: RGBColor = RGBColor(170, 170, 170);
pub const BASE_OVER: RGBColor = RGBColor(240, 150, 150);
pub const UPDATE: RGBColor = RGBColor(52, 101, 164);
pub const UPDATE_OVER: RGBColor = RGBColor(204, 0, 0);
pub const HEADROOM: RGBColor = RGBColor(200, 232, 200);
pub const ROAMING: RGBColor = RGBColor(233, 165, 60);
pub const CAP: RGBColor = RGBColor(230, 120, 0);
pub const HARD: RGBColor = RGBColor(204, 0, 0);
const FONT: &str = "sans-serif";

/// How a legend key looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    Box(RGBColor),
    Line(RGBColor),
    Dot(RGBColor),
    /// A vertical bar with caps: a P10–P90 band.
    Whisker,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub swatch: Swatch,
    pub label: String,
}

fn key(swatch: Swatch, label: impl Into<String>) -> Key {
    Key {
        swatch,
        label: label.into(),
    }
}

/// An SVG chart and its legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub svg: String,
    pub keys: Vec<Key>,
}

fn chart_err<E: std::fmt::Display>(chart: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Chart {
        chart: chart.to_string(),
        message: e.to_string(),
    }
}

/// An axis number: grouped thousands; below 10 the decimals small ticks need (0.005 on
/// a chart of a few cents), without trailing zeros.
fn axis(v: &f64) -> String {
    if v.abs() >= 10.0 || *v == 0.0 {
        let s = thousands(v.abs().round() as usize);
        if *v < 0.0 { format!("−{s}") } else { s }
    } else {
        let digits = if v.abs() < 1.0 { 3 } else { 2 };
        let s = format!("{:.*}", digits, v.abs());
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if *v < 0.0 {
            format!("−{s}")
        } else {
            s.to_string()
        }
    }
}

/// The label of category `x` (bars sit on [i, i + 1)), shown at the bar's middle.
fn centre_label(labels: &[String], x: f64) -> String {
    let i = x.floor();
    if (x - i - 0.5).abs() < 1e-6 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// A round number at or below `v` on the scale of `span`.
fn floor_nice(v: f64, span: f64) -> f64 {
    let step = 10f64.powf(span.max(1e-9).log10().floor());
    (v / step).floor() * step
}

/// Where a pool chart's value axis starts: near the lowest baseline, so headroom, update
/// and overage are not slivers on a tall bar; 0 when zooming would not help.
fn pool_axis(p: &Pool) -> (f64, f64, Option<f64>) {
    let totals = p.cycles.iter().map(|c| c.usage_mb());
    let top = totals
        .chain(p.cycles.iter().map(|c| c.allowance_mb))
        .fold(1.0, f64::max);
    let cap = p
        .cycles
        .iter()
        .filter_map(|c| c.cap_mb)
        .fold(None, |m: Option<f64>, c| Some(m.map_or(c, |m| m.max(c))));
    // A cap far above use would squash everything under it: named in the legend instead.
    let cap_shown = cap.filter(|c| *c <= top * 1.25);
    let top = cap_shown.map_or(top, |c| top.max(c));
    let low = p
        .cycles
        .iter()
        .map(|c| {
            let base = c.baseline_mb + c.already_mb;
            if c.allowance_mb > 0.0 {
                base.min(c.allowance_mb)
            } else {
                base
            }
        })
        .fold(f64::INFINITY, f64::min);
    let span = (top - low).max(top * 0.02);
    let from = floor_nice(low - 0.5 * span, span).max(0.0);
    let from = if from < 0.25 * top { 0.0 } else { from };
    (from, top + 0.08 * (top - from), cap_shown)
}

type CycleChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// A 540 × 300 chart with one bar slot per billing cycle, `labels` under the slots.
struct CycleFrame {
    caption: String,
    labels: Vec<String>,
    y: std::ops::Range<f64>,
    y_desc: String,
}

impl CycleFrame {
    /// The frame as SVG, with what `series` draws on it.
    fn draw(
        &self,
        series: impl FnOnce(&mut CycleChart<'_, '_>) -> Drawn,
    ) -> Result<String, ReportError> {
        let err = chart_err(&self.caption);
        let n = self.labels.len().max(1);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (540, 300)).into_drawing_area();
            root.fill(&WHITE).map_err(&err)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.caption, (FONT, 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(64)
                .build_cartesian_2d(0f64..n as f64, self.y.clone())
                .map_err(&err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(2 * n + 1)
                .x_label_formatter(&|x| centre_label(&self.labels, *x))
                .y_label_formatter(&axis)
                .y_desc(&self.y_desc)
                .draw()
                .map_err(&err)?;
            series(&mut chart).map_err(&err)?;
            root.present().map_err(&err)?;
        }
        Ok(svg)
    }
}

/// The colours and labels of a pool cycle's usage segments, in [`usage_segments`]' order.
const USAGE_KEYS: [(RGBColor, &str); 5] = [
    (BASE, "baseline use within the allowance"),
    (BASE_OVER, "baseline use above the allowance (overage)"),
    (UPDATE, "update within the allowance"),
    (UPDATE_OVER, "update above the allowance (overage)"),
    (HEADROOM, "headroom left"),
];

/// A cycle's usage split at the allowance, from the axis' bottom `from` up: baseline
/// within and above the allowance, update within and above it, headroom left (each
/// `(lo, hi)`, empty when `hi <= lo`).
fn usage_segments(c: &Cycle, from: f64) -> [(f64, f64); 5] {
    let base = c.baseline_mb + c.already_mb;
    let total = c.usage_mb();
    let allow = c.allowance_mb;
    [
        (from, base.min(allow)),
        (allow, base),
        (base, total.min(allow)),
        (base.max(allow), total),
        (total, allow),
    ]
    .map(|(lo, hi)| (lo.max(from), hi))
}

/// A 1100-wide chart with one horizontal bar slot per name (first name on top), `row_px`
/// pixels each, the value axis along the bottom.
struct HBarFrame<'a> {
    caption: &'a str,
    /// Names bottom to top (the axis' order).
    names: Vec<String>,
    x: std::ops::Range<f64>,
    x_desc: &'a str,
    row_px: u32,
}

impl HBarFrame<'_> {
    /// The frame as SVG, with what `series` draws on it (slot `i` from the top spans
    /// `[n − 1 − i, n − i)` on the y axis).
    fn draw(
        &self,
        series: impl FnOnce(&mut CycleChart<'_, '_>) -> Drawn,
    ) -> Result<String, ReportError> {
        let err = chart_err(self.caption);
        let n = self.names.len().max(1);
        let mut svg = String::new();
        {
            let h = 70 + self.row_px * n as u32;
            let root = SVGBackend::with_string(&mut svg, (1100, h)).into_drawing_area();
            root.fill(&WHITE).map_err(&err)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(self.caption, (FONT, 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(150)
                .build_cartesian_2d(self.x.clone(), 0f64..n as f64)
                .map_err(&err)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(2 * n + 1)
                .y_label_formatter(&|y| centre_label(&self.names, *y))
                .x_label_formatter(&axis)
                .x_desc(self.x_desc)
                .draw()
                .map_err(&err)?;
            series(&mut chart).map_err(&err)?;
            root.present().map_err(&err)?;
        }
        Ok(svg)
    }
}

/// Usage per billing cycle of one pool against its allowance: baseline and update, each
/// split at the allowance (the part above is overage), the headroom left, the cap.
pub fn pool_usage(p: &Pool, invoices: &[&Invoice<'_>]) -> Result<Chart, ReportError> {
    let (from, to, cap) = pool_axis(p);
    let labels: Vec<String> = invoices.iter().map(|i| i.first_day.clone()).collect();
    let y_desc = if from > 0.0 {
        format!("MB (axis from {})", axis(&from))
    } else {
        "MB".to_string()
    };
    let frame = CycleFrame {
        caption: format!("Pool {}: MB per billing cycle", p.pool_id),
        labels,
        y: from..to,
        y_desc,
    };
    let svg = frame.draw(|chart| {
        let mut rects = Vec::new();
        for (i, c) in p.cycles.iter().enumerate() {
            let (x0, x1) = (i as f64 + 0.2, i as f64 + 0.8);
            for (k, (lo, hi)) in usage_segments(c, from).into_iter().enumerate() {
                if hi > lo {
                    let color = USAGE_KEYS[k].0;
                    rects.push(Rectangle::new([(x0, lo), (x1, hi)], color.filled()));
                }
            }
        }
        chart.draw_series(rects)?;
        let line = |y: f64, i: usize, color: RGBColor| {
            PathElement::new(
                vec![(i as f64 + 0.08, y), (i as f64 + 0.92, y)],
                color.stroke_width(2),
            )
        };
        chart.draw_series(
            p.cycles
                .iter()
                .enumerate()
                .filter(|(_, c)| c.allowance_mb >= from)
                .map(|(i, c)| line(c.allowance_mb, i, BLACK)),
        )?;
        if let Some(cap) = cap {
            chart.draw_series((0..p.cycles.len()).map(|i| line(cap, i, CAP)))?;
        }
        Ok(())
    })?;
    // Only the segments some cycle has are keyed.
    let mut keys: Vec<Key> = USAGE_KEYS
        .iter()
        .enumerate()
        .filter(|(k, _)| {
            p.cycles.iter().any(|c| {
                let (lo, hi) = usage_segments(c, from)[*k];
                hi > lo
            })
        })
        .map(|(_, (color, label))| key(Swatch::Box(*color), *label))
        .collect();
    let allowance = p.cycles.first().map_or(0.0, |c| c.allowance_mb);
    keys.push(key(
        Swatch::Line(BLACK),
        if allowance < from {
            format!("allowance {} MB (below the axis)", axis(&allowance))
        } else {
            "allowance".to_string()
        },
    ));
    let cap_mb = p.cycles.iter().find_map(|c| c.cap_mb);
    match (cap, cap_mb) {
        (Some(_), _) => keys.push(key(Swatch::Line(CAP), "cap")),
        (None, Some(c)) => keys.push(key(
            Swatch::Line(CAP),
            format!("cap {} MB (above the chart)", axis(&c)),
        )),
        _ => {}
    }
    Ok(Chart { svg, keys })
}

/// A pool's invoices: business as usual and the release's share stacked, the simulated
/// P10–P90 band and P50 over each. `None` when every invoice is zero.
pub fn invoice_chart(
    pool_id: &str,
    invoices: &[&Invoice<'_>],
    currency: &str,
) -> Result<Option<Chart>, ReportError> {
    let top = invoices
        .iter()
        .map(|i| i.total().max(i.simulated.map_or(0.0, |s| s.p90)))
        .fold(0.0, f64::max);
    if top < 0.005 {
        return Ok(None);
    }
    let frame = CycleFrame {
        caption: format!("Pool {pool_id}: invoice per cycle, {currency}"),
        labels: invoices.iter().map(|i| i.first_day.clone()).collect(),
        y: 0.0..top * 1.15,
        y_desc: currency.to_string(),
    };
    let svg = frame.draw(|chart| {
        let mut rects = Vec::new();
        for (i, inv) in invoices.iter().enumerate() {
            let (x0, x1) = (i as f64 + 0.25, i as f64 + 0.75);
            let bau = inv.business_as_usual.unwrap_or(0.0).min(inv.total());
            if bau > 0.0 {
                rects.push(Rectangle::new([(x0, 0.0), (x1, bau)], BASE.filled()));
            }
            if inv.total() > bau {
                rects.push(Rectangle::new(
                    [(x0, bau), (x1, inv.total())],
                    UPDATE.filled(),
                ));
            }
        }
        chart.draw_series(rects)?;
        for (i, inv) in invoices.iter().enumerate() {
            let Some(s) = inv.simulated else { continue };
            let x = i as f64 + 0.5;
            let lo = s.p10.unwrap_or(s.p50);
            let style = BLACK.stroke_width(2);
            chart.draw_series([
                PathElement::new(vec![(x, lo), (x, s.p90)], style),
                PathElement::new(vec![(x - 0.08, lo), (x + 0.08, lo)], style),
                PathElement::new(vec![(x - 0.08, s.p90), (x + 0.08, s.p90)], style),
            ])?;
            chart.draw_series([Circle::new((x, s.p50), 4, BLACK.filled())])?;
        }
        Ok(())
    })?;
    let mut keys = Vec::new();
    if invoices.iter().any(|i| i.business_as_usual.is_some()) {
        keys.push(key(Swatch::Box(BASE), "business as usual (no release)"));
        keys.push(key(Swatch::Box(UPDATE), "what the release adds"));
    } else {
        keys.push(key(Swatch::Box(UPDATE), "projected invoice"));
    }
    if invoices.iter().any(|i| i.simulated.is_some()) {
        keys.push(key(Swatch::Whisker, "simulated P10–P90"));
        keys.push(key(Swatch::Dot(BLACK), "simulated P50"));
    }
    Ok(Some(Chart { svg, keys }))
}

/// Per-day series: bars (stacked) and a cumulative line on a second axis.
struct DaySeries<'a> {
    title: &'a str,
    unit: &'a str,
    labels: Vec<String>,
    /// Per day, the stacked parts (same order as `parts`).
    values: Vec<Vec<f64>>,
    parts: Vec<(RGBColor, &'a str)>,
}

fn day_chart(d: &DaySeries<'_>) -> Result<Chart, ReportError> {
    let err = chart_err(d.title);
    let n = d.values.len().max(1);
    let totals: Vec<f64> = d.values.iter().map(|v| v.iter().sum()).collect();
    let ymax = totals.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.15;
    let cum: Vec<f64> = totals
        .iter()
        .scan(0.0, |acc, v| {
            *acc += v;
            Some(*acc)
        })
        .collect();
    let cmax = cum.last().copied().unwrap_or(0.0).max(1e-9) * 1.08;
    let step = n.div_ceil(24);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(d.title, (FONT, 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .right_y_label_area_size(80)
            .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
            .map_err(&err)?
            .set_secondary_coord(0f64..n as f64, 0f64..cmax);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * n + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if i.is_multiple_of(step) {
                    centre_label(&d.labels, *x)
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&axis)
            .y_desc(format!("{} per day", d.unit))
            .draw()
            .map_err(&err)?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&axis)
            .y_desc(format!("{} cumulative", d.unit))
            .draw()
            .map_err(&err)?;
        let mut rects = Vec::new();
        for (i, parts) in d.values.iter().enumerate() {
            let mut lo = 0.0;
            for (v, (color, _)) in parts.iter().zip(&d.parts) {
                if *v > 0.0 {
                    rects.push(Rectangle::new(
                        [(i as f64 + 0.12, lo), (i as f64 + 0.88, lo + v)],
                        color.filled(),
                    ));
                }
                lo += v;
            }
        }
        chart.draw_series(rects).map_err(&err)?;
        chart
            .draw_secondary_series(LineSeries::new(
                cum.iter().enumerate().map(|(i, c)| (i as f64 + 0.5, *c)),
                BLACK.stroke_width(2),
            ))
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    let mut keys: Vec<Key> = d
        .parts
        .iter()
        .map(|(c, l)| key(Swatch::Box(*c), *l))
        .collect();
    keys.push(key(
        Swatch::Line(BLACK),
        format!(
            "cumulative (right axis): {} {}",
            axis(&cum.last().copied().unwrap_or(0.0)),
            d.unit
        ),
    ));
    Ok(Chart { svg, keys })
}

/// The release's cost per UTC day and its cumulative sum, then MB per day likewise.
pub fn day_charts(days: &[DayUse], currency: &str) -> Result<[Chart; 2], ReportError> {
    let mut per: BTreeMap<&str, [f64; 3]> = BTreeMap::new();
    for d in days {
        let e = per.entry(d.date.as_str()).or_default();
        e[0] += d.release_cost;
        e[1] += d.update_mb;
        e[2] += d.roaming_mb;
    }
    let labels: Vec<String> = per
        .keys()
        .map(|k| k.get(5..).unwrap_or(k).to_string())
        .collect();
    let money = day_chart(&DaySeries {
        title: "What the release costs per day (by download start, UTC)",
        unit: currency,
        labels: labels.clone(),
        values: per.values().map(|v| vec![v[0]]).collect(),
        parts: vec![(UPDATE, "release cost of the day's downloads")],
    })?;
    let mb = day_chart(&DaySeries {
        title: "Update data per day (by download start, UTC)",
        unit: "MB",
        labels,
        values: per.values().map(|v| vec![v[1], v[2]]).collect(),
        parts: vec![
            (UPDATE, "home zone (draws on allowances)"),
            (ROAMING, "roaming (zone rates)"),
        ],
    })?;
    Ok([money, mb])
}

/// A reference mark on every bar of a horizontal bar chart (a capacity, a level).
pub struct Mark<'a> {
    pub label: &'a str,
    pub color: RGBColor,
    /// Per bar; `None` = no mark on that bar.
    pub values: Vec<Option<f64>>,
}

/// Horizontal bars, one per label (`bar_keys` names their colours), with reference marks.
pub fn hbar_chart(
    title: &str,
    unit: &str,
    bars: &[(String, f64, RGBColor)],
    bar_keys: &[(RGBColor, &str)],
    marks: &[Mark<'_>],
) -> Result<Chart, ReportError> {
    let n = bars.len().max(1);
    let xmax = bars
        .iter()
        .map(|b| b.1)
        .chain(
            marks
                .iter()
                .flat_map(|m| m.values.iter().flatten().copied()),
        )
        .fold(1e-9, f64::max)
        * 1.12;
    let frame = HBarFrame {
        caption: title,
        names: bars.iter().rev().map(|b| b.0.clone()).collect(),
        x: 0f64..xmax,
        x_desc: unit,
        row_px: 26,
    };
    let svg = frame.draw(|chart| {
        let row = |i: usize| (n - 1 - i) as f64;
        chart.draw_series(bars.iter().enumerate().map(|(i, (_, v, color))| {
            Rectangle::new([(0.0, row(i) + 0.2), (*v, row(i) + 0.8)], color.filled())
        }))?;
        for m in marks {
            chart.draw_series(m.values.iter().enumerate().filter_map(|(i, v)| {
                v.map(|v| {
                    PathElement::new(
                        vec![(v, row(i) + 0.05), (v, row(i) + 0.95)],
                        m.color.stroke_width(3),
                    )
                })
            }))?;
        }
        Ok(())
    })?;
    let mut keys: Vec<Key> = bar_keys
        .iter()
        .map(|(c, l)| key(Swatch::Box(*c), *l))
        .collect();
    keys.extend(
        marks
            .iter()
            .filter(|m| m.values.iter().any(Option::is_some))
            .map(|m| key(Swatch::Line(m.color), m.label)),
    );
    Ok(Chart { svg, keys })
}

/// The waves on a timeline: download span, then soak until the gate.
pub fn wave_chart(s: &SummaryView) -> Result<Chart, ReportError> {
    let n = s.waves.len().max(1);
    let total = horizon_days(s).max(1.0 / 24.0);
    let frame = HBarFrame {
        caption: "Waves, days from the start",
        names: s
            .waves
            .iter()
            .rev()
            .map(|w| format!("{} ({})", w.name, thousands(w.devices)))
            .collect(),
        x: 0f64..total,
        x_desc: "days",
        row_px: 34,
    };
    let day = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| hours_between(&s.start, t))
            .map(|h| h / 24.0)
    };
    let svg = frame.draw(|chart| {
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
        chart.draw_series(rects)?;
        Ok(())
    })?;
    Ok(Chart {
        svg,
        keys: vec![
            key(Swatch::Box(UPDATE), "downloads"),
            key(Swatch::Box(BASE), "soak until the gate"),
        ],
    })
}
