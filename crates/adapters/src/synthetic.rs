//! A deterministic synthetic market, for the offline demo, tests and benchmarks. Its bars are
//! generated, not market prices: it says so through [`MarketDataSource::is_synthetic`] and every
//! command labels them.
//!
//! Each M1 bar is a pure function of (seed, symbol, minute): a mid price made of slow sine
//! waves (trend and daily cycles) plus smooth value noise (hashed knots every 15 minutes,
//! interpolated) plus a small per-minute jitter, around a realistic level per symbol. Bars of
//! coarser timeframes are the exact aggregation of the M1 bars of their interval, so fetching
//! H1 equals fetching M1 and resampling it. Only trading bars of the symbol's calendar exist.
//! Optionally the market "ends" at an instant ([`SyntheticSource::with_end`]) so that repeated
//! runs are reproducible.

use std::f64::consts::TAU;

use async_trait::async_trait;
use axia_domain::ports::{MarketDataSource, SourceError};
use axia_domain::{Bar, MarketCalendar, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Utc};

const NAME: &str = "synthetic";

/// The synthetic market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSource {
    seed: u64,
    end: Option<DateTime<Utc>>,
}

impl SyntheticSource {
    /// A live synthetic market (bars up to any time asked).
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { seed, end: None }
    }

    /// The same market with no bars opening at or after `end` (`None`: live).
    #[must_use]
    pub const fn with_end(mut self, end: Option<DateTime<Utc>>) -> Self {
        self.end = end;
        self
    }

    /// The bars of `key` opening in `range` (clipped at the market's end).
    #[must_use]
    pub fn generate(&self, key: &SeriesKey, range: TimeRange) -> OhlcvSeries {
        let calendar = MarketCalendar::default_for(&key.symbol);
        let end = self.end.map_or(range.end(), |e| e.min(range.end()));
        let walk = Walk::new(self.seed, &key.symbol);
        let mut bars = Vec::new();
        if end > range.start() {
            let first = calendar.align(range.start(), key.timeframe);
            for open in calendar.trading_opens(first, end, key.timeframe) {
                if open < range.start() {
                    continue;
                }
                let bar = if key.timeframe == Timeframe::M1 {
                    Some(walk.m1(open))
                } else {
                    let close = calendar.next_open(open, key.timeframe);
                    aggregate(calendar.trading_opens(open, close, Timeframe::M1).map(|m| walk.m1(m)), open)
                };
                bars.extend(bar);
            }
        }
        // Opens come from the calendar, strictly increasing and aligned: the checks cannot fail.
        OhlcvSeries::with_calendar(key.clone(), calendar, bars).unwrap_or_else(|_| OhlcvSeries::empty(key.clone()))
    }
}

#[async_trait]
impl MarketDataSource for SyntheticSource {
    fn name(&self) -> &str {
        NAME
    }

    fn is_synthetic(&self) -> bool {
        true
    }

    fn data_end(&self) -> Option<DateTime<Utc>> {
        self.end
    }

    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError> {
        let (source, key) = (*self, key.clone());
        tokio::task::spawn_blocking(move || source.generate(&key, range)).await.map_err(|e| SourceError::Unavailable {
            source_name: NAME.into(),
            detail: format!("generator failed: {e}"),
        })
    }
}

/// Open/high/low/close/volume of consecutive bars, stamped at `open`.
fn aggregate(bars: impl Iterator<Item = Bar>, open: DateTime<Utc>) -> Option<Bar> {
    let mut acc: Option<(f64, f64, f64, f64, u64)> = None;
    for b in bars {
        acc = Some(match acc {
            None => (b.open(), b.high(), b.low(), b.close(), b.volume()),
            Some((o, h, l, _, v)) => (o, h.max(b.high()), l.min(b.low()), b.close(), v + b.volume()),
        });
    }
    let (o, h, l, c, v) = acc?;
    Bar::new(open, o, h, l, c, v).ok()
}

/// The price process of one symbol.
#[derive(Debug, Clone, Copy)]
struct Walk {
    key: u64,
    base: f64,
    scale: f64,
    phase: f64,
}

impl Walk {
    fn new(seed: u64, symbol: &Symbol) -> Self {
        let key = splitmix(seed ^ fnv(symbol.as_str()));
        let s = symbol.as_str();
        let base = match s {
            "USDJPY" => 150.0,
            "EURUSD" => 1.10,
            "EURJPY" => 160.0,
            "GBPUSD" => 1.27,
            "GBPJPY" => 190.0,
            "AUDUSD" => 0.66,
            "USDCHF" => 0.88,
            "USDCAD" => 1.36,
            _ => 100.0,
        };
        let decimals = if s.ends_with("JPY") {
            3
        } else if symbol.is_currency_pair() {
            5
        } else {
            2
        };
        Self { key, base, scale: 10f64.powi(decimals), phase: unit(splitmix(key ^ 0xA5A5)) * TAU }
    }

