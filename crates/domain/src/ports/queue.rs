//! The order request queue (SQS or the embedded SQLite queue).

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::errors::QueueError;

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The queue's message id.
    pub id: String,
    /// Handle for delete / extend / dead-letter.
    pub receipt: String,
    /// The payload.
    pub body: String,
    /// How many times it has been received (1 on the first delivery).
    pub receive_count: u32,
}

/// A queue with visibility timeouts (at-least-once delivery).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderQueue: Send + Sync + Debug {
    /// Sends a message; returns its id.
    ///
    /// # Errors
    /// [`QueueError::Invalid`] when too large; [`QueueError::Unavailable`]; [`QueueError::NotFound`].
    async fn send(&self, body: &str) -> Result<String, QueueError>;

    /// Receives up to `max` messages, waiting up to `wait` for the first; received messages are
    /// invisible to other receivers for the visibility timeout.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`]; [`QueueError::NotFound`].
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<QueueMessage>, QueueError>;

    /// Extends the invisibility of a message in flight.
    ///
    /// # Errors
    /// [`QueueError::StaleReceipt`] when the message was redelivered or deleted.
    async fn extend(&self, message: &QueueMessage, by: Duration) -> Result<(), QueueError>;

    /// Deletes a processed message.
    ///
    /// # Errors
    /// [`QueueError::StaleReceipt`], [`QueueError::Unavailable`].
    async fn delete(&self, message: &QueueMessage) -> Result<(), QueueError>;

    /// Moves a message to the dead-letter queue at once, with the reason.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`], [`QueueError::NotFound`] (no DLQ configured).
    async fn dead_letter(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError>;
}
