//! The bar contract against the in-process tiers, and the memory tier's bounds (TTL, bytes).

use std::time::Duration;

use axia_adapters::memory::{InMemoryOhlcvRepository, MemoryOhlcvRepository, MemoryTierConfig};
use axia_domain::ports::OhlcvDataRepository;
use axia_domain::{Bar, OhlcvSeries, SeriesKey, Symbol, Timeframe};
use chrono::{TimeDelta, TimeZone, Utc};

#[tokio::test]
async fn in_memory_fake_passes_the_contract() {
    axia_tests::ohlcv_contract::run(&InMemoryOhlcvRepository::new()).await;
}

#[tokio::test]
async fn memory_tier_passes_the_contract() {
    axia_tests::ohlcv_contract::run(&MemoryOhlcvRepository::new(MemoryTierConfig::default())).await;
}

#[tokio::test]
async fn the_contract_can_run_twice_on_one_store() {
    let repo = InMemoryOhlcvRepository::new();
    axia_tests::ohlcv_contract::run(&repo).await;
    axia_tests::ohlcv_contract::run(&repo).await;
}

/// `n` M1 bars of `sym` from Monday 2025-09-01 00:00 UTC.
fn series(sym: &str, n: i64) -> OhlcvSeries {
    let key = SeriesKey::new(Symbol::new(sym).unwrap(), Timeframe::M1);
    let t0 = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let bars = (0..n).map(|i| Bar::new(t0 + TimeDelta::minutes(i), 1.1, 1.2, 1.0, 1.1, 1).unwrap()).collect();
    OhlcvSeries::new(key, bars).unwrap()
}

#[tokio::test]
async fn a_hit_returns_the_whole_cached_series() {
    let tier = MemoryOhlcvRepository::new(MemoryTierConfig::default());
    let s = series("EURUSD", 1440);
    assert_eq!(tier.get_series(s.key()).await, None);
    tier.upsert(&s).await.unwrap();
    assert_eq!(tier.get_series(s.key()).await.as_ref(), Some(&s));
    assert_eq!(tier.get_range(s.key(), axia_tests::ohlcv_contract::all_time()).await.unwrap(), s);
    assert_eq!(tier.entry_count().await, 1);
    let size = tier.weighted_size().await;
    let bars_bytes = 1440 * size_of::<Bar>() as u64;
    assert!(size >= bars_bytes && size < bars_bytes + 4096, "weighted size {size} for {bars_bytes} bytes of bars");
}

#[tokio::test]
async fn entries_expire_after_the_ttl() {
    let ttl = Duration::from_millis(100);
    let tier = MemoryOhlcvRepository::new(MemoryTierConfig { ttl, ..MemoryTierConfig::default() });
    let s = series("EURUSD", 10);
    tier.upsert(&s).await.unwrap();
    assert_eq!(tier.entry_count().await, 1);
    tokio::time::sleep(ttl * 3).await;
    assert_eq!(tier.get_series(s.key()).await, None, "expired entry still served");
    assert!(
        tier.get_range(s.key(), axia_tests::ohlcv_contract::all_time()).await.unwrap().is_empty(),
        "an expired series reads empty"
    );
    assert_eq!(tier.coverage(s.key()).await.unwrap(), None);
    assert!(tier.list_series().await.unwrap().is_empty());
    assert_eq!(tier.entry_count().await, 0);
    assert_eq!(tier.weighted_size().await, 0);
}

#[tokio::test]
async fn the_byte_budget_bounds_what_is_held() {
    let one = {
        let probe = MemoryOhlcvRepository::new(MemoryTierConfig::default());
        probe.upsert(&series("EURUSD", 1000)).await.unwrap();
        probe.weighted_size().await
    };
    let budget = one * 3;
    let tier = MemoryOhlcvRepository::new(MemoryTierConfig { max_bytes: budget, ..MemoryTierConfig::default() });
    let symbols = ["EURUSD", "USDJPY", "GBPUSD", "EURJPY", "GBPJPY", "AUDUSD"];
    for sym in symbols {
        tier.upsert(&series(sym, 1000)).await.unwrap();
    }
    let (held, size) = (tier.entry_count().await, tier.weighted_size().await);
    assert!(size <= budget, "{size} bytes held for a budget of {budget}");
    assert!((1..=3).contains(&held), "{held} series held");
    let mut readable = 0;
    for sym in symbols {
        let key = SeriesKey::new(Symbol::new(sym).unwrap(), Timeframe::M1);
        let got = tier.get_range(&key, axia_tests::ohlcv_contract::all_time()).await.unwrap();
        assert!(got.is_empty() || got.len() == 1000, "{sym}: evicted series must read empty, not partial");
        readable += usize::from(!got.is_empty());
    }
    assert_eq!(readable as u64, held);
}

#[tokio::test]
async fn a_series_larger_than_the_budget_is_not_held() {
    let tier = MemoryOhlcvRepository::new(MemoryTierConfig { max_bytes: 10_000, ..MemoryTierConfig::default() });
    let s = series("EURUSD", 1440);
    tier.upsert(&s).await.unwrap();
    assert_eq!(tier.entry_count().await, 0);
    assert!(tier.get_range(s.key(), axia_tests::ohlcv_contract::all_time()).await.unwrap().is_empty());
}
