//! The Redis scenarios: store, read and update one series, and the memory of the 45 hot series.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use axia_adapters::redis::RedisOhlcvDataRepository;
use axia_domain::ports::OhlcvDataRepository;
use axia_domain::{FixedClock, OhlcvSeries, Timeframe};
use chrono::TimeDelta;

use super::Context;
use super::env::everything;
use super::stats::{Figures, Plan, sample};
use super::workload::{self, MEASURED_SYMBOL};

/// `redis_set_1440`: upsert the last 24 h of EURUSD M1 into an empty key (the key is deleted,
/// untimed, before every run).
///
/// # Errors
/// Redis failing, or a write that does not insert the 1,440 bars.
pub async fn set_1440(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let redis = ctx.redis()?;
    let repo = redis.repository("set:", Arc::new(FixedClock::new(workload::now())))?;
    let series = ctx.workload.recent_of(MEASURED_SYMBOL, Timeframe::M1)?;
    let samples = sample("redis_set_1440", plan, async |_| {
        repo.delete_range(series.key(), everything()).await?;
        let started = Instant::now();
        let summary = repo.upsert(series).await?;
        let took = started.elapsed();
        ensure!(summary.inserted == 1_440, "redis_set_1440 inserted {} bars, not 1440", summary.inserted);
        Ok(took)
    })
    .await?;
    Ok(samples.figures())
}

/// `redis_get_24h` (`hours` 24, 1,440 bars) and `redis_get_1h` (`hours` 1, 60 bars): read the
/// last `hours` of EURUSD M1 from the loaded 45 series into a domain series.
///
/// # Errors
/// Redis failing, or a read returning another number of bars.
pub async fn get_last(ctx: &Context<'_>, plan: Plan, name: &str, hours: i64) -> anyhow::Result<Figures> {
    let repo = ctx.loaded_redis().await?;
    let key = workload::key(MEASURED_SYMBOL, Timeframe::M1)?;
    let range = workload::last_hours(hours);
    let expected = usize::try_from(hours * 60)?;
    let samples = sample(name, plan, async |_| {
        let started = Instant::now();
        let series = repo.get_range(&key, range).await?;
        let took = started.elapsed();
        ensure!(series.len() == expected, "{name} read {} bars, not {expected}", series.len());
        Ok(took)
    })
    .await?;
    Ok(samples.figures())
}

/// `redis_update_1bar`: upsert the next M1 bar into a full 24 h series while the clock moves
/// one minute, so every write also trims the oldest bar and refreshes the TTL (the steady state
/// of a live collector).
///
/// # Errors
/// Redis failing, or a write that does not insert its bar.
pub async fn update_1bar(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let redis = ctx.redis()?;
    let clock = Arc::new(FixedClock::new(workload::now()));
    let repo = redis.repository("update:", Arc::clone(&clock) as _)?;
    let day = ctx.workload.recent_of(MEASURED_SYMBOL, Timeframe::M1)?;
    repo.upsert(day).await?;
    let calendar = day.calendar();
    let mut open = workload::now();
    let samples = sample("redis_update_1bar", plan, async |i| {
        // Bars after the workload's end: the day's bars again, at the next trading minutes.
        let template = day.bars()[i as usize % day.len()];
        let bar = template.at(open);
        let one = OhlcvSeries::with_calendar(day.key().clone(), calendar, vec![bar])?;
        clock.set(open + TimeDelta::minutes(1));
        open = calendar.next_trading_open(open + TimeDelta::minutes(1), Timeframe::M1);
        let started = Instant::now();
        let summary = repo.upsert(&one).await?;
        let took = started.elapsed();
        ensure!(summary.inserted == 1, "redis_update_1bar inserted {} bars, not 1", summary.inserted);
        Ok(took)
    })
    .await?;
    Ok(samples.figures())
}

/// `redis_memory`: the sum of `MEMORY USAGE` (exact, `SAMPLES 0`) over the 45 loaded series.
///
/// # Errors
/// Redis failing, or another number of series under the prefix.
pub async fn memory(ctx: &Context<'_>) -> anyhow::Result<Figures> {
    let repo = ctx.loaded_redis().await?;
    let stats = repo.stats().await?;
    let expected = ctx.workload.recent.len();
    ensure!(stats.series.len() == expected, "{} series are stored, not {expected}", stats.series.len());
    Ok(Figures { bytes: Some(stats.series_memory_bytes), ..Figures::default() })
}

/// Writes the 45 hot series into `repo` (untimed set-up of the read and memory scenarios).
///
/// # Errors
/// Redis failing.
pub async fn load(repo: &RedisOhlcvDataRepository, recent: &[OhlcvSeries]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for series in recent {
        repo.upsert(series).await?;
    }
    Ok(started.elapsed())
}
