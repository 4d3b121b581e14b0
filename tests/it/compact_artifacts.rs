//! Compaction of the Parquet history tier and the backtest artifact store, over the local
//! directory and a real S3 server (`AXIA_TEST_AWS_ENDPOINT`, set by `scripts/test.sh`; the S3
//! cases panic without it). Every S3 case works in its own bucket `axia-test-<uuid>`.
//!
//! - Compaction keeps every bar of 30 days of synthetic M1 and M5 (full reads, coverage and
//!   listing before and after, ranges across archives and fresh days, later upserts into an
//!   archived period), deletes originals only after the archive is written and committed (a
//!   store that refuses archive writes leaves everything as it was), and a crash after the
//!   archive reads the same and is finished by a rerun.
//! - The artifact store round-trips Parquet frames and bytes in both modes; in S3 mode a cached
//!   copy is served without a GET, an expired one is revalidated with a HEAD, a changed one
//!   fetched again, and `clear_cache` empties the cache.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axia_adapters::artifacts::{
    ArtifactCache, ArtifactConfig, ArtifactError, ArtifactMode, ArtifactStore, ENV_S3_BUCKET, ENV_S3_PREFIX,
};
use axia_adapters::object_store::{LocalObjectStore, md5_hex};
use axia_adapters::parquet::{DEFAULT_KEEP_DAILY, ParquetOhlcvRepository, codec};
use axia_adapters::synthetic::SyntheticSource;
use axia_domain::ports::{Coverage, ObjectMeta, ObjectStore, ObjectStoreError, OhlcvDataRepository, PutMode};
use axia_domain::{Bar, FixedClock, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use axia_tests::ohlcv_contract;
use axia_tests::s3_support::{s3_settings, s3_store_in_new_bucket};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rstest::rstest;

#[derive(Debug, Clone, Copy)]
enum Backend {
    Local,
    S3,
}

/// A store (and the directory that must outlive it).
struct Fixture {
    store: Arc<dyn ObjectStore>,
    _dir: Option<tempfile::TempDir>,
}

async fn fixture(backend: Backend) -> Fixture {
    match backend {
        Backend::Local => {
            let dir = tempfile::tempdir().expect("tempdir");
            Fixture { store: Arc::new(LocalObjectStore::new(dir.path())), _dir: Some(dir) }
        }
        Backend::S3 => Fixture { store: Arc::new(s3_store_in_new_bucket("").await), _dir: None },
    }
}

/// Injects failures and counts reads; everything else goes to `inner`.
#[derive(Debug)]
struct Wrapped {
    inner: Arc<dyn ObjectStore>,
    /// Puts of keys containing this fail.
    fail_puts_of: Option<&'static str>,
    fail_deletes: bool,
    gets: AtomicUsize,
    heads: AtomicUsize,
}

impl Wrapped {
    fn new(inner: &Arc<dyn ObjectStore>) -> Self {
        Self { inner: Arc::clone(inner), fail_puts_of: None, fail_deletes: false, gets: 0.into(), heads: 0.into() }
    }

    fn calls(&self) -> (usize, usize) {
        (self.gets.load(Ordering::SeqCst), self.heads.load(Ordering::SeqCst))
    }
}

fn injected(op: &str, key: &str) -> ObjectStoreError {
    ObjectStoreError::Unavailable { detail: format!("injected failure of {op} {key}") }
}

#[async_trait]
impl ObjectStore for Wrapped {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn put(&self, key: &str, data: Vec<u8>, mode: PutMode) -> Result<ObjectMeta, ObjectStoreError> {
        if self.fail_puts_of.is_some_and(|part| key.contains(part)) {
            return Err(injected("put", key));
        }
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> Result<(Vec<u8>, ObjectMeta), ObjectStoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn head(&self, key: &str) -> Result<ObjectMeta, ObjectStoreError> {
        self.heads.fetch_add(1, Ordering::SeqCst);
        self.inner.head(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectStoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        if self.fail_deletes {
            return Err(injected("delete", key));
        }
        self.inner.delete(key).await
    }
}

// ---------------------------------------------------------------------------------------------
// Compaction

const PREFIX: &str = "hist";

fn key(symbol: &str, timeframe: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(symbol).expect("symbol"), timeframe)
}

fn t(mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, mo, d, h, 0, 0).single().expect("time")
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange::new(start, end).expect("range")
}

fn all_time() -> TimeRange {
    range(t(1, 1, 0), t(12, 31, 0))
}

/// 30 days of synthetic EURUSD M1 and M5 (September 15 to October 15, 2025) and a month of H1.
fn history() -> Vec<OhlcvSeries> {
    let source = SyntheticSource::new(42);
    let days = range(t(9, 15, 0), t(10, 15, 0));
    vec![
        source.generate(&key("EURUSD", Timeframe::M1), days),
        source.generate(&key("EURUSD", Timeframe::M5), days),
        source.generate(&key("EURUSD", Timeframe::H1), days),
    ]
}

/// "Now" for compaction: daily partitions up to October 7 are older than seven days.
fn now() -> DateTime<Utc> {
    t(10, 15, 12)
}

/// What reads return: every series in full, its coverage, and the listing.
#[derive(Debug, PartialEq)]
struct Reads {
    series: Vec<OhlcvSeries>,
    coverage: Vec<Option<Coverage>>,
    listed: Vec<SeriesKey>,
}

async fn reads(repo: &ParquetOhlcvRepository, keys: &[SeriesKey]) -> Reads {
    let mut series = Vec::new();
    let mut coverage = Vec::new();
    for key in keys {
        series.push(repo.get_range(key, all_time()).await.expect("get_range"));
        coverage.push(repo.coverage(key).await.expect("coverage"));
    }
    Reads { series, coverage, listed: repo.list_series().await.expect("list_series") }
}

/// Every object (key → md5 or ETag).
async fn objects(store: &dyn ObjectStore) -> BTreeMap<String, String> {
    store.list("").await.expect("list").into_iter().map(|m| (m.key, m.md5.unwrap_or(m.etag))).collect()
}

/// Daily objects of the compacted period (before October 8).
fn old_dailies(objects: &BTreeMap<String, String>) -> Vec<String> {
    objects.keys().filter(|k| k.contains("/date=") && is_old(k)).cloned().collect()
}

fn is_old(key: &str) -> bool {
    key.split("/date=").nth(1).is_some_and(|rest| &rest[..10] < "2025-10-08")
}

/// A repository with the history written.
async fn written(store: &Arc<dyn ObjectStore>) -> (ParquetOhlcvRepository, Vec<SeriesKey>) {
    let repo = ParquetOhlcvRepository::new(Arc::clone(store), PREFIX);
    let history = history();
    for series in &history {
        repo.upsert(series).await.expect("upsert");
    }
    (repo, history.iter().map(|s| s.key().clone()).collect())
}

#[rstest]
#[case::local(Backend::Local)]
#[case::s3(Backend::S3)]
#[tokio::test]
async fn compaction_keeps_every_bar(#[case] backend: Backend) {
    let f = fixture(backend).await;
    let (repo, keys) = written(&f.store).await;
    let before = reads(&repo, &keys).await;
    assert!(before.series[0].len() > 20_000, "30 days of M1: {}", before.series[0].len());
    let objects_before = objects(f.store.as_ref()).await;
    let originals = old_dailies(&objects_before);

    let report = repo.compact(DEFAULT_KEEP_DAILY, now()).await.expect("compact");
    assert_eq!(report.cutoff, now() - TimeDelta::days(7));
    assert_eq!((report.series, report.archives_written), (2, 4), "M1 and M5, September and October: {report:?}");
    assert_eq!(report.originals_deleted, originals.len(), "{report:?}");
    let old = range(t(9, 1, 0), t(10, 8, 0));
    let expected_bars: usize = before.series[..2].iter().map(|s| s.slice(old).len()).sum();
    assert_eq!(report.bars, expected_bars as u64);
    assert!(report.bytes_after > 0 && report.bytes_after < report.bytes_before, "{report:?}");

    assert_eq!(reads(&repo, &keys).await, before, "same bars, coverage and listing");
    let m1 = &before.series[0];
    for span in [range(t(10, 7, 20), t(10, 8, 4)), range(t(9, 29, 0), t(10, 2, 0)), range(t(10, 10, 0), t(10, 11, 0))] {
        assert_eq!(repo.get_range(m1.key(), span).await.expect("slice"), m1.slice(span), "{span}");
    }

    let objects_after = objects(f.store.as_ref()).await;
    assert!(old_dailies(&objects_after).is_empty(), "originals deleted");
    let fresh: Vec<&String> = objects_after.keys().filter(|k| k.contains("/date=")).collect();
    assert!(fresh.iter().all(|k| !is_old(k)) && !fresh.is_empty(), "fresh days stay daily: {fresh:?}");
    let manifest = repo.manifest().await.expect("manifest");
    for tf in ["M1", "M5"] {
        for month in ["2025-09", "2025-10"] {
            let relative = format!("archive/ohlcv/symbol=EURUSD/timeframe={tf}/month={month}/data.parquet");
            let (bytes, _) = f.store.get(&format!("{PREFIX}/{relative}")).await.expect("archive object");
            let entry = manifest.objects.get(&relative).expect("archive entry");
            assert_eq!((entry.md5.clone(), entry.size), (md5_hex(&bytes), bytes.len() as u64), "{relative}");
        }
    }
    assert!(manifest.objects.keys().all(|k| !(k.contains("/date=") && is_old(k))), "originals unlisted");

    let again = repo.compact(DEFAULT_KEEP_DAILY, now()).await.expect("compact again");
    assert_eq!((again.archives_written, again.originals_deleted), (0, 0), "{again:?}");
    assert_eq!(objects(f.store.as_ref()).await, objects_after, "a rerun changes nothing");

    // A correction inside the archived period merges into the archive.
    let day = range(t(10, 6, 0), t(10, 7, 0));
    let corrected: Vec<Bar> = m1
        .slice(day)
        .bars()
        .iter()
        .map(|b| Bar::new(b.open_time(), b.open(), b.high() + 0.01, b.low(), b.close(), b.volume() + 1).expect("bar"))
        .collect();
    let corrected = OhlcvSeries::new(m1.key().clone(), corrected).expect("series");
    let summary = repo.upsert(&corrected).await.expect("upsert");
    assert_eq!((summary.updated, summary.inserted), (corrected.len() as u64, 0));
    let mut expected = m1.clone();
    expected.merge(&corrected).expect("merge");
    assert_eq!(repo.get_range(m1.key(), all_time()).await.expect("read"), expected);
    assert!(!objects(f.store.as_ref()).await.keys().any(|k| k.contains("date=2025-10-06")), "no daily object");
    assert_eq!(repo.upsert(&corrected).await.expect("again").unchanged, corrected.len() as u64);
}

#[rstest]
#[case::local(Backend::Local)]
#[case::s3(Backend::S3)]
#[tokio::test]
async fn originals_stay_when_the_archive_cannot_be_written(#[case] backend: Backend) {
    let f = fixture(backend).await;
    let (repo, keys) = written(&f.store).await;
    let before = reads(&repo, &keys).await;
    let objects_before = objects(f.store.as_ref()).await;
    let manifest_before = f.store.get(&format!("{PREFIX}/manifest.json")).await.expect("manifest").0;

    let failing: Arc<dyn ObjectStore> = Arc::new(Wrapped { fail_puts_of: Some("archive/"), ..Wrapped::new(&f.store) });
    let err = ParquetOhlcvRepository::new(failing, PREFIX).compact(DEFAULT_KEEP_DAILY, now()).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(objects(f.store.as_ref()).await, objects_before, "no object written or deleted");
    assert_eq!(f.store.get(&format!("{PREFIX}/manifest.json")).await.expect("manifest").0, manifest_before);
    assert_eq!(reads(&repo, &keys).await, before);

    repo.compact(DEFAULT_KEEP_DAILY, now()).await.expect("compact once the store works");
    assert_eq!(reads(&repo, &keys).await, before);
}

#[derive(Debug, Clone, Copy)]
enum Crash {
    /// After the archive write, before the manifest commit.
    BeforeCommit,
    /// After the manifest commit, before the originals are deleted.
    BeforeDeletes,
}

#[rstest]
#[tokio::test]
async fn a_crash_after_the_archive_reads_the_same_and_a_rerun_finishes(
    #[values(Backend::Local, Backend::S3)] backend: Backend,
    #[values(Crash::BeforeCommit, Crash::BeforeDeletes)] crash: Crash,
) {
    let f = fixture(backend).await;
    let (repo, keys) = written(&f.store).await;
    let before = reads(&repo, &keys).await;
    let originals = old_dailies(&objects(f.store.as_ref()).await);

    let crashing = match crash {
        Crash::BeforeCommit => Wrapped { fail_puts_of: Some("manifest.json"), ..Wrapped::new(&f.store) },
        Crash::BeforeDeletes => Wrapped { fail_deletes: true, ..Wrapped::new(&f.store) },
    };
    let crashing = ParquetOhlcvRepository::new(Arc::new(crashing), PREFIX);
    crashing.compact(DEFAULT_KEEP_DAILY, now()).await.expect_err("the crash");
    let halfway = objects(f.store.as_ref()).await;
    assert!(halfway.keys().any(|k| k.contains("archive/ohlcv/")), "the archive was written");
    assert!(originals.iter().all(|k| halfway.contains_key(k)), "no original deleted");
    assert_eq!(reads(&repo, &keys).await, before, "{crash:?}: duplicates read as one");

    let report = repo.compact(DEFAULT_KEEP_DAILY, now()).await.expect("rerun");
    assert_eq!(report.orphans_kept, 0, "{report:?}");
    assert!(report.originals_deleted > 0, "{report:?}");
    assert!(old_dailies(&objects(f.store.as_ref()).await).is_empty(), "the rerun deleted the originals");
    assert_eq!(reads(&repo, &keys).await, before);
}

#[rstest]
#[case::local(Backend::Local)]
#[case::s3(Backend::S3)]
#[tokio::test]
async fn the_ohlcv_contract_holds_on_a_compacted_history(#[case] backend: Backend) {
    let f = fixture(backend).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    ohlcv_contract::run(&repo).await;
    // Everything the contract left is older than a week by 2030: archive it, then run the
    // contract again over the archives (its clean-up deletes reach into them).
    let report = repo.compact(DEFAULT_KEEP_DAILY, Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()).await;
    assert!(report.expect("compact").archives_written > 0);
    ohlcv_contract::run(&repo).await;
}

// ---------------------------------------------------------------------------------------------
// Artifact store

/// A frame to store: a Parquet file decoded by the store itself (this crate has no polars).
async fn some_frame(store: &ArtifactStore) -> axia_adapters::artifacts::DataFrame {
    let bars = SyntheticSource::new(1).generate(&key("EURUSD", Timeframe::H1), range(t(10, 1, 0), t(10, 8, 0)));
    store.write_bytes("seed/bars.parquet", codec::encode(&bars).expect("encode")).await.expect("write bytes");
    let frame = store.read_parquet("seed/bars.parquet").await.expect("read parquet");
    assert_eq!(frame.height(), bars.len());
    frame
}

async fn round_trip(store: &ArtifactStore) {
    let frame = some_frame(store).await;
    store.write_parquet("signals/momentum_20.parquet", &frame).await.expect("write parquet");
    assert!(store.read_parquet("signals/momentum_20.parquet").await.expect("read").equals_missing(&frame));
    let bytes: Vec<u8> = (0..=255).collect();
    store.write_bytes("covariance/2025-10.bin", bytes.clone()).await.expect("write");
    assert_eq!(store.read_bytes("covariance/2025-10.bin").await.expect("read"), bytes);
    store.write_bytes("covariance/2025-10.bin", b"replaced".to_vec()).await.expect("overwrite");
    assert_eq!(store.read_bytes("covariance/2025-10.bin").await.expect("read"), b"replaced");
    assert!(matches!(store.read_bytes("nothing/here").await, Err(ArtifactError::NotFound { .. })));
    for bad in ["/abs/key", "../escape", "a/../../b"] {
        assert!(matches!(store.write_bytes(bad, vec![1]).await, Err(ArtifactError::InvalidKey { .. })), "{bad}");
    }
}

#[tokio::test]
async fn artifacts_round_trip_in_local_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        ArtifactConfig { mode: ArtifactMode::Local, base_path: dir.path().join("cache"), ..ArtifactConfig::default() };
    let store = ArtifactStore::from_config(&config, None).await.expect("store");
    round_trip(&store).await;
    assert!(dir.path().join("cache/signals/momentum_20.parquet").is_file());
}

