//! Metrics (SPEC §8) in the forms Prometheus and CloudWatch read:
//!
//! - [`daemon`]: the order daemon's metrics in the Prometheus text format (orders processed by
//!   outcome, heartbeat, broker connection status, and the provider's counters), served by
//!   [`http`] on `GET /metrics` when `[orders] metrics_listen` is set;
//! - [`emf`]: one CloudWatch embedded-metric-format (EMF) JSON line per run (`axia collect
//!   --metrics emf`), printed to stderr where the log shipper picks it up;
//! - [`SUMMARY_TARGET`]: the `tracing` target of the one summary line each job ends with.

pub mod daemon;
pub mod emf;
pub mod http;

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

/// The `tracing` target of the summary line each job ends with (info level). Under JSON logs it
/// is shown even without `-v` (see `init_logging` in `main.rs`).
pub const SUMMARY_TARGET: &str = "axia::summary";

/// Whether logs are JSON lines (set once by `init_logging`): human notes that commands print
/// to stderr then give way to the summary log line, so that every stderr line is JSON.
static JSON_LOGS: AtomicBool = AtomicBool::new(false);

/// Records whether logs are JSON lines.
pub fn set_json_logs(json: bool) {
    JSON_LOGS.store(json, Ordering::Relaxed);
}

/// Whether logs are JSON lines.
pub fn json_logs() -> bool {
    JSON_LOGS.load(Ordering::Relaxed)
}

/// How a job reports its metrics besides its logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum MetricsFormat {
    /// No metric lines (the summary line still carries the counts).
    #[default]
    Off,
    /// One CloudWatch embedded-metric-format JSON line on stderr per run.
    Emf,
}
