//! Rendering bars and reports: table, CSV (`open_time_utc,open,high,low,close,volume`) and JSON.

use std::fmt;
use std::io::{self, Write};

use axia_domain::{Bar, OhlcvSeries};
use chrono::SecondsFormat;
use serde_json::{Value, json};

/// `println!` for command output: a reader that stopped early (`| head`) ends the output
/// quietly instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}

/// Writes one line to stdout; a closed pipe is not an error (see [`outln!`]).
pub fn write_line(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}")
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        tracing::warn!("cannot write to stdout: {e}");
    }
}

/// The CSV header of bar output.
pub const CSV_HEADER: &str = "open_time_utc,open,high,low,close,volume";

/// A price as the shortest text that reads back as the same `f64`, always with a decimal point.
#[must_use]
pub fn price(p: f64) -> String {
    let s = p.to_string();
    if s.contains(['.', 'e', 'E']) || !p.is_finite() { s } else { format!("{s}.0") }
}

/// ISO-8601 UTC with a `Z`.
#[must_use]
pub fn time(bar: &Bar) -> String {
    bar.open_time().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The text fields of one bar, in `CSV_HEADER` order.
fn fields(b: &Bar) -> [String; 6] {
    [time(b), price(b.open()), price(b.high()), price(b.low()), price(b.close()), b.volume().to_string()]
}

/// Writes the series as CSV.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_csv(out: &mut impl Write, series: &OhlcvSeries) -> io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for b in series.bars() {
        writeln!(out, "{}", fields(b).join(","))?;
    }
    Ok(())
}

/// Writes the series as an aligned table.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_table(out: &mut impl Write, series: &OhlcvSeries) -> io::Result<()> {
    let row = |out: &mut dyn Write, f: &[&str]| {
        writeln!(out, "{:<20}  {:>12}  {:>12}  {:>12}  {:>12}  {:>10}", f[0], f[1], f[2], f[3], f[4], f[5])
    };
    row(out, &CSV_HEADER.split(',').collect::<Vec<_>>())?;
    for b in series.bars() {
        let f = fields(b);
        row(out, &f.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    Ok(())
}

/// The series as a JSON document with `metadata`.
#[must_use]
pub fn series_json(series: &OhlcvSeries, metadata: &Value) -> Value {
    let bars: Vec<Value> = series
        .bars()
        .iter()
        .map(|b| {
            json!({
                "open_time_utc": time(b), "open": b.open(), "high": b.high(), "low": b.low(),
                "close": b.close(), "volume": b.volume(),
            })
        })
        .collect();
    json!({
        "symbol": series.key().symbol.as_str(),
        "timeframe": series.key().timeframe.as_str(),
        "rows": series.len(),
        "bars": bars,
        "metadata": metadata,
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(1.0716, "1.0716")]
    #[case(150.0, "150.0")]
    #[case(0.1 + 0.2, "0.30000000000000004")]
    #[case(1.07219, "1.07219")]
    fn prices_round_trip(#[case] p: f64, #[case] text: &str) {
        assert_eq!(price(p), text);
        assert_eq!(text.parse::<f64>().unwrap(), p);
    }
}