#[tokio::test]
async fn artifacts_round_trip_in_s3_mode_from_the_config() {
    let bucket_store = s3_store_in_new_bucket("").await;
    let cache = tempfile::tempdir().expect("tempdir");
    let mut config = ArtifactConfig {
        mode: ArtifactMode::S3,
        local_cache_path: cache.path().to_path_buf(),
        ..ArtifactConfig::default()
    };
    let bucket = bucket_store.bucket().to_string();
    config.apply_overrides(|name| match name {
        ENV_S3_BUCKET => Some(bucket.clone()),
        ENV_S3_PREFIX => Some("team/backtest-cache".into()),
        _ => None,
    });
    let store = ArtifactStore::from_config(&config, Some(s3_settings("", ""))).await.expect("store");
    assert_eq!(store.location(), format!("s3://{bucket}/team/backtest-cache"));
    round_trip(&store).await;
    let (bytes, _) = bucket_store.get("team/backtest-cache/covariance/2025-10.bin").await.expect("in the bucket");
    assert_eq!(bytes, b"replaced");
    assert!(store.cache().expect("cache").entries().await.expect("entries").len() >= 3);
}

/// An S3-mode store over `remote` counting its requests, with a cache in `dir` and a clock.
fn counted(remote: &Arc<dyn ObjectStore>, dir: &std::path::Path) -> (ArtifactStore, Arc<Wrapped>, Arc<FixedClock>) {
    let wrapped = Arc::new(Wrapped::new(remote));
    let clock = Arc::new(FixedClock::new(t(10, 16, 9)));
    let cache = ArtifactCache::new(dir, TimeDelta::hours(24));
    let store = ArtifactStore::s3(Arc::clone(&wrapped) as Arc<dyn ObjectStore>, Some(cache))
        .with_clock(Arc::clone(&clock) as _);
    (store, wrapped, clock)
}

