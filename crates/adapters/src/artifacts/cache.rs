//! [`ArtifactCache`]: the local read-through cache of the S3 mode (seed 000: TTL 24 h and a
//! metadata file).
//!
//! ```text
//! {dir}/.cache_metadata.json                  one entry per cached artifact (see CacheEntry)
//! {dir}/objects/{source id}/{key}             the cached copies
//! {dir}/tmp/                                  copies being written (renamed into place)
//! ```
//!
//! The source id is a hash of the remote's location (`s3://bucket/prefix`), so two buckets or
//! prefixes sharing one cache directory never serve each other's artifacts. A copy is served
//! only while its size and md5 match its entry, so a truncated or edited file is fetched again.
//! The metadata file is rewritten whole (temporary file, then rename) under a lock of this
//! process; two processes sharing the directory may drop each other's newest entries, which
//! only costs a fetch.
//!
//! Failures of the cache never fail a read or a write: they are logged and the remote answers.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::ArtifactError;
use crate::object_store::md5_hex;

/// Name of the metadata file in the cache directory (the seed's).
pub const METADATA_FILE: &str = ".cache_metadata.json";
const OBJECTS_DIR: &str = "objects";
const TMP_DIR: &str = "tmp";
const METADATA_VERSION: u32 = 1;

/// What the cache knows of one cached artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The artifact's key.
    pub key: String,
    /// The remote it came from (`s3://bucket/prefix`).
    pub source: String,
    /// The remote's ETag when it was fetched or last revalidated.
    pub etag: String,
    /// Hex md5 of the cached copy.
    pub md5: String,
    /// When it was fetched or last revalidated; served without asking the remote until this
    /// plus the TTL.
    pub fetched_at: DateTime<Utc>,
    /// Size in bytes.
    pub size: u64,
    /// The copy, relative to the cache directory.
    pub file: String,
}

/// What [`ArtifactCache::clear`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CacheClearReport {
    /// The cache directory.
    pub path: PathBuf,
    /// Metadata entries dropped.
    pub entries: usize,
    /// Files removed (cached copies and leftovers of interrupted writes).
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Metadata {
    version: u32,
    /// By `{source}/{key}`.
    entries: BTreeMap<String, CacheEntry>,
}

/// A cache directory with a TTL.
#[derive(Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
    ttl: TimeDelta,
    /// Serialises this process's metadata updates.
    lock: Mutex<()>,
}

