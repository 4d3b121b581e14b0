//! Tests of [`ProcessOrder`]: every branch with the mockall mocks of the ports, and the
//! at-most-once scenarios (duplicates, crashed attempts) against a small honest fake store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{
    BrokerError, Execution, MockBrokerGateway, MockEventPublisher, MockKillSwitchRepository, MockOrderRepository,
    MockPositionRepository, OrderRepository, PositionRepository, PublishError, QueueMessage, RepositoryError,
};
use axia_domain::{
    ClientOrderId, FixedClock, KillSwitchState, Order, OrderSpec, OrderStatus, Position, PositionStatus, Side, Symbol,
    SystemEvent, Trade, TradingState,
};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use rstest::rstest;
use rust_decimal::{Decimal, dec};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap()
}

fn eurusd() -> Symbol {
    Symbol::new("EURUSD").unwrap()
}

fn body(id: &str, side: &str, qty: &str) -> String {
    let (sl, tp) = if side == "sell" { ("1.2", "1.0") } else { ("1.0", "1.2") };
    format!(
        r#"{{"schema_version": 1, "client_order_id": "{id}", "symbol": "EURUSD", "side": "{side}", "type": "market", "quantity": "{qty}", "stop_loss": "{sl}", "take_profit": "{tp}", "strategy_id": "s1"}}"#
    )
}

fn msg(body: &str) -> QueueMessage {
    QueueMessage { id: "m-1".into(), receipt: "r-1".into(), body: body.into(), receive_count: 1 }
}

fn ks(state: TradingState) -> KillSwitchState {
    KillSwitchState { state, reason: "ops said so".into(), changed_by: "ops".into(), changed_at: t0(), version: 3 }
}

fn position(side: Side, size: Decimal) -> Position {
    let mut p = Position::open("P-old", "T-old", eurusd(), side, size, dec!(1.1000), t0()).unwrap();
    p.version = 4;
    p
}

fn filled(qty: Decimal) -> Execution {
    Execution::Filled { fill_id: "F-1".into(), quantity: qty, price: dec!(1.1050), at: t0() }
}

fn config() -> ProcessConfig {
    ProcessConfig { record_backoff: Duration::ZERO, ..ProcessConfig::default() }
}

/// The mocks, with the events recorded.
struct Harness {
    orders: MockOrderRepository,
    positions: MockPositionRepository,
    kill_switch: MockKillSwitchRepository,
    broker: MockBrokerGateway,
    events: MockEventPublisher,
    published: Arc<Mutex<Vec<SystemEvent>>>,
}

impl Harness {
    fn new() -> Self {
        let published = Arc::new(Mutex::new(Vec::new()));
        let mut events = MockEventPublisher::new();
        let sink = Arc::clone(&published);
        events.expect_publish().returning(move |e| {
            sink.lock().unwrap().push(e.clone());
            Ok(())
        });
        Self {
            orders: MockOrderRepository::new(),
            positions: MockPositionRepository::new(),
            kill_switch: MockKillSwitchRepository::new(),
            broker: MockBrokerGateway::new(),
            events,
            published,
        }
    }

    /// A store that accepts every create / update / execution.
    fn storing(mut self) -> Self {
        self.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
        self.orders.expect_update().returning(|o| Ok(o.clone().with_version(o.version() + 1)));
        self.orders.expect_record_execution().returning(|o, _, p| {
            Ok((o.clone().with_version(o.version() + 1), Position { version: p.version + 1, ..p.clone() }))
        });
        self
    }

    fn trading(mut self, state: TradingState, open: Vec<Position>) -> Self {
        self.kill_switch.expect_get().returning(move || Ok(ks(state)));
        self.positions.expect_list_open().returning(move |_| Ok(open.clone()));
        self
    }

