//! The one contract suite of [`OhlcvDataRepository`], run against every tier (the in-memory
//! fake, the memory tier, the Parquet store over every object store, Redis).
//!
//! Every check runs for FX and equity symbols and for M1, H1 and D1 series, across weekends
//! and (for D1) the FX Christmas and New Year closures. The suite can run against shared,
//! persistent stores: it touches only its own series (equity symbols `CT…`, FX "pairs" of metal
//! codes such as `XAUXAG` that no collection holds), clears each of them before use, and never
//! assumes the store holds nothing else. Its bars lie in December 2024 to September 2025: a tier
//! that trims by a retention window must run it with a clock at 2025-09-02 or with the window
//! disabled.

use std::fmt;

use axia_domain::ports::{OhlcvDataRepository, OhlcvDataRepositoryExt, RepositoryError};
use axia_domain::{Bar, MarketCalendar, OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// Runs every check of the contract against `repo`; panics with a message naming the repository,
/// the series and the rule on the first violation.
pub async fn run(repo: &dyn OhlcvDataRepository) {
    for case in CASES {
        unknown_series_reads_empty(repo, case).await;
        upsert_then_read_exactly(repo, case).await;
        ranges_are_half_open(repo, case).await;
        upsert_is_idempotent(repo, case).await;
        newer_write_wins_and_never_two_bars_per_time(repo, case).await;
        fill_adds_absent_bars_and_never_replaces(repo, case).await;
        delete_range_removes_exactly(repo, case).await;
        coverage_and_listing(repo, case).await;
        series_are_isolated(repo, case).await;
        an_empty_upsert_changes_nothing(repo, case).await;
    }
}

/// One kind of series the checks run on.
#[derive(Debug, Clone, Copy)]
struct Case {
    fx: bool,
    timeframe: Timeframe,
}

const CASES: [Case; 6] = [
    Case { fx: true, timeframe: Timeframe::M1 },
    Case { fx: true, timeframe: Timeframe::H1 },
    Case { fx: true, timeframe: Timeframe::D1 },
    Case { fx: false, timeframe: Timeframe::M1 },
    Case { fx: false, timeframe: Timeframe::H1 },
    Case { fx: false, timeframe: Timeframe::D1 },
];

/// The symbols of one check: an FX pair and an equity ticker, distinct from every other check's.
#[derive(Debug, Clone, Copy)]
struct Names {
    fx: &'static str,
    equity: &'static str,
}

impl Case {
    fn key(self, names: Names) -> SeriesKey {
        let symbol = if self.fx { names.fx } else { names.equity };
        let key = SeriesKey::new(Symbol::new(symbol).expect("contract symbols are valid"), self.timeframe);
        let calendar = if self.fx { MarketCalendar::Fx } else { MarketCalendar::Equity };
        assert_eq!(key.default_calendar(), calendar, "contract symbol {symbol} must be on the {calendar:?} calendar");
        key
    }

    /// How many bars a check writes: enough to cross a weekend (and the year end for D1).
    const fn bars(self) -> usize {
        match self.timeframe {
            Timeframe::M1 => 300,
            Timeframe::D1 => 20,
            _ => 30,
        }
    }

    /// Where the bars start: Friday 2025-08-29 20:00 UTC for intraday series (an hour before
    /// the FX week closes, four before the equity day ends), 2024-12-20 for daily series.
    fn start(self) -> DateTime<Utc> {
        if self.timeframe.is_intraday() { utc(2025, 8, 29, 20) } else { utc(2024, 12, 20, 0) }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", if self.fx { "FX" } else { "equity" }, self.timeframe)
    }
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().expect("valid time")
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange::new(start, end).expect("start <= end")
}

/// Far wider than any bar of the suite.
/// A range holding every bar the tests write.
pub fn all_time() -> TimeRange {
    range(utc(2000, 1, 1, 0), utc(2100, 1, 1, 0))
}

/// `n` bars of `key` on consecutive trading opens from `start`, with prices derived from
/// `level` and the index only.
fn bars(key: &SeriesKey, start: DateTime<Utc>, n: usize, level: f64) -> OhlcvSeries {
    let (cal, tf) = (key.default_calendar(), key.timeframe);
    let mut open = cal.next_trading_open(start, tf);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let index = f64::from(u32::try_from(i).expect("few bars"));
        let p = level * (1.0 + 0.0001 * index);
        let bar = Bar::new(open, p, p * 1.0005, p * 0.9995, p * 1.0002, 100 + i as u64).expect("valid bar");
        out.push(bar);
        open = cal.next_trading_open(cal.next_open(open, tf), tf);
    }
    OhlcvSeries::new(key.clone(), out).expect("valid series")
}

