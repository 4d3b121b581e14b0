//! One OHLCV bar.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::BarError;

/// One OHLCV bar: open time (UTC) and prices of one interval, with tick volume.
///
/// Prices are `f64` (see ADR 0003): bars are measurements, compared and aggregated, never summed
/// as money. A bar exists only through [`Bar::new`], which enforces finite prices,
/// `0 < low <= min(open, close)` and `max(open, close) <= high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBar")]
pub struct Bar {
    open_time: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spread: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    real_volume: Option<u64>,
}

/// Unchecked bar fields, as read from a file or a wire format; turn into a [`Bar`] with
/// `Bar::try_from`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RawBar {
    /// Open time (UTC).
    pub open_time: DateTime<Utc>,
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Tick volume.
    pub volume: u64,
    /// Spread in points, when the source reports it.
    #[serde(default)]
    pub spread: Option<u32>,
    /// Real (exchange) volume, when the source reports it.
    #[serde(default)]
    pub real_volume: Option<u64>,
}

impl TryFrom<RawBar> for Bar {
    type Error = BarError;
    fn try_from(raw: RawBar) -> Result<Self, Self::Error> {
        let bar = Self::new(raw.open_time, raw.open, raw.high, raw.low, raw.close, raw.volume)?;
        Ok(bar.with_spread(raw.spread).with_real_volume(raw.real_volume))
    }
}

impl Bar {
    /// Builds a bar after checking its prices.
    ///
    /// # Errors
    /// - [`BarError::NonFinite`] when a price is NaN or infinite;
    /// - [`BarError::NonPositive`] when the low is zero or negative;
    /// - [`BarError::Inconsistent`] when `high < low` or open/close lie outside `[low, high]`.
    pub fn new(
        open_time: DateTime<Utc>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: u64,
    ) -> Result<Self, BarError> {
        for (field, value) in [("open", open), ("high", high), ("low", low), ("close", close)] {
            if !value.is_finite() {
                return Err(BarError::NonFinite { field, value });
            }
        }
        if low <= 0.0 {
            return Err(BarError::NonPositive { low });
        }
        if high < low {
            return Err(BarError::Inconsistent { detail: format!("high {high} is below low {low}") });
        }
        for (field, value) in [("open", open), ("close", close)] {
            if value < low || value > high {
                return Err(BarError::Inconsistent {
                    detail: format!("{field} {value} is outside [low {low}, high {high}]"),
                });
            }
        }
        Ok(Self { open_time, open, high, low, close, volume, spread: None, real_volume: None })
    }

    /// The same bar with a spread (points).
    #[must_use]
    pub const fn with_spread(mut self, spread: Option<u32>) -> Self {
        self.spread = spread;
        self
    }

    /// The same bar with a real volume.
    #[must_use]
    pub const fn with_real_volume(mut self, real_volume: Option<u64>) -> Self {
        self.real_volume = real_volume;
        self
    }

    /// The same bar moved to another open time (prices unchanged).
    #[must_use]
    pub const fn at(mut self, open_time: DateTime<Utc>) -> Self {
        self.open_time = open_time;
        self
    }

    /// Open time (UTC).
    #[must_use]
    pub const fn open_time(&self) -> DateTime<Utc> {
        self.open_time
    }
    /// Open price.
    #[must_use]
    pub const fn open(&self) -> f64 {
        self.open
    }
    /// High price.
    #[must_use]
    pub const fn high(&self) -> f64 {
        self.high
    }
    /// Low price.
    #[must_use]
    pub const fn low(&self) -> f64 {
        self.low
    }
    /// Close price.
    #[must_use]
    pub const fn close(&self) -> f64 {
        self.close
    }
    /// Tick volume.
    #[must_use]
    pub const fn volume(&self) -> u64 {
        self.volume
    }
    /// Spread in points, when known.
    #[must_use]
    pub const fn spread(&self) -> Option<u32> {
        self.spread
    }
    /// Real volume, when known.
    #[must_use]
    pub const fn real_volume(&self) -> Option<u64> {
        self.real_volume
    }

    /// The unchecked fields of this bar.
    #[must_use]
    pub const fn to_raw(&self) -> RawBar {
        RawBar {
            open_time: self.open_time,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
            spread: self.spread,
            real_volume: self.real_volume,
        }
    }

    /// Whether two bars carry the same values bit for bit (NaN cannot occur in a bar).
    #[must_use]
    pub fn same_values(&self, other: &Self) -> bool {
        self == other
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 0, 0).unwrap()
    }

    #[test]
    fn accepts_a_consistent_bar() {
        let b = Bar::new(t0(), 1.1, 1.2, 1.0, 1.15, 10).unwrap();
        assert_eq!(b.high(), 1.2);
        assert_eq!(b.volume(), 10);
        assert_eq!(b.spread(), None);
    }

    #[rstest]
    #[case(f64::NAN, 1.2, 1.0, 1.1)]
    #[case(1.1, f64::INFINITY, 1.0, 1.1)]
    #[case(1.1, 1.2, 1.0, f64::NEG_INFINITY)]
    fn rejects_non_finite(#[case] o: f64, #[case] h: f64, #[case] l: f64, #[case] c: f64) {
        assert!(matches!(Bar::new(t0(), o, h, l, c, 1), Err(BarError::NonFinite { .. })));
    }

    #[rstest]
    #[case(1.1, 1.0, 1.2, 1.1)] // high < low
    #[case(1.3, 1.2, 1.0, 1.1)] // open above high
    #[case(1.1, 1.2, 1.0, 0.9)] // close below low
    fn rejects_inconsistent(#[case] o: f64, #[case] h: f64, #[case] l: f64, #[case] c: f64) {
        assert!(matches!(Bar::new(t0(), o, h, l, c, 1), Err(BarError::Inconsistent { .. })));
    }

    #[test]
    fn rejects_non_positive_low() {
        assert!(matches!(Bar::new(t0(), 0.0, 1.0, 0.0, 0.5, 1), Err(BarError::NonPositive { .. })));
        assert!(matches!(Bar::new(t0(), -1.0, 1.0, -2.0, 0.5, 1), Err(BarError::NonPositive { .. })));
    }

    #[test]
    fn deserialisation_goes_through_the_check() {
        let ok = r#"{"open_time":"2025-01-02T03:00:00Z","open":1.1,"high":1.2,"low":1.0,"close":1.1,"volume":3}"#;
        let bar: Bar = serde_json::from_str(ok).unwrap();
        assert_eq!(bar.open_time(), t0());
        let bad = r#"{"open_time":"2025-01-02T03:00:00Z","open":1.1,"high":0.9,"low":1.0,"close":1.1,"volume":3}"#;
        assert!(serde_json::from_str::<Bar>(bad).is_err());
    }
}
