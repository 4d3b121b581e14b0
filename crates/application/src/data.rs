//! Data maintenance use cases over the history tier: store an imported series, list coverage,
//! find gaps, resample into a coarser timeframe.

use std::sync::Arc;

use axia_domain::ports::{Coverage, OhlcvDataRepository, OhlcvDataRepositoryExt, RepositoryError, WriteSummary};
use axia_domain::{Gap, OhlcvSeries, SeriesError, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, Utc};
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

/// What one tier contributed to a read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierRead {
    /// The tier's name (`redis`, `parquet`, …).
    pub tier: String,
    /// Bars it returned (0 on error).
    pub rows: usize,
    /// Why it could not answer, when it failed (the read then fell back to the next tier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A hot tier in front of the history tier: it holds the bars of the last `window`.
#[derive(Debug, Clone)]
struct HotTier {
    repo: Arc<dyn OhlcvDataRepository>,
    window: TimeDelta,
}

/// Data operations over one history tier, optionally fronted by a hot tier for reads.
#[derive(Debug, Clone)]
pub struct DataService {
    history: Arc<dyn OhlcvDataRepository>,
    hot: Option<HotTier>,
}

impl DataService {
    /// Operations over `history`.
    #[must_use]
    pub fn new(history: Arc<dyn OhlcvDataRepository>) -> Self {
        Self { history, hot: None }
    }

    /// Reads of recent bars ([`Self::read_hot_first`]) try `hot` first for the part of a range
    /// inside the last `window`.
    #[must_use]
    pub fn with_hot_tier(mut self, hot: Arc<dyn OhlcvDataRepository>, window: TimeDelta) -> Self {
        self.hot = Some(HotTier { repo: hot, window });
        self
    }

    /// Reads `range` of `key`, serving the part inside the hot tier's window (relative to
    /// `now`) from the hot tier and everything before its first bar from the history tier. When
    /// the hot tier fails or holds nothing there, the history tier serves the whole range, so a
    /// hot-tier outage only costs latency. Returns the bars and what each tier contributed.
    ///
    /// # Errors
    /// [`DataError::Repository`] when the history tier fails; [`DataError::Series`] when the
    /// tiers disagree on the series' calendar.
    pub async fn read_hot_first(
        &self,
        key: &SeriesKey,
        range: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<(OhlcvSeries, Vec<TierRead>), DataError> {
        let mut tiers = Vec::new();
        let mut hot_bars = None;
        if let Some(hot) = &self.hot {
            let hot_start = now.checked_sub_signed(hot.window).map_or(range.start(), |s| s.max(range.start()));
            if let Ok(hot_range) = TimeRange::new(hot_start, range.end())
                && !hot_range.is_empty()
            {
                match hot.repo.get_range(key, hot_range).await {
                    Ok(series) => {
                        tiers.push(TierRead { tier: hot.repo.name().to_owned(), rows: series.len(), error: None });
                        hot_bars = Some(series).filter(|s| !s.is_empty());
                    }
                    Err(e) => {
                        tracing::warn!(series = %key, tier = hot.repo.name(), error = %e, "hot tier read failed; reading the history tier");
                        tiers.push(TierRead { tier: hot.repo.name().to_owned(), rows: 0, error: Some(e.to_string()) });
                    }
                }
            }
        }
        let cold_end = hot_bars.as_ref().and_then(OhlcvSeries::first).map_or(range.end(), |b| b.open_time());
        let mut series = match TimeRange::new(range.start(), cold_end) {
            Ok(cold) if !cold.is_empty() => {
                let s = self.history.get_range(key, cold).await?;
                tiers.push(TierRead { tier: self.history.name().to_owned(), rows: s.len(), error: None });
                s
            }
            _ => OhlcvSeries::empty(key.clone()),
        };
        if let Some(hot) = hot_bars {
            if series.is_empty() {
                series = hot;
            } else {
                series.merge(&hot)?;
            }
        }
        Ok((series, tiers))
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
    use chrono::TimeZone;

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

    fn m1(start: DateTime<Utc>, n: i64) -> OhlcvSeries {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1);
        let bars = (0..n).map(|i| Bar::new(start + TimeDelta::minutes(i), 1.1, 1.2, 1.0, 1.1, 1).unwrap()).collect();
        OhlcvSeries::new(key, bars).unwrap()
    }

    fn named(name: &str) -> MockOhlcvDataRepository {
        let mut repo = MockOhlcvDataRepository::new();
        repo.expect_name().return_const(name.to_owned());
        repo
    }

    /// Tuesday 2025-09-02 12:00 UTC; the hot window is the last hour.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn hot_first_reads_history_only_before_the_hot_tiers_first_bar() {
        let start = now() - TimeDelta::hours(3);
        let all = m1(start, 180);
        let mut hot = named("redis");
        let recent = all.slice(TimeRange::new(now() - TimeDelta::minutes(50), now()).unwrap());
        hot.expect_get_range()
            .withf(|_, r| r.start() == now() - TimeDelta::hours(1) && r.end() == now())
            .times(1)
            .returning(move |_, _| Ok(recent.clone()));
        let mut history = named("parquet");
        let cold = all.clone();
        history
            .expect_get_range()
            .withf(|_, r| r.start() == now() - TimeDelta::hours(3) && r.end() == now() - TimeDelta::minutes(50))
            .times(1)
            .returning(move |_, r| Ok(cold.slice(r)));
        let svc = DataService::new(Arc::new(history)).with_hot_tier(Arc::new(hot), TimeDelta::hours(1));
        let range = TimeRange::new(start, now()).unwrap();
        let (series, tiers) = svc.read_hot_first(all.key(), range, now()).await.unwrap();
        assert_eq!(series, all);
        assert_eq!(
            tiers,
            vec![
                TierRead { tier: "redis".into(), rows: 50, error: None },
                TierRead { tier: "parquet".into(), rows: 130, error: None }
            ]
        );
    }

