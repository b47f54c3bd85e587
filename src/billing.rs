//! Billing arithmetic shared by the planner, the baselines and the simulator (one
//! implementation, not several): billing cycles of a pool, the baseline use forecast in
//! each, and overage priced through marginal tiers. Pure; no I/O.

use crate::domain::{Pool, Tier};
use crate::units::{Instant, Megabytes, Money};
use crate::windows::local_to_utc_first_at_or_after;
use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeZone};
use serde::Serialize;

/// One billing cycle `[start, end)` of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cycle {
    pub start: Instant,
    pub end: Instant,
    /// `used_mb` plus forecast baseline use in the part of the cycle the forecast covers
    /// (see the contract: from `start` for the cycle containing it, the whole cycle after).
    pub baseline: Megabytes,
}

fn cycle_start_on(pool: &Pool, year: i32, month: u32) -> Option<Instant> {
    let date = NaiveDate::from_ymd_opt(year, month, pool.cycle_day)?;
    Some(local_to_utc_first_at_or_after(
        pool.cycle_tz,
        date.and_time(NaiveTime::MIN),
    ))
}

/// The start of the cycle that contains `t`.
pub fn cycle_start_containing(pool: &Pool, t: Instant) -> Instant {
    let local = pool.cycle_tz.from_utc_datetime(&t.naive_utc());
    let (mut y, mut m) = (local.year(), local.month());
    // This month's start, or the previous month's if `t` is before it.
    for _ in 0..3 {
        if let Some(s) = cycle_start_on(pool, y, m)
            && s <= t
        {
            return s;
        }
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    t
}

/// The start of the cycle after the one starting at `start`.
pub fn next_cycle_start(pool: &Pool, start: Instant) -> Instant {
    let local = pool
        .cycle_tz
        .from_utc_datetime(&start.naive_utc())
        .date_naive();
    // `start` is 00:00 on cycle_day (or just after a gap), so the local date is cycle_day.
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    cycle_start_on(pool, next.year(), next.month()).unwrap_or(start)
}

/// Every cycle of `pool` that overlaps `[from, to)`, with its baseline use. `from` is the
/// scenario start: `used_mb` is what the pool used in its cycle up to then.
pub fn cycles(pool: &Pool, from: Instant, to: Instant) -> Vec<Cycle> {
    let mut out = Vec::new();
    let mut s = cycle_start_containing(pool, from);
    let mut first = true;
    while s < to {
        let e = next_cycle_start(pool, s);
        if e <= s {
            break;
        }
        let baseline = if first {
            pool.used.0 + pool.baseline_per_day.0 * days(from, e)
        } else {
            pool.baseline_per_day.0 * days(s, e)
        };
        out.push(Cycle {
            start: s,
            end: e,
            baseline: Megabytes(baseline),
        });
        first = false;
        s = e;
    }
    out
}

/// Elapsed days between two instants (hours / 24, whatever the clocks do).
pub fn days(from: Instant, to: Instant) -> f64 {
    (to - from).num_milliseconds() as f64 / 86_400_000.0
}

/// The index in `cycles` of the cycle that contains `t`, if any.
pub fn cycle_index(cycles: &[Cycle], t: Instant) -> Option<usize> {
    cycles.iter().position(|c| c.start <= t && t < c.end)
}

/// Overage MB of a cycle: what usage exceeds the allowance by.
pub fn overage_mb(allowance: Megabytes, usage: Megabytes) -> Megabytes {
    Megabytes((usage.0 - allowance.0).max(0.0))
}

/// The price of `overage` MB through marginal tiers (`up_to` bounds the cumulative
/// overage priced at that tier's price; the last tier is unbounded).
pub fn tier_cost(tiers: &[Tier], overage: Megabytes) -> Money {
    let mut left = overage.0.max(0.0);
    let mut lower = 0.0;
    let mut cost = 0.0;
    for t in tiers {
        if left <= 0.0 {
            break;
        }
        let width = match t.up_to {
            Some(u) => (u.0 - lower).max(0.0),
            None => f64::INFINITY,
        };
        let take = left.min(width);
        cost += take * t.price.0;
        left -= take;
        if let Some(u) = t.up_to {
            lower = u.0;
        }
    }
    Money(cost)
}

/// True when tier prices never fall as volume rises (then overage cost is convex and a
/// plain LP prices it right; otherwise the planner needs binaries).
pub fn tiers_are_convex(tiers: &[Tier]) -> bool {
    tiers.windows(2).all(|w| w[1].price.0 >= w[0].price.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CapBehaviour;
    use crate::units::PricePerMb;
    use crate::units::test_utc as utc;

    fn pool(day: u32, tz: &str) -> Pool {
        Pool {
            id: "p".into(),
            provider: "x".into(),
            allowance: Megabytes(1000.0),
            cycle_day: day,
            cycle_tz: tz.parse().unwrap(),
            used: Megabytes(100.0),
            baseline_per_day: Megabytes(10.0),
            on_cap: CapBehaviour::Overage,
            cap: None,
            cap_headroom: None,
            tiers: vec![],
            zone_rates: Default::default(),
        }
    }

    #[test]
    fn calendar_month_cycles_in_local_time() {
        let p = pool(1, "America/New_York");
        let cs = cycles(&p, utc("2027-03-22T00:00:00Z"), utc("2027-04-05T00:00:00Z"));
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].start, utc("2027-03-01T05:00:00Z")); // EST
        assert_eq!(cs[0].end, utc("2027-04-01T04:00:00Z")); // EDT
        assert_eq!(cs[1].start, cs[0].end);
        // First cycle: used 100 + 10/day from start to its end (10 days 4 hours).
        let d = days(utc("2027-03-22T00:00:00Z"), cs[0].end);
        assert!((cs[0].baseline.0 - (100.0 + 10.0 * d)).abs() < 1e-9);
        // Second: the whole cycle (30 days in April).
        assert!((cs[1].baseline.0 - 300.0).abs() < 1e-6);
    }

    #[test]
    fn cycle_starting_at_deadline_is_not_listed() {
        let p = pool(15, "UTC");
        let cs = cycles(&p, utc("2027-01-01T00:00:00Z"), utc("2027-01-15T00:00:00Z"));
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].start, utc("2026-12-15T00:00:00Z"));
    }

    #[test]
    fn tiers_are_marginal() {
        let tiers = vec![
            Tier {
                up_to: Some(Megabytes(100.0)),
                price: PricePerMb(0.078),
            },
            Tier {
                up_to: Some(Megabytes(500.0)),
                price: PricePerMb(0.039),
            },
            Tier {
                up_to: None,
                price: PricePerMb(0.0195),
            },
        ];
        let c = tier_cost(&tiers, Megabytes(600.0)).0;
        assert!((c - (100.0 * 0.078 + 400.0 * 0.039 + 100.0 * 0.0195)).abs() < 1e-9);
        assert_eq!(tier_cost(&tiers, Megabytes(0.0)).0, 0.0);
        assert!(!tiers_are_convex(&tiers));
    }
}
