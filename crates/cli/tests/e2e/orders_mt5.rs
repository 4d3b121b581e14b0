//! `axia orders submit | run` with `[broker] backend = "mt5_bridge"` against `FakeMt5Bridge` (a
//! real HTTP server on a local port), on the embedded SQLite queue and state: market orders fill
//! at the bridge's price, resting limit orders fill when the fake's price moves through them and
//! a later run records the fill it reports, a missing bridge URL is a usage error, and a bridge
//! that is down leaves the order for redelivery.

use std::time::Duration;

use axia_adapters::csv_import::SourceTz;
use axia_domain::Symbol;
use axia_domain::ports::Execution;
use axia_tests::broker_contract::MarketControl;
use axia_tests::fake_mt5_bridge::FakeMt5Bridge;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::{Scratch, json, stderr};

const TOKEN: &str = "e2e-daemon-token";

/// The runtime the fake serves on while the binary runs.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

fn server_tz() -> SourceTz {
    "ny-close".parse().expect("server tz")
}

/// The daemon's environment: the bridge as the broker, reached with `[sources.mt5_bridge]`.
fn bridge_env(fake: &FakeMt5Bridge) -> Vec<(String, String)> {
    vec![
        ("AXIA_BROKER__BACKEND".into(), "mt5_bridge".into()),
        ("AXIA_SOURCES__MT5_BRIDGE__URL".into(), fake.url().to_owned()),
        ("AXIA_SOURCES__MT5_BRIDGE__TOKEN".into(), TOKEN.into()),
        ("AXIA_SOURCES__MT5_BRIDGE__SERVER_TZ".into(), "ny-close".into()),
    ]
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn ok_json(s: &Scratch, args: &[&str], env: &[(String, String)]) -> Value {
    json(&s.ok_env(args, &pairs(env)))
}

fn order(s: &Scratch, env: &[(String, String)], id: &str) -> Value {
    let listed = ok_json(s, &["orders", "list", "--limit", "100", "--json"], env);
    listed.as_array().expect("orders").iter().find(|o| o["client_order_id"] == id).cloned().unwrap_or(Value::Null)
}

fn decimal(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string: {v}")).parse().expect("decimal")
}

fn submit(s: &Scratch, env: &[(String, String)], extra: &[&str]) {
    let mut args = vec!["orders", "submit", "--symbol", "EURUSD", "--side", "buy"];
    args.extend_from_slice(extra);
    s.ok_env(&args, &pairs(env));
}

#[test]
fn orders_through_the_mt5_bridge_fill_market_orders_and_record_resting_fills_later() {
    let rt = runtime();
    let fake = rt.block_on(FakeMt5Bridge::start(TOKEN, server_tz()));
    fake.set_quote("EURUSD", Decimal::new(11_000, 4));
    let env = bridge_env(&fake);
    let s = Scratch::new();
    s.ok_env(&["init"], &pairs(&env));
    submit(&s, &env, &["--qty", "1", "--client-order-id", "mt5-mkt-1", "--sl", "1.09", "--tp", "1.12"]);
    submit(&s, &env, &["--qty", "2", "--type", "limit", "--limit-price", "1.098", "--client-order-id", "mt5-lmt-1"]);

    let run = ok_json(&s, &["orders", "run", "--until-idle"], &env);
    assert_eq!(
        (run["received"].as_u64(), run["filled"].as_u64(), run["working"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{run}"
    );
    let market = order(&s, &env, "mt5-mkt-1");
    assert_eq!(market["status"], "filled", "{market}");
    assert_eq!(decimal(&market["average_fill_price"]), Decimal::new(11_000, 4), "the bridge's price: {market}");
    let limit = order(&s, &env, "mt5-lmt-1");
    assert_eq!(limit["status"], "accepted", "resting at the bridge: {limit}");
    let posted: Vec<_> =
        fake.requests().into_iter().filter(|r| r.method == "POST" && r.segments == ["orders"]).collect();
    assert_eq!(posted.len(), 2, "each order sent once: {posted:?}");
    let positions = ok_json(&s, &["positions", "list", "--json"], &env);
    let eurusd = &positions.as_array().expect("positions")[0];
    assert_eq!((eurusd["symbol"].as_str(), decimal(&eurusd["size"])), (Some("EURUSD"), Decimal::ONE), "{positions}");

    // The price moves through the limit at the bridge; the next run records the fill it reports.
    let eur = Symbol::new("EURUSD").expect("symbol");
    let fills = rt.block_on(fake.set_price(&eur, Decimal::new(10_950, 4)));
    let [fill] = fills.as_slice() else { panic!("one resting fill: {fills:?}") };
    let Execution::Filled { price: fill_price, .. } = fill.execution.clone() else { panic!("{fill:?}") };
    let run = ok_json(&s, &["orders", "run", "--until-idle"], &env);
    assert_eq!(run["received"], 0, "{run}");
    let limit = order(&s, &env, "mt5-lmt-1");
    assert_eq!(limit["status"], "filled", "{limit}");
    assert_eq!(decimal(&limit["average_fill_price"]), fill_price, "the bridge's fill price: {limit}");
    let positions = ok_json(&s, &["positions", "list", "--json"], &env);
    assert_eq!(decimal(&positions[0]["size"]), Decimal::from(3), "1 + 2 lots: {positions}");

    // Recording is idempotent: a third run (a fresh cursor reads the same fill again) changes
    // nothing.
    ok_json(&s, &["orders", "run", "--until-idle"], &env);
    let again = ok_json(&s, &["positions", "list", "--json"], &env);
    assert_eq!(decimal(&again[0]["size"]), Decimal::from(3), "{again}");
    assert_eq!(again[0]["version"], positions[0]["version"], "{again}");
}

#[test]
fn orders_with_the_mt5_bridge_broker_but_no_url_is_a_usage_error_naming_the_setting() {
    let s = Scratch::new();
    for args in [
        &["orders", "run", "--until-idle"][..],
        &["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1"],
    ] {
        let out = s.axia_env(args, &[("AXIA_BROKER__BACKEND", "mt5_bridge")]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("[sources.mt5_bridge] url"), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn orders_with_the_mt5_bridge_down_are_left_for_redelivery_then_fill_when_it_is_back() {
    let rt = runtime();
    let fake = rt.block_on(FakeMt5Bridge::start(TOKEN, server_tz()));
    fake.set_quote("EURUSD", Decimal::new(11_000, 4));
    let mut env = bridge_env(&fake);
    env.push(("AXIA_QUEUE__VISIBILITY_TIMEOUT_SECS".into(), "2".into()));
    env.push(("AXIA_LOG".into(), "info".into()));
    let s = Scratch::new();
    s.ok_env(&["init"], &pairs(&env));
    fake.set_connected(false);
    submit(&s, &env, &["--qty", "1", "--client-order-id", "mt5-down-1"]);

    let out = s.axia_env(&["orders", "run", "--until-idle"], &pairs(&env));
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&String::from_utf8_lossy(&out.stdout));
    assert!(run["retried"].as_u64().is_some_and(|n| n >= 1), "{run}");
    assert_eq!((run["filled"].as_u64(), run["dead_lettered"].as_u64()), (Some(0), Some(0)), "{run}");
    let log = stderr(&out);
    assert!(log.contains("\"broker_connected\":false"), "the heartbeat says so: {log}");
    assert!(log.contains("mt5 bridge disconnected"), "a warning: {log}");
    let waiting = order(&s, &env, "mt5-down-1");
    assert_eq!(waiting["status"], "accepted", "{waiting}");
    assert!(waiting["reason"].as_str().is_some_and(|r| r.starts_with("not sent")), "{waiting}");
    let dead = ok_json(&s, &["orders", "dead-letters", "--json"], &env);
    assert_eq!(dead.as_array().map(Vec::len), Some(0), "{dead}");

    // Back up: once the message is visible again, the next run sends and fills it.
    fake.set_connected(true);
    std::thread::sleep(Duration::from_millis(2_500));
    let out = s.axia_env(&["orders", "run", "--until-idle"], &pairs(&env));
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(run["filled"], 1, "{run}\n{}", stderr(&out));
    assert!(stderr(&out).contains("\"broker_connected\":true"), "{}", stderr(&out));
    let filled = order(&s, &env, "mt5-down-1");
    assert_eq!(
        (filled["status"].as_str(), decimal(&filled["average_fill_price"])),
        (Some("filled"), Decimal::new(11_000, 4)),
        "{filled}"
    );
}
