//! The MT5-bridge client against the fake bridge over real HTTP: the broker contract, bars in
//! server time, the token, a disconnected terminal, unknown symbols and orders whose answer is
//! late.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axia_adapters::csv_import::SourceTz;
use axia_adapters::mt5_bridge::{BridgeToken, Mt5Bridge, Mt5BridgeError, Mt5BridgeSettings};
use axia_domain::ports::{BrokerError, BrokerGateway, Execution, MarketDataSource, SourceError};
use axia_domain::{
    ClientOrderId, Order, OrderSpec, OrderStatus, OrderType, SeriesKey, Side, Symbol, TimeRange, Timeframe,
};
use axia_tests::broker_contract;
use axia_tests::fake_mt5_bridge::{FakeBar, FakeMt5Bridge};
use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::dec;

const TOKEN: &str = "s3cr3t-bridge-token-7f2a";

async fn fake(tz: &str) -> FakeMt5Bridge {
    FakeMt5Bridge::start(TOKEN, tz.parse().unwrap()).await
}

fn client(fake: &FakeMt5Bridge, timeout: Duration) -> Mt5Bridge {
    Mt5Bridge::new(fake.settings(timeout)).unwrap()
}

fn wall(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn flat(time: &str, price: f64) -> FakeBar {
    FakeBar { time: wall(time), open: price, high: price + 0.001, low: price - 0.001, close: price, tick_volume: 10 }
}

fn key(symbol: &str, tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(symbol).unwrap(), tf)
}

fn range(start: &str, end: &str) -> TimeRange {
    TimeRange::new(utc(start), utc(end)).unwrap()
}

fn market_order(id: &str, symbol: &str) -> Order {
    let spec = OrderSpec::new(
        ClientOrderId::new(id).unwrap(),
        Symbol::new(symbol).unwrap(),
        Side::Buy,
        OrderType::Market,
        dec!(0.10),
        None,
    );
    let mut o = Order::received(spec, Utc::now());
    o.transition(OrderStatus::Accepted, Utc::now()).unwrap();
    o
}

fn query_of(fake: &FakeMt5Bridge, path: &str) -> Vec<(String, String)> {
    fake.requests().into_iter().rev().find(|r| r.segments == [path]).expect("a request").query
}

#[tokio::test]
async fn the_bridge_passes_the_broker_contract_over_http() {
    let fake = fake("+03:00").await;
    let bridge = client(&fake, Duration::from_secs(5));
    broker_contract::run(&bridge, &fake).await;
    broker_contract::run(&bridge, &fake).await;
    assert_eq!(BrokerGateway::name(&bridge), "mt5_bridge");
    assert_eq!(MarketDataSource::name(&bridge), "mt5_bridge");
    assert!(bridge.connection_status().connected);
}

#[tokio::test]
async fn bars_from_a_fixed_offset_server_come_back_in_utc() {
    let fake = fake("+03:00").await;
    let bars = ["2025-09-01T09:59", "2025-09-01T10:00", "2025-09-01T10:01", "2025-09-01T10:02", "2025-09-01T10:03"];
    fake.add_bars("EURUSD", "M1", bars.iter().map(|t| flat(t, 1.1)).collect());
    let bridge = client(&fake, Duration::from_secs(5));

    let series = bridge
        .fetch(&key("EURUSD", Timeframe::M1), range("2025-09-01T07:00:00Z", "2025-09-01T07:03:00Z"))
        .await
        .unwrap();

    let times: Vec<_> = series.bars().iter().map(|b| b.open_time()).collect();
    assert_eq!(times, [utc("2025-09-01T07:00:00Z"), utc("2025-09-01T07:01:00Z"), utc("2025-09-01T07:02:00Z")]);
    let query = query_of(&fake, "bars");
    assert!(query.contains(&("from".into(), "2025-09-01T10:00:00".into())), "{query:?}");
    assert!(query.contains(&("to".into(), "2025-09-01T10:03:00".into())), "{query:?}");
    assert!(query.contains(&("timeframe".into(), "M1".into())), "{query:?}");
}

#[tokio::test]
async fn bars_from_a_ny_close_server_follow_the_new_york_summer_time_change() {
    // New York enters summer time on Sunday 2025-03-09: the server clock goes from UTC+2 to UTC+3.
    let fake = fake("ny-close").await;
    fake.add_bars("EURUSD", "H1", vec![flat("2025-03-07T10:00", 1.08), flat("2025-03-10T10:00", 1.09)]);
    let bridge = client(&fake, Duration::from_secs(5));

    let series = bridge
        .fetch(&key("EURUSD", Timeframe::H1), range("2025-03-07T00:00:00Z", "2025-03-11T00:00:00Z"))
        .await
        .unwrap();

    let times: Vec<_> = series.bars().iter().map(|b| b.open_time()).collect();
    assert_eq!(times, [utc("2025-03-07T08:00:00Z"), utc("2025-03-10T07:00:00Z")]);
    let query = query_of(&fake, "bars");
    assert!(query.contains(&("from".into(), "2025-03-07T02:00:00".into())), "{query:?}");
    assert!(query.contains(&("to".into(), "2025-03-11T03:00:00".into())), "{query:?}");
}

