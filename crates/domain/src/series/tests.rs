use chrono::{TimeZone, Timelike};
use proptest::prelude::*;
use rstest::rstest;

use super::*;

fn key(tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new("EURUSD").unwrap(), tf)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn bar(t: DateTime<Utc>, p: f64) -> Bar {
    Bar::new(t, p, p + 0.002, p - 0.001, p + 0.001, 10).unwrap()
}

fn hourly(start: DateTime<Utc>, n: usize) -> OhlcvSeries {
    let bars = (0..n).map(|i| bar(start + TimeDelta::hours(i as i64), 1.0 + i as f64 * 0.001)).collect();
    OhlcvSeries::new(key(Timeframe::H1), bars).unwrap()
}

#[test]
fn construction_rejects_duplicates_order_and_misalignment() {
    let t = utc(2025, 7, 16, 10, 0);
    let dup = OhlcvSeries::new(key(Timeframe::H1), vec![bar(t, 1.0), bar(t, 1.1)]);
    assert_eq!(dup.unwrap_err(), SeriesError::Duplicate { time: t });
    let ooo = OhlcvSeries::new(key(Timeframe::H1), vec![bar(t, 1.0), bar(t - TimeDelta::hours(1), 1.1)]);
    assert!(matches!(ooo.unwrap_err(), SeriesError::OutOfOrder { .. }));
    let mis = OhlcvSeries::new(key(Timeframe::H1), vec![bar(t + TimeDelta::minutes(1), 1.0)]);
    assert!(matches!(mis.unwrap_err(), SeriesError::Misaligned { .. }));
}

#[test]
fn merge_upserts_newer_wins() {
    let t = utc(2025, 7, 16, 10, 0);
    let mut s = hourly(t, 3);
    let replacement = bar(t + TimeDelta::hours(1), 2.0);
    let newer = OhlcvSeries::new(key(Timeframe::H1), vec![s.bars()[0], replacement, bar(t + TimeDelta::hours(5), 1.5)])
        .unwrap();
    let stats = s.merge(&newer).unwrap();
    assert_eq!(stats, MergeStats { inserted: 1, updated: 1, unchanged: 1 });
    assert_eq!(s.len(), 4);
    assert_eq!(s.bars()[1], replacement);
    assert_eq!(s.last().unwrap().open_time(), t + TimeDelta::hours(5));
}

#[test]
fn merge_refuses_other_series() {
    let mut s = hourly(utc(2025, 7, 16, 10, 0), 2);
    let other = OhlcvSeries::empty(key(Timeframe::H4));
    assert!(matches!(s.merge(&other), Err(SeriesError::Mismatch { .. })));
}

#[test]
fn trim_drops_old_bars() {
    let t = utc(2025, 7, 16, 0, 0);
    let mut s = hourly(t, 30);
    let dropped = s.trim_to_window(t + TimeDelta::hours(30), TimeDelta::hours(24));
    assert_eq!(dropped, 6);
    assert_eq!(s.first().unwrap().open_time(), t + TimeDelta::hours(6));
}

#[test]
fn resample_h1_to_h4_on_new_york_close() {
    // Wednesday 2025-07-16 summer: H4 bars open at 21, 01, 05, 09, 13, 17 UTC.
    let s = hourly(utc(2025, 7, 16, 0, 0), 6); // 00..05 UTC
    let h4 = s.resample(Timeframe::H4).unwrap();
    let opens: Vec<_> = h4.bars().iter().map(|b| b.open_time().hour()).collect();
    assert_eq!(opens, vec![21, 1, 5]);
    let first = h4.bars()[0];
    assert_eq!(first.open(), s.bars()[0].open());
    assert_eq!(first.close(), s.bars()[0].close());
    let second = h4.bars()[1];
    assert_eq!(second.volume(), 40);
    assert_eq!(second.high(), s.bars()[1..5].iter().map(Bar::high).fold(f64::MIN, f64::max));
    assert_eq!(second.close(), s.bars()[4].close());
}

#[rstest]
#[case(Timeframe::H1, Timeframe::M1)]
#[case(Timeframe::W1, Timeframe::MN1)]
fn resample_refuses_impossible(#[case] from: Timeframe, #[case] to: Timeframe) {
    let s = OhlcvSeries::empty(key(from));
    assert_eq!(s.resample(to).unwrap_err(), SeriesError::CannotResample { from, to });
}

#[test]
fn weekend_is_not_a_gap_but_a_missing_hour_is() {
    // Friday 2025-07-18 19:00, 20:00 UTC then Sunday 21:00 UTC: no gap.
    let fri = utc(2025, 7, 18, 19, 0);
    let bars = vec![
        bar(fri, 1.0),
        bar(fri + TimeDelta::hours(1), 1.0),
        bar(utc(2025, 7, 20, 21, 0), 1.0),
        bar(utc(2025, 7, 20, 23, 0), 1.0),
    ];
    let s = OhlcvSeries::new(key(Timeframe::H1), bars).unwrap();
    let gaps = s.gaps();
    assert_eq!(gaps, vec![Gap { start: utc(2025, 7, 20, 22, 0), end: utc(2025, 7, 20, 23, 0), missing_bars: Some(1) }]);
}

