//! The unified provider while its Redis tier dies and comes back: a `redis-server` of the test's
//! own (a child on a free loopback port, see [`crate::redis_fault`]) is killed mid-run. Reads must
//! keep returning the same bars from the history tier (one fallback, the error in the metadata,
//! no write-back to the dead Redis), and once the server is back (empty: no persistence) the
//! next read refills it from history and the one after is served by Redis alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_adapters::memory::InMemoryOhlcvRepository;
use axia_adapters::redis::{RedisConfig, RedisOhlcvDataRepository};
use axia_application::provider::{
    AttemptOutcome, FetchMetadata, OhlcvDataProvider, ProviderConfig, ProviderTiers, TierKind, TierTimeouts, UseCase,
};
use axia_domain::ports::OhlcvDataRepository;
use axia_domain::{Bar, Clock, FixedClock, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::redis_fault::Server;

/// Wednesday 2025-09-03 00:00 UTC (the last 24 h are a full FX trading day).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 3, 0, 0, 0).unwrap()
}

fn eurusd_m1() -> SeriesKey {
    SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1)
}

/// Every trading bar of EURUSD M1 in `range`, the price a function of the time.
fn market(range: TimeRange) -> OhlcvSeries {
    let key = eurusd_m1();
    let bars = key
        .default_calendar()
        .trading_opens(range.start(), range.end(), key.timeframe)
        .map(|t| {
            let p = 1.1 + 1e-5 * f64::from(u32::try_from(t.timestamp() / 60 % 1000).unwrap());
            Bar::new(t, p, p + 0.001, p - 0.001, p, 7).unwrap()
        })
        .collect();
    OhlcvSeries::new(key, bars).unwrap()
}

fn redis_attempts(meta: &FetchMetadata) -> Vec<AttemptOutcome> {
    meta.attempts.iter().filter(|a| a.tier == TierKind::Redis).map(|a| a.outcome).collect()
}

fn redis_errors(provider: &OhlcvDataProvider) -> u64 {
    provider.stats().tiers.iter().find(|t| t.tier == TierKind::Redis).map_or(0, |t| t.errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_serves_from_history_while_redis_is_down_and_refills_it_when_back() {
    let mut server = Server::start();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(now()));
    let config = RedisConfig {
        key_prefix: "axiatest:provider-outage:".into(),
        connect_timeout: Duration::from_millis(300),
        command_timeout: Duration::from_millis(300),
        ..RedisConfig::for_url(server.url())
    };
    let redis = Arc::new(RedisOhlcvDataRepository::new(config, Arc::clone(&clock)).unwrap());
    let history = Arc::new(InMemoryOhlcvRepository::new());
    let three_days = market(TimeRange::ending_at(now(), TimeDelta::days(3)));
    history.upsert(&three_days).await.unwrap();
    let last_day = three_days.slice(TimeRange::ending_at(now(), TimeDelta::hours(24)));
    assert_eq!(last_day.len(), 1440, "Tuesday is a full trading day");
    assert_eq!(redis.upsert(&last_day).await.unwrap().inserted, 1440);

    let tiers = ProviderTiers {
        memory: None,
        redis: Some(Arc::clone(&redis) as Arc<dyn OhlcvDataRepository>),
        history: Some(Arc::clone(&history) as Arc<dyn OhlcvDataRepository>),
        broker: None,
        api: None,
    };
    let timeouts = TierTimeouts { redis: Duration::from_secs(2), ..TierTimeouts::default() };
    let provider = OhlcvDataProvider::new(tiers, ProviderConfig { timeouts, ..ProviderConfig::default() }, clock);
    let key = eurusd_m1();
    let range = TimeRange::ending_at(now(), TimeDelta::hours(2));
    let want = three_days.slice(range);
    assert_eq!(want.len(), 120);

    // (a) Redis up and holding the last day: it serves alone.
    let (bars, meta) = provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    assert_eq!(bars, want, "(a) bars");
    assert_eq!(meta.served_by, vec![TierKind::Redis], "(a) {meta:?}");
    assert!(meta.errors.is_empty() && meta.complete && meta.fallbacks == 0, "(a) {meta:?}");
    assert_eq!(redis_errors(&provider), 0);

    // (b) Redis killed: the same bars from history, one fallback, no write-back to Redis.
    server.kill();
    let started = Instant::now();
    let (bars, meta) = provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    let took = started.elapsed();
    assert_eq!(bars, want, "(b) bars");
    assert_eq!(meta.served_by, vec![TierKind::History], "(b) {meta:?}");
    let outcomes = redis_attempts(&meta);
    assert!(
        !outcomes.is_empty() && outcomes.iter().all(|o| matches!(o, AttemptOutcome::Error | AttemptOutcome::Timeout)),
        "(b) the Redis attempt failed: {meta:?}"
    );
    assert!(meta.errors.iter().any(|e| e.starts_with("redis")), "(b) {meta:?}");
    assert_eq!(meta.fallbacks, 1, "(b) {meta:?}");
    assert!(meta.complete, "(b) {meta:?}");
    assert!(meta.written_back.iter().all(|w| w.tier != TierKind::Redis), "(b) no write-back to a dead Redis: {meta:?}");
    assert!(redis_errors(&provider) >= 1, "(b) stats: {:?}", provider.stats());
    assert!(took < Duration::from_secs(3), "(b) a dead Redis must fail fast, the call took {took:?}");

    // (c) Back on the same port, empty: Redis misses, history serves and Redis is refilled.
    server.spawn();
    let (bars, meta) = provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    assert_eq!(bars, want, "(c) bars");
    assert_eq!(redis_attempts(&meta), vec![AttemptOutcome::Miss], "(c) {meta:?}");
    assert!(meta.errors.is_empty() && meta.complete, "(c) {meta:?}");
    assert_eq!(meta.served_by, vec![TierKind::History], "(c) {meta:?}");
    assert_eq!(meta.fallbacks, 1, "(c) Redis had nothing, history was asked: {meta:?}");
    let refill: Vec<_> = meta.written_back.iter().filter(|w| w.tier == TierKind::Redis).collect();
    assert!(
        refill.len() == 1 && refill[0].error.is_none() && refill[0].inserted == 120,
        "(c) the bars are written back into Redis: {meta:?}"
    );
    assert_eq!(redis.get_range(&key, range).await.unwrap(), want, "(c) Redis holds the bars");

    // (d) Recovered: Redis alone serves the next call.
    let (bars, meta) = provider.get_data(&key, range, UseCase::Chart).await.unwrap();
    assert_eq!(bars, want, "(d) bars");
    assert_eq!(meta.served_by, vec![TierKind::Redis], "(d) {meta:?}");
    assert_eq!(redis_attempts(&meta), vec![AttemptOutcome::Hit], "(d) {meta:?}");
    assert!(meta.errors.is_empty() && meta.fallbacks == 0 && meta.written_back.is_empty(), "(d) {meta:?}");
    let stats = provider.stats();
    // Fallbacks in (b) and (c); Redis: hit, error, miss, hit.
    assert_eq!((stats.calls, stats.fallbacks, stats.failures), (4, 2, 0), "{stats:?}");
    let tier = |kind| stats.tiers.iter().find(|t| t.tier == kind).cloned().unwrap();
    let r = tier(TierKind::Redis);
    assert_eq!((r.requests, r.hits, r.misses, r.errors, r.written_back), (4, 2, 1, 1, 120), "{stats:?}");
    assert_eq!(tier(TierKind::History).requests, 2, "{stats:?}");
}
