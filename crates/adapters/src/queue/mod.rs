//! The order request queue ([`OrderQueue`]) over Amazon SQS and over an embedded SQLite file
//! (ADR 0011).
//!
//! Both adapters give the same at-least-once semantics:
//! - a received message is invisible to other receivers for the visibility timeout, then comes
//!   back with its receive count raised by one, unless it was deleted or its visibility extended;
//! - every delivery carries a fresh receipt; the receipt of an earlier delivery is stale;
//! - a message received `max_receive_count` times moves to the dead-letter queue on the next
//!   receive (SQS redrive policy), and [`OrderQueue::dead_letter`] moves one at once with a reason;
//! - bodies are non-empty text of at most [`MAX_MESSAGE_BYTES`] in the characters SQS accepts.
//!
//! A message may still be delivered twice (SQS standard queues promise at-least-once), so the
//! consumer is idempotent by the order's client order id.
//!
//! [`QueueAdmin`] adds what operators and tests need beyond the port: the depth of the queue
//! and the dead letters with their reasons.

mod sqlite;
mod sqs;
mod sqs_wire;

pub use sqlite::{SqliteOrderQueue, SqliteQueueSettings};
pub use sqs::{SqsOrderQueue, SqsSettings};

use async_trait::async_trait;
use axia_domain::ports::{OrderQueue, QueueError};
use chrono::{DateTime, Utc};

/// The largest message body, in bytes (the classic SQS limit).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Message attribute (SQS) holding why a message was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "axia-dead-letter-reason";
/// Message attribute (SQS) holding the id the message had in the main queue.
pub const ORIGINAL_ID_ATTRIBUTE: &str = "axia-original-message-id";
/// Message attribute (SQS) holding how often the message had been received.
pub const RECEIVE_COUNT_ATTRIBUTE: &str = "axia-receive-count";

/// How many messages a queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted, invisible until their visibility timeout ends.
    pub in_flight: u64,
    /// In the dead-letter queue.
    pub dead: u64,
}

/// A message in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The id the message had in the main queue (when known).
    pub original_id: Option<String>,
    /// The payload.
    pub body: String,
    /// Why it was dead-lettered: the reason given to [`OrderQueue::dead_letter`], or a note that
    /// it was received too often; `None` when the server moved it without one (SQS redrive).
    pub reason: Option<String>,
    /// How often it had been received in the main queue (when known).
    pub receive_count: Option<u32>,
    /// When it was dead-lettered (when known).
    pub dead_lettered_at: Option<DateTime<Utc>>,
}

/// What [`SqsOrderQueue::ensure_queues`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSetup {
    /// The queue did not exist and was created.
    pub created_queue: bool,
    /// The dead-letter queue did not exist and was created.
    pub created_dlq: bool,
}

/// Inspection of a queue beyond the port, for operators (`axia` status commands) and tests.
#[async_trait]
pub trait QueueAdmin: OrderQueue {
    /// How many messages are visible, in flight and dead (SQS: approximate counts).
    ///
    /// # Errors
    /// [`QueueError::NotFound`] when the queue or its DLQ is missing; [`QueueError::Unavailable`].
    async fn depth(&self) -> Result<QueueDepth, QueueError>;

    /// Up to `limit` dead letters, oldest first where the backend knows the order. The dead
    /// letters stay where they are.
    ///
    /// # Errors
    /// [`QueueError::NotFound`] when the DLQ is missing; [`QueueError::Unavailable`].
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError>;
}

/// Checks a body against the SQS rules (non-empty, at most [`MAX_MESSAGE_BYTES`], only the
/// characters SQS accepts), so that both adapters refuse the same messages.
///
/// # Errors
/// [`QueueError::Invalid`] saying what is wrong.
pub fn validate_body(body: &str) -> Result<(), QueueError> {
    if body.is_empty() {
        return Err(QueueError::Invalid { detail: "the message body is empty".into() });
    }
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(QueueError::Invalid {
            detail: format!("the message body has {} bytes, more than the limit of {MAX_MESSAGE_BYTES}", body.len()),
        });
    }
    // SQS allows #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
    let allowed =
        |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}') || c >= '\u{10000}';
    if let Some((at, c)) = body.char_indices().find(|&(_, c)| !allowed(c)) {
        return Err(QueueError::Invalid {
            detail: format!("the message body holds the character U+{:04X} at byte {at}, which SQS refuses", c as u32),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("{\"a\":1}", true)]
    #[case::tabs_and_newlines("a\tb\r\nc", true)]
    #[case::unicode("prix: 1,08 € 🚀", true)]
    #[case::empty("", false)]
    #[case::control("a\u{1}b", false)]
    #[case::nul("a\0b", false)]
    #[case::noncharacter("\u{FFFE}", false)]
    fn bodies_follow_the_sqs_rules(#[case] body: &str, #[case] ok: bool) {
        assert_eq!(validate_body(body).is_ok(), ok, "{body:?}");
    }

    #[test]
    fn size_limit_is_inclusive() {
        assert!(validate_body(&"x".repeat(MAX_MESSAGE_BYTES)).is_ok());
        let err = validate_body(&"x".repeat(MAX_MESSAGE_BYTES + 1)).unwrap_err();
        assert!(matches!(err, QueueError::Invalid { .. }), "{err:?}");
    }
}
