//! The Redis state mirrors against the real redis-server (`AXIA_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`): open positions (`positions:{SYMBOL}` + `positions:index`) and the
//! `system:status` hash (kill-switch mirror, heartbeats), and bounded failures when Redis cannot
//! be reached.
//!
//! Every test writes under its own key prefix and deletes its keys when it ends (even when it
//! fails). Raw state is checked and corrupted with a tiny RESP client over a plain TCP socket
//! (URLs without credentials), a trimmed copy of the one in `redis.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_adapters::redis::{RedisClient, RedisConfig, RedisPositionRepository, RedisSystemStatus, SystemStatus};
use axia_domain::ports::{PositionRepository, RepositoryError};
use axia_domain::{KillSwitchState, Position, PositionStatus, Side, Symbol, TradingState};
use axia_tests::redis_raw::{RawRedis, test_redis_url};
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

/// The two repositories under a unique prefix; deletes its keys when dropped.
struct Namespace {
    prefix: String,
    positions: RedisPositionRepository,
    status: RedisSystemStatus,
}

impl Namespace {
    fn new() -> Self {
        let prefix = format!("t{}:", uuid::Uuid::new_v4().simple());
        let config = RedisConfig { key_prefix: prefix.clone(), ..RedisConfig::for_url(test_redis_url()) };
        let client = Arc::new(RedisClient::new(config).expect("valid config"));
        Self {
            prefix,
            positions: RedisPositionRepository::with_client(Arc::clone(&client)),
            status: RedisSystemStatus::with_client(client),
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let mut raw = RawRedis::connect(&test_redis_url());
        raw.delete_prefix(&self.prefix);
        assert!(raw.keys(&self.prefix).is_empty() || std::thread::panicking(), "keys left behind");
    }
}

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal literal")
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 1, h, m, 0).unwrap()
}

fn open(id: &str, symbol: &str, opened: DateTime<Utc>) -> Position {
    Position::open(id, format!("T-{id}"), sym(symbol), Side::Buy, d("1.00"), d("1.10000"), opened).unwrap()
}

fn ids(positions: &[Position]) -> Vec<&str> {
    positions.iter().map(|p| p.position_id.as_str()).collect()
}

