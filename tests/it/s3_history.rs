//! The Parquet history tier's `verify` / `repair` and its manifest-driven reads, over the local
//! directory and a real S3 server (`AXIA_TEST_AWS_ENDPOINT`, the local server `scripts/test.sh`
//! starts): damaged, truncated and missing objects are named, a wrong manifest md5 and an orphan
//! left by a crash between the object and the manifest update are repaired, a lost or corrupt
//! manifest is rebuilt, the date check follows each series' calendar, range reads fetch only
//! listed partitions, and concurrent writers on S3 lose no manifest entry.
//!
//! Every S3 test works in its own bucket `axia-test-<uuid>`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use axia_adapters::object_store::{LocalObjectStore, S3ObjectStore, md5_hex};
use axia_adapters::parquet::{
    Manifest, ParquetOhlcvRepository, ProblemKind, RepairAction, VerifyOptions, VerifyReport,
};
use axia_domain::ports::{ObjectMeta, ObjectStore, ObjectStoreError, OhlcvDataRepository, PutMode, RepositoryError};
use axia_domain::{Bar, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use axia_tests::s3_support::{new_bucket_name, s3_settings};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rstest::rstest;

const PREFIX: &str = "hist";
const MANIFEST: &str = "hist/manifest.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    S3,
}

/// A store (and the directory that must outlive it).
struct Fixture {
    store: Arc<dyn ObjectStore>,
    _dir: Option<tempfile::TempDir>,
}

async fn fixture(kind: Kind) -> Fixture {
    match kind {
        Kind::Local => {
            let dir = tempfile::tempdir().expect("tempdir");
            Fixture { store: Arc::new(LocalObjectStore::new(dir.path())), _dir: Some(dir) }
        }
        Kind::S3 => {
            let store = S3ObjectStore::new(s3_settings(&new_bucket_name(), "")).await.expect("S3 store");
            assert!(store.ensure_bucket().await.expect("create the bucket"));
            Fixture { store: Arc::new(store), _dir: None }
        }
    }
}

fn key(symbol: &str, timeframe: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(symbol).expect("symbol"), timeframe)
}

fn t(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).single().expect("time")
}

fn day(y: i32, mo: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, mo, d).expect("date")
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange::new(start, end).expect("range")
}

/// The trading bars of `key` in `[start, end)` on its calendar (no weekend bars for FX).
fn bars(key: &SeriesKey, start: DateTime<Utc>, end: DateTime<Utc>, level: f64) -> OhlcvSeries {
    let bars = key
        .default_calendar()
        .trading_opens(start, end, key.timeframe)
        .enumerate()
        .map(|(i, open)| {
            let p = level + (i % 50) as f64 * 1e-4;
            Bar::new(open, p, p + 3e-4, p - 2e-4, p + 1e-4, 100 + i as u64).expect("valid bar")
        })
        .collect();
    OhlcvSeries::new(key.clone(), bars).expect("valid series")
}

/// Two days of EURUSD M1, a month of EURUSD H1 and a fortnight of AAPL D1.
async fn history(repo: &ParquetOhlcvRepository) {
    for series in [
        bars(&key("EURUSD", Timeframe::M1), t(2025, 10, 15, 22), t(2025, 10, 16, 2), 1.16),
        bars(&key("EURUSD", Timeframe::H1), t(2025, 10, 1, 0), t(2025, 10, 31, 0), 1.17),
        bars(&key("AAPL", Timeframe::D1), t(2025, 10, 13, 0), t(2025, 10, 25, 0), 250.0),
    ] {
        repo.upsert(&series).await.expect("upsert");
    }
}

const M1_OBJECT: &str = "hist/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet";
const H1_OBJECT: &str = "hist/ohlcv/symbol=EURUSD/timeframe=H1/month=2025-10/data.parquet";

async fn verify(repo: &ParquetOhlcvRepository, date: Option<NaiveDate>, repair: bool) -> VerifyReport {
    repo.verify(&VerifyOptions { date, repair }).await.expect("verify")
}

/// The problems of a report by key.
fn problems(report: &VerifyReport) -> BTreeMap<&str, &ProblemKind> {
    report.problems.iter().map(|p| (p.key.as_str(), &p.kind)).collect()
}

async fn manifest(store: &dyn ObjectStore) -> Manifest {
    Manifest::from_json(&store.get(MANIFEST).await.expect("manifest").0).expect("a valid manifest")
}

