//! [`RedisOhlcvDataRepository`]: the bar repository over a Redis sorted set per series.

use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::ports::{Coverage, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{Bar, Clock, OhlcvSeries, SeriesKey, TimeRange};
use chrono::{DateTime, Utc};
use deadpool_redis::redis::{self, Script};

use super::client::{BACKEND, RedisClient};
use super::codec;
use super::config::{RedisConfig, parse_series_key, scan_pattern, series_key};

/// Most bars sent in one script call; larger series are written in several calls.
pub const UPSERT_CHUNK: usize = 5_000;

/// KEYS[1] the series; ARGV[1] the trim cutoff score (empty: no trimming); ARGV[2] the TTL in
/// milliseconds; ARGV[3] the mode (`fill`: never replace a stored bar, for write-back; empty:
/// upsert); then pairs of (score, member), ascending. Returns {inserted, updated, unchanged,
/// trimmed}.
///
/// Retention: bars opening before the cutoff are dropped, except the newest bar of the key
/// (so the latest D1/W1/MN1 bar, or the last bar before a weekend, stays available). A bar older
/// than the cutoff is written only when it is the last argument and would be that newest bar.
const UPSERT_LUA: &str = r"
local key = KEYS[1]
local cutoff = nil
if ARGV[1] ~= '' then cutoff = tonumber(ARGV[1]) end
local fill = ARGV[3] == 'fill'
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
local newest = nil
if #top == 2 then newest = tonumber(top[2]) end
-- What is stored over the incoming range, by score (integer scores print without a fraction).
local stored = {}
if #ARGV >= 5 then
  local have = redis.call('ZRANGEBYSCORE', key, ARGV[4], ARGV[#ARGV - 1], 'WITHSCORES')
  for j = 1, #have, 2 do stored[have[j + 1]] = have[j] end
end
local adds, removes = {}, {}
local inserted, updated, unchanged, stale = 0, 0, 0, 0
for i = 4, #ARGV, 2 do
  local score, member = ARGV[i], ARGV[i + 1]
  local n = tonumber(score)
  if cutoff and n < cutoff and not (i + 1 == #ARGV and (newest == nil or n >= newest)) then
    stale = stale + 1
  else
    local old = stored[score]
    if old == nil then
      inserted = inserted + 1
      adds[#adds + 1] = score
      adds[#adds + 1] = member
    elseif old == member or fill then
      unchanged = unchanged + 1
    else
      updated = updated + 1
      removes[#removes + 1] = old
      adds[#adds + 1] = score
      adds[#adds + 1] = member
    end
    stored[score] = member
    if newest == nil or n > newest then newest = n end
  end
end
-- Bulk commands, in slices that stay under Lua's stack limit.
for j = 1, #removes, 1000 do
  redis.call('ZREM', key, unpack(removes, j, math.min(j + 999, #removes)))
end
for j = 1, #adds, 2000 do
  redis.call('ZADD', key, unpack(adds, j, math.min(j + 1999, #adds)))
end
local trimmed = 0
if cutoff then
  local old = redis.call('ZCOUNT', key, '-inf', '(' .. ARGV[1])
  local total = redis.call('ZCARD', key)
  if old >= total then old = total - 1 end
  if old > 0 then trimmed = redis.call('ZREMRANGEBYRANK', key, 0, old - 1) end
end
if redis.call('EXISTS', key) == 1 then
  redis.call('PEXPIRE', key, ARGV[2])
end
return {inserted, updated, unchanged, trimmed + stale}
";

/// The Redis bar tier (see the [module documentation](super)).
#[derive(Debug)]
pub struct RedisOhlcvDataRepository {
    client: Arc<RedisClient>,
    clock: Arc<dyn Clock>,
    upsert_script: Script,
    coverage_script: Script,
}

/// KEYS[1] the series. Returns {first member, last member, count} ({} when empty), atomically.
const COVERAGE_LUA: &str = r"
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then return {} end
local first = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
local last = redis.call('ZRANGE', KEYS[1], -1, -1)[1]
return {first, last, n}
";

impl RedisOhlcvDataRepository {
    /// Builds its own connection pool from `config`; no connection is made until the first call.
    ///
    /// # Errors
    /// As [`RedisClient::new`].
    pub fn new(config: RedisConfig, clock: Arc<dyn Clock>) -> Result<Self, RepositoryError> {
        Ok(Self::with_client(Arc::new(RedisClient::new(config)?), clock))
    }

    /// The repository over a shared client.
    #[must_use]
    pub fn with_client(client: Arc<RedisClient>, clock: Arc<dyn Clock>) -> Self {
        Self { client, clock, upsert_script: Script::new(UPSERT_LUA), coverage_script: Script::new(COVERAGE_LUA) }
    }

    /// The settings in use.
    #[must_use]
    pub fn config(&self) -> &RedisConfig {
        self.client.config()
    }

    /// The shared client.
    #[must_use]
    pub const fn client(&self) -> &Arc<RedisClient> {
        &self.client
    }

    /// The Redis key holding `key`'s bars.
    #[must_use]
    pub fn redis_key(&self, key: &SeriesKey) -> String {
        series_key(&self.config().key_prefix, key)
    }

    fn decode_members(key: &str, members: &[Vec<u8>]) -> Result<Vec<Bar>, RepositoryError> {
        members.iter().map(|m| codec::decode(m).map_err(|e| RepositoryError::corrupt(key, e))).collect()
    }

    fn time_of(key: &str, member: &[u8]) -> Result<DateTime<Utc>, RepositoryError> {
        let secs = codec::open_time_secs(member).map_err(|e| RepositoryError::corrupt(key, e))?;
        DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| RepositoryError::corrupt(key, format!("open time {secs} is out of range")))
    }

    async fn write(&self, series: &OhlcvSeries, mode: WriteMode) -> Result<WriteSummary, RepositoryError> {
        if series.is_empty() {
            return Ok(WriteSummary::default());
        }
        let rkey = self.redis_key(series.key());
        let now = self.clock.now();
        let config = self.config();
        let cutoff = now.checked_sub_signed(config.retention);
        let ttl_ms = u64::try_from(config.ttl_policy.ttl_at(now).as_millis()).unwrap_or(u64::MAX).max(1);
        let bars = series.bars();
        // Bars before the cutoff are not sent, except the last one, which the script keeps when
        // it is the newest bar of the key.
        let skip = cutoff.map_or(0, |c| bars.partition_point(|b| b.open_time() < c).min(bars.len() - 1));
        let mut summary = WriteSummary { trimmed: skip as u64, ..WriteSummary::default() };
        let cutoff_secs = cutoff.map(|c| c.timestamp());
        for chunk in bars[skip..].chunks(UPSERT_CHUNK) {
            summary.absorb(self.upsert_chunk(&rkey, cutoff_secs, ttl_ms, mode, chunk).await?);
        }
        Ok(summary)
    }

    async fn upsert_chunk(
        &self,
        key: &str,
        cutoff: Option<i64>,
        ttl_ms: u64,
        mode: WriteMode,
        bars: &[Bar],
    ) -> Result<WriteSummary, RepositoryError> {
        let mut invocation = self.upsert_script.prepare_invoke();
        invocation.key(key).arg(cutoff.map(|c| c.to_string()).unwrap_or_default()).arg(ttl_ms).arg(match mode {
            WriteMode::Upsert => "",
            WriteMode::Fill => "fill",
        });
        for bar in bars {
            invocation.arg(bar.open_time().timestamp()).arg(codec::encode(bar));
        }
        let (inserted, updated, unchanged, trimmed): (u64, u64, u64, u64) =
            self.client.invoke_prepared("upsert", key, &invocation).await?;
        Ok(WriteSummary { inserted, updated, unchanged, trimmed })
    }
}

/// How a write treats a bar already stored at the same open time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteMode {
    /// Replace it (the newer write wins).
    Upsert,
    /// Keep it (write-back of bars read from a slower tier).
    Fill,
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
        let members: Vec<Vec<u8>> = self.client.query("get_range", &rkey, &cmd).await?;
        let bars = Self::decode_members(&rkey, &members)?;
        OhlcvSeries::new(key.clone(), bars).map_err(|e| RepositoryError::corrupt(&rkey, e))
    }

    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        self.write(series, WriteMode::Upsert).await
    }

    async fn fill(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        self.write(series, WriteMode::Fill).await
    }

    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError> {
        if range.is_empty() {
            return Ok(0);
        }
        let rkey = self.redis_key(key);
        let (min, max) = score_bounds(range);
        let mut cmd = redis::cmd("ZREMRANGEBYSCORE");
        cmd.arg(&rkey).arg(min).arg(max);
        self.client.query("delete_range", &rkey, &cmd).await
    }
    async fn coverage(&self, key: &SeriesKey) -> Result<Option<Coverage>, RepositoryError> {
        let rkey = self.redis_key(key);
        let mut invocation = self.coverage_script.prepare_invoke();
        invocation.key(&rkey);
        let answer: Vec<redis::Value> = self.client.invoke_prepared("coverage", &rkey, &invocation).await?;
        let [first, last, rows] = answer.as_slice() else {
            return if answer.is_empty() {
                Ok(None)
            } else {
                Err(RepositoryError::corrupt(&rkey, "coverage: unexpected script answer"))
            };
        };
        let bytes = |v: &redis::Value| match v {
            redis::Value::BulkString(b) => Ok(b.clone()),
            _ => Err(RepositoryError::corrupt(&rkey, "coverage: a member is not a string")),
        };
        let rows = match rows {
            redis::Value::Int(n) => u64::try_from(*n).unwrap_or(0),
            _ => return Err(RepositoryError::corrupt(&rkey, "coverage: the count is not an integer")),
        };
        Ok(Some(Coverage {
            first: Self::time_of(&rkey, &bytes(first)?)?,
            last: Self::time_of(&rkey, &bytes(last)?)?,
            rows,
        }))
    }

    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError> {
        let prefix = &self.config().key_prefix;
        let keys = self.client.scan_keys("list_series", &scan_pattern(prefix)).await?;
        let mut out: Vec<SeriesKey> = keys.iter().filter_map(|k| parse_series_key(prefix, k)).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_score_bounds_are_half_open() {
        let start = DateTime::from_timestamp(100, 0).unwrap();
        let end = DateTime::from_timestamp(160, 0).unwrap();
        assert_eq!(score_bounds(TimeRange::new(start, end).unwrap()), ("100".into(), "(160".into()));
    }
}
