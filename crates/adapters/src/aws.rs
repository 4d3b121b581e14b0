//! What the AWS adapters (S3, DynamoDB, SQS, SNS) share: the SDK configuration built from their
//! settings, and what an SDK error means when the service did not answer it (a timeout, a
//! connection failure, missing credentials, a request that could not be built or read).
//!
//! Only the classification is shared: each adapter reads its service's error codes itself and
//! words every error in its own terms.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
// Every SDK crate re-exports these same smithy types; S3's names them for all four.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;

/// Where and how to reach an AWS service (the fields every adapter's settings have, borrowed:
/// [`client_settings!`]). Credentials come from the AWS default chain, never from here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AwsClientSettings<'a> {
    /// `None` takes the default chain (`AWS_REGION`, the profile).
    pub(crate) region: Option<&'a str>,
    /// Another endpoint than AWS (a local test server).
    pub(crate) endpoint_url: Option<&'a str>,
    /// Longest wait to open a connection.
    pub(crate) connect_timeout: Duration,
    /// Longest time of one operation, retries included.
    pub(crate) operation_timeout: Duration,
    /// Attempts per operation, the first included (0 counts as 1).
    pub(crate) max_attempts: u32,
}

/// The [`AwsClientSettings`] of an adapter's settings (`S3Settings`, `DynamoSettings`, …), which
/// name these fields alike.
macro_rules! client_settings {
    ($settings:expr) => {
        $crate::aws::AwsClientSettings {
            region: $settings.region.as_deref(),
            endpoint_url: $settings.endpoint_url.as_deref(),
            connect_timeout: $settings.connect_timeout,
            operation_timeout: $settings.operation_timeout,
            max_attempts: $settings.max_attempts,
        }
    };
}
pub(crate) use client_settings;

/// Loads the AWS configuration: the default credential chain and region, with the timeouts,
/// the standard retry mode and the region and endpoint of `settings`. Sends nothing: credentials
/// are resolved on the first request.
pub(crate) async fn sdk_config(settings: &AwsClientSettings<'_>) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout)
        .operation_timeout(settings.operation_timeout)
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)));
    if let Some(region) = settings.region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(url) = settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// What an SDK error is: an error answer of the service, or no usable answer at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SdkFailure<'a> {
    /// The service answered with an error; each adapter reads the code of its service.
    Answer { status: u16, code: Option<&'a str>, message: Option<&'a str> },
    /// The request got no usable answer.
    Transport(Transport),
}

/// Why a request got no usable answer; each variant carries the error's [`chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    /// The connect or the operation timeout ran out.
    TimedOut(String),
    /// Connection refused or reset, DNS failure, a connection lost midway.
    Unreachable(String),
    /// The credential chain found nothing (identity is resolved before the request is sent and
    /// fails as a dispatch failure).
    NoCredentials(String),
    /// The client refused to send the request (a user error: no region, an invalid endpoint).
    NotSent(String),
    /// The request could not be built (or a failure of a kind a later SDK adds).
    NotBuilt(String),
    /// An answer came with HTTP `status` but could not be read (truncated, not the protocol's).
    Unreadable { status: u16, detail: String },
}

impl Transport {
    /// Whether retrying may help: timeouts, connection failures and unreadable answers.
    pub(crate) const fn is_retryable(&self) -> bool {
        matches!(self, Self::TimedOut(_) | Self::Unreachable(_) | Self::Unreadable { .. })
    }

    /// The error's [`chain`].
    pub(crate) fn into_detail(self) -> String {
        match self {
            Self::TimedOut(d)
            | Self::Unreachable(d)
            | Self::NoCredentials(d)
            | Self::NotSent(d)
            | Self::NotBuilt(d)
            | Self::Unreadable { detail: d, .. } => d,
        }
    }
}

/// Classifies `err`: the service's error answer, else why no usable answer came.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> SdkFailure<'_>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transport = match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            return SdkFailure::Answer { status, code: err.code(), message: err.message() };
        }
        SdkError::TimeoutError(_) => Transport::TimedOut(chain(err)),
        SdkError::DispatchFailure(dispatch) => {
            let detail = chain(err);
            if dispatch.is_timeout() {
                Transport::TimedOut(detail)
            } else if dispatch.is_io() || dispatch.as_other() == Some(ErrorKind::TransientError) {
                Transport::Unreachable(detail)
            } else if detail.to_lowercase().contains("credential") {
                Transport::NoCredentials(detail)
            } else if dispatch.is_user() {
                Transport::NotSent(detail)
            } else {
                Transport::Unreachable(detail)
            }
        }
        SdkError::ResponseError(response) => {
            Transport::Unreadable { status: response.raw().status().as_u16(), detail: chain(err) }
        }
        // ConstructionFailure, and any variant a later SDK adds.
        _ => Transport::NotBuilt(chain(err)),
    };
    SdkFailure::Transport(transport)
}

