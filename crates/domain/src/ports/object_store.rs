//! Blob storage (local directory or S3) under which the Parquet history tier and the backtest
//! artifacts live.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::errors::ObjectStoreError;

/// Metadata of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Key relative to the store root, `/`-separated.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Entity tag: changes whenever the content changes.
    pub etag: String,
    /// Hex md5 of the content, when the store knows it without a download.
    pub md5: Option<String>,
    /// Last modification time.
    pub last_modified: DateTime<Utc>,
}

/// How a put treats an existing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Write unconditionally.
    Overwrite,
    /// Write only when no object exists at the key (If-None-Match: *).
    Create,
    /// Write only when the current object has this ETag (If-Match).
    Update {
        /// The ETag read before.
        etag: String,
    },
}

/// A flat key → bytes store.
///
/// # Contract
/// Keys are relative, `/`-separated, without `..`; a put is atomic (readers see the old or the
/// new content, never a mix); conditional puts fail with
/// [`ObjectStoreError::PreconditionFailed`] and change nothing.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ObjectStore: Send + Sync + Debug {
    /// Where the store points, for messages (`file:///…`, `s3://bucket/prefix`).
    fn location(&self) -> String;

    /// Stores `data` at `key`; returns the new metadata.
    ///
    /// # Errors
    /// [`ObjectStoreError::PreconditionFailed`] when `mode` does not hold;
    /// [`ObjectStoreError::Unavailable`] (retryable), [`ObjectStoreError::Misconfigured`],
    /// [`ObjectStoreError::InvalidKey`].
    async fn put(&self, key: &str, data: Vec<u8>, mode: PutMode) -> Result<ObjectMeta, ObjectStoreError>;

    /// Reads the object and its metadata.
    ///
    /// # Errors
    /// [`ObjectStoreError::NotFound`] when absent; otherwise as `put`.
    async fn get(&self, key: &str) -> Result<(Vec<u8>, ObjectMeta), ObjectStoreError>;

    /// Metadata without the content.
    ///
    /// # Errors
    /// [`ObjectStoreError::NotFound`] when absent; otherwise as `put`.
    async fn head(&self, key: &str) -> Result<ObjectMeta, ObjectStoreError>;

    /// Every object whose key starts with `prefix`, sorted by key.
    ///
    /// # Errors
    /// As `put` (an empty listing is not an error).
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectStoreError>;

    /// Deletes the object; deleting a missing object succeeds.
    ///
    /// # Errors
    /// As `put`.
    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError>;
}
