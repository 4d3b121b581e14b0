//! The one place where DynamoDB SDK errors become [`RepositoryError`]s: [`Failure`] classifies an
//! error, [`DynamoStateStore::port_error`] words it with what to check, and [`cancellation`]
//! reads the reasons of a cancelled transaction.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use axia_domain::ports::RepositoryError;

use super::items::Item;
use super::{BACKEND, DynamoStateStore};
use crate::aws::{self, AwsFailure, Transport};

/// A DynamoDB operation, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    GetItem,
    PutItem,
    UpdateItem,
    Query,
    TransactWrite,
    DescribeTable,
    CreateTable,
    DescribeTtl,
    UpdateTtl,
}

impl Op {
    /// The IAM action the operation needs.
    const fn action(self) -> &'static str {
        match self {
            Self::GetItem => "dynamodb:GetItem",
            Self::PutItem => "dynamodb:PutItem",
            Self::UpdateItem => "dynamodb:UpdateItem",
            Self::Query => "dynamodb:Query",
            Self::TransactWrite => "dynamodb:PutItem and dynamodb:UpdateItem (TransactWriteItems)",
            Self::DescribeTable => "dynamodb:DescribeTable",
            Self::CreateTable => "dynamodb:CreateTable",
            Self::DescribeTtl => "dynamodb:DescribeTimeToLive",
            Self::UpdateTtl => "dynamodb:UpdateTimeToLive",
        }
    }
}

/// What an SDK error means, with the detail to show (the SDK's own types stay private).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// `ConditionalCheckFailedException`.
    ConditionFailed,
    /// `TransactionCanceledException` (its reasons are read by [`cancellation`]).
    Cancelled(String),
    /// `ResourceNotFoundException`: no such table (or index).
    TableMissing(String),
    AccessDenied(String),
    CredentialsRefused(String),
    /// The request does not fit the table's key schema: the table has another layout.
    SchemaMismatch(String),
    /// `ValidationException` and other 4xx answers: retrying the same request cannot help.
    Rejected(String),
    /// Throttling, 5xx, transaction conflicts.
    Transient(String),
    /// No usable answer: timeouts, connection failures, no credentials, a request that could not
    /// be built or signed (no region, invalid endpoint URL), a truncated answer.
    Transport(Transport),
}

impl AwsFailure for Failure {
    /// Classifies an error answer by its HTTP status and error code.
    fn from_answer(status: u16, code: Option<&str>, message: Option<&str>) -> Self {
        let detail = aws::answer_detail(status, code, message);
        // The JSON protocol may name the code with its namespace (`com.amazonaws…#Code`).
        let code = code.unwrap_or_default().rsplit('#').next().unwrap_or_default();
        let message = message.unwrap_or_default().to_ascii_lowercase();
        match (status, code) {
            (_, "ConditionalCheckFailedException") => Self::ConditionFailed,
            (_, "TransactionCanceledException") => Self::Cancelled(detail),
            (_, "ResourceNotFoundException") => Self::TableMissing(detail),
            (
                _,
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "IncompleteSignatureException"
                | "MissingAuthenticationTokenException"
                | "ExpiredTokenException"
                | "InvalidClientTokenId",
            ) => Self::CredentialsRefused(detail),
            (_, "AccessDeniedException") | (403, _) => Self::AccessDenied(detail),
            (_, "ValidationException")
                if message.contains("key element does not match the schema")
                    || message.contains("missing the key")
                    || message.contains("index") =>
            {
                Self::SchemaMismatch(detail)
            }
            (
                _,
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "Throttling"
                | "RequestLimitExceeded"
                | "LimitExceededException"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "TransactionConflictException"
                | "TransactionInProgressException"
                | "ReplicatedWriteConflictException",
            )
            | (408 | 429 | 500..=599, _) => Self::Transient(detail),
            _ => Self::Rejected(detail),
        }
    }

    fn from_transport(transport: Transport) -> Self {
        Self::Transport(transport)
    }
}

/// How a cancelled transaction is reported: which item's condition failed first, or else
/// whether retrying may help.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cancelled {
    /// Item `index` failed its condition; `old` is the stored item (`ALL_OLD`), if any.
    Condition { index: usize, old: Option<Item> },
    /// Another transaction or throttling got in the way: retryable.
    Transient(String),
    /// The request is invalid (item too large, validation).
    Rejected(String),
}

