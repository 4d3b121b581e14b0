//! `orders_embedded`: order processing on the embedded defaults — the SQLite queue, the SQLite
//! state store and the paper broker — from queued request to recorded fill.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use axia_adapters::events::LogEventPublisher;
use axia_adapters::memory::InMemoryOhlcvRepository;
use axia_adapters::paper::{PaperBroker, PaperBrokerConfig};
use axia_adapters::queue::{SqliteOrderQueue, SqliteQueueSettings};
use axia_adapters::sqlite::SqliteStateStore;
use axia_application::kill_switch::KillSwitchService;
use axia_application::orders::{KnownSymbols, OrderPorts, OrderProcessor, ProcessConfig, ProcessOrder, RunOptions};
use axia_domain::ports::{OhlcvDataRepository, OrderQueue};
use axia_domain::{ClientOrderId, FixedClock, OrderRequest, OrderSpec, OrderType, Side, Symbol, Timeframe};

use super::Context;
use super::stats::{Figures, Plan, sample};
use super::workload::{self, MEASURED_SYMBOL};

/// Orders queued before, and processed within, one timed run.
pub const ORDERS_PER_RUN: u32 = 200;

/// `orders_embedded`: every run queues [`ORDERS_PER_RUN`] market orders (untimed), then times
/// `axia orders run --until-idle` work: receive in batches of 10, validate, read the kill
/// switch, fill at the paper broker's latest price, record order + trade + position in one
/// SQLite transaction, publish the fill to the log publisher, delete the message.
///
/// # Errors
/// A store failing, or a run that does not fill every order.
pub async fn orders_embedded(ctx: &Context<'_>, plan: Plan) -> anyhow::Result<Figures> {
    let dir = ctx.scratch.join("orders");
    tokio::fs::create_dir_all(&dir).await?;
    let clock = Arc::new(FixedClock::new(workload::now()));
    let state = Arc::new(SqliteStateStore::open(dir.join("state.db")).await?);
    KillSwitchService::new(Arc::clone(&state) as _, Arc::clone(&clock) as _)
        .initialise("bench")
        .await
        .map_err(|e| anyhow::anyhow!("initialising the kill switch: {e}"))?;
    let queue = Arc::new(SqliteOrderQueue::open(dir.join("queue.db")).await?.with_settings(SqliteQueueSettings {
        poll_interval: Duration::from_millis(1),
        ..SqliteQueueSettings::default()
    }));
    let prices = Arc::new(InMemoryOhlcvRepository::new());
    prices.upsert(ctx.workload.recent_of(MEASURED_SYMBOL, Timeframe::M1)?).await?;
    let broker = PaperBroker::new(prices as Arc<dyn OhlcvDataRepository>, clock.clone(), PaperBrokerConfig::default());
    let ports = OrderPorts {
        orders: Arc::clone(&state) as _,
        positions: Arc::clone(&state) as _,
        kill_switch: Arc::clone(&state) as _,
        broker: Arc::new(broker),
        events: Arc::new(LogEventPublisher::new()),
        clock: clock.clone(),
    };
    let processor = OrderProcessor::new(
        Arc::clone(&queue) as Arc<dyn OrderQueue>,
        ProcessOrder::new(ports, KnownSymbols::Any, ProcessConfig::default()),
    );
    let options = RunOptions { wait: Duration::ZERO, until_idle: true, ..RunOptions::default() };
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let symbol = Symbol::new(MEASURED_SYMBOL)?;

    let samples = sample("orders_embedded", plan.batched(ORDERS_PER_RUN), async |run| {
        for n in 0..ORDERS_PER_RUN {
            let body = OrderRequest::new(market_buy(&symbol, &format!("bench-{run}-{n}"))?, None).to_json();
            queue.send(&body).await.context("queueing an order")?;
        }
        let started = Instant::now();
        let summary = processor.run(options.clone(), shutdown.clone()).await;
        let took = started.elapsed();
        ensure!(
            summary.filled == u64::from(ORDERS_PER_RUN) && summary.received == u64::from(ORDERS_PER_RUN),
            "orders_embedded run {run} filled {} of {ORDERS_PER_RUN} orders: {summary:?}",
            summary.filled
        );
        Ok(took)
    })
    .await?;
    tokio::fs::remove_dir_all(&dir).await?;
    Ok(samples.figures())
}

/// A market buy of 1,000 units.
fn market_buy(symbol: &Symbol, id: &str) -> anyhow::Result<OrderSpec> {
    let spec =
        OrderSpec::new(ClientOrderId::new(id)?, symbol.clone(), Side::Buy, OrderType::Market, 1_000.into(), None);
    Ok(OrderSpec { strategy_id: Some("bench".into()), ..spec })
}
