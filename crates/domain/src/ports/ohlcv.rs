//! The bar repository port, implemented by every storage tier (memory, Redis, Parquet).

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::errors::RepositoryError;
use crate::series::{OhlcvSeries, SeriesKey};
use crate::time::TimeRange;

/// What a tier holds of one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Open time of the first bar.
    pub first: DateTime<Utc>,
    /// Open time of the last bar.
    pub last: DateTime<Utc>,
    /// Number of bars.
    pub rows: u64,
}

/// What an upsert changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteSummary {
    /// Bars at new open times.
    pub inserted: u64,
    /// Bars that replaced a different bar.
    pub updated: u64,
    /// Bars identical to what was stored.
    pub unchanged: u64,
    /// Bars removed by retention trimming.
    pub trimmed: u64,
}

impl WriteSummary {
    /// Adds another summary to this one.
    pub fn absorb(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.trimmed += other.trimmed;
    }

    /// True when nothing was stored or replaced.
    #[must_use]
    pub const fn is_noop(&self) -> bool {
        self.inserted == 0 && self.updated == 0
    }
}

/// A storage tier for bars.
///
/// # Contract
/// - `upsert` is idempotent: writing the same bars twice leaves the tier as after the first
///   write, and the second summary has `inserted == updated == 0`.
/// - For the same open time the newer write wins; a tier never holds two bars for one time.
/// - `get_range` returns exactly the stored bars whose open time lies in the half-open range,
///   ascending; an unknown series is an empty series, not an error.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OhlcvDataRepository: Send + Sync + Debug {
    /// A short tier name for metadata and logs (`memory`, `redis`, `parquet`).
    fn name(&self) -> &str;

    /// Bars of `key` with open time in `range`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when the backend cannot be reached (retryable);
    /// [`RepositoryError::Corrupt`] when stored data cannot be decoded.
    async fn get_range(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, RepositoryError>;

    /// Upserts every bar of `series`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] (retryable; nothing or everything of one object/key
    /// was written); [`RepositoryError::Conflict`] when a concurrent writer won a conditional
    /// write and retries were exhausted; [`RepositoryError::Corrupt`] when the stored data that
    /// must be merged cannot be read.
    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError>;

    /// Write-back: stores the bars of `series` whose open time the tier does not hold yet and
    /// never replaces a stored bar, so bars read from a slower tier cannot overwrite newer ones
    /// written meanwhile (by the collector, say). Absent bars count as `inserted`, present ones
    /// as `unchanged`.
    ///
    /// The default reads the stored bars over the series' span, then upserts the absent ones:
    /// two steps, so a write landing between them at the same open time would be replaced.
    /// Tiers with concurrent writers (Redis, the memory tier) override it with one atomic step.
    ///
    /// # Errors
    /// As [`OhlcvDataRepository::upsert`].
    async fn fill(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        let Some(span) = series.span() else { return Ok(WriteSummary::default()) };
        let stored = self.get_range(series.key(), span).await?;
        let (absent, present) = absent_bars(&stored, series);
        let mut summary = WriteSummary { unchanged: present, ..WriteSummary::default() };
        if !absent.is_empty() {
            let absent = OhlcvSeries::with_calendar(series.key().clone(), series.calendar(), absent)
                .map_err(|e| RepositoryError::Invalid { detail: e.to_string() })?;
            let written = self.upsert(&absent).await?;
            summary.inserted = written.inserted + written.updated;
            summary.unchanged += written.unchanged;
            summary.trimmed = written.trimmed;
        }
        Ok(summary)
    }

    /// Deletes the bars of `key` in `range`; returns how many were removed.
    ///
    /// # Errors
    /// As [`OhlcvDataRepository::upsert`].
    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError>;

    /// First and last bar and count, or `None` when the tier holds nothing of `key`.
    ///
    /// # Errors
    /// As [`OhlcvDataRepository::get_range`].
    async fn coverage(&self, key: &SeriesKey) -> Result<Option<Coverage>, RepositoryError>;

    /// Every series the tier holds something of, sorted.
    ///
    /// # Errors
    /// As [`OhlcvDataRepository::get_range`].
    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError>;
}

/// The bars of `incoming` whose open time `stored` lacks (ascending), and how many it has.
#[must_use]
pub fn absent_bars(stored: &OhlcvSeries, incoming: &OhlcvSeries) -> (Vec<crate::Bar>, u64) {
    let have = stored.bars();
    let mut present = 0;
    let absent = incoming
        .bars()
        .iter()
        .filter(|b| {
            let found = have.binary_search_by_key(&b.open_time(), crate::Bar::open_time).is_ok();
            present += u64::from(found);
            !found
        })
        .copied()
        .collect();
    (absent, present)
}

/// Helpers every repository gets for free.
#[async_trait]
pub trait OhlcvDataRepositoryExt: OhlcvDataRepository {
    /// Bars that opened in the last `hours` hours before `now`.
    ///
    /// # Errors
    /// As [`OhlcvDataRepository::get_range`].
    async fn get_last_hours(
        &self,
        key: &SeriesKey,
        hours: u32,
        now: DateTime<Utc>,
    ) -> Result<OhlcvSeries, RepositoryError> {
        self.get_range(key, TimeRange::ending_at(now, TimeDelta::hours(i64::from(hours)))).await
    }

    /// Every stored bar of `key`.
    ///
    /// # Errors
    /// As [`OhlcvDataRepository::get_range`].
    async fn get_all(&self, key: &SeriesKey) -> Result<OhlcvSeries, RepositoryError> {
        match self.coverage(key).await? {
            None => Ok(OhlcvSeries::empty(key.clone())),
            Some(c) => {
                let end = c.last + TimeDelta::seconds(1);
                let range =
                    TimeRange::new(c.first, end).map_err(|e| RepositoryError::Invalid { detail: e.to_string() })?;
                self.get_range(key, range).await
            }
        }
    }
}

impl<T: OhlcvDataRepository + ?Sized> OhlcvDataRepositoryExt for T {}
