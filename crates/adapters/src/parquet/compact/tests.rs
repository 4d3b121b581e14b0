use std::sync::Arc;

use axia_domain::ports::{ObjectStore, OhlcvDataRepository, OhlcvDataRepositoryExt};
use axia_domain::{Bar, Symbol, TimeRange};
use chrono::TimeZone;
use rstest::rstest;

use super::*;
use crate::object_store::InMemoryObjectStore;

fn key(tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new("EURUSD").unwrap(), tf)
}

fn t(mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, mo, d, h, 0, 0).unwrap()
}

fn day(mo: u32, d: u32) -> Partition {
    Partition::of_bar(Timeframe::M1, t(mo, d, 0))
}

fn month(mo: u32) -> Partition {
    Partition::Month { year: 2025, month: mo }
}

/// One M1 bar per hour from `start` for `hours` hours, prices shifted by `level`.
fn hourly(start: DateTime<Utc>, hours: i64, level: f64) -> OhlcvSeries {
    let bars = (0..hours)
        .map(|i| {
            let p = level + (i % 7) as f64 * 1e-4;
            Bar::new(start + TimeDelta::hours(i), p, p + 2e-4, p - 1e-4, p, 10 + i as u64).unwrap()
        })
        .collect();
    OhlcvSeries::new(key(Timeframe::M1), bars).unwrap()
}

fn repo() -> (Arc<InMemoryObjectStore>, ParquetOhlcvRepository) {
    let store = Arc::new(InMemoryObjectStore::new());
    (Arc::clone(&store), ParquetOhlcvRepository::new(store, "hist"))
}

fn everything() -> TimeRange {
    TimeRange::new(t(1, 1, 0), t(12, 31, 0)).unwrap()
}

async fn keys(store: &InMemoryObjectStore) -> Vec<String> {
    store.list("").await.unwrap().into_iter().map(|m| m.key).collect()
}

#[rstest]
#[case(Timeframe::M1, month(10), true)]
#[case(Timeframe::M5, month(10), true)]
#[case(Timeframe::M1, day(10, 16), false)]
#[case(Timeframe::H1, month(10), false)]
#[case(Timeframe::D1, Partition::Year(2025), false)]
fn archives_are_months_of_daily_timeframes(#[case] tf: Timeframe, #[case] p: Partition, #[case] expected: bool) {
    assert_eq!(is_archive(tf, p), expected);
}

#[rstest]
#[case("archive/ohlcv/symbol=EURUSD/timeframe=M1/month=2025-10/data.parquet", Some((Timeframe::M1, month(10))))]
#[case("archive/ohlcv/symbol=EURUSD/timeframe=M5/month=2025-10/data.parquet", Some((Timeframe::M5, month(10))))]
#[case("archive/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet", None)]
#[case("archive/ohlcv/symbol=EURUSD/timeframe=H1/month=2025-10/data.parquet", None)]
#[case("ohlcv/symbol=EURUSD/timeframe=M1/month=2025-10/data.parquet", None)]
#[case("archive/symbol=EURUSD/timeframe=M1/month=2025-10/data.parquet", None)]
fn archive_keys_round_trip(#[case] relative: &str, #[case] expected: Option<(Timeframe, Partition)>) {
    let parsed = parse_object_key(relative);
    assert_eq!(parsed, expected.map(|(tf, p)| (key(tf), p)));
    if let Some((k, p)) = parsed {
        assert_eq!(object_key(&k, p), relative);
    }
}

#[test]
fn reads_put_archives_first() {
    let mut partitions = vec![day(9, 30), month(10), day(10, 1), month(9)];
    archives_first(Timeframe::M1, &mut partitions);
    assert_eq!(partitions, [month(9), month(10), day(9, 30), day(10, 1)]);
}

#[test]
fn holds_unchanged_compares_values() {
    let archive = hourly(t(10, 1, 0), 48, 1.1);
    assert!(holds_unchanged(&archive, &archive.slice(TimeRange::new(t(10, 1, 5), t(10, 2, 0)).unwrap())));
    assert!(!holds_unchanged(&archive, &hourly(t(10, 1, 5), 3, 1.2)), "other values");
    assert!(!holds_unchanged(&archive, &hourly(t(10, 3, 0), 1, 1.1)), "a bar it lacks");
}

#[test]
fn upserts_into_an_archived_day_go_to_the_archive() {
    let mut manifest = Manifest::empty(t(11, 1, 0));
    let archived = hourly(t(10, 1, 0), 24 * 19, 1.1); // October 1 to 19
    let entry = manifest::ManifestEntry::describe(&archived, b"x", t(11, 1, 0)).unwrap();
    manifest.objects.insert(archive_key(&key(Timeframe::M1), month(10)), entry);
    let upsert = hourly(t(10, 18, 0), 24 * 4, 1.2); // October 18 to 21
    let parts: Vec<(Partition, OhlcvSeries)> =
        [18, 19, 20, 21].iter().map(|&d| (day(10, d), upsert.slice(day(10, d).range()))).collect();
    let routed = route_to_archives(parts.clone(), Some(&manifest)).unwrap();
    let targets: Vec<Partition> = routed.iter().map(|(p, _)| *p).collect();
    assert_eq!(targets, [month(10), day(10, 20), day(10, 21)], "one part for the archive, then daily ones");
    assert_eq!(routed[0].1.len(), 48);
    assert_eq!(route_to_archives(parts.clone(), None).unwrap(), parts, "no manifest, no archive");
}