#[tokio::test]
async fn a_bar_with_bad_prices_is_an_invalid_response_naming_it() {
    let fake = fake("UTC").await;
    let mut bad = flat("2025-09-01T10:01", 1.1);
    bad.high = 1.0;
    fake.add_bars("EURUSD", "M1", vec![flat("2025-09-01T10:00", 1.1), bad]);
    let bridge = client(&fake, Duration::from_secs(5));
    let err = bridge.fetch(&key("EURUSD", Timeframe::M1), range("2025-09-01T10:00:00Z", "2025-09-01T11:00:00Z")).await;
    match err {
        Err(SourceError::InvalidResponse { detail, .. }) => {
            assert!(detail.contains("bar 1 at 2025-09-01T10:01:00"), "{detail}");
            assert!(detail.contains("below low"), "{detail}");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_symbol_is_reported_as_such() {
    let fake = fake("UTC").await;
    let bridge = client(&fake, Duration::from_secs(5));
    let err = bridge.fetch(&key("ZZNOPX", Timeframe::M1), range("2025-09-01T10:00:00Z", "2025-09-01T11:00:00Z")).await;
    assert_eq!(err, Err(SourceError::UnknownSymbol { source_name: "mt5_bridge".into(), symbol: "ZZNOPX".into() }));
    assert!(bridge.connection_status().connected, "the bridge answered: connected");
}

#[tokio::test]
async fn a_wrong_token_is_a_clear_error_that_does_not_show_it() {
    let fake = fake("UTC").await;
    fake.set_quote("EURUSD", dec!(1.1));
    let wrong = "wrong-token-9c1d";
    let bridge = Mt5Bridge::new(Mt5BridgeSettings {
        token: Some(BridgeToken::new(wrong)),
        ..fake.settings(Duration::from_secs(5))
    })
    .unwrap();

    let health = bridge.health().await.unwrap_err();
    assert!(matches!(health, Mt5BridgeError::Unauthorized { .. }), "{health:?}");
    let fetch = bridge
        .fetch(&key("EURUSD", Timeframe::M1), range("2025-09-01T10:00:00Z", "2025-09-01T11:00:00Z"))
        .await
        .unwrap_err();
    assert!(!fetch.is_retryable(), "{fetch}");
    let order = bridge.execute(&market_order("tok-1", "EURUSD")).await.unwrap_err();
    assert!(matches!(order, BrokerError::Rejected { .. }), "{order:?}");

    let status = bridge.connection_status();
    assert!(!status.connected);
    let messages = [health.to_string(), fetch.to_string(), order.to_string(), status.last_error.unwrap_or_default()];
    for m in &messages {
        assert!(m.contains("401") && m.contains("token"), "not clear: {m}");
        assert!(!m.contains(wrong) && !m.contains(TOKEN), "token leaked: {m}");
    }
    // The token was sent, in the header.
    assert!(fake.requests().iter().all(|r| r.authorization.as_deref() == Some(&format!("Bearer {wrong}"))));
}

#[tokio::test]
async fn a_disconnected_terminal_is_unavailable_until_it_recovers() {
    let fake = fake("UTC").await;
    fake.add_bars("EURUSD", "M1", vec![flat("2025-09-01T10:00", 1.1)]);
    fake.set_quote("EURUSD", dec!(1.1));
    let bridge = client(&fake, Duration::from_secs(5));
    let r = range("2025-09-01T10:00:00Z", "2025-09-01T11:00:00Z");
    assert_eq!(bridge.connection_status().last_change, None, "nothing sent yet");

    fake.set_connected(false);
    let err = bridge.fetch(&key("EURUSD", Timeframe::M1), r).await.unwrap_err();
    assert!(matches!(err, SourceError::Unavailable { .. }) && err.is_retryable(), "{err:?}");
    let status = bridge.connection_status();
    assert!(!status.connected);
    assert!(status.last_error.as_deref().unwrap_or_default().contains("terminal_disconnected"), "{status:?}");
    let order = bridge.execute(&market_order("disc-1", "EURUSD")).await.unwrap_err();
    assert!(matches!(order, BrokerError::Unavailable { .. }), "{order:?}");
    let health = bridge.health().await.unwrap();
    assert!(!health.terminal_connected);
    assert!(!bridge.connection_status().connected, "health says the terminal is down");

    fake.set_connected(true);
    let series = bridge.fetch(&key("EURUSD", Timeframe::M1), r).await.unwrap();
    assert_eq!(series.bars().len(), 1);
    let status = bridge.connection_status();
    assert!(status.connected);
    assert!(status.last_change.is_some());
}

#[tokio::test]
async fn an_unreachable_bridge_is_unavailable() {
    let fake = fake("UTC").await;
    let settings = fake.settings(Duration::from_secs(2));
    drop(fake);
    let bridge = Mt5Bridge::new(settings).unwrap();
    let err = bridge.execute(&market_order("gone-1", "EURUSD")).await.unwrap_err();
    assert!(matches!(err, BrokerError::Unavailable { .. }), "{err:?}");
    assert!(!bridge.connection_status().connected);
}

#[tokio::test]
async fn a_late_order_answer_is_resolved_by_looking_the_order_up() {
    let fake = fake("+03:00").await;
    fake.set_quote("EURUSD", dec!(1.1));
    fake.set_order_delay(Duration::from_secs(4));
    let bridge = client(&fake, Duration::from_secs(1));

    let execution = bridge.execute(&market_order("late-1", "EURUSD")).await.unwrap();

    assert!(matches!(execution, Execution::Filled { price, .. } if price == dec!(1.1)), "{execution:?}");
    let requests = fake.requests();
    let posts = requests.iter().filter(|r| r.method == "POST").count();
    let lookups = requests.iter().filter(|r| r.segments == ["orders", "late-1"]).count();
    assert_eq!((posts, lookups), (1, 1), "{requests:?}");
}

#[tokio::test]
async fn an_order_whose_connection_is_cut_is_resolved_by_looking_it_up() {
    let fake = fake("UTC").await;
    fake.set_quote("EURUSD", dec!(1.1));
    fake.set_drop_order_answers(true);
    let bridge = client(&fake, Duration::from_secs(5));

    let execution = bridge.execute(&market_order("cut-1", "EURUSD")).await.unwrap();

    assert!(matches!(execution, Execution::Filled { .. }), "{execution:?}");
    let lookups = fake.requests().iter().filter(|r| r.segments == ["orders", "cut-1"]).count();
    assert_eq!(lookups, 1);
}

#[tokio::test]
async fn an_order_whose_lookup_fails_too_is_unknown() {
    let fake = fake("UTC").await;
    fake.set_quote("EURUSD", dec!(1.1));
    fake.set_delay(Duration::from_secs(4));
    let bridge = client(&fake, Duration::from_secs(1));

    let err = bridge.execute(&market_order("late-2", "EURUSD")).await.unwrap_err();

    match &err {
        BrokerError::Unknown { detail } => {
            assert!(detail.contains("late-2") && detail.contains("reconcile"), "{detail}");
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(fake.requests().iter().filter(|r| r.method == "POST").count(), 1, "sent once, never resent");
    // The order did execute: once the bridge answers again, the lookup finds it.
    fake.set_delay(Duration::ZERO);
    let again = bridge.execute(&market_order("late-2", "EURUSD")).await.unwrap();
    assert!(matches!(again, Execution::Filled { .. }), "{again:?}");
}

#[tokio::test]
async fn health_account_and_positions_are_read() {
    let fake = fake("ny-close").await;
    fake.set_quote("EURUSD", dec!(1.1));
    let bridge = client(&fake, Duration::from_secs(5));
    let health = bridge.health().await.unwrap();
    assert!(health.terminal_connected);
    assert_eq!(health.server_utc_offset_seconds, health.configured_utc_offset_seconds);
    assert!((health.server_time_utc - Utc::now()).num_seconds().abs() < 60, "{health:?}");

    let account = bridge.account().await.unwrap();
    assert_eq!((account.currency.as_str(), account.leverage), ("USD", 100));

    bridge.execute(&market_order("pos-1", "EURUSD")).await.unwrap();
    let positions = bridge.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!((positions[0].side, positions[0].volume, positions[0].price_open), (Side::Buy, dec!(0.10), dec!(1.1)));
    assert_eq!(positions[0].client_order_id.as_deref(), Some("pos-1"));
}

/// A buffer the tracing subscriber writes into.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_reaches_debug_output_errors_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // With a single scoped subscriber alive, tracing decides whether a call site is enabled
    // from the default of the thread that reaches it first: another test's thread, which has
    // none, would turn off our call sites. A second live dispatcher makes it ask them all.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let fake = fake("+02:00").await;
    fake.set_quote("EURUSD", dec!(1.1));
    let settings = fake.settings(Duration::from_secs(1));
    let bridge = Mt5Bridge::new(settings.clone()).unwrap();
    let mut texts = vec![format!("{settings:?}"), format!("{bridge:?}"), format!("{:?}", settings.token)];
    texts.push(format!("{}", settings.token.clone().unwrap()));

    // Successes and every kind of failure, each with its message.
    bridge.health().await.unwrap();
    bridge.execute(&market_order("log-1", "EURUSD")).await.unwrap();
    let k = key("EURUSD", Timeframe::M1);
    let r = range("2025-09-01T10:00:00Z", "2025-09-01T11:00:00Z");
    texts.push(bridge.fetch(&key("ZZNOPX", Timeframe::M1), r).await.unwrap_err().to_string());
    fake.set_connected(false);
    texts.push(bridge.fetch(&k, r).await.unwrap_err().to_string());
    texts.push(bridge.execute(&market_order("log-2", "EURUSD")).await.unwrap_err().to_string());
    fake.set_connected(true);
    fake.set_delay(Duration::from_secs(4));
    texts.push(bridge.execute(&market_order("log-3", "EURUSD")).await.unwrap_err().to_string());
    texts.push(bridge.fetch(&k, r).await.unwrap_err().to_string());
    fake.set_delay(Duration::ZERO);
    let wrong =
        Mt5Bridge::new(Mt5BridgeSettings { token: Some(BridgeToken::new("other-token")), ..settings.clone() }).unwrap();
    texts.push(wrong.health().await.unwrap_err().to_string());
    texts.push(format!("{:?}", bridge.connection_status()));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("bridge request failed"), "the failures were logged: {logs}");
    assert!(logs.contains("hyper") || logs.contains("reqwest"), "the HTTP stack logged too: {logs}");
    assert!(!logs.contains(TOKEN), "token in the logs");
    for t in &texts {
        assert!(!t.contains(TOKEN), "token leaked: {t}");
    }
    assert!(texts[0].contains("***") && texts[1].contains("***"), "{texts:?}");
}

#[tokio::test]
async fn bad_settings_are_refused() {
    let base = Mt5BridgeSettings {
        url: "http://127.0.0.1:1".into(),
        token: Some(BridgeToken::new(TOKEN)),
        timeout: Duration::from_secs(1),
        server_tz: SourceTz::Utc,
    };
    for settings in [
        Mt5BridgeSettings { url: "ftp://host".into(), ..base.clone() },
        Mt5BridgeSettings { url: "not a url".into(), ..base.clone() },
        Mt5BridgeSettings { timeout: Duration::ZERO, ..base.clone() },
        Mt5BridgeSettings { token: Some(BridgeToken::new(format!("{TOKEN}\n"))), ..base.clone() },
    ] {
        let err = Mt5Bridge::new(settings).unwrap_err();
        assert!(matches!(err, Mt5BridgeError::Settings { .. }), "{err:?}");
        assert!(!err.to_string().contains(TOKEN), "{err}");
    }
}

#[tokio::test]
async fn resting_fills_are_polled_once_with_the_clients_cursor() {
    let fake = fake("+03:00").await;
    fake.set_quote("GBPUSD", dec!(1.3000));
    let bridge = client(&fake, Duration::from_secs(5));
    let spec = OrderSpec::new(
        ClientOrderId::new("poll-1").unwrap(),
        Symbol::new("GBPUSD").unwrap(),
        Side::Buy,
        OrderType::Limit,
        dec!(0.20),
        Some(dec!(1.2950)),
    );
    let mut order = Order::received(spec, Utc::now());
    order.transition(OrderStatus::Accepted, Utc::now()).unwrap();
    let Execution::Working { broker_order_id } = bridge.execute(&order).await.unwrap() else {
        panic!("a limit below the market rests")
    };
    assert!(bridge.poll_fills().await.unwrap().is_empty(), "nothing filled yet");

    fake.set_quote("GBPUSD", dec!(1.2940));
    let fills = bridge.poll_fills().await.unwrap();
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(
        (fills[0].client_order_id.as_str(), fills[0].broker_order_id.as_str()),
        ("poll-1", broker_order_id.as_str())
    );
    let Execution::Filled { quantity, price, at, .. } = &fills[0].execution else { panic!("a fill") };
    assert_eq!((*quantity, *price), (dec!(0.2), dec!(1.2940)));
    assert!((Utc::now() - *at).num_seconds().abs() < 60, "fill time converted from server time: {at}");
    // The same fill is what executing the order again returns.
    assert_eq!(bridge.execute(&order).await.unwrap(), fills[0].execution);

    assert!(bridge.poll_fills().await.unwrap().is_empty(), "the cursor moved past it");
    assert_eq!(bridge.fills_after(0).await.unwrap(), fills, "a replay from 0 returns it again");
}
