//! `axia collect` from the real sources, against local fakes: the Yahoo chart API (`FakeYahoo`,
//! recorded responses moved to the last weeks, since the binary runs on the wall clock) and the
//! MT5 bridge (`FakeMt5Bridge`).

use axia_adapters::csv_import::SourceTz;
use axia_domain::{MarketCalendar, Timeframe};
use axia_tests::fake_mt5_bridge::{FakeBar, FakeMt5Bridge};
use axia_tests::fake_yahoo::{FakeYahoo, fixture_json};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde_json::Value;

use crate::support::{Scratch, stderr};

const WEEK: i64 = 7 * 86_400;

/// The runtime the fakes serve on while the binary runs.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

/// A recorded chart answer moved by whole weeks (weekdays and the FX weekend stay where they
/// were) so that its last bar is at least an hour old.
fn recent(fixture: &str) -> Value {
    let mut chart = fixture_json(fixture);
    let stamps = chart.pointer_mut("/chart/result/0/timestamp").and_then(Value::as_array_mut).expect("timestamps");
    let last = stamps.iter().filter_map(Value::as_i64).max().expect("a timestamp");
    let now = Utc::now().timestamp();
    let shift = (now - 3_600 - last).div_euclid(WEEK) * WEEK;
    for t in stamps.iter_mut() {
        *t = Value::from(t.as_i64().expect("unix seconds") + shift);
    }
    chart
}

/// FakeYahoo serving EURUSD and USDJPY (60m and 1d) ending in the last week.
async fn recent_yahoo() -> FakeYahoo {
    let fake = FakeYahoo::start().await;
    for (ticker, interval, file) in [
        ("EURUSD=X", "60m", "eurusd_60m.json"),
        ("EURUSD=X", "1d", "eurusd_1d.json"),
        ("USDJPY=X", "60m", "usdjpy_60m.json"),
        ("USDJPY=X", "1d", "usdjpy_1d.json"),
    ] {
        fake.serve(ticker, interval, recent(file));
    }
    fake
}

fn summary_of(out: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("summary JSON: {e}\n{stdout}\n{}", stderr(out)))
}

fn stored_bars(s: &Scratch, symbol: &str, tf: &str) -> Vec<Value> {
    let out = s.ok(&["fetch", symbol, tf, "--format", "json"]);
    let v: Value = serde_json::from_str(out.trim()).expect("fetch JSON");
    v["bars"].as_array().expect("bars").clone()
}

#[test]
fn collect_from_yahoo_retries_rate_limits_stores_known_symbols_and_names_the_unknown_one() {
    let rt = runtime();
    let fake = rt.block_on(recent_yahoo());
    for ticker in ["EURUSD=X", "USDJPY=X", "NOPEXX"] {
        fake.fail_next(ticker, 429, 1);
    }
    let s = Scratch::new();
    let out = s.axia_env(
        &["collect", "--source", "yahoo", "--symbols", "EURUSD,USDJPY,NOPEXX", "--timeframes", "H1,D1", "--json"],
        &[("AXIA_SOURCES__YAHOO__BASE_URL", &fake.base_url())],
    );
    assert_eq!(out.status.code(), Some(1), "a failed task fails the run: {}", stderr(&out));
    let summary = summary_of(&out);
    assert_eq!(summary["failed"], serde_json::json!(["NOPEXX H1", "NOPEXX D1"]), "{summary}");
    assert_eq!(summary["counts"]["stored"], 4, "{summary}");
    assert_eq!(summary["served_by"], serde_json::json!({ "yahoo": 4 }), "{summary}");
    let error = summary["errors"]["NOPEXX H1"].as_str().unwrap_or_default();
    assert!(error.contains("unknown symbol NOPEXX"), "{summary}");
    assert!(stderr(&out).contains("NOPEXX"), "the log names the failed task: {}", stderr(&out));

    for ticker in ["EURUSD=X", "USDJPY=X"] {
        // The first request got the 429; the same request was sent again.
        let requests = fake.requests_for(ticker);
        let first = &requests[0];
        let repeated = requests[1..].iter().any(|r| {
            (r.interval.as_str(), r.period1, r.period2) == (first.interval.as_str(), first.period1, first.period2)
        });
        assert!(repeated, "{ticker}: the rate-limited request was retried: {requests:?}");
    }
    for symbol in ["EURUSD", "USDJPY"] {
        for tf in ["H1", "D1"] {
            let bars = stored_bars(&s, symbol, tf);
            assert!(bars.len() >= 5, "{symbol} {tf}: {} bars stored", bars.len());
        }
    }
    let h1 = stored_bars(&s, "EURUSD", "H1");
    let last = h1.last().and_then(|b| b["open_time_utc"].as_str()).expect("open time");
    let last: DateTime<Utc> = last.parse().expect("RFC 3339");
    assert!(Utc::now() - last < TimeDelta::days(8), "the moved fixture ends in the last week: {last}");
    assert!(stored_bars(&s, "NOPEXX", "H1").is_empty());
}

