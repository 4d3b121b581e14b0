//! `axia collect`: run the collector over symbols × timeframes.

use std::io::IsTerminal;
use std::sync::Arc;

use axia_application::collect::ProgressFn;
use axia_application::{CollectConfig, CollectOhlcvData, CollectRequest, TaskOutcome, TaskResult};
use axia_domain::ports::MarketDataSource;
use chrono::TimeDelta;

use crate::cli::CollectArgs;
use crate::error::{CliError, CliResult, UsageContext};
use crate::metrics::emf::{self, Metric, Unit};
use crate::metrics::{MetricsFormat, SUMMARY_TARGET};
use crate::progress;
use crate::timearg::parse_utc;
use crate::wiring::{App, symbol, timeframe};

/// Runs the command.
///
/// # Errors
/// Usage errors for bad arguments; [`CliError::Failed`] when any task failed.
pub async fn run(app: &App, args: CollectArgs) -> CliResult {
    let cfg = &app.config.collector;
    let symbols = args.symbols.unwrap_or_else(|| cfg.symbols.clone());
    let timeframes = args.timeframes.unwrap_or_else(|| cfg.timeframes.clone());
    let request = CollectRequest {
        symbols: symbols.iter().map(|s| symbol(s)).collect::<CliResult<_>>()?,
        timeframes: timeframes.iter().map(|t| timeframe(t)).collect::<CliResult<_>>()?,
        from: args.from.as_deref().map(parse_utc).transpose().usage()?,
        to: args.to.as_deref().map(parse_utc).transpose().usage()?,
    };
    if let (Some(from), Some(to)) = (request.from, request.to)
        && to <= from
    {
        return Err(anyhow::anyhow!("--to {to} must be after --from {from}")).usage();
    }
    let source = app.source(args.source.as_deref().unwrap_or(&cfg.source))?;
    if source.is_synthetic() {
        tracing::warn!(source = source.name(), "collecting SYNTHETIC bars (generated, not market prices)");
    }
    let config = CollectConfig {
        concurrency: cfg.concurrency,
        initial_lookback: TimeDelta::days(i64::from(cfg.lookback_days)),
        refetch_bars: cfg.refetch_bars,
        max_retries: cfg.max_retries,
        require_hot_tiers: app.config.redis.require,
        ..CollectConfig::default()
    };
    let collector = CollectOhlcvData::new(source, app.history.clone(), app.hot_tiers(), app.clock.clone(), config);
    let bar = progress::bar(request.keys().len() as u64, "collect");
    let tick = bar.clone();
    let on_task: ProgressFn = Arc::new(move |r: &TaskResult| {
        tick.set_message(r.key.to_string());
        tick.inc(1);
    });
    let report = collector.run(&request, Some(on_task)).await;
    bar.finish_and_clear();

    for task in &report.tasks {
        log_task(task);
    }
    let summary = report.summary_json();
    if args.metrics.unwrap_or(cfg.metrics) == MetricsFormat::Emf {
        emit_emf(&report, app.clock.now());
    }
    tracing::info!(target: SUMMARY_TARGET, command = "collect", summary = %summary, "collect finished");
    if args.json || !std::io::stdout().is_terminal() {
        outln!("{summary}");
    } else {
        print_human(&report);
    }
    if report.is_success() {
        Ok(())
    } else {
        let failed: Vec<String> = report.failures().map(|t| t.key.to_string()).collect();
        Err(CliError::Failed(anyhow::anyhow!(
            "{} of {} tasks failed: {}",
            failed.len(),
            report.tasks.len(),
            failed.join(", ")
        )))
    }
}

/// The run's task results as one CloudWatch EMF line (dimension `Command=collect`).
fn emit_emf(report: &axia_application::CollectReport, at: chrono::DateTime<chrono::Utc>) {
    let c = report.counts();
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    emf::emit(
        "collect",
        at,
        &[
            Metric::count("Tasks", count(c.tasks)),
            Metric::count("Stored", count(c.stored)),
            Metric::count("UpToDate", count(c.up_to_date)),
            Metric::count("Failed", count(c.failed)),
            Metric::count("Degraded", count(c.degraded)),
            Metric::count("GapsRemaining", count(c.gaps_remaining)),
            Metric { name: "Duration", unit: Unit::Milliseconds, value: report.elapsed.as_secs_f64() * 1000.0 },
        ],
    );
}

fn log_task(task: &TaskResult) {
    match &task.outcome {
        TaskOutcome::Failed { stage, error, retryable } => {
            tracing::error!(series = %task.key, stage, retryable, "task failed: {error}");
        }
        _ => tracing::debug!(task = %task.to_json(), "task done"),
    }
    for e in &task.source_errors {
        tracing::warn!(series = %task.key, "source failed: {e}");
    }
    for d in &task.degraded {
        tracing::warn!(series = %task.key, "degraded: {d}");
    }
}

fn print_human(report: &axia_application::CollectReport) {
    let label = if report.synthetic { " (SYNTHETIC data, not market prices)" } else { "" };
    outln!("source: {}{label}", report.source);
    for t in &report.tasks {
        let what = match &t.outcome {
            TaskOutcome::Stored { source, fetched, written, gaps, .. } => {
                let mut line = format!(
                    "{fetched:>6} fetched  {:>6} new  {:>4} updated  {:>6} unchanged  from {source}",
                    written.inserted, written.updated, written.unchanged
                );
                if gaps.found > 0 {
                    line.push_str(&format!(
                        "  ({} gaps: {} bars re-requested, {} filled, {} gaps remaining)",
                        gaps.found,
                        gaps.bars_requested,
                        gaps.bars_filled,
                        gaps.remaining.len()
                    ));
                }
                line
            }
            TaskOutcome::UpToDate => "up to date".to_owned(),
            TaskOutcome::Failed { stage, error, .. } => format!("FAILED ({stage}): {error}"),
        };
        outln!("  {:<14} {what}", t.key.to_string());
        if !t.failed() {
            for e in &t.source_errors {
                outln!("  {:<14}   (fell back: {e})", "");
            }
        }
    }
    let c = report.counts();
    let served: Vec<String> = report.served_by().iter().map(|(s, n)| format!("{n} by {s}")).collect();
    outln!(
        "{} tasks: {} stored ({}), {} up to date, {} failed, {} degraded, {} gaps remaining in {:.2?}",
        c.tasks,
        c.stored,
        if served.is_empty() { "none".to_owned() } else { served.join(", ") },
        c.up_to_date,
        c.failed,
        c.degraded,
        c.gaps_remaining,
        report.elapsed
    );
}