#[rstest]
#[case::local(Kind::Local)]
#[case::s3(Kind::S3)]
#[tokio::test]
async fn a_healthy_history_verifies_from_metadata_alone(#[case] kind: Kind) {
    let f = fixture(kind).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    let empty = verify(&repo, None, false).await;
    assert!(empty.is_ok() && empty.entries == 0 && empty.objects == 0, "{empty:?}");
    history(&repo).await;

    let report = verify(&repo, None, false).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.entries, report.objects), (4, 4), "{report:?}");
    assert_eq!(report.downloads, 0, "sizes and md5s come from listings and HEADs: {report:?}");
    let heads = if kind == Kind::S3 { 4 } else { 0 };
    assert_eq!(report.heads, heads, "S3 lists no md5, so one HEAD per object: {report:?}");
    assert_eq!(report.manifest_key, MANIFEST);
    assert_eq!(report.location, f.store.location());
    assert!(report.repaired.is_empty());
}

#[rstest]
#[case::local_garbage(Kind::Local, false)]
#[case::local_truncated(Kind::Local, true)]
#[case::s3_garbage(Kind::S3, false)]
#[case::s3_truncated(Kind::S3, true)]
#[tokio::test]
async fn a_damaged_object_is_named_and_never_listed(#[case] kind: Kind, #[case] truncate: bool) {
    let f = fixture(kind).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    history(&repo).await;
    let listed = manifest(f.store.as_ref()).await.objects[M1_OBJECT.strip_prefix("hist/").unwrap()].clone();
    let (bytes, _) = f.store.get(M1_OBJECT).await.expect("object");
    // Garbage of the same size, so only the md5 can tell.
    let damaged = if truncate { bytes[..bytes.len() / 2].to_vec() } else { vec![b'x'; bytes.len()] };
    f.store.put(M1_OBJECT, damaged.clone(), PutMode::Overwrite).await.expect("damage it");

    let report = verify(&repo, None, false).await;
    let expected = if truncate {
        ProblemKind::SizeMismatch { manifest: listed.size, object: damaged.len() as u64 }
    } else {
        ProblemKind::Md5Mismatch { manifest: listed.md5.clone(), object: md5_hex(&damaged) }
    };
    assert_eq!(problems(&report), BTreeMap::from([(M1_OBJECT, &expected)]), "{report:?}");
    assert!(report.problems[0].kind.to_string().contains("does not match the manifest"));

    let repaired = verify(&repo, None, true).await;
    match problems(&repaired).get(M1_OBJECT) {
        Some(ProblemKind::Corrupt { listed: true, detail }) => assert!(!detail.is_empty()),
        other => panic!("expected the object reported corrupt, got {other:?} in {repaired:?}"),
    }
    assert!(repaired.repaired.is_empty(), "{repaired:?}");
    let after = manifest(f.store.as_ref()).await;
    assert_eq!(after.objects[M1_OBJECT.strip_prefix("hist/").unwrap()], listed, "the entry is left as it was");
    assert!(!verify(&repo, None, false).await.is_ok(), "the damage stays visible");
}

#[rstest]
#[case::local(Kind::Local)]
#[case::s3(Kind::S3)]
#[tokio::test]
async fn a_wrong_manifest_md5_is_named_and_rebuilt_from_the_object(#[case] kind: Kind) {
    let f = fixture(kind).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    history(&repo).await;
    let mut m = manifest(f.store.as_ref()).await;
    let relative = H1_OBJECT.strip_prefix("hist/").unwrap();
    let right = m.objects[relative].md5.clone();
    m.objects.get_mut(relative).unwrap().md5 = md5_hex(b"something else");
    f.store.put(MANIFEST, m.to_json(), PutMode::Overwrite).await.expect("spoil the manifest");

    let report = verify(&repo, None, false).await;
    let expected = ProblemKind::Md5Mismatch { manifest: md5_hex(b"something else"), object: right.clone() };
    assert_eq!(problems(&report), BTreeMap::from([(H1_OBJECT, &expected)]), "{report:?}");

    let repaired = verify(&repo, None, true).await;
    assert!(repaired.is_ok(), "{repaired:?}");
    assert_eq!(repaired.repaired.len(), 1);
    assert_eq!((repaired.repaired[0].key.as_str(), repaired.repaired[0].action), (H1_OBJECT, RepairAction::Updated));
    assert_eq!(manifest(f.store.as_ref()).await.objects[relative].md5, right);
    assert!(verify(&repo, None, false).await.is_ok());
}

