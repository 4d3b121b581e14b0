//! The artifact store of backtests (seed 000, SPEC §4 "Artifact cache for backtests"): signal,
//! covariance and data caches as Parquet frames or raw bytes under relative keys, kept in a
//! local directory (`local` mode) or shared by the team through S3 (`s3` mode), with a local
//! read-through cache in front of S3.
//!
//! - Keys are relative `/`-separated paths (`signals/momentum_20.parquet`); absolute paths,
//!   `.` and `..` segments, backslashes and empty segments are refused
//!   ([`ArtifactError::InvalidKey`]), so no key reaches outside the base directory or prefix.
//! - Both modes run over the [`ObjectStore`] port: a [`LocalObjectStore`] at `base_path`, or any
//!   store for S3 mode (an [`S3ObjectStore`] in production). Writes are atomic in both.
//! - In S3 mode with the cache on, a read is served from the cached copy without a request while
//!   the copy is younger than the TTL (24 h by default). An older copy is revalidated with a
//!   HEAD: the same ETag (or md5) renews it, another one fetches the object again, a missing
//!   object drops it. A write goes to S3 first and then into the cache. See
//!   [`ArtifactCache`] for the directory and its metadata file, and [`ArtifactStore::clear_cache`].
//! - Parquet frames are written with zstd, like the history tier.
//!
//! ```
//! use axia_adapters::artifacts::{ArtifactConfig, ArtifactMode, ArtifactStore};
//! use polars::prelude::*;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let mut config = ArtifactConfig { mode: ArtifactMode::Local, base_path: dir.path().into(), ..Default::default() };
//! config.apply_env_overrides(); // BACKTEST_S3_BUCKET, BACKTEST_S3_PREFIX
//! let store = ArtifactStore::from_config(&config, None).await?;
//!
//! let signals = df!("symbol" => ["EURUSD", "USDJPY"], "momentum_20" => [0.42, -1.3])?;
//! store.write_parquet("signals/momentum_20.parquet", &signals).await?;
//! assert!(store.read_parquet("signals/momentum_20.parquet").await?.equals(&signals));
//!
//! store.write_bytes("runs/2026-01-30/summary.json", br#"{"sharpe": 1.2}"#.to_vec()).await?;
//! assert_eq!(store.read_bytes("runs/2026-01-30/summary.json").await?, br#"{"sharpe": 1.2}"#);
//! assert!(store.read_bytes("../outside").await.is_err());
//! assert_eq!(store.clear_cache().await?.files, 0); // local mode has no cache
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod cache;
mod config;

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use axia_domain::ports::{ObjectMeta, ObjectStore, ObjectStoreError, PutMode};
use axia_domain::{Clock, SystemClock};
use polars::prelude::{ParquetCompression, ParquetReader, ParquetWriter, SerReader};
use thiserror::Error;

pub use cache::{ArtifactCache, CacheClearReport, CacheEntry, METADATA_FILE};
pub use config::{ArtifactConfig, ArtifactMode, ENV_S3_BUCKET, ENV_S3_PREFIX};
/// The frame type of [`ArtifactStore::read_parquet`] and [`ArtifactStore::write_parquet`].
pub use polars::prelude::DataFrame;

use crate::object_store::{LocalObjectStore, S3ObjectStore, S3Settings, validate_key};

/// Why an artifact operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArtifactError {
    /// The key is not a relative path inside the store.
    #[error("invalid artifact key {key:?}: {detail}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why.
        detail: String,
    },
    /// No artifact at the key.
    #[error("no artifact {key} in {location}")]
    NotFound {
        /// The key.
        key: String,
        /// The store.
        location: String,
    },
    /// The store could not be reached or answered with a transient failure. Retryable.
    #[error("artifact store unavailable: {detail}")]
    Unavailable {
        /// What happened and what to check.
        detail: String,
    },
    /// The store is not set up (no bucket configured, missing bucket, refused credentials).
    #[error("artifact store not usable: {detail}")]
    Misconfigured {
        /// What to check.
        detail: String,
    },
    /// The artifact is not a readable Parquet file.
    #[error("artifact {key} is not a readable Parquet file: {detail}")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        detail: String,
    },
    /// The frame could not be encoded as Parquet.
    #[error("cannot write the frame as Parquet to {key}: {detail}")]
    Encode {
        /// The key.
        key: String,
        /// Why.
        detail: String,
    },
    /// The local cache directory cannot be read or written (only [`ArtifactStore::clear_cache`]
    /// and [`ArtifactCache`]'s own methods report it; reads and writes go on without the cache).
    #[error("local artifact cache {}: {detail}", path.display())]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// What happened.
        detail: String,
    },
}

