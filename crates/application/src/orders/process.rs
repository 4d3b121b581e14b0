//! [`ProcessOrder`]: one queue message from request to recorded fill — parse, validate,
//! idempotency, kill switch, broker, atomic record, events (see the [parent module](super) for
//! the at-most-once rules).

use std::fmt;
use std::sync::Arc;

use axia_domain::ports::{
    BrokerError, BrokerGateway, EventPublisher, Execution, KillSwitchRepository, OrderRepository, PositionRepository,
    QueueMessage, RepositoryError,
};
use axia_domain::{
    ClientOrderId, Clock, Order, OrderRequest, OrderSpec, OrderStatus, Position, SystemEvent, Trade, TradingState,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{KnownSymbols, NOT_SENT_PREFIX, Outcome, ProcessConfig, RECONCILE_PREFIX, WORKING_PREFIX};
use crate::kill_switch::KillSwitchService;

/// The ports order processing uses.
#[derive(Clone)]
pub struct OrderPorts {
    /// Orders (and the atomic execution record).
    pub orders: Arc<dyn OrderRepository>,
    /// Open positions.
    pub positions: Arc<dyn PositionRepository>,
    /// The kill switch (read fail-closed).
    pub kill_switch: Arc<dyn KillSwitchRepository>,
    /// Where orders execute.
    pub broker: Arc<dyn BrokerGateway>,
    /// Fills, rejections and errors go here (best effort).
    pub events: Arc<dyn EventPublisher>,
    /// "Now".
    pub clock: Arc<dyn Clock>,
}

/// The order-processing use case (`ProcessSqsOrder`, whatever the queue).
#[derive(Clone)]
pub struct ProcessOrder {
    ports: OrderPorts,
    known: KnownSymbols,
    config: ProcessConfig,
}

impl fmt::Debug for ProcessOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessOrder")
            .field("broker", &self.ports.broker.name())
            .field("known", &self.known)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How a stored `Accepted` order got there, from its reason.
enum AcceptedNote {
    NotSent,
    Working,
    Reconcile,
    /// Claimed by an attempt in flight, or one that stopped.
    Claimed,
}

fn note_of(order: &Order) -> AcceptedNote {
    match order.reason() {
        Some(r) if r.starts_with(NOT_SENT_PREFIX) => AcceptedNote::NotSent,
        Some(r) if r.starts_with(WORKING_PREFIX) => AcceptedNote::Working,
        Some(r) if r.starts_with(RECONCILE_PREFIX) => AcceptedNote::Reconcile,
        _ => AcceptedNote::Claimed,
    }
}

/// `order` with another reason, same status and version (for a conditional update).
fn with_reason(order: &Order, reason: Option<String>, now: DateTime<Utc>) -> Order {
    Order::restore(
        order.spec().clone(),
        order.status(),
        order.filled_quantity(),
        order.average_fill_price(),
        reason,
        order.position_id().map(str::to_string),
        order.version(),
        order.created_at(),
        now,
    )
}

fn retry(what: &str, e: &RepositoryError) -> Outcome {
    Outcome::Retry { reason: format!("{what}: {e}") }
}

/// Where a step left the order: done, or changed by someone else (re-read it and decide).
enum Step {
    Done(Outcome),
    Resume,
}

impl From<Outcome> for Step {
    fn from(o: Outcome) -> Self {
        Self::Done(o)
    }
}

/// How many times one message re-reads its order after losing a race before it gives up
/// (for now: the message is redelivered).
const MAX_RESUMES: u8 = 3;

/// A fill the broker reported.
struct Fill {
    trade_id: String,
    quantity: Decimal,
    price: Decimal,
    at: DateTime<Utc>,
}

impl ProcessOrder {
    /// The use case over `ports`, trading `known` symbols.
    #[must_use]
    pub const fn new(ports: OrderPorts, known: KnownSymbols, config: ProcessConfig) -> Self {
        Self { ports, known, config }
    }

    /// The clock it reads.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.ports.clock
    }

    /// Processes one message. Never fails: every failure is an [`Outcome`] that says what the
    /// queue must do with the message.
    pub async fn handle(&self, message: &QueueMessage) -> Outcome {
        let request = match OrderRequest::parse(&message.body) {
            Ok(r) => r,
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(message_id = %message.id, %reason, "unparseable order request; dead-lettering");
                self.publish_rejected(&message.id, &reason).await;
                return Outcome::DeadLetter { reason };
            }
        };
        let id = request.client_order_id().clone();
        let received = Order::received(request.spec(), self.ports.clock.now());
        let fresh = match request.validate(&|s| self.known.contains(s)) {
            Ok(()) => received,
            Err(e) => {
                let mut rejected = received;
                if let Err(e) = rejected.reject(e.to_string(), self.ports.clock.now()) {
                    return Outcome::DeadLetter { reason: e.to_string() };
                }
                rejected
            }
        };
        let mut step = match self.ports.orders.create(&fresh).await {
            Ok(stored) if stored.status() == OrderStatus::Rejected => {
                let reason = stored.reason().unwrap_or_default().to_string();
                tracing::info!(client_order_id = %id, %reason, "order rejected");
                self.publish_rejected(id.as_str(), &reason).await;
                return Outcome::Rejected { client_order_id: id, reason };
            }
            Ok(stored) => self.check_and_execute(stored).await,
            // The id was seen before: the stored order says how far it got.
            Err(RepositoryError::Conflict { .. }) => Step::Resume,
            Err(e) => return retry("storing the order", &e),
        };
        let asked = request.spec();
        for depth in 0..MAX_RESUMES {
            match step {
                Step::Done(outcome) => return outcome,
                Step::Resume => step = self.resume(&id, &asked, depth).await,
            }
        }
        match step {
            Step::Done(outcome) => outcome,
            Step::Resume => Outcome::Retry { reason: format!("order {id} keeps changing under this attempt") },
        }
    }

    /// A stored order of this id exists: decide from how far it got. Only the first look
    /// (`depth` 0) may go on to execute it.
    async fn resume(&self, id: &ClientOrderId, asked: &OrderSpec, depth: u8) -> Step {
        let stored = match self.ports.orders.get(id).await {
            Ok(Some(o)) => o,
            Ok(None) => {
                return Outcome::Retry { reason: format!("order {id} conflicted but cannot be read yet") }.into();
            }
            Err(e) => return retry("reading the order", &e).into(),
        };
        if stored.spec() != asked {
            tracing::warn!(client_order_id = %id, "client order id reused for a different request; the stored order wins");
        }
        let duplicate = |status| Outcome::Duplicate { client_order_id: id.clone(), status }.into();
        match stored.status() {
            // Never claimed, so never sent: an earlier attempt stopped before the broker.
            OrderStatus::Received if depth == 0 => self.check_and_execute(stored).await,
            OrderStatus::Received => {
                Outcome::Retry { reason: format!("order {id} is being processed elsewhere") }.into()
            }
            OrderStatus::Accepted => match note_of(&stored) {
                AcceptedNote::NotSent if depth == 0 => self.check_and_execute(stored).await,
                AcceptedNote::NotSent => {
                    Outcome::Retry { reason: format!("order {id} is being retried elsewhere") }.into()
                }
                AcceptedNote::Working => duplicate(OrderStatus::Accepted),
                AcceptedNote::Reconcile => {
                    Outcome::DeadLetter { reason: stored.reason().unwrap_or_default().to_string() }.into()
                }
                AcceptedNote::Claimed => self.claimed_elsewhere(stored).await.into(),
            },
            status => duplicate(status),
        }
    }

    /// Records a fill the broker reported later for an order resting there (a limit or stop
    /// order that was [`Outcome::Working`]), e.g. from `PaperBroker::on_bar`: the order, its
    /// trade and the position, as for a fill on submission. An order that is not resting
    /// (filled or rejected meanwhile) is a [`Outcome::Duplicate`]; a stored order that cannot be
    /// read is [`Outcome::Retry`].
    pub async fn record_resting_fill(&self, id: &ClientOrderId, execution: Execution) -> Outcome {
        let Execution::Filled { fill_id, quantity, price, at } = execution else {
            return Outcome::Retry { reason: format!("order {id}: the broker reported no fill") };
        };
        let stored = match self.ports.orders.get(id).await {
            Ok(Some(o)) => o,
            Ok(None) => return Outcome::Retry { reason: format!("order {id} is not stored") },
            Err(e) => return retry("reading the order", &e),
        };
        if stored.status() != OrderStatus::Accepted || !matches!(note_of(&stored), AcceptedNote::Working) {
            return Outcome::Duplicate { client_order_id: id.clone(), status: stored.status() };
        }
        let open = match self.ports.positions.list_open(Some(stored.spec().symbol.clone())).await {
            Ok(p) => p,
            Err(e) => return retry("reading open positions", &e),
        };
        let trade_id = if fill_id.is_empty() { format!("{id}-fill") } else { fill_id };
        self.record_fill(stored, Fill { trade_id, quantity, price, at }, open).await
    }

    /// An `Accepted` order without a note: in flight elsewhere, or abandoned after its claim.
    async fn claimed_elsewhere(&self, stored: Order) -> Outcome {
        let now = self.ports.clock.now();
        let id = stored.client_order_id().clone();
        if now - stored.updated_at() < self.config.in_flight_grace {
            return Outcome::Retry {
                reason: format!("order {id} was claimed at {}; waiting for that attempt", stored.updated_at()),
            };
        }
        let detail = format!(
            "order {id} was sent for execution at {} and its outcome was never recorded (the attempt stopped); \
             it is not resent: check the broker and reconcile",
            stored.updated_at()
        );
        self.reconcile(&stored, detail).await
    }

    /// Kill switch and exposure checks, then the claim (`Accepted`, stored), then the broker.
    /// `order` is stored `Received`, or `Accepted` with a "not sent" note.
    async fn check_and_execute(&self, order: Order) -> Step {
        let spec = order.spec().clone();
        let now = self.ports.clock.now();
        let ks = KillSwitchService::new(Arc::clone(&self.ports.kill_switch), Arc::clone(&self.ports.clock))
            .status()
            .await
            .state;
        if ks.state == TradingState::Halted {
            return self.reject_stored(order, format!("kill switch halted: {}", ks.reason)).await;
        }
        let open = match self.ports.positions.list_open(Some(spec.symbol.clone())).await {
            Ok(p) => p,
            Err(e) => return retry("reading open positions", &e).into(),
        };
        let net: Decimal = open.iter().map(Position::signed_size).sum();
        if !ks.state.permits(spec.side, spec.quantity, net) {
            let reason = format!(
                "kill switch {}: a {} of {} does not reduce the net {} position of {net} ({})",
                ks.state,
                spec.side.as_str(),
                spec.quantity,
                spec.symbol,
                ks.reason
            );
            return self.reject_stored(order, reason).await;
        }
        if let Some(reason) = reversal(&open, &spec) {
            return self.reject_stored(order, reason).await;
        }
        let claim = if order.status() == OrderStatus::Received {
            let mut next = order.clone();
            match next.transition(OrderStatus::Accepted, now) {
                Ok(()) => next,
                Err(e) => return Outcome::DeadLetter { reason: e.to_string() }.into(),
            }
        } else {
            with_reason(&order, None, now)
        };
        match self.ports.orders.update(&claim).await {
            Ok(claimed) => self.execute(claimed, open).await,
            Err(RepositoryError::Conflict { .. }) => Step::Resume,
            Err(e) => retry("claiming the order", &e).into(),
        }
    }

    async fn execute(&self, order: Order, open: Vec<Position>) -> Step {
        let id = order.client_order_id().clone();
        match self.ports.broker.execute(&order).await {
            Ok(Execution::Filled { fill_id, quantity, price, at }) => {
                let trade_id = if fill_id.is_empty() { format!("{id}-fill") } else { fill_id };
                self.record_fill(order, Fill { trade_id, quantity, price, at }, open).await.into()
            }
            Ok(Execution::Working { broker_order_id }) => {
                let note = with_reason(&order, Some(format!("{WORKING_PREFIX}{broker_order_id}")), self.now());
                if let Err(e) = self.ports.orders.update(&note).await {
                    tracing::warn!(client_order_id = %id, error = %e, "working order not annotated");
                }
                tracing::info!(client_order_id = %id, %broker_order_id, "order working at the broker");
                Outcome::Working { client_order_id: id, broker_order_id }.into()
            }
            Err(e @ BrokerError::Rejected { .. }) => self.reject_stored(order, e.to_string()).await,
            Err(e @ BrokerError::Unavailable { .. }) => {
                let note = with_reason(&order, Some(format!("{NOT_SENT_PREFIX}{e}")), self.now());
                if let Err(store) = self.ports.orders.update(&note).await {
                    // Without the note a redelivery cannot tell "not sent" from "sent": it waits,
                    // then dead-letters for reconciliation. Safe, never a blind resend.
                    tracing::warn!(client_order_id = %id, error = %store, "broker-unavailable note not stored");
                }
                tracing::warn!(client_order_id = %id, error = %e, "broker unavailable; the message will be redelivered");
                Outcome::Retry { reason: e.to_string() }.into()
            }
            Err(e @ BrokerError::Unknown { .. }) => {
                let detail = format!("{e}; order {id} is not resent: check the broker and reconcile");
                self.reconcile(&order, detail).await.into()
            }
        }
    }

    /// Applies the fill to the order and the symbol's position and records all three at once.
    async fn record_fill(&self, accepted: Order, fill: Fill, mut open: Vec<Position>) -> Outcome {
        let id = accepted.client_order_id().clone();
        let spec = accepted.spec().clone();
        let unrecorded = |why: String| {
            format!(
                "filled at the broker (fill {}: {} {} {} @ {} at {}) but not recorded: {why}",
                fill.trade_id,
                spec.side.as_str(),
                fill.quantity,
                spec.symbol,
                fill.price,
                fill.at
            )
        };
        let mut filled = accepted.clone();
        if let Err(e) = filled.fill(fill.quantity, fill.price, fill.at) {
            return self.reconcile(&accepted, unrecorded(e.to_string())).await;
        }
        let mut backoff = self.config.record_backoff;
        let mut last = String::new();
        for attempt in 1..=self.config.record_attempts.max(1) {
            let position = match apply_fill(&open, &spec, &fill) {
                Ok(p) => p,
                Err(e) => return self.reconcile(&accepted, unrecorded(e)).await,
            };
            filled.set_position_id(position.position_id.clone());
            let trade = match Trade::new(
                fill.trade_id.clone(),
                id.clone(),
                Some(position.position_id.clone()),
                spec.symbol.clone(),
                spec.side,
                fill.quantity,
                fill.price,
                fill.at,
            ) {
                Ok(t) => t,
                Err(e) => return self.reconcile(&accepted, unrecorded(e.to_string())).await,
            };
            match self.ports.orders.record_execution(&filled, &trade, &position).await {
                Ok((order, position)) => {
                    tracing::info!(client_order_id = %id, trade_id = trade.trade_id(), price = %trade.price(), "order filled");
                    self.publish(&SystemEvent::OrderFilled { trade: trade.clone() }).await;
                    return Outcome::Filled {
                        order: Box::new(order),
                        trade: Box::new(trade),
                        position: Box::new(position),
                    };
                }
                Err(e @ RepositoryError::Conflict { .. }) => {
                    match self.ports.orders.get(&id).await {
                        Ok(Some(stored)) if stored.version() != accepted.version() => {
                            if stored.status() == OrderStatus::Accepted {
                                // Another attempt presumed this one dead and noted the order
                                // meanwhile: this fill must reach an operator.
                                return self.reconcile(&accepted, unrecorded(e.to_string())).await;
                            }
                            // A racing attempt recorded the order first: it owns the outcome.
                            return Outcome::Duplicate { client_order_id: id, status: stored.status() };
                        }
                        // The order is as we left it: the position changed under us; re-apply.
                        Ok(_) | Err(_) => {}
                    }
                    last = e.to_string();
                    match self.ports.positions.list_open(Some(spec.symbol.clone())).await {
                        Ok(p) => open = p,
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) if e.is_retryable() => last = e.to_string(),
                Err(e) => return self.reconcile(&accepted, unrecorded(e.to_string())).await,
            }
            if attempt < self.config.record_attempts {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        self.reconcile(&accepted, unrecorded(last)).await
    }

    /// Rejects a stored (`Received` or `Accepted`) order with `reason`.
    async fn reject_stored(&self, order: Order, reason: String) -> Step {
        let id = order.client_order_id().clone();
        let mut rejected = order;
        if let Err(e) = rejected.reject(reason.clone(), self.now()) {
            return Outcome::DeadLetter { reason: e.to_string() }.into();
        }
        match self.ports.orders.update(&rejected).await {
            Ok(_) => {
                tracing::info!(client_order_id = %id, %reason, "order rejected");
                self.publish_rejected(id.as_str(), &reason).await;
                Outcome::Rejected { client_order_id: id, reason }.into()
            }
            Err(RepositoryError::Conflict { .. }) => Step::Resume,
            Err(e) => retry("recording the rejection", &e).into(),
        }
    }

    /// The outcome of `order` at the broker is unknown: note it on the order (best effort),
    /// tell operators, and dead-letter the message so it is never resent blindly.
    async fn reconcile(&self, order: &Order, detail: String) -> Outcome {
        let reason = format!("{RECONCILE_PREFIX}{detail}");
        let id = order.client_order_id();
        if let Err(e) = self.ports.orders.update(&with_reason(order, Some(reason.clone()), self.now())).await {
            tracing::warn!(client_order_id = %id, error = %e, "reconcile note not stored");
        }
        tracing::error!(client_order_id = %id, %reason, "order needs reconciliation; dead-lettering");
        let at = self.now();
        self.publish(&SystemEvent::Error { component: "orders".into(), message: reason.clone(), at }).await;
        Outcome::DeadLetter { reason }
    }

    async fn publish_rejected(&self, client_order_id: &str, reason: &str) {
        let event = SystemEvent::OrderRejected {
            client_order_id: client_order_id.into(),
            reason: reason.into(),
            at: self.now(),
        };
        self.publish(&event).await;
    }

    /// Events are best effort: a failure is logged and never undoes what happened.
    async fn publish(&self, event: &SystemEvent) {
        if let Err(e) = self.ports.events.publish(event).await {
            tracing::warn!(event = event.kind(), error = %e, "event not published");
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }
}

/// Why an order would reverse an open position of its symbol (refused: a reversal is a close
/// and an open, which cannot be recorded as one execution).
fn reversal(open: &[Position], spec: &OrderSpec) -> Option<String> {
    let opposite = open.iter().find(|p| p.side != spec.side)?;
    (spec.quantity > opposite.size).then(|| {
        format!(
            "would reverse the open {} position {} of {} (size {}) with a {} of {}: close it first",
            opposite.side.as_str(),
            opposite.position_id,
            spec.symbol,
            opposite.size,
            spec.side.as_str(),
            spec.quantity
        )
    })
}

/// The symbol's position after `fill`: the opposite position reduced (or closed), the same-side
/// position increased (the order's protective levels, when given, replace the old ones), or a
/// new position.
fn apply_fill(open: &[Position], spec: &OrderSpec, fill: &Fill) -> Result<Position, String> {
    if let Some(p) = open.iter().find(|p| p.side != spec.side) {
        if let Some(why) = reversal(open, &OrderSpec { quantity: fill.quantity, ..spec.clone() }) {
            return Err(why);
        }
        let mut p = p.clone();
        p.reduce(fill.quantity, fill.price, fill.at).map_err(|e| e.to_string())?;
        return Ok(p);
    }
    if let Some(p) = open.iter().find(|p| p.side == spec.side) {
        let mut p = p.clone();
        p.increase(fill.quantity, fill.price, fill.at).map_err(|e| e.to_string())?;
        p.stop_loss = spec.stop_loss.or(p.stop_loss);
        p.take_profit = spec.take_profit.or(p.take_profit);
        p.trailing_stop_distance = spec.trailing_stop_distance.or(p.trailing_stop_distance);
        return Ok(p);
    }
    let mut p = Position::open(
        format!("P-{}", spec.client_order_id),
        fill.trade_id.clone(),
        spec.symbol.clone(),
        spec.side,
        fill.quantity,
        fill.price,
        fill.at,
    )
    .map_err(|e| e.to_string())?;
    p.strategy_id.clone_from(&spec.strategy_id);
    p.signal_id.clone_from(&spec.signal_id);
    p.stop_loss = spec.stop_loss;
    p.take_profit = spec.take_profit;
    p.trailing_stop_distance = spec.trailing_stop_distance;
    Ok(p)
}
