//! [`InMemoryStateStore`]: the honest in-process fake of the trading-state ports, with the
//! same rules as the SQLite and DynamoDB stores (versions, guarded transitions, atomic
//! executions). Tests use it; so can a dry run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axia_domain::ports::{KillSwitchRepository, OrderRepository, PositionRepository, RepositoryError, TradeRepository};
use axia_domain::{
    ClientOrderId, KillSwitchAudit, KillSwitchState, Order, OrderStatus, Position, PositionStatus, Symbol, Trade,
};
use chrono::NaiveDate;

use crate::state_rules::{Guard, check_execution, check_kill_switch_version, check_transition, conflict, next_version};

/// Everything the store holds; one lock makes every operation atomic.
#[derive(Debug, Default)]
struct State {
    kill_switch: Option<KillSwitchState>,
    audit: Vec<KillSwitchAudit>,
    /// Orders with their insertion sequence (the tie-break of "newest first").
    orders: HashMap<ClientOrderId, (u64, Order)>,
    positions: BTreeMap<String, Position>,
    /// Trades with the position they were recorded under, in insertion order.
    trades: Vec<(Trade, String)>,
    seq: u64,
}

/// The in-memory state store (see the [module documentation](self)). Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryStateStore {
    state: Arc<Mutex<State>>,
}

impl InMemoryStateStore {
    /// An empty store: no kill switch, orders, positions or trades.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn order_what(id: &ClientOrderId) -> String {
    format!("order {id}")
}

impl State {
    /// The order as it would be stored after `order` replaces it, checked against the stored
    /// version and status; nothing is written.
    fn check_order(
        &self,
        order: &Order,
        guard: Guard,
        missing: fn(String) -> RepositoryError,
    ) -> Result<Order, RepositoryError> {
        let w = order_what(order.client_order_id());
        let Some((_, stored)) = self.orders.get(order.client_order_id()) else {
            return Err(missing(w));
        };
        if stored.version() != order.version() {
            return Err(conflict(
                w,
                format!("expected version {}, stored version {}", order.version(), stored.version()),
            ));
        }
        check_transition(&w, stored.status(), order.status(), guard)?;
        Ok(order.clone().with_version(next_version(&w, order.version())?))
    }

    /// The position as it would be stored after `position` is saved; nothing is written.
    fn check_position(&self, position: &Position) -> Result<Position, RepositoryError> {
        let w = format!("position {}", position.position_id);
        match (self.positions.get(&position.position_id), position.version) {
            (None, 0) => {}
            (Some(stored), v) if v != 0 && stored.version == v => {}
            (Some(stored), 0) => return Err(conflict(w, format!("it exists (version {})", stored.version))),
            (None, v) => return Err(conflict(w, format!("expected version {v}, but it does not exist"))),
            (Some(stored), v) => {
                return Err(conflict(w, format!("expected version {v}, stored version {}", stored.version)));
            }
        }
        Ok(Position { version: next_version(&w, position.version)?, ..position.clone() })
    }

    fn put_order(&mut self, order: Order) {
        let seq = match self.orders.get(order.client_order_id()) {
            Some((seq, _)) => *seq,
            None => self.next_seq(),
        };
        self.orders.insert(order.client_order_id().clone(), (seq, order));
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn positions_where(&self, keep: impl Fn(&Position) -> bool) -> Vec<Position> {
        let mut out: Vec<Position> = self.positions.values().filter(|p| keep(p)).cloned().collect();
        out.sort_by(|a, b| (a.opened_at, &a.position_id).cmp(&(b.opened_at, &b.position_id)));
        out
    }
}

#[async_trait]
impl KillSwitchRepository for InMemoryStateStore {
    async fn get(&self) -> Result<KillSwitchState, RepositoryError> {
        self.with(|s| s.kill_switch.clone()).ok_or_else(|| RepositoryError::NotFound { what: "kill switch".into() })
    }

    async fn set(
        &self,
        next: &KillSwitchState,
        audit: &KillSwitchAudit,
        expected_version: u64,
    ) -> Result<(), RepositoryError> {
        check_kill_switch_version(next, expected_version)?;
        self.with(|s| {
            let stored = s.kill_switch.as_ref().map(|k| k.version);
            if stored.unwrap_or(0) != expected_version {
                let stored = stored.map_or_else(|| "it was never set".to_string(), |v| format!("stored version {v}"));
                return Err(conflict("kill switch", format!("expected version {expected_version}, {stored}")));
            }
            s.kill_switch = Some(next.clone());
            s.audit.push(audit.clone());
            Ok(())
        })
    }

