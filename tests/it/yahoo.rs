//! The Yahoo chart source against `FakeYahoo`: windows, resampling, calendar stamping, retries
//! and the error mapping, over real HTTP on a local port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_adapters::yahoo::{YahooSettings, YahooSource};
use axia_domain::ports::{MarketDataSource, SourceError};
use axia_domain::{FixedClock, SeriesKey, Symbol, TimeRange, Timeframe};
use axia_tests::fake_yahoo::{FakeYahoo, fixture_json};
use chrono::{DateTime, TimeDelta, TimeZone, Timelike, Utc};
use rstest::rstest;
use serde_json::Value;

fn utc(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
}

fn source(settings: YahooSettings) -> YahooSource {
    source_at(settings, FakeYahoo::now())
}

fn source_at(settings: YahooSettings, now: DateTime<Utc>) -> YahooSource {
    YahooSource::new(settings, Arc::new(FixedClock::new(now))).unwrap()
}

fn key(symbol: &str, tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(symbol).unwrap(), tf)
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange::new(start, end).unwrap()
}

/// `(timestamp, open, high, low, close, volume)` of a fixture, nulls kept.
type Row = (i64, Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

fn fixture_rows(file: &str) -> Vec<Row> {
    let v = fixture_json(file);
    let r = v.pointer("/chart/result/0").unwrap();
    let col = |name: &str| -> Vec<Option<f64>> {
        let n = r["timestamp"].as_array().unwrap().len();
        r.pointer(&format!("/indicators/quote/0/{name}"))
            .and_then(Value::as_array)
            .map_or_else(|| vec![None; n], |a| a.iter().map(Value::as_f64).collect())
    };
    let (o, h, l, c, vol) = (col("open"), col("high"), col("low"), col("close"), col("volume"));
    r["timestamp"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_i64().unwrap(), o[i], h[i], l[i], c[i], vol[i]))
        .collect()
}

#[tokio::test]
async fn m1_across_several_windows_reads_every_quoted_minute_once() {
    let fake = FakeYahoo::start().await;
    let wanted = range(utc(2018, 1, 14, 0), utc(2018, 1, 24, 0));
    let series = source(fake.settings()).fetch(&key("EURUSD", Timeframe::M1), wanted).await.unwrap();

    // Ten days in windows of at most seven, in sequence, joined end to start.
    let requests = fake.requests_for("EURUSD=X");
    let windows: Vec<(i64, i64)> = requests.iter().map(|r| (r.period1, r.period2)).collect();
    assert_eq!(
        windows,
        vec![
            (wanted.start().timestamp(), utc(2018, 1, 21, 0).timestamp()),
            (utc(2018, 1, 21, 0).timestamp(), wanted.end().timestamp())
        ]
    );
    assert!(requests.iter().all(|r| r.interval == "1m" && r.include_pre_post.as_deref() == Some("false")));
    assert!(requests[0].user_agent.as_deref().unwrap_or_default().starts_with("axia/"), "{:?}", requests[0]);

    // Every minute with four prices, once; the repeated last bar is the one kept.
    let rows = fixture_rows("eurusd_1m.json");
    let mut expected: Vec<Row> =
        rows.iter().copied().filter(|r| r.1.is_some() && r.2.is_some() && r.3.is_some() && r.4.is_some()).collect();
    expected.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
    assert!(rows.len() - expected.len() >= 4, "the fixture holds nulls and a repeated bar");
    assert_eq!(series.len(), expected.len());
    for (bar, row) in series.bars().iter().zip(&expected) {
        assert_eq!(bar.open_time().timestamp(), row.0);
        assert_eq!(
            (bar.open(), bar.high(), bar.low(), bar.close()),
            (row.1.unwrap(), row.2.unwrap(), row.3.unwrap(), row.4.unwrap())
        );
        assert_eq!(bar.volume(), 0);
    }
}

