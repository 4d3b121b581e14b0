//! The configuration as a flat list of keys (`redis.password`, `broker.paper.spread`) with
//! their environment names (`AXIA_REDIS__PASSWORD`), which of them are secrets, and the
//! redacted view `axia config show` prints. `docs/configuration.md` is checked against this list.

use anyhow::Context as _;
use axia_adapters::redis::redact_url;
use serde_json::{Map, Value};

use super::Config;

#[cfg(test)]
/// Keys that exist but are never serialized (secrets skipped by serde), as dotted paths.
const NOT_SERIALIZED: [&str; 1] = ["sources.mt5_bridge.token"];

/// What a secret's value is replaced with.
pub const REDACTED: &str = "***";

#[cfg(test)]
/// Every configuration key as a dotted path (`section.key`, `broker.paper.spread`), sorted;
/// keys of unset options (`redis.url`) included.
#[must_use]
pub fn all_keys() -> Vec<String> {
    let value = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
    let mut keys = Vec::new();
    walk(&value, "", &mut keys);
    keys.extend(NOT_SERIALIZED.iter().map(|k| (*k).to_owned()));
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
fn walk(value: &Value, path: &str, keys: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                let child_path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                walk(child, &child_path, keys);
            }
        }
        _ if !path.is_empty() => keys.push(path.to_owned()),
        _ => {}
    }
}

#[cfg(test)]
/// The environment variable of a dotted key: `broker.paper.spread` → `AXIA_BROKER__PAPER__SPREAD`.
#[must_use]
pub fn env_name(key: &str) -> String {
    format!("AXIA_{}", key.split('.').map(str::to_ascii_uppercase).collect::<Vec<_>>().join("__"))
}

/// Whether the key holds a secret: its name contains `password`, `token` or `secret`.
#[must_use]
pub fn is_secret(key: &str) -> bool {
    let name = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    ["password", "token", "secret"].iter().any(|s| name.contains(s))
}

/// The effective configuration as JSON with every secret replaced by [`REDACTED`] and the user
/// information and query of every URL removed (`redis://***@host:6379/0`). Unset options are
/// `null`.
#[must_use]
pub fn redacted(config: &Config) -> Value {
    let mut value = serde_json::to_value(config).unwrap_or(Value::Null);
    if config.sources.mt5_bridge.token.is_some()
        && let Some(bridge) = value.pointer_mut("/sources/mt5_bridge").and_then(Value::as_object_mut)
    {
        bridge.insert("token".into(), Value::String(REDACTED.into()));
    }
    if let Value::Object(map) = &mut value {
        redact_map(map);
    }
    value
}

fn redact_map(map: &mut Map<String, Value>) {
    for (name, child) in map.iter_mut() {
        match child {
            Value::Object(inner) => redact_map(inner),
            Value::Null => {}
            _ if is_secret(name) => *child = Value::String(REDACTED.into()),
            Value::String(url) if (name == "url" || name.ends_with("_url")) && url.contains("://") => {
                *url = redact_url(url);
            }
            _ => {}
        }
    }
}

/// Refuses a configuration file that holds a secret: a key named like a password, token or
/// secret, or a URL carrying a password. Files get copied, committed and shared; secrets belong
/// in the environment (`AXIA_REDIS__PASSWORD`, …) or the AWS default chain. The error names the
/// key and its environment variable, never the value.
///
/// # Errors
/// The file cannot be read or parsed, or holds a secret.
pub fn refuse_secrets_in_file(path: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // Syntax errors are reported by the loader itself, with their position.
    let Ok(table) = text.parse::<toml::Table>() else { return Ok(()) };
    let mut found = Vec::new();
    secrets_in(&toml::Value::Table(table), "", &mut found);
    if found.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = found.iter().map(|k| format!("{k} (set {} instead)", env_of(k))).collect();
    anyhow::bail!("{} holds secrets, which are read from the environment only: {}", path.display(), named.join(", "))
}

fn env_of(key: &str) -> String {
    format!("AXIA_{}", key.split('.').map(str::to_ascii_uppercase).collect::<Vec<_>>().join("__"))
}

fn secrets_in(value: &toml::Value, path: &str, found: &mut Vec<String>) {
    let toml::Value::Table(table) = value else { return };
    for (name, child) in table {
        let key = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        match child {
            toml::Value::Table(_) => secrets_in(child, &key, found),
            toml::Value::String(text) if is_secret(name) && !text.is_empty() => found.push(key),
            toml::Value::String(text)
                if text.contains("://") && redact_url(text) != *text && url_has_password(text) =>
            {
                found.push(key);
            }
            _ => {}
        }
    }
}

