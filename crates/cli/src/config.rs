//! Configuration: built-in embedded defaults, then the file (`--config` / `AXIA_CONFIG`), then
//! environment overrides `AXIA_<SECTION>__<KEY>` (e.g. `AXIA_COLLECTOR__CONCURRENCY=8`).

use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{Context, bail};
use axia_adapters::artifacts::{ArtifactConfig, ArtifactMode};
use axia_adapters::object_store::S3Settings;
use axia_adapters::redis::{RedisConfig, TtlPolicy, redact_url};
use chrono::TimeDelta;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[storage]`: where the history tier lives.
    pub storage: StorageConfig,
    /// `[memory]`: the in-process tier.
    pub memory: MemoryConfig,
    /// `[collector]`: what `axia collect` fetches.
    pub collector: CollectorConfig,
    /// `[redis]`: the shared hot tier (absent `url`: no Redis tier).
    pub redis: RedisSection,
    /// `[state]`: where orders, positions, trades and the kill switch live.
    pub state: StateSection,
    /// `[queue]`: the order request queue (SQLite file or SQS).
    pub queue: QueueSection,
    /// `[events]`: where system events go (log or SNS).
    pub events: EventsSection,
    /// `[broker]`: where orders execute (the paper broker).
    pub broker: BrokerSection,
    /// `[orders]`: what the order daemon accepts and how it runs.
    pub orders: OrdersSection,
    /// `[aws]`: endpoint and region shared by the AWS adapters.
    pub aws: AwsSection,
    /// `[provider]`: the sources behind the unified provider, write-back, stats.
    pub provider: ProviderSection,
    /// `[sources.*]`: the real market-data sources (Yahoo, the MT5 bridge).
    pub sources: SourcesSection,
}

/// `[redis]`. Every key can be set by env, e.g. `AXIA_REDIS__URL=redis://127.0.0.1:6379/0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://host:6379/0`, or `rediss://…` for TLS (ElastiCache in-transit encryption).
    /// Absent: no Redis tier.
    pub url: Option<String>,
    /// The endpoint is a Redis Cluster (ElastiCache cluster mode); `url` is any one node.
    pub cluster: bool,
    /// AUTH user (Redis 6 ACL); better set by env than in a file.
    pub username: Option<String>,
    /// AUTH password; set it by env (`AXIA_REDIS__PASSWORD`), never in a file you share.
    pub password: Option<String>,
    /// PEM file of a private certificate authority for `rediss://` (default: public roots).
    pub tls_ca_file: Option<PathBuf>,
    /// Most pooled connections.
    pub pool_size: usize,
    /// Longest wait for a connection, milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest wait for one command, milliseconds.
    pub command_timeout_ms: u64,
    /// Prepended to every key (a per-service namespace, e.g. `axia:`).
    pub key_prefix: String,
    /// Hours of bars kept per series.
    pub retention_hours: u32,
    /// Key expiry: `fixed` (`ttl_hours` after each write) or `ny-close` (the next New York close).
    pub ttl_policy: String,
    /// Hours of the `fixed` policy.
    pub ttl_hours: u32,
    /// Memory budget that `axia cache stats` checks (WARNING at 80 %, CRITICAL at 95 %).
    pub memory_budget_mb: u64,
    /// Fail `axia collect` (exit 1) when Redis cannot be written; default: report it as degraded.
    pub require: bool,
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            url: None,
            cluster: false,
            username: None,
            password: None,
            tls_ca_file: None,
            pool_size: 16,
            connect_timeout_ms: 1_000,
            command_timeout_ms: 500,
            key_prefix: String::new(),
            retention_hours: 24,
            ttl_policy: "fixed".into(),
            ttl_hours: 25,
            memory_budget_mb: 50,
            require: false,
        }
    }
}