fn expect_corrupt<T: std::fmt::Debug>(r: Result<T, RepositoryError>) -> (String, String) {
    match r {
        Err(RepositoryError::Corrupt { what, detail }) => (what, detail),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn expect_conflict<T: std::fmt::Debug>(r: &Result<T, RepositoryError>) {
    assert!(matches!(r, Err(RepositoryError::Conflict { .. })), "expected Conflict, got {r:?}");
}

#[tokio::test]
async fn redis_state_positions_save_get_and_list_per_symbol_and_all() {
    let ns = Namespace::new();
    let repo = &ns.positions;
    assert_eq!(repo.get("P1").await.unwrap(), None);
    assert!(repo.list_open(None).await.unwrap().is_empty());

    // Saved out of order: lists come back by open time, then id.
    let mut saved = Vec::new();
    for p in [
        open("P3", "USDJPY", at(9, 0)),
        open("P2", "EURUSD", at(10, 0)),
        open("P1", "EURUSD", at(10, 0)),
        open("P0", "EURUSD", at(8, 0)),
    ] {
        let stored = repo.save(&p).await.unwrap();
        assert_eq!(stored.version, 1);
        assert_eq!(Position { version: 0, ..stored.clone() }, p);
        saved.push(stored);
    }
    for p in &saved {
        assert_eq!(repo.get(&p.position_id).await.unwrap().as_ref(), Some(p));
    }
    assert_eq!(ids(&repo.list_open(Some(sym("EURUSD"))).await.unwrap()), ["P0", "P1", "P2"]);
    assert_eq!(ids(&repo.list_open(Some(sym("USDJPY"))).await.unwrap()), ["P3"]);
    assert!(repo.list_open(Some(sym("GBPUSD"))).await.unwrap().is_empty());
    let all = repo.list_open(None).await.unwrap();
    assert_eq!(ids(&all), ["P0", "P3", "P1", "P2"]);
    assert_eq!(all.iter().find(|p| p.position_id == "P3"), saved.first());

    // The layout the module documents, and no TTL: this is state, not cache.
    let mut raw = RawRedis::connect(&test_redis_url());
    let p = &ns.prefix;
    assert_eq!(
        raw.keys(p),
        [format!("{p}positions:index"), format!("{p}positions:{{EURUSD}}"), format!("{p}positions:{{USDJPY}}")]
    );
    assert_eq!(repo.redis_key(&sym("EURUSD")), format!("{p}positions:{{EURUSD}}"));
    assert_eq!(raw.int(&["HLEN", &repo.redis_key(&sym("EURUSD"))]), 3);
    assert_eq!(raw.text(&["HGET", &repo.index_key(), "P3"]).as_deref(), Some("USDJPY"));
    for key in raw.keys(p) {
        assert_eq!(raw.int(&["PTTL", &key]), -1, "{key} must not expire");
    }
}

#[tokio::test]
async fn redis_state_position_saves_follow_the_version_contract() {
    let ns = Namespace::new();
    let repo = &ns.positions;
    let v1 = repo.save(&open("P1", "EURUSD", at(8, 0))).await.unwrap();
    // Creating an existing id, under its symbol or another one, conflicts.
    expect_conflict(&repo.save(&open("P1", "EURUSD", at(8, 0))).await);
    expect_conflict(&repo.save(&open("P1", "USDJPY", at(8, 0))).await);
    // An update names the version it read; the mirror bumps it.
    let mut update = v1.clone();
    update.mark(d("1.10500"), at(8, 5));
    let v2 = repo.save(&update).await.unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.unrealized_pnl, d("0.00500"));
    // A writer still holding version 1 loses and changes nothing.
    let mut stale = v1.clone();
    stale.mark(d("1.0"), at(8, 6));
    expect_conflict(&repo.save(&stale).await);
    // Updating a position the mirror does not hold conflicts too.
    expect_conflict(&repo.save(&Position { version: 5, ..open("P9", "EURUSD", at(8, 0)) }).await);
    assert_eq!(repo.get("P1").await.unwrap(), Some(v2));
    assert_eq!(repo.get("P9").await.unwrap(), None);
    assert!(RawRedis::connect(&test_redis_url()).text(&["HGET", &repo.index_key(), "P9"]).is_none());
}

#[tokio::test]
async fn redis_state_closing_a_position_removes_it() {
    let ns = Namespace::new();
    let repo = &ns.positions;
    let keep = repo.save(&open("P1", "EURUSD", at(8, 0))).await.unwrap();
    let mut closing = repo.save(&open("P2", "EURUSD", at(9, 0))).await.unwrap();
    closing.close(d("1.12000"), at(11, 0)).unwrap();
    let closed = repo.save(&closing).await.unwrap();
    assert_eq!((closed.status, closed.version), (PositionStatus::Closed, 2));
    assert_eq!(closed.realized_pnl, d("0.02000"));
    assert_eq!(repo.get("P2").await.unwrap(), None);
    assert_eq!(repo.list_open(Some(sym("EURUSD"))).await.unwrap(), std::slice::from_ref(&keep));
    assert_eq!(repo.list_open(None).await.unwrap(), [keep]);
    let mut raw = RawRedis::connect(&test_redis_url());
    assert_eq!(raw.int(&["HEXISTS", &repo.redis_key(&sym("EURUSD")), "P2"]), 0);
    assert_eq!(raw.int(&["HEXISTS", &repo.index_key(), "P2"]), 0);
    // Closing again is a conflict: the mirror no longer holds it.
    expect_conflict(&repo.save(&closed).await);

    // Closing the last position of a symbol leaves no hash behind.
    let mut last = repo.save(&open("P3", "USDJPY", at(9, 0))).await.unwrap();
    last.close(d("1.0"), at(10, 0)).unwrap();
    repo.save(&last).await.unwrap();
    assert_eq!(raw.int(&["EXISTS", &repo.redis_key(&sym("USDJPY"))]), 0);

    // A write interrupted between the hash and the index leaves an index entry without a
    // field: that reads as not open.
    raw.int(&["HSET", &repo.index_key(), "P4", "EURUSD"]);
    assert_eq!(repo.get("P4").await.unwrap(), None);
}

#[tokio::test]
async fn redis_state_mirror_copies_the_system_of_records_versions_in_order() {
    let ns = Namespace::new();
    let repo = &ns.positions;
    // The state store has saved the position twice (version 2) before the mirror sees it.
    let mut v2 = open("M1", "EURUSD", at(8, 0));
    v2.version = 2;
    assert!(repo.mirror(&v2).await.unwrap());
    assert_eq!(repo.get("M1").await.unwrap(), Some(v2.clone()));
    // An older copy arriving late changes nothing; the same version neither.
    let mut v1 = v2.clone();
    v1.version = 1;
    v1.stop_loss = Some(d("1.0"));
    assert!(!repo.mirror(&v1).await.unwrap());
    assert!(!repo.mirror(&v2).await.unwrap());
    assert_eq!(repo.get("M1").await.unwrap(), Some(v2.clone()));
    // The close (version 3) removes it from the hash and the index.
    let mut v3 = v2.clone();
    v3.close(d("1.12000"), at(11, 0)).unwrap();
    v3.version = 3;
    assert!(repo.mirror(&v3).await.unwrap());
    assert_eq!(repo.get("M1").await.unwrap(), None);
    let mut raw = RawRedis::connect(&test_redis_url());
    assert_eq!(raw.int(&["HEXISTS", &repo.index_key(), "M1"]), 0);
}

#[tokio::test]
async fn redis_state_position_json_round_trip_is_exact() {
    let ns = Namespace::new();
    let repo = &ns.positions;
    let mut p = Position::open("P1", "T1", sym("USDJPY"), Side::Sell, d("0.10"), d("147.250"), at(8, 0)).unwrap();
    p.signal_id = Some("sig-7".into());
    p.strategy_id = Some("mean-revert".into());
    p.stop_loss = Some(d("148.000"));
    p.take_profit = Some(d("145.5000"));
    p.trailing_stop_distance = Some(d("0.3500"));
    p.add_position.max_levels = 2;
    p.breakeven.trigger = Some(d("0.250"));
    p.mark(d("146.900"), Utc.timestamp_opt(1_756_717_200, 987_654_321).unwrap());
    p.realized_pnl = d("-0.000000000000000000000000001");
    let stored = repo.save(&p).await.unwrap();
    let back = repo.get("P1").await.unwrap().expect("stored");
    assert_eq!(back, stored);
    // Decimal equality ignores the scale; the stored form keeps it.
    let decimals = |p: &Position| {
        [p.entry_price, p.current_price, p.size, p.unrealized_pnl, p.realized_pnl]
            .into_iter()
            .chain([p.stop_loss, p.take_profit, p.trailing_stop_distance, p.breakeven.trigger].into_iter().flatten())
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(decimals(&back), decimals(&p));
    assert_eq!((back.entry_price.to_string(), back.size.to_string()), ("147.250".into(), "0.10".into()));
    assert_eq!(back.updated_at.timestamp_subsec_nanos(), 987_654_321);
    let doc = RawRedis::connect(&test_redis_url()).text(&["HGET", &repo.redis_key(&sym("USDJPY")), "P1"]).unwrap();
    assert!(doc.contains(r#""realized_pnl":"-0.000000000000000000000000001""#), "{doc}");
    assert_eq!(serde_json::from_str::<Position>(&doc).unwrap(), stored);
}

#[tokio::test]
async fn redis_state_corrupt_position_fields_are_reported_with_key_and_field() {
    let ns = Namespace::new();
    let repo = &ns.positions;
    repo.save(&open("P1", "EURUSD", at(8, 0))).await.unwrap();
    let key = repo.redis_key(&sym("EURUSD"));
    let mut raw = RawRedis::connect(&test_redis_url());
    raw.int(&["HSET", &key, "P9", "{not json"]);
    raw.int(&["HSET", &repo.index_key(), "P9", "EURUSD"]);
    let want = format!("{key} field \"P9\"");
    assert_eq!(expect_corrupt(repo.get("P9").await).0, want);
    assert_eq!(expect_corrupt(repo.list_open(Some(sym("EURUSD"))).await).0, want);
    assert_eq!(expect_corrupt(repo.list_open(None).await).0, want);
    // The save script refuses to compare versions with an unreadable document.
    let (what, detail) = expect_corrupt(repo.save(&Position { version: 1, ..open("P9", "EURUSD", at(8, 0)) }).await);
    assert_eq!(what, want, "{detail}");
    // The untouched position is still readable.
    assert!(repo.get("P1").await.unwrap().is_some());
    // An index entry that is not a symbol is corrupt too.
    raw.int(&["HSET", &repo.index_key(), "P8", "not a symbol"]);
    assert_eq!(expect_corrupt(repo.get("P8").await).0, format!("{} field \"P8\"", repo.index_key()));
}

fn ks(state: TradingState, version: u64, minute: u32) -> KillSwitchState {
    KillSwitchState {
        state,
        reason: format!("v{version}: drill"),
        changed_by: "ops@host".into(),
        changed_at: at(12, minute),
        version,
    }
}

#[tokio::test]
async fn redis_state_kill_switch_mirror_never_goes_back_a_version() {
    let ns = Namespace::new();
    let status = &ns.status;
    assert_eq!(status.read().await.unwrap(), None);
    let v2 = ks(TradingState::Halted, 2, 2);
    assert!(status.mirror_kill_switch(&v2).await.unwrap());
    // A late writer of an older (or the same) version is not applied.
    assert!(!status.mirror_kill_switch(&ks(TradingState::Active, 1, 1)).await.unwrap());
    assert!(!status.mirror_kill_switch(&ks(TradingState::Active, 2, 3)).await.unwrap());
    assert_eq!(status.read().await.unwrap(), Some(SystemStatus { kill_switch: Some(v2), ..SystemStatus::default() }));
    let v3 = ks(TradingState::ReduceOnly, 3, 4);
    assert!(status.mirror_kill_switch(&v3).await.unwrap());
    assert_eq!(status.read().await.unwrap().unwrap().kill_switch, Some(v3));

    let key = status.redis_key();
    assert_eq!(key, format!("{}system:status", ns.prefix));
    let mut raw = RawRedis::connect(&test_redis_url());
    assert_eq!(raw.text(&["HGET", &key, "state"]).as_deref(), Some("reduce_only"));
    assert_eq!(raw.text(&["HGET", &key, "version"]).as_deref(), Some("3"));
    assert_eq!(raw.text(&["HGET", &key, "updated_at"]).as_deref(), Some("2025-09-01T12:04:00Z"));
    assert_eq!(raw.int(&["PTTL", &key]), -1);

    // A stored version that is not a number: reported, not overwritten.
    raw.int(&["HSET", &key, "version", "three"]);
    let want = format!("{key} field \"version\"");
    assert_eq!(expect_corrupt(status.mirror_kill_switch(&ks(TradingState::Active, 4, 5)).await).0, want);
    assert_eq!(expect_corrupt(status.read().await).0, want);
}

#[tokio::test]
async fn redis_state_heartbeats_read_back() {
    let ns = Namespace::new();
    let status = &ns.status;
    let t1 = Utc.timestamp_opt(1_756_728_000, 250_000_000).unwrap();
    status.heartbeat("orders", t1).await.unwrap();
    status.heartbeat("collector", at(3, 0)).await.unwrap();
    let read = status.read().await.unwrap().expect("written");
    assert_eq!(read.kill_switch, None);
    assert_eq!(
        read.heartbeats.into_iter().collect::<Vec<_>>(),
        [("collector".into(), at(3, 0)), ("orders".into(), t1)]
    );
    // The next beat replaces the last; the kill-switch mirror lives alongside.
    let t2 = t1 + chrono::TimeDelta::seconds(30);
    status.heartbeat("orders", t2).await.unwrap();
    status.mirror_kill_switch(&ks(TradingState::Active, 1, 0)).await.unwrap();
    let read = status.read().await.unwrap().expect("written");
    assert_eq!(read.heartbeats["orders"], t2);
    assert_eq!(read.kill_switch.map(|k| k.state), Some(TradingState::Active));
    assert!(matches!(status.heartbeat(" ", t2).await, Err(RepositoryError::Invalid { .. })));

    let mut raw = RawRedis::connect(&test_redis_url());
    let key = status.redis_key();
    assert_eq!(raw.text(&["HGET", &key, "heartbeat:orders"]).as_deref(), Some("2025-09-01T12:00:30.250Z"));
    raw.int(&["HSET", &key, "heartbeat:orders", "later"]);
    assert_eq!(expect_corrupt(status.read().await).0, format!("{key} field \"heartbeat:orders\""));
}

#[tokio::test]
async fn redis_state_unreachable_is_unavailable_quickly() {
    let config = RedisConfig {
        key_prefix: "tunreachable:".into(),
        connect_timeout: Duration::from_millis(300),
        command_timeout: Duration::from_millis(300),
        ..RedisConfig::for_url("redis://127.0.0.1:1/0")
    };
    let client = Arc::new(RedisClient::new(config).unwrap());
    let positions = RedisPositionRepository::with_client(Arc::clone(&client));
    let status = RedisSystemStatus::with_client(client);
    let p = open("P1", "EURUSD", at(8, 0));
    let started = Instant::now();
    let results = [
        positions.save(&p).await.map(|_| ()),
        positions.save(&Position { version: 3, ..p.clone() }).await.map(|_| ()),
        positions.get("P1").await.map(|_| ()),
        positions.list_open(Some(sym("EURUSD"))).await.map(|_| ()),
        positions.list_open(None).await.map(|_| ()),
        status.mirror_kill_switch(&ks(TradingState::Halted, 1, 0)).await.map(|_| ()),
        status.heartbeat("orders", at(8, 0)).await,
        status.read().await.map(|_| ()),
    ];
    let elapsed = started.elapsed();
    for r in results {
        match r {
            Err(e @ RepositoryError::Unavailable { .. }) => {
                assert!(e.is_retryable());
                assert!(e.to_string().contains("127.0.0.1:1"), "the detail names the URL: {e}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert!(elapsed < Duration::from_secs(2), "eight calls took {elapsed:?}");
}
