//! The order request: the versioned JSON message a strategy puts on the order queue
//! (`docs/order-request.md`, JSON Schema `docs/schemas/order-request-v1.json`).
//!
//! # Two kinds of refusal
//!
//! [`OrderRequest::parse`] refuses a message that does not follow the schema — not JSON, too
//! large, an unknown, missing or duplicate field, a value of the wrong type, an unsupported
//! `schema_version`, a `side`, `type`, symbol, client order id, decimal or timestamp that cannot
//! be read — as [`RequestError::Unparseable`]. Such a message cannot be turned into an order, so
//! no rejection can be recorded under its client order id: the processor moves it to the
//! dead-letter queue at once, with the reason.
//!
//! A message that follows the schema but breaks an order rule (quantity not > 0, prices
//! inconsistent with side and type, an unknown symbol) is refused by
//! [`OrderRequest::validate`] / [`OrderRequest::into_spec`] as [`RequestError::Invalid`]. Its
//! [`OrderRequest::spec`] is still a well-formed [`OrderSpec`], so the rejection is recorded on
//! the order and the client can see it.
//!
//! Decimals are read exactly: a JSON string (`"1.10"`) or a JSON number written out in full
//! (`1.10`) becomes the same [`Decimal`] with the same scale; no binary float is involved.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use thiserror::Error;

use crate::order::{ClientOrderId, OrderError, OrderSpec, OrderType, Side};
use crate::symbol::Symbol;

/// The schema version this code reads and writes.
pub const ORDER_REQUEST_SCHEMA_VERSION: u32 = 1;

/// The largest message accepted, in bytes (SQS allows 256 KiB; a valid request is < 1 KiB).
pub const MAX_ORDER_REQUEST_BYTES: usize = 16 * 1024;

/// Longest `strategy_id` / `signal_id`, in characters.
pub const MAX_TAG_CHARS: usize = 128;

/// Every field of schema version 1, in the order they are written.
pub const ORDER_REQUEST_FIELDS: [&str; 14] = [
    "schema_version",
    "client_order_id",
    "symbol",
    "side",
    "type",
    "quantity",
    "limit_price",
    "stop_price",
    "stop_loss",
    "take_profit",
    "trailing_stop_distance",
    "strategy_id",
    "signal_id",
    "submitted_at",
];

/// Why an order request was refused; names the field (when one is to blame) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The message does not follow the schema; no order can be built from it (dead-letter it).
    #[error("unparseable order request: {}", describe(.field.as_deref(), .reason))]
    Unparseable {
        /// The field to blame, when one is.
        field: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// The message follows the schema but the order breaks a rule (record the rejection).
    #[error("invalid order request: {}", describe(Some(.field), .reason))]
    Invalid {
        /// The field to blame.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn describe(field: Option<&str>, reason: &str) -> String {
    field.map_or_else(|| reason.to_string(), |f| format!("field \"{f}\": {reason}"))
}

impl RequestError {
    fn unparseable(field: Option<&str>, reason: impl Into<String>) -> Self {
        Self::Unparseable { field: field.map(str::to_string), reason: reason.into() }
    }

    fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_string(), reason: reason.into() }
    }

    /// True for [`RequestError::Unparseable`].
    #[must_use]
    pub const fn is_unparseable(&self) -> bool {
        matches!(self, Self::Unparseable { .. })
    }

    /// The field to blame, if any.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Unparseable { field, .. } => field.as_deref(),
            Self::Invalid { field, .. } => Some(field),
        }
    }

    /// What is wrong, without the field.
    #[must_use]
    pub fn reason(&self) -> &str {
        match self {
            Self::Unparseable { reason, .. } | Self::Invalid { reason, .. } => reason,
        }
    }
}

impl From<OrderError> for RequestError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid { field, detail } => Self::invalid(field, detail),
            other @ OrderError::InvalidTransition { .. } => Self::invalid("status", other.to_string()),
        }
    }
}

/// A parsed order request of schema version 1 (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    client_order_id: ClientOrderId,
    symbol: Symbol,
    side: Side,
    order_type: OrderType,
    quantity: Decimal,
    limit_price: Option<Decimal>,
    stop_price: Option<Decimal>,
    stop_loss: Option<Decimal>,
    take_profit: Option<Decimal>,
    trailing_stop_distance: Option<Decimal>,
    strategy_id: Option<String>,
    signal_id: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
}

