//! Bar files: the plain CSV (`timestamp,open,high,low,close,volume`), the common pandas export
//! (an unnamed index column holding the time, then `Open,High,Low,Close,Volume`) and the
//! MetaTrader 5 export (tab-separated `<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>`).
//!
//! Import is all or nothing: the first bad row aborts the whole file with an [`ImportError`]
//! naming the file and the 1-based line (the header is line 1).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use axia_domain::{Bar, BarError, MarketCalendar, OhlcvSeries, SeriesKey, Timeframe};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use thiserror::Error;

/// File format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportFormat {
    /// Detect from the header.
    #[default]
    Auto,
    /// Comma-separated with a header (plain or pandas export).
    Csv,
    /// MetaTrader 5 export.
    Mt5,
}

impl FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "csv" => Ok(Self::Csv),
            "mt5" | "metatrader" => Ok(Self::Mt5),
            other => Err(format!("unknown format {other:?} (expected auto, csv or mt5)")),
        }
    }
}

/// The time zone of time stamps that carry no offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceTz {
    /// UTC.
    #[default]
    Utc,
    /// The New York close clock (New York local time + 7 h), as many MT5 servers use.
    NyClose,
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

impl FromStr for SourceTz {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        if matches!(lower.as_str(), "utc" | "z" | "gmt") {
            return Ok(Self::Utc);
        }
        if matches!(lower.as_str(), "ny-close" | "ny_close" | "nyclose") {
            return Ok(Self::NyClose);
        }
        let offset = lower.strip_prefix("utc").or_else(|| lower.strip_prefix("gmt")).unwrap_or(&lower);
        parse_offset(offset).map(Self::Fixed).ok_or_else(|| {
            format!("unknown time zone {t:?} (expected UTC, ny-close, or an offset like +02:00 or UTC+2)")
        })
    }
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if rest.len() == 4 => (rest[..2].parse().ok()?, rest[2..].parse().ok()?),
        None => (rest.parse().ok()?, 0),
    };
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// How to read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOptions {
    /// File format.
    pub format: ImportFormat,
    /// Time zone of times without an offset.
    pub tz: SourceTz,
}

/// Why a file was refused; nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Error)]
pub struct ImportError {
    /// The file (as given).
    pub file: String,
    /// 1-based line, when one line is at fault.
    pub line: Option<u64>,
    /// What is wrong.
    pub kind: ImportErrorKind,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

/// The causes of an [`ImportError`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ImportErrorKind {
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// No header or no rows.
    #[error("the file is empty (expected a header and at least one bar)")]
    Empty,
    /// A required column is absent.
    #[error("no {column} column in the header {header:?} (expected {expected})")]
    MissingColumn {
        /// The missing column.
        column: &'static str,
        /// The header read.
        header: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A row that is not valid CSV or has too few fields.
    #[error("malformed row: {0}")]
    Malformed(String),
    /// A field that cannot be read.
    #[error("{column} {value:?}: {detail}")]
    BadField {
        /// Column.
        column: &'static str,
        /// Text found.
        value: String,
        /// What was expected.
        detail: String,
    },
    /// Prices that break the bar rules.
    #[error("{0}")]
    InvalidBar(BarError),
    /// A time that is not the open of a bar of the timeframe.
    #[error("{time} is not the open of a {timeframe} bar on the {calendar:?} calendar{hint}")]
    Misaligned {
        /// The time (UTC).
        time: DateTime<Utc>,
        /// Series timeframe.
        timeframe: Timeframe,
        /// Calendar used.
        calendar: MarketCalendar,
        /// A hint about `--tz`.
        hint: &'static str,
    },
    /// The same open time twice.
    #[error("duplicate bar at {time} (first on line {first_line})")]
    Duplicate {
        /// The time.
        time: DateTime<Utc>,
        /// Where it appeared first.
        first_line: u64,
    },
    /// Rows not in ascending time order.
    #[error("bar at {time} comes after a bar at {previous} (rows must be in ascending time order)")]
    OutOfOrder {
        /// The offending time.
        time: DateTime<Utc>,
        /// The previous row's time.
        previous: DateTime<Utc>,
    },
}

/// Reads and validates a bar file.
///
/// # Errors
/// [`ImportError`] naming the file and, for a bad row, its line.
pub fn read_bars(path: &Path, key: &SeriesKey, options: &ImportOptions) -> Result<OhlcvSeries, ImportError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ImportError {
        file: name.clone(),
        line: None,
        kind: ImportErrorKind::Unreadable(e.to_string()),
    })?;
    parse_bars(std::io::BufReader::new(file), &name, key, options)
}

