//! `CollectOhlcvData`: fetch every symbol × timeframe from a chain of sources (the first that
//! answers serves the task), incrementally from the last stored bar, ask once more for the holes
//! of the answer, and write the history tier (required) and the hot tiers (best effort).

mod chain;
mod gaps;
mod report;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::ports::{MarketDataSource, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{Clock, MarketCalendar, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;

pub use chain::{ChainError, Retry, Served, SourceChain, SourceFailure};
pub use report::{CollectReport, GapRefill, TaskOutcome, TaskResult};

/// Tunables of the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectConfig {
    /// Tasks run at the same time.
    pub concurrency: usize,
    /// How far back a series with no stored bars starts.
    pub initial_lookback: TimeDelta,
    /// How many of the most recent stored bars are fetched again (sources revise the last bar).
    pub refetch_bars: u32,
    /// Retries of a retryable source error, with exponential backoff from `retry_base_delay`.
    pub max_retries: u32,
    /// First backoff delay.
    pub retry_base_delay: Duration,
    /// When true, a failing hot tier (Redis) fails the task; otherwise the task is "degraded".
    pub require_hot_tiers: bool,
    /// Most holes of one task's answer asked for once more (the rest are only reported).
    pub max_gap_requests: usize,
}

impl Default for CollectConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            initial_lookback: TimeDelta::days(30),
            refetch_bars: 1,
            max_retries: 2,
            retry_base_delay: Duration::from_millis(250),
            require_hot_tiers: false,
            max_gap_requests: 10,
        }
    }
}

/// What to collect. `from`/`to` given: an explicit backfill of that range; otherwise
/// incremental from the last stored bar up to the last closed bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectRequest {
    /// Symbols.
    pub symbols: Vec<Symbol>,
    /// Timeframes.
    pub timeframes: Vec<Timeframe>,
    /// Backfill start (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Backfill end (exclusive); default: the open of the bar in progress.
    pub to: Option<DateTime<Utc>>,
}

