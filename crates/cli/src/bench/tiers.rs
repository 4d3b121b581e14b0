//! The scenarios over the other tiers: the collector's write of the 45 series (Redis and
//! Parquet) and a 30-day Parquet read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use axia_adapters::object_store::LocalObjectStore;
use axia_adapters::parquet::ParquetOhlcvRepository;
use axia_domain::FixedClock;
use axia_domain::ports::{ObjectStore, OhlcvDataRepository};
use futures::{StreamExt, TryStreamExt, stream};

use super::Context;
use super::env::everything;
use super::stats::{Figures, Plan, sample};
use super::workload::{self, HISTORY_M1_BARS, MEASURED_SYMBOL};

/// Gets timed together in one run of `l1_get_24h` (one is a few tens of nanoseconds).
pub const L1_GETS_PER_RUN: u32 = 1_000;

/// `collect_45`: write the 45 hot series to Redis and to a Parquet store, as the collector does
/// (each series to the history tier, then to Redis; `[collector] concurrency` series at a time).
/// Every run writes into an empty Parquet prefix and empty Redis keys (cleared untimed).
///
/// # Errors
/// Either tier failing.
pub async fn collect_45(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let clock = Arc::new(FixedClock::new(workload::now()));
    let redis = ctx.redis()?.repository("collect:", Arc::clone(&clock) as _)?;
    let root = ctx.scratch.join("collect");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(root.clone()));
    let recent = &ctx.workload.recent;
    // Time spent inside each tier's upserts, summed over the concurrent tasks: shows which tier
    // dominates the wall time (logged with `-v`).
    let (in_parquet, in_redis) = (AtomicU64::new(0), AtomicU64::new(0));
    let samples = sample("collect_45", plan, async |i| {
        for series in recent {
            redis.delete_range(series.key(), everything()).await?;
        }
        let prefix = format!("run-{i}");
        let history = ParquetOhlcvRepository::new(Arc::clone(&store), prefix.as_str()).with_clock(clock.clone());
        let started = Instant::now();
        let written: Vec<u64> = stream::iter(recent)
            .map(|series| {
                let (history, redis, in_parquet, in_redis) = (&history, &redis, &in_parquet, &in_redis);
                async move {
                    let t = Instant::now();
                    let stored = history.upsert(series).await?.inserted;
                    in_parquet.fetch_add(nanos(t.elapsed()), Ordering::Relaxed);
                    let t = Instant::now();
                    let hot = redis.upsert(series).await?.inserted;
                    in_redis.fetch_add(nanos(t.elapsed()), Ordering::Relaxed);
                    Ok::<_, anyhow::Error>(stored.min(hot))
                }
            })
            .buffer_unordered(ctx.concurrency)
            .try_collect()
            .await?;
        let took = started.elapsed();
        let bars: u64 = written.iter().sum();
        let expected: usize = recent.iter().map(|s| s.len()).sum();
        ensure!(bars == expected as u64, "collect_45 wrote {bars} bars to both tiers, not {expected}");
        tokio::fs::remove_dir_all(root.join(&prefix)).await?;
        Ok(took)
    })
    .await?;
    let runs = u64::from(plan.warmup + plan.iterations);
    let per_run = |total: &AtomicU64| Duration::from_nanos(total.load(Ordering::Relaxed) / runs);
    tracing::info!(
        parquet_task_time = ?per_run(&in_parquet),
        redis_task_time = ?per_run(&in_redis),
        "collect_45: time inside each tier per run, summed over concurrent tasks"
    );
    Ok(samples.figures())
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `parquet_load_30d_m1`: read the 42 days (30 weekdays, 43,200 M1 bars) of EURUSD from a local
/// Parquet store over a date range. The store is written once, untimed.
///
/// # Errors
/// The store failing, or a read returning another number of bars.
pub async fn parquet_load_30d_m1(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(ctx.scratch.join("history")));
    let history = ParquetOhlcvRepository::new(store, "");
    let m1 = ctx.workload.history_of(MEASURED_SYMBOL)?;
    history.upsert(m1).await?;
    let range = workload::history_range();
    let samples = sample("parquet_load_30d_m1", plan, async |_| {
        let started = Instant::now();
        let series = history.get_range(m1.key(), range).await?;
        let took = started.elapsed();
        ensure!(series.len() == HISTORY_M1_BARS, "parquet_load_30d_m1 read {} bars", series.len());
        Ok(took)
    })
    .await?;
    Ok(samples.figures())
}
