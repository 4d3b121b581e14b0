//! [`ArtifactConfig`]: the `storage` section of the config file for backtest artifacts (seed
//! 000 §2.1), with its defaults and the seed's environment overrides.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ArtifactError;
use crate::object_store::{S3Settings, validate_prefix};

/// Environment variable that overrides [`ArtifactConfig::s3_bucket`].
pub const ENV_S3_BUCKET: &str = "BACKTEST_S3_BUCKET";
/// Environment variable that overrides [`ArtifactConfig::s3_prefix`].
pub const ENV_S3_PREFIX: &str = "BACKTEST_S3_PREFIX";

/// Where artifacts live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactMode {
    /// Files under [`ArtifactConfig::base_path`].
    #[default]
    Local,
    /// Objects under [`ArtifactConfig::s3_prefix`] in [`ArtifactConfig::s3_bucket`], read
    /// through a local cache.
    S3,
}

/// How to reach the artifact store. Every field has a default (the seed's), so a config file
/// names only what differs; `backend` is accepted for `mode`, as the seed spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArtifactConfig {
    /// `local` or `s3`. Default `local`.
    #[serde(alias = "backend")]
    pub mode: ArtifactMode,
    /// Root directory in local mode. Default `.cache`.
    pub base_path: PathBuf,
    /// Bucket in S3 mode (required there). Default none.
    pub s3_bucket: Option<String>,
    /// Key prefix inside the bucket. Default `.cache`.
    pub s3_prefix: String,
    /// Whether S3 mode reads through a local cache. Default `true`.
    pub local_cache_enabled: bool,
    /// Directory of that cache. Default `.backtest_cache` in the system's temporary directory
    /// (`/tmp/.backtest_cache` on Linux).
    pub local_cache_path: PathBuf,
    /// How long a cached copy is served without asking S3. Default 24.
    pub local_cache_ttl_hours: u64,
}

impl Default for ArtifactConfig {
    fn default() -> Self {
        Self {
            mode: ArtifactMode::Local,
            base_path: PathBuf::from(".cache"),
            s3_bucket: None,
            s3_prefix: ".cache".into(),
            local_cache_enabled: true,
            local_cache_path: std::env::temp_dir().join(".backtest_cache"),
            local_cache_ttl_hours: 24,
        }
    }
}

impl ArtifactConfig {
    /// Applies the seed's overrides from the process environment: [`ENV_S3_BUCKET`] and
    /// [`ENV_S3_PREFIX`] (empty values are ignored). They do not change the mode.
    pub fn apply_env_overrides(&mut self) -> &mut Self {
        self.apply_overrides(|name| std::env::var(name).ok())
    }

    /// [`Self::apply_env_overrides`] with the variables looked up by `var` (for tests and for
    /// callers that gather the environment themselves).
    pub fn apply_overrides(&mut self, var: impl Fn(&str) -> Option<String>) -> &mut Self {
        let set = |name| var(name).map(|v: String| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(bucket) = set(ENV_S3_BUCKET) {
            self.s3_bucket = Some(bucket);
        }
        if let Some(prefix) = set(ENV_S3_PREFIX) {
            self.s3_prefix = prefix;
        }
        self
    }

    /// `template` (region, endpoint, timeouts) pointed at the configured bucket and prefix.
    ///
    /// # Errors
    /// [`ArtifactError::Misconfigured`] without a bucket or with an invalid prefix.
    pub fn s3_settings(&self, template: S3Settings) -> Result<S3Settings, ArtifactError> {
        let bucket = self.s3_bucket.clone().filter(|b| !b.is_empty()).ok_or_else(|| ArtifactError::Misconfigured {
            detail: format!("the artifact store is in s3 mode but no bucket is set: set s3_bucket or {ENV_S3_BUCKET}"),
        })?;
        let prefix = self.s3_prefix.trim_matches('/').to_string();
        validate_prefix(&prefix).map_err(|e| ArtifactError::Misconfigured { detail: format!("s3_prefix: {e}") })?;
        Ok(S3Settings { bucket, prefix, ..template })
    }

    /// The cache TTL.
    #[must_use]
    pub fn local_cache_ttl(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::try_hours(i64::try_from(self.local_cache_ttl_hours).unwrap_or(i64::MAX))
            .unwrap_or(chrono::TimeDelta::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rstest::rstest;

    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let c = ArtifactConfig::default();
        assert_eq!(
            (c.mode, c.base_path.to_str(), c.s3_prefix.as_str()),
            (ArtifactMode::Local, Some(".cache"), ".cache")
        );
        assert!(c.local_cache_enabled);
        assert_eq!(c.local_cache_ttl(), chrono::TimeDelta::hours(24));
        assert!(c.local_cache_path.ends_with(".backtest_cache"));
    }

    #[test]
    fn reads_the_seeds_storage_section() {
        let json = r#"{"backend": "s3", "s3_bucket": "team-cache", "local_cache_ttl_hours": 6}"#;
        let c: ArtifactConfig = serde_json::from_str(json).unwrap();
        assert_eq!(
            (c.mode, c.s3_bucket.as_deref(), c.local_cache_ttl_hours),
            (ArtifactMode::S3, Some("team-cache"), 6)
        );
        assert!(serde_json::from_str::<ArtifactConfig>(r#"{"s3_bukket": "x"}"#).is_err(), "typos are refused");
    }

    #[rstest]
    #[case(&[], None, ".cache")]
    #[case(&[(ENV_S3_BUCKET, "my-custom-bucket"), (ENV_S3_PREFIX, "backtest-cache")], Some("my-custom-bucket"), "backtest-cache")]
    #[case(&[(ENV_S3_BUCKET, "  "), (ENV_S3_PREFIX, "")], None, ".cache")]
    fn env_overrides(#[case] vars: &[(&str, &str)], #[case] bucket: Option<&str>, #[case] prefix: &str) {
        let env: HashMap<&str, &str> = vars.iter().copied().collect();
        let mut c = ArtifactConfig::default();
        c.apply_overrides(|name| env.get(name).map(ToString::to_string));
        assert_eq!((c.s3_bucket.as_deref(), c.s3_prefix.as_str(), c.mode), (bucket, prefix, ArtifactMode::Local));
    }

    #[test]
    fn s3_settings_need_a_bucket() {
        let mut c = ArtifactConfig { mode: ArtifactMode::S3, ..ArtifactConfig::default() };
        assert!(matches!(c.s3_settings(S3Settings::new("")), Err(ArtifactError::Misconfigured { .. })));
        c.s3_bucket = Some("b".into());
        c.s3_prefix = "/team/.cache/".into();
        let s = c.s3_settings(S3Settings { region: Some("ap-northeast-1".into()), ..S3Settings::new("") }).unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.prefix.as_str(), s.region.as_deref()),
            ("b", "team/.cache", Some("ap-northeast-1"))
        );
        c.s3_prefix = "a/../b".into();
        assert!(c.s3_settings(S3Settings::new("")).is_err());
    }
}
