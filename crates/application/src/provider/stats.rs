//! Cumulative provider statistics: per-tier hits, misses, errors and latency histograms, kept
//! with atomics (cheap on the L1 hit path) and read as a mergeable, serialisable snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::route::TierKind;

/// Upper bounds of the latency buckets, in microseconds (the last bucket is unbounded).
pub const LATENCY_BUCKETS_US: [u64; 22] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
    1_000_000, 2_000_000, 5_000_000, 10_000_000,
];

const BUCKETS: usize = LATENCY_BUCKETS_US.len() + 1;

/// A latency histogram with fixed buckets; mergeable across runs and processes.
#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

impl Histogram {
    fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKETS_US.partition_point(|&b| b < us);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot {
            counts: self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// Counters of one tier.
#[derive(Debug, Default)]
struct TierCounters {
    requests: AtomicU64,
    hits: AtomicU64,
    partial: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    rows: AtomicU64,
    written_back: AtomicU64,
    latency: Histogram,
}

/// How one request to a tier ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierResult {
    /// Every requested bar.
    Hit,
    /// Some bars; the rest was asked of slower tiers.
    Partial,
    /// No bar.
    Miss,
    /// Failed or timed out.
    Error,
}

/// The live counters of one provider.
#[derive(Debug, Default)]
pub struct ProviderStats {
    calls: AtomicU64,
    complete: AtomicU64,
    fallbacks: AtomicU64,
    failures: AtomicU64,
    latency: Histogram,
    tiers: [TierCounters; TierKind::ALL.len()],
}

impl ProviderStats {
    pub(crate) fn tier(&self, kind: TierKind, result: TierResult, rows: usize, latency: Duration) {
        let c = &self.tiers[kind.index()];
        c.requests.fetch_add(1, Ordering::Relaxed);
        let counter = match result {
            TierResult::Hit => &c.hits,
            TierResult::Partial => &c.partial,
            TierResult::Miss => &c.misses,
            TierResult::Error => &c.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        c.rows.fetch_add(rows as u64, Ordering::Relaxed);
        c.latency.record(latency);
    }

    pub(crate) fn written_back(&self, kind: TierKind, rows: u64) {
        self.tiers[kind.index()].written_back.fetch_add(rows, Ordering::Relaxed);
    }

    pub(crate) fn call(&self, complete: bool, fallbacks: u32, failed: bool, latency: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.complete.fetch_add(u64::from(complete), Ordering::Relaxed);
        self.fallbacks.fetch_add(u64::from(fallbacks), Ordering::Relaxed);
        self.failures.fetch_add(u64::from(failed), Ordering::Relaxed);
        self.latency.record(latency);
    }

    /// The counters now.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            calls: load(&self.calls),
            complete: load(&self.complete),
            fallbacks: load(&self.fallbacks),
            failures: load(&self.failures),
            latency: self.latency.snapshot(),
            tiers: TierKind::ALL
                .iter()
                .map(|&kind| {
                    let c = &self.tiers[kind.index()];
                    TierSnapshot {
                        tier: kind,
                        requests: load(&c.requests),
                        hits: load(&c.hits),
                        partial: load(&c.partial),
                        misses: load(&c.misses),
                        errors: load(&c.errors),
                        rows: load(&c.rows),
                        written_back: load(&c.written_back),
                        latency: c.latency.snapshot(),
                    }
                })
                .filter(|t| t.requests > 0 || t.written_back > 0)
                .collect(),
        }
    }
}

/// Bucket counts of a latency histogram ([`LATENCY_BUCKETS_US`] plus an unbounded last bucket).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LatencySnapshot {
    /// Observations per bucket.
    pub counts: Vec<u64>,
    /// Sum of all observations, µs.
    pub sum_us: u64,
}

impl LatencySnapshot {
    /// Observations.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound of the bucket holding the `q` quantile (0 < q ≤ 1), µs; `None` without
    /// observations or when it lies in the unbounded bucket.
    #[must_use]
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return LATENCY_BUCKETS_US.get(i).copied();
            }
        }
        None
    }

    /// Adds `other`'s observations.
    pub fn absorb(&mut self, other: &Self) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum_us += other.sum_us;
    }

    fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count(),
            p50_us: self.quantile_us(0.5),
            p95_us: self.quantile_us(0.95),
            p99_us: self.quantile_us(0.99),
            mean_us: self.sum_us.checked_div(self.count()),
        }
    }
}

/// Percentiles of a histogram (bucket upper bounds, so "at most").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    /// Observations.
    pub count: u64,
    /// Median, µs (bucket bound).
    pub p50_us: Option<u64>,
    /// 95th percentile, µs (bucket bound).
    pub p95_us: Option<u64>,
    /// 99th percentile, µs (bucket bound).
    pub p99_us: Option<u64>,
    /// Mean, µs.
    pub mean_us: Option<u64>,
}

