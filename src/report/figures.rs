//! The figures the report derives from the plan's own accounting — never a price of its
//! own: invoices (pool × billing cycle) beside the same cycles without the release,
//! the release's cash, per-day use with each cycle's release cost spread over its
//! bytes, and the warnings a reader must see first.

use super::ReportInput;
use super::view::{Cycle, Download, StatsView, SummaryView};
use crate::diag::{count, thousands};
use crate::units::Instant;
use std::collections::BTreeMap;

/// One invoice: a pool's billing cycle.
#[derive(Debug, Clone)]
pub struct Invoice<'a> {
    pub pool_id: &'a str,
    /// The zone the pool's cycles start in (UTC when the summary does not say).
    pub timezone: &'a str,
    /// First and last day of the cycle, local to `timezone` (`YYYY-MM-DD`).
    pub first_day: String,
    pub last_day: String,
    pub cycle: &'a Cycle,
    /// The same cycle's invoice without the release (baseline use only).
    pub business_as_usual: Option<f64>,
    /// Simulated invoice amounts over the runs.
    pub simulated: Option<StatsView>,
}

impl Invoice<'_> {
    pub fn total(&self) -> f64 {
        self.cycle.invoice()
    }

    /// What the release adds to this invoice.
    pub fn release(&self) -> Option<f64> {
        self.business_as_usual.map(|b| self.total() - b)
    }

    /// The release's overage on this invoice (its zone charges are all the release's).
    pub fn release_overage(&self) -> Option<f64> {
        self.release().map(|r| r - self.cycle.zone_cost)
    }
}

fn parse(t: &str) -> Option<Instant> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The local date of `t` in `tz` (UTC when `tz` is not a known zone).
fn local_day(t: Instant, tz: &str) -> String {
    match tz.parse::<chrono_tz::Tz>() {
        Ok(z) => t.with_timezone(&z).format("%Y-%m-%d").to_string(),
        Err(_) => t.format("%Y-%m-%d").to_string(),
    }
}

/// Every invoice of every pool, in the summary's order.
pub fn invoices(r: &ReportInput) -> Vec<Invoice<'_>> {
    let s = &r.summary;
    let bau = s.business_as_usual.as_ref();
    let mut out = Vec::new();
    for p in &s.pools {
        let tz = p.cycle_timezone.as_deref().unwrap_or("UTC");
        let bau_pool = bau.and_then(|b| b.pools.iter().find(|q| q.pool_id == p.pool_id));
        for c in &p.cycles {
            let (first_day, last_day) = match (parse(&c.start), parse(&c.end)) {
                (Some(a), Some(b)) => (
                    local_day(a, tz),
                    local_day(b - chrono::Duration::seconds(1), tz),
                ),
                _ => (c.start.clone(), c.end.clone()),
            };
            out.push(Invoice {
                pool_id: &p.pool_id,
                timezone: tz,
                first_day,
                last_day,
                cycle: c,
                business_as_usual: bau_pool
                    .and_then(|q| q.cycles.iter().find(|b| b.start == c.start))
                    .map(Cycle::invoice),
                simulated: r
                    .simulation
                    .as_ref()
                    .and_then(|sim| sim.invoice(&p.pool_id, &c.start)),
            });
        }
    }
    out
}

/// The headline's money: invoiced cash, with and without the release.
#[derive(Debug, Clone, PartialEq)]
pub struct Cash {
    /// Every invoice of the horizon: overage + zone.
    pub invoices: f64,
    /// The same invoices without the release.
    pub business_as_usual: Option<f64>,
    /// What the release adds: `invoices − business_as_usual`.
    pub release: Option<f64>,
    pub release_overage: Option<f64>,
    pub release_zone: f64,
    /// Simulated invoices (P10/P50/P90 of overage + zone over the runs).
    pub simulated_invoices: Option<StatsView>,
}

