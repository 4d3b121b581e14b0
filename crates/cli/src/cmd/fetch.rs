//! `axia fetch`: print stored bars of one series.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use axia_application::{DataService, TierRead};
use axia_domain::TimeRange;
use chrono::TimeDelta;
use serde_json::json;

use crate::cli::{BarFormat, FetchArgs, UseCase};
use crate::error::{CliResult, UsageContext};
use crate::output;
use crate::timearg::parse_utc;
use crate::wiring::{App, series_key};

/// Runs the command. Without a range option every stored bar is printed.
///
/// # Errors
/// Usage errors for bad arguments; failures of the storage tier.
pub async fn run(app: &App, args: FetchArgs) -> CliResult {
    let key = series_key(&args.symbol, &args.timeframe)?;
    let now = app.clock.now();
    let range = if let Some(h) = args.hours {
        Some(TimeRange::ending_at(now, TimeDelta::hours(i64::from(h))))
    } else if let Some(d) = args.days {
        Some(TimeRange::ending_at(now, TimeDelta::days(i64::from(d))))
    } else if args.from.is_some() || args.to.is_some() {
        let start = args.from.as_deref().map(parse_utc).transpose().usage()?.unwrap_or(chrono::DateTime::UNIX_EPOCH);
        let end = args.to.as_deref().map(parse_utc).transpose().usage()?.unwrap_or(now);
        Some(TimeRange::new(start, end).usage()?)
    } else {
        None
    };
    let started = Instant::now();
    let (series, tiers) = match range {
        Some(range) if args.use_case != UseCase::Analysis => {
            app.data_service().read_hot_first(&key, range, now).await.map_err(anyhow::Error::from)?
        }
        _ => {
            let series = DataService::new(app.history.clone()).read(&key, range).await.map_err(anyhow::Error::from)?;
            let tier = TierRead { tier: app.history.name().to_owned(), rows: series.len(), error: None };
            (series, vec![tier])
        }
    };
    for t in tiers.iter().filter(|t| t.error.is_some()) {
        tracing::warn!(tier = %t.tier, "degraded: {} (answered from the next tier)", t.error.as_deref().unwrap_or(""));
    }
    let metadata = json!({
        "use_case": format!("{:?}", args.use_case).to_lowercase(),
        "tiers": tiers,
        "latency_ms": started.elapsed().as_secs_f64() * 1e3,
        "rows": series.len(),
    });
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
    if args.format != BarFormat::Json {
        tracing::info!(metadata = %metadata, "fetch metadata");
    }
    Ok(())
}
