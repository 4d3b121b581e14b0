//! An [`OrderQueue`] over an Amazon SQS standard queue and its dead-letter queue (or any server
//! that speaks the SQS API, such as the local test server).
//!
//! - Receives long-poll (up to 20 s, batches of up to 10) with the configured visibility timeout
//!   and report `ApproximateReceiveCount`; `extend` is `ChangeMessageVisibility`.
//! - [`OrderQueue::dead_letter`] first re-hides the message (which checks the receipt), then sends
//!   the body to the DLQ with the reason, the original message id and the receive count as
//!   message attributes, then deletes it from the queue: a failure in between leaves a copy in
//!   both queues, never in neither.
//! - A message received `max_receive_count` times moves to the DLQ by the queue's redrive policy,
//!   which [`SqsOrderQueue::ensure_queues`] (`axia init`) sets.
//! - Queue URLs are resolved on first use and cached; ARNs are always read from the server.
//! - SDK errors never leave this module: `Failure` classifies them.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use axia_domain::ports::{OrderQueue, QueueError, QueueMessage};

use super::sqs_wire::{Failure, secs, string_attribute, to_dead_letter, to_port};
use super::{
    DeadLetter, ORIGINAL_ID_ATTRIBUTE, QueueAdmin, QueueDepth, QueueSetup, REASON_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE,
    validate_body,
};
use crate::aws::{self, AwsFailure as _};

/// The longest long-poll SQS allows.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// The most messages one receive returns.
const MAX_BATCH: usize = 10;
/// The longest visibility timeout SQS allows (12 h).
const MAX_VISIBILITY_SECS: i32 = 43_200;
/// Longest dead-letter reason kept in the message attribute (attributes count towards the size).
const MAX_REASON_CHARS: usize = 1_000;
/// How long [`QueueAdmin::dead_letters`] hides the dead letters it is reading.
const PEEK_VISIBILITY_SECS: i32 = 30;

/// Where the queues are and how they behave; credentials come from the AWS default chain (env,
/// profile, SSO, instance or task role), never from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSettings {
    /// The order request queue.
    pub queue_name: String,
    /// Its dead-letter queue.
    pub dlq_name: String,
    /// AWS region; `None` takes the default chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Another endpoint than AWS (a local test server).
    pub endpoint_url: Option<String>,
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// Longest time of one operation, retries included (a long-poll receive is given its wait
    /// on top of this).
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included (0 counts as 1).
    pub max_attempts: u32,
    /// How long a received message stays invisible (whole seconds, rounded up; at most 12 h).
    pub visibility_timeout: Duration,
    /// Receives after which SQS moves a message to the DLQ (the redrive policy).
    pub max_receive_count: u32,
    /// How long the queue keeps an unreceived message (clamped to what SQS allows: 60 s to 14
    /// days).
    pub message_retention: Duration,
}

impl SqsSettings {
    /// Settings for `queue_name` with the DLQ `<queue_name>-dlq`, default region and endpoint, a
    /// 3.1 s connect timeout, a 30 s operation timeout, 3 attempts, a 60 s visibility timeout,
    /// redrive after 5 receives and a 4-day retention.
    #[must_use]
    pub fn new(queue_name: impl Into<String>) -> Self {
        let queue_name = queue_name.into();
        Self {
            dlq_name: format!("{queue_name}-dlq"),
            queue_name,
            region: None,
            endpoint_url: None,
            connect_timeout: Duration::from_millis(3100),
            operation_timeout: Duration::from_secs(30),
            max_attempts: 3,
            visibility_timeout: Duration::from_secs(60),
            max_receive_count: 5,
            message_retention: Duration::from_secs(4 * 24 * 3600),
        }
    }
}

/// The order queue on SQS (see the [module documentation](self)).
#[derive(Debug)]
pub struct SqsOrderQueue {
    client: Client,
    settings: SqsSettings,
    /// The endpoint as messages name it.
    endpoint: String,
    queue_url: Mutex<Option<String>>,
    dlq_url: Mutex<Option<String>>,
}

/// Which of the two queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Main,
    Dead,
}

