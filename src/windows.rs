//! Local download windows ("01:00-05:00", "22:00-04:00") and the question every later
//! step asks of them: does this UTC interval lie, at every instant, inside an allowed
//! local window of this IANA time zone? Daylight-saving nights and 30/45-minute offsets
//! are handled by walking the interval one UTC-offset segment at a time. Pure; no I/O.

use crate::units::{Instant, LocalTime};
use chrono::{Duration, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;
use std::fmt;

/// One window as written by the user: `[start, end)` in local wall-clock time. When
/// `end <= start` the window crosses midnight (`22:00-04:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalWindow {
    pub start: LocalTime,
    pub end: LocalTime,
}

/// Why a window string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("expected \"HH:MM-HH:MM\"")]
    Shape,
    #[error("\"{0}\" is not a time of day (00:00 to 24:00)")]
    Time(String),
    #[error("start and end are equal, so the window is empty (write \"00:00-24:00\" for all day)")]
    Empty,
    #[error("24:00 may only end a window")]
    StartAt24,
}

fn parse_time(s: &str) -> Result<LocalTime, WindowError> {
    let t = s.trim();
    let (h, m) = t
        .split_once(':')
        .ok_or_else(|| WindowError::Time(t.to_string()))?;
    let ok = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !ok(h) || !ok(m) {
        return Err(WindowError::Time(t.to_string()));
    }
    let (h, m): (u32, u32) = match (h.parse(), m.parse()) {
        (Ok(h), Ok(m)) => (h, m),
        _ => return Err(WindowError::Time(t.to_string())),
    };
    LocalTime::from_hm(h, m).ok_or_else(|| WindowError::Time(t.to_string()))
}

impl LocalWindow {
    pub fn parse(s: &str) -> Result<LocalWindow, WindowError> {
        let (a, b) = s.split_once('-').ok_or(WindowError::Shape)?;
        let start = parse_time(a)?;
        let end = parse_time(b)?;
        if start == LocalTime::END_OF_DAY {
            return Err(WindowError::StartAt24);
        }
        if start == end {
            return Err(WindowError::Empty);
        }
        Ok(LocalWindow { start, end })
    }

    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// Length in wall-clock minutes (what the window lasts on a night without a clock change).
    pub fn nominal_minutes(&self) -> u32 {
        if self.crosses_midnight() {
            1440 - self.start.minutes() + self.end.minutes()
        } else {
            self.end.minutes() - self.start.minutes()
        }
    }
}

impl fmt::Display for LocalWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// A set of windows, normalised into disjoint arcs of the 24-hour circle so adjacent
/// windows ("22:00-24:00" and "00:00-04:00") count as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowSet {
    /// As written, for messages.
    pub windows: Vec<LocalWindow>,
    /// Disjoint arcs `(start_minute, length_minutes)`, sorted by start; a full-day set is
    /// one arc of 1440 minutes.
    arcs: Vec<(u32, u32)>,
}