impl OrderRequest {
    /// The request for `spec` (what `axia orders submit` sends), stamped `submitted_at`.
    #[must_use]
    pub fn new(spec: OrderSpec, submitted_at: Option<DateTime<Utc>>) -> Self {
        Self {
            client_order_id: spec.client_order_id,
            symbol: spec.symbol,
            side: spec.side,
            order_type: spec.order_type,
            quantity: spec.quantity,
            limit_price: spec.limit_price,
            stop_price: spec.stop_price,
            stop_loss: spec.stop_loss,
            take_profit: spec.take_profit,
            trailing_stop_distance: spec.trailing_stop_distance,
            strategy_id: spec.strategy_id,
            signal_id: spec.signal_id,
            submitted_at,
        }
    }

    /// Parses a message body.
    ///
    /// # Errors
    /// [`RequestError::Unparseable`] when the body does not follow schema version 1 (see the
    /// [module documentation](self)); order rules are checked later by [`Self::validate`].
    pub fn parse(body: &str) -> Result<Self, RequestError> {
        if body.len() > MAX_ORDER_REQUEST_BYTES {
            return Err(RequestError::unparseable(
                None,
                format!("the message is {} bytes, more than the limit of {MAX_ORDER_REQUEST_BYTES}", body.len()),
            ));
        }
        let fields = serde_json::from_str::<Fields>(body)
            .map_err(|e| RequestError::unparseable(None, format!("not a valid JSON object ({e})")))?;
        if let Some((name, _)) = fields.0.iter().find(|(name, _)| !ORDER_REQUEST_FIELDS.contains(&name.as_str())) {
            return Err(RequestError::unparseable(Some(name), "unknown field"));
        }
        let version: u32 = fields.required("schema_version", "a whole number", |raw| serde_json::from_str(raw).ok())?;
        if version != ORDER_REQUEST_SCHEMA_VERSION {
            return Err(RequestError::unparseable(
                Some("schema_version"),
                format!(
                    "version {version} is not supported (this processor reads version {ORDER_REQUEST_SCHEMA_VERSION})"
                ),
            ));
        }
        Ok(Self {
            client_order_id: fields.required_checked("client_order_id", |s| {
                ClientOrderId::new(s).map_err(|_| "must be 1-64 characters of A-Z a-z 0-9 - _ . :".to_string())
            })?,
            symbol: fields.required_checked("symbol", |s| Symbol::new(s).map_err(|e| e.to_string()))?,
            side: fields.required_checked("side", |s| match s {
                "buy" => Ok(Side::Buy),
                "sell" => Ok(Side::Sell),
                _ => Err(format!("{s:?} is not \"buy\" or \"sell\"")),
            })?,
            order_type: fields.required_checked("type", |s| match s {
                "market" => Ok(OrderType::Market),
                "limit" => Ok(OrderType::Limit),
                "stop" => Ok(OrderType::Stop),
                _ => Err(format!("{s:?} is not \"market\", \"limit\" or \"stop\"")),
            })?,
            quantity: fields.decimal("quantity")?.ok_or_else(|| missing("quantity"))?,
            limit_price: fields.decimal("limit_price")?,
            stop_price: fields.decimal("stop_price")?,
            stop_loss: fields.decimal("stop_loss")?,
            take_profit: fields.decimal("take_profit")?,
            trailing_stop_distance: fields.decimal("trailing_stop_distance")?,
            strategy_id: fields.optional("strategy_id", "a string", |raw| serde_json::from_str(raw).ok())?,
            signal_id: fields.optional("signal_id", "a string", |raw| serde_json::from_str(raw).ok())?,
            submitted_at: fields.optional("submitted_at", "an RFC 3339 timestamp string", |raw| {
                let text: String = serde_json::from_str(raw).ok()?;
                DateTime::parse_from_rfc3339(&text).ok().map(|t| t.with_timezone(&Utc))
            })?,
        })
    }