#[tokio::test]
async fn h4_is_resampled_from_60m_bars_on_the_new_york_close_clock() {
    let fake = FakeYahoo::start().await;
    let src = source(fake.settings());
    let wanted = range(utc(2018, 1, 8, 0), utc(2018, 1, 19, 0));
    let h4 = src.fetch(&key("EURUSD", Timeframe::H4), wanted).await.unwrap();
    assert!(fake.requests().iter().all(|r| r.interval == "60m"));

    // In January the New York close is 22:00 UTC: H4 bars open at 22, 02, 06, 10, 14, 18.
    assert!(!h4.is_empty());
    assert!(h4.bars().iter().all(|b| b.open_time().hour() % 4 == 2), "{:?}", h4.first());
    let wider = range(wanted.start(), wanted.end() + TimeDelta::hours(4));
    let h1 = src.fetch(&key("EURUSD", Timeframe::H1), wider).await.unwrap();
    assert_eq!(
        h1.len(),
        fixture_rows("eurusd_60m.json")
            .iter()
            .filter(|r| wider.contains(DateTime::from_timestamp(r.0, 0).unwrap()))
            .count()
    );
    assert_eq!(h4.bars(), h1.resample(Timeframe::H4).unwrap().slice(wanted).bars());
}

#[tokio::test]
async fn fx_days_open_at_the_new_york_close_and_carry_yahoos_prices() {
    let fake = FakeYahoo::start().await;
    let wanted = range(utc(2018, 1, 1, 0), utc(2018, 2, 1, 0));
    let d1 = source_at(fake.settings(), utc(2018, 3, 1, 0)).fetch(&key("EURUSD", Timeframe::D1), wanted).await.unwrap();
    let rows = fixture_rows("eurusd_1d.json");
    // Yahoo's London day D is our trading day D, which opens at 22:00 UTC the evening before.
    let expected: Vec<&Row> = rows
        .iter()
        .filter(|r| wanted.contains(DateTime::from_timestamp(r.0, 0).unwrap() - TimeDelta::hours(2)))
        .collect();
    assert_eq!(d1.len(), expected.len());
    for (bar, row) in d1.bars().iter().zip(expected) {
        assert_eq!(bar.open_time().timestamp(), row.0 - 2 * 3600);
        assert_eq!(bar.close(), row.4.unwrap());
    }
}

#[tokio::test]
async fn equity_days_sit_on_utc_dates_with_their_volume() {
    let fake = FakeYahoo::start().await;
    let wanted = range(utc(2018, 1, 1, 0), utc(2018, 2, 10, 0));
    let d1 = source_at(fake.settings(), utc(2018, 3, 1, 0)).fetch(&key("AAPL", Timeframe::D1), wanted).await.unwrap();
    let rows = fixture_rows("aapl_1d.json");
    assert_eq!(d1.len(), rows.len());
    for (bar, row) in d1.bars().iter().zip(&rows) {
        // 09:30 New York is 14:30 UTC in winter; the bar is the UTC day's.
        assert_eq!(bar.open_time().timestamp(), row.0 - (14 * 3600 + 30 * 60));
        assert_eq!(bar.volume() as f64, row.5.unwrap());
    }
    assert_eq!(fake.requests_for("AAPL").len(), 1);

    // Nothing after the clock's now is asked for.
    let early =
        source_at(fake.settings(), utc(2018, 1, 20, 0)).fetch(&key("AAPL", Timeframe::D1), wanted).await.unwrap();
    assert_eq!(early.len(), rows.iter().filter(|r| r.0 < utc(2018, 1, 20, 0).timestamp()).count());
    assert_eq!(fake.requests_for("AAPL")[1].period2, utc(2018, 1, 20, 0).timestamp());
}

