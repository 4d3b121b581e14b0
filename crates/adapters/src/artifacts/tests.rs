use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axia_domain::FixedClock;
use chrono::{TimeDelta, TimeZone, Utc};
use polars::prelude::df;
use rstest::rstest;

use super::*;
use crate::object_store::InMemoryObjectStore;

/// Counts the requests that reach the remote.
#[derive(Debug, Default)]
struct Counting {
    inner: InMemoryObjectStore,
    gets: AtomicUsize,
    heads: AtomicUsize,
}

#[async_trait]
impl ObjectStore for Counting {
    fn location(&self) -> String {
        "memory://artifacts".into()
    }
    async fn put(&self, key: &str, data: Vec<u8>, mode: PutMode) -> Result<ObjectMeta, ObjectStoreError> {
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
        self.inner.delete(key).await
    }
}

impl Counting {
    fn calls(&self) -> (usize, usize) {
        (self.gets.load(Ordering::SeqCst), self.heads.load(Ordering::SeqCst))
    }
}

struct S3Fixture {
    remote: Arc<Counting>,
    clock: Arc<FixedClock>,
    store: ArtifactStore,
    _dir: tempfile::TempDir,
}

fn s3_fixture(cache: bool) -> S3Fixture {
    let dir = tempfile::tempdir().unwrap();
    let remote = Arc::new(Counting::default());
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 1, 30, 9, 0, 0).unwrap()));
    let cache = cache.then(|| ArtifactCache::new(dir.path(), TimeDelta::hours(24)));
    let store = ArtifactStore::s3(Arc::clone(&remote) as Arc<dyn ObjectStore>, cache).with_clock(clock.clone());
    S3Fixture { remote, clock, store, _dir: dir }
}

fn frame() -> DataFrame {
    df!("symbol" => ["EURUSD", "USDJPY", "AAPL"], "score" => [0.5, -1.25, 2.0], "n" => [1u32, 2, 3]).unwrap()
}

#[tokio::test]
async fn local_mode_round_trips_files_under_the_base_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::local(dir.path());
    assert_eq!(store.mode(), ArtifactMode::Local);
    store.write_parquet("signals/momentum_20.parquet", &frame()).await.unwrap();
    assert!(store.read_parquet("signals/momentum_20.parquet").await.unwrap().equals(&frame()));
    assert!(dir.path().join("signals/momentum_20.parquet").is_file(), "a plain file other tools can read");
    store.write_bytes("a/b.bin", vec![1, 2, 3]).await.unwrap();
    assert_eq!(store.read_bytes("a/b.bin").await.unwrap(), [1, 2, 3]);
    assert!(matches!(store.read_bytes("a/missing").await, Err(ArtifactError::NotFound { .. })));
    assert_eq!(store.clear_cache().await.unwrap(), CacheClearReport::default());
}

#[rstest]
#[case("")]
#[case("/etc/passwd")]
#[case("../outside")]
#[case("signals/../../outside")]
#[case("./a")]
#[case("a\\b")]
#[case("a//b")]
#[tokio::test]
async fn refuses_keys_outside_the_store(#[case] key: &str) {
    let f = s3_fixture(true);
    assert!(matches!(f.store.read_bytes(key).await, Err(ArtifactError::InvalidKey { .. })), "{key}");
    assert!(matches!(f.store.write_bytes(key, vec![1]).await, Err(ArtifactError::InvalidKey { .. })), "{key}");
    assert!(matches!(f.store.write_parquet(key, &frame()).await, Err(ArtifactError::InvalidKey { .. })), "{key}");
    assert_eq!(f.remote.calls(), (0, 0));
}

