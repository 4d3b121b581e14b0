//! `axia config check`: every configured endpoint tried once, read-only, each bounded by a
//! timeout: the history tier (the local directory is writable, or `HeadBucket`), Redis (`PING`),
//! the state store (the SQLite file, or `DescribeTable`), the queue and its DLQ (the SQLite file,
//! or `GetQueueUrl` of each), the events (the log needs nothing, or the SNS topic is listed), the
//! sources of `[collector] source` (Yahoo: a `HEAD` of `base_url`; the MT5 bridge: `/health`)
//! and `[broker] backend`. The reasons are the adapters' own errors, which name what to check.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use axia_adapters::mt5_bridge::Mt5Bridge;
use axia_adapters::redis::redact_url;
use axia_adapters::yahoo::YahooSource;
use futures::future::join_all;
use serde::Serialize;
use serde_json::json;

use crate::config::{BrokerBackend, EventsBackend, QueueBackend, SourceName, StateBackend};
use crate::error::{CliError, CliResult};
use crate::state::{StateStore, StateStores};
use crate::trading::{Events, Queue};
use crate::wiring::App;

/// The longest an AWS check may take (the SDK retries an unreachable endpoint).
const AWS_TIMEOUT: Duration = Duration::from_secs(15);

/// The result of one check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// What is checked: `history`, `redis`, `state`, `queue`, `events`, `source:yahoo`, `broker`.
    pub name: String,
    /// Where (`s3://bucket`, `redis://host:6379/0` without credentials, `sqlite:///…`).
    pub target: String,
    /// Whether it works.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
    /// The settings to look at when it fails.
    pub hint: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, target: impl Into<String>, hint: &str, result: anyhow::Result<()>) -> Self {
        let (ok, error) = match result {
            Ok(()) => (true, None),
            Err(e) => (false, Some(format!("{e:#}"))),
        };
        Self { name: name.into(), target: target.into(), ok, error, hint: (!ok).then(|| hint.to_owned()) }
    }

    /// `redis  redis://127.0.0.1:6379/0  ok`, or `… FAILED: <reason> — check <what>`.
    fn line(&self) -> String {
        match (&self.error, &self.hint) {
            (Some(error), Some(hint)) => format!("{}  {}  FAILED: {error} — check {hint}", self.name, self.target),
            _ => format!("{}  {}  ok", self.name, self.target),
        }
    }
}

type CheckFuture<'a> = Pin<Box<dyn Future<Output = Vec<Check>> + Send + 'a>>;

/// Runs every check (at the same time), prints them in order and fails when any failed.
///
/// # Errors
/// [`CliError::Failed`] naming the failed checks.
pub async fn run(app: &App, json: bool) -> CliResult {
    let checks = all(app).await;
    let ok = checks.iter().all(|c| c.ok);
    if json {
        outln!("{}", json!({ "checks": checks, "ok": ok }));
    } else {
        for check in &checks {
            outln!("{}", check.line());
        }
    }
    if ok {
        return Ok(());
    }
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
    Err(CliError::Failed(anyhow!("configuration check failed: {}", failed.join(", "))))
}

/// Every check, in a fixed order.
pub async fn all(app: &App) -> Vec<Check> {
    let mut futures: Vec<CheckFuture<'_>> = vec![
        Box::pin(async { vec![history(app).await] }),
        Box::pin(async { vec![redis(app).await] }),
        Box::pin(async { vec![state(app).await] }),
        Box::pin(async { vec![queue(app).await] }),
        Box::pin(async { vec![events(app).await] }),
    ];
    futures.push(Box::pin(sources(app)));
    futures.push(Box::pin(async { vec![broker(app).await] }));
    join_all(futures).await.into_iter().flatten().collect()
}

/// `future`, or an error saying it took longer than `limit`.
async fn bounded<F>(limit: Duration, what: &str, future: Pin<Box<F>>) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>> + ?Sized,
{
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| Err(anyhow!("no answer from {what} within {limit:?} (endpoint unreachable?)")))
}