/// Columns found in the header.
#[derive(Debug, Default)]
struct Columns {
    time: Option<usize>,
    date: Option<usize>,
    clock: Option<usize>,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: Option<usize>,
    volume: Option<usize>,
    real_volume: Option<usize>,
    spread: Option<usize>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord, mt5: bool) -> Self {
        let mut c = Self::default();
        for (i, raw) in header.iter().enumerate() {
            let name = raw.trim().trim_start_matches('\u{feff}').trim_matches(['<', '>']).to_ascii_lowercase();
            let slot = match name.as_str() {
                "" if i == 0 => &mut c.time,
                "timestamp" | "datetime" | "open_time" | "open_time_utc" | "date_time" => &mut c.time,
                "date" => &mut c.date,
                "time" => &mut c.clock,
                "open" => &mut c.open,
                "high" => &mut c.high,
                "low" => &mut c.low,
                "close" => &mut c.close,
                "tickvol" | "tick_volume" => &mut c.volume,
                "volume" if !mt5 => &mut c.volume,
                "vol" | "volume" | "real_volume" => &mut c.real_volume,
                "spread" => &mut c.spread,
                _ => continue,
            };
            slot.get_or_insert(i);
        }
        // A plain file may call its only time column "time" or "date".
        if c.time.is_none() && !(c.date.is_some() && c.clock.is_some()) {
            c.time = c.date.or(c.clock);
        }
        c
    }
}

/// Reads and validates bars from `reader`; `source_name` names it in errors.
///
/// # Errors
/// [`ImportError`] naming `source_name` and, for a bad row, its line.
pub fn parse_bars(
    mut reader: impl Read,
    source_name: &str,
    key: &SeriesKey,
    options: &ImportOptions,
) -> Result<OhlcvSeries, ImportError> {
    let err = |line: Option<u64>, kind| ImportError { file: source_name.to_owned(), line, kind };
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|e| err(None, ImportErrorKind::Unreadable(e.to_string())))?;
    let first_line = text.lines().find(|l| !l.trim().is_empty()).ok_or_else(|| err(None, ImportErrorKind::Empty))?;
    let mt5 = match options.format {
        ImportFormat::Mt5 => true,
        ImportFormat::Csv => false,
        ImportFormat::Auto => first_line.to_ascii_uppercase().contains("<DATE>"),
    };
    let delimiter = if first_line.contains('\t') {
        b'\t'
    } else if first_line.contains(';') && !first_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = csv.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(err(Some(1), ImportErrorKind::Malformed(e.to_string()))),
        None => return Err(err(None, ImportErrorKind::Empty)),
    };
    let cols = Columns::from_header(&header, mt5);
    let header_text = header.iter().collect::<Vec<_>>().join(",");
    let expected = if mt5 {
        "<DATE> [<TIME>] <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL>"
    } else {
        "timestamp,open,high,low,close,volume (or the pandas export: ,Open,High,Low,Close,Volume)"
    };
    let need = |col: Option<usize>, column: &'static str| {
        col.ok_or_else(|| {
            err(Some(1), ImportErrorKind::MissingColumn { column, header: header_text.clone(), expected })
        })
    };
    if cols.time.is_none() && cols.date.is_none() {
        return Err(err(
            Some(1),
            ImportErrorKind::MissingColumn { column: "time", header: header_text.clone(), expected },
        ));
    }
    let (open, high, low, close) =
        (need(cols.open, "open")?, need(cols.high, "high")?, need(cols.low, "low")?, need(cols.close, "close")?);
    let volume = need(cols.volume, "volume")?;

    let calendar = MarketCalendar::default_for(&key.symbol);
    let mut bars: Vec<Bar> = Vec::new();
    let mut last_line = 0_u64;
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map(csv::Position::line);
            err(line, ImportErrorKind::Malformed(e.to_string()))
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let field = |i: usize, column: &'static str| {
            record.get(i).filter(|v| !v.is_empty()).ok_or_else(|| {
                err(Some(line), ImportErrorKind::Malformed(format!("no value for {column} (field {})", i + 1)))
            })
        };
        let time_text = match (cols.time, cols.date, cols.clock) {
            (Some(t), _, _) => field(t, "time")?.to_owned(),
            (None, Some(d), Some(c)) => format!("{} {}", field(d, "date")?, field(c, "time")?),
            (None, Some(d), None) => field(d, "date")?.to_owned(),
            (None, None, _) => unreachable!("checked above"),
        };
        let time = parse_time(&time_text, options.tz).map_err(|detail| {
            err(Some(line), ImportErrorKind::BadField { column: "time", value: time_text.clone(), detail })
        })?;
        let price = |i: usize, column: &'static str| -> Result<f64, ImportError> {
            let v = field(i, column)?;
            v.parse::<f64>().map_err(|_| {
                err(
                    Some(line),
                    ImportErrorKind::BadField { column, value: v.to_owned(), detail: "not a number".into() },
                )
            })
        };
        let (o, h, l, c) = (price(open, "open")?, price(high, "high")?, price(low, "low")?, price(close, "close")?);
        let count = |i: usize, column: &'static str| -> Result<u64, ImportError> {
            let v = field(i, column)?;
            parse_count(v)
                .map_err(|detail| err(Some(line), ImportErrorKind::BadField { column, value: v.to_owned(), detail }))
        };
        let vol = count(volume, "volume")?;
        let real = cols.real_volume.map(|i| count(i, "real volume")).transpose()?.filter(|v| *v > 0);
        let spread = cols.spread.map(|i| count(i, "spread")).transpose()?.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
        let bar = Bar::new(time, o, h, l, c, vol)
            .map_err(|e| err(Some(line), ImportErrorKind::InvalidBar(e)))?
            .with_spread(spread)
            .with_real_volume(real);
        if !calendar.is_aligned(time, key.timeframe) {
            let hint = if matches!(key.timeframe, Timeframe::H4 | Timeframe::D1 | Timeframe::W1 | Timeframe::MN1)
                && calendar == MarketCalendar::Fx
                && options.tz != SourceTz::NyClose
            {
                " (FX bars of H4 and above open at 17:00 New York; if the file is in server time, try --tz ny-close)"
            } else {
                ""
            };
            return Err(err(
                Some(line),
                ImportErrorKind::Misaligned { time, timeframe: key.timeframe, calendar, hint },
            ));
        }
        if let Some(prev) = bars.last() {
            if prev.open_time() == time {
                return Err(err(Some(line), ImportErrorKind::Duplicate { time, first_line: last_line }));
            }
            if prev.open_time() > time {
                return Err(err(Some(line), ImportErrorKind::OutOfOrder { time, previous: prev.open_time() }));
            }
        }
        bars.push(bar);
        last_line = line;
    }
    if bars.is_empty() {
        return Err(err(None, ImportErrorKind::Empty));
    }
    OhlcvSeries::with_calendar(key.clone(), calendar, bars)
        .map_err(|e| err(None, ImportErrorKind::Malformed(e.to_string())))
}