#[tokio::test]
async fn a_fresh_copy_is_served_without_asking_the_remote() {
    let f = s3_fixture(true);
    f.store.write_parquet("signals/a.parquet", &frame()).await.unwrap();
    for _ in 0..3 {
        assert!(f.store.read_parquet("signals/a.parquet").await.unwrap().equals(&frame()));
    }
    assert_eq!(f.remote.calls(), (0, 0), "written through: every read is a hit");

    // Another host wrote an artifact: the first read fetches it, the next ones hit.
    f.remote.inner.put("signals/b.bin", b"from elsewhere".to_vec(), PutMode::Overwrite).await.unwrap();
    assert_eq!(f.store.read_bytes("signals/b.bin").await.unwrap(), b"from elsewhere");
    assert_eq!(f.store.read_bytes("signals/b.bin").await.unwrap(), b"from elsewhere");
    assert_eq!(f.remote.calls(), (1, 0));
}

#[tokio::test]
async fn an_expired_copy_is_revalidated_and_refetched_when_changed() {
    let f = s3_fixture(true);
    f.remote.inner.put("k.bin", b"v1".to_vec(), PutMode::Overwrite).await.unwrap();
    assert_eq!(f.store.read_bytes("k.bin").await.unwrap(), b"v1");
    f.clock.advance(TimeDelta::hours(25));
    assert_eq!(f.store.read_bytes("k.bin").await.unwrap(), b"v1");
    assert_eq!(f.remote.calls(), (1, 1), "unchanged: one HEAD, no GET");
    assert_eq!(f.store.read_bytes("k.bin").await.unwrap(), b"v1");
    assert_eq!(f.remote.calls(), (1, 1), "revalidated: fresh for another TTL");

    f.remote.inner.put("k.bin", b"v2".to_vec(), PutMode::Overwrite).await.unwrap();
    assert_eq!(f.store.read_bytes("k.bin").await.unwrap(), b"v1", "still within the TTL");
    f.clock.advance(TimeDelta::hours(25));
    assert_eq!(f.store.read_bytes("k.bin").await.unwrap(), b"v2");
    assert_eq!(f.remote.calls(), (2, 2), "changed: HEAD then GET");

    f.remote.inner.delete("k.bin").await.unwrap();
    f.clock.advance(TimeDelta::hours(25));
    assert!(matches!(f.store.read_bytes("k.bin").await, Err(ArtifactError::NotFound { .. })));
    assert!(f.store.cache().unwrap().entries().await.unwrap().is_empty(), "a deleted artifact leaves the cache");
}

#[tokio::test]
async fn without_the_cache_every_read_asks_the_remote() {
    let f = s3_fixture(false);
    f.store.write_bytes("k.bin", b"x".to_vec()).await.unwrap();
    f.store.read_bytes("k.bin").await.unwrap();
    f.store.read_bytes("k.bin").await.unwrap();
    assert_eq!(f.remote.calls(), (2, 0));
}

#[tokio::test]
async fn clear_cache_forces_a_fetch() {
    let f = s3_fixture(true);
    f.store.write_bytes("a.bin", vec![7; 10]).await.unwrap();
    f.store.write_bytes("b/c.bin", vec![8; 5]).await.unwrap();
    let report = f.store.clear_cache().await.unwrap();
    assert_eq!((report.entries, report.files, report.bytes), (2, 2, 15));
    assert_eq!(f.store.read_bytes("a.bin").await.unwrap(), vec![7; 10]);
    assert_eq!(f.remote.calls(), (1, 0));
}

#[tokio::test]
async fn bytes_that_are_not_parquet_are_corrupt() {
    let f = s3_fixture(true);
    f.store.write_bytes("x.parquet", b"PAR1 not really".to_vec()).await.unwrap();
    assert!(matches!(f.store.read_parquet("x.parquet").await, Err(ArtifactError::Corrupt { .. })));
}

#[tokio::test]
async fn s3_mode_without_a_bucket_is_misconfigured() {
    let config = ArtifactConfig { mode: ArtifactMode::S3, ..ArtifactConfig::default() };
    let err = ArtifactStore::from_config(&config, None).await.unwrap_err();
    assert!(matches!(&err, ArtifactError::Misconfigured { detail } if detail.contains(ENV_S3_BUCKET)), "{err}");
    assert!(!err.is_retryable());
}
