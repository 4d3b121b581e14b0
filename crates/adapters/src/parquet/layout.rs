//! The Hive-style layout of the Parquet history (ADR: partition period by timeframe):
//!
//! ```text
//! {prefix}/manifest.json
//! {prefix}/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet   M1, M5
//! {prefix}/ohlcv/symbol=EURUSD/timeframe=H1/month=2025-10/data.parquet     M15, M30, H1, H4
//! {prefix}/ohlcv/symbol=EURUSD/timeframe=D1/year=2025/data.parquet         D1, W1, MN1
//! {prefix}/archive/ohlcv/symbol=EURUSD/timeframe=M1/month=2025-10/data.parquet   compacted M1, M5
//! ```
//!
//! The last line is a compaction archive ([`compact`](super::compact), ADR 0007): a partition
//! of a coarser period than its timeframe's own, under its own root.
//!
//! A bar belongs to the partition of its UTC open time (an FX D1 bar opening 2024-12-31 22:00
//! UTC lives in `year=2024`). Each partition holds at most a few thousand bars, and the
//! `symbol`, `timeframe` and period directories are Hive partition columns for Athena, DuckDB
//! and polars.

use std::fmt;

use axia_domain::{SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::compact::{ARCHIVE_DIR, archive_key, is_archive};

/// Directory of the bars under the prefix.
pub const OHLCV_DIR: &str = "ohlcv";
/// File name of every partition object.
pub const DATA_FILE: &str = "data.parquet";
/// Name of the manifest under the prefix.
pub const MANIFEST_FILE: &str = "manifest.json";

/// How long one partition of a timeframe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionPeriod {
    /// One UTC day (`date=YYYY-MM-DD`): M1, M5.
    Day,
    /// One UTC month (`month=YYYY-MM`): M15, M30, H1, H4.
    Month,
    /// One UTC year (`year=YYYY`): D1, W1, MN1.
    Year,
}

impl PartitionPeriod {
    /// The period used for `timeframe`.
    #[must_use]
    pub const fn of(timeframe: Timeframe) -> Self {
        match timeframe {
            Timeframe::M1 | Timeframe::M5 => Self::Day,
            Timeframe::M15 | Timeframe::M30 | Timeframe::H1 | Timeframe::H4 => Self::Month,
            Timeframe::D1 | Timeframe::W1 | Timeframe::MN1 => Self::Year,
        }
    }
}

/// One partition of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partition {
    /// A UTC day.
    Day(NaiveDate),
    /// A UTC month.
    Month {
        /// The year.
        year: i32,
        /// The month, 1 to 12.
        month: u32,
    },
    /// A UTC year.
    Year(i32),
}

impl Partition {
    /// The partition of `period` that contains `t`.
    #[must_use]
    pub fn containing(period: PartitionPeriod, t: DateTime<Utc>) -> Self {
        match period {
            PartitionPeriod::Day => Self::Day(t.date_naive()),
            PartitionPeriod::Month => Self::Month { year: t.year(), month: t.month() },
            PartitionPeriod::Year => Self::Year(t.year()),
        }
    }

    /// The partition a bar of `timeframe` opening at `open_time` belongs to.
    #[must_use]
    pub fn of_bar(timeframe: Timeframe, open_time: DateTime<Utc>) -> Self {
        Self::containing(PartitionPeriod::of(timeframe), open_time)
    }

    /// The period of this partition.
    #[must_use]
    pub const fn period(&self) -> PartitionPeriod {
        match self {
            Self::Day(_) => PartitionPeriod::Day,
            Self::Month { .. } => PartitionPeriod::Month,
            Self::Year(_) => PartitionPeriod::Year,
        }
    }

    /// First day of the partition.
    fn first_day(&self) -> Option<NaiveDate> {
        match *self {
            Self::Day(d) => Some(d),
            Self::Month { year, month } => NaiveDate::from_ymd_opt(year, month, 1),
            Self::Year(year) => NaiveDate::from_ymd_opt(year, 1, 1),
        }
    }

    /// The partition that follows this one.
    #[must_use]
    pub fn next(&self) -> Self {
        match *self {
            Self::Day(d) => Self::Day(d.succ_opt().unwrap_or(NaiveDate::MAX)),
            Self::Month { year, month: 12 } => Self::Month { year: year.saturating_add(1), month: 1 },
            Self::Month { year, month } => Self::Month { year, month: month + 1 },
            Self::Year(year) => Self::Year(year.saturating_add(1)),
        }
    }

