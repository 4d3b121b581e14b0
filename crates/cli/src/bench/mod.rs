//! The performance scenarios of SPEC §11 (`axia bench`), on the fixed workload of [`workload`].
//!
//! - [`workload`]: the seeded bars and the frozen clock;
//! - [`stats`]: timing runs and the reported figures;
//! - [`env`]: the unique Redis prefix and the scratch directory, both removed at the end;
//! - [`redis`], [`tiers`], [`provider`] and [`orders`]: the scenarios.

pub mod env;
pub mod orders;
pub mod provider;
pub mod redis;
pub mod stats;
pub mod tiers;
pub mod workload;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axia_adapters::redis::RedisOhlcvDataRepository;
use axia_domain::FixedClock;
use tokio::sync::OnceCell;

use self::env::BenchRedis;
use self::stats::{Figures, Plan};
use self::workload::Workload;

/// One scenario of SPEC §11 that this build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Store 1,440 M1 bars into an empty Redis key.
    RedisSet1440,
    /// Read the last 24 h (1,440 bars) from Redis.
    RedisGet24h,
    /// Read the last hour (60 bars) from Redis.
    RedisGet1h,
    /// Upsert one bar into a 24 h series, trim, refresh the TTL.
    RedisUpdate1Bar,
    /// Write the 45 hot series to Redis and the Parquet store.
    Collect45,
    /// Load 43,200 M1 bars from the local Parquet store.
    ParquetLoad30dM1,
    /// Bytes Redis uses for the 45 series.
    RedisMemory,
    /// A hit of the provider's L1 for the 24 h series.
    L1Get24h,
    /// A 30-day M1 chart through the provider with L1 empty (Redis + Parquet, stitched).
    ProviderChart30d,
    /// The same chart again: an L1 hit.
    ProviderChart30dWarm,
    /// One order through the embedded queue, SQLite state store and paper broker.
    OrdersEmbedded,
}

impl Scenario {
    /// Every scenario, in the order a full run measures them.
    pub const ALL: [Self; 11] = [
        Self::RedisSet1440,
        Self::RedisGet24h,
        Self::RedisGet1h,
        Self::RedisUpdate1Bar,
        Self::Collect45,
        Self::ParquetLoad30dM1,
        Self::RedisMemory,
        Self::L1Get24h,
        Self::ProviderChart30d,
        Self::ProviderChart30dWarm,
        Self::OrdersEmbedded,
    ];

    /// The name in `--scenario` and the JSON output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::RedisSet1440 => "redis_set_1440",
            Self::RedisGet24h => "redis_get_24h",
            Self::RedisGet1h => "redis_get_1h",
            Self::RedisUpdate1Bar => "redis_update_1bar",
            Self::Collect45 => "collect_45",
            Self::ParquetLoad30dM1 => "parquet_load_30d_m1",
            Self::RedisMemory => "redis_memory",
            Self::L1Get24h => "l1_get_24h",
            Self::ProviderChart30d => "provider_chart_30d",
            Self::ProviderChart30dWarm => "provider_chart_30d_warm",
            Self::OrdersEmbedded => "orders_embedded",
        }
    }

    /// The scenario called `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name.trim())
    }

    /// Timed runs when `--iterations` is not given.
    #[must_use]
    pub const fn default_iterations(self) -> u32 {
        match self {
            Self::RedisSet1440 => 300,
            Self::RedisGet24h | Self::RedisGet1h | Self::RedisUpdate1Bar | Self::L1Get24h => 1_000,
            Self::Collect45 => 20,
            Self::ParquetLoad30dM1 | Self::ProviderChart30d => 50,
            Self::ProviderChart30dWarm => 1_000,
            Self::RedisMemory => 1,
            Self::OrdersEmbedded => 10,
        }
    }

    /// Whether the scenario talks to Redis.
    #[must_use]
    pub const fn needs_redis(self) -> bool {
        !matches!(self, Self::ParquetLoad30dM1 | Self::L1Get24h | Self::OrdersEmbedded)
    }

    /// The SPEC §11 target, as text.
    #[must_use]
    pub const fn target(self) -> &'static str {
        match self {
            Self::RedisSet1440 => "median <= 500 us",
            Self::RedisGet24h => "median <= 300 us, p99 <= 1000 us",
            Self::RedisGet1h => "median <= 150 us",
            Self::RedisUpdate1Bar => "median <= 200 us",
            Self::Collect45 => "<= 30 ms",
            Self::ParquetLoad30dM1 => "median <= 10 ms",
            Self::RedisMemory => "<= 1.1 MB",
            Self::L1Get24h => ">= 1,000,000 gets/s",
            Self::ProviderChart30d => "median <= 15 ms",
            Self::ProviderChart30dWarm => "median <= 1 ms",
            Self::OrdersEmbedded => ">= 2,000 orders/s",
        }
    }

    /// Whether `f` meets [`Self::target`] (`None` when a needed figure is missing).
    #[must_use]
    pub fn meets_target(self, f: &Figures) -> Option<bool> {
        let median_at_most = |us: f64| f.median_us.map(|m| m <= us);
        match self {
            Self::RedisSet1440 => median_at_most(500.0),
            Self::RedisGet24h => Some(median_at_most(300.0)? && f.p99_us? <= 1_000.0),
            Self::RedisGet1h => median_at_most(150.0),
            Self::RedisUpdate1Bar => median_at_most(200.0),
            Self::Collect45 => median_at_most(30_000.0),
            Self::ParquetLoad30dM1 => median_at_most(10_000.0),
            Self::RedisMemory => f.bytes.map(|b| b <= 1_100_000),
            Self::L1Get24h => f.ops_per_s.map(|r| r >= 1_000_000.0),
            Self::ProviderChart30d => median_at_most(15_000.0),
            Self::ProviderChart30dWarm => median_at_most(1_000.0),
            Self::OrdersEmbedded => f.ops_per_s.map(|r| r >= 2_000.0),
        }
    }
}