/// The case's usual bars of `key` at `level`.
fn case_bars(case: Case, key: &SeriesKey, level: f64) -> OhlcvSeries {
    bars(key, case.start(), case.bars(), level)
}

/// Unwraps a repository result, naming the repository, the operation and the series.
fn ok<T>(repo: &dyn OhlcvDataRepository, what: &str, key: &SeriesKey, result: Result<T, RepositoryError>) -> T {
    result.unwrap_or_else(|e| panic!("{}: {what} of {key} failed: {e}", repo.name()))
}

/// Removes whatever an earlier (possibly interrupted) run left of `key`.
async fn reset(repo: &dyn OhlcvDataRepository, key: &SeriesKey) {
    ok(repo, "delete_range (reset)", key, repo.delete_range(key, all_time()).await);
}

fn times(series: &OhlcvSeries) -> Vec<DateTime<Utc>> {
    series.bars().iter().map(Bar::open_time).collect()
}

const UNKNOWN: Names = Names { fx: "XAUXPD", equity: "CTUNKNOWN" };
const READ: Names = Names { fx: "XAUXAG", equity: "CTREAD" };
const RANGE: Names = Names { fx: "XAGXAU", equity: "CTRANGE" };
const IDEMPOTENT: Names = Names { fx: "XPTXPD", equity: "CTIDEM" };
const NEWER: Names = Names { fx: "XPDXPT", equity: "CTNEWER" };
const DELETE: Names = Names { fx: "XAUXPT", equity: "CTDELETE" };
const COVER: Names = Names { fx: "XPTXAU", equity: "CTCOVER" };
const ISOLATED_A: Names = Names { fx: "XAGXPT", equity: "CTISOA" };
const ISOLATED_B: Names = Names { fx: "XPTXAG", equity: "CTISOB" };
const EMPTY: Names = Names { fx: "XPDXAU", equity: "CTEMPTY" };
const FILL: Names = Names { fx: "XAGXPD", equity: "CTFILL" };

async fn unknown_series_reads_empty(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(UNKNOWN));
    reset(repo, &k).await;
    let s = ok(repo, "get_range", &k, repo.get_range(&k, all_time()).await);
    assert!(s.is_empty(), "{name}: {case}: an unknown series must read empty, got {} bars", s.len());
    assert_eq!(s.key(), &k, "{name}: {case}: the empty series must carry the key asked for");
    assert_eq!(ok(repo, "coverage", &k, repo.coverage(&k).await), None, "{name}: {case}: unknown coverage");
    assert_eq!(
        ok(repo, "delete_range", &k, repo.delete_range(&k, all_time()).await),
        0,
        "{name}: {case}: unknown delete"
    );
    let listed = ok(repo, "list_series", &k, repo.list_series().await);
    assert!(!listed.contains(&k), "{name}: {case}: list_series names a series never written");
}

async fn upsert_then_read_exactly(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(READ));
    reset(repo, &k).await;
    let s = case_bars(case, &k, 1.1);
    let w = ok(repo, "upsert", &k, repo.upsert(&s).await);
    assert_eq!(
        (w.inserted, w.updated, w.unchanged),
        (s.len() as u64, 0, 0),
        "{name}: {case}: a first write inserts every bar"
    );
    let back = ok(repo, "get_range", &k, repo.get_range(&k, all_time()).await);
    assert_eq!(back.key(), &k, "{name}: {case}: read back the wrong series");
    assert_eq!(back.bars(), s.bars(), "{name}: {case}: read back differs from what was written");
    let span = s.span().expect("non-empty");
    assert_eq!(ok(repo, "get_range", &k, repo.get_range(&k, span).await).bars(), s.bars(), "{name}: {case}: span read");
    let all_stored = ok(repo, "get_all", &k, repo.get_all(&k).await);
    assert_eq!(all_stored.bars(), s.bars(), "{name}: {case}: get_all");
    if case.timeframe.is_intraday() {
        let now = span.end();
        let last = ok(repo, "get_last_hours", &k, repo.get_last_hours(&k, 1, now).await);
        let cutoff = now - TimeDelta::hours(1);
        let want: Vec<Bar> = s.bars().iter().filter(|b| b.open_time() >= cutoff).copied().collect();
        assert!(!want.is_empty(), "suite bug: no bar in the last hour");
        assert_eq!(last.bars(), want.as_slice(), "{name}: {case}: the last hour");
    }
}