    /// Mid price at minute `m` since the epoch.
    #[allow(clippy::cast_precision_loss)]
    fn mid(&self, m: i64) -> f64 {
        let t = m as f64;
        let trend = 0.012 * (TAU * t / (60.0 * 24.0 * 23.0) + self.phase).sin();
        let swing = 0.003 * (TAU * t / (60.0 * 24.0 * 2.7) + 2.0 * self.phase).sin();
        let daily = 0.0012 * (TAU * t / (60.0 * 24.0)).sin();
        let knot = m.div_euclid(15);
        let frac = (m.rem_euclid(15) as f64) / 15.0;
        let smooth = frac * frac * (3.0 - 2.0 * frac);
        let noise = 0.0015 * (self.noise(knot) * (1.0 - smooth) + self.noise(knot + 1) * smooth);
        let jitter = 0.00008 * self.noise(m ^ 0x5555_0000);
        self.base * (1.0 + trend + swing + daily + noise + jitter)
    }

    fn noise(&self, n: i64) -> f64 {
        #[allow(clippy::cast_sign_loss)]
        let h = splitmix(self.key ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        unit(h) * 2.0 - 1.0
    }

    fn round(&self, p: f64) -> f64 {
        (p * self.scale).round() / self.scale
    }

    fn m1(&self, open: DateTime<Utc>) -> Bar {
        let m = open.timestamp().div_euclid(60);
        let (o, c) = (self.round(self.mid(m)), self.round(self.mid(m + 1)));
        #[allow(clippy::cast_sign_loss)]
        let h = splitmix(self.key ^ 0xB0B0 ^ (m as u64));
        let wick_up = unit(h) * 0.00012 * self.base;
        let wick_down = unit(splitmix(h)) * 0.00012 * self.base;
        let high = self.round(o.max(c) + wick_up);
        let low = self.round(o.min(c) - wick_down);
        let volume = 50 + splitmix(h ^ 0x77) % 1950;
        // high >= max(o, c) and low <= min(o, c) by construction (rounding to the same grid).
        Bar::new(open, o, high, low, c, volume).unwrap_or_else(|_| {
            Bar::new(open, o, o.max(c), o.min(c), c, volume).unwrap_or_else(|_| unreachable!("finite positive prices"))
        })
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A hash as a number in `[0, 1)`.
#[allow(clippy::cast_precision_loss)]
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone};
    use rstest::rstest;

    use super::*;

    fn key(sym: &str, tf: Timeframe) -> SeriesKey {
        SeriesKey::new(Symbol::new(sym).unwrap(), tf)
    }

    fn week() -> TimeRange {
        // Trading days Thursday to Tuesday (New York close, summer: 21:00 UTC), across a weekend.
        TimeRange::new(
            Utc.with_ymd_and_hms(2025, 8, 27, 21, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 9, 2, 21, 0, 0).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn same_seed_same_bars_other_seed_other_bars() {
        let k = key("EURUSD", Timeframe::M5);
        let a = SyntheticSource::new(1).generate(&k, week());
        assert_eq!(a, SyntheticSource::new(1).generate(&k, week()));
        assert_ne!(a, SyntheticSource::new(2).generate(&k, week()));
    }

    #[rstest]
    #[case("EURUSD", Timeframe::H1)]
    #[case("USDJPY", Timeframe::H4)]
    #[case("GBPJPY", Timeframe::D1)]
    #[case("AAPL", Timeframe::H1)]
    fn coarser_bars_are_the_resampled_m1_bars(#[case] sym: &str, #[case] tf: Timeframe) {
        let src = SyntheticSource::new(7);
        let m1 = src.generate(&key(sym, Timeframe::M1), week());
        let coarse = src.generate(&key(sym, tf), week());
        assert!(!coarse.is_empty());
        assert_eq!(coarse.bars(), m1.resample(tf).unwrap().bars());
    }

    #[test]
    fn no_fx_weekend_bars_and_realistic_levels() {
        let s = SyntheticSource::new(3).generate(&key("USDJPY", Timeframe::M1), week());
        let cal = MarketCalendar::Fx;
        assert!(s.bars().iter().all(|b| cal.is_trading_bar(b.open_time(), Timeframe::M1)));
        assert!(s.bars().iter().all(|b| b.close() > 140.0 && b.close() < 160.0));
        assert!(s.bars().iter().all(|b| cal.trading_date(b.open_time()).weekday().num_days_from_monday() < 5));
        assert_eq!(s.len(), 4 * 1440, "Thu, Fri, Mon, Tue on the New York close clock");
    }

    #[tokio::test]
    async fn the_end_bounds_the_history() {
        let end = Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap();
        let src = SyntheticSource::new(1).with_end(Some(end));
        assert_eq!(src.data_end(), Some(end));
        let s = src.fetch(&key("EURUSD", Timeframe::H1), week()).await.unwrap();
        assert_eq!(s.last().unwrap().open_time(), end - chrono::TimeDelta::hours(1));
        assert!(src.is_synthetic());
    }
}
