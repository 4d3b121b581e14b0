//! The result of a collector run: one entry per task, and a machine-readable summary.

use std::collections::BTreeMap;
use std::time::Duration;

use axia_domain::ports::WriteSummary;
use axia_domain::{Gap, SeriesKey, TimeRange};
use serde::Serialize;
use serde_json::json;

/// How one task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Fetched and written to the history tier.
    Stored {
        /// The range asked of the source.
        range: TimeRange,
        /// The source that served the task (the first of the chain that answered).
        source: String,
        /// Bars the source returned (before the holes were asked for again).
        fetched: u64,
        /// What the history tier changed.
        written: WriteSummary,
        /// The holes of the answer and the second request for them.
        gaps: GapRefill,
    },
    /// No closed bar can be newer than the stored ones yet.
    UpToDate,
    /// The task failed; other tasks were not affected.
    Failed {
        /// Which step failed (`fetch`, `write history`, …).
        stage: &'static str,
        /// The error message.
        error: String,
        /// Whether the next run may succeed without anyone acting.
        retryable: bool,
    },
}

/// The holes found in a source's answer and what asking for them once more filled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GapRefill {
    /// Gaps between the returned bars (on the market calendar: weekends are not gaps).
    pub found: usize,
    /// Bars missing in the gaps asked for again (where the calendar can count them).
    pub bars_requested: u64,
    /// Bars the second request filled.
    pub bars_filled: u64,
    /// Gaps still open: holidays, or no source has bars there. Reported, not an error.
    pub remaining: Vec<Gap>,
}

impl GapRefill {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "found": self.found,
            "bars_requested": self.bars_requested,
            "bars_filled": self.bars_filled,
            "remaining": self.remaining.iter().map(|g| json!({
                "from": g.start.to_rfc3339(),
                "to": g.end.to_rfc3339(),
                "missing_bars": g.missing_bars,
            })).collect::<Vec<_>>(),
        })
    }
}

/// One task's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// The series.
    pub key: SeriesKey,
    /// What happened.
    pub outcome: TaskOutcome,
    /// Hot tiers that could not be written (the task still succeeded).
    pub degraded: Vec<String>,
    /// The errors of the sources that failed, in chain order: those tried before the one that
    /// served, or all of them when the task failed.
    pub source_errors: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl TaskResult {
    /// True when the task failed.
    #[must_use]
    pub const fn failed(&self) -> bool {
        matches!(self.outcome, TaskOutcome::Failed { .. })
    }

    /// A JSON object for logs and `--json` output.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = json!({
            "symbol": self.key.symbol.as_str(),
            "timeframe": self.key.timeframe.as_str(),
            "elapsed_ms": duration_ms(self.elapsed),
        });
        match &self.outcome {
            TaskOutcome::Stored { range, source, fetched, written, gaps } => {
                v["status"] = json!("stored");
                v["source"] = json!(source);
                v["from"] = json!(range.start().to_rfc3339());
                v["to"] = json!(range.end().to_rfc3339());
                v["fetched"] = json!(fetched);
                v["written"] = json!(written);
                v["gaps"] = gaps.to_json();
            }
            TaskOutcome::UpToDate => v["status"] = json!("up_to_date"),
            TaskOutcome::Failed { stage, error, retryable } => {
                v["status"] = json!("failed");
                v["stage"] = json!(stage);
                v["error"] = json!(error);
                v["retryable"] = json!(retryable);
            }
        }
        if !self.degraded.is_empty() {
            v["degraded"] = json!(self.degraded);
        }
        if !self.source_errors.is_empty() {
            v["source_errors"] = json!(self.source_errors);
        }
        v
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectReport {
    /// Source name.
    pub source: String,
    /// True when the source generates synthetic bars.
    pub synthetic: bool,
    /// One result per task, in request order.
    pub tasks: Vec<TaskResult>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CollectCounts {
    /// Tasks run.
    pub tasks: usize,
    /// Tasks that stored bars (or found nothing new in their range).
    pub stored: usize,
    /// Tasks with nothing to do.
    pub up_to_date: usize,
    /// Failed tasks.
    pub failed: usize,
    /// Tasks whose hot-tier write failed.
    pub degraded: usize,
    /// Gaps still open after the second request, over all tasks.
    pub gaps_remaining: usize,
}

impl CollectReport {
    /// Task counts.
    #[must_use]
    pub fn counts(&self) -> CollectCounts {
        let mut c = CollectCounts { tasks: self.tasks.len(), ..CollectCounts::default() };
        for t in &self.tasks {
            match t.outcome {
                TaskOutcome::Stored { ref gaps, .. } => {
                    c.stored += 1;
                    c.gaps_remaining += gaps.remaining.len();
                }
                TaskOutcome::UpToDate => c.up_to_date += 1,
                TaskOutcome::Failed { .. } => c.failed += 1,
            }
            if !t.degraded.is_empty() {
                c.degraded += 1;
            }
        }
        c
    }

    /// True when every task succeeded.
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.tasks.iter().all(|t| !t.failed())
    }

    /// The failed tasks.
    pub fn failures(&self) -> impl Iterator<Item = &TaskResult> {
        self.tasks.iter().filter(|t| t.failed())
    }

    /// How many tasks each source served.
    #[must_use]
    pub fn served_by(&self) -> BTreeMap<String, usize> {
        let mut served = BTreeMap::new();
        for t in &self.tasks {
            if let TaskOutcome::Stored { source, .. } = &t.outcome {
                *served.entry(source.clone()).or_default() += 1;
            }
        }
        served
    }

    /// The summary as JSON (`--json`, and the last log line under cron): `source` is the chain
    /// (`mt5_bridge,yahoo`), `served_by` counts the tasks each source served, `errors` gives the
    /// error of each failed task (naming every source's error).
    #[must_use]
    pub fn summary_json(&self) -> serde_json::Value {
        json!({
            "source": self.source,
            "synthetic": self.synthetic,
            "counts": self.counts(),
            "served_by": self.served_by(),
            "written": super::total_written(&self.tasks),
            "elapsed_ms": duration_ms(self.elapsed),
            "failed": self.failures().map(|t| t.key.to_string()).collect::<Vec<_>>(),
            "errors": self.failures().filter_map(|t| match &t.outcome {
                TaskOutcome::Failed { error, .. } => Some((t.key.to_string(), error.clone())),
                _ => None,
            }).collect::<BTreeMap<_, _>>(),
        })
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