async fn history(app: &App) -> Check {
    const HINT: &str = "[storage] backend, base_path / s3_bucket, s3_region, [aws] endpoint_url and region, and the \
                        AWS credentials; `axia init` creates the directory or bucket";
    if let Some(bucket) = &app.s3 {
        let result = bounded(AWS_TIMEOUT, "S3", Box::pin(async { Ok(bucket.check_bucket().await?) })).await;
        return Check::new("history", format!("s3://{}", bucket.bucket()), HINT, result);
    }
    // No bucket: the local backend, rooted at `[storage] base_path`.
    let root = absolute(&app.config.storage.base_path);
    let result = bounded(AWS_TIMEOUT, "the local disk", Box::pin(local_writable(&root))).await;
    Check::new("history", format!("file://{}", root.display()), HINT, result)
}

fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The directory exists and a file can be created (and removed) in it.
async fn local_writable(root: &std::path::Path) -> anyhow::Result<()> {
    if !tokio::fs::metadata(root).await.is_ok_and(|m| m.is_dir()) {
        return Err(anyhow!("the history directory {} does not exist: run `axia init`", root.display()));
    }
    let probe = root.join(format!(".axia-config-check-{}", std::process::id()));
    tokio::fs::write(&probe, b"")
        .await
        .map_err(|e| anyhow!("the history directory {} is not writable: {e}", root.display()))?;
    tokio::fs::remove_file(&probe).await.map_err(|e| anyhow!("cannot remove {}: {e}", probe.display()))
}

async fn redis(app: &App) -> Check {
    const HINT: &str = "[redis] url, username, password, tls_ca_file (AXIA_REDIS__URL) and that Redis runs there";
    let Some(redis) = &app.redis_bars else {
        return Check::new("redis", "not configured", HINT, Ok(()));
    };
    let config = redis.config();
    let limit = config.connect_timeout + config.command_timeout + Duration::from_secs(1);
    let result = bounded(limit, "Redis", Box::pin(async { Ok(redis.client().ping().await?) })).await;
    Check::new("redis", redact_url(&config.url), HINT, result)
}

async fn state(app: &App) -> Check {
    const HINT: &str = "[state] backend, sqlite_path / dynamodb_table, [aws] endpoint_url and region, and the AWS \
                        credentials; `axia init` creates the store";
    let target = match &app.state_backend {
        StateBackend::Sqlite(path) => format!("sqlite://{}", absolute(path).display()),
        StateBackend::DynamoDb { table, .. } => format!("dynamodb://{table}"),
    };
    let result = bounded(
        AWS_TIMEOUT,
        "the state store",
        Box::pin(async {
            let stores = StateStores::open(&app.state_backend).await?;
            if let StateStore::DynamoDb(table) = &stores.store {
                table.check_table().await?;
            }
            Ok(())
        }),
    )
    .await;
    Check::new("state", target, HINT, result)
}

async fn queue(app: &App) -> Check {
    const HINT: &str = "[queue] backend, sqlite_path / sqs_queue_name, sqs_dlq_name, [aws] endpoint_url and region, \
                        and the AWS credentials; `axia init` creates the queues";
    let target = match &app.queue_backend {
        QueueBackend::Sqlite(path, _) => format!("sqlite://{}", absolute(path).display()),
        QueueBackend::Sqs(settings) => format!("sqs://{} + sqs://{}", settings.queue_name, settings.dlq_name),
    };
    let result = bounded(
        AWS_TIMEOUT,
        "the order queue",
        Box::pin(async { Queue::open(&app.queue_backend).await?.check().await }),
    )
    .await;
    Check::new("queue", target, HINT, result)
}

async fn events(app: &App) -> Check {
    const HINT: &str = "[events] backend, sns_topic_name, [aws] endpoint_url and region, and the AWS credentials; \
                        `axia init` creates the topic";
    let target = match &app.events_backend {
        EventsBackend::Log => "log".to_owned(),
        EventsBackend::Sns(settings) => format!("sns://{}", settings.topic_name),
    };
    let result = bounded(
        AWS_TIMEOUT,
        "the events topic",
        Box::pin(async { Events::open(&app.events_backend).await?.check().await }),
    )
    .await;
    Check::new("events", target, HINT, result)
}

