use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axia_domain::ports::{Coverage, MockMarketDataSource, MockOhlcvDataRepository, RepositoryError, SourceError};
use axia_domain::{Bar, FixedClock, MarketCalendar, OhlcvSeries};
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

/// Every trading bar of `key` in `range` (the same prices for each).
pub(super) fn series_in(key: &SeriesKey, range: TimeRange) -> OhlcvSeries {
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

fn named(name: &str, source: MockMarketDataSource) -> Arc<dyn MarketDataSource> {
    let mut source = source;
    source.expect_name().return_const(name.to_owned());
    source.expect_is_synthetic().return_const(false);
    source.expect_data_end().return_const(None);
    Arc::new(source)
}

fn chain_collector(sources: Vec<Arc<dyn MarketDataSource>>, history: MockOhlcvDataRepository) -> CollectOhlcvData {
    let mut history = history;
    history.expect_name().return_const("history".to_owned());
    CollectOhlcvData::new(
        SourceChain::new(sources),
        Arc::new(history),
        vec![],
        Arc::new(FixedClock::new(now())),
        quick(),
    )
}

#[tokio::test]
async fn the_bridge_down_the_api_serves_and_the_report_names_both() {
    let mut history = storing_history();
    history.expect_coverage().returning(|_| Ok(None));
    let mut bridge = MockMarketDataSource::new();
    bridge.expect_fetch().times(3).returning(|_, _| {
        Err(SourceError::Unavailable { source_name: "mt5_bridge".into(), detail: "HTTP 503".into() })
    });
    let mut api = MockMarketDataSource::new();
    api.expect_fetch().times(1).returning(|k, r| Ok(series_in(k, r)));
    let collector = chain_collector(vec![named("mt5_bridge", bridge), named("yahoo", api)], history);
    let report = collector.run(&request(&["EURUSD"], &[Timeframe::D1]), None).await;
    assert!(report.is_success(), "{report:?}");
    let task = &report.tasks[0];
    assert!(matches!(&task.outcome, TaskOutcome::Stored { source, .. } if source == "yahoo"), "{task:?}");
    assert_eq!(task.source_errors, ["mt5_bridge unavailable: HTTP 503"]);
    let json = task.to_json();
    assert_eq!(
        (json["source"].as_str(), json["source_errors"][0].as_str()),
        (Some("yahoo"), Some("mt5_bridge unavailable: HTTP 503"))
    );
    let summary = report.summary_json();
    assert_eq!(summary["source"], "mt5_bridge,yahoo");
    assert_eq!(summary["served_by"], serde_json::json!({ "yahoo": 1 }));
}

#[tokio::test]
async fn a_task_fails_only_when_every_source_failed_and_names_each_error() {
    let mut history = MockOhlcvDataRepository::new();
    history.expect_coverage().returning(|_| Ok(None));
    history.expect_upsert().never();
    let unknown = |name: &'static str| {
        let mut s = MockMarketDataSource::new();
        s.expect_fetch().times(1).returning(move |k, _| {
            Err(SourceError::UnknownSymbol { source_name: name.into(), symbol: k.symbol.to_string() })
        });
        named(name, s)
    };
    let collector = chain_collector(vec![unknown("mt5_bridge"), unknown("yahoo")], history);
    let report = collector.run(&request(&["NOPEXX"], &[Timeframe::H1]), None).await;
    let task = &report.tasks[0];
    let TaskOutcome::Failed { stage: "fetch", error, retryable: false } = &task.outcome else { panic!("{task:?}") };
    assert_eq!(error, "every source failed: mt5_bridge: unknown symbol NOPEXX; yahoo: unknown symbol NOPEXX");
    assert_eq!(task.source_errors.len(), 2);
    assert_eq!(report.summary_json()["errors"]["NOPEXX H1"], serde_json::json!(error));
}

/// EURUSD H1 bars of `range` without those opening in `hole`.
fn series_without(k: &SeriesKey, range: TimeRange, hole: TimeRange) -> OhlcvSeries {
    let all = series_in(k, range);
    let bars = all.bars().iter().filter(|b| !hole.contains(b.open_time())).copied().collect();
    OhlcvSeries::new(k.clone(), bars).unwrap()
}