    /// The order the request asks for, before any rule is checked.
    #[must_use]
    pub fn spec(&self) -> OrderSpec {
        OrderSpec {
            client_order_id: self.client_order_id.clone(),
            symbol: self.symbol.clone(),
            side: self.side,
            order_type: self.order_type,
            quantity: self.quantity,
            limit_price: self.limit_price,
            stop_price: self.stop_price,
            stop_loss: self.stop_loss,
            take_profit: self.take_profit,
            trailing_stop_distance: self.trailing_stop_distance,
            strategy_id: self.strategy_id.clone(),
            signal_id: self.signal_id.clone(),
        }
    }

    /// Checks the order rules: the symbol is known (`is_known`), [`OrderSpec::validate`], and
    /// `strategy_id` / `signal_id` of 1–[`MAX_TAG_CHARS`] characters.
    ///
    /// # Errors
    /// [`RequestError::Invalid`] naming the first field that breaks a rule.
    pub fn validate(&self, is_known: &dyn Fn(&Symbol) -> bool) -> Result<(), RequestError> {
        if !is_known(&self.symbol) {
            return Err(RequestError::invalid("symbol", format!("{} is not a known symbol", self.symbol)));
        }
        self.spec().validate()?;
        for (field, value) in [("strategy_id", &self.strategy_id), ("signal_id", &self.signal_id)] {
            if let Some(v) = value
                && (v.trim().is_empty() || v.chars().count() > MAX_TAG_CHARS)
            {
                return Err(RequestError::invalid(field, format!("must be 1-{MAX_TAG_CHARS} characters, not blank")));
            }
        }
        Ok(())
    }

    /// [`Self::validate`], then the [`OrderSpec`].
    ///
    /// # Errors
    /// [`RequestError::Invalid`] as for [`Self::validate`].
    pub fn into_spec(self, is_known: &dyn Fn(&Symbol) -> bool) -> Result<OrderSpec, RequestError> {
        self.validate(is_known)?;
        Ok(self.spec())
    }

    /// [`Self::into_spec`] with the known symbols as a slice.
    ///
    /// # Errors
    /// [`RequestError::Invalid`] as for [`Self::validate`].
    pub fn into_spec_among(self, known: &[Symbol]) -> Result<OrderSpec, RequestError> {
        self.into_spec(&|s| known.contains(s))
    }

    /// The idempotency key.
    #[must_use]
    pub const fn client_order_id(&self) -> &ClientOrderId {
        &self.client_order_id
    }

    /// The instrument.
    #[must_use]
    pub const fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// When the client sent the request, if it said.
    #[must_use]
    pub const fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.submitted_at
    }

    /// The message body (schema version 1, decimals as strings, absent options omitted).
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing strings, decimals and timestamps into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl std::str::FromStr for OrderRequest {
    type Err = RequestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for OrderRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schema_version", &ORDER_REQUEST_SCHEMA_VERSION)?;
        map.serialize_entry("client_order_id", self.client_order_id.as_str())?;
        map.serialize_entry("symbol", self.symbol.as_str())?;
        map.serialize_entry("side", if self.side == Side::Buy { "buy" } else { "sell" })?;
        let ty = match self.order_type {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::Stop => "stop",
        };
        map.serialize_entry("type", ty)?;
        map.serialize_entry("quantity", &self.quantity.to_string())?;
        for (name, value) in [
            ("limit_price", self.limit_price),
            ("stop_price", self.stop_price),
            ("stop_loss", self.stop_loss),
            ("take_profit", self.take_profit),
            ("trailing_stop_distance", self.trailing_stop_distance),
        ] {
            if let Some(v) = value {
                map.serialize_entry(name, &v.to_string())?;
            }
        }
        for (name, value) in [("strategy_id", &self.strategy_id), ("signal_id", &self.signal_id)] {
            if let Some(v) = value {
                map.serialize_entry(name, v)?;
            }
        }
        if let Some(t) = self.submitted_at {
            map.serialize_entry("submitted_at", &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))?;
        }
        map.end()
    }
}

fn missing(field: &str) -> RequestError {
    RequestError::unparseable(Some(field), "missing")
}