/// Parses a time stamp; an explicit offset wins over `tz`.
fn parse_time(text: &str, tz: SourceTz) -> Result<DateTime<Utc>, String> {
    let s = text.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().map_err(|_| "epoch out of range".to_owned())?;
        let t = if n >= 100_000_000_000 { DateTime::from_timestamp_millis(n) } else { DateTime::from_timestamp(n, 0) };
        return t.ok_or_else(|| "epoch out of range".to_owned());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%:z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y.%m.%d %H:%M:%S",
        "%Y.%m.%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ]
    .iter()
    .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
    .or_else(|| {
        ["%Y-%m-%d", "%Y.%m.%d", "%Y/%m/%d"]
            .iter()
            .find_map(|fmt| NaiveDate::parse_from_str(s, fmt).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .ok_or_else(|| {
        "not a time (expected ISO 8601 such as 2025-01-06T09:00:00Z, 2025.01.06 09:00, or epoch seconds)".to_owned()
    })?;
    Ok(match tz {
        SourceTz::Utc => naive.and_utc(),
        SourceTz::NyClose => MarketCalendar::Fx.from_local(naive),
        SourceTz::Fixed(offset) => offset
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| "not representable in the given offset".to_owned())?,
    })
}

/// A non-negative integer count; `1413.0` is accepted.
fn parse_count(s: &str) -> Result<u64, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let f: f64 = s.parse().map_err(|_| "not a number".to_owned())?;
    if !f.is_finite() {
        return Err("not a finite number".into());
    }
    if f < 0.0 {
        return Err("negative".into());
    }
    if f.fract() != 0.0 || f > 1e18 {
        return Err("not a whole number".into());
    }
    // Checked above: finite, non-negative, integral and below 1e18, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(f as u64)
}

#[cfg(test)]
mod tests;
