use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axia_domain::ports::{Coverage, MockMarketDataSource, MockOhlcvDataRepository, RepositoryError, SourceError};
use axia_domain::{Bar, FixedClock, MarketCalendar};
use chrono::TimeZone;
use rstest::rstest;

use super::*;

fn t(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// Tuesday 2025-09-02 10:30 UTC.
fn now() -> DateTime<Utc> {
    t(2025, 9, 2, 10) + TimeDelta::minutes(30)
}

fn key(sym: &str, tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(sym).unwrap(), tf)
}

fn series_in(key: &SeriesKey, range: TimeRange) -> OhlcvSeries {
    let cal = MarketCalendar::default_for(&key.symbol);
    let bars = cal
        .trading_opens(range.start(), range.end(), key.timeframe)
        .map(|open| Bar::new(open, 1.1, 1.2, 1.0, 1.15, 10).unwrap())
        .collect();
    OhlcvSeries::new(key.clone(), bars).unwrap()
}

fn request(symbols: &[&str], tfs: &[Timeframe]) -> CollectRequest {
    CollectRequest {
        symbols: symbols.iter().map(|s| Symbol::new(s).unwrap()).collect(),
        timeframes: tfs.to_vec(),
        from: None,
        to: None,
    }
}

fn quick() -> CollectConfig {
    CollectConfig { retry_base_delay: Duration::from_millis(1), ..CollectConfig::default() }
}

fn collector(
    source: MockMarketDataSource,
    history: MockOhlcvDataRepository,
    hot: Vec<Arc<dyn OhlcvDataRepository>>,
    config: CollectConfig,
) -> CollectOhlcvData {
    let mut source = source;
    source.expect_name().return_const("mock".to_owned());
    source.expect_is_synthetic().return_const(false);
    source.expect_data_end().return_const(None);
    let mut history = history;
    history.expect_name().return_const("history".to_owned());
    CollectOhlcvData::new(Arc::new(source), Arc::new(history), hot, Arc::new(FixedClock::new(now())), config)
}

fn storing_history() -> MockOhlcvDataRepository {
    let mut h = MockOhlcvDataRepository::new();
    h.expect_upsert().returning(|s| Ok(WriteSummary { inserted: s.len() as u64, ..WriteSummary::default() }));
    h
}

#[tokio::test]
async fn empty_history_starts_at_the_initial_lookback_and_ends_at_the_bar_in_progress() {
    let mut history = storing_history();
    history.expect_coverage().returning(|_| Ok(None));
    let mut source = MockMarketDataSource::new();
    source
        .expect_fetch()
        .withf(|_, r| r.start() == t(2025, 8, 3, 10) && r.end() == t(2025, 9, 2, 10))
        .times(1)
        .returning(|k, r| Ok(series_in(k, r)));
    let report = collector(source, history, vec![], quick()).run(&request(&["EURUSD"], &[Timeframe::H1]), None).await;
    assert!(report.is_success(), "{report:?}");
    assert!(matches!(report.tasks[0].outcome, TaskOutcome::Stored { fetched, .. } if fetched > 400));
}

#[rstest]
#[case::refetch_last_bar(1, Some(t(2025, 9, 2, 7)))]
#[case::refetch_three_bars(3, Some(t(2025, 9, 2, 5)))]
#[case::from_next_bar(0, Some(t(2025, 9, 2, 8)))]
#[tokio::test]
async fn incremental_run_starts_from_the_last_stored_bar(#[case] refetch: u32, #[case] start: Option<DateTime<Utc>>) {
    let mut history = storing_history();
    history
        .expect_coverage()
        .returning(|_| Ok(Some(Coverage { first: t(2025, 9, 1, 0), last: t(2025, 9, 2, 7), rows: 31 })));
    let mut source = MockMarketDataSource::new();
    source
        .expect_fetch()
        .withf(move |_, r| Some(r.start()) == start && r.end() == t(2025, 9, 2, 10))
        .times(1)
        .returning(|k, r| Ok(series_in(k, r)));
    let config = CollectConfig { refetch_bars: refetch, ..quick() };
    let report = collector(source, history, vec![], config).run(&request(&["EURUSD"], &[Timeframe::H1]), None).await;
    assert!(report.is_success(), "{report:?}");
}

