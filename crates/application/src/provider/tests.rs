//! The provider against scripted tiers: every row of the source table, fallback on error,
//! timeout and holes, stitching, write-back, L1 freshness and the stats.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{
    Coverage, MockMarketDataSource, OhlcvDataRepository, RepositoryError, SourceError, WriteSummary,
};
use axia_domain::{Bar, Clock, FixedClock, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rstest::rstest;

use super::*;
use TierKind::{Api, Broker, History, Redis};

/// Tuesday 2025-09-02 12:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap()
}

fn key(tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new("EURUSD").unwrap(), tf)
}

/// Every trading bar of `key` in `range`, prices from the index.
fn market(key: &SeriesKey, range: TimeRange) -> OhlcvSeries {
    let cal = key.default_calendar();
    let bars = cal
        .trading_opens(range.start(), range.end(), key.timeframe)
        .map(|t| {
            // The price depends on the time only, so every tier agrees on every bar.
            let p = 1.1 + 1e-5 * f64::from(u32::try_from(t.timestamp() / 60 % 1000).unwrap());
            Bar::new(t, p, p + 0.001, p - 0.001, p, 10).unwrap()
        })
        .collect();
    OhlcvSeries::new(key.clone(), bars).unwrap()
}

/// Equal series, reported without dumping thousands of bars.
#[track_caller]
fn assert_same(got: &OhlcvSeries, want: &OhlcvSeries, what: &str) {
    let span = |s: &OhlcvSeries| (s.len(), s.first().map(Bar::open_time), s.last().map(Bar::open_time));
    assert_eq!(span(got), span(want), "{what}: (bars, first, last)");
    assert!(got == want, "{what}: same times, different bars");
}

/// How a scripted tier behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// Holds the whole market.
    Full,
    /// Holds the market of the last `hours` only.
    Last(i64),
    /// Holds nothing.
    Empty,
    /// Fails every call.
    Down,
    /// Answers after 10 s.
    Slow,
}

/// One call to a tier.
type Log = Arc<Mutex<Vec<(TierKind, TimeRange)>>>;

/// A bar store following a [`Script`] (and holding what is written to it), logging every read.
#[derive(Debug)]
struct ScriptedStore {
    kind: TierKind,
    script: Script,
    bars: Mutex<Option<OhlcvSeries>>,
    log: Log,
    fills: Mutex<Vec<OhlcvSeries>>,
}

impl ScriptedStore {
    fn new(kind: TierKind, script: Script, key: &SeriesKey, log: &Log) -> Arc<Self> {
        let everything = TimeRange::new(now() - TimeDelta::days(60), now()).unwrap();
        let bars = match script {
            Script::Full | Script::Slow => Some(market(key, everything)),
            Script::Last(h) => Some(market(key, everything).slice(TimeRange::ending_at(now(), TimeDelta::hours(h)))),
            Script::Empty | Script::Down => None,
        };
        Arc::new(Self { kind, script, bars: Mutex::new(bars), log: Arc::clone(log), fills: Mutex::default() })
    }
}

#[async_trait]
impl OhlcvDataRepository for ScriptedStore {
    fn name(&self) -> &str {
        self.kind.name()
    }

    async fn get_range(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, RepositoryError> {
        self.log.lock().unwrap().push((self.kind, range));
        match self.script {
            Script::Down => return Err(RepositoryError::unavailable(self.kind.name(), "connection refused")),
            Script::Slow => tokio::time::sleep(Duration::from_secs(10)).await,
            _ => {}
        }
        let bars = self.bars.lock().unwrap().clone();
        Ok(bars.map_or_else(|| OhlcvSeries::empty(key.clone()), |s| s.slice(range)))
    }

    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        if self.script == Script::Down {
            return Err(RepositoryError::unavailable(self.kind.name(), "connection refused"));
        }
        let mut bars = self.bars.lock().unwrap();
        let stats = match bars.as_mut() {
            Some(stored) => stored.merge(series).unwrap(),
            None => {
                *bars = Some(series.clone());
                return Ok(WriteSummary { inserted: series.len() as u64, ..WriteSummary::default() });
            }
        };
        Ok(WriteSummary { inserted: stats.inserted as u64, updated: stats.updated as u64, ..WriteSummary::default() })
    }

