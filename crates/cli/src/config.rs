//! Configuration: built-in embedded defaults, then the file (`--config` / `AXIA_CONFIG`), then
//! environment overrides `AXIA_<SECTION>__<KEY>` (e.g. `AXIA_COLLECTOR__CONCURRENCY=8`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
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
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` (the embedded default).
    pub backend: String,
    /// Root directory of the local store. Default: `$AXIA_HOME`, else `./axia-data`.
    pub base_path: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        let base_path = std::env::var_os("AXIA_HOME").map_or_else(|| PathBuf::from("axia-data"), PathBuf::from);
        Self { backend: "local".into(), base_path }
    }
}

/// `[memory]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Byte budget of the in-process tier.
    pub max_mb: u64,
    /// Time to live of an entry, seconds.
    pub ttl_secs: u64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self { max_mb: 64, ttl_secs: 300 }
    }
}

/// `[collector]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    /// Symbols to collect.
    pub symbols: Vec<String>,
    /// Timeframes to collect.
    pub timeframes: Vec<String>,
    /// Source name: `synthetic` (embedded default) or `sample` (the shipped EURUSD H1 file).
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
        }
    }
}

impl Config {
    /// Loads defaults, then `file`, then the environment.
    ///
    /// # Errors
    /// A missing or unreadable file, a syntax error, an unknown key or a wrong type, naming it.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = file {
            if !path.is_file() {
                bail!("configuration file {} does not exist", path.display());
            }
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
        if self.storage.backend != "local" {
            bail!("[storage] backend = {:?}: this build supports \"local\"", self.storage.backend);
        }
        if self.collector.concurrency == 0 {
            bail!("[collector] concurrency must be at least 1");
        }
        Ok(())
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
