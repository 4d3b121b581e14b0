//! The local S3 server of the test command, for integration tests: its endpoint, settings, and
//! a store in a bucket of its own.

use axia_adapters::object_store::{S3ObjectStore, S3Settings};

/// The local S3 server (`AXIA_TEST_AWS_ENDPOINT`, set by `scripts/test.sh`).
///
/// # Panics
/// When it is not set: these tests fail rather than skip.
#[must_use]
pub fn aws_endpoint() -> String {
    std::env::var("AXIA_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "AXIA_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the local AWS \
             server (scripts/aws-server.sh start) and sets it with the AWS_* test credentials"
        )
    })
}

/// A fresh bucket name, `axia-test-<uuid>`.
#[must_use]
pub fn new_bucket_name() -> String {
    format!("axia-test-{}", uuid::Uuid::new_v4().simple())
}

/// Settings of `bucket` under `prefix` on the local server.
#[must_use]
pub fn s3_settings(bucket: &str, prefix: &str) -> S3Settings {
    S3Settings {
        prefix: prefix.to_string(),
        region: Some("us-east-1".into()),
        endpoint_url: Some(aws_endpoint()),
        ..S3Settings::new(bucket)
    }
}

/// A store under `prefix` in a new bucket of its own, created here.
///
/// # Panics
/// When the store cannot be built or the bucket created.
pub async fn s3_store_in_new_bucket(prefix: &str) -> S3ObjectStore {
    let store = S3ObjectStore::new(s3_settings(&new_bucket_name(), prefix)).await.expect("S3 store");
    assert!(store.ensure_bucket().await.expect("create the bucket"), "a new bucket is created");
    store
}
