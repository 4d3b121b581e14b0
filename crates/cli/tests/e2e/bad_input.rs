//! Bad input is refused with the file and line named, and nothing is stored.

use rstest::rstest;

use crate::support::{Scratch, snapshot, stderr};

const HEADER: &str = "timestamp,open,high,low,close,volume\n";
const GOOD: &str = "2025-01-06T00:00:00Z,1.03,1.04,1.02,1.035,10\n";

#[rstest]
#[case::malformed_row("2025-01-06T01:00:00Z,1.03,abc,1.02,1.035,10\n", 3)]
#[case::high_below_low("2025-01-06T01:00:00Z,1.03,1.01,1.02,1.015,10\n", 3)]
#[case::duplicate_timestamp("2025-01-06T00:00:00Z,1.03,1.04,1.02,1.035,10\n", 3)]
#[case::negative_volume("2025-01-06T01:00:00Z,1.03,1.04,1.02,1.035,-5\n", 3)]
#[case::nan_price("2025-01-06T01:00:00Z,NaN,1.04,1.02,1.035,5\n", 3)]
fn a_bad_row_is_refused_naming_file_and_line_and_nothing_is_stored(#[case] bad_row: &str, #[case] line: u32) {
    let s = Scratch::new();
    let content = format!("{HEADER}{GOOD}{bad_row}2025-01-06T02:00:00Z,1.03,1.04,1.02,1.035,10\n");
    let file = s.write("bad.csv", &content);
    let out = s.axia(&["data", "import", file.to_str().unwrap(), "--symbol", "EURUSD", "--timeframe", "H1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("bad.csv:{line}")), "stderr does not name bad.csv:{line}: {err}");
    assert!(snapshot(&s.data()).keys().all(|k| !k.ends_with(".parquet")), "something was stored");
}

#[test]
fn an_unreadable_file_is_refused() {
    let s = Scratch::new();
    let out = s.axia(&["data", "import", "does-not-exist.csv", "--symbol", "EURUSD", "--timeframe", "H1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does-not-exist.csv"), "{}", stderr(&out));
    assert!(snapshot(&s.data()).is_empty());
}

#[rstest]
#[case::unknown_timeframe(&["data", "import", "x.csv", "--symbol", "EURUSD", "--timeframe", "H2"], "H2")]
#[case::bad_symbol(&["fetch", "EUR$USD", "H1"], "EUR$USD")]
#[case::bad_time(&["collect", "--from", "yesterday"], "yesterday")]
#[case::unknown_source(&["collect", "--source", "nowhere"], "nowhere")]
#[case::unknown_source_in_a_list(&["collect", "--source", "yahoo,nowhere"], "unknown source")]
#[case::bridge_without_url(&["collect", "--source", "mt5_bridge,yahoo"], "set [sources.mt5_bridge] url")]
fn usage_errors_exit_2_and_name_the_culprit(#[case] args: &[&str], #[case] culprit: &str) {
    let s = Scratch::new();
    s.write("x.csv", &format!("{HEADER}{GOOD}"));
    let out = s.axia(args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(culprit), "{}", stderr(&out));
}

#[test]
fn a_bad_configuration_value_exits_2() {
    let s = Scratch::new();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_axia"));
    let out =
        cmd.args(["data", "list"]).current_dir(s.path()).env("AXIA_COLLECTOR__CONCURRENCY", "many").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).to_lowercase().contains("collector.concurrency"), "{}", stderr(&out));
}
