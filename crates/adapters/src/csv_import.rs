//! Bar files into a validated [`OhlcvSeries`]: the plain CSV (`timestamp,open,high,low,close,volume`),
//! the common pandas export (an unnamed index column holding the time, then
//! `Open,High,Low,Close,Volume`) and the MetaTrader 5 export (tab-separated
//! `<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>`), detected from the header.
//!
//! Import is all or nothing: the first bad row aborts the whole file with an [`ImportError`]
//! naming the file and the 1-based physical line (the header is line 1). Every row goes through
//! [`Bar::new`], must open a bar of the timeframe on the symbol's calendar, and must come after
//! the previous row.

mod header;
mod time;

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use axia_domain::{Bar, BarError, MarketCalendar, OhlcvSeries, SeriesKey, Timeframe};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, Utc};
use thiserror::Error;

use self::header::{Columns, TimeColumns};

/// The format of a bar file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportFormat {
    /// Detect from the header: `<DATE>` means MetaTrader 5, anything else a CSV header.
    #[default]
    Auto,
    /// Comma-separated (or semicolon) with a header: the plain format or the pandas export.
    Csv,
    /// The MetaTrader 5 export.
    Mt5,
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Csv => "csv",
            Self::Mt5 => "mt5",
        })
    }
}

impl FromStr for ImportFormat {
    type Err = ParseOptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "csv" => Ok(Self::Csv),
            "mt5" | "metatrader" | "metatrader5" => Ok(Self::Mt5),
            _ => Err(ParseOptionError { option: "format", value: s.to_owned(), expected: "auto, csv or mt5" }),
        }
    }
}

/// The time zone of time stamps that carry no offset of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceTz {
    /// UTC.
    #[default]
    Utc,
    /// The New York close clock (New York local time + 7 h, DST-aware), as many MetaTrader
    /// servers use: 00:00 on that clock is 17:00 in New York.
    NyClose,
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

impl SourceTz {
    /// The UTC instant of a wall-clock time on this clock.
    ///
    /// A fixed offset and UTC map every wall time to exactly one instant. On the New York close
    /// clock a wall time can be ambiguous (the hour repeated when New York leaves summer time)
    /// or skipped (the hour lost when it enters summer time); both fall on Sunday 08:00–09:00 of
    /// that clock, when FX does not trade. An ambiguous time maps to its earlier instant, a
    /// skipped one to the same wall time on the old offset (see [`MarketCalendar::from_local`]).
    #[must_use]
    pub fn to_utc(self, local: NaiveDateTime) -> DateTime<Utc> {
        time::wall_to_utc(local, self)
    }

    /// The wall-clock time on this clock of a UTC instant; always unique.
    #[must_use]
    pub fn from_utc(self, at: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Self::Utc => at.naive_utc(),
            Self::NyClose => MarketCalendar::Fx.to_local(at),
            Self::Fixed(offset) => at.naive_utc() + TimeDelta::seconds(i64::from(offset.local_minus_utc())),
        }
    }

    /// The offset of this clock from UTC at `at`, in seconds (east positive).
    #[must_use]
    pub fn offset_seconds_at(self, at: DateTime<Utc>) -> i64 {
        (self.from_utc(at) - at.naive_utc()).num_seconds()
    }
}

impl fmt::Display for SourceTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Utc => f.write_str("UTC"),
            Self::NyClose => f.write_str("ny-close"),
            Self::Fixed(offset) => write!(f, "{offset}"),
        }
    }
}

impl FromStr for SourceTz {
    type Err = ParseOptionError;

    /// Accepts `UTC` (also `Z`, `GMT`), `ny-close` (also `nyclose`, `ny_close`), and fixed
    /// offsets such as `+02:00`, `-0500`, `UTC+2`, `GMT-03:30`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "utc" | "z" | "gmt" => return Ok(Self::Utc),
            "ny-close" | "ny_close" | "nyclose" | "new-york-close" => return Ok(Self::NyClose),
            _ => {}
        }
        let offset = lower.strip_prefix("utc").or_else(|| lower.strip_prefix("gmt")).unwrap_or(&lower);
        time::parse_offset(offset).map(Self::Fixed).ok_or_else(|| ParseOptionError {
            option: "time zone",
            value: s.to_owned(),
            expected: "UTC, ny-close (New York + 7 h, the usual MetaTrader server clock), \
                       or a fixed offset such as +02:00, -0500 or UTC+2",
        })
    }
}

/// An unknown [`ImportFormat`] or [`SourceTz`] name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {option} {value:?} (expected {expected})")]
pub struct ParseOptionError {
    /// Which option (`format`, `time zone`).
    pub option: &'static str,
    /// The text given.
    pub value: String,
    /// What is accepted.
    pub expected: &'static str,
}

/// How to read a bar file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOptions {
    /// The file format.
    pub format: ImportFormat,
    /// The time zone of time stamps without an offset.
    pub tz: SourceTz,
}

