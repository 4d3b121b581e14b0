//! Order processing: [`ProcessOrder`] (the `ProcessSqsOrder` use case: one queue message from
//! request to recorded fill) and [`OrderProcessor`] (the daemon loop over an
//! [`axia_domain::ports::OrderQueue`]).
//!
//! # At most once
//!
//! The client order id is the idempotency key, and the order store is the system of record of
//! how far an order got. [`OrderRepository::create`] refuses a second order with the same id,
//! and every later step is a write conditional on the version read, so of two racing attempts
//! exactly one wins each step. The broker is only asked after the order was stored as
//! `Accepted` (the *claim*), so a stored `Received` order was never sent and may be resumed,
//! while an `Accepted` order may have been. An `Accepted` order's reason says which case it is
//! in (the prefixes below): `not sent: …` after [`BrokerError::Unavailable`] (the next delivery
//! claims it again and retries), `working at broker: …` (a resting limit / stop order: a
//! duplicate), `reconcile: …` (the outcome is unknown: never resent, dead-lettered for an
//! operator). An `Accepted` order without a reason is claimed by an attempt in flight or one
//! that stopped without a word: a redelivery waits ([`Outcome::Retry`]) for
//! [`ProcessConfig::in_flight_grace`] after the claim, then marks it `reconcile: …` and
//! dead-letters the message. Nothing is ever sent to the broker twice unless the broker said
//! the first attempt was not sent.
//!
//! [`OrderRepository::create`]: axia_domain::ports::OrderRepository::create
//! [`BrokerError::Unavailable`]: axia_domain::ports::BrokerError::Unavailable

mod process;
mod processor;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::time::Duration;

use axia_domain::{ClientOrderId, Order, OrderStatus, Position, Symbol, Trade};
use chrono::TimeDelta;

pub use process::{OrderPorts, ProcessOrder};
pub use processor::{
    EventHeartbeat, Heartbeat, MAX_BATCH, MessageHandler, OrderProcessor, RunOptions, RunSummary, StopReason,
};

/// Reason prefix of an `Accepted` order the broker did not receive (retry allowed).
pub const NOT_SENT_PREFIX: &str = "not sent: ";
/// Reason prefix of an `Accepted` order resting at the broker.
pub const WORKING_PREFIX: &str = "working at broker: ";
/// Reason prefix of an `Accepted` order whose execution outcome is unknown (never resent).
pub const RECONCILE_PREFIX: &str = "reconcile: ";

/// The symbols orders may trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownSymbols {
    /// Any valid symbol (the broker decides).
    Any,
    /// Only these.
    Only(BTreeSet<Symbol>),
}

impl KnownSymbols {
    /// Only the given symbols.
    pub fn only(symbols: impl IntoIterator<Item = Symbol>) -> Self {
        Self::Only(symbols.into_iter().collect())
    }

    /// Whether `symbol` may be traded.
    #[must_use]
    pub fn contains(&self, symbol: &Symbol) -> bool {
        match self {
            Self::Any => true,
            Self::Only(set) => set.contains(symbol),
        }
    }
}

/// Tunables of [`ProcessOrder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// How long after its claim an `Accepted` order without a reason is presumed in flight
    /// elsewhere (redeliveries wait); after that it is presumed abandoned and dead-lettered for
    /// reconciliation. Keep it above the queue's visibility timeout.
    pub in_flight_grace: TimeDelta,
    /// Attempts to record a fill when the store is unavailable or a position changed meanwhile.
    pub record_attempts: u32,
    /// Pause between those attempts (doubled each time).
    pub record_backoff: Duration,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        Self { in_flight_grace: TimeDelta::minutes(2), record_attempts: 3, record_backoff: Duration::from_millis(100) }
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Executed and recorded.
    Filled {
        /// The stored order.
        order: Box<Order>,
        /// The fill.
        trade: Box<Trade>,
        /// The position it opened, changed or closed, as stored.
        position: Box<Position>,
    },
    /// A limit / stop order resting at the broker.
    Working {
        /// The order.
        client_order_id: ClientOrderId,
        /// The broker's id for it.
        broker_order_id: String,
    },
    /// Refused by an order rule, the kill switch or the broker; recorded.
    Rejected {
        /// The order.
        client_order_id: ClientOrderId,
        /// Why.
        reason: String,
    },
    /// The client order id was processed before; nothing was executed.
    Duplicate {
        /// The order.
        client_order_id: ClientOrderId,
        /// Its stored status.
        status: OrderStatus,
    },
    /// Must not be retried: move the message to the dead-letter queue with the reason.
    DeadLetter {
        /// Why.
        reason: String,
    },
    /// A transient failure: leave the message for redelivery.
    Retry {
        /// Why.
        reason: String,
    },
}

/// What the queue should do with a message after its [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition<'a> {
    /// Delete it: done.
    Delete,
    /// Move it to the dead-letter queue with this reason.
    DeadLetter(&'a str),
    /// Leave it; it becomes visible again after the visibility timeout.
    Leave,
}

impl Outcome {
    /// What the queue should do with the message.
    #[must_use]
    pub fn disposition(&self) -> Disposition<'_> {
        match self {
            Self::Filled { .. } | Self::Working { .. } | Self::Rejected { .. } | Self::Duplicate { .. } => {
                Disposition::Delete
            }
            Self::DeadLetter { reason } => Disposition::DeadLetter(reason),
            Self::Retry { .. } => Disposition::Leave,
        }
    }

    /// `filled`, `working`, `rejected`, `duplicate`, `dead_letter` or `retry` (for logs).
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Filled { .. } => "filled",
            Self::Working { .. } => "working",
            Self::Rejected { .. } => "rejected",
            Self::Duplicate { .. } => "duplicate",
            Self::DeadLetter { .. } => "dead_letter",
            Self::Retry { .. } => "retry",
        }
    }
}
