//! Builds the adapters the configuration asks for. The only place that knows concrete types.

use std::sync::Arc;

use axia_adapters::mt5_bridge::Mt5Bridge;
use axia_adapters::object_store::{LocalObjectStore, S3ObjectStore};
use axia_adapters::paper::PaperBroker;
use axia_adapters::parquet::ParquetOhlcvRepository;
use axia_adapters::redis::{RedisClient, RedisOhlcvDataRepository, RedisSystemStatus};
use axia_adapters::sample::SampleSource;
use axia_adapters::synthetic::SyntheticSource;
use axia_adapters::yahoo::YahooSource;
use axia_application::collect::SourceChain;
use axia_application::orders::{KnownSymbols, OrderPorts, ProcessConfig, ProcessOrder};
use axia_application::{DataService, KillSwitchMirror, KillSwitchService};
use axia_domain::ports::{MarketDataSource, ObjectStore, OhlcvDataRepository};
use axia_domain::{Clock, FixedClock, SeriesKey, Symbol, SystemClock, Timeframe};

use anyhow::Context;
use tokio::sync::OnceCell;

use crate::config::{Config, EventsBackend, HistoryBackend, QueueBackend, SourceName, StateBackend};
use crate::error::{CliResult, UsageContext};
use crate::prices::HotFirstPrices;
use crate::state::StateStores;
use crate::timearg::parse_utc;
use crate::trading::{Events, Queue};

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
    /// Where the state store is (`[state]`); opened on first use by [`App::state`].
    pub state_backend: StateBackend,
    state: Arc<OnceCell<StateStores>>,
    /// Where the order queue is (`[queue]`); opened on first use by [`App::queue`].
    pub queue_backend: QueueBackend,
    queue: Arc<OnceCell<Queue>>,
    /// Where events go (`[events]`); built on first use by [`App::events`].
    pub events_backend: EventsBackend,
    events: Arc<OnceCell<Events>>,
    broker: Arc<std::sync::OnceLock<Arc<PaperBroker>>>,
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
        let state_backend = config.state.backend(&config.storage, &config.aws)?;
        let queue_backend = config.queue.backend(&config.storage, &config.aws)?;
        let events_backend = config.events.backend(&config.aws)?;
        Ok(Self {
            config,
            clock,
            history,
            parquet,
            s3,
            redis_bars,
            state_backend,
            state: Arc::default(),
            queue_backend,
            queue: Arc::default(),
            events_backend,
            events: Arc::default(),
            broker: Arc::default(),
        })
    }

    /// The order queue (`[queue]`), opened on the first call.
    ///
    /// # Errors
    /// The queue cannot be opened (a missing SQLite file names `axia init`).
    pub async fn queue(&self) -> anyhow::Result<&Queue> {
        self.queue.get_or_try_init(|| Queue::open(&self.queue_backend)).await
    }

    /// The event publisher (`[events]`), built on the first call.
    ///
    /// # Errors
    /// The SNS client cannot be built.
    pub async fn events(&self) -> anyhow::Result<&Events> {
        self.events.get_or_try_init(|| Events::open(&self.events_backend)).await
    }

    /// The paper broker (`[broker]`), pricing from the bars the collector stores: Redis first
    /// when `[redis] url` is set (the freshest bars, cheapest to read), else (and as the
    /// fallback) the history tier. One per process: it remembers its fills and resting orders.
    ///
    /// When `[collector] source` replays a market that ends at a fixed instant (`synthetic`
    /// with `synthetic_end`, the default, or `sample`), the broker's "now" is that end: the
    /// replayed market's last close is its current price, not a stale one.
    #[must_use]
    pub fn broker(&self) -> Arc<PaperBroker> {
        Arc::clone(self.broker.get_or_init(|| {
            let now = self.clock.now();
            let replay_end = self.source(&self.config.collector.source).ok().and_then(|s| s.data_end());
            let clock: Arc<dyn Clock> = match replay_end {
                Some(end) if end < now => {
                    tracing::info!(%end, "the collector's source is a replay: the paper broker prices as of its end");
                    Arc::new(FixedClock::new(end))
                }
                _ => Arc::clone(&self.clock),
            };
            Arc::new(PaperBroker::new(self.prices(), clock, self.config.broker.paper.clone()))
        }))
    }

    /// The bars the paper broker prices from (and the daemon feeds to it and to the exits):
    /// Redis first when configured, else the history tier.
    #[must_use]
    pub fn prices(&self) -> Arc<dyn OhlcvDataRepository> {
        match &self.redis_bars {
            Some(redis) => Arc::new(HotFirstPrices::new(
                Arc::clone(redis) as Arc<dyn OhlcvDataRepository>,
                Arc::clone(&self.history),
            )),
            None => Arc::clone(&self.history),
        }
    }

    /// The order-processing use case over the state store, the broker and the events.
    ///
    /// # Errors
    /// The state store or the event publisher cannot be opened; invalid `[orders] symbols`.
    pub async fn process_order(&self) -> anyhow::Result<ProcessOrder> {
        let stores = self.state().await?;
        let events = self.events().await?;
        let ports = OrderPorts {
            orders: Arc::clone(&stores.orders),
            positions: Arc::clone(&stores.positions),
            kill_switch: Arc::clone(&stores.kill_switch),
            broker: self.broker(),
            events: Arc::clone(&events.publisher),
            clock: Arc::clone(&self.clock),
        };
        let known = KnownSymbols::only(self.config.orders.symbols(&self.config.collector)?);
        // An order claimed but not finished is presumed in flight for twice the visibility
        // timeout: a redelivery inside that window waits instead of dead-lettering it.
        let visibility =
            chrono::TimeDelta::seconds(i64::try_from(self.config.queue.visibility_timeout_secs).unwrap_or(60));
        let config = ProcessConfig {
            in_flight_grace: (visibility * 2).max(ProcessConfig::default().in_flight_grace),
            ..ProcessConfig::default()
        };
        Ok(ProcessOrder::new(ports, known, config))
    }

    /// The state store (orders, positions, trades, kill switch), opened on the first call; only
    /// the commands that need it call this, so `collect` works without DynamoDB or the file.
    ///
    /// # Errors
    /// The store cannot be opened (a missing SQLite file names `axia init`).
    pub async fn state(&self) -> anyhow::Result<&StateStores> {
        self.state.get_or_try_init(|| StateStores::open(&self.state_backend)).await
    }

    /// The kill-switch mirror: `system:status` in Redis, when `[redis] url` is set.
    #[must_use]
    pub fn kill_switch_mirror(&self) -> Option<Arc<dyn KillSwitchMirror>> {
        self.redis_bars
            .as_ref()
            .map(|r| Arc::new(RedisSystemStatus::with_client(Arc::clone(r.client()))) as Arc<dyn KillSwitchMirror>)
    }

    /// The kill-switch use cases over `stores`, mirrored to Redis when configured.
    #[must_use]
    pub fn kill_switch(&self, stores: &StateStores) -> KillSwitchService {
        let service = KillSwitchService::new(Arc::clone(&stores.kill_switch), Arc::clone(&self.clock));
        match self.kill_switch_mirror() {
            Some(mirror) => service.with_mirror(mirror),
            None => service,
        }
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

    /// The market-data sources of `list` (`[collector] source` or `axia collect --source`: one
    /// name or a comma-separated fallback list such as `mt5_bridge,yahoo`), as a chain tried in
    /// that order per task.
    ///
    /// # Errors
    /// An unknown name, `mt5_bridge` without `[sources.mt5_bridge] url`, or settings an adapter
    /// refuses (usage errors).
    pub fn source(&self, list: &str) -> CliResult<SourceChain> {
        let names = self.config.check_sources(list).with_context(|| format!("source {list:?}")).usage()?;
        let mut sources: Vec<Arc<dyn MarketDataSource>> = Vec::with_capacity(names.len());
        for name in names {
            sources.push(self.one_source(name)?);
        }
        Ok(SourceChain::new(sources))
    }

    fn one_source(&self, name: SourceName) -> CliResult<Arc<dyn MarketDataSource>> {
        Ok(match name {
            SourceName::Synthetic => {
                let end = match self.config.collector.synthetic_end.trim() {
                    "now" => None,
                    text => Some(parse_utc(text).context("[collector] synthetic_end").usage()?),
                };
                Arc::new(SyntheticSource::new(self.config.collector.synthetic_seed).with_end(end))
            }
            SourceName::Sample => Arc::new(SampleSource::new()),
            SourceName::Yahoo => {
                let settings = self.config.sources.yahoo.settings().usage()?;
                Arc::new(YahooSource::new(settings, Arc::clone(&self.clock)).context("[sources.yahoo]").usage()?)
            }
            SourceName::Mt5Bridge => {
                let Some(settings) = self.config.sources.mt5_bridge.settings().usage()? else {
                    return Err(anyhow::anyhow!("[sources.mt5_bridge] url is not set")).usage();
                };
                Arc::new(
                    Mt5Bridge::with_clock(settings, Arc::clone(&self.clock)).context("[sources.mt5_bridge]").usage()?,
                )
            }
        })
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
