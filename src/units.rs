//! Units that must not be mixed up: bytes vs megabytes vs money, UTC instants vs local
//! wall-clock times. Pure value types; no I/O.
//!
//! Where the newtypes are used: every quantity is typed where it enters the domain
//! (`domain::Pool`, `Tier`, `Artifact`: [`Bytes`], [`Megabytes`], [`PricePerMb`]) and in
//! the signatures of the billing rules (`billing::overage_mb`, `tier_cost` → [`Money`]).
//! The accounting records that are summed per download and written out
//! (`plan::evaluate`, the simulator's stats, summary.json) are plain `f64`/`u64` named
//! by their unit: `_bytes`, `_mb`, `_mb_per_hour`, `zone_price` per MB, and money in the
//! scenario's currency in `CostBreakdown` and the `_cost` fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Add;

/// A UTC instant. Everything the planner reasons about in absolute time is one of these;
/// local wall-clock times are [`LocalTime`] and only exist together with a time zone.
pub type Instant = DateTime<Utc>;

/// 1 MB = 1,000,000 bytes (the contract's unit).
pub const BYTES_PER_MB: f64 = 1_000_000.0;
/// 1 GB = 1000 MB (the contract's unit for congestion pricing).
pub const MB_PER_GB: f64 = 1_000.0;

/// An exact count of bytes (artifact sizes, bytes already used).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Bytes(pub u64);

impl Add for Bytes {
    type Output = Bytes;
    fn add(self, rhs: Bytes) -> Bytes {
        Bytes(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// A (possibly fractional) number of megabytes: allowances, caps, baseline use, tier
/// bounds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
pub struct Megabytes(pub f64);

/// An amount of money in the scenario's currency.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
pub struct Money(pub f64);

/// A price per megabyte.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
pub struct PricePerMb(pub f64);

/// A wall-clock time of day, in minutes after local midnight: 0..=1440 (1440 = "24:00",
/// only meaningful as the exclusive end of a window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    pub const END_OF_DAY: LocalTime = LocalTime(1440);

    /// `None` unless `0 <= hour*60+minute <= 1440` and `minute < 60`.
    pub fn from_hm(hour: u32, minute: u32) -> Option<LocalTime> {
        if minute >= 60 {
            return None;
        }
        let m = hour.checked_mul(60)?.checked_add(minute)?;
        if m > 1440 {
            return None;
        }
        Some(LocalTime(m as u16))
    }

    pub fn from_minutes(m: u32) -> Option<LocalTime> {
        (m <= 1440).then_some(LocalTime(m as u16))
    }

    pub fn minutes(self) -> u32 {
        u32::from(self.0)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// Parses an RFC 3339 instant in tests.
#[cfg(test)]
pub(crate) fn test_utc(s: &str) -> Instant {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap()
}

/// An instant as RFC 3339 in UTC with `Z`, to the second: how every output writes one.
pub fn rfc3339_utc(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_bounds() {
        assert_eq!(LocalTime::from_hm(24, 0), Some(LocalTime::END_OF_DAY));
        assert_eq!(LocalTime::from_hm(24, 1), None);
        assert_eq!(LocalTime::from_hm(25, 0), None);
        assert_eq!(LocalTime::from_hm(3, 60), None);
        assert_eq!(
            LocalTime::from_hm(3, 5).map(|t| t.to_string()),
            Some("03:05".into())
        );
    }
}