/// Why a file was refused; nothing of it is imported.
///
/// Displays as `file:line: what` (`data/x.csv:17: high 1.07 is below low 1.08`), or `file: what`
/// for errors of the whole file.
#[derive(Debug, Clone, PartialEq, Error)]
pub struct ImportError {
    /// The file, as given.
    pub file: String,
    /// The 1-based physical line at fault (the header is line 1); `None` for the whole file.
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
    /// The file cannot be opened or read.
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// No header, or no bar after it.
    #[error("the file is empty (expected a header line and at least one bar)")]
    Empty,
    /// The first line is not a header of a known format.
    #[error("unknown format: the first line {first_line:?} is not a known header (expected {expected})")]
    UnknownFormat {
        /// The first line (shortened).
        first_line: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A required column is absent from the header.
    #[error("no {column} column in the header {header:?} (expected {expected})")]
    MissingColumn {
        /// The missing column.
        column: &'static str,
        /// The header read.
        header: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A row that is not valid CSV or UTF-8, or lacks a field.
    #[error("malformed row: {0}")]
    Malformed(String),
    /// A field that cannot be read.
    #[error("{column} {value:?}: {detail}")]
    BadField {
        /// The column.
        column: &'static str,
        /// The text found.
        value: String,
        /// What is wrong or expected.
        detail: String,
    },
    /// Prices that break the bar rules (NaN, high below low, …).
    #[error("{}", bar_message(.0))]
    InvalidBar(BarError),
    /// A time that is not the open of a bar of the timeframe.
    #[error("{time} is not the open of a {timeframe} bar on the {calendar:?} calendar{hint}")]
    Misaligned {
        /// The open time read (UTC).
        time: DateTime<Utc>,
        /// The series timeframe.
        timeframe: Timeframe,
        /// The calendar of the symbol.
        calendar: MarketCalendar,
        /// A hint about the time zone option, or empty.
        hint: &'static str,
    },
    /// The same open time twice.
    #[error("duplicate bar at {time} (also on line {first_line})")]
    Duplicate {
        /// The open time.
        time: DateTime<Utc>,
        /// The line where it appeared first.
        first_line: u64,
    },
    /// A row older than the row before it.
    #[error(
        "bar at {time} comes after the bar at {previous} on line {previous_line} (rows must be in ascending time order)"
    )]
    OutOfOrder {
        /// The open time of the offending row.
        time: DateTime<Utc>,
        /// The open time of the previous row.
        previous: DateTime<Utc>,
        /// The line of the previous row.
        previous_line: u64,
    },
}

fn bar_message(e: &BarError) -> String {
    match e {
        BarError::Inconsistent { detail } => detail.clone(),
        other => other.to_string(),
    }
}

/// Reads and validates the bar file at `path` for the series `key`.
///
/// # Errors
/// [`ImportError`] naming the file and, for a bad row, its line; nothing is returned of a file
/// with any bad row.
pub fn read_bars(path: &Path, key: &SeriesKey, options: &ImportOptions) -> Result<OhlcvSeries, ImportError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ImportError {
        file: name.clone(),
        line: None,
        kind: ImportErrorKind::Unreadable(e.to_string()),
    })?;
    parse_bars(std::io::BufReader::new(file), &name, key, options)
}

/// Reads and validates bars from `reader` for the series `key`; `source_name` names the input
/// in errors.
///
/// # Errors
/// As [`read_bars`].
pub fn parse_bars(
    mut reader: impl Read,
    source_name: &str,
    key: &SeriesKey,
    options: &ImportOptions,
) -> Result<OhlcvSeries, ImportError> {
    let err = |line: Option<u64>, kind| ImportError { file: source_name.to_owned(), line, kind };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| err(None, ImportErrorKind::Unreadable(e.to_string())))?;
    let first_line = bytes
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .find(|l| !l.is_empty())
        .ok_or_else(|| err(None, ImportErrorKind::Empty))?;
    let (layout, delimiter) = header::detect(&first_line, options.format).map_err(|k| err(None, k))?;
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let mut records = csv.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(err(Some(1), ImportErrorKind::Malformed(e.to_string()))),
        None => return Err(err(None, ImportErrorKind::Empty)),
    };
    let cols = header::columns(&header, layout).map_err(|k| err(None, k))?;
    let rows = Rows { key, calendar: MarketCalendar::default_for(&key.symbol), cols, tz: options.tz };

    let mut lines = LineCounter { bytes: &bytes, pos: 0, line: 1 };
    let mut bars: Vec<Bar> = Vec::new();
    let mut previous_line = 0_u64;
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| lines.line_at(p.byte()));
            err(line, ImportErrorKind::Malformed(e.to_string()))
        })?;
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let bar = rows.bar(&record).map_err(|k| err(Some(line), k))?;
        let time = bar.open_time();
        if let Some(prev) = bars.last().map(Bar::open_time) {
            if prev == time {
                return Err(err(Some(line), ImportErrorKind::Duplicate { time, first_line: previous_line }));
            }
            if prev > time {
                return Err(err(Some(line), ImportErrorKind::OutOfOrder { time, previous: prev, previous_line }));
            }
        }
        bars.push(bar);
        previous_line = line;
    }
    if bars.is_empty() {
        return Err(err(None, ImportErrorKind::Empty));
    }
    // Every row was checked for order and alignment above, so this cannot fail; map it anyway.
    OhlcvSeries::with_calendar(key.clone(), rows.calendar, bars)
        .map_err(|e| err(None, ImportErrorKind::Malformed(e.to_string())))
}