pub fn cash(r: &ReportInput) -> Cash {
    let s = &r.summary;
    let bau = s.business_as_usual.as_ref().map(|b| b.cost.cash());
    let bau_zone = s.business_as_usual.as_ref().map_or(0.0, |b| b.cost.zone);
    Cash {
        invoices: s.cost.cash(),
        business_as_usual: bau,
        release: bau.map(|b| s.cost.cash() - b),
        release_overage: s
            .business_as_usual
            .as_ref()
            .map(|b| s.cost.overage - b.cost.overage),
        release_zone: s.cost.zone - bau_zone,
        simulated_invoices: r.simulation.as_ref().and_then(|sim| sim.spend),
    }
}

/// Reasons of devices that are not a problem: already on the release (contract), done or
/// downloading before a re-plan (docs/format.md).
const SETTLED: [&str; 3] = ["already on", "done before", "downloading at"];

/// Devices left out, grouped by their reason (most devices first).
pub fn unscheduled_groups(reasons: &[String]) -> Vec<(usize, &str)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        if !SETTLED.iter().any(|p| r.starts_with(p)) {
            *m.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut v: Vec<(usize, &str)> = m.into_iter().map(|(r, n)| (n, r)).collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    v
}

/// Groups of unscheduled devices listed one line each; the rest are summed up.
const GROUPS_SHOWN: usize = 6;

/// What a reader must know before trusting the figures, one sentence each.
pub fn warnings(r: &ReportInput) -> Vec<String> {
    let s = &r.summary;
    let mut out = Vec::new();
    if let Some(lp) = s.lp.as_ref().filter(|lp| lp.status == "time_limit") {
        out.push(format!(
            "The solver stopped at its time limit: the plan is feasible but not proven optimal; its cost ({} {}) is at most {:.2}% above the lower bound {} {} (lp.rounding_gap).",
            money(s.cost.total),
            s.currency,
            lp.rounding_gap * 100.0,
            money(lp.lower_bound),
            s.currency
        ));
    }
    let groups = unscheduled_groups(&r.unscheduled);
    for (n, reason) in groups.iter().take(GROUPS_SHOWN) {
        out.push(format!(
            "{} not scheduled: {reason}",
            count(*n, "device", "devices")
        ));
    }
    if groups.len() > GROUPS_SHOWN {
        let rest: usize = groups[GROUPS_SHOWN..].iter().map(|g| g.0).sum();
        out.push(format!(
            "{} more not scheduled for {} other reasons (unscheduled.csv lists each).",
            thousands(rest),
            groups.len() - GROUPS_SHOWN
        ));
    }
    if let Some(why) = &r.ignored_simulation {
        out.push(why.clone());
    }
    if s.business_as_usual.is_none() {
        out.push("summary.json has no business_as_usual (an older otaplan wrote it): the release's own cost cannot be told apart from ordinary use; plan again to see it.".into());
    }
    if let Some(sim) = &r.simulation
        && sim.spend.is_none()
    {
        out.push("simulation.json has no per-invoice percentiles (an older otaplan wrote it): simulate again to see them.".into());
    }
    out
}

/// Update bytes that start downloading on one UTC day in one pool, and the release cost
/// they carry.
#[derive(Debug, Clone, PartialEq)]
pub struct DayUse {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub pool_id: String,
    pub devices: usize,
    /// Home-zone MB (draws on the pool's allowance).
    pub update_mb: f64,
    /// Roaming MB (billed at zone rates).
    pub roaming_mb: f64,
    /// The release's cost of these bytes: each invoice's release overage spread over the
    /// release MB it bills, its zone charges over its roaming MB.
    pub release_cost: f64,
}

/// Per MB rates of one invoice: (home, roaming).
fn rates(inv: &Invoice<'_>, roaming_mb: f64) -> (f64, f64) {
    let c = inv.cycle;
    let home_mb = c.already_mb + c.update_mb;
    let home = match inv.release_overage() {
        Some(o) if home_mb > 0.0 => o / home_mb,
        _ => 0.0,
    };
    let roam = if roaming_mb > 0.0 {
        c.zone_cost / roaming_mb
    } else {
        0.0
    };
    (home, roam)
}

/// Each pool's invoices as (start, end, index into `invoices`).
type Spans<'a> = BTreeMap<&'a str, Vec<(Instant, Instant, usize)>>;