/// An adapter's reading of SDK errors (its private `Failure`): it classifies its service's
/// error answers and takes in the [`Transport`] failures; [`Self::classify`] tells them apart.
pub(crate) trait AwsFailure: Sized {
    /// An error answer of the service, by its HTTP status, error code and message.
    fn from_answer(status: u16, code: Option<&str>, message: Option<&str>) -> Self;

    /// A request that got no usable answer.
    fn from_transport(transport: Transport) -> Self;

    /// What `err` means to the adapter.
    fn classify<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match classify(err) {
            SdkFailure::Answer { status, code, message } => Self::from_answer(status, code, message),
            SdkFailure::Transport(transport) => Self::from_transport(transport),
        }
    }
}

/// An error answer on one line: `HTTP 403 AccessDenied: message`, leaving out what it lacks.
pub(crate) fn answer_detail(status: u16, code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!("HTTP {status} {c}: {m}"),
        (Some(c), None) => format!("HTTP {status} {c}"),
        (None, Some(m)) => format!("HTTP {status}: {m}"),
        (None, None) => format!("HTTP {status}"),
    }
}

/// The error and its sources on one line (`dispatch failure: io error: … Connection refused`).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        let text = source.to_string();
        // Some wrappers repeat their source's message in their own.
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = source.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_sdk_s3::primitives::SdkBody;
    use rstest::rstest;

    use super::*;

    type Error = SdkError<PutObjectError, HttpResponse>;

    fn transport(err: &Error) -> Transport {
        match classify(err) {
            SdkFailure::Transport(t) => t,
            answer @ SdkFailure::Answer { .. } => panic!("expected a transport failure, got {answer:?}"),
        }
    }

    #[test]
    fn answers_are_left_to_the_adapter() {
        let meta = ErrorMetadata::builder().code("NoSuchKey").message("gone").build();
        let raw = HttpResponse::new(404.try_into().unwrap(), SdkBody::empty());
        let err = Error::service_error(PutObjectError::generic(meta), raw);
        assert_eq!(classify(&err), SdkFailure::Answer { status: 404, code: Some("NoSuchKey"), message: Some("gone") });
    }

    #[rstest]
    #[case::io(Error::dispatch_failure(ConnectorError::io("refused".into())), "unreachable")]
    #[case::other(Error::dispatch_failure(ConnectorError::other("closed".into(), None)), "unreachable")]
    #[case::transient(
        Error::dispatch_failure(ConnectorError::other("reset".into(), Some(ErrorKind::TransientError))),
        "unreachable"
    )]
    #[case::connect_timeout(Error::dispatch_failure(ConnectorError::timeout("slow".into())), "timed out")]
    #[case::operation_timeout(Error::timeout_error("operation timeout"), "timed out")]
    #[case::no_credentials(
        Error::dispatch_failure(ConnectorError::other("no credentials in the chain".into(), None)),
        "no credentials"
    )]
    #[case::user_credentials(
        Error::dispatch_failure(ConnectorError::user("the credential provider failed".into())),
        "no credentials"
    )]
    #[case::user(Error::dispatch_failure(ConnectorError::user("invalid endpoint".into())), "not sent")]
    #[case::construction(Error::construction_failure("bad input"), "not built")]
    fn transport_failures_are_classified(#[case] err: Error, #[case] kind: &str) {
        let t = transport(&err);
        let got = match &t {
            Transport::TimedOut(_) => "timed out",
            Transport::Unreachable(_) => "unreachable",
            Transport::NoCredentials(_) => "no credentials",
            Transport::NotSent(_) => "not sent",
            Transport::NotBuilt(_) => "not built",
            Transport::Unreadable { .. } => "unreadable",
        };
        assert_eq!(got, kind, "{t:?}");
        assert_eq!(t.is_retryable(), matches!(kind, "timed out" | "unreachable"));
        assert_eq!(t.into_detail(), chain(&err));
    }

    #[test]
    fn unreadable_answers_keep_their_status() {
        let raw = HttpResponse::new(502.try_into().unwrap(), SdkBody::empty());
        let err = Error::response_error("truncated body", raw);
        let t = transport(&err);
        assert!(t.is_retryable());
        assert_eq!(t, Transport::Unreadable { status: 502, detail: chain(&err) });
    }

    #[rstest]
    #[case(Some("AccessDenied"), Some("no"), "HTTP 403 AccessDenied: no")]
    #[case(Some("AccessDenied"), None, "HTTP 403 AccessDenied")]
    #[case(None, Some("no"), "HTTP 403: no")]
    #[case(None, None, "HTTP 403")]
    fn answer_details_leave_out_what_is_missing(
        #[case] code: Option<&str>,
        #[case] message: Option<&str>,
        #[case] want: &str,
    ) {
        assert_eq!(answer_detail(403, code, message), want);
    }

    #[test]
    fn chains_messages_of_sources_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::dispatch_failure(ConnectorError::io(io.into()));
        assert_eq!(chain(&err), "dispatch failure: io error: refused");
    }
}