/// `scheme://user:password@host…`: userinfo with a colon.
fn url_has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// `value` without its `null` leaves (TOML has no null: an unset option is left out).
#[must_use]
pub fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axia_adapters::mt5_bridge::BridgeToken;
    use rstest::rstest;

    use super::*;

    const DOC: &str = include_str!("../../../../docs/configuration.md");

    #[rstest]
    #[case("[redis]\npassword = \"pw-file-1\"\n", Some("redis.password (set AXIA_REDIS__PASSWORD instead)"))]
    #[case(
        "[sources.mt5_bridge]\nurl = \"http://bridge:8080\"\ntoken = \"tok-file-2\"\n",
        Some("AXIA_SOURCES__MT5_BRIDGE__TOKEN")
    )]
    #[case("[redis]\nurl = \"redis://:pw-file-3@127.0.0.1:6379/0\"\n", Some("redis.url (set AXIA_REDIS__URL instead)"))]
    #[case("[redis]\nurl = \"redis://127.0.0.1:6379/0\"\nusername = \"axia\"\n", None)]
    #[case("[redis]\nurl = \"rediss://axia@cache:6379/0\"\n", None)]
    fn secrets_in_a_file_are_refused_without_their_value(#[case] toml: &str, #[case] named: Option<&str>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("axia.toml");
        std::fs::write(&path, toml).unwrap();
        match (refuse_secrets_in_file(&path), named) {
            (Ok(()), None) => {}
            (Err(e), Some(name)) => {
                let text = format!("{e:#}");
                assert!(text.contains(name), "{text}");
                assert!(!text.contains("pw-file") && !text.contains("tok-file"), "the value leaked: {text}");
            }
            (other, _) => panic!("{toml}: {other:?}"),
        }
    }

    /// `(key, env name)` of every table row of the document: the row's first cell is the key
    /// (in backquotes), the section is the last `## [section]` heading.
    fn documented() -> Vec<(String, String)> {
        let mut section = String::new();
        let mut rows = Vec::new();
        for line in DOC.lines() {
            if let Some(heading) = line.strip_prefix("## [").and_then(|h| h.split_once(']')) {
                section = heading.0.to_owned();
                continue;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4 || !cells[1].starts_with('`') || section.is_empty() {
                continue;
            }
            let key = format!("{section}.{}", cells[1].trim_matches('`'));
            let env = cells.iter().find(|c| c.starts_with("`AXIA_")).map_or("", |c| c.trim_matches('`'));
            rows.push((key, env.to_owned()));
        }
        rows
    }

    #[test]
    fn every_key_is_documented_with_its_env_name_and_no_other() {
        let keys: BTreeSet<String> = all_keys().into_iter().collect();
        let rows = documented();
        for (key, env) in &rows {
            assert!(keys.contains(key), "docs/configuration.md names {key}, which is no configuration key");
            assert_eq!(env, &env_name(key), "docs/configuration.md: the env name of {key}");
        }
        let documented: BTreeSet<String> = rows.iter().map(|(k, _)| k.clone()).collect();
        let missing: Vec<&String> = keys.difference(&documented).collect();
        assert!(missing.is_empty(), "docs/configuration.md lacks {missing:?}");
        assert_eq!(documented.len(), rows.len(), "a key is documented twice");
        for key in keys.iter().filter(|k| is_secret(k)) {
            let env = format!("`{}`", env_name(key));
            let row = DOC.lines().find(|l| l.starts_with("| `") && l.contains(&env)).unwrap_or_default();
            assert!(
                row.to_ascii_lowercase().contains("secret"),
                "docs/configuration.md must mark {key} as a secret: {row}"
            );
        }
    }

    #[test]
    fn the_key_list_holds_unset_options_and_skipped_secrets() {
        let keys = all_keys();
        for key in ["redis.url", "redis.password", "orders.symbols", "sources.mt5_bridge.token", "broker.paper.spread"]
        {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|k| k == "broker" || k == "broker.paper"), "sections are not keys");
    }

    #[rstest]
    #[case::section("redis.url", "AXIA_REDIS__URL")]
    #[case::nested("broker.paper.spread", "AXIA_BROKER__PAPER__SPREAD")]
    #[case::source("sources.mt5_bridge.token", "AXIA_SOURCES__MT5_BRIDGE__TOKEN")]
    fn env_names(#[case] key: &str, #[case] env: &str) {
        assert_eq!(env_name(key), env);
    }

    #[test]
    fn redaction_hides_every_secret_and_url_credentials() {
        let mut config = Config::default();
        config.redis.url = Some("redis://user:pw-value@127.0.0.1:6379/0".into());
        config.redis.password = Some("s3cr3t-value".into());
        config.sources.mt5_bridge.token = Some(BridgeToken::new("tok-value"));
        let value = redacted(&config);
        let text = value.to_string();
        for secret in ["pw-value", "s3cr3t-value", "tok-value"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(value["redis"]["password"], REDACTED);
        assert_eq!(value["sources"]["mt5_bridge"]["token"], REDACTED);
        assert_eq!(value["redis"]["url"], "redis://***@127.0.0.1:6379/0");
        assert_eq!(redacted(&Config::default())["redis"]["password"], Value::Null, "unset stays unset");
    }
}