    fn build(self) -> (ProcessOrder, Arc<Mutex<Vec<SystemEvent>>>) {
        let ports = OrderPorts {
            orders: Arc::new(self.orders),
            positions: Arc::new(self.positions),
            kill_switch: Arc::new(self.kill_switch),
            broker: Arc::new(self.broker),
            events: Arc::new(self.events),
            clock: Arc::new(FixedClock::new(t0())),
        };
        (ProcessOrder::new(ports, KnownSymbols::only([eurusd()]), config()), self.published)
    }
}

fn kinds(events: &Mutex<Vec<SystemEvent>>) -> Vec<&'static str> {
    events.lock().unwrap().iter().map(SystemEvent::kind).collect()
}

#[tokio::test]
async fn unparseable_message_is_dead_lettered_with_an_event_keyed_by_the_message_id() {
    let (process, events) = Harness::new().build();
    let outcome = process.handle(&msg("{not json")).await;
    let Outcome::DeadLetter { reason } = outcome else { panic!("{outcome:?}") };
    assert!(reason.starts_with("unparseable order request"), "{reason}");
    let events = events.lock().unwrap();
    assert!(matches!(&events[..], [SystemEvent::OrderRejected { client_order_id, .. }] if client_order_id == "m-1"));
}

#[rstest]
#[case::zero_quantity(&body("c-1", "buy", "0"), "quantity")]
#[case::unknown_symbol(&body("c-1", "buy", "1").replace("EURUSD", "GBPUSD"), "symbol")]
#[case::limit_without_price(&body("c-1", "buy", "1").replace("market", "limit"), "limit_price")]
#[tokio::test]
async fn invalid_request_is_recorded_as_rejected(#[case] body: &str, #[case] field: &str) {
    let mut h = Harness::new();
    h.orders
        .expect_create()
        .withf(|o| o.status() == OrderStatus::Rejected && o.client_order_id().as_str() == "c-1")
        .times(1)
        .returning(|o| Ok(o.clone().with_version(1)));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(body)).await;
    let Outcome::Rejected { client_order_id, reason } = outcome else { panic!("{outcome:?}") };
    assert_eq!(client_order_id.as_str(), "c-1");
    assert!(reason.contains(&format!("field \"{field}\"")), "{reason}");
    assert_eq!(kinds(&events), ["order_rejected"]);
}

#[rstest]
#[case::halted(Some(TradingState::Halted), vec![], "buy", "kill switch halted: ops said so")]
#[case::unreadable(None, vec![], "buy", "kill switch halted: fail-closed")]
#[case::reduce_only_increasing(Some(TradingState::ReduceOnly), vec![position(Side::Buy, dec!(2))], "buy", "kill switch reduce_only")]
#[case::reduce_only_flat(Some(TradingState::ReduceOnly), vec![], "sell", "kill switch reduce_only")]
#[case::reduce_only_crossing(Some(TradingState::ReduceOnly), vec![position(Side::Buy, dec!(0.5))], "sell", "kill switch reduce_only")]
#[case::reversal_when_active(Some(TradingState::Active), vec![position(Side::Buy, dec!(0.5))], "sell", "would reverse")]
#[tokio::test]
async fn kill_switch_and_reversals_reject_before_the_broker(
    #[case] state: Option<TradingState>,
    #[case] open: Vec<Position>,
    #[case] side: &str,
    #[case] want: &str,
) {
    let mut h = Harness::new();
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    h.orders
        .expect_update()
        .withf(|o| o.status() == OrderStatus::Rejected && o.version() == 1)
        .times(1)
        .returning(|o| Ok(o.clone().with_version(2)));
    match state {
        Some(s) => h.kill_switch.expect_get().returning(move || Ok(ks(s))),
        None => h.kill_switch.expect_get().returning(|| Err(RepositoryError::unavailable("dynamodb", "timeout"))),
    };
    h.positions.expect_list_open().returning(move |_| Ok(open.clone()));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(&body("c-1", side, "1"))).await;
    let Outcome::Rejected { reason, .. } = outcome else { panic!("{outcome:?}") };
    assert!(reason.starts_with(want), "{reason}");
    assert_eq!(kinds(&events), ["order_rejected"]);
}