#[rstest]
#[case::filled(true, 2, 0)]
#[case::holiday_stays_open(false, 0, 1)]
#[tokio::test]
async fn a_hole_in_the_answer_is_asked_for_once_more(
    #[case] second_answer_has_bars: bool,
    #[case] filled: u64,
    #[case] remaining: usize,
) {
    let range = TimeRange::new(t(2025, 9, 1, 0), t(2025, 9, 1, 6)).unwrap();
    let hole = TimeRange::new(t(2025, 9, 1, 2), t(2025, 9, 1, 4)).unwrap();
    let mut history = MockOhlcvDataRepository::new();
    let stored = 6 - 2 + filled;
    history
        .expect_upsert()
        .times(1)
        .withf(move |s| s.len() as u64 == stored)
        .returning(|s| Ok(WriteSummary { inserted: s.len() as u64, ..WriteSummary::default() }));
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().withf(move |_, r| *r == range).times(1).returning(move |k, r| Ok(series_without(k, r, hole)));
    source.expect_fetch().withf(move |_, r| *r == hole).times(1).returning(move |k, r| {
        Ok(if second_answer_has_bars { series_in(k, r) } else { OhlcvSeries::empty(k.clone()) })
    });
    let mut req = request(&["EURUSD"], &[Timeframe::H1]);
    req.from = Some(range.start());
    req.to = Some(range.end());
    let report = collector(source, history, vec![], quick()).run(&req, None).await;
    assert!(report.is_success(), "a hole that stays open is no failure: {report:?}");
    let TaskOutcome::Stored { fetched, gaps, .. } = &report.tasks[0].outcome else { panic!("{report:?}") };
    assert_eq!(*fetched, 4);
    assert_eq!((gaps.found, gaps.bars_requested, gaps.bars_filled, gaps.remaining.len()), (1, 2, filled, remaining));
    assert_eq!(report.counts().gaps_remaining, remaining);
    assert_eq!(report.tasks[0].to_json()["gaps"]["bars_filled"], filled);
}

#[tokio::test]
async fn holes_beyond_the_request_budget_are_only_reported() {
    let range = TimeRange::new(t(2025, 9, 1, 0), t(2025, 9, 1, 12)).unwrap();
    let holes = [(2, 3), (5, 6), (8, 9)].map(|(a, b)| TimeRange::new(t(2025, 9, 1, a), t(2025, 9, 1, b)).unwrap());
    let mut history = storing_history();
    history.expect_coverage().never();
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().withf(move |_, r| *r == range).times(1).returning(move |k, r| {
        let bars = series_in(k, r)
            .bars()
            .iter()
            .filter(|b| !holes.iter().any(|h| h.contains(b.open_time())))
            .copied()
            .collect();
        Ok(OhlcvSeries::new(k.clone(), bars).unwrap())
    });
    source.expect_fetch().times(2).returning(|k, r| Ok(series_in(k, r)));
    let mut req = request(&["EURUSD"], &[Timeframe::H1]);
    req.from = Some(range.start());
    req.to = Some(range.end());
    let config = CollectConfig { max_gap_requests: 2, ..quick() };
    let report = collector(source, history, vec![], config).run(&req, None).await;
    let TaskOutcome::Stored { gaps, .. } = &report.tasks[0].outcome else { panic!("{report:?}") };
    assert_eq!((gaps.found, gaps.bars_filled, gaps.remaining.len()), (3, 2, 1));
    assert_eq!(gaps.remaining[0].start, t(2025, 9, 1, 8));
}

#[tokio::test]
async fn a_revised_last_bar_is_fetched_again_and_written() {
    let last = t(2025, 9, 2, 7);
    let mut history = MockOhlcvDataRepository::new();
    history.expect_coverage().returning(move |_| Ok(Some(Coverage { first: t(2025, 9, 1, 0), last, rows: 32 })));
    history
        .expect_upsert()
        .times(1)
        .withf(move |s| s.first().is_some_and(|b| b.open_time() == last && (b.close() - 1.18).abs() < 1e-12))
        .returning(|s| Ok(WriteSummary { updated: 1, inserted: s.len() as u64 - 1, ..WriteSummary::default() }));
    let mut source = MockMarketDataSource::new();
    source.expect_fetch().times(1).returning(move |k, r| {
        let mut bars = series_in(k, r).into_bars();
        bars[0] = Bar::new(last, 1.1, 1.2, 1.0, 1.18, 12).unwrap();
        Ok(OhlcvSeries::new(k.clone(), bars).unwrap())
    });
    let report = collector(source, history, vec![], quick()).run(&request(&["EURUSD"], &[Timeframe::H1]), None).await;
    assert!(
        matches!(&report.tasks[0].outcome, TaskOutcome::Stored { written, .. } if written.updated == 1),
        "{report:?}"
    );
}
