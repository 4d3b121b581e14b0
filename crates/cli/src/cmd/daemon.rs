//! `axia orders run`: the order daemon. [`OrderProcessor`] over the queue of `[queue]`, with
//!
//! - graceful shutdown: SIGTERM or SIGINT flips a watch channel; the processor stops receiving,
//!   finishes (settles) the batch in hand and returns; anything received but not settled becomes
//!   visible again after the visibility timeout, so nothing is lost;
//! - a heartbeat every `[orders] heartbeat_secs`: a `tracing` line (target `axia::metrics`,
//!   `metric = "orders_heartbeat"` with the running totals) and, when `[redis] url` is set, the
//!   field `heartbeat:orders` of Redis `system:status`;
//! - with the paper broker (`[broker] backend = "paper"`), a bar feed every
//!   `[orders] bars_every_secs`: each new closed bar of a symbol with open positions or resting
//!   orders goes first to `PaperBroker::on_bar` (resting limit / stop orders it reaches fill, and
//!   [`ProcessOrder::record_resting_fill`] records order, trade and position), then to
//!   [`ManageExits::on_bar`] (stop losses and take profits close positions, trailing stops
//!   tighten), as `docs/paper-broker.md` asks;
//! - with the MT5 bridge (`[broker] backend = "mt5_bridge"`), a fill feed at the same pace
//!   instead ([`bridge`]): the fills of resting orders the bridge reports go to
//!   [`ProcessOrder::record_resting_fill`]; neither the paper broker nor the exit manager runs,
//!   since the terminal manages stop losses and take profits server-side. The heartbeat then
//!   carries `broker_connected`;
//! - with `[orders] metrics_listen`, `GET /metrics` in the Prometheus text format
//!   ([`crate::metrics::daemon`]);
//! - one summary line at the end (JSON when stdout is not a terminal or with `--json`), and one
//!   summary log line (target `axia::summary`).

mod bridge;
mod observe;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use axia_adapters::paper::PaperBroker;
use axia_adapters::redis::RedisSystemStatus;
use axia_application::exits::{ExitOutcome, ManageExits};
use axia_application::orders::{OrderProcessor, Outcome, ProcessOrder, RunOptions, RunSummary, StopReason};
use axia_domain::ports::{OhlcvDataRepository, PositionRepository};
use axia_domain::{Clock, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::cmd::orders::want_json;
use crate::error::{CliError, CliResult};
use crate::metrics::daemon::DaemonMetrics;
use crate::metrics::{MetricsFormat, SUMMARY_TARGET};
use crate::wiring::{App, Broker};

use bridge::{BridgeWatch, FillFeed};
use observe::{DaemonHeartbeat, start_metrics};

/// The longest wait of a receive under `--until-idle`: an empty receive ends the run, so a long
/// poll would only delay the end.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Runs the daemon.
///
/// # Errors
/// [`CliError::Failed`] when the queue, the state store or the events cannot be opened, or the
/// queue became unusable while running (after printing the summary).
pub async fn run(app: &App, args: RunArgs) -> CliResult {
    let (stop_tx, stop_rx) = watch::channel(false);
    listen_for_signals(stop_tx)?;
    let broker = app.broker_choice()?;
    let queue = app.queue().await.map_err(CliError::Failed)?;
    let process = app.process_order().await.map_err(CliError::Failed)?;
    let stores = app.state().await.map_err(CliError::Failed)?;
    let redis = app.redis_bars.as_ref().map(|r| RedisSystemStatus::with_client(Arc::clone(r.client())));
    let bridge = match &broker {
        Broker::Mt5(bridge) => Some(BridgeWatch::start(Arc::clone(bridge)).await),
        Broker::Paper(_) => None,
    };
    let metrics = Arc::new(DaemonMetrics::new(broker.name()));
    let listener = match app.config.orders.metrics_listen {
        Some(addr) => Some(start_metrics(app, addr, &broker, Arc::clone(&metrics)).await?),
        None => None,
    };
    let heartbeat = Arc::new(DaemonHeartbeat {
        redis,
        bridge,
        metrics: Arc::clone(&metrics),
        emf: app.config.orders.metrics == MetricsFormat::Emf,
    });
    let processor = OrderProcessor::new(queue.port(), process.clone()).with_heartbeat(heartbeat);
    let cfg = &app.config;
    let options = RunOptions {
        batch_size: cfg.queue.batch_size,
        wait: if args.until_idle { cfg.queue.wait().min(IDLE_WAIT) } else { cfg.queue.wait() },
        visibility_extension: cfg.queue.visibility_timeout(),
        until_idle: args.until_idle,
        max_messages: args.max_messages.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        heartbeat_every: Duration::from_secs(cfg.orders.heartbeat_secs),
        ..RunOptions::default()
    };
    tracing::info!(queue = %queue.location, broker = broker.name(), until_idle = args.until_idle, "order daemon started");
    let feed = match broker {
        Broker::Paper(paper) => Feed::Bars(BarFeed {
            prices: app.prices(),
            broker: paper,
            process,
            positions: Arc::clone(&stores.positions),
            exits: ManageExits::new(Arc::clone(&stores.positions), Arc::clone(&app.clock)),
            clock: Arc::clone(&app.clock),
            timeframe: cfg.broker.paper.base_timeframe,
            fed: tokio::sync::Mutex::default(),
        }),
        Broker::Mt5(bridge) => Feed::Fills(FillFeed::new(bridge, process)),
    };
    let every = Duration::from_secs(cfg.orders.bars_every_secs);
    let summary = tokio::select! {
        biased;
        summary = processor.run(options, stop_rx.clone()) => summary,
        () = feed.run(every, stop_rx) => unreachable!("the bar feed runs until the processor stops"),
    };
    // One last feed so that the bars of a short run (`--until-idle`) reach the exits too (and
    // the fills the bridge reported meanwhile are recorded).
    if !every.is_zero() {
        feed.once().await;
    }
    metrics.totals(&summary);
    if let Some(listener) = listener {
        listener.abort();
    }
    print_summary(&summary, &queue.location, want_json(args.json));
    tracing::info!(
        target: SUMMARY_TARGET,
        command = "orders run",
        summary = %serde_json::to_value(&summary).unwrap_or_else(|_| json!({})),
        "order daemon stopped"
    );
    match summary.stopped_by {
        Some(StopReason::QueueUnusable(why)) => {
            Err(CliError::Failed(anyhow!("the order queue {} cannot be used: {why}", queue.location)))
        }
        _ => Ok(()),
    }
}

/// SIGTERM and SIGINT set `stop`; a second signal is logged only (the batch in hand still
/// finishes: killing it mid-record is what `kill -9` is for).
fn listen_for_signals(stop: watch::Sender<bool>) -> CliResult {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| CliError::Failed(anyhow!("SIGTERM handler: {e}")))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| CliError::Failed(anyhow!("SIGINT handler: {e}")))?;
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutdown requested: no new messages; finishing the batch in hand");
            if stop.send(true).is_err() {
                return;
            }
        }
    });
    Ok(())
}

