//! An [`EventPublisher`] over an Amazon SNS topic (or any server that speaks the SNS API, such as
//! the local test server).
//!
//! Each event is one `Publish` of its JSON with the message attribute `type` = the event kind.
//! The topic ARN is read from the server (`ListTopics`) on first use and cached, unless the
//! settings give it; a missing topic is [`PublishError::Misconfigured`] naming `axia init`.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use axia_domain::SystemEvent;
use axia_domain::ports::{EventPublisher, PublishError};

use super::TYPE_ATTRIBUTE;
use crate::aws::{self, SdkFailure, Transport, chain};

/// Where the topic is; credentials come from the AWS default chain, never from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsSettings {
    /// The topic name.
    pub topic_name: String,
    /// The topic ARN when known (publishing then needs no `sns:ListTopics`).
    pub topic_arn: Option<String>,
    /// AWS region; `None` takes the default chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Another endpoint than AWS (a local test server).
    pub endpoint_url: Option<String>,
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// Longest time of one operation, retries included.
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included (0 counts as 1).
    pub max_attempts: u32,
}

impl SnsSettings {
    /// Settings for `topic_name`: default region and endpoint, a 3.1 s connect timeout, a 10 s
    /// operation timeout and 3 attempts.
    #[must_use]
    pub fn new(topic_name: impl Into<String>) -> Self {
        Self {
            topic_name: topic_name.into(),
            topic_arn: None,
            region: None,
            endpoint_url: None,
            connect_timeout: Duration::from_millis(3100),
            operation_timeout: Duration::from_secs(10),
            max_attempts: 3,
        }
    }
}

/// Publishes system events to an SNS topic (see the [module documentation](self)).
#[derive(Debug)]
pub struct SnsEventPublisher {
    client: Client,
    topic_name: String,
    endpoint: String,
    topic_arn: Mutex<Option<String>>,
}

impl SnsEventPublisher {
    /// Loads the AWS configuration (the default chain, overridden by `settings`) and builds the
    /// publisher. Nothing is sent yet.
    ///
    /// # Errors
    /// [`PublishError::Misconfigured`] without a topic name or a region.
    pub async fn new(settings: SnsSettings) -> Result<Self, PublishError> {
        if settings.topic_name.is_empty() {
            return Err(PublishError::Misconfigured { detail: "no SNS topic name is configured".into() });
        }
        let sdk_config = aws::sdk_config(&aws::client_settings!(settings)).await;
        let Some(region) = sdk_config.region().map(ToString::to_string) else {
            return Err(PublishError::Misconfigured {
                detail: format!(
                    "no AWS region for topic {}: set the region in the events settings or AWS_REGION",
                    settings.topic_name
                ),
            });
        };
        let endpoint = settings.endpoint_url.unwrap_or_else(|| format!("https://sns.{region}.amazonaws.com"));
        Ok(Self {
            client: Client::new(&sdk_config),
            topic_name: settings.topic_name,
            endpoint,
            topic_arn: Mutex::new(settings.topic_arn),
        })
    }

    /// Creates the topic when it does not exist; returns whether it was created. Idempotent
    /// (`CreateTopic` returns the existing topic). Used by `axia init`.
    ///
    /// # Errors
    /// [`PublishError::Unavailable`] when SNS cannot be reached; [`PublishError::Misconfigured`]
    /// when it refuses.
    pub async fn ensure_topic(&self) -> Result<bool, PublishError> {
        let existed = self.find_topic().await?.is_some();
        let out =
            self.client.create_topic().name(&self.topic_name).send().await.map_err(|e| self.map_err(&e, "create"))?;
        if let Some(arn) = out.topic_arn {
            *self.topic_arn.lock().unwrap_or_else(PoisonError::into_inner) = Some(arn);
        }
        Ok(!existed)
    }

    /// Checks that the topic exists (`ListTopics`, nothing written). Used by `axia config check`.
    ///
    /// # Errors
    /// [`PublishError::Misconfigured`] when the topic is missing or SNS refuses;
    /// [`PublishError::Unavailable`] when SNS cannot be reached.
    pub async fn check_topic(&self) -> Result<(), PublishError> {
        self.find_topic().await?.map(|_| ()).ok_or_else(|| self.missing())
    }

