//! `axia init`: creates what the configuration needs and does not find, one idempotent step at a
//! time, so it can run on every deploy. Today the history tier's S3 bucket (or local
//! directory); the DynamoDB table, the SQS queues and the SNS topic join as further steps in
//! [`steps`].

use anyhow::{Context, anyhow};
use serde::Serialize;
use serde_json::json;

use crate::cli::InitArgs;
use crate::error::{CliError, CliResult};
use crate::wiring::App;

/// What a step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Created,
    AlreadyExisted,
}

impl Outcome {
    const fn new(created: bool) -> Self {
        if created { Self::Created } else { Self::AlreadyExisted }
    }

    const fn text(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AlreadyExisted => "already existed",
        }
    }
}

/// One resource set up.
#[derive(Debug, Clone, Serialize)]
struct Step {
    /// What it is for (`history`, later `table`, `queue`, …).
    step: &'static str,
    /// Where it is (`s3://bucket/prefix`, `file:///…`).
    resource: String,
    outcome: Outcome,
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
            outln!("{}: {} {}", step.step, step.resource, step.outcome.text());
        }
    }
    result.map_err(CliError::Failed)
}

/// The steps, in order. Each one creates its resource when missing and reports whether it did.
async fn steps(app: &App, done: &mut Vec<Step>) -> anyhow::Result<()> {
    done.push(history(app).await?);
    Ok(())
}

/// The history tier: the S3 bucket, or the local directory.
async fn history(app: &App) -> anyhow::Result<Step> {
    if let Some(bucket) = &app.s3 {
        let location = format!("s3://{}", bucket.bucket());
        let created = bucket.ensure_bucket().await.map_err(|e| anyhow!("cannot set up the history bucket: {e}"))?;
        return Ok(Step { step: "history", resource: location, outcome: Outcome::new(created) });
    }
    let root = std::path::absolute(&app.config.storage.base_path)
        .with_context(|| format!("[storage] base_path {}", app.config.storage.base_path.display()))?;
    let existed = tokio::fs::metadata(&root).await.is_ok_and(|m| m.is_dir());
    tokio::fs::create_dir_all(&root)
        .await
        .with_context(|| format!("cannot create the history directory {} ([storage] base_path)", root.display()))?;
    Ok(Step { step: "history", resource: format!("file://{}", root.display()), outcome: Outcome::new(!existed) })
}
