//! `axia init`: creates what the configuration needs and does not find, one idempotent step at a
//! time, so it can run on every deploy: the history tier's S3 bucket (or local directory), the
//! state store (the SQLite file and its schema, or the DynamoDB table with its indexes and TTL)
//! the kill switch's first state (Active, version 1), the order queue and its dead-letter queue
//! (the SQLite file, or the SQS queues with the redrive policy) and the event topic (SNS; the log
//! needs nothing).

use anyhow::{Context, anyhow};
use serde::Serialize;
use serde_json::json;

use crate::cli::InitArgs;
use crate::cmd::kill_switch::operator;
use crate::error::{CliError, CliResult};
use crate::state::StateStores;
use crate::trading::Queue;
use crate::wiring::App;

/// What a step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Created,
    AlreadyExisted,
    /// Nothing to create (events go to the log).
    NotNeeded,
}

impl Outcome {
    const fn new(created: bool) -> Self {
        if created { Self::Created } else { Self::AlreadyExisted }
    }

    const fn text(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AlreadyExisted => "already existed",
            Self::NotNeeded => "needs nothing",
        }
    }
}

/// One resource set up.
#[derive(Debug, Clone, Serialize)]
struct Step {
    /// What it is for (`history`, `state`, `kill_switch`, `queue`, `dead_letter_queue`, `events`).
    step: &'static str,
    /// Where it is (`s3://bucket/prefix`, `file:///…`, `sqlite:///…`, `dynamodb://table`).
    resource: String,
    outcome: Outcome,
    /// DynamoDB: `enabled` (switched on by this run) or `already_enabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<&'static str>,
    /// The kill switch's stored state (`active`, …) and version.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
}

impl Step {
    const fn new(step: &'static str, resource: String, outcome: Outcome) -> Self {
        Self { step, resource, outcome, ttl: None, state: None, version: None }
    }

    /// The human line: `state: dynamodb://axia-state created (TTL enabled)`.
    fn text(&self) -> String {
        let mut line = format!("{}: {} {}", self.step, self.resource, self.outcome.text());
        if let Some(ttl) = self.ttl {
            line.push_str(&format!(" (TTL {})", ttl.replace('_', " ")));
        }
        if let (Some(state), Some(version)) = (&self.state, self.version) {
            line.push_str(&format!(" ({state}, version {version})"));
        }
        line
    }
}

/// Runs the command: every step in order, stopping at the first failure (the steps done so far
/// are printed either way).
///
/// # Errors
/// [`CliError::Failed`] naming the resource and what to check (credentials, permissions, the
/// endpoint).
pub async fn run(app: &App, args: InitArgs) -> CliResult {
    let mut done = Vec::new();
    let result = steps(app, &mut done).await;
    if args.json {
        outln!("{}", json!({ "steps": done, "ok": result.is_ok() }));
    } else {
        for step in &done {
            outln!("{}", step.text());
        }
        if result.is_ok() && done.iter().all(|s| s.outcome != Outcome::Created) {
            outln!("nothing to do: everything was already set up");
        }
    }
    result.map_err(CliError::Failed)
}

/// The steps, in order. Each one creates its resource when missing and reports whether it did.
async fn steps(app: &App, done: &mut Vec<Step>) -> anyhow::Result<()> {
    done.push(history(app).await?);
    let stores = state(app, done).await?;
    done.push(kill_switch(app, &stores).await?);
    queues(app, done).await?;
    done.push(events(app).await?);
    Ok(())
}

/// The order queue and its dead-letter queue: the SQLite file (both live in it), or the SQS
/// queues with the redrive policy (re-applied on every run).
async fn queues(app: &App, done: &mut Vec<Step>) -> anyhow::Result<()> {
    let (queue, created) = Queue::create(&app.queue_backend).await?;
    done.push(Step::new("queue", queue.location.clone(), Outcome::new(created.queue)));
    done.push(Step::new("dead_letter_queue", queue.dlq_location(), Outcome::new(created.dlq)));
    Ok(())
}

/// The event topic (SNS); the log needs nothing.
async fn events(app: &App) -> anyhow::Result<Step> {
    let events = app.events().await?;
    let outcome = match events.ensure().await? {
        Some(created) => Outcome::new(created),
        None => Outcome::NotNeeded,
    };
    Ok(Step::new("events", events.location.clone(), outcome))
}

/// The state store: the SQLite file and schema, or the DynamoDB table, its indexes and TTL.
async fn state(app: &App, done: &mut Vec<Step>) -> anyhow::Result<StateStores> {
    let (stores, setup) = StateStores::create(&app.state_backend).await?;
    let mut step = Step::new("state", stores.location.clone(), Outcome::new(setup.created));
    step.ttl = setup.ttl_switched_on.map(|on| if on { "enabled" } else { "already_enabled" });
    done.push(step);
    Ok(stores)
}

/// The kill switch's first state (Active, version 1), written only when none is stored.
async fn kill_switch(app: &App, stores: &StateStores) -> anyhow::Result<Step> {
    let init = app
        .kill_switch(stores)
        .initialise(&operator())
        .await
        .map_err(|e| anyhow!("cannot initialise the kill switch in {}: {e}", stores.location))?;
    if let Some(warning) = init.mirror.warning() {
        tracing::warn!("{warning}");
    }
    let mut step = Step::new("kill_switch", stores.location.clone(), Outcome::new(init.created));
    step.state = Some(init.state.state.to_string());
    step.version = Some(init.state.version);
    Ok(step)
}

/// The history tier: the S3 bucket, or the local directory.
async fn history(app: &App) -> anyhow::Result<Step> {
    if let Some(bucket) = &app.s3 {
        let location = format!("s3://{}", bucket.bucket());
        let created = bucket.ensure_bucket().await.map_err(|e| anyhow!("cannot set up the history bucket: {e}"))?;
        return Ok(Step::new("history", location, Outcome::new(created)));
    }
    let root = std::path::absolute(&app.config.storage.base_path)
        .with_context(|| format!("[storage] base_path {}", app.config.storage.base_path.display()))?;
    let existed = tokio::fs::metadata(&root).await.is_ok_and(|m| m.is_dir());
    tokio::fs::create_dir_all(&root)
        .await
        .with_context(|| format!("cannot create the history directory {} ([storage] base_path)", root.display()))?;
    Ok(Step::new("history", format!("file://{}", root.display()), Outcome::new(!existed)))
}