#[rstest]
#[case::local(Kind::Local)]
#[case::s3(Kind::S3)]
#[tokio::test]
async fn an_orphan_left_by_a_crash_is_found_and_repaired(#[case] kind: Kind) {
    let f = fixture(kind).await;
    let spy = Arc::new(Spy::new(Arc::clone(&f.store)));
    let repo = ParquetOhlcvRepository::new(Arc::clone(&spy) as Arc<dyn ObjectStore>, PREFIX);
    history(&repo).await;
    // The process "dies" after writing a new partition, before the manifest update.
    let k = key("EURUSD", Timeframe::M1);
    let late = bars(&k, t(2025, 10, 17, 9), t(2025, 10, 17, 10), 1.2);
    spy.crash_manifest.store(true, Ordering::SeqCst);
    let err = repo.upsert(&late).await.expect_err("the manifest update fails");
    assert!(err.is_retryable(), "{err:?}");
    spy.crash_manifest.store(false, Ordering::SeqCst);
    let orphan = "hist/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-17/data.parquet";
    assert!(f.store.head(orphan).await.is_ok(), "the object was written");

    // Unlisted, it is not part of the history yet: reads and coverage agree on that.
    let all = range(t(2025, 10, 1, 0), t(2025, 11, 1, 0));
    assert_eq!(repo.get_range(&k, all).await.expect("read").len(), 240);
    assert_eq!(repo.coverage(&k).await.expect("coverage").expect("some").rows, 240);

    let report = verify(&repo, None, false).await;
    assert_eq!(problems(&report), BTreeMap::from([(orphan, &ProblemKind::Orphan)]), "{report:?}");
    let repaired = verify(&repo, None, true).await;
    assert!(repaired.is_ok(), "{repaired:?}");
    assert_eq!(repaired.repaired.len(), 1);
    assert_eq!((repaired.repaired[0].key.as_str(), repaired.repaired[0].action), (orphan, RepairAction::Listed));
    assert_eq!(repo.get_range(&k, all).await.expect("read").len(), 300, "listed, the bars are read");
    let entry = &manifest(f.store.as_ref()).await.objects[orphan.strip_prefix("hist/").unwrap()];
    assert_eq!(entry.md5, md5_hex(&f.store.get(orphan).await.expect("object").0));
    assert_eq!(entry.rows, 60);
    assert!(verify(&repo, None, false).await.is_ok());
}

#[rstest]
#[case::local(Kind::Local)]
#[case::s3(Kind::S3)]
#[tokio::test]
async fn the_next_upsert_of_an_orphan_merges_into_it_and_lists_it(#[case] kind: Kind) {
    let f = fixture(kind).await;
    let spy = Arc::new(Spy::new(Arc::clone(&f.store)));
    let repo = ParquetOhlcvRepository::new(Arc::clone(&spy) as Arc<dyn ObjectStore>, PREFIX);
    let k = key("EURUSD", Timeframe::M1);
    repo.upsert(&bars(&k, t(2025, 10, 16, 9), t(2025, 10, 16, 10), 1.2)).await.expect("listed day");
    spy.crash_manifest.store(true, Ordering::SeqCst);
    repo.upsert(&bars(&k, t(2025, 10, 17, 9), t(2025, 10, 17, 10), 1.2)).await.expect_err("crash");
    spy.crash_manifest.store(false, Ordering::SeqCst);
    // The collector's next run: the day's later bars. The conditional create fails on the orphan,
    // so the upsert reads it and merges.
    let summary = repo.upsert(&bars(&k, t(2025, 10, 17, 9), t(2025, 10, 17, 11), 1.2)).await.expect("upsert");
    assert_eq!((summary.inserted, summary.unchanged), (60, 60), "{summary:?}");
    let all = range(t(2025, 10, 1, 0), t(2025, 11, 1, 0));
    assert_eq!(repo.get_range(&k, all).await.expect("read").len(), 180);
    assert!(verify(&repo, None, false).await.is_ok());
}