impl SqsOrderQueue {
    /// Loads the AWS configuration (the default chain, overridden by `settings`) and builds the
    /// queue client. Nothing is sent yet: the queue URLs are resolved on first use.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] without a queue name or a region.
    pub async fn new(settings: SqsSettings) -> Result<Self, QueueError> {
        if settings.queue_name.is_empty() || settings.dlq_name.is_empty() {
            return Err(QueueError::Unavailable { detail: "no SQS queue or DLQ name is configured".into() });
        }
        let sdk_config = aws::sdk_config(&aws::client_settings!(settings)).await;
        let Some(region) = sdk_config.region().map(ToString::to_string) else {
            return Err(QueueError::Unavailable {
                detail: format!(
                    "no AWS region for queue {}: set the region in the queue settings or AWS_REGION",
                    settings.queue_name
                ),
            });
        };
        let endpoint = settings.endpoint_url.clone().unwrap_or_else(|| format!("https://sqs.{region}.amazonaws.com"));
        Ok(Self {
            client: Client::new(&sdk_config),
            settings,
            endpoint,
            queue_url: Mutex::new(None),
            dlq_url: Mutex::new(None),
        })
    }

    /// The settings in use.
    #[must_use]
    pub const fn settings(&self) -> &SqsSettings {
        &self.settings
    }

    /// Checks that the queue and its DLQ exist (`GetQueueUrl` of each, nothing written). Used by
    /// `axia config check`.
    ///
    /// # Errors
    /// [`QueueError::NotFound`] naming the missing queue; [`QueueError::Unavailable`] when SQS
    /// cannot be reached or refuses.
    pub async fn check_queues(&self) -> Result<(), QueueError> {
        self.url(Which::Main).await?;
        self.url(Which::Dead).await?;
        Ok(())
    }