/// The top-level object as (name, raw JSON value) pairs, refusing repeated names; read one
/// field at a time so that every error names its field.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    if out.iter().any(|(name, _)| *name == k) {
                        return Err(serde::de::Error::custom(format!("field \"{k}\" appears twice")));
                    }
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl Fields {
    /// The raw value of `name`; JSON `null` counts as absent.
    fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.get().trim()).filter(|v| *v != "null")
    }

    fn optional<T>(&self, name: &str, want: &str, read: impl Fn(&str) -> Option<T>) -> Result<Option<T>, RequestError> {
        self.raw(name)
            .map(|raw| read(raw).ok_or_else(|| RequestError::unparseable(Some(name), format!("{raw} is not {want}"))))
            .transpose()
    }

    fn required<T>(&self, name: &str, want: &str, read: impl Fn(&str) -> Option<T>) -> Result<T, RequestError> {
        self.optional(name, want, read)?.ok_or_else(|| missing(name))
    }

    /// A required string field turned into a domain value by `check`.
    fn required_checked<T>(&self, name: &str, check: impl Fn(&str) -> Result<T, String>) -> Result<T, RequestError> {
        let text: String = self.required(name, "a string", |raw| serde_json::from_str(raw).ok())?;
        check(&text).map_err(|reason| RequestError::unparseable(Some(name), reason))
    }

    /// A decimal given as a JSON string or number, read exactly.
    fn decimal(&self, name: &str) -> Result<Option<Decimal>, RequestError> {
        let Some(raw) = self.raw(name) else { return Ok(None) };
        let text = if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).unwrap_or_default()
        } else {
            raw.to_string()
        };
        parse_decimal(&text).map(Some).map_err(|reason| RequestError::unparseable(Some(name), reason))
    }
}