#[rstest]
#[case::local(Kind::Local)]
#[case::s3(Kind::S3)]
#[tokio::test]
async fn a_missing_object_is_named_and_its_entry_kept(#[case] kind: Kind) {
    let f = fixture(kind).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    history(&repo).await;
    f.store.delete(M1_OBJECT).await.expect("lose the object");
    // A stray file in a partition directory would be read by Hive readers.
    let stray = "hist/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/notes.txt";
    f.store.put(stray, b"hello".to_vec(), PutMode::Overwrite).await.expect("stray file");
    for repair in [false, true] {
        let report = verify(&repo, None, repair).await;
        let expected = BTreeMap::from([(M1_OBJECT, &ProblemKind::MissingObject), (stray, &ProblemKind::Foreign)]);
        assert_eq!(problems(&report), expected, "repair {repair}: {report:?}");
        assert!(report.repaired.is_empty());
    }
    assert!(manifest(f.store.as_ref()).await.objects.contains_key(M1_OBJECT.strip_prefix("hist/").unwrap()));
}

#[rstest]
#[case::local_lost(Kind::Local, false)]
#[case::local_corrupt(Kind::Local, true)]
#[case::s3_lost(Kind::S3, false)]
#[case::s3_corrupt(Kind::S3, true)]
#[tokio::test]
async fn a_lost_or_corrupt_manifest_is_rebuilt_from_the_objects(#[case] kind: Kind, #[case] corrupt: bool) {
    let f = fixture(kind).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    history(&repo).await;
    let before = manifest(f.store.as_ref()).await;
    if corrupt {
        f.store.put(MANIFEST, b"{\"version\": 1, \"objects\": ".to_vec(), PutMode::Overwrite).await.expect("spoil");
    } else {
        f.store.delete(MANIFEST).await.expect("lose the manifest");
    }
    let report = verify(&repo, Some(day(2025, 10, 16)), false).await;
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert_eq!(report.problems[0].key, MANIFEST);
    match (&report.problems[0].kind, corrupt) {
        (ProblemKind::CorruptManifest { .. }, true) | (ProblemKind::MissingManifest { objects: 4 }, false) => {}
        (other, _) => panic!("unexpected {other:?}"),
    }
    assert_eq!(report.date, None, "no date check without a manifest");

    let repaired = verify(&repo, Some(day(2025, 10, 16)), true).await;
    assert!(repaired.is_ok(), "{repaired:?}");
    assert_eq!(repaired.repaired.len(), 1);
    assert_eq!((repaired.repaired[0].key.as_str(), repaired.repaired[0].action), (MANIFEST, RepairAction::Rebuilt));
    let after = manifest(f.store.as_ref()).await;
    assert_eq!(after.objects.len(), before.objects.len());
    for (k, entry) in &before.objects {
        assert!(after.objects[k].same_object(entry), "{k}");
    }
    let aside: Vec<String> =
        f.store.list("hist/manifest.corrupt-").await.expect("list").into_iter().map(|m| m.key).collect();
    assert_eq!(aside.len(), usize::from(corrupt), "a corrupt manifest is kept aside: {aside:?}");
    assert!(verify(&repo, None, false).await.is_ok());
}

