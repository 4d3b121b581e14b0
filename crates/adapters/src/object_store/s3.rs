//! An [`ObjectStore`] over Amazon S3 (or any server that speaks its API, such as the local test
//! server): key `a/b` is the object `{prefix}a/b` in the bucket.
//!
//! - Conditional puts are S3 conditional writes: [`PutMode::Create`] sends `If-None-Match: *`,
//!   [`PutMode::Update`] sends `If-Match: "<etag>"`; S3 answers 412 `PreconditionFailed` (or 409
//!   `ConditionalRequestConflict` when two writes race), which becomes
//!   [`ObjectStoreError::PreconditionFailed`]. An `Update` of a missing key fails the same way.
//! - ETags are reported without their quotes, like the other stores. A put sends `Content-MD5`
//!   and records the hex md5 in the user metadata `md5`, so `put`, `get` and `head` report the
//!   real md5 even where the ETag is not one (SSE-KMS, multipart). `list` reports no md5.
//! - `list` follows ListObjectsV2 continuation tokens; keys the port cannot address (folder
//!   markers ending in `/`, `.axia-` names) are not listed.
//! - SDK errors never leave this module: [`Failure`] classifies them, and the store turns that
//!   into the port's error with a message naming the bucket, the endpoint and what to check.
//! - A HEAD carries no error body, so `head` in a missing bucket reports `NotFound`; every other
//!   operation names the missing bucket.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption};
use axia_domain::ports::{ObjectMeta, ObjectStore, ObjectStoreError, PutMode};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};

use super::{md5_hex, validate_key, validate_prefix};
use crate::aws::{self, AwsFailure, Transport, chain};

/// User metadata key under which a put records the hex md5 of the content.
const MD5_METADATA: &str = "md5";
/// The S3 maximum of keys per ListObjectsV2 page.
const MAX_LIST_PAGE: i32 = 1000;

/// Where and how to reach the bucket; credentials come from the AWS default chain (env,
/// profile, SSO, instance or task role), never from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket (`""` for none; a trailing `/` is implied).
    pub prefix: String,
    /// AWS region; `None` takes the default chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Another endpoint than AWS (a local test server, an S3-compatible store); enables
    /// path-style addressing.
    pub endpoint_url: Option<String>,
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// Longest time of one operation, retries included.
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included (transient failures are retried with backoff;
    /// 0 counts as 1).
    pub max_attempts: u32,
}

impl S3Settings {
    /// Settings for `bucket`, no prefix, default region and endpoint, a 3.1 s connect timeout
    /// (the SDK's), a 5 min operation timeout and 3 attempts (the SDK's standard retry mode).
    #[must_use]
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: String::new(),
            region: None,
            endpoint_url: None,
            connect_timeout: Duration::from_millis(3100),
            operation_timeout: Duration::from_secs(300),
            max_attempts: 3,
        }
    }
}

/// Objects in an S3 bucket under a key prefix.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    /// `""` or ending with `/`.
    prefix: String,
    /// The endpoint as messages name it.
    endpoint: String,
    list_page_size: i32,
}

impl S3ObjectStore {
    /// Loads the AWS configuration (the default credential chain and region, overridden by
    /// `settings`) and builds a store over it. Nothing is sent to S3 yet: credentials are
    /// resolved on the first request, and their absence is reported then.
    ///
    /// # Errors
    /// [`ObjectStoreError::Misconfigured`] without a bucket or a region;
    /// [`ObjectStoreError::InvalidKey`] for an invalid prefix.
    pub async fn new(settings: S3Settings) -> Result<Self, ObjectStoreError> {
        let sdk_config = aws::sdk_config(&aws::client_settings!(settings)).await;
        let mut config = aws_sdk_s3::config::Builder::from(&sdk_config);
        if settings.endpoint_url.is_some() {
            // Virtual-host addressing would ask DNS for `{bucket}.localhost`.
            config = config.force_path_style(true);
        }
        let mut store = Self::from_client(Client::from_conf(config.build()), settings.bucket, &settings.prefix)?;
        if let Some(url) = settings.endpoint_url {
            store.endpoint = url;
        }
        Ok(store)
    }

