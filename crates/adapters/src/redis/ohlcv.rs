//! [`RedisOhlcvDataRepository`]: the bar repository over a Redis sorted set per series.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{Coverage, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{Bar, Clock, OhlcvSeries, SeriesKey, TimeRange};
use chrono::{DateTime, Utc};
use deadpool_redis::redis::{self, AsyncConnectionConfig, RedisError, RedisResult, Script};
use deadpool_redis::{Connection, Manager, Pool, Runtime};

use super::codec;
use super::config::{RedisConfig, parse_series_key, redact_url, scan_pattern, series_key};

const BACKEND: &str = "redis";

/// Most bars sent in one script call; larger series are written in several calls.
pub const UPSERT_CHUNK: usize = 5_000;

/// KEYS[1] the series; ARGV[1] the trim cutoff score (empty: no trimming); ARGV[2] the TTL in
/// milliseconds; then pairs of (score, member). Returns {inserted, updated, unchanged, trimmed}.
const UPSERT_LUA: &str = r"
local key = KEYS[1]
local inserted, updated, unchanged = 0, 0, 0
for i = 3, #ARGV, 2 do
  local score, member = ARGV[i], ARGV[i + 1]
  local old = redis.call('ZRANGEBYSCORE', key, score, score)
  if #old == 0 then
    redis.call('ZADD', key, score, member)
    inserted = inserted + 1
  elseif #old == 1 and old[1] == member then
    unchanged = unchanged + 1
  else
    redis.call('ZREMRANGEBYSCORE', key, score, score)
    redis.call('ZADD', key, score, member)
    updated = updated + 1
  end
end
local trimmed = 0
if ARGV[1] ~= '' then
  trimmed = redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[1])
end
if redis.call('EXISTS', key) == 1 then
  redis.call('PEXPIRE', key, ARGV[2])
end
return {inserted, updated, unchanged, trimmed}
";

/// The Redis bar tier (see the [module documentation](super)).
pub struct RedisOhlcvDataRepository {
    pool: Pool,
    config: RedisConfig,
    redacted_url: String,
    clock: Arc<dyn Clock>,
    upsert_script: Script,
}

impl fmt::Debug for RedisOhlcvDataRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOhlcvDataRepository")
            .field("url", &self.redacted_url)
            .field("key_prefix", &self.config.key_prefix)
            .field("pool_size", &self.config.pool_size)
            .finish_non_exhaustive()
    }
}

