//! Secrets never reach logs or output (SPEC §8): jobs run with secrets in the environment (the
//! Redis password, the MT5 bridge token, an AWS secret key, and a password inside the Redis URL
//! of an unreachable server, so that errors about it are logged), and neither stdout nor stderr
//! holds any of them. Under `--log-format json` every stderr line is a JSON object and the last
//! is the job's summary line (target `axia::summary`).

use std::process::Output;

use serde_json::Value;

use axia_tests::redis_raw::{RawRedis, test_redis_url};

use crate::support::{Scratch, stderr};

/// The secret values; none may appear in any output.
const SECRETS: [&str; 4] = ["pw-SECRET-1", "pw-SECRET-2", "tok-SECRET-3", "aws-SECRET-4"];

/// The secrets set in every run (the Redis URL one only where a Redis tier is wanted).
const SECRET_ENV: [(&str, &str); 3] = [
    ("AXIA_REDIS__PASSWORD", "pw-SECRET-2"),
    ("AXIA_SOURCES__MT5_BRIDGE__TOKEN", "tok-SECRET-3"),
    ("AWS_SECRET_ACCESS_KEY", "aws-SECRET-4"),
];

/// An unreachable Redis (nothing listens on port 1) with a password in its URL.
const SECRET_REDIS_URL: (&str, &str) = ("AXIA_REDIS__URL", "redis://:pw-SECRET-1@127.0.0.1:1/0");

/// Runs `axia args…` with the secrets and `extra` set; asserts that no secret is printed.
fn run(s: &Scratch, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let env: Vec<(&str, &str)> = SECRET_ENV.iter().chain(extra).copied().collect();
    run_env(s, args, &env)
}

/// Runs `axia args…` with `env` only; asserts that no secret is printed.
fn run_env(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = s.axia_env(args, env);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    for secret in SECRETS {
        assert!(!text.contains(secret), "axia {args:?} printed the secret {secret}:\n{text}");
    }
    out
}

/// Every stderr line as JSON; asserts there is at least one.
fn json_lines(args: &[&str], out: &Output) -> Vec<Value> {
    let err = stderr(out);
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("axia {args:?}: stderr line not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "axia {args:?} logged nothing");
    lines
}

/// Asserts the last stderr line is the one summary line of the job, at info level.
fn ends_with_summary(args: &[&str], out: &Output) -> Value {
    let lines = json_lines(args, out);
    let summaries = lines.iter().filter(|l| l["target"] == "axia::summary").count();
    assert_eq!(summaries, 1, "axia {args:?}: one summary line:\n{}", stderr(out));
    let last = lines.last().cloned().unwrap_or_default();
    assert_eq!((last["target"].as_str(), last["level"].as_str()), (Some("axia::summary"), Some("INFO")), "{last}");
    last
}

#[test]
fn secrets_never_reach_output_and_json_logs_end_with_the_summary() {
    let s = Scratch::new();
    let collect = ["--log-format", "json", "collect", "--symbols", "EURUSD", "--timeframes", "H1,M1"];
    let out = run(&s, &collect, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = ends_with_summary(&collect, &out);
    assert_eq!(summary["command"], "collect", "{summary}");

    let fetch = ["-vv", "fetch", "EURUSD", "H1", "--format", "csv"];
    let out = run(&s, &fetch, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("open_time_utc,"), "bars printed");

    let init = ["--log-format", "json", "init"];
    assert!(run(&s, &init, &[]).status.success());
    let submit = ["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1", "--client-order-id", "s-1"];
    let out = run(&s, &submit, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let orders = ["--log-format", "json", "orders", "run", "--until-idle"];
    let out = run(&s, &orders, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = ends_with_summary(&orders, &out);
    assert_eq!(summary["command"], "orders run", "{summary}");
}

#[test]
fn secrets_of_an_unreachable_redis_are_not_logged_with_its_errors() {
    let s = Scratch::new();
    let args = ["--log-format", "json", "-vv", "collect", "--symbols", "EURUSD", "--timeframes", "H1"];
    // A password in the URL and one by env: refused as a configuration error, naming neither.
    let out = run(&s, &args, &[SECRET_REDIS_URL]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    json_lines(&args, &out);
    // The URL's password alone: the collector runs, Redis errors are logged.
    let env = [SECRET_REDIS_URL, ("AXIA_REDIS__CONNECT_TIMEOUT_MS", "200"), SECRET_ENV[1], SECRET_ENV[2]];
    let out = run_env(&s, &args, &env);
    let lines = json_lines(&args, &out);
    assert!(
        lines.iter().any(|l| l.to_string().contains("127.0.0.1:1")),
        "the unreachable Redis is named in the logs:\n{}",
        stderr(&out)
    );
}

const BARS: &str = "open_time_utc,open,high,low,close,volume
2025-01-06T00:00:00Z,1.0300,1.0310,1.0295,1.0305,120
2025-01-06T01:00:00Z,1.0305,1.0309,1.03,1.0301,98
";

/// A job's arguments, environment and `command` field of its summary line.
type Job<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

/// Deletes the test's Redis keys at the end.
struct DeletePrefix(String);

impl Drop for DeletePrefix {
    fn drop(&mut self) {
        RawRedis::connect(&test_redis_url()).delete_prefix(&self.0);
    }
}

#[test]
fn every_job_ends_with_one_summary_line() {
    let s = Scratch::new();
    let file = s.write("bars.csv", BARS);
    let file = file.to_str().unwrap();
    let url = test_redis_url();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("e2e-summary{}x{nanos}:", std::process::id());
    let _cleanup = DeletePrefix(prefix.clone());
    // The test Redis has no password: only the other secrets are set with it.
    let redis =
        [("AXIA_REDIS__URL", url.as_str()), ("AXIA_REDIS__KEY_PREFIX", prefix.as_str()), SECRET_ENV[1], SECRET_ENV[2]];
    let jobs: [Job<'_>; 6] = [
        (&["data", "import", file, "--symbol", "EURUSD", "--timeframe", "H1"], &SECRET_ENV, "data import"),
        (&["data", "verify"], &SECRET_ENV, "data verify"),
        (&["data", "compact", "--older-than", "7d"], &SECRET_ENV, "data compact"),
        (&["data", "warmup"], &redis, "data warmup"),
        (&["fetch", "EURUSD", "H1", "--format", "csv"], &SECRET_ENV, "fetch"),
        (
            &["chart", "EURUSD", "H1", "--from", "2025-01-05", "--to", "2025-01-07", "-o", "chart.html"],
            &SECRET_ENV,
            "chart",
        ),
    ];
    for (job, env, command) in jobs {
        let args: Vec<&str> = ["--log-format", "json"].iter().chain(job).copied().collect();
        let out = run_env(&s, &args, env);
        assert!(out.status.success(), "axia {args:?}: {}", stderr(&out));
        let summary = ends_with_summary(&args, &out);
        assert_eq!(summary["command"], command, "{summary}");
    }
}