/// Reads the cancellation reasons (`code`, `message`, `item` per transaction item, in order).
pub(super) fn cancellation(reasons: &[(Option<String>, Option<String>, Option<Item>)]) -> Cancelled {
    if let Some((index, (_, _, old))) =
        reasons.iter().enumerate().find(|(_, (code, _, _))| code.as_deref() == Some("ConditionalCheckFailed"))
    {
        return Cancelled::Condition { index, old: old.clone() };
    }
    let described: Vec<String> = reasons
        .iter()
        .enumerate()
        .filter(|(_, (code, _, _))| !matches!(code.as_deref(), None | Some("None")))
        .map(|(i, (code, message, _))| {
            format!(
                "item {i}: {}{}",
                code.as_deref().unwrap_or("?"),
                message.as_ref().map_or(String::new(), |m| format!(" ({m})"))
            )
        })
        .collect();
    let detail = format!("the transaction was cancelled: {}", described.join("; "));
    let rejected = reasons
        .iter()
        .any(|(code, _, _)| matches!(code.as_deref(), Some("ValidationError" | "ItemCollectionSizeLimitExceeded")));
    if rejected { Cancelled::Rejected(detail) } else { Cancelled::Transient(detail) }
}

impl DynamoStateStore {
    /// Logs `err` and maps it to the port's error; `what` names the item or list.
    pub(super) fn map_err<E>(&self, err: &SdkError<E, HttpResponse>, op: Op, what: &str) -> RepositoryError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        tracing::debug!(table = %self.table, ?op, what, error = %DisplayErrorContext(err), "DynamoDB request failed");
        self.port_error(Failure::classify(err), op, what)
    }

    /// The port's error for `failure`, with a message naming what to check.
    pub(super) fn port_error(&self, failure: Failure, op: Op, what: &str) -> RepositoryError {
        let (table, endpoint, region) = (&self.table, &self.endpoint, &self.region);
        let misconfigured = |detail: String| RepositoryError::Misconfigured { backend: BACKEND.into(), detail };
        let unavailable = |detail: String| RepositoryError::Unavailable { backend: BACKEND.into(), detail };
        let transient = |d: String| unavailable(format!("DynamoDB table {table} ({what}), try again later: {d}"));
        match failure {
            Failure::ConditionFailed => {
                RepositoryError::Conflict { what: what.into(), detail: "a write condition failed".into() }
            }
            Failure::Cancelled(d) => RepositoryError::Conflict { what: what.into(), detail: d },
            Failure::TableMissing(d) => misconfigured(format!(
                "the DynamoDB table {table} does not exist at {endpoint} (region {region}): check the table name and \
                 region in the state settings, or create it with `axia init` ({d})"
            )),
            Failure::AccessDenied(d) => misconfigured(format!(
                "access denied to the DynamoDB table {table} ({what}): check that the AWS credentials in use \
                 (AWS_PROFILE, AWS_ACCESS_KEY_ID or the instance role) are allowed {} on it ({d})",
                op.action()
            )),
            Failure::CredentialsRefused(d) => misconfigured(format!(
                "DynamoDB at {endpoint} refused the AWS credentials ({d}): check AWS_ACCESS_KEY_ID, \
                 AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN or the profile, renew expired session or SSO \
                 credentials, and check the system clock"
            )),
            Failure::Transport(Transport::NoCredentials(d)) => misconfigured(format!(
                "no AWS credentials found for the DynamoDB table {table}: set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (run `aws sso login` for SSO profiles), or run with an \
                 instance or task role ({d})"
            )),
            Failure::SchemaMismatch(d) => misconfigured(format!(
                "the DynamoDB table {table} does not have the key layout axia writes (pk/sk, GSI1-GSI5): point the \
                 state settings at a table created by `axia init` ({d})"
            )),
            Failure::Rejected(d) => RepositoryError::Invalid { detail: format!("DynamoDB refused {what}: {d}") },
            Failure::Transport(Transport::Unreachable(d)) => unavailable(format!(
                "cannot reach the DynamoDB endpoint {endpoint} ({what}): check the endpoint URL, the network and that \
                 the server is running ({d})"
            )),
            Failure::Transport(Transport::TimedOut(d)) => unavailable(format!(
                "the DynamoDB endpoint {endpoint} timed out ({what}): check the network, or raise the DynamoDB \
                 timeouts ({d})"
            )),
            Failure::Transient(d) => transient(d),
            Failure::Transport(Transport::Unreadable { status, detail }) => {
                transient(format!("unreadable answer with HTTP {status}: {detail}"))
            }
            Failure::Transport(Transport::NotSent(d) | Transport::NotBuilt(d)) => {
                misconfigured(format!("cannot send the DynamoDB request for {what}: {d}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_smithy_types::body::SdkBody;
    use rstest::rstest;

    use super::*;
    use crate::dynamodb::items::{n, s};

    fn store() -> DynamoStateStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"))
            .build();
        DynamoStateStore::from_client(Client::from_conf(config), "axia-state").unwrap()
    }

    fn service_error(status: u16, code: &str, message: &str) -> SdkError<PutItemError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(PutItemError::generic(meta), raw)
    }

    fn variant(e: &RepositoryError) -> &'static str {
        match e {
            RepositoryError::NotFound { .. } => "NotFound",
            RepositoryError::Conflict { .. } => "Conflict",
            RepositoryError::Unavailable { .. } => "Unavailable",
            RepositoryError::Corrupt { .. } => "Corrupt",
            RepositoryError::Invalid { .. } => "Invalid",
            RepositoryError::Misconfigured { .. } => "Misconfigured",
        }
    }

    #[rstest]
    #[case(400, "ConditionalCheckFailedException", "The conditional request failed", "Conflict")]
    #[case(400, "TransactionCanceledException", "Transaction cancelled", "Conflict")]
    #[case(400, "ProvisionedThroughputExceededException", "slow down", "Unavailable")]
    #[case(400, "ThrottlingException", "rate", "Unavailable")]
    #[case(400, "RequestLimitExceeded", "account limit", "Unavailable")]
    #[case(400, "TransactionConflictException", "in a transaction", "Unavailable")]
    #[case(500, "InternalServerError", "oops", "Unavailable")]
    #[case(503, "", "", "Unavailable")]
    #[case(400, "ResourceNotFoundException", "Requested resource not found", "Misconfigured")]
    #[case(400, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "gone", "Misconfigured")]
    #[case(400, "AccessDeniedException", "not authorized to perform dynamodb:PutItem", "Misconfigured")]
    #[case(400, "UnrecognizedClientException", "The security token is invalid", "Misconfigured")]
    #[case(400, "ExpiredTokenException", "expired", "Misconfigured")]
    #[case(400, "ValidationException", "The provided key element does not match the schema", "Misconfigured")]
    #[case(400, "ValidationException", "Item size has exceeded the maximum allowed size", "Invalid")]
    fn maps_answers(#[case] status: u16, #[case] code: &str, #[case] message: &str, #[case] expected: &str) {
        let err = store().map_err(&service_error(status, code, message), Op::PutItem, "order c-1");
        assert_eq!(variant(&err), expected, "{err:?}");
        assert_eq!(err.is_retryable(), expected == "Unavailable");
    }

    #[test]
    fn messages_say_what_to_check() {
        let store = store();
        let text = |status, code, op| store.map_err(&service_error(status, code, "m"), op, "order c-1").to_string();
        let missing = text(400, "ResourceNotFoundException", Op::GetItem);
        assert!(missing.contains("table axia-state") && missing.contains("axia init"), "{missing}");
        assert!(missing.contains("eu-west-1") && missing.contains("https://dynamodb.eu-west-1.amazonaws.com"));
        let denied = text(400, "AccessDeniedException", Op::Query);
        assert!(denied.contains("dynamodb:Query") && denied.contains("AWS_PROFILE"), "{denied}");
        let refused = text(400, "UnrecognizedClientException", Op::PutItem);
        assert!(refused.contains("AWS_ACCESS_KEY_ID"), "{refused}");
    }

    #[test]
    fn transport_failures_are_retryable_and_build_failures_are_not() {
        let store = store();
        let map = |e: SdkError<PutItemError, HttpResponse>| store.map_err(&e, Op::PutItem, "x");
        let io = SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        assert!(matches!(map(io), RepositoryError::Unavailable { detail, .. } if detail.contains("refused")));
        let timeout = SdkError::dispatch_failure(ConnectorError::timeout("slow".into()));
        assert!(map(timeout).is_retryable());
        assert!(map(SdkError::timeout_error("operation timeout")).is_retryable());
        let build = map(SdkError::construction_failure("bad input"));
        assert!(matches!(build, RepositoryError::Misconfigured { .. }), "{build:?}");
        let creds = SdkError::dispatch_failure(ConnectorError::user("no credentials in the chain".into()));
        assert!(matches!(map(creds), RepositoryError::Misconfigured { detail, .. } if detail.contains("AWS_PROFILE")));
    }

    #[test]
    fn cancellations_name_the_failed_item_or_say_retry() {
        let none = (Some("None".to_string()), None, None);
        let old: Item = [("version".to_string(), n(3)), ("pk".to_string(), s("ORDER#c"))].into();
        let failed = (
            Some("ConditionalCheckFailed".to_string()),
            Some("The conditional request failed".into()),
            Some(old.clone()),
        );
        assert_eq!(
            cancellation(&[none.clone(), failed, none.clone()]),
            Cancelled::Condition { index: 1, old: Some(old) }
        );
        let conflict = (Some("TransactionConflict".to_string()), Some("another transaction".into()), None);
        assert!(
            matches!(cancellation(&[conflict, none.clone()]), Cancelled::Transient(d) if d.contains("item 0: TransactionConflict"))
        );
        let too_big = (Some("ValidationError".to_string()), Some("Item size".into()), None);
        assert!(matches!(cancellation(&[none, too_big]), Cancelled::Rejected(_)));
    }
}