fn print_summary(summary: &RunSummary, queue: &str, json_out: bool) {
    let stopped = match &summary.stopped_by {
        Some(StopReason::Shutdown) => "shutdown".to_owned(),
        Some(StopReason::Idle) => "idle".to_owned(),
        Some(StopReason::MaxMessages) => "max_messages".to_owned(),
        Some(StopReason::QueueUnusable(why)) => format!("queue_unusable: {why}"),
        None => "running".to_owned(),
    };
    if json_out {
        let mut doc = serde_json::to_value(summary).unwrap_or_else(|_| json!({}));
        doc["queue"] = json!(queue);
        outln!("{doc}");
    } else {
        outln!(
            "orders run stopped ({stopped}): received {}, filled {}, working {}, rejected {}, duplicates {}, \
             dead-lettered {}, retried {}, errors {} ({queue})",
            summary.received,
            summary.filled,
            summary.working,
            summary.rejected,
            summary.duplicates,
            summary.dead_lettered,
            summary.retried,
            summary.errors
        );
    }
}

/// What the daemon does every `[orders] bars_every_secs`, by broker.
enum Feed {
    /// New bars to the paper broker and the exit manager.
    Bars(BarFeed),
    /// The bridge's resting-order fills to the order store.
    Fills(FillFeed),
}

impl Feed {
    /// Every `every` until shutdown; never when `every` is zero.
    async fn run(&self, every: Duration, mut stop: watch::Receiver<bool>) {
        if every.is_zero() {
            return std::future::pending().await;
        }
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return std::future::pending().await,
                () = tokio::time::sleep(every) => {}
            }
            self.once().await;
        }
    }

    async fn once(&self) {
        match self {
            Self::Bars(feed) => feed.once().await,
            Self::Fills(feed) => feed.once().await,
        }
    }
}