impl RedisOhlcvDataRepository {
    /// Builds the connection pool; no connection is made until the first call.
    ///
    /// # Errors
    /// [`RepositoryError::Misconfigured`] when the URL cannot be parsed, the prefix holds a
    /// brace, or the pool settings are invalid.
    pub fn new(config: RedisConfig, clock: Arc<dyn Clock>) -> Result<Self, RepositoryError> {
        let redacted_url = redact_url(&config.url);
        let misconfigured = |detail: String| RepositoryError::Misconfigured { backend: BACKEND.into(), detail };
        if config.key_prefix.contains(['{', '}']) {
            return Err(misconfigured(format!(
                "key prefix {:?} must not hold braces (they would replace the series hash tag)",
                config.key_prefix
            )));
        }
        if config.pool_size == 0 {
            return Err(misconfigured("pool_size must be at least 1".into()));
        }
        let connection = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout));
        let manager = Manager::new_with_config(config.url.as_str(), connection)
            .map_err(|e| misconfigured(format!("invalid redis url {redacted_url}: {e}")))?;
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.command_timeout))
            .build()
            .map_err(|e| misconfigured(format!("cannot build the pool for {redacted_url}: {e}")))?;
        Ok(Self { pool, config, redacted_url, clock, upsert_script: Script::new(UPSERT_LUA) })
    }

    /// The settings in use.
    #[must_use]
    pub const fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The Redis key holding `key`'s bars.
    #[must_use]
    pub fn redis_key(&self, key: &SeriesKey) -> String {
        series_key(&self.config.key_prefix, key)
    }

    fn unavailable(&self, what: &str, detail: impl fmt::Display) -> RepositoryError {
        RepositoryError::unavailable(
            BACKEND,
            format!("{what}: {detail} (check that Redis is running and reachable at {})", self.redacted_url),
        )
    }

    fn map_error(&self, what: &str, key: &str, e: &RedisError) -> RepositoryError {
        match e.kind() {
            redis::ErrorKind::AuthenticationFailed | redis::ErrorKind::InvalidClientConfig => {
                RepositoryError::Misconfigured {
                    backend: BACKEND.into(),
                    detail: format!("{what}: {e} (check the credentials and settings of {})", self.redacted_url),
                }
            }
            redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse => {
                RepositoryError::corrupt(key, format!("{what}: {e}"))
            }
            redis::ErrorKind::Server(_) if e.code() == Some("WRONGTYPE") => {
                RepositoryError::corrupt(key, format!("{what}: the key is not a sorted set: {e}"))
            }
            _ => self.unavailable(what, e),
        }
    }

    async fn connection(&self, what: &str) -> Result<Connection, RepositoryError> {
        // The pool has its own wait/create timeouts; this bound also covers anything else.
        let limit = self.config.connect_timeout + Duration::from_millis(50);
        match tokio::time::timeout(limit, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(self.unavailable(what, format!("no connection: {e}"))),
            Err(_) => Err(self.unavailable(what, format!("no connection within {limit:?}"))),
        }
    }

    async fn bounded<T>(
        &self,
        what: &str,
        key: &str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, RepositoryError> {
        match tokio::time::timeout(self.config.command_timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.map_error(what, key, &e)),
            Err(_) => Err(self.unavailable(what, format!("no answer within {:?}", self.config.command_timeout))),
        }
    }

    /// Runs one command on a pooled connection, both bounded.
    async fn query<T: redis::FromRedisValue>(
        &self,
        what: &str,
        key: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, RepositoryError> {
        let mut conn = self.connection(what).await?;
        self.bounded(what, key, cmd.query_async(&mut conn)).await
    }

    fn decode_members(key: &str, members: &[Vec<u8>]) -> Result<Vec<Bar>, RepositoryError> {
        members.iter().map(|m| codec::decode(m).map_err(|e| RepositoryError::corrupt(key, e))).collect()
    }

    fn time_of(key: &str, member: &[u8]) -> Result<DateTime<Utc>, RepositoryError> {
        let secs = codec::open_time_secs(member).map_err(|e| RepositoryError::corrupt(key, e))?;
        DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| RepositoryError::corrupt(key, format!("open time {secs} is out of range")))
    }

    async fn upsert_chunk(
        &self,
        key: &str,
        cutoff: Option<i64>,
        ttl_ms: u64,
        bars: &[Bar],
    ) -> Result<WriteSummary, RepositoryError> {
        let mut invocation = self.upsert_script.prepare_invoke();
        invocation.key(key).arg(cutoff.map(|c| c.to_string()).unwrap_or_default()).arg(ttl_ms);
        for bar in bars {
            invocation.arg(bar.open_time().timestamp()).arg(codec::encode(bar));
        }
        let mut conn = self.connection("upsert").await?;
        let (inserted, updated, unchanged, trimmed): (u64, u64, u64, u64) =
            self.bounded("upsert", key, invocation.invoke_async(&mut conn)).await?;
        Ok(WriteSummary { inserted, updated, unchanged, trimmed })
    }
}

/// Score bounds of a half-open range: `[start, end)`.
fn score_bounds(range: TimeRange) -> (String, String) {
    (range.start().timestamp().to_string(), format!("({}", range.end().timestamp()))
}

#[async_trait]
impl OhlcvDataRepository for RedisOhlcvDataRepository {
    fn name(&self) -> &str {
        BACKEND
    }