/// One check per source of `[collector] source`.
async fn sources(app: &App) -> Vec<Check> {
    let names = match app.config.check_sources(&app.config.collector.source) {
        Ok(names) => names,
        Err(e) => return vec![Check::new("source", &app.config.collector.source, "[collector] source", Err(e))],
    };
    let mut checks = Vec::new();
    for name in names {
        checks.push(match name {
            SourceName::Synthetic => Check::new("source:synthetic", "built in", "", Ok(())),
            SourceName::Sample => Check::new("source:sample", "built in", "", Ok(())),
            SourceName::Yahoo => yahoo(app).await,
            SourceName::Mt5Bridge => bridge(app, "source:mt5_bridge").await,
        });
    }
    checks
}

async fn yahoo(app: &App) -> Check {
    const HINT: &str = "[sources.yahoo] base_url and timeout_secs, and the network path (proxy, firewall)";
    let section = &app.config.sources.yahoo;
    let limit = Duration::from_secs(section.timeout_secs.saturating_add(1));
    let result = bounded(
        limit,
        "Yahoo",
        Box::pin(async {
            let source = YahooSource::new(section.settings()?, Arc::clone(&app.clock))?;
            let status = source.probe().await?;
            tracing::debug!(status, "yahoo answered");
            Ok(())
        }),
    )
    .await;
    Check::new("source:yahoo", redact_url(section.base_url.trim()), HINT, result)
}

async fn bridge(app: &App, name: &str) -> Check {
    const HINT: &str = "[sources.mt5_bridge] url, token (AXIA_SOURCES__MT5_BRIDGE__TOKEN) and timeout_secs, and that \
                        the bridge runs there";
    let section = &app.config.sources.mt5_bridge;
    let target = section.url.as_deref().map_or_else(|| "not configured".to_owned(), redact_url);
    let limit = Duration::from_secs(section.timeout_secs.saturating_add(1));
    let result = bounded(
        limit,
        "the MT5 bridge",
        Box::pin(async {
            let settings = section.settings()?.ok_or_else(|| anyhow!("[sources.mt5_bridge] url is not set"))?;
            let health = Mt5Bridge::with_clock(settings, Arc::clone(&app.clock))?.health().await?;
            if !health.terminal_connected {
                return Err(anyhow!("the bridge answers but its terminal is not connected to {}", health.server));
            }
            Ok(())
        }),
    )
    .await;
    Check::new(name, target, HINT, result)
}

async fn broker(app: &App) -> Check {
    match app.config.broker.kind() {
        Ok(BrokerBackend::Paper) => Check::new("broker", "paper (fills against the stored bars)", "", Ok(())),
        Ok(BrokerBackend::Mt5Bridge) => bridge(app, "broker").await,
        Err(e) => Check::new("broker", &app.config.broker.backend, "[broker] backend", Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_ok_or_why_not_and_what_to_check() {
        let ok = Check::new("redis", "redis://h:6379/0", "[redis] url", Ok(()));
        assert_eq!(ok.line(), "redis  redis://h:6379/0  ok");
        assert_eq!((ok.error, ok.hint), (None, None));
        let failed = Check::new("redis", "redis://h:1/0", "[redis] url", Err(anyhow!("connection refused")));
        assert_eq!(failed.line(), "redis  redis://h:1/0  FAILED: connection refused — check [redis] url");
        assert!(!failed.ok);
    }

    #[tokio::test]
    async fn a_check_that_hangs_fails_at_its_timeout() {
        let never = Box::pin(std::future::pending::<anyhow::Result<()>>());
        let err = bounded(Duration::from_millis(20), "the thing", never).await.unwrap_err();
        assert!(err.to_string().contains("no answer from the thing"), "{err}");
    }
}
