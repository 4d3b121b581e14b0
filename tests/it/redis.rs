//! The Redis tier against the real redis-server (`AXIA_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`): the bar contract, retention trimming and TTL, one member per
//! open time, chunked writes, and bounded failures when Redis cannot be reached.
//!
//! Every test writes under its own key prefix and deletes its keys when it ends (even when it
//! fails). The checks of raw Redis state (ZCARD, PTTL) use a tiny RESP client over a plain TCP
//! socket, which supports `redis://host:port/db` URLs without credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_adapters::redis::{RedisConfig, RedisOhlcvDataRepository, TtlPolicy, UPSERT_CHUNK};
use axia_domain::ports::{OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{Bar, Clock, FixedClock, OhlcvSeries, SeriesKey, Symbol, Timeframe};
use axia_tests::redis_raw::{RawRedis, test_redis_url};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// 2025-09-03 00:00 UTC: after every bar of the contract suite.
fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 3, 0, 0, 0).unwrap()
}

/// A repository under a unique prefix; deletes its keys when dropped.
struct Namespace {
    prefix: String,
    clock: Arc<FixedClock>,
}

impl Namespace {
    fn new() -> Self {
        Self {
            prefix: format!("axiatest:{}:", uuid::Uuid::new_v4().simple()),
            clock: Arc::new(FixedClock::new(test_now())),
        }
    }

    fn config(&self, retention: TimeDelta) -> RedisConfig {
        RedisConfig { key_prefix: self.prefix.clone(), retention, ..RedisConfig::for_url(test_redis_url()) }
    }

    fn repo(&self, config: RedisConfig) -> RedisOhlcvDataRepository {
        let clock: Arc<dyn Clock> = Arc::clone(&self.clock) as Arc<dyn Clock>;
        RedisOhlcvDataRepository::new(config, clock).expect("valid config")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let mut raw = RawRedis::connect(&test_redis_url());
        raw.delete_prefix(&self.prefix);
        assert!(raw.keys(&self.prefix).is_empty() || std::thread::panicking(), "keys left behind");
    }
}

fn eurusd_m1() -> SeriesKey {
    SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1)
}

/// `n` M1 EURUSD bars from `start`, prices shifted by `level`.
fn m1(start: DateTime<Utc>, n: i64, level: f64) -> OhlcvSeries {
    let bars = (0..n)
        .map(|i| Bar::new(start + TimeDelta::minutes(i), level, level + 0.01, level - 0.01, level, 1).unwrap())
        .collect();
    OhlcvSeries::new(eurusd_m1(), bars).unwrap()
}

#[tokio::test]
async fn redis_passes_the_contract() {
    let ns = Namespace::new();
    // The contract's bars go back to December 2024: keep them all.
    let repo = ns.repo(ns.config(TimeDelta::days(3650)));
    axia_tests::ohlcv_contract::run(&repo).await;
    // A second run over the same keys must pass too (the suite resets what it touches).
    axia_tests::ohlcv_contract::run(&repo).await;
}

#[tokio::test]
async fn redis_upsert_trims_old_bars_and_sets_the_ttl() {
    let ns = Namespace::new();
    let repo = ns.repo(ns.config(TimeDelta::hours(24)));
    let key = repo.redis_key(&eurusd_m1());
    // 120 bars from 2025-09-01 23:00: the first 60 are older than now - 24 h.
    let s = m1(Utc.with_ymd_and_hms(2025, 9, 1, 23, 0, 0).unwrap(), 120, 1.1);
    let w = repo.upsert(&s).await.unwrap();
    assert_eq!(w, WriteSummary { inserted: 60, updated: 0, unchanged: 0, trimmed: 60 });
    let mut raw = RawRedis::connect(&test_redis_url());
    assert_eq!(raw.int(&["ZCARD", &key]), 60);
    let pttl = raw.int(&["PTTL", &key]);
    assert!(pttl > 0 && pttl <= 25 * 3_600_000, "PTTL {pttl} ms");
    let back = repo.get_range(&eurusd_m1(), axia_tests::ohlcv_contract::all_time()).await.unwrap();
    assert_eq!(back.bars(), &s.bars()[60..]);

    // Half an hour later one new bar: the 30 stored bars before the new cutoff go.
    ns.clock.advance(TimeDelta::minutes(30));
    let next = m1(test_now(), 1, 1.2);
    let w = repo.upsert(&next).await.unwrap();
    assert_eq!(w, WriteSummary { inserted: 1, updated: 0, unchanged: 0, trimmed: 30 });
    assert_eq!(raw.int(&["ZCARD", &key]), 31);
    let c = repo.coverage(&eurusd_m1()).await.unwrap().unwrap();
    assert_eq!((c.first, c.last, c.rows), (Utc.with_ymd_and_hms(2025, 9, 2, 0, 30, 0).unwrap(), test_now(), 31));

    // A write of only stale bars writes nothing.
    let stale = m1(Utc.with_ymd_and_hms(2025, 8, 29, 12, 0, 0).unwrap(), 5, 1.3);
    let w = repo.upsert(&stale).await.unwrap();
    assert_eq!(w, WriteSummary { inserted: 0, updated: 0, unchanged: 0, trimmed: 5 });
    assert_eq!(raw.int(&["ZCARD", &key]), 31);
}

