//! Where bars come from: market-data APIs, broker bridges, files, the synthetic generator.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::errors::SourceError;
use crate::series::{OhlcvSeries, SeriesKey};
use crate::time::TimeRange;

/// A source of bars.
///
/// # Contract
/// `fetch` returns the bars of `key` whose open time lies in `range` (as far as the source has
/// them), already converted to UTC and checked; an empty series means "no bars there".
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MarketDataSource: Send + Sync + Debug {
    /// The source name (`synthetic`, `yahoo`, `mt5_bridge`, …).
    fn name(&self) -> &str;

    /// True when the bars are generated, not market data; shown wherever they appear.
    fn is_synthetic(&self) -> bool {
        false
    }

    /// The open time after which the source has no bars, for sources that serve a fixed history
    /// (a shipped file, a synthetic market frozen at a date); `None` for live sources.
    fn data_end(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// Fetches bars.
    ///
    /// # Errors
    /// [`SourceError::UnknownSymbol`] / [`SourceError::Unsupported`] (permanent),
    /// [`SourceError::Unavailable`] (retryable: rate limit, timeout, 5xx),
    /// [`SourceError::InvalidResponse`] (permanent).
    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError>;
}
