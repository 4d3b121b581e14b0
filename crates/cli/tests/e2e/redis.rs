//! `axia collect`, `axia fetch` and `axia cache stats` with the Redis tier configured, against
//! the real redis-server of the test command (`AXIA_TEST_REDIS_URL`), each test under its own key
//! prefix; and with Redis unreachable.

use axia_tests::redis_raw::{RawRedis, test_redis_url};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::support::{Scratch, stderr};

fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("e2e{}x{nanos}:", std::process::id())
}

/// The synthetic market ends at the last full hour before now, so the last 24 h hold bars
/// (on trading days) and a second run finds nothing new.
/// A Tuesday noon: the replayed market's "now" (Redis keeps its last 24 h, a whole trading
/// day, whatever day the tests run on).
fn synthetic_end() -> String {
    "2025-09-02T12:00:00Z".to_owned()
}

struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    fn new(url: &str, prefix: &str, end: &str) -> Self {
        let vars = [
            ("AXIA_REDIS__URL", url),
            ("AXIA_REDIS__KEY_PREFIX", prefix),
            ("AXIA_REDIS__CONNECT_TIMEOUT_MS", "300"),
            ("AXIA_REDIS__COMMAND_TIMEOUT_MS", "300"),
            ("AXIA_COLLECTOR__SYNTHETIC_END", end),
            ("AXIA_COLLECTOR__LOOKBACK_DAYS", "3"),
        ];
        Self { vars: vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect() }
    }

    fn with(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.to_owned(), value.to_owned()));
        self
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

fn stats(s: &Scratch, env: &Env) -> Value {
    let out = s.ok_env(&["cache", "stats", "--json"], &env.pairs());
    serde_json::from_str(out.trim()).expect("stats JSON")
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().expect("time string").parse().expect("RFC 3339 time")
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        RawRedis::connect(&test_redis_url()).delete_prefix(&self.0);
    }
}