impl RedisSection {
    /// The adapter settings, or `None` when no URL is configured.
    ///
    /// # Errors
    /// An unknown TTL policy, zero sizes or timeouts, or credentials in both the URL and keys.
    pub fn adapter_config(&self) -> anyhow::Result<Option<RedisConfig>> {
        let Some(url) = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let ttl_policy = match self.ttl_policy.as_str() {
            "fixed" if self.ttl_hours > 0 => TtlPolicy::Fixed(Duration::from_secs(u64::from(self.ttl_hours) * 3600)),
            "fixed" => bail!("[redis] ttl_hours must be at least 1"),
            "ny-close" => TtlPolicy::NextNyClose,
            other => bail!("[redis] ttl_policy = {other:?}: use \"fixed\" or \"ny-close\""),
        };
        if self.connect_timeout_ms == 0 || self.command_timeout_ms == 0 {
            bail!("[redis] connect_timeout_ms and command_timeout_ms must be at least 1");
        }
        if self.retention_hours == 0 {
            bail!("[redis] retention_hours must be at least 1");
        }
        Ok(Some(RedisConfig {
            url: with_credentials(url, self.username.as_deref(), self.password.as_deref())?,
            pool_size: self.pool_size,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            command_timeout: Duration::from_millis(self.command_timeout_ms),
            key_prefix: self.key_prefix.clone(),
            retention: TimeDelta::hours(i64::from(self.retention_hours)),
            ttl_policy,
            cluster: self.cluster,
            memory_budget_bytes: self.memory_budget_mb.saturating_mul(1024 * 1024),
            tls_ca_file: self.tls_ca_file.clone(),
        }))
    }
}

