//! The L1 memory tier in front of the provider: which part of each series it may answer, for
//! how long (per use case), and which series are read often enough to stay longer and be
//! refreshed ahead of their readers (SPEC §9).
//!
//! The bars live in the memory tier (any `OhlcvDataRepository`, moka in production); this
//! module keeps, per series, the range known to be complete in it and when its newest part was
//! last refreshed from the slower tiers. Closed bars do not change, so a stale entry is not
//! thrown away: only its tail, from its newest bar on (sources revise the latest bar), is asked
//! again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axia_domain::{SeriesKey, TimeRange};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::coverage;
use super::route::{PerUseCase, UseCase};

/// L1 freshness and retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Config {
    /// How long the newest part of a cached series may be served before it is asked again,
    /// per use case (trading wants the freshest bars; analysis tolerates minutes).
    pub ttl: PerUseCase<Duration>,
    /// A series not read for this long leaves L1 (its next read reloads it whole).
    pub idle: Duration,
    /// Reads (while in L1) that make a series "hot".
    pub hot_reads: u32,
    /// Hot series stay `idle × hot_factor` without reads, and are refreshed ahead of their
    /// readers by [`super::OhlcvDataProvider::prefetch_hot`].
    pub hot_factor: u32,
    /// Most series tracked; the least recently read are forgotten beyond it.
    pub max_series: usize,
}

impl Default for L1Config {
    fn default() -> Self {
        Self {
            ttl: PerUseCase {
                trading: Duration::from_secs(1),
                chart: Duration::from_secs(30),
                analysis: Duration::from_secs(300),
            },
            idle: Duration::from_secs(600),
            hot_reads: 10,
            hot_factor: 6,
            max_series: 10_000,
        }
    }
}

/// What L1 knows about one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The range whose trading bars the memory tier holds completely (as of `refreshed`).
    covered: TimeRange,
    /// The newest bar's open time (refreshed again once stale), if any.
    newest: Option<DateTime<Utc>>,
    /// When the tail of `covered` was last read from the slower tiers.
    refreshed: DateTime<Utc>,
    /// False when the slower tiers left holes in `covered`: then the whole entry is asked
    /// again once stale, not only its tail.
    complete: bool,
    last_read: DateTime<Utc>,
    reads: u32,
}

/// How much of a request L1 answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Nothing: ask the tiers for everything.
    Miss,
    /// `serve` from memory, the `missing` rest from the tiers.
    Serve { serve: TimeRange, missing: Vec<TimeRange> },
}

