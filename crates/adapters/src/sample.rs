//! The shipped sample data set as a source: real EURUSD H1 bars from 2017-04-19 to 2018-02-07
//! (`data/EURUSD_H1_2017-2018.csv`, compiled into the binary), and the coarser timeframes
//! resampled from them on the New York close clock. Works offline in any directory.

use std::sync::OnceLock;

use async_trait::async_trait;
use axia_domain::ports::{MarketDataSource, SourceError};
use axia_domain::{OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Utc};

use crate::csv_import::{ImportOptions, parse_bars};

const SAMPLE_CSV: &str = include_str!("../../../data/EURUSD_H1_2017-2018.csv");
const NAME: &str = "sample";

/// Real EURUSD H1 bars shipped with axia.
#[derive(Debug, Default, Clone, Copy)]
pub struct SampleSource;

impl SampleSource {
    /// The sample source.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }

    /// The whole H1 series.
    ///
    /// # Errors
    /// [`SourceError::InvalidResponse`] if the embedded file does not parse (a build defect).
    pub fn h1() -> Result<&'static OhlcvSeries, SourceError> {
        static SERIES: OnceLock<Result<OhlcvSeries, String>> = OnceLock::new();
        SERIES
            .get_or_init(|| {
                let key = SeriesKey::new(Symbol::new("EURUSD").map_err(|e| e.to_string())?, Timeframe::H1);
                parse_bars(SAMPLE_CSV.as_bytes(), "EURUSD_H1_2017-2018.csv", &key, &ImportOptions::default())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| SourceError::InvalidResponse { source_name: NAME.into(), detail: e.clone() })
    }
}

#[async_trait]
impl MarketDataSource for SampleSource {
    fn name(&self) -> &str {
        NAME
    }

    fn data_end(&self) -> Option<DateTime<Utc>> {
        let last = Self::h1().ok()?.last()?;
        Some(last.open_time() + Timeframe::H1.duration())
    }

    async fn fetch(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, SourceError> {
        if key.symbol.as_str() != "EURUSD" {
            return Err(SourceError::UnknownSymbol { source_name: NAME.into(), symbol: key.symbol.to_string() });
        }
        let h1 = Self::h1()?;
        if key.timeframe == Timeframe::H1 {
            return Ok(h1.slice(range));
        }
        if !Timeframe::H1.can_resample_to(key.timeframe) {
            return Err(SourceError::Unsupported {
                source_name: NAME.into(),
                detail: format!("the sample holds H1 bars; {} cannot be made from them", key.timeframe),
            });
        }
        let resampled = h1
            .resample(key.timeframe)
            .map_err(|e| SourceError::InvalidResponse { source_name: NAME.into(), detail: e.to_string() })?;
        Ok(resampled.slice(range))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn all() -> TimeRange {
        TimeRange::new(
            Utc.with_ymd_and_hms(2017, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn serves_the_real_h1_bars_and_resamples_coarser_ones() {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1);
        let h1 = SampleSource.fetch(&key, all()).await.unwrap();
        assert_eq!(h1.len(), 5000);
        let d1 = SampleSource.fetch(&SeriesKey::new(key.symbol.clone(), Timeframe::D1), all()).await.unwrap();
        assert!(d1.len() > 200 && d1.len() < 260, "{}", d1.len());
    }

    #[tokio::test]
    async fn other_symbols_and_finer_timeframes_are_refused() {
        let usdjpy = SeriesKey::new(Symbol::new("USDJPY").unwrap(), Timeframe::H1);
        assert!(matches!(SampleSource.fetch(&usdjpy, all()).await, Err(SourceError::UnknownSymbol { .. })));
        let m1 = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1);
        assert!(matches!(SampleSource.fetch(&m1, all()).await, Err(SourceError::Unsupported { .. })));
    }
}