#[tokio::test]
async fn redis_keeps_the_newest_bar_of_a_series_past_the_retention() {
    let ns = Namespace::new();
    let repo = ns.repo(ns.config(TimeDelta::hours(24)));
    let d1 = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::D1);
    let day = |d: u32| Bar::new(Utc.with_ymd_and_hms(2025, 8, d, 21, 0, 0).unwrap(), 1.1, 1.2, 1.0, 1.1, 10).unwrap();
    // Now is 2025-09-03 00:00: every D1 bar of August is older than 24 h; the last one stays.
    let week = OhlcvSeries::new(d1.clone(), (25..=29).map(day).collect()).unwrap();
    let w = repo.upsert(&week).await.unwrap();
    assert_eq!(w, WriteSummary { inserted: 1, updated: 0, unchanged: 0, trimmed: 4 });
    let back = repo.get_range(&d1, axia_tests::ohlcv_contract::all_time()).await.unwrap();
    assert_eq!(back.bars(), &[day(29)]);
    let mut raw = RawRedis::connect(&test_redis_url());
    assert!(raw.int(&["PTTL", &repo.redis_key(&d1)]) > 0);
    // An older stale bar never replaces the newest one.
    let w = repo.upsert(&OhlcvSeries::new(d1.clone(), vec![day(28)]).unwrap()).await.unwrap();
    assert_eq!(w, WriteSummary { inserted: 0, updated: 0, unchanged: 0, trimmed: 1 });
    // A bar inside the window arrives: the old newest bar goes.
    let fresh = Bar::new(Utc.with_ymd_and_hms(2025, 9, 2, 21, 0, 0).unwrap(), 1.1, 1.2, 1.0, 1.1, 10).unwrap();
    let w = repo.upsert(&OhlcvSeries::new(d1.clone(), vec![fresh]).unwrap()).await.unwrap();
    assert_eq!(w, WriteSummary { inserted: 1, updated: 0, unchanged: 0, trimmed: 1 });
    let back = repo.get_range(&d1, axia_tests::ohlcv_contract::all_time()).await.unwrap();
    assert_eq!(back.bars(), &[fresh]);
}

#[tokio::test]
async fn redis_ny_close_policy_expires_at_the_next_close() {
    let ns = Namespace::new();
    let repo = ns.repo(RedisConfig { ttl_policy: TtlPolicy::NextNyClose, ..ns.config(TimeDelta::hours(24)) });
    repo.upsert(&m1(Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap(), 10, 1.1)).await.unwrap();
    let pttl = RawRedis::connect(&test_redis_url()).int(&["PTTL", &repo.redis_key(&eurusd_m1())]);
    // Now is 2025-09-03 00:00 UTC (20:00 New York): the close is 21 h away, plus a 5 min margin.
    let want = (21 * 60 + 5) * 60_000;
    assert!(pttl > want - 60_000 && pttl <= want, "PTTL {pttl} ms, want about {want}");
}