/// The counters of one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierSnapshot {
    /// The tier.
    pub tier: TierKind,
    /// Requests sent to it.
    pub requests: u64,
    /// Requests it answered completely.
    pub hits: u64,
    /// Requests it answered in part.
    pub partial: u64,
    /// Requests it had nothing for.
    pub misses: u64,
    /// Requests that failed or timed out.
    pub errors: u64,
    /// Bars it returned.
    pub rows: u64,
    /// Bars written back into it from slower tiers.
    pub written_back: u64,
    /// Latency of its requests.
    pub latency: LatencySnapshot,
}

impl TierSnapshot {
    /// Hits (complete or partial) over requests, when any were made.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn hit_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| (self.hits + self.partial) as f64 / self.requests as f64)
    }
}

/// Cumulative statistics of the provider, mergeable across processes (`axia cache stats`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// `get_data` calls.
    pub calls: u64,
    /// Calls whose range was fully covered.
    pub complete: u64,
    /// Times a tier could not (fully) answer and the next one was asked.
    pub fallbacks: u64,
    /// Calls that failed (no tier could answer).
    pub failures: u64,
    /// Latency of whole calls.
    pub latency: LatencySnapshot,
    /// Per tier, only tiers that were used.
    pub tiers: Vec<TierSnapshot>,
}

impl StatsSnapshot {
    /// Adds `other` (e.g. one run's counters into the persisted totals).
    pub fn absorb(&mut self, other: &Self) {
        self.calls += other.calls;
        self.complete += other.complete;
        self.fallbacks += other.fallbacks;
        self.failures += other.failures;
        self.latency.absorb(&other.latency);
        for t in &other.tiers {
            match self.tiers.iter_mut().find(|s| s.tier == t.tier) {
                Some(s) => {
                    s.requests += t.requests;
                    s.hits += t.hits;
                    s.partial += t.partial;
                    s.misses += t.misses;
                    s.errors += t.errors;
                    s.rows += t.rows;
                    s.written_back += t.written_back;
                    s.latency.absorb(&t.latency);
                }
                None => self.tiers.push(t.clone()),
            }
        }
        self.tiers.sort_by_key(|t| t.tier);
    }

    /// The L1 hit rate: calls answered by the memory tier alone over all calls.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn l1_hit_rate(&self) -> Option<f64> {
        let memory = self.tiers.iter().find(|t| t.tier == TierKind::Memory)?;
        (self.calls > 0).then(|| memory.hits as f64 / self.calls as f64)
    }

    /// A readable summary (rates and percentiles) for `axia cache stats` and `axia fetch`.
    #[must_use]
    pub fn summary(&self) -> serde_json::Value {
        let tiers: Vec<_> = self
            .tiers
            .iter()
            .map(|t| {
                serde_json::json!({
                    "tier": t.tier,
                    "requests": t.requests,
                    "hits": t.hits,
                    "partial": t.partial,
                    "misses": t.misses,
                    "errors": t.errors,
                    "hit_rate": t.hit_rate(),
                    "rows": t.rows,
                    "written_back": t.written_back,
                    "latency": t.latency.summary(),
                })
            })
            .collect();
        serde_json::json!({
            "calls": self.calls,
            "complete": self.complete,
            "fallbacks": self.fallbacks,
            "failures": self.failures,
            "l1_hit_rate": self.l1_hit_rate(),
            "latency": self.latency.summary(),
            "tiers": tiers,
        })
    }

    /// The counters in the Prometheus text exposition format.
    #[must_use]
    pub fn prometheus(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "# HELP axia_provider_calls_total OHLCV provider get_data calls.");
        let _ = writeln!(out, "# TYPE axia_provider_calls_total counter");
        let _ = writeln!(out, "axia_provider_calls_total {}", self.calls);
        let _ = writeln!(out, "# HELP axia_provider_fallbacks_total Times the next tier was asked.");
        let _ = writeln!(out, "# TYPE axia_provider_fallbacks_total counter");
        let _ = writeln!(out, "axia_provider_fallbacks_total {}", self.fallbacks);
        let _ = writeln!(out, "# HELP axia_provider_failures_total Calls no tier could answer.");
        let _ = writeln!(out, "# TYPE axia_provider_failures_total counter");
        let _ = writeln!(out, "axia_provider_failures_total {}", self.failures);
        let _ = writeln!(out, "# HELP axia_provider_tier_requests_total Requests per tier and result.");
        let _ = writeln!(out, "# TYPE axia_provider_tier_requests_total counter");
        for t in &self.tiers {
            for (result, n) in [("hit", t.hits), ("partial", t.partial), ("miss", t.misses), ("error", t.errors)] {
                let _ =
                    writeln!(out, "axia_provider_tier_requests_total{{tier=\"{}\",result=\"{result}\"}} {n}", t.tier);
            }
        }
        let _ = writeln!(out, "# HELP axia_provider_tier_written_back_total Bars written back into a tier.");
        let _ = writeln!(out, "# TYPE axia_provider_tier_written_back_total counter");
        for t in &self.tiers {
            let _ = writeln!(out, "axia_provider_tier_written_back_total{{tier=\"{}\"}} {}", t.tier, t.written_back);
        }
        let _ = writeln!(out, "# HELP axia_provider_tier_latency_seconds Latency of tier requests.");
        let _ = writeln!(out, "# TYPE axia_provider_tier_latency_seconds histogram");
        for t in &self.tiers {
            write_histogram(
                &mut out,
                "axia_provider_tier_latency_seconds",
                &format!("tier=\"{}\"", t.tier),
                &t.latency,
            );
        }
        let _ = writeln!(out, "# HELP axia_provider_latency_seconds Latency of get_data calls.");
        let _ = writeln!(out, "# TYPE axia_provider_latency_seconds histogram");
        write_histogram(&mut out, "axia_provider_latency_seconds", "", &self.latency);
        out
    }
}

