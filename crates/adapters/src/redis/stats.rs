//! Memory and per-series statistics of the Redis tier (`axia cache stats`).

use std::fmt;
use std::time::Duration;

use axia_domain::SeriesKey;
use axia_domain::ports::{OhlcvDataRepository, RepositoryError};
use chrono::{DateTime, Utc};
use deadpool_redis::redis::{self, Value};
use serde::Serialize;

use super::codec;
use super::ohlcv::RedisOhlcvDataRepository;

/// Share of the budget from which memory use is a warning.
pub const WARNING_RATIO: f64 = 0.80;
/// Share of the budget from which memory use is critical.
pub const CRITICAL_RATIO: f64 = 0.95;

/// Memory use against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MemoryStatus {
    /// Below [`WARNING_RATIO`] of the budget.
    Ok,
    /// From [`WARNING_RATIO`] to [`CRITICAL_RATIO`] of the budget.
    Warning,
    /// From [`CRITICAL_RATIO`] of the budget.
    Critical,
}

impl MemoryStatus {
    /// The status of `used` bytes against `budget` bytes (a zero budget is always critical).
    #[must_use]
    pub fn classify(used: u64, budget: u64) -> Self {
        if budget == 0 {
            return Self::Critical;
        }
        #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
        let ratio = used as f64 / budget as f64;
        if ratio >= CRITICAL_RATIO {
            Self::Critical
        } else if ratio >= WARNING_RATIO {
            Self::Warning
        } else {
            Self::Ok
        }
    }
}

impl fmt::Display for MemoryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
        })
    }
}

/// One series key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesStats {
    /// `SYMBOL:TF`.
    pub series: String,
    /// The Redis key.
    pub key: String,
    /// Bars held.
    pub bars: u64,
    /// Open time of the first bar.
    pub first: Option<DateTime<Utc>>,
    /// Open time of the last bar.
    pub last: Option<DateTime<Utc>>,
    /// Time until the key expires (`None`: no expiry).
    #[serde(serialize_with = "ser_secs")]
    pub ttl: Option<Duration>,
    /// `MEMORY USAGE` of the key, bytes.
    pub memory_bytes: u64,
}

#[allow(clippy::ref_option)] // serde's serialize_with passes a reference to the field.
fn ser_secs<S: serde::Serializer>(ttl: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match ttl {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

/// The whole tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// `used_memory` of the server (summed over the primaries of a cluster), bytes.
    pub used_memory_bytes: u64,
    /// The configured budget, bytes.
    pub budget_bytes: u64,
    /// `used_memory_bytes` against the budget.
    pub status: MemoryStatus,
    /// Keys in the database (every namespace; `DBSIZE`, summed over primaries).
    pub keys: u64,
    /// Primaries answering (1 without a cluster).
    pub nodes: usize,
    /// Sum of `MEMORY USAGE` over this namespace's series keys, bytes.
    pub series_memory_bytes: u64,
    /// Every series key of this namespace.
    pub series: Vec<SeriesStats>,
}

impl RedisOhlcvDataRepository {
    /// Memory use against the budget, key count and per-series statistics.
    ///
    /// # Errors
    /// As every call of the tier: [`RepositoryError::Unavailable`] when Redis cannot answer.
    pub async fn stats(&self) -> Result<CacheStats, RepositoryError> {
        let client = self.client();
        let infos: Vec<String> = client.on_each_primary("cache stats", redis::cmd("INFO").arg("memory")).await?;
        let used_memory_bytes = infos.iter().filter_map(|i| info_field(i, "used_memory")).sum();
        let sizes: Vec<u64> = client.on_each_primary("cache stats", &redis::cmd("DBSIZE")).await?;
        let mut series = Vec::new();
        for key in self.list_series().await? {
            series.push(self.series_stats(&key).await?);
        }
        let budget_bytes = client.config().memory_budget_bytes;
        Ok(CacheStats {
            used_memory_bytes,
            budget_bytes,
            status: MemoryStatus::classify(used_memory_bytes, budget_bytes),
            keys: sizes.iter().sum(),
            nodes: infos.len(),
            series_memory_bytes: series.iter().map(|s| s.memory_bytes).sum(),
            series,
        })
    }

    async fn series_stats(&self, key: &SeriesKey) -> Result<SeriesStats, RepositoryError> {
        let rkey = self.redis_key(key);
        let mut pipe = redis::pipe();
        pipe.cmd("ZCARD").arg(&rkey);
        pipe.cmd("ZRANGE").arg(&rkey).arg(0).arg(0);
        pipe.cmd("ZRANGE").arg(&rkey).arg(-1).arg(-1);
        pipe.cmd("PTTL").arg(&rkey);
        pipe.cmd("MEMORY").arg("USAGE").arg(&rkey).arg("SAMPLES").arg(0);
        let (bars, first, last, pttl, memory): (u64, Vec<Vec<u8>>, Vec<Vec<u8>>, i64, Value) =
            self.client().query_pipe("cache stats", &rkey, &pipe).await?;
        let time = |m: Option<&Vec<u8>>| -> Result<Option<DateTime<Utc>>, RepositoryError> {
            m.map(|m| {
                let secs = codec::open_time_secs(m).map_err(|e| RepositoryError::corrupt(&rkey, e))?;
                DateTime::from_timestamp(secs, 0)
                    .ok_or_else(|| RepositoryError::corrupt(&rkey, format!("open time {secs} is out of range")))
            })
            .transpose()
        };
        Ok(SeriesStats {
            series: key.to_string(),
            bars,
            first: time(first.first())?,
            last: time(last.first())?,
            ttl: u64::try_from(pttl).ok().map(Duration::from_millis),
            memory_bytes: match memory {
                Value::Int(n) => u64::try_from(n).unwrap_or(0),
                _ => 0,
            },
            key: rkey,
        })
    }
}

/// The integer `field` of `INFO` output.
fn info_field(info: &str, field: &str) -> Option<u64> {
    info.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_memory_status_thresholds() {
        let mb = 1024 * 1024;
        assert_eq!(MemoryStatus::classify(0, 50 * mb), MemoryStatus::Ok);
        assert_eq!(MemoryStatus::classify(40 * mb - 1, 50 * mb), MemoryStatus::Ok);
        assert_eq!(MemoryStatus::classify(40 * mb, 50 * mb), MemoryStatus::Warning);
        assert_eq!(MemoryStatus::classify(47 * mb, 50 * mb), MemoryStatus::Warning);
        assert_eq!(MemoryStatus::classify(48 * mb, 50 * mb), MemoryStatus::Critical);
        assert_eq!(MemoryStatus::classify(1, 0), MemoryStatus::Critical);
        assert_eq!(MemoryStatus::Warning.to_string(), "WARNING");
    }

    #[test]
    fn redis_info_fields_are_parsed() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:5\r\n";
        assert_eq!(info_field(info, "used_memory"), Some(1_048_576));
        assert_eq!(info_field(info, "used_memory_rss"), Some(5));
        assert_eq!(info_field(info, "maxmemory"), None);
    }
}