    /// A store over a client built elsewhere (messages then name the region's AWS endpoint).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn from_client(client: Client, bucket: impl Into<String>, prefix: &str) -> Result<Self, ObjectStoreError> {
        let bucket = bucket.into();
        if bucket.is_empty() {
            return Err(ObjectStoreError::Misconfigured { detail: "no S3 bucket is configured".into() });
        }
        let Some(region) = client.config().region().map(ToString::to_string) else {
            return Err(ObjectStoreError::Misconfigured {
                detail: format!(
                    "no AWS region for bucket {bucket}: set the region in the storage settings or AWS_REGION \
                     (or `region` in the AWS profile)"
                ),
            });
        };
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            validate_key(prefix)?;
        }
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        let endpoint = format!("https://s3.{region}.amazonaws.com");
        Ok(Self { client, bucket, prefix, endpoint, list_page_size: MAX_LIST_PAGE })
    }

    /// Keys per ListObjectsV2 page (1 to 1000, the default), to bound a page or to exercise
    /// pagination in tests.
    #[must_use]
    pub fn with_list_page_size(mut self, keys: u16) -> Self {
        self.list_page_size = i32::from(keys).clamp(1, MAX_LIST_PAGE);
        self
    }

    /// The bucket.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Checks that the bucket exists and the credentials may list it (`HeadBucket`, nothing
    /// written). Used by `axia config check`.
    ///
    /// # Errors
    /// [`ObjectStoreError::Misconfigured`] naming the missing bucket, refused credentials or
    /// permissions; [`ObjectStoreError::Unavailable`] when S3 cannot be reached.
    pub async fn check_bucket(&self) -> Result<(), ObjectStoreError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(Failure::classify(&e), Failure::NoSuchKey | Failure::NoSuchBucket) => {
                Err(self.port_error(Failure::NoSuchBucket, Op::HeadBucket, ""))
            }
            Err(e) => Err(self.map_err(&e, Op::HeadBucket, "")),
        }
    }

    /// Creates the bucket when it does not exist (in the client's region); returns whether it
    /// was created. Used by `axia init`.
    ///
    /// # Errors
    /// [`ObjectStoreError::Misconfigured`] when the name belongs to another account or the
    /// credentials may not create buckets; [`ObjectStoreError::Unavailable`] when S3 cannot be
    /// reached.
    pub async fn ensure_bucket(&self) -> Result<bool, ObjectStoreError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(false),
            // A HEAD answer has no body: 404 is all S3 says of a missing bucket.
            Err(e) if matches!(Failure::classify(&e), Failure::NoSuchKey | Failure::NoSuchBucket) => {}
            Err(e) => return Err(self.map_err(&e, Op::HeadBucket, "")),
        }
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the default location and must not be named.
        if let Some(region) = self.client.config().region().map(ToString::to_string).filter(|r| r != "us-east-1") {
            let location = BucketLocationConstraint::from(region.as_str());
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder().location_constraint(location).build(),
            );
        }
        match create.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => Ok(false),
            Err(e) if e.code() == Some("BucketAlreadyExists") => Err(ObjectStoreError::Misconfigured {
                detail: format!("the bucket name {} is taken by another AWS account: choose another name", self.bucket),
            }),
            Err(e) => Err(self.map_err(&e, Op::CreateBucket, "")),
        }
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    fn map_err<E>(&self, err: &SdkError<E, HttpResponse>, op: Op, key: &str) -> ObjectStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        tracing::debug!(op = op.verb(), url = %self.url_of(key), error = %DisplayErrorContext(err), "S3 request failed");
        self.port_error(Failure::classify(err), op, key)
    }

    /// The port's error for `failure`, with a message naming what to check.
    fn port_error(&self, failure: Failure, op: Op, key: &str) -> ObjectStoreError {
        let (bucket, endpoint, url, verb) = (&self.bucket, &self.endpoint, self.url_of(key), op.verb());
        let misconfigured = |detail: String| ObjectStoreError::Misconfigured { detail };
        let unavailable = |detail: String| ObjectStoreError::Unavailable { detail };
        let transient =
            |d: String| unavailable(format!("S3 at {endpoint} failed to {verb} {url}, try again later: {d}"));
        match failure {
            Failure::NoSuchKey if op == Op::Put => ObjectStoreError::PreconditionFailed { key: key.to_string() },
            Failure::NoSuchKey => ObjectStoreError::NotFound { key: key.to_string() },
            Failure::Precondition => ObjectStoreError::PreconditionFailed { key: key.to_string() },
            Failure::NoSuchBucket => misconfigured(format!(
                "the S3 bucket {bucket} does not exist at {endpoint}: check the bucket name and region in the \
                 storage settings, or create it with `axia init`"
            )),
            Failure::AccessDenied(d) => misconfigured(format!(
                "access denied to {url} ({verb}): check that the AWS credentials in use (AWS_PROFILE, \
                 AWS_ACCESS_KEY_ID or the instance role) are allowed {} on bucket {bucket} ({d})",
                op.action()
            )),
            Failure::CredentialsRefused(d) => misconfigured(format!(
                "S3 at {endpoint} refused the AWS credentials ({d}): check AWS_ACCESS_KEY_ID, \
                 AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN or the profile, renew expired session or SSO \
                 credentials, and check the system clock"
            )),
            Failure::Transport(Transport::NoCredentials(d)) => misconfigured(format!(
                "no AWS credentials found for {url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                 AWS_PROFILE (run `aws sso login` for SSO profiles), or run with an instance or task role ({d})"
            )),
            Failure::WrongRegion(d) => misconfigured(format!(
                "the S3 bucket {bucket} is not in region {}: set the bucket's region in the storage settings \
                 or AWS_REGION ({d})",
                self.client.config().region().map_or_else(|| "(none)".to_string(), ToString::to_string)
            )),
            Failure::KeyTooLong(d) => ObjectStoreError::InvalidKey { key: key.to_string(), detail: d },
            Failure::Transport(Transport::Unreachable(d)) => unavailable(format!(
                "cannot reach the S3 endpoint {endpoint} ({verb} {url}): check the endpoint URL, the network \
                 and that the server is running ({d})"
            )),
            Failure::Transport(Transport::TimedOut(d)) => unavailable(format!(
                "the S3 endpoint {endpoint} timed out ({verb} {url}): check the network, or raise the S3 \
                 timeouts for large objects on slow links ({d})"
            )),
            Failure::Transient(d) => transient(d),
            Failure::Transport(Transport::Unreadable { status, detail }) => {
                transient(format!("unreadable answer with HTTP {status}: {detail}"))
            }
            Failure::NotImplemented(d) => misconfigured(format!(
                "the S3 endpoint {endpoint} does not support this {verb} of {url} (conditional writes need an \
                 S3-compatible server that implements If-Match / If-None-Match): {d}"
            )),
            Failure::Rejected(d) => misconfigured(format!("S3 at {endpoint} refused to {verb} {url}: {d}")),
            Failure::Transport(Transport::NotSent(d) | Transport::NotBuilt(d)) => {
                misconfigured(format!("cannot send the S3 request for {url}: {d}"))
            }
        }
    }
}

