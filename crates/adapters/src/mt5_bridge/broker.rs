//! [`BrokerGateway`] over `POST /orders`. An order whose fate is unclear after sending (timeout,
//! cut connection, 5xx other than 503, unreadable answer) is looked up once with
//! `GET /orders/{client_order_id}`; only when that fails too is it [`BrokerError::Unknown`].

use async_trait::async_trait;
use axia_domain::ports::{BrokerError, BrokerGateway, Execution};
use axia_domain::{Order, OrderType, Side};
use rust_decimal::Decimal;

use super::error::Mt5BridgeError;
use super::wire::{self, OrderRequestWire, OrderResultWire};
use super::{Mt5Bridge, SOURCE_NAME};

#[async_trait]
impl BrokerGateway for Mt5Bridge {
    fn name(&self) -> &str {
        SOURCE_NAME
    }

    /// # Errors
    /// - [`BrokerError::Rejected`]: an invalid order, a 4xx answer (unknown symbol, invalid
    ///   volume, market closed, rejected by the trade server, the id reused for another order),
    ///   a refused token (401), or an order cancelled at the broker;
    /// - [`BrokerError::Unavailable`]: the bridge could not be reached or answered 503 — the
    ///   order was not sent;
    /// - [`BrokerError::Unknown`]: the order may have been sent and its lookup failed too.
    async fn execute(&self, order: &Order) -> Result<Execution, BrokerError> {
        let spec = order.spec();
        let symbol = spec.symbol.as_str();
        spec.validate().map_err(|e| BrokerError::Rejected { reason: format!("{symbol}: {e}") })?;
        let volume = spec.quantity - order.filled_quantity();
        if volume <= Decimal::ZERO {
            return Err(BrokerError::Rejected {
                reason: format!("order {} has nothing left to fill", spec.client_order_id),
            });
        }
        let body = OrderRequestWire {
            client_order_id: spec.client_order_id.to_string(),
            symbol: symbol.to_owned(),
            side: match spec.side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            },
            order_type: match spec.order_type {
                OrderType::Market => "market",
                OrderType::Limit => "limit",
                OrderType::Stop => "stop",
            },
            volume: volume.normalize().to_string(),
            price: spec.limit_price.or(spec.stop_price).map(|p| p.normalize().to_string()),
            sl: spec.stop_loss.map(|p| p.normalize().to_string()),
            tp: spec.take_profit.map(|p| p.normalize().to_string()),
        };
        let id = spec.client_order_id.as_str();
        match self.http.post::<_, OrderResultWire>(&["orders"], &body).await {
            Ok(result) => self.execution(result, symbol),
            Err(e) if e.may_have_executed() => self.resolve(id, symbol, &e).await,
            Err(e) => Err(e.into_not_executed(symbol)),
        }
    }
}

impl Mt5Bridge {
    /// Looks up an order whose `POST` failed with `first` after it may have been sent.
    async fn resolve(&self, id: &str, symbol: &str, first: &Mt5BridgeError) -> Result<Execution, BrokerError> {
        tracing::warn!(source = SOURCE_NAME, client_order_id = id, error = %first, "order outcome unclear; looking it up");
        match self.http.get::<OrderResultWire>(&["orders", id], &[]).await {
            Ok(result) => self.execution(result, symbol),
            Err(e) => Err(self.unknown(id, first, &e)),
        }
    }

    fn unknown(&self, id: &str, first: &Mt5BridgeError, lookup: &Mt5BridgeError) -> BrokerError {
        BrokerError::Unknown {
            detail: format!(
                "order {id} may have been sent to the mt5 bridge: {first}; looking it up failed too: {lookup}; \
                 do not resend, reconcile"
            ),
        }
    }

    /// The execution an order result stands for.
    fn execution(&self, result: OrderResultWire, symbol: &str) -> Result<Execution, BrokerError> {
        match result {
            OrderResultWire::Filled { ticket, fill_id, volume, price, time } => {
                tracing::debug!(source = SOURCE_NAME, ticket, fill_id, %volume, %price, "order filled");
                let local = wire::parse_server_time(&time)
                    .map_err(|detail| BrokerError::Unknown { detail: format!("filled, but {detail}") })?;
                Ok(Execution::Filled { fill_id, quantity: volume, price, at: self.server_tz.to_utc(local) })
            }
            OrderResultWire::Placed { ticket } => Ok(Execution::Working { broker_order_id: ticket }),
            OrderResultWire::Cancelled { ticket } => Err(BrokerError::Rejected {
                reason: format!("{symbol}: the order (ticket {ticket}) was cancelled at the broker"),
            }),
        }
    }
}