    /// Subscribes an SQS queue (by its ARN) to the topic; with `raw` the queue receives the event
    /// JSON itself, else the SNS envelope (which carries the `type` attribute). Returns the
    /// subscription ARN. On AWS the queue's policy must also allow `sns.amazonaws.com` to send.
    ///
    /// # Errors
    /// [`PublishError::Misconfigured`] when the topic is missing or SNS refuses;
    /// [`PublishError::Unavailable`].
    pub async fn subscribe_sqs(&self, queue_arn: &str, raw: bool) -> Result<String, PublishError> {
        let topic = self.arn().await?;
        let out = self
            .client
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", raw.to_string())
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| self.map_err(&e, "subscribe to"))?;
        Ok(out.subscription_arn.unwrap_or_default())
    }

    /// The topic's ARN, as the server lists it.
    async fn find_topic(&self) -> Result<Option<String>, PublishError> {
        let suffix = format!(":{}", self.topic_name);
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_topics()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.map_err(&e, "list the topics for"))?;
            if let Some(arn) = out.topics().iter().filter_map(|t| t.topic_arn()).find(|arn| arn.ends_with(&suffix)) {
                return Ok(Some(arn.to_string()));
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(None),
            }
        }
    }

    /// The topic's ARN, from the cache or the server.
    async fn arn(&self) -> Result<String, PublishError> {
        if let Some(arn) = self.topic_arn.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return Ok(arn);
        }
        let arn = self.find_topic().await?.ok_or_else(|| self.missing())?;
        *self.topic_arn.lock().unwrap_or_else(PoisonError::into_inner) = Some(arn.clone());
        Ok(arn)
    }

    fn missing(&self) -> PublishError {
        PublishError::Misconfigured {
            detail: format!(
                "the SNS topic {} does not exist at {}: create it with `axia init`, or check the topic name and \
                 region in the events settings",
                self.topic_name, self.endpoint
            ),
        }
    }

    fn map_err<E>(&self, err: &SdkError<E, HttpResponse>, verb: &str) -> PublishError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        tracing::debug!(topic = %self.topic_name, verb, error = %DisplayErrorContext(err), "SNS request failed");
        let (topic, endpoint) = (&self.topic_name, &self.endpoint);
        let detail = chain(err);
        let (status, code) = match aws::classify(err) {
            SdkFailure::Answer { status, code, .. } => (status, code.unwrap_or_default()),
            SdkFailure::Transport(Transport::NotBuilt(_)) => {
                return PublishError::Misconfigured {
                    detail: format!("cannot build the SNS request for {topic}: {detail}"),
                };
            }
            SdkFailure::Transport(Transport::NoCredentials(_) | Transport::NotSent(_)) => {
                return PublishError::Misconfigured {
                    detail: format!("cannot send the SNS request for {topic}: {detail}"),
                };
            }
            SdkFailure::Transport(_) => {
                return PublishError::Unavailable {
                    detail: format!("cannot reach SNS at {endpoint} to {verb} {topic}: {detail}"),
                };
            }
        };
        match code {
            "NotFound" | "NotFoundException" => {
                // Deleted since its ARN was cached: look it up again next time.
                *self.topic_arn.lock().unwrap_or_else(PoisonError::into_inner) = None;
                self.missing()
            }
            "Throttled"
            | "ThrottlingException"
            | "InternalError"
            | "InternalErrorException"
            | "KMSThrottling"
            | "KMSThrottlingException" => PublishError::Unavailable {
                detail: format!("SNS at {endpoint} failed to {verb} {topic}, try again later: {detail}"),
            },
            _ if matches!(status, 408 | 429 | 500..=599) => PublishError::Unavailable {
                detail: format!("SNS at {endpoint} failed to {verb} {topic}, try again later: {detail}"),
            },
            _ => PublishError::Misconfigured {
                detail: format!(
                    "SNS at {endpoint} refused to {verb} {topic}: check the AWS credentials, their sns:* \
                     permissions and the region ({detail})"
                ),
            },
        }
    }
}

#[async_trait]
impl EventPublisher for SnsEventPublisher {
    async fn publish(&self, event: &SystemEvent) -> Result<(), PublishError> {
        let json = serde_json::to_string(event).map_err(|e| PublishError::Misconfigured {
            detail: format!("the {} event cannot be encoded: {e}", event.kind()),
        })?;
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event.kind())
            .build()
            .map_err(|e| PublishError::Misconfigured { detail: format!("the event attribute: {e}") })?;
        let topic = self.arn().await?;
        self.client
            .publish()
            .topic_arn(topic)
            .message(json)
            .message_attributes(TYPE_ATTRIBUTE, kind)
            .send()
            .await
            .map_err(|e| self.map_err(&e, "publish to"))?;
        Ok(())
    }
}