    async fn fill(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        self.fills.lock().unwrap().push(series.clone());
        if self.script == Script::Down {
            return Err(RepositoryError::unavailable(self.kind.name(), "connection refused"));
        }
        let stored = self.get_range(series.key(), series.span().unwrap()).await?;
        self.log.lock().unwrap().pop(); // the fill's own read is not a provider read
        let (absent, present) = axia_domain::ports::absent_bars(&stored, series);
        let n = absent.len() as u64;
        if n > 0 {
            self.upsert(&OhlcvSeries::new(series.key().clone(), absent).unwrap()).await?;
        }
        Ok(WriteSummary { inserted: n, unchanged: present, ..WriteSummary::default() })
    }

    async fn delete_range(&self, _: &SeriesKey, _: TimeRange) -> Result<u64, RepositoryError> {
        Ok(0)
    }

    async fn coverage(&self, _: &SeriesKey) -> Result<Option<Coverage>, RepositoryError> {
        Ok(None)
    }

    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError> {
        Ok(Vec::new())
    }
}

/// A mocked source (broker or API) following a [`Script`].
fn source(kind: TierKind, script: Script, key: &SeriesKey, log: &Log) -> Arc<MockMarketDataSource> {
    let mut mock = MockMarketDataSource::new();
    mock.expect_name().return_const(kind.name().to_owned());
    let (log, k) = (Arc::clone(log), key.clone());
    mock.expect_fetch().returning(move |_, range| {
        log.lock().unwrap().push((kind, range));
        match script {
            Script::Down | Script::Slow => {
                Err(SourceError::Unavailable { source_name: kind.name().into(), detail: "HTTP 503".into() })
            }
            Script::Empty => Ok(OhlcvSeries::empty(k.clone())),
            Script::Last(h) => Ok(market(&k, range).slice(TimeRange::ending_at(now(), TimeDelta::hours(h)))),
            Script::Full => Ok(market(&k, range)),
        }
    });
    Arc::new(mock)
}

/// Scripts of the five tiers; `None` leaves a tier unconfigured.
#[derive(Debug, Clone, Copy)]
struct Setup {
    memory: Option<Script>,
    broker: Option<Script>,
    redis: Option<Script>,
    history: Option<Script>,
    api: Option<Script>,
}

impl Setup {
    const fn all(script: Script) -> Self {
        Self { memory: None, broker: Some(script), redis: Some(script), history: Some(script), api: Some(script) }
    }

    fn with(mut self, kind: TierKind, script: Option<Script>) -> Self {
        match kind {
            TierKind::Memory => self.memory = script,
            Broker => self.broker = script,
            Redis => self.redis = script,
            History => self.history = script,
            Api => self.api = script,
        }
        self
    }
}

struct Harness {
    provider: OhlcvDataProvider,
    log: Log,
    memory: Option<Arc<ScriptedStore>>,
    redis: Option<Arc<ScriptedStore>>,
    clock: Arc<FixedClock>,
}

impl Harness {
    fn new(setup: Setup, key: &SeriesKey) -> Self {
        let log: Log = Arc::default();
        let store = |kind, s: Option<Script>| s.map(|s| ScriptedStore::new(kind, s, key, &log));
        let memory = store(TierKind::Memory, setup.memory);
        let redis = store(Redis, setup.redis);
        let history = store(History, setup.history);
        let tiers = ProviderTiers {
            memory: memory.clone().map(|m| m as Arc<dyn OhlcvDataRepository>),
            redis: redis.clone().map(|r| r as Arc<dyn OhlcvDataRepository>),
            history: history.map(|h| h as Arc<dyn OhlcvDataRepository>),
            broker: setup.broker.map(|s| source(Broker, s, key, &log) as Arc<dyn MarketDataSource>),
            api: setup.api.map(|s| source(Api, s, key, &log) as Arc<dyn MarketDataSource>),
        };
        let config = ProviderConfig {
            timeouts: TierTimeouts { history: Duration::from_millis(200), ..TierTimeouts::default() },
            ..ProviderConfig::default()
        };
        let clock = Arc::new(FixedClock::new(now()));
        let provider = OhlcvDataProvider::new(tiers, config, Arc::clone(&clock) as Arc<dyn Clock>);
        Self { provider, log, memory, redis, clock }
    }

