//! The contract suite of `OhlcvDataRepository`, run against every tier (the in-memory fake,
//! the memory tier, the Parquet store over every object store, later Redis). It uses its own
//! symbols and never assumes the repository is otherwise empty.

use axia_domain::ports::{OhlcvDataRepository, OhlcvDataRepositoryExt};
use axia_domain::{Bar, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// Runs every check of the contract against `repo`.
pub async fn run(repo: &dyn OhlcvDataRepository) {
    unknown_series_reads_empty(repo).await;
    upsert_then_read_exactly(repo).await;
    ranges_are_half_open(repo).await;
    upsert_is_idempotent(repo).await;
    newer_write_wins_and_never_two_bars_per_time(repo).await;
    delete_range_removes_exactly(repo).await;
    coverage_and_listing(repo).await;
    series_are_isolated(repo).await;
    daily_fx_and_equity_series(repo).await;
}

fn key(sym: &str, tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(sym).expect("valid symbol"), tf)
}

fn t0() -> DateTime<Utc> {
    // Monday 2025-09-01 00:00 UTC: inside the FX week.
    Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).single().expect("valid time")
}

/// `n` bars of `key` from `start`, one step apart, with prices derived from `level`.
fn bars(key: &SeriesKey, start: DateTime<Utc>, n: i64, level: f64) -> OhlcvSeries {
    let cal = key.default_calendar();
    let mut open = cal.align(start, key.timeframe);
    let mut out = Vec::new();
    for i in 0..n {
        let base = level + i as f64 * 0.0001;
        out.push(Bar::new(open, base, base + 0.0005, base - 0.0005, base + 0.0002, 100 + i as u64).expect("valid bar"));
        open = cal.next_trading_open(cal.next_open(open, key.timeframe), key.timeframe);
    }
    OhlcvSeries::new(key.clone(), out).expect("valid series")
}

fn all() -> TimeRange {
    TimeRange::new(
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
    )
    .expect("range")
}

async fn unknown_series_reads_empty(repo: &dyn OhlcvDataRepository) {
    let k = key("CTUNKNOWN", Timeframe::H1);
    let s = repo.get_range(&k, all()).await.expect("read unknown series");
    assert!(s.is_empty(), "{}: unknown series must read empty", repo.name());
    assert_eq!(repo.coverage(&k).await.expect("coverage"), None, "{}: unknown coverage", repo.name());
}

async fn upsert_then_read_exactly(repo: &dyn OhlcvDataRepository) {
    let k = key("CTREAD", Timeframe::M1);
    let s = bars(&k, t0(), 180, 1.1);
    let w = repo.upsert(&s).await.expect("upsert");
    assert_eq!((w.inserted, w.updated), (180, 0), "{}: first write inserts everything", repo.name());
    let back = repo.get_range(&k, all()).await.expect("read");
    assert_eq!(back.bars(), s.bars(), "{}: read back differs", repo.name());
    let last_hour = repo.get_last_hours(&k, 1, t0() + TimeDelta::minutes(180)).await.expect("last hours");
    assert_eq!(last_hour.bars(), &s.bars()[120..], "{}: last hour", repo.name());
}

async fn ranges_are_half_open(repo: &dyn OhlcvDataRepository) {
    let k = key("CTRANGE", Timeframe::H1);
    let s = bars(&k, t0(), 10, 1.2);
    repo.upsert(&s).await.expect("upsert");
    let r = TimeRange::new(t0() + TimeDelta::hours(2), t0() + TimeDelta::hours(5)).expect("range");
    let got = repo.get_range(&k, r).await.expect("read");
    let times: Vec<_> = got.bars().iter().map(Bar::open_time).collect();
    assert_eq!(
        times,
        vec![t0() + TimeDelta::hours(2), t0() + TimeDelta::hours(3), t0() + TimeDelta::hours(4)],
        "{}: [start, end) range",
        repo.name()
    );
}

async fn upsert_is_idempotent(repo: &dyn OhlcvDataRepository) {
    let k = key("CTIDEM", Timeframe::M5);
    let s = bars(&k, t0(), 50, 1.3);
    repo.upsert(&s).await.expect("first upsert");
    let again = repo.upsert(&s).await.expect("second upsert");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 50), "{}: re-upsert", repo.name());
    assert_eq!(repo.get_range(&k, all()).await.expect("read").len(), 50, "{}", repo.name());
}

