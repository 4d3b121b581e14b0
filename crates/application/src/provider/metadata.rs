//! What one `get_data` call did: which tier served which part, latencies, fallbacks, errors,
//! write-backs. Returned with the bars and shown by `axia fetch`.

use axia_domain::TimeRange;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::route::{TierKind, UseCase};

/// How one request to a tier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// It returned every trading bar of the range asked.
    Hit,
    /// It returned some bars; the rest was asked of the next tier.
    Partial,
    /// It had nothing there.
    Miss,
    /// It failed; the next tier was asked.
    Error,
    /// It did not answer within its timeout; the next tier was asked.
    Timeout,
}

/// One request to one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The tier.
    pub tier: TierKind,
    /// The range asked of it.
    pub range: TimeRange,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// Bars it contributed.
    pub rows: usize,
    /// Its latency, µs.
    pub latency_us: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Bars written back into a faster tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteBack {
    /// The tier written.
    pub tier: TierKind,
    /// Bars sent.
    pub rows: usize,
    /// Bars it did not hold yet.
    pub inserted: u64,
    /// Why the write failed (the call still succeeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The metadata of one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchMetadata {
    /// The use case (source order and L1 freshness).
    pub use_case: UseCase,
    /// The range asked for.
    pub requested: TimeRange,
    /// The instant the call judged "recent" and "closed bars" against.
    pub now: DateTime<Utc>,
    /// Bars returned.
    pub rows: usize,
    /// True when every trading bar of the range (up to the last closed bar) was found.
    pub complete: bool,
    /// Parts of the range no tier could fill (holidays, data never collected, failed tiers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<TimeRange>,
    /// The tiers that contributed bars, fastest first.
    pub served_by: Vec<TierKind>,
    /// Every request made, in order.
    pub attempts: Vec<Attempt>,
    /// Times a tier could not fully answer and the next one was asked.
    pub fallbacks: u32,
    /// Errors of tiers that failed (each also in its attempt).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Bars written back into faster tiers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub written_back: Vec<WriteBack>,
    /// Whole-call latency, µs.
    pub latency_us: u64,
}

impl FetchMetadata {
    pub(crate) fn new(use_case: UseCase, requested: TimeRange, now: DateTime<Utc>) -> Self {
        Self {
            use_case,
            requested,
            now,
            rows: 0,
            complete: false,
            missing: Vec::new(),
            served_by: Vec::new(),
            attempts: Vec::new(),
            fallbacks: 0,
            errors: Vec::new(),
            written_back: Vec::new(),
            latency_us: 0,
        }
    }

    pub(crate) fn attempt(&mut self, attempt: Attempt) {
        if attempt.rows > 0 && !self.served_by.contains(&attempt.tier) {
            self.served_by.push(attempt.tier);
        }
        if let Some(e) = &attempt.error {
            self.errors.push(format!("{}: {e}", attempt.tier));
        }
        self.attempts.push(attempt);
    }

    /// One line for logs: `rows=… tiers=redis+history fallbacks=… 1.2 ms`.
    #[must_use]
    pub fn one_line(&self) -> String {
        let tiers: Vec<&str> = self.served_by.iter().map(|t| t.name()).collect();
        #[allow(clippy::cast_precision_loss)]
        let ms = self.latency_us as f64 / 1e3;
        format!(
            "{} bars from {} ({}), {} fallback(s){}, {ms:.2} ms",
            self.rows,
            if tiers.is_empty() { "no tier".to_owned() } else { tiers.join(" + ") },
            self.use_case,
            self.fallbacks,
            if self.complete { String::new() } else { format!(", incomplete: {} part(s) missing", self.missing.len()) },
        )
    }
}