    /// Creates the DLQ and the queue when missing, and (re)sets the queue's visibility timeout,
    /// retention and redrive policy; idempotent. Used by `axia init`.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when SQS cannot be reached or refuses.
    pub async fn ensure_queues(&self) -> Result<QueueSetup, QueueError> {
        let dlq_retention = "1209600"; // 14 days, the SQS maximum: time for operators to look.
        let (dlq_url, created_dlq) =
            self.ensure_one(Which::Dead, &[(QueueAttributeName::MessageRetentionPeriod, dlq_retention.into())]).await?;
        let dlq_arn = self.attribute(&dlq_url, QueueAttributeName::QueueArn, Which::Dead).await?.ok_or_else(|| {
            QueueError::Unavailable { detail: format!("SQS at {} did not report the DLQ's ARN", self.endpoint) }
        })?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": self.settings.max_receive_count.max(1).to_string(),
        });
        let attributes = [
            (
                QueueAttributeName::VisibilityTimeout,
                secs(self.settings.visibility_timeout, MAX_VISIBILITY_SECS).to_string(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                self.settings.message_retention.as_secs().clamp(60, 1_209_600).to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ];
        let (url, created_queue) = self.ensure_one(Which::Main, &attributes).await?;
        if !created_queue {
            let mut set = self.client.set_queue_attributes().queue_url(&url);
            for (k, v) in attributes {
                set = set.attributes(k, v);
            }
            set.send().await.map_err(|e| self.map_err(&e, "configure", Which::Main))?;
        }
        Ok(QueueSetup { created_queue, created_dlq })
    }

    /// The ARN of the order queue, read from the server (to subscribe it to a topic, or for
    /// policies).
    ///
    /// # Errors
    /// [`QueueError::NotFound`]; [`QueueError::Unavailable`].
    pub async fn queue_arn(&self) -> Result<String, QueueError> {
        let url = self.url(Which::Main).await?;
        self.attribute(&url, QueueAttributeName::QueueArn, Which::Main).await?.ok_or_else(|| QueueError::Unavailable {
            detail: format!("SQS at {} did not report the queue's ARN", self.endpoint),
        })
    }

    /// Finds or creates one queue; returns its URL and whether it was created.
    async fn ensure_one(
        &self,
        which: Which,
        attributes: &[(QueueAttributeName, String)],
    ) -> Result<(String, bool), QueueError> {
        match self.url(which).await {
            Ok(url) => return Ok((url, false)),
            Err(QueueError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let mut create = self.client.create_queue().queue_name(self.name(which));
        for (k, v) in attributes {
            create = create.attributes(k.clone(), v);
        }
        match create.send().await {
            Ok(out) => {
                let url = out.queue_url().map(ToString::to_string).ok_or_else(|| QueueError::Unavailable {
                    detail: format!("SQS at {} created {} without a URL", self.endpoint, self.name(which)),
                })?;
                *self.cache(which).lock().unwrap_or_else(PoisonError::into_inner) = Some(url.clone());
                Ok((url, true))
            }
            // Created by a concurrent `init` with other attributes: the caller sets them.
            Err(e) if matches!(Failure::classify(&e), Failure::AlreadyExists) => Ok((self.url(which).await?, false)),
            Err(e) => Err(self.map_err(&e, "create", which)),
        }
    }

    fn name(&self, which: Which) -> &str {
        match which {
            Which::Main => &self.settings.queue_name,
            Which::Dead => &self.settings.dlq_name,
        }
    }

    const fn cache(&self, which: Which) -> &Mutex<Option<String>> {
        match which {
            Which::Main => &self.queue_url,
            Which::Dead => &self.dlq_url,
        }
    }

    /// The queue's URL, from the cache or the server.
    async fn url(&self, which: Which) -> Result<String, QueueError> {
        if let Some(url) = self.cache(which).lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return Ok(url);
        }
        let out = self
            .client
            .get_queue_url()
            .queue_name(self.name(which))
            .send()
            .await
            .map_err(|e| self.map_err(&e, "look up", which))?;
        let url = out.queue_url().map(ToString::to_string).ok_or_else(|| QueueError::Unavailable {
            detail: format!("SQS at {} answered without the URL of {}", self.endpoint, self.name(which)),
        })?;
        *self.cache(which).lock().unwrap_or_else(PoisonError::into_inner) = Some(url.clone());
        Ok(url)
    }

    async fn attribute(&self, url: &str, name: QueueAttributeName, which: Which) -> Result<Option<String>, QueueError> {
        Ok(self.attributes(url, std::slice::from_ref(&name), which).await?.remove(&name))
    }

    async fn attributes(
        &self,
        url: &str,
        names: &[QueueAttributeName],
        which: Which,
    ) -> Result<std::collections::HashMap<QueueAttributeName, String>, QueueError> {
        let mut get = self.client.get_queue_attributes().queue_url(url);
        for n in names {
            get = get.attribute_names(n.clone());
        }
        let out = get.send().await.map_err(|e| self.map_err(&e, "read the attributes of", which))?;
        Ok(out.attributes().cloned().unwrap_or_default())
    }

    /// One receive call on `which`, long-polling up to `wait`.
    async fn receive_from(
        &self,
        which: Which,
        max: usize,
        wait: Duration,
        visibility_secs: i32,
        with_attributes: bool,
    ) -> Result<Vec<Message>, QueueError> {
        use aws_config::timeout::TimeoutConfig;

        let url = self.url(which).await?;
        let wait = wait.min(MAX_WAIT);
        let wait_secs = secs(wait, 20);
        // The long poll must not count against the operation timeout.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(self.settings.connect_timeout)
            .operation_timeout(
                self.settings.operation_timeout + Duration::from_secs(u64::from(wait_secs.unsigned_abs())),
            )
            .build();
        let mut request = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(10))
            .wait_time_seconds(wait_secs)
            .visibility_timeout(visibility_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount);
        if with_attributes {
            request = request
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .message_attribute_names("All");
        }
        let out = request
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| self.map_err(&e, "receive from", which))?;
        Ok(out.messages.unwrap_or_default())
    }

    fn map_err<E>(&self, err: &SdkError<E, HttpResponse>, verb: &str, which: Which) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        tracing::debug!(queue = self.name(which), verb, error = %DisplayErrorContext(err), "SQS request failed");
        let name = self.name(which).to_string();
        let endpoint = &self.endpoint;
        match Failure::classify(err) {
            Failure::NoQueue => {
                // The queue may have been deleted since its URL was cached.
                *self.cache(which).lock().unwrap_or_else(PoisonError::into_inner) = None;
                QueueError::NotFound { queue: format!("{name} at {endpoint}") }
            }
            Failure::StaleReceipt(d) => QueueError::StaleReceipt {
                detail: format!("cannot {verb} the message in {name}: its receipt is no longer valid ({d})"),
            },
            Failure::InvalidMessage(d) => {
                QueueError::Invalid { detail: format!("SQS refused the message for {name}: {d}") }
            }
            Failure::AlreadyExists => QueueError::Unavailable {
                detail: format!("the queue {name} exists at {endpoint} with other attributes"),
            },
            Failure::Transient(d) => QueueError::Unavailable {
                detail: format!("SQS at {endpoint} failed to {verb} {name}, try again later: {d}"),
            },
            Failure::Refused(d) => QueueError::Unavailable {
                detail: format!(
                    "SQS at {endpoint} refused to {verb} {name}: check the AWS credentials (AWS_PROFILE, \
                     AWS_ACCESS_KEY_ID or the role), their sqs:* permissions and the region ({d})"
                ),
            },
        }
    }
}

