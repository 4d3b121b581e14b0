//! Data maintenance use cases over the history tier: store an imported series, list coverage,
//! find gaps, resample into a coarser timeframe.

use std::sync::Arc;

use axia_domain::ports::{Coverage, OhlcvDataRepository, OhlcvDataRepositoryExt, RepositoryError, WriteSummary};
use axia_domain::{Gap, OhlcvSeries, SeriesError, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

/// Why a data operation failed.
#[derive(Debug, Error)]
pub enum DataError {
    /// The storage tier failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// The requested transformation is not possible.
    #[error(transparent)]
    Series(#[from] SeriesError),
    /// Nothing stored for the series.
    #[error("no bars stored for {0}")]
    Empty(SeriesKey),
}

/// One row of `axia data list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesSummary {
    /// Symbol.
    pub symbol: String,
    /// Timeframe.
    pub timeframe: String,
    /// First bar's open time.
    pub first: DateTime<Utc>,
    /// Last bar's open time.
    pub last: DateTime<Utc>,
    /// Bars stored.
    pub rows: u64,
    /// Gaps (missing trading bars), when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaps: Option<usize>,
}

/// Data operations over one history tier (reads across tiers go through the provider).
#[derive(Debug, Clone)]
pub struct DataService {
    history: Arc<dyn OhlcvDataRepository>,
}

impl DataService {
    /// Operations over `history`.
    #[must_use]
    pub fn new(history: Arc<dyn OhlcvDataRepository>) -> Self {
        Self { history }
    }

    /// Stores an already validated series (e.g. an imported file) in one upsert.
    ///
    /// # Errors
    /// [`DataError::Repository`].
    pub async fn store(&self, series: &OhlcvSeries) -> Result<WriteSummary, DataError> {
        Ok(self.history.upsert(series).await?)
    }

    /// Coverage of every stored series; with `with_gaps`, also counts gaps (reads every bar).
    ///
    /// # Errors
    /// [`DataError::Repository`].
    pub async fn list(&self, with_gaps: bool) -> Result<Vec<SeriesSummary>, DataError> {
        let mut rows = Vec::new();
        for key in self.history.list_series().await? {
            let Some(Coverage { first, last, rows: n }) = self.history.coverage(&key).await? else { continue };
            let gaps = if with_gaps { Some(self.history.get_all(&key).await?.gaps().len()) } else { None };
            rows.push(SeriesSummary {
                symbol: key.symbol.to_string(),
                timeframe: key.timeframe.to_string(),
                first,
                last,
                rows: n,
                gaps,
            });
        }
        Ok(rows)
    }

    /// Gaps of a stored series.
    ///
    /// # Errors
    /// [`DataError::Empty`] when nothing is stored; [`DataError::Repository`].
    pub async fn gaps(&self, key: &SeriesKey) -> Result<Vec<Gap>, DataError> {
        let series = self.history.get_all(key).await?;
        if series.is_empty() {
            return Err(DataError::Empty(key.clone()));
        }
        Ok(series.gaps())
    }

    /// Reads bars of `key` (all, or in `range`).
    ///
    /// # Errors
    /// [`DataError::Repository`].
    pub async fn read(&self, key: &SeriesKey, range: Option<TimeRange>) -> Result<OhlcvSeries, DataError> {
        Ok(match range {
            Some(r) => self.history.get_range(key, r).await?,
            None => self.history.get_all(key).await?,
        })
    }

    /// Resamples the stored `from` series of `symbol` (optionally a range) into `to` and stores
    /// the result. Returns the resampled series and what the write changed. Bars of `to` at the
    /// edges of the range are only complete when the range covers them: give ranges aligned to
    /// `to`.
    ///
    /// # Errors
    /// [`DataError::Series`] when `from` cannot be resampled to `to`; [`DataError::Empty`];
    /// [`DataError::Repository`].
    pub async fn resample(
        &self,
        symbol: &Symbol,
        from: Timeframe,
        to: Timeframe,
        range: Option<TimeRange>,
    ) -> Result<(OhlcvSeries, WriteSummary), DataError> {
        if !from.can_resample_to(to) {
            return Err(SeriesError::CannotResample { from, to }.into());
        }
        let key = SeriesKey::new(symbol.clone(), from);
        let source = self.read(&key, range).await?;
        if source.is_empty() {
            return Err(DataError::Empty(key));
        }
        let resampled = source.resample(to)?;
        let written = self.history.upsert(&resampled).await?;
        Ok((resampled, written))
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::Bar;
    use axia_domain::ports::MockOhlcvDataRepository;
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    fn h1_day() -> OhlcvSeries {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1);
        let start = Utc.with_ymd_and_hms(2025, 9, 1, 21, 0, 0).unwrap();
        let bars = (0..24).map(|i| Bar::new(start + TimeDelta::hours(i), 1.1, 1.2, 1.0, 1.1, 1).unwrap()).collect();
        OhlcvSeries::new(key, bars).unwrap()
    }

    #[tokio::test]
    async fn resample_stores_the_coarser_series() {
        let mut repo = MockOhlcvDataRepository::new();
        let stored = h1_day();
        let cov =
            Coverage { first: stored.first().unwrap().open_time(), last: stored.last().unwrap().open_time(), rows: 24 };
        repo.expect_coverage().returning(move |_| Ok(Some(cov)));
        repo.expect_get_range().returning(move |_, _| Ok(stored.clone()));
        repo.expect_upsert()
            .withf(|s| s.key().timeframe == Timeframe::D1 && s.len() == 1 && s.bars()[0].volume() == 24)
            .times(1)
            .returning(|_| Ok(WriteSummary { inserted: 1, ..WriteSummary::default() }));
        let svc = DataService::new(Arc::new(repo));
        let (series, written) =
            svc.resample(&Symbol::new("EURUSD").unwrap(), Timeframe::H1, Timeframe::D1, None).await.unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(written.inserted, 1);
    }

    #[tokio::test]
    async fn resample_to_a_finer_timeframe_is_refused_before_any_read() {
        let repo = MockOhlcvDataRepository::new();
        let svc = DataService::new(Arc::new(repo));
        let err = svc.resample(&Symbol::new("EURUSD").unwrap(), Timeframe::D1, Timeframe::H1, None).await.unwrap_err();
        assert!(matches!(err, DataError::Series(SeriesError::CannotResample { .. })));
    }

    #[tokio::test]
    async fn gaps_of_an_empty_series_is_an_error() {
        let mut repo = MockOhlcvDataRepository::new();
        repo.expect_coverage().returning(|_| Ok(None));
        let svc = DataService::new(Arc::new(repo));
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1);
        assert!(matches!(svc.gaps(&key).await, Err(DataError::Empty(_))));
    }
}
