//! `axia cache stats`: the provider's cumulative stats (hits per tier, misses, hit rates,
//! latency percentiles, over every `fetch`, `chart` and `warmup` so far), the L1 settings, and
//! the Redis tier's memory against its budget, keys and series. `--prometheus` prints the same
//! counters in the Prometheus text format.

use std::io::IsTerminal;

use axia_adapters::redis::{CacheStats, MemoryStatus};
use axia_application::provider::StatsSnapshot;
use serde_json::json;

use crate::cli::CacheCommand;
use crate::error::{CliError, CliResult};
use crate::stats_file;
use crate::wiring::App;

/// Runs the command.
///
/// # Errors
/// [`CliError::Failed`] when Redis is configured but cannot answer, or its memory use is
/// CRITICAL, or the stats file cannot be read.
pub async fn run(app: &App, command: CacheCommand) -> CliResult {
    let CacheCommand::Stats { json, prometheus } = command;
    let stats_path = app.config.provider.stats_path(&app.config.storage.base_path);
    let provider = match &stats_path {
        Some(path) => stats_file::load(path).map_err(CliError::Failed)?,
        None => StatsSnapshot::default(),
    };
    let redis = match &app.redis_bars {
        Some(redis) => Some((redis, redis.stats().await.map_err(|e| CliError::Failed(e.into()))?)),
        None => None,
    };
    if prometheus {
        let mut text = provider.prometheus();
        if let Some((_, stats)) = &redis {
            text.push_str(&redis_prometheus(stats));
        }
        outln!("{}", text.trim_end());
    } else if json || !std::io::stdout().is_terminal() {
        let redis_json = redis.as_ref().map(|(r, stats)| {
            json!({ "url": r.client().redacted_url(), "key_prefix": r.config().key_prefix, "stats": stats })
        });
        outln!(
            "{}",
            json!({
                "provider": provider.summary(),
                "stats_path": stats_path,
                "memory": app.config.memory,
                "redis": redis_json,
            })
        );
    } else {
        print_provider(&provider, stats_path.as_deref());
        match &redis {
            Some((r, stats)) => print_human(r.client().redacted_url(), &r.config().key_prefix, stats),
            None => outln!("redis:  not configured ([redis] url / AXIA_REDIS__URL)"),
        }
    }
    match redis.map(|(_, s)| s) {
        Some(stats) if stats.status == MemoryStatus::Critical => Err(CliError::Failed(anyhow::anyhow!(
            "Redis memory is CRITICAL: {} used of a {} budget",
            mb(stats.used_memory_bytes),
            mb(stats.budget_bytes)
        ))),
        Some(stats) if stats.status == MemoryStatus::Warning => {
            tracing::warn!(used = stats.used_memory_bytes, budget = stats.budget_bytes, "Redis memory is at WARNING");
            Ok(())
        }
        _ => Ok(()),
    }
}

fn redis_prometheus(stats: &CacheStats) -> String {
    format!(
        "# HELP axia_redis_used_memory_bytes Redis used_memory (summed over primaries).\n\
         # TYPE axia_redis_used_memory_bytes gauge\naxia_redis_used_memory_bytes {}\n\
         # HELP axia_redis_memory_budget_bytes The configured Redis memory budget.\n\
         # TYPE axia_redis_memory_budget_bytes gauge\naxia_redis_memory_budget_bytes {}\n\
         # HELP axia_redis_series Series keys of this namespace.\n\
         # TYPE axia_redis_series gauge\naxia_redis_series {}\n",
        stats.used_memory_bytes,
        stats.budget_bytes,
        stats.series.len()
    )
}

fn print_provider(stats: &StatsSnapshot, path: Option<&std::path::Path>) {
    let pct = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{:.1} %", r * 100.0));
    let us = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("≤{v} µs"));
    let origin =
        path.map_or_else(|| "not kept ([provider] stats_path = \"-\")".to_owned(), |p| p.display().to_string());
    outln!(
        "provider: {} calls, {} complete, {} fallbacks, {} failed ({origin})",
        stats.calls,
        stats.complete,
        stats.fallbacks,
        stats.failures
    );
    outln!(
        "          L1 hit rate {}, call latency p50 {} p95 {} p99 {}",
        pct(stats.l1_hit_rate()),
        us(stats.latency.quantile_us(0.5)),
        us(stats.latency.quantile_us(0.95)),
        us(stats.latency.quantile_us(0.99))
    );
    if !stats.tiers.is_empty() {
        outln!(
            "{:<8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>9} {:>11} {:>11} {:>11}",
            "TIER",
            "REQUESTS",
            "HITS",
            "PARTIAL",
            "MISSES",
            "ERRORS",
            "HIT RATE",
            "P50",
            "P95",
            "P99"
        );
        for t in &stats.tiers {
            outln!(
                "{:<8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>9} {:>11} {:>11} {:>11}",
                t.tier.name(),
                t.requests,
                t.hits,
                t.partial,
                t.misses,
                t.errors,
                pct(t.hit_rate()),
                us(t.latency.quantile_us(0.5)),
                us(t.latency.quantile_us(0.95)),
                us(t.latency.quantile_us(0.99))
            );
        }
    }
}

#[allow(clippy::cast_precision_loss)] // display only
fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / (1024.0 * 1024.0))
}

fn ttl_text(ttl: Option<std::time::Duration>) -> String {
    ttl.map_or_else(
        || "none".to_owned(),
        |d| {
            let s = d.as_secs();
            format!("{}h{:02}m", s / 3600, s % 3600 / 60)
        },
    )
}

fn print_human(url: &str, prefix: &str, stats: &CacheStats) {
    #[allow(clippy::cast_precision_loss)] // display only
    let pct = if stats.budget_bytes == 0 {
        100.0
    } else {
        stats.used_memory_bytes as f64 * 100.0 / stats.budget_bytes as f64
    };
    outln!("redis:  {url} ({} primary node{})", stats.nodes, if stats.nodes == 1 { "" } else { "s" });
    outln!(
        "memory: {} used of {} budget ({pct:.1} %) {}",
        mb(stats.used_memory_bytes),
        mb(stats.budget_bytes),
        stats.status
    );
    outln!(
        "keys:   {} in the database; {} series under prefix {prefix:?} using {}",
        stats.keys,
        stats.series.len(),
        mb(stats.series_memory_bytes)
    );
    if stats.series.is_empty() {
        return;
    }
    outln!("{:<14} {:>6} {:<20} {:<20} {:>8} {:>9}", "SERIES", "BARS", "FIRST", "LAST", "TTL", "BYTES");
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%dT%H:%MZ").to_string())
    };
    for s in &stats.series {
        outln!(
            "{:<14} {:>6} {:<20} {:<20} {:>8} {:>9}",
            s.series,
            s.bars,
            time(s.first),
            time(s.last),
            ttl_text(s.ttl),
            s.memory_bytes
        );
    }
}
