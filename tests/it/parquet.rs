//! The Parquet history tier over the local and in-memory object stores: round trips, partition
//! keys, idempotent upserts, the manifest, corrupt objects and concurrent writers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axia_adapters::object_store::{InMemoryObjectStore, LocalObjectStore, md5_hex};
use axia_adapters::parquet::ParquetOhlcvRepository;
use axia_domain::ports::{ObjectStore, OhlcvDataRepository, OhlcvDataRepositoryExt, PutMode, RepositoryError};
use axia_domain::{Bar, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeZone, Utc};
use rstest::rstest;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Local,
    Memory,
}

/// A store (and the directory that must outlive it).
struct Fixture {
    store: Arc<dyn ObjectStore>,
    _dir: Option<tempfile::TempDir>,
}

fn fixture(kind: Kind) -> Fixture {
    match kind {
        Kind::Local => {
            let dir = tempfile::tempdir().expect("tempdir");
            Fixture { store: Arc::new(LocalObjectStore::new(dir.path())), _dir: Some(dir) }
        }
        Kind::Memory => Fixture { store: Arc::new(InMemoryObjectStore::new()), _dir: None },
    }
}

fn key(symbol: &str, timeframe: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(symbol).expect("symbol"), timeframe)
}

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("time")
}

/// `n` consecutive bars of `key` from `start` (which must be aligned), prices shifted by `level`.
fn bars(key: &SeriesKey, start: DateTime<Utc>, n: usize, level: f64) -> OhlcvSeries {
    let step = key.timeframe.duration();
    let bars = (0..n)
        .map(|i| {
            let p = level + (i % 50) as f64 * 1e-4;
            let bar =
                Bar::new(start + step * i as i32, p, p + 3e-4, p - 2e-4, p + 1e-4, 100 + i as u64).expect("valid bar");
            if i % 3 == 0 { bar.with_spread(Some(12)) } else { bar.with_real_volume(Some(i as u64)) }
        })
        .collect();
    OhlcvSeries::new(key.clone(), bars).expect("valid series")
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange::new(start, end).expect("range")
}

/// Every object of the store with its md5 and time, and the manifest bytes.
async fn snapshot(store: &dyn ObjectStore) -> (BTreeMap<String, (Option<String>, DateTime<Utc>)>, Vec<u8>) {
    let objects = store.list("").await.expect("list").into_iter().map(|m| (m.key, (m.md5, m.last_modified))).collect();
    let manifest = store.get("manifest.json").await.map(|(b, _)| b).unwrap_or_default();
    (objects, manifest)
}

#[rstest]
#[case::local(Kind::Local)]
#[case::memory(Kind::Memory)]
#[tokio::test]
async fn round_trips_across_partitions(#[case] kind: Kind) {
    let f = fixture(kind);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "");
    let m1 = bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 15, 23, 0), 180, 1.16);
    let h1 = bars(&key("EURUSD", Timeframe::H1), t(2025, 10, 31, 0, 0), 50, 1.15);
    let d1 = bars(&key("AAPL", Timeframe::D1), t(2024, 12, 29, 0, 0), 5, 250.0);
    for series in [&m1, &h1, &d1] {
        let summary = repo.upsert(series).await.expect("upsert");
        assert_eq!((summary.inserted, summary.updated, summary.unchanged), (series.len() as u64, 0, 0));
        let all = series.span().expect("span");
        assert_eq!(repo.get_range(series.key(), all).await.expect("get_range"), *series);
        assert_eq!(repo.get_all(series.key()).await.expect("get_all"), *series);
        let coverage = repo.coverage(series.key()).await.expect("coverage").expect("some coverage");
        assert_eq!(coverage.rows, series.len() as u64);
        assert_eq!(coverage.first, series.first().expect("first").open_time());
        assert_eq!(coverage.last, series.last().expect("last").open_time());
    }
    // A slice inside one partition and one across the midnight boundary.
    let inside = range(t(2025, 10, 16, 0, 30), t(2025, 10, 16, 0, 40));
    assert_eq!(repo.get_range(m1.key(), inside).await.expect("slice"), m1.slice(inside));
    let across = range(t(2025, 10, 15, 23, 50), t(2025, 10, 16, 0, 10));
    assert_eq!(repo.get_range(m1.key(), across).await.expect("slice").len(), 20);
    // Ranges without data and unknown series are empty, not errors.
    let empty = range(t(2020, 1, 1, 0, 0), t(2020, 1, 2, 0, 0));
    assert!(repo.get_range(m1.key(), empty).await.expect("empty").is_empty());
    assert!(repo.get_range(&key("GBPUSD", Timeframe::M1), across).await.expect("unknown").is_empty());
    assert_eq!(repo.coverage(&key("GBPUSD", Timeframe::M1)).await.expect("coverage"), None);
    // A very wide range lists the stored partitions instead of probing every day.
    let wide = range(t(1990, 1, 1, 0, 0), t(2040, 1, 1, 0, 0));
    assert_eq!(repo.get_range(m1.key(), wide).await.expect("wide"), m1);
    let series = repo.list_series().await.expect("list_series");
    assert_eq!(series, [key("AAPL", Timeframe::D1), key("EURUSD", Timeframe::M1), key("EURUSD", Timeframe::H1)]);
    assert_eq!(repo.name(), "parquet");
}

