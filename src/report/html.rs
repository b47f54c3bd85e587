//! `report.html`: one self-contained page (inline SVG, no scripts, no fetches) that
//! prints cleanly. Warnings first, then what the release costs in cash, the shadow
//! costs apart, the invoices, the days, the baselines, the waves and the regions.

use super::charts::{self, Chart, Key, Mark, Swatch};
use super::figures::{Cash, Invoice, cash, days, invoices, money, warnings};
use super::view::StatsView;
use super::{ReportError, ReportInput};
use crate::diag::thousands;
use plotters::style::RGBColor;
use std::fmt::Write as _;

const CSS: &str = "body{font-family:sans-serif;max-width:1140px;margin:24px auto;color:#222}\
h1{font-size:24px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}h3{font-size:15px;margin:16px 0 4px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}\
table.invoices{font-size:13px}table.invoices td:nth-child(2){text-align:left;white-space:nowrap}\
.headline{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}.headline table{font-size:15px}\
.big{font-size:20px;font-weight:bold}.over{color:#c00;font-weight:bold}\
.warnings{border:2px solid #c60;background:#fff4e5;padding:4px 16px;margin:12px 0}.warnings h2{border:none;margin-top:8px;color:#a40}\
.charts{display:flex;flex-wrap:wrap;gap:8px 20px}figure{margin:4px 0}\
.legend{font-size:12px;color:#333;max-width:540px}.legend>span{white-space:nowrap;display:inline-block;margin-bottom:2px}.wide .legend{max-width:1100px}\
.sw{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle}\
.ln{display:inline-block;width:16px;height:0;border-top:3px solid;margin:0 4px 0 10px;vertical-align:middle}\
.dot{display:inline-block;width:8px;height:8px;border-radius:4px;margin:0 4px 0 10px;vertical-align:middle}\
.wh{display:inline-block;width:8px;height:12px;border:2px solid #000;border-left:none;border-right:none;margin:0 4px 0 10px;vertical-align:middle;background:linear-gradient(#000,#000) center/2px 100% no-repeat}\
.note{color:#555;font-size:13px}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}figure,table,.warnings{break-inside:avoid}}";

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn legend(keys: &[Key]) -> String {
    let mut h = String::from("<figcaption class=\"legend\">");
    for k in keys {
        let sw = match k.swatch {
            Swatch::Box(c) => format!("<span class=\"sw\" style=\"background:{}\"></span>", hex(c)),
            Swatch::Line(c) => format!(
                "<span class=\"ln\" style=\"border-color:{}\"></span>",
                hex(c)
            ),
            Swatch::Dot(c) => format!(
                "<span class=\"dot\" style=\"background:{}\"></span>",
                hex(c)
            ),
            Swatch::Whisker => "<span class=\"wh\"></span>".to_string(),
        };
        let _ = write!(h, "<span>{sw}{}</span> ", esc(&k.label));
    }
    h.push_str("</figcaption>");
    h
}

fn figure(c: &Chart, wide: bool) -> String {
    format!(
        "<figure{}>{}{}</figure>",
        if wide { " class=\"wide\"" } else { "" },
        c.svg,
        legend(&c.keys)
    )
}

/// "P10 a / P50 b / P90 c" of simulated amounts shifted by `minus`.
fn band(s: &StatsView, minus: f64, c: &str) -> String {
    match s.p10 {
        Some(p10) => format!(
            "P10 {} / P50 {} / P90 {} {c}",
            money(p10 - minus),
            money(s.p50 - minus),
            money(s.p90 - minus)
        ),
        None => format!(
            "P50 {} / P90 {} {c}",
            money(s.p50 - minus),
            money(s.p90 - minus)
        ),
    }
}

fn row(h: &mut String, label: &str, value: &str, detail: &str) {
    let _ = write!(
        h,
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(label),
        value,
        esc(detail)
    );
}

/// A label / value row.
fn row2(h: &mut String, label: &str, value: &str) {
    let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(label), value);
}

