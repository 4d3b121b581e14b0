//! The JSON of the bridge protocol (`docs/mt5-bridge.md`), as sent and received. Times are
//! server wall-clock times without an offset; converting them is the caller's job.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// How server times are written in requests.
const TIME_OUT: &str = "%Y-%m-%dT%H:%M:%S";

/// A server time as the protocol writes it: `2025-09-01T10:00:00`.
pub(crate) fn format_server_time(t: NaiveDateTime) -> String {
    t.format(TIME_OUT).to_string()
}

/// Reads `2025-09-01T10:00:00`, with optional fractional seconds (`.123`); a space instead of
/// the `T` is accepted. An offset or `Z` is refused: the protocol's times are server times.
pub(crate) fn parse_server_time(text: &str) -> Result<NaiveDateTime, String> {
    let normalized = text.replacen(' ', "T", 1);
    NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| format!("time {text:?} is not a server time such as 2025-09-01T10:00:00 (no offset)"))
}

/// `{"error":{"code":..,"message":..,"retcode":..}}`
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

/// The body of an error answer.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorDetail {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub retcode: Option<i64>,
}

/// `GET /health`
#[derive(Debug, Deserialize)]
pub(crate) struct HealthWire {
    pub status: String,
    pub terminal_connected: bool,
    #[serde(default)]
    pub server: String,
    pub server_time: String,
    pub server_utc_offset_seconds: i64,
}

/// `GET /bars`
#[derive(Debug, Deserialize)]
pub(crate) struct BarsWire {
    pub symbol: String,
    pub timeframe: String,
    pub bars: Vec<BarWire>,
}

/// One bar of `GET /bars`.
#[derive(Debug, Deserialize)]
pub(crate) struct BarWire {
    pub time: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub tick_volume: u64,
    #[serde(default)]
    pub real_volume: Option<u64>,
    #[serde(default)]
    pub spread: Option<u32>,
}

/// `POST /orders`
#[derive(Debug, Serialize)]
pub(crate) struct OrderRequestWire {
    pub client_order_id: String,
    pub symbol: String,
    pub side: &'static str,
    #[serde(rename = "type")]
    pub order_type: &'static str,
    pub volume: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tp: Option<String>,
}

/// The answer of `POST /orders` and `GET /orders/{client_order_id}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub(crate) enum OrderResultWire {
    Filled {
        #[serde(deserialize_with = "id")]
        ticket: String,
        #[serde(deserialize_with = "id")]
        fill_id: String,
        #[serde(deserialize_with = "decimal")]
        volume: Decimal,
        #[serde(deserialize_with = "decimal")]
        price: Decimal,
        time: String,
    },
    Placed {
        #[serde(deserialize_with = "id")]
        ticket: String,
    },
    Cancelled {
        #[serde(deserialize_with = "id")]
        ticket: String,
    },
}

/// `GET /fills?after=`
#[derive(Debug, Deserialize)]
pub(crate) struct FillsWire {
    pub fills: Vec<FillWire>,
}

/// One fill of a resting order.
#[derive(Debug, Deserialize)]
pub(crate) struct FillWire {
    pub seq: u64,
    pub client_order_id: String,
    #[serde(deserialize_with = "id")]
    pub ticket: String,
    #[serde(deserialize_with = "id")]
    pub fill_id: String,
    #[serde(deserialize_with = "decimal")]
    pub volume: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
    pub time: String,
}

/// `GET /account`
#[derive(Debug, Deserialize)]
pub(crate) struct AccountWire {
    #[serde(default, deserialize_with = "opt_id")]
    pub login: Option<String>,
    pub currency: String,
    #[serde(deserialize_with = "decimal")]
    pub balance: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub equity: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub margin: Decimal,
    #[serde(default, deserialize_with = "opt_decimal")]
    pub free_margin: Option<Decimal>,
    pub leverage: u32,
}

/// `GET /positions`
#[derive(Debug, Deserialize)]
pub(crate) struct PositionsWire {
    pub positions: Vec<PositionWire>,
}

/// One open position.
#[derive(Debug, Deserialize)]
pub(crate) struct PositionWire {
    #[serde(deserialize_with = "id")]
    pub ticket: String,
    pub symbol: String,
    pub side: String,
    #[serde(deserialize_with = "decimal")]
    pub volume: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub price_open: Decimal,
    #[serde(default, deserialize_with = "opt_decimal")]
    pub sl: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    pub tp: Option<Decimal>,
    pub time: String,
    #[serde(default, deserialize_with = "opt_decimal")]
    pub profit: Option<Decimal>,
    #[serde(default)]
    pub client_order_id: Option<String>,
}

/// A JSON string or number as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(serde_json::Number),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Self::Text(s) => s,
            Self::Number(n) => n.to_string(),
        }
    }
}

/// A decimal written as a string (`"1.10"`, preferred) or a JSON number (`1.1`, read through its
/// shortest text, so `1.1` is exactly 1.1).
fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let text = Scalar::deserialize(d)?.text();
    text.trim().parse::<Decimal>().map_err(|_| de::Error::custom(format!("{text:?} is not a decimal number")))
}

fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    Option::<Scalar>::deserialize(d)?
        .map(|s| {
            let text = s.text();
            text.trim().parse::<Decimal>().map_err(|_| de::Error::custom(format!("{text:?} is not a decimal number")))
        })
        .transpose()
}

/// An id (ticket) written as a number or a string.
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = Scalar::deserialize(d)?.text();
    if text.is_empty() { Err(de::Error::custom("an empty id")) } else { Ok(text) }
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(Scalar::text))
}