/// Feeds new bars of the symbols with open positions or resting orders to the paper broker and
/// the exit manager.
struct BarFeed {
    prices: Arc<dyn OhlcvDataRepository>,
    broker: Arc<PaperBroker>,
    process: ProcessOrder,
    positions: Arc<dyn PositionRepository>,
    exits: ManageExits,
    clock: Arc<dyn Clock>,
    timeframe: Timeframe,
    /// Per symbol: the bars that opened before this time were fed already (by this process).
    fed: tokio::sync::Mutex<BTreeMap<Symbol, DateTime<Utc>>>,
}

impl BarFeed {
    /// Feeds the bars of each symbol with open positions or resting orders that closed since the
    /// last feed, oldest first. The first time this process sees a symbol it starts at the last
    /// change of its positions (`updated_at`: a fill, or a stop an earlier feed moved) or at the
    /// placing of its resting orders: a bar applied before must never be applied again, since an
    /// old low replayed against a stop tightened later would close a position that never hit it.
    /// (Bars that closed while no daemon ran are skipped likewise; an exit missed that way is
    /// conservative, a replayed one is not.)
    async fn once(&self) {
        let mut fed = self.fed.lock().await;
        let open = match self.positions.list_open(None).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(error = %e, "bar feed: open positions unreadable; trying again later");
                return;
            }
        };
        let working = self.broker.working_orders();
        let mut since: BTreeMap<Symbol, DateTime<Utc>> = BTreeMap::new();
        let starts = open
            .iter()
            .map(|p| (&p.symbol, p.updated_at.max(p.opened_at)))
            .chain(working.iter().map(|w| (&w.spec.symbol, w.placed_at)));
        for (symbol, first) in starts {
            let start = fed.get(symbol).copied().unwrap_or(first);
            since.entry(symbol.clone()).and_modify(|t| *t = (*t).min(start)).or_insert(start);
        }
        let now = self.clock.now();
        for (symbol, start) in since {
            let key = SeriesKey::new(symbol.clone(), self.timeframe);
            // Only closed bars: the bar in progress may still move.
            let Ok(range) = TimeRange::new(start, now - self.timeframe.duration() + TimeDelta::seconds(1)) else {
                continue;
            };
            let series = match self.prices.get_range(&key, range).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%key, error = %e, "bar feed: bars unreadable; trying again later");
                    continue;
                }
            };
            for bar in series.bars().iter().filter(|b| b.open_time() >= start) {
                for fill in self.broker.on_bar(&symbol, bar) {
                    let id = fill.client_order_id.clone();
                    match self.process.record_resting_fill(&id, fill.execution).await {
                        Outcome::Filled { trade, .. } => {
                            tracing::info!(client_order_id = %id, price = %trade.price(), "resting order filled");
                        }
                        other => {
                            tracing::warn!(client_order_id = %id, outcome = ?other, "resting order fill not recorded");
                        }
                    }
                }
                match self.exits.on_bar(&symbol, bar).await {
                    Ok(report) => log_exits(&report.outcomes),
                    Err(e) => {
                        tracing::warn!(%symbol, error = %e, "bar feed: exits not applied; trying again later");
                        break;
                    }
                }
                fed.insert(symbol.clone(), bar.open_time() + TimeDelta::seconds(1));
            }
        }
    }
}

