//! `[memory]` (the L1 tier: bytes, retention, per-use-case freshness) and `[provider]` (which
//! sources back the unified provider, write-back, where cumulative stats are kept).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use axia_adapters::memory::MemoryTierConfig;
use axia_application::provider::{L1Config, PerUseCase, ProviderConfig};
use serde::{Deserialize, Serialize};

/// `[memory]`: the in-process L1 tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Byte budget of the in-process tier.
    pub max_mb: u64,
    /// Longest time a series stays in memory without being read, seconds (an upper bound for
    /// the access-aware retention below).
    pub ttl_secs: u64,
    /// A series not read for this long leaves L1, seconds; series read often ("hot") stay
    /// `idle_secs × hot_factor`.
    pub idle_secs: u64,
    /// Reads that make a series hot.
    pub hot_reads: u32,
    /// How much longer hot series stay, and they are refreshed ahead of their readers.
    pub hot_factor: u32,
    /// Freshness of the newest bars served from L1 for trading, milliseconds.
    pub ttl_trading_ms: u64,
    /// … for charts, seconds.
    pub ttl_chart_secs: u64,
    /// … for analysis, seconds.
    pub ttl_analysis_secs: u64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        let l1 = L1Config::default();
        Self {
            max_mb: 64,
            ttl_secs: 3600,
            idle_secs: l1.idle.as_secs(),
            hot_reads: l1.hot_reads,
            hot_factor: l1.hot_factor,
            ttl_trading_ms: u64::try_from(l1.ttl.trading.as_millis()).unwrap_or(1000),
            ttl_chart_secs: l1.ttl.chart.as_secs(),
            ttl_analysis_secs: l1.ttl.analysis.as_secs(),
        }
    }
}

impl MemoryConfig {
    /// The moka tier's bounds.
    #[must_use]
    pub fn tier(&self) -> MemoryTierConfig {
        MemoryTierConfig {
            max_bytes: self.max_mb.saturating_mul(1024 * 1024),
            ttl: Duration::from_secs(self.ttl_secs.max(1)),
        }
    }

    /// The L1 freshness and retention.
    ///
    /// # Errors
    /// Zero where a positive value is needed.
    pub fn l1(&self) -> anyhow::Result<L1Config> {
        if self.idle_secs == 0 || self.hot_factor == 0 {
            bail!("[memory] idle_secs and hot_factor must be positive");
        }
        Ok(L1Config {
            ttl: PerUseCase {
                trading: Duration::from_millis(self.ttl_trading_ms),
                chart: Duration::from_secs(self.ttl_chart_secs),
                analysis: Duration::from_secs(self.ttl_analysis_secs),
            },
            idle: Duration::from_secs(self.idle_secs),
            hot_reads: self.hot_reads,
            hot_factor: self.hot_factor,
            ..L1Config::default()
        })
    }
}

/// `[provider]`: the unified provider behind `axia fetch`, `axia chart` and the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSection {
    /// Source asked as "the broker" in the source table (e.g. `mt5_bridge`); empty: none.
    pub broker_source: String,
    /// Source asked as "the market-data API" (e.g. `yahoo`); empty: none.
    pub api_source: String,
    /// Write bars read from slower tiers back into Redis and L1.
    pub write_back: bool,
    /// Where cumulative provider stats are kept across runs (`axia cache stats`). Default:
    /// `provider-stats.json` under `[storage] base_path`. `"-"`: not kept.
    pub stats_path: Option<PathBuf>,
}

impl Default for ProviderSection {
    fn default() -> Self {
        Self { broker_source: String::new(), api_source: String::new(), write_back: true, stats_path: None }
    }
}

impl ProviderSection {
    /// The provider's tunables, with `memory`'s L1 settings.
    ///
    /// # Errors
    /// As [`MemoryConfig::l1`].
    pub fn config(&self, memory: &MemoryConfig) -> anyhow::Result<ProviderConfig> {
        Ok(ProviderConfig { l1: memory.l1()?, write_back: self.write_back, ..ProviderConfig::default() })
    }

    /// The stats file, unless disabled.
    #[must_use]
    pub fn stats_path(&self, base_path: &Path) -> Option<PathBuf> {
        match &self.stats_path {
            Some(p) if p.as_os_str() == "-" => None,
            Some(p) => Some(p.clone()),
            None => Some(base_path.join("provider-stats.json")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_provider_defaults() {
        let memory = MemoryConfig::default();
        assert_eq!(memory.l1().unwrap(), L1Config::default());
        let section = ProviderSection::default();
        assert_eq!(section.config(&memory).unwrap(), ProviderConfig::default());
        assert_eq!(section.stats_path(Path::new("/d")), Some(PathBuf::from("/d/provider-stats.json")));
        let off = ProviderSection { stats_path: Some("-".into()), ..section };
        assert_eq!(off.stats_path(Path::new("/d")), None);
    }

    #[test]
    fn zero_idle_is_refused() {
        let memory = MemoryConfig { idle_secs: 0, ..MemoryConfig::default() };
        assert!(memory.l1().is_err());
    }
}