#[tokio::test]
async fn redis_two_writes_of_one_open_time_leave_one_member() {
    let ns = Namespace::new();
    let repo = ns.repo(ns.config(TimeDelta::hours(24)));
    let t = Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap();
    let first = m1(t, 1, 1.1);
    let second = m1(t, 1, 1.2);
    assert_eq!(repo.upsert(&first).await.unwrap().inserted, 1);
    let w = repo.upsert(&second).await.unwrap();
    assert_eq!((w.inserted, w.updated, w.unchanged), (0, 1, 0));
    let w = repo.upsert(&second).await.unwrap();
    assert_eq!((w.inserted, w.updated, w.unchanged), (0, 0, 1));
    assert_eq!(RawRedis::connect(&test_redis_url()).int(&["ZCARD", &repo.redis_key(&eurusd_m1())]), 1);
    assert_eq!(
        repo.get_range(&eurusd_m1(), axia_tests::ohlcv_contract::all_time()).await.unwrap().bars(),
        second.bars()
    );
}

#[tokio::test]
async fn redis_large_writes_are_chunked() {
    let ns = Namespace::new();
    let repo = ns.repo(ns.config(TimeDelta::days(3650)));
    let n = i64::try_from(UPSERT_CHUNK * 2 + 123).unwrap();
    let s = m1(Utc.with_ymd_and_hms(2025, 8, 1, 0, 0, 0).unwrap(), n, 1.1);
    let w = repo.upsert(&s).await.unwrap();
    assert_eq!((w.inserted, w.updated, w.unchanged, w.trimmed), (n as u64, 0, 0, 0));
    assert_eq!(RawRedis::connect(&test_redis_url()).int(&["ZCARD", &repo.redis_key(&eurusd_m1())]), n);
    assert_eq!(repo.get_range(&eurusd_m1(), axia_tests::ohlcv_contract::all_time()).await.unwrap(), s);
    assert_eq!(repo.list_series().await.unwrap(), vec![eurusd_m1()]);
}

#[tokio::test]
async fn redis_corrupt_members_are_reported_with_the_key() {
    let ns = Namespace::new();
    let repo = ns.repo(ns.config(TimeDelta::hours(24)));
    let key = repo.redis_key(&eurusd_m1());
    RawRedis::connect(&test_redis_url()).int(&["ZADD", &key, "1756814400", "garbage"]);
    match repo.get_range(&eurusd_m1(), axia_tests::ohlcv_contract::all_time()).await {
        Err(RepositoryError::Corrupt { what, .. }) => assert_eq!(what, key),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(repo.coverage(&eurusd_m1()).await, Err(RepositoryError::Corrupt { .. })));
}

#[tokio::test]
async fn redis_unreachable_is_unavailable_within_a_second() {
    let config = RedisConfig {
        key_prefix: "axiatest:unreachable:".into(),
        ..RedisConfig::for_url("redis://user:hunter2@127.0.0.1:1/0")
    };
    let repo = RedisOhlcvDataRepository::new(config, Arc::new(FixedClock::new(test_now()))).unwrap();
    let s = m1(Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap(), 3, 1.1);
    let started = Instant::now();
    let results = [
        repo.get_range(&eurusd_m1(), axia_tests::ohlcv_contract::all_time()).await.map(|_| ()),
        repo.upsert(&s).await.map(|_| ()),
        repo.delete_range(&eurusd_m1(), axia_tests::ohlcv_contract::all_time()).await.map(|_| ()),
        repo.coverage(&eurusd_m1()).await.map(|_| ()),
        repo.list_series().await.map(|_| ()),
    ];
    for r in results {
        match r {
            Err(e @ RepositoryError::Unavailable { .. }) => {
                assert!(e.is_retryable());
                let text = e.to_string();
                assert!(text.contains("127.0.0.1:1"), "the detail names the URL: {text}");
                assert!(!text.contains("hunter2"), "the detail leaks the password: {text}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(5 * 1100), "five calls took {elapsed:?}");
}

#[tokio::test]
async fn redis_a_silent_server_times_out() {
    // A listener that accepts and never answers: every call must give up, not hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _keep = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(5));
        drop(conns);
    });
    let config = RedisConfig {
        connect_timeout: Duration::from_millis(300),
        command_timeout: Duration::from_millis(200),
        ..RedisConfig::for_url(format!("redis://{addr}/0"))
    };
    let repo = RedisOhlcvDataRepository::new(config, Arc::new(FixedClock::new(test_now()))).unwrap();
    let started = Instant::now();
    let r = repo.coverage(&eurusd_m1()).await;
    assert!(matches!(r, Err(RepositoryError::Unavailable { .. })), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}