#[rstest]
#[case::reduce_only_reducing(TradingState::ReduceOnly, vec![position(Side::Buy, dec!(2))], "sell", "1", PositionStatus::Open, dec!(1))]
#[case::reduce_only_closing(TradingState::ReduceOnly, vec![position(Side::Buy, dec!(1))], "sell", "1", PositionStatus::Closed, dec!(0))]
#[case::opens(TradingState::Active, vec![], "buy", "1", PositionStatus::Open, dec!(1))]
#[case::increases(TradingState::Active, vec![position(Side::Buy, dec!(2))], "buy", "1", PositionStatus::Open, dec!(3))]
#[tokio::test]
async fn fills_are_applied_to_the_symbols_position_and_recorded(
    #[case] state: TradingState,
    #[case] open: Vec<Position>,
    #[case] side: &str,
    #[case] qty: &str,
    #[case] status: PositionStatus,
    #[case] size: Decimal,
) {
    let mut h = Harness::new().storing().trading(state, open);
    h.broker
        .expect_execute()
        .withf(|o| o.status() == OrderStatus::Accepted && o.version() == 2)
        .times(1)
        .returning(|o| Ok(filled(o.spec().quantity)));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(&body("c-1", side, qty))).await;
    let Outcome::Filled { order, trade, position } = outcome else { panic!("{outcome:?}") };
    assert_eq!(order.status(), OrderStatus::Filled);
    assert_eq!(order.average_fill_price(), Some(dec!(1.1050)));
    assert_eq!(order.position_id(), Some(position.position_id.as_str()));
    assert_eq!((trade.trade_id(), trade.quantity()), ("F-1", qty.parse().unwrap()));
    assert_eq!((position.status, position.size), (status, size));
    assert_eq!(kinds(&events), ["order_filled"]);
}

#[tokio::test]
async fn a_new_position_carries_the_orders_protection_and_tags() {
    let mut h = Harness::new().storing().trading(TradingState::Active, vec![]);
    h.broker.expect_execute().returning(|_| Ok(filled(dec!(1))));
    let (process, _) = h.build();
    let Outcome::Filled { position, .. } = process.handle(&msg(&body("c-1", "buy", "1"))).await else { panic!() };
    assert_eq!(position.position_id, "P-c-1");
    assert_eq!((position.stop_loss, position.take_profit), (Some(dec!(1.0)), Some(dec!(1.2))));
    assert_eq!(position.strategy_id.as_deref(), Some("s1"));
    assert_eq!(position.version, 1);
}

#[tokio::test]
async fn broker_rejection_is_recorded() {
    let mut h = Harness::new().trading(TradingState::Active, vec![]);
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    let mut seq = mockall::Sequence::new();
    h.orders
        .expect_update()
        .withf(|o| o.status() == OrderStatus::Accepted)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|o| Ok(o.clone().with_version(2)));
    h.orders
        .expect_update()
        .withf(|o| o.status() == OrderStatus::Rejected && o.reason().is_some_and(|r| r.contains("no margin")))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|o| Ok(o.clone().with_version(3)));
    h.broker.expect_execute().returning(|_| Err(BrokerError::Rejected { reason: "no margin".into() }));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    assert!(matches!(&outcome, Outcome::Rejected { reason, .. } if reason == "broker rejected the order: no margin"));
    assert_eq!(kinds(&events), ["order_rejected"]);
}

#[tokio::test]
async fn broker_unavailable_leaves_the_order_accepted_and_not_sent_for_a_retry() {
    let mut h = Harness::new().trading(TradingState::Active, vec![]);
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    h.orders.expect_update().withf(|o| o.version() == 1).returning(|o| Ok(o.clone().with_version(2)));
    h.orders
        .expect_update()
        .withf(|o| {
            o.version() == 2
                && o.status() == OrderStatus::Accepted
                && o.reason().is_some_and(|r| r.starts_with(NOT_SENT_PREFIX))
        })
        .times(1)
        .returning(|o| Ok(o.clone().with_version(3)));
    h.broker.expect_execute().times(1).returning(|_| Err(BrokerError::Unavailable { detail: "refused".into() }));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    assert!(matches!(&outcome, Outcome::Retry { reason } if reason.contains("refused")), "{outcome:?}");
    assert!(kinds(&events).is_empty());
}

