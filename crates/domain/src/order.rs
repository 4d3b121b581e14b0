//! Orders: the request a strategy makes, and its life cycle.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::symbol::Symbol;

/// The idempotency key of an order, chosen by the client: 1–64 characters of `A-Z a-z 0-9 - _ . :`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOrderId(String);

impl ClientOrderId {
    /// Validates a client order id.
    ///
    /// # Errors
    /// [`OrderError::Invalid`] when empty, longer than 64 characters or with other characters.
    pub fn new(raw: &str) -> Result<Self, OrderError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(ok_char) {
            return Err(OrderError::Invalid {
                field: "client_order_id",
                detail: format!("{raw:?} must be 1-64 characters of A-Z a-z 0-9 - _ . :"),
            });
        }
        Ok(Self(raw.to_string()))
    }

    /// The id text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ClientOrderId {
    type Error = OrderError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<ClientOrderId> for String {
    fn from(value: ClientOrderId) -> Self {
        value.0
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Buy (go long, or reduce a short).
    Buy,
    /// Sell (go short, or reduce a long).
    Sell,
}

impl Side {
    /// The other side.
    #[must_use]
    pub const fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }

    /// `+1` for buy, `-1` for sell.
    #[must_use]
    pub fn sign(self) -> Decimal {
        match self {
            Self::Buy => Decimal::ONE,
            Self::Sell => Decimal::NEGATIVE_ONE,
        }
    }

    /// `BUY` / `SELL`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "BUY",
            Self::Sell => "SELL",
        }
    }
}

impl std::str::FromStr for Side {
    type Err = OrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "buy" | "long" => Ok(Self::Buy),
            "sell" | "short" => Ok(Self::Sell),
            _ => Err(OrderError::Invalid { field: "side", detail: format!("{s:?} is not buy or sell") }),
        }
    }
}

/// How an order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderType {
    /// At the best available price now.
    Market,
    /// At the limit price or better.
    Limit,
    /// Becomes a market order when the stop price trades.
    Stop,
}

impl std::str::FromStr for OrderType {
    type Err = OrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "market" => Ok(Self::Market),
            "limit" => Ok(Self::Limit),
            "stop" => Ok(Self::Stop),
            _ => Err(OrderError::Invalid { field: "type", detail: format!("{s:?} is not market, limit or stop") }),
        }
    }
}

/// Where an order is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Taken from the queue, not yet checked.
    Received,
    /// Passed validation and the kill switch; sent to the broker.
    Accepted,
    /// Completely filled.
    Filled,
    /// Part of the quantity filled; more may follow.
    PartiallyFilled,
    /// Refused (validation, kill switch or broker); final.
    Rejected,
    /// Cancelled before completion; final.
    Cancelled,
    /// Expired before completion; final.
    Expired,
}

impl OrderStatus {
    /// True for statuses no transition leaves.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Filled | Self::Rejected | Self::Cancelled | Self::Expired)
    }

    /// Whether the life cycle allows `self → to`.
    #[must_use]
    pub const fn can_become(self, to: Self) -> bool {
        use OrderStatus::{Accepted, Cancelled, Expired, Filled, PartiallyFilled, Received, Rejected};
        matches!(
            (self, to),
            (Received, Accepted | Rejected)
                | (Accepted, Filled | PartiallyFilled | Rejected | Cancelled | Expired)
                | (PartiallyFilled, PartiallyFilled | Filled | Cancelled | Expired)
        )
    }

    /// The snake-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Accepted => "accepted",
            Self::Filled => "filled",
            Self::PartiallyFilled => "partially_filled",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = OrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            Self::Received,
            Self::Accepted,
            Self::Filled,
            Self::PartiallyFilled,
            Self::Rejected,
            Self::Cancelled,
            Self::Expired,
        ];
        let wanted = s.trim().to_ascii_lowercase();
        all.into_iter()
            .find(|st| st.as_str() == wanted)
            .ok_or_else(|| OrderError::Invalid { field: "status", detail: format!("{s:?} is not an order status") })
    }
}

/// Why an order or an order change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderError {
    /// A field breaks a rule.
    #[error("invalid order {field}: {detail}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A status change the life cycle does not allow.
    #[error("order {id}: cannot go from {from} to {to}")]
    InvalidTransition {
        /// The order.
        id: String,
        /// Current status.
        from: OrderStatus,
        /// Requested status.
        to: OrderStatus,
    },
}

