//! Which parts of a requested range a series leaves uncovered, and interval arithmetic on
//! half-open ranges.

use axia_domain::{OhlcvSeries, TimeRange};
use chrono::{DateTime, Utc};

/// Most separate holes asked of one tier; more are merged into spans (fewer, larger requests).
pub const MAX_HOLES: usize = 8;

/// The parts of `range` where `series` (already limited to `range`) lacks trading bars, per the
/// series' calendar: before its first bar, between bars (its gaps) and after its last bar.
/// Regular closures (weekends, FX holidays) are not holes. An empty series leaves the whole
/// range uncovered when the market trades in it at all.
#[must_use]
pub fn holes(series: &OhlcvSeries, range: TimeRange) -> Vec<TimeRange> {
    let key = series.key();
    let (cal, tf) = (series.calendar(), key.timeframe);
    let trades_in = |start: DateTime<Utc>, end: DateTime<Utc>| start < end && cal.next_trading_open(start, tf) < end;
    let (Some(first), Some(last)) = (series.first(), series.last()) else {
        return if trades_in(range.start(), range.end()) { vec![range] } else { Vec::new() };
    };
    let mut out = Vec::new();
    if trades_in(range.start(), first.open_time()) {
        push(&mut out, range.start(), first.open_time());
    }
    for gap in series.gaps() {
        push(&mut out, gap.start, gap.end);
    }
    let after_last = cal.next_open(last.open_time(), tf);
    if trades_in(after_last, range.end()) {
        push(&mut out, after_last, range.end());
    }
    out
}

fn push(out: &mut Vec<TimeRange>, start: DateTime<Utc>, end: DateTime<Utc>) {
    if let Ok(r) = TimeRange::new(start, end)
        && !r.is_empty()
    {
        out.push(r);
    }
}

/// `ranges` sorted, with overlapping or touching ranges joined.
#[must_use]
pub fn normalize(mut ranges: Vec<TimeRange>) -> Vec<TimeRange> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(TimeRange::start);
    let mut out: Vec<TimeRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(prev) if r.start() <= prev.end() => {
                if r.end() > prev.end() {
                    *prev = TimeRange::new(prev.start(), r.end()).unwrap_or(*prev);
                }
            }
            _ => out.push(r),
        }
    }
    out
}

/// At most `max` ranges: the closest neighbours are joined (covering what lies between them)
/// until few enough remain.
#[must_use]
pub fn coalesce(ranges: Vec<TimeRange>, max: usize) -> Vec<TimeRange> {
    let mut ranges = normalize(ranges);
    while ranges.len() > max.max(1) {
        let (i, _) =
            ranges.windows(2).enumerate().min_by_key(|(_, w)| w[1].start() - w[0].end()).unwrap_or((0, &ranges[..2]));
        let joined = TimeRange::new(ranges[i].start(), ranges[i + 1].end()).unwrap_or(ranges[i]);
        ranges.splice(i..=i + 1, [joined]);
    }
    ranges
}

/// The part of `range` at or after `from`, if any.
#[must_use]
pub fn from(range: TimeRange, from: DateTime<Utc>) -> Option<TimeRange> {
    let start = range.start().max(from);
    (start < range.end()).then(|| TimeRange::new(start, range.end()).unwrap_or(range))
}

/// `range` without `cut`: nothing, one or two ranges.
#[must_use]
pub fn subtract(range: TimeRange, cut: TimeRange) -> Vec<TimeRange> {
    let mut out = Vec::with_capacity(2);
    if cut.end() <= range.start() || cut.start() >= range.end() {
        out.push(range);
        return out;
    }
    push(&mut out, range.start(), cut.start().min(range.end()));
    push(&mut out, cut.end().max(range.start()), range.end());
    out
}

#[cfg(test)]
mod tests {
    use axia_domain::{Bar, SeriesKey, Symbol, Timeframe};
    use chrono::{TimeDelta, TimeZone};
    use rstest::rstest;

    use super::*;

    fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, d, h, m, 0).unwrap()
    }

    fn r(a: DateTime<Utc>, b: DateTime<Utc>) -> TimeRange {
        TimeRange::new(a, b).unwrap()
    }

    fn m1(times: &[DateTime<Utc>]) -> OhlcvSeries {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1);
        let bars = times.iter().map(|&t| Bar::new(t, 1.1, 1.2, 1.0, 1.1, 1).unwrap()).collect();
        OhlcvSeries::new(key, bars).unwrap()
    }

    fn minutes(from: DateTime<Utc>, n: i64) -> Vec<DateTime<Utc>> {
        (0..n).map(|i| from + TimeDelta::minutes(i)).collect()
    }

    #[test]
    fn a_complete_series_has_no_holes() {
        let s = m1(&minutes(t(2, 10, 0), 60));
        assert!(holes(&s, r(t(2, 10, 0), t(2, 11, 0))).is_empty());
    }

    #[test]
    fn head_interior_and_tail_holes_are_found() {
        let mut times = minutes(t(2, 10, 5), 10); // 10:05..10:14
        times.extend(minutes(t(2, 10, 30), 10)); // 10:30..10:39
        let s = m1(&times);
        assert_eq!(
            holes(&s, r(t(2, 10, 0), t(2, 11, 0))),
            vec![r(t(2, 10, 0), t(2, 10, 5)), r(t(2, 10, 15), t(2, 10, 30)), r(t(2, 10, 40), t(2, 11, 0))]
        );
    }

    #[test]
    fn the_weekend_is_not_a_hole() {
        // Friday 2025-09-05 20:59 is the last FX minute; Sunday 21:00 UTC the first (summer).
        let mut times = minutes(t(5, 20, 50), 10);
        times.extend(minutes(t(7, 21, 0), 10));
        let s = m1(&times);
        assert!(holes(&s, r(t(5, 20, 50), t(7, 21, 10))).is_empty());
        let empty = m1(&[]);
        assert!(holes(&empty, r(t(6, 0, 0), t(7, 0, 0))).is_empty(), "Saturday has no trading bars");
        assert_eq!(holes(&empty, r(t(2, 0, 0), t(2, 1, 0))), vec![r(t(2, 0, 0), t(2, 1, 0))]);
    }

    #[rstest]
    #[case(vec![(1, 3), (2, 5), (7, 8)], vec![(1, 5), (7, 8)])]
    #[case(vec![(7, 8), (1, 3), (3, 4)], vec![(1, 4), (7, 8)])]
    #[case(vec![(1, 1), (2, 3)], vec![(2, 3)])]
    fn normalize_sorts_and_joins(#[case] input: Vec<(u32, u32)>, #[case] want: Vec<(u32, u32)>) {
        let h = |v: Vec<(u32, u32)>| v.into_iter().map(|(a, b)| r(t(2, a, 0), t(2, b, 0))).collect::<Vec<_>>();
        assert_eq!(normalize(h(input)), h(want));
    }

    #[test]
    fn coalesce_joins_the_closest_neighbours() {
        let h = |v: &[(u32, u32)]| v.iter().map(|&(a, b)| r(t(2, a, 0), t(2, b, 0))).collect::<Vec<_>>();
        assert_eq!(coalesce(h(&[(1, 2), (3, 4), (10, 11), (11, 12)]), 2), h(&[(1, 4), (10, 12)]));
        assert_eq!(coalesce(h(&[(1, 2), (5, 6), (7, 8)]), 1), h(&[(1, 8)]));
    }

    #[rstest]
    #[case((2, 10), (4, 6), vec![(2, 4), (6, 10)])]
    #[case((2, 10), (0, 4), vec![(4, 10)])]
    #[case((2, 10), (8, 12), vec![(2, 8)])]
    #[case((2, 10), (0, 12), vec![])]
    #[case((2, 10), (11, 12), vec![(2, 10)])]
    fn subtract_cuts_out(#[case] a: (u32, u32), #[case] b: (u32, u32), #[case] want: Vec<(u32, u32)>) {
        let h = |(x, y): (u32, u32)| r(t(2, x, 0), t(2, y, 0));
        assert_eq!(subtract(h(a), h(b)), want.into_iter().map(h).collect::<Vec<_>>());
    }
}
