//! The scenarios through the unified provider: a 30-day M1 chart stitched from the Parquet
//! history and the last 24 h in Redis (cold: a new provider per run, so L1 is empty; warm: the
//! same provider, an L1 hit), and an L1 hit of the 24 h series.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use axia_adapters::memory::{MemoryOhlcvRepository, MemoryTierConfig};
use axia_adapters::object_store::LocalObjectStore;
use axia_adapters::parquet::ParquetOhlcvRepository;
use axia_application::provider::{OhlcvDataProvider, ProviderConfig, ProviderTiers, TierKind, UseCase};
use axia_domain::ports::{ObjectStore, OhlcvDataRepository};
use axia_domain::{Clock, FixedClock, TimeRange, Timeframe};

use super::Context;
use super::stats::{Figures, Plan, sample};
use super::tiers::L1_GETS_PER_RUN;
use super::workload::{self, HISTORY_M1_BARS, MEASURED_SYMBOL};

/// The tiers of the chart scenarios: the EURUSD M1 history in a local Parquet store and the 45
/// hot series in Redis (both written once, untimed), and a fresh L1.
struct ChartTiers {
    history: Arc<dyn OhlcvDataRepository>,
    redis: Arc<dyn OhlcvDataRepository>,
    clock: Arc<dyn Clock>,
}

impl ChartTiers {
    async fn load(ctx: &Context<'_>) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(ctx.scratch.join("provider-history")));
        let history = Arc::new(ParquetOhlcvRepository::new(store, ""));
        history.upsert(ctx.workload.history_of(MEASURED_SYMBOL)?).await?;
        let redis = Arc::clone(ctx.loaded_redis().await?);
        Ok(Self { history, redis, clock: Arc::new(FixedClock::new(workload::now())) })
    }

    /// A provider with an empty L1.
    fn provider(&self) -> OhlcvDataProvider {
        let tiers = ProviderTiers {
            memory: Some(Arc::new(MemoryOhlcvRepository::new(MemoryTierConfig::default()))),
            redis: Some(Arc::clone(&self.redis)),
            history: Some(Arc::clone(&self.history)),
            broker: None,
            api: None,
        };
        OhlcvDataProvider::new(tiers, ProviderConfig::default(), Arc::clone(&self.clock))
    }
}

/// The chart's range: the workload's 30 weekdays (43,200 M1 bars) up to the frozen now.
fn chart_range() -> TimeRange {
    workload::history_range()
}

/// `provider_chart_30d`: the first chart of a process (L1 empty): Redis serves the last 24 h,
/// the Parquet store the 29 weekdays before, stitched into one series and written to L1.
///
/// # Errors
/// A tier failing, or a chart with another number of bars or other tiers.
pub async fn chart_30d_cold(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let tiers = ChartTiers::load(ctx).await?;
    let key = workload::key(MEASURED_SYMBOL, Timeframe::M1)?;
    let samples = sample("provider_chart_30d", plan, async |_| {
        let provider = tiers.provider();
        let started = Instant::now();
        let (series, meta) = provider.get_data(&key, chart_range(), UseCase::Chart).await?;
        let took = started.elapsed();
        ensure!(series.len() == HISTORY_M1_BARS, "provider_chart_30d read {} bars", series.len());
        ensure!(
            meta.served_by == [TierKind::Redis, TierKind::History],
            "provider_chart_30d was served by {:?}",
            meta.served_by
        );
        Ok(took)
    })
    .await?;
    Ok(samples.figures())
}

/// `provider_chart_30d_warm`: the same chart again (an L1 hit within the chart freshness).
///
/// # Errors
/// As [`chart_30d_cold`], or a warm call not served by L1 alone.
pub async fn chart_30d_warm(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let tiers = ChartTiers::load(ctx).await?;
    let key = workload::key(MEASURED_SYMBOL, Timeframe::M1)?;
    let provider = tiers.provider();
    provider.get_data(&key, chart_range(), UseCase::Chart).await?;
    let samples = sample("provider_chart_30d_warm", plan, async |_| {
        let started = Instant::now();
        let (series, meta) = provider.get_data(&key, chart_range(), UseCase::Chart).await?;
        let took = started.elapsed();
        ensure!(series.len() == HISTORY_M1_BARS, "provider_chart_30d_warm read {} bars", series.len());
        ensure!(meta.served_by == [TierKind::Memory], "a warm chart was served by {:?}", meta.served_by);
        Ok(took)
    })
    .await?;
    Ok(samples.figures())
}

/// `l1_get_24h`: the provider's L1 hit for the last 24 h of EURUSD M1 (`get_data`, chart use
/// case, within its freshness), timed by batches of [`L1_GETS_PER_RUN`].
///
/// # Errors
/// A call not served by L1 alone.
pub async fn l1_get_24h(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let day = ctx.workload.recent_of(MEASURED_SYMBOL, Timeframe::M1)?.clone();
    let memory = Arc::new(MemoryOhlcvRepository::new(MemoryTierConfig::default()));
    // The day sits in a store tier; the first read puts it in L1.
    let store = Arc::new(axia_adapters::memory::InMemoryOhlcvRepository::new());
    store.upsert(&day).await?;
    let tiers = ProviderTiers { memory: Some(memory), redis: Some(store), history: None, broker: None, api: None };
    let provider = OhlcvDataProvider::new(tiers, ProviderConfig::default(), Arc::new(FixedClock::new(workload::now())));
    let (key, range) = (day.key().clone(), workload::last_hours(24));
    provider.get_data(&key, range, UseCase::Chart).await?;
    let samples = sample("l1_get_24h", plan.batched(L1_GETS_PER_RUN), async |_| {
        let mut bars = 0;
        let started = Instant::now();
        for _ in 0..L1_GETS_PER_RUN {
            let (series, meta) = std::hint::black_box(provider.get_data(&key, range, UseCase::Chart).await?);
            bars += if meta.served_by == [TierKind::Memory] { series.len() } else { 0 };
        }
        let took = started.elapsed();
        ensure!(bars == day.len() * L1_GETS_PER_RUN as usize, "l1_get_24h: a call was not an L1 hit");
        Ok::<Duration, anyhow::Error>(took)
    })
    .await?;
    Ok(samples.figures())
}
