//! The S3 object store against a real S3 server (`AXIA_TEST_AWS_ENDPOINT`, the local server that
//! `scripts/test.sh` starts with `scripts/aws-server.sh`): the object store contract with and
//! without a key prefix, conditional writes under contention, paginated listings, the Parquet
//! OHLCV tier on S3, and clear errors for a missing bucket and an unreachable endpoint.
//!
//! Every test works in its own bucket `axia-test-<uuid>`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_adapters::object_store::{S3ObjectStore, S3Settings, md5_hex};
use axia_adapters::parquet::ParquetOhlcvRepository;
use axia_domain::ports::{ObjectStore, ObjectStoreError, PutMode};
use axia_tests::s3_support::s3_settings;
use axia_tests::{object_store_contract, ohlcv_contract};

/// A store under `prefix` in a bucket of its own, created here.
async fn store_in_new_bucket(prefix: &str) -> S3ObjectStore {
    let bucket = format!("axia-test-{}", uuid::Uuid::new_v4().simple());
    let store = S3ObjectStore::new(s3_settings(&bucket, prefix)).await.expect("S3 store");
    assert!(store.ensure_bucket().await.expect("create the bucket"), "a missing bucket is created");
    assert!(!store.ensure_bucket().await.expect("ensure the bucket again"), "an existing bucket is kept");
    store
}

#[tokio::test]
async fn s3_store_meets_the_contract() {
    let store = store_in_new_bucket("").await;
    assert_eq!(store.location(), format!("s3://{}", store.bucket()));
    object_store_contract::run(&store).await;
}

#[tokio::test]
async fn s3_store_meets_the_contract_under_a_prefix() {
    let store = store_in_new_bucket("axia/history/").await;
    assert_eq!(store.location(), format!("s3://{}/axia/history", store.bucket()));
    object_store_contract::run(&store).await;

    // The prefix is really a prefix of the bucket's keys, and other keys stay out of sight.
    let whole = S3ObjectStore::new(s3_settings(store.bucket(), "")).await.expect("store over the whole bucket");
    store.put("a/b", b"inside".to_vec(), PutMode::Create).await.expect("put under the prefix");
    whole.put("outside", b"outside".to_vec(), PutMode::Create).await.expect("put outside the prefix");
    assert_eq!(whole.get("axia/history/a/b").await.expect("the full key").0, b"inside");
    let keys: Vec<String> = store.list("").await.expect("list").into_iter().map(|m| m.key).collect();
    assert_eq!(keys, ["a/b"], "a prefixed store lists only its own keys, relative to its prefix");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_conditional_writes_lose_no_increment() {
    let store: Arc<dyn ObjectStore> = Arc::new(store_in_new_bucket("counters").await);
    assert_eq!(crate::object_store::increment_concurrently(store, 20).await, 20);
}

#[tokio::test]
async fn s3_list_follows_continuation_tokens() {
    let store = store_in_new_bucket("paged").await.with_list_page_size(3);
    let mut expected = Vec::new();
    for i in (0..11).rev() {
        let key = format!("part/{i:02}.bin");
        store.put(&key, vec![b'x'; i], PutMode::Overwrite).await.expect("put");
        expected.insert(0, key);
    }
    let listed = store.list("part/").await.expect("list over four pages");
    assert_eq!(listed.iter().map(|m| m.key.clone()).collect::<Vec<_>>(), expected, "every page, sorted");
    for (i, meta) in listed.iter().enumerate() {
        assert_eq!(meta.size, i as u64);
        assert_eq!(meta.etag, md5_hex(&vec![b'x'; i]), "a single-part ETag is the md5, without quotes");
    }
    let head = store.head("part/03.bin").await.expect("head");
    assert_eq!(head.md5, Some(md5_hex(b"xxx")), "head reports the md5 without a download");
}

#[tokio::test]
async fn parquet_ohlcv_tier_on_s3_meets_the_contract() {
    let store: Arc<dyn ObjectStore> = Arc::new(store_in_new_bucket("").await);
    let repo = ParquetOhlcvRepository::new(Arc::clone(&store), "axia");
    ohlcv_contract::run(&repo).await;
    let objects = store.list("axia/").await.expect("list");
    assert!(objects.iter().any(|m| m.key == "axia/manifest.json"), "the manifest lives at the prefix");
    assert!(
        objects.iter().any(|m| m.key.starts_with("axia/ohlcv/symbol=") && m.key.ends_with(".parquet")),
        "Hive-style Parquet objects: {:?}",
        objects.iter().map(|m| &m.key).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error_naming_it() {
    let bucket = format!("axia-test-missing-{}", uuid::Uuid::new_v4().simple());
    let store = S3ObjectStore::new(s3_settings(&bucket, "p")).await.expect("S3 store");
    let check = |op: &str, err: ObjectStoreError| match &err {
        ObjectStoreError::Misconfigured { detail } => {
            assert!(detail.contains(&bucket) && detail.contains("does not exist"), "{op}: {detail}");
            assert!(!err.is_retryable(), "{op}: a missing bucket is not transient");
        }
        other => panic!("{op} in a missing bucket: expected Misconfigured, got {other:?}"),
    };
    check("put", store.put("k", b"x".to_vec(), PutMode::Overwrite).await.expect_err("put"));
    check("create", store.put("k", b"x".to_vec(), PutMode::Create).await.expect_err("create"));
    check("get", store.get("k").await.expect_err("get"));
    check("list", store.list("").await.expect_err("list"));
    check("delete", store.delete("k").await.expect_err("delete"));
    // A HEAD answer has no body to name the bucket: it reads as a missing object.
    assert!(matches!(store.head("k").await, Err(ObjectStoreError::NotFound { .. })));
}

/// How long `call` took, and its error.
async fn timed<T: std::fmt::Debug>(
    call: impl Future<Output = Result<T, ObjectStoreError>>,
) -> (Duration, ObjectStoreError) {
    let started = Instant::now();
    let err = call.await.expect_err("the call must fail");
    (started.elapsed(), err)
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_error_within_bounds() {
    let unreachable = "http://127.0.0.1:1";
    let settings = S3Settings {
        endpoint_url: Some(unreachable.into()),
        connect_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_secs(2),
        max_attempts: 1,
        ..s3_settings("axia-test-unreachable", "")
    };
    let store = S3ObjectStore::new(settings).await.expect("S3 store");
    let ops = [
        ("put", timed(store.put("k", b"x".to_vec(), PutMode::Overwrite)).await),
        ("get", timed(store.get("k")).await),
        ("head", timed(store.head("k")).await),
        ("list", timed(store.list("")).await),
        ("delete", timed(store.delete("k")).await),
    ];
    for (op, (took, err)) in ops {
        assert!(took < Duration::from_secs(5), "{op} took {took:?}");
        assert!(err.is_retryable(), "{op}: an unreachable endpoint is transient: {err:?}");
        let text = err.to_string();
        assert!(text.contains(unreachable) && text.contains("check the endpoint"), "{op}: {text}");
    }
}
