//! A series of bars of one symbol and timeframe.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::calendar::MarketCalendar;
use crate::error::SeriesError;
use crate::symbol::Symbol;
use crate::time::TimeRange;
use crate::timeframe::Timeframe;

/// Identifies a series: symbol and timeframe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The instrument.
    pub symbol: Symbol,
    /// The bar timeframe.
    pub timeframe: Timeframe,
}

impl SeriesKey {
    /// A key from its parts.
    #[must_use]
    pub const fn new(symbol: Symbol, timeframe: Timeframe) -> Self {
        Self { symbol, timeframe }
    }

    /// The default calendar of the key's symbol.
    #[must_use]
    pub fn default_calendar(&self) -> MarketCalendar {
        MarketCalendar::default_for(&self.symbol)
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.symbol, self.timeframe)
    }
}

/// How a merge changed a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MergeStats {
    /// Bars at open times the series did not hold.
    pub inserted: usize,
    /// Bars that replaced a different bar at the same open time.
    pub updated: usize,
    /// Bars identical to the one already held.
    pub unchanged: usize,
}

impl MergeStats {
    /// True when the merge changed nothing.
    #[must_use]
    pub const fn is_noop(&self) -> bool {
        self.inserted == 0 && self.updated == 0
    }
}

/// Missing trading bars between two stored bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Open time of the first missing bar.
    pub start: DateTime<Utc>,
    /// Open time of the next stored bar (exclusive end of the gap).
    pub end: DateTime<Utc>,
    /// Number of trading bars missing, when the calendar can tell (not for equity sessions).
    pub missing_bars: Option<u64>,
}

/// Bars of one symbol and timeframe, with strictly increasing open times aligned to the
/// timeframe on the series' calendar.
///
/// Cloning is cheap (the bars are shared); mutation copies them only when shared.
#[derive(Debug, Clone)]
pub struct OhlcvSeries {
    key: SeriesKey,
    calendar: MarketCalendar,
    bars: Arc<Vec<Bar>>,
}

impl PartialEq for OhlcvSeries {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.calendar == other.calendar && self.bars == other.bars
    }
}

impl OhlcvSeries {
    /// An empty series on the symbol's default calendar.
    #[must_use]
    pub fn empty(key: SeriesKey) -> Self {
        let calendar = key.default_calendar();
        Self { key, calendar, bars: Arc::new(Vec::new()) }
    }

    /// A series on the symbol's default calendar.
    ///
    /// # Errors
    /// [`SeriesError::OutOfOrder`], [`SeriesError::Duplicate`] or [`SeriesError::Misaligned`]
    /// naming the first offending bar.
    pub fn new(key: SeriesKey, bars: Vec<Bar>) -> Result<Self, SeriesError> {
        let calendar = key.default_calendar();
        Self::with_calendar(key, calendar, bars)
    }

    /// A series on an explicit calendar.
    ///
    /// # Errors
    /// As [`OhlcvSeries::new`].
    pub fn with_calendar(key: SeriesKey, calendar: MarketCalendar, bars: Vec<Bar>) -> Result<Self, SeriesError> {
        check_bars(&bars, key.timeframe, calendar)?;
        Ok(Self { key, calendar, bars: Arc::new(bars) })
    }

    /// A series from bars in any order; duplicates are an error.
    ///
    /// # Errors
    /// [`SeriesError::Duplicate`] or [`SeriesError::Misaligned`].
    pub fn from_unordered(key: SeriesKey, mut bars: Vec<Bar>) -> Result<Self, SeriesError> {
        bars.sort_by_key(Bar::open_time);
        Self::new(key, bars)
    }