    fn calls(&self) -> Vec<TierKind> {
        self.log.lock().unwrap().iter().map(|(k, _)| *k).collect()
    }

    fn take_calls(&self) -> Vec<(TierKind, TimeRange)> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// A request inside the last 24 h (M1, 2 h) or beyond it (H1, 5 days).
fn request(recent: bool) -> (SeriesKey, TimeRange) {
    if recent {
        (key(Timeframe::M1), TimeRange::ending_at(now(), TimeDelta::hours(2)))
    } else {
        (key(Timeframe::H1), TimeRange::ending_at(now(), TimeDelta::days(5)))
    }
}

#[rstest]
#[case::trading_recent(UseCase::Trading, true, Broker)]
#[case::trading_long(UseCase::Trading, false, Broker)]
#[case::chart_recent(UseCase::Chart, true, Redis)]
#[case::chart_long(UseCase::Chart, false, Redis)]
#[case::analysis_recent(UseCase::Analysis, true, Redis)]
#[case::analysis_long(UseCase::Analysis, false, History)]
#[tokio::test]
async fn the_first_tier_of_each_row_serves_when_it_has_everything(
    #[case] use_case: UseCase,
    #[case] recent: bool,
    #[case] first: TierKind,
) {
    let (key, range) = request(recent);
    let h = Harness::new(Setup::all(Script::Full), &key);
    let (series, meta) = h.provider.get_data(&key, range, use_case).await.unwrap();
    assert_same(&series, &market(&key, range), "bars");
    assert!(meta.complete, "{meta:?}");
    assert_eq!(meta.fallbacks, 0);
    if use_case == UseCase::Chart && !recent {
        // History + Redis for the last 24 h: Redis first for its window, history for the rest.
        assert_eq!(h.calls(), vec![Redis, History]);
        assert_eq!(meta.served_by, vec![Redis, History]);
    } else {
        assert_eq!(h.calls(), vec![first]);
        assert_eq!(meta.served_by, vec![first]);
    }
}

#[rstest]
#[case::trading_recent(UseCase::Trading, true, &[Broker, Redis, Api])]
#[case::trading_long(UseCase::Trading, false, &[Broker, Api])]
#[case::chart_recent(UseCase::Chart, true, &[Redis, Broker, Api])]
#[case::chart_long(UseCase::Chart, false, &[Redis, History, Api])]
#[case::analysis_recent(UseCase::Analysis, true, &[Redis, History])]
#[case::analysis_long(UseCase::Analysis, false, &[History, Api])]
#[tokio::test]
async fn each_row_falls_back_in_its_order_until_a_tier_answers(
    #[case] use_case: UseCase,
    #[case] recent: bool,
    #[case] order: &[TierKind],
) {
    let (key, range) = request(recent);
    let last = *order.last().unwrap();
    // Every tier is down except the last of the row.
    let h = Harness::new(Setup::all(Script::Down).with(last, Some(Script::Full)), &key);
    let (series, meta) = h.provider.get_data(&key, range, use_case).await.unwrap();
    assert_same(&series, &market(&key, range), "no hole, no duplicate");
    assert_eq!(h.calls(), order, "{meta:?}");
    assert_eq!(meta.fallbacks as usize, order.len() - 1);
    assert_eq!(meta.errors.len(), order.len() - 1, "{:?}", meta.errors);
    assert_eq!(meta.served_by, vec![last]);
    assert!(meta.complete);
}

#[rstest]
#[case::trading_long(UseCase::Trading, false)]
#[case::analysis_recent(UseCase::Analysis, true)]
#[tokio::test]
async fn tiers_the_configuration_lacks_are_skipped(#[case] use_case: UseCase, #[case] recent: bool) {
    // The embedded defaults: no broker, no Redis, no API; the history tier serves every row
    // (trading over 30 days through the last-resort stores).
    let (key, range) = request(recent);
    let setup = Setup { memory: None, broker: None, redis: None, history: Some(Script::Full), api: None };
    let h = Harness::new(setup, &key);
    let (series, meta) = h.provider.get_data(&key, range, use_case).await.unwrap();
    assert_eq!(series.len(), market(&key, range).len());
    assert_eq!(h.calls(), vec![History]);
    assert_eq!(meta.fallbacks, 0);
}

#[tokio::test]
async fn a_long_chart_is_stitched_from_history_and_the_last_24h_of_redis() {
    let (key, range) = (key(Timeframe::M1), TimeRange::ending_at(now(), TimeDelta::days(30)));
    let setup = Setup::all(Script::Full).with(Redis, Some(Script::Last(24)));
    let h = Harness::new(setup, &key);
    let (series, meta) = h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    let want = market(&key, range);
    assert_same(&series, &want, "no duplicates, no holes");
    let calls = h.take_calls();
    assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), vec![Redis, History]);
    assert_eq!(calls[0].1, TimeRange::ending_at(now(), TimeDelta::hours(24)), "Redis only for its window");
    let redis_first = calls[0].1.start();
    assert_eq!(calls[1].1, TimeRange::new(range.start(), redis_first).unwrap(), "history only for what Redis lacks");
    assert_eq!(meta.served_by, vec![Redis, History]);
    let rows: usize = meta.attempts.iter().map(|a| a.rows).sum();
    assert_eq!(rows, want.len());
}