/// The cash block: what the release costs, the invoices it lands on, the comparison.
fn cash_block(h: &mut String, r: &ReportInput, k: &Cash) {
    let s = &r.summary;
    let c = &s.currency;
    let sim = k.simulated_invoices.as_ref();
    h.push_str("<div><h3>Cash: what will be invoiced</h3><table class=\"cash\"><tr><th></th><th>projected</th><th>simulated</th></tr>");
    if let (Some(rel), Some(bau)) = (k.release, k.business_as_usual) {
        row(
            h,
            "This release costs",
            &format!("<span class=\"big\">{} {c}</span>", money(rel)),
            &sim.map(|x| band(x, bau, c)).unwrap_or_default(),
        );
        row(
            h,
            "  of which overage it causes",
            &format!("{} {c}", money(k.release_overage.unwrap_or(0.0))),
            "",
        );
        row(
            h,
            "  of which roaming (zone rates)",
            &format!("{} {c}", money(k.release_zone)),
            "",
        );
    }
    row(
        h,
        "Invoices over the horizon, all pools (overage + roaming)",
        &format!("{} {c}", esc(&money(k.invoices))),
        &sim.map(|x| band(x, 0.0, c)).unwrap_or_default(),
    );
    if let Some(bau) = k.business_as_usual {
        row(
            h,
            "  of which business as usual (baseline use without the release)",
            &format!("{} {c}", money(bau)),
            "",
        );
    }
    for b in &s.baselines {
        row(
            h,
            &format!("Saving vs {} (spend against spend)", b.name),
            &format!("{} {c}", money(b.saving_spend)),
            &format!("its spend {} {c}", money(b.spend)),
        );
    }
    if let Some(sim) = &r.simulation {
        row(
            h,
            "Devices updated by the deadline (mean / P10)",
            &format!(
                "{:.1}% / {:.1}%",
                sim.completion_rate.mean * 100.0,
                sim.completion_rate.p10 * 100.0
            ),
            &format!("{} runs, seed {}", sim.runs, sim.seed),
        );
    }
    h.push_str("</table></div>");
}

/// Shadow costs: what the planner weighs, never invoiced.
fn shadow_block(h: &mut String, r: &ReportInput) {
    let s = &r.summary;
    let c = &s.currency;
    h.push_str("<div><h3>Planning weights (not money)</h3><table class=\"shadow\">");
    for (label, v) in [
        ("Congestion above regional capacity", s.cost.congestion),
        ("Risk of failed attempts", s.cost.risk),
        ("Lateness", s.cost.lateness),
    ] {
        row2(h, label, &format!("{} {c}", money(v)));
    }
    row2(
        h,
        "Planner's objective (cash + weights)",
        &format!("{} {c}", money(s.cost.total)),
    );
    if let Some(sim) = &r.simulation {
        row2(
            h,
            "Simulated objective P50 / P90",
            &format!("{} / {} {c}", money(sim.cost.p50), money(sim.cost.p90)),
        );
    }
    h.push_str("</table><p class=\"note\">The scenario's [weights] price harm the planner avoids; they steer the plan and are never on an invoice.</p></div>");
}

/// MB for a table: whole MB grouped, but a charge on less than one MB shows its decimals
/// (an overage of 0.012 MB is not "0").
fn mb_text(v: f64) -> String {
    if v > 0.0 && v < 0.5 {
        format!("{v:.3}")
    } else {
        thousands(v.round() as usize)
    }
}