#[rstest]
#[case::root("", "")]
#[case::nested("hist/v1", "hist/v1/")]
#[case::slashes("/hist/v1/", "hist/v1/")]
#[tokio::test]
async fn objects_follow_the_hive_layout(#[case] prefix: &str, #[case] expected_root: &str) {
    let f = fixture(Kind::Local);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), prefix);
    repo.upsert(&bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 15, 23, 58), 4, 1.1)).await.expect("m1");
    repo.upsert(&bars(&key("EURUSD", Timeframe::M5), t(2025, 10, 16, 0, 0), 2, 1.1)).await.expect("m5");
    repo.upsert(&bars(&key("EURUSD", Timeframe::H4), t(2025, 9, 30, 21, 0), 2, 1.1)).await.expect("h4");
    repo.upsert(&bars(&key("AAPL", Timeframe::D1), t(2025, 12, 31, 0, 0), 2, 200.0)).await.expect("d1");
    let keys: Vec<String> = f.store.list("").await.expect("list").into_iter().map(|m| m.key).collect();
    let expected: Vec<String> = [
        "manifest.json",
        "ohlcv/symbol=AAPL/timeframe=D1/year=2025/data.parquet",
        "ohlcv/symbol=AAPL/timeframe=D1/year=2026/data.parquet",
        "ohlcv/symbol=EURUSD/timeframe=H4/month=2025-09/data.parquet",
        "ohlcv/symbol=EURUSD/timeframe=H4/month=2025-10/data.parquet",
        "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-15/data.parquet",
        "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet",
        "ohlcv/symbol=EURUSD/timeframe=M5/date=2025-10-16/data.parquet",
    ]
    .iter()
    .map(|k| format!("{expected_root}{k}"))
    .collect();
    assert_eq!(keys, expected);
    let manifest = repo.manifest().await.expect("manifest");
    let relative: Vec<&str> = manifest.objects.keys().map(String::as_str).collect();
    let expected_relative: Vec<&str> =
        expected.iter().skip(1).map(|k| k.strip_prefix(expected_root).expect("prefixed")).collect();
    assert_eq!(relative, expected_relative, "manifest keys are relative to the prefix");
}

#[rstest]
#[case::local(Kind::Local)]
#[case::memory(Kind::Memory)]
#[tokio::test]
async fn re_upserting_changes_no_object_and_not_the_manifest(#[case] kind: Kind) {
    let f = fixture(kind);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "");
    let m1 = bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 14, 12, 0), 3 * 1440, 1.16);
    repo.upsert(&m1).await.expect("first upsert");
    let before = snapshot(f.store.as_ref()).await;
    assert_eq!(before.0.len(), 5, "4 partitions and the manifest");

    let again = repo.upsert(&m1).await.expect("second upsert");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, m1.len() as u64));
    assert!(again.is_noop());
    // A subset is a no-op as well.
    let part = m1.slice(range(t(2025, 10, 15, 0, 0), t(2025, 10, 15, 1, 0)));
    assert!(repo.upsert(&part).await.expect("subset").is_noop());
    let after = snapshot(f.store.as_ref()).await;
    assert_eq!(after, before, "same objects, md5s, modification times and manifest bytes");
}

