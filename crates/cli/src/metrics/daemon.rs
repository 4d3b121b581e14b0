//! The order daemon's metrics in the Prometheus text exposition format (version 0.0.4):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `axia_orders_received_total` | counter | |
//! | `axia_orders_processed_total` | counter | `outcome`: `filled`, `working`, `rejected`, `duplicate`, `dead_lettered`, `retried` |
//! | `axia_orders_queue_errors_total` | counter | |
//! | `axia_orders_heartbeat_timestamp_seconds` | gauge | |
//! | `axia_broker_connected` | gauge (1/0) | `broker`: `paper`, `mt5_bridge` |
//!
//! The order counts are those of the last heartbeat (`[orders] heartbeat_secs`) and of the end
//! of the run; the broker status is read at each scrape. The provider's counters
//! (`axia_provider_*`) follow when the process built a provider.

use std::fmt::Write;
use std::sync::{Mutex, PoisonError};

use axia_application::orders::RunSummary;
use axia_application::provider::StatsSnapshot;
use chrono::{DateTime, Utc};

use crate::metrics::emf::Metric;

/// What the daemon's `/metrics` shows; updated by the heartbeat.
#[derive(Debug)]
pub struct DaemonMetrics {
    broker: &'static str,
    last: Mutex<(RunSummary, Option<DateTime<Utc>>)>,
}

impl DaemonMetrics {
    /// Metrics of a daemon whose broker is `broker` (`paper` or `mt5_bridge`).
    #[must_use]
    pub fn new(broker: &'static str) -> Self {
        Self { broker, last: Mutex::default() }
    }

    /// Records a heartbeat at `at` with the run's totals; returns the totals of the previous one.
    pub fn beat(&self, at: DateTime<Utc>, summary: &RunSummary) -> RunSummary {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *last, (summary.clone(), Some(at))).0
    }

    /// Records the totals without a heartbeat (the end of the run).
    pub fn totals(&self, summary: &RunSummary) {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).0 = summary.clone();
    }

    /// The metrics text, with the broker status `connected` and the provider's counters.
    #[must_use]
    pub fn render(&self, connected: bool, provider: Option<&StatsSnapshot>) -> String {
        let (s, at) = self.last.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut out = String::new();
        counter(&mut out, "axia_orders_received_total", "Order messages received by the daemon.");
        let _ = writeln!(out, "axia_orders_received_total {}", s.received);
        counter(&mut out, "axia_orders_processed_total", "Order messages processed by the daemon, by outcome.");
        for (outcome, n) in [
            ("filled", s.filled),
            ("working", s.working),
            ("rejected", s.rejected),
            ("duplicate", s.duplicates),
            ("dead_lettered", s.dead_lettered),
            ("retried", s.retried),
        ] {
            let _ = writeln!(out, "axia_orders_processed_total{{outcome=\"{outcome}\"}} {n}");
        }
        counter(
            &mut out,
            "axia_orders_queue_errors_total",
            "Queue operations (receive, delete, dead-letter) that failed.",
        );
        let _ = writeln!(out, "axia_orders_queue_errors_total {}", s.errors);
        if let Some(at) = at {
            gauge(&mut out, "axia_orders_heartbeat_timestamp_seconds", "Unix time of the daemon's last heartbeat.");
            let _ = writeln!(out, "axia_orders_heartbeat_timestamp_seconds {}", at.timestamp());
        }
        gauge(&mut out, "axia_broker_connected", "Whether the broker answers (1) or not (0).");
        let _ = writeln!(out, "axia_broker_connected{{broker=\"{}\"}} {}", self.broker, u8::from(connected));
        if let Some(p) = provider {
            out.push_str(&p.prometheus());
        }
        out
    }
}

/// The EMF metrics of one heartbeat: what happened since the previous one (`prev`), so that
/// CloudWatch sums add up, and the broker status.
#[must_use]
pub fn emf_metrics(prev: &RunSummary, now: &RunSummary, connected: bool) -> Vec<Metric> {
    let delta = |a: u64, b: u64| b.saturating_sub(a);
    vec![
        Metric::count("Received", delta(prev.received, now.received)),
        Metric::count("Filled", delta(prev.filled, now.filled)),
        Metric::count("Working", delta(prev.working, now.working)),
        Metric::count("Rejected", delta(prev.rejected, now.rejected)),
        Metric::count("Duplicates", delta(prev.duplicates, now.duplicates)),
        Metric::count("DeadLettered", delta(prev.dead_lettered, now.dead_lettered)),
        Metric::count("Retried", delta(prev.retried, now.retried)),
        Metric::count("QueueErrors", delta(prev.errors, now.errors)),
        Metric::count("BrokerConnected", u64::from(connected)),
    ]
}

fn counter(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn daemon_metrics_show_the_last_heartbeat_and_the_broker_status() {
        let metrics = DaemonMetrics::new("mt5_bridge");
        let before = metrics.render(false, None);
        assert!(before.contains("axia_orders_processed_total{outcome=\"filled\"} 0\n"), "{before}");
        assert!(!before.contains("heartbeat"), "no heartbeat yet: {before}");
        assert!(before.contains("axia_broker_connected{broker=\"mt5_bridge\"} 0\n"), "{before}");
        let at = Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).unwrap();
        let s = RunSummary {
            received: 7,
            filled: 3,
            rejected: 2,
            dead_lettered: 1,
            retried: 1,
            errors: 4,
            ..RunSummary::default()
        };
        metrics.beat(at, &s);
        let text = metrics.render(true, None);
        for line in [
            "axia_orders_received_total 7",
            "axia_orders_processed_total{outcome=\"filled\"} 3",
            "axia_orders_processed_total{outcome=\"rejected\"} 2",
            "axia_orders_processed_total{outcome=\"dead_lettered\"} 1",
            "axia_orders_processed_total{outcome=\"retried\"} 1",
            "axia_orders_queue_errors_total 4",
            "axia_orders_heartbeat_timestamp_seconds 1756771200",
            "axia_broker_connected{broker=\"mt5_bridge\"} 1",
            "# TYPE axia_orders_processed_total counter",
            "# TYPE axia_broker_connected gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        metrics.totals(&RunSummary { filled: 5, ..s });
        assert!(metrics.render(true, None).contains("axia_orders_processed_total{outcome=\"filled\"} 5\n"));
    }

    #[test]
    fn daemon_emf_counts_what_happened_since_the_previous_heartbeat() {
        let metrics = DaemonMetrics::new("paper");
        let at = Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).unwrap();
        let first = RunSummary { received: 5, filled: 4, rejected: 1, ..RunSummary::default() };
        let prev = metrics.beat(at, &first);
        assert_eq!(prev, RunSummary::default());
        let second = RunSummary { received: 8, filled: 6, rejected: 2, ..first.clone() };
        let prev = metrics.beat(at, &second);
        let values: Vec<(&str, f64)> = emf_metrics(&prev, &second, false).iter().map(|m| (m.name, m.value)).collect();
        assert!(values.contains(&("Received", 3.0)) && values.contains(&("Filled", 2.0)), "{values:?}");
        assert!(values.contains(&("Rejected", 1.0)) && values.contains(&("BrokerConnected", 0.0)), "{values:?}");
    }

    #[test]
    fn daemon_metrics_include_the_provider_counters() {
        let stats = StatsSnapshot::default();
        let text = DaemonMetrics::new("paper").render(true, Some(&stats));
        assert!(text.contains("axia_provider_calls_total 0"), "{text}");
        assert!(text.contains("axia_broker_connected{broker=\"paper\"} 1"), "{text}");
    }
}
