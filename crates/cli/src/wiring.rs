//! Builds the adapters the configuration asks for. The only place that knows concrete types.

use std::sync::Arc;

use axia_adapters::object_store::{LocalObjectStore, S3ObjectStore};
use axia_adapters::parquet::ParquetOhlcvRepository;
use axia_adapters::redis::{RedisClient, RedisOhlcvDataRepository};
use axia_adapters::sample::SampleSource;
use axia_adapters::synthetic::SyntheticSource;
use axia_application::DataService;
use axia_domain::ports::{MarketDataSource, ObjectStore, OhlcvDataRepository};
use axia_domain::{Clock, SeriesKey, Symbol, SystemClock, Timeframe};

use anyhow::Context;

use crate::config::{Config, HistoryBackend};
use crate::error::{CliResult, UsageContext};
use crate::timearg::parse_utc;

/// The assembled application.
#[derive(Debug, Clone)]
pub struct App {
    /// Effective configuration.
    pub config: Config,
    /// Wall clock.
    pub clock: Arc<dyn Clock>,
    /// The history tier (Parquet in a local directory or an S3 bucket).
    pub history: Arc<dyn OhlcvDataRepository>,
    /// The same history tier as its concrete type, for `axia data verify`.
    pub parquet: Arc<ParquetOhlcvRepository>,
    /// The bucket of the history tier, when `[storage] backend = "s3"` (for `axia init`).
    pub s3: Option<Arc<S3ObjectStore>>,
    /// The Redis bar tier, when `[redis] url` is set (its pool: `client()`).
    pub redis_bars: Option<Arc<RedisOhlcvDataRepository>>,
}

impl App {
    /// Wires the tiers of `config`. Nothing is sent to S3 yet (credentials are resolved by the
    /// first request).
    ///
    /// # Errors
    /// Configuration the adapters cannot use (e.g. S3 without a region).
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let (store, s3): (Arc<dyn ObjectStore>, _) = match config.storage.history_backend(&config.aws)? {
            HistoryBackend::Local(path) => (Arc::new(LocalObjectStore::new(path)), None),
            HistoryBackend::S3(settings) => {
                let bucket = Arc::new(S3ObjectStore::new(settings).await.context("[storage] s3")?);
                (Arc::clone(&bucket) as Arc<dyn ObjectStore>, Some(bucket))
            }
        };
        let parquet = Arc::new(ParquetOhlcvRepository::new(store, ""));
        let history: Arc<dyn OhlcvDataRepository> = Arc::clone(&parquet) as Arc<dyn OhlcvDataRepository>;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let redis_bars = match config.redis.adapter_config()? {
            Some(redis_config) => {
                let client = Arc::new(RedisClient::new(redis_config).context("[redis]")?);
                Some(Arc::new(RedisOhlcvDataRepository::with_client(client, Arc::clone(&clock))))
            }
            None => None,
        };
        Ok(Self { config, clock, history, parquet, s3, redis_bars })
    }

    /// The hot tiers the collector writes after the history tier (Redis, when configured).
    #[must_use]
    pub fn hot_tiers(&self) -> Vec<Arc<dyn OhlcvDataRepository>> {
        self.redis_bars.iter().map(|r| Arc::clone(r) as Arc<dyn OhlcvDataRepository>).collect()
    }

    /// Data operations over the history tier, reads fronted by Redis when configured.
    #[must_use]
    pub fn data_service(&self) -> DataService {
        let service = DataService::new(Arc::clone(&self.history));
        match &self.redis_bars {
            Some(r) => service.with_hot_tier(Arc::clone(r) as Arc<dyn OhlcvDataRepository>, r.config().retention),
            None => service,
        }
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
