//! Header recognition: which format a file is in, its delimiter, and where its columns are.

use super::{ImportErrorKind, ImportFormat};

/// What a plain or pandas header looks like, for error messages.
pub(super) const CSV_EXPECTED: &str = "a header timestamp,open,high,low,close,volume (case-insensitive; the time \
     column may be named time, date, datetime, open_time or open_time_utc; optional spread and real_volume), or the \
     pandas export ,Open,High,Low,Close,Volume with the time in the unnamed first column";

/// What a MetaTrader 5 header looks like, for error messages.
pub(super) const MT5_EXPECTED: &str = "the MetaTrader 5 export header <DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t\
     <TICKVOL>\t<VOL>\t<SPREAD> (tab-separated; daily and longer exports have no <TIME>)";

/// The two header families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// `timestamp,open,…` or the pandas export.
    Csv,
    /// `<DATE>\t<TIME>\t<OPEN>…`.
    Mt5,
}

impl Layout {
    pub(super) const fn expected(self) -> &'static str {
        match self {
            Self::Csv => CSV_EXPECTED,
            Self::Mt5 => MT5_EXPECTED,
        }
    }
}

/// Where the time of a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeColumns {
    /// One column holds date and time (or a date alone, or an epoch).
    Single(usize),
    /// A date column and a time-of-day column (MetaTrader).
    DateAndTime {
        /// The date column.
        date: usize,
        /// The time-of-day column.
        time: usize,
    },
}

/// Column positions of a recognised header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Columns {
    pub(super) time: TimeColumns,
    pub(super) open: usize,
    pub(super) high: usize,
    pub(super) low: usize,
    pub(super) close: usize,
    pub(super) volume: usize,
    pub(super) real_volume: Option<usize>,
    pub(super) spread: Option<usize>,
}

/// The layout and delimiter of a file from its first line.
pub(super) fn detect(first_line: &str, format: ImportFormat) -> Result<(Layout, u8), ImportErrorKind> {
    let looks_mt5 = first_line.to_ascii_uppercase().contains("<DATE>");
    let layout = match (format, looks_mt5) {
        (ImportFormat::Auto | ImportFormat::Mt5, true) => Layout::Mt5,
        (ImportFormat::Auto | ImportFormat::Csv, false) => Layout::Csv,
        (ImportFormat::Mt5, false) => return Err(unknown(first_line, Layout::Mt5.expected())),
        (ImportFormat::Csv, true) => {
            return Err(unknown(
                first_line,
                "a plain CSV header; this is a MetaTrader 5 export (use format mt5 or auto)",
            ));
        }
    };
    let delimiter = if first_line.contains('\t') {
        b'\t'
    } else if first_line.contains(';') && !first_line.contains(',') {
        b';'
    } else {
        b','
    };
    Ok((layout, delimiter))
}

/// Finds the columns of `header`.
pub(super) fn columns(header: &csv::StringRecord, layout: Layout) -> Result<Columns, ImportErrorKind> {
    let mut found = Found::default();
    for (i, raw) in header.iter().enumerate() {
        let name =
            raw.trim().trim_start_matches('\u{feff}').trim_matches(['<', '>']).to_ascii_lowercase().replace(' ', "_");
        let slot = match name.as_str() {
            "" if i == 0 => &mut found.time,
            "timestamp" | "timestamp_utc" | "datetime" | "datetime_utc" | "date_time" | "open_time"
            | "open_time_utc" | "time_utc" => &mut found.time,
            "date" => &mut found.date,
            "time" => &mut found.clock,
            "open" => &mut found.open,
            "high" => &mut found.high,
            "low" => &mut found.low,
            "close" => &mut found.close,
            "tickvol" | "tick_volume" | "tick_vol" | "tickvolume" => &mut found.tick,
            "volume" => &mut found.volume,
            "vol" => &mut found.vol,
            "real_volume" | "realvolume" | "real_vol" => &mut found.real,
            "spread" => &mut found.spread,
            _ => continue,
        };
        slot.get_or_insert(i);
    }
    let header_text = header.iter().collect::<Vec<_>>().join(",");
    if [found.open, found.high, found.low, found.close].iter().all(Option::is_none) {
        return Err(unknown(&header_text, layout.expected()));
    }
    let missing = |column: &'static str| ImportErrorKind::MissingColumn {
        column,
        header: header_text.clone(),
        expected: layout.expected(),
    };
    let time = match (found.time, found.date, found.clock) {
        (Some(t), _, _) => TimeColumns::Single(t),
        (None, Some(date), Some(time)) => TimeColumns::DateAndTime { date, time },
        (None, Some(t), None) | (None, None, Some(t)) => TimeColumns::Single(t),
        (None, None, None) => return Err(missing(if layout == Layout::Mt5 { "<DATE>" } else { "time" })),
    };
    // Tick volume is the bar volume; a plain "volume" next to it is then the real volume.
    let (volume, real_volume) = match found.tick {
        Some(tick) => (Some(tick), found.real.or(found.vol).or(found.volume)),
        None => (found.volume.or(found.vol), found.real),
    };
    Ok(Columns {
        time,
        open: found.open.ok_or_else(|| missing("open"))?,
        high: found.high.ok_or_else(|| missing("high"))?,
        low: found.low.ok_or_else(|| missing("low"))?,
        close: found.close.ok_or_else(|| missing("close"))?,
        volume: volume.ok_or_else(|| missing(if layout == Layout::Mt5 { "<TICKVOL>" } else { "volume" }))?,
        real_volume,
        spread: found.spread,
    })
}

/// Columns seen in a header, by role.
#[derive(Debug, Default)]
struct Found {
    time: Option<usize>,
    date: Option<usize>,
    clock: Option<usize>,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: Option<usize>,
    tick: Option<usize>,
    volume: Option<usize>,
    vol: Option<usize>,
    real: Option<usize>,
    spread: Option<usize>,
}

fn unknown(first_line: &str, expected: &'static str) -> ImportErrorKind {
    const MAX: usize = 120;
    let mut first_line = first_line.trim().to_owned();
    if first_line.len() > MAX {
        let cut = (0..=MAX).rev().find(|&i| first_line.is_char_boundary(i)).unwrap_or(0);
        first_line.truncate(cut);
        first_line.push('…');
    }
    ImportErrorKind::UnknownFormat { first_line, expected }
}