/// `url` with `user:password@` inserted (percent-encoded) when either is set.
fn with_credentials(url: &str, username: Option<&str>, password: Option<&str>) -> anyhow::Result<String> {
    if username.is_none() && password.is_none() {
        return Ok(url.to_owned());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("[redis] url {:?} has no scheme (redis:// or rediss://)", redact_url(url));
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    if rest[..authority_end].contains('@') {
        bail!("[redis] url already holds credentials; set them either in the url or in username/password");
    }
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let user = username.map(encode).unwrap_or_default();
    let auth = password.map_or(user.clone(), |p| format!("{user}:{}", encode(p)));
    Ok(format!("{scheme}://{auth}@{rest}"))
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` (the embedded default) or `s3`.
    pub backend: String,
    /// Root directory of the local store. Default: `$AXIA_HOME`, else `./axia-data`.
    pub base_path: PathBuf,
    /// The bucket of the `s3` backend.
    pub s3_bucket: Option<String>,
    /// Key prefix inside the bucket (`""`: the bucket's root).
    pub s3_prefix: String,
    /// The bucket's region; default `[aws] region`, else the AWS default chain (`AWS_REGION`).
    pub s3_region: Option<String>,
    /// Backtest artifacts in `s3` mode are read through a local cache (seed 000).
    pub local_cache_enabled: bool,
    /// Directory of that cache. Default: `.backtest_cache` in the system temporary directory.
    pub local_cache_path: PathBuf,
    /// How long a cached artifact is served without asking S3, hours.
    pub local_cache_ttl_hours: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        let base_path = std::env::var_os("AXIA_HOME").map_or_else(|| PathBuf::from("axia-data"), PathBuf::from);
        let artifacts = ArtifactConfig::default();
        Self {
            backend: "local".into(),
            base_path,
            s3_bucket: None,
            s3_prefix: String::new(),
            s3_region: None,
            local_cache_enabled: artifacts.local_cache_enabled,
            local_cache_path: artifacts.local_cache_path,
            local_cache_ttl_hours: artifacts.local_cache_ttl_hours,
        }
    }
}

/// Where the history tier lives, as `[storage]` and `[aws]` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryBackend {
    /// A local directory.
    Local(PathBuf),
    /// An S3 bucket.
    S3(S3Settings),
}

impl StorageConfig {
    /// The backtest artifact store (seed 000): beside the history tier, under `artifacts/` of
    /// the same directory or bucket prefix, in the same mode; then the seed's
    /// `BACKTEST_S3_BUCKET` / `BACKTEST_S3_PREFIX` overrides.
    #[must_use]
    pub fn artifact_config(&self) -> ArtifactConfig {
        let prefix = self.s3_prefix.trim().trim_matches('/');
        let mut config = ArtifactConfig {
            mode: if self.backend == "s3" { ArtifactMode::S3 } else { ArtifactMode::Local },
            base_path: self.base_path.join("artifacts"),
            s3_bucket: self.s3_bucket.clone(),
            s3_prefix: if prefix.is_empty() { "artifacts".into() } else { format!("{prefix}/artifacts") },
            local_cache_enabled: self.local_cache_enabled,
            local_cache_path: self.local_cache_path.clone(),
            local_cache_ttl_hours: self.local_cache_ttl_hours,
        };
        config.apply_env_overrides();
        config
    }

    /// The history backend, with S3 settings completed from `[aws]` and the standard
    /// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` variables (an endpoint means path-style
    /// addressing: local servers, S3-compatible stores).
    ///
    /// # Errors
    /// An unknown backend, `s3` without a bucket, an invalid bucket name or endpoint URL.
    pub fn history_backend(&self, aws: &AwsSection) -> anyhow::Result<HistoryBackend> {
        match self.backend.as_str() {
            "local" => Ok(HistoryBackend::Local(self.base_path.clone())),
            "s3" => {
                let Some(bucket) = self.s3_bucket.as_deref().map(str::trim).filter(|b| !b.is_empty()) else {
                    bail!(
                        "[storage] backend = \"s3\" needs a bucket: set [storage] s3_bucket in the configuration \
                         file or AXIA_STORAGE__S3_BUCKET"
                    );
                };
                check_bucket_name(bucket)?;
                Ok(HistoryBackend::S3(S3Settings {
                    prefix: self.s3_prefix.trim().to_owned(),
                    region: non_empty(self.s3_region.as_deref()).or_else(|| aws.region()),
                    endpoint_url: aws.endpoint_for("AWS_ENDPOINT_URL_S3")?,
                    ..S3Settings::new(bucket)
                }))
            }
            other => bail!("[storage] backend = {other:?}: use \"local\" or \"s3\" (AXIA_STORAGE__BACKEND)"),
        }
    }
}

/// S3's bucket naming rules, checked before any request so a typo reads as one.
fn check_bucket_name(bucket: &str) -> anyhow::Result<()> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edges_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !bucket.chars().all(allowed)
        || !edges_ok(bucket.chars().next())
        || !edges_ok(bucket.chars().last())
        || bucket.contains("..")
    {
        bail!(
            "[storage] s3_bucket = {bucket:?} is not a valid S3 bucket name (3 to 63 lower-case letters, digits, \
             hyphens and dots, starting and ending with a letter or digit)"
        );
    }
    Ok(())
}

/// `[aws]`: shared by the AWS adapters. Credentials never come from here: the AWS default chain
/// (env, profile, SSO, instance or task role) provides them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AwsSection {
    /// Another endpoint than AWS (a local server such as `http://127.0.0.1:4566`); default
    /// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, else AWS itself.
    pub endpoint_url: Option<String>,
    /// Region; default the AWS default chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
}

impl AwsSection {
    /// `region`, when set and not blank.
    #[must_use]
    pub fn region(&self) -> Option<String> {
        non_empty(self.region.as_deref())
    }

    /// The endpoint of one service: `endpoint_url`, else the service's standard variable
    /// (`service_env`, e.g. `AWS_ENDPOINT_URL_DYNAMODB`), else `AWS_ENDPOINT_URL`; `None`: AWS.
    ///
    /// # Errors
    /// An endpoint that is not an `http://` or `https://` URL.
    pub fn endpoint_for(&self, service_env: &str) -> anyhow::Result<Option<String>> {
        let env = |name: &str| std::env::var(name).ok();
        let endpoint_url = non_empty(self.endpoint_url.as_deref())
            .or_else(|| non_empty(env(service_env).as_deref()))
            .or_else(|| non_empty(env("AWS_ENDPOINT_URL").as_deref()));
        if let Some(url) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("[aws] endpoint_url = {url:?}: use an http:// or https:// URL (e.g. http://127.0.0.1:4566)");
        }
        Ok(endpoint_url)
    }
}

