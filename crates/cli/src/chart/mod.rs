//! Candlestick charts of one series: a self-contained interactive HTML page and a PNG image.
//!
//! Rendering only: the bars come from the caller (`axia chart` reads them through the data
//! tiers), so the renderers can be tested on any series.

mod font;
pub mod html;
pub mod png;
mod raster;
mod scale;

use axia_domain::{Bar, OhlcvSeries, TimeRange};
use chrono::{DateTime, Utc};

pub use html::render_html;
pub use png::render_png;

/// Colour of a candle that closed at or above its open (`#26a69a`).
pub const UP_RGB: [u8; 3] = [0x26, 0xa6, 0x9a];
/// Colour of a candle that closed below its open (`#ef5350`).
pub const DOWN_RGB: [u8; 3] = [0xef, 0x53, 0x50];

/// What a chart says about its data besides the bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartMeta {
    /// Symbol, e.g. `EURUSD`.
    pub symbol: String,
    /// Timeframe, e.g. `H1`.
    pub timeframe: String,
    /// The range that was asked for (UTC, half-open).
    pub range: TimeRange,
    /// True when the bars are generated, not market prices: the chart says so visibly.
    pub synthetic: bool,
    /// Where the bars came from (per tier), shown small; `None` shows nothing.
    pub provider: Option<String>,
}

impl ChartMeta {
    /// The title line: `EURUSD H1  2025-08-03 00:00 - 2025-09-02 00:00 UTC`.
    #[must_use]
    pub fn title(&self) -> String {
        format!("{} {}  {} - {} UTC", self.symbol, self.timeframe, minute(self.range.start()), minute(self.range.end()))
    }
}

/// Why a chart cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The series holds no bar: an empty chart would say nothing.
    #[error("no bars to chart")]
    Empty,
    /// The image size is outside what the renderer draws.
    #[error("image size {width}x{height} is outside {min_w}x{min_h} .. {max}x{max}", min_w = MIN_SIZE.0, min_h = MIN_SIZE.1, max = MAX_SIDE)]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The PNG encoder failed.
    #[error("cannot encode the PNG: {0}")]
    Encode(String),
}

/// Smallest image the PNG renderer lays out (width, height).
pub const MIN_SIZE: (u32, u32) = (320, 200);
/// Largest image side.
pub const MAX_SIDE: u32 = 8192;

/// `YYYY-MM-DD HH:MM` in UTC.
#[must_use]
pub fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Decimals that show every price of the series (at most 6): 5 for `1.17234`, 3 for `147.123`.
#[must_use]
pub fn price_digits(series: &OhlcvSeries) -> usize {
    let decimals = |p: f64| {
        // Rounding noise (`0.30000000000000004`) must not ask for 17 digits.
        (0..=6).find(|&d| {
            let scale = 10f64.powi(d);
            ((p * scale).round() / scale - p).abs() <= p.abs() * 1e-12
        })
    };
    series
        .bars()
        .iter()
        .take(500)
        .flat_map(|b| [b.open(), b.high(), b.low(), b.close()])
        .map(|p| decimals(p).unwrap_or(6))
        .max()
        .map_or(2, |d| usize::try_from(d).unwrap_or(6))
}

/// One drawn candle: `count` consecutive bars merged (`count == 1` when not aggregated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    /// Open time of the first bar.
    pub time: DateTime<Utc>,
    /// Open of the first bar.
    pub open: f64,
    /// Highest high.
    pub high: f64,
    /// Lowest low.
    pub low: f64,
    /// Close of the last bar.
    pub close: f64,
    /// Summed volume.
    pub volume: u64,
    /// Bars merged into it.
    pub count: usize,
}

impl Candle {
    /// True when it closed at or above its open.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.close >= self.open
    }
}

/// Bars per candle so that `bars` candles fit in `pixels` columns: 1 until there are more bars
/// than pixels.
#[must_use]
pub fn bars_per_candle(bars: usize, pixels: usize) -> usize {
    bars.div_ceil(pixels.max(1)).max(1)
}

/// Merges every `per` consecutive bars into one candle (the last may hold fewer).
#[must_use]
pub fn aggregate(bars: &[Bar], per: usize) -> Vec<Candle> {
    bars.chunks(per.max(1))
        .map(|chunk| {
            let first = &chunk[0];
            let last = &chunk[chunk.len() - 1];
            Candle {
                time: first.open_time(),
                open: first.open(),
                high: chunk.iter().map(Bar::high).fold(f64::MIN, f64::max),
                low: chunk.iter().map(Bar::low).fold(f64::MAX, f64::min),
                close: last.close(),
                volume: chunk.iter().map(Bar::volume).sum(),
                count: chunk.len(),
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use axia_domain::{SeriesKey, Symbol, Timeframe};
    use chrono::{TimeDelta, TimeZone};
    use rstest::rstest;

    use super::*;

    /// `n` H1 bars from 2025-08-04 00:00 UTC (a Monday), alternating up and down around 1.1.
    pub(crate) fn series(n: usize) -> OhlcvSeries {
        let start = Utc.with_ymd_and_hms(2025, 8, 4, 0, 0, 0).unwrap();
        let bars = (0..n)
            .map(|i| {
                let base = 1.1 + (i as f64) * 0.001;
                let (open, close) = if i % 2 == 0 { (base, base + 0.0008) } else { (base + 0.0008, base) };
                let at = start + TimeDelta::hours(i64::try_from(i).unwrap());
                Bar::new(at, open, base + 0.0012, base - 0.0004, close, 100 + i as u64).unwrap()
            })
            .collect();
        OhlcvSeries::new(SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1), bars).unwrap()
    }

    pub(crate) fn meta(series: &OhlcvSeries, synthetic: bool) -> ChartMeta {
        let span = series.span().unwrap();
        ChartMeta {
            symbol: series.key().symbol.as_str().to_owned(),
            timeframe: series.key().timeframe.as_str().to_owned(),
            range: TimeRange::new(span.start(), span.end()).unwrap(),
            synthetic,
            provider: Some("parquet 10 rows".into()),
        }
    }

    #[rstest]
    #[case(10, 1000, 1)]
    #[case(1000, 1000, 1)]
    #[case(1001, 1000, 2)]
    #[case(43_200, 1200, 36)]
    #[case(5, 0, 5)]
    fn bars_per_candle_only_aggregates_when_bars_outnumber_pixels(
        #[case] bars: usize,
        #[case] px: usize,
        #[case] per: usize,
    ) {
        assert_eq!(bars_per_candle(bars, px), per);
    }

    #[test]
    fn aggregate_merges_open_high_low_close_and_volume() {
        let s = series(5);
        let c = aggregate(s.bars(), 2);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].open, s.bars()[0].open());
        assert_eq!(c[0].close, s.bars()[1].close());
        assert_eq!(c[0].high, s.bars()[1].high());
        assert_eq!(c[0].low, s.bars()[0].low());
        assert_eq!(c[0].volume, 201);
        assert_eq!(c[2].count, 1);
        assert_eq!(c[2].time, s.bars()[4].open_time());
    }

    #[test]
    fn price_digits_follow_the_data() {
        assert_eq!(price_digits(&series(3)), 4);
    }

    #[test]
    fn the_title_names_series_and_range() {
        let s = series(3);
        assert_eq!(meta(&s, false).title(), "EURUSD H1  2025-08-04 00:00 - 2025-08-04 03:00 UTC");
    }
}