#[tokio::test]
async fn broker_unknown_marks_the_order_for_reconciliation_and_dead_letters() {
    let mut h = Harness::new().trading(TradingState::Active, vec![]);
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    h.orders.expect_update().withf(|o| o.version() == 1).returning(|o| Ok(o.clone().with_version(2)));
    h.orders
        .expect_update()
        .withf(|o| o.status() == OrderStatus::Accepted && o.reason().is_some_and(|r| r.starts_with(RECONCILE_PREFIX)))
        .times(1)
        .returning(|o| Ok(o.clone().with_version(3)));
    h.broker.expect_execute().times(1).returning(|_| Err(BrokerError::Unknown { detail: "timeout after send".into() }));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    let Outcome::DeadLetter { reason } = outcome else { panic!("{outcome:?}") };
    assert!(reason.starts_with("reconcile: broker outcome unknown: timeout after send"), "{reason}");
    assert_eq!(kinds(&events), ["error"]);
}

#[tokio::test]
async fn working_orders_are_noted_and_the_message_deleted() {
    let mut h = Harness::new().storing().trading(TradingState::Active, vec![]);
    h.broker.expect_execute().returning(|_| Ok(Execution::Working { broker_order_id: "B-7".into() }));
    let (process, _) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    assert!(matches!(&outcome, Outcome::Working { broker_order_id, .. } if broker_order_id == "B-7"));
    assert_eq!(outcome.disposition(), Disposition::Delete);
}

#[tokio::test]
async fn record_conflict_after_a_racing_duplicate_is_a_duplicate() {
    let mut h = Harness::new().trading(TradingState::Active, vec![]);
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    h.orders.expect_update().returning(|o| Ok(o.clone().with_version(o.version() + 1)));
    h.orders
        .expect_record_execution()
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Conflict { what: "order c-1".into(), detail: "version".into() }));
    h.orders.expect_get().returning(|id| {
        let spec = OrderRequestSpec::market(id.as_str());
        let mut o = Order::received(spec, t0());
        o.transition(OrderStatus::Accepted, t0()).unwrap();
        o.fill(dec!(1), dec!(1.1), t0()).unwrap();
        Ok(Some(o.with_version(3)))
    });
    h.broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    assert!(matches!(outcome, Outcome::Duplicate { status: OrderStatus::Filled, .. }), "{outcome:?}");
    assert!(kinds(&events).is_empty());
}

#[tokio::test]
async fn record_conflict_on_the_position_reapplies_the_fill_to_the_fresh_position() {
    let mut h = Harness::new();
    h.kill_switch.expect_get().returning(|| Ok(ks(TradingState::Active)));
    let mut seq = mockall::Sequence::new();
    h.positions.expect_list_open().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
    // Another order opened a position meanwhile.
    h.positions.expect_list_open().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![position(Side::Buy, dec!(2))]));
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    h.orders.expect_update().returning(|o| Ok(o.clone().with_version(o.version() + 1)));
    h.orders.expect_get().returning(|id| {
        let mut o = Order::received(OrderRequestSpec::market(id.as_str()), t0());
        o.transition(OrderStatus::Accepted, t0()).unwrap();
        Ok(Some(o.with_version(2)))
    });
    h.orders
        .expect_record_execution()
        .withf(|_, _, p| p.version == 0)
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Conflict { what: "position P-c-1".into(), detail: "exists".into() }));
    h.orders
        .expect_record_execution()
        .withf(|_, _, p| p.position_id == "P-old" && p.size == dec!(3))
        .times(1)
        .returning(|o, _, p| Ok((o.clone().with_version(3), Position { version: p.version + 1, ..p.clone() })));
    h.broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let (process, _) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    let Outcome::Filled { position, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!((position.position_id.as_str(), position.size, position.version), ("P-old", dec!(3), 5));
}

