//! `axia config show` and `axia config check`: secrets never printed; every configured endpoint
//! tried and named, on the embedded defaults and against the local AWS server of the test
//! command (`AXIA_TEST_AWS_ENDPOINT`, its own bucket, table, queues and topic) and the real Redis
//! (`AXIA_TEST_REDIS_URL`); an unreachable Redis fails the check (exit 1) naming it.

use axia_adapters::csv_import::SourceTz;
use axia_tests::fake_mt5_bridge::FakeMt5Bridge;
use axia_tests::fake_yahoo::FakeYahoo;
use axia_tests::redis_raw::test_redis_url;
use serde_json::Value;

use crate::support::{Scratch, json, stderr, unique};

/// The local AWS server of the test command.
fn aws_endpoint() -> String {
    std::env::var("AXIA_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "AXIA_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the local AWS \
             server (scripts/aws-server.sh start) and sets it with the AWS_* test credentials"
        )
    })
}

/// `axia config check --json`: `(exit code, checks by name, overall ok)`.
fn check(scratch: &Scratch, env: &[(&str, &str)]) -> (i32, Vec<Value>, bool, String) {
    let out = scratch.axia_env(&["config", "check", "--json"], env);
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8");
    let doc = json(&stdout);
    let checks = doc["checks"].as_array().unwrap_or_else(|| panic!("no checks: {stdout}")).clone();
    for c in &checks {
        for field in ["name", "target", "ok", "error", "hint"] {
            assert!(c.get(field).is_some(), "{field} missing in {c}");
        }
    }
    (out.status.code().unwrap_or(-1), checks, doc["ok"] == true, stderr(&out))
}

fn named<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
}

#[test]
fn show_prints_the_effective_configuration_without_any_secret() {
    let s = Scratch::new();
    let secrets = [
        ("AXIA_REDIS__URL", "redis://127.0.0.1:6379/0"),
        ("AXIA_REDIS__PASSWORD", "s3cr3t-value"),
        ("AXIA_SOURCES__MT5_BRIDGE__URL", "http://127.0.0.1:8787"),
        ("AXIA_SOURCES__MT5_BRIDGE__TOKEN", "tok-value"),
        ("AXIA_COLLECTOR__CONCURRENCY", "7"),
    ];
    let toml_text = s.ok_env(&["config", "show"], &secrets);
    let json_text = s.ok_env(&["config", "show", "--json"], &secrets);
    for text in [&toml_text, &json_text] {
        assert!(!text.contains("s3cr3t-value") && !text.contains("tok-value"), "a secret leaked:\n{text}");
    }
    let parsed: toml::Value = toml::from_str(&toml_text).expect("show prints TOML");
    assert_eq!(parsed["collector"]["concurrency"].as_integer(), Some(7), "env overrides are shown");
    assert_eq!(parsed["redis"]["password"].as_str(), Some("***"));
    assert_eq!(parsed["sources"]["mt5_bridge"]["token"].as_str(), Some("***"));
    let doc = json(&json_text);
    assert_eq!(doc["redis"]["password"], "***");
    assert_eq!(doc["sources"]["mt5_bridge"]["token"], "***");
    assert_eq!(doc["storage"]["backend"], "local", "defaults are shown");

    let in_url = [("AXIA_REDIS__URL", "redis://:pw-value@127.0.0.1:6379/0")];
    for args in [&["config", "show"][..], &["config", "show", "--json"]] {
        let text = s.ok_env(args, &in_url);
        assert!(!text.contains("pw-value"), "the URL's password leaked:\n{text}");
        assert!(text.contains("redis://***@127.0.0.1:6379/0"), "{text}");
    }
}

#[test]
fn check_on_the_embedded_defaults_passes_after_init() {
    let s = Scratch::new();
    let (code, checks, ok, _) = check(&s, &[]);
    assert_eq!((code, ok), (1, false), "nothing set up yet: {checks:?}");
    for name in ["history", "state", "queue"] {
        let c = named(&checks, name);
        assert_eq!(c["ok"], false, "{c}");
        assert!(c["error"].as_str().unwrap_or_default().contains("axia init"), "{c}");
        assert!(c["hint"].as_str().is_some_and(|h| !h.is_empty()), "{c}");
    }

    s.ok(&["init"]);
    let (code, checks, ok, err) = check(&s, &[]);
    assert_eq!((code, ok), (0, true), "{checks:?}\n{err}");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["history", "redis", "state", "queue", "events", "source:synthetic", "broker"]);
    assert!(named(&checks, "history")["target"].as_str().unwrap_or_default().ends_with("axia-data"));
    assert!(named(&checks, "state")["target"].as_str().unwrap_or_default().ends_with("state.db"));
    assert!(named(&checks, "queue")["target"].as_str().unwrap_or_default().ends_with("queue.db"));
    assert_eq!(named(&checks, "events")["target"], "log");
    assert!(checks.iter().all(|c| c["error"].is_null() && c["hint"].is_null()), "{checks:?}");
}