#[rstest]
#[case::local(Kind::Local)]
#[case::memory(Kind::Memory)]
#[tokio::test]
async fn manifest_describes_every_object(#[case] kind: Kind) {
    let f = fixture(kind);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "data");
    let m1 = bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 15, 22, 0), 300, 1.16);
    repo.upsert(&m1).await.expect("upsert");
    // An update of one bar rewrites one partition and its entry.
    let changed = bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 16, 0, 0), 1, 1.2);
    let before = repo.manifest().await.expect("manifest");
    let summary = repo.upsert(&changed).await.expect("update");
    assert_eq!((summary.inserted, summary.updated, summary.unchanged), (0, 1, 0));
    let manifest = repo.manifest().await.expect("manifest");
    let day15 = "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-15/data.parquet";
    let day16 = "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet";
    assert_eq!(manifest.objects[day15], before.objects[day15], "untouched partition, untouched entry");
    assert_ne!(manifest.objects[day16].md5, before.objects[day16].md5, "rewritten partition, new md5");

    let data_keys: Vec<String> = f
        .store
        .list("data/ohlcv/")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key.strip_prefix("data/").expect("prefix").to_string())
        .collect();
    assert_eq!(data_keys, manifest.objects.keys().cloned().collect::<Vec<_>>(), "one entry per object");
    let mut rows = 0;
    for (relative, entry) in &manifest.objects {
        let (bytes, meta) = f.store.get(&format!("data/{relative}")).await.expect("object");
        assert_eq!(entry.md5, md5_hex(&bytes), "{relative}: md5 of the bytes");
        assert_eq!(meta.md5.as_deref(), Some(entry.md5.as_str()), "{relative}: md5 the store reports");
        assert_eq!(entry.size, bytes.len() as u64, "{relative}: size");
        assert!(entry.first_open_time <= entry.last_open_time);
        rows += entry.rows;
    }
    assert_eq!(rows, m1.len() as u64);
    let text = String::from_utf8(f.store.get("data/manifest.json").await.expect("manifest").0).expect("utf-8");
    assert!(text.starts_with("{\n  \"version\": 1,\n  \"last_updated\": \""), "{text}");
}

#[rstest]
#[case::garbage(Kind::Local, false)]
#[case::truncated(Kind::Local, true)]
#[case::memory_garbage(Kind::Memory, false)]
#[tokio::test]
async fn a_corrupt_object_is_reported_with_its_key(#[case] kind: Kind, #[case] truncate: bool) {
    let f = fixture(kind);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "p");
    let m1 = bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 16, 10, 0), 120, 1.16);
    repo.upsert(&m1).await.expect("upsert");
    let object = "p/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet";
    let (bytes, _) = f.store.get(object).await.expect("object");
    let broken = if truncate { bytes[..bytes.len() / 2].to_vec() } else { b"PAR1 this is not parquet".to_vec() };
    f.store.put(object, broken, PutMode::Overwrite).await.expect("corrupt it");

    let span = m1.span().expect("span");
    for err in [
        repo.get_range(m1.key(), span).await.expect_err("read of a corrupt object"),
        repo.upsert(&m1).await.expect_err("merge into a corrupt object"),
    ] {
        match err {
            RepositoryError::Corrupt { what, .. } => assert_eq!(what, object),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[rstest]
#[case::local(Kind::Local)]
#[case::memory(Kind::Memory)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upserts_lose_no_manifest_entry(#[case] kind: Kind) {
    let f = fixture(kind);
    let symbols = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "USDCAD", "NZDUSD", "EURGBP"];
    let handles: Vec<_> = symbols
        .iter()
        .map(|symbol| {
            // Each task has its own repository over the shared store, like separate processes.
            let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "shared");
            let series = bars(&key(symbol, Timeframe::M1), t(2025, 10, 15, 20, 0), 8 * 60, 1.3);
            tokio::spawn(async move { repo.upsert(&series).await.expect("upsert") })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.expect("task").inserted, 480);
    }
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "shared");
    let manifest = repo.manifest().await.expect("manifest");
    assert_eq!(manifest.objects.len(), 2 * symbols.len(), "two partitions per series, none lost");
    let mut listed = repo.list_series().await.expect("list_series");
    listed.sort();
    let mut expected: Vec<SeriesKey> = symbols.iter().map(|s| key(s, Timeframe::M1)).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[rstest]
#[case::local(Kind::Local)]
#[case::memory(Kind::Memory)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upserts_of_one_series_lose_no_bar(#[case] kind: Kind) {
    let f = fixture(kind);
    let k = key("EURUSD", Timeframe::M5);
    let whole = bars(&k, t(2025, 10, 16, 0, 0), 288, 1.1);
    // Six writers, each with every sixth bar of the same day (one partition).
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "");
            let mine: Vec<Bar> = whole.bars().iter().skip(i).step_by(6).copied().collect();
            let series = OhlcvSeries::new(k.clone(), mine).expect("series");
            tokio::spawn(async move { repo.upsert(&series).await.expect("upsert") })
        })
        .collect();
    let mut inserted = 0;
    for handle in handles {
        inserted += handle.await.expect("task").inserted;
    }
    assert_eq!(inserted, 288);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "");
    assert_eq!(repo.get_all(&k).await.expect("read back"), whole);
    assert_eq!(repo.coverage(&k).await.expect("coverage").expect("some").rows, 288);
}

