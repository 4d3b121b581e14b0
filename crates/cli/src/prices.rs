//! The bars the paper broker prices from: the hot tier (Redis) when configured, falling back to
//! the history tier when Redis fails or holds nothing of the range, so a Redis outage slows
//! pricing down instead of rejecting every order.

use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::ports::{Coverage, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{OhlcvSeries, SeriesKey, TimeRange};

/// Reads from `hot` first, then from `history`; writes go to `history` only (the broker never
/// writes).
#[derive(Debug)]
pub struct HotFirstPrices {
    hot: Arc<dyn OhlcvDataRepository>,
    history: Arc<dyn OhlcvDataRepository>,
}

impl HotFirstPrices {
    /// `hot` in front of `history`.
    #[must_use]
    pub fn new(hot: Arc<dyn OhlcvDataRepository>, history: Arc<dyn OhlcvDataRepository>) -> Self {
        Self { hot, history }
    }
}

#[async_trait]
impl OhlcvDataRepository for HotFirstPrices {
    fn name(&self) -> &str {
        self.hot.name()
    }

    async fn get_range(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, RepositoryError> {
        match self.hot.get_range(key, range).await {
            Ok(series) if !series.is_empty() => Ok(series),
            Ok(_) => self.history.get_range(key, range).await,
            Err(e) => {
                tracing::warn!(%key, error = %e, "hot tier unreadable; pricing from the history tier");
                self.history.get_range(key, range).await
            }
        }
    }

    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        self.history.upsert(series).await
    }

    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError> {
        self.history.delete_range(key, range).await
    }

    async fn coverage(&self, key: &SeriesKey) -> Result<Option<Coverage>, RepositoryError> {
        match self.hot.coverage(key).await {
            Ok(Some(c)) => Ok(Some(c)),
            Ok(None) | Err(_) => self.history.coverage(key).await,
        }
    }

    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError> {
        self.history.list_series().await
    }
}

#[cfg(test)]
mod tests {
    use axia_adapters::memory::InMemoryOhlcvRepository;
    use axia_domain::{Bar, Symbol, Timeframe};
    use chrono::{TimeZone, Utc};

    use super::*;

    fn series(close: f64) -> OhlcvSeries {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1);
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap();
        let bar = Bar::new(at, close, close, close, close, 1).unwrap();
        OhlcvSeries::new(key, vec![bar]).unwrap()
    }

    #[tokio::test]
    async fn prices_come_from_the_hot_tier_first_then_history() {
        let hot = Arc::new(InMemoryOhlcvRepository::default());
        let history = Arc::new(InMemoryOhlcvRepository::default());
        history.upsert(&series(1.1)).await.unwrap();
        let prices = HotFirstPrices::new(hot.clone(), history.clone());
        let key = series(1.0).key().clone();
        let range = TimeRange::new(
            Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).unwrap(),
        )
        .unwrap();
        let close = |s: OhlcvSeries| s.bars()[0].close();
        assert!((close(prices.get_range(&key, range).await.unwrap()) - 1.1).abs() < 1e-12, "history fallback");
        hot.upsert(&series(1.2)).await.unwrap();
        assert!((close(prices.get_range(&key, range).await.unwrap()) - 1.2).abs() < 1e-12, "hot tier first");
    }
}