/// Physical line numbers from byte offsets. The csv reader's own line count skips blank
/// lines, so it cannot name the line an editor shows.
struct LineCounter<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u64,
}

impl LineCounter<'_> {
    /// The line of the record starting at `offset` (offsets only grow); a record position may
    /// point at blank lines before the record, which are skipped.
    fn line_at(&mut self, offset: u64) -> u64 {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(self.bytes.len());
        if offset > self.pos {
            self.line += self.bytes[self.pos..offset].iter().filter(|&&b| b == b'\n').count() as u64;
            self.pos = offset;
        }
        let blank = self.bytes[self.pos..].iter().take_while(|b| b.is_ascii_whitespace());
        let skipped = blank.filter(|&&b| b == b'\n').count() as u64;
        self.line + skipped
    }
}

/// How to turn one row into a bar.
struct Rows<'a> {
    key: &'a SeriesKey,
    calendar: MarketCalendar,
    cols: Columns,
    tz: SourceTz,
}

impl Rows<'_> {
    fn bar(&self, record: &csv::StringRecord) -> Result<Bar, ImportErrorKind> {
        let field = |i: usize, column: &'static str| {
            record.get(i).filter(|v| !v.is_empty()).ok_or_else(|| {
                ImportErrorKind::Malformed(format!("no value for {column} (field {} is missing or empty)", i + 1))
            })
        };
        let time_text = match self.cols.time {
            TimeColumns::Single(t) => field(t, "time")?.to_owned(),
            TimeColumns::DateAndTime { date, time } => format!("{} {}", field(date, "date")?, field(time, "time")?),
        };
        let stamp = time::parse_time(&time_text, self.tz).map_err(|detail| ImportErrorKind::BadField {
            column: "time",
            value: time_text.clone(),
            detail,
        })?;
        let timeframe = self.key.timeframe;
        if stamp.date_only && timeframe.is_intraday() {
            return Err(ImportErrorKind::BadField {
                column: "time",
                value: time_text,
                detail: format!("a date without a time of day is accepted for D1, W1 and MN1 bars, not {timeframe}"),
            });
        }
        let price = |i: usize, column: &'static str| -> Result<f64, ImportErrorKind> {
            let v = field(i, column)?;
            v.parse::<f64>().map_err(|_| ImportErrorKind::BadField {
                column,
                value: v.to_owned(),
                detail: "not a number".into(),
            })
        };
        let count = |i: usize, column: &'static str| -> Result<u64, ImportErrorKind> {
            let v = field(i, column)?;
            time::parse_count(v).map_err(|detail| ImportErrorKind::BadField { column, value: v.to_owned(), detail })
        };
        let c = &self.cols;
        let (open, high, low, close) =
            (price(c.open, "open")?, price(c.high, "high")?, price(c.low, "low")?, price(c.close, "close")?);
        let volume = count(c.volume, "volume")?;
        let real_volume = c.real_volume.map(|i| count(i, "real volume")).transpose()?.filter(|v| *v > 0);
        let spread = match c.spread {
            None => None,
            Some(i) => {
                let n = count(i, "spread")?;
                Some(u32::try_from(n).map_err(|_| ImportErrorKind::BadField {
                    column: "spread",
                    value: n.to_string(),
                    detail: "too large".into(),
                })?)
            }
        };
        let bar = Bar::new(stamp.at, open, high, low, close, volume)
            .map_err(ImportErrorKind::InvalidBar)?
            .with_spread(spread)
            .with_real_volume(real_volume);
        if !self.calendar.is_aligned(stamp.at, timeframe) {
            let ny_close_aligned = !timeframe.is_intraday() || timeframe == Timeframe::H4;
            let hint = if ny_close_aligned && self.calendar == MarketCalendar::Fx && self.tz != SourceTz::NyClose {
                " (FX bars of H4 and above open at 17:00 New York; if the file is on the broker's \
                 New York close clock, import with the time zone ny-close: --tz ny-close)"
            } else {
                ""
            };
            return Err(ImportErrorKind::Misaligned { time: stamp.at, timeframe, calendar: self.calendar, hint });
        }
        Ok(bar)
    }
}

#[cfg(test)]
mod tests;
