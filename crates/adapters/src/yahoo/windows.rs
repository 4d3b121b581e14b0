//! The range limits of the chart API per interval, and the split of a requested range into the
//! windows that Yahoo accepts.
//!
//! Yahoo serves 1m bars for the last 30 days and at most 7 days per request, 5m/15m/30m for the
//! last 60 days, 60m for the last 730 days, and daily bars and above without limit. A range is
//! clipped to what is allowed relative to the clock's now (and to now itself: there are no
//! future bars), then cut into windows requested in sequence.

use axia_domain::TimeRange;
use chrono::{DateTime, TimeDelta, Utc};

use super::symbols::Interval;

/// Kept off the oldest allowed instant so that a request built from our clock is still inside
/// Yahoo's limit when it arrives (clock skew, latency).
pub(crate) const LIMIT_MARGIN: TimeDelta = TimeDelta::minutes(10);

/// How far back an interval reaches and how long one request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    /// Bars exist only for `now - lookback_days` onwards; `None`: no limit.
    pub(crate) lookback_days: Option<i64>,
    /// The longest window of one request; `None`: any.
    pub(crate) max_window_days: Option<i64>,
}

/// The documented limits of an interval.
pub(crate) const fn limit(interval: Interval) -> Limit {
    match interval {
        Interval::M1 => Limit { lookback_days: Some(30), max_window_days: Some(7) },
        Interval::M5 | Interval::M15 | Interval::M30 => Limit { lookback_days: Some(60), max_window_days: Some(60) },
        Interval::M60 => Limit { lookback_days: Some(730), max_window_days: Some(730) },
        Interval::D1 | Interval::W1 | Interval::MN1 => Limit { lookback_days: None, max_window_days: None },
    }
}

/// The windows to request for `range` at `now`, oldest first. Empty when the range lies wholly
/// in the future.
///
/// # Errors
/// A message for [`axia_domain::ports::SourceError::Unsupported`] when the whole range lies
/// before the oldest bar the interval serves.
pub(crate) fn split(interval: Interval, range: TimeRange, now: DateTime<Utc>) -> Result<Vec<TimeRange>, String> {
    let lim = limit(interval);
    let end = range.end().min(now);
    if end <= range.start() {
        return Ok(Vec::new());
    }
    let mut start = range.start();
    if let Some(days) = lim.lookback_days {
        let oldest = now - TimeDelta::days(days) + LIMIT_MARGIN;
        if end <= oldest {
            return Err(format!(
                "yahoo serves {} bars only for the last {days} days; the range {range} ends before {}",
                interval.as_str(),
                oldest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        if start < oldest {
            tracing::debug!(interval = interval.as_str(), %range, %oldest, "clipping the range to what yahoo serves");
            start = oldest;
        }
    }
    let step = lim.max_window_days.map(TimeDelta::days);
    let mut windows = Vec::new();
    while start < end {
        let stop = step.map_or(end, |s| (start + s).min(end));
        windows.push(TimeRange::new(start, stop).map_err(|e| e.to_string())?);
        start = stop;
    }
    Ok(windows)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 7, 16, 12, 0, 0).unwrap()
    }

    fn days_ago(d: i64) -> DateTime<Utc> {
        now() - TimeDelta::days(d)
    }

    fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
        TimeRange::new(start, end).unwrap()
    }

    #[rstest]
    // 1m: 20 days → 7 + 7 + 6.
    #[case(Interval::M1, 20, 0, vec![7, 7, 6])]
    // 1m: 40 days back is clipped to 30 days (minus the margin): 7+7+7+7+2.
    #[case(Interval::M1, 40, 0, vec![7, 7, 7, 7, 2])]
    #[case(Interval::M1, 3, 1, vec![2])]
    #[case(Interval::M5, 50, 0, vec![50])]
    #[case(Interval::M15, 90, 0, vec![60])]
    #[case(Interval::M30, 59, 10, vec![49])]
    #[case(Interval::M60, 700, 0, vec![700])]
    #[case(Interval::M60, 1000, 0, vec![730])]
    #[case(Interval::D1, 20_000, 0, vec![20_000])]
    #[case(Interval::W1, 5000, 100, vec![4900])]
    #[case(Interval::MN1, 9000, 0, vec![9000])]
    fn splits_into_allowed_windows(
        #[case] interval: Interval,
        #[case] from_days_ago: i64,
        #[case] to_days_ago: i64,
        #[case] expected_days: Vec<i64>,
    ) {
        let windows = split(interval, range(days_ago(from_days_ago), days_ago(to_days_ago)), now()).unwrap();
        let lengths: Vec<i64> = windows.iter().map(|w| (w.length() + TimeDelta::minutes(30)).num_days()).collect();
        assert_eq!(lengths, expected_days);
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end(), pair[1].start(), "windows must join");
        }
        assert_eq!(windows.last().unwrap().end(), days_ago(to_days_ago));
        let lim = limit(interval);
        if let Some(max) = lim.max_window_days {
            assert!(windows.iter().all(|w| w.length() <= TimeDelta::days(max)));
        }
        if let Some(back) = lim.lookback_days {
            assert!(windows[0].start() >= now() - TimeDelta::days(back));
        }
    }

    #[rstest]
    #[case(Interval::M1, 31, 30, "1m bars only for the last 30 days")]
    #[case(Interval::M1, 90, 45, "1m bars only for the last 30 days")]
    #[case(Interval::M5, 61, 60, "5m bars only for the last 60 days")]
    #[case(Interval::M30, 100, 70, "30m bars only for the last 60 days")]
    #[case(Interval::M60, 800, 731, "60m bars only for the last 730 days")]
    fn a_range_wholly_too_old_is_unsupported(
        #[case] interval: Interval,
        #[case] from_days_ago: i64,
        #[case] to_days_ago: i64,
        #[case] message: &str,
    ) {
        let err = split(interval, range(days_ago(from_days_ago), days_ago(to_days_ago)), now()).unwrap_err();
        assert!(err.contains(message), "{err}");
    }

    #[test]
    fn the_future_is_clipped_to_now_and_a_wholly_future_range_needs_no_request() {
        let w = split(Interval::M5, range(days_ago(1), now() + TimeDelta::days(3)), now()).unwrap();
        assert_eq!(w, vec![range(days_ago(1), now())]);
        assert!(split(Interval::D1, range(now(), now() + TimeDelta::days(3)), now()).unwrap().is_empty());
    }
}
