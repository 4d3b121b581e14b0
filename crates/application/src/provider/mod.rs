//! The unified OHLCV provider (SPEC §5): one call, `get_data(symbol/timeframe, range, use case)`,
//! served from the fastest healthy tier.
//!
//! - **L1** (the memory tier) answers first, within a per-use-case freshness ([`L1Config`]).
//! - The rest follows the use case's source order ([`route`]): a tier that fails, times out or
//!   leaves holes is followed by the next one, which is asked **only for the missing
//!   intervals**; Redis only for the part inside its 24 h window. The parts are stitched into one
//!   series without duplicates.
//! - What came from a slower tier is **written back** into Redis (only the bars it does not hold:
//!   never older data over newer) and into L1.
//! - Every call returns [`FetchMetadata`] (tiers, latencies, rows, fallbacks, errors) and adds
//!   to cumulative [`ProviderStats`].

mod coverage;
mod l1;
mod metadata;
mod route;
mod stats;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::ports::{MarketDataSource, OhlcvDataRepository, WriteSummary};
use axia_domain::{Clock, OhlcvSeries, SeriesError, SeriesKey, TimeRange};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use coverage::{MAX_HOLES, holes};
pub use l1::L1Config;
pub use metadata::{Attempt, AttemptOutcome, FetchMetadata, WriteBack};
pub use route::{LAST_RESORT, PerUseCase, TierKind, UseCase, route};
pub use stats::{LATENCY_BUCKETS_US, LatencySnapshot, ProviderStats, StatsSnapshot, TierSnapshot};

use l1::{L1Index, Lookup};
use stats::TierResult;

/// The tiers of a provider, assembled from configuration; absent ones are skipped.
#[derive(Debug, Clone, Default)]
pub struct ProviderTiers {
    /// L1: the in-process memory tier.
    pub memory: Option<Arc<dyn OhlcvDataRepository>>,
    /// L2: Redis (the last 24 h).
    pub redis: Option<Arc<dyn OhlcvDataRepository>>,
    /// The Parquet history (local or S3).
    pub history: Option<Arc<dyn OhlcvDataRepository>>,
    /// Bars from the broker's bridge.
    pub broker: Option<Arc<dyn MarketDataSource>>,
    /// A market-data API.
    pub api: Option<Arc<dyn MarketDataSource>>,
}

/// How long each tier may take before the next one is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierTimeouts {
    /// The memory tier.
    pub memory: Duration,
    /// Redis.
    pub redis: Duration,
    /// The history tier.
    pub history: Duration,
    /// The broker's bridge.
    pub broker: Duration,
    /// The market-data API.
    pub api: Duration,
}

impl Default for TierTimeouts {
    fn default() -> Self {
        Self {
            memory: Duration::from_millis(250),
            redis: Duration::from_secs(2),
            history: Duration::from_secs(60),
            broker: Duration::from_secs(10),
            api: Duration::from_secs(60),
        }
    }
}

impl TierTimeouts {
    const fn of(&self, kind: TierKind) -> Duration {
        match kind {
            TierKind::Memory => self.memory,
            TierKind::Redis => self.redis,
            TierKind::History => self.history,
            TierKind::Broker => self.broker,
            TierKind::Api => self.api,
        }
    }
}

/// Tunables of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Requests starting within this much of now use the "≤ 24 h" column of the source table.
    pub recent: TimeDelta,
    /// How far back Redis holds bars (its retention): it is asked only for that part.
    pub redis_window: TimeDelta,
    /// L1 freshness and retention.
    pub l1: L1Config,
    /// Per-tier timeouts.
    pub timeouts: TierTimeouts,
    /// Write bars from slower tiers back into Redis and L1.
    pub write_back: bool,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            recent: TimeDelta::hours(24),
            redis_window: TimeDelta::hours(24),
            l1: L1Config::default(),
            timeouts: TierTimeouts::default(),
            write_back: true,
        }
    }
}