#[tokio::test]
async fn a_fill_that_cannot_be_recorded_is_dead_lettered_with_its_details() {
    let mut h = Harness::new().trading(TradingState::Active, vec![]);
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    h.orders.expect_update().returning(|o| Ok(o.clone().with_version(o.version() + 1)));
    h.orders
        .expect_record_execution()
        .times(3)
        .returning(|_, _, _| Err(RepositoryError::unavailable("dynamodb", "throttled")));
    h.broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let (process, events) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    let Outcome::DeadLetter { reason } = outcome else { panic!("{outcome:?}") };
    assert!(reason.starts_with("reconcile: filled at the broker (fill F-1: BUY 1 EURUSD @ 1.1050"), "{reason}");
    assert!(reason.ends_with("throttled"), "{reason}");
    assert_eq!(kinds(&events), ["error"]);
}

#[tokio::test]
async fn a_failed_publish_does_not_undo_the_fill() {
    let mut h = Harness::new().storing().trading(TradingState::Active, vec![]);
    h.events = MockEventPublisher::new();
    h.events.expect_publish().times(1).returning(|_| Err(PublishError::Unavailable { detail: "sns down".into() }));
    h.broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let (process, _) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    assert!(matches!(outcome, Outcome::Filled { .. }), "{outcome:?}");
}

#[rstest]
#[case::create(true)]
#[case::positions(false)]
#[tokio::test]
async fn an_unreachable_store_leaves_the_message_for_redelivery(#[case] on_create: bool) {
    let mut h = Harness::new();
    let down = || RepositoryError::unavailable("sqlite", "database is locked");
    if on_create {
        h.orders.expect_create().returning(move |_| Err(down()));
    } else {
        h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
        h.kill_switch.expect_get().returning(|| Ok(ks(TradingState::Active)));
        h.positions.expect_list_open().returning(move |_| Err(down()));
    }
    let (process, _) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    assert!(matches!(&outcome, Outcome::Retry { reason } if reason.contains("database is locked")), "{outcome:?}");
    assert_eq!(outcome.disposition(), Disposition::Leave);
}

/// Builds order specs for stored orders in the mocks.
struct OrderRequestSpec;

impl OrderRequestSpec {
    fn market(id: &str) -> OrderSpec {
        axia_domain::OrderRequest::parse(&body(id, "buy", "1")).unwrap().spec()
    }
}

// ---------------------------------------------------------------------------------------------
// At most once, against a small fake store with the store rules (versions, guarded statuses,
// atomic executions).

#[derive(Debug, Default)]
struct FakeState {
    orders: HashMap<ClientOrderId, Order>,
    positions: BTreeMap<String, Position>,
    trades: Vec<Trade>,
}

#[derive(Debug, Default)]
struct FakeStore(Mutex<FakeState>);

fn conflict(detail: &str) -> RepositoryError {
    RepositoryError::Conflict { what: "fake".into(), detail: detail.into() }
}

impl FakeStore {
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn order(&self, id: &str) -> Order {
        self.with(|s| s.orders[&ClientOrderId::new(id).unwrap()].clone())
    }
}

impl FakeState {
    fn check_order(&self, order: &Order, same_status_ok: bool) -> Result<Order, RepositoryError> {
        let stored = self.orders.get(order.client_order_id()).ok_or_else(|| conflict("missing"))?;
        let same = same_status_ok && stored.status() == order.status() && !stored.status().is_terminal();
        if stored.version() != order.version() || !(stored.status().can_become(order.status()) || same) {
            return Err(conflict("version or status"));
        }
        Ok(order.clone().with_version(order.version() + 1))
    }

    fn check_position(&self, p: &Position) -> Result<Position, RepositoryError> {
        match (self.positions.get(&p.position_id), p.version) {
            (None, 0) => {}
            (Some(s), v) if v != 0 && s.version == v => {}
            _ => return Err(conflict("position version")),
        }
        Ok(Position { version: p.version + 1, ..p.clone() })
    }
}