#[tokio::test]
async fn a_fixed_history_source_bounds_the_range_at_its_end() {
    let mut history = storing_history();
    history.expect_coverage().returning(|_| Ok(None));
    let mut source = MockMarketDataSource::new();
    // The history ends mid-bar (H4 bars open at 21:00 UTC in summer): that partial bar is not collected.
    source.expect_data_end().return_const(Some(t(2025, 8, 1, 22)));
    source
        .expect_fetch()
        .withf(|_, r| r.start() == t(2025, 7, 2, 21) && r.end() == t(2025, 8, 1, 21))
        .times(1)
        .returning(|k, r| Ok(series_in(k, r)));
    let report = collector(source, history, vec![], quick()).run(&request(&["EURUSD"], &[Timeframe::H4]), None).await;
    assert!(report.is_success(), "{report:?}");
}

#[tokio::test]
async fn nothing_new_is_up_to_date_and_fetches_nothing() {
    let mut history = MockOhlcvDataRepository::new();
    history
        .expect_coverage()
        .returning(|_| Ok(Some(Coverage { first: t(2025, 9, 1, 0), last: t(2025, 9, 2, 9), rows: 34 })));
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().never();
    let config = CollectConfig { refetch_bars: 0, ..quick() };
    let report = collector(source, history, vec![], config).run(&request(&["EURUSD"], &[Timeframe::H1]), None).await;
    assert_eq!(report.tasks[0].outcome, TaskOutcome::UpToDate);
    assert!(report.is_success());
}

#[tokio::test]
async fn explicit_range_is_a_backfill_that_ignores_coverage() {
    let mut history = storing_history();
    history.expect_coverage().never();
    let mut source = MockMarketDataSource::new();
    source
        .expect_fetch()
        .withf(|_, r| r.start() == t(2025, 1, 6, 0) && r.end() == t(2025, 1, 7, 0))
        .times(1)
        .returning(|k, r| Ok(series_in(k, r)));
    let mut req = request(&["EURUSD"], &[Timeframe::H1]);
    req.from = Some(t(2025, 1, 6, 0));
    req.to = Some(t(2025, 1, 7, 0));
    let report = collector(source, history, vec![], quick()).run(&req, None).await;
    assert!(matches!(report.tasks[0].outcome, TaskOutcome::Stored { fetched: 24, .. }), "{report:?}");
}

#[tokio::test]
async fn one_failing_task_does_not_stop_the_others_and_results_keep_request_order() {
    let mut history = storing_history();
    history.expect_coverage().returning(|_| Ok(None));
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().returning(|k, r| {
        if k.symbol.as_str() == "NOPEXX" {
            Err(SourceError::UnknownSymbol { source_name: "mock".into(), symbol: k.symbol.to_string() })
        } else {
            Ok(series_in(k, r))
        }
    });
    let req = request(&["EURUSD", "NOPEXX", "USDJPY"], &[Timeframe::H4, Timeframe::D1]);
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let progress: ProgressFn = Arc::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let report = collector(source, history, vec![], quick()).run(&req, Some(progress)).await;
    assert_eq!(seen.load(Ordering::SeqCst), 6);
    let order: Vec<String> = report.tasks.iter().map(|t| t.key.to_string()).collect();
    assert_eq!(order, ["EURUSD H4", "EURUSD D1", "NOPEXX H4", "NOPEXX D1", "USDJPY H4", "USDJPY D1"]);
    assert_eq!(report.counts().failed, 2);
    assert_eq!(report.counts().stored, 4);
    assert!(!report.is_success());
    assert_eq!(report.summary_json()["failed"], serde_json::json!(["NOPEXX H4", "NOPEXX D1"]));
}

#[tokio::test]
async fn retryable_source_errors_are_retried_then_succeed() {
    let mut history = storing_history();
    history.expect_coverage().returning(|_| Ok(None));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().times(3).returning(move |k, r| {
        if c.fetch_add(1, Ordering::SeqCst) < 2 {
            Err(SourceError::Unavailable { source_name: "mock".into(), detail: "429".into() })
        } else {
            Ok(series_in(k, r))
        }
    });
    let report = collector(source, history, vec![], quick()).run(&request(&["EURUSD"], &[Timeframe::D1]), None).await;
    assert!(report.is_success(), "{report:?}");
}