/// `v` trimmed, when not blank.
fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// `[state]`: the system of record of orders, positions, trades and the kill switch. Every key
/// can be set by env, e.g. `AXIA_STATE__BACKEND=dynamodb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSection {
    /// `sqlite` (the embedded default: one file) or `dynamodb` (one table, seed 003 §3.8.2).
    pub backend: String,
    /// The SQLite file. Default: `state.db` in the local data directory (`[storage]
    /// base_path`, i.e. `$AXIA_HOME` or `./axia-data`), so the embedded setup keeps all its
    /// data in one directory.
    pub sqlite_path: Option<PathBuf>,
    /// The DynamoDB table; its region and endpoint come from `[aws]` (or the AWS default chain
    /// and `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`).
    pub dynamodb_table: String,
}

impl Default for StateSection {
    fn default() -> Self {
        Self { backend: "sqlite".into(), sqlite_path: None, dynamodb_table: DEFAULT_DYNAMODB_TABLE.into() }
    }
}

/// The default `[state] dynamodb_table`.
pub const DEFAULT_DYNAMODB_TABLE: &str = "axia-state";

/// Where the state store lives, as `[state]`, `[storage]` and `[aws]` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateBackend {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A DynamoDB table.
    DynamoDb {
        /// Table name.
        table: String,
        /// Region (`None`: the AWS default chain).
        region: Option<String>,
        /// Endpoint (`None`: AWS).
        endpoint_url: Option<String>,
    },
}

impl StateSection {
    /// The state backend; the SQLite file defaults to `state.db` under `storage.base_path`.
    ///
    /// # Errors
    /// An unknown backend, a blank SQLite path, an invalid table name or endpoint URL.
    pub fn backend(&self, storage: &StorageConfig, aws: &AwsSection) -> anyhow::Result<StateBackend> {
        match self.backend.as_str() {
            "sqlite" => match &self.sqlite_path {
                Some(path) if path.as_os_str().is_empty() => {
                    bail!("[state] sqlite_path is empty: leave it unset for <[storage] base_path>/state.db")
                }
                Some(path) => Ok(StateBackend::Sqlite(path.clone())),
                None => Ok(StateBackend::Sqlite(storage.base_path.join("state.db"))),
            },
            "dynamodb" => {
                let table = self.dynamodb_table.trim();
                check_table_name(table)?;
                Ok(StateBackend::DynamoDb {
                    table: table.to_owned(),
                    region: aws.region(),
                    endpoint_url: aws.endpoint_for("AWS_ENDPOINT_URL_DYNAMODB")?,
                })
            }
            other => bail!("[state] backend = {other:?}: use \"sqlite\" or \"dynamodb\" (AXIA_STATE__BACKEND)"),
        }
    }
}

/// DynamoDB's table naming rules, checked before any request so a typo reads as one.
fn check_table_name(table: &str) -> anyhow::Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if !(3..=255).contains(&table.len()) || !table.chars().all(allowed) {
        bail!(
            "[state] dynamodb_table = {table:?} is not a valid DynamoDB table name (3 to 255 letters, digits, \
             '_', '-' and '.')"
        );
    }
    Ok(())
}

mod orders;
mod provider;

pub use orders::BrokerBackend;
pub use orders::{BrokerSection, EventsBackend, EventsSection, OrdersSection, QueueBackend, QueueSection};
pub use provider::{MemoryConfig, ProviderSection};

pub mod keys;
mod sources;

pub use sources::{SourceName, SourcesSection, parse_source_list};

