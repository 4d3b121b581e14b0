//! Configuration of the Redis tier, key layout and URL redaction.

use std::time::Duration;

use axia_domain::{MarketCalendar, SeriesKey, Symbol, Timeframe};
use chrono::{DateTime, TimeDelta, Utc};

/// When a series key expires after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlPolicy {
    /// A fixed time after every write (default 25 h: one day of bars plus an hour of slack).
    Fixed(Duration),
    /// At the next New York close (17:00 New York, the next FX D1 open) after the write, plus
    /// [`NY_CLOSE_MARGIN`].
    NextNyClose,
}

/// Slack added to [`TtlPolicy::NextNyClose`] so a key outlives the close by a little.
pub const NY_CLOSE_MARGIN: Duration = Duration::from_secs(5 * 60);

impl Default for TtlPolicy {
    fn default() -> Self {
        Self::Fixed(Duration::from_secs(25 * 3600))
    }
}

impl TtlPolicy {
    /// The key TTL for a write at `now`, never zero.
    #[must_use]
    pub fn ttl_at(self, now: DateTime<Utc>) -> Duration {
        let ttl = match self {
            Self::Fixed(d) => d,
            Self::NextNyClose => {
                let close = MarketCalendar::Fx.next_open(now, Timeframe::D1);
                (close - now).to_std().unwrap_or_default() + NY_CLOSE_MARGIN
            }
        };
        ttl.max(Duration::from_millis(1))
    }
}

/// The default memory budget of the tier: 50 MB.
pub const DEFAULT_MEMORY_BUDGET_BYTES: u64 = 50 * 1024 * 1024;

/// Settings of the Redis tier ([`super::RedisClient`] and the repositories over it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` (or `rediss://` for TLS).
    pub url: String,
    /// Most pooled connections.
    pub pool_size: usize,
    /// Longest wait for a pooled connection, including opening a new one.
    pub connect_timeout: Duration,
    /// Longest wait for one command (or script) once a connection is in hand.
    pub command_timeout: Duration,
    /// Prepended to every key (e.g. `axia:` or a per-test namespace); must not hold `{` or `}`.
    pub key_prefix: String,
    /// Bars opening before `now - retention` are trimmed on every write.
    pub retention: TimeDelta,
    /// Key expiry after a write.
    pub ttl_policy: TtlPolicy,
    /// Talk to a Redis Cluster (ElastiCache cluster mode) through `url` as its seed node.
    pub cluster: bool,
    /// The memory budget `axia cache stats` measures use against (default 50 MB).
    pub memory_budget_bytes: u64,
    /// PEM file of the certificate authority a `rediss://` server's certificate is checked
    /// against, instead of the public web roots (for a private CA; single node only).
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/0".into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_millis(500),
            key_prefix: String::new(),
            retention: TimeDelta::hours(24),
            ttl_policy: TtlPolicy::default(),
            cluster: false,
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
            tls_ca_file: None,
        }
    }
}

impl RedisConfig {
    /// The default settings for `url`.
    #[must_use]
    pub fn for_url(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }
}

/// The key of a series: `{prefix}ohlcv:{SYMBOL:TF}`.
#[must_use]
pub fn series_key(prefix: &str, key: &SeriesKey) -> String {
    format!("{prefix}ohlcv:{{{}:{}}}", key.symbol.as_str(), key.timeframe.as_str())
}

/// The `SCAN MATCH` pattern of every series key under `prefix` (glob characters escaped).
#[must_use]
pub fn scan_pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 8);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("ohlcv:{*");
    out
}

/// Parses a key written by [`series_key`] back; `None` for any other key.
#[must_use]
pub fn parse_series_key(prefix: &str, key: &str) -> Option<SeriesKey> {
    let inner = key.strip_prefix(prefix)?.strip_prefix("ohlcv:{")?.strip_suffix('}')?;
    let (symbol, timeframe) = inner.split_once(':')?;
    let symbol = Symbol::new(symbol).ok().filter(|s| s.as_str() == symbol)?;
    let tf: Timeframe = timeframe.parse().ok()?;
    (tf.as_str() == timeframe).then(|| SeriesKey::new(symbol, tf))
}

/// `url` without its user information and query (which may hold a password).
#[must_use]
pub fn redact_url(url: &str) -> String {
    let without_query = url.split_once('?').map_or(url, |(head, _)| head);
    let Some((scheme, rest)) = without_query.split_once("://") else {
        return "<unparsable redis url>".into();
    };
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn redis_keys_round_trip_and_share_a_hash_tag() {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1);
        let k = series_key("axia:", &key);
        assert_eq!(k, "axia:ohlcv:{EURUSD:M1}");
        assert_eq!(parse_series_key("axia:", &k), Some(key));
        assert_eq!(parse_series_key("other:", &k), None);
        assert_eq!(parse_series_key("axia:", "axia:ohlcv:{EURUSD:1m}"), None);
        assert_eq!(parse_series_key("axia:", "axia:ohlcv:{eurusd:M1}"), None);
        assert_eq!(parse_series_key("axia:", "axia:positions:{EURUSD}"), None);
        assert_eq!(scan_pattern("t*[1]:"), "t\\*\\[1\\]:ohlcv:{*");
    }

    #[test]
    fn redis_urls_are_redacted() {
        assert_eq!(redact_url("redis://user:secret@host:6379/0"), "redis://***@host:6379/0");
        assert_eq!(redact_url("rediss://:secret@host"), "rediss://***@host");
        assert_eq!(redact_url("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(redact_url("redis+unix:///tmp/r.sock?pass=secret"), "redis+unix:///tmp/r.sock");
        assert!(!redact_url("garbage secret").contains("secret"));
    }

    #[test]
    fn redis_ttl_policies() {
        let now = Utc.with_ymd_and_hms(2025, 9, 3, 0, 0, 0).unwrap();
        assert_eq!(TtlPolicy::default().ttl_at(now), Duration::from_secs(25 * 3600));
        // 2025-09-03 00:00 UTC is 20:00 New York (EDT) on the 2nd; the next close is 21:00 UTC.
        assert_eq!(TtlPolicy::NextNyClose.ttl_at(now), Duration::from_secs(21 * 3600) + NY_CLOSE_MARGIN);
        let at_close = Utc.with_ymd_and_hms(2025, 9, 3, 21, 0, 0).unwrap();
        assert_eq!(TtlPolicy::NextNyClose.ttl_at(at_close), Duration::from_secs(24 * 3600) + NY_CLOSE_MARGIN);
    }
}
