//! The order daemon with the MT5 bridge as the broker (`[broker] backend = "mt5_bridge"`).
//!
//! - [`FillFeed`]: every `[orders] bars_every_secs` the fills of resting (limit / stop) orders
//!   the bridge reports ([`Mt5Bridge::poll_fills`]) go to [`ProcessOrder::record_resting_fill`],
//!   which records order, trade and position once (a fill seen again, e.g. after a restart, is
//!   a duplicate). A fill the store could not take yet ([`Outcome::Retry`]) is tried again at
//!   the next feeds, up to [`MAX_ATTEMPTS`] times. No bars are fed and no exits are managed
//!   here: the terminal holds each position's stop loss and take profit and closes it
//!   server-side.
//! - [`BridgeWatch`]: the bridge's connection status for the heartbeat (`broker_connected`), with
//!   a warning when it turns disconnected.

use std::sync::{Arc, Mutex, PoisonError};

use axia_adapters::mt5_bridge::{BridgeFill, Mt5Bridge};
use axia_application::orders::{Outcome, ProcessOrder};

/// How many feeds try a fill the order store did not take (then it is logged and left to
/// reconciliation).
pub(super) const MAX_ATTEMPTS: u32 = 10;

/// Records the fills of resting orders the bridge reports (see the [module documentation](self)).
pub(super) struct FillFeed {
    bridge: Arc<Mt5Bridge>,
    process: ProcessOrder,
    /// Fills to try again, with the attempts made.
    pending: tokio::sync::Mutex<Vec<(BridgeFill, u32)>>,
}

impl FillFeed {
    /// A feed of `bridge`'s fills into `process`.
    pub(super) fn new(bridge: Arc<Mt5Bridge>, process: ProcessOrder) -> Self {
        Self { bridge, process, pending: tokio::sync::Mutex::default() }
    }

    /// Polls the bridge once and records what it reports (and the fills left from before).
    pub(super) async fn once(&self) {
        let mut pending = self.pending.lock().await;
        let mut fills = std::mem::take(&mut *pending);
        match self.bridge.poll_fills().await {
            Ok(new) => fills.extend(new.into_iter().map(|f| (f, 0))),
            Err(e) => tracing::warn!(error = %e, "fill feed: the bridge's fills not read; trying again later"),
        }
        for (fill, attempts) in fills {
            let id = fill.client_order_id.clone();
            match self.process.record_resting_fill(&id, fill.execution.clone()).await {
                Outcome::Filled { trade, .. } => {
                    tracing::info!(client_order_id = %id, price = %trade.price(), seq = fill.seq, "resting order filled");
                }
                Outcome::Duplicate { status, .. } => {
                    tracing::debug!(client_order_id = %id, ?status, seq = fill.seq, "resting order fill recorded before");
                }
                Outcome::Retry { reason } if attempts + 1 < MAX_ATTEMPTS => {
                    tracing::debug!(client_order_id = %id, %reason, seq = fill.seq, "resting order fill: trying again later");
                    pending.push((fill, attempts + 1));
                }
                other => tracing::warn!(
                    client_order_id = %id,
                    outcome = ?other,
                    seq = fill.seq,
                    broker_order_id = %fill.broker_order_id,
                    "resting order fill not recorded: reconcile with the broker"
                ),
            }
        }
    }
}

/// The bridge's connection status as the heartbeat reports it.
#[derive(Debug)]
pub(super) struct BridgeWatch {
    bridge: Arc<Mt5Bridge>,
    /// The status the last look saw (`None` before the first request).
    last: Mutex<Option<bool>>,
}

impl BridgeWatch {
    /// Asks the bridge's `GET /health` once (a failure is logged: the daemon still starts, and
    /// orders that meet a bridge down are left for redelivery) and watches its status.
    pub(super) async fn start(bridge: Arc<Mt5Bridge>) -> Self {
        match bridge.health().await {
            Ok(h) => tracing::info!(
                server = %h.server,
                terminal_connected = h.terminal_connected,
                server_time_utc = %h.server_time_utc,
                "mt5 bridge reached"
            ),
            Err(e) => tracing::warn!(error = %e, "mt5 bridge not reachable at start; orders wait for it"),
        }
        let watch = Self { bridge, last: Mutex::new(None) };
        watch.connected();
        watch
    }

