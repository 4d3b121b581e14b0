//! `axia init`, `axia collect`, `axia fetch` and `axia data verify` with the history tier on S3,
//! against the local AWS server of the test command (`AXIA_TEST_AWS_ENDPOINT`, started by
//! `scripts/test.sh`): the Hive layout read back by pyarrow over S3, manifest md5s against the
//! objects, a damaged object named by `verify`, and clear errors for a missing bucket, a missing
//! bucket setting, an unreachable endpoint and missing credentials.
//!
//! Every test works in its own bucket `axia-test-<hex>`.

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axia_adapters::object_store::{S3ObjectStore, S3Settings};
use axia_domain::ports::{ObjectStore, PutMode};
use serde_json::Value;

use crate::support::{Scratch, md5_hex, python, stderr};

fn endpoint() -> String {
    std::env::var("AXIA_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "AXIA_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the local AWS \
             server (scripts/aws-server.sh start) and sets it with the AWS_* test credentials"
        )
    })
}

/// A bucket name no other test uses.
fn unique_bucket() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let seed = format!("{}-{nanos}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    format!("axia-test-{}", md5_hex(seed.as_bytes()))
}

/// The test credentials of the local server, set explicitly so nothing can reach real AWS.
const AWS_TEST_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// The environment that puts the history tier in `bucket` under `prefix`.
fn s3_env(bucket: &str, prefix: &str, endpoint: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AXIA_STORAGE__BACKEND", "s3"),
        ("AXIA_STORAGE__S3_BUCKET", bucket),
        ("AXIA_STORAGE__S3_PREFIX", prefix),
        ("AXIA_AWS__ENDPOINT_URL", endpoint),
    ]
    .iter()
    .chain(AWS_TEST_ENV.iter())
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env.sort();
    env
}

