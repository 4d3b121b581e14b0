//! `axia data import | resample | gaps` and `axia fetch` on real and hand-written files.

use serde_json::Value;

use crate::support::{Scratch, repo_root, run_python};

const PLAIN: &str = "\
timestamp,open,high,low,close,volume
2025-01-06T00:00:00Z,1.0301,1.0312,1.02987,1.0305,120
2025-01-06T01:00:00Z,1.0305,1.0309,1.03,1.0301,98
2025-01-06T02:00:00Z,1.0301,1.0301,1.0288,1.029,143
2025-01-06T03:00:00Z,1.029,1.0321,1.029,1.0319,301
";

#[test]
fn a_plain_csv_comes_back_identical_from_fetch() {
    let s = Scratch::new();
    let file = s.write("bars.csv", PLAIN);
    s.ok(&["data", "import", file.to_str().unwrap(), "--symbol", "EURUSD", "--timeframe", "H1"]);
    let out = s.ok(&["fetch", "EURUSD", "H1", "--format", "csv"]);
    let expected = PLAIN.replacen("timestamp,", "open_time_utc,", 1);
    assert_eq!(out, expected);
    // Importing the same file again changes nothing.
    let again = s.ok(&["data", "import", file.to_str().unwrap(), "--symbol", "EURUSD", "--timeframe", "H1"]);
    assert!(again.contains("0 new, 0 updated, 4 unchanged"), "{again}");
}

fn sample() -> String {
    repo_root().join("data/EURUSD_H1_2017-2018.csv").to_string_lossy().into_owned()
}

#[test]
fn real_eurusd_h1_resamples_exactly_like_an_independent_new_york_close_computation() {
    let s = Scratch::new();
    let out = s.ok(&["data", "import", &sample(), "--symbol", "EURUSD", "--timeframe", "H1"]);
    assert!(out.contains("imported 5000 bars"), "{out}");
    for tf in ["H4", "D1", "W1", "MN1"] {
        s.ok(&["data", "resample", "EURUSD", "--from", "H1", "--to", tf]);
        let ours = s.ok(&["fetch", "EURUSD", tf, "--format", "csv"]);
        let theirs = run_python("ny_close_resample.py", &[&sample(), tf]);
        assert_eq!(ours, theirs, "EURUSD {tf} differs from the independent computation");
    }
}

#[test]
fn gaps_of_the_real_sample_report_no_regular_weekend() {
    let s = Scratch::new();
    s.ok(&["data", "import", &sample(), "--symbol", "EURUSD", "--timeframe", "H1"]);
    let out = s.ok(&["data", "gaps", "EURUSD", "H1", "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let new_york = chrono_tz::America::New_York;
    for gap in v["gaps"].as_array().unwrap() {
        let start: chrono::DateTime<chrono::Utc> = gap["start"].as_str().unwrap().parse().unwrap();
        let local = start.with_timezone(&new_york);
        use chrono::{Datelike, Timelike};
        let weekend_start = local.weekday() == chrono::Weekday::Fri && local.hour() == 17;
        assert!(!weekend_start, "a regular weekend was reported as a gap: {gap}");
    }
    // The human form names the series and the count.
    let human = s.ok(&["data", "gaps", "EURUSD", "H1"]);
    assert!(human.starts_with("EURUSD H1: "), "{human}");
    let list = s.ok(&["data", "list", "--json"]);
    let rows: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(rows[0]["rows"], 5000);
    assert_eq!(rows[0]["gaps"], v["gaps"].as_array().unwrap().len());
}
