//! The contract suite of the [`ObjectStore`] port, run against every adapter (in memory, local
//! directory, S3). Every key lives under a fresh `contract-<uuid>/` prefix, so the suite can
//! run against a shared bucket, and it deletes what it wrote.
//!
//! The ETag is opaque; when a store reports `md5` it must be the hex md5 of the content.
//! `PutMode::Update` on a missing key may fail with `PreconditionFailed` or `NotFound` (S3
//! answers either, depending on the implementation).

use axia_adapters::object_store::md5_hex;
use axia_domain::ports::{ObjectMeta, ObjectStore, ObjectStoreError, PutMode};

/// Runs every check of the contract against `store`.
///
/// # Panics
/// On the first broken rule, with a message naming it and the store's location.
pub async fn run(store: &dyn ObjectStore) {
    let root = format!("contract-{}/", uuid::Uuid::new_v4().simple());
    put_get_head(store, &root).await;
    overwrite(store, &root).await;
    create_only_when_absent(store, &root).await;
    update_only_with_current_etag(store, &root).await;
    not_found(store, &root).await;
    delete(store, &root).await;
    invalid_keys(store).await;
    list_filters_and_sorts(store, &root).await;
    cleanup(store, &root).await;
}

fn check_meta(store: &dyn ObjectStore, meta: &ObjectMeta, key: &str, data: &[u8]) {
    let at = store.location();
    assert_eq!(meta.key, key, "{at}: metadata names the key");
    assert_eq!(meta.size, data.len() as u64, "{at}: size of {key}");
    assert!(!meta.etag.is_empty(), "{at}: an ETag for {key}");
    if let Some(md5) = &meta.md5 {
        assert_eq!(*md5, md5_hex(data), "{at}: md5 of {key} is the md5 of its content");
    }
}

async fn put_get_head(store: &dyn ObjectStore, root: &str) {
    let key = format!("{root}basic/one.bin");
    let data = b"hello, axia".to_vec();
    let put = store.put(&key, data.clone(), PutMode::Overwrite).await.expect("put");
    check_meta(store, &put, &key, &data);
    let (got, meta) = store.get(&key).await.expect("get");
    assert_eq!(got, data, "{}: get returns what was put", store.location());
    check_meta(store, &meta, &key, &data);
    assert_eq!(meta.etag, put.etag, "get reports the ETag of the put");
    let head = store.head(&key).await.expect("head");
    check_meta(store, &head, &key, &data);
    assert_eq!(head.etag, put.etag, "head reports the ETag of the put");

    let empty = format!("{root}basic/empty.bin");
    let put = store.put(&empty, Vec::new(), PutMode::Create).await.expect("put of an empty object");
    check_meta(store, &put, &empty, &[]);
    assert!(store.get(&empty).await.expect("get of an empty object").0.is_empty());
}

async fn overwrite(store: &dyn ObjectStore, root: &str) {
    let key = format!("{root}overwrite.txt");
    let first = store.put(&key, b"v1".to_vec(), PutMode::Overwrite).await.expect("first put");
    let second = store.put(&key, b"version 2".to_vec(), PutMode::Overwrite).await.expect("overwrite");
    assert_ne!(first.etag, second.etag, "the ETag changes with the content");
    let (got, meta) = store.get(&key).await.expect("get after overwrite");
    assert_eq!(got, b"version 2");
    assert_eq!(meta.etag, second.etag);
    let same = store.put(&key, b"version 2".to_vec(), PutMode::Overwrite).await.expect("same content");
    check_meta(store, &same, &key, b"version 2");
}

async fn create_only_when_absent(store: &dyn ObjectStore, root: &str) {
    let key = format!("{root}create.txt");
    let created = store.put(&key, b"first".to_vec(), PutMode::Create).await.expect("create when absent");
    let err = store.put(&key, b"second".to_vec(), PutMode::Create).await.expect_err("create when present");
    assert!(matches!(err, ObjectStoreError::PreconditionFailed { .. }), "Create on an existing key: {err:?}");
    assert!(!err.is_retryable(), "a failed precondition is not retryable as such");
    let (got, meta) = store.get(&key).await.expect("get");
    assert_eq!(got, b"first", "a failed Create changes nothing");
    assert_eq!(meta.etag, created.etag);
}

