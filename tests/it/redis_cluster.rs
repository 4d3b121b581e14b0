//! The Redis tier against a real Redis Cluster of three primaries (`AXIA_TEST_REDIS_CLUSTER_URL`,
//! which `scripts/test.sh` sets after starting one on loopback): the bar contract through one
//! seed URL, and `list_series` finding series whose keys live on different primaries (it must
//! `SCAN` every primary, not the one node a keyless command is routed to).
//!
//! Every test writes under its own key prefix and deletes its keys on every primary when it ends
//! (even when it fails). Raw cluster state (`CLUSTER NODES`, `CLUSTER KEYSLOT`, `KEYS`) is read
//! with a tiny RESP client talking to one node at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use axia_adapters::redis::{RedisConfig, RedisOhlcvDataRepository};
use axia_domain::ports::OhlcvDataRepository;
use axia_domain::{Bar, Clock, FixedClock, OhlcvSeries, SeriesKey, Symbol, Timeframe};
use axia_tests::redis_raw::{RawRedis, url_parts};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// The seed URL of the test cluster; the tests fail (never skip) without one.
fn cluster_url() -> String {
    std::env::var("AXIA_TEST_REDIS_CLUSTER_URL").unwrap_or_else(|_| {
        panic!(
            "AXIA_TEST_REDIS_CLUSTER_URL is not set: run the tests with scripts/test.sh, which starts a \
             local Redis Cluster, or set it to the seed node of one (redis://127.0.0.1:7101)"
        )
    })
}

/// `host:port` of the seed node.
fn seed_addr() -> String {
    url_parts(&cluster_url()).0
}

/// 2025-09-03 00:00 UTC: after every bar of the contract suite.
fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 3, 0, 0, 0).unwrap()
}

/// A primary of the cluster and the slot ranges it serves.
#[derive(Debug)]
struct Primary {
    addr: String,
    slots: Vec<(u16, u16)>,
}

impl Primary {
    fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(from, to)| (from..=to).contains(&slot))
    }
}

/// Every primary serving slots, from the seed node's `CLUSTER NODES`.
fn primaries() -> Vec<Primary> {
    let text = RawRedis::connect_addr(&seed_addr()).text(&["CLUSTER", "NODES"]).expect("CLUSTER NODES");
    let mut out: Vec<Primary> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|f| f == "master") || flags.split(',').any(|f| f == "fail") {
                return None;
            }
            let addr = fields[1].split(['@', ',']).next()?.to_owned();
            // Slot fields are `n` or `from-to`; `[n->-id]` / `[n-<-id]` mark migrations.
            let slots = fields
                .get(8..)
                .unwrap_or_default()
                .iter()
                .filter(|f| !f.starts_with('['))
                .map(|f| {
                    let (from, to) = f.split_once('-').unwrap_or((f, f));
                    (from.parse().unwrap(), to.parse().unwrap())
                })
                .collect::<Vec<(u16, u16)>>();
            (!slots.is_empty()).then_some(Primary { addr, slots })
        })
        .collect();
    out.sort_by(|a, b| a.addr.cmp(&b.addr));
    assert!(out.len() >= 2, "the test cluster must have several primaries serving slots, got {out:?}");
    out
}

/// A repository under a unique prefix; deletes its keys on every primary when dropped.
struct Namespace {
    url: String,
    prefix: String,
}

impl Namespace {
    fn new() -> Self {
        Self { url: cluster_url(), prefix: format!("axiatest:{}:", uuid::Uuid::new_v4().simple()) }
    }

    fn repo(&self) -> RedisOhlcvDataRepository {
        let config = RedisConfig {
            cluster: true,
            key_prefix: self.prefix.clone(),
            // The contract's bars go back to December 2024: keep them all.
            retention: TimeDelta::days(3650),
            ..RedisConfig::for_url(&self.url)
        };
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(test_now()));
        RedisOhlcvDataRepository::new(config, clock).expect("valid config")
    }

    /// The number of this namespace's keys on each primary.
    fn keys_per_node(&self) -> BTreeMap<String, usize> {
        primaries().iter().map(|p| (p.addr.clone(), RawRedis::connect_addr(&p.addr).keys(&self.prefix).len())).collect()
    }

    /// Deletes the namespace's keys; returns how many are left.
    fn clean(&self) -> usize {
        let mut left = 0;
        for p in primaries() {
            let mut node = RawRedis::connect_addr(&p.addr);
            node.delete_prefix(&self.prefix);
            left += node.keys(&self.prefix).len();
        }
        left
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Best effort: a second panic here would abort the whole test binary.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.clean()));
        } else {
            let left = self.clean();
            assert_eq!(left, 0, "keys left behind under {}", self.prefix);
        }
    }
}

#[tokio::test]
async fn redis_cluster_passes_the_contract() {
    let ns = Namespace::new();
    let repo = ns.repo();
    axia_tests::ohlcv_contract::run(&repo).await;
    // A second run over the same keys must pass too (the suite resets what it touches).
    axia_tests::ohlcv_contract::run(&repo).await;
}

#[tokio::test]
async fn redis_cluster_lists_series_held_by_every_primary() {
    let ns = Namespace::new();
    let repo = ns.repo();
    let start = Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap();
    let keys: Vec<SeriesKey> =
        (0..20).map(|i| SeriesKey::new(Symbol::new(&format!("CLU{i:02}")).unwrap(), Timeframe::M1)).collect();
    for (i, key) in keys.iter().enumerate() {
        let level = 1.0 + f64::from(u8::try_from(i).unwrap()) / 100.0;
        let bars = (0..3)
            .map(|m| Bar::new(start + TimeDelta::minutes(m), level, level + 0.01, level - 0.01, level, 1).unwrap())
            .collect();
        let series = OhlcvSeries::new(key.clone(), bars).unwrap();
        assert_eq!(repo.upsert(&series).await.unwrap().inserted, 3, "{key}");
    }

    // Where the keys live: their slots' owners, and what each primary actually holds.
    let nodes = primaries();
    let mut seed = RawRedis::connect_addr(&seed_addr());
    let mut by_slot: BTreeMap<String, usize> = nodes.iter().map(|p| (p.addr.clone(), 0)).collect();
    for key in &keys {
        let rkey = repo.redis_key(key);
        let slot = u16::try_from(seed.int(&["CLUSTER", "KEYSLOT", &rkey])).unwrap();
        let owner = nodes.iter().find(|p| p.owns(slot)).unwrap_or_else(|| panic!("no primary serves slot {slot}"));
        *by_slot.get_mut(&owner.addr).unwrap() += 1;
    }
    let held = ns.keys_per_node();
    assert_eq!(held, by_slot, "each primary holds exactly the keys of its slots");
    assert_eq!(held.values().sum::<usize>(), keys.len());
    let holders = held.values().filter(|&&n| n > 0).count();
    assert!(holders >= 2, "the 20 series should spread over several primaries: {held:?}");

    let mut want = keys.clone();
    want.sort();
    assert_eq!(repo.list_series().await.unwrap(), want, "list_series must scan every primary ({held:?})");
    for key in &keys {
        let back = repo.get_range(key, axia_tests::ohlcv_contract::all_time()).await.unwrap();
        assert_eq!(back.len(), 3, "{key}");
        assert_eq!(repo.coverage(key).await.unwrap().map(|c| c.rows), Some(3), "{key}");
    }
}