    /// Inclusive start (midnight UTC of the first day).
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        self.first_day().map_or(DateTime::<Utc>::MAX_UTC, |d| d.and_time(chrono::NaiveTime::MIN).and_utc())
    }

    /// Exclusive end (the start of the next partition).
    #[must_use]
    pub fn end(&self) -> DateTime<Utc> {
        let next = self.next();
        if next == *self { DateTime::<Utc>::MAX_UTC } else { next.start() }
    }

    /// `[start, end)`.
    #[must_use]
    pub fn range(&self) -> TimeRange {
        // start <= end always holds; fall back to an empty range rather than panic.
        TimeRange::new(self.start(), self.end())
            .unwrap_or_else(|_| TimeRange::ending_at(self.start(), Default::default()))
    }

    /// Parses a partition directory name (`date=2025-10-16`, `month=2025-10`, `year=2025`).
    #[must_use]
    pub fn parse(segment: &str) -> Option<Self> {
        let (name, value) = segment.split_once('=')?;
        let parsed = match name {
            "date" => Self::Day(NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?),
            "month" => {
                let (y, m) = value.split_once('-')?;
                let (year, month) = (parse_digits(y, 4)?, parse_digits(m, 2)?);
                (1..=12).contains(&month).then_some(())?;
                Self::Month { year: i32::try_from(year).ok()?, month }
            }
            "year" => Self::Year(i32::try_from(parse_digits(value, 4)?).ok()?),
            _ => return None,
        };
        // Only the canonical spelling (`date=2025-1-5` would alias `date=2025-01-05`).
        (parsed.to_string() == segment).then_some(parsed)
    }
}

fn parse_digits(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

impl fmt::Display for Partition {
    /// The directory name: `date=2025-10-16`, `month=2025-10` or `year=2025`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Day(d) => write!(f, "date={}", d.format("%Y-%m-%d")),
            Self::Month { year, month } => write!(f, "month={year:04}-{month:02}"),
            Self::Year(year) => write!(f, "year={year:04}"),
        }
    }
}

/// The partitions of `timeframe` that overlap `range`, oldest first (none for an empty range).
pub fn partitions_overlapping(timeframe: Timeframe, range: TimeRange) -> impl Iterator<Item = Partition> {
    let first = (!range.is_empty()).then(|| Partition::of_bar(timeframe, range.start()));
    std::iter::successors(first, |p| {
        let next = p.next();
        (next != *p).then_some(next)
    })
    .take_while(move |p| p.start() < range.end())
}

/// `ohlcv/symbol=EURUSD/timeframe=M1/`: the directory of one series, relative to the prefix.
#[must_use]
pub fn series_dir(key: &SeriesKey) -> String {
    format!("{OHLCV_DIR}/symbol={}/timeframe={}/", key.symbol, key.timeframe)
}

/// The object key of a partition (or compaction archive), relative to the prefix.
#[must_use]
pub fn object_key(key: &SeriesKey, partition: Partition) -> String {
    if is_archive(key.timeframe, partition) {
        return archive_key(key, partition);
    }
    format!("{}{partition}/{DATA_FILE}", series_dir(key))
}

/// Parses a key relative to the prefix back into its series and partition; `None` for keys
/// that are not partition objects of this layout (including a period that does not match the
/// timeframe). Compaction archives parse too, as their month partition.
#[must_use]
pub fn parse_object_key(relative: &str) -> Option<(SeriesKey, Partition)> {
    let archived = relative.strip_prefix(ARCHIVE_DIR).and_then(|r| r.strip_prefix('/'));
    let mut parts = archived.unwrap_or(relative).split('/');
    let (root, symbol, timeframe, period, file) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if root != OHLCV_DIR || file != DATA_FILE || parts.next().is_some() {
        return None;
    }
    let raw_symbol = symbol.strip_prefix("symbol=")?;
    let symbol = Symbol::new(raw_symbol).ok().filter(|s| s.as_str() == raw_symbol)?;
    let raw_tf = timeframe.strip_prefix("timeframe=")?;
    let timeframe: Timeframe = raw_tf.parse().ok().filter(|t: &Timeframe| t.as_str() == raw_tf)?;
    let partition = Partition::parse(period).filter(|p| match archived {
        Some(_) => is_archive(timeframe, *p),
        None => p.period() == PartitionPeriod::of(timeframe),
    })?;
    Some((SeriesKey::new(symbol, timeframe), partition))
}