/// Bars of the last five days, hourly, on the server clock `tz`.
fn bridge_bars(tz: SourceTz) -> Vec<FakeBar> {
    let now = Utc::now().with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap();
    MarketCalendar::Fx
        .trading_opens(now - TimeDelta::hours(120), now, Timeframe::H1)
        .map(|t| FakeBar { time: tz.from_utc(t), open: 1.1, high: 1.2, low: 1.0, close: 1.15, tick_volume: 10 })
        .collect()
}

#[rstest::rstest]
#[case::bridge_down(false, "yahoo")]
#[case::bridge_up(true, "mt5_bridge")]
fn the_bridge_is_asked_first_and_yahoo_serves_when_it_is_down(#[case] bridge_up: bool, #[case] served: &str) {
    let rt = runtime();
    let tz: SourceTz = "+03:00".parse().unwrap();
    let (yahoo, bridge) = rt.block_on(async { (recent_yahoo().await, FakeMt5Bridge::start("bridge-token", tz).await) });
    let given = bridge_bars(tz);
    let (last_given, given_len) = (given.last().expect("bars of the last days").time, given.len());
    bridge.add_bars("EURUSD", "H1", given);
    bridge.set_connected(bridge_up);
    let s = Scratch::new();
    let out = s.axia_env(
        &["collect", "--source", "mt5_bridge,yahoo", "--symbols", "EURUSD", "--timeframes", "H1", "--json"],
        &[
            ("AXIA_SOURCES__YAHOO__BASE_URL", &yahoo.base_url()),
            ("AXIA_SOURCES__MT5_BRIDGE__URL", bridge.url()),
            ("AXIA_SOURCES__MT5_BRIDGE__TOKEN", "bridge-token"),
            ("AXIA_SOURCES__MT5_BRIDGE__SERVER_TZ", "+03:00"),
            ("AXIA_COLLECTOR__MAX_RETRIES", "1"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = summary_of(&out);
    assert_eq!(summary["source"], "mt5_bridge,yahoo", "{summary}");
    assert_eq!(summary["served_by"], serde_json::json!({ served: 1 }), "{summary}");
    assert!(!stderr(&out).contains("bridge-token"), "the token is never printed");
    let bar_requests = bridge.requests().iter().filter(|r| r.segments.last().is_some_and(|p| p == "bars")).count();
    assert!(bar_requests >= 1, "the bridge is asked first");
    assert_eq!(yahoo.requests().is_empty(), bridge_up, "yahoo is asked only when the bridge is down");
    if !bridge_up {
        assert!(stderr(&out).contains("source failed: mt5_bridge"), "the bridge's error is reported: {}", stderr(&out));
    } else {
        // Server time +03:00 went back to UTC at the adapter: the stored bars are the UTC hours.
        let bars = stored_bars(&s, "EURUSD", "H1");
        let want = tz.to_utc(last_given).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert!(want.ends_with(":00:00Z") && last_given.and_utc() - tz.to_utc(last_given) == TimeDelta::hours(3));
        assert_eq!(bars.last().and_then(|b| b["open_time_utc"].as_str()), Some(want.as_str()));
        assert_eq!(bars.len(), given_len, "every bar the bridge has");
    }
    drop(rt);
}
