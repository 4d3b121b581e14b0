//! `axia fetch`: bars of one series through the unified provider, with the provider's metadata
//! (which tier served which part, latency, fallbacks, errors) and its cumulative stats.

use std::io::Write;

use anyhow::Context;
use axia_application::DataService;
use axia_application::provider::UseCase as ProviderUseCase;
use axia_domain::{SeriesKey, TimeRange};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::cli::{BarFormat, FetchArgs, UseCase};
use crate::error::{CliError, CliResult, UsageContext};
use crate::output;
use crate::timearg::parse_utc;
use crate::wiring::{App, series_key};

/// The provider's use case for the command-line one.
pub const fn use_case(u: UseCase) -> ProviderUseCase {
    match u {
        UseCase::Trading => ProviderUseCase::Trading,
        UseCase::Chart => ProviderUseCase::Chart,
        UseCase::Analysis => ProviderUseCase::Analysis,
    }
}

/// The range of `--hours` / `--days` / `--from` `--to`, counted back from `now`; `None` when
/// none is given.
///
/// # Errors
/// Unparseable times or an inverted range (usage errors).
pub fn range_of(
    hours: Option<u32>,
    days: Option<u32>,
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> CliResult<Option<TimeRange>> {
    Ok(if let Some(h) = hours {
        Some(TimeRange::ending_at(now, TimeDelta::hours(i64::from(h))))
    } else if let Some(d) = days {
        Some(TimeRange::ending_at(now, TimeDelta::days(i64::from(d))))
    } else if from.is_some() || to.is_some() {
        let start = from.map(parse_utc).transpose().usage()?.unwrap_or(DateTime::UNIX_EPOCH);
        let end = to.map(parse_utc).transpose().usage()?.unwrap_or(now);
        Some(TimeRange::new(start, end).usage()?)
    } else {
        None
    })
}

/// Reads `range` of `key` through the provider; returns the bars and the metadata as JSON
/// (this call's metadata and the cumulative stats). Shared by `fetch` and `chart`.
///
/// # Errors
/// [`CliError::Failed`] when no tier could answer.
pub async fn read(
    app: &App,
    key: &SeriesKey,
    range: TimeRange,
    use_case: ProviderUseCase,
) -> CliResult<(axia_domain::OhlcvSeries, serde_json::Value, String)> {
    let provider = app.provider()?;
    let answer = provider.get_data(key, range, use_case).await;
    let totals = app.record_provider_stats();
    let (series, meta) = answer.map_err(|e| CliError::Failed(anyhow::Error::from(e)))?;
    for a in meta.attempts.iter().filter(|a| a.error.is_some()) {
        tracing::warn!(tier = %a.tier, "degraded: {} (answered from the next tier)", a.error.as_deref().unwrap_or(""));
    }
    let line = meta.one_line();
    let metadata = json!({
        "provider": meta,
        "stats": totals.map(|t| t.summary()),
    });
    Ok((series, metadata, line))
}

/// Runs the command. Without a range option every stored bar is printed (from the history tier).
///
/// # Errors
/// Usage errors for bad arguments; failures of the storage tiers.
pub async fn run(app: &App, args: FetchArgs) -> CliResult {
    let key = series_key(&args.symbol, &args.timeframe)?;
    let now = app.data_clock().now();
    let range = range_of(args.hours, args.days, args.from.as_deref(), args.to.as_deref(), now)?;
    let (series, metadata, line) = match range {
        Some(range) => read(app, &key, range, use_case(args.use_case)).await?,
        None => {
            let started = std::time::Instant::now();
            let series = DataService::new(app.history.clone()).read(&key, None).await.map_err(anyhow::Error::from)?;
            let line = format!("{} bars from history (every stored bar)", series.len());
            let metadata = json!({
                "history": { "tier": app.history.name(), "rows": series.len(),
                             "latency_us": u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX) },
            });
            (series, metadata, line)
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.format {
        BarFormat::Csv => output::write_csv(&mut out, &series),
        BarFormat::Table => output::write_table(&mut out, &series),
        BarFormat::Json => serde_json::to_writer(&mut out, &output::series_json(&series, &metadata))
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
    }
    .and_then(|()| out.flush());
    match written {
        // A reader that stopped early (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other.context("writing output")?,
    }
    if args.format != BarFormat::Json && !crate::metrics::json_logs() {
        eprintln!("fetch {key}: {line}");
    }
    tracing::info!(
        target: crate::metrics::SUMMARY_TARGET,
        command = "fetch",
        series = %key,
        rows = series.len(),
        metadata = %metadata,
        "fetch {key}: {line}"
    );
    Ok(())
}
