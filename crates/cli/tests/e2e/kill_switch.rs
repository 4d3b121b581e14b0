//! `axia init` and `axia kill-switch …` on the embedded SQLite store, with the Redis mirror of
//! the test command's redis-server (`AXIA_TEST_REDIS_URL`, its own key prefix per test) and an
//! unreachable one, and on DynamoDB against the local AWS server of the test command
//! (`AXIA_TEST_AWS_ENDPOINT`, its own table per test).

use std::process::Output;

use axia_tests::redis_raw::{RawRedis, test_redis_url};
use serde_json::Value;

use crate::support::{Scratch, json, stderr, unique};

/// Runs `axia args…` with `env`, asserts success and parses stdout as JSON.
fn ok_json(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Value {
    json(&s.ok_env(args, env))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// init; halt → halted v2; status; resume → active v3; history lists all three changes.
fn halt_status_resume_history(s: &Scratch, env: &[(&str, &str)]) {
    let halted = ok_json(s, &["kill-switch", "halt", "--reason", "drawdown 5 %", "--by", "alice", "--json"], env);
    assert_eq!(halted["state"], "halted", "{halted}");
    assert_eq!(halted["previous"], "active", "{halted}");
    assert_eq!(halted["version"], 2, "{halted}");

    let status = ok_json(s, &["kill-switch", "status", "--json"], env);
    assert_eq!(status["state"], "halted", "{status}");
    assert_eq!(status["version"], 2, "{status}");
    assert_eq!(status["reason"], "drawdown 5 %", "{status}");
    assert_eq!(status["changed_by"], "alice", "{status}");
    assert_eq!(status["fail_closed"], false, "{status}");
    assert!(status["changed_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{status}");

    let resumed = ok_json(s, &["kill-switch", "resume", "--reason", "recovered"], env);
    assert_eq!((resumed["state"].as_str(), resumed["version"].as_u64()), (Some("active"), Some(3)), "{resumed}");
    let status = ok_json(s, &["kill-switch", "status"], env);
    assert_eq!((status["state"].as_str(), status["version"].as_u64()), (Some("active"), Some(3)), "{status}");
    let by = status["changed_by"].as_str().expect("changed_by");
    assert!(!by.is_empty() && by != "alice", "the default operator: {status}");

    let history = ok_json(s, &["kill-switch", "history", "--json"], env);
    let rows = history.as_array().expect("history rows");
    let summary: Vec<(u64, &str, &str)> = rows
        .iter()
        .map(|r| (r["version"].as_u64().unwrap(), r["previous"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [(3, "halted", "active"), (2, "active", "halted"), (1, "halted", "active")], "{history}");
    assert_eq!(rows[1]["reason"], "drawdown 5 %");
    assert_eq!(rows[1]["changed_by"], "alice");
    assert_eq!(rows[0]["reason"], "recovered");
    let limited = ok_json(s, &["kill-switch", "history", "--limit", "1", "--json"], env);
    assert_eq!(limited.as_array().map(Vec::len), Some(1), "{limited}");
}

#[test]
fn kill_switch_on_sqlite_init_halt_status_resume_history() {
    let s = Scratch::new();
    let init = ok_json(&s, &["init", "--json"], &[]);
    assert_eq!(init["ok"], true, "{init}");
    let steps = init["steps"].as_array().expect("steps");
    assert_eq!(
        steps.iter().map(|st| st["step"].as_str().unwrap()).collect::<Vec<_>>(),
        ["history", "state", "kill_switch", "queue", "dead_letter_queue", "events"]
    );
    let db = s.data().join("state.db").canonicalize().expect("state.db created in the data directory");
    assert_eq!(steps[1]["resource"], format!("sqlite://{}", db.display()), "{init}");
    assert_eq!(steps[1]["outcome"], "created", "{init}");
    assert_eq!((steps[2]["outcome"].as_str(), steps[2]["state"].as_str()), (Some("created"), Some("active")));
    assert_eq!(steps[2]["version"], 1, "{init}");

    let again = s.ok(&["init"]);
    assert!(again.contains("kill_switch: ") && again.contains("already existed (active, version 1)"), "{again}");
    assert!(again.contains("nothing to do"), "{again}");
    let again = ok_json(&s, &["init", "--json"], &[]);
    // The log publisher (the embedded events default) has nothing to create: `not_needed`.
    assert!(again["steps"].as_array().unwrap().iter().all(|st| st["outcome"] != "created"), "{again}");
    assert_eq!(again["steps"][5]["outcome"], "not_needed", "{again}");

    halt_status_resume_history(&s, &[]);

    let reduced = ok_json(&s, &["kill-switch", "reduce-only", "--reason", "news at 14:30"], &[]);
    assert_eq!((reduced["state"].as_str(), reduced["version"].as_u64()), (Some("reduce_only"), Some(4)));
    // A later init leaves the state alone.
    let init = ok_json(&s, &["init", "--json"], &[]);
    assert_eq!(
        (init["steps"][2]["state"].as_str(), init["steps"][2]["version"].as_u64()),
        (Some("reduce_only"), Some(4))
    );
}

#[test]
fn kill_switch_change_needs_a_reason() {
    let s = Scratch::new();
    s.ok(&["init"]);
    for command in ["halt", "reduce-only", "resume"] {
        let out = s.axia(&["kill-switch", command]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(stderr(&out).contains("--reason"), "{}", stderr(&out));
    }
    let out = s.axia(&["kill-switch", "halt", "--reason", "   "]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("reason"), "{}", stderr(&out));
    let out = s.axia(&["kill-switch", "halt", "--reason", "x", "--by", ""]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let status = ok_json(&s, &["kill-switch", "status"], &[]);
    assert_eq!((status["state"].as_str(), status["version"].as_u64()), (Some("active"), Some(1)), "nothing changed");
}

#[test]
fn kill_switch_before_init_is_halted_fail_closed_naming_axia_init() {
    let s = Scratch::new();
    // Even with the data directory present (a collect ran), no state store exists yet.
    std::fs::create_dir_all(s.data()).unwrap();
    let out = s.axia(&["kill-switch", "status", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let status = json(&stdout(&out));
    assert_eq!(status["state"], "halted", "{status}");
    assert_eq!(status["fail_closed"], true, "{status}");
    assert_eq!(status["version"], 0, "{status}");
    assert!(stderr(&out).contains("axia init"), "{}", stderr(&out));
    assert!(!s.data().join("state.db").exists(), "status must not create the store");

    let out = s.axia(&["kill-switch", "halt", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("axia init"), "{}", stderr(&out));
}

#[test]
fn kill_switch_on_a_corrupt_store_is_halted_and_init_does_not_overwrite_it() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.data()).unwrap();
    let junk = vec![b'x'; 4096];
    std::fs::write(s.data().join("state.db"), &junk).unwrap();
    let out = s.axia(&["kill-switch", "status", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let status = json(&stdout(&out));
    assert_eq!((status["state"].as_str(), status["fail_closed"].as_bool()), (Some("halted"), Some(true)), "{status}");
    assert!(status["reason"].as_str().unwrap().contains("corrupt"), "{status}");
    let out = s.axia(&["init"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read(s.data().join("state.db")).unwrap(), junk, "init overwrote a corrupt store");
}

struct RedisCleanup(String);

impl Drop for RedisCleanup {
    fn drop(&mut self) {
        RawRedis::connect(&test_redis_url()).delete_prefix(&self.0);
    }
}

#[test]
fn kill_switch_changes_are_mirrored_to_redis_system_status() {
    let s = Scratch::new();
    let prefix = unique("e2eks");
    let prefix = format!("{prefix}:");
    let _cleanup = RedisCleanup(prefix.clone());
    let url = test_redis_url();
    let env = [("AXIA_REDIS__URL", url.as_str()), ("AXIA_REDIS__KEY_PREFIX", prefix.as_str())];
    s.ok_env(&["init"], &env);
    let key = format!("{prefix}system:status");
    let mut redis = RawRedis::connect(&url);
    assert_eq!(redis.text(&["HGET", &key, "state"]).as_deref(), Some("active"), "init mirrors the first state");

    let halted = ok_json(&s, &["kill-switch", "halt", "--reason", "broker outage", "--by", "ops", "--json"], &env);
    assert_eq!(halted["mirror"]["status"], "mirrored", "{halted}");
    let field = |redis: &mut RawRedis, f: &str| redis.text(&["HGET", &key, f]);
    assert_eq!(field(&mut redis, "state").as_deref(), Some("halted"));
    assert_eq!(field(&mut redis, "version").as_deref(), Some("2"));
    assert_eq!(field(&mut redis, "reason").as_deref(), Some("broker outage"));
    assert_eq!(field(&mut redis, "changed_by").as_deref(), Some("ops"));
    assert_eq!(field(&mut redis, "updated_at").as_deref(), halted["changed_at"].as_str());

    // Without Redis configured, a change still stands; the next mirrored change catches up.
    s.ok(&["kill-switch", "resume", "--reason", "fixed"]);
    assert_eq!(field(&mut redis, "version").as_deref(), Some("2"));
    s.ok_env(&["kill-switch", "reduce-only", "--reason", "cautious"], &env);
    assert_eq!(field(&mut redis, "state").as_deref(), Some("reduce_only"));
    assert_eq!(field(&mut redis, "version").as_deref(), Some("4"));
}

#[test]
fn kill_switch_with_redis_unreachable_warns_and_the_change_stands() {
    let s = Scratch::new();
    s.ok(&["init"]);
    let env = [("AXIA_REDIS__URL", "redis://127.0.0.1:1/0"), ("AXIA_REDIS__CONNECT_TIMEOUT_MS", "300")];
    let out = s.axia_env(&["kill-switch", "halt", "--reason", "x", "--json"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let halted = json(&stdout(&out));
    assert_eq!(halted["mirror"]["status"], "failed", "{halted}");
    assert!(stderr(&out).contains("mirror") && stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
    let status = ok_json(&s, &["kill-switch", "status"], &env);
    assert_eq!((status["state"].as_str(), status["version"].as_u64()), (Some("halted"), Some(2)), "{status}");
}

/// The local AWS server of the test command.
fn aws_endpoint() -> String {
    std::env::var("AXIA_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "AXIA_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the local AWS \
             server (scripts/aws-server.sh start) and sets it with the AWS_* test credentials"
        )
    })
}

/// The environment that puts the state store in `table` on the local server, with its test
/// credentials set explicitly so nothing can reach real AWS.
fn dynamo_env(table: &str, endpoint: &str) -> Vec<(String, String)> {
    [
        ("AXIA_STATE__BACKEND", "dynamodb"),
        ("AXIA_STATE__DYNAMODB_TABLE", table),
        ("AXIA_AWS__ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn kill_switch_on_dynamodb_init_creates_the_table_once_then_halt_status_resume() {
    let s = Scratch::new();
    let table = unique("axia-e2e-");
    let env = dynamo_env(&table, &aws_endpoint());
    let env = pairs(&env);

    // Before init: no table, so the state is unreadable: Halted, exit 1, naming `axia init`.
    let out = s.axia_env(&["kill-switch", "status", "--json"], &env);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let status = json(&stdout(&out));
    assert_eq!((status["state"].as_str(), status["fail_closed"].as_bool()), (Some("halted"), Some(true)), "{status}");
    assert!(stderr(&out).contains("axia init"), "{}", stderr(&out));

    let init = ok_json(&s, &["init", "--json"], &env);
    let steps = init["steps"].as_array().expect("steps");
    assert_eq!(steps[1]["step"], "state", "{init}");
    assert_eq!(steps[1]["resource"], format!("dynamodb://{table}"), "{init}");
    assert_eq!(steps[1]["outcome"], "created", "{init}");
    assert_eq!(steps[1]["ttl"], "enabled", "{init}");
    assert_eq!((steps[2]["outcome"].as_str(), steps[2]["version"].as_u64()), (Some("created"), Some(1)), "{init}");

    let again = ok_json(&s, &["init", "--json"], &env);
    let steps = again["steps"].as_array().expect("steps");
    assert!(steps.iter().all(|st| st["outcome"] != "created"), "{again}");
    assert_eq!(steps[1]["ttl"], "already_enabled", "{again}");
    assert_eq!((steps[2]["state"].as_str(), steps[2]["version"].as_u64()), (Some("active"), Some(1)), "{again}");
    let text = s.ok_env(&["init"], &env);
    assert!(text.contains(&format!("state: dynamodb://{table} already existed (TTL already enabled)")), "{text}");

    halt_status_resume_history(&s, &env);
    assert!(!s.data().join("state.db").exists(), "the DynamoDB backend wrote a SQLite file");
}

#[test]
fn kill_switch_on_dynamodb_with_the_endpoint_unreachable_is_halted_and_collect_does_not_need_it() {
    let s = Scratch::new();
    let env = dynamo_env(&unique("axia-e2e-"), "http://127.0.0.1:1");
    let out = s.axia_env(&["kill-switch", "status", "--json"], &pairs(&env));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let status = json(&stdout(&out));
    assert_eq!((status["state"].as_str(), status["fail_closed"].as_bool()), (Some("halted"), Some(true)), "{status}");
    assert!(stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
    // Commands that do not need the state store never open it.
    s.ok_env(&["collect", "--symbols", "EURUSD", "--timeframes", "D1"], &pairs(&env));
}

#[test]
fn kill_switch_change_is_published_as_an_event() {
    let s = Scratch::new();
    s.ok(&["init", "--json"]);
    // The embedded events backend is the log: with -v its info line carries the event.
    let out = s.axia(&["-v", "kill-switch", "halt", "--reason", "event check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err.lines().find(|l| l.contains("kill_switch_changed")).unwrap_or_else(|| panic!("no event: {err}"));
    assert!(line.contains("event check") && line.contains("halted"), "{line}");
}
