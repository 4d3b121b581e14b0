use std::time::Duration;

use axia_domain::TimeRange;
use axia_domain::ports::{BrokerError, SourceError};
use chrono::{DateTime, Utc};
use rstest::rstest;
use rust_decimal::{Decimal, dec};

use super::error::Mt5BridgeError;
use super::token::scrub;
use super::wire::{self, BarWire, OrderResultWire};
use super::*;

const TOKEN: &str = "tok-123-secret";

fn refused(status: u16, code: &str) -> Mt5BridgeError {
    Mt5BridgeError::Refused {
        status,
        code: code.into(),
        message: format!("{code} says the bridge"),
        retcode: Some(10006),
    }
}

fn settings() -> Mt5BridgeSettings {
    Mt5BridgeSettings {
        url: "http://127.0.0.1:8787".into(),
        token: Some(BridgeToken::new(TOKEN)),
        timeout: Duration::from_secs(5),
        server_tz: SourceTz::Utc,
    }
}

#[rstest]
#[case::unknown_symbol(refused(404, "unknown_symbol"), "unknown_symbol")]
#[case::refused(refused(400, "invalid_request"), "unsupported")]
#[case::unauthorized(Mt5BridgeError::Unauthorized { detail: "no".into() }, "unsupported")]
#[case::disconnected(Mt5BridgeError::Disconnected { code: "terminal_disconnected".into(), message: "m".into() }, "unavailable")]
#[case::unreachable(Mt5BridgeError::Unreachable { detail: "refused".into() }, "unavailable")]
#[case::timeout(Mt5BridgeError::Timeout { timeout_ms: 5, detail: "slow".into() }, "unavailable")]
#[case::server(Mt5BridgeError::Server { status: 500, code: "internal".into(), message: "m".into() }, "unavailable")]
#[case::invalid(Mt5BridgeError::InvalidResponse { detail: "bad json".into() }, "invalid")]
fn bridge_errors_map_to_source_errors(#[case] e: Mt5BridgeError, #[case] want: &str) {
    let got = match e.into_source_error("EURUSD") {
        SourceError::UnknownSymbol { symbol, .. } => {
            assert_eq!(symbol, "EURUSD");
            "unknown_symbol"
        }
        SourceError::Unsupported { .. } => "unsupported",
        SourceError::Unavailable { .. } => "unavailable",
        SourceError::InvalidResponse { .. } => "invalid",
    };
    assert_eq!(got, want);
}

#[rstest]
#[case::rejected(refused(422, "rejected"), Some("rejected"), false)]
#[case::market_closed(refused(422, "market_closed"), Some("rejected"), false)]
#[case::unauthorized(Mt5BridgeError::Unauthorized { detail: "no".into() }, Some("rejected"), false)]
#[case::disconnected(Mt5BridgeError::Disconnected { code: "c".into(), message: "m".into() }, Some("unavailable"), false)]
#[case::unreachable(Mt5BridgeError::Unreachable { detail: "refused".into() }, Some("unavailable"), false)]
#[case::timeout(Mt5BridgeError::Timeout { timeout_ms: 5, detail: "slow".into() }, None, true)]
#[case::cut(Mt5BridgeError::Transport { detail: "reset".into() }, None, true)]
#[case::server(Mt5BridgeError::Server { status: 502, code: "trade_timeout".into(), message: "m".into() }, None, true)]
#[case::invalid(Mt5BridgeError::InvalidResponse { detail: "bad json".into() }, None, true)]
fn order_failures_are_rejected_unavailable_or_looked_up(
    #[case] e: Mt5BridgeError,
    #[case] not_executed: Option<&str>,
    #[case] look_up: bool,
) {
    assert_eq!(e.may_have_executed(), look_up);
    if let Some(want) = not_executed {
        let got = match e.into_not_executed("EURUSD") {
            BrokerError::Rejected { reason } => {
                assert!(reason.starts_with("EURUSD: "), "{reason}");
                "rejected"
            }
            BrokerError::Unavailable { .. } => "unavailable",
            BrokerError::Unknown { .. } => "unknown",
        };
        assert_eq!(got, want);
    }
}

#[test]
fn a_rejection_carries_the_code_and_retcode() {
    let BrokerError::Rejected { reason } = refused(422, "rejected").into_not_executed("EURUSD") else {
        panic!("rejected expected")
    };
    assert_eq!(reason, "EURUSD: rejected says the bridge (rejected, retcode 10006)");
}

#[rstest]
#[case::seconds("2025-09-01T10:00:00", "2025-09-01T10:00:00")]
#[case::millis("2025-09-01T10:00:00.250", "2025-09-01T10:00:00")]
#[case::space("2025-09-01 10:00:00", "2025-09-01T10:00:00")]
fn server_times_are_read(#[case] text: &str, #[case] formatted: &str) {
    let t = wire::parse_server_time(text).unwrap();
    assert_eq!(wire::format_server_time(t), formatted);
}

#[rstest]
#[case::utc_suffix("2025-09-01T10:00:00Z")]
#[case::offset("2025-09-01T10:00:00+03:00")]
#[case::date_only("2025-09-01")]
#[case::garbage("soon")]
fn server_times_with_an_offset_or_garbage_are_refused(#[case] text: &str) {
    let e = wire::parse_server_time(text).unwrap_err();
    assert!(e.contains(text), "{e}");
}