/// An S3 operation, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Get,
    Head,
    List,
    Delete,
    HeadBucket,
    CreateBucket,
}

impl Op {
    const fn verb(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
            Self::Head => "head",
            Self::List => "list",
            Self::Delete => "delete",
            Self::HeadBucket => "check the bucket",
            Self::CreateBucket => "create the bucket",
        }
    }

    /// The IAM action the operation needs.
    const fn action(self) -> &'static str {
        match self {
            Self::Put => "s3:PutObject",
            Self::Get | Self::Head => "s3:GetObject",
            Self::List | Self::HeadBucket => "s3:ListBucket",
            Self::Delete => "s3:DeleteObject",
            Self::CreateBucket => "s3:CreateBucket",
        }
    }
}

/// What an SDK error means, with the detail to show (the SDK's own types stay private).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// 404 without a bucket error: no object (or, for a HEAD, possibly no bucket).
    NoSuchKey,
    NoSuchBucket,
    /// 412, or 409 `ConditionalRequestConflict`.
    Precondition,
    AccessDenied(String),
    CredentialsRefused(String),
    WrongRegion(String),
    KeyTooLong(String),
    /// Throttling, 5xx.
    Transient(String),
    /// 501: the server lacks a feature (conditional writes on some S3-compatible servers).
    NotImplemented(String),
    /// Any other 4xx: retrying the same request cannot help.
    Rejected(String),
    /// No usable answer: timeouts, connection failures, no credentials, a request that could not
    /// be built or signed (no region, invalid endpoint URL), a truncated answer.
    Transport(Transport),
}