    async fn get_range(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, RepositoryError> {
        if range.is_empty() {
            return Ok(OhlcvSeries::empty(key.clone()));
        }
        let rkey = self.redis_key(key);
        let (min, max) = score_bounds(range);
        let mut cmd = redis::cmd("ZRANGEBYSCORE");
        cmd.arg(&rkey).arg(min).arg(max);
        let members: Vec<Vec<u8>> = self.query("get_range", &rkey, &cmd).await?;
        let bars = Self::decode_members(&rkey, &members)?;
        OhlcvSeries::new(key.clone(), bars).map_err(|e| RepositoryError::corrupt(&rkey, e))
    }

    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        if series.is_empty() {
            return Ok(WriteSummary::default());
        }
        let rkey = self.redis_key(series.key());
        let now = self.clock.now();
        let cutoff = now.checked_sub_signed(self.config.retention);
        let ttl_ms = u64::try_from(self.config.ttl_policy.ttl_at(now).as_millis()).unwrap_or(u64::MAX).max(1);
        let bars = series.bars();
        let skip = cutoff.map_or(0, |c| bars.partition_point(|b| b.open_time() < c));
        let mut summary = WriteSummary { trimmed: skip as u64, ..WriteSummary::default() };
        let cutoff_secs = cutoff.map(|c| c.timestamp());
        let fresh = &bars[skip..];
        if fresh.is_empty() {
            // Nothing to write: still trim what is stored (and refresh the TTL of what remains).
            summary.absorb(self.upsert_chunk(&rkey, cutoff_secs, ttl_ms, &[]).await?);
        }
        for chunk in fresh.chunks(UPSERT_CHUNK) {
            summary.absorb(self.upsert_chunk(&rkey, cutoff_secs, ttl_ms, chunk).await?);
        }
        Ok(summary)
    }

    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError> {
        if range.is_empty() {
            return Ok(0);
        }
        let rkey = self.redis_key(key);
        let (min, max) = score_bounds(range);
        let mut cmd = redis::cmd("ZREMRANGEBYSCORE");
        cmd.arg(&rkey).arg(min).arg(max);
        self.query("delete_range", &rkey, &cmd).await
    }

    async fn coverage(&self, key: &SeriesKey) -> Result<Option<Coverage>, RepositoryError> {
        let rkey = self.redis_key(key);
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGE").arg(&rkey).arg(0).arg(0);
        pipe.cmd("ZRANGE").arg(&rkey).arg(-1).arg(-1);
        pipe.cmd("ZCARD").arg(&rkey);
        pipe.atomic();
        let mut conn = self.connection("coverage").await?;
        let (first, last, rows): (Vec<Vec<u8>>, Vec<Vec<u8>>, u64) =
            self.bounded("coverage", &rkey, pipe.query_async(&mut conn)).await?;
        match (first.first(), last.first()) {
            (Some(first), Some(last)) if rows > 0 => {
                Ok(Some(Coverage { first: Self::time_of(&rkey, first)?, last: Self::time_of(&rkey, last)?, rows }))
            }
            _ => Ok(None),
        }
    }

    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError> {
        let prefix = &self.config.key_prefix;
        let pattern = scan_pattern(prefix);
        let mut conn = self.connection("list_series").await?;
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
            let (next, keys): (u64, Vec<String>) =
                self.bounded("list_series", &pattern, cmd.query_async(&mut conn)).await?;
            out.extend(keys.iter().filter_map(|k| parse_series_key(prefix, k)));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axia_domain::FixedClock;

    #[test]
    fn redis_constructor_checks_settings_without_connecting() {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(Utc::now()));
        let ok = RedisOhlcvDataRepository::new(RedisConfig::for_url("redis://u:pw@127.0.0.1:1/0"), Arc::clone(&clock))
            .expect("no connection is made");
        assert!(!format!("{ok:?}").contains("pw"));
        let braces = RedisConfig { key_prefix: "a{b}".into(), ..RedisConfig::default() };
        assert!(matches!(
            RedisOhlcvDataRepository::new(braces, Arc::clone(&clock)),
            Err(RepositoryError::Misconfigured { .. })
        ));
        let bad = RedisConfig::for_url("http://:secret@nowhere");
        match RedisOhlcvDataRepository::new(bad, clock) {
            Err(RepositoryError::Misconfigured { detail, .. }) => assert!(!detail.contains("secret"), "{detail}"),
            other => panic!("expected Misconfigured, got {other:?}"),
        }
    }

    #[test]
    fn redis_score_bounds_are_half_open() {
        let start = DateTime::from_timestamp(100, 0).unwrap();
        let end = DateTime::from_timestamp(160, 0).unwrap();
        assert_eq!(score_bounds(TimeRange::new(start, end).unwrap()), ("100".into(), "(160".into()));
    }
}
