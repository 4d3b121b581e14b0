//! Repositories of the trading state: kill switch, orders, positions, trades.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::kill_switch::{KillSwitchAudit, KillSwitchState};
use crate::order::{ClientOrderId, Order, OrderStatus};
use crate::ports::errors::RepositoryError;
use crate::position::{Position, PositionStatus};
use crate::symbol::Symbol;
use crate::trade::Trade;

/// The kill switch store.
///
/// # Contract
/// Writes are conditional on the version read (`expected_version`); a stale version is a
/// [`RepositoryError::Conflict`] and changes nothing. Callers treat any read error as Halted
/// ([`KillSwitchState::fail_closed`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait KillSwitchRepository: Send + Sync + Debug {
    /// The current state.
    ///
    /// # Errors
    /// [`RepositoryError::NotFound`] when never initialised, [`RepositoryError::Corrupt`] when
    /// unreadable, [`RepositoryError::Unavailable`] when unreachable. All mean Halted.
    async fn get(&self) -> Result<KillSwitchState, RepositoryError>;

    /// Stores `next` (whose version is `expected_version + 1`) and its audit record atomically;
    /// `expected_version == 0` means "create when absent".
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when the stored version is not `expected_version`.
    async fn set(
        &self,
        next: &KillSwitchState,
        audit: &KillSwitchAudit,
        expected_version: u64,
    ) -> Result<(), RepositoryError>;

    /// The audit trail, newest first, at most `limit` records.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`].
    async fn history(&self, limit: usize) -> Result<Vec<KillSwitchAudit>, RepositoryError>;
}

/// Orders, keyed by client order id.
///
/// # Contract
/// `create` fails with [`RepositoryError::Conflict`] when the id exists (the idempotency
/// guard); `update` is conditional on `order.version()` and returns the new version.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync + Debug {
    /// Stores a new order; returns it with version 1.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when an order with this id exists.
    async fn create(&self, order: &Order) -> Result<Order, RepositoryError>;

    /// Replaces the stored order whose version equals `order.version()`; returns it with the
    /// next version.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] on a version mismatch, [`RepositoryError::NotFound`].
    async fn update(&self, order: &Order) -> Result<Order, RepositoryError>;

    /// The order, or `None`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn get(&self, id: &ClientOrderId) -> Result<Option<Order>, RepositoryError>;

    /// Orders, optionally of one status, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn list(&self, status: Option<OrderStatus>, limit: usize) -> Result<Vec<Order>, RepositoryError>;

    /// Atomically: update `order` (conditional on its version), store `trade`, and create or
    /// update `position` (conditional on its version; version 0 means create). Returns the
    /// stored order and position with their new versions.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when any condition fails (nothing is written).
    async fn record_execution(
        &self,
        order: &Order,
        trade: &Trade,
        position: &Position,
    ) -> Result<(Order, Position), RepositoryError>;
}

/// Positions.
///
/// # Contract
/// `save` is conditional on `position.version` (0: create) and returns the new version.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PositionRepository: Send + Sync + Debug {
    /// Creates or updates a position.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] on a version mismatch or when creating an existing id.
    async fn save(&self, position: &Position) -> Result<Position, RepositoryError>;

    /// The position, or `None`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn get(&self, position_id: &str) -> Result<Option<Position>, RepositoryError>;

    /// Open positions, optionally of one symbol.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn list_open(&self, symbol: Option<Symbol>) -> Result<Vec<Position>, RepositoryError>;

    /// Positions of one strategy, optionally of one status, oldest opened first (access pattern
    /// AP4 of seed 003 §3.8.2).
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn list_by_strategy(
        &self,
        strategy_id: &str,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, RepositoryError>;

    /// Positions opened on one UTC calendar day, open or closed, oldest first (access pattern
    /// AP5).
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn opened_on(&self, date: NaiveDate) -> Result<Vec<Position>, RepositoryError>;
}

/// Fills.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TradeRepository: Send + Sync + Debug {
    /// Trades of one order, oldest first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn for_order(&self, id: &ClientOrderId) -> Result<Vec<Trade>, RepositoryError>;

    /// Trades of one position, oldest first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    async fn for_position(&self, position_id: &str) -> Result<Vec<Trade>, RepositoryError>;
}