#[tokio::test]
async fn the_cache_serves_without_s3_until_the_ttl_then_revalidates() {
    let remote: Arc<dyn ObjectStore> = Arc::new(s3_store_in_new_bucket(".cache").await);
    let (dir_a, dir_b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let (host_a, s3_a, clock_a) = counted(&remote, dir_a.path());
    let (host_b, s3_b, _) = counted(&remote, dir_b.path());

    let frame = some_frame(&host_a).await;
    host_a.write_parquet("signals/momentum_20.parquet", &frame).await.expect("write");
    for _ in 0..3 {
        assert!(host_a.read_parquet("signals/momentum_20.parquet").await.expect("hit").equals_missing(&frame));
    }
    assert_eq!(s3_a.calls(), (0, 0), "the writer reads its own copy");
    for _ in 0..3 {
        assert!(host_b.read_parquet("signals/momentum_20.parquet").await.expect("read").equals_missing(&frame));
    }
    assert_eq!(s3_b.calls(), (1, 0), "another host fetches once, then hits");

    // Past the TTL: a HEAD revalidates the unchanged copy, and it is fresh again.
    clock_a.advance(TimeDelta::hours(25));
    host_a.read_parquet("signals/momentum_20.parquet").await.expect("revalidated");
    host_a.read_parquet("signals/momentum_20.parquet").await.expect("fresh again");
    assert_eq!(s3_a.calls(), (0, 1));

    // Another host changes it: served from the cache until the TTL, then fetched again.
    host_b.write_bytes("signals/momentum_20.parquet", b"not a frame any more".to_vec()).await.expect("write");
    assert!(host_a.read_parquet("signals/momentum_20.parquet").await.expect("cached").equals_missing(&frame));
    clock_a.advance(TimeDelta::hours(25));
    assert_eq!(host_a.read_bytes("signals/momentum_20.parquet").await.expect("refetched"), b"not a frame any more");
    assert_eq!(s3_a.calls(), (1, 2));

    let cleared = host_a.clear_cache().await.expect("clear");
    assert_eq!((cleared.entries, cleared.files), (2, 2), "{cleared:?}");
    assert_eq!(cleared.path, dir_a.path());
    host_a.read_bytes("signals/momentum_20.parquet").await.expect("read");
    assert_eq!(s3_a.calls(), (2, 2), "after clear_cache the next read fetches");
}