#[tokio::test]
async fn compaction_moves_old_days_into_verified_archives_and_reads_the_same() {
    let (store, repo) = repo();
    let series = hourly(t(9, 25, 0), 24 * 20, 1.1); // September 25 to October 14
    repo.upsert(&series).await.unwrap();
    let coverage = repo.coverage(series.key()).await.unwrap();
    let now = t(10, 15, 12);

    let report = repo.compact(DEFAULT_KEEP_DAILY, now).await.unwrap();
    // Days ending by October 8 12:00: September 25-30 and October 1-7.
    assert_eq!((report.series, report.archives_written, report.originals_deleted), (1, 2, 13));
    assert_eq!(report.bars, 13 * 24);
    assert_eq!(report.cutoff, now - DEFAULT_KEEP_DAILY);
    assert!(report.bytes_after > 0 && report.bytes_before > report.bytes_after, "{report:?}");
    assert_eq!(repo.get_range(series.key(), everything()).await.unwrap(), series);
    assert_eq!(repo.coverage(series.key()).await.unwrap(), coverage);
    assert_eq!(repo.list_series().await.unwrap(), [key(Timeframe::M1)]);
    let across = TimeRange::new(t(10, 6, 5), t(10, 9, 7)).unwrap();
    assert_eq!(repo.get_range(series.key(), across).await.unwrap(), series.slice(across));

    let objects = keys(&store).await;
    assert!(objects.contains(&"hist/archive/ohlcv/symbol=EURUSD/timeframe=M1/month=2025-09/data.parquet".into()));
    assert!(!objects.iter().any(|k| k.contains("date=2025-10-07")), "{objects:?}");
    assert!(objects.iter().any(|k| k.contains("date=2025-10-08")), "{objects:?}");
    let manifest = repo.manifest().await.unwrap();
    let (bytes, _) = store.get(&repo.layout().object_key(series.key(), month(10))).await.unwrap();
    let entry = &manifest.objects[&archive_key(series.key(), month(10))];
    assert_eq!((entry.md5.as_str(), entry.rows), (crate::object_store::md5_hex(&bytes).as_str(), 7 * 24));

    // Again: nothing to do.
    let again = repo.compact(DEFAULT_KEEP_DAILY, now).await.unwrap();
    assert_eq!((again.archives_written, again.originals_deleted), (0, 0));
}

#[tokio::test]
async fn later_writes_into_an_archived_period_merge_into_the_archive() {
    let (store, repo) = repo();
    let series = hourly(t(10, 1, 0), 24 * 10, 1.1);
    repo.upsert(&series).await.unwrap();
    repo.compact(TimeDelta::days(1), t(10, 20, 0)).await.unwrap();
    let before = keys(&store).await;
    assert!(before.iter().all(|k| !k.contains("date=")), "{before:?}");

    // The same bars again: unchanged, nothing written.
    let summary = repo.upsert(&series).await.unwrap();
    assert_eq!((summary.inserted, summary.updated, summary.unchanged), (0, 0, series.len() as u64));
    // Changed bars inside the archive, and new ones after its last bar.
    let newer = hourly(t(10, 5, 0), 24 * 7, 1.3);
    let summary = repo.upsert(&newer).await.unwrap();
    assert_eq!((summary.inserted, summary.updated), (24, 24 * 6));
    let mut expected = series.clone();
    expected.merge(&newer).unwrap();
    assert_eq!(repo.get_all(series.key()).await.unwrap(), expected);
    let after = keys(&store).await;
    assert_eq!(after.iter().filter(|k| k.contains("date=")).count(), 1, "only the day after the archive: {after:?}");

    // Deletes reach the archive; the next compaction folds the new days in.
    let cut = TimeRange::new(t(10, 3, 0), t(10, 12, 0)).unwrap();
    assert_eq!(repo.delete_range(series.key(), cut).await.unwrap(), 9 * 24);
    repo.compact(TimeDelta::days(1), t(10, 20, 0)).await.unwrap();
    let left = repo.get_all(series.key()).await.unwrap();
    assert_eq!(left, expected.slice(TimeRange::new(t(10, 1, 0), t(10, 3, 0)).unwrap()));
    assert!(keys(&store).await.iter().all(|k| !k.contains("date=")));
}

#[tokio::test]
async fn compaction_needs_the_manifest_when_partitions_exist() {
    let (store, repo) = repo();
    assert_eq!(repo.compact(DEFAULT_KEEP_DAILY, t(10, 20, 0)).await.unwrap().archives_written, 0);
    repo.upsert(&hourly(t(10, 1, 0), 24, 1.1)).await.unwrap();
    store.delete("hist/manifest.json").await.unwrap();
    let err = repo.compact(DEFAULT_KEEP_DAILY, t(10, 20, 0)).await.unwrap_err();
    assert!(matches!(err, RepositoryError::Misconfigured { .. }), "{err:?}");
}

#[tokio::test]
async fn other_timeframes_are_left_alone() {
    let (store, repo) = repo();
    let h1 = OhlcvSeries::new(key(Timeframe::H1), hourly(t(8, 1, 0), 48, 1.1).into_bars()).unwrap();
    repo.upsert(&h1).await.unwrap();
    let before = keys(&store).await;
    let report = repo.compact(DEFAULT_KEEP_DAILY, t(12, 1, 0)).await.unwrap();
    assert_eq!((report.series, report.archives_written), (0, 0));
    assert_eq!(keys(&store).await, before);
}
