//! The market-data sources of the configuration: `[sources.yahoo]` (the chart API), and
//! `[sources.mt5_bridge]` (the HTTP bridge to an MT5 terminal, absent `url`: not configured), and
//! the fallback list of `[collector] source` / `axia collect --source` (`"mt5_bridge,yahoo"`).

use std::time::Duration;

use anyhow::{Context, bail};
use axia_adapters::csv_import::SourceTz;
use axia_adapters::mt5_bridge::{BridgeToken, Mt5BridgeSettings};
use axia_adapters::yahoo::YahooSettings;
use serde::{Deserialize, Serialize};

/// The source names `[collector] source` accepts.
pub const SOURCE_NAMES: [&str; 4] = ["synthetic", "sample", "yahoo", "mt5_bridge"];

/// A source name of a fallback list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceName {
    /// The deterministic generator (embedded default).
    Synthetic,
    /// The shipped EURUSD H1 file.
    Sample,
    /// The Yahoo Finance chart API (`[sources.yahoo]`).
    Yahoo,
    /// The MT5 bridge (`[sources.mt5_bridge]`).
    Mt5Bridge,
}

/// Parses `"mt5_bridge,yahoo"`: names in fallback order, without repeats.
///
/// # Errors
/// An empty list or an unknown name, naming the known ones.
pub fn parse_source_list(text: &str) -> anyhow::Result<Vec<SourceName>> {
    let mut names = Vec::new();
    for part in text.split(',').map(str::trim) {
        let name = match part.to_ascii_lowercase().as_str() {
            "synthetic" => SourceName::Synthetic,
            "sample" => SourceName::Sample,
            "yahoo" => SourceName::Yahoo,
            "mt5_bridge" | "mt5-bridge" | "mt5" => SourceName::Mt5Bridge,
            "" => bail!("empty source name in {text:?}: give one name or a comma-separated fallback list"),
            _ => bail!(
                "unknown source {part:?}: use one of {} or a comma-separated fallback list such as \
                 \"mt5_bridge,yahoo\"",
                SOURCE_NAMES.map(|n| format!("\"{n}\"")).join(", ")
            ),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// `[sources]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SourcesSection {
    /// `[sources.yahoo]`.
    pub yahoo: YahooSection,
    /// `[sources.mt5_bridge]`.
    pub mt5_bridge: Mt5BridgeSection,
}

/// `[sources.yahoo]`, e.g. `AXIA_SOURCES__YAHOO__BASE_URL=http://127.0.0.1:8080`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YahooSection {
    /// Scheme and host of the chart API.
    pub base_url: String,
    /// Time allowed for one request, seconds.
    pub timeout_secs: u64,
    /// Retries of a rate-limited (429) or failed (5xx, timeout) request.
    pub max_retries: u32,
}

impl Default for YahooSection {
    fn default() -> Self {
        let d = YahooSettings::default();
        Self { base_url: d.base_url, timeout_secs: d.timeout.as_secs(), max_retries: d.max_retries }
    }
}

impl YahooSection {
    /// The adapter settings.
    ///
    /// # Errors
    /// A zero timeout or a base URL that is not `http(s)://…`.
    pub fn settings(&self) -> anyhow::Result<YahooSettings> {
        if self.timeout_secs == 0 {
            bail!("[sources.yahoo] timeout_secs must be at least 1");
        }
        let base_url = self.base_url.trim();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            bail!(
                "[sources.yahoo] base_url = {base_url:?}: use an http:// or https:// URL \
                 (AXIA_SOURCES__YAHOO__BASE_URL)"
            );
        }
        Ok(YahooSettings {
            base_url: base_url.to_owned(),
            timeout: Duration::from_secs(self.timeout_secs),
            max_retries: self.max_retries,
            ..YahooSettings::default()
        })
    }
}

/// `[sources.mt5_bridge]`. The token is a secret: set it by env
/// (`AXIA_SOURCES__MT5_BRIDGE__TOKEN`), not in a file you share; it is never printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mt5BridgeSection {
    /// The bridge's base URL, e.g. `http://10.0.0.5:8787`. Absent: the bridge is not configured.
    pub url: Option<String>,
    /// The bearer token (`Debug` prints `***`; never serialized back out).
    #[serde(skip_serializing)]
    pub token: Option<BridgeToken>,
    /// Time allowed for one request, seconds.
    pub timeout_secs: u64,
    /// The MT5 server's clock: `ny-close` (New York + 7 h, DST-aware), a fixed offset such as
    /// `+03:00`, or `UTC`. Bars are converted to UTC at the adapter.
    pub server_tz: String,
}

impl Default for Mt5BridgeSection {
    fn default() -> Self {
        Self { url: None, token: None, timeout_secs: 10, server_tz: "ny-close".into() }
    }
}

