//! `axia chart`: render the last N days of one series as a candlestick chart, an interactive
//! HTML page or a PNG image, written whole or not at all.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use axia_domain::ports::MarketDataSource as _;
use axia_domain::{OhlcvSeries, SeriesKey, TimeRange};
use chrono::{DateTime, TimeDelta, Utc};

use crate::chart::{ChartMeta, MAX_SIDE, MIN_SIZE, render_html, render_png};
use crate::cli::{ChartArgs, UseCase};
use crate::error::{CliError, CliResult, UsageContext};
use crate::timearg::parse_utc;
use crate::wiring::{App, series_key};

/// The chart file's format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Png,
}

impl Format {
    fn of(path: &Path) -> anyhow::Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("html" | "htm") => Ok(Self::Html),
            Some("png") => Ok(Self::Png),
            _ => anyhow::bail!(
                "-o {}: the chart format is chosen by the file extension: .html, .htm (interactive page) or .png (image)",
                path.display()
            ),
        }
    }
}

/// What the read says about the bars besides the bars.
#[derive(Debug)]
struct BarsSource {
    /// Per-tier summary, shown small on the chart.
    provider: String,
    /// True when the bars are generated (the configured collector source is synthetic).
    synthetic: bool,
}

/// Runs the command.
///
/// # Errors
/// Usage errors for bad arguments (an unknown extension, a bad range or size); a failure when
/// the range holds no bar, the tiers fail or the file cannot be written.
pub async fn run(app: &App, args: ChartArgs) -> CliResult {
    let format = Format::of(&args.output).usage()?;
    if format == Format::Png
        && (!(MIN_SIZE.0..=MAX_SIDE).contains(&args.width) || !(MIN_SIZE.1..=MAX_SIDE).contains(&args.height))
    {
        return Err(anyhow::anyhow!(
            "--width {} --height {}: a PNG chart is {}x{} to {MAX_SIDE}x{MAX_SIDE} pixels",
            args.width,
            args.height,
            MIN_SIZE.0,
            MIN_SIZE.1
        ))
        .usage();
    }
    let key = series_key(&args.symbol, &args.timeframe)?;
    let range = requested_range(&args, chart_end(app))?;
    let started = Instant::now();
    let (series, source) = read_bars(app, &key, range, args.use_case).await?;
    if series.is_empty() {
        return Err(no_bars(app, &key, range).await);
    }
    let meta = ChartMeta {
        symbol: key.symbol.as_str().to_owned(),
        timeframe: key.timeframe.as_str().to_owned(),
        range,
        synthetic: source.synthetic,
        provider: Some(source.provider),
    };
    let bytes = match format {
        Format::Html => render_html(&series, &meta).into_bytes(),
        Format::Png => render_png(&series, &meta, args.width, args.height).context("rendering the PNG chart")?,
    };
    write_atomically(&args.output, &bytes).with_context(|| format!("writing {}", args.output.display()))?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    let note = format!(
        "chart: wrote {} ({} bars, {} bytes, {elapsed_ms:.0} ms){}",
        args.output.display(),
        series.len(),
        bytes.len(),
        if meta.synthetic { " - SYNTHETIC data" } else { "" }
    );
    tracing::info!(
        target: crate::metrics::SUMMARY_TARGET,
        command = "chart",
        path = %args.output.display(),
        bars = series.len(),
        bytes = bytes.len(),
        elapsed_ms,
        synthetic = meta.synthetic,
        "{note}"
    );
    if !crate::metrics::json_logs() {
        eprintln!("{note}");
    }
    Ok(())
}

/// Reads the bars of `range` for the chart through the unified provider (the chart use case
/// unless `--use-case` says otherwise), and what to say about them.
///
/// # Errors
/// No tier could answer (a failing Redis only degrades to the history tier).
async fn read_bars(
    app: &App,
    key: &SeriesKey,
    range: TimeRange,
    use_case: UseCase,
) -> CliResult<(OhlcvSeries, BarsSource)> {
    let (series, _, line) = super::fetch::read(app, key, range, super::fetch::use_case(use_case)).await?;
    let synthetic = app.source(&app.config.collector.source).is_ok_and(|s| s.is_synthetic());
    Ok((series, BarsSource { provider: line, synthetic }))
}

/// Where "the last N days" end: the market's "now" ([`App::data_clock`]: the wall clock, or
/// the end of the market the configured source replays when that is earlier), as the paper
/// broker and `axia fetch` count.
fn chart_end(app: &App) -> DateTime<Utc> {
    app.data_clock().now()
}

/// `[from, to)`: `--to` or the chart's end, back `--hours` or `--days` unless `--from` is given.
fn requested_range(args: &ChartArgs, end: DateTime<Utc>) -> CliResult<TimeRange> {
    let end = args.to.as_deref().map(parse_utc).transpose().usage()?.unwrap_or(end);
    let start = match (&args.from, args.hours) {
        (Some(from), _) => parse_utc(from).usage()?,
        (None, Some(h)) => end - TimeDelta::hours(i64::from(h)),
        (None, None) => end - TimeDelta::days(i64::from(args.days)),
    };
    if end <= start {
        return Err(anyhow::anyhow!("the range ends ({end}) before it starts ({start})")).usage();
    }
    TimeRange::new(start, end).usage()
}

/// The error for a range without bars, saying what is stored.
async fn no_bars(app: &App, key: &SeriesKey, range: TimeRange) -> CliError {
    let hint = match app.history.coverage(key).await {
        Ok(Some(c)) => format!(
            "stored: {} to {}; pick a range there with --from/--to",
            c.first.format("%Y-%m-%d %H:%M"),
            c.last.format("%Y-%m-%d %H:%M")
        ),
        Ok(None) => format!(
            "nothing is stored: collect first, e.g. `axia collect --symbols {} --timeframes {}`",
            key.symbol, key.timeframe
        ),
        Err(e) => format!("the stored coverage cannot be read: {e}"),
    };
    CliError::Failed(anyhow::anyhow!("no bars of {key} in {range}: nothing to chart, no file written ({hint})"))
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`: readers see
/// the old file or the whole new one, and a failed run leaves nothing behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("the output path names no file"))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("chart.html", Some(Format::Html))]
    #[case("out/Chart.HTM", Some(Format::Html))]
    #[case("chart.png", Some(Format::Png))]
    #[case("chart.pdf", None)]
    #[case("chart", None)]
    fn the_extension_picks_the_format(#[case] path: &str, #[case] format: Option<Format>) {
        assert_eq!(Format::of(Path::new(path)).ok(), format);
    }

    #[test]
    fn a_failed_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing").join("chart.html");
        assert!(write_atomically(&target, b"x").is_err());
        assert!(!target.exists());
        let ok = dir.path().join("chart.html");
        write_atomically(&ok, b"<html>").unwrap();
        assert_eq!(std::fs::read(&ok).unwrap(), b"<html>");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