#[tokio::test]
async fn a_missing_volume_array_reads_as_zero_volume() {
    let fake = FakeYahoo::start().await;
    let h1 = source(fake.settings())
        .fetch(&key("USDJPY", Timeframe::H1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap();
    assert_eq!(h1.len(), 24);
    assert!(h1.bars().iter().all(|b| b.volume() == 0));
}

#[tokio::test]
async fn a_weekend_without_bars_is_an_empty_series() {
    let fake = FakeYahoo::start().await;
    let h1 = source(fake.settings())
        .fetch(&key("EURUSD", Timeframe::H1), range(utc(2018, 1, 13, 0), utc(2018, 1, 14, 0)))
        .await
        .unwrap();
    assert!(h1.is_empty());
    assert_eq!(fake.requests().len(), 1);
}

#[rstest]
#[case(429, 1)]
#[case(500, 2)]
#[case(503, 1)]
#[tokio::test]
async fn transient_failures_are_retried(#[case] status: u16, #[case] failures: usize) {
    let fake = FakeYahoo::start().await;
    fake.fail_next("EURUSD=X", status, failures);
    let h1 = source(fake.settings())
        .fetch(&key("EURUSD", Timeframe::H1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap();
    assert_eq!(h1.len(), 24);
    assert_eq!(fake.requests_for("EURUSD=X").len(), failures + 1);
}

#[tokio::test]
async fn retry_after_from_the_server_replaces_the_backoff() {
    let fake = FakeYahoo::start().await;
    fake.fail_next_with_retry_after("EURUSD=X", 429, 1, 0);
    // A 30 s base delay would blow the test's time; Retry-After: 0 means go again now.
    let settings = YahooSettings { retry_base_delay: Duration::from_secs(30), ..fake.settings() };
    let started = Instant::now();
    let h1 = source(settings)
        .fetch(&key("EURUSD", Timeframe::H1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap();
    assert_eq!(h1.len(), 24);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[tokio::test]
async fn rate_limited_for_good_is_unavailable_after_the_retries() {
    let fake = FakeYahoo::start().await;
    fake.fail_always("EURUSD=X", 429);
    let settings = YahooSettings { max_retries: 3, ..fake.settings() };
    let err = source(settings)
        .fetch(&key("EURUSD", Timeframe::H1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("HTTP 429") && err.to_string().contains("after 4 attempts"), "{err}");
    assert_eq!(fake.requests_for("EURUSD=X").len(), 4);
}

#[tokio::test]
async fn an_unknown_ticker_is_an_unknown_symbol_without_retries() {
    let fake = FakeYahoo::start().await;
    let err = source(fake.settings())
        .fetch(&key("ZZZZ", Timeframe::D1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::UnknownSymbol { .. }), "{err:?}");
    assert!(err.to_string().contains("symbol may be delisted"), "{err}");
    fake.fail_always("GBPUSD=X", 404);
    let err = source(fake.settings())
        .fetch(&key("GBPUSD", Timeframe::H1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("GBPUSD (Yahoo GBPUSD=X)"), "{err}");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn unprocessable_is_permanent_and_says_why() {
    let fake = FakeYahoo::start().await;
    fake.fail_always("EURUSD=X", 422);
    let err = source(fake.settings())
        .fetch(&key("EURUSD", Timeframe::M1), range(utc(2018, 1, 15, 0), utc(2018, 1, 16, 0)))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Unsupported { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("Only 7 days worth of 1m granularity data"), "{err}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_garbage_body_is_an_invalid_response_quoting_it() {
    let fake = FakeYahoo::start().await;
    fake.answer_always("EURUSD=X", 200, "<html>consent required</html>");
    let err = source(fake.settings())
        .fetch(&key("EURUSD", Timeframe::H1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("<html>consent required</html>"), "{err}");
}

#[tokio::test]
async fn a_slow_server_times_out_and_is_unavailable() {
    let fake = FakeYahoo::start().await;
    fake.delay("EURUSD=X", Duration::from_secs(3));
    let settings = YahooSettings { timeout: Duration::from_millis(200), max_retries: 1, ..fake.settings() };
    let err = source(settings)
        .fetch(&key("EURUSD", Timeframe::H1), range(utc(2018, 1, 9, 0), utc(2018, 1, 10, 0)))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("no answer from {}", fake.base_url())), "{err}");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn minutes_older_than_30_days_are_unsupported_without_a_request() {
    let fake = FakeYahoo::start().await;
    let old = range(FakeYahoo::now() - TimeDelta::days(45), FakeYahoo::now() - TimeDelta::days(31));
    let err = source(fake.settings()).fetch(&key("EURUSD", Timeframe::M1), old).await.unwrap_err();
    assert!(matches!(err, SourceError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("yahoo serves 1m bars only for the last 30 days"), "{err}");
    assert!(fake.requests().is_empty());
}