/// The L1 bookkeeping.
#[derive(Debug)]
pub(crate) struct L1Index {
    config: L1Config,
    entries: Mutex<HashMap<SeriesKey, Entry>>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl L1Index {
    pub(crate) fn new(config: L1Config) -> Self {
        Self { config, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SeriesKey, Entry>> {
        // The map is only ever replaced entry by entry: a panic elsewhere leaves it consistent.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_hot(&self, e: &Entry) -> bool {
        e.reads >= self.config.hot_reads
    }

    fn idle_limit(&self, e: &Entry) -> TimeDelta {
        let idle = delta(self.config.idle);
        if self.is_hot(e) { idle * i32::try_from(self.config.hot_factor.max(1)).unwrap_or(i32::MAX) } else { idle }
    }

    /// What L1 may answer of `want` for `use_case` at `now`; counts the read.
    pub(crate) fn lookup(&self, key: &SeriesKey, want: TimeRange, use_case: UseCase, now: DateTime<Utc>) -> Lookup {
        let mut map = self.lock();
        let Some(e) = map.get_mut(key) else { return Lookup::Miss };
        if now - e.last_read > self.idle_limit(e) {
            map.remove(key);
            return Lookup::Miss;
        }
        e.last_read = now;
        e.reads = e.reads.saturating_add(1);
        let fresh = now - e.refreshed <= delta(self.config.ttl.get(use_case));
        if !fresh && !e.complete {
            return Lookup::Miss;
        }
        // Stale: the newest bar may have been revised and newer ones added.
        let usable_end = if fresh { e.covered.end() } else { e.newest.unwrap_or(e.covered.start()) };
        let Some(serve) = TimeRange::new(e.covered.start(), usable_end).ok().and_then(|u| u.intersect(&want)) else {
            return Lookup::Miss;
        };
        Lookup::Serve { serve, missing: coverage::subtract(want, serve) }
    }

    /// Records that the memory tier now holds `want` (complete or not), read at `now`;
    /// `tail_refreshed` when the newest part was just read from the slower tiers.
    pub(crate) fn record(
        &self,
        key: &SeriesKey,
        want: TimeRange,
        newest: Option<DateTime<Utc>>,
        complete: bool,
        tail_refreshed: bool,
        now: DateTime<Utc>,
    ) {
        let mut map = self.lock();
        if map.len() >= self.config.max_series && !map.contains_key(key) {
            let oldest = map.iter().min_by_key(|(_, e)| e.last_read).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        let fresh = Entry { covered: want, newest, refreshed: now, complete, last_read: now, reads: 1 };
        let entry = map.entry(key.clone()).or_insert(fresh);
        if *entry == fresh {
            return;
        }
        let joined = entry.covered.start() <= want.end() && want.start() <= entry.covered.end();
        if joined {
            let start = entry.covered.start().min(want.start());
            let end = entry.covered.end().max(want.end());
            entry.covered = TimeRange::new(start, end).unwrap_or(want);
            entry.complete &= complete;
        } else {
            // Disjoint: keep the newer range only (one range per series keeps lookups simple).
            if want.end() < entry.covered.end() {
                return;
            }
            entry.covered = want;
            entry.complete = complete;
        }
        entry.newest = entry.newest.max(newest);
        if tail_refreshed {
            entry.refreshed = now;
        }
    }

    /// Forgets `key` (its bars could not be read back from memory: evicted).
    pub(crate) fn forget(&self, key: &SeriesKey) {
        self.lock().remove(key);
    }

    /// Hot series whose tail is older than `age`, with the range they cover.
    pub(crate) fn hot_and_stale(&self, age: Duration, now: DateTime<Utc>) -> Vec<(SeriesKey, TimeRange)> {
        let age = delta(age);
        let mut out: Vec<_> = self
            .lock()
            .iter()
            .filter(|(_, e)| self.is_hot(e) && now - e.refreshed >= age && now - e.last_read <= self.idle_limit(e))
            .map(|(k, e)| (k.clone(), e.covered))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Series tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{Symbol, Timeframe};
    use chrono::TimeZone;

    use super::*;

    fn key() -> SeriesKey {
        SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1)
    }

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 2, h, m, 0).unwrap()
    }

    fn r(a: DateTime<Utc>, b: DateTime<Utc>) -> TimeRange {
        TimeRange::new(a, b).unwrap()
    }

    #[test]
    fn a_fresh_entry_serves_its_range_and_leaves_the_rest_missing() {
        let l1 = L1Index::new(L1Config::default());
        assert_eq!(l1.lookup(&key(), r(t(10, 0), t(11, 0)), UseCase::Chart, t(11, 0)), Lookup::Miss);
        l1.record(&key(), r(t(10, 0), t(11, 0)), Some(t(10, 59)), true, true, t(11, 0));
        assert_eq!(
            l1.lookup(&key(), r(t(9, 0), t(11, 0)), UseCase::Chart, t(11, 0)),
            Lookup::Serve { serve: r(t(10, 0), t(11, 0)), missing: vec![r(t(9, 0), t(10, 0))] }
        );
    }

    #[test]
    fn a_stale_entry_serves_up_to_its_newest_bar_per_use_case() {
        let l1 = L1Index::new(L1Config::default());
        l1.record(&key(), r(t(10, 0), t(11, 0)), Some(t(10, 59)), true, true, t(11, 0));
        let now = t(11, 0) + TimeDelta::seconds(5); // stale for trading (1 s), fresh for chart (30 s)
        assert_eq!(
            l1.lookup(&key(), r(t(10, 0), t(11, 1)), UseCase::Trading, now),
            Lookup::Serve { serve: r(t(10, 0), t(10, 59)), missing: vec![r(t(10, 59), t(11, 1))] }
        );
        assert_eq!(
            l1.lookup(&key(), r(t(10, 0), t(11, 0)), UseCase::Chart, now),
            Lookup::Serve { serve: r(t(10, 0), t(11, 0)), missing: vec![] }
        );
    }

    #[test]
    fn an_incomplete_entry_is_asked_again_whole_once_stale() {
        let l1 = L1Index::new(L1Config::default());
        l1.record(&key(), r(t(10, 0), t(11, 0)), Some(t(10, 59)), false, true, t(11, 0));
        assert!(matches!(l1.lookup(&key(), r(t(10, 0), t(11, 0)), UseCase::Chart, t(11, 0)), Lookup::Serve { .. }));
        assert_eq!(l1.lookup(&key(), r(t(10, 0), t(11, 0)), UseCase::Chart, t(11, 1)), Lookup::Miss);
    }

    #[test]
    fn series_read_often_stay_longer() {
        let config = L1Config { hot_reads: 3, ..L1Config::default() };
        let l1 = L1Index::new(config);
        let (cold, hot) = (key(), SeriesKey::new(Symbol::new("USDJPY").unwrap(), Timeframe::M1));
        for k in [&cold, &hot] {
            l1.record(k, r(t(10, 0), t(11, 0)), Some(t(10, 59)), true, true, t(11, 0));
        }
        for _ in 0..3 {
            assert!(matches!(
                l1.lookup(&hot, r(t(10, 0), t(11, 0)), UseCase::Analysis, t(11, 0)),
                Lookup::Serve { .. }
            ));
        }
        assert_eq!(l1.hot_and_stale(Duration::ZERO, t(11, 0)), vec![(hot.clone(), r(t(10, 0), t(11, 0)))]);
        // 20 minutes later: past the idle limit (10 min) of the cold series, not of the hot one (60 min).
        let later = t(11, 20);
        assert_eq!(l1.lookup(&cold, r(t(10, 0), t(11, 0)), UseCase::Analysis, later), Lookup::Miss);
        assert!(matches!(l1.lookup(&hot, r(t(10, 0), t(11, 0)), UseCase::Analysis, later), Lookup::Serve { .. }));
        assert_eq!(l1.len(), 1);
    }

    #[test]
    fn the_number_of_series_is_bounded() {
        let l1 = L1Index::new(L1Config { max_series: 2, ..L1Config::default() });
        for (i, sym) in ["EURUSD", "USDJPY", "GBPUSD"].iter().enumerate() {
            let k = SeriesKey::new(Symbol::new(sym).unwrap(), Timeframe::M1);
            l1.record(&k, r(t(10, 0), t(11, 0)), None, true, true, t(11, u32::try_from(i).unwrap()));
        }
        assert_eq!(l1.len(), 2);
        assert_eq!(l1.lookup(&key(), r(t(10, 0), t(11, 0)), UseCase::Chart, t(11, 3)), Lookup::Miss);
    }
}