async fn newer_write_wins_and_never_two_bars_per_time(repo: &dyn OhlcvDataRepository) {
    let k = key("CTNEWER", Timeframe::H1);
    repo.upsert(&bars(&k, t0(), 10, 1.1)).await.expect("first");
    let newer = bars(&k, t0() + TimeDelta::hours(8), 4, 1.5);
    let w = repo.upsert(&newer).await.expect("second");
    assert_eq!((w.inserted, w.updated), (2, 2), "{}: 2 replaced, 2 appended", repo.name());
    let got = repo.get_range(&k, all()).await.expect("read");
    assert_eq!(got.len(), 12, "{}: one bar per open time", repo.name());
    assert_eq!(got.bars()[8], newer.bars()[0], "{}: the newer bar wins", repo.name());
    assert_eq!(got.bars()[11], newer.bars()[3], "{}", repo.name());
}

async fn delete_range_removes_exactly(repo: &dyn OhlcvDataRepository) {
    let k = key("CTDELETE", Timeframe::H1);
    repo.upsert(&bars(&k, t0(), 10, 1.1)).await.expect("upsert");
    let r = TimeRange::new(t0() + TimeDelta::hours(3), t0() + TimeDelta::hours(6)).expect("range");
    assert_eq!(repo.delete_range(&k, r).await.expect("delete"), 3, "{}: deleted count", repo.name());
    let got = repo.get_range(&k, all()).await.expect("read");
    assert_eq!(got.len(), 7, "{}", repo.name());
    assert!(got.bars().iter().all(|b| !r.contains(b.open_time())), "{}: deleted bars remain", repo.name());
    assert_eq!(repo.delete_range(&k, r).await.expect("delete again"), 0, "{}", repo.name());
}

async fn coverage_and_listing(repo: &dyn OhlcvDataRepository) {
    let k = key("CTCOVER", Timeframe::M15);
    let s = bars(&k, t0(), 30, 1.1);
    repo.upsert(&s).await.expect("upsert");
    let c = repo.coverage(&k).await.expect("coverage").expect("some coverage");
    assert_eq!(c.first, s.first().unwrap().open_time(), "{}: first", repo.name());
    assert_eq!(c.last, s.last().unwrap().open_time(), "{}: last", repo.name());
    assert_eq!(c.rows, 30, "{}: rows", repo.name());
    let listed = repo.list_series().await.expect("list");
    assert!(listed.contains(&k), "{}: list_series misses {k}", repo.name());
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{}: list_series sorted and unique", repo.name());
}

async fn series_are_isolated(repo: &dyn OhlcvDataRepository) {
    let (a, b) = (key("CTISOA", Timeframe::H1), key("CTISOA", Timeframe::H4));
    let c = key("CTISOB", Timeframe::H1);
    repo.upsert(&bars(&a, t0(), 5, 1.1)).await.expect("a");
    repo.upsert(&bars(&b, t0(), 3, 2.1)).await.expect("b");
    repo.upsert(&bars(&c, t0(), 2, 3.1)).await.expect("c");
    assert_eq!(repo.get_range(&a, all()).await.expect("a").len(), 5, "{}", repo.name());
    assert_eq!(repo.get_range(&b, all()).await.expect("b").len(), 3, "{}", repo.name());
    assert_eq!(repo.get_range(&c, all()).await.expect("c").len(), 2, "{}", repo.name());
}

async fn daily_fx_and_equity_series(repo: &dyn OhlcvDataRepository) {
    for sym in ["EURUSD", "CTEQUITY"] {
        let k = key(sym, Timeframe::D1);
        let s = bars(&k, Utc.with_ymd_and_hms(2024, 12, 20, 0, 0, 0).unwrap(), 20, 1.1);
        repo.upsert(&s).await.expect("upsert daily");
        let got = repo.get_range(&k, s.span().expect("span")).await.expect("read daily");
        assert_eq!(got.bars(), s.bars(), "{}: {sym} D1 across a year end", repo.name());
    }
}
