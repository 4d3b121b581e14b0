//! The collector's re-fetch window over a real repository: a source that revises the last bar
//! it served (late ticks) gets that bar written again on the next incremental run.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axia_adapters::memory::InMemoryOhlcvRepository;
use axia_application::{CollectConfig, CollectOhlcvData, CollectRequest, TaskOutcome};
use axia_domain::ports::{MarketDataSource, OhlcvDataRepository, SourceError};
use axia_domain::{Bar, FixedClock, MarketCalendar, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeZone, Utc};
use rstest::rstest;

/// Hourly EURUSD bars; the close of the latest bar is whatever `last_close` says now.
#[derive(Debug)]
struct RevisingSource {
    last_close: Mutex<f64>,
}

#[async_trait]
impl MarketDataSource for RevisingSource {
    fn name(&self) -> &str {
        "revising"
    }

    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError> {
        let last_close = *self.last_close.lock().unwrap_or_else(PoisonError::into_inner);
        let opens: Vec<_> = MarketCalendar::Fx.trading_opens(range.start(), range.end(), key.timeframe).collect();
        let bars = opens
            .iter()
            .enumerate()
            .map(|(i, open)| {
                let close = if i + 1 == opens.len() { last_close } else { 1.15 };
                Bar::new(*open, 1.1, 1.2, 1.0, close, 10).expect("valid bar")
            })
            .collect();
        Ok(OhlcvSeries::new(key.clone(), bars).expect("aligned bars"))
    }
}

/// Tuesday 2025-09-02 10:30 UTC: the last closed H1 bar opens at 09:00.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 10, 30, 0).unwrap()
}

#[rstest]
#[case::refetch_window(1, 1.18, 1)]
#[case::no_window(0, 1.15, 0)]
#[tokio::test]
async fn a_revised_last_bar_is_updated_by_the_next_run(
    #[case] refetch_bars: u32,
    #[case] stored_close: f64,
    #[case] updated: u64,
) {
    let history = Arc::new(InMemoryOhlcvRepository::new());
    let source = Arc::new(RevisingSource { last_close: Mutex::new(1.15) });
    let config = CollectConfig { refetch_bars, ..CollectConfig::default() };
    let collector = CollectOhlcvData::new(
        Arc::clone(&source),
        Arc::clone(&history) as Arc<dyn OhlcvDataRepository>,
        vec![],
        Arc::new(FixedClock::new(now())),
        config,
    );
    let request = CollectRequest {
        symbols: vec![Symbol::new("EURUSD").unwrap()],
        timeframes: vec![Timeframe::H1],
        from: None,
        to: None,
    };
    let first = collector.run(&request, None).await;
    assert!(first.is_success(), "{first:?}");

    *source.last_close.lock().unwrap() = 1.18;
    let second = collector.run(&request, None).await;
    assert!(second.is_success(), "{second:?}");
    let written_updates = match &second.tasks[0].outcome {
        TaskOutcome::Stored { written, source, .. } => {
            assert_eq!(source, "revising");
            written.updated
        }
        TaskOutcome::UpToDate => 0,
        other => panic!("{other:?}"),
    };
    assert_eq!(written_updates, updated);

    let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1);
    let last_open = Utc.with_ymd_and_hms(2025, 9, 2, 9, 0, 0).unwrap();
    let stored = history.get_range(&key, TimeRange::new(last_open, now()).unwrap()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!((stored.bars()[0].close() - stored_close).abs() < 1e-12, "{:?}", stored.bars()[0]);
}
