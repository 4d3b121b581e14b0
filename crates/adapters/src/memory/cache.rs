//! The L1 memory tier: whole series in a moka cache bounded by bytes and time to live.

use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{Coverage, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{Bar, OhlcvSeries, SeriesKey, TimeRange};
use moka::future::Cache;

use super::{coverage_of, merge_into, remove_range};

/// Bounds of the memory tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryTierConfig {
    /// Byte budget (approximate: bars × their in-memory size plus a fixed overhead per series).
    pub max_bytes: u64,
    /// How long an entry lives after it was written.
    pub ttl: Duration,
}

impl Default for MemoryTierConfig {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024 * 1024, ttl: Duration::from_secs(300) }
    }
}

const SERIES_OVERHEAD: u64 = 256;

fn weight(series: &OhlcvSeries) -> u32 {
    let bytes = SERIES_OVERHEAD + series.len() as u64 * size_of::<Bar>() as u64;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The in-process tier. While an entry lives it behaves exactly like the fake; once evicted,
/// the series reads as empty (the provider then asks the next tier).
#[derive(Debug, Clone)]
pub struct MemoryOhlcvRepository {
    cache: Cache<SeriesKey, OhlcvSeries>,
}

impl MemoryOhlcvRepository {
    /// A tier with `config`'s bounds.
    #[must_use]
    pub fn new(config: MemoryTierConfig) -> Self {
        let cache = Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_k: &SeriesKey, v: &OhlcvSeries| weight(v))
            .time_to_live(config.ttl)
            .build();
        Self { cache }
    }

    /// The whole cached series, without slicing: the hot path of an L1 hit.
    pub async fn get_series(&self, key: &SeriesKey) -> Option<OhlcvSeries> {
        self.cache.get(key).await
    }

    /// Replaces the cached series of its key.
    pub async fn put_series(&self, series: OhlcvSeries) {
        self.cache.insert(series.key().clone(), series).await;
    }

    /// Entries held (after pending maintenance).
    pub async fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }

    /// Approximate bytes held (after pending maintenance).
    pub async fn weighted_size(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }
}

#[async_trait]
impl OhlcvDataRepository for MemoryOhlcvRepository {
    fn name(&self) -> &str {
        "memory"
    }

    async fn get_range(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, RepositoryError> {
        Ok(self.cache.get(key).await.map_or_else(|| OhlcvSeries::empty(key.clone()), |s| s.slice(range)))
    }

    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        let entry = self.cache.entry(series.key().clone());
        let mut summary = WriteSummary { inserted: series.len() as u64, ..WriteSummary::default() };
        let mut failure = None;
        entry
            .and_upsert_with(|current| {
                let mut merged = match current {
                    Some(e) => e.into_value(),
                    None => return std::future::ready(series.clone()),
                };
                match merge_into(&mut merged, series) {
                    Ok(s) => summary = s,
                    Err(e) => failure = Some(e),
                }
                std::future::ready(merged)
            })
            .await;
        failure.map_or(Ok(summary), Err)
    }

    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError> {
        let Some(mut stored) = self.cache.get(key).await else { return Ok(0) };
        let removed = remove_range(&mut stored, range);
        if stored.is_empty() {
            self.cache.invalidate(key).await;
        } else if removed > 0 {
            self.cache.insert(key.clone(), stored).await;
        }
        Ok(removed)
    }

    async fn coverage(&self, key: &SeriesKey) -> Result<Option<Coverage>, RepositoryError> {
        Ok(self.cache.get(key).await.as_ref().and_then(coverage_of))
    }

    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError> {
        self.cache.run_pending_tasks().await;
        let mut keys: Vec<SeriesKey> =
            self.cache.iter().filter(|(_, s)| !s.is_empty()).map(|(k, _)| (*k).clone()).collect();
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::Symbol;
    use chrono::{TimeZone, Utc};

    use super::*;

    fn series(sym: &str, n: i64) -> OhlcvSeries {
        let key = SeriesKey::new(Symbol::new(sym).unwrap(), axia_domain::Timeframe::M1);
        let t0 = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        let bars =
            (0..n).map(|i| Bar::new(t0 + chrono::TimeDelta::minutes(i), 1.1, 1.2, 1.0, 1.1, 1).unwrap()).collect();
        OhlcvSeries::new(key, bars).unwrap()
    }

    #[tokio::test]
    async fn entries_expire_after_the_ttl() {
        let tier =
            MemoryOhlcvRepository::new(MemoryTierConfig { ttl: Duration::from_millis(50), ..Default::default() });
        tier.upsert(&series("EURUSD", 10)).await.unwrap();
        assert_eq!(tier.entry_count().await, 1);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(tier.get_series(series("EURUSD", 1).key()).await.is_none());
    }

    #[tokio::test]
    async fn the_byte_budget_bounds_what_is_held() {
        let one = u64::from(weight(&series("EURUSD", 1000)));
        let tier = MemoryOhlcvRepository::new(MemoryTierConfig { max_bytes: one * 3, ..Default::default() });
        for sym in ["EURUSD", "USDJPY", "GBPUSD", "EURJPY", "GBPJPY", "AUDUSD"] {
            tier.upsert(&series(sym, 1000)).await.unwrap();
        }
        assert!(tier.weighted_size().await <= one * 3);
        assert!(tier.entry_count().await <= 3);
    }
}