#[async_trait]
impl OrderRepository for FakeStore {
    async fn create(&self, order: &Order) -> Result<Order, RepositoryError> {
        tokio::task::yield_now().await;
        self.with(|s| {
            if s.orders.contains_key(order.client_order_id()) {
                return Err(conflict("exists"));
            }
            let stored = order.clone().with_version(1);
            s.orders.insert(order.client_order_id().clone(), stored.clone());
            Ok(stored)
        })
    }

    async fn update(&self, order: &Order) -> Result<Order, RepositoryError> {
        tokio::task::yield_now().await;
        self.with(|s| {
            let next = s.check_order(order, true)?;
            s.orders.insert(next.client_order_id().clone(), next.clone());
            Ok(next)
        })
    }

    async fn get(&self, id: &ClientOrderId) -> Result<Option<Order>, RepositoryError> {
        tokio::task::yield_now().await;
        Ok(self.with(|s| s.orders.get(id).cloned()))
    }

    async fn list(&self, _: Option<OrderStatus>, _: usize) -> Result<Vec<Order>, RepositoryError> {
        Ok(self.with(|s| s.orders.values().cloned().collect()))
    }

    async fn record_execution(
        &self,
        order: &Order,
        trade: &Trade,
        position: &Position,
    ) -> Result<(Order, Position), RepositoryError> {
        tokio::task::yield_now().await;
        self.with(|s| {
            let o = s.check_order(order, false)?;
            let p = s.check_position(position)?;
            if s.trades.iter().any(|t| t.trade_id() == trade.trade_id()) {
                return Err(conflict("trade exists"));
            }
            s.orders.insert(o.client_order_id().clone(), o.clone());
            s.positions.insert(p.position_id.clone(), p.clone());
            s.trades.push(trade.clone());
            Ok((o, p))
        })
    }
}

#[async_trait]
impl PositionRepository for FakeStore {
    async fn save(&self, position: &Position) -> Result<Position, RepositoryError> {
        self.with(|s| {
            let p = s.check_position(position)?;
            s.positions.insert(p.position_id.clone(), p.clone());
            Ok(p)
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Position>, RepositoryError> {
        Ok(self.with(|s| s.positions.get(id).cloned()))
    }

    async fn list_open(&self, symbol: Option<Symbol>) -> Result<Vec<Position>, RepositoryError> {
        tokio::task::yield_now().await;
        Ok(self.with(|s| {
            s.positions
                .values()
                .filter(|p| p.is_open() && symbol.as_ref().is_none_or(|x| *x == p.symbol))
                .cloned()
                .collect()
        }))
    }

    async fn list_by_strategy(&self, _: &str, _: Option<PositionStatus>) -> Result<Vec<Position>, RepositoryError> {
        Ok(vec![])
    }

    async fn opened_on(&self, _: NaiveDate) -> Result<Vec<Position>, RepositoryError> {
        Ok(vec![])
    }
}

/// A use case over the fake store, an active kill switch, and `broker`.
fn over_fake(store: &Arc<FakeStore>, broker: MockBrokerGateway, clock: &Arc<FixedClock>) -> ProcessOrder {
    let mut kill_switch = MockKillSwitchRepository::new();
    kill_switch.expect_get().returning(|| Ok(ks(TradingState::Active)));
    let mut events = MockEventPublisher::new();
    events.expect_publish().returning(|_| Ok(()));
    let ports = OrderPorts {
        orders: Arc::clone(store) as Arc<dyn OrderRepository>,
        positions: Arc::clone(store) as Arc<dyn PositionRepository>,
        kill_switch: Arc::new(kill_switch),
        broker: Arc::new(broker),
        events: Arc::new(events),
        clock: Arc::clone(clock) as Arc<dyn axia_domain::Clock>,
    };
    ProcessOrder::new(ports, KnownSymbols::Any, config())
}

#[tokio::test]
async fn the_same_order_delivered_five_times_executes_once() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let mut broker = MockBrokerGateway::new();
    broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let process = over_fake(&store, broker, &clock);
    let m = msg(&body("dup-1", "buy", "1"));
    let mut kinds = Vec::new();
    for _ in 0..5 {
        kinds.push(process.handle(&m).await.kind());
    }
    assert_eq!(kinds, ["filled", "duplicate", "duplicate", "duplicate", "duplicate"]);
    assert_eq!(store.order("dup-1").status(), OrderStatus::Filled);
    assert_eq!(store.with(|s| (s.trades.len(), s.positions.len())), (1, 1));
}

#[tokio::test]
async fn concurrent_deliveries_execute_once() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let mut broker = MockBrokerGateway::new();
    broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let process = over_fake(&store, broker, &clock);
    let m = msg(&body("dup-2", "buy", "1"));
    let outcomes = futures::future::join_all((0..5).map(|_| process.handle(&m))).await;
    let kinds: Vec<&str> = outcomes.iter().map(Outcome::kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "filled").count(), 1, "{kinds:?}");
    // The others found it claimed (wait and see) or already filled; none executed.
    assert!(kinds.iter().all(|k| ["filled", "duplicate", "retry"].contains(k)), "{kinds:?}");
    assert_eq!(store.with(|s| s.trades.len()), 1);
}