/// `-?digits(.digits)?` into an exact [`Decimal`]; no exponent, no rounding.
fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return Err(format!("{text:?} is not a decimal: write it as a string or number like \"1.0850\" (no exponent)"));
    }
    Decimal::from_str_exact(text).map_err(|e| format!("{text} cannot be held exactly ({e})"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rstest::rstest;
    use rust_decimal::dec;

    use super::*;

    const DOC: &str = include_str!("../../../docs/order-request.md");
    const SCHEMA: &str = include_str!("../../../docs/schemas/order-request-v1.json");

    fn known(s: &Symbol) -> bool {
        ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"].contains(&s.as_str())
    }

    fn market(extra: &str) -> String {
        format!(
            r#"{{"schema_version": 1, "client_order_id": "c-1", "symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "1"{extra}}}"#
        )
    }

    #[test]
    fn parses_a_full_request_exactly() {
        let body = r#"{"schema_version": 1, "client_order_id": "c-1", "symbol": "eurusd", "side": "sell",
            "type": "limit", "quantity": 1.10, "limit_price": "1.08500", "stop_loss": 1.0900,
            "take_profit": "1.0700", "trailing_stop_distance": 0.0020, "strategy_id": "s", "signal_id": "g",
            "submitted_at": "2025-09-01T14:00:00+02:00"}"#;
        let r = OrderRequest::parse(body).unwrap();
        let spec = r.clone().into_spec(&known).unwrap();
        assert_eq!(spec.symbol.as_str(), "EURUSD");
        assert_eq!(spec.side, Side::Sell);
        assert_eq!(spec.order_type, OrderType::Limit);
        assert_eq!(spec.quantity.to_string(), "1.10");
        assert_eq!(spec.limit_price.unwrap().to_string(), "1.08500");
        assert_eq!(spec.stop_loss, Some(dec!(1.0900)));
        assert_eq!(spec.trailing_stop_distance.unwrap().to_string(), "0.0020");
        assert_eq!(r.submitted_at(), Some(Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap()));
    }

    #[test]
    fn numbers_beyond_f64_precision_stay_exact() {
        let r = OrderRequest::parse(&market(r#", "stop_loss": 0.1234567890123456789012345678"#)).unwrap();
        assert_eq!(r.spec().stop_loss.unwrap().to_string(), "0.1234567890123456789012345678");
        let too_long = OrderRequest::parse(&market(r#", "stop_loss": 0.12345678901234567890123456789"#));
        assert!(matches!(too_long, Err(RequestError::Unparseable { field: Some(f), .. }) if f == "stop_loss"));
    }

    #[rstest]
    #[case::not_json("hello", None)]
    #[case::array("[1, 2]", None)]
    #[case::trailing(&format!("{} x", market("")), None)]
    #[case::duplicate(&market(r#", "quantity": "2""#), None)]
    #[case::unknown(&market(r#", "price": "1""#), Some("price"))]
    #[case::version_missing(
        r#"{"client_order_id": "c", "symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "1"}"#,
        Some("schema_version")
    )]
    #[case::version_string(&market("").replace("\"schema_version\": 1", "\"schema_version\": \"1\""), Some("schema_version"))]
    #[case::version_2(&market("").replace("\"schema_version\": 1", "\"schema_version\": 2"), Some("schema_version"))]
    #[case::side_case(&market("").replace("\"buy\"", "\"BUY\""), Some("side"))]
    #[case::type_unknown(&market("").replace("\"market\"", "\"ioc\""), Some("type"))]
    #[case::symbol_syntax(&market("").replace("EURUSD", "EUR USD"), Some("symbol"))]
    #[case::symbol_number(&market("").replace("\"EURUSD\"", "7"), Some("symbol"))]
    #[case::id_bad(&market("").replace("\"c-1\"", "\"c 1\""), Some("client_order_id"))]
    #[case::quantity_bool(&market("").replace("\"quantity\": \"1\"", "\"quantity\": true"), Some("quantity"))]
    #[case::quantity_exponent(&market("").replace("\"quantity\": \"1\"", "\"quantity\": 1e2"), Some("quantity"))]
    #[case::quantity_nan(&market("").replace("\"quantity\": \"1\"", "\"quantity\": \"NaN\""), Some("quantity"))]
    #[case::quantity_plus(&market("").replace("\"quantity\": \"1\"", "\"quantity\": \"+1\""), Some("quantity"))]
    #[case::quantity_underscore(&market("").replace("\"quantity\": \"1\"", "\"quantity\": \"1_000\""), Some("quantity"))]
    #[case::quantity_null(&market("").replace("\"quantity\": \"1\"", "\"quantity\": null"), Some("quantity"))]
    #[case::tag_number(&market(r#", "strategy_id": 5"#), Some("strategy_id"))]
    #[case::time_bad(&market(r#", "submitted_at": "yesterday""#), Some("submitted_at"))]
    fn refuses_what_does_not_follow_the_schema(#[case] body: &str, #[case] field: Option<&str>) {
        let err = OrderRequest::parse(body).unwrap_err();
        assert!(err.is_unparseable(), "{err}");
        assert_eq!(err.field(), field, "{err}");
    }

    #[test]
    fn refuses_oversized_messages_before_parsing() {
        let body = market(&format!(r#", "strategy_id": "{}""#, "x".repeat(MAX_ORDER_REQUEST_BYTES)));
        let err = OrderRequest::parse(&body).unwrap_err();
        assert!(err.is_unparseable() && err.field().is_none() && err.reason().contains("16384"), "{err}");
    }

    #[rstest]
    #[case::zero_quantity(r#""quantity": "1""#, r#""quantity": "0""#, "quantity")]
    #[case::negative_quantity(r#""quantity": "1""#, r#""quantity": -3"#, "quantity")]
    #[case::unknown_symbol("EURUSD", "AAPL", "symbol")]
    #[case::market_with_limit(r#""quantity": "1""#, r#""quantity": "1", "limit_price": "1.1""#, "type")]
    #[case::blank_tag(r#""quantity": "1""#, r#""quantity": "1", "signal_id": " ""#, "signal_id")]
    #[case::negative_sl(r#""quantity": "1""#, r#""quantity": "1", "stop_loss": "-1""#, "stop_loss")]
    fn refuses_orders_that_break_a_rule(#[case] from: &str, #[case] to: &str, #[case] field: &str) {
        let r = OrderRequest::parse(&market("").replace(from, to)).unwrap();
        let err = r.clone().into_spec(&known).unwrap_err();
        assert!(!err.is_unparseable());
        assert_eq!(err.field(), Some(field), "{err}");
        // The refused request is still a well-formed order, so the rejection can be recorded.
        assert_eq!(r.spec().client_order_id.as_str(), "c-1");
    }

    #[test]
    fn known_symbols_as_a_slice() {
        let r = OrderRequest::parse(&market("")).unwrap();
        assert!(r.clone().into_spec_among(&[Symbol::new("EURUSD").unwrap()]).is_ok());
        assert!(r.into_spec_among(&[]).is_err());
    }

    #[test]
    fn serializes_back_to_a_message_that_parses_to_the_same_request() {
        let r = OrderRequest::parse(
            r#"{"schema_version": 1, "client_order_id": "c-9", "symbol": "USDJPY", "side": "sell", "type": "stop",
            "quantity": 2.50, "stop_price": "149.800", "stop_loss": null, "submitted_at": "2025-09-01T12:00:00Z"}"#,
        )
        .unwrap();
        let json = r.to_json();
        assert_eq!(
            json,
            r#"{"schema_version":1,"client_order_id":"c-9","symbol":"USDJPY","side":"sell","type":"stop","quantity":"2.50","stop_price":"149.800","submitted_at":"2025-09-01T12:00:00Z"}"#
        );
        assert_eq!(OrderRequest::parse(&json).unwrap(), r);
        let from_spec = OrderRequest::new(r.spec(), r.submitted_at());
        assert_eq!(from_spec, r);
    }

    fn decimal_text() -> impl Strategy<Value = String> {
        (any::<bool>(), 0u64..10_000_000_000, 0u32..12).prop_map(|(neg, mantissa, scale)| {
            Decimal::new(i64::try_from(mantissa).unwrap_or(0) * if neg { -1 } else { 1 }, scale).to_string()
        })
    }

    proptest! {
        #[test]
        fn decimals_read_the_same_as_strings_and_numbers(text in decimal_text()) {
            let as_string = OrderRequest::parse(&market(&format!(r#", "stop_loss": "{text}""#))).unwrap();
            let as_number = OrderRequest::parse(&market(&format!(r#", "stop_loss": {text}"#))).unwrap();
            let want: Decimal = text.parse().unwrap();
            prop_assert_eq!(as_string.spec().stop_loss, Some(want));
            prop_assert_eq!(as_number.spec().stop_loss.map(|d| d.to_string()), Some(text));
            prop_assert_eq!(OrderRequest::parse(&as_number.to_json()).unwrap(), as_number);
        }
    }

    /// Every `json` block of the doc: plain ones are valid orders; `json unparseable` and
    /// `json invalid` ones give exactly the `Error:` line that follows them.
    #[test]
    fn the_documented_examples_behave_as_documented() {
        let mut lines = DOC.lines();
        let (mut valid, mut refused) = (0, 0);
        while let Some(line) = lines.next() {
            let Some(tag) = line.strip_prefix("```json") else { continue };
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            let result = OrderRequest::parse(&body.join("\n")).and_then(|r| r.into_spec(&known));
            match tag.trim() {
                "" => {
                    assert!(result.is_ok(), "{body:?}: {result:?}");
                    valid += 1;
                }
                kind => {
                    let err = result.expect_err(&body.join("\n"));
                    assert_eq!(err.is_unparseable(), kind == "unparseable", "{err}");
                    let expected =
                        lines.next().and_then(|l| l.strip_prefix("Error: `")).and_then(|l| l.strip_suffix('`'));
                    assert_eq!(Some(err.to_string().as_str()), expected);
                    refused += 1;
                }
            }
        }
        assert!(valid >= 3 && refused >= 10, "{valid} valid, {refused} refused examples");
    }

    #[test]
    fn the_json_schema_lists_the_same_fields() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        let mut props: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut fields = ORDER_REQUEST_FIELDS.to_vec();
        props.sort_unstable();
        fields.sort_unstable();
        assert_eq!(props, fields);
        assert_eq!(schema["additionalProperties"], serde_json::Value::Bool(false));
        let required: Vec<&str> = schema["required"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        assert_eq!(required, ["schema_version", "client_order_id", "symbol", "side", "type", "quantity"]);
    }
}