/// What a client asks for; validated by [`OrderSpec::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSpec {
    /// The idempotency key.
    pub client_order_id: ClientOrderId,
    /// Instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit or stop.
    pub order_type: OrderType,
    /// Quantity (lots or units), > 0.
    pub quantity: Decimal,
    /// Limit price (limit orders only).
    pub limit_price: Option<Decimal>,
    /// Stop trigger price (stop orders only).
    pub stop_price: Option<Decimal>,
    /// Protective stop loss price.
    pub stop_loss: Option<Decimal>,
    /// Take profit price.
    pub take_profit: Option<Decimal>,
    /// Trailing stop distance in price units.
    pub trailing_stop_distance: Option<Decimal>,
    /// Strategy that produced the order.
    pub strategy_id: Option<String>,
    /// Signal that produced the order.
    pub signal_id: Option<String>,
}

impl OrderSpec {
    /// An order with no protective prices, strategy or signal. `price` is the limit price of a
    /// limit order and the stop price of a stop order; a market order takes none (one given is
    /// kept as a limit price, which [`Self::validate`] refuses).
    #[must_use]
    pub const fn new(
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        price: Option<Decimal>,
    ) -> Self {
        let (limit_price, stop_price) = match order_type {
            OrderType::Market | OrderType::Limit => (price, None),
            OrderType::Stop => (None, price),
        };
        Self {
            client_order_id,
            symbol,
            side,
            order_type,
            quantity,
            limit_price,
            stop_price,
            stop_loss: None,
            take_profit: None,
            trailing_stop_distance: None,
            strategy_id: None,
            signal_id: None,
        }
    }

    /// Checks the order on its own (no market price): quantity > 0, prices positive, a limit
    /// price exactly for limit orders and a stop price exactly for stop orders, stop loss and
    /// take profit on the correct side of the entry price (or of each other for market orders).
    ///
    /// # Errors
    /// [`OrderError::Invalid`] naming the first field that breaks a rule.
    pub fn validate(&self) -> Result<(), OrderError> {
        let invalid = |field, detail: String| Err(OrderError::Invalid { field, detail });
        if self.quantity <= Decimal::ZERO {
            return invalid("quantity", format!("{} must be greater than 0", self.quantity));
        }
        for (field, value) in [
            ("limit_price", self.limit_price),
            ("stop_price", self.stop_price),
            ("stop_loss", self.stop_loss),
            ("take_profit", self.take_profit),
            ("trailing_stop_distance", self.trailing_stop_distance),
        ] {
            if let Some(v) = value
                && v <= Decimal::ZERO
            {
                return invalid(field, format!("{v} must be greater than 0"));
            }
        }
        match (self.order_type, self.limit_price, self.stop_price) {
            (OrderType::Market, None, None) | (OrderType::Limit, Some(_), None) | (OrderType::Stop, None, Some(_)) => {}
            (OrderType::Market, ..) => {
                return invalid("type", "a market order takes no limit or stop price".into());
            }
            (OrderType::Limit, None, _) => {
                return invalid("limit_price", "a limit order needs a limit price".into());
            }
            (OrderType::Limit, Some(_), Some(_)) => {
                return invalid("stop_price", "a limit order takes no stop price".into());
            }
            (OrderType::Stop, _, None) => {
                return invalid("stop_price", "a stop order needs a stop price".into());
            }
            (OrderType::Stop, Some(_), Some(_)) => {
                return invalid("limit_price", "a stop order takes no limit price".into());
            }
        }
        let entry = self.limit_price.or(self.stop_price);
        let sign = self.side.sign();
        // For a buy the stop loss lies below and the take profit above the entry; mirrored for a sell.
        if let (Some(entry), Some(sl)) = (entry, self.stop_loss)
            && (entry - sl) * sign <= Decimal::ZERO
        {
            let want = if self.side == Side::Buy { "below" } else { "above" };
            return invalid("stop_loss", format!("{sl} must be {want} the entry price {entry}"));
        }
        if let (Some(entry), Some(tp)) = (entry, self.take_profit)
            && (tp - entry) * sign <= Decimal::ZERO
        {
            let want = if self.side == Side::Buy { "above" } else { "below" };
            return invalid("take_profit", format!("{tp} must be {want} the entry price {entry}"));
        }
        if let (Some(sl), Some(tp)) = (self.stop_loss, self.take_profit)
            && (tp - sl) * sign <= Decimal::ZERO
        {
            return invalid(
                "take_profit",
                format!("{tp} and stop loss {sl} are on the wrong sides for a {} order", self.side.as_str()),
            );
        }
        Ok(())
    }
}