async fn update_only_with_current_etag(store: &dyn ObjectStore, root: &str) {
    let key = format!("{root}update.txt");
    let v1 = store.put(&key, b"v1".to_vec(), PutMode::Create).await.expect("create");
    let v2 = store.put(&key, b"v2".to_vec(), PutMode::Update { etag: v1.etag.clone() }).await.expect("update");
    let err = store.put(&key, b"v3".to_vec(), PutMode::Update { etag: v1.etag }).await.expect_err("stale ETag");
    assert!(matches!(err, ObjectStoreError::PreconditionFailed { .. }), "Update with a stale ETag: {err:?}");
    let (got, meta) = store.get(&key).await.expect("get");
    assert_eq!(got, b"v2", "a failed Update changes nothing");
    assert_eq!(meta.etag, v2.etag);

    let missing = format!("{root}update-missing.txt");
    let err = store.put(&missing, b"x".to_vec(), PutMode::Update { etag: v2.etag }).await.expect_err("no object");
    assert!(
        matches!(err, ObjectStoreError::PreconditionFailed { .. } | ObjectStoreError::NotFound { .. }),
        "Update of a missing key: {err:?}"
    );
    assert!(matches!(store.head(&missing).await, Err(ObjectStoreError::NotFound { .. })), "nothing was created");
}

async fn not_found(store: &dyn ObjectStore, root: &str) {
    let key = format!("{root}absent/nothing.bin");
    match store.get(&key).await {
        Err(ObjectStoreError::NotFound { key: k }) => assert_eq!(k, key, "NotFound names the key"),
        other => panic!("get of a missing key: {other:?}"),
    }
    match store.head(&key).await {
        Err(ObjectStoreError::NotFound { key: k }) => assert_eq!(k, key, "NotFound names the key"),
        other => panic!("head of a missing key: {other:?}"),
    }
}

async fn delete(store: &dyn ObjectStore, root: &str) {
    let key = format!("{root}delete/me.bin");
    store.put(&key, b"bye".to_vec(), PutMode::Overwrite).await.expect("put");
    store.delete(&key).await.expect("delete");
    assert!(matches!(store.get(&key).await, Err(ObjectStoreError::NotFound { .. })), "deleted");
    assert!(matches!(store.head(&key).await, Err(ObjectStoreError::NotFound { .. })), "deleted");
    store.delete(&key).await.expect("deleting a missing object succeeds");
    store.put(&key, b"again".to_vec(), PutMode::Create).await.expect("create after delete");
}

async fn invalid_keys(store: &dyn ObjectStore) {
    for key in ["", "/absolute/key", "a/../b", "..", "a\\b"] {
        let is_invalid = |r: &ObjectStoreError| matches!(r, ObjectStoreError::InvalidKey { .. });
        let put = store.put(key, b"x".to_vec(), PutMode::Overwrite).await.expect_err("put of an invalid key");
        assert!(is_invalid(&put), "put {key:?}: {put:?}");
        let get = store.get(key).await.expect_err("get of an invalid key");
        assert!(is_invalid(&get), "get {key:?}: {get:?}");
        let head = store.head(key).await.expect_err("head of an invalid key");
        assert!(is_invalid(&head), "head {key:?}: {head:?}");
        let delete = store.delete(key).await.expect_err("delete of an invalid key");
        assert!(is_invalid(&delete), "delete {key:?}: {delete:?}");
    }
}

async fn list_filters_and_sorts(store: &dyn ObjectStore, root: &str) {
    let base = format!("{root}list/");
    // Put in an order different from the sorted one.
    for name in ["b/1", "a/2", "ab", "a/1", "a/sub/deep"] {
        let key = format!("{base}{name}");
        store.put(&key, name.as_bytes().to_vec(), PutMode::Overwrite).await.expect("put for listing");
    }
    let keys = |metas: Vec<ObjectMeta>| metas.into_iter().map(|m| m.key).collect::<Vec<_>>();
    let with = |names: &[&str]| names.iter().map(|n| format!("{base}{n}")).collect::<Vec<_>>();

    let all = store.list(&base).await.expect("list");
    for meta in &all {
        let name = meta.key.strip_prefix(&base).expect("listed keys keep the prefix");
        check_meta(store, meta, &meta.key, name.as_bytes());
        assert_eq!(store.head(&meta.key).await.expect("head").etag, meta.etag, "list and head agree");
    }
    assert_eq!(keys(all), with(&["a/1", "a/2", "a/sub/deep", "ab", "b/1"]), "sorted, recursive");
    let a_dir = store.list(&format!("{base}a/")).await.expect("list a/");
    assert_eq!(keys(a_dir), with(&["a/1", "a/2", "a/sub/deep"]), "directory prefix");
    let a_str = store.list(&format!("{base}a")).await.expect("list a");
    assert_eq!(keys(a_str), with(&["a/1", "a/2", "a/sub/deep", "ab"]), "a prefix is a string prefix");
    let none = store.list(&format!("{base}zzz")).await.expect("list of nothing");
    assert!(none.is_empty(), "an empty listing is not an error");
    let none = store.list(&format!("{root}no-such-dir/")).await.expect("list of nothing");
    assert!(none.is_empty(), "an empty listing is not an error");
}

async fn cleanup(store: &dyn ObjectStore, root: &str) {
    for meta in store.list(root).await.expect("list for cleanup") {
        store.delete(&meta.key).await.expect("cleanup");
    }
    assert!(store.list(root).await.expect("list after cleanup").is_empty(), "everything deleted");
}