#[rstest]
#[case::local(Kind::Local)]
#[case::s3(Kind::S3)]
#[tokio::test]
async fn the_date_check_follows_each_series_calendar(#[case] kind: Kind) {
    let f = fixture(kind).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    let (h1, m1, d1) = (key("EURUSD", Timeframe::H1), key("EURUSD", Timeframe::M1), key("AAPL", Timeframe::D1));
    // Thursday 16 October 2025 to Tuesday 21 October; FX closes Friday 21:00 UTC, reopens Sunday 21:00.
    repo.upsert(&bars(&h1, t(2025, 10, 16, 0), t(2025, 10, 22, 0), 1.17)).await.expect("h1");
    repo.upsert(&bars(&m1, t(2025, 10, 17, 20), t(2025, 10, 20, 1), 1.16)).await.expect("m1");
    repo.upsert(&bars(&d1, t(2025, 10, 13, 0), t(2025, 10, 25, 0), 250.0)).await.expect("d1");

    let saturday = verify(&repo, Some(day(2025, 10, 18)), false).await;
    assert!(saturday.is_ok(), "{saturday:?}");
    let check = saturday.date.expect("date check");
    assert_eq!((check.series, check.with_bars, check.closed), (3, 0, 3), "{check:?}");

    // Sunday: FX reopens at 21:00 (the H1 bars are inside a month partition: read), stocks are closed.
    let sunday = verify(&repo, Some(day(2025, 10, 19)), false).await;
    assert!(sunday.is_ok(), "{sunday:?}");
    assert_eq!(sunday.date.map(|c| (c.series, c.with_bars, c.closed)), Some((3, 2, 1)));
    assert_eq!(sunday.downloads, 1, "only the month partition is read: {sunday:?}");

    // Tuesday: the M1 series ended on Monday and is not checked.
    let tuesday = verify(&repo, Some(day(2025, 10, 21)), false).await;
    assert!(tuesday.is_ok(), "{tuesday:?}");
    assert_eq!(tuesday.date.map(|c| (c.series, c.with_bars)), Some((2, 2)));

    // Monday's H1 bars and Sunday's M1 partition go missing.
    repo.delete_range(&h1, range(t(2025, 10, 20, 0), t(2025, 10, 21, 0))).await.expect("delete h1");
    repo.delete_range(&m1, range(t(2025, 10, 19, 0), t(2025, 10, 20, 0))).await.expect("delete m1");
    let monday = verify(&repo, Some(day(2025, 10, 20)), false).await;
    let expected = ProblemKind::NoBarsOnDate { series: "EURUSD H1".into(), date: day(2025, 10, 20) };
    assert_eq!(problems(&monday), BTreeMap::from([(H1_OBJECT, &expected)]), "{monday:?}");
    let sunday = verify(&repo, Some(day(2025, 10, 19)), false).await;
    let m1_sunday = "hist/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-19/data.parquet";
    let expected = ProblemKind::NoBarsOnDate { series: "EURUSD M1".into(), date: day(2025, 10, 19) };
    assert_eq!(problems(&sunday), BTreeMap::from([(m1_sunday, &expected)]), "{sunday:?}");
    assert!(sunday.problems[0].kind.to_string().contains("no EURUSD M1 bars on 2025-10-19"));

    // A date no series covers: the backup checked for is not there.
    let later = verify(&repo, Some(day(2030, 1, 2)), false).await;
    let expected = ProblemKind::DateNotCovered { date: day(2030, 1, 2) };
    assert_eq!(problems(&later), BTreeMap::from([(MANIFEST, &expected)]), "{later:?}");
}

