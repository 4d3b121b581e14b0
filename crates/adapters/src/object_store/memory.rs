//! An [`ObjectStore`] in a map, for tests: the same semantics as the local store (md5 ETags,
//! conditional puts, sorted listings, the same key rules) without touching the disk.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use axia_domain::ports::{ObjectMeta, ObjectStore, ObjectStoreError, PutMode};
use chrono::{DateTime, Utc};

use super::{md5_hex, validate_key, validate_prefix};

#[derive(Debug, Clone)]
struct Entry {
    data: Arc<Vec<u8>>,
    etag: String,
    last_modified: DateTime<Utc>,
}

impl Entry {
    fn meta(&self, key: &str) -> ObjectMeta {
        ObjectMeta {
            key: key.to_string(),
            size: self.data.len() as u64,
            etag: self.etag.clone(),
            md5: Some(self.etag.clone()),
            last_modified: self.last_modified,
        }
    }
}

/// Objects held in memory; every clone of the `Arc` sees the same objects.
#[derive(Debug, Default)]
pub struct InMemoryObjectStore {
    objects: Mutex<BTreeMap<String, Entry>>,
}

impl InMemoryObjectStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated (every mutation is a
        // single insert or remove), so a poisoned lock is still consistent.
        self.objects.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ObjectStore for InMemoryObjectStore {
    fn location(&self) -> String {
        "memory://".to_string()
    }

    async fn put(&self, key: &str, data: Vec<u8>, mode: PutMode) -> Result<ObjectMeta, ObjectStoreError> {
        validate_key(key)?;
        let etag = md5_hex(&data);
        let mut objects = self.lock();
        let current = objects.get(key).map(|e| e.etag.as_str());
        let allowed = match (&mode, current) {
            (PutMode::Overwrite, _) | (PutMode::Create, None) => true,
            (PutMode::Update { etag: expected }, Some(actual)) => expected == actual,
            (PutMode::Create, Some(_)) | (PutMode::Update { .. }, None) => false,
        };
        if !allowed {
            return Err(ObjectStoreError::PreconditionFailed { key: key.to_string() });
        }
        let entry = Entry { data: Arc::new(data), etag, last_modified: Utc::now() };
        let meta = entry.meta(key);
        objects.insert(key.to_string(), entry);
        Ok(meta)
    }

    async fn get(&self, key: &str) -> Result<(Vec<u8>, ObjectMeta), ObjectStoreError> {
        validate_key(key)?;
        let entry = self.lock().get(key).cloned();
        let entry = entry.ok_or_else(|| ObjectStoreError::NotFound { key: key.to_string() })?;
        let meta = entry.meta(key);
        Ok((Arc::unwrap_or_clone(entry.data), meta))
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, ObjectStoreError> {
        validate_key(key)?;
        self.lock().get(key).map(|e| e.meta(key)).ok_or_else(|| ObjectStoreError::NotFound { key: key.to_string() })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectStoreError> {
        validate_prefix(prefix)?;
        let objects = self.lock();
        Ok(objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, e)| e.meta(k))
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        validate_key(key)?;
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conditional_puts() {
        let store = InMemoryObjectStore::new();
        let first = store.put("a/b", b"1".to_vec(), PutMode::Create).await.unwrap();
        assert_eq!(first.etag, md5_hex(b"1"));
        assert_eq!(first.md5.as_deref(), Some(first.etag.as_str()));
        let err = store.put("a/b", b"2".to_vec(), PutMode::Create).await.unwrap_err();
        assert!(matches!(err, ObjectStoreError::PreconditionFailed { .. }));
        let stale = PutMode::Update { etag: md5_hex(b"0") };
        assert!(store.put("a/b", b"2".to_vec(), stale).await.is_err());
        store.put("a/b", b"2".to_vec(), PutMode::Update { etag: first.etag }).await.unwrap();
        assert_eq!(store.get("a/b").await.unwrap().0, b"2");
        let missing = PutMode::Update { etag: md5_hex(b"2") };
        assert!(store.put("zz", b"x".to_vec(), missing).await.is_err());
    }

    #[tokio::test]
    async fn lists_by_string_prefix_sorted() {
        let store = InMemoryObjectStore::new();
        for k in ["p/b", "p/a/2", "p/a/1", "q", "p/ab"] {
            store.put(k, k.as_bytes().to_vec(), PutMode::Overwrite).await.unwrap();
        }
        let keys: Vec<String> = store.list("p/a").await.unwrap().into_iter().map(|m| m.key).collect();
        assert_eq!(keys, ["p/a/1", "p/a/2", "p/ab"]);
        assert_eq!(store.list("").await.unwrap().len(), 5);
        store.delete("q").await.unwrap();
        store.delete("q").await.unwrap();
        assert!(matches!(store.head("q").await, Err(ObjectStoreError::NotFound { .. })));
    }
}