#[test]
fn collect_with_redis_keeps_one_day_per_series_with_a_ttl_and_is_idempotent() {
    let s = Scratch::new();
    let prefix = unique_prefix();
    let _cleanup = Cleanup(prefix.clone());
    let env = Env::new(&test_redis_url(), &prefix, &synthetic_end());
    let out = s.ok_env(&["collect", "--json"], &env.pairs());
    let summary: Value = serde_json::from_str(out.trim()).expect("summary JSON");
    assert_eq!(summary["counts"]["tasks"], 45, "{summary}");
    assert_eq!(summary["counts"]["failed"], 0, "{summary}");
    assert_eq!(summary["counts"]["degraded"], 0, "{summary}");

    let first = stats(&s, &env);
    let series = first["redis"]["stats"]["series"].as_array().expect("series");
    // Every series the history tier holds has a key (with a short lookback, W1 and MN1 may have
    // no closed bar yet).
    let listed: Value = serde_json::from_str(s.ok_env(&["data", "list", "--json"], &env.pairs()).trim()).unwrap();
    let stored = listed.as_array().expect("data list rows").len();
    assert!(stored >= 35, "{listed}");
    assert_eq!(series.len(), stored, "every stored series has a key: {first}");
    for row in series {
        let key = row["key"].as_str().unwrap();
        assert!(key.starts_with(&format!("{prefix}ohlcv:{{")), "{key}");
        let bars = row["bars"].as_u64().unwrap();
        assert!(bars >= 1, "{row}");
        let span = time(&row["last"]) - time(&row["first"]);
        assert!(bars == 1 || span < TimeDelta::hours(24), "more than 24 h of bars: {row}");
        assert!(bars <= 1440, "{row}");
        let ttl = row["ttl"].as_u64().expect("a TTL");
        assert!(ttl > 0 && ttl <= 25 * 3600, "{row}");
    }
    assert_eq!(first["redis"]["stats"]["status"], "OK", "{first}");

    let again = s.ok_env(&["collect", "--json"], &env.pairs());
    let second: Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(second["counts"]["failed"], 0, "{second}");
    let counts = |v: &Value| -> Vec<(String, u64)> {
        v["redis"]["stats"]["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["key"].as_str().unwrap().to_owned(), r["bars"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(counts(&stats(&s, &env)), counts(&first), "a second collect changed member counts");
}

#[test]
fn fetch_reads_recent_bars_from_redis_and_the_same_bars_as_the_history_tier() {
    let s = Scratch::new();
    let prefix = unique_prefix();
    let _cleanup = Cleanup(prefix.clone());
    let env = Env::new(&test_redis_url(), &prefix, &synthetic_end());
    s.ok_env(&["collect", "--symbols", "EURUSD", "--timeframes", "M1"], &env.pairs());
    let args = ["fetch", "EURUSD", "M1", "--days", "2", "--use-case", "chart", "--format", "json"];
    let tiered: Value = serde_json::from_str(s.ok_env(&args, &env.pairs()).trim()).unwrap();
    let provider = &tiered["metadata"]["provider"];
    assert_eq!(provider["served_by"][0], "redis", "{provider}");
    assert_eq!(provider["attempts"][0]["tier"], "redis", "{provider}");
    assert!(provider["errors"].is_null(), "{provider}");
    // The same bars as the history tier alone (analysis over more than 24 h reads it only).
    let mut history_args = args.to_vec();
    history_args[6] = "analysis";
    let history: Value = serde_json::from_str(s.ok_env(&history_args, &env.pairs()).trim()).unwrap();
    let served = &history["metadata"]["provider"]["served_by"];
    assert_eq!(served, &serde_json::json!(["history"]), "{}", history["metadata"]);
    assert_eq!(tiered["bars"], history["bars"]);
    assert!(tiered["rows"].as_u64().unwrap() > 0);
}

#[test]
fn with_redis_unreachable_collect_is_degraded_and_fetch_answers_from_history() {
    let s = Scratch::new();
    let env = Env::new("redis://127.0.0.1:1/0", "unreachable:", &synthetic_end());
    let started = std::time::Instant::now();
    let out = s.ok_env(&["collect", "--symbols", "EURUSD", "--timeframes", "M1,H1", "--json"], &env.pairs());
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["counts"]["stored"], 2, "{summary}");
    assert_eq!(summary["counts"]["degraded"], 2, "{summary}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "collect took {:?}", started.elapsed());

    let args = ["fetch", "EURUSD", "M1", "--days", "2", "--use-case", "chart", "--format", "csv"];
    let out = s.axia_env(&args, &env.pairs());
    assert!(out.status.success(), "{}", stderr(&out));
    let without_redis = s.ok_env(&args, &[("AXIA_COLLECTOR__SYNTHETIC_END", synthetic_end().as_str())]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), without_redis);
    assert!(without_redis.lines().count() > 1, "no bars: {without_redis}");
    assert!(stderr(&out).contains("degraded"), "{}", stderr(&out));

    // Required Redis: the collect fails, naming Redis.
    let required = env.with("AXIA_REDIS__REQUIRE", "true");
    let out = s.axia_env(&["collect", "--symbols", "EURUSD", "--timeframes", "M5", "--json"], &required.pairs());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("redis"), "{}", stderr(&out));

    // cache stats names what to check.
    let out = s.axia_env(&["cache", "stats"], &required.pairs());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
}

#[test]
fn cache_stats_without_redis_shows_the_provider_and_no_redis() {
    let s = Scratch::new();
    // stdout is not a terminal here: JSON, as under cron.
    let out = s.ok(&["cache", "stats"]);
    let stats: Value = serde_json::from_str(out.trim()).expect("stats JSON");
    assert_eq!(stats["provider"]["calls"], 0, "{stats}");
    assert!(stats["redis"].is_null(), "{stats}");
    let text = s.ok(&["cache", "stats", "--prometheus"]);
    assert!(text.contains("axia_provider_calls_total 0"), "{text}");
    assert!(!text.contains("axia_redis_used_memory_bytes"), "{text}");
}