async fn ranges_are_half_open(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(RANGE));
    reset(repo, &k).await;
    let s = case_bars(case, &k, 1.2);
    ok(repo, "upsert", &k, repo.upsert(&s).await);
    let t = times(&s);
    let second = TimeDelta::seconds(1);
    let expectations = [
        (range(t[2], t[5]), &s.bars()[2..5], "[start, end): start included, end excluded"),
        (range(t[2] + second, t[5] + second), &s.bars()[3..6], "a bar opening before the start is excluded"),
        (range(t[2], t[2]), &s.bars()[..0], "an empty range reads nothing"),
        (range(t[0] - TimeDelta::days(30), t[0]), &s.bars()[..0], "nothing before the first bar"),
        (range(t[t.len() - 1], t[t.len() - 1] + second), &s.bars()[t.len() - 1..], "the last bar alone"),
    ];
    for (r, want, rule) in expectations {
        let got = ok(repo, "get_range", &k, repo.get_range(&k, r).await);
        assert_eq!(got.bars(), want, "{name}: {case}: {rule} ({r})");
    }
}

async fn upsert_is_idempotent(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(IDEMPOTENT));
    reset(repo, &k).await;
    let s = case_bars(case, &k, 1.3);
    ok(repo, "upsert", &k, repo.upsert(&s).await);
    let again = ok(repo, "upsert", &k, repo.upsert(&s).await);
    assert_eq!(
        (again.inserted, again.updated, again.unchanged),
        (0, 0, s.len() as u64),
        "{name}: {case}: writing the same bars again changes nothing"
    );
    assert!(again.is_noop(), "{name}: {case}: the second write is a no-op");
    let back = ok(repo, "get_range", &k, repo.get_range(&k, all_time()).await);
    assert_eq!(back.bars(), s.bars(), "{name}: {case}: contents after the second write");
}

async fn newer_write_wins_and_never_two_bars_per_time(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(NEWER));
    reset(repo, &k).await;
    let old = case_bars(case, &k, 1.1);
    let n = old.len();
    ok(repo, "upsert", &k, repo.upsert(&old).await);
    // The newer write: the bar at n-4 unchanged, n-3..n replaced, two new bars after them.
    let replacement = bars(&k, case.start(), n + 2, 1.5);
    let mut newer_bars = vec![old.bars()[n - 4]];
    newer_bars.extend_from_slice(&replacement.bars()[n - 3..]);
    let newer = OhlcvSeries::new(k.clone(), newer_bars).expect("valid series");
    let w = ok(repo, "upsert", &k, repo.upsert(&newer).await);
    assert_eq!(
        (w.inserted, w.updated, w.unchanged),
        (2, 3, 1),
        "{name}: {case}: overlapping write: 2 new, 3 replaced, 1 identical"
    );
    let got = ok(repo, "get_range", &k, repo.get_range(&k, all_time()).await);
    let mut want = old.bars()[..n - 3].to_vec();
    want.extend_from_slice(&replacement.bars()[n - 3..]);
    assert_eq!(got.len(), n + 2, "{name}: {case}: one bar per open time");
    assert!(got.bars().windows(2).all(|w| w[0].open_time() < w[1].open_time()), "{name}: {case}: times unique");
    assert_eq!(got.bars(), want.as_slice(), "{name}: {case}: the newer bars win, the others stay");
}

async fn fill_adds_absent_bars_and_never_replaces(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(FILL));
    reset(repo, &k).await;
    let old = case_bars(case, &k, 1.1);
    let n = old.len();
    ok(repo, "upsert", &k, repo.upsert(&old).await);
    // A write-back overlapping the stored bars: 1 identical, 3 different, 2 new after them.
    let replacement = bars(&k, case.start(), n + 2, 1.5);
    let mut back = vec![old.bars()[n - 4]];
    back.extend_from_slice(&replacement.bars()[n - 3..]);
    let back = OhlcvSeries::new(k.clone(), back).expect("valid series");
    let w = ok(repo, "fill", &k, repo.fill(&back).await);
    assert_eq!(
        (w.inserted, w.updated, w.unchanged),
        (2, 0, 4),
        "{name}: {case}: fill: 2 absent bars added, the 4 stored ones kept"
    );
    let got = ok(repo, "get_range", &k, repo.get_range(&k, all_time()).await);
    let mut want = old.bars().to_vec();
    want.extend_from_slice(&replacement.bars()[n..]);
    assert_eq!(got.bars(), want.as_slice(), "{name}: {case}: fill never replaces a stored bar");
    let again = ok(repo, "fill", &k, repo.fill(&back).await);
    assert!(again.is_noop(), "{name}: {case}: a repeated fill changes nothing: {again:?}");
}