impl ArtifactCache {
    /// A cache in `dir` (created on the first write) serving copies for `ttl` after their fetch.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>, ttl: TimeDelta) -> Self {
        let dir = dir.into();
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Self { dir, ttl, lock: Mutex::new(()) }
    }

    /// The cache directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long a copy is served without asking the remote.
    #[must_use]
    pub const fn ttl(&self) -> TimeDelta {
        self.ttl
    }

    /// Whether `entry` may be served at `now` without asking the remote.
    #[must_use]
    pub fn is_fresh(&self, entry: &CacheEntry, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(entry.fetched_at) < self.ttl
    }

    /// Every entry, sorted by source and key.
    ///
    /// # Errors
    /// [`ArtifactError::Cache`] when the metadata file cannot be read.
    pub async fn entries(&self) -> Result<Vec<CacheEntry>, ArtifactError> {
        Ok(self.load().await?.entries.into_values().collect())
    }

    /// Removes every cached copy and the metadata file (never anything else in the directory,
    /// which may be a shared one such as `/tmp`); the remote keeps its objects.
    ///
    /// # Errors
    /// [`ArtifactError::Cache`] when a file cannot be removed.
    pub async fn clear(&self) -> Result<CacheClearReport, ArtifactError> {
        let _guard = self.lock.lock().await;
        let entries = self.load().await.map(|m| m.entries.len()).unwrap_or(0);
        let dir = self.dir.clone();
        let (files, bytes) = tokio::task::spawn_blocking(move || {
            let mut counted = (0, 0);
            for sub in [OBJECTS_DIR, TMP_DIR] {
                let path = dir.join(sub);
                count_files(&path, &mut counted).map_err(|e| cache_error(&path, &e))?;
                remove_dir(&path).map_err(|e| cache_error(&path, &e))?;
            }
            let metadata = dir.join(METADATA_FILE);
            match std::fs::remove_file(&metadata) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(cache_error(&metadata, &e)),
            }
            Ok(counted)
        })
        .await
        .map_err(|e| ArtifactError::Cache { path: self.dir.clone(), detail: e.to_string() })??;
        Ok(CacheClearReport { path: self.dir.clone(), entries, files, bytes })
    }

    /// The entry and verified copy of `key` from `source`, if the cache holds a good one.
    pub(super) async fn lookup(&self, source: &str, key: &str) -> Option<(CacheEntry, Vec<u8>)> {
        let entry = self.load().await.ok()?.entries.remove(&entry_id(source, key))?;
        let bytes = tokio::fs::read(self.dir.join(&entry.file)).await.ok()?;
        (bytes.len() as u64 == entry.size && md5_hex(&bytes) == entry.md5).then_some((entry, bytes))
    }

    /// Keeps `bytes` as the copy of `key` from `source`, fetched (or written) at `now` with
    /// `etag`.
    pub(super) async fn store(&self, source: &str, key: &str, bytes: &[u8], etag: &str, now: DateTime<Utc>) {
        let file = format!("{OBJECTS_DIR}/{}/{key}", source_id(source));
        let entry = CacheEntry {
            key: key.to_string(),
            source: source.to_string(),
            etag: etag.to_string(),
            md5: md5_hex(bytes),
            fetched_at: now,
            size: bytes.len() as u64,
            file: file.clone(),
        };
        let _guard = self.lock.lock().await;
        let result = async {
            self.write_atomically(&self.dir.join(&file), bytes).await?;
            self.update(|m| {
                m.entries.insert(entry_id(source, key), entry);
            })
            .await
        };
        if let Err(e) = result.await {
            tracing::warn!(key, error = %e, "cannot keep the artifact in the local cache");
        }
    }

    /// Marks the copy of `key` as revalidated at `now`.
    pub(super) async fn touch(&self, source: &str, key: &str, now: DateTime<Utc>) {
        let _guard = self.lock.lock().await;
        let result = self
            .update(|m| {
                if let Some(entry) = m.entries.get_mut(&entry_id(source, key)) {
                    entry.fetched_at = now;
                }
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(key, error = %e, "cannot update the local cache metadata");
        }
    }

    /// Drops the copy of `key` (gone from the remote).
    pub(super) async fn forget(&self, source: &str, key: &str) {
        let _guard = self.lock.lock().await;
        let mut removed = None;
        let result = self.update(|m| removed = m.entries.remove(&entry_id(source, key))).await;
        if let Some(entry) = removed {
            let _ = tokio::fs::remove_file(self.dir.join(entry.file)).await;
        }
        if let Err(e) = result {
            tracing::warn!(key, error = %e, "cannot update the local cache metadata");
        }
    }

    async fn load(&self) -> Result<Metadata, ArtifactError> {
        let path = self.dir.join(METADATA_FILE);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(serde_json::from_slice::<Metadata>(&bytes)
                .ok()
                .filter(|m| m.version == METADATA_VERSION)
                .unwrap_or_else(|| {
                    tracing::warn!(path = %path.display(), "unreadable cache metadata; starting an empty cache");
                    Metadata::default()
                })),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Metadata::default()),
            Err(e) => Err(cache_error(&path, &e)),
        }
    }

    /// Read-modify-write of the metadata file; the caller holds the lock.
    async fn update(&self, change: impl FnOnce(&mut Metadata)) -> Result<(), ArtifactError> {
        let mut metadata = self.load().await?;
        change(&mut metadata);
        metadata.version = METADATA_VERSION;
        let json = serde_json::to_vec_pretty(&metadata)
            .map_err(|e| ArtifactError::Cache { path: self.dir.join(METADATA_FILE), detail: e.to_string() })?;
        self.write_atomically(&self.dir.join(METADATA_FILE), &json).await
    }

    /// Writes a temporary file and renames it over `path`, so that readers never see half a file.
    async fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
        let tmp_dir = self.dir.join(TMP_DIR);
        let tmp = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
        let result = async {
            tokio::fs::create_dir_all(&tmp_dir).await?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&tmp, bytes).await?;
            tokio::fs::rename(&tmp, path).await
        };
        if let Err(e) = result.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(cache_error(path, &e));
        }
        Ok(())
    }
}

