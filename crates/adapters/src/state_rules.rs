//! The rules every trading-state store enforces the same way (SQLite, DynamoDB, the in-memory
//! fake): which stored order status may be overwritten by which, what an execution must look
//! like, and which version a kill-switch change must carry.

use axia_domain::ports::RepositoryError;
use axia_domain::{KillSwitchState, Order, OrderStatus, Position, Trade};

/// How strictly an order update checks the status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// A life-cycle step, or the same non-final status (a change of other fields).
    Update,
    /// A life-cycle step only: an execution must move the order.
    Execution,
}

/// `what` refused as a conflict.
pub(crate) fn conflict(what: impl Into<String>, detail: impl Into<String>) -> RepositoryError {
    RepositoryError::Conflict { what: what.into(), detail: detail.into() }
}

/// Whether the stored status `from` may be replaced by `to` under `guard`.
pub(crate) fn transition_allowed(from: OrderStatus, to: OrderStatus, guard: Guard) -> bool {
    from.can_become(to) || (guard == Guard::Update && from == to && !from.is_terminal())
}

/// [`transition_allowed`] as a [`RepositoryError::Conflict`] naming the order.
pub(crate) fn check_transition(
    what: &str,
    from: OrderStatus,
    to: OrderStatus,
    guard: Guard,
) -> Result<(), RepositoryError> {
    if transition_allowed(from, to, guard) {
        Ok(())
    } else {
        Err(conflict(what, format!("the stored order is {from}, it cannot become {to}")))
    }
}

/// Checks that `trade` and `position` belong to `order` before anything is written.
pub(crate) fn check_execution(order: &Order, trade: &Trade, position: &Position) -> Result<(), RepositoryError> {
    let invalid = |detail: String| Err(RepositoryError::Invalid { detail });
    if trade.client_order_id() != order.client_order_id() {
        return invalid(format!(
            "trade {} is of order {}, not {}",
            trade.trade_id(),
            trade.client_order_id(),
            order.client_order_id()
        ));
    }
    if let Some(p) = trade.position_id()
        && p != position.position_id
    {
        return invalid(format!("trade {} is of position {p}, not {}", trade.trade_id(), position.position_id));
    }
    if !matches!(order.status(), OrderStatus::Filled | OrderStatus::PartiallyFilled) {
        return invalid(format!(
            "an execution leaves order {} {}, not filled",
            order.client_order_id(),
            order.status()
        ));
    }
    Ok(())
}

/// Checks that a kill-switch change to `next` follows `expected_version`.
pub(crate) fn check_kill_switch_version(next: &KillSwitchState, expected_version: u64) -> Result<(), RepositoryError> {
    if Some(next.version) == expected_version.checked_add(1) {
        Ok(())
    } else {
        Err(RepositoryError::Invalid {
            detail: format!("kill switch version {} does not follow {expected_version}", next.version),
        })
    }
}

/// The version after `v`; invalid when it would overflow.
pub(crate) fn next_version(what: &str, v: u64) -> Result<u64, RepositoryError> {
    v.checked_add(1).ok_or_else(|| RepositoryError::Invalid { detail: format!("{what}: version {v} cannot grow") })
}
