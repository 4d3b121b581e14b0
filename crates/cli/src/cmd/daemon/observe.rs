//! What the order daemon tells an operator while it runs: the heartbeat ([`DaemonHeartbeat`]: a
//! log line, Redis `system:status`, the `/metrics` counts and, with `[orders] metrics = "emf"`, a
//! CloudWatch EMF line) and the `GET /metrics` listener ([`start_metrics`]).

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use axia_adapters::redis::RedisSystemStatus;
use axia_application::orders::{Heartbeat, RunSummary};
use chrono::{DateTime, Utc};

use super::bridge::BridgeWatch;
use crate::error::{CliError, CliResult};
use crate::metrics::daemon::{DaemonMetrics, emf_metrics};
use crate::metrics::emf;
use crate::wiring::{App, Broker};

/// The component name of the heartbeat.
const COMPONENT: &str = "orders";

/// Serves `GET /metrics` on `addr` (the broker status is read at each scrape).
pub(super) async fn start_metrics(
    app: &App,
    addr: std::net::SocketAddr,
    broker: &Broker,
    metrics: Arc<DaemonMetrics>,
) -> CliResult<tokio::task::JoinHandle<()>> {
    let connected: Arc<dyn Fn() -> bool + Send + Sync> = match broker {
        Broker::Paper(_) => Arc::new(|| true),
        Broker::Mt5(bridge) => {
            let bridge = Arc::clone(bridge);
            Arc::new(move || bridge.connection_status().connected)
        }
    };
    let provider = app.provider_stats_fn();
    let render = Arc::new(move || metrics.render(connected(), provider().as_ref()));
    let (local, task) = crate::metrics::http::serve(addr, render)
        .await
        .map_err(|e| CliError::Failed(anyhow!("cannot serve metrics on [orders] metrics_listen {addr}: {e}")))?;
    tracing::info!(listen = %local, "metrics served on GET /metrics");
    Ok(task)
}

/// The daemon's heartbeat: a metric line (with `broker_connected` when the broker is the MT5
/// bridge), and Redis `system:status` when configured.
#[derive(Debug)]
pub(super) struct DaemonHeartbeat {
    pub(super) redis: Option<RedisSystemStatus>,
    pub(super) bridge: Option<BridgeWatch>,
    pub(super) metrics: Arc<DaemonMetrics>,
    /// One CloudWatch EMF line per heartbeat (`[orders] metrics = "emf"`).
    pub(super) emf: bool,
}

#[async_trait]
impl Heartbeat for DaemonHeartbeat {
    async fn beat(&self, at: DateTime<Utc>, s: &RunSummary) {
        let broker_connected = self.bridge.as_ref().map(BridgeWatch::connected);
        let prev = self.metrics.beat(at, s);
        if self.emf {
            emf::emit("orders", at, &emf_metrics(&prev, s, broker_connected.unwrap_or(true)));
        }
        tracing::info!(
            target: "axia::metrics",
            metric = "orders_heartbeat",
            component = COMPONENT,
            at = %at,
            received = s.received,
            filled = s.filled,
            working = s.working,
            rejected = s.rejected,
            duplicates = s.duplicates,
            dead_lettered = s.dead_lettered,
            retried = s.retried,
            errors = s.errors,
            broker_connected,
            "heartbeat"
        );
        if let Some(redis) = &self.redis
            && let Err(e) = redis.heartbeat(COMPONENT, at).await
        {
            tracing::warn!(error = %e, "heartbeat not written to Redis system:status");
        }
    }
}
