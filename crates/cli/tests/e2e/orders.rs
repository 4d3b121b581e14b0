//! `axia orders submit | run | list | dead-letters` and `axia positions list`: on the embedded
//! defaults (SQLite queue and state, log events, paper broker), and with DynamoDB, SQS and SNS on
//! the local AWS server of the test command (`AXIA_TEST_AWS_ENDPOINT`, its own table, queues and
//! topic per test); SIGTERM in the middle of a run.
//!
//! # Prices
//! The paper broker fills at the newest stored M1 close and rejects an order when that bar
//! closed more than `max_price_age_secs` ago. The tests collect the deterministic synthetic
//! market with its history ending at the last full hour before now (so every run collects real
//! "recent" bars, whatever the date) and give the broker a 4-day age limit, so the last bar
//! before an FX weekend still prices an order placed on Sunday. Nothing here sleeps to wait for
//! a market or freezes the clock of the binary.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DurationRound, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::{Scratch, json, stderr, unique};

/// The environment of every test: a recent synthetic market and a broker that accepts it.
fn market_env() -> Vec<(String, String)> {
    let end = Utc::now().duration_trunc(TimeDelta::hours(1)).expect("truncate") - TimeDelta::hours(1);
    vec![
        ("AXIA_COLLECTOR__SYNTHETIC_END".into(), end.to_rfc3339()),
        ("AXIA_COLLECTOR__LOOKBACK_DAYS".into(), "4".into()),
        ("AXIA_COLLECTOR__SYMBOLS".into(), "[\"EURUSD\", \"USDJPY\"]".into()),
        ("AXIA_BROKER__PAPER__MAX_PRICE_AGE_SECS".into(), (4 * 86_400).to_string()),
    ]
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn ok_json(s: &Scratch, args: &[&str], env: &[(String, String)]) -> Value {
    json(&s.ok_env(args, &pairs(env)))
}

/// Collects M1 bars of the two symbols the tests trade.
fn collect(s: &Scratch, env: &[(String, String)]) {
    let summary = ok_json(s, &["collect", "--timeframes", "M1", "--json"], env);
    assert_eq!(
        (summary["counts"]["tasks"].as_u64(), summary["counts"]["failed"].as_u64()),
        (Some(2), Some(0)),
        "{summary}"
    );
}

/// One request line of the documented schema.
fn request(id: &str, symbol: &str, side: &str, qty: &str) -> String {
    format!(
        r#"{{"schema_version": 1, "client_order_id": "{id}", "symbol": "{symbol}", "side": "{side}", "type": "market", "quantity": "{qty}"}}"#
    )
}

/// Eight distinct orders: four EURUSD buys (one with SL/TP far from the market) and four USDJPY
/// sells; written to `orders.jsonl`. Returns their ids and the expected net size per symbol.
fn eight_orders(s: &Scratch, prefix: &str) -> (Vec<String>, BTreeMap<String, Decimal>) {
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    let mut size: BTreeMap<String, Decimal> = BTreeMap::new();
    for i in 0..8 {
        let id = format!("{prefix}-{i}");
        let (symbol, side) = if i < 4 { ("EURUSD", "buy") } else { ("USDJPY", "sell") };
        let qty = Decimal::from(1000 * (i + 1));
        let line = if i == 0 {
            request(&id, symbol, side, &qty.to_string())
                .replace("\"quantity\"", "\"stop_loss\": \"0.5\", \"take_profit\": \"5\", \"quantity\"")
        } else {
            request(&id, symbol, side, &qty.to_string())
        };
        lines.push(line);
        *size.entry(symbol.to_owned()).or_default() += qty;
        ids.push(id);
    }
    s.write("orders.jsonl", &format!("# eight orders\n{}\n", lines.join("\n")));
    (ids, size)
}

/// Submits the eight orders from the file, then the first one again by flags (the duplicate).
fn submit_eight_and_a_duplicate(s: &Scratch, env: &[(String, String)], ids: &[String]) {
    let sent = ok_json(s, &["orders", "submit", "--file", "orders.jsonl"], env);
    let sent_ids: Vec<&str> = sent["submitted"]
        .as_array()
        .expect("submitted")
        .iter()
        .map(|r| r["client_order_id"].as_str().unwrap())
        .collect();
    assert_eq!(sent_ids, ids, "{sent}");
    assert!(sent["submitted"][0]["message_id"].as_str().is_some_and(|m| !m.is_empty()), "{sent}");
    let dup = ok_json(
        s,
        &["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1000", "--client-order-id", &ids[0]],
        env,
    );
    assert_eq!(dup["submitted"][0]["client_order_id"], ids[0].as_str(), "{dup}");
}

fn orders(s: &Scratch, env: &[(String, String)]) -> Vec<Value> {
    ok_json(s, &["orders", "list", "--limit", "1000", "--json"], env).as_array().expect("orders").clone()
}

/// The eight orders are filled, each once; the positions hold exactly their quantities.
fn assert_eight_filled(s: &Scratch, env: &[(String, String)], ids: &[String], size: &BTreeMap<String, Decimal>) {
    let listed = orders(s, env);
    let filled: Vec<&Value> = listed.iter().filter(|o| o["status"] == "filled").collect();
    assert_eq!(filled.len(), 8, "{listed:#?}");
    let mut filled_ids: Vec<&str> = filled.iter().map(|o| o["client_order_id"].as_str().unwrap()).collect();
    filled_ids.sort_unstable();
    assert_eq!(filled_ids, ids, "exactly the eight ids, each once");
    for o in &filled {
        assert_eq!(o["filled_quantity"], o["quantity"], "{o}");
        let price: Decimal = o["average_fill_price"].as_str().expect("fill price").parse().unwrap();
        assert!(price > Decimal::ZERO, "{o}");
    }
    let positions = ok_json(s, &["positions", "list", "--json"], env);
    let positions = positions.as_array().expect("positions");
    assert_eq!(positions.len(), 2, "one position per symbol: {positions:#?}");
    for p in positions {
        let symbol = p["symbol"].as_str().unwrap();
        let held: Decimal = p["size"].as_str().unwrap().parse().unwrap();
        assert_eq!(held, size[symbol], "the duplicate did not execute again: {p}");
        assert_eq!(p["side"], if symbol == "EURUSD" { "buy" } else { "sell" }, "{p}");
        assert_eq!(p["status"], "OPEN", "{p}");
    }
}

/// Halted: one more order is recorded as rejected with the reason; positions do not change.
fn halt_then_reject(s: &Scratch, env: &[(String, String)], size: &BTreeMap<String, Decimal>) {
    let halted = ok_json(s, &["kill-switch", "halt", "--reason", "x", "--json"], env);
    assert_eq!(halted["state"], "halted", "{halted}");
    s.ok_env(
        &["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "5", "--client-order-id", "after-halt"],
        &pairs(env),
    );
    let run = ok_json(s, &["orders", "run", "--until-idle"], env);
    assert_eq!((run["received"].as_u64(), run["rejected"].as_u64()), (Some(1), Some(1)), "{run}");
    let listed = orders(s, env);
    let rejected: Vec<&Value> = listed.iter().filter(|o| o["client_order_id"] == "after-halt").collect();
    assert_eq!(rejected.len(), 1, "{listed:#?}");
    assert_eq!(rejected[0]["status"], "rejected", "{}", rejected[0]);
    assert_eq!(rejected[0]["reason"], "kill switch halted: x", "{}", rejected[0]);
    let only_rejected = ok_json(s, &["orders", "list", "--status", "rejected", "--json"], env);
    assert_eq!(only_rejected.as_array().map(Vec::len), Some(1), "{only_rejected}");
    let positions = ok_json(s, &["positions", "list", "--json"], env);
    let eurusd = positions.as_array().unwrap().iter().find(|p| p["symbol"] == "EURUSD").expect("EURUSD position");
    assert_eq!(eurusd["size"].as_str().unwrap().parse::<Decimal>().unwrap(), size["EURUSD"], "{eurusd}");
}

#[test]
fn orders_on_embedded_defaults_eight_filled_once_then_halted_rejects() {
    let s = Scratch::new();
    let env = market_env();
    collect(&s, &env);
    let init = ok_json(&s, &["init", "--json"], &env);
    let steps: Vec<(&str, &str)> = init["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| (st["step"].as_str().unwrap(), st["outcome"].as_str().unwrap()))
        .collect();
    assert!(steps.contains(&("queue", "created")) && steps.contains(&("events", "not_needed")), "{init}");
    assert!(s.data().join("queue.db").is_file(), "the queue file lives in the data directory");

    let (ids, size) = eight_orders(&s, "emb");
    submit_eight_and_a_duplicate(&s, &env, &ids);
    let run = ok_json(&s, &["orders", "run", "--until-idle"], &env);
    assert_eq!(run["received"], 9, "{run}");
    assert_eq!((run["filled"].as_u64(), run["duplicates"].as_u64()), (Some(8), Some(1)), "{run}");
    assert_eq!(run["stopped_by"]["reason"], "idle", "{run}");
    assert_eight_filled(&s, &env, &ids, &size);

    // Nothing left: a second run receives nothing and changes nothing.
    let again = ok_json(&s, &["orders", "run", "--until-idle"], &env);
    assert_eq!(again["received"], 0, "{again}");
    halt_then_reject(&s, &env, &size);
    let dead = ok_json(&s, &["orders", "dead-letters", "--json"], &env);
    assert_eq!(dead.as_array().map(Vec::len), Some(0), "{dead}");
}

#[test]
fn orders_on_untouched_defaults_fill_at_the_replayed_markets_last_close() {
    // No overrides at all: the default synthetic market ends at a fixed instant in the past, so
    // the paper broker prices as of that end (its last M1 close), not "now".
    let s = Scratch::new();
    s.ok(&["collect", "--symbols", "EURUSD", "--timeframes", "M1", "--json"]);
    s.ok(&["init", "--json"]);
    for id in ["plain-1", "plain-2"] {
        s.ok(&["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1000", "--client-order-id", id]);
    }
    let run = json(&s.ok(&["orders", "run", "--until-idle"]));
    assert_eq!((run["received"].as_u64(), run["filled"].as_u64()), (Some(2), Some(2)), "{run}");
    // The default `[collector] synthetic_end` is 2025-09-02T00:00:00Z.
    let csv = s.ok(&["fetch", "EURUSD", "M1", "--from", "2025-09-01", "--to", "2025-09-02", "--format", "csv"]);
    let last_close: Decimal = csv.lines().last().and_then(|l| l.split(',').nth(4)).expect("a bar").parse().unwrap();
    let listed = json(&s.ok(&["orders", "list", "--json"]));
    let prices: Vec<Decimal> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| o["average_fill_price"].as_str().expect("filled").parse().unwrap())
        .collect();
    assert_eq!(prices, [last_close, last_close], "{listed}");
}

#[test]
fn orders_submit_refuses_bad_requests_before_sending_anything() {
    let s = Scratch::new();
    let env = market_env();
    s.ok_env(&["init"], &pairs(&env));
    let good = request("ok-1", "EURUSD", "buy", "1");
    s.write("bad.jsonl", &format!("{good}\nnot json\n{}\n", request("q-0", "EURUSD", "buy", "0")));
    let out = s.axia_env(&["orders", "submit", "--file", "bad.jsonl"], &pairs(&env));
    assert_eq!(out.status.code(), Some(2), "an unreadable line is a usage error: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.jsonl:2") && err.contains("bad.jsonl:3"), "{err}");
    s.write("refused.jsonl", &format!("{good}\n{}\n", request("x-1", "XAUUSD", "buy", "1")));
    let out = s.axia_env(&["orders", "submit", "--file", "refused.jsonl"], &pairs(&env));
    assert_eq!(out.status.code(), Some(1), "a refused request: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("refused.jsonl:2: invalid order request") && err.contains("XAUUSD is not a known"), "{err}");
    let out = s.axia_env(&["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "-1"], &pairs(&env));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = s.axia_env(&["orders", "submit", "--symbol", "EURUSD", "--side", "hold", "--qty", "1"], &pairs(&env));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // All or nothing: the good first lines were never sent.
    let run = ok_json(&s, &["orders", "run", "--until-idle"], &env);
    assert_eq!(run["received"], 0, "{run}");
    // A fresh id by default.
    let sent = ok_json(&s, &["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1"], &env);
    assert!(sent["submitted"][0]["client_order_id"].as_str().is_some_and(|id| id.starts_with("cli-")), "{sent}");
}

#[test]
fn orders_before_init_name_axia_init() {
    let s = Scratch::new();
    let out = s.axia_env(&["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("axia init"), "{}", stderr(&out));
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

/// State on DynamoDB, the queue on SQS, events on SNS, all on the local server under fresh
/// names, with test credentials set explicitly so nothing can reach real AWS.
fn aws_env(endpoint: &str, table: &str, queue: &str, topic: &str) -> Vec<(String, String)> {
    let mut env = market_env();
    for (k, v) in [
        ("AXIA_STATE__BACKEND", "dynamodb"),
        ("AXIA_STATE__DYNAMODB_TABLE", table),
        ("AXIA_QUEUE__BACKEND", "sqs"),
        ("AXIA_QUEUE__SQS_QUEUE_NAME", queue),
        ("AXIA_EVENTS__BACKEND", "sns"),
        ("AXIA_EVENTS__SNS_TOPIC_NAME", topic),
        ("AXIA_AWS__ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        env.push((k.into(), v.into()));
    }
    env
}

/// Sends `body` straight to the queue with the SQS adapter, as a misbehaving producer would.
fn send_raw(endpoint: &str, queue: &str, body: &str) -> String {
    use axia_adapters::queue::{SqsOrderQueue, SqsSettings};
    use axia_domain::ports::OrderQueue;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let settings = SqsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint.into()),
            ..SqsSettings::new(queue)
        };
        let q = SqsOrderQueue::new(settings).await.expect("SQS client");
        q.send(body).await.expect("send the raw message")
    })
}

#[test]
fn orders_on_dynamodb_sqs_and_sns_eight_filled_and_a_raw_message_dead_lettered() {
    let s = Scratch::new();
    let endpoint = aws_endpoint();
    let (table, queue, topic) = (unique("axia-e2e-"), unique("axia-e2e-q"), unique("axia-e2e-t"));
    let env = aws_env(&endpoint, &table, &queue, &topic);
    collect(&s, &env);
    let init = ok_json(&s, &["init", "--json"], &env);
    let outcome = |init: &Value, step: &str| -> (String, String) {
        let st = init["steps"].as_array().unwrap().iter().find(|st| st["step"] == step).expect(step);
        (st["resource"].as_str().unwrap().to_owned(), st["outcome"].as_str().unwrap().to_owned())
    };
    assert_eq!(outcome(&init, "queue"), (format!("sqs://{queue}"), "created".into()), "{init}");
    assert_eq!(outcome(&init, "dead_letter_queue"), (format!("sqs://{queue}-dlq"), "created".into()), "{init}");
    assert_eq!(outcome(&init, "events"), (format!("sns://{topic}"), "created".into()), "{init}");
    let again = ok_json(&s, &["init", "--json"], &env);
    assert!(again["steps"].as_array().unwrap().iter().all(|st| st["outcome"] == "already_existed"), "{again}");

    // The poison message goes first: it must not hold up the orders behind it.
    let raw = "this is not an order request";
    let raw_id = send_raw(&endpoint, &queue, raw);
    let (ids, size) = eight_orders(&s, "aws");
    submit_eight_and_a_duplicate(&s, &env, &ids);
    let out = s.axia_env(&["orders", "run", "--until-idle"], &pairs(&env));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not published"), "events reach the SNS topic: {}", stderr(&out));
    let run = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!((run["filled"].as_u64(), run["duplicates"].as_u64()), (Some(8), Some(1)), "{run}");
    assert_eq!(run["dead_lettered"], 1, "{run}");
    assert_eq!(run["queue"], format!("sqs://{queue}"), "{run}");
    assert_eight_filled(&s, &env, &ids, &size);

    let dead = ok_json(&s, &["orders", "dead-letters", "--json"], &env);
    let dead = dead.as_array().expect("dead letters");
    assert_eq!(dead.len(), 1, "{dead:#?}");
    assert_eq!(dead[0]["body"], raw, "{}", dead[0]);
    assert_eq!(dead[0]["original_id"], raw_id.as_str(), "{}", dead[0]);
    let reason = dead[0]["reason"].as_str().expect("a reason");
    assert!(reason.starts_with("unparseable order request: not a valid JSON object"), "{reason}");
    halt_then_reject(&s, &env, &size);
    assert!(!s.data().join("state.db").exists() && !s.data().join("queue.db").exists(), "no SQLite file on AWS");
}

#[test]
fn orders_run_stops_on_sigterm_mid_run_and_loses_or_repeats_nothing() {
    const ORDERS: usize = 300;
    let s = Scratch::new();
    let mut env = market_env();
    // Short visibility: a message the first run received but never saw (a receive cut short by
    // the signal) is visible again within seconds.
    env.push(("AXIA_QUEUE__VISIBILITY_TIMEOUT_SECS".into(), "2".into()));
    collect(&s, &env);
    s.ok_env(&["init"], &pairs(&env));
    let lines: Vec<String> = (0..ORDERS).map(|i| request(&format!("t-{i}"), "EURUSD", "buy", "1")).collect();
    s.write("many.jsonl", &lines.join("\n"));
    s.ok_env(&["orders", "submit", "--file", "many.jsonl"], &pairs(&env));

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_axia"));
    cmd.args(["orders", "run", "--json"]).current_dir(s.path()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("AXIA_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let child = cmd.spawn().expect("start the daemon");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let filled = ok_json(&s, &["orders", "list", "--status", "filled", "--limit", "1000", "--json"], &env);
        if filled.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "no order was filled within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("daemon output");
    assert_eq!(out.status.code(), Some(0), "exit 0 after SIGTERM: {}", stderr(&out));
    let summary = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(summary["stopped_by"]["reason"], "shutdown", "{summary}");
    let first = summary["filled"].as_u64().unwrap();
    assert!(first >= 1, "{summary}");
    assert!(first < ORDERS as u64, "SIGTERM came after all {ORDERS} orders: not a mid-run stop ({summary})");
    assert_eq!(summary["received"].as_u64(), Some(first), "every message received was settled: {summary}");

    std::thread::sleep(Duration::from_secs(3));
    let rest = ok_json(&s, &["orders", "run", "--until-idle"], &env);
    assert_eq!(rest["duplicates"], 0, "nothing the first run settled came back: {rest}");
    assert_eq!(rest["filled"].as_u64().unwrap() + first, ORDERS as u64, "{rest}");
    let listed = orders(&s, &env);
    assert_eq!(listed.len(), ORDERS, "one order per id");
    assert!(listed.iter().all(|o| o["status"] == "filled"), "{listed:#?}");
    let positions = ok_json(&s, &["positions", "list", "--json"], &env);
    let size: Decimal = positions[0]["size"].as_str().expect("size").parse().unwrap();
    assert_eq!(size, Decimal::from(ORDERS), "each order executed exactly once: {positions}");
}

#[test]
fn orders_run_with_redis_prices_from_redis_and_beats_the_heartbeat_in_system_status() {
    use axia_tests::redis_raw::{RawRedis, test_redis_url};
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            RawRedis::connect(&test_redis_url()).delete_prefix(&self.0);
        }
    }
    let s = Scratch::new();
    let prefix = format!("{}:", unique("e2eord"));
    let _cleanup = Cleanup(prefix.clone());
    let url = test_redis_url();
    let mut env = market_env();
    env.push(("AXIA_REDIS__URL".into(), url.clone()));
    env.push(("AXIA_REDIS__KEY_PREFIX".into(), prefix.clone()));
    collect(&s, &env);
    // Without the history tier, only Redis can price the order.
    std::fs::remove_dir_all(s.data().join("ohlcv")).expect("remove the Parquet bars");
    std::fs::remove_file(s.data().join("manifest.json")).expect("remove the manifest");
    s.ok_env(&["init"], &pairs(&env));
    s.ok_env(&["orders", "submit", "--symbol", "USDJPY", "--side", "buy", "--qty", "3"], &pairs(&env));
    let started = Utc::now() - TimeDelta::seconds(1);
    let out = s.axia_env(&["orders", "run", "--until-idle"], &pairs(&env));
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(run["filled"], 1, "{run}");
    assert!(stderr(&out).contains("orders_heartbeat"), "a heartbeat log line: {}", stderr(&out));
    let beat = RawRedis::connect(&url)
        .text(&["HGET", &format!("{prefix}system:status"), "heartbeat:orders"])
        .expect("heartbeat:orders in system:status");
    let at: chrono::DateTime<Utc> = beat.parse().expect("an RFC 3339 time");
    assert!(at >= started && at <= Utc::now(), "{beat}");
}

#[test]
fn orders_run_max_messages_stops_after_n_and_without_bars_orders_are_rejected() {
    let s = Scratch::new();
    s.ok(&["init"]);
    for i in 0..3 {
        let id = format!("nb-{i}");
        s.ok(&["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1", "--client-order-id", &id]);
    }
    let run = json(&s.ok(&["orders", "run", "--max-messages", "2"]));
    assert_eq!((run["received"].as_u64(), run["rejected"].as_u64()), (Some(2), Some(2)), "{run}");
    assert_eq!(run["stopped_by"]["reason"], "max_messages", "{run}");
    let listed = json(&s.ok(&["orders", "list", "--status", "rejected"]));
    let listed = listed.as_array().expect("orders");
    assert_eq!(listed.len(), 2, "{listed:#?}");
    let reason = listed[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("no recent price for EURUSD") && reason.contains("never collected"), "{reason}");
    let rest = json(&s.ok(&["orders", "run", "--until-idle"]));
    assert_eq!(rest["received"], 1, "the third message waited in the queue: {rest}");
}
