//! How our symbols and timeframes are named on Yahoo: the `=X` suffix of currency pairs, and the
//! chart interval fetched for each timeframe (H4 is made locally from 60m bars).

use axia_domain::{Symbol, Timeframe};

/// The Yahoo ticker of a symbol: six-letter pairs of known currency codes get Yahoo's `=X`
/// suffix (`EURUSD` → `EURUSD=X`); everything else (`AAPL`, `7203.T`, `^GSPC`, `GC=F`) is
/// already a Yahoo ticker and is sent unchanged.
#[must_use]
pub fn yahoo_symbol(symbol: &Symbol) -> String {
    if symbol.is_currency_pair() { format!("{}=X", symbol.as_str()) } else { symbol.as_str().to_string() }
}

/// A chart interval of the Yahoo API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interval {
    M1,
    M5,
    M15,
    M30,
    M60,
    D1,
    W1,
    MN1,
}

impl Interval {
    /// The `interval` query value.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::M30 => "30m",
            Self::M60 => "60m",
            Self::D1 => "1d",
            Self::W1 => "1wk",
            Self::MN1 => "1mo",
        }
    }

    /// The timeframe of the bars Yahoo returns for this interval.
    pub(crate) const fn timeframe(self) -> Timeframe {
        match self {
            Self::M1 => Timeframe::M1,
            Self::M5 => Timeframe::M5,
            Self::M15 => Timeframe::M15,
            Self::M30 => Timeframe::M30,
            Self::M60 => Timeframe::H1,
            Self::D1 => Timeframe::D1,
            Self::W1 => Timeframe::W1,
            Self::MN1 => Timeframe::MN1,
        }
    }

    /// True for daily, weekly and monthly bars, which Yahoo stamps with an exchange-local date.
    pub(crate) const fn is_dated(self) -> bool {
        matches!(self, Self::D1 | Self::W1 | Self::MN1)
    }
}

/// How one timeframe is fetched: the Yahoo interval, and the timeframe to resample to locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The interval requested from Yahoo.
    pub(crate) interval: Interval,
    /// `Some` when Yahoo has no such interval and the bars are resampled (H4 from 60m).
    pub(crate) resample_to: Option<Timeframe>,
}

/// The fetch plan of a timeframe.
pub(crate) const fn plan(timeframe: Timeframe) -> Plan {
    let (interval, resample_to) = match timeframe {
        Timeframe::M1 => (Interval::M1, None),
        Timeframe::M5 => (Interval::M5, None),
        Timeframe::M15 => (Interval::M15, None),
        Timeframe::M30 => (Interval::M30, None),
        Timeframe::H1 => (Interval::M60, None),
        // Yahoo's 4h interval is undocumented and not aligned on the New York close clock.
        Timeframe::H4 => (Interval::M60, Some(Timeframe::H4)),
        Timeframe::D1 => (Interval::D1, None),
        Timeframe::W1 => (Interval::W1, None),
        Timeframe::MN1 => (Interval::MN1, None),
    };
    Plan { interval, resample_to }
}

/// Percent-encodes a ticker for the URL path (`^GSPC` → `%5EGSPC`); `=` and `.` stay.
pub(crate) fn encode_path_segment(ticker: &str) -> String {
    let mut out = String::with_capacity(ticker.len());
    for b in ticker.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'=') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("EURUSD", "EURUSD=X")]
    #[case("usdjpy", "USDJPY=X")]
    #[case("EUR/GBP", "EURGBP=X")]
    #[case("XAUUSD", "XAUUSD=X")]
    #[case("AAPL", "AAPL")]
    #[case("7203.T", "7203.T")]
    #[case("^GSPC", "^GSPC")]
    #[case("GC=F", "GC=F")]
    #[case("EURUSD=X", "EURUSD=X")]
    // Six letters but not two currency codes: an equity ticker.
    #[case("GOOGLE", "GOOGLE")]
    #[case("USDUSD", "USDUSD")]
    fn maps_symbols(#[case] ours: &str, #[case] yahoo: &str) {
        assert_eq!(yahoo_symbol(&Symbol::new(ours).unwrap()), yahoo);
    }

    #[rstest]
    #[case(Timeframe::M1, "1m", None)]
    #[case(Timeframe::M5, "5m", None)]
    #[case(Timeframe::M15, "15m", None)]
    #[case(Timeframe::M30, "30m", None)]
    #[case(Timeframe::H1, "60m", None)]
    #[case(Timeframe::H4, "60m", Some(Timeframe::H4))]
    #[case(Timeframe::D1, "1d", None)]
    #[case(Timeframe::W1, "1wk", None)]
    #[case(Timeframe::MN1, "1mo", None)]
    fn maps_timeframes(#[case] tf: Timeframe, #[case] interval: &str, #[case] resample: Option<Timeframe>) {
        let p = plan(tf);
        assert_eq!(p.interval.as_str(), interval);
        assert_eq!(p.resample_to, resample);
        // What Yahoo returns can always become what was asked.
        let got = p.interval.timeframe();
        assert!(got == tf || got.can_resample_to(tf));
    }

    #[rstest]
    #[case("^GSPC", "%5EGSPC")]
    #[case("EURUSD=X", "EURUSD=X")]
    #[case("7203.T", "7203.T")]
    #[case("BRK-B", "BRK-B")]
    fn encodes_tickers_for_the_path(#[case] ticker: &str, #[case] encoded: &str) {
        assert_eq!(encode_path_segment(ticker), encoded);
    }
}