    async fn history(&self, limit: usize) -> Result<Vec<KillSwitchAudit>, RepositoryError> {
        Ok(self.with(|s| s.audit.iter().rev().take(limit).cloned().collect()))
    }
}

#[async_trait]
impl OrderRepository for InMemoryStateStore {
    async fn create(&self, order: &Order) -> Result<Order, RepositoryError> {
        let stored = order.clone().with_version(1);
        self.with(|s| {
            if s.orders.contains_key(order.client_order_id()) {
                return Err(conflict(order_what(order.client_order_id()), "an order with this client order id exists"));
            }
            s.put_order(stored.clone());
            Ok(stored)
        })
    }

    async fn update(&self, order: &Order) -> Result<Order, RepositoryError> {
        self.with(|s| {
            let next = s.check_order(order, Guard::Update, |what| RepositoryError::NotFound { what })?;
            s.put_order(next.clone());
            Ok(next)
        })
    }

    async fn get(&self, id: &ClientOrderId) -> Result<Option<Order>, RepositoryError> {
        Ok(self.with(|s| s.orders.get(id).map(|(_, o)| o.clone())))
    }

    async fn list(&self, status: Option<OrderStatus>, limit: usize) -> Result<Vec<Order>, RepositoryError> {
        Ok(self.with(|s| {
            let mut out: Vec<&(u64, Order)> =
                s.orders.values().filter(|(_, o)| status.is_none_or(|st| o.status() == st)).collect();
            out.sort_by(|(sa, a), (sb, b)| (b.created_at(), sb).cmp(&(a.created_at(), sa)));
            out.into_iter().take(limit).map(|(_, o)| o.clone()).collect()
        }))
    }

    async fn record_execution(
        &self,
        order: &Order,
        trade: &Trade,
        position: &Position,
    ) -> Result<(Order, Position), RepositoryError> {
        check_execution(order, trade, position)?;
        self.with(|s| {
            let next_order = s.check_order(order, Guard::Execution, |what| conflict(what, "it does not exist"))?;
            if s.trades.iter().any(|(t, _)| t.trade_id() == trade.trade_id()) {
                return Err(conflict(format!("trade {}", trade.trade_id()), "it is already recorded"));
            }
            let next_position = s.check_position(position)?;
            // Every condition held: apply all three.
            s.put_order(next_order.clone());
            s.trades.push((trade.clone(), position.position_id.clone()));
            s.positions.insert(next_position.position_id.clone(), next_position.clone());
            Ok((next_order, next_position))
        })
    }
}

#[async_trait]
impl PositionRepository for InMemoryStateStore {
    async fn save(&self, position: &Position) -> Result<Position, RepositoryError> {
        self.with(|s| {
            let next = s.check_position(position)?;
            s.positions.insert(next.position_id.clone(), next.clone());
            Ok(next)
        })
    }

    async fn get(&self, position_id: &str) -> Result<Option<Position>, RepositoryError> {
        Ok(self.with(|s| s.positions.get(position_id).cloned()))
    }

    async fn list_open(&self, symbol: Option<Symbol>) -> Result<Vec<Position>, RepositoryError> {
        Ok(self.with(|s| s.positions_where(|p| p.is_open() && symbol.as_ref().is_none_or(|x| *x == p.symbol))))
    }

    async fn list_by_strategy(
        &self,
        strategy_id: &str,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, RepositoryError> {
        Ok(self.with(|s| {
            s.positions_where(|p| {
                p.strategy_id.as_deref() == Some(strategy_id) && status.is_none_or(|st| p.status == st)
            })
        }))
    }

    async fn opened_on(&self, date: NaiveDate) -> Result<Vec<Position>, RepositoryError> {
        Ok(self.with(|s| s.positions_where(|p| p.opened_at.date_naive() == date)))
    }
}

#[async_trait]
impl TradeRepository for InMemoryStateStore {
    async fn for_order(&self, id: &ClientOrderId) -> Result<Vec<Trade>, RepositoryError> {
        Ok(self.with(|s| {
            let mut out: Vec<Trade> =
                s.trades.iter().filter(|(t, _)| t.client_order_id() == id).map(|(t, _)| t.clone()).collect();
            out.sort_by_key(Trade::executed_at);
            out
        }))
    }

    async fn for_position(&self, position_id: &str) -> Result<Vec<Trade>, RepositoryError> {
        Ok(self.with(|s| {
            let mut out: Vec<Trade> =
                s.trades.iter().filter(|(_, p)| p == position_id).map(|(t, _)| t.clone()).collect();
            out.sort_by_key(Trade::executed_at);
            out
        }))
    }
}
