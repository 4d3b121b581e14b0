//! Builds the adapters the configuration asks for. The only place that knows concrete types.

use std::sync::Arc;

use axia_adapters::object_store::LocalObjectStore;
use axia_adapters::parquet::ParquetOhlcvRepository;
use axia_adapters::sample::SampleSource;
use axia_adapters::synthetic::SyntheticSource;
use axia_domain::ports::{MarketDataSource, ObjectStore, OhlcvDataRepository};
use axia_domain::{Clock, SeriesKey, Symbol, SystemClock, Timeframe};

use anyhow::Context;

use crate::config::Config;
use crate::error::{CliResult, UsageContext};
use crate::timearg::parse_utc;

/// The assembled application.
#[derive(Debug, Clone)]
pub struct App {
    /// Effective configuration.
    pub config: Config,
    /// Wall clock.
    pub clock: Arc<dyn Clock>,
    /// The history tier (local Parquet directory).
    pub history: Arc<dyn OhlcvDataRepository>,
}

impl App {
    /// Wires the tiers of `config`.
    ///
    /// # Errors
    /// Configuration the adapters cannot use.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(config.storage.base_path.clone()));
        let history: Arc<dyn OhlcvDataRepository> = Arc::new(ParquetOhlcvRepository::new(store, ""));
        Ok(Self { config, clock: Arc::new(SystemClock), history })
    }

    /// The market-data source called `name`.
    ///
    /// # Errors
    /// An unknown name (usage error).
    pub fn source(&self, name: &str) -> CliResult<Arc<dyn MarketDataSource>> {
        match name {
            "synthetic" => {
                let end = match self.config.collector.synthetic_end.trim() {
                    "now" => None,
                    text => Some(parse_utc(text).context("[collector] synthetic_end").usage()?),
                };
                Ok(Arc::new(SyntheticSource::new(self.config.collector.synthetic_seed).with_end(end)))
            }
            "sample" => Ok(Arc::new(SampleSource::new())),
            other => {
                Err(anyhow::anyhow!("unknown source {other:?}: this build knows \"synthetic\" and \"sample\"")).usage()
            }
        }
    }
}

/// Parses a symbol argument.
///
/// # Errors
/// An invalid symbol (usage error).
pub fn symbol(text: &str) -> CliResult<Symbol> {
    Symbol::new(text).usage()
}

/// Parses a timeframe argument.
///
/// # Errors
/// An unknown timeframe (usage error).
pub fn timeframe(text: &str) -> CliResult<Timeframe> {
    text.trim().parse::<Timeframe>().usage()
}

/// Parses `SYMBOL TF`.
///
/// # Errors
/// As [`symbol`] and [`timeframe`].
pub fn series_key(sym: &str, tf: &str) -> CliResult<SeriesKey> {
    Ok(SeriesKey::new(symbol(sym)?, timeframe(tf)?))
}