    /// The series key.
    #[must_use]
    pub const fn key(&self) -> &SeriesKey {
        &self.key
    }
    /// The symbol.
    #[must_use]
    pub const fn symbol(&self) -> &Symbol {
        &self.key.symbol
    }
    /// The timeframe.
    #[must_use]
    pub const fn timeframe(&self) -> Timeframe {
        self.key.timeframe
    }
    /// The calendar the bars are aligned on.
    #[must_use]
    pub const fn calendar(&self) -> MarketCalendar {
        self.calendar
    }
    /// The bars, oldest first.
    #[must_use]
    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }
    /// Number of bars.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bars.len()
    }
    /// True when the series holds no bar.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }
    /// The oldest bar.
    #[must_use]
    pub fn first(&self) -> Option<&Bar> {
        self.bars.first()
    }
    /// The newest bar.
    #[must_use]
    pub fn last(&self) -> Option<&Bar> {
        self.bars.last()
    }
    /// The bars, consuming the series (copies only when the bars are shared).
    #[must_use]
    pub fn into_bars(self) -> Vec<Bar> {
        Arc::unwrap_or_clone(self.bars)
    }

    /// `[first open, close of the last bar)`, or `None` when empty.
    #[must_use]
    pub fn span(&self) -> Option<TimeRange> {
        let first = self.first()?.open_time();
        let last = self.last()?.open_time();
        TimeRange::new(first, self.calendar.next_open(last, self.key.timeframe)).ok()
    }

    /// The close time of a bar opening at `open` on this series' calendar.
    #[must_use]
    pub fn close_time_of(&self, open: DateTime<Utc>) -> DateTime<Utc> {
        self.calendar.next_open(open, self.key.timeframe)
    }

    /// Upserts `newer` into this series: for the same open time the bar of `newer` wins.
    ///
    /// # Errors
    /// [`SeriesError::Mismatch`] when the symbol, timeframe or calendar differ.
    pub fn merge(&mut self, newer: &Self) -> Result<MergeStats, SeriesError> {
        if newer.key != self.key || newer.calendar != self.calendar {
            return Err(SeriesError::Mismatch {
                detail: format!(
                    "cannot merge {} ({:?}) into {} ({:?})",
                    newer.key, newer.calendar, self.key, self.calendar
                ),
            });
        }
        let mut stats = MergeStats::default();
        if newer.is_empty() {
            return Ok(stats);
        }
        let old = self.bars();
        // Fast path: pure append (the collector's usual case).
        if old.last().is_none_or(|l| l.open_time() < newer.bars[0].open_time()) {
            stats.inserted = newer.len();
            Arc::make_mut(&mut self.bars).extend_from_slice(newer.bars());
            return Ok(stats);
        }
        let mut out = Vec::with_capacity(old.len() + newer.len());
        let (mut i, mut j) = (0, 0);
        let new = newer.bars();
        while i < old.len() && j < new.len() {
            let (a, b) = (&old[i], &new[j]);
            match a.open_time().cmp(&b.open_time()) {
                std::cmp::Ordering::Less => {
                    out.push(*a);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(*b);
                    stats.inserted += 1;
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    if a.same_values(b) {
                        stats.unchanged += 1;
                    } else {
                        stats.updated += 1;
                    }
                    out.push(*b);
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&old[i..]);
        stats.inserted += new.len() - j;
        out.extend_from_slice(&new[j..]);
        if !stats.is_noop() {
            self.bars = Arc::new(out);
        }
        Ok(stats)
    }

    /// The bars whose open time lies in `range`.
    #[must_use]
    pub fn slice(&self, range: TimeRange) -> Self {
        let from = self.bars.partition_point(|b| b.open_time() < range.start());
        let to = self.bars.partition_point(|b| b.open_time() < range.end());
        if from == 0 && to == self.bars.len() {
            return self.clone();
        }
        Self { key: self.key.clone(), calendar: self.calendar, bars: Arc::new(self.bars[from..to.max(from)].to_vec()) }
    }

    /// Drops every bar opening before `cutoff`; returns how many were dropped.
    pub fn trim_before(&mut self, cutoff: DateTime<Utc>) -> usize {
        let n = self.bars.partition_point(|b| b.open_time() < cutoff);
        if n > 0 {
            Arc::make_mut(&mut self.bars).drain(..n);
        }
        n
    }

    /// Keeps only the bars of the retention window `(now - window, now]` measured on open times.
    pub fn trim_to_window(&mut self, now: DateTime<Utc>, window: TimeDelta) -> usize {
        self.trim_before(now - window)
    }

    /// Aggregates into the coarser timeframe `to` on the same calendar: open of the first bar,
    /// highest high, lowest low, close of the last bar, summed volumes, widest spread. Every
    /// target bar with at least one source bar is produced, partial ones included.
    ///
    /// # Errors
    /// [`SeriesError::CannotResample`] when `to` bars are not made of whole source bars.
    pub fn resample(&self, to: Timeframe) -> Result<Self, SeriesError> {
        let from = self.key.timeframe;
        if !from.can_resample_to(to) {
            return Err(SeriesError::CannotResample { from, to });
        }
        let mut out: Vec<Bar> = Vec::new();
        let mut bucket: Option<(DateTime<Utc>, Acc)> = None;
        for bar in self.bars.iter() {
            let open = self.calendar.align(bar.open_time(), to);
            match &mut bucket {
                Some((t, acc)) if *t == open => acc.add(bar),
                _ => {
                    if let Some((t, acc)) = bucket.take() {
                        out.push(acc.finish(t));
                    }
                    bucket = Some((open, Acc::start(bar)));
                }
            }
        }
        if let Some((t, acc)) = bucket {
            out.push(acc.finish(t));
        }
        Ok(Self { key: SeriesKey::new(self.key.symbol.clone(), to), calendar: self.calendar, bars: Arc::new(out) })
    }

    /// Trading bars missing between stored bars, per the series' calendar. Regular closures
    /// (weekends, and for FX Christmas and New Year) are not gaps. Only the interior of the
    /// series is examined.
    #[must_use]
    pub fn gaps(&self) -> Vec<Gap> {
        let tf = self.key.timeframe;
        let cal = self.calendar;
        let mut gaps = Vec::new();
        // Bars of UTC-floored timeframes exactly one bar apart leave no gap: skip the calendar
        // (most pairs of a long intraday series).
        let step = matches!(tf, Timeframe::M1 | Timeframe::M5 | Timeframe::M15 | Timeframe::M30 | Timeframe::H1)
            .then(|| tf.duration());
        for pair in self.bars.windows(2) {
            let (a, b) = (pair[0].open_time(), pair[1].open_time());
            if step.is_some_and(|d| b - a == d) {
                continue;
            }
            if cal == MarketCalendar::Equity && tf.is_intraday() {
                if let Some(gap) = equity_intraday_gap(a, b, tf) {
                    gaps.push(gap);
                }
                continue;
            }
            let expected = cal.next_trading_open(cal.next_open(a, tf), tf);
            if expected < b {
                let missing = cal.trading_opens(expected, b, tf).count() as u64;
                if missing > 0 {
                    gaps.push(Gap { start: expected, end: b, missing_bars: Some(missing) });
                }
            }
        }
        gaps
    }
}

/// Equities without a session model: holes inside one UTC day are counted in bars; a whole
/// weekday without bars between two days is reported without a count.
fn equity_intraday_gap(a: DateTime<Utc>, b: DateTime<Utc>, tf: Timeframe) -> Option<Gap> {
    let cal = MarketCalendar::Equity;
    let next = a + tf.duration();
    if a.date_naive() == b.date_naive() {
        let missing = ((b - next).num_seconds() / tf.seconds()).max(0) as u64;
        return (missing > 0).then_some(Gap { start: next, end: b, missing_bars: Some(missing) });
    }
    let mut day = a.date_naive().succ_opt()?;
    while day < b.date_naive() {
        if !cal.is_closed_day(day) {
            let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
            return Some(Gap { start, end: b, missing_bars: None });
        }
        day = day.succ_opt()?;
    }
    None
}

struct Acc {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: u64,
    spread: Option<u32>,
    real_volume: Option<u64>,
    all_real: bool,
}

impl Acc {
    fn start(b: &Bar) -> Self {
        Self {
            open: b.open(),
            high: b.high(),
            low: b.low(),
            close: b.close(),
            volume: b.volume(),
            spread: b.spread(),
            real_volume: b.real_volume(),
            all_real: b.real_volume().is_some(),
        }
    }

    fn add(&mut self, b: &Bar) {
        self.high = self.high.max(b.high());
        self.low = self.low.min(b.low());
        self.close = b.close();
        self.volume = self.volume.saturating_add(b.volume());
        self.spread = match (self.spread, b.spread()) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        self.all_real &= b.real_volume().is_some();
        self.real_volume = match (self.real_volume, b.real_volume()) {
            (Some(x), Some(y)) => Some(x.saturating_add(y)),
            (x, y) => x.or(y),
        };
    }

    fn finish(self, open_time: DateTime<Utc>) -> Bar {
        // The aggregate of valid bars is valid: open/close come from bars inside [low, high].
        let bar = Bar::new(open_time, self.open, self.high, self.low, self.close, self.volume)
            .unwrap_or_else(|e| unreachable!("aggregate of valid bars is valid: {e}"));
        bar.with_spread(self.spread).with_real_volume(if self.all_real { self.real_volume } else { None })
    }
}

fn check_bars(bars: &[Bar], tf: Timeframe, cal: MarketCalendar) -> Result<(), SeriesError> {
    let mut previous: Option<DateTime<Utc>> = None;
    for bar in bars {
        let t = bar.open_time();
        if let Some(p) = previous {
            if t == p {
                return Err(SeriesError::Duplicate { time: t });
            }
            if t < p {
                return Err(SeriesError::OutOfOrder { previous: p, time: t });
            }
        }
        if !cal.is_aligned(t, tf) {
            return Err(SeriesError::Misaligned { time: t, timeframe: tf });
        }
        previous = Some(t);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
