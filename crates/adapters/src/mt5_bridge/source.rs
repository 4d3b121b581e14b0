//! [`MarketDataSource`] over `GET /bars`: the UTC range goes out as server times, the bars come
//! back in server time and are converted, checked with [`Bar::new`] and kept within the range.

use async_trait::async_trait;
use axia_domain::ports::{MarketDataSource, SourceError};
use axia_domain::{Bar, OhlcvSeries, SeriesKey, TimeRange};

use super::wire::{self, BarWire, BarsWire};
use super::{Mt5Bridge, SOURCE_NAME};
use crate::csv_import::SourceTz;

#[async_trait]
impl MarketDataSource for Mt5Bridge {
    fn name(&self) -> &str {
        SOURCE_NAME
    }

    /// # Errors
    /// [`SourceError::UnknownSymbol`] for `unknown_symbol`; [`SourceError::Unavailable`] when
    /// the bridge cannot be reached, times out, answers 503 or another 5xx;
    /// [`SourceError::InvalidResponse`] for an answer off the protocol or a bad bar (named by
    /// its index and server time); [`SourceError::Unsupported`] for a refused token (401) or
    /// another refused request.
    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError> {
        if range.is_empty() {
            return Ok(OhlcvSeries::empty(key.clone()));
        }
        let symbol = key.symbol.as_str();
        let query = [
            ("symbol", symbol.to_owned()),
            ("timeframe", key.timeframe.as_str().to_owned()),
            ("from", wire::format_server_time(self.server_tz.from_utc(range.start()))),
            ("to", wire::format_server_time(self.server_tz.from_utc(range.end()))),
        ];
        let answer: BarsWire = self.http.get(&["bars"], &query).await.map_err(|e| e.into_source_error(symbol))?;
        let invalid = |detail: String| SourceError::InvalidResponse { source_name: SOURCE_NAME.into(), detail };
        if !answer.symbol.eq_ignore_ascii_case(symbol) || !answer.timeframe.eq_ignore_ascii_case(key.timeframe.as_str())
        {
            return Err(invalid(format!(
                "asked for {symbol} {}, got {} {}",
                key.timeframe, answer.symbol, answer.timeframe
            )));
        }
        let bars = to_bars(&answer.bars, self.server_tz, range).map_err(|e| invalid(format!("{key}: {e}")))?;
        OhlcvSeries::new(key.clone(), bars).map_err(|e| invalid(format!("{key}: {e}")))
    }
}

/// The bars within `range`, converted to UTC and checked.
pub(crate) fn to_bars(wire: &[BarWire], tz: SourceTz, range: TimeRange) -> Result<Vec<Bar>, String> {
    let mut bars = Vec::with_capacity(wire.len());
    for (i, b) in wire.iter().enumerate() {
        let local = wire::parse_server_time(&b.time).map_err(|e| format!("bar {i}: {e}"))?;
        let open_time = tz.to_utc(local);
        let bar = Bar::new(open_time, b.open, b.high, b.low, b.close, b.tick_volume)
            .map_err(|e| format!("bar {i} at {} server time ({tz}): {e}", wire::format_server_time(local)))?
            .with_spread(b.spread)
            .with_real_volume(b.real_volume);
        // copy_rates_range includes its end; the port's ranges do not.
        if range.contains(open_time) {
            bars.push(bar);
        }
    }
    Ok(bars)
}