#[rstest]
#[case::local(Kind::Local)]
#[case::memory(Kind::Memory)]
#[tokio::test]
async fn delete_range_rewrites_or_removes_partitions(#[case] kind: Kind) {
    let f = fixture(kind);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "");
    let k = key("EURUSD", Timeframe::M1);
    let m1 = bars(&k, t(2025, 10, 15, 23, 0), 120, 1.16);
    repo.upsert(&m1).await.expect("upsert");
    // All of the 15th and the first 10 minutes of the 16th.
    let gone = range(t(2025, 10, 15, 0, 0), t(2025, 10, 16, 0, 10));
    assert_eq!(repo.delete_range(&k, gone).await.expect("delete"), 70);
    let left = repo.get_all(&k).await.expect("read");
    assert_eq!(left.len(), 50);
    assert_eq!(left.first().expect("first").open_time(), t(2025, 10, 16, 0, 10));
    let manifest = repo.manifest().await.expect("manifest");
    assert_eq!(manifest.objects.len(), 1, "the emptied partition left the manifest");
    assert!(f.store.list("ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-15").await.expect("list").is_empty());
    assert_eq!(repo.delete_range(&k, gone).await.expect("delete again"), 0);
    assert_eq!(repo.coverage(&k).await.expect("coverage").expect("some").rows, 50);
}

#[rstest]
#[case::local(Kind::Local)]
#[case::memory(Kind::Memory)]
#[tokio::test]
async fn without_a_manifest_coverage_and_series_come_from_the_objects(#[case] kind: Kind) {
    let f = fixture(kind);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "x");
    let m1 = bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 15, 23, 0), 120, 1.16);
    repo.upsert(&m1).await.expect("upsert");
    let with_manifest = repo.coverage(m1.key()).await.expect("coverage");
    f.store.delete("x/manifest.json").await.expect("lose the manifest");
    assert!(matches!(repo.manifest().await, Err(RepositoryError::NotFound { .. })));
    assert_eq!(repo.coverage(m1.key()).await.expect("fallback coverage"), with_manifest);
    assert_eq!(repo.list_series().await.expect("fallback list"), [m1.key().clone()]);
    // The next upsert (even a no-op) writes the manifest back.
    assert!(repo.upsert(&m1).await.expect("re-upsert").is_noop());
    assert_eq!(repo.manifest().await.expect("repaired manifest").objects.len(), 2);
}

#[tokio::test]
async fn the_other_calendar_is_refused() {
    let f = fixture(Kind::Memory);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), "");
    let k = key("EURUSD", Timeframe::H1);
    let bars = bars(&k, t(2025, 10, 16, 0, 0), 3, 1.1).into_bars();
    let equity = OhlcvSeries::with_calendar(k, axia_domain::MarketCalendar::Equity, bars).expect("series");
    assert!(matches!(repo.upsert(&equity).await, Err(RepositoryError::Invalid { .. })));
}

/// Writes a small history (three period kinds, nulls in the optional columns, two prefixes)
/// into `AXIA_PARQUET_SAMPLE_DIR` (or a temporary directory) and runs `scripts/check_parquet.py`
/// on it with the Python (pyarrow + duckdb) that `scripts/test.sh` prepares in `AXIA_TEST_PYTHON`.
#[tokio::test]
async fn external_readers_see_the_same_bars() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = std::env::var_os("AXIA_PARQUET_SAMPLE_DIR").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(&root));
    for prefix in ["", "archive/v1"] {
        let repo = ParquetOhlcvRepository::new(Arc::clone(&store), prefix);
        repo.upsert(&bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 15, 23, 0), 120, 1.16)).await.expect("m1");
        repo.upsert(&bars(&key("EURUSD", Timeframe::H1), t(2025, 10, 31, 20, 0), 10, 1.15)).await.expect("h1");
        repo.upsert(&bars(&key("AAPL", Timeframe::D1), t(2024, 12, 30, 0, 0), 4, 250.0)).await.expect("d1");
    }
    let python = std::env::var_os("AXIA_TEST_PYTHON")
        .expect("AXIA_TEST_PYTHON is not set: run the tests with scripts/test.sh, which installs pyarrow and duckdb");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check_parquet.py");
    let out = tokio::process::Command::new(python).arg(script).arg(&root).output().await.expect("run python");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "check_parquet.py failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn local_parquet_repository_passes_the_ohlcv_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = ParquetOhlcvRepository::new(Arc::new(LocalObjectStore::new(dir.path())), "contract");
    axia_tests::ohlcv_contract::run(&repo).await;
}

#[tokio::test]
async fn in_memory_parquet_repository_passes_the_ohlcv_contract() {
    let repo = ParquetOhlcvRepository::new(Arc::new(InMemoryObjectStore::new()), "");
    axia_tests::ohlcv_contract::run(&repo).await;
}
