//! The result of a collector run: one entry per task, and a machine-readable summary.

use std::time::Duration;

use axia_domain::ports::WriteSummary;
use axia_domain::{SeriesKey, TimeRange};
use serde::Serialize;
use serde_json::json;

/// How one task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Fetched and written to the history tier.
    Stored {
        /// The range asked of the source.
        range: TimeRange,
        /// Bars the source returned.
        fetched: u64,
        /// What the history tier changed.
        written: WriteSummary,
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

/// One task's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// The series.
    pub key: SeriesKey,
    /// What happened.
    pub outcome: TaskOutcome,
    /// Hot tiers that could not be written (the task still succeeded).
    pub degraded: Vec<String>,
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
            TaskOutcome::Stored { range, fetched, written } => {
                v["status"] = json!("stored");
                v["from"] = json!(range.start().to_rfc3339());
                v["to"] = json!(range.end().to_rfc3339());
                v["fetched"] = json!(fetched);
                v["written"] = json!(written);
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
}

impl CollectReport {
    /// Task counts.
    #[must_use]
    pub fn counts(&self) -> CollectCounts {
        let mut c = CollectCounts { tasks: self.tasks.len(), ..CollectCounts::default() };
        for t in &self.tasks {
            match t.outcome {
                TaskOutcome::Stored { .. } => c.stored += 1,
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

    /// The summary as JSON (`--json`, and the last log line under cron).
    #[must_use]
    pub fn summary_json(&self) -> serde_json::Value {
        json!({
            "source": self.source,
            "synthetic": self.synthetic,
            "counts": self.counts(),
            "written": super::total_written(&self.tasks),
            "elapsed_ms": duration_ms(self.elapsed),
            "failed": self.failures().map(|t| t.key.to_string()).collect::<Vec<_>>(),
        })
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
