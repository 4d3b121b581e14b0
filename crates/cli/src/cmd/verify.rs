//! `axia data verify [--date YYYY-MM-DD] [--repair] [--json]`: prints the report of
//! [`ParquetOhlcvRepository::verify`](axia_adapters::parquet::ParquetOhlcvRepository::verify),
//! one line per problem naming the object, and exits 1 when any problem is left.
//!
//! Text output (stdout):
//!
//! ```text
//! repaired s3://b/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-09-01/data.parquet: added to the manifest
//! s3://b/ohlcv/symbol=EURUSD/timeframe=H1/month=2025-08/data.parquet: md5 … does not match the manifest's …
//! date 2025-09-01: 18 series cover it, 14 hold bars, 4 had no session then
//! FAILED s3://b: 1 problem(s); 90 manifest entries, 90 objects, 90 HEAD(s), 0 download(s)
//! ```

use anyhow::anyhow;
use axia_adapters::parquet::{VerifyOptions, VerifyReport};
use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::cli::VerifyArgs;
use crate::error::{CliError, CliResult, UsageContext};
use crate::wiring::App;

/// Runs the command.
///
/// # Errors
/// A malformed `--date` (usage); [`CliError::Failed`] when a problem is left or the store
/// cannot be read.
pub async fn run(app: &App, args: VerifyArgs) -> CliResult {
    let date = args
        .date
        .as_deref()
        .map(|d| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|e| anyhow!("--date {d:?}: expected YYYY-MM-DD ({e})"))
        })
        .transpose()
        .usage()?;
    let report = app.parquet.verify(&VerifyOptions { date, repair: args.repair }).await.map_err(anyhow::Error::from)?;
    tracing::info!(
        target: crate::metrics::SUMMARY_TARGET,
        command = "data verify",
        ok = report.is_ok(),
        problems = report.problems.len(),
        repaired = report.repaired.len(),
        entries = report.entries,
        objects = report.objects,
        location = %report.location,
        "verify finished"
    );
    if args.json {
        outln!("{}", as_json(&report));
    } else {
        print_text(&report);
    }
    if report.is_ok() {
        return Ok(());
    }
    Err(CliError::Failed(anyhow!(
        "verify found {} problem(s) in {}: each is named on its own line",
        report.problems.len(),
        report.location
    )))
}

fn url(report: &VerifyReport, key: &str) -> String {
    format!("{}/{key}", report.location)
}

fn print_text(report: &VerifyReport) {
    for r in &report.repaired {
        outln!("repaired {}: {}", url(report, &r.key), r.action);
    }
    for p in &report.problems {
        outln!("{}: {}", url(report, &p.key), p.kind);
    }
    if let Some(d) = &report.date {
        outln!(
            "date {}: {} series cover it, {} hold bars, {} had no session then",
            d.date,
            d.series,
            d.with_bars,
            d.closed
        );
    }
    let (status, problems) = if report.is_ok() {
        ("OK", String::new())
    } else {
        ("FAILED", format!("{} problem(s); ", report.problems.len()))
    };
    outln!(
        "{status} {}: {problems}{} manifest entries, {} objects, {} HEAD(s), {} download(s)",
        report.location,
        report.entries,
        report.objects,
        report.heads,
        report.downloads
    );
}

/// The report with `ok`, and every problem with its `url` and `message`.
fn as_json(report: &VerifyReport) -> Value {
    let problems: Vec<Value> = report
        .problems
        .iter()
        .map(|p| {
            let mut value = json!(p);
            if let Value::Object(fields) = &mut value {
                fields.insert("url".into(), json!(url(report, &p.key)));
                fields.insert("message".into(), json!(p.kind.to_string()));
            }
            value
        })
        .collect();
    json!({
        "ok": report.is_ok(),
        "location": report.location,
        "manifest": url(report, &report.manifest_key),
        "entries": report.entries,
        "objects": report.objects,
        "heads": report.heads,
        "downloads": report.downloads,
        "date": report.date,
        "problems": problems,
        "repaired": report.repaired,
    })
}
