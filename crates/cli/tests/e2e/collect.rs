//! `axia collect` on the embedded defaults: offline, Parquet + manifest, idempotent.

use serde_json::Value;

use crate::support::{Scratch, md5_hex, run_python, snapshot};

#[test]
fn collect_in_an_empty_directory_writes_parquet_and_a_matching_manifest_and_is_idempotent() {
    let s = Scratch::new();
    let out = s.ok(&["collect", "--json"]);
    let summary: Value = serde_json::from_str(out.trim()).expect("summary JSON");
    assert_eq!(summary["counts"]["tasks"], 45, "{summary}");
    assert_eq!(summary["counts"]["failed"], 0, "{summary}");
    assert_eq!(summary["synthetic"], true);

    let data = s.data();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(data.join("manifest.json")).expect("manifest")).unwrap();
    let objects = manifest["objects"].as_object().expect("objects");
    let files = snapshot(&data);
    let parquet: Vec<&String> = files.keys().filter(|k| k.ends_with(".parquet")).collect();
    assert!(parquet.len() >= 45, "{} parquet objects", parquet.len());
    assert_eq!(objects.len(), parquet.len(), "every object is in the manifest and nothing else");
    for (key, entry) in objects {
        let bytes = std::fs::read(data.join(key)).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(entry["md5"].as_str(), Some(md5_hex(&bytes).as_str()), "{key}");
        assert_eq!(entry["size"].as_u64(), Some(bytes.len() as u64), "{key}");
        assert!(key.starts_with("ohlcv/symbol="), "{key}");
    }

    let again = s.ok(&["collect", "--json"]);
    let second: Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(second["written"]["inserted"], 0, "{second}");
    assert_eq!(second["written"]["updated"], 0, "{second}");
    assert_eq!(snapshot(&data), files, "a second run changed stored files");
}

#[test]
fn other_readers_see_the_same_bars() {
    let s = Scratch::new();
    s.ok(&["collect", "--symbols", "EURUSD,USDJPY", "--timeframes", "M5,H4,D1", "--json"]);
    for (sym, tf) in [("EURUSD", "M5"), ("USDJPY", "H4"), ("EURUSD", "D1")] {
        let ours = s.ok(&["fetch", sym, tf, "--format", "csv"]);
        for reader in ["pyarrow", "duckdb"] {
            let theirs = run_python("parquet_to_csv.py", &["--reader", reader, s.data().to_str().unwrap(), sym, tf]);
            assert_eq!(theirs, ours, "{reader} reads {sym} {tf} differently");
        }
    }
    run_python("check_parquet.py", &[s.data().to_str().unwrap()]);
}

#[test]
fn incremental_collect_of_the_sample_source_stops_at_its_end_and_backfill_is_explicit() {
    let s = Scratch::new();
    let first = s.ok(&["collect", "--source", "sample", "--symbols", "EURUSD", "--timeframes", "H1", "--json"]);
    let first: Value = serde_json::from_str(first.trim()).unwrap();
    assert_eq!(first["counts"]["stored"], 1, "{first}");
    let csv = s.ok(&["fetch", "EURUSD", "H1", "--format", "csv"]);
    let last = csv.lines().last().unwrap();
    assert!(last.starts_with("2018-02-07T15:00:00Z,"), "{last}");
    let rows_before = csv.lines().count();
    s.ok(&[
        "collect",
        "--source",
        "sample",
        "--symbols",
        "EURUSD",
        "--timeframes",
        "H1",
        "--from",
        "2017-04-01",
        "--to",
        "2018-03-01",
        "--json",
    ]);
    let all = s.ok(&["fetch", "EURUSD", "H1", "--format", "csv"]);
    assert!(all.lines().count() > rows_before);
    assert_eq!(all.lines().count(), 5001, "header + the 5,000 sample bars");
}
