//! `axia data warmup`: fill Redis from the history tier with the last 24 h of each series, so
//! the first reads after a Redis restart (or on a new cluster) are hits.

use std::io::IsTerminal;

use axia_domain::SeriesKey;
use serde_json::json;

use crate::error::{CliError, CliResult, UsageContext};
use crate::progress;
use crate::wiring::{App, symbol, timeframe};

/// Runs the command: every stored series, or those matching `symbols` / `timeframes`.
///
/// # Errors
/// A usage error without a Redis tier or for bad names; [`CliError::Failed`] when the history
/// tier cannot list its series or any series failed (each is named).
pub async fn run(app: &App, symbols: Option<&[String]>, timeframes: Option<&[String]>, json: bool) -> CliResult {
    if app.redis_bars.is_none() {
        return Err(CliError::Usage(anyhow::anyhow!(
            "no Redis tier is configured: set [redis] url in the config file or AXIA_REDIS__URL"
        )));
    }
    let symbols = symbols.map(|s| s.iter().map(|x| symbol(x)).collect::<CliResult<Vec<_>>>()).transpose()?;
    let timeframes = timeframes.map(|t| t.iter().map(|x| timeframe(x)).collect::<CliResult<Vec<_>>>()).transpose()?;
    let stored = app.history.list_series().await.map_err(|e| CliError::Failed(e.into()))?;
    let keys: Vec<SeriesKey> = stored
        .into_iter()
        .filter(|k| symbols.as_ref().is_none_or(|s| s.contains(&k.symbol)))
        .filter(|k| timeframes.as_ref().is_none_or(|t| t.contains(&k.timeframe)))
        .collect();
    let provider = app.provider()?;
    let bar = progress::bar(keys.len() as u64, "warmup");
    let mut results = Vec::with_capacity(keys.len());
    for key in &keys {
        bar.set_message(key.to_string());
        results.extend(provider.warmup(std::slice::from_ref(key)).await.usage()?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    app.record_provider_stats();
    let failed: Vec<_> = results.iter().filter(|r| r.error.is_some()).collect();
    let inserted: u64 = results.iter().map(|r| r.inserted).sum();
    tracing::info!(
        target: crate::metrics::SUMMARY_TARGET,
        command = "data warmup",
        series = results.len(),
        inserted,
        failed = failed.len(),
        "warmup finished"
    );
    if json || !std::io::stdout().is_terminal() {
        outln!("{}", json!({ "series": results, "inserted": inserted, "failed": failed.len() }));
    } else {
        for r in &results {
            match &r.error {
                None => outln!("{:<14} {:>6} bars read, {:>6} written to Redis", r.key, r.read, r.inserted),
                Some(e) => outln!("{:<14} FAILED: {e}", r.key),
            }
        }
        outln!("warmup: {} series, {inserted} bars written, {} failed", results.len(), failed.len());
    }
    if failed.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = failed.iter().map(|r| r.key.as_str()).collect();
        Err(CliError::Failed(anyhow::anyhow!("warmup failed for {}", names.join(", "))))
    }
}