impl ArtifactError {
    /// Whether the same call may succeed later without anyone acting.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    fn from_store(e: ObjectStoreError, key: &str, location: &str) -> Self {
        match e {
            ObjectStoreError::NotFound { .. } => Self::NotFound { key: key.into(), location: location.into() },
            ObjectStoreError::InvalidKey { key, detail } => Self::InvalidKey { key, detail },
            ObjectStoreError::Misconfigured { detail } => Self::Misconfigured { detail },
            ObjectStoreError::Unavailable { detail } => Self::Unavailable { detail },
            // Writes are unconditional; a failed precondition means a racing writer, worth a retry.
            e @ ObjectStoreError::PreconditionFailed { .. } => Self::Unavailable { detail: e.to_string() },
        }
    }
}

/// Backtest artifacts by relative key, locally or in S3 behind a read-through cache (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    mode: ArtifactMode,
    remote: Arc<dyn ObjectStore>,
    cache: Option<Arc<ArtifactCache>>,
    clock: Arc<dyn Clock>,
}

impl ArtifactStore {
    /// Local mode: artifacts are files under `base_path` (created on the first write).
    #[must_use]
    pub fn local(base_path: impl Into<PathBuf>) -> Self {
        let remote: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(base_path));
        Self { mode: ArtifactMode::Local, remote, cache: None, clock: Arc::new(SystemClock) }
    }

    /// S3 mode over `remote` (an [`S3ObjectStore`] scoped to the bucket and prefix, or any
    /// store), reading through `cache` when given.
    #[must_use]
    pub fn s3(remote: Arc<dyn ObjectStore>, cache: Option<ArtifactCache>) -> Self {
        Self { mode: ArtifactMode::S3, remote, cache: cache.map(Arc::new), clock: Arc::new(SystemClock) }
    }

    /// The store `config` describes. In S3 mode the S3 client takes region, endpoint, timeouts
    /// and attempts from `s3` (defaults when `None`) and bucket and prefix from `config`;
    /// credentials come from the AWS default chain, resolved on the first request.
    ///
    /// # Errors
    /// [`ArtifactError::Misconfigured`] in S3 mode without a bucket or a region, or with an
    /// invalid prefix.
    pub async fn from_config(config: &ArtifactConfig, s3: Option<S3Settings>) -> Result<Self, ArtifactError> {
        match config.mode {
            ArtifactMode::Local => Ok(Self::local(&config.base_path)),
            ArtifactMode::S3 => {
                let settings = config.s3_settings(s3.unwrap_or_else(|| S3Settings::new("")))?;
                let remote = S3ObjectStore::new(settings).await.map_err(|e| ArtifactError::from_store(e, "", "s3"))?;
                let cache = config
                    .local_cache_enabled
                    .then(|| ArtifactCache::new(&config.local_cache_path, config.local_cache_ttl()));
                Ok(Self::s3(Arc::new(remote), cache))
            }
        }
    }

    /// The same store taking "now" (cache TTLs) from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The mode.
    #[must_use]
    pub const fn mode(&self) -> ArtifactMode {
        self.mode
    }

    /// Where the artifacts live (`file:///…`, `s3://bucket/prefix`).
    #[must_use]
    pub fn location(&self) -> String {
        self.remote.location()
    }

    /// The read-through cache, in S3 mode when enabled.
    #[must_use]
    pub fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_deref()
    }

    /// The bytes of the artifact at `key` (from the cache when it holds a fresh copy).
    ///
    /// # Errors
    /// [`ArtifactError::InvalidKey`], [`ArtifactError::NotFound`], and the store's
    /// [`ArtifactError::Unavailable`] (retryable) or [`ArtifactError::Misconfigured`]. An
    /// expired copy is not served when the remote cannot be asked.
    pub async fn read_bytes(&self, key: &str) -> Result<Vec<u8>, ArtifactError> {
        check_key(key)?;
        let Some(cache) = &self.cache else {
            return self.remote.get(key).await.map(|(bytes, _)| bytes).map_err(|e| self.error(e, key));
        };
        let source = self.remote.location();
        let now = self.clock.now();
        if let Some((entry, bytes)) = cache.lookup(&source, key).await {
            if cache.is_fresh(&entry, now) {
                return Ok(bytes);
            }
            match self.remote.head(key).await {
                Ok(meta) if same_content(&meta, &entry) => {
                    cache.touch(&source, key, now).await;
                    return Ok(bytes);
                }
                Ok(_) => {}
                Err(ObjectStoreError::NotFound { .. }) => {
                    cache.forget(&source, key).await;
                    return Err(self.error(ObjectStoreError::NotFound { key: key.into() }, key));
                }
                Err(e) => return Err(self.error(e, key)),
            }
        }
        let (bytes, meta) = self.remote.get(key).await.map_err(|e| self.error(e, key))?;
        cache.store(&source, key, &bytes, &meta.etag, now).await;
        Ok(bytes)
    }

    /// Stores `data` at `key`, replacing what was there (and refreshes the cached copy).
    ///
    /// # Errors
    /// As [`Self::read_bytes`], without `NotFound`.
    pub async fn write_bytes(&self, key: &str, data: Vec<u8>) -> Result<(), ArtifactError> {
        check_key(key)?;
        // A copy of the bytes only when there is a cache to keep them in.
        let copy = self.cache.is_some().then(|| data.clone());
        let written = self.remote.put(key, data, PutMode::Overwrite).await.map_err(|e| self.error(e, key))?;
        if let (Some(cache), Some(bytes)) = (&self.cache, copy) {
            cache.store(&self.remote.location(), key, &bytes, &written.etag, self.clock.now()).await;
        }
        Ok(())
    }

    /// The Parquet artifact at `key` as a frame.
    ///
    /// # Errors
    /// As [`Self::read_bytes`]; [`ArtifactError::Corrupt`] when the bytes are not Parquet.
    pub async fn read_parquet(&self, key: &str) -> Result<DataFrame, ArtifactError> {
        let bytes = self.read_bytes(key).await?;
        let corrupt = |detail: String| ArtifactError::Corrupt { key: key.into(), detail };
        tokio::task::spawn_blocking(move || {
            // The reader panics on some damaged files; report that like any other decoding error.
            std::panic::catch_unwind(|| ParquetReader::new(Cursor::new(bytes)).finish())
                .map_err(|_| "the Parquet reader failed on damaged data".to_string())?
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| corrupt(e.to_string()))?
        .map_err(corrupt)
    }

    /// Stores `frame` as a Parquet artifact (zstd) at `key`.
    ///
    /// # Errors
    /// As [`Self::write_bytes`]; [`ArtifactError::Encode`] when polars refuses the frame.
    pub async fn write_parquet(&self, key: &str, frame: &DataFrame) -> Result<(), ArtifactError> {
        check_key(key)?;
        let mut frame = frame.clone();
        let encode = |detail: String| ArtifactError::Encode { key: key.into(), detail };
        let bytes = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            ParquetWriter::new(&mut out)
                .with_compression(ParquetCompression::Zstd(None))
                .finish(&mut frame)
                .map(|_| out)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| encode(e.to_string()))?
        .map_err(encode)?;
        self.write_bytes(key, bytes).await
    }

    /// Empties the local cache (S3 keeps every object); an empty report when there is none.
    ///
    /// # Errors
    /// [`ArtifactError::Cache`] when a cached file cannot be removed.
    pub async fn clear_cache(&self) -> Result<CacheClearReport, ArtifactError> {
        match &self.cache {
            Some(cache) => cache.clear().await,
            None => Ok(CacheClearReport::default()),
        }
    }

    fn error(&self, e: ObjectStoreError, key: &str) -> ArtifactError {
        ArtifactError::from_store(e, key, &self.remote.location())
    }
}

fn check_key(key: &str) -> Result<(), ArtifactError> {
    validate_key(key).map_err(|e| match e {
        ObjectStoreError::InvalidKey { key, detail } => ArtifactError::InvalidKey { key, detail },
        other => ArtifactError::InvalidKey { key: key.into(), detail: other.to_string() },
    })
}

/// Whether the remote object is still the one cached.
fn same_content(meta: &ObjectMeta, entry: &CacheEntry) -> bool {
    meta.etag == entry.etag || meta.md5.as_deref() == Some(entry.md5.as_str())
}

#[cfg(test)]
mod tests;
