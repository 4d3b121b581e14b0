//! `SourceChain`: several market-data sources tried in a fixed order (seed 002: the broker bridge
//! first, then the market-data API). A task is served by the first source that answers; the
//! chain fails only when every source failed, and then names each source's error.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{MarketDataSource, SourceError};
use axia_domain::{OhlcvSeries, SeriesKey, TimeRange};
use chrono::{DateTime, Utc};

/// Retries of a retryable error, per source, before the chain moves to the next source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay (doubled on each retry).
    pub base_delay: Duration,
}

impl Retry {
    /// No retries: one attempt per source.
    pub const NONE: Self = Self { max_retries: 0, base_delay: Duration::ZERO };
}

/// One source that could not serve a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// The source's name.
    pub source: String,
    /// Its last error (after its retries).
    pub error: SourceError,
}

impl std::fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `SourceError` messages start with the source name already.
        write!(f, "{}", self.error)
    }
}

/// What the chain answered.
#[derive(Debug, Clone)]
pub struct Served {
    /// The bars, sliced to the requested range.
    pub series: OhlcvSeries,
    /// The source that served them.
    pub source: String,
    /// The sources tried before it, with their errors.
    pub failed: Vec<SourceFailure>,
}

/// Every source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.failures))]
pub struct ChainError {
    /// One entry per source, in chain order.
    pub failures: Vec<SourceFailure>,
}

impl ChainError {
    /// True when some source failed for a transient reason, so a later run may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        self.failures.iter().any(|f| f.error.is_retryable())
    }
}

fn describe(failures: &[SourceFailure]) -> String {
    match failures {
        [] => "no source configured".to_owned(),
        [one] => one.to_string(),
        many => format!("every source failed: {}", many.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
    }
}

/// Sources in fallback order. Also a [`MarketDataSource`] itself (without retries), so anything
/// that takes one source can take the chain.
#[derive(Debug, Clone)]
pub struct SourceChain {
    sources: Vec<Arc<dyn MarketDataSource>>,
    name: String,
}

impl SourceChain {
    /// A chain trying `sources` in this order.
    ///
    /// # Panics
    /// When `sources` is empty: a chain needs at least one source.
    #[must_use]
    pub fn new(sources: Vec<Arc<dyn MarketDataSource>>) -> Self {
        assert!(!sources.is_empty(), "a source chain needs at least one source");
        let name = sources.iter().map(|s| s.name()).collect::<Vec<_>>().join(",");
        Self { sources, name }
    }

    /// The sources, in order.
    #[must_use]
    pub fn sources(&self) -> &[Arc<dyn MarketDataSource>] {
        &self.sources
    }

    /// The first source that answers, each source retried on a retryable error first.
    ///
    /// The chain moves on after any error of a source: a retryable one that outlived its
    /// retries, [`SourceError::Unsupported`] (e.g. old minute bars), [`SourceError::UnknownSymbol`]
    /// (another source may know the symbol) and [`SourceError::InvalidResponse`] (another source
    /// may answer well).
    ///
    /// # Errors
    /// [`ChainError`] naming every source's error when none served. An answer for another series
    /// than `key` counts as that source's [`SourceError::InvalidResponse`].
    pub async fn fetch_with(&self, key: &SeriesKey, range: TimeRange, retry: Retry) -> Result<Served, ChainError> {
        let mut failed = Vec::new();
        for source in &self.sources {
            match fetch_one(source.as_ref(), key, range, retry).await {
                Ok(series) => return Ok(Served { series, source: source.name().to_owned(), failed }),
                Err(error) => {
                    tracing::debug!(series = %key, source = source.name(), %error, "source failed; trying the next");
                    failed.push(SourceFailure { source: source.name().to_owned(), error });
                }
            }
        }
        Err(ChainError { failures: failed })
    }

    /// Asks each source in turn for a hole's bars and returns the first answer that has any (a
    /// source that returned the hole once will usually return it again; the next one may not).
    /// `Ok(None)` when no source has bars there. One request per source: no loop.
    ///
    /// # Errors
    /// [`ChainError`] when every source failed.
    pub async fn fetch_filling(
        &self,
        key: &SeriesKey,
        range: TimeRange,
        retry: Retry,
    ) -> Result<Option<Served>, ChainError> {
        let mut failed = Vec::new();
        let mut answered = false;
        for source in &self.sources {
            match fetch_one(source.as_ref(), key, range, retry).await {
                Ok(series) if !series.is_empty() => {
                    return Ok(Some(Served { series, source: source.name().to_owned(), failed }));
                }
                Ok(_) => answered = true,
                Err(error) => failed.push(SourceFailure { source: source.name().to_owned(), error }),
            }
        }
        if answered { Ok(None) } else { Err(ChainError { failures: failed }) }
    }
}

impl From<Arc<dyn MarketDataSource>> for SourceChain {
    fn from(source: Arc<dyn MarketDataSource>) -> Self {
        Self::new(vec![source])
    }
}

impl<S: MarketDataSource + 'static> From<Arc<S>> for SourceChain {
    fn from(source: Arc<S>) -> Self {
        Self::new(vec![source as Arc<dyn MarketDataSource>])
    }
}

