//! `axia cache stats`: the Redis tier's memory against its budget, keys and series.

use std::io::IsTerminal;

use axia_adapters::redis::{CacheStats, MemoryStatus};
use serde_json::json;

use crate::cli::CacheCommand;
use crate::error::{CliError, CliResult};
use crate::wiring::App;

/// Runs the command.
///
/// # Errors
/// A usage error when no Redis is configured; [`CliError::Failed`] when Redis cannot answer or
/// its memory use is CRITICAL.
pub async fn run(app: &App, command: CacheCommand) -> CliResult {
    let CacheCommand::Stats { json } = command;
    let Some(redis) = &app.redis_bars else {
        return Err(CliError::Usage(anyhow::anyhow!(
            "no Redis tier is configured: set [redis] url in the config file or AXIA_REDIS__URL"
        )));
    };
    let stats = redis.stats().await.map_err(|e| CliError::Failed(e.into()))?;
    let url = redis.client().redacted_url().to_owned();
    if json || !std::io::stdout().is_terminal() {
        outln!("{}", json!({ "url": url, "key_prefix": redis.config().key_prefix, "stats": stats }));
    } else {
        print_human(&url, &redis.config().key_prefix, &stats);
    }
    match stats.status {
        MemoryStatus::Critical => Err(CliError::Failed(anyhow::anyhow!(
            "Redis memory is CRITICAL: {} used of a {} budget",
            mb(stats.used_memory_bytes),
            mb(stats.budget_bytes)
        ))),
        MemoryStatus::Warning => {
            tracing::warn!(used = stats.used_memory_bytes, budget = stats.budget_bytes, "Redis memory is at WARNING");
            Ok(())
        }
        MemoryStatus::Ok => Ok(()),
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
