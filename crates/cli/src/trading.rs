//! The order side of the wiring: the order queue of `[queue]` (SQLite file or SQS), the event
//! publisher of `[events]` (log or SNS) and the paper broker of `[broker]`, opened only by the
//! commands that need them (`axia orders …`, `axia positions …`, `axia init`).

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use axia_adapters::events::{LogEventPublisher, SnsEventPublisher};
use axia_adapters::queue::{QueueAdmin, SqliteOrderQueue, SqsOrderQueue};
use axia_domain::ports::{EventPublisher, OrderQueue};

use crate::config::{EventsBackend, QueueBackend};

/// The order queue of `[queue]`, with what only the concrete adapter can do.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Where it is: `sqlite:///abs/queue.db` or `sqs://queue-name` (DLQ `sqs://…-dlq`).
    pub location: String,
    /// The queue with its operator view (depth, dead letters).
    pub admin: Arc<dyn QueueAdmin>,
    /// The SQS adapter, for `axia init` (`ensure_queues`).
    sqs: Option<Arc<SqsOrderQueue>>,
}

/// What `axia init` found or created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCreated {
    /// The queue (SQLite: the file).
    pub queue: bool,
    /// The dead-letter queue (SQLite: in the same file, created with it).
    pub dlq: bool,
}

impl Queue {
    /// The queue as the port the use cases take.
    #[must_use]
    pub fn port(&self) -> Arc<dyn OrderQueue> {
        Arc::clone(&self.admin) as Arc<dyn OrderQueue>
    }

    /// Where the dead letters are.
    #[must_use]
    pub fn dlq_location(&self) -> String {
        match &self.sqs {
            Some(sqs) => format!("sqs://{}", sqs.settings().dlq_name),
            None => format!("{}#dead_letters", self.location),
        }
    }

    /// Opens the queue. A SQLite file that does not exist is *not* created (only `axia init`
    /// creates it, so a mistyped path reads as uninitialised); SQS is not contacted yet.
    ///
    /// # Errors
    /// The file is missing or unusable; the SQS client cannot be built.
    pub async fn open(backend: &QueueBackend) -> anyhow::Result<Self> {
        if let QueueBackend::Sqlite(path, _) = backend
            && !tokio::fs::try_exists(path).await.unwrap_or(false)
        {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            return Err(anyhow!(
                "the order queue {} does not exist: run `axia init` to create it ([queue] sqlite_path)",
                shown.display()
            ));
        }
        Self::connect(backend).await
    }

    /// Checks that the queue is there without changing it: the SQLite file was opened by
    /// [`Queue::open`]; SQS: both queues are looked up (`GetQueueUrl`).
    ///
    /// # Errors
    /// A missing queue or DLQ, or SQS unreachable; the message names what to check.
    pub async fn check(&self) -> anyhow::Result<()> {
        if let Some(sqs) = &self.sqs {
            let settings = sqs.settings();
            sqs.check_queues()
                .await
                .map_err(|e| anyhow!("the SQS queue {} or its DLQ {}: {e}", settings.queue_name, settings.dlq_name))?;
        }
        Ok(())
    }

    /// Opens the queue, creating the SQLite file (and its directory), or the SQS queue and its
    /// DLQ with the redrive policy, when missing. Idempotent.
    ///
    /// # Errors
    /// The queue cannot be created; the message names what to check.
    pub async fn create(backend: &QueueBackend) -> anyhow::Result<(Self, QueueCreated)> {
        match backend {
            QueueBackend::Sqlite(path, _) => {
                let existed = tokio::fs::try_exists(path).await.unwrap_or(false);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir).await.map_err(|e| {
                        anyhow!("cannot create the directory of the order queue {}: {e}", path.display())
                    })?;
                }
                let queue = Self::connect(backend).await?;
                Ok((queue, QueueCreated { queue: !existed, dlq: !existed }))
            }
            QueueBackend::Sqs(settings) => {
                let queue = Self::connect(backend).await?;
                let sqs = queue.sqs.as_ref().unwrap_or_else(|| unreachable!("an SQS queue"));
                let setup = sqs.ensure_queues().await.map_err(|e| {
                    anyhow!(
                        "cannot set up the SQS queue {} and its DLQ {}: {e}",
                        settings.queue_name,
                        settings.dlq_name
                    )
                })?;
                Ok((queue, QueueCreated { queue: setup.created_queue, dlq: setup.created_dlq }))
            }
        }
    }

    async fn connect(backend: &QueueBackend) -> anyhow::Result<Self> {
        match backend {
            QueueBackend::Sqlite(path, settings) => {
                let absolute = absolute(path);
                let queue = SqliteOrderQueue::open(&absolute)
                    .await
                    .map_err(|e| anyhow!("cannot open the order queue ([queue] sqlite_path): {e}"))?
                    .with_settings(*settings);
                Ok(Self { location: format!("sqlite://{}", absolute.display()), admin: Arc::new(queue), sqs: None })
            }
            QueueBackend::Sqs(settings) => {
                let queue = Arc::new(
                    SqsOrderQueue::new(settings.clone())
                        .await
                        .map_err(|e| anyhow!("[queue] sqs_queue_name {}: {e}", settings.queue_name))?,
                );
                Ok(Self {
                    location: format!("sqs://{}", settings.queue_name),
                    admin: Arc::clone(&queue) as Arc<dyn QueueAdmin>,
                    sqs: Some(queue),
                })
            }
        }
    }
}

fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The event publisher of `[events]`.
#[derive(Debug, Clone)]
pub struct Events {
    /// `log` or `sns://topic`.
    pub location: String,
    /// The publisher.
    pub publisher: Arc<dyn EventPublisher>,
    sns: Option<Arc<SnsEventPublisher>>,
}

impl Events {
    /// Builds the publisher; SNS is not contacted yet.
    ///
    /// # Errors
    /// The SNS client cannot be built (no region).
    pub async fn open(backend: &EventsBackend) -> anyhow::Result<Self> {
        match backend {
            EventsBackend::Log => {
                Ok(Self { location: "log".into(), publisher: Arc::new(LogEventPublisher::new()), sns: None })
            }
            EventsBackend::Sns(settings) => {
                let sns = Arc::new(
                    SnsEventPublisher::new(settings.clone())
                        .await
                        .map_err(|e| anyhow!("[events] sns_topic_name {}: {e}", settings.topic_name))?,
                );
                Ok(Self {
                    location: format!("sns://{}", settings.topic_name),
                    publisher: Arc::clone(&sns) as Arc<dyn EventPublisher>,
                    sns: Some(sns),
                })
            }
        }
    }

    /// Checks that the SNS topic exists without creating it; the log needs nothing.
    ///
    /// # Errors
    /// The topic is missing, or SNS cannot be reached or refuses.
    pub async fn check(&self) -> anyhow::Result<()> {
        match &self.sns {
            Some(sns) => sns.check_topic().await.map_err(|e| anyhow!("the SNS topic {}: {e}", self.location)),
            None => Ok(()),
        }
    }

    /// Creates the SNS topic when missing; `None` for the log (nothing to create).
    ///
    /// # Errors
    /// SNS cannot be reached or refuses.
    pub async fn ensure(&self) -> anyhow::Result<Option<bool>> {
        match &self.sns {
            Some(sns) => sns
                .ensure_topic()
                .await
                .map(Some)
                .map_err(|e| anyhow!("cannot set up the SNS topic {}: {e}", self.location)),
            None => Ok(None),
        }
    }
}