/// Where the repository's objects live in the store: keys under a normalised prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// A layout under `prefix` (leading and trailing `/` are ignored; empty means the root).
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.trim_matches('/').to_string() }
    }

    /// The normalised prefix (no leading or trailing `/`, possibly empty).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The store key of `relative`.
    #[must_use]
    pub fn full(&self, relative: &str) -> String {
        if self.prefix.is_empty() { relative.to_string() } else { format!("{}/{relative}", self.prefix) }
    }

    /// The key relative to the prefix, or `None` when `full` is not under it.
    #[must_use]
    pub fn relative<'a>(&self, full: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return Some(full);
        }
        full.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
    }

    /// The store key of the manifest.
    #[must_use]
    pub fn manifest_key(&self) -> String {
        self.full(MANIFEST_FILE)
    }

    /// The store key of a partition object.
    #[must_use]
    pub fn object_key(&self, key: &SeriesKey, partition: Partition) -> String {
        self.full(&object_key(key, partition))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use rstest::rstest;

    use super::*;

    fn key(tf: Timeframe) -> SeriesKey {
        SeriesKey::new(Symbol::new("EURUSD").unwrap(), tf)
    }

    fn t(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
    }

    #[rstest]
    #[case(Timeframe::M1, "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet")]
    #[case(Timeframe::M5, "ohlcv/symbol=EURUSD/timeframe=M5/date=2025-10-16/data.parquet")]
    #[case(Timeframe::M15, "ohlcv/symbol=EURUSD/timeframe=M15/month=2025-10/data.parquet")]
    #[case(Timeframe::H4, "ohlcv/symbol=EURUSD/timeframe=H4/month=2025-10/data.parquet")]
    #[case(Timeframe::D1, "ohlcv/symbol=EURUSD/timeframe=D1/year=2025/data.parquet")]
    #[case(Timeframe::MN1, "ohlcv/symbol=EURUSD/timeframe=MN1/year=2025/data.parquet")]
    fn key_for_a_bar(#[case] tf: Timeframe, #[case] expected: &str) {
        let p = Partition::of_bar(tf, t(2025, 10, 16, 21));
        assert_eq!(object_key(&key(tf), p), expected);
        assert_eq!(parse_object_key(expected), Some((key(tf), p)));
    }

    #[rstest]
    #[case("", "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet")]
    #[case("/hist/v1/", "hist/v1/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet")]
    fn prefix_is_normalised(#[case] prefix: &str, #[case] expected: &str) {
        let layout = Layout::new(prefix);
        let full = layout.object_key(&key(Timeframe::M1), Partition::of_bar(Timeframe::M1, t(2025, 10, 16, 0)));
        assert_eq!(full, expected);
        assert!(layout.relative(&full).is_some_and(|r| r.starts_with("ohlcv/")));
        assert!(layout.manifest_key().ends_with("manifest.json") && !layout.manifest_key().starts_with('/'));
    }

    #[rstest]
    #[case::half_open(Timeframe::M1, t(2025, 10, 15, 23), t(2025, 10, 17, 0), &["date=2025-10-15", "date=2025-10-16"])]
    #[case::one_instant(Timeframe::H1, t(2025, 12, 31, 23), t(2026, 1, 1, 1), &["month=2025-12", "month=2026-01"])]
    #[case::years(Timeframe::D1, t(2023, 6, 1, 0), t(2025, 1, 1, 0), &["year=2023", "year=2024"])]
    #[case::empty(Timeframe::M1, t(2025, 1, 1, 0), t(2025, 1, 1, 0), &[])]
    fn partitions_of_a_range(
        #[case] tf: Timeframe,
        #[case] start: DateTime<Utc>,
        #[case] end: DateTime<Utc>,
        #[case] expected: &[&str],
    ) {
        let range = TimeRange::new(start, end).unwrap();
        let names: Vec<String> = partitions_overlapping(tf, range).map(|p| p.to_string()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn partition_ranges_tile_time() {
        let mut p = Partition::of_bar(Timeframe::H1, t(2024, 11, 5, 0));
        for _ in 0..14 {
            let next = p.next();
            assert_eq!(p.end(), next.start());
            assert!(p.range().length() > TimeDelta::days(27));
            p = next;
        }
        assert_eq!(p, Partition::Month { year: 2026, month: 1 });
    }

    #[rstest]
    #[case("ohlcv/symbol=EURUSD/timeframe=M1/month=2025-10/data.parquet")]
    #[case("ohlcv/symbol=eurusd/timeframe=M1/date=2025-10-16/data.parquet")]
    #[case("ohlcv/symbol=EURUSD/timeframe=1m/date=2025-10-16/data.parquet")]
    #[case("ohlcv/symbol=EURUSD/timeframe=M1/date=2025-1-6/data.parquet")]
    #[case("ohlcv/symbol=EURUSD/timeframe=H1/month=2025-13/data.parquet")]
    #[case("ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/other.parquet")]
    #[case("ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/x/data.parquet")]
    #[case("manifest.json")]
    fn refuses_foreign_keys(#[case] relative: &str) {
        assert_eq!(parse_object_key(relative), None);
    }
}