#[test]
fn gap_across_a_weekend_counts_only_trading_bars() {
    // Friday 18:00 UTC to Monday 00:00 UTC (summer): missing Fri 19,20 and Sun 21,22,23.
    let s =
        OhlcvSeries::new(key(Timeframe::H1), vec![bar(utc(2025, 7, 18, 18, 0), 1.0), bar(utc(2025, 7, 21, 0, 0), 1.0)])
            .unwrap();
    assert_eq!(s.gaps()[0].missing_bars, Some(5));
}

#[test]
fn equity_intraday_overnight_is_not_a_gap() {
    let k = SeriesKey::new(Symbol::new("AAPL").unwrap(), Timeframe::H1);
    let s = OhlcvSeries::new(
        k,
        vec![
            bar(utc(2025, 7, 14, 19, 0), 1.0),
            bar(utc(2025, 7, 15, 14, 0), 1.0),
            bar(utc(2025, 7, 15, 16, 0), 1.0),
            bar(utc(2025, 7, 17, 14, 0), 1.0),
        ],
    )
    .unwrap();
    let gaps = s.gaps();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert_eq!(gaps[0].missing_bars, Some(1));
    assert_eq!(gaps[1].missing_bars, None);
    assert_eq!(gaps[1].start, utc(2025, 7, 16, 0, 0));
}

// ---------------------------------------------------------------------------------------------
// Property tests

/// Arbitrary M1 series: `n` bars at distinct minute offsets within ~3 weeks, random prices.
fn arb_series(max: usize) -> impl Strategy<Value = OhlcvSeries> {
    proptest::collection::btree_map(0i64..30_000, (1.0f64..2.0, 0.0f64..0.01, 0.0f64..0.01, 0u64..1000), 0..max)
        .prop_map(|m| {
            let base = utc(2025, 3, 3, 0, 0);
            let bars = m
                .into_iter()
                .map(|(min, (p, up, down, v))| {
                    Bar::new(base + TimeDelta::minutes(min), p, p + up, p - down, p, v).unwrap()
                })
                .collect();
            OhlcvSeries::new(key(Timeframe::M1), bars).unwrap()
        })
}

proptest! {
    #[test]
    fn merge_is_a_sorted_union_where_newer_wins(a in arb_series(200), b in arb_series(200)) {
        let mut merged = a.clone();
        merged.merge(&b).unwrap();
        // strictly increasing
        prop_assert!(merged.bars().windows(2).all(|w| w[0].open_time() < w[1].open_time()));
        // every bar of b present as is; every bar of a present unless b overrides its time
        for bar in b.bars() {
            prop_assert!(merged.bars().contains(bar));
        }
        let b_times: std::collections::BTreeSet<_> = b.bars().iter().map(Bar::open_time).collect();
        for bar in a.bars() {
            if !b_times.contains(&bar.open_time()) {
                prop_assert!(merged.bars().contains(bar));
            }
        }
        let union: std::collections::BTreeSet<_> = a.bars().iter().chain(b.bars()).map(Bar::open_time).collect();
        prop_assert_eq!(merged.len(), union.len());
    }

    #[test]
    fn merge_is_idempotent(a in arb_series(100), b in arb_series(100)) {
        let mut once = a.clone();
        once.merge(&b).unwrap();
        let mut twice = once.clone();
        let stats = twice.merge(&b).unwrap();
        prop_assert!(stats.is_noop());
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn slice_keeps_exactly_the_bars_in_range(a in arb_series(200), s in 0i64..30_000, len in 0i64..30_000) {
        let start = utc(2025, 3, 3, 0, 0) + TimeDelta::minutes(s);
        let range = TimeRange::new(start, start + TimeDelta::minutes(len)).unwrap();
        let sliced = a.slice(range);
        let expected: Vec<Bar> = a.bars().iter().filter(|b| range.contains(b.open_time())).copied().collect();
        prop_assert_eq!(sliced.bars(), expected.as_slice());
    }

    #[test]
    fn resample_preserves_extremes_and_volume(a in arb_series(300), tf_ix in 1usize..7) {
        let to = Timeframe::ALL[tf_ix];
        let r = a.resample(to).unwrap();
        let total: u64 = a.bars().iter().map(Bar::volume).sum();
        prop_assert_eq!(r.bars().iter().map(Bar::volume).sum::<u64>(), total);
        for out in r.bars() {
            let members: Vec<&Bar> = a.bars().iter()
                .filter(|b| a.calendar().align(b.open_time(), to) == out.open_time())
                .collect();
            prop_assert!(!members.is_empty());
            prop_assert_eq!(out.open(), members[0].open());
            prop_assert_eq!(out.close(), members[members.len() - 1].close());
            prop_assert_eq!(out.high(), members.iter().map(|b| b.high()).fold(f64::MIN, f64::max));
            prop_assert_eq!(out.low(), members.iter().map(|b| b.low()).fold(f64::MAX, f64::min));
        }
        // Resampling in two steps gives the same as in one when the steps nest.
        if Timeframe::M5.can_resample_to(to) {
            let two = a.resample(Timeframe::M5).unwrap().resample(to).unwrap();
            prop_assert_eq!(two.bars(), r.bars());
        }
    }
}