impl WindowSet {
    pub fn new(windows: Vec<LocalWindow>) -> WindowSet {
        // Linear intervals on [0, 2880) so that crossing windows become plain intervals.
        let mut iv: Vec<(u32, u32)> = Vec::new();
        for w in &windows {
            let s = w.start.minutes();
            let len = w.nominal_minutes();
            iv.push((s, s + len));
        }
        iv.sort_unstable();
        // Merge on the circle: merge linear overlaps, then wrap-around overlaps.
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (s, e) in iv {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        if merged.len() > 1 {
            let first = merged[0];
            let last = *merged.last().unwrap_or(&first);
            if last.1 >= first.0 + 1440 {
                let n = merged.len();
                merged[n - 1].1 = merged[n - 1].1.max(first.1 + 1440);
                merged.remove(0);
            }
        }
        let arcs = merged
            .into_iter()
            .map(|(s, e)| {
                let len = (e - s).min(1440);
                (if len == 1440 { 0 } else { s % 1440 }, len)
            })
            .collect();
        WindowSet { windows, arcs }
    }

    pub fn is_all_day(&self) -> bool {
        self.arcs.iter().any(|&(_, len)| len >= 1440)
    }

    /// The end (local wall-clock datetime, exclusive) of the window occurrence that
    /// contains local time `t`, or `None` when `t` is outside every window.
    pub fn occurrence_end(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        if self.is_all_day() {
            return Some(NaiveDateTime::MAX);
        }
        let day = t.date().and_time(NaiveTime::MIN);
        let tod = (t - day).num_minutes();
        for &(s, len) in &self.arcs {
            let (s, len) = (s as i64, len as i64);
            // Occurrence starting today or yesterday.
            for start in [s, s - 1440] {
                if tod >= start && tod < start + len {
                    return Some(day + Duration::minutes(start + len));
                }
            }
        }
        None
    }

    /// The occurrences of the windows in `tz` that overlap `[from, to)`, as UTC
    /// intervals clipped to it, in time order. Each occurrence runs from the local start
    /// to the local end of one window on one night (on a daylight-saving night it is an
    /// hour shorter or longer in UTC); every instant of it is inside the window, so
    /// `contains_interval` holds for any sub-interval. An all-day set is one occurrence.
    pub fn occurrences(&self, tz: Tz, from: Instant, to: Instant) -> Vec<(Instant, Instant)> {
        if to <= from {
            return Vec::new();
        }
        if self.is_all_day() {
            return vec![(from, to)];
        }
        let first_day = from.with_timezone(&tz).date_naive() - Duration::days(1);
        let last_day = to.with_timezone(&tz).date_naive();
        let mut out = Vec::new();
        let mut day = first_day;
        while day <= last_day {
            let midnight = day.and_time(NaiveTime::MIN);
            for &(s, len) in &self.arcs {
                let ls = midnight + Duration::minutes(s as i64);
                let a = local_to_utc_first_at_or_after(tz, ls);
                let b = local_to_utc_first_at_or_after(tz, ls + Duration::minutes(len as i64));
                let (a, b) = (a.max(from), b.min(to));
                if b > a {
                    out.push((a, b));
                }
            }
            day += Duration::days(1);
        }
        out.sort_unstable();
        out
    }

    /// True when every instant of `[from, to)` lies inside an allowed window in `tz`.
    pub fn contains_interval(&self, tz: Tz, from: Instant, to: Instant) -> bool {
        if to <= from {
            return true;
        }
        if self.is_all_day() {
            return true;
        }
        let mut seg_start = from;
        while seg_start < to {
            let seg_end = next_offset_change(tz, seg_start, to);
            let local_start = seg_start.with_timezone(&tz).naive_local();
            let local_end = local_start + (seg_end - seg_start);
            match self.occurrence_end(local_start) {
                Some(end) if local_end <= end => {}
                _ => return false,
            }
            seg_start = seg_end;
        }
        true
    }
}

fn offset_seconds(tz: Tz, t: Instant) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The first instant in `(from, to]` at which `tz`'s UTC offset differs from the offset at
/// `from`, or `to` when it does not change. Clock changes happen on whole minutes, so a
/// binary search to the minute is exact.
pub fn next_offset_change(tz: Tz, from: Instant, to: Instant) -> Instant {
    let o0 = offset_seconds(tz, from);
    let probe = to - Duration::seconds(1);
    if probe <= from || offset_seconds(tz, probe) == o0 {
        return to;
    }
    // Invariant: offset at lo == o0, offset at hi != o0.
    let (mut lo, mut hi) = (from, probe);
    while hi - lo > Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if offset_seconds(tz, mid) == o0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The UTC instant of a local wall-clock time; where it does not exist (spring forward)
/// the first instant after the gap, where it occurs twice (fall back) the earlier one.
/// This is the contract's rule for billing-cycle starts.
pub fn local_to_utc_first_at_or_after(tz: Tz, local: NaiveDateTime) -> Instant {
    use chrono::LocalResult;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&chrono::Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&chrono::Utc),
        LocalResult::None => {
            // Walk forward minute by minute (gaps are at most a few hours).
            let mut l = local;
            for _ in 0..(24 * 60) {
                l += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&l).earliest() {
                    // The first existing local minute after the gap is the transition instant.
                    return t.with_timezone(&chrono::Utc);
                }
            }
            // Unreachable for real zones; fall back to reading the time as UTC.
            local.and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::test_utc as utc;

    fn set(ws: &[&str]) -> WindowSet {
        WindowSet::new(ws.iter().map(|w| LocalWindow::parse(w).unwrap()).collect())
    }

    #[test]
    fn parse_rejects_malformed() {
        assert_eq!(
            LocalWindow::parse("25:00-03:00"),
            Err(WindowError::Time("25:00".into()))
        );
        assert_eq!(LocalWindow::parse("03:00-03:00"), Err(WindowError::Empty));
        assert_eq!(LocalWindow::parse("0300"), Err(WindowError::Shape));
        assert_eq!(
            LocalWindow::parse("24:00-03:00"),
            Err(WindowError::StartAt24)
        );
        assert!(
            LocalWindow::parse("22:00-04:00")
                .unwrap()
                .crosses_midnight()
        );
        assert_eq!(
            LocalWindow::parse("01:00-24:00").unwrap().nominal_minutes(),
            23 * 60
        );
    }

    #[test]
    fn adjacent_windows_merge_across_midnight() {
        let s = set(&["22:00-24:00", "00:00-04:00"]);
        let tz: Tz = "UTC".parse().unwrap();
        assert!(s.contains_interval(tz, utc("2027-01-01T23:00:00Z"), utc("2027-01-02T01:00:00Z")));
        assert!(!s.contains_interval(tz, utc("2027-01-02T03:30:00Z"), utc("2027-01-02T04:30:00Z")));
    }

    #[test]
    fn spring_forward_night_is_shorter() {
        // Europe/Berlin jumps 02:00 -> 03:00 local on 2027-03-28 (01:00Z).
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let s = set(&["01:00-05:00"]);
        // 01:00 CET = 00:00Z; 05:00 CEST = 03:00Z: three real hours.
        assert!(s.contains_interval(tz, utc("2027-03-28T00:00:00Z"), utc("2027-03-28T03:00:00Z")));
        assert!(!s.contains_interval(tz, utc("2027-03-28T00:00:00Z"), utc("2027-03-28T03:00:01Z")));
        assert!(!s.contains_interval(tz, utc("2027-03-27T23:59:00Z"), utc("2027-03-28T00:30:00Z")));
    }

    #[test]
    fn fall_back_night_is_longer() {
        // America/New_York falls back 02:00 EDT -> 01:00 EST on 2027-11-07 (06:00Z).
        let tz: Tz = "America/New_York".parse().unwrap();
        let s = set(&["01:00-05:00"]);
        // 01:00 EDT = 05:00Z; 05:00 EST = 10:00Z: five real hours.
        assert!(s.contains_interval(tz, utc("2027-11-07T05:00:00Z"), utc("2027-11-07T10:00:00Z")));
        assert!(!s.contains_interval(tz, utc("2027-11-07T05:00:00Z"), utc("2027-11-07T10:01:00Z")));
    }

    #[test]
    fn odd_offsets() {
        // Asia/Kathmandu is +05:45: 01:00-05:00 local = 19:15Z-23:15Z the day before.
        let tz: Tz = "Asia/Kathmandu".parse().unwrap();
        let s = set(&["01:00-05:00"]);
        assert!(s.contains_interval(tz, utc("2027-01-01T19:15:00Z"), utc("2027-01-01T23:15:00Z")));
        assert!(!s.contains_interval(tz, utc("2027-01-01T19:00:00Z"), utc("2027-01-01T20:00:00Z")));
        assert!(!s.contains_interval(tz, utc("2027-01-01T23:00:00Z"), utc("2027-01-02T00:00:00Z")));
    }

    #[test]
    fn crossing_window_in_a_dst_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let s = set(&["22:00-04:00"]);
        // 22:00 EST = 03:00Z, 04:00 EST = 09:00Z.
        assert!(s.contains_interval(tz, utc("2027-01-05T03:00:00Z"), utc("2027-01-05T09:00:00Z")));
        assert!(!s.contains_interval(tz, utc("2027-01-05T02:00:00Z"), utc("2027-01-05T04:00:00Z")));
    }

    #[test]
    fn cycle_start_in_a_gap_is_the_transition() {
        // America/Santiago skips 00:00 -> 01:00 local on 2026-09-06.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let l = chrono::NaiveDate::from_ymd_opt(2026, 9, 6)
            .unwrap()
            .and_time(NaiveTime::MIN);
        let t = local_to_utc_first_at_or_after(tz, l);
        assert_eq!(t, utc("2026-09-06T04:00:00Z"));
    }
}
