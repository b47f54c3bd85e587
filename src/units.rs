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
    let mut out = String::with_capacity(20);
    push_rfc3339(&mut out, t, None);
    out
}

/// An instant as RFC 3339 wall-clock time in `tz`, with its offset, to the second (how
/// every output writes a local time).
pub fn rfc3339_local(t: Instant, tz: chrono_tz::Tz) -> String {
    let mut out = String::with_capacity(25);
    push_rfc3339_local(&mut out, t, tz);
    out
}

/// Appends [`rfc3339_local`]`(t, tz)` to `out`.
pub fn push_rfc3339_local(out: &mut String, t: Instant, tz: chrono_tz::Tz) {
    use chrono::{Offset, TimeZone};
    let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    push_rfc3339(out, t, Some(offset.local_minus_utc()));
}

/// Appends `t` as RFC 3339 to the second: in UTC with `Z` when `offset` is `None`, else
/// as wall-clock time at `offset` seconds east of UTC with `±HH:MM`. Written digit by
/// digit: a plan writes five instants per device, and chrono's formatter is the largest
/// cost of writing plan.csv. Anything outside what that covers (years outside
/// 0000–9999, offsets with seconds) goes through chrono, which gives the same text.
pub fn push_rfc3339(out: &mut String, t: Instant, offset: Option<i32>) {
    use chrono::{Datelike, Timelike};
    let off = offset.unwrap_or(0);
    let wall = t
        .naive_utc()
        .checked_add_signed(chrono::TimeDelta::seconds(i64::from(off)))
        .filter(|w| (0..=9999).contains(&w.year()) && off % 60 == 0);
    let Some(wall) = wall else {
        let text = match offset {
            None => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Some(o) => match chrono::FixedOffset::east_opt(o) {
                Some(z) => t
                    .with_timezone(&z)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                None => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
        };
        out.push_str(&text);
        return;
    };
    let two = |out: &mut String, v: u32| {
        out.push(char::from(b'0' + (v / 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
    };
    let year = wall.year() as u32;
    two(out, year / 100);
    two(out, year % 100);
    out.push('-');
    two(out, wall.month());
    out.push('-');
    two(out, wall.day());
    out.push('T');
    two(out, wall.hour());
    out.push(':');
    two(out, wall.minute());
    out.push(':');
    // A leap second (chrono's nanosecond ≥ 1e9) prints as :60, as chrono does.
    two(out, wall.second() + wall.nanosecond() / 1_000_000_000);
    match offset {
        None => out.push('Z'),
        Some(o) => {
            out.push(if o < 0 { '-' } else { '+' });
            let m = o.unsigned_abs() / 60;
            two(out, m / 60);
            out.push(':');
            two(out, m % 60);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn instants_are_written_as_chrono_writes_them(
            secs in -62_000_000_000i64..300_000_000_000i64,
            zone in 0usize..chrono_tz::TZ_VARIANTS.len(),
        ) {
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let tz = chrono_tz::TZ_VARIANTS[zone];
            proptest::prop_assert_eq!(
                rfc3339_utc(t),
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            proptest::prop_assert_eq!(
                rfc3339_local(t, tz),
                t.with_timezone(&tz).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
            );
        }
    }

    #[test]
    fn local_times_carry_odd_offsets_and_dst() {
        use chrono_tz::{America, Asia, Europe, Pacific};
        let cases = [
            (
                "2026-03-29T00:30:00Z",
                Asia::Kolkata,
                "2026-03-29T06:00:00+05:30",
            ),
            (
                "2026-03-29T00:30:00Z",
                Pacific::Chatham,
                "2026-03-29T14:15:00+13:45",
            ),
            // Berlin's clocks go forward at 01:00 UTC that night.
            (
                "2026-03-29T00:30:00Z",
                Europe::Berlin,
                "2026-03-29T01:30:00+01:00",
            ),
            (
                "2026-03-29T01:30:00Z",
                Europe::Berlin,
                "2026-03-29T03:30:00+02:00",
            ),
            (
                "2026-03-29T00:30:00Z",
                America::St_Johns,
                "2026-03-28T22:00:00-02:30",
            ),
        ];
        for (utc, zone, local) in cases {
            assert_eq!(rfc3339_local(test_utc(utc), zone), local, "{utc} in {zone}");
        }
        assert_eq!(
            rfc3339_utc(test_utc("2026-03-29T00:30:00Z")),
            "2026-03-29T00:30:00Z"
        );
    }

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
