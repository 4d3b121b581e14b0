//! Builds the adapters the configuration asks for. The only place that knows concrete types.

use std::sync::Arc;

use axia_adapters::memory::MemoryOhlcvRepository;
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
use axia_application::provider::{OhlcvDataProvider, ProviderTiers};
use axia_application::{KillSwitchMirror, KillSwitchService};
use axia_domain::ports::{BrokerGateway, MarketDataSource, ObjectStore, OhlcvDataRepository};
use axia_domain::{Clock, FixedClock, SeriesKey, Symbol, SystemClock, Timeframe};

use anyhow::Context;
use tokio::sync::OnceCell;

use crate::config::{BrokerBackend, Config, EventsBackend, HistoryBackend, QueueBackend, SourceName, StateBackend};
use crate::error::{CliError, CliResult, UsageContext};
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
    bridge_broker: Arc<std::sync::OnceLock<Arc<Mt5Bridge>>>,
    provider: Arc<std::sync::OnceLock<OhlcvDataProvider>>,
    data_clock: Arc<dyn Clock>,
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
        let data_clock = replay_clock(&config, &clock);
        // Redis keeps "the last 24 h" of the market the collector writes: of a replayed market,
        // its last 24 h.
        let redis_bars = match config.redis.adapter_config()? {
            Some(redis_config) => {
                let client = Arc::new(RedisClient::new(redis_config).context("[redis]")?);
                Some(Arc::new(RedisOhlcvDataRepository::with_client(client, Arc::clone(&data_clock))))
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
            bridge_broker: Arc::default(),
            provider: Arc::default(),
            data_clock,
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
            Arc::new(PaperBroker::new(self.prices(), self.data_clock(), self.config.broker.paper.clone()))
        }))
    }

    /// The broker `[broker] backend` names, built on the first call (one per process: the paper
    /// broker remembers its resting orders, the bridge client its connection status and fills
    /// cursor).
    ///
    /// # Errors
    /// An unknown backend, or `mt5_bridge` without (or with invalid) `[sources.mt5_bridge]`
    /// settings (usage errors; the configuration check catches them first).
    pub fn broker_choice(&self) -> CliResult<Broker> {
        match self.config.broker.kind().usage()? {
            BrokerBackend::Paper => Ok(Broker::Paper(self.broker())),
            BrokerBackend::Mt5Bridge => {
                if let Some(bridge) = self.bridge_broker.get() {
                    return Ok(Broker::Mt5(Arc::clone(bridge)));
                }
                let Some(settings) = self.config.sources.mt5_bridge.settings().usage()? else {
                    return Err(anyhow::anyhow!(
                        "[broker] backend = \"mt5_bridge\": [sources.mt5_bridge] url is not set"
                    ))
                    .usage();
                };
                let bridge = Arc::new(
                    Mt5Bridge::with_clock(settings, Arc::clone(&self.clock)).context("[sources.mt5_bridge]").usage()?,
                );
                Ok(Broker::Mt5(Arc::clone(self.bridge_broker.get_or_init(|| bridge))))
            }
        }
    }

    /// "Now" for reading the market: the wall clock, or, when `[collector] source` replays a
    /// market that ends at a fixed instant before now (`synthetic` with `synthetic_end`, the
    /// default, or `sample`), that end. The paper broker prices as of it and `fetch --days N` /
    /// `chart --days N` count back from it, so the embedded defaults show the replayed market.
    #[must_use]
    pub fn data_clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.data_clock)
    }

    /// The unified provider over the configured tiers (L1 memory, Redis, the history tier and
    /// the `[provider]` sources), built on the first call; one per process, so its L1 and stats
    /// are shared by everything the process reads.
    ///
    /// # Errors
    /// An unknown `[provider]` source name or invalid `[memory]` settings (usage errors).
    pub fn provider(&self) -> CliResult<OhlcvDataProvider> {
        if let Some(p) = self.provider.get() {
            return Ok(p.clone());
        }
        let source = |name: &str| -> CliResult<Option<Arc<dyn MarketDataSource>>> {
            let name = name.trim();
            if name.is_empty() { Ok(None) } else { Ok(Some(Arc::new(self.source(name)?) as Arc<dyn MarketDataSource>)) }
        };
        let tiers = ProviderTiers {
            memory: Some(
                Arc::new(MemoryOhlcvRepository::new(self.config.memory.tier())) as Arc<dyn OhlcvDataRepository>
            ),
            redis: self.redis_bars.as_ref().map(|r| Arc::clone(r) as Arc<dyn OhlcvDataRepository>),
            history: Some(Arc::clone(&self.history)),
            broker: source(&self.config.provider.broker_source).map_err(|e| e.context("[provider] broker_source"))?,
            api: source(&self.config.provider.api_source).map_err(|e| e.context("[provider] api_source"))?,
        };
        let mut config = self.config.provider.config(&self.config.memory).usage()?;
        if let Some(redis) = &self.redis_bars {
            config.redis_window = redis.config().retention;
        }
        let provider = OhlcvDataProvider::new(tiers, config, self.data_clock());
        Ok(self.provider.get_or_init(|| provider).clone())
    }

    /// This process's provider counters, when it built a provider (read at each call, so a
    /// provider built later counts too).
    pub fn provider_stats_fn(
        &self,
    ) -> impl Fn() -> Option<axia_application::provider::StatsSnapshot> + Send + Sync + 'static {
        let cell = Arc::clone(&self.provider);
        move || cell.get().map(OhlcvDataProvider::stats)
    }

    /// Adds this process's provider counters to the persisted totals (`[provider] stats_path`)
    /// and returns the totals; never fails the caller.
    pub fn record_provider_stats(&self) -> Option<axia_application::provider::StatsSnapshot> {
        let provider = self.provider.get()?;
        let path = self.config.provider.stats_path(&self.config.storage.base_path);
        crate::stats_file::record(path.as_deref(), &provider.stats())
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

    /// The order-processing use case over the state store, the broker of `[broker] backend`
    /// ([`App::broker_choice`]) and the events.
    ///
    /// # Errors
    /// The state store or the event publisher cannot be opened; invalid `[orders] symbols` or
    /// broker settings.
    pub async fn process_order(&self) -> anyhow::Result<ProcessOrder> {
        let broker = match self.broker_choice() {
            Ok(broker) => broker.gateway(),
            Err(CliError::Usage(e) | CliError::Failed(e)) => return Err(e),
        };
        let stores = self.state().await?;
        let events = self.events().await?;
        let ports = OrderPorts {
            orders: Arc::clone(&stores.orders),
            positions: Arc::clone(&stores.positions),
            kill_switch: Arc::clone(&stores.kill_switch),
            broker,
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

    /// The market-data sources of `list` (`[collector] source` or `axia collect --source`: one
    /// name or a comma-separated fallback list such as `mt5_bridge,yahoo`), as a chain tried in
    /// that order per task.
    ///
    /// # Errors
    /// An unknown name, `mt5_bridge` without `[sources.mt5_bridge] url`, or settings an adapter
    /// refuses (usage errors).
    pub fn source(&self, list: &str) -> CliResult<SourceChain> {
        source_chain(&self.config, &self.clock, list)
    }
}

/// The sources of `list` as a chain (see [`App::source`]).
///
/// # Errors
/// As [`App::source`].
fn source_chain(config: &Config, clock: &Arc<dyn Clock>, list: &str) -> CliResult<SourceChain> {
    let names = config.check_sources(list).with_context(|| format!("source {list:?}")).usage()?;
    let mut sources: Vec<Arc<dyn MarketDataSource>> = Vec::with_capacity(names.len());
    for name in names {
        sources.push(one_source(config, clock, name)?);
    }
    Ok(SourceChain::new(sources))
}

fn one_source(config: &Config, clock: &Arc<dyn Clock>, name: SourceName) -> CliResult<Arc<dyn MarketDataSource>> {
    Ok(match name {
        SourceName::Synthetic => {
            let end = match config.collector.synthetic_end.trim() {
                "now" => None,
                text => Some(parse_utc(text).context("[collector] synthetic_end").usage()?),
            };
            Arc::new(SyntheticSource::new(config.collector.synthetic_seed).with_end(end))
        }
        SourceName::Sample => Arc::new(SampleSource::new()),
        SourceName::Yahoo => {
            let settings = config.sources.yahoo.settings().usage()?;
            Arc::new(YahooSource::new(settings, Arc::clone(clock)).context("[sources.yahoo]").usage()?)
        }
        SourceName::Mt5Bridge => {
            let Some(settings) = config.sources.mt5_bridge.settings().usage()? else {
                return Err(anyhow::anyhow!("[sources.mt5_bridge] url is not set")).usage();
            };
            Arc::new(Mt5Bridge::with_clock(settings, Arc::clone(clock)).context("[sources.mt5_bridge]").usage()?)
        }
    })
}

/// The broker of `[broker] backend` as its concrete type: the order daemon feeds each its own
/// way (bars to the paper broker, fill polling to the bridge).
#[derive(Debug, Clone)]
pub enum Broker {
    /// The paper broker ([`App::broker`]).
    Paper(Arc<PaperBroker>),
    /// The MT5 bridge (`[sources.mt5_bridge]`).
    Mt5(Arc<Mt5Bridge>),
}

impl Broker {
    /// The broker as the port the order use case calls.
    #[must_use]
    pub fn gateway(&self) -> Arc<dyn BrokerGateway> {
        match self {
            Self::Paper(paper) => Arc::clone(paper) as Arc<dyn BrokerGateway>,
            Self::Mt5(bridge) => Arc::clone(bridge) as Arc<dyn BrokerGateway>,
        }
    }

    /// The backend name (`paper` or `mt5_bridge`).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Paper(_) => "paper",
            Self::Mt5(_) => "mt5_bridge",
        }
    }
}

/// The wall clock, or the end of the market `[collector] source` replays when that lies before
/// now (see [`App::data_clock`]).
fn replay_clock(config: &Config, clock: &Arc<dyn Clock>) -> Arc<dyn Clock> {
    let now = clock.now();
    // A configuration error here is reported by the command that uses the source.
    let replay_end = source_chain(config, clock, &config.collector.source).ok().and_then(|c| c.data_end());
    match replay_end {
        Some(end) if end < now => {
            tracing::debug!(%end, "the collector's source is a replay: reading the market as of its end");
            Arc::new(FixedClock::new(end))
        }
        _ => Arc::clone(clock),
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
