//! The in-memory fake of `OhlcvDataRepository`: exact semantics, no eviction, no I/O. The
//! contract suite keeps it honest, so use-case tests can rely on it.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;
use axia_domain::ports::{Coverage, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{OhlcvSeries, SeriesKey, TimeRange};

use super::{coverage_of, fill_into, merge_into, remove_range};

/// Every series in a map; for tests and as the reference the contract suite keeps honest.
#[derive(Debug, Default)]
pub struct InMemoryOhlcvRepository {
    series: RwLock<BTreeMap<SeriesKey, OhlcvSeries>>,
}

impl InMemoryOhlcvRepository {
    /// An empty repository.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    // A poisoned lock only means a panic elsewhere mid-test; the map itself is still consistent
    // (every mutation is a single insert/remove/replace), so keep serving it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<SeriesKey, OhlcvSeries>> {
        self.series.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<SeriesKey, OhlcvSeries>> {
        self.series.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Merges `series` into the stored one with `merge` (upsert or fill).
    fn store(
        &self,
        series: &OhlcvSeries,
        merge: fn(&mut OhlcvSeries, &OhlcvSeries) -> Result<WriteSummary, RepositoryError>,
    ) -> Result<WriteSummary, RepositoryError> {
        if series.is_empty() {
            return Ok(WriteSummary::default());
        }
        let mut map = self.write();
        match map.get_mut(series.key()) {
            Some(stored) => merge(stored, series),
            None => {
                map.insert(series.key().clone(), series.clone());
                Ok(WriteSummary { inserted: series.len() as u64, ..WriteSummary::default() })
            }
        }
    }
}

#[async_trait]
impl OhlcvDataRepository for InMemoryOhlcvRepository {
    fn name(&self) -> &str {
        "memory"
    }

    async fn get_range(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, RepositoryError> {
        Ok(self.read().get(key).map_or_else(|| OhlcvSeries::empty(key.clone()), |s| s.slice(range)))
    }

    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        self.store(series, merge_into)
    }

    async fn fill(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        self.store(series, fill_into)
    }

    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError> {
        let mut map = self.write();
        let Some(stored) = map.get_mut(key) else { return Ok(0) };
        let removed = remove_range(stored, range);
        if stored.is_empty() {
            map.remove(key);
        }
        Ok(removed)
    }

    async fn coverage(&self, key: &SeriesKey) -> Result<Option<Coverage>, RepositoryError> {
        Ok(self.read().get(key).and_then(coverage_of))
    }

    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError> {
        Ok(self.read().iter().filter(|(_, s)| !s.is_empty()).map(|(k, _)| k.clone()).collect())
    }
}