fn invoice_rows(h: &mut String, invs: &[Invoice<'_>]) {
    h.push_str("<table class=\"invoices\"><tr><th>pool</th><th>cycle (local dates)</th><th>allowance MB</th><th>baseline MB</th><th>update MB</th><th>overage MB</th><th>overage</th><th>roaming</th><th>invoice</th><th>business as usual</th><th>this release</th><th>simulated P10</th><th>P50</th><th>P90</th></tr>");
    let opt = |v: Option<f64>| v.map(money).unwrap_or_else(|| "–".into());
    for i in invs {
        let c = i.cycle;
        let cls = if c.overage_mb > 0.0 {
            " class=\"over\""
        } else {
            ""
        };
        let sim = i.simulated;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{} – {} <span class=\"note\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td{cls}>{}</td><td{cls}>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(i.pool_id),
            esc(&i.first_day),
            esc(&i.last_day),
            esc(i.timezone),
            thousands(c.allowance_mb.round() as usize),
            thousands((c.baseline_mb + c.already_mb).round() as usize),
            thousands(c.update_mb.round() as usize),
            mb_text(c.overage_mb),
            money(c.overage_cost),
            money(c.zone_cost),
            money(i.total()),
            opt(i.business_as_usual),
            opt(i.release()),
            opt(sim.and_then(|s| s.p10)),
            opt(sim.map(|s| s.p50)),
            opt(sim.map(|s| s.p90)),
        );
    }
    let total: f64 = invs.iter().map(Invoice::total).sum();
    let bau: Option<f64> = invs.iter().map(|i| i.business_as_usual).sum();
    let _ = write!(
        h,
        "<tr><th>total</th><th></th><th></th><th></th><th></th><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th><th></th><th></th></tr></table>",
        money(invs.iter().map(|i| i.cycle.overage_cost).sum()),
        money(invs.iter().map(|i| i.cycle.zone_cost).sum()),
        money(total),
        opt(bau),
        opt(bau.map(|b| total - b)),
    );
}

fn invoices_section(h: &mut String, r: &ReportInput) -> Result<(), ReportError> {
    let c = &r.summary.currency;
    let invs = invoices(r);
    h.push_str("<h2>Invoices: one per pool and billing cycle</h2><p class=\"note\">Each pool's cycles in its own time zone; usage is baseline (used so far plus forecast) and update; an invoice is the cycle's overage plus the roaming charges of downloads starting in it. “Business as usual” prices the same cycles with baseline use only, by the same accounting; “this release” is the difference.</p>");
    invoice_rows(h, &invs);
    for p in &r.summary.pools {
        let mine: Vec<&Invoice<'_>> = invs.iter().filter(|i| i.pool_id == p.pool_id).collect();
        let _ = write!(h, "<h3>Pool {}</h3><div class=\"charts\">", esc(&p.pool_id));
        h.push_str(&figure(&charts::pool_usage(p, &mine)?, false));
        match charts::invoice_chart(&p.pool_id, &mine, c)? {
            Some(chart) => h.push_str(&figure(&chart, false)),
            None => h.push_str(
                "<p class=\"note\">No charges on this pool's invoices: its use stays within the allowance in every cycle.</p>",
            ),
        }
        h.push_str("</div>");
    }
    Ok(())
}

fn baselines_section(h: &mut String, r: &ReportInput) -> Result<(), ReportError> {
    let s = &r.summary;
    let c = &s.currency;
    if s.baselines.is_empty() {
        return Ok(());
    }
    h.push_str("<h2>The plan against the usual ways to roll out</h2><div class=\"charts\">");
    let mut bars = vec![("this plan".to_string(), s.plan_spend(), charts::UPDATE)];
    for b in &s.baselines {
        bars.push((b.name.clone(), b.spend, charts::BASE));
    }
    let bau = s.business_as_usual.as_ref().map(|b| b.cost.cash());
    let marks = [Mark {
        label: "business as usual (no release)",
        color: RGBColor(0, 0, 0),
        values: vec![bau; bars.len()],
    }];
    h.push_str(&figure(
        &charts::hbar_chart(
            &format!("Spend (overage + roaming), {c}"),
            c,
            &bars,
            &[(charts::UPDATE, "this plan"), (charts::BASE, "baselines")],
            &marks,
        )?,
        true,
    ));
    h.push_str("</div>");
    h.push_str(&table_html(
        &super::tables::baseline_table(r),
        &["description"],
    ));
    h.push_str("<p class=\"note\">Spend is overage + roaming and total the planner's objective, each with the devices a rollout does not update priced as summary.json's baseline_comparison states; a saving is the baseline's minus the plan's (positive: the plan costs less).</p>");
    Ok(())
}

