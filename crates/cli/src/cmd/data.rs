//! `axia data import | list | gaps | resample`.

use std::path::PathBuf;

use anyhow::Context;
use axia_adapters::csv_import::{ImportFormat, ImportOptions, SourceTz, read_bars};
use axia_application::{DataError, DataService};
use axia_domain::ports::WriteSummary;
use axia_domain::{OhlcvSeries, SeriesKey, TimeRange};
use chrono::{Datelike, NaiveDate, SecondsFormat};
use serde_json::json;

use crate::cli::{DataCommand, ImportArgs, ResampleArgs};
use crate::error::{CliError, CliResult, UsageContext};
use crate::progress;
use crate::timearg::parse_utc;
use crate::wiring::{App, series_key, symbol, timeframe};

/// Runs a `data` subcommand.
///
/// # Errors
/// Usage errors for bad arguments, [`CliError::Failed`] when the operation fails.
pub async fn run(app: &App, command: DataCommand) -> CliResult {
    let service = DataService::new(app.history.clone());
    match command {
        DataCommand::Import(args) => import(&service, args).await,
        DataCommand::List { json } => list(&service, json).await,
        DataCommand::Gaps { symbol, timeframe, json } => gaps(&service, &series_key(&symbol, &timeframe)?, json).await,
        DataCommand::Resample(args) => resample(&service, args).await,
    }
}

async fn import(service: &DataService, args: ImportArgs) -> CliResult {
    let key = series_key(&args.symbol, &args.timeframe)?;
    let format = args.format.parse::<ImportFormat>().map_err(|e| anyhow::anyhow!("--format: {e}")).usage()?;
    let tz = args.tz.parse::<SourceTz>().map_err(|e| anyhow::anyhow!("--tz: {e}")).usage()?;
    let options = ImportOptions { format, tz };
    let path: PathBuf = args.file.clone();
    let parse_key = key.clone();
    let series = tokio::task::spawn_blocking(move || read_bars(&path, &parse_key, &options))
        .await
        .context("import task panicked")?
        .map_err(|e| CliError::Failed(anyhow::anyhow!("refused {e}; nothing was stored")))?;
    if series.is_empty() {
        return Err(CliError::Failed(anyhow::anyhow!(
            "{}: no bars in the file; nothing was stored",
            args.file.display()
        )));
    }
    let chunks = month_chunks(&series);
    let bar = progress::bar(chunks.len() as u64, "import");
    let mut total = WriteSummary::default();
    for chunk in &chunks {
        bar.set_message(chunk.first().map(|b| b.open_time().format("%Y-%m").to_string()).unwrap_or_default());
        total.absorb(service.store(chunk).await.map_err(anyhow::Error::from)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let summary = json!({
        "file": args.file.display().to_string(),
        "series": key.to_string(),
        "rows": series.len(),
        "first": series.first().map(|b| b.open_time().to_rfc3339_opts(SecondsFormat::Secs, true)),
        "last": series.last().map(|b| b.open_time().to_rfc3339_opts(SecondsFormat::Secs, true)),
        "written": total,
    });
    tracing::info!(summary = %summary, "import finished");
    println!(
        "imported {} bars of {key} from {}: {} new, {} updated, {} unchanged",
        series.len(),
        args.file.display(),
        total.inserted,
        total.updated,
        total.unchanged
    );
    Ok(())
}

/// Splits a series into calendar months (UTC) so long imports can show progress.
fn month_chunks(series: &OhlcvSeries) -> Vec<OhlcvSeries> {
    let mut chunks = Vec::new();
    let (Some(first), Some(last)) = (series.first(), series.last()) else { return chunks };
    let mut month = NaiveDate::from_ymd_opt(first.open_time().year(), first.open_time().month(), 1).unwrap_or_default();
    while month.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() <= last.open_time() {
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX);
        let start = month.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let end = next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        if let Ok(range) = TimeRange::new(start, end) {
            let chunk = series.slice(range);
            if !chunk.is_empty() {
                chunks.push(chunk);
            }
        }
        month = next;
    }
    chunks
}

async fn list(service: &DataService, as_json: bool) -> CliResult {
    let rows = service.list(true).await.map_err(anyhow::Error::from)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows).context("serialising the listing")?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no data stored");
        return Ok(());
    }
    println!("{:<10} {:<4} {:<21} {:<21} {:>9} {:>5}", "symbol", "tf", "first", "last", "rows", "gaps");
    for r in rows {
        println!(
            "{:<10} {:<4} {:<21} {:<21} {:>9} {:>5}",
            r.symbol,
            r.timeframe,
            r.first.to_rfc3339_opts(SecondsFormat::Secs, true),
            r.last.to_rfc3339_opts(SecondsFormat::Secs, true),
            r.rows,
            r.gaps.map_or_else(|| "-".to_owned(), |g| g.to_string())
        );
    }
    Ok(())
}

async fn gaps(service: &DataService, key: &SeriesKey, as_json: bool) -> CliResult {
    let gaps = match service.gaps(key).await {
        Ok(g) => g,
        Err(e @ DataError::Empty(_)) => return Err(CliError::Failed(e.into())),
        Err(e) => return Err(CliError::Failed(e.into())),
    };
    if as_json {
        let items: Vec<_> = gaps
            .iter()
            .map(|g| {
                json!({
                    "start": g.start.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "end": g.end.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "missing_bars": g.missing_bars,
                })
            })
            .collect();
        println!("{}", json!({"series": key.to_string(), "gaps": items}));
        return Ok(());
    }
    println!("{key}: {} gap(s) (regular market closures are not gaps)", gaps.len());
    for g in gaps {
        let missing = g.missing_bars.map_or_else(String::new, |n| format!("  {n} bar(s) missing"));
        println!(
            "  {} .. {}{missing}",
            g.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            g.end.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }
    Ok(())
}

async fn resample(service: &DataService, args: ResampleArgs) -> CliResult {
    let sym = symbol(&args.symbol)?;
    let (from, to) = (timeframe(&args.from)?, timeframe(&args.to)?);
    if !from.can_resample_to(to) {
        return Err(anyhow::anyhow!("cannot resample {from} to {to}: {to} bars are not made of whole {from} bars"))
            .usage();
    }
    let range = match (args.from_time, args.to_time) {
        (None, None) => None,
        (start, end) => {
            let start = start.as_deref().map(parse_utc).transpose().usage()?.unwrap_or(chrono::DateTime::UNIX_EPOCH);
            let end =
                end.as_deref().map(parse_utc).transpose().usage()?.unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
            Some(TimeRange::new(start, end).usage()?)
        }
    };
    let (series, written) = service.resample(&sym, from, to, range).await.map_err(anyhow::Error::from)?;
    println!(
        "resampled {sym} {from} into {} {to} bars: {} new, {} updated, {} unchanged",
        series.len(),
        written.inserted,
        written.updated,
        written.unchanged
    );
    Ok(())
}