/// `[collector]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    /// Symbols to collect.
    pub symbols: Vec<String>,
    /// Timeframes to collect.
    pub timeframes: Vec<String>,
    /// Source name: `synthetic` (embedded default), `sample` (the shipped EURUSD H1 file),
    /// `yahoo` or `mt5_bridge`; or a comma-separated fallback list tried in order per task
    /// (`"mt5_bridge,yahoo"`: the broker bridge first, then the market-data API).
    pub source: String,
    /// Tasks at the same time.
    pub concurrency: usize,
    /// How far back a series with nothing stored starts, days.
    pub lookback_days: u32,
    /// Stored bars fetched again on each run (sources revise the latest bar).
    pub refetch_bars: u32,
    /// Retries of a transient source error.
    pub max_retries: u32,
    /// Seed of the synthetic source.
    pub synthetic_seed: u64,
    /// Where the synthetic market's history ends (UTC), or `now` for a live synthetic market.
    pub synthetic_end: String,
    /// Metric lines of each run: `off` (default) or `emf` (CloudWatch embedded metric format).
    pub metrics: crate::metrics::MetricsFormat,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            symbols: ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"].map(String::from).to_vec(),
            timeframes: ["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN1"].map(String::from).to_vec(),
            source: "synthetic".into(),
            concurrency: 4,
            lookback_days: 30,
            refetch_bars: 1,
            max_retries: 2,
            synthetic_seed: 42,
            synthetic_end: "2025-09-02T00:00:00Z".into(),
            metrics: crate::metrics::MetricsFormat::Off,
        }
    }
}

