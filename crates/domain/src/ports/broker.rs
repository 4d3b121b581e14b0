//! Order execution: the paper broker, an MT5 bridge, a real broker.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::order::Order;
use crate::ports::errors::BrokerError;

/// What the broker did with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// Filled (fully or partly) at `price`.
    Filled {
        /// Broker's fill id.
        fill_id: String,
        /// Quantity filled.
        quantity: Decimal,
        /// Fill price.
        price: Decimal,
        /// When.
        at: DateTime<Utc>,
    },
    /// Accepted as a resting order (limit / stop not yet triggered).
    Working {
        /// Broker's order id.
        broker_order_id: String,
    },
}

/// A broker.
///
/// # Contract
/// `execute` is called at most once per client order id by the order processor; a broker that
/// supports it uses the id to deduplicate too.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BrokerGateway: Send + Sync + Debug {
    /// The broker name.
    fn name(&self) -> &str;

    /// Executes an accepted order.
    ///
    /// # Errors
    /// [`BrokerError::Rejected`] (permanent), [`BrokerError::Unavailable`] (not sent, retryable),
    /// [`BrokerError::Unknown`] (sent, outcome unknown: never resend blindly).
    async fn execute(&self, order: &Order) -> Result<Execution, BrokerError>;
}
