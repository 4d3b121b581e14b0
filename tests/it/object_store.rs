//! The object store contract against the local and in-memory stores, and conditional writes
//! under contention.

use std::sync::Arc;

use axia_adapters::object_store::{InMemoryObjectStore, LocalObjectStore};
use axia_domain::ports::{ObjectStore, ObjectStoreError, PutMode};
use axia_tests::object_store_contract;

#[tokio::test]
async fn local_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    object_store_contract::run(&LocalObjectStore::new(dir.path())).await;
}

#[tokio::test]
async fn local_store_meets_the_contract_in_a_missing_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    object_store_contract::run(&LocalObjectStore::new(dir.path().join("not/yet/created"))).await;
}

#[tokio::test]
async fn in_memory_store_meets_the_contract() {
    object_store_contract::run(&InMemoryObjectStore::new()).await;
}

/// Read-modify-conditional-write of one counter by `tasks` tasks; returns the final value.
pub(crate) async fn increment_concurrently(store: Arc<dyn ObjectStore>, tasks: u32) -> u32 {
    let key = format!("counter-{}/value", uuid::Uuid::new_v4().simple());
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move {
                for attempt in 0..1_000 {
                    let (value, mode) = match store.get(&key).await {
                        Ok((bytes, meta)) => {
                            let text = String::from_utf8(bytes).expect("utf-8 counter");
                            (text.parse::<u32>().expect("numeric counter"), PutMode::Update { etag: meta.etag })
                        }
                        Err(ObjectStoreError::NotFound { .. }) => (0, PutMode::Create),
                        Err(e) => panic!("get: {e}"),
                    };
                    // Let the other tasks read the same value, so that writes really collide.
                    tokio::task::yield_now().await;
                    match store.put(&key, (value + 1).to_string().into_bytes(), mode).await {
                        Ok(_) => return attempt,
                        Err(ObjectStoreError::PreconditionFailed { .. }) => tokio::task::yield_now().await,
                        Err(e) => panic!("put: {e}"),
                    }
                }
                panic!("no increment after 1000 attempts");
            })
        })
        .collect();
    let mut retries = 0;
    for handle in handles {
        retries += handle.await.expect("task");
    }
    eprintln!("{}: {tasks} increments needed {retries} retries", store.location());
    let (bytes, _) = store.get(&key).await.expect("counter");
    String::from_utf8(bytes).expect("utf-8").parse().expect("number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_conditional_writes_lose_no_increment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(dir.path()));
    assert_eq!(increment_concurrently(store, 20).await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_conditional_writes_lose_no_increment_across_store_instances() {
    // Two stores on one directory share nothing in memory: only the lock files protect them.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = "shared/counter";
    let stores: Vec<Arc<dyn ObjectStore>> =
        (0..2).map(|_| Arc::new(LocalObjectStore::new(dir.path())) as Arc<dyn ObjectStore>).collect();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&stores[i % 2]);
            tokio::spawn(async move {
                loop {
                    let (value, mode) = match store.get(key).await {
                        Ok((bytes, meta)) => (bytes.len(), PutMode::Update { etag: meta.etag }),
                        Err(ObjectStoreError::NotFound { .. }) => (0, PutMode::Create),
                        Err(e) => panic!("get: {e}"),
                    };
                    match store.put(key, vec![b'x'; value + 1], mode).await {
                        Ok(_) => break,
                        Err(ObjectStoreError::PreconditionFailed { .. }) => tokio::task::yield_now().await,
                        Err(e) => panic!("put: {e}"),
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    assert_eq!(stores[0].get(key).await.expect("counter").0.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_conditional_writes_lose_no_increment() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemoryObjectStore::new());
    assert_eq!(increment_concurrently(store, 20).await, 20);
}

#[tokio::test]
async fn local_location_is_a_file_url_of_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalObjectStore::new(dir.path());
    assert_eq!(store.location(), format!("file://{}", dir.path().display()));
}