#[tokio::test]
async fn slower_tiers_are_asked_only_for_the_missing_intervals() {
    // Redis holds the last 30 minutes of a 2-hour chart: the broker is asked for the 90 before.
    let (key, range) = request(true);
    let mut partial = Setup::all(Script::Full);
    partial.redis = Some(Script::Last(1));
    let h = Harness::new(partial, &key);
    let (series, meta) = h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    assert_same(&series, &market(&key, range), "bars");
    let calls = h.take_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1], (Broker, TimeRange::new(range.start(), now() - TimeDelta::hours(1)).unwrap()));
    assert_eq!(meta.attempts[0].outcome, AttemptOutcome::Partial);
    assert_eq!(meta.fallbacks, 1);
}

#[tokio::test]
async fn a_slow_tier_times_out_and_the_next_one_answers() {
    let (key, range) = request(false);
    let setup = Setup::all(Script::Full).with(History, Some(Script::Slow)).with(Redis, Some(Script::Empty));
    let h = Harness::new(setup, &key);
    let (series, meta) = h.provider.get_data(&key, range, UseCase::Analysis).await.unwrap();
    assert_same(&series, &market(&key, range), "bars");
    assert_eq!(meta.attempts[0].outcome, AttemptOutcome::Timeout);
    assert_eq!(meta.attempts[0].error.as_deref(), Some("no answer within 200 ms"));
    assert_eq!(meta.served_by, vec![Api]);
}