/// One source, retried with exponential backoff; the answer checked and sliced to `range`.
async fn fetch_one(
    source: &dyn MarketDataSource,
    key: &SeriesKey,
    range: TimeRange,
    retry: Retry,
) -> Result<OhlcvSeries, SourceError> {
    let mut attempt = 0;
    loop {
        match source.fetch(key, range).await {
            Err(e) if e.is_retryable() && attempt < retry.max_retries => {
                let delay = retry.base_delay * 2u32.pow(attempt);
                tracing::debug!(series = %key, source = source.name(), attempt, error = %e, "retrying fetch in {delay:?}");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
            Ok(series) if series.key() != key => {
                return Err(SourceError::InvalidResponse {
                    source_name: source.name().to_owned(),
                    detail: format!("asked for {key}, got {}", series.key()),
                });
            }
            Ok(series) => return Ok(series.slice(range)),
        }
    }
}

#[async_trait]
impl MarketDataSource for SourceChain {
    fn name(&self) -> &str {
        &self.name
    }

    /// True when any source generates bars: the label must not be lost in a mix.
    fn is_synthetic(&self) -> bool {
        self.sources.iter().any(|s| s.is_synthetic())
    }

    /// The latest end when every source serves a fixed history; `None` when any is live.
    fn data_end(&self) -> Option<DateTime<Utc>> {
        let mut latest: Option<DateTime<Utc>> = None;
        for source in &self.sources {
            let end = source.data_end()?;
            latest = Some(latest.map_or(end, |l| l.max(end)));
        }
        latest
    }

    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError> {
        match self.fetch_with(key, range, Retry::NONE).await {
            Ok(served) => Ok(served.series),
            Err(mut e) if e.failures.len() == 1 => Err(e.failures.remove(0).error),
            Err(e) => {
                let error = if e.is_retryable() {
                    SourceError::Unavailable { source_name: self.name.clone(), detail: e.to_string() }
                } else {
                    // Unknown everywhere is still "unknown symbol" to the caller.
                    let all_unknown = e.failures.iter().all(|f| matches!(f.error, SourceError::UnknownSymbol { .. }));
                    if all_unknown {
                        SourceError::UnknownSymbol { source_name: self.name.clone(), symbol: key.symbol.to_string() }
                    } else {
                        SourceError::Unsupported { source_name: self.name.clone(), detail: e.to_string() }
                    }
                };
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axia_domain::ports::MockMarketDataSource;
    use axia_domain::{Symbol, Timeframe};
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;
    use crate::collect::tests::series_in;

    fn key() -> SeriesKey {
        SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1)
    }

    fn range() -> TimeRange {
        TimeRange::new(
            Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 9, 1, 6, 0, 0).unwrap(),
        )
        .unwrap()
    }

    fn unavailable(name: &str) -> SourceError {
        SourceError::Unavailable { source_name: name.into(), detail: "HTTP 503".into() }
    }

    /// A mock named `name` answering every fetch with `answer`, counting calls.
    fn source(
        name: &'static str,
        calls: &Arc<AtomicUsize>,
        answer: impl Fn(&SeriesKey, TimeRange) -> Result<OhlcvSeries, SourceError> + Send + 'static,
    ) -> Arc<dyn MarketDataSource> {
        let mut s = MockMarketDataSource::new();
        s.expect_name().return_const(name.to_owned());
        let calls = Arc::clone(calls);
        s.expect_fetch().returning(move |k, r| {
            calls.fetch_add(1, Ordering::SeqCst);
            answer(k, r)
        });
        Arc::new(s)
    }

    const RETRY: Retry = Retry { max_retries: 2, base_delay: Duration::from_millis(1) };

    #[tokio::test]
    async fn the_first_source_that_answers_serves_and_the_rest_are_not_asked() {
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let chain = SourceChain::new(vec![
            source("a", &a, |k, r| Ok(series_in(k, r))),
            source("b", &b, |k, r| Ok(series_in(k, r))),
        ]);
        let served = chain.fetch_with(&key(), range(), RETRY).await.unwrap();
        assert_eq!((served.source.as_str(), served.series.len(), served.failed.len()), ("a", 6, 0));
        assert_eq!((a.load(Ordering::SeqCst), b.load(Ordering::SeqCst)), (1, 0));
        assert_eq!(chain.name(), "a,b");
    }

    #[rstest]
    #[case::unavailable_after_its_retries(unavailable("a"), 3)]
    #[case::unsupported(SourceError::Unsupported { source_name: "a".into(), detail: "1m older than 30 days".into() }, 1)]
    #[case::unknown_symbol(SourceError::UnknownSymbol { source_name: "a".into(), symbol: "EURUSD".into() }, 1)]
    #[case::invalid_response(SourceError::InvalidResponse { source_name: "a".into(), detail: "bad json".into() }, 1)]
    #[tokio::test]
    async fn an_error_moves_to_the_next_source(#[case] error: SourceError, #[case] calls_of_a: usize) {
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let failing = error.clone();
        let chain = SourceChain::new(vec![
            source("a", &a, move |_, _| Err(failing.clone())),
            source("b", &b, |k, r| Ok(series_in(k, r))),
        ]);
        let served = chain.fetch_with(&key(), range(), RETRY).await.unwrap();
        assert_eq!(served.source, "b");
        assert_eq!(served.failed, vec![SourceFailure { source: "a".into(), error }]);
        assert_eq!((a.load(Ordering::SeqCst), b.load(Ordering::SeqCst)), (calls_of_a, 1));
    }

    #[tokio::test]
    async fn an_answer_for_another_series_is_that_sources_invalid_response() {
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let other = SeriesKey::new(Symbol::new("USDJPY").unwrap(), Timeframe::H1);
        let chain = SourceChain::new(vec![
            source("a", &a, move |_, r| Ok(series_in(&other, r))),
            source("b", &b, |k, r| Ok(series_in(k, r))),
        ]);
        let served = chain.fetch_with(&key(), range(), RETRY).await.unwrap();
        assert_eq!(served.source, "b");
        assert!(
            matches!(&served.failed[0].error, SourceError::InvalidResponse { detail, .. } if detail.contains("USDJPY"))
        );
    }

    #[rstest]
    #[case::one_transient(unavailable("b"), true)]
    #[case::all_permanent(SourceError::UnknownSymbol { source_name: "b".into(), symbol: "EURUSD".into() }, false)]
    #[tokio::test]
    async fn every_source_failing_names_each_error(#[case] second: SourceError, #[case] retryable: bool) {
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let chain = SourceChain::new(vec![
            source("a", &a, |k, _| {
                Err(SourceError::UnknownSymbol { source_name: "a".into(), symbol: k.symbol.to_string() })
            }),
            source("b", &b, move |_, _| Err(second.clone())),
        ]);
        let err = chain.fetch_with(&key(), range(), RETRY).await.unwrap_err();
        assert_eq!(err.failures.iter().map(|f| f.source.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(err.is_retryable(), retryable);
        let text = err.to_string();
        assert!(text.starts_with("every source failed: a: unknown symbol EURUSD; b"), "{text}");
        // As a plain source the chain keeps the kind: unavailable when a retry may help.
        let plain = chain.fetch(&key(), range()).await.unwrap_err();
        assert_eq!(plain.is_retryable(), retryable, "{plain}");
    }

    #[rstest]
    #[case::second_fills(false, Some("b"))]
    #[case::nobody_has_bars(true, None)]
    #[tokio::test]
    async fn a_hole_is_asked_of_each_source_until_one_has_bars(
        #[case] second_empty: bool,
        #[case] filled_by: Option<&str>,
    ) {
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let chain = SourceChain::new(vec![
            source("a", &a, |k, _| Ok(OhlcvSeries::empty(k.clone()))),
            source("b", &b, move |k, r| Ok(if second_empty { OhlcvSeries::empty(k.clone()) } else { series_in(k, r) })),
        ]);
        let served = chain.fetch_filling(&key(), range(), RETRY).await.unwrap();
        assert_eq!(served.as_ref().map(|s| s.source.as_str()), filled_by);
        assert_eq!((a.load(Ordering::SeqCst), b.load(Ordering::SeqCst)), (1, 1), "one request per source");
    }

    #[test]
    fn data_end_is_set_only_when_every_source_has_one() {
        let end = Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).unwrap();
        let fixed = |at: Option<DateTime<Utc>>| {
            let mut s = MockMarketDataSource::new();
            s.expect_name().return_const("s".to_owned());
            s.expect_data_end().return_const(at);
            s.expect_is_synthetic().return_const(at.is_some());
            Arc::new(s) as Arc<dyn MarketDataSource>
        };
        let replay = SourceChain::new(vec![fixed(Some(end - chrono::TimeDelta::days(1))), fixed(Some(end))]);
        assert_eq!(replay.data_end(), Some(end));
        let live = SourceChain::new(vec![fixed(Some(end)), fixed(None)]);
        assert_eq!(live.data_end(), None);
        assert!(live.is_synthetic(), "one synthetic source labels the chain");
    }
}
