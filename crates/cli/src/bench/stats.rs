//! Timing samples and the figures a scenario reports (`median_us`, `p99_us`, `ops_per_s`,
//! `bytes`).

use std::time::Duration;

use serde::Serialize;

use crate::progress;

/// How many times a scenario runs its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Untimed runs first (connections, caches, allocator, CPU frequency).
    pub warmup: u32,
    /// Timed runs.
    pub iterations: u32,
    /// Operations in one timed run (more than one when a single operation is too short to time
    /// alone, as an L1 hit).
    pub ops_per_run: u32,
}

impl Plan {
    /// `iterations` timed runs of one operation after a tenth as many warm-up runs (at least 3).
    #[must_use]
    pub fn new(iterations: u32) -> Self {
        Self { warmup: (iterations / 10).max(3), iterations, ops_per_run: 1 }
    }

    /// The same plan with `ops` operations in every run.
    #[must_use]
    pub const fn batched(mut self, ops: u32) -> Self {
        self.ops_per_run = ops;
        self
    }
}

/// Runs `once` by `plan` (its argument counts runs from 0, warm-up included) and collects the
/// durations it returns: each call times its own operation, so untimed set-up can precede it.
///
/// # Errors
/// The first error of `once`.
pub async fn sample(
    name: &str,
    plan: Plan,
    mut once: impl AsyncFnMut(u32) -> anyhow::Result<Duration>,
) -> anyhow::Result<Samples> {
    let bar = progress::bar(u64::from(plan.warmup + plan.iterations), name);
    let mut runs = Vec::with_capacity(plan.iterations as usize);
    for i in 0..plan.warmup + plan.iterations {
        let took = once(i).await?;
        if i >= plan.warmup {
            runs.push(took);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Samples { runs, ops_per_run: plan.ops_per_run })
}

/// The timed runs of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Samples {
    runs: Vec<Duration>,
    ops_per_run: u32,
}

impl Samples {
    /// Samples of `runs` of `ops_per_run` operations each.
    #[cfg(test)]
    #[must_use]
    pub const fn new(runs: Vec<Duration>, ops_per_run: u32) -> Self {
        Self { runs, ops_per_run }
    }

    /// Median and p99 of one operation and the sequential rate. With batched runs the
    /// percentiles are of batch means, which hide single outliers, so `p99_us` is left out.
    #[must_use]
    pub fn figures(&self) -> Figures {
        let ops = f64::from(self.ops_per_run.max(1));
        let mut per_op: Vec<f64> = self.runs.iter().map(|d| d.as_secs_f64() * 1e6 / ops).collect();
        per_op.sort_by(f64::total_cmp);
        let total_s: f64 = self.runs.iter().map(Duration::as_secs_f64).sum();
        #[allow(clippy::cast_precision_loss)] // run counts are far below 2^52
        let total_ops = self.runs.len() as f64 * ops;
        Figures {
            median_us: median(&per_op).map(|v| round(v, 3)),
            p99_us: if self.ops_per_run > 1 { None } else { percentile(&per_op, 0.99).map(|v| round(v, 3)) },
            ops_per_s: (total_s > 0.0).then(|| round(total_ops / total_s, 1)),
            bytes: None,
        }
    }
}

/// What one scenario reports; absent fields do not apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Figures {
    /// Median time of one operation, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_us: Option<f64>,
    /// 99th percentile (nearest rank) of one operation, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<f64>,
    /// Operations per second, one after another (total operations / total timed time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_per_s: Option<f64>,
    /// A size, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// The median of sorted values (mean of the middle two for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// The nearest-rank percentile `p` (0..=1) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn round(v: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn us(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&u| Duration::from_micros(u)).collect()
    }

    #[rstest]
    #[case(&[], None, None)]
    #[case(&[5], Some(5.0), Some(5.0))]
    #[case(&[4, 1, 3, 2], Some(2.5), Some(4.0))]
    fn median_and_p99_of_single_operations(#[case] runs: &[u64], #[case] med: Option<f64>, #[case] p99: Option<f64>) {
        let f = Samples::new(us(runs), 1).figures();
        assert_eq!((f.median_us, f.p99_us, f.bytes), (med, p99, None));
    }

    #[test]
    fn p99_is_the_nearest_rank() {
        let runs: Vec<u64> = (1..=200).collect();
        let f = Samples::new(us(&runs), 1).figures();
        assert_eq!(f.p99_us, Some(198.0));
        assert_eq!(f.median_us, Some(100.5));
        assert_eq!(f.ops_per_s, Some(round(200.0 / (20_100.0 / 1e6), 1)));
    }

    #[test]
    fn batched_runs_report_per_operation_figures_without_p99() {
        let f = Samples::new(us(&[100, 200, 300]), 1_000).figures();
        assert_eq!(f.median_us, Some(0.2));
        assert_eq!(f.p99_us, None);
        assert_eq!(f.ops_per_s, Some(5_000_000.0));
    }

    #[test]
    fn absent_fields_are_omitted_from_json() {
        let f = Figures { bytes: Some(7), ..Figures::default() };
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"bytes":7}"#);
    }

    #[test]
    fn the_plan_warms_up() {
        assert_eq!(Plan::new(1_000).warmup, 100);
        assert_eq!(Plan::new(5).warmup, 3);
        assert_eq!(Plan::new(5).batched(10).ops_per_run, 10);
    }

    #[tokio::test]
    async fn sample_keeps_only_timed_runs() {
        let plan = Plan { warmup: 2, iterations: 3, ops_per_run: 1 };
        let mut seen = Vec::new();
        let s = sample("t", plan, async |i| {
            seen.push(i);
            Ok(Duration::from_micros(u64::from(i)))
        })
        .await
        .unwrap();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert_eq!(s, Samples::new(us(&[2, 3, 4]), 1));
    }
}
