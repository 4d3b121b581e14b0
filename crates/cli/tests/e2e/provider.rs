//! The unified provider through the real binary (the acceptance): 35 days collected with
//! Redis configured, a 30-day chart read stitched from Redis (the last 24 h) and the history tier,
//! the same read with Redis unreachable, the cumulative stats, `axia data warmup` refilling an
//! emptied Redis, and `axia chart` over the same tiers. Against the redis-server of the test
//! command (`AXIA_TEST_REDIS_URL`), under a key prefix of its own.

use axia_tests::redis_raw::{RawRedis, test_redis_url};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::support::{Scratch, stderr};

/// The synthetic market's end (the data clock's "now").
const END: &str = "2025-09-02T00:00:00Z";
/// 35 days before [`END`].
const FROM: &str = "2025-07-28T00:00:00Z";

fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("e2eprov{}x{nanos}:", std::process::id())
}

/// Deletes the test's keys however it ends.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        RawRedis::connect(&test_redis_url()).delete_prefix(&self.0);
    }
}

fn env(url: &str, prefix: &str) -> Vec<(String, String)> {
    [
        ("AXIA_REDIS__URL", url),
        ("AXIA_REDIS__KEY_PREFIX", prefix),
        ("AXIA_REDIS__CONNECT_TIMEOUT_MS", "300"),
        ("AXIA_REDIS__COMMAND_TIMEOUT_MS", "300"),
        ("AXIA_COLLECTOR__SYNTHETIC_END", END),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn pairs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn json(s: &Scratch, args: &[&str], vars: &[(String, String)]) -> Value {
    let out = s.ok_env(args, &pairs(vars));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("axia {args:?}: not JSON ({e}): {out}"))
}

/// The open times of a fetch's bars, checked ascending without duplicates.
fn open_times(fetched: &Value) -> Vec<DateTime<Utc>> {
    let times: Vec<DateTime<Utc>> = fetched["bars"]
        .as_array()
        .expect("bars")
        .iter()
        .map(|b| b["open_time_utc"].as_str().expect("open_time_utc").parse().expect("RFC 3339"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "bars not strictly ascending");
    times
}

fn served_by(fetched: &Value) -> Vec<&str> {
    let provider = &fetched["metadata"]["provider"];
    provider["served_by"].as_array().expect("served_by").iter().map(|t| t.as_str().unwrap()).collect()
}

fn tier<'a>(provider_stats: &'a Value, name: &str) -> &'a Value {
    provider_stats["tiers"]
        .as_array()
        .expect("tiers")
        .iter()
        .find(|t| t["tier"] == name)
        .unwrap_or_else(|| panic!("no {name} tier in {provider_stats}"))
}

fn eurusd_m1_bars(stats: &Value, prefix: &str) -> Option<u64> {
    let key = format!("{prefix}ohlcv:{{EURUSD:M1}}");
    stats["redis"]["stats"]["series"].as_array()?.iter().find(|r| r["key"] == key.as_str())?["bars"].as_u64()
}

#[test]
fn chart_reads_stitch_redis_and_history_survive_redis_down_and_warmup_refills_redis() {
    let s = Scratch::new();
    let prefix = unique_prefix();
    let _cleanup = Cleanup(prefix.clone());
    let up = env(&test_redis_url(), &prefix);
    let down = env("redis://127.0.0.1:1/0", &prefix);

    s.ok_env(&["collect", "--symbols", "EURUSD", "--timeframes", "M1", "--from", FROM], &pairs(&up));

    // Redis up: the last 24 h from Redis, the rest from history, one complete series.
    let args = ["fetch", "EURUSD", "M1", "--days", "30", "--use-case", "chart", "--format", "json"];
    let tiered = json(&s, &args, &up);
    let meta = &tiered["metadata"]["provider"];
    // 30 days hold at least 20 full trading days: the collect's --from reached back far enough.
    assert!(tiered["rows"].as_u64().unwrap() >= 20 * 1440, "rows {}: {meta}", tiered["rows"]);
    let served = served_by(&tiered);
    assert!(served.contains(&"redis") && served.contains(&"history"), "{meta}");
    assert_eq!(meta["complete"], true, "{meta}");
    assert!(meta["errors"].is_null(), "{meta}");
    let times = open_times(&tiered);
    assert_eq!(times.len() as u64, tiered["rows"].as_u64().unwrap());
    assert!(times.last().unwrap() < &END.parse::<DateTime<Utc>>().unwrap(), "only closed bars");

    // Redis unreachable: the same bars, the Redis attempt failed, history served.
    let started = std::time::Instant::now();
    let degraded = json(&s, &args, &down);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    let meta = &degraded["metadata"]["provider"];
    assert_eq!(degraded["bars"], tiered["bars"], "{meta}");
    assert_eq!(served_by(&degraded), vec!["history"], "{meta}");
    let redis_attempts: Vec<&Value> =
        meta["attempts"].as_array().unwrap().iter().filter(|a| a["tier"] == "redis").collect();
    assert!(!redis_attempts.is_empty(), "{meta}");
    for a in &redis_attempts {
        assert!(a["outcome"] == "error" || a["outcome"] == "timeout", "{a}");
        assert!(a["error"].is_string(), "{a}");
    }
    assert!(meta["errors"].as_array().is_some_and(|e| !e.is_empty()), "{meta}");
    assert_eq!(meta["complete"], true, "{meta}");

    // The cumulative stats of both calls.
    let stats = json(&s, &["cache", "stats", "--json"], &up);
    let provider = &stats["provider"];
    assert!(provider["calls"].as_u64().unwrap() >= 2, "{provider}");
    let redis = tier(provider, "redis");
    assert!(redis["requests"].as_u64().unwrap() >= 2, "{redis}");
    assert!(redis["hits"].as_u64().unwrap() >= 1 && redis["errors"].as_u64().unwrap() >= 1, "{redis}");
    let history = tier(provider, "history");
    assert!(history["requests"].as_u64().unwrap() >= 2, "{history}");
    assert!(history["rows"].as_u64().unwrap() > 0, "{history}");
    assert_eq!(eurusd_m1_bars(&stats, &prefix), Some(1440), "{}", stats["redis"]);

    // Redis emptied: warmup refills the last 24 h, a second warmup has nothing to add.
    let deleted = RawRedis::connect(&test_redis_url()).delete_prefix(&prefix);
    assert!(deleted >= 1, "no key under {prefix}");
    let stats = json(&s, &["cache", "stats", "--json"], &up);
    assert_eq!(eurusd_m1_bars(&stats, &prefix), None, "{}", stats["redis"]);
    let first = json(&s, &["data", "warmup", "--json"], &up);
    assert_eq!(first["failed"], 0, "{first}");
    assert_eq!(first["inserted"], 1440, "{first}");
    let stats = json(&s, &["cache", "stats", "--json"], &up);
    assert_eq!(eurusd_m1_bars(&stats, &prefix), Some(1440), "{}", stats["redis"]);
    let second = json(&s, &["data", "warmup", "--json"], &up);
    assert_eq!((&second["failed"], &second["inserted"]), (&Value::from(0), &Value::from(0)), "{second}");

    // A chart over the same tiers.
    let out = s.axia_env(&["chart", "EURUSD", "M1", "--days", "30", "-o", "x.html"], &pairs(&up));
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::metadata(s.path().join("x.html")).expect("x.html written");
    assert!(html.len() > 0);
}
