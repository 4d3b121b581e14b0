//! System events published by the order processor and the operators' commands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kill_switch::KillSwitchAudit;
use crate::trade::Trade;

/// Something other systems may want to react to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemEvent {
    /// An order (partly) filled.
    OrderFilled {
        /// The fill.
        trade: Trade,
    },
    /// An order was refused.
    OrderRejected {
        /// Client order id (or the message id when the request was unreadable).
        client_order_id: String,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The kill switch changed.
    KillSwitchChanged {
        /// The audit record.
        audit: KillSwitchAudit,
    },
    /// A component reported an error operators should see.
    Error {
        /// Which component.
        component: String,
        /// What happened.
        message: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A daemon is alive.
    Heartbeat {
        /// Which daemon.
        component: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl SystemEvent {
    /// The event type name, e.g. `order_filled` (used as a message attribute).
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::OrderFilled { .. } => "order_filled",
            Self::OrderRejected { .. } => "order_rejected",
            Self::KillSwitchChanged { .. } => "kill_switch_changed",
            Self::Error { .. } => "error",
            Self::Heartbeat { .. } => "heartbeat",
        }
    }
}
