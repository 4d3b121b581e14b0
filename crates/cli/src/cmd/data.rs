//! `axia data import | list | gaps | resample | verify | compact | warmup` (verify in
//! [`super::verify`], warmup in [`super::warmup`]).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use axia_adapters::csv_import::{ImportFormat, ImportOptions, SourceTz, read_bars};
use axia_application::{DataError, DataService};
use axia_domain::ports::WriteSummary;
use axia_domain::{OhlcvSeries, SeriesKey, TimeRange};

use chrono::{Datelike, NaiveDate, SecondsFormat, TimeDelta};
use serde_json::json;

use crate::cli::{DataCommand, ImportArgs, ResampleArgs};
use crate::error::{CliError, CliResult, UsageContext};
use crate::metrics::SUMMARY_TARGET;
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
        DataCommand::Verify(args) => super::verify::run(app, args).await,
        DataCommand::Compact { older_than, json } => compact(app, &older_than, json).await,
        DataCommand::Warmup { symbols, timeframes, json } => {
            super::warmup::run(app, symbols.as_deref(), timeframes.as_deref(), json).await
        }
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
    tracing::info!(target: SUMMARY_TARGET, command = "data import", summary = %summary, "import finished");
    outln!(
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
        outln!("{}", serde_json::to_string_pretty(&rows).context("serialising the listing")?);
        return Ok(());
    }
    if rows.is_empty() {
        outln!("no data stored");
        return Ok(());
    }
    outln!("{:<10} {:<4} {:<21} {:<21} {:>9} {:>5}", "symbol", "tf", "first", "last", "rows", "gaps");
    for r in rows {
        outln!(
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
        outln!("{}", json!({"series": key.to_string(), "gaps": items}));
        return Ok(());
    }
    outln!("{key}: {} gap(s) (regular market closures are not gaps)", gaps.len());
    for g in gaps {
        let missing = g.missing_bars.map_or_else(String::new, |n| format!("  {n} bar(s) missing"));
        outln!(
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
    outln!(
        "resampled {sym} {from} into {} {to} bars: {} new, {} updated, {} unchanged",
        series.len(),
        written.inserted,
        written.updated,
        written.unchanged
    );
    Ok(())
}

/// `7d`, `36h`, `90m` as a duration.
fn parse_age(text: &str) -> anyhow::Result<TimeDelta> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("--older-than {text:?}: expected a number and a unit: 7d, 36h, 90m"))?;
    match unit {
        "d" => Ok(TimeDelta::days(n)),
        "h" => Ok(TimeDelta::hours(n)),
        "m" => Ok(TimeDelta::minutes(n)),
        _ => anyhow::bail!("--older-than {text:?}: the unit must be d, h or m (7d, 36h, 90m)"),
    }
}

async fn compact(app: &App, older_than: &str, as_json: bool) -> CliResult {
    let older_than = parse_age(older_than).usage()?;
    let report = app.parquet.compact(older_than, app.clock.now()).await.map_err(anyhow::Error::from)?;
    tracing::info!(
        target: SUMMARY_TARGET,
        command = "data compact",
        summary = %serde_json::to_value(&report).unwrap_or_default(),
        "compact finished"
    );
    if as_json || !std::io::stdout().is_terminal() {
        outln!("{}", serde_json::to_string(&report).context("serialising the report")?);
    } else {
        outln!(
            "compacted {} series: {} archives written, {} daily objects deleted, {} bars, {} -> {} bytes (cutoff {})",
            report.series,
            report.archives_written,
            report.originals_deleted,
            report.bars,
            report.bytes_before,
            report.bytes_after,
            report.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        if report.orphans_kept > 0 {
            outln!("{} unlisted daily objects kept (see axia data verify)", report.orphans_kept);
        }
    }
    Ok(())
}

#[cfg(test)]
mod age_tests {
    use super::*;

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("7d").unwrap(), TimeDelta::days(7));
        assert_eq!(parse_age("36h").unwrap(), TimeDelta::hours(36));
        assert_eq!(parse_age(" 90m ").unwrap(), TimeDelta::minutes(90));
        assert!(parse_age("7").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("7w").is_err());
    }
}