    /// Whether the last request reached a working terminal; warns when that turned false since
    /// the last look.
    pub(super) fn connected(&self) -> bool {
        let status = self.bridge.connection_status();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if status.last_change.is_some() {
            if !status.connected && *last != Some(false) {
                tracing::warn!(
                    error = status.last_error.as_deref(),
                    since = ?status.last_change,
                    "mt5 bridge disconnected: orders are left for redelivery until it is back"
                );
            }
            *last = Some(status.connected);
        }
        status.connected
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axia_adapters::memory::InMemoryStateStore;
    use axia_application::KillSwitchService;
    use axia_application::orders::{KnownSymbols, OrderPorts, ProcessConfig};
    use axia_domain::ports::{BrokerGateway, KillSwitchRepository, OrderRepository, QueueMessage};
    use axia_domain::{ClientOrderId, Clock, Order, OrderSpec, OrderStatus, OrderType, Side, Symbol, SystemClock};
    use axia_tests::fake_mt5_bridge::FakeMt5Bridge;
    use chrono::Utc;
    use rust_decimal::dec;

    use super::*;

    async fn setup() -> (FakeMt5Bridge, Arc<Mt5Bridge>, Arc<InMemoryStateStore>, ProcessOrder) {
        let fake = FakeMt5Bridge::start("t", "UTC".parse().unwrap()).await;
        fake.set_quote("EURUSD", dec!(1.1));
        let bridge = Arc::new(Mt5Bridge::new(fake.settings(Duration::from_secs(5))).unwrap());
        let state = Arc::new(InMemoryStateStore::new());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        KillSwitchService::new(state.clone() as Arc<dyn KillSwitchRepository>, clock.clone())
            .initialise("test")
            .await
            .unwrap();
        let ports = OrderPorts {
            orders: state.clone(),
            positions: state.clone(),
            kill_switch: state.clone(),
            broker: bridge.clone(),
            events: Arc::new(axia_adapters::events::LogEventPublisher::new()),
            clock,
        };
        let process = ProcessOrder::new(ports, KnownSymbols::Any, ProcessConfig::default());
        (fake, bridge, state, process)
    }

    #[tokio::test]
    async fn fill_feed_records_a_resting_fill_once_and_gives_up_on_an_order_never_stored() {
        let (fake, bridge, state, process) = setup().await;
        let limit = r#"{"schema_version": 1, "client_order_id": "l-1", "symbol": "EURUSD", "side": "buy", "type": "limit", "quantity": "2", "limit_price": "1.098"}"#;
        let message = QueueMessage { id: "m".into(), receipt: "r".into(), body: limit.into(), receive_count: 1 };
        assert_eq!(process.handle(&message).await.kind(), "working");
        // An order placed at the bridge by someone else: its fill has no stored order.
        let spec = OrderSpec::new(
            ClientOrderId::new("other-1").unwrap(),
            Symbol::new("EURUSD").unwrap(),
            Side::Buy,
            OrderType::Limit,
            dec!(1),
            Some(dec!(1.097)),
        );
        let mut other = Order::received(spec, Utc::now());
        other.transition(OrderStatus::Accepted, Utc::now()).unwrap();
        assert!(matches!(bridge.execute(&other).await, Ok(axia_domain::ports::Execution::Working { .. })));
        fake.set_quote("EURUSD", dec!(1.095));

        let feed = FillFeed::new(bridge, process);
        feed.once().await;
        let stored = OrderRepository::get(&*state, &ClientOrderId::new("l-1").unwrap()).await.unwrap().unwrap();
        assert_eq!((stored.status(), stored.average_fill_price()), (OrderStatus::Filled, Some(dec!(1.095))));
        assert_eq!(
            feed.pending.lock().await.iter().map(|(f, n)| (f.client_order_id.as_str(), *n)).collect::<Vec<_>>(),
            [("other-1", 1)]
        );
        for _ in 1..MAX_ATTEMPTS {
            feed.once().await;
        }
        assert!(feed.pending.lock().await.is_empty(), "given up after {MAX_ATTEMPTS} attempts");
        let again = OrderRepository::get(&*state, &ClientOrderId::new("l-1").unwrap()).await.unwrap().unwrap();
        assert_eq!(again.version(), stored.version(), "recorded once");
    }

    #[tokio::test]
    async fn bridge_watch_reports_the_connection_of_the_last_request() {
        let (fake, bridge, _, _) = setup().await;
        let watch = BridgeWatch::start(bridge.clone()).await;
        assert!(watch.connected());
        fake.set_connected(false);
        assert!(bridge.poll_fills().await.is_err());
        assert!(!watch.connected());
        assert_eq!(*watch.last.lock().unwrap(), Some(false));
    }
}
