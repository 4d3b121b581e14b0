//! The boundary between SQS's wire types and the port's: what an SQS error means (the SDK's
//! errors are classified here and never leave the adapter), messages and dead letters, seconds.

use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use axia_domain::ports::QueueMessage;
use chrono::DateTime;

use super::{DeadLetter, ORIGINAL_ID_ATTRIBUTE, REASON_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE};
use crate::aws::{AwsFailure, Transport};

/// What an SDK error means, with the detail to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    NoQueue,
    StaleReceipt(String),
    InvalidMessage(String),
    AlreadyExists,
    /// Throttling, 5xx, timeouts, connection failures: retrying may help.
    Transient(String),
    /// Credentials, permissions, any other 4xx: an operator must act.
    Refused(String),
}

impl AwsFailure for Failure {
    /// Classifies an error answer by its status and code (JSON protocol codes, and the
    /// query-protocol codes the SDK may report instead).
    fn from_answer(status: u16, code: Option<&str>, message: Option<&str>) -> Self {
        let code = code.unwrap_or_default();
        let message = message.unwrap_or_default();
        let detail = format!("HTTP {status} {code}: {message}");
        match code {
            "QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue" => Self::NoQueue,
            "ReceiptHandleIsInvalid" | "MessageNotInflight" | "InvalidIdFormat" => Self::StaleReceipt(detail),
            "InvalidParameterValue" if message.to_lowercase().contains("receipt") => Self::StaleReceipt(detail),
            "InvalidMessageContents" | "MessageTooLong" | "InvalidParameterValue" => Self::InvalidMessage(detail),
            "QueueNameExists" | "QueueAlreadyExists" => Self::AlreadyExists,
            "RequestThrottled"
            | "ThrottlingException"
            | "Throttling"
            | "ServiceUnavailable"
            | "InternalError"
            | "InternalFailure"
            | "KmsThrottled" => Self::Transient(detail),
            _ if matches!(status, 408 | 429 | 500..=599) => Self::Transient(detail),
            _ => Self::Refused(detail),
        }
    }

    fn from_transport(transport: Transport) -> Self {
        if transport.is_retryable() {
            Self::Transient(transport.into_detail())
        } else {
            Self::Refused(transport.into_detail())
        }
    }
}

/// Whole seconds of `d`, rounded up, at most `max`.
pub(super) fn secs(d: Duration, max: i32) -> i32 {
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(whole).unwrap_or(max).min(max)
}

pub(super) fn string_attribute(value: impl Into<String>) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap_or_else(|_| unreachable!("the data type is set"))
}

/// The port's message of an SQS message.
pub(super) fn to_port(m: Message) -> QueueMessage {
    let receive_count = m
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    QueueMessage {
        id: m.message_id.unwrap_or_default(),
        receipt: m.receipt_handle.unwrap_or_default(),
        body: m.body.unwrap_or_default(),
        receive_count,
    }
}

/// A dead letter read from the DLQ: dead-lettered by [`OrderQueue::dead_letter`] (with our
/// attributes) or moved by the redrive policy (same message id, no reason attribute).
pub(super) fn to_dead_letter(m: &Message) -> DeadLetter {
    let attribute = |name: &str| {
        m.message_attributes.as_ref().and_then(|a| a.get(name)).and_then(|v| v.string_value()).map(ToString::to_string)
    };
    let reason = attribute(REASON_ATTRIBUTE);
    let dead_lettered_at = reason.as_ref().and_then(|_| {
        m.attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
            .and_then(|ms| ms.parse().ok())
            .and_then(DateTime::from_timestamp_millis)
    });
    DeadLetter {
        original_id: attribute(ORIGINAL_ID_ATTRIBUTE).or_else(|| m.message_id.clone()),
        body: m.body.clone().unwrap_or_default(),
        reason: reason.or_else(|| Some("moved by the SQS redrive policy after maxReceiveCount receives".into())),
        receive_count: attribute(RECEIVE_COUNT_ATTRIBUTE).and_then(|n| n.parse().ok()),
        dead_lettered_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::none(Duration::ZERO, 0)]
    #[case::exact(Duration::from_secs(2), 2)]
    #[case::rounds_up(Duration::from_millis(1500), 2)]
    #[case::capped(Duration::from_secs(3600), 20)]
    fn seconds_round_up_and_cap(#[case] d: Duration, #[case] want: i32) {
        assert_eq!(secs(d, 20), want);
    }

    #[rstest]
    #[case::missing_json(400, "QueueDoesNotExist", "", Failure::NoQueue)]
    #[case::missing_query(400, "AWS.SimpleQueueService.NonExistentQueue", "", Failure::NoQueue)]
    #[case::throttled(400, "RequestThrottled", "slow down", Failure::Transient("HTTP 400 RequestThrottled: slow down".into()))]
    #[case::server(503, "", "", Failure::Transient("HTTP 503 : ".into()))]
    #[case::denied(403, "AccessDenied", "no", Failure::Refused("HTTP 403 AccessDenied: no".into()))]
    fn answers_are_classified(#[case] status: u16, #[case] code: &str, #[case] message: &str, #[case] want: Failure) {
        assert_eq!(Failure::from_answer(status, Some(code), Some(message)), want);
    }

    #[rstest]
    #[case::invalid_handle("ReceiptHandleIsInvalid", "The input receipt handle is invalid.")]
    #[case::not_in_flight("MessageNotInflight", "")]
    #[case::expired("InvalidParameterValue", "Value x for parameter ReceiptHandle is invalid. Reason: expired")]
    fn stale_receipts_are_recognised(#[case] code: &str, #[case] message: &str) {
        assert!(matches!(Failure::from_answer(400, Some(code), Some(message)), Failure::StaleReceipt(_)));
    }
}