impl Mt5BridgeSection {
    /// The adapter settings, or `None` when no URL is configured.
    ///
    /// # Errors
    /// A URL that is not `http(s)://…`, a zero timeout or an unknown `server_tz`.
    pub fn settings(&self) -> anyhow::Result<Option<Mt5BridgeSettings>> {
        let server_tz: SourceTz = self.server_tz.parse().context("[sources.mt5_bridge] server_tz")?;
        if self.timeout_secs == 0 {
            bail!("[sources.mt5_bridge] timeout_secs must be at least 1");
        }
        let Some(url) = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("[sources.mt5_bridge] url = {url:?}: use an http:// or https:// URL (AXIA_SOURCES__MT5_BRIDGE__URL)");
        }
        Ok(Some(Mt5BridgeSettings {
            url: url.to_owned(),
            token: self.token.clone(),
            timeout: Duration::from_secs(self.timeout_secs),
            server_tz,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error.
mod tests {
    use std::path::Path;

    use rstest::rstest;

    use super::*;
    use crate::config::Config;

    #[test]
    fn yahoo_defaults_and_env_overrides() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let s = c.sources.yahoo.settings().unwrap();
            assert_eq!(
                (s.base_url.as_str(), s.timeout, s.max_retries),
                ("https://query1.finance.yahoo.com", Duration::from_secs(10), 3)
            );
            jail.set_env("AXIA_SOURCES__YAHOO__BASE_URL", "http://127.0.0.1:18080");
            jail.set_env("AXIA_SOURCES__YAHOO__TIMEOUT_SECS", "2");
            jail.set_env("AXIA_SOURCES__YAHOO__MAX_RETRIES", "1");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let s = c.sources.yahoo.settings().unwrap();
            assert_eq!(
                (s.base_url.as_str(), s.timeout, s.max_retries),
                ("http://127.0.0.1:18080", Duration::from_secs(2), 1)
            );
            Ok(())
        });
    }

    #[test]
    fn mt5_bridge_from_file_with_the_token_from_env_never_printed() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(
                Config::load(None).map_err(|e| e.to_string())?.sources.mt5_bridge.settings().unwrap().map(|s| s.url),
                None
            );
            jail.create_file(
                "axia.toml",
                "[collector]\nsource = \"mt5_bridge,yahoo\"\n[sources.mt5_bridge]\nurl = \"http://10.0.0.5:8787\"\nserver_tz = \"+03:00\"\n",
            )?;
            jail.set_env("AXIA_SOURCES__MT5_BRIDGE__TOKEN", "s3cr3t-token");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let s = c.sources.mt5_bridge.settings().unwrap().unwrap();
            assert_eq!(s.url, "http://10.0.0.5:8787");
            assert_eq!(s.server_tz, "+03:00".parse::<SourceTz>().unwrap());
            assert_eq!(s.token, Some(BridgeToken::new("s3cr3t-token")));
            let printed = format!("{c:?} {s:?} {}", toml::to_string(&c).unwrap());
            assert!(!printed.contains("s3cr3t"), "the token leaked: {printed}");
            assert_eq!(parse_source_list(&c.collector.source).unwrap(), [SourceName::Mt5Bridge, SourceName::Yahoo]);
            Ok(())
        });
    }

    #[rstest]
    #[case::ny_close("ny-close")]
    #[case::offset("+03:00")]
    #[case::utc("UTC")]
    fn server_tz_accepts_the_documented_clocks(#[case] tz: &str) {
        let section =
            Mt5BridgeSection { url: Some("http://h:1".into()), server_tz: tz.into(), ..Mt5BridgeSection::default() };
        assert_eq!(section.settings().unwrap().unwrap().server_tz, tz.parse::<SourceTz>().unwrap());
    }

    #[rstest]
    #[case::yahoo_url("AXIA_SOURCES__YAHOO__BASE_URL", "query1.finance.yahoo.com", "http:// or https://")]
    #[case::yahoo_timeout("AXIA_SOURCES__YAHOO__TIMEOUT_SECS", "0", "timeout_secs")]
    #[case::bridge_url("AXIA_SOURCES__MT5_BRIDGE__URL", "10.0.0.5:8787", "[sources.mt5_bridge] url")]
    #[case::bridge_tz("AXIA_SOURCES__MT5_BRIDGE__SERVER_TZ", "tokyo", "server_tz")]
    #[case::source("AXIA_COLLECTOR__SOURCE", "yahoo,bloomberg", "unknown source \"bloomberg\"")]
    fn bad_source_settings_are_refused(#[case] key: &str, #[case] value: &str, #[case] says: &str) {
        figment::Jail::expect_with(|jail| {
            jail.set_env(key, value);
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains(says), "{key}={value}: {err}");
            Ok(())
        });
    }

    #[rstest]
    #[case("synthetic", &[SourceName::Synthetic])]
    #[case(" MT5_BRIDGE , yahoo,yahoo", &[SourceName::Mt5Bridge, SourceName::Yahoo])]
    #[case("yahoo,sample", &[SourceName::Yahoo, SourceName::Sample])]
    fn source_lists(#[case] text: &str, #[case] want: &[SourceName]) {
        assert_eq!(parse_source_list(text).unwrap(), want);
    }

    #[rstest]
    #[case("", "empty source name")]
    #[case("yahoo,,sample", "empty source name")]
    #[case("ib", "\"synthetic\", \"sample\", \"yahoo\", \"mt5_bridge\"")]
    fn bad_source_lists(#[case] text: &str, #[case] says: &str) {
        let err = parse_source_list(text).unwrap_err().to_string();
        assert!(err.contains(says), "{text:?}: {err}");
    }
}
