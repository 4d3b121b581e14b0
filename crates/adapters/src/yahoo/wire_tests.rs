use axia_domain::Timeframe;
use chrono::TimeZone;
use rstest::rstest;
use serde_json::json;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn result(value: &serde_json::Value) -> ChartResult {
    let envelope: Envelope = serde_json::from_value(json!({"chart": {"result": [value], "error": null}})).unwrap();
    envelope.chart.result.unwrap().pop().unwrap()
}

fn one_minute(ts: &[DateTime<Utc>], quote: &serde_json::Value) -> ChartResult {
    result(&json!({
        "meta": {"gmtoffset": 0, "exchangeTimezoneName": "Europe/London", "dataGranularity": "1m"},
        "timestamp": ts.iter().map(DateTime::timestamp).collect::<Vec<_>>(),
        "indicators": {"quote": [quote]}
    }))
}

#[test]
fn skips_null_entries_and_reads_missing_volume_as_zero() {
    let t0 = utc(2018, 1, 15, 8, 0);
    let ts: Vec<_> = (0..4).map(|m| t0 + TimeDelta::minutes(m)).collect();
    let r = one_minute(
        &ts,
        &json!({"open": [1.2, null, 1.3, 1.2], "high": [1.3, null, 1.3, 1.25], "low": [1.1, null, 1.2, 1.15],
               "close": [1.25, null, null, 1.2]}),
    );
    let parsed = to_bars(&r, Interval::M1, MarketCalendar::Fx).unwrap();
    let opens: Vec<_> = parsed.bars.iter().map(Bar::open_time).collect();
    assert_eq!(opens, vec![ts[0], ts[3]]);
    assert_eq!(parsed.null_entries, 2);
    assert!(parsed.bars.iter().all(|b| b.volume() == 0));
}

#[test]
fn reads_volumes_and_nulls_in_volume() {
    let t0 = utc(2018, 1, 15, 8, 0);
    let ts = [t0, t0 + TimeDelta::minutes(1)];
    let r = one_minute(
        &ts,
        &json!({"open": [1.2, 1.2], "high": [1.3, 1.3], "low": [1.1, 1.1], "close": [1.25, 1.25], "volume": [1500, null]}),
    );
    let parsed = to_bars(&r, Interval::M1, MarketCalendar::Equity).unwrap();
    assert_eq!(parsed.bars.iter().map(Bar::volume).collect::<Vec<_>>(), vec![1500, 0]);
}

#[rstest]
#[case(json!({"meta": {"gmtoffset": 0}, "indicators": {"quote": [{}]}}))]
#[case(json!({"meta": {}}))]
#[case(json!({"meta": {}, "timestamp": [], "indicators": {"quote": [{}]}}))]
fn a_result_without_timestamps_holds_no_bars(#[case] value: serde_json::Value) {
    let parsed = to_bars(&result(&value), Interval::M60, MarketCalendar::Fx).unwrap();
    assert!(parsed.bars.is_empty());
}

#[rstest]
#[case(json!({"timestamp": [1516003200], "indicators": {"quote": [{"open": [1.0], "high": [1.0], "low": [1.0]}]}}), "no close array")]
#[case(json!({"timestamp": [1516003200, 1516003260], "indicators": {"quote": [{"open": [1.0], "high": [1.0, 1.0], "low": [1.0, 1.0], "close": [1.0, 1.0]}]}}), "open has 1 entries for 2 timestamps")]
#[case(json!({"timestamp": [1516003200]}), "no indicators.quote")]
#[case(json!({"timestamp": [1516003200], "indicators": {"quote": []}}), "no indicators.quote")]
fn misaligned_arrays_are_invalid(#[case] value: serde_json::Value, #[case] message: &str) {
    let err = to_bars(&result(&value), Interval::M1, MarketCalendar::Fx).unwrap_err();
    assert!(err.contains(message), "{err}");
}

#[test]
fn inconsistent_bars_are_set_aside_with_their_time() {
    let t0 = utc(2018, 1, 15, 8, 0);
    let ts = [t0, t0 + TimeDelta::minutes(1), t0 + TimeDelta::minutes(2)];
    let r = one_minute(
        &ts,
        &json!({"open": [1.2, 1.2, 1.2], "high": [1.3, 1.0, 1.3], "low": [1.1, 1.1, 0.0], "close": [1.25, 1.1, 1.2]}),
    );
    let parsed = to_bars(&r, Interval::M1, MarketCalendar::Fx).unwrap();
    assert_eq!(parsed.bars.len(), 1);
    assert_eq!(parsed.invalid.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![ts[1], ts[2]]);
    assert!(parsed.invalid[0].1.contains("below low"), "{}", parsed.invalid[0].1);
}