impl CollectRequest {
    /// One task per symbol × timeframe, in that order, without repeats.
    #[must_use]
    pub fn keys(&self) -> Vec<SeriesKey> {
        let mut keys = Vec::with_capacity(self.symbols.len() * self.timeframes.len());
        for s in &self.symbols {
            for tf in &self.timeframes {
                let key = SeriesKey::new(s.clone(), *tf);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys
    }
}

/// Called after each task, e.g. to advance a progress bar.
pub type ProgressFn = Arc<dyn Fn(&TaskResult) + Send + Sync>;

/// The collector use case.
#[derive(Clone)]
pub struct CollectOhlcvData {
    source: SourceChain,
    history: Arc<dyn OhlcvDataRepository>,
    hot: Vec<Arc<dyn OhlcvDataRepository>>,
    clock: Arc<dyn Clock>,
    config: CollectConfig,
}

impl std::fmt::Debug for CollectOhlcvData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectOhlcvData")
            .field("source", &self.source.name())
            .field("history", &self.history.name())
            .field("hot", &self.hot.iter().map(|t| t.name().to_owned()).collect::<Vec<_>>())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CollectOhlcvData {
    /// A collector reading `source` (one source or a [`SourceChain`]) and writing `history`
    /// (required) and `hot` tiers (best effort).
    #[must_use]
    pub fn new(
        source: impl Into<SourceChain>,
        history: Arc<dyn OhlcvDataRepository>,
        hot: Vec<Arc<dyn OhlcvDataRepository>>,
        clock: Arc<dyn Clock>,
        config: CollectConfig,
    ) -> Self {
        Self { source: source.into(), history, hot, clock, config }
    }

    const fn retry(&self) -> Retry {
        Retry { max_retries: self.config.max_retries, base_delay: self.config.retry_base_delay }
    }

    /// Runs every task of `request`, at most `config.concurrency` at a time. A failing task
    /// never stops the others; the report holds one result per task, in request order.
    pub async fn run(&self, request: &CollectRequest, progress: Option<ProgressFn>) -> CollectReport {
        let started = Instant::now();
        let now = self.clock.now();
        let keys = request.keys();
        let mut results: Vec<(usize, TaskResult)> = futures::stream::iter(keys.into_iter().enumerate())
            .map(|(i, key)| {
                let progress = progress.clone();
                async move {
                    let result = self.run_task(key, request.from, request.to, now).await;
                    if let Some(p) = &progress {
                        p(&result);
                    }
                    (i, result)
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        results.sort_by_key(|(i, _)| *i);
        CollectReport {
            source: self.source.name().to_owned(),
            synthetic: self.source.is_synthetic(),
            tasks: results.into_iter().map(|(_, r)| r).collect(),
            elapsed: started.elapsed(),
        }
    }

    async fn run_task(
        &self,
        key: SeriesKey,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> TaskResult {
        let started = Instant::now();
        let mut degraded = Vec::new();
        let mut source_errors = Vec::new();
        let outcome = match self.plan(&key, from, to, now).await {
            Err(e) => TaskOutcome::Failed { stage: "read history", error: e.to_string(), retryable: e.is_retryable() },
            Ok(None) => TaskOutcome::UpToDate,
            Ok(Some(range)) => self.fetch_and_store(&key, range, &mut degraded, &mut source_errors).await,
        };
        TaskResult { key, outcome, degraded, source_errors, elapsed: started.elapsed() }
    }

    /// The range to fetch, or `None` when nothing new can exist yet.
    async fn plan(
        &self,
        key: &SeriesKey,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<TimeRange>, RepositoryError> {
        let calendar = MarketCalendar::default_for(&key.symbol);
        // Only closed bars: the end is the open of the bar in progress, at `now` or where a
        // fixed-history source ends.
        let last_instant = self.source.data_end().map_or(now, |e| e.min(now));
        let end = to.unwrap_or_else(|| calendar.align(last_instant, key.timeframe));
        let start = match from {
            Some(from) => from,
            None => match self.history.coverage(key).await? {
                Some(c) => refetch_start(calendar, key.timeframe, c.last, self.config.refetch_bars),
                None => end - self.config.initial_lookback,
            },
        };
        Ok(TimeRange::new(start, end).ok().filter(|r| !r.is_empty()))
    }

    async fn fetch_and_store(
        &self,
        key: &SeriesKey,
        range: TimeRange,
        degraded: &mut Vec<String>,
        source_errors: &mut Vec<String>,
    ) -> TaskOutcome {
        let served = match self.source.fetch_with(key, range, self.retry()).await {
            Ok(s) => s,
            Err(e) => {
                source_errors.extend(e.failures.iter().map(ToString::to_string));
                return TaskOutcome::Failed { stage: "fetch", error: e.to_string(), retryable: e.is_retryable() };
            }
        };
        source_errors.extend(served.failed.iter().map(ToString::to_string));
        let fetched = served.series.len() as u64;
        let (series, gaps) = self.refill_gaps(key, served.series).await;
        let written = match self.history.upsert(&series).await {
            Ok(w) => w,
            Err(e) => {
                return TaskOutcome::Failed {
                    stage: "write history",
                    error: e.to_string(),
                    retryable: e.is_retryable(),
                };
            }
        };
        for tier in &self.hot {
            if let Err(e) = tier.upsert(&series).await {
                tracing::warn!(series = %key, tier = tier.name(), error = %e, "hot tier write failed; continuing degraded");
                if self.config.require_hot_tiers {
                    return TaskOutcome::Failed {
                        stage: "write hot tier",
                        error: format!("{}: {e}", tier.name()),
                        retryable: e.is_retryable(),
                    };
                }
                degraded.push(format!("{}: {e}", tier.name()));
            }
        }
        TaskOutcome::Stored { range, source: served.source, fetched, written, gaps }
    }
}

/// The open time `bars` bars before `last` (so the last stored bars are fetched again), or the
/// bar right after `last` when `bars` is 0.
fn refetch_start(calendar: MarketCalendar, tf: Timeframe, last: DateTime<Utc>, bars: u32) -> DateTime<Utc> {
    if bars == 0 {
        return calendar.next_open(last, tf);
    }
    let mut start = last;
    for _ in 1..bars {
        start = calendar.align(start - TimeDelta::seconds(1), tf);
    }
    start
}

/// What the stored tasks wrote, summed.
pub(crate) fn total_written(tasks: &[TaskResult]) -> WriteSummary {
    let mut total = WriteSummary::default();
    for t in tasks {
        if let TaskOutcome::Stored { written, .. } = &t.outcome {
            total.absorb(*written);
        }
    }
    total
}
