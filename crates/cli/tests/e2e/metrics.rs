//! `axia orders run` with `[orders] metrics_listen`: `GET /metrics` of the running daemon shows
//! the orders it processed, its heartbeat and the broker status; other paths answer 404; a
//! taken address stops the daemon at start; `[orders] metrics = "emf"` adds an EMF line per
//! heartbeat. And `axia collect --metrics emf`: one CloudWatch
//! EMF line with the task counts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Scratch, stderr};

/// A port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The raw HTTP response of `GET path`, or `None` while nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn the_daemon_serves_its_metrics_while_it_runs() {
    let s = Scratch::new();
    s.ok(&["init"]);
    s.ok(&["orders", "submit", "--symbol", "EURUSD", "--side", "buy", "--qty", "1", "--client-order-id", "m-1"]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_axia"));
    cmd.args(["orders", "run"]).current_dir(s.path()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AXIA_")) {
        cmd.env_remove(k);
    }
    cmd.env("AXIA_ORDERS__METRICS_LISTEN", &listen).env("AXIA_ORDERS__HEARTBEAT_SECS", "1");
    cmd.env("AXIA_ORDERS__METRICS", "emf");
    let child = cmd.spawn().expect("spawn axia orders run");
    // Until the order was processed and a heartbeat recorded it (or 20 s).
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(response) = get(port, "/metrics") {
            last = response;
            if last.contains("\naxia_orders_received_total 1\n") && last.contains("heartbeat_timestamp_seconds ") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let not_found = get(port, "/").unwrap_or_default();
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    assert!(last.starts_with("HTTP/1.1 200 OK\r\n"), "{last}");
    assert!(last.contains("Content-Type: text/plain; version=0.0.4"), "{last}");
    assert!(last.contains("\naxia_orders_received_total 1\n"), "{last}");
    // The embedded market ended long ago: the paper broker rejects the order as stale-priced.
    let processed: u64 = last
        .lines()
        .filter(|l| l.starts_with("axia_orders_processed_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(processed, 1, "{last}");
    assert!(last.contains("\naxia_broker_connected{broker=\"paper\"} 1\n"), "{last}");
    let beat: i64 = last
        .lines()
        .find_map(|l| l.strip_prefix("axia_orders_heartbeat_timestamp_seconds "))
        .expect("heartbeat")
        .parse()
        .unwrap();
    assert!((chrono::Utc::now().timestamp() - beat).abs() < 60, "{beat}");
    assert!(not_found.starts_with("HTTP/1.1 404 Not Found\r\n"), "{not_found}");
    // `[orders] metrics = "emf"`: one EMF line per heartbeat; their sums are the run's totals.
    let emf: Vec<Value> = stderr(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("_aws").is_some())
        .collect();
    assert!(!emf.is_empty(), "no EMF line: {}", stderr(&out));
    assert!(emf.iter().all(|d| d["Command"] == "orders" && d["BrokerConnected"] == 1.0), "{emf:?}");
    let received: f64 = emf.iter().map(|d| d["Received"].as_f64().unwrap()).sum();
    assert!((received - 1.0).abs() < f64::EPSILON, "{emf:?}");
}

#[test]
fn a_taken_metrics_address_stops_the_daemon_naming_it() {
    let s = Scratch::new();
    s.ok(&["init"]);
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let listen = taken.local_addr().unwrap().to_string();
    let out = s.axia_env(&["orders", "run", "--until-idle"], &[("AXIA_ORDERS__METRICS_LISTEN", &listen)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("metrics_listen {listen}")), "{}", stderr(&out));
    let bad = s.axia_env(&["orders", "run", "--until-idle"], &[("AXIA_ORDERS__METRICS_LISTEN", "nowhere")]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).to_lowercase().contains("metrics_listen"), "{}", stderr(&bad));
}

#[test]
fn collect_prints_one_emf_line_with_the_task_counts() {
    let s = Scratch::new();
    for args in [
        vec!["--log-format", "json", "collect", "--symbols", "EURUSD", "--timeframes", "H1,D1", "--metrics", "emf"],
        vec!["--log-format", "json", "collect", "--symbols", "EURUSD", "--timeframes", "H1,D1"],
    ] {
        let env: &[(&str, &str)] =
            if args.contains(&"--metrics") { &[] } else { &[("AXIA_COLLECTOR__METRICS", "emf")] };
        let out = s.axia_env(&args, env);
        assert!(out.status.success(), "{}", stderr(&out));
        let emf: Vec<Value> = stderr(&out)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
            .filter(|l| l.get("_aws").is_some())
            .collect();
        assert_eq!(emf.len(), 1, "{}", stderr(&out));
        let doc = &emf[0];
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            (directive["Namespace"].as_str(), &directive["Dimensions"]),
            (Some("axia"), &serde_json::json!([["Command"]]))
        );
        for m in directive["Metrics"].as_array().unwrap() {
            assert!(doc[m["Name"].as_str().unwrap()].is_number(), "{m} has no value: {doc}");
        }
        assert_eq!(
            (doc["Command"].as_str(), doc["Tasks"].as_f64(), doc["Failed"].as_f64()),
            (Some("collect"), Some(2.0), Some(0.0)),
            "{doc}"
        );
        let stored_or_current = doc["Stored"].as_f64().unwrap() + doc["UpToDate"].as_f64().unwrap();
        assert!((stored_or_current - 2.0).abs() < f64::EPSILON, "{doc}");
    }
    let out = s.axia(&["collect", "--symbols", "EURUSD", "--timeframes", "H1", "--metrics", "cloudwatch"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
