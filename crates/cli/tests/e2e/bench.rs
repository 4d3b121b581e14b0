//! `axia bench` against the test Redis (`AXIA_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`): the JSON shape of SPEC §11 and plausible values, cleanup of the
//! scratch directory, and usage errors. No timing assertions: benchmarks are not tests.

use serde_json::Value;

use crate::support::{Scratch, stderr};

fn redis_url() -> String {
    std::env::var("AXIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// Runs `axia bench --json args…` with the test Redis and the data directory under `s`;
/// returns the figures of `scenario`, checking that nothing else was reported.
fn bench(s: &Scratch, args: &[&str], scenario: &str) -> serde_json::Map<String, Value> {
    std::fs::create_dir_all(s.data()).expect("data dir");
    let (url, home) = (redis_url(), s.data().to_string_lossy().into_owned());
    let mut all = vec!["bench", "--json", "--scenario", scenario];
    all.extend_from_slice(args);
    let out = s.ok_env(&all, &[("AXIA_REDIS__URL", url.as_str()), ("AXIA_HOME", home.as_str())]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    let scenarios = v["scenarios"].as_object().unwrap_or_else(|| panic!("no scenarios object: {v}"));
    assert_eq!(scenarios.keys().collect::<Vec<_>>(), vec![scenario], "{v}");
    let figures = scenarios[scenario].as_object().unwrap_or_else(|| panic!("{v}")).clone();
    let leftovers: Vec<_> = std::fs::read_dir(s.data()).expect("read data dir").collect();
    assert!(leftovers.is_empty(), "the scratch directory was not removed: {leftovers:?}");
    figures
}

#[test]
fn bench_redis_get_1h_reports_latency_figures() {
    let s = Scratch::new();
    let f = bench(&s, &["--iterations", "20"], "redis_get_1h");
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["median_us", "ops_per_s", "p99_us"], "{f:?}");
    let median = f["median_us"].as_f64().expect("median_us is a number");
    let p99 = f["p99_us"].as_f64().expect("p99_us is a number");
    assert!(median > 0.0 && p99 >= median, "{f:?}");
    assert!(f["ops_per_s"].as_f64().is_some_and(|r| r > 0.0), "{f:?}");
}

#[test]
fn bench_redis_memory_reports_bytes_only() {
    let s = Scratch::new();
    let f = bench(&s, &[], "redis_memory");
    assert_eq!(f.keys().collect::<Vec<_>>(), vec!["bytes"], "{f:?}");
    // 45 series, 9,525 bars of 49-byte members: far more than a few kilobytes, far less than 50 MB.
    let bytes = f["bytes"].as_u64().expect("bytes is an integer");
    assert!((100_000..50_000_000).contains(&bytes), "{bytes}");
}

#[test]
fn bench_orders_embedded_fills_every_order_and_reports_a_rate() {
    let s = Scratch::new();
    let f = bench(&s, &["--iterations", "2"], "orders_embedded");
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    // Runs of 200 orders: the median per order and the rate, no p99 of batch means.
    assert_eq!(keys, ["median_us", "ops_per_s"], "{f:?}");
    let (median, rate) = (f["median_us"].as_f64().expect("median"), f["ops_per_s"].as_f64().expect("rate"));
    assert!(median > 0.0 && rate > 0.0, "{f:?}");
}

#[test]
fn bench_unknown_scenario_is_a_usage_error() {
    let s = Scratch::new();
    for name in ["no_such_scenario", "provider_chart"] {
        let out = s.axia(&["bench", "--json", "--scenario", name]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains("redis_get_24h") && err.contains("provider_chart_30d"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bench_without_redis_fails_naming_the_url() {
    let s = Scratch::new();
    // Port 1 is reserved (tcpmux) and nothing listens there.
    let url = "redis://127.0.0.1:1/0";
    let out = s.axia_env(&["bench", "--json", "--scenario", "redis_get_24h"], &[("AXIA_REDIS__URL", url)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(url), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}