#[test]
fn the_live_bar_is_floored_and_the_last_copy_wins() {
    let t0 = utc(2018, 1, 15, 10, 59);
    let ts = [t0, t0 + TimeDelta::seconds(47), t0 + TimeDelta::seconds(47)];
    let r = one_minute(
        &ts,
        &json!({"open": [1.2, 1.2, 1.2], "high": [1.3, 1.3, 1.3], "low": [1.1, 1.1, 1.1], "close": [1.21, 1.22, 1.23]}),
    );
    let parsed = to_bars(&r, Interval::M1, MarketCalendar::Fx).unwrap();
    assert!(parsed.bars.iter().all(|b| b.open_time() == t0));
    let bars = dedup_last_wins(parsed.bars);
    assert_eq!(bars.len(), 1);
    assert!((bars[0].close() - 1.23).abs() < 1e-12);
}

#[test]
fn dedup_sorts_and_keeps_the_later_answer() {
    let a = Bar::new(utc(2018, 1, 2, 0, 0), 1.0, 1.0, 1.0, 1.0, 1).unwrap();
    let b = Bar::new(utc(2018, 1, 1, 0, 0), 1.0, 1.0, 1.0, 1.0, 2).unwrap();
    let a2 = Bar::new(utc(2018, 1, 2, 0, 0), 1.0, 1.0, 1.0, 1.0, 3).unwrap();
    let out = dedup_last_wins(vec![a, b, a2]);
    assert_eq!(out.iter().map(Bar::volume).collect::<Vec<_>>(), vec![2, 3]);
}

#[rstest]
// EURUSD=X daily, London midnight in winter (gmtoffset 0): the FX day 2018-01-15 opens
// Sunday 22:00 UTC.
#[case(MarketCalendar::Fx, Interval::D1, utc(2018, 1, 15, 0, 0), 0, utc(2018, 1, 14, 22, 0))]
// Summer: Yahoo stamps 23:00 UTC the day before (London midnight, gmtoffset 3600).
#[case(MarketCalendar::Fx, Interval::D1, utc(2025, 7, 15, 23, 0), 3600, utc(2025, 7, 15, 21, 0))]
// The live daily bar carries the last trade time; it still names its day.
#[case(MarketCalendar::Fx, Interval::D1, utc(2025, 7, 16, 14, 23), 3600, utc(2025, 7, 15, 21, 0))]
// AAPL: 09:30 New York = 14:30 UTC in winter → the UTC day.
#[case(MarketCalendar::Equity, Interval::D1, utc(2018, 1, 2, 14, 30), -18000, utc(2018, 1, 2, 0, 0))]
// Tokyo 09:00 = 00:00 UTC; Auckland 10:00 NZDT = 21:00 UTC the day before: the local date wins.
#[case(MarketCalendar::Equity, Interval::D1, utc(2025, 1, 14, 21, 0), 46800, utc(2025, 1, 15, 0, 0))]
// Weekly on Monday, monthly on the 1st (the in-progress month may be stamped mid-month).
#[case(MarketCalendar::Fx, Interval::W1, utc(2018, 1, 15, 0, 0), 0, utc(2018, 1, 14, 22, 0))]
#[case(MarketCalendar::Fx, Interval::MN1, utc(2025, 7, 1, 0, 0) - TimeDelta::hours(1), 3600, utc(2025, 6, 30, 21, 0))]
#[case(MarketCalendar::Equity, Interval::MN1, utc(2025, 7, 16, 13, 30), -14400, utc(2025, 7, 1, 0, 0))]
// Intraday stays on UTC.
#[case(MarketCalendar::Fx, Interval::M60, utc(2025, 7, 16, 13, 0), 3600, utc(2025, 7, 16, 13, 0))]
#[case(MarketCalendar::Equity, Interval::M60, utc(2025, 7, 16, 13, 30), -14400, utc(2025, 7, 16, 13, 0))]
fn stamps_bars_on_our_calendar(
    #[case] calendar: MarketCalendar,
    #[case] interval: Interval,
    #[case] yahoo_ts: DateTime<Utc>,
    #[case] gmtoffset: i64,
    #[case] open: DateTime<Utc>,
) {
    let r = result(&json!({
        "meta": {"gmtoffset": gmtoffset},
        "timestamp": [yahoo_ts.timestamp()],
        "indicators": {"quote": [{"open": [1.2], "high": [1.3], "low": [1.1], "close": [1.25], "volume": [0]}]}
    }));
    let parsed = to_bars(&r, interval, calendar).unwrap();
    assert_eq!(parsed.bars[0].open_time(), open);
    let tf: Timeframe = interval.timeframe();
    assert!(calendar.is_aligned(open, tf));
}

#[rstest]
#[case(b"  short  ".as_slice(), 20, "short")]
#[case(b"<html>Service Unavailable</html>".as_slice(), 6, "<html>\u{2026}")]
#[case(b"\xff\xfe".as_slice(), 10, "\u{fffd}\u{fffd}")]
fn excerpts_bodies(#[case] body: &[u8], #[case] max: usize, #[case] expected: &str) {
    assert_eq!(excerpt(body, max), expected);
}
