//! `axia artifacts clear-cache`: empty the local read-through cache of the backtest artifact
//! store (seed 000). Needs no S3 access.

use std::io::IsTerminal;

use anyhow::Context;
use axia_adapters::artifacts::ArtifactCache;

use crate::cli::ArtifactsCommand;
use crate::error::{CliError, CliResult};
use crate::wiring::App;

/// Runs the command.
///
/// # Errors
/// [`CliError::Failed`] when the cache directory cannot be cleared.
pub async fn run(app: &App, command: ArtifactsCommand) -> CliResult {
    let ArtifactsCommand::ClearCache { json } = command;
    let config = app.config.storage.artifact_config();
    let cache = ArtifactCache::new(&config.local_cache_path, config.local_cache_ttl());
    let report = cache.clear().await.map_err(|e| CliError::Failed(e.into()))?;
    if json || !std::io::stdout().is_terminal() {
        outln!("{}", serde_json::to_string(&report).context("serialising the report")?);
    } else {
        outln!(
            "cleared {}: {} entries, {} files, {} bytes",
            report.path.display(),
            report.entries,
            report.files,
            report.bytes
        );
    }
    Ok(())
}