#[tokio::test]
async fn permanent_source_errors_are_not_retried() {
    let mut history = MockOhlcvDataRepository::new();
    history.expect_coverage().returning(|_| Ok(None));
    history.expect_upsert().never();
    let mut source = MockMarketDataSource::new();
    source
        .expect_fetch()
        .times(1)
        .returning(|_, _| Err(SourceError::InvalidResponse { source_name: "mock".into(), detail: "bad json".into() }));
    let report = collector(source, history, vec![], quick()).run(&request(&["EURUSD"], &[Timeframe::D1]), None).await;
    assert!(
        matches!(&report.tasks[0].outcome, TaskOutcome::Failed { stage: "fetch", retryable: false, error } if error.contains("bad json"))
    );
}

#[tokio::test]
async fn unreadable_history_fails_the_task_without_fetching() {
    let mut history = MockOhlcvDataRepository::new();
    history.expect_coverage().returning(|_| Err(RepositoryError::unavailable("parquet", "disk gone")));
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().never();
    let report = collector(source, history, vec![], quick()).run(&request(&["EURUSD"], &[Timeframe::D1]), None).await;
    assert!(matches!(report.tasks[0].outcome, TaskOutcome::Failed { stage: "read history", retryable: true, .. }));
}

fn failing_hot_tier() -> Arc<dyn OhlcvDataRepository> {
    let mut hot = MockOhlcvDataRepository::new();
    hot.expect_name().return_const("redis".to_owned());
    hot.expect_upsert().returning(|_| Err(RepositoryError::unavailable("redis", "connection refused")));
    Arc::new(hot)
}

#[rstest]
#[case::degraded(false, false)]
#[case::required(true, true)]
#[tokio::test]
async fn hot_tier_failure_degrades_unless_required(#[case] require: bool, #[case] fails: bool) {
    let mut history = storing_history();
    history.expect_coverage().returning(|_| Ok(None));
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().returning(|k, r| Ok(series_in(k, r)));
    let config = CollectConfig { require_hot_tiers: require, ..quick() };
    let report = collector(source, history, vec![failing_hot_tier()], config)
        .run(&request(&["EURUSD"], &[Timeframe::D1]), None)
        .await;
    assert_eq!(report.tasks[0].failed(), fails, "{report:?}");
    assert_eq!(report.counts().degraded, usize::from(!fails));
}

#[tokio::test]
async fn a_source_answering_for_another_series_is_refused() {
    let mut history = MockOhlcvDataRepository::new();
    history.expect_coverage().returning(|_| Ok(None));
    history.expect_upsert().never();
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().returning(|_, r| Ok(series_in(&key("USDJPY", Timeframe::D1), r)));
    let report = collector(source, history, vec![], quick()).run(&request(&["EURUSD"], &[Timeframe::D1]), None).await;
    assert!(report.tasks[0].failed());
}

/// A source that records how many fetches run at once.
#[derive(Debug, Default)]
struct SlowSource {
    running: AtomicUsize,
    peak: AtomicUsize,
}

#[async_trait]
impl MarketDataSource for SlowSource {
    fn name(&self) -> &str {
        "slow"
    }
    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(series_in(key, range))
    }
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    let mut history = storing_history();
    history.expect_name().return_const("history".to_owned());
    history.expect_coverage().returning(|_| Ok(None));
    let source = Arc::new(SlowSource::default());
    let config = CollectConfig { concurrency: 3, ..quick() };
    let collector =
        CollectOhlcvData::new(source.clone(), Arc::new(history), vec![], Arc::new(FixedClock::new(now())), config);
    let req = request(&["EURUSD", "USDJPY", "GBPUSD", "EURJPY", "GBPJPY"], &[Timeframe::D1, Timeframe::W1]);
    let report = collector.run(&req, None).await;
    assert_eq!(report.counts().stored, 10);
    assert_eq!(source.peak.load(Ordering::SeqCst), 3);
}
