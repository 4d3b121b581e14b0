//! The Yahoo Finance chart API (`/v8/finance/chart`) as a [`MarketDataSource`] named `yahoo`.
//!
//! - Symbols: currency pairs get Yahoo's `=X` suffix, other tickers go unchanged
//!   ([`yahoo_symbol`]).
//! - Timeframes: M1…H1, D1, W1 and MN1 map to Yahoo intervals; H4 is resampled locally from 60m
//!   bars on the symbol's calendar.
//! - Ranges are clipped to what Yahoo serves per interval and split into allowed windows,
//!   requested in sequence (`windows`).
//! - Bars are stamped on our calendar: intraday on UTC, daily and coarser by Yahoo's
//!   exchange-local date (see ADR 0012 for the FX day).
//! - 429, 5xx, timeouts and connection failures are retried with exponential backoff and full
//!   jitter (`Retry-After` honoured, capped), then reported as retryable
//!   [`SourceError::Unavailable`].

mod http;
mod retry;
mod symbols;
mod windows;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{MarketDataSource, SourceError};
use axia_domain::{Clock, OhlcvSeries, SeriesKey, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, Utc};
use thiserror::Error;

pub use symbols::yahoo_symbol;

const NAME: &str = "yahoo";

/// Settings of the Yahoo source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YahooSettings {
    /// Scheme and host of the API, without a trailing path (`https://query1.finance.yahoo.com`).
    pub base_url: String,
    /// Time allowed for one request, connection included.
    pub timeout: Duration,
    /// Retries of a request after a transient failure (429, 5xx, timeout), so at most
    /// `max_retries + 1` attempts.
    pub max_retries: u32,
    /// The backoff before the first retry; it doubles per retry (with full jitter, capped).
    pub retry_base_delay: Duration,
}

impl Default for YahooSettings {
    fn default() -> Self {
        Self {
            base_url: "https://query1.finance.yahoo.com".into(),
            timeout: Duration::from_secs(10),
            max_retries: 3,
            retry_base_delay: Duration::from_millis(500),
        }
    }
}

/// Settings the Yahoo source cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum YahooError {
    /// A setting is out of range or malformed.
    #[error("invalid yahoo setting {setting}: {detail}")]
    InvalidSettings {
        /// The setting (`base_url`, `timeout`).
        setting: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the yahoo HTTP client: {detail}")]
    Client {
        /// The cause.
        detail: String,
    },
}