impl Config {
    /// Loads defaults, then `file`, then the environment.
    ///
    /// # Errors
    /// A missing or unreadable file, a syntax error, an unknown key or a wrong type, naming it;
    /// a secret (a password, token or secret key, or a URL with a password) in the file: secrets
    /// come from the environment (or the AWS default chain) only.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = file {
            if !path.is_file() {
                bail!("configuration file {} does not exist", path.display());
            }
            keys::refuse_secrets_in_file(path)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(
            // Only `AXIA_<SECTION>__<KEY>` names are keys; `AXIA_HOME`, `AXIA_CONFIG`, `AXIA_LOG` are not.
            Env::prefixed("AXIA_").filter(|k| k.as_str().contains("__")).split("__"),
        );
        let config: Self = figment.extract().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.storage.history_backend(&self.aws)?;
        if self.collector.concurrency == 0 {
            bail!("[collector] concurrency must be at least 1");
        }
        self.redis.adapter_config()?;
        self.state.backend(&self.storage, &self.aws)?;
        self.queue.backend(&self.storage, &self.aws)?;
        self.events.backend(&self.aws)?;
        self.broker.validate(&self.sources)?;
        self.orders.symbols(&self.collector)?;
        self.check_sources(&self.collector.source).context("[collector] source")?;
        Ok(())
    }

    /// Checks a source list (`[collector] source` or `axia collect --source`) against the
    /// `[sources.*]` sections: known names, and each named source configured.
    ///
    /// # Errors
    /// An unknown name, `mt5_bridge` without `[sources.mt5_bridge] url`, or invalid settings of
    /// a named source.
    pub fn check_sources(&self, list: &str) -> anyhow::Result<Vec<SourceName>> {
        let names = parse_source_list(list)?;
        self.sources.yahoo.settings()?;
        let bridge = self.sources.mt5_bridge.settings()?;
        if names.contains(&SourceName::Mt5Bridge) && bridge.is_none() {
            bail!(
                "source \"mt5_bridge\" is not configured: set [sources.mt5_bridge] url (or \
                 AXIA_SOURCES__MT5_BRIDGE__URL), e.g. http://10.0.0.5:8787"
            );
        }
        Ok(names)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error.
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = Config::default();
        assert_eq!(c.storage.backend, "local");
        assert_eq!(c.collector.symbols.len() * c.collector.timeframes.len(), 45);
        assert_eq!(c.collector.source, "synthetic");
    }

    #[test]
    fn file_then_env_override() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("axia.toml", "[collector]\nconcurrency = 3\nsource = \"sample\"\n")?;
            jail.set_env("AXIA_COLLECTOR__CONCURRENCY", "7");
            jail.set_env("AXIA_HOME", "/tmp/ignored-as-a-key");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.collector.concurrency, 7);
            assert_eq!(c.collector.source, "sample");
            Ok(())
        });
    }

    #[test]
    fn redis_section_from_env_with_credentials() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Config::load(None).map_err(|e| e.to_string())?.redis.adapter_config().unwrap(), None);
            jail.set_env("AXIA_REDIS__URL", "rediss://cache.example:6379/0");
            jail.set_env("AXIA_REDIS__USERNAME", "svc");
            jail.set_env("AXIA_REDIS__PASSWORD", "p@ss:w/rd");
            jail.set_env("AXIA_REDIS__TTL_POLICY", "ny-close");
            jail.set_env("AXIA_REDIS__MEMORY_BUDGET_MB", "10");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let r = c.redis.adapter_config().unwrap().unwrap();
            assert_eq!(r.url, "rediss://svc:p%40ss%3Aw%2Frd@cache.example:6379/0");
            assert_eq!(r.ttl_policy, TtlPolicy::NextNyClose);
            assert_eq!(r.memory_budget_bytes, 10 * 1024 * 1024);
            jail.set_env("AXIA_REDIS__TTL_POLICY", "forever");
            let err = Config::load(None).unwrap_err();
            assert!(format!("{err:#}").contains("ttl_policy"), "{err:#}");
            Ok(())
        });
        let both =
            RedisSection { url: Some("redis://a:b@h/0".into()), password: Some("c".into()), ..RedisSection::default() };
        let err = both.adapter_config().unwrap_err().to_string();
        assert!(err.contains("credentials") && !err.contains("b@"), "{err}");
    }

    #[test]
    fn s3_storage_from_env() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("AXIA_STORAGE__BACKEND", "s3");
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains("AXIA_STORAGE__S3_BUCKET"), "{err}");
            jail.set_env("AXIA_STORAGE__S3_BUCKET", "Bad_Bucket");
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains("not a valid S3 bucket name"), "{err}");
            jail.set_env("AXIA_STORAGE__S3_BUCKET", "axia-history");
            jail.set_env("AXIA_STORAGE__S3_PREFIX", "prod/v1");
            jail.set_env("AXIA_AWS__REGION", "eu-west-1");
            jail.set_env("AXIA_AWS__ENDPOINT_URL", "http://127.0.0.1:4566");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let HistoryBackend::S3(s3) = c.storage.history_backend(&c.aws).unwrap() else { panic!("not s3") };
            assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("axia-history", "prod/v1"));
            assert_eq!(
                (s3.region.as_deref(), s3.endpoint_url.as_deref()),
                (Some("eu-west-1"), Some("http://127.0.0.1:4566"))
            );
            jail.set_env("AXIA_STORAGE__S3_REGION", "ap-northeast-1");
            jail.set_env("AXIA_AWS__ENDPOINT_URL", "localhost:4566");
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains("http://"), "{err}");
            jail.set_env("AXIA_AWS__ENDPOINT_URL", "");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let HistoryBackend::S3(s3) = c.storage.history_backend(&c.aws).unwrap() else { panic!("not s3") };
            assert_eq!(s3.region.as_deref(), Some("ap-northeast-1"), "[storage] s3_region wins over [aws] region");
            jail.set_env("AWS_ENDPOINT_URL_S3", "");
            jail.set_env("AWS_ENDPOINT_URL", "http://127.0.0.1:9000");
            let HistoryBackend::S3(s3) = c.storage.history_backend(&c.aws).unwrap() else { panic!("not s3") };
            assert_eq!(s3.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"), "the standard variable, path style");
            jail.set_env("AXIA_STORAGE__BACKEND", "gcs");
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains("\"local\" or \"s3\""), "{err}");
            Ok(())
        });
    }

    #[test]
    fn state_defaults_to_sqlite_in_the_data_directory() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("AXIA_HOME", "/srv/axia");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.state, StateSection::default());
            let backend = c.state.backend(&c.storage, &c.aws).unwrap();
            assert_eq!(backend, StateBackend::Sqlite(PathBuf::from("/srv/axia/state.db")));
            jail.set_env("AXIA_STORAGE__BASE_PATH", "/data/axia");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let backend = c.state.backend(&c.storage, &c.aws).unwrap();
            assert_eq!(backend, StateBackend::Sqlite(PathBuf::from("/data/axia/state.db")), "follows base_path");
            jail.set_env("AXIA_STATE__SQLITE_PATH", "/var/lib/axia/orders.db");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let backend = c.state.backend(&c.storage, &c.aws).unwrap();
            assert_eq!(backend, StateBackend::Sqlite(PathBuf::from("/var/lib/axia/orders.db")));
            Ok(())
        });
        assert_eq!(Config::default().state.backend, "sqlite");
        assert_eq!(Config::default().state.dynamodb_table, "axia-state");
    }

    #[test]
    fn state_on_dynamodb_from_file_and_env_with_the_aws_section() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("axia.toml", "[state]\nbackend = \"dynamodb\"\n[aws]\nregion = \"eu-west-1\"\n")?;
            jail.set_env("AXIA_AWS__ENDPOINT_URL", "http://127.0.0.1:4566");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let want = StateBackend::DynamoDb {
                table: "axia-state".into(),
                region: Some("eu-west-1".into()),
                endpoint_url: Some("http://127.0.0.1:4566".into()),
            };
            assert_eq!(c.state.backend(&c.storage, &c.aws).unwrap(), want);
            jail.set_env("AXIA_STATE__DYNAMODB_TABLE", "prod.axia-state_v2");
            jail.set_env("AXIA_AWS__REGION", "ap-northeast-1");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let StateBackend::DynamoDb { table, region, .. } = c.state.backend(&c.storage, &c.aws).unwrap() else {
                panic!("not dynamodb")
            };
            assert_eq!((table.as_str(), region.as_deref()), ("prod.axia-state_v2", Some("ap-northeast-1")));

            jail.set_env("AXIA_AWS__ENDPOINT_URL", "");
            jail.set_env("AWS_ENDPOINT_URL", "http://127.0.0.1:9000");
            jail.set_env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let StateBackend::DynamoDb { endpoint_url, .. } = c.state.backend(&c.storage, &c.aws).unwrap() else {
                panic!("not dynamodb")
            };
            assert_eq!(endpoint_url.as_deref(), Some("http://127.0.0.1:8000"), "the service's own variable first");
            Ok(())
        });
    }

    #[test]
    fn state_refuses_bad_backends_tables_and_paths() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("AXIA_STATE__BACKEND", "postgres");
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains("\"sqlite\" or \"dynamodb\"") && err.contains("AXIA_STATE__BACKEND"), "{err}");
            jail.set_env("AXIA_STATE__BACKEND", "dynamodb");
            jail.set_env("AXIA_STATE__DYNAMODB_TABLE", "my table");
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains("not a valid DynamoDB table name"), "{err}");
            jail.set_env("AXIA_STATE__DYNAMODB_TABLE", "t");
            assert!(Config::load(None).is_err(), "a one-letter table name");
            jail.set_env("AXIA_STATE__BACKEND", "sqlite");
            jail.set_env("AXIA_STATE__SQLITE_PATH", "");
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains("sqlite_path"), "{err}");
            jail.create_file("bad.toml", "[state]\nsqlite_file = \"x.db\"\n")?;
            let err = format!("{:#}", Config::load(Some(Path::new("bad.toml"))).unwrap_err());
            assert!(err.contains("sqlite_file"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[collector]\nconcurency = 3\n")?;
            let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(format!("{err:#}").contains("concurency"), "{err:#}");
            jail.create_file("zero.toml", "[collector]\nconcurrency = 0\n")?;
            assert!(Config::load(Some(Path::new("zero.toml"))).is_err());
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }
}