#[test]
fn check_against_the_local_servers_names_each_endpoint_and_an_unreachable_redis() {
    let endpoint = aws_endpoint();
    let redis = test_redis_url();
    let (bucket, table, queue, topic) =
        (unique("axia-cfg-").to_lowercase(), unique("axia-cfg-"), unique("axia-cfg-q"), unique("axia-cfg-t"));
    let bucket: String = bucket.chars().take(63).collect();
    let env = [
        ("AXIA_STORAGE__BACKEND", "s3"),
        ("AXIA_STORAGE__S3_BUCKET", bucket.as_str()),
        ("AXIA_STATE__BACKEND", "dynamodb"),
        ("AXIA_STATE__DYNAMODB_TABLE", table.as_str()),
        ("AXIA_QUEUE__BACKEND", "sqs"),
        ("AXIA_QUEUE__SQS_QUEUE_NAME", queue.as_str()),
        ("AXIA_EVENTS__BACKEND", "sns"),
        ("AXIA_EVENTS__SNS_TOPIC_NAME", topic.as_str()),
        ("AXIA_AWS__ENDPOINT_URL", endpoint.as_str()),
        ("AXIA_REDIS__URL", redis.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let s = Scratch::new();

    // Nothing created yet: each AWS resource is reported missing, with what to check.
    let (code, checks, ok, _) = check(&s, &env);
    assert_eq!((code, ok), (1, false), "{checks:?}");
    for (name, resource, section) in [
        ("history", &bucket, "[storage]"),
        ("state", &table, "[state]"),
        ("queue", &queue, "[queue]"),
        ("events", &topic, "[events]"),
    ] {
        let c = named(&checks, name);
        assert_eq!(c["ok"], false, "{c}");
        let error = c["error"].as_str().unwrap_or_default();
        assert!(error.contains(resource.as_str()), "{name} must name {resource}: {c}");
        assert!(c["hint"].as_str().unwrap_or_default().contains(section), "{c}");
    }
    assert_eq!(named(&checks, "redis")["ok"], true, "{checks:?}");

    s.ok_env(&["init"], &env);
    let (code, checks, ok, err) = check(&s, &env);
    assert_eq!((code, ok), (0, true), "{checks:?}\n{err}");
    let target = |name: &str| named(&checks, name)["target"].as_str().unwrap_or_default().to_owned();
    assert_eq!(target("history"), format!("s3://{bucket}"));
    assert_eq!(target("state"), format!("dynamodb://{table}"));
    assert_eq!(target("queue"), format!("sqs://{queue} + sqs://{queue}-dlq"));
    assert_eq!(target("events"), format!("sns://{topic}"));
    assert_eq!(target("redis"), redis);

    let mut unreachable = env.to_vec();
    unreachable.retain(|(k, _)| *k != "AXIA_REDIS__URL");
    unreachable.push(("AXIA_REDIS__URL", "redis://127.0.0.1:1/0"));
    let (code, checks, ok, err) = check(&s, &unreachable);
    assert_eq!((code, ok), (1, false), "{checks:?}");
    let c = named(&checks, "redis");
    assert_eq!((c["ok"].clone(), c["target"].clone()), (Value::Bool(false), Value::from("redis://127.0.0.1:1/0")));
    assert!(c["error"].as_str().unwrap_or_default().contains("127.0.0.1:1"), "{c}");
    assert!(c["hint"].as_str().unwrap_or_default().contains("[redis] url"), "{c}");
    assert!(checks.iter().filter(|c| c["name"] != "redis").all(|c| c["ok"] == true), "{checks:?}");
    assert!(err.contains("redis"), "stderr names Redis: {err}");
}

#[test]
fn check_tries_each_source_and_the_bridge_broker() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let tz: SourceTz = "+03:00".parse().expect("offset");
    let (yahoo, bridge) =
        rt.block_on(async { (FakeYahoo::start().await, FakeMt5Bridge::start("bridge-token", tz).await) });
    let yahoo_url = yahoo.base_url();
    let mut env = vec![
        ("AXIA_COLLECTOR__SOURCE", "mt5_bridge,yahoo"),
        ("AXIA_SOURCES__YAHOO__BASE_URL", yahoo_url.as_str()),
        ("AXIA_SOURCES__MT5_BRIDGE__URL", bridge.url()),
        ("AXIA_SOURCES__MT5_BRIDGE__TOKEN", "bridge-token"),
        ("AXIA_SOURCES__MT5_BRIDGE__SERVER_TZ", "+03:00"),
        ("AXIA_BROKER__BACKEND", "mt5_bridge"),
    ];
    let s = Scratch::new();
    s.ok_env(&["init"], &env);
    let (code, checks, ok, err) = check(&s, &env);
    assert_eq!((code, ok), (0, true), "{checks:?}\n{err}");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["history", "redis", "state", "queue", "events", "source:mt5_bridge", "source:yahoo", "broker"]);
    assert_eq!(named(&checks, "source:yahoo")["target"], yahoo_url.as_str());
    assert_eq!(named(&checks, "source:mt5_bridge")["target"], bridge.url());
    assert_eq!(named(&checks, "broker")["target"], bridge.url());

    bridge.set_connected(false);
    let (code, checks, _, _) = check(&s, &env);
    assert_eq!(code, 1, "{checks:?}");
    for name in ["source:mt5_bridge", "broker"] {
        let c = named(&checks, name);
        assert!(c["error"].as_str().unwrap_or_default().contains("not connected"), "{c}");
        assert!(c["hint"].as_str().unwrap_or_default().contains("[sources.mt5_bridge]"), "{c}");
    }
    bridge.set_connected(true);

    env.retain(|(k, _)| *k != "AXIA_SOURCES__YAHOO__BASE_URL");
    env.push(("AXIA_SOURCES__YAHOO__BASE_URL", "http://127.0.0.1:1"));
    let (code, checks, _, _) = check(&s, &env);
    assert_eq!(code, 1, "{checks:?}");
    let c = named(&checks, "source:yahoo");
    assert_eq!(c["ok"], false, "{c}");
    assert!(c["error"].as_str().unwrap_or_default().contains("http://127.0.0.1:1"), "{c}");
    assert!(c["hint"].as_str().unwrap_or_default().contains("[sources.yahoo] base_url"), "{c}");
    assert_eq!(named(&checks, "source:mt5_bridge")["ok"], true, "{checks:?}");
}