#[rstest]
#[case::string(r#"{"status":"filled","ticket":1,"fill_id":"2","volume":"0.10","price":"1.10000","time":"2025-09-01T10:00:00"}"#, dec!(1.1))]
#[case::number(r#"{"status":"filled","ticket":"1","fill_id":2,"volume":0.1,"price":1.1,"time":"2025-09-01T10:00:00"}"#, dec!(1.1))]
fn order_results_read_decimals_from_strings_or_numbers(#[case] json: &str, #[case] price_want: Decimal) {
    let OrderResultWire::Filled { ticket, fill_id, volume, price, .. } = serde_json::from_str(json).unwrap() else {
        panic!("filled expected")
    };
    assert_eq!((ticket.as_str(), fill_id.as_str(), volume, price), ("1", "2", dec!(0.1), price_want));
}

#[rstest]
#[case::placed(r#"{"status":"placed","ticket":77}"#, true)]
#[case::unknown_status(r#"{"status":"maybe","ticket":77}"#, false)]
#[case::bad_price(r#"{"status":"filled","ticket":1,"fill_id":2,"volume":"x","price":"1","time":"t"}"#, false)]
fn order_results_follow_the_protocol(#[case] json: &str, #[case] ok: bool) {
    assert_eq!(serde_json::from_str::<OrderResultWire>(json).is_ok(), ok, "{json}");
}

fn bar(time: &str, high: f64) -> BarWire {
    BarWire {
        time: time.into(),
        open: 1.1,
        high,
        low: 1.09,
        close: 1.1,
        tick_volume: 5,
        real_volume: None,
        spread: Some(2),
    }
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[test]
fn bars_are_converted_to_utc_and_kept_within_the_range() {
    let tz: SourceTz = "+03:00".parse().unwrap();
    let range = TimeRange::new(utc("2025-09-01T07:00:00Z"), utc("2025-09-01T07:02:00Z")).unwrap();
    let wire = [bar("2025-09-01T10:00:00", 1.11), bar("2025-09-01T10:01:00", 1.11), bar("2025-09-01T10:02:00", 1.11)];
    let bars = source::to_bars(&wire, tz, range).unwrap();
    let times: Vec<_> = bars.iter().map(|b| b.open_time()).collect();
    assert_eq!(times, [utc("2025-09-01T07:00:00Z"), utc("2025-09-01T07:01:00Z")], "the end is exclusive");
    assert_eq!(bars[0].spread(), Some(2));
}

#[test]
fn a_bad_bar_is_named_by_index_and_server_time() {
    let range = TimeRange::new(utc("2025-09-01T00:00:00Z"), utc("2025-09-02T00:00:00Z")).unwrap();
    let wire = [bar("2025-09-01T10:00:00", 1.11), bar("2025-09-01T10:01:00", 1.0)];
    let e = source::to_bars(&wire, SourceTz::Utc, range).unwrap_err();
    assert!(e.starts_with("bar 1 at 2025-09-01T10:01:00 server time (UTC): "), "{e}");
}

#[test]
fn the_token_prints_as_stars_and_is_scrubbed_from_messages() {
    let token = BridgeToken::new(TOKEN);
    assert_eq!(format!("{token:?} {token}"), "*** ***");
    assert_eq!(scrub(&format!("echo Bearer {TOKEN}!"), Some(&token)), "echo Bearer ***!");
    assert_eq!(scrub("nothing", None), "nothing");
    let s = settings();
    assert!(!format!("{s:?}").contains(TOKEN));
    let client = Mt5Bridge::new(s).unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains(TOKEN) && debug.contains("***"), "{debug}");
}

#[rstest]
#[case::scheme(Mt5BridgeSettings { url: "ftp://h".into(), ..settings() })]
#[case::query(Mt5BridgeSettings { url: "http://h/?a=1".into(), ..settings() })]
#[case::not_a_url(Mt5BridgeSettings { url: "h:::".into(), ..settings() })]
#[case::zero_timeout(Mt5BridgeSettings { timeout: Duration::ZERO, ..settings() })]
#[case::header_breaking_token(Mt5BridgeSettings { token: Some(BridgeToken::new(format!("{TOKEN}\r\nX: y"))), ..settings() })]
fn unusable_settings_are_refused(#[case] s: Mt5BridgeSettings) {
    let e = Mt5Bridge::new(s).unwrap_err();
    assert!(matches!(e, Mt5BridgeError::Settings { .. }), "{e:?}");
    assert!(!e.to_string().contains(TOKEN), "{e}");
}

#[test]
fn the_status_starts_unknown_and_follows_requests() {
    let client = Mt5Bridge::new(settings()).unwrap();
    assert_eq!(client.connection_status(), ConnectionStatus::default());
    client.http.status.record(Err("down"));
    let down = client.connection_status();
    assert!(!down.connected && down.last_change.is_some());
    client.http.status.record(Ok(()));
    let up = client.connection_status();
    assert!(up.connected);
    assert_eq!(up.last_error.as_deref(), Some("down"), "the last error stays readable");
}