/// An order with its life-cycle state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    spec: OrderSpec,
    status: OrderStatus,
    filled_quantity: Decimal,
    average_fill_price: Option<Decimal>,
    reason: Option<String>,
    position_id: Option<String>,
    version: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Order {
    /// A new order in status `Received`, version 0 (not yet stored).
    #[must_use]
    pub fn received(spec: OrderSpec, now: DateTime<Utc>) -> Self {
        Self {
            spec,
            status: OrderStatus::Received,
            filled_quantity: Decimal::ZERO,
            average_fill_price: None,
            reason: None,
            position_id: None,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The client's request.
    #[must_use]
    pub const fn spec(&self) -> &OrderSpec {
        &self.spec
    }
    /// The idempotency key.
    #[must_use]
    pub const fn client_order_id(&self) -> &ClientOrderId {
        &self.spec.client_order_id
    }
    /// Current status.
    #[must_use]
    pub const fn status(&self) -> OrderStatus {
        self.status
    }
    /// Quantity filled so far.
    #[must_use]
    pub const fn filled_quantity(&self) -> Decimal {
        self.filled_quantity
    }
    /// Volume-weighted fill price so far.
    #[must_use]
    pub const fn average_fill_price(&self) -> Option<Decimal> {
        self.average_fill_price
    }
    /// Why the order was rejected, cancelled or expired.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// The position the order opened or changed.
    #[must_use]
    pub fn position_id(&self) -> Option<&str> {
        self.position_id.as_deref()
    }
    /// Optimistic-locking version (0 before the first store).
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.version
    }
    /// When the order was received.
    #[must_use]
    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When the order last changed.
    #[must_use]
    pub const fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Moves the order to `to`.
    ///
    /// # Errors
    /// [`OrderError::InvalidTransition`] when the life cycle forbids it.
    pub fn transition(&mut self, to: OrderStatus, now: DateTime<Utc>) -> Result<(), OrderError> {
        if !self.status.can_become(to) {
            return Err(OrderError::InvalidTransition {
                id: self.spec.client_order_id.to_string(),
                from: self.status,
                to,
            });
        }
        self.status = to;
        self.updated_at = now;
        Ok(())
    }

    /// Rejects the order with a reason.
    ///
    /// # Errors
    /// [`OrderError::InvalidTransition`] when the order is already final or filling.
    pub fn reject(&mut self, reason: impl Into<String>, now: DateTime<Utc>) -> Result<(), OrderError> {
        self.transition(OrderStatus::Rejected, now)?;
        self.reason = Some(reason.into());
        Ok(())
    }

    /// Records a fill of `quantity` at `price`; the status becomes `Filled` when the whole
    /// quantity is done, `PartiallyFilled` otherwise.
    ///
    /// # Errors
    /// [`OrderError::Invalid`] for a non-positive or over-filling quantity,
    /// [`OrderError::InvalidTransition`] when the order cannot fill in its status.
    pub fn fill(&mut self, quantity: Decimal, price: Decimal, now: DateTime<Utc>) -> Result<(), OrderError> {
        let remaining = self.spec.quantity - self.filled_quantity;
        if quantity <= Decimal::ZERO || quantity > remaining {
            return Err(OrderError::Invalid {
                field: "fill quantity",
                detail: format!("{quantity} is not within (0, {remaining}]"),
            });
        }
        if price <= Decimal::ZERO {
            return Err(OrderError::Invalid { field: "fill price", detail: format!("{price} must be > 0") });
        }
        let next = if quantity == remaining { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
        self.transition(next, now)?;
        let notional = self.average_fill_price.unwrap_or_default() * self.filled_quantity + price * quantity;
        self.filled_quantity += quantity;
        self.average_fill_price = Some(notional / self.filled_quantity);
        Ok(())
    }

    /// Links the order to the position it opened or changed.
    pub fn set_position_id(&mut self, position_id: impl Into<String>) {
        self.position_id = Some(position_id.into());
    }

    /// The same order carrying `version`; repositories call this after a successful write.
    #[must_use]
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Rebuilds an order from storage, without re-running the life cycle.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub const fn restore(
        spec: OrderSpec,
        status: OrderStatus,
        filled_quantity: Decimal,
        average_fill_price: Option<Decimal>,
        reason: Option<String>,
        position_id: Option<String>,
        version: u64,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self { spec, status, filled_quantity, average_fill_price, reason, position_id, version, created_at, updated_at }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;
    use rust_decimal::dec;

    use super::*;

    fn spec(side: Side, ty: OrderType) -> OrderSpec {
        OrderSpec::new(ClientOrderId::new("c-1").unwrap(), Symbol::new("EURUSD").unwrap(), side, ty, dec!(1), None)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn client_order_id_rules() {
        assert!(ClientOrderId::new("abc-123_x.y:z").is_ok());
        assert!(ClientOrderId::new("").is_err());
        assert!(ClientOrderId::new("has space").is_err());
        assert!(ClientOrderId::new(&"x".repeat(65)).is_err());
    }

    #[rstest]
    #[case(OrderStatus::Received, OrderStatus::Accepted, true)]
    #[case(OrderStatus::Received, OrderStatus::Rejected, true)]
    #[case(OrderStatus::Received, OrderStatus::Filled, false)]
    #[case(OrderStatus::Accepted, OrderStatus::Filled, true)]
    #[case(OrderStatus::Accepted, OrderStatus::Received, false)]
    #[case(OrderStatus::PartiallyFilled, OrderStatus::Filled, true)]
    #[case(OrderStatus::Filled, OrderStatus::Cancelled, false)]
    #[case(OrderStatus::Rejected, OrderStatus::Accepted, false)]
    fn life_cycle(#[case] from: OrderStatus, #[case] to: OrderStatus, #[case] ok: bool) {
        assert_eq!(from.can_become(to), ok);
    }

    #[test]
    fn fills_accumulate_to_filled() {
        let mut o = Order::received(OrderSpec { quantity: dec!(3), ..spec(Side::Buy, OrderType::Market) }, now());
        o.transition(OrderStatus::Accepted, now()).unwrap();
        o.fill(dec!(1), dec!(1.1), now()).unwrap();
        assert_eq!(o.status(), OrderStatus::PartiallyFilled);
        o.fill(dec!(2), dec!(1.4), now()).unwrap();
        assert_eq!(o.status(), OrderStatus::Filled);
        assert_eq!(o.average_fill_price(), Some(dec!(1.3)));
        assert!(o.fill(dec!(1), dec!(1), now()).is_err());
        assert!(o.transition(OrderStatus::Cancelled, now()).is_err());
    }

    #[test]
    fn cannot_fill_before_acceptance() {
        let mut o = Order::received(spec(Side::Buy, OrderType::Market), now());
        assert!(matches!(o.fill(dec!(1), dec!(1), now()), Err(OrderError::InvalidTransition { .. })));
    }

    #[rstest]
    #[case::market_ok(Side::Buy, OrderType::Market, None, None, Some(dec!(1.0)), Some(dec!(1.2)), true)]
    #[case::market_sl_above_tp(Side::Buy, OrderType::Market, None, None, Some(dec!(1.2)), Some(dec!(1.0)), false)]
    #[case::limit_needs_price(Side::Buy, OrderType::Limit, None, None, None, None, false)]
    #[case::limit_ok(Side::Sell, OrderType::Limit, Some(dec!(1.1)), None, Some(dec!(1.2)), Some(dec!(1.0)), true)]
    #[case::sell_sl_below(Side::Sell, OrderType::Limit, Some(dec!(1.1)), None, Some(dec!(1.0)), None, false)]
    #[case::buy_tp_below(Side::Buy, OrderType::Stop, None, Some(dec!(1.1)), None, Some(dec!(1.0)), false)]
    #[case::market_with_limit(Side::Buy, OrderType::Market, Some(dec!(1.1)), None, None, None, false)]
    #[case::stop_ok(Side::Buy, OrderType::Stop, None, Some(dec!(1.1)), Some(dec!(1.05)), Some(dec!(1.2)), true)]
    fn validation(
        #[case] side: Side,
        #[case] ty: OrderType,
        #[case] limit: Option<Decimal>,
        #[case] stop: Option<Decimal>,
        #[case] sl: Option<Decimal>,
        #[case] tp: Option<Decimal>,
        #[case] ok: bool,
    ) {
        let s = OrderSpec { limit_price: limit, stop_price: stop, stop_loss: sl, take_profit: tp, ..spec(side, ty) };
        assert_eq!(s.validate().is_ok(), ok, "{:?}", s.validate());
    }

    #[test]
    fn zero_quantity_is_invalid() {
        let s = OrderSpec { quantity: Decimal::ZERO, ..spec(Side::Buy, OrderType::Market) };
        assert!(matches!(s.validate(), Err(OrderError::Invalid { field: "quantity", .. })));
    }
}