impl AwsFailure for Failure {
    /// Classifies an error answer of S3 by its HTTP status and error code.
    fn from_answer(status: u16, code: Option<&str>, message: Option<&str>) -> Self {
        let detail = aws::answer_detail(status, code, message);
        match (status, code.unwrap_or_default()) {
            (_, "NoSuchBucket") => Self::NoSuchBucket,
            (_, "NoSuchKey" | "NotFound") | (404, "") => Self::NoSuchKey,
            (_, "PreconditionFailed" | "ConditionalRequestConflict") | (412, _) => Self::Precondition,
            (
                _,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"
                | "TokenRefreshRequired"
                | "RequestTimeTooSkewed",
            ) => Self::CredentialsRefused(detail),
            (_, "AccessDenied" | "AllAccessDisabled" | "AccountProblem") | (403, _) => Self::AccessDenied(detail),
            (_, "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException")
            | (301, _) => Self::WrongRegion(detail),
            (_, "KeyTooLongError") => Self::KeyTooLong(detail),
            (_, "NotImplemented") | (501, _) => Self::NotImplemented(detail),
            (
                _,
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestTimeout"
                | "InternalError"
                | "ServiceUnavailable"
                | "OperationAborted",
            )
            | (408 | 429 | 500..=599, _) => Self::Transient(detail),
            _ => Self::Rejected(detail),
        }
    }

    fn from_transport(transport: Transport) -> Self {
        Self::Transport(transport)
    }
}

fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

fn to_chrono(t: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())).unwrap_or_else(Utc::now)
}

