//! Micro-benchmarks of the Redis tier: the member codec on 1,440 bars, and against a real
//! redis-server (`AXIA_BENCH_REDIS_URL`, default `redis://127.0.0.1:6379/0`) range reads of
//! 1,440 and 60 bars and a one-bar upsert. Keys go under `axia-bench:<uuid>:` and are deleted at
//! the end. `axia bench` measures the same operations end to end; see docs/benchmarks.md.
//!
//! Run: `cargo bench -p axia-adapters --bench redis_tier` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axia_adapters::redis::{RedisConfig, RedisOhlcvDataRepository, codec};
use axia_adapters::synthetic::SyntheticSource;
use axia_domain::ports::OhlcvDataRepository;
use axia_domain::{FixedClock, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime;

/// The frozen clock of the SPEC §11 workload.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).unwrap()
}

/// The last 24 h (1,440 M1 bars) of the workload's EURUSD.
fn day() -> OhlcvSeries {
    let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1);
    let series = SyntheticSource::new(42).generate(&key, TimeRange::ending_at(now(), TimeDelta::hours(24)));
    assert_eq!(series.len(), 1_440);
    series
}

fn codec_benches(c: &mut Criterion) {
    let series = day();
    let encoded: Vec<Vec<u8>> = series.bars().iter().map(codec::encode).collect();
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1_440));
    group.bench_function("encode_1440", |b| {
        b.iter(|| black_box(series.bars()).iter().map(codec::encode).collect::<Vec<_>>());
    });
    group.bench_function("decode_1440", |b| {
        b.iter(|| black_box(&encoded).iter().map(|m| codec::decode(m).unwrap()).collect::<Vec<_>>());
    });
    group.finish();
}

fn redis_benches(c: &mut Criterion) {
    let url = std::env::var("AXIA_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    // One thread drives the futures and the I/O, as a task of a busy runtime would: no
    // cross-thread wake-up per call.
    let rt = runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let clock = Arc::new(FixedClock::new(now()));
    let prefix = format!("axia-bench:{}:", uuid::Uuid::new_v4());
    let config = RedisConfig { key_prefix: prefix, ..RedisConfig::for_url(url.clone()) };
    let repo = RedisOhlcvDataRepository::new(config, Arc::clone(&clock) as _).expect("redis config");
    let series = day();
    let key = series.key().clone();
    rt.block_on(repo.upsert(&series))
        .unwrap_or_else(|e| panic!("the Redis benchmarks need a redis-server at {url} (AXIA_BENCH_REDIS_URL): {e}"));

    let mut group = c.benchmark_group("redis");
    for (name, hours) in [("get_range_1440", 24), ("get_range_60", 1)] {
        let range = TimeRange::ending_at(now(), TimeDelta::hours(hours));
        group.bench_function(name, |b| b.iter(|| rt.block_on(repo.get_range(&key, range)).unwrap()));
    }
    // Each upsert adds the next minute's bar while the clock moves on: insert, trim one, PEXPIRE.
    let template = series.bars()[0];
    let mut open = now();
    group.bench_function("upsert_1bar", |b| {
        b.iter(|| {
            let one = OhlcvSeries::new(key.clone(), vec![template.at(open)]).unwrap();
            open += TimeDelta::minutes(1);
            clock.set(open);
            rt.block_on(repo.upsert(&one)).unwrap()
        });
    });
    group.finish();

    let everything = TimeRange::ending_at(open + TimeDelta::days(1), TimeDelta::days(365));
    rt.block_on(repo.delete_range(&key, everything)).expect("delete the benchmark key");
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = codec_benches, redis_benches }
criterion_main!(benches);
