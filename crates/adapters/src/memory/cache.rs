//! The L1 memory tier: whole series in a moka cache bounded by bytes and time to live.
//!
//! An entry is one whole series. A read clones it (an `Arc` clone of the bars) and slices it;
//! [`MemoryOhlcvRepository::get_series`] skips the slice for the hot path. Writes go through
//! moka's atomic per-key compute, so concurrent upserts of one series lose no bar.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{Coverage, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{Bar, OhlcvSeries, SeriesKey, TimeRange};
use moka::future::Cache;
use moka::ops::compute::Op;

use super::{coverage_of, fill_into, merge_into, remove_range};

/// Bounds of the memory tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryTierConfig {
    /// Byte budget, approximate: bars × `size_of::<Bar>()` plus a fixed overhead per series.
    /// Default 64 MiB (about 800,000 bars).
    pub max_bytes: u64,
    /// How long an entry lives after its last write. Default 5 minutes.
    pub ttl: Duration,
}

impl Default for MemoryTierConfig {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024 * 1024, ttl: Duration::from_secs(300) }
    }
}

/// Bytes counted per series beside its bars (key, calendar, `Arc`, the cache's own entry).
const SERIES_OVERHEAD: u64 = 256;

/// The weight of a series in bytes, as the cache counts it.
fn weight(series: &OhlcvSeries) -> u32 {
    let bytes = SERIES_OVERHEAD + series.len() as u64 * size_of::<Bar>() as u64;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The in-process tier (name `memory`). While an entry lives it behaves exactly like
/// [`super::InMemoryOhlcvRepository`]; once evicted (TTL or byte budget) the series reads as
/// empty and the provider asks the next tier.
#[derive(Clone)]
pub struct MemoryOhlcvRepository {
    cache: Cache<SeriesKey, OhlcvSeries>,
    config: MemoryTierConfig,
}

impl fmt::Debug for MemoryOhlcvRepository {
    // moka's own Debug prints every entry: whole series would flood the logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryOhlcvRepository")
            .field("config", &self.config)
            .field("entries", &self.cache.entry_count())
            .field("weighted_size", &self.cache.weighted_size())
            .finish()
    }
}

impl MemoryOhlcvRepository {
    /// A tier with `config`'s bounds.
    #[must_use]
    pub fn new(config: MemoryTierConfig) -> Self {
        let cache = Cache::builder()
            .name("axia-l1-ohlcv")
            .max_capacity(config.max_bytes)
            .weigher(|_k: &SeriesKey, v: &OhlcvSeries| weight(v))
            .time_to_live(config.ttl)
            .build();
        Self { cache, config }
    }

    /// The bounds this tier was built with.
    #[must_use]
    pub const fn config(&self) -> MemoryTierConfig {
        self.config
    }

    /// The whole cached series, without slicing: the hot path of an L1 hit (an `Arc` clone).
    pub async fn get_series(&self, key: &SeriesKey) -> Option<OhlcvSeries> {
        self.cache.get(key).await
    }

    /// Replaces the cached series of its key (an empty series removes it).
    pub async fn put_series(&self, series: OhlcvSeries) {
        if series.is_empty() {
            self.cache.invalidate(series.key()).await;
        } else {
            self.cache.insert(series.key().clone(), series).await;
        }
    }

    /// Merges `series` into its cached entry with `merge` (upsert or fill), atomically per key.
    async fn write(
        &self,
        series: &OhlcvSeries,
        merge: fn(&mut OhlcvSeries, &OhlcvSeries) -> Result<WriteSummary, RepositoryError>,
    ) -> Result<WriteSummary, RepositoryError> {
        if series.is_empty() {
            return Ok(WriteSummary::default());
        }
        let mut outcome = Ok(WriteSummary { inserted: series.len() as u64, ..WriteSummary::default() });
        self.cache
            .entry_by_ref(series.key())
            .and_compute_with(|current| {
                let op = match current {
                    None => Op::Put(series.clone()),
                    Some(entry) => {
                        let mut merged = entry.into_value();
                        outcome = merge(&mut merged, series);
                        // A write (even an unchanged one) restarts the TTL; a refused one does not.
                        if outcome.is_ok() { Op::Put(merged) } else { Op::Nop }
                    }
                };
                std::future::ready(op)
            })
            .await;
        outcome
    }

    /// Series held, after running the cache's pending maintenance (expiry, eviction).
    pub async fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }

    /// Approximate bytes held, after running the cache's pending maintenance.
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
        self.write(series, merge_into).await
    }

    async fn fill(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        self.write(series, fill_into).await
    }

    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError> {
        let mut removed = 0;
        self.cache
            .entry_by_ref(key)
            .and_compute_with(|current| {
                let op = match current {
                    None => Op::Nop,
                    Some(entry) => {
                        let mut stored = entry.into_value();
                        removed = remove_range(&mut stored, range);
                        if stored.is_empty() {
                            Op::Remove
                        } else if removed > 0 {
                            Op::Put(stored)
                        } else {
                            Op::Nop
                        }
                    }
                };
                std::future::ready(op)
            })
            .await;
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
    use std::sync::Arc;

    use axia_domain::{Symbol, Timeframe};
    use chrono::{TimeDelta, TimeZone, Utc};

    use super::*;

    fn series(sym: &str, n: i64) -> OhlcvSeries {
        let key = SeriesKey::new(Symbol::new(sym).unwrap(), Timeframe::M1);
        let t0 = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        let bars = (0..n).map(|i| Bar::new(t0 + TimeDelta::minutes(i), 1.1, 1.2, 1.0, 1.1, 1).unwrap()).collect();
        OhlcvSeries::new(key, bars).unwrap()
    }

    #[test]
    fn the_weight_counts_bars() {
        assert_eq!(u64::from(weight(&series("EURUSD", 0))), SERIES_OVERHEAD);
        assert_eq!(u64::from(weight(&series("EURUSD", 10))), SERIES_OVERHEAD + 10 * size_of::<Bar>() as u64);
    }

    #[tokio::test]
    async fn debug_output_does_not_list_the_bars() {
        let tier = MemoryOhlcvRepository::new(MemoryTierConfig::default());
        tier.upsert(&series("EURUSD", 100)).await.unwrap();
        let text = format!("{tier:?}");
        assert!(text.starts_with("MemoryOhlcvRepository") && text.len() < 300, "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_upserts_of_one_series_lose_no_bar() {
        let tier = Arc::new(MemoryOhlcvRepository::new(MemoryTierConfig::default()));
        let whole = series("EURUSD", 400);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (tier, part) = (Arc::clone(&tier), whole.bars()[i * 50..(i + 1) * 50].to_vec());
                let part = OhlcvSeries::new(whole.key().clone(), part).unwrap();
                tokio::spawn(async move { tier.upsert(&part).await.unwrap() })
            })
            .collect();
        let mut inserted = 0;
        for t in tasks {
            inserted += t.await.unwrap().inserted;
        }
        assert_eq!(inserted, 400);
        assert_eq!(tier.get_series(whole.key()).await.unwrap(), whole);
    }

    #[tokio::test]
    async fn an_empty_write_stores_nothing() {
        let tier = MemoryOhlcvRepository::new(MemoryTierConfig::default());
        let empty = series("EURUSD", 0);
        assert_eq!(tier.upsert(&empty).await.unwrap(), WriteSummary::default());
        assert_eq!(tier.entry_count().await, 0);
        tier.put_series(series("EURUSD", 3)).await;
        tier.put_series(empty).await;
        assert_eq!(tier.entry_count().await, 0);
    }
}
