//! Publishing system events (SNS, or the log).

use std::fmt::Debug;

use async_trait::async_trait;

use crate::events::SystemEvent;
use crate::ports::errors::PublishError;

/// Publishes system events.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send + Sync + Debug {
    /// Publishes one event.
    ///
    /// # Errors
    /// [`PublishError::Unavailable`] (retryable), [`PublishError::Misconfigured`].
    async fn publish(&self, event: &SystemEvent) -> Result<(), PublishError>;
}
