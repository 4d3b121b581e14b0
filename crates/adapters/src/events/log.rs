//! The embedded event publisher: one `tracing` info line per event.

use async_trait::async_trait;
use axia_domain::SystemEvent;
use axia_domain::ports::{EventPublisher, PublishError};

/// Logs every event as one `tracing` info line (target `axia::events`) with its kind and JSON;
/// never fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogEventPublisher;

impl LogEventPublisher {
    /// The publisher.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

#[async_trait]
impl EventPublisher for LogEventPublisher {
    async fn publish(&self, event: &SystemEvent) -> Result<(), PublishError> {
        // Serialising a `SystemEvent` cannot fail (string keys, no maps of other keys); the
        // debug form is logged should it ever do.
        match serde_json::to_string(event) {
            Ok(json) => tracing::info!(target: "axia::events", kind = event.kind(), event = %json, "event"),
            Err(e) => tracing::info!(target: "axia::events", kind = event.kind(), event = ?event, error = %e, "event"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[tokio::test]
    async fn never_fails() {
        let event = SystemEvent::Heartbeat { component: "test".into(), at: Utc::now() };
        assert_eq!(LogEventPublisher::new().publish(&event).await, Ok(()));
    }
}