/// The hex md5 of an object from its headers: the one a put recorded, else a plain single-part
/// ETag when the encryption keeps ETags as md5s (not SSE-KMS).
fn md5_from_headers(
    metadata: Option<&std::collections::HashMap<String, String>>,
    etag: &str,
    sse: Option<&ServerSideEncryption>,
) -> Option<String> {
    let is_md5 = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(md5) = metadata.and_then(|m| m.get(MD5_METADATA)).filter(|m| is_md5(m)) {
        return Some(md5.to_ascii_lowercase());
    }
    let kms = matches!(sse, Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse));
    (!kms && is_md5(etag)).then(|| etag.to_ascii_lowercase())
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix).trim_end_matches('/').to_string()
    }

    async fn put(&self, key: &str, data: Vec<u8>, mode: PutMode) -> Result<ObjectMeta, ObjectStoreError> {
        validate_key(key)?;
        let md5 = md5_hex(&data);
        let size = data.len() as u64;
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&data));
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .content_md5(content_md5)
            .metadata(MD5_METADATA, &md5)
            .body(ByteStream::from(data));
        let request = match &mode {
            PutMode::Overwrite => request,
            PutMode::Create => request.if_none_match("*"),
            PutMode::Update { etag } => request.if_match(format!("\"{}\"", etag.trim_matches('"'))),
        };
        let out = Box::pin(request.send()).await.map_err(|e| self.map_err(&e, Op::Put, key))?;
        let Some(etag) = out.e_tag().map(unquote) else {
            // Every S3 answers a put with its ETag; read it back if this server did not.
            return self.head(key).await;
        };
        Ok(ObjectMeta { key: key.to_string(), size, etag, md5: Some(md5), last_modified: Utc::now() })
    }

    async fn get(&self, key: &str) -> Result<(Vec<u8>, ObjectMeta), ObjectStoreError> {
        validate_key(key)?;
        let request = self.client.get_object().bucket(&self.bucket).key(self.full_key(key));
        let out = Box::pin(request.send()).await.map_err(|e| self.map_err(&e, Op::Get, key))?;
        let etag = out.e_tag().map(unquote).unwrap_or_default();
        let last_modified = to_chrono(out.last_modified());
        let data = out.body.collect().await.map_err(|e| ObjectStoreError::Unavailable {
            detail: format!("reading {} from {} broke off: {}", self.url_of(key), self.endpoint, chain(&e)),
        })?;
        let data = data.into_bytes().to_vec();
        let meta = ObjectMeta {
            key: key.to_string(),
            size: data.len() as u64,
            md5: Some(md5_hex(&data)),
            etag,
            last_modified,
        };
        Ok((data, meta))
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, ObjectStoreError> {
        validate_key(key)?;
        let request = self.client.head_object().bucket(&self.bucket).key(self.full_key(key));
        let out = Box::pin(request.send()).await.map_err(|e| self.map_err(&e, Op::Head, key))?;
        let etag = out.e_tag().map(unquote).unwrap_or_default();
        Ok(ObjectMeta {
            key: key.to_string(),
            size: out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or_default(),
            md5: md5_from_headers(out.metadata(), &etag, out.server_side_encryption()),
            etag,
            last_modified: to_chrono(out.last_modified()),
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectStoreError> {
        validate_prefix(prefix)?;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.full_key(prefix))
            .max_keys(self.list_page_size)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.map_err(&e, Op::List, prefix))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) else { continue };
                if validate_key(key).is_err() {
                    continue;
                }
                out.push(ObjectMeta {
                    key: key.to_string(),
                    size: object.size().and_then(|n| u64::try_from(n).ok()).unwrap_or_default(),
                    etag: object.e_tag().map(unquote).unwrap_or_default(),
                    md5: None,
                    last_modified: to_chrono(object.last_modified()),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        validate_key(key)?;
        let request = self.client.delete_object().bucket(&self.bucket).key(self.full_key(key));
        match Box::pin(request.send()).await {
            Ok(_) => Ok(()),
            Err(e) => match Failure::classify(&e) {
                Failure::NoSuchKey => Ok(()),
                _ => Err(self.map_err(&e, Op::Delete, key)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_sdk_s3::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_sdk_s3::primitives::SdkBody;
    use rstest::rstest;

    use super::*;

    fn client(endpoint: &str) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
            .build();
        Client::from_conf(config)
    }

    fn store(prefix: &str) -> S3ObjectStore {
        S3ObjectStore::from_client(client("http://127.0.0.1:1"), "bucket", prefix).unwrap()
    }

    fn service_error(status: u16, code: &str) -> SdkError<PutObjectError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message("the server says why").build();
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(PutObjectError::generic(meta), raw)
    }

    #[rstest]
    #[case(404, "NoSuchKey", Failure::NoSuchKey)]
    #[case(404, "NotFound", Failure::NoSuchKey)]
    #[case(404, "", Failure::NoSuchKey)]
    #[case(404, "NoSuchBucket", Failure::NoSuchBucket)]
    #[case(412, "PreconditionFailed", Failure::Precondition)]
    #[case(409, "ConditionalRequestConflict", Failure::Precondition)]
    fn classifies_answers_without_detail(#[case] status: u16, #[case] code: &str, #[case] expected: Failure) {
        assert_eq!(Failure::classify(&service_error(status, code)), expected);
    }

    #[rstest]
    #[case(403, "AccessDenied", "access")]
    #[case(403, "", "access")]
    #[case(403, "InvalidAccessKeyId", "credentials")]
    #[case(403, "SignatureDoesNotMatch", "credentials")]
    #[case(400, "ExpiredToken", "credentials")]
    #[case(403, "RequestTimeTooSkewed", "credentials")]
    #[case(301, "PermanentRedirect", "region")]
    #[case(400, "AuthorizationHeaderMalformed", "region")]
    #[case(400, "KeyTooLongError", "key")]
    #[case(503, "SlowDown", "transient")]
    #[case(500, "InternalError", "transient")]
    #[case(502, "", "transient")]
    #[case(429, "", "transient")]
    #[case(409, "OperationAborted", "transient")]
    #[case(501, "NotImplemented", "unsupported")]
    #[case(400, "InvalidArgument", "rejected")]
    fn classifies_answers(#[case] status: u16, #[case] code: &str, #[case] kind: &str) {
        let failure = Failure::classify(&service_error(status, code));
        let detail = match (kind, &failure) {
            ("access", Failure::AccessDenied(d))
            | ("credentials", Failure::CredentialsRefused(d))
            | ("region", Failure::WrongRegion(d))
            | ("key", Failure::KeyTooLong(d))
            | ("transient", Failure::Transient(d))
            | ("unsupported", Failure::NotImplemented(d))
            | ("rejected", Failure::Rejected(d)) => d,
            _ => panic!("{status} {code}: expected {kind}, got {failure:?}"),
        };
        assert!(detail.contains(&status.to_string()) && detail.contains(code), "{detail}");
        assert!(detail.contains("the server says why"), "{detail}");
    }

    #[test]
    fn classifies_transport_failures() {
        let io = SdkError::<PutObjectError, HttpResponse>::dispatch_failure(ConnectorError::io("refused".into()));
        assert!(
            matches!(Failure::classify(&io), Failure::Transport(Transport::Unreachable(d)) if d.contains("refused"))
        );
        let timeout =
            SdkError::<PutObjectError, HttpResponse>::dispatch_failure(ConnectorError::timeout("slow".into()));
        assert!(matches!(Failure::classify(&timeout), Failure::Transport(Transport::TimedOut(_))));
        let op_timeout = SdkError::<PutObjectError, HttpResponse>::timeout_error("operation timeout");
        assert!(matches!(Failure::classify(&op_timeout), Failure::Transport(Transport::TimedOut(_))));
        let build = SdkError::<PutObjectError, HttpResponse>::construction_failure("bad input");
        assert!(matches!(Failure::classify(&build), Failure::Transport(Transport::NotBuilt(_))));
    }

    #[rstest]
    #[case(Failure::NoSuchKey, Op::Get, "NotFound")]
    #[case(Failure::NoSuchKey, Op::Put, "PreconditionFailed")]
    #[case(Failure::Precondition, Op::Put, "PreconditionFailed")]
    #[case(Failure::NoSuchBucket, Op::List, "Misconfigured")]
    #[case(Failure::AccessDenied("HTTP 403".into()), Op::Put, "Misconfigured")]
    #[case(Failure::Transport(Transport::NoCredentials("none".into())), Op::Get, "Misconfigured")]
    #[case(Failure::KeyTooLong("too long".into()), Op::Put, "InvalidKey")]
    #[case(Failure::Transport(Transport::Unreachable("refused".into())), Op::Head, "Unavailable")]
    #[case(Failure::Transport(Transport::TimedOut("slow".into())), Op::Delete, "Unavailable")]
    #[case(Failure::Transient("HTTP 503".into()), Op::Get, "Unavailable")]
    #[case(Failure::Rejected("HTTP 400".into()), Op::Get, "Misconfigured")]
    fn maps_failures_to_port_errors(#[case] failure: Failure, #[case] op: Op, #[case] variant: &str) {
        let err = store("p").port_error(failure, op, "a/b");
        assert!(format!("{err:?}").starts_with(variant), "{err:?}");
        assert_eq!(err.is_retryable(), variant == "Unavailable");
    }

    #[test]
    fn messages_name_what_to_check() {
        let store = store("hist/");
        let text = |f: Failure, op: Op| store.port_error(f, op, "k").to_string();
        let missing = text(Failure::NoSuchBucket, Op::Put);
        assert!(missing.contains("bucket bucket does not exist") && missing.contains("axia init"), "{missing}");
        let denied = text(Failure::AccessDenied("HTTP 403 AccessDenied".into()), Op::Delete);
        assert!(denied.contains("s3://bucket/hist/k") && denied.contains("s3:DeleteObject"), "{denied}");
        let unreachable = text(Failure::Transport(Transport::Unreachable("refused".into())), Op::Get);
        assert!(unreachable.contains("https://s3.eu-west-1.amazonaws.com"), "{unreachable}");
        let region = text(Failure::WrongRegion("HTTP 301".into()), Op::Get);
        assert!(region.contains("eu-west-1") && region.contains("AWS_REGION"), "{region}");
    }

    #[tokio::test]
    async fn missing_credentials_are_misconfigured_before_any_request() {
        // A profile no credentials file holds: the chain fails like one that finds nothing.
        let profile = format!("axia-no-such-profile-{}", uuid::Uuid::new_v4().simple());
        let provider = ProfileFileCredentialsProvider::builder().profile_name(profile).build();
        let config = client("http://127.0.0.1:1").config().to_builder().credentials_provider(provider).build();
        let store = S3ObjectStore::from_client(Client::from_conf(config), "bucket", "").unwrap();
        let err = store.get("k").await.unwrap_err();
        match &err {
            ObjectStoreError::Misconfigured { detail } => {
                assert!(detail.contains("no AWS credentials") && detail.contains("AWS_PROFILE"), "{detail}");
            }
            other => panic!("expected Misconfigured, got {other:?}"),
        }
    }

    #[rstest]
    #[case("", "s3://bucket", "k")]
    #[case("a/b", "s3://bucket/a/b", "a/b/k")]
    #[case("/a/b/", "s3://bucket/a/b", "a/b/k")]
    fn prefixes_are_joined_with_one_slash(#[case] prefix: &str, #[case] location: &str, #[case] full: &str) {
        let store = store(prefix);
        assert_eq!(store.location(), location);
        assert_eq!(store.full_key("k"), full);
    }

    #[test]
    fn refuses_bad_settings() {
        assert!(matches!(
            S3ObjectStore::from_client(client("http://x"), "b", "a/../b"),
            Err(ObjectStoreError::InvalidKey { .. })
        ));
        assert!(matches!(
            S3ObjectStore::from_client(client("http://x"), "", ""),
            Err(ObjectStoreError::Misconfigured { .. })
        ));
        let no_region = client("http://x").config().to_builder().region(None).build();
        let err = S3ObjectStore::from_client(Client::from_conf(no_region), "b", "").unwrap_err();
        assert!(err.to_string().contains("AWS_REGION"), "{err}");
    }

    #[test]
    fn md5_comes_from_metadata_or_a_plain_etag() {
        let md5 = md5_hex(b"x");
        let meta: std::collections::HashMap<_, _> = [(MD5_METADATA.to_string(), md5.clone())].into();
        assert_eq!(md5_from_headers(Some(&meta), "opaque-1", Some(&ServerSideEncryption::AwsKms)), Some(md5.clone()));
        assert_eq!(md5_from_headers(None, &md5, None), Some(md5.clone()));
        assert_eq!(md5_from_headers(None, &md5, Some(&ServerSideEncryption::Aes256)), Some(md5.clone()));
        assert_eq!(md5_from_headers(None, &md5, Some(&ServerSideEncryption::AwsKms)), None);
        assert_eq!(md5_from_headers(None, "0123456789abcdef0123456789abcdef-2", None), None);
    }
}