#[tokio::test]
async fn an_order_received_by_a_crashed_attempt_is_resumed() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let spec = OrderRequestSpec::market("crash-1");
    store.create(&Order::received(spec, t0())).await.unwrap();
    let mut broker = MockBrokerGateway::new();
    broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let process = over_fake(&store, broker, &clock);
    let outcome = process.handle(&msg(&body("crash-1", "buy", "1"))).await;
    assert!(matches!(outcome, Outcome::Filled { .. }), "{outcome:?}");
}

#[tokio::test]
async fn an_order_claimed_by_a_stopped_attempt_is_never_resent() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let mut order = Order::received(OrderRequestSpec::market("crash-2"), t0());
    let stored = store.create(&order).await.unwrap();
    order = stored;
    order.transition(OrderStatus::Accepted, t0()).unwrap();
    store.update(&order).await.unwrap();
    let broker = MockBrokerGateway::new(); // any execute call fails the test
    let process = over_fake(&store, broker, &clock);
    let m = msg(&body("crash-2", "buy", "1"));

    // Within the grace period the claim may still be in flight: wait for it.
    let outcome = process.handle(&m).await;
    assert!(matches!(&outcome, Outcome::Retry { reason } if reason.contains("waiting")), "{outcome:?}");
    // Past it the attempt is presumed dead: reconcile, never resend.
    clock.advance(TimeDelta::minutes(3));
    let outcome = process.handle(&m).await;
    let Outcome::DeadLetter { reason } = outcome else { panic!("{outcome:?}") };
    assert!(reason.starts_with(RECONCILE_PREFIX), "{reason}");
    assert_eq!(store.order("crash-2").reason(), Some(reason.as_str()));
    // Later deliveries see the note and dead-letter again.
    assert!(matches!(process.handle(&m).await, Outcome::DeadLetter { .. }));
    assert_eq!(store.order("crash-2").status(), OrderStatus::Accepted);
}

#[tokio::test]
async fn after_broker_unavailable_the_next_delivery_executes() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let mut broker = MockBrokerGateway::new();
    let mut seq = mockall::Sequence::new();
    broker
        .expect_execute()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(BrokerError::Unavailable { detail: "bridge down".into() }));
    broker.expect_execute().times(1).in_sequence(&mut seq).returning(|_| Ok(filled(dec!(1))));
    let process = over_fake(&store, broker, &clock);
    let m = msg(&body("retry-1", "buy", "1"));
    assert!(matches!(process.handle(&m).await, Outcome::Retry { .. }));
    assert!(store.order("retry-1").reason().is_some_and(|r| r.starts_with(NOT_SENT_PREFIX)));
    assert!(matches!(process.handle(&m).await, Outcome::Filled { .. }));
    assert!(matches!(process.handle(&m).await, Outcome::Duplicate { status: OrderStatus::Filled, .. }));
    assert_eq!(store.order("retry-1").reason(), None);
}