    #[tokio::test]
    async fn hot_first_falls_back_to_history_when_the_hot_tier_fails_or_is_empty() {
        for fails in [true, false] {
            let all = m1(now() - TimeDelta::hours(2), 120);
            let mut hot = named("redis");
            hot.expect_get_range().times(1).returning(move |_, _| {
                if fails {
                    Err(RepositoryError::unavailable("redis", "connection refused"))
                } else {
                    Ok(OhlcvSeries::empty(SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1)))
                }
            });
            let mut history = named("parquet");
            let stored = all.clone();
            history
                .expect_get_range()
                .withf(|_, r| r.start() == now() - TimeDelta::hours(2) && r.end() == now())
                .times(1)
                .returning(move |_, r| Ok(stored.slice(r)));
            let svc = DataService::new(Arc::new(history)).with_hot_tier(Arc::new(hot), TimeDelta::hours(24));
            let range = TimeRange::new(now() - TimeDelta::hours(2), now()).unwrap();
            let (series, tiers) = svc.read_hot_first(all.key(), range, now()).await.unwrap();
            assert_eq!(series, all);
            assert_eq!(tiers[0].error.is_some(), fails, "{tiers:?}");
            assert_eq!(tiers[1], TierRead { tier: "parquet".into(), rows: 120, error: None });
        }
    }

    #[tokio::test]
    async fn hot_first_skips_the_hot_tier_for_ranges_before_its_window() {
        let hot = named("redis"); // no get_range expected: a call would panic
        let mut history = named("parquet");
        history.expect_get_range().times(1).returning(|k, _| Ok(OhlcvSeries::empty(k.clone())));
        let svc = DataService::new(Arc::new(history)).with_hot_tier(Arc::new(hot), TimeDelta::hours(1));
        let range = TimeRange::new(now() - TimeDelta::hours(5), now() - TimeDelta::hours(2)).unwrap();
        let (series, tiers) = svc.read_hot_first(&m1(now(), 0).key().clone(), range, now()).await.unwrap();
        assert!(series.is_empty());
        assert_eq!(tiers.len(), 1);
    }
}