/// Why `get_data` failed. Holes are not failures: they are listed in the metadata.
#[derive(Debug, Error)]
pub enum ProviderError {
    /// Every tier asked failed and none returned a bar.
    #[error("no tier could serve {key} {range}: {}", metadata.errors.join("; "))]
    Unavailable {
        /// The series.
        key: SeriesKey,
        /// The range asked for.
        range: TimeRange,
        /// What was tried.
        metadata: Box<FetchMetadata>,
    },
    /// The route has no configured tier at all.
    #[error("no tier is configured for {use_case} reads of {key}")]
    NoTier {
        /// The series.
        key: SeriesKey,
        /// The use case.
        use_case: UseCase,
    },
    /// A tier the operation needs is not configured.
    #[error("the {0} tier is not configured")]
    NotConfigured(&'static str),
    /// Two tiers returned bars the series cannot hold together (different calendars).
    #[error("the tiers disagree on {key}: {source}")]
    Inconsistent {
        /// The series.
        key: SeriesKey,
        /// Why.
        source: SeriesError,
    },
}

/// What `axia data warmup` did for one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarmupResult {
    /// The series.
    pub key: String,
    /// Bars read from the history tier.
    pub read: usize,
    /// Bars Redis did not hold and now does.
    pub inserted: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct Inner {
    tiers: ProviderTiers,
    config: ProviderConfig,
    clock: Arc<dyn Clock>,
    l1: L1Index,
    stats: ProviderStats,
}

/// The unified provider; cheap to clone (shared state).
#[derive(Clone)]
pub struct OhlcvDataProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OhlcvDataProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.inner.tiers;
        f.debug_struct("OhlcvDataProvider")
            .field("memory", &t.memory.as_ref().map(|r| r.name().to_owned()))
            .field("redis", &t.redis.as_ref().map(|r| r.name().to_owned()))
            .field("history", &t.history.as_ref().map(|r| r.name().to_owned()))
            .field("broker", &t.broker.as_ref().map(|s| s.name().to_owned()))
            .field("api", &t.api.as_ref().map(|s| s.name().to_owned()))
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One tier's answer to one request.
type Answer = Result<OhlcvSeries, (AttemptOutcome, String)>;

impl OhlcvDataProvider {
    /// A provider over `tiers`.
    #[must_use]
    pub fn new(tiers: ProviderTiers, config: ProviderConfig, clock: Arc<dyn Clock>) -> Self {
        let l1 = L1Index::new(config.l1);
        Self { inner: Arc::new(Inner { tiers, config, clock, l1, stats: ProviderStats::default() }) }
    }

    /// The cumulative counters of this provider.
    #[must_use]
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The configured tiers.
    #[must_use]
    pub fn tiers(&self) -> &ProviderTiers {
        &self.inner.tiers
    }

