//! The Redis tier against the real redis-server (`AXIA_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`): the bar contract, retention trimming and TTL, one member per
//! open time, chunked writes, and bounded failures when Redis cannot be reached.
//!
//! Every test writes under its own key prefix and deletes its keys when it ends (even when it
//! fails). The checks of raw Redis state (ZCARD, PTTL) use a tiny RESP client over a plain TCP
//! socket, which supports `redis://host:port/db` URLs without credentials.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_adapters::redis::{RedisConfig, RedisOhlcvDataRepository, TtlPolicy, UPSERT_CHUNK};
use axia_domain::ports::{OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{Bar, Clock, FixedClock, OhlcvSeries, SeriesKey, Symbol, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

fn redis_url() -> String {
    std::env::var("AXIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// 2025-09-03 00:00 UTC: after every bar of the contract suite.
fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 3, 0, 0, 0).unwrap()
}

/// A reply of the raw client.
#[derive(Debug, PartialEq)]
enum Reply {
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
    Simple(String),
}

/// A minimal blocking RESP2 client for checking raw state and cleaning up.
struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect() -> Self {
        let url = redis_url();
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let stream = TcpStream::connect(authority).unwrap_or_else(|e| panic!("cannot reach redis at {authority}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut raw = Self { reader: BufReader::new(stream) };
        let db = path.split('?').next().unwrap_or("");
        if !db.is_empty() {
            assert_eq!(raw.cmd(&["SELECT", db]), Reply::Simple("OK".into()));
        }
        raw
    }

    fn cmd(&mut self, args: &[&str]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.reader.get_mut().write_all(&out).unwrap();
        self.read()
    }

    fn read(&mut self) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let body = line.trim_end_matches("\r\n");
        let (kind, rest) = body.split_at(1);
        match kind {
            "+" => Reply::Simple(rest.into()),
            "-" => panic!("redis error: {rest}"),
            ":" => Reply::Int(rest.parse().unwrap()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut buf = vec![0; usize::try_from(n).unwrap() + 2];
                self.reader.read_exact(&mut buf).unwrap();
                buf.truncate(buf.len() - 2);
                Reply::Bulk(Some(buf))
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                Reply::Array((0..n.max(0)).map(|_| self.read()).collect())
            }
            other => panic!("unexpected RESP type {other:?}"),
        }
    }

    fn int(&mut self, args: &[&str]) -> i64 {
        match self.cmd(args) {
            Reply::Int(n) => n,
            other => panic!("{args:?}: expected an integer, got {other:?}"),
        }
    }

    /// Every key starting with `prefix` (the prefixes of these tests hold no glob characters).
    fn keys(&mut self, prefix: &str) -> Vec<String> {
        let pattern = format!("{prefix}*");
        match self.cmd(&["KEYS", &pattern]) {
            Reply::Array(items) => items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
                    other => panic!("unexpected key {other:?}"),
                })
                .collect(),
            other => panic!("KEYS: {other:?}"),
        }
    }
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
        RedisConfig { key_prefix: self.prefix.clone(), retention, ..RedisConfig::for_url(redis_url()) }
    }

    fn repo(&self, config: RedisConfig) -> RedisOhlcvDataRepository {
        let clock: Arc<dyn Clock> = Arc::clone(&self.clock) as Arc<dyn Clock>;
        RedisOhlcvDataRepository::new(config, clock).expect("valid config")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let mut raw = Raw::connect();
        for key in raw.keys(&self.prefix) {
            raw.int(&["DEL", &key]);
        }
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
    let mut raw = Raw::connect();
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
async fn redis_ny_close_policy_expires_at_the_next_close() {
    let ns = Namespace::new();
    let repo = ns.repo(RedisConfig { ttl_policy: TtlPolicy::NextNyClose, ..ns.config(TimeDelta::hours(24)) });
    repo.upsert(&m1(Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap(), 10, 1.1)).await.unwrap();
    let pttl = Raw::connect().int(&["PTTL", &repo.redis_key(&eurusd_m1())]);
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
    assert_eq!(Raw::connect().int(&["ZCARD", &repo.redis_key(&eurusd_m1())]), 1);
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
    assert_eq!(Raw::connect().int(&["ZCARD", &repo.redis_key(&eurusd_m1())]), n);
    assert_eq!(repo.get_range(&eurusd_m1(), axia_tests::ohlcv_contract::all_time()).await.unwrap(), s);
    assert_eq!(repo.list_series().await.unwrap(), vec![eurusd_m1()]);
}

#[tokio::test]
async fn redis_corrupt_members_are_reported_with_the_key() {
    let ns = Namespace::new();
    let repo = ns.repo(ns.config(TimeDelta::hours(24)));
    let key = repo.redis_key(&eurusd_m1());
    Raw::connect().int(&["ZADD", &key, "1756814400", "garbage"]);
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