fn log_exits(outcomes: &[ExitOutcome]) {
    for o in outcomes {
        match o {
            ExitOutcome::Closed { position, reason, price, realized_pnl } => tracing::info!(
                target: "axia::metrics",
                metric = "position_closed",
                position_id = %position.position_id,
                symbol = %position.symbol,
                ?reason,
                %price,
                %realized_pnl,
                "position closed"
            ),
            ExitOutcome::StopMoved { position, from } => {
                tracing::info!(position_id = %position.position_id, ?from, to = ?position.stop_loss, "stop moved");
            }
            ExitOutcome::Failed { position_id, error } => {
                tracing::warn!(%position_id, %error, "exit not stored");
            }
            ExitOutcome::Unchanged { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use axia_adapters::memory::{InMemoryOhlcvRepository, InMemoryStateStore};
    use axia_adapters::paper::PaperBrokerConfig;
    use axia_application::KillSwitchService;
    use axia_application::orders::{KnownSymbols, OrderPorts, ProcessConfig};
    use axia_domain::ports::{KillSwitchRepository, OrderRepository, QueueMessage};
    use axia_domain::{Bar, ClientOrderId, FixedClock, OhlcvSeries, OrderStatus, PositionStatus};
    use chrono::TimeZone;
    use rust_decimal::dec;

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, 12, minute, 0).unwrap()
    }

    fn eurusd() -> Symbol {
        Symbol::new("EURUSD").unwrap()
    }

    async fn store_bars(prices: &InMemoryOhlcvRepository, bars: Vec<Bar>) {
        let series = OhlcvSeries::new(SeriesKey::new(eurusd(), Timeframe::M1), bars).unwrap();
        prices.upsert(&series).await.unwrap();
    }

    fn message(body: &str) -> QueueMessage {
        QueueMessage { id: "m".into(), receipt: "r".into(), body: body.into(), receive_count: 1 }
    }

    #[tokio::test]
    async fn daemon_bar_feed_fills_resting_orders_then_closes_at_take_profit() {
        let clock = Arc::new(FixedClock::new(at(0)));
        let prices = Arc::new(InMemoryOhlcvRepository::new());
        store_bars(&prices, vec![Bar::new(at(0) - TimeDelta::minutes(1), 1.1, 1.1, 1.1, 1.1, 1).unwrap()]).await;
        let state = Arc::new(InMemoryStateStore::new());
        let clock_port: Arc<dyn Clock> = clock.clone();
        KillSwitchService::new(state.clone() as Arc<dyn KillSwitchRepository>, clock_port.clone())
            .initialise("test")
            .await
            .unwrap();
        let broker = Arc::new(PaperBroker::new(prices.clone(), clock_port.clone(), PaperBrokerConfig::default()));
        let ports = OrderPorts {
            orders: state.clone(),
            positions: state.clone(),
            kill_switch: state.clone(),
            broker: broker.clone(),
            events: Arc::new(axia_adapters::events::LogEventPublisher::new()),
            clock: clock_port.clone(),
        };
        let process = ProcessOrder::new(ports, KnownSymbols::Any, ProcessConfig::default());
        let market = r#"{"schema_version": 1, "client_order_id": "m-1", "symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "1", "stop_loss": "1.095", "take_profit": "1.11"}"#;
        assert_eq!(process.handle(&message(market)).await.kind(), "filled");
        let limit = r#"{"schema_version": 1, "client_order_id": "l-1", "symbol": "EURUSD", "side": "buy", "type": "limit", "quantity": "2", "limit_price": "1.098"}"#;
        assert_eq!(process.handle(&message(limit)).await.kind(), "working");

        // 12:00 dips to the limit; 12:01 reaches the take profit; 12:02 is still in progress.
        store_bars(
            &prices,
            vec![
                Bar::new(at(0), 1.1, 1.1005, 1.0975, 1.099, 1).unwrap(),
                Bar::new(at(1), 1.1, 1.1105, 1.1, 1.11, 1).unwrap(),
                Bar::new(at(2), 1.11, 1.2, 1.0, 1.11, 1).unwrap(),
            ],
        )
        .await;
        clock.set(at(2) + TimeDelta::seconds(30));
        let feed = BarFeed {
            prices: prices.clone(),
            broker: broker.clone(),
            process,
            positions: state.clone(),
            exits: ManageExits::new(state.clone(), clock_port.clone()),
            clock: clock_port,
            timeframe: Timeframe::M1,
            fed: tokio::sync::Mutex::default(),
        };
        feed.once().await;

        let limit_order = OrderRepository::get(&*state, &ClientOrderId::new("l-1").unwrap()).await.unwrap().unwrap();
        assert_eq!((limit_order.status(), limit_order.average_fill_price()), (OrderStatus::Filled, Some(dec!(1.098))));
        assert!(broker.working_orders().is_empty());
        let position = state.positions_get("P-m-1").await;
        // Both fills (1 @ 1.1 and 2 @ 1.098) closed together at the take profit 1.11.
        assert_eq!(position.status, PositionStatus::Closed, "{position:?}");
        assert_eq!(position.realized_pnl.round_dp(9), dec!(0.034), "{position:?}");
        let fed = feed.fed.lock().await.get(&eurusd()).copied();
        assert_eq!(fed, Some(at(1) + TimeDelta::seconds(1)), "the bar in progress is not fed");
        // Fed bars are not fed again.
        feed.once().await;
        assert_eq!(state.positions_get("P-m-1").await.version, position.version);
    }

    /// `PositionRepository::get` without naming the trait at each call.
    trait PositionsGet {
        async fn positions_get(&self, id: &str) -> axia_domain::Position;
    }

    impl PositionsGet for InMemoryStateStore {
        async fn positions_get(&self, id: &str) -> axia_domain::Position {
            PositionRepository::get(self, id).await.unwrap().unwrap()
        }
    }
}