    /// The provider's clock (what "now" is for relative ranges).
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The bars of `key` in `range` for `use_case`, with what each tier did. Only closed bars
    /// are returned (the bar in progress at "now" is not).
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`] when every tier asked failed and none returned a bar;
    /// [`ProviderError::NoTier`]; [`ProviderError::Inconsistent`].
    pub async fn get_data(
        &self,
        key: &SeriesKey,
        range: TimeRange,
        use_case: UseCase,
    ) -> Result<(OhlcvSeries, FetchMetadata), ProviderError> {
        self.serve(key, range, use_case, true).await
    }

    async fn serve(
        &self,
        key: &SeriesKey,
        range: TimeRange,
        use_case: UseCase,
        count_read: bool,
    ) -> Result<(OhlcvSeries, FetchMetadata), ProviderError> {
        let started = Instant::now();
        let inner = &*self.inner;
        let now = inner.clock.now();
        let closed_end = key.default_calendar().align(now, key.timeframe);
        let want = TimeRange::new(range.start(), range.end().min(closed_end).max(range.start())).unwrap_or(range);
        let mut meta = FetchMetadata::new(use_case, range, now);
        let mut parts: Vec<(TierKind, OhlcvSeries)> = Vec::new();
        let mut missing = if want.is_empty() { Vec::new() } else { vec![want] };

        if let Some(memory) = &inner.tiers.memory
            && !want.is_empty()
        {
            let lookup = if count_read { inner.l1.lookup(key, want, use_case, now) } else { Lookup::Miss };
            missing = self.read_l1(memory, key, want, lookup, &mut parts, &mut meta).await;
        }
        let mut answered_ok = !parts.is_empty();
        if !missing.is_empty() {
            let recent = range.start() >= now - inner.config.recent;
            let first_route = route(use_case, recent);
            let order = first_route.iter().chain(LAST_RESORT.iter().filter(|k| !first_route.contains(k)));
            // Ranges earlier tiers were asked for and left missing: asking a tier for any of
            // them is a fallback (L1 in front, and Redis covering only its window, are not).
            let mut left_by_earlier: Vec<TimeRange> = Vec::new();
            let mut configured = inner.tiers.memory.is_some();
            for &kind in order {
                if missing.is_empty() {
                    break;
                }
                if !self.has(kind) {
                    continue;
                }
                configured = true;
                let asks: Vec<TimeRange> = if kind == TierKind::Redis {
                    let from = now - inner.config.redis_window;
                    missing.iter().filter_map(|r| coverage::from(*r, from)).collect()
                } else {
                    missing.clone()
                };
                if asks.is_empty() {
                    continue;
                }
                let asks = coverage::coalesce(asks, MAX_HOLES);
                if asks.iter().any(|a| left_by_earlier.iter().any(|l| l.overlaps(a))) {
                    meta.fallbacks += 1;
                }
                let mut still: Vec<TimeRange> = missing.iter().flat_map(|m| subtract_all(*m, &asks)).collect();
                for r in asks {
                    let t0 = Instant::now();
                    let answer = self.ask(kind, key, r).await;
                    let latency = t0.elapsed();
                    let (outcome, rows, error) = match answer {
                        Ok(s) => {
                            answered_ok = true;
                            let s = s.slice(r);
                            let holes = holes(&s, r);
                            let outcome = if s.is_empty() {
                                AttemptOutcome::Miss
                            } else if holes.is_empty() {
                                AttemptOutcome::Hit
                            } else {
                                AttemptOutcome::Partial
                            };
                            left_by_earlier.extend(holes.iter().copied());
                            still.extend(holes);
                            let rows = s.len();
                            if rows > 0 {
                                parts.push((kind, s));
                            }
                            (outcome, rows, None)
                        }
                        Err((outcome, e)) => {
                            left_by_earlier.push(r);
                            still.push(r);
                            (outcome, 0, Some(e))
                        }
                    };
                    self.count(kind, outcome, rows, latency);
                    meta.attempt(Attempt { tier: kind, range: r, outcome, rows, latency_us: micros(latency), error });
                }
                missing = coverage::normalize(still);
            }
            if !configured {
                return Err(ProviderError::NoTier { key: key.clone(), use_case });
            }
        }

        let series = stitch(key, &parts)?;
        meta.rows = series.len();
        meta.complete = missing.is_empty();
        meta.missing = missing;
        if series.is_empty() && !answered_ok && !meta.errors.is_empty() {
            meta.latency_us = micros(started.elapsed());
            inner.stats.call(false, meta.fallbacks, true, started.elapsed());
            return Err(ProviderError::Unavailable { key: key.clone(), range, metadata: Box::new(meta) });
        }
        if inner.config.write_back {
            self.write_back(key, want, &parts, &mut meta).await;
        }
        meta.latency_us = micros(started.elapsed());
        inner.stats.call(meta.complete, meta.fallbacks, false, started.elapsed());
        Ok((series, meta))
    }

    /// Serves what L1 may of `want`; returns what is still missing.
    async fn read_l1(
        &self,
        memory: &Arc<dyn OhlcvDataRepository>,
        key: &SeriesKey,
        want: TimeRange,
        lookup: Lookup,
        parts: &mut Vec<(TierKind, OhlcvSeries)>,
        meta: &mut FetchMetadata,
    ) -> Vec<TimeRange> {
        let inner = &*self.inner;
        let Lookup::Serve { serve, missing } = lookup else {
            inner.stats.tier(TierKind::Memory, TierResult::Miss, 0, Duration::ZERO);
            return vec![want];
        };
        let t0 = Instant::now();
        let answer = tokio::time::timeout(inner.config.timeouts.memory, memory.get_range(key, serve)).await;
        let latency = t0.elapsed();
        let (outcome, rows, error, rest) = match answer {
            Ok(Ok(s)) if !s.is_empty() => {
                let outcome = if missing.is_empty() { AttemptOutcome::Hit } else { AttemptOutcome::Partial };
                let rows = s.len();
                parts.push((TierKind::Memory, s));
                (outcome, rows, None, missing)
            }
            // Evicted (or never written): the index is wrong; forget it and read the tiers.
            Ok(Ok(_)) => {
                inner.l1.forget(key);
                (AttemptOutcome::Miss, 0, None, vec![want])
            }
            Ok(Err(e)) => {
                inner.l1.forget(key);
                (AttemptOutcome::Error, 0, Some(e.to_string()), vec![want])
            }
            Err(_) => {
                inner.l1.forget(key);
                (AttemptOutcome::Timeout, 0, Some(timeout_text(inner.config.timeouts.memory)), vec![want])
            }
        };
        self.count(TierKind::Memory, outcome, rows, latency);
        meta.attempt(Attempt {
            tier: TierKind::Memory,
            range: serve,
            outcome,
            rows,
            latency_us: micros(latency),
            error,
        });
        rest
    }

    fn count(&self, kind: TierKind, outcome: AttemptOutcome, rows: usize, latency: Duration) {
        let result = match outcome {
            AttemptOutcome::Hit => TierResult::Hit,
            AttemptOutcome::Partial => TierResult::Partial,
            AttemptOutcome::Miss => TierResult::Miss,
            AttemptOutcome::Error | AttemptOutcome::Timeout => TierResult::Error,
        };
        self.inner.stats.tier(kind, result, rows, latency);
    }

    fn has(&self, kind: TierKind) -> bool {
        let t = &self.inner.tiers;
        match kind {
            TierKind::Memory => t.memory.is_some(),
            TierKind::Redis => t.redis.is_some(),
            TierKind::History => t.history.is_some(),
            TierKind::Broker => t.broker.is_some(),
            TierKind::Api => t.api.is_some(),
        }
    }

    /// One request to one tier, bounded by its timeout.
    async fn ask(&self, kind: TierKind, key: &SeriesKey, range: TimeRange) -> Answer {
        let t = &self.inner.tiers;
        let limit = self.inner.config.timeouts.of(kind);
        let repo = match kind {
            TierKind::Memory => t.memory.as_ref(),
            TierKind::Redis => t.redis.as_ref(),
            TierKind::History => t.history.as_ref(),
            TierKind::Broker | TierKind::Api => None,
        };
        let answer = if let Some(repo) = repo {
            tokio::time::timeout(limit, repo.get_range(key, range)).await.map(|r| r.map_err(|e| e.to_string()))
        } else {
            let source = if kind == TierKind::Broker { t.broker.as_ref() } else { t.api.as_ref() };
            let Some(source) = source else {
                return Err((AttemptOutcome::Error, "not configured".to_owned()));
            };
            tokio::time::timeout(limit, source.fetch(key, range)).await.map(|r| {
                r.map_err(|e| e.to_string()).and_then(|s| {
                    if s.key() == key {
                        Ok(s)
                    } else {
                        Err(format!("{} answered {} for {key}", source.name(), s.key()))
                    }
                })
            })
        };
        match answer {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err((AttemptOutcome::Error, e)),
            Err(_) => Err((AttemptOutcome::Timeout, timeout_text(limit))),
        }
    }

    /// Writes the bars of slower tiers into Redis (its window only, absent bars only) and L1,
    /// and records what L1 now holds.
    async fn write_back(
        &self,
        key: &SeriesKey,
        want: TimeRange,
        parts: &[(TierKind, OhlcvSeries)],
        meta: &mut FetchMetadata,
    ) {
        let inner = &*self.inner;
        let now = meta.now;
        if let Some(redis) = &inner.tiers.redis {
            let from = now - inner.config.redis_window;
            for (kind, part) in parts {
                if matches!(kind, TierKind::Memory | TierKind::Redis) {
                    continue;
                }
                let Some(window) = part.span().and_then(|s| coverage::from(s, from)) else { continue };
                let recent = part.slice(window);
                if recent.is_empty() {
                    continue;
                }
                let result = tokio::time::timeout(inner.config.timeouts.redis, redis.fill(&recent)).await;
                record_write(meta, &inner.stats, TierKind::Redis, recent.len(), result, inner.config.timeouts.redis);
            }
        }
        let Some(memory) = &inner.tiers.memory else { return };
        let mut wrote_ok = true;
        for (kind, part) in parts {
            if *kind == TierKind::Memory {
                continue;
            }
            let result = tokio::time::timeout(inner.config.timeouts.memory, memory.upsert(part)).await;
            wrote_ok &= matches!(result, Ok(Ok(_)));
            record_write(meta, &inner.stats, TierKind::Memory, part.len(), result, inner.config.timeouts.memory);
        }
        // The tail was asked of the tiers (even when they had nothing new there).
        let tail_refreshed = meta.attempts.iter().any(|a| a.tier != TierKind::Memory && a.range.end() == want.end());
        let served_by_memory_only = meta.attempts.iter().all(|a| a.tier == TierKind::Memory);
        if wrote_ok && !served_by_memory_only && !want.is_empty() {
            let newest = parts.iter().filter_map(|(_, p)| p.last().map(axia_domain::Bar::open_time)).max();
            inner.l1.record(key, want, newest, meta.complete, tail_refreshed, now);
        }
    }

    /// Re-reads the tails of the series read often (hot) whose newest part is older than
    /// `age`, so their next readers hit L1 (SPEC §9 prefetch). Returns the series refreshed.
    pub async fn prefetch_hot(&self, age: Duration) -> Vec<SeriesKey> {
        let now = self.inner.clock.now();
        let mut done = Vec::new();
        for (key, covered) in self.inner.l1.hot_and_stale(age, now) {
            let Ok(range) = TimeRange::new(covered.start(), now.max(covered.end())) else { continue };
            if self.serve(&key, range, UseCase::Chart, false).await.is_ok() {
                done.push(key);
            }
        }
        done
    }

    /// Fills Redis from the history tier with the last `redis_window` of each series (only the
    /// bars Redis lacks: nothing newer is replaced). For `axia data warmup`.
    ///
    /// # Errors
    /// [`ProviderError::NotConfigured`] when Redis or the history tier is not configured.
    pub async fn warmup(&self, keys: &[SeriesKey]) -> Result<Vec<WarmupResult>, ProviderError> {
        let inner = &*self.inner;
        let Some(redis) = &inner.tiers.redis else { return Err(ProviderError::NotConfigured("redis")) };
        let Some(history) = &inner.tiers.history else { return Err(ProviderError::NotConfigured("history")) };
        let now = inner.clock.now();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let range = TimeRange::ending_at(now, inner.config.redis_window);
            let mut result = WarmupResult { key: key.to_string(), read: 0, inserted: 0, error: None };
            match history.get_range(key, range).await {
                Err(e) => result.error = Some(format!("history: {e}")),
                Ok(series) => {
                    result.read = series.len();
                    if !series.is_empty() {
                        match redis.fill(&series).await {
                            Ok(w) => {
                                result.inserted = w.inserted;
                                inner.stats.written_back(TierKind::Redis, w.inserted);
                            }
                            Err(e) => result.error = Some(format!("redis: {e}")),
                        }
                    }
                }
            }
            out.push(result);
        }
        Ok(out)
    }
}

fn record_write(
    meta: &mut FetchMetadata,
    stats: &ProviderStats,
    tier: TierKind,
    rows: usize,
    result: Result<Result<WriteSummary, axia_domain::ports::RepositoryError>, tokio::time::error::Elapsed>,
    limit: Duration,
) {
    let (inserted, error) = match result {
        Ok(Ok(w)) => (w.inserted + w.updated, None),
        Ok(Err(e)) => (0, Some(e.to_string())),
        Err(_) => (0, Some(timeout_text(limit))),
    };
    if let Some(e) = &error {
        tracing::warn!(tier = %tier, error = %e, "write-back failed; the bars were still served");
    }
    stats.written_back(tier, inserted);
    meta.written_back.push(WriteBack { tier, rows, inserted, error });
}

/// `range` without every range of `cuts`.
fn subtract_all(range: TimeRange, cuts: &[TimeRange]) -> Vec<TimeRange> {
    let mut left = vec![range];
    for cut in cuts {
        left = left.into_iter().flat_map(|r| coverage::subtract(r, *cut)).collect();
    }
    left
}

/// One series from the parts the tiers returned (disjoint by construction; where they touch,
/// the part read later, from the slower tier, only fills what the earlier ones lacked).
fn stitch(key: &SeriesKey, parts: &[(TierKind, OhlcvSeries)]) -> Result<OhlcvSeries, ProviderError> {
    let Some(largest) = parts.iter().map(|(_, p)| p).max_by_key(|p| p.len()) else {
        return Ok(OhlcvSeries::empty(key.clone()));
    };
    let mut out = largest.clone();
    for (_, part) in parts {
        if std::ptr::eq(part, largest) {
            continue;
        }
        out.merge(part).map_err(|source| ProviderError::Inconsistent { key: key.clone(), source })?;
    }
    Ok(out)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn timeout_text(limit: Duration) -> String {
    format!("no answer within {} ms", limit.as_millis())
}