#[rstest]
#[case::local(Kind::Local)]
#[case::s3(Kind::S3)]
#[tokio::test]
async fn range_reads_fetch_only_the_partitions_the_manifest_lists(#[case] kind: Kind) {
    let f = fixture(kind).await;
    let spy = Arc::new(Spy::new(Arc::clone(&f.store)));
    let repo = ParquetOhlcvRepository::new(Arc::clone(&spy) as Arc<dyn ObjectStore>, PREFIX);
    let k = key("EURUSD", Timeframe::M1);
    let written = bars(&k, t(2025, 10, 15, 22), t(2025, 10, 16, 2), 1.16);
    repo.upsert(&written).await.expect("upsert");
    spy.reset();
    // Sixty days around two stored partitions: the manifest and the two partitions, nothing else.
    let wide = range(t(2025, 9, 20, 0), t(2025, 11, 20, 0));
    assert_eq!(repo.get_range(&k, wide).await.expect("read"), written);
    assert_eq!((spy.gets(), spy.missing()), (3, 0), "one GET for the manifest and one per listed partition");
    spy.reset();
    assert!(repo.get_range(&key("GBPUSD", Timeframe::M1), wide).await.expect("read").is_empty());
    assert_eq!((spy.gets(), spy.missing()), (1, 0), "an unknown series costs the manifest only");
    // A listed partition whose object is gone reads as empty.
    f.store.delete("hist/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-15/data.parquet").await.expect("delete");
    assert_eq!(repo.get_range(&k, wide).await.expect("read").len(), 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_writers_on_s3_lose_no_manifest_entry() {
    let f = fixture(Kind::S3).await;
    let symbols = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "USDCAD", "NZDUSD", "EURGBP"];
    let handles: Vec<_> = symbols
        .iter()
        .map(|symbol| {
            // Each writer has its own repository over the shared bucket, like separate hosts.
            let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
            let (m1, h1) = (key(symbol, Timeframe::M1), key(symbol, Timeframe::H1));
            tokio::spawn(async move {
                repo.upsert(&bars(&m1, t(2025, 10, 15, 21), t(2025, 10, 16, 3), 1.3)).await.expect("m1");
                repo.upsert(&bars(&h1, t(2025, 9, 29, 0), t(2025, 10, 3, 0), 1.3)).await.expect("h1");
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("writer");
    }
    let listed: BTreeMap<String, ObjectMeta> = f
        .store
        .list("hist/ohlcv/")
        .await
        .expect("list")
        .into_iter()
        .map(|m| (m.key.strip_prefix("hist/").expect("prefix").to_string(), m))
        .collect();
    assert_eq!(listed.len(), 4 * symbols.len(), "two M1 days and two H1 months per symbol");
    let m = manifest(f.store.as_ref()).await;
    assert_eq!(m.objects.keys().collect::<Vec<_>>(), listed.keys().collect::<Vec<_>>(), "every object is listed");
    for (relative, entry) in &m.objects {
        let (bytes, _) = f.store.get(&format!("hist/{relative}")).await.expect("object");
        assert_eq!((entry.md5.as_str(), entry.size), (md5_hex(&bytes).as_str(), bytes.len() as u64), "{relative}");
    }
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    assert!(verify(&repo, Some(day(2025, 10, 1)), false).await.is_ok());
}

/// Passes calls to a store, counting GETs, and can fail manifest writes like a process that
/// dies between the object and the manifest update.
#[derive(Debug)]
struct Spy {
    inner: Arc<dyn ObjectStore>,
    gets: AtomicUsize,
    missing: AtomicUsize,
    crash_manifest: AtomicBool,
}

impl Spy {
    fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner, gets: AtomicUsize::new(0), missing: AtomicUsize::new(0), crash_manifest: AtomicBool::new(false) }
    }

    fn reset(&self) {
        self.gets.store(0, Ordering::SeqCst);
        self.missing.store(0, Ordering::SeqCst);
    }

    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    fn missing(&self) -> usize {
        self.missing.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ObjectStore for Spy {
    fn location(&self) -> String {
        self.inner.location()
    }

    async fn put(&self, key: &str, data: Vec<u8>, mode: PutMode) -> Result<ObjectMeta, ObjectStoreError> {
        if self.crash_manifest.load(Ordering::SeqCst) && key.ends_with("manifest.json") {
            return Err(ObjectStoreError::Unavailable { detail: "simulated crash before the manifest update".into() });
        }
        self.inner.put(key, data, mode).await
    }

    async fn get(&self, key: &str) -> Result<(Vec<u8>, ObjectMeta), ObjectStoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let got = self.inner.get(key).await;
        if matches!(got, Err(ObjectStoreError::NotFound { .. })) {
            self.missing.fetch_add(1, Ordering::SeqCst);
        }
        got
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, ObjectStoreError> {
        self.inner.head(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectStoreError> {
        self.inner.list(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        self.inner.delete(key).await
    }
}

#[tokio::test]
async fn a_manifest_of_another_version_is_left_alone() {
    let f = fixture(Kind::Local).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&f.store), PREFIX);
    history(&repo).await;
    let newer = b"{\"version\": 2, \"objects\": {}}\n".to_vec();
    f.store.put(MANIFEST, newer.clone(), PutMode::Overwrite).await.expect("newer manifest");
    let err = repo.verify(&VerifyOptions { date: None, repair: true }).await.expect_err("refused");
    assert!(matches!(&err, RepositoryError::Misconfigured { detail, .. } if detail.contains("version 2")), "{err:?}");
    assert_eq!(f.store.get(MANIFEST).await.expect("manifest").0, newer, "untouched");
}

#[tokio::test]
async fn the_ohlcv_contract_on_s3_rarely_asks_for_missing_objects() {
    let f = fixture(Kind::S3).await;
    let spy = Arc::new(Spy::new(Arc::clone(&f.store)));
    let repo = ParquetOhlcvRepository::new(Arc::clone(&spy) as Arc<dyn ObjectStore>, PREFIX);
    axia_tests::ohlcv_contract::run(&repo).await;
    // Probing every overlapping partition made 5,202 of 5,744 GETs of this run NotFound; reading
    // the partitions the manifest lists leaves about 10 of some 720 (an empty store's manifest).
    let (gets, missing) = (spy.gets(), spy.missing());
    assert!(missing * 20 <= gets, "{missing} of {gets} GETs were NotFound");
}