#[tokio::test]
async fn bars_from_slower_tiers_are_written_back_to_redis_never_over_what_it_holds() {
    let (key, range) = request(true);
    // Redis holds the last hour; the rest of the 2 hours comes from the history tier.
    let setup =
        Setup { memory: None, broker: None, redis: Some(Script::Last(1)), history: Some(Script::Full), api: None };
    let h = Harness::new(setup, &key);
    let redis = h.redis.clone().unwrap();
    let (_, meta) = h.provider.get_data(&key, range, UseCase::Analysis).await.unwrap();
    let fills = redis.fills.lock().unwrap().clone();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].span().unwrap().start(), range.start());
    assert_eq!(fills[0].len(), 60, "only the hour Redis lacked is written back");
    assert_eq!(meta.written_back, vec![WriteBack { tier: Redis, rows: 60, inserted: 60, error: None }]);
    // The next read is served by Redis alone.
    h.take_calls();
    let (series, meta) = h.provider.get_data(&key, range, UseCase::Analysis).await.unwrap();
    assert_same(&series, &market(&key, range), "bars");
    assert_eq!(h.calls(), vec![Redis]);
    assert!(meta.written_back.is_empty());
}

#[tokio::test]
async fn write_back_to_redis_is_limited_to_its_window() {
    let (key, range) = (key(Timeframe::H1), TimeRange::ending_at(now(), TimeDelta::days(5)));
    let setup =
        Setup { memory: None, broker: None, redis: Some(Script::Empty), history: Some(Script::Full), api: None };
    let h = Harness::new(setup, &key);
    h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    let fills = h.redis.as_ref().unwrap().fills.lock().unwrap().clone();
    assert_eq!(fills.len(), 1);
    assert!(fills[0].first().unwrap().open_time() >= now() - TimeDelta::hours(24));
    assert_eq!(fills[0].len(), 24);
}

#[tokio::test]
async fn a_failing_write_back_does_not_fail_the_read() {
    let (key, range) = request(true);
    let setup = Setup { memory: Some(Script::Down), broker: None, redis: None, history: Some(Script::Full), api: None };
    let h = Harness::new(setup, &key);
    let (series, meta) = h.provider.get_data(&key, range, UseCase::Analysis).await.unwrap();
    assert_eq!(series.len(), 120);
    assert_eq!(meta.written_back.len(), 1);
    assert!(meta.written_back[0].error.is_some());
}

#[tokio::test]
async fn l1_serves_repeated_reads_within_the_use_cases_freshness() {
    let (key, range) = request(true);
    let mut setup = Setup::all(Script::Full);
    setup.memory = Some(Script::Empty);
    let h = Harness::new(setup, &key);
    let (first, meta) = h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    assert_eq!(meta.served_by, vec![Redis]);
    h.take_calls();
    // Within the chart freshness (30 s): memory alone.
    h.clock.advance(TimeDelta::seconds(10));
    let (second, meta) = h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    assert_same(&second, &first, "L1 answer");
    assert_eq!(meta.served_by, vec![TierKind::Memory]);
    assert_eq!(h.calls(), vec![TierKind::Memory]);
    // Trading wants bars fresher than 1 s: only the tail (from the newest bar on) is asked again.
    h.take_calls();
    let (_, meta) = h.provider.get_data(&key, range, UseCase::Trading).await.unwrap();
    let calls = h.take_calls();
    assert_eq!(calls[0].0, TierKind::Memory);
    assert_eq!(calls[1], (Broker, TimeRange::new(now() - TimeDelta::minutes(1), range.end()).unwrap()));
    assert_eq!(meta.served_by, vec![TierKind::Memory, Broker]);
    let stats = h.provider.stats();
    let memory = stats.tiers.iter().find(|t| t.tier == TierKind::Memory).unwrap();
    assert_eq!((memory.hits, memory.partial, memory.misses), (1, 1, 1));
    assert_eq!(stats.calls, 3);
}

#[tokio::test]
async fn an_evicted_l1_entry_is_read_again_from_the_tiers() {
    let (key, range) = request(true);
    let mut setup = Setup::all(Script::Full);
    setup.memory = Some(Script::Empty);
    let h = Harness::new(setup, &key);
    h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    *h.memory.as_ref().unwrap().bars.lock().unwrap() = None; // evicted
    h.take_calls();
    let (series, meta) = h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    assert_same(&series, &market(&key, range), "bars");
    assert_eq!(h.calls(), vec![TierKind::Memory, Redis]);
    assert_eq!(meta.attempts[0].outcome, AttemptOutcome::Miss);
}

