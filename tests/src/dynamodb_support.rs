//! The local DynamoDB server of the test command, for integration tests: settings, and a state
//! store on a table of its own.

use axia_adapters::dynamodb::{DynamoSettings, DynamoStateStore, TableSetup};

use crate::s3_support::aws_endpoint;

/// A fresh table name, `axia-test-<uuid>`.
#[must_use]
pub fn new_table_name() -> String {
    format!("axia-test-{}", uuid::Uuid::new_v4().simple())
}

/// Settings of `table` on the local server (`AXIA_TEST_AWS_ENDPOINT`).
///
/// # Panics
/// When `AXIA_TEST_AWS_ENDPOINT` is not set: these tests fail rather than skip.
#[must_use]
pub fn dynamo_settings(table: &str) -> DynamoSettings {
    DynamoSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(aws_endpoint()),
        ..DynamoSettings::new(table)
    }
}

/// A store on a new table of its own, created here with [`DynamoStateStore::ensure_table`].
///
/// # Panics
/// When the store cannot be built or the table created.
pub async fn dynamo_store_in_new_table() -> DynamoStateStore {
    let store = DynamoStateStore::new(dynamo_settings(&new_table_name())).await.expect("DynamoDB store");
    let setup = store.ensure_table().await.expect("create the table");
    assert_eq!(setup, TableSetup { created: true, ttl_enabled: true }, "a new table is created with TTL on");
    store
}