/// Runs `axia args…` in the scratch directory with only `env` among the `AXIA_*` variables,
/// and without the variables named in `unset`.
fn axia(s: &Scratch, args: &[&str], env: &[(String, String)], unset: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_axia"));
    cmd.args(args).current_dir(s.path()).env("AXIA_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("AXIA_") && k != "AXIA_LOG" {
            cmd.env_remove(k);
        }
    }
    for name in unset {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.output().expect("run axia")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(s: &Scratch, args: &[&str], env: &[(String, String)]) -> String {
    let out = axia(s, args, env, &[]);
    assert!(out.status.success(), "axia {args:?} failed: {}\n{}\n{}", out.status, stdout(&out), stderr(&out));
    stdout(&out)
}

/// The bucket as the test sees it (a store over the whole bucket).
fn bucket_store(bucket: &str) -> Arc<dyn ObjectStore> {
    let settings =
        S3Settings { region: Some("us-east-1".into()), endpoint_url: Some(endpoint()), ..S3Settings::new(bucket) };
    Arc::new(block_on(S3ObjectStore::new(settings)).expect("S3 store"))
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

/// Reads one series from S3 with pyarrow (Hive partitioning over `pyarrow.fs.S3FileSystem`) and
/// prints it as `axia fetch --format csv` does.
const PYARROW_S3_CSV: &str = r#"
import sys
from datetime import datetime, timezone
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

endpoint, base = sys.argv[1], sys.argv[2]
scheme, host = endpoint.split("://", 1)
fs = pafs.S3FileSystem(endpoint_override=host, scheme=scheme, access_key="test", secret_key="test",
                       region="us-east-1")
table = ds.dataset(base, filesystem=fs, format="parquet", partitioning="hive").to_table().sort_by("open_time")
ms = pc.cast(pc.cast(table["open_time"], pa.timestamp("ms", tz="UTC")), pa.int64()).to_pylist()
cols = [table[c].to_pylist() for c in ("open", "high", "low", "close", "volume")]
out = sys.stdout
out.write("open_time_utc,open,high,low,close,volume\n")
for t, o, h, l, c, v in zip(ms, *cols):
    t = datetime.fromtimestamp(t / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.write(f"{t},{float(o)!r},{float(h)!r},{float(l)!r},{float(c)!r},{int(v)}\n")
"#;

fn pyarrow_csv(base: &str) -> String {
    let out = Command::new(python()).arg("-c").arg(PYARROW_S3_CSV).arg(endpoint()).arg(base).output().expect("python");
    assert!(out.status.success(), "pyarrow over S3 failed on {base}:\n{}", stderr(&out));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn init_collect_fetch_and_verify_on_s3() {
    let s = Scratch::new();
    let bucket = unique_bucket();
    let prefix = "axia/history";
    let env = s3_env(&bucket, prefix, &endpoint());

    let first_line = |out: String| out.lines().next().unwrap_or_default().to_owned();
    assert_eq!(first_line(ok(&s, &["init"], &env)), format!("history: s3://{bucket} created"));
    assert_eq!(first_line(ok(&s, &["init"], &env)), format!("history: s3://{bucket} already existed"));
    let init: Value = serde_json::from_str(ok(&s, &["init", "--json"], &env).trim()).expect("init JSON");
    assert_eq!(init["steps"][0]["outcome"], "already_existed", "{init}");

    let summary = ok(&s, &["collect", "--symbols", "EURUSD,USDJPY", "--timeframes", "H1,D1", "--json"], &env);
    let summary: Value = serde_json::from_str(summary.trim()).expect("summary JSON");
    assert_eq!((summary["counts"]["tasks"].as_u64(), summary["counts"]["failed"].as_u64()), (Some(4), Some(0)));
    // Locally only the embedded state store and order queue that `init` created (`[state]` and
    // `[queue]` are SQLite by default).
    let local: Vec<String> = s
        .data()
        .read_dir()
        .map(|d| d.map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(
        local.iter().all(|name| name.starts_with("state.db") || name.starts_with("queue.db")),
        "bars were written locally: {local:?}"
    );

    // The Hive layout under the prefix, and a manifest whose md5s are the objects'.
    let store = bucket_store(&bucket);
    let listed = block_on(store.list(&format!("{prefix}/"))).expect("list the bucket");
    let objects: Vec<&str> = listed.iter().map(|m| m.key.as_str()).filter(|k| k.ends_with(".parquet")).collect();
    assert!(!objects.is_empty());
    for key in &objects {
        let relative = key.strip_prefix(&format!("{prefix}/")).expect("under the prefix");
        let hive = relative.starts_with("ohlcv/symbol=EURUSD/timeframe=")
            || relative.starts_with("ohlcv/symbol=USDJPY/timeframe=");
        let period = relative.contains("/timeframe=H1/month=") || relative.contains("/timeframe=D1/year=");
        assert!(hive && period && relative.ends_with("/data.parquet"), "{key}");
    }
    let manifest: Value =
        serde_json::from_slice(&block_on(store.get(&format!("{prefix}/manifest.json"))).expect("manifest").0)
            .expect("manifest JSON");
    let entries = manifest["objects"].as_object().expect("objects");
    assert_eq!(entries.len(), objects.len(), "one entry per object");
    for (relative, entry) in entries {
        let (bytes, _) = block_on(store.get(&format!("{prefix}/{relative}"))).expect("object");
        assert_eq!(entry["md5"].as_str(), Some(md5_hex(&bytes).as_str()), "{relative}");
        assert_eq!(entry["size"].as_u64(), Some(bytes.len() as u64), "{relative}");
    }

    // pyarrow reads the same bars from S3 as `axia fetch` prints.
    for (symbol, tf) in [("EURUSD", "H1"), ("USDJPY", "H1"), ("EURUSD", "D1"), ("USDJPY", "D1")] {
        let ours = ok(&s, &["fetch", symbol, tf, "--format", "csv"], &env);
        assert!(ours.lines().count() > 1, "{symbol} {tf}: no bars");
        let theirs = pyarrow_csv(&format!("{bucket}/{prefix}/ohlcv/symbol={symbol}/timeframe={tf}"));
        assert_eq!(theirs, ours, "pyarrow reads {symbol} {tf} differently");
    }

    // verify passes, with the date check of the last collected day.
    let verified = ok(&s, &["data", "verify"], &env);
    assert!(verified.trim().starts_with(&format!("OK s3://{bucket}/{prefix}:")), "{verified}");
    let report: Value =
        serde_json::from_str(ok(&s, &["data", "verify", "--date", "2025-08-27", "--json"], &env).trim()).expect("JSON");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        (report["date"]["series"].as_u64(), report["date"]["with_bars"].as_u64()),
        (Some(4), Some(4)),
        "{report}"
    );
    assert_eq!(report["downloads"], 4, "a mid-month, mid-year date is looked up in the objects: {report}");

    // One object overwritten with garbage: exit 1, one line naming it.
    let damaged = objects.iter().find(|k| k.contains("symbol=USDJPY/timeframe=H1/")).expect("a USDJPY H1 object");
    block_on(store.put(damaged, b"garbage, not parquet".to_vec(), PutMode::Overwrite)).expect("damage it");
    let out = axia(&s, &["data", "verify"], &env, &[]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let problems: Vec<&str> = text.lines().filter(|l| l.starts_with("s3://")).collect();
    assert_eq!(problems.len(), 1, "{text}");
    assert!(problems[0].starts_with(&format!("s3://{bucket}/{damaged}: size ")), "{text}");
    assert!(stderr(&out).contains("1 problem(s)"), "{}", stderr(&out));

    // --repair does not list a corrupt object: still exit 1, the object named as corrupt.
    let out = axia(&s, &["data", "verify", "--repair", "--json"], &env, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(report["problems"][0]["url"], format!("s3://{bucket}/{damaged}"), "{report}");
    assert_eq!(report["problems"][0]["problem"], "corrupt", "{report}");
    assert_eq!(report["repaired"].as_array().map(Vec::len), Some(0), "{report}");
}

#[test]
fn a_missing_bucket_is_a_clear_error_naming_it() {
    let s = Scratch::new();
    let bucket = unique_bucket();
    let env = s3_env(&bucket, "", &endpoint());
    for args in [&["collect", "--symbols", "EURUSD", "--timeframes", "H1"][..], &["data", "verify"][..]] {
        let out = axia(&s, args, &env, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            all.contains(&format!("bucket {bucket} does not exist")) && all.contains("axia init"),
            "{args:?}: {all}"
        );
    }
}

#[test]
fn s3_without_a_bucket_is_a_usage_error_naming_the_setting() {
    let s = Scratch::new();
    let env: Vec<(String, String)> = vec![("AXIA_STORAGE__BACKEND".into(), "s3".into())];
    let out = axia(&s, &["collect"], &env, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("AXIA_STORAGE__S3_BUCKET"), "{}", stderr(&out));
}

#[test]
fn init_names_what_to_check_when_s3_cannot_be_used() {
    let s = Scratch::new();
    let bucket = unique_bucket();
    let unreachable = "http://127.0.0.1:1";
    let out = axia(&s, &["init"], &s3_env(&bucket, "", unreachable), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(unreachable) && err.contains("check the endpoint URL"), "{err}");

    // No credentials anywhere in the default chain.
    let mut env = s3_env(&bucket, "", &endpoint());
    env.retain(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SHARED_CREDENTIALS_FILE".into(), s.path().join("no-credentials").display().to_string()));
    env.push(("AWS_CONFIG_FILE".into(), s.path().join("no-config").display().to_string()));
    let unset = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ];
    let out = axia(&s, &["init"], &env, &unset);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no AWS credentials") && err.contains("AWS_ACCESS_KEY_ID"), "{err}");
}