#[tokio::test]
async fn hot_series_are_prefetched() {
    let (key, range) = request(true);
    let mut setup = Setup::all(Script::Full);
    setup.memory = Some(Script::Empty);
    let h = Harness::new(setup, &key);
    for _ in 0..12 {
        h.provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    }
    h.clock.advance(TimeDelta::minutes(5));
    h.take_calls();
    assert_eq!(h.provider.prefetch_hot(Duration::from_secs(60)).await, vec![key.clone()]);
    assert!(h.calls().contains(&Redis), "the tail was read ahead of the readers");
    h.take_calls();
    let (_, meta) = h
        .provider
        .get_data(&key, TimeRange::ending_at(now() + TimeDelta::minutes(5), TimeDelta::hours(2)), UseCase::Chart)
        .await
        .unwrap();
    assert_eq!(meta.served_by, vec![TierKind::Memory], "{meta:?}");
}

#[tokio::test]
async fn when_every_tier_fails_the_error_names_them() {
    let (key, range) = request(true);
    let h = Harness::new(Setup::all(Script::Down), &key);
    let err = h.provider.get_data(&key, range, UseCase::Chart).await.unwrap_err();
    let ProviderError::Unavailable { metadata, .. } = &err else { panic!("{err}") };
    // The route (Redis, broker, API), then the history tier as the last resort.
    assert_eq!(h.calls(), vec![Redis, Broker, Api, History]);
    assert_eq!(metadata.errors.len(), 4);
    let text = err.to_string();
    for tier in ["redis: ", "broker: ", "api: ", "history: "] {
        assert!(text.contains(tier), "{text}");
    }
    assert_eq!(h.provider.stats().failures, 1);
}

#[tokio::test]
async fn holes_no_tier_can_fill_are_reported_not_failed() {
    let (key, range) = request(false);
    let setup =
        Setup { memory: None, broker: None, redis: Some(Script::Empty), history: Some(Script::Last(48)), api: None };
    let h = Harness::new(setup, &key);
    let (series, meta) = h.provider.get_data(&key, range, UseCase::Analysis).await.unwrap();
    // The history holds the last 48 h: from the Sunday open (21:00 UTC) on.
    let held = market(&key, TimeRange::ending_at(now(), TimeDelta::hours(48)));
    assert_same(&series, &held, "what the history holds");
    assert!(!meta.complete);
    let first = held.first().unwrap().open_time();
    assert_eq!(meta.missing, vec![TimeRange::new(range.start(), first).unwrap()]);
}

#[tokio::test]
async fn without_any_tier_the_call_is_refused() {
    let (key, range) = request(true);
    let setup = Setup { memory: None, broker: None, redis: None, history: None, api: None };
    let h = Harness::new(setup, &key);
    assert!(matches!(
        h.provider.get_data(&key, range, UseCase::Chart).await,
        Err(ProviderError::NoTier { use_case: UseCase::Chart, .. })
    ));
}

#[tokio::test]
async fn warmup_fills_redis_from_history_for_the_last_24h() {
    let key = key(Timeframe::M1);
    let setup =
        Setup { memory: None, broker: None, redis: Some(Script::Last(1)), history: Some(Script::Full), api: None };
    let h = Harness::new(setup, &key);
    let results = h.provider.warmup(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(results.len(), 1);
    let expected = market(&key, TimeRange::ending_at(now(), TimeDelta::hours(24))).len();
    assert_eq!(results[0].read, expected);
    assert_eq!(results[0].inserted as usize, expected - 60, "the hour Redis held is kept");
    let setup = Setup { memory: None, broker: None, redis: None, history: Some(Script::Full), api: None };
    assert!(matches!(
        Harness::new(setup, &key).provider.warmup(&[key]).await,
        Err(ProviderError::NotConfigured("redis"))
    ));
}