#[allow(clippy::cast_precision_loss)] // seconds for display
fn write_histogram(out: &mut String, name: &str, labels: &str, h: &LatencySnapshot) {
    use std::fmt::Write;
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (i, c) in h.counts.iter().enumerate() {
        cumulative += c;
        let le = LATENCY_BUCKETS_US.get(i).map_or_else(|| "+Inf".to_owned(), |us| format!("{}", *us as f64 / 1e6));
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
    }
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braces} {}", h.sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count{braces} {cumulative}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_bucket_bounds() {
        let stats = ProviderStats::default();
        for _ in 0..90 {
            stats.tier(TierKind::Memory, TierResult::Hit, 10, Duration::from_micros(3));
        }
        for _ in 0..10 {
            stats.tier(TierKind::Memory, TierResult::Hit, 10, Duration::from_millis(3));
        }
        let snap = stats.snapshot();
        let mem = &snap.tiers[0].latency;
        assert_eq!(mem.count(), 100);
        assert_eq!(mem.quantile_us(0.5), Some(5));
        assert_eq!(mem.quantile_us(0.9), Some(5));
        assert_eq!(mem.quantile_us(0.95), Some(5_000));
    }

    #[test]
    fn snapshots_merge_and_list_only_used_tiers() {
        let a = ProviderStats::default();
        a.tier(TierKind::Redis, TierResult::Hit, 5, Duration::from_micros(300));
        a.call(true, 0, false, Duration::from_micros(400));
        let b = ProviderStats::default();
        b.tier(TierKind::Redis, TierResult::Error, 0, Duration::from_millis(20));
        b.tier(TierKind::History, TierResult::Hit, 7, Duration::from_millis(5));
        b.call(true, 1, false, Duration::from_millis(30));
        let mut total = a.snapshot();
        assert_eq!(total.tiers.len(), 1);
        total.absorb(&b.snapshot());
        assert_eq!((total.calls, total.fallbacks), (2, 1));
        let redis = total.tiers.iter().find(|t| t.tier == TierKind::Redis).unwrap();
        assert_eq!((redis.requests, redis.hits, redis.errors, redis.rows), (2, 1, 1, 5));
        assert_eq!(redis.hit_rate(), Some(0.5));
        assert_eq!(total.tiers.iter().map(|t| t.tier).collect::<Vec<_>>(), vec![TierKind::Redis, TierKind::History]);
    }

    #[test]
    fn prometheus_text_has_cumulative_buckets() {
        let s = ProviderStats::default();
        s.tier(TierKind::Redis, TierResult::Hit, 1, Duration::from_micros(150));
        s.call(true, 0, false, Duration::from_micros(150));
        let text = s.snapshot().prometheus();
        assert!(text.contains("axia_provider_tier_requests_total{tier=\"redis\",result=\"hit\"} 1"), "{text}");
        assert!(text.contains("axia_provider_tier_latency_seconds_bucket{tier=\"redis\",le=\"0.0001\"} 0"), "{text}");
        assert!(text.contains("axia_provider_tier_latency_seconds_bucket{tier=\"redis\",le=\"0.0002\"} 1"), "{text}");
        assert!(text.contains("axia_provider_latency_seconds_count 1"), "{text}");
    }
}
