//! Trades: one record per fill.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::order::{ClientOrderId, OrderError, Side};
use crate::symbol::Symbol;

/// One execution (fill) of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    trade_id: String,
    client_order_id: ClientOrderId,
    position_id: Option<String>,
    symbol: Symbol,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    executed_at: DateTime<Utc>,
}

impl Trade {
    /// A checked fill record.
    ///
    /// # Errors
    /// [`OrderError::Invalid`] for an empty id or a non-positive quantity or price.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        trade_id: impl Into<String>,
        client_order_id: ClientOrderId,
        position_id: Option<String>,
        symbol: Symbol,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        executed_at: DateTime<Utc>,
    ) -> Result<Self, OrderError> {
        let trade_id = trade_id.into();
        if trade_id.is_empty() {
            return Err(OrderError::Invalid { field: "trade id", detail: "must not be empty".into() });
        }
        if quantity <= Decimal::ZERO || price <= Decimal::ZERO {
            return Err(OrderError::Invalid {
                field: "trade",
                detail: format!("quantity {quantity} and price {price} must be > 0"),
            });
        }
        Ok(Self { trade_id, client_order_id, position_id, symbol, side, quantity, price, executed_at })
    }

    /// Unique id of the fill.
    #[must_use]
    pub fn trade_id(&self) -> &str {
        &self.trade_id
    }
    /// The order filled.
    #[must_use]
    pub const fn client_order_id(&self) -> &ClientOrderId {
        &self.client_order_id
    }
    /// The position it opened or changed.
    #[must_use]
    pub fn position_id(&self) -> Option<&str> {
        self.position_id.as_deref()
    }
    /// Instrument.
    #[must_use]
    pub const fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    /// Buy or sell.
    #[must_use]
    pub const fn side(&self) -> Side {
        self.side
    }
    /// Filled quantity.
    #[must_use]
    pub const fn quantity(&self) -> Decimal {
        self.quantity
    }
    /// Fill price.
    #[must_use]
    pub const fn price(&self) -> Decimal {
        self.price
    }
    /// When it executed.
    #[must_use]
    pub const fn executed_at(&self) -> DateTime<Utc> {
        self.executed_at
    }
    /// Price × quantity.
    #[must_use]
    pub fn notional(&self) -> Decimal {
        self.price * self.quantity
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn refuses_non_positive_fills() {
        let id = ClientOrderId::new("c-1").unwrap();
        let sym = Symbol::new("EURUSD").unwrap();
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        let ok = Trade::new("T1", id.clone(), None, sym.clone(), Side::Buy, Decimal::ONE, Decimal::TWO, at).unwrap();
        assert_eq!(ok.notional(), Decimal::TWO);
        assert!(Trade::new("T1", id.clone(), None, sym.clone(), Side::Buy, Decimal::ZERO, Decimal::ONE, at).is_err());
        assert!(Trade::new("", id, None, sym, Side::Buy, Decimal::ONE, Decimal::ONE, at).is_err());
    }
}