#[tokio::test]
async fn a_working_order_delivered_again_is_a_duplicate() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let mut broker = MockBrokerGateway::new();
    broker.expect_execute().times(1).returning(|_| Ok(Execution::Working { broker_order_id: "B-1".into() }));
    let process = over_fake(&store, broker, &clock);
    let m = msg(&body("work-1", "buy", "1").replace(r#""type": "market""#, r#""type": "limit", "limit_price": "1.1""#));
    assert!(matches!(process.handle(&m).await, Outcome::Working { .. }));
    assert!(matches!(process.handle(&m).await, Outcome::Duplicate { status: OrderStatus::Accepted, .. }));
}

#[tokio::test]
async fn a_resting_order_filled_later_is_recorded_once() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let mut broker = MockBrokerGateway::new();
    broker.expect_execute().times(1).returning(|_| Ok(Execution::Working { broker_order_id: "B-2".into() }));
    let process = over_fake(&store, broker, &clock);
    let m = msg(&body("work-2", "buy", "1").replace(r#""type": "market""#, r#""type": "limit", "limit_price": "1.1""#));
    assert!(matches!(process.handle(&m).await, Outcome::Working { .. }));
    let id = ClientOrderId::new("work-2").unwrap();
    let outcome = process.record_resting_fill(&id, filled(dec!(1))).await;
    let Outcome::Filled { order, position, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!((order.status(), position.size), (OrderStatus::Filled, dec!(1)));
    assert_eq!(store.order("work-2").status(), OrderStatus::Filled);
    // Reported again: already filled, nothing recorded twice.
    let again = process.record_resting_fill(&id, filled(dec!(1))).await;
    assert!(matches!(again, Outcome::Duplicate { status: OrderStatus::Filled, .. }), "{again:?}");
    assert_eq!(store.with(|s| s.trades.len()), 1);
    let unknown = process.record_resting_fill(&ClientOrderId::new("nope").unwrap(), filled(dec!(1))).await;
    assert!(matches!(unknown, Outcome::Retry { .. }), "{unknown:?}");
}

#[tokio::test]
async fn an_invalid_request_reusing_a_known_id_is_a_duplicate() {
    let store = Arc::new(FakeStore::default());
    let clock = Arc::new(FixedClock::new(t0()));
    let mut broker = MockBrokerGateway::new();
    broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let process = over_fake(&store, broker, &clock);
    assert!(matches!(process.handle(&msg(&body("c-9", "buy", "1"))).await, Outcome::Filled { .. }));
    let again = process.handle(&msg(&body("c-9", "buy", "0"))).await;
    assert!(matches!(again, Outcome::Duplicate { status: OrderStatus::Filled, .. }), "{again:?}");
}

#[tokio::test]
async fn a_fill_racing_a_reconcile_note_is_dead_lettered_with_its_details() {
    let mut h = Harness::new().trading(TradingState::Active, vec![]);
    h.orders.expect_create().returning(|o| Ok(o.clone().with_version(1)));
    h.orders.expect_update().returning(|o| Ok(o.clone().with_version(o.version() + 1)));
    h.orders
        .expect_record_execution()
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Conflict { what: "order c-1".into(), detail: "version".into() }));
    // Another attempt presumed this one dead and noted the order for reconciliation.
    h.orders.expect_get().returning(|id| {
        let mut o = Order::received(OrderRequestSpec::market(id.as_str()), t0());
        o.transition(OrderStatus::Accepted, t0()).unwrap();
        Ok(Some(o.with_version(3)))
    });
    h.broker.expect_execute().times(1).returning(|_| Ok(filled(dec!(1))));
    let (process, _) = h.build();
    let outcome = process.handle(&msg(&body("c-1", "buy", "1"))).await;
    let Outcome::DeadLetter { reason } = outcome else { panic!("{outcome:?}") };
    assert!(reason.starts_with("reconcile: filled at the broker (fill F-1"), "{reason}");
}