fn entry_id(source: &str, key: &str) -> String {
    format!("{source}/{key}")
}

/// A short stable directory name for a remote.
fn source_id(source: &str) -> String {
    md5_hex(source.as_bytes())[..16].to_string()
}

fn cache_error(path: &Path, e: &std::io::Error) -> ArtifactError {
    ArtifactError::Cache { path: path.to_path_buf(), detail: e.to_string() }
}

fn count_files(path: &Path, counted: &mut (usize, u64)) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            count_files(&entry.path(), counted)?;
        } else {
            counted.0 += 1;
            counted.1 += entry.metadata()?.len();
        }
    }
    Ok(())
}

fn remove_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const SOURCE: &str = "s3://bucket/.cache";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 30, 9, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn stores_serves_and_clears_only_its_own_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("unrelated.txt"), b"keep me").unwrap();
        let cache = ArtifactCache::new(dir.path(), TimeDelta::hours(24));
        cache.store(SOURCE, "signals/a.parquet", b"abc", "etag-1", now()).await;
        cache.store("s3://other/.cache", "signals/a.parquet", b"other", "etag-9", now()).await;

        let (entry, bytes) = cache.lookup(SOURCE, "signals/a.parquet").await.unwrap();
        assert_eq!(bytes, b"abc");
        assert_eq!((entry.etag.as_str(), entry.size, entry.md5.clone()), ("etag-1", 3, md5_hex(b"abc")));
        assert!(cache.is_fresh(&entry, now() + TimeDelta::hours(23)));
        assert!(!cache.is_fresh(&entry, now() + TimeDelta::hours(24)));
        assert_eq!(cache.lookup("s3://other/.cache", "signals/a.parquet").await.unwrap().1, b"other");
        let metadata: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(METADATA_FILE)).unwrap()).unwrap();
        let first = &metadata["entries"]["s3://bucket/.cache/signals/a.parquet"];
        assert_eq!(first["key"], "signals/a.parquet");
        assert_eq!(first["fetched_at"], "2026-01-30T09:00:00Z");

        let report = cache.clear().await.unwrap();
        assert_eq!((report.entries, report.files, report.bytes), (2, 2, 8));
        assert!(cache.lookup(SOURCE, "signals/a.parquet").await.is_none());
        assert!(dir.path().join("unrelated.txt").exists(), "only the cache's own files go");
        assert_eq!(cache.clear().await.unwrap().files, 0);
    }

    #[tokio::test]
    async fn a_damaged_copy_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path(), TimeDelta::hours(24));
        cache.store(SOURCE, "a.bin", b"abcdef", "e", now()).await;
        let (entry, _) = cache.lookup(SOURCE, "a.bin").await.unwrap();
        std::fs::write(dir.path().join(&entry.file), b"abcdeX").unwrap();
        assert!(cache.lookup(SOURCE, "a.bin").await.is_none());
        std::fs::write(dir.path().join(METADATA_FILE), b"{ not json").unwrap();
        assert!(cache.entries().await.unwrap().is_empty(), "unreadable metadata is an empty cache");
    }

    #[tokio::test]
    async fn touch_and_forget() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path(), TimeDelta::hours(1));
        cache.store(SOURCE, "a.bin", b"x", "e", now()).await;
        cache.touch(SOURCE, "a.bin", now() + TimeDelta::hours(5)).await;
        assert_eq!(cache.entries().await.unwrap()[0].fetched_at, now() + TimeDelta::hours(5));
        cache.forget(SOURCE, "a.bin").await;
        assert!(cache.entries().await.unwrap().is_empty());
        assert_eq!(cache.clear().await.unwrap().files, 0, "the copy went with its entry");
    }
}