/// A report table as HTML (the same cells as the CSV and the sheet), leaving out `skip`.
fn table_html(t: &super::tables::Table, skip: &[&str]) -> String {
    use super::tables::Cell;
    let keep: Vec<usize> = (0..t.columns.len())
        .filter(|&j| !skip.contains(&t.columns[j]))
        .collect();
    let mut h = String::from("<table><tr>");
    for &j in &keep {
        let _ = write!(h, "<th>{}</th>", esc(&t.columns[j].replace('_', " ")));
    }
    h.push_str("</tr>");
    for row in &t.rows {
        h.push_str("<tr>");
        for &j in &keep {
            let v = match &row[j] {
                Cell::Money(v) => money(*v),
                Cell::Mb(v) => thousands(v.round() as usize),
                Cell::Int(n) => thousands(*n as usize),
                Cell::Empty => "–".into(),
                c => esc(&c.text()),
            };
            let _ = write!(h, "<td>{v}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    h
}

fn regions_section(h: &mut String, r: &ReportInput) -> Result<(), ReportError> {
    let s = &r.summary;
    h.push_str("<h2>Regions: peak load against capacity</h2><div class=\"charts\">");
    let bars: Vec<(String, f64, RGBColor)> = s
        .regions
        .iter()
        .map(|g| (g.region.clone(), g.peak_mb_per_hour, charts::UPDATE))
        .collect();
    let marks = [
        Mark {
            label: "capacity (soft: above it is congestion)",
            color: charts::CAP,
            values: s
                .regions
                .iter()
                .map(|g| Some(g.capacity_mb_per_hour))
                .collect(),
        },
        Mark {
            label: "hard capacity (never exceeded)",
            color: charts::HARD,
            values: s
                .regions
                .iter()
                .map(|g| g.hard_capacity_mb_per_hour)
                .collect(),
        },
    ];
    h.push_str(&figure(
        &charts::hbar_chart(
            "Peak update load (MB per hour)",
            "MB/h",
            &bars,
            &[(charts::UPDATE, "peak load")],
            &marks,
        )?,
        true,
    ));
    h.push_str("</div>");
    Ok(())
}

/// `report.html` as text.
pub fn html(r: &ReportInput) -> Result<String, ReportError> {
    let s = &r.summary;
    let mut h = String::with_capacity(200_000);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Release {} — what it costs ({})</title><style>{CSS}</style></head><body>",
        esc(&s.release),
        esc(&s.scenario)
    );
    let _ = write!(
        h,
        "<h1>Release {} of {}: what it costs</h1><p class=\"note\">{} devices: {} scheduled, {} not scheduled ({} already on the release); downloads between {} and {}. Currency: {}.</p>",
        esc(&s.release),
        esc(&s.scenario),
        thousands(s.devices),
        thousands(s.scheduled),
        thousands(s.unscheduled),
        thousands(s.up_to_date),
        esc(&s.start),
        esc(&s.deadline),
        esc(&s.currency)
    );
    let warns = warnings(r);
    if !warns.is_empty() {
        h.push_str("<div class=\"warnings\"><h2>Check before relying on these figures</h2><ul>");
        for w in &warns {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul></div>");
    }
    h.push_str("<div class=\"headline\">");
    cash_block(&mut h, r, &cash(r));
    shadow_block(&mut h, r);
    h.push_str("</div>");
    invoices_section(&mut h, r)?;
    h.push_str("<h2>Data per day</h2><p class=\"note\">Money is billed per cycle, not per day: each invoice's release cost is spread over the release MB it bills (its average cost per MB), roaming at its zone charges per MB.</p><div class=\"charts\">");
    for c in charts::day_charts(&days(r), &s.currency)? {
        h.push_str(&figure(&c, true));
    }
    h.push_str("</div>");
    baselines_section(&mut h, r)?;
    h.push_str("<h2>Waves</h2><div class=\"charts\">");
    h.push_str(&figure(&charts::wave_chart(s)?, true));
    h.push_str("</div>");
    regions_section(&mut h, r)?;
    h.push_str(
        "<p class=\"note\">Figures from summary.json (the planner's accounting of plan.csv)",
    );
    if r.simulation.is_some() {
        h.push_str(" and simulation.json (Monte Carlo replay priced by the same accounting)");
    }
    h.push_str(". 1 MB = 1,000,000 bytes.</p></body></html>\n");
    Ok(h)
}