/// The Yahoo Finance chart API as a source of bars.
#[derive(Debug, Clone)]
pub struct YahooSource {
    settings: YahooSettings,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl YahooSource {
    /// A source with `settings`; `clock` decides which ranges Yahoo still serves.
    ///
    /// # Errors
    /// [`YahooError::InvalidSettings`] for a base URL that is not `http(s)://host[:port]` or a
    /// zero timeout; [`YahooError::Client`] when the HTTP client cannot be built.
    pub fn new(mut settings: YahooSettings, clock: Arc<dyn Clock>) -> Result<Self, YahooError> {
        let base = settings.base_url.trim().trim_end_matches('/').to_string();
        let host = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
        if !host.is_some_and(|h| !h.is_empty() && !h.contains(['?', '#', ' '])) {
            return Err(YahooError::InvalidSettings {
                setting: "base_url",
                detail: format!("{:?} is not an http:// or https:// URL", settings.base_url),
            });
        }
        if settings.timeout.is_zero() {
            return Err(YahooError::InvalidSettings { setting: "timeout", detail: "must be above zero".into() });
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("axia/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| YahooError::Client { detail: e.to_string() })?;
        settings.base_url = base;
        Ok(Self { settings, client, clock })
    }

    /// The settings in use.
    #[must_use]
    pub const fn settings(&self) -> &YahooSettings {
        &self.settings
    }

    /// One `HEAD` of the base URL, without retries: any HTTP answer means the API is reachable;
    /// returns its status code. Used by `axia config check`.
    ///
    /// # Errors
    /// [`SourceError::Unavailable`] when no answer comes within the timeout (DNS, connection,
    /// TLS), naming the URL.
    pub async fn probe(&self) -> Result<u16, SourceError> {
        let url = &self.settings.base_url;
        match self.client.head(url.as_str()).send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => {
                let cause = std::error::Error::source(&e).map(|c| format!(" ({c})")).unwrap_or_default();
                let why = if e.is_timeout() {
                    format!("no answer within {:?}", self.settings.timeout)
                } else {
                    e.to_string()
                };
                Err(SourceError::Unavailable {
                    source_name: NAME.into(),
                    detail: format!("cannot reach {url}: {why}{cause}"),
                })
            }
        }
    }
}

/// The range whose Yahoo bars make the bars of `timeframe` opening in `range`.
fn fetch_range(range: TimeRange, timeframe: Timeframe, key: &SeriesKey) -> TimeRange {
    let calendar = key.default_calendar();
    let (start, end) = match timeframe {
        // The last H4 bar opening in the range needs its 60m bars up to its close.
        Timeframe::H4 => {
            let last = calendar.align(range.end() - TimeDelta::seconds(1), Timeframe::H4);
            (range.start(), calendar.next_open(last, Timeframe::H4).max(range.end()))
        }
        // Yahoo's day, week or month starts some hours away from ours (FX: London midnight vs
        // New York 17:00): ask one period more on each side and keep what lands in the range.
        Timeframe::D1 | Timeframe::W1 | Timeframe::MN1 => {
            let pad = timeframe.duration() + TimeDelta::days(1);
            (range.start() - pad, range.end() + pad)
        }
        _ => (range.start(), range.end()),
    };
    TimeRange::new(start, end).unwrap_or(range)
}

#[async_trait]
impl MarketDataSource for YahooSource {
    fn name(&self) -> &str {
        NAME
    }

    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError> {
        let plan = symbols::plan(key.timeframe);
        let ticker = yahoo_symbol(&key.symbol);
        let calendar = key.default_calendar();
        let now: DateTime<Utc> = self.clock.now();
        let wanted = fetch_range(range, key.timeframe, key);
        let windows = windows::split(plan.interval, wanted, now)
            .map_err(|detail| SourceError::Unsupported { source_name: NAME.into(), detail })?;
        let mut bars = Vec::new();
        for window in windows {
            let Some(result) = self.request(&key.symbol, &ticker, plan.interval, window).await? else { continue };
            if let Some(g) = result.meta.data_granularity.as_deref().filter(|g| *g != plan.interval.as_str()) {
                tracing::warn!(%ticker, asked = plan.interval.as_str(), got = g, "yahoo answered another granularity");
            }
            let parsed =
                wire::to_bars(&result, plan.interval, calendar).map_err(|detail| SourceError::InvalidResponse {
                    source_name: NAME.into(),
                    detail: format!("{ticker} {window}: {detail}"),
                })?;
            if let Some((at, why)) = parsed.invalid.first() {
                tracing::warn!(
                    %ticker, %window, skipped = parsed.invalid.len(), first_at = %at, first = %why,
                    exchange_tz = ?result.meta.exchange_timezone_name,
                    "yahoo sent bars that break the bar rules; they are skipped"
                );
            }
            tracing::debug!(%ticker, %window, bars = parsed.bars.len(), nulls = parsed.null_entries, "yahoo window read");
            bars.extend(parsed.bars.into_iter().filter(|b| wanted.contains(b.open_time())));
        }
        let fetched_key = SeriesKey::new(key.symbol.clone(), plan.interval.timeframe());
        let series = OhlcvSeries::with_calendar(fetched_key, calendar, wire::dedup_last_wins(bars))
            .map_err(|e| SourceError::InvalidResponse { source_name: NAME.into(), detail: format!("{ticker}: {e}") })?;
        let series = match plan.resample_to {
            Some(tf) => series
                .resample(tf)
                .map_err(|e| SourceError::InvalidResponse { source_name: NAME.into(), detail: e.to_string() })?,
            None => series,
        };
        Ok(series.slice(range))
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{FixedClock, Symbol};
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 7, 16, 12, 0, 0).unwrap()))
    }

    #[rstest]
    #[case("ftp://example.com")]
    #[case("query1.finance.yahoo.com")]
    #[case("https://")]
    #[case("https://host?x=1")]
    fn rejects_bad_base_urls(#[case] url: &str) {
        let settings = YahooSettings { base_url: url.into(), ..YahooSettings::default() };
        let err = YahooSource::new(settings, clock()).unwrap_err();
        assert!(matches!(err, YahooError::InvalidSettings { setting: "base_url", .. }), "{err}");
    }

    #[test]
    fn rejects_a_zero_timeout_and_builds_the_url() {
        let settings = YahooSettings { timeout: Duration::ZERO, ..YahooSettings::default() };
        assert!(YahooSource::new(settings, clock()).is_err());
        let settings = YahooSettings { base_url: "http://127.0.0.1:9/".into(), ..YahooSettings::default() };
        let source = YahooSource::new(settings, clock()).unwrap();
        assert_eq!(source.name(), "yahoo");
        let window =
            TimeRange::new(Utc.timestamp_opt(1_516_000_000, 0).unwrap(), Utc.timestamp_opt(1_516_003_600, 0).unwrap())
                .unwrap();
        assert_eq!(
            source.chart_url("^GSPC", symbols::Interval::M60, window),
            "http://127.0.0.1:9/v8/finance/chart/%5EGSPC?period1=1516000000&period2=1516003600&interval=60m&includePrePost=false"
        );
    }

    #[test]
    fn default_settings_match_the_documented_ones() {
        let s = YahooSettings::default();
        assert_eq!(s.base_url, "https://query1.finance.yahoo.com");
        assert_eq!(
            (s.timeout, s.max_retries, s.retry_base_delay),
            (Duration::from_secs(10), 3, Duration::from_millis(500))
        );
    }

    #[test]
    fn h4_asks_for_the_60m_bars_up_to_the_last_close() {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H4);
        let utc = |d, h| Utc.with_ymd_and_hms(2025, 7, d, h, 0, 0).unwrap();
        // H4 opens at 21, 01, 05, 09, 13, 17 UTC in summer; the bar opening 09:00 closes 13:00.
        let r = fetch_range(TimeRange::new(utc(15, 21), utc(16, 10)).unwrap(), Timeframe::H4, &key);
        assert_eq!((r.start(), r.end()), (utc(15, 21), utc(16, 13)));
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable_naming_the_base_url() {
        // Port 9 (discard) is closed on the test machines.
        let settings = YahooSettings {
            base_url: "http://127.0.0.1:9".into(),
            max_retries: 1,
            retry_base_delay: Duration::from_millis(1),
            ..YahooSettings::default()
        };
        let source = YahooSource::new(settings, clock()).unwrap();
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1);
        let now = Utc.with_ymd_and_hms(2025, 7, 16, 12, 0, 0).unwrap();
        let err = source.fetch(&key, TimeRange::ending_at(now, TimeDelta::days(1))).await.unwrap_err();
        assert!(err.is_retryable());
        assert!(err.to_string().contains("cannot connect to http://127.0.0.1:9"), "{err}");
        assert!(err.to_string().contains("after 2 attempts"), "{err}");
    }
}