/// The invoice a download starting at `t` in `pool` is billed to.
fn invoice_of(spans: &Spans<'_>, pool: &str, t: Instant) -> Option<usize> {
    spans
        .get(pool)?
        .iter()
        .find(|(a, b, _)| *a <= t && t < *b)
        .map(|x| x.2)
}

/// Sums downloads per UTC day and pool (sorted by day, then pool) with their release cost.
pub fn days(r: &ReportInput) -> Vec<DayUse> {
    let invs = invoices(r);
    let mut spans: Spans<'_> = BTreeMap::new();
    for (k, i) in invs.iter().enumerate() {
        if let (Some(a), Some(b)) = (parse(&i.cycle.start), parse(&i.cycle.end)) {
            spans.entry(i.pool_id).or_default().push((a, b, k));
        }
    }
    let at: Vec<Option<usize>> = r
        .downloads
        .iter()
        .map(|d| invoice_of(&spans, &d.pool_id, d.window_start))
        .collect();
    let mut roaming = vec![0.0; invs.len()];
    for (d, i) in r.downloads.iter().zip(&at) {
        if let (Some(i), true) = (i, d.roaming) {
            roaming[*i] += mb(d);
        }
    }
    let rate: Vec<(f64, f64)> = invs
        .iter()
        .zip(&roaming)
        .map(|(inv, &ro)| rates(inv, ro))
        .collect();
    let mut m: BTreeMap<(chrono::NaiveDate, &str), DayUse> = BTreeMap::new();
    for (d, i) in r.downloads.iter().zip(&at) {
        let day = d.window_start.date_naive();
        let e = m.entry((day, &d.pool_id)).or_insert_with(|| DayUse {
            date: day.format("%Y-%m-%d").to_string(),
            pool_id: d.pool_id.to_string(),
            devices: 0,
            update_mb: 0.0,
            roaming_mb: 0.0,
            release_cost: 0.0,
        });
        let (home, roam) = i.map_or((0.0, 0.0), |i| rate[i]);
        if d.roaming {
            e.roaming_mb += mb(d);
            e.release_cost += mb(d) * roam;
        } else {
            e.update_mb += mb(d);
            e.release_cost += mb(d) * home;
        }
        e.devices += 1;
    }
    m.into_values().collect()
}

fn mb(d: &Download) -> f64 {
    d.expected_bytes as f64 / 1e6
}

/// Money for people: grouped thousands, two decimals, a real minus sign.
pub fn money(v: f64) -> String {
    let neg = v < 0.0 && (v.abs() * 100.0).round() > 0.0;
    let cents = (v.abs() * 100.0).round() as u64;
    format!(
        "{}{}.{:02}",
        if neg { "−" } else { "" },
        thousands((cents / 100) as usize),
        cents % 100
    )
}

/// The summary's horizon in days.
pub fn horizon_days(s: &SummaryView) -> f64 {
    match (parse(&s.start), parse(&s.deadline)) {
        (Some(a), Some(b)) => (b - a).num_minutes() as f64 / 1440.0,
        _ => 1.0,
    }
}

