//! Bar timeframes.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// The bar timeframes axia stores, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Timeframe {
    /// One minute.
    M1,
    /// Five minutes.
    M5,
    /// Fifteen minutes.
    M15,
    /// Thirty minutes.
    M30,
    /// One hour.
    H1,
    /// Four hours (on the New York close clock for FX).
    H4,
    /// One day (a New York close day for FX).
    D1,
    /// One week, opening Monday 00:00 of the calendar's clock.
    W1,
    /// One calendar month, opening on the 1st 00:00 of the calendar's clock.
    MN1,
}

impl Timeframe {
    /// Every timeframe, finest first.
    pub const ALL: [Self; 9] =
        [Self::M1, Self::M5, Self::M15, Self::M30, Self::H1, Self::H4, Self::D1, Self::W1, Self::MN1];

    /// The canonical name (`M1` … `MN1`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "M1",
            Self::M5 => "M5",
            Self::M15 => "M15",
            Self::M30 => "M30",
            Self::H1 => "H1",
            Self::H4 => "H4",
            Self::D1 => "D1",
            Self::W1 => "W1",
            Self::MN1 => "MN1",
        }
    }

    /// Nominal length in seconds; a month counts as 30 days (use the calendar for real bar ends).
    #[must_use]
    pub const fn seconds(self) -> i64 {
        match self {
            Self::M1 => 60,
            Self::M5 => 300,
            Self::M15 => 900,
            Self::M30 => 1_800,
            Self::H1 => 3_600,
            Self::H4 => 14_400,
            Self::D1 => 86_400,
            Self::W1 => 604_800,
            Self::MN1 => 2_592_000,
        }
    }

    /// Nominal length; a month counts as 30 days.
    #[must_use]
    pub const fn duration(self) -> TimeDelta {
        TimeDelta::seconds(self.seconds())
    }

    /// True for timeframes below one day.
    #[must_use]
    pub const fn is_intraday(self) -> bool {
        self.seconds() < 86_400
    }

    /// Whether bars of `self` aggregate exactly into bars of `target` on one calendar.
    ///
    /// Intraday and daily targets need a whole multiple of the source length; weeks and months
    /// are built from daily or finer bars (a week can straddle two months).
    #[must_use]
    pub const fn can_resample_to(self, target: Self) -> bool {
        if (target as u8) <= (self as u8) {
            return false;
        }
        match target {
            Self::W1 | Self::MN1 => (self as u8) <= (Self::D1 as u8),
            _ => target.seconds() % self.seconds() == 0,
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timeframe {
    type Err = DomainError;

    /// Parses `M1`, `1m`, `1min`, `m1`, `H4`, `4h`, `D1`, `1d`, `daily`, `W1`, `1w`, `MN1`,
    /// `1mo`, `1month`… case-insensitively. A bare `1M` is ambiguous and is read as one minute,
    /// the way MetaTrader names it; months are `MN1` or `1mo`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim().to_ascii_lowercase();
        let tf = match s.as_str() {
            "m1" | "1m" | "1min" | "1mins" | "1minute" | "1minutes" | "1t" => Self::M1,
            "m5" | "5m" | "5min" | "5mins" | "5minutes" | "5t" => Self::M5,
            "m15" | "15m" | "15min" | "15mins" | "15minutes" | "15t" => Self::M15,
            "m30" | "30m" | "30min" | "30mins" | "30minutes" | "30t" => Self::M30,
            "h1" | "1h" | "60m" | "60min" | "1hour" | "hourly" => Self::H1,
            "h4" | "4h" | "240m" | "240min" | "4hour" | "4hours" => Self::H4,
            "d1" | "1d" | "d" | "1day" | "day" | "daily" => Self::D1,
            "w1" | "1w" | "w" | "1wk" | "1week" | "week" | "weekly" => Self::W1,
            "mn1" | "mn" | "1mo" | "1mon" | "1month" | "month" | "monthly" => Self::MN1,
            _ => {
                return Err(DomainError::InvalidTimeframe { timeframe: raw.trim().to_string() });
            }
        };
        Ok(tf)
    }
}

impl TryFrom<String> for Timeframe {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Timeframe> for String {
    fn from(value: Timeframe) -> Self {
        value.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("M1", Timeframe::M1)]
    #[case("1m", Timeframe::M1)]
    #[case("1min", Timeframe::M1)]
    #[case("m5", Timeframe::M5)]
    #[case("15MIN", Timeframe::M15)]
    #[case("30m", Timeframe::M30)]
    #[case("h1", Timeframe::H1)]
    #[case("1H", Timeframe::H1)]
    #[case("4h", Timeframe::H4)]
    #[case("D1", Timeframe::D1)]
    #[case("1d", Timeframe::D1)]
    #[case("w1", Timeframe::W1)]
    #[case("1wk", Timeframe::W1)]
    #[case("MN1", Timeframe::MN1)]
    #[case("1mo", Timeframe::MN1)]
    fn parses_aliases(#[case] raw: &str, #[case] tf: Timeframe) {
        assert_eq!(raw.parse::<Timeframe>().unwrap(), tf);
    }

    #[rstest]
    #[case("")]
    #[case("M2")]
    #[case("H3")]
    #[case("fortnight")]
    fn rejects_unknown(#[case] raw: &str) {
        assert!(matches!(raw.parse::<Timeframe>(), Err(DomainError::InvalidTimeframe { .. })));
    }

    #[test]
    fn display_round_trips_for_all() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.to_string().parse::<Timeframe>().unwrap(), tf);
        }
    }

    #[rstest]
    #[case(Timeframe::M1, Timeframe::M5, true)]
    #[case(Timeframe::M5, Timeframe::M15, true)]
    #[case(Timeframe::M15, Timeframe::M30, true)]
    #[case(Timeframe::H1, Timeframe::H4, true)]
    #[case(Timeframe::H4, Timeframe::D1, true)]
    #[case(Timeframe::H1, Timeframe::W1, true)]
    #[case(Timeframe::D1, Timeframe::MN1, true)]
    #[case(Timeframe::W1, Timeframe::MN1, false)]
    #[case(Timeframe::H1, Timeframe::H1, false)]
    #[case(Timeframe::H4, Timeframe::H1, false)]
    fn resample_compatibility(#[case] from: Timeframe, #[case] to: Timeframe, #[case] ok: bool) {
        assert_eq!(from.can_resample_to(to), ok);
    }
}