#[async_trait]
impl OrderQueue for SqsOrderQueue {
    async fn send(&self, body: &str) -> Result<String, QueueError> {
        validate_body(body)?;
        let url = self.url(Which::Main).await?;
        let out = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| self.map_err(&e, "send to", Which::Main))?;
        Ok(out.message_id.unwrap_or_default())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let visibility = secs(self.settings.visibility_timeout, MAX_VISIBILITY_SECS);
        let messages = self.receive_from(Which::Main, max, wait, visibility, false).await?;
        Ok(messages.into_iter().map(to_port).collect())
    }

    async fn extend(&self, message: &QueueMessage, by: Duration) -> Result<(), QueueError> {
        let url = self.url(Which::Main).await?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(secs(by, MAX_VISIBILITY_SECS))
            .send()
            .await
            .map_err(|e| self.map_err(&e, "extend", Which::Main))?;
        Ok(())
    }

    async fn delete(&self, message: &QueueMessage) -> Result<(), QueueError> {
        let url = self.url(Which::Main).await?;
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(|e| self.map_err(&e, "delete", Which::Main))?;
        Ok(())
    }

    async fn dead_letter(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError> {
        // Checks the receipt, and keeps the message hidden while it is copied.
        self.extend(message, self.settings.visibility_timeout.max(Duration::from_secs(30))).await?;
        let dlq = self.url(Which::Dead).await?;
        let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
        self.client
            .send_message()
            .queue_url(dlq)
            .message_body(&message.body)
            .message_attributes(
                REASON_ATTRIBUTE,
                string_attribute(if reason.is_empty() { "(none)".into() } else { reason }),
            )
            .message_attributes(ORIGINAL_ID_ATTRIBUTE, string_attribute(&message.id))
            .message_attributes(RECEIVE_COUNT_ATTRIBUTE, string_attribute(message.receive_count.to_string()))
            .send()
            .await
            .map_err(|e| self.map_err(&e, "dead-letter to", Which::Dead))?;
        self.delete(message).await
    }
}

#[async_trait]
impl QueueAdmin for SqsOrderQueue {
    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ];
        let count = |a: &std::collections::HashMap<QueueAttributeName, String>, n: &QueueAttributeName| {
            a.get(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or_default()
        };
        let main = self.attributes(&self.url(Which::Main).await?, &names, Which::Main).await?;
        let dead = self.attributes(&self.url(Which::Dead).await?, &names, Which::Dead).await?;
        Ok(QueueDepth {
            visible: count(&main, &names[0]),
            in_flight: count(&main, &names[1]),
            dead: count(&dead, &names[0]) + count(&dead, &names[1]),
        })
    }

    /// SQS cannot peek: the dead letters are received (hidden for 30 s while reading) and made
    /// visible again at once. Dead letters another reader holds are not listed.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut seen = std::collections::HashSet::new();
        let mut held = Vec::new();
        let mut out = Vec::new();
        while out.len() < limit {
            let want = (limit - out.len()).min(MAX_BATCH);
            let page = self.receive_from(Which::Dead, want, Duration::from_secs(1), PEEK_VISIBILITY_SECS, true).await?;
            if page.is_empty() {
                break;
            }
            for m in page {
                if let Some(receipt) = m.receipt_handle.clone() {
                    held.push(receipt);
                }
                if seen.insert(m.message_id.clone()) && out.len() < limit {
                    out.push(to_dead_letter(&m));
                }
            }
        }
        let url = self.url(Which::Dead).await?;
        for chunk in held.chunks(MAX_BATCH) {
            let mut release = self.client.change_message_visibility_batch().queue_url(&url);
            for (i, receipt) in chunk.iter().enumerate() {
                let entry = ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .build()
                    .unwrap_or_else(|_| unreachable!("id and receipt are set"));
                release = release.entries(entry);
            }
            // Not releasing only delays the dead letters' next listing by the peek's visibility.
            if let Err(e) = release.send().await {
                tracing::warn!(queue = %self.settings.dlq_name, error = %DisplayErrorContext(&e), "could not release the dead letters read");
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let s = SqsSettings::new("orders");
        assert_eq!(s.dlq_name, "orders-dlq");
        assert_eq!(s.visibility_timeout, Duration::from_secs(60));
        assert_eq!(s.max_receive_count, 5);
        assert_eq!(s.message_retention, Duration::from_secs(345_600));
    }
}
