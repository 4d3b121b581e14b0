//! The fixed workload of SPEC §11: seeded synthetic M1 bars of five FX pairs, the clock frozen at
//! 2025-09-02 00:00 UTC, 42 calendar days of history (30 weekdays, 43,200 M1 bars a symbol), and
//! the last 24 h of every symbol in nine timeframes (the 45 series the collector keeps hot).
//!
//! The bars come from [`SyntheticSource`] (a pure function of seed, symbol and minute, at
//! realistic price levels per pair), so every run and every machine measures the same bytes.

use anyhow::{Context, ensure};
use axia_adapters::synthetic::SyntheticSource;
use axia_domain::{OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// Seed of the synthetic market (the collector's default too).
pub const SEED: u64 = 42;
/// The five symbols, in the order the collector lists them.
pub const SYMBOLS: [&str; 5] = ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"];
/// The symbol whose series the single-series scenarios measure.
pub const MEASURED_SYMBOL: &str = "EURUSD";
/// Calendar days of M1 history before [`now`].
pub const HISTORY_DAYS: i64 = 42;
/// M1 bars in [`HISTORY_DAYS`] of one symbol: 30 weekdays × 1,440.
pub const HISTORY_M1_BARS: usize = 30 * 1_440;
/// The hot series of one symbol: each timeframe with the bars of its last 24 h.
pub const LAST_24H: [(Timeframe, usize); 9] = [
    (Timeframe::M1, 1_440),
    (Timeframe::M5, 288),
    (Timeframe::M15, 96),
    (Timeframe::M30, 48),
    (Timeframe::H1, 24),
    (Timeframe::H4, 6),
    (Timeframe::D1, 1),
    (Timeframe::W1, 1),
    (Timeframe::MN1, 1),
];

/// The frozen clock: 2025-09-02 00:00 UTC (a Tuesday; the 24 h before it are a whole Monday).
#[must_use]
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The last `hours` before [`now`].
#[must_use]
pub fn last_hours(hours: i64) -> TimeRange {
    TimeRange::ending_at(now(), TimeDelta::hours(hours))
}

/// The whole history range: [`HISTORY_DAYS`] before [`now`].
#[must_use]
pub fn history_range() -> TimeRange {
    TimeRange::ending_at(now(), TimeDelta::days(HISTORY_DAYS))
}

/// The key of `symbol` in `timeframe`.
///
/// # Errors
/// Never for the workload's symbols; kept fallible so a typo is an error, not a panic.
pub fn key(symbol: &str, timeframe: Timeframe) -> anyhow::Result<SeriesKey> {
    Ok(SeriesKey::new(Symbol::new(symbol)?, timeframe))
}

/// The generated bars.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The M1 history of every symbol ([`HISTORY_M1_BARS`] bars each), in [`SYMBOLS`] order.
    pub history: Vec<OhlcvSeries>,
    /// The 45 hot series: per symbol, every timeframe of [`LAST_24H`] with its bar count.
    pub recent: Vec<OhlcvSeries>,
}

impl Workload {
    /// Generates the workload (deterministic; tens of milliseconds in a release build).
    ///
    /// # Errors
    /// When the generator does not produce the documented bar counts (a changed calendar or
    /// source would silently change what the figures mean).
    pub fn generate() -> anyhow::Result<Self> {
        let source = SyntheticSource::new(SEED).with_end(Some(now()));
        let mut history = Vec::with_capacity(SYMBOLS.len());
        let mut recent = Vec::with_capacity(SYMBOLS.len() * LAST_24H.len());
        for symbol in SYMBOLS {
            let m1 = source.generate(&key(symbol, Timeframe::M1)?, history_range());
            ensure!(
                m1.len() == HISTORY_M1_BARS,
                "the synthetic source gave {} M1 bars of {symbol} over {HISTORY_DAYS} days, not {HISTORY_M1_BARS}",
                m1.len()
            );
            for (timeframe, bars) in LAST_24H {
                let full = if timeframe == Timeframe::M1 {
                    m1.clone()
                } else {
                    m1.resample(timeframe).with_context(|| format!("resampling {symbol} to {timeframe}"))?
                };
                ensure!(full.len() >= bars, "{symbol} {timeframe} has {} bars, fewer than {bars}", full.len());
                let tail = full.bars()[full.len() - bars..].to_vec();
                recent.push(OhlcvSeries::with_calendar(full.key().clone(), full.calendar(), tail)?);
            }
            history.push(m1);
        }
        Ok(Self { history, recent })
    }

    /// The M1 history of `symbol`.
    ///
    /// # Errors
    /// A symbol outside [`SYMBOLS`].
    pub fn history_of(&self, symbol: &str) -> anyhow::Result<&OhlcvSeries> {
        self.history
            .iter()
            .find(|s| s.symbol().as_str() == symbol)
            .with_context(|| format!("{symbol} is not a workload symbol"))
    }

    /// The hot (last 24 h) series of `symbol` in `timeframe`.
    ///
    /// # Errors
    /// A series outside the workload.
    pub fn recent_of(&self, symbol: &str, timeframe: Timeframe) -> anyhow::Result<&OhlcvSeries> {
        self.recent
            .iter()
            .find(|s| s.symbol().as_str() == symbol && s.timeframe() == timeframe)
            .with_context(|| format!("{symbol} {timeframe} is not a workload series"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_has_the_documented_shape() {
        let w = Workload::generate().unwrap();
        assert_eq!(w.history.len(), 5);
        assert_eq!(w.recent.len(), 45);
        let m1 = w.recent_of(MEASURED_SYMBOL, Timeframe::M1).unwrap();
        assert_eq!(m1.len(), 1_440);
        assert_eq!(m1.span().unwrap().start(), last_hours(24).start());
        assert_eq!(m1.slice(last_hours(1)).len(), 60);
        for (timeframe, bars) in LAST_24H {
            assert_eq!(w.recent_of("GBPJPY", timeframe).unwrap().len(), bars, "{timeframe}");
        }
        let eurusd = w.recent_of(MEASURED_SYMBOL, Timeframe::H1).unwrap().bars()[0].close();
        let usdjpy = w.recent_of("USDJPY", Timeframe::H1).unwrap().bars()[0].close();
        assert!((1.0..1.3).contains(&eurusd) && (130.0..170.0).contains(&usdjpy), "{eurusd} {usdjpy}");
        assert_eq!(w.history_of(MEASURED_SYMBOL).unwrap(), &Workload::generate().unwrap().history[1]);
    }
}