async fn delete_range_removes_exactly(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(DELETE));
    reset(repo, &k).await;
    let s = case_bars(case, &k, 1.1);
    ok(repo, "upsert", &k, repo.upsert(&s).await);
    let t = times(&s);
    let r = range(t[3], t[6]);
    assert_eq!(ok(repo, "delete_range", &k, repo.delete_range(&k, r).await), 3, "{name}: {case}: deleted count");
    let got = ok(repo, "get_range", &k, repo.get_range(&k, all_time()).await);
    let want: Vec<Bar> = s.bars().iter().filter(|b| !r.contains(b.open_time())).copied().collect();
    assert_eq!(got.bars(), want.as_slice(), "{name}: {case}: exactly the bars in [start, end) go");
    assert_eq!(ok(repo, "delete_range", &k, repo.delete_range(&k, r).await), 0, "{name}: {case}: deleting again");
    let before = range(t[0] - TimeDelta::days(30), t[0]);
    assert_eq!(ok(repo, "delete_range", &k, repo.delete_range(&k, before).await), 0, "{name}: {case}: empty part");
    let rest = ok(repo, "delete_range", &k, repo.delete_range(&k, all_time()).await);
    assert_eq!(rest, want.len() as u64, "{name}: {case}: deleting the rest");
    assert_eq!(ok(repo, "coverage", &k, repo.coverage(&k).await), None, "{name}: {case}: coverage after deleting all");
    assert!(
        ok(repo, "get_range", &k, repo.get_range(&k, all_time()).await).is_empty(),
        "{name}: {case}: read after all"
    );
    let listed = ok(repo, "list_series", &k, repo.list_series().await);
    assert!(!listed.contains(&k), "{name}: {case}: a series without bars is not listed");
}

async fn coverage_and_listing(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(COVER));
    reset(repo, &k).await;
    let s = case_bars(case, &k, 1.1);
    ok(repo, "upsert", &k, repo.upsert(&s).await);
    let c = ok(repo, "coverage", &k, repo.coverage(&k).await)
        .unwrap_or_else(|| panic!("{name}: {case}: no coverage after a write"));
    assert_eq!(c.first, s.bars()[0].open_time(), "{name}: {case}: coverage first");
    assert_eq!(c.last, s.bars()[s.len() - 1].open_time(), "{name}: {case}: coverage last");
    assert_eq!(c.rows, s.len() as u64, "{name}: {case}: coverage rows");
    let listed = ok(repo, "list_series", &k, repo.list_series().await);
    assert!(listed.contains(&k), "{name}: {case}: list_series misses {k}");
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{name}: {case}: list_series sorted, without duplicates");
}

async fn series_are_isolated(repo: &dyn OhlcvDataRepository, case: Case) {
    let name = repo.name();
    let other_tf = if case.timeframe == Timeframe::H1 { Timeframe::D1 } else { Timeframe::H1 };
    let a = case.key(ISOLATED_A);
    let b = SeriesKey::new(a.symbol.clone(), other_tf);
    let c = case.key(ISOLATED_B);
    let other = Case { timeframe: other_tf, ..case };
    let (sa, sb, sc) = (case_bars(case, &a, 1.1), case_bars(other, &b, 2.1), case_bars(case, &c, 3.1));
    let written = [(a.clone(), sa), (b, sb), (c, sc)];
    for (k, s) in &written {
        reset(repo, k).await;
        ok(repo, "upsert", k, repo.upsert(s).await);
    }
    for (k, s) in &written {
        let got = ok(repo, "get_range", k, repo.get_range(k, all_time()).await);
        assert_eq!(got.bars(), s.bars(), "{name}: {case}: {k} mixed with another series");
    }
    ok(repo, "delete_range", &a, repo.delete_range(&a, all_time()).await);
    for (k, s) in &written[1..] {
        let got = ok(repo, "get_range", k, repo.get_range(k, all_time()).await);
        assert_eq!(got.bars(), s.bars(), "{name}: {case}: deleting {a} touched {k}");
        let c = ok(repo, "coverage", k, repo.coverage(k).await);
        assert_eq!(c.map(|c| c.rows), Some(s.len() as u64), "{name}: {case}: coverage of {k}");
    }
}

async fn an_empty_upsert_changes_nothing(repo: &dyn OhlcvDataRepository, case: Case) {
    let (name, k) = (repo.name(), case.key(EMPTY));
    reset(repo, &k).await;
    let w = ok(repo, "upsert", &k, repo.upsert(&OhlcvSeries::empty(k.clone())).await);
    assert_eq!((w.inserted, w.updated, w.unchanged), (0, 0, 0), "{name}: {case}: empty write summary");
    assert_eq!(
        ok(repo, "coverage", &k, repo.coverage(&k).await),
        None,
        "{name}: {case}: coverage after an empty write"
    );
    let listed = ok(repo, "list_series", &k, repo.list_series().await);
    assert!(!listed.contains(&k), "{name}: {case}: an empty write lists the series");
}