/// What the scenarios share.
pub struct Context<'a> {
    /// The bars.
    pub workload: &'a Workload,
    /// The Redis tier of the run, when a selected scenario needs it.
    pub redis: Option<&'a BenchRedis>,
    /// The run's scratch directory (Parquet stores go below it).
    pub scratch: &'a Path,
    /// Series written at once by `collect_45` (`[collector] concurrency`).
    pub concurrency: usize,
    loaded: OnceCell<Arc<RedisOhlcvDataRepository>>,
}

impl<'a> Context<'a> {
    /// The context of a run.
    #[must_use]
    pub fn new(workload: &'a Workload, redis: Option<&'a BenchRedis>, scratch: &'a Path, concurrency: usize) -> Self {
        Self { workload, redis, scratch, concurrency: concurrency.max(1), loaded: OnceCell::new() }
    }

    /// The Redis tier.
    ///
    /// # Errors
    /// When the run was set up without Redis (a bug of the caller).
    pub fn redis(&self) -> anyhow::Result<&'a BenchRedis> {
        self.redis.context("this scenario needs Redis, which the run did not set up")
    }

    /// The repository holding the 45 hot series, written on first use (untimed).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn loaded_redis(&self) -> anyhow::Result<&Arc<RedisOhlcvDataRepository>> {
        self.loaded
            .get_or_try_init(async || {
                let repo = self.redis()?.repository("", Arc::new(FixedClock::new(workload::now())))?;
                let took = redis::load(&repo, &self.workload.recent).await?;
                tracing::info!(series = self.workload.recent.len(), ?took, "loaded the hot series into Redis");
                Ok::<_, anyhow::Error>(repo)
            })
            .await
    }

    /// Runs one scenario with `iterations` timed runs (its default when `None`).
    ///
    /// # Errors
    /// The scenario failing.
    pub async fn run(&self, scenario: Scenario, iterations: Option<u32>) -> anyhow::Result<Figures> {
        let plan = Plan::new(iterations.unwrap_or_else(|| scenario.default_iterations()));
        let figures = match scenario {
            Scenario::RedisSet1440 => redis::set_1440(self, plan).await,
            Scenario::RedisGet24h => redis::get_last(self, plan, scenario.name(), 24).await,
            Scenario::RedisGet1h => redis::get_last(self, plan, scenario.name(), 1).await,
            Scenario::RedisUpdate1Bar => redis::update_1bar(self, plan).await,
            Scenario::RedisMemory => redis::memory(self).await,
            Scenario::Collect45 => tiers::collect_45(self, plan).await,
            Scenario::ParquetLoad30dM1 => tiers::parquet_load_30d_m1(self, plan).await,
            Scenario::L1Get24h => provider::l1_get_24h(self, plan).await,
            Scenario::ProviderChart30d => provider::chart_30d_cold(self, plan).await,
            Scenario::ProviderChart30dWarm => provider::chart_30d_warm(self, plan).await,
            Scenario::OrdersEmbedded => orders::orders_embedded(self, plan).await,
        };
        figures.with_context(|| format!("scenario {}", scenario.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        assert_eq!(Scenario::parse(" provider_chart_30d "), Some(Scenario::ProviderChart30d));
        assert_eq!(Scenario::parse("provider_chart"), None);
        let mut names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Scenario::ALL.len());
    }

    #[test]
    fn targets_are_checked() {
        let f = |median: f64, p99: f64| Figures { median_us: Some(median), p99_us: Some(p99), ..Figures::default() };
        assert_eq!(Scenario::RedisGet24h.meets_target(&f(250.0, 900.0)), Some(true));
        assert_eq!(Scenario::RedisGet24h.meets_target(&f(250.0, 1_200.0)), Some(false));
        assert_eq!(Scenario::RedisMemory.meets_target(&f(1.0, 1.0)), None);
        let memory = Figures { bytes: Some(1_200_000), ..Figures::default() };
        assert_eq!(Scenario::RedisMemory.meets_target(&memory), Some(false));
    }
}
