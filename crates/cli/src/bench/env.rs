//! Where the benchmark writes: Redis keys under a unique prefix and a fresh local directory,
//! both removed at the end whatever happened.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axia_adapters::redis::{RedisConfig, RedisOhlcvDataRepository, TtlPolicy};
use axia_domain::ports::OhlcvDataRepository;
use axia_domain::{Clock, TimeRange};
use chrono::{DateTime, TimeDelta, Utc};

use crate::config::Config;

/// The Redis URL used when the configuration names none.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379/0";

/// The Redis tier of a run: every repository it hands out writes under `{prefix}{namespace}`.
#[derive(Debug)]
pub struct BenchRedis {
    config: RedisConfig,
    prefix: String,
    url: String,
    used: Mutex<Vec<Arc<RedisOhlcvDataRepository>>>,
}

impl BenchRedis {
    /// The configured Redis (`[redis]`, or [`DEFAULT_REDIS_URL`]) with keys under
    /// `{configured key_prefix}axia-bench:{id}:`, a 24 h retention and a fixed 25 h TTL (the
    /// workload's settings, whatever the configuration says about them).
    ///
    /// # Errors
    /// An invalid `[redis]` section.
    pub fn new(config: &Config, id: &str) -> anyhow::Result<Self> {
        let mut section = config.redis.clone();
        if section.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
            section.url = Some(DEFAULT_REDIS_URL.to_owned());
        }
        let base = section.adapter_config()?.unwrap_or_else(|| RedisConfig::for_url(DEFAULT_REDIS_URL));
        let prefix = format!("{}axia-bench:{id}:", base.key_prefix);
        let url = axia_adapters::redis::redact_url(&base.url);
        let config = RedisConfig {
            retention: TimeDelta::hours(24),
            ttl_policy: TtlPolicy::default(),
            key_prefix: prefix.clone(),
            ..base
        };
        Ok(Self { config, prefix, url, used: Mutex::new(Vec::new()) })
    }

    /// The URL, without credentials.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix of this run.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A repository writing under `{prefix}{namespace}` with `clock`; remembered for cleanup.
    ///
    /// # Errors
    /// Settings the client refuses.
    pub fn repository(&self, namespace: &str, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<RedisOhlcvDataRepository>> {
        let config = RedisConfig { key_prefix: format!("{}{namespace}", self.prefix), ..self.config.clone() };
        let repo = Arc::new(RedisOhlcvDataRepository::new(config, clock).context("[redis]")?);
        self.used.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::clone(&repo));
        Ok(repo)
    }

    /// Fails with a message naming the URL when Redis does not answer.
    ///
    /// # Errors
    /// Redis unreachable, or refusing the connection.
    pub async fn check(&self, repo: &RedisOhlcvDataRepository) -> anyhow::Result<()> {
        repo.list_series()
            .await
            .map(|_| ())
            .with_context(|| format!("the Redis scenarios need a Redis server at {}", self.url))
    }

    /// Deletes every series key written under this run's prefix; returns how many keys.
    ///
    /// # Errors
    /// Redis failing; the keys left behind then expire with their TTL.
    pub async fn cleanup(&self) -> anyhow::Result<usize> {
        let repos: Vec<_> = self.used.lock().unwrap_or_else(PoisonError::into_inner).drain(..).collect();
        let mut deleted = 0;
        for repo in repos {
            for key in repo.list_series().await? {
                // Removing every member removes the key.
                repo.delete_range(&key, everything()).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// A range holding every bar the benchmark writes.
#[must_use]
pub fn everything() -> TimeRange {
    let end = DateTime::<Utc>::from_timestamp(4_102_444_800, 0).unwrap_or(DateTime::<Utc>::MAX_UTC); // 2100-01-01
    TimeRange::ending_at(end, end - DateTime::<Utc>::UNIX_EPOCH)
}

/// A fresh directory, removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `.axia-bench-{id}` under `parent`.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn create(parent: &Path, id: &str) -> anyhow::Result<Self> {
        let path = parent.join(format!(".axia-bench-{id}"));
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove the benchmark directory {}: {e}", self.path.display());
        }
    }
}

/// Where the Parquet store of a run goes: the configured `storage.base_path` when it exists
/// (the disk the history tier really uses), else the system temporary directory.
#[must_use]
pub fn scratch_parent(config: &Config) -> PathBuf {
    let base = &config.storage.base_path;
    if base.is_dir() { base.clone() } else { std::env::temp_dir() }
}

/// A random identifier in the UUID v4 text form, from the standard library's per-process
/// random hash keys, the time and the process id.
#[must_use]
pub fn run_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let word = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(salt);
        h.finish()
    };
    let mut v = (u128::from(word(1)) << 64) | u128::from(word(2));
    v = (v & !(0xF << 76)) | (0x4 << 76); // version 4
    v = (v & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
    let h = format!("{v:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_look_like_uuids_and_differ() {
        let (a, b) = (run_id(), run_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn the_prefix_is_unique_and_under_the_configured_namespace() {
        let mut config = Config::default();
        config.redis.key_prefix = "svc:".into();
        let r = BenchRedis::new(&config, "abc").unwrap();
        assert_eq!(r.prefix(), "svc:axia-bench:abc:");
        assert_eq!(r.url(), DEFAULT_REDIS_URL);
    }

    #[test]
    fn the_scratch_directory_is_removed_on_drop() {
        let parent = std::env::temp_dir();
        let dir = ScratchDir::create(&parent, &run_id()).unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("f"), b"x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn everything_covers_the_workload() {
        assert!(everything().contains(crate::bench::workload::now()));
    }
}