/// Hours from `from` to `t` (RFC 3339 both).
pub fn hours_between(from: &str, t: &str) -> Option<f64> {
    Some((parse(t)? - parse(from)?).num_minutes() as f64 / 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::{BusinessAsUsual, Cost, DeviceRow, Pool};

    fn cycle(start: &str, end: &str, base: f64, update: f64, overage: f64, zone: f64) -> Cycle {
        Cycle {
            start: start.into(),
            end: end.into(),
            allowance_mb: 100.0,
            baseline_mb: base,
            already_mb: 0.0,
            update_mb: update,
            overage_mb: (base + update - 100.0).max(0.0),
            overage_cost: overage,
            zone_cost: zone,
            cap_mb: None,
            cap_headroom_mb: None,
        }
    }

    fn device(pool: &str, mb: u64, start: &str, zone: &str) -> DeviceRow {
        let t = parse(start).unwrap();
        DeviceRow {
            device_id: format!("{pool}-{start}"),
            wave: "fleet".into(),
            pool_id: pool.into(),
            region: "r".into(),
            timezone: "UTC".into(),
            payload: "full".into(),
            payload_bytes: mb * 1_000_000,
            expected_bytes: mb * 1_000_000,
            window_start: t,
            window_end: t + chrono::Duration::hours(1),
            window_start_local: start.into(),
            window_end_local: start.into(),
            p_success: 1.0,
            throughput_kbps: 100.0,
            billing_cycle_start: None,
            zone: zone.into(),
            reconnect_by: None,
        }
    }

    /// One pool, two cycles (the first over its allowance without the release too), one
    /// roaming device.
    fn input() -> ReportInput {
        let (a, b, c) = (
            "2027-03-01T00:00:00Z",
            "2027-04-01T00:00:00Z",
            "2027-05-01T00:00:00Z",
        );
        let pool = |cycles| Pool {
            pool_id: "p".into(),
            cycle_timezone: Some("Europe/Berlin".into()),
            cycles,
        };
        ReportInput {
            summary: SummaryView {
                scenario: "t".into(),
                release: "2".into(),
                currency: "USD".into(),
                start: a.into(),
                deadline: c.into(),
                devices: 4,
                scheduled: 4,
                unscheduled: 0,
                up_to_date: 0,
                cost: Cost {
                    total: 20.0,
                    overage: 13.0,
                    zone: 2.0,
                    ..Cost::default()
                },
                lp: None,
                pools: vec![pool(vec![
                    cycle(a, b, 110.0, 20.0, 12.0, 2.0),
                    cycle(b, c, 90.0, 20.0, 1.0, 0.0),
                ])],
                regions: vec![],
                waves: vec![],
                baselines: vec![],
                baseline_comparison: None,
                business_as_usual: Some(BusinessAsUsual {
                    cost: Cost {
                        overage: 4.0,
                        ..Cost::default()
                    },
                    pools: vec![pool(vec![
                        cycle(a, b, 110.0, 0.0, 4.0, 0.0),
                        cycle(b, c, 90.0, 0.0, 0.0, 0.0),
                    ])],
                }),
            },
            simulation: None,
            ignored_simulation: None,
            downloads: crate::report::downloads(&[
                device("p", 5, "2027-03-10T01:00:00Z", ""),
                device("p", 15, "2027-03-11T01:00:00Z", ""),
                device("p", 25, "2027-03-11T02:00:00Z", "roam"),
                device("p", 20, "2027-04-02T01:00:00Z", ""),
            ]),
            unscheduled: vec![],
        }
    }

    #[test]
    fn invoices_carry_local_dates_and_the_release_share() {
        let r = input();
        let inv = invoices(&r);
        // Berlin: the cycle from 00:00 UTC on 1 March starts at 01:00 local, same day; it
        // ends at 02:00 local on 1 April, so its last local day is 1 April.
        assert_eq!(
            (inv[0].first_day.as_str(), inv[0].last_day.as_str()),
            ("2027-03-01", "2027-04-01")
        );
        assert_eq!(inv[0].total(), 14.0);
        assert_eq!(inv[0].release(), Some(10.0));
        assert_eq!(inv[0].release_overage(), Some(8.0));
        assert_eq!(inv[1].release(), Some(1.0));
        let k = cash(&r);
        assert_eq!(k.release, Some(11.0));
        assert_eq!(k.release_overage, Some(9.0));
        assert_eq!(k.release_zone, 2.0);
    }

    #[test]
    fn days_spread_each_invoice_release_cost_over_its_bytes() {
        let d = days(&input());
        let total: f64 = d.iter().map(|x| x.release_cost).sum();
        assert!((total - 11.0).abs() < 1e-9, "{d:?}");
        // 10 March: 5 of the cycle's 20 release MB → a quarter of its 8.00 overage.
        assert!((d[0].release_cost - 2.0).abs() < 1e-9);
        // 11 March: 15 MB (6.00) and the roaming device (its 2.00 zone charges).
        assert!((d[1].release_cost - 8.0).abs() < 1e-9);
        assert_eq!(
            (d[1].update_mb, d[1].roaming_mb, d[1].devices),
            (15.0, 25.0, 2)
        );
        assert!((d[2].release_cost - 1.0).abs() < 1e-9);
    }
}
