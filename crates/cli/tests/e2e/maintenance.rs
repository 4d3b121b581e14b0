//! `axia data compact` and `axia artifacts clear-cache` on the embedded defaults.

use serde_json::Value;

use crate::support::{Scratch, stderr};

#[test]
fn compaction_keeps_every_bar_and_the_history_verifies() {
    let s = Scratch::new();
    s.ok(&["collect", "--symbols", "EURUSD", "--timeframes", "M1,M5,H1", "--json"]);
    let fetch = |tf: &str| s.ok(&["fetch", "EURUSD", tf, "--format", "csv"]);
    let before: Vec<String> = ["M1", "M5", "H1"].iter().map(|tf| fetch(tf)).collect();
    let dailies = |s: &Scratch| crate::support::snapshot(&s.data()).keys().filter(|k| k.contains("/date=")).count();
    let daily_before = dailies(&s);

    let out = s.ok(&["data", "compact", "--older-than", "7d", "--json"]);
    let report: Value = serde_json::from_str(out.trim()).expect("report JSON");
    assert!(report["archives_written"].as_u64().unwrap() > 0, "{report}");
    assert!(report["originals_deleted"].as_u64().unwrap() > 0, "{report}");
    assert!(dailies(&s) < daily_before, "daily objects were not removed");

    let after: Vec<String> = ["M1", "M5", "H1"].iter().map(|tf| fetch(tf)).collect();
    assert_eq!(after, before, "compaction changed the bars");
    s.ok(&["data", "verify"]);

    // A second run finds nothing left to do.
    let again: Value = serde_json::from_str(s.ok(&["data", "compact", "--json"]).trim()).unwrap();
    assert_eq!(again["originals_deleted"], 0, "{again}");

    let bad = s.axia(&["data", "compact", "--older-than", "7 weeks"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn clearing_an_empty_artifact_cache_reports_nothing_removed() {
    let s = Scratch::new();
    let cache = s.path().join("artifact-cache");
    let env = [("AXIA_STORAGE__LOCAL_CACHE_PATH", cache.to_str().unwrap())];
    let out = s.ok_env(&["artifacts", "clear-cache", "--json"], &env);
    let report: Value = serde_json::from_str(out.trim()).expect("report JSON");
    assert_eq!(report["files"], 0, "{report}");
    assert_eq!(report["path"].as_str(), Some(cache.to_str().unwrap()), "{report}");
}
