//! The `BrokerGateway` contract against the paper broker, priced from the in-memory bar store the
//! harness fills.

use std::sync::Arc;

use async_trait::async_trait;
use axia_adapters::memory::InMemoryOhlcvRepository;
use axia_adapters::paper::{PaperBroker, PaperBrokerConfig};
use axia_domain::ports::{BrokerGateway, OhlcvDataRepository};
use axia_domain::{Bar, Clock, FixedClock, OhlcvSeries, SeriesKey, Symbol, Timeframe};
use axia_tests::broker_contract::{self, MarketControl, RestingFill};
use chrono::{TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Moves the market as the collector would: one new M1 bar per move, then the bar is shown to
/// the broker's resting orders.
#[derive(Debug)]
struct PaperMarket {
    store: Arc<InMemoryOhlcvRepository>,
    clock: Arc<FixedClock>,
    broker: Arc<PaperBroker>,
}

#[async_trait]
impl MarketControl for PaperMarket {
    async fn set_price(&self, symbol: &Symbol, price: Decimal) -> Vec<RestingFill> {
        self.clock.advance(TimeDelta::minutes(1));
        let p = price.to_f64().expect("contract prices fit an f64");
        let bar = Bar::new(self.clock.now(), p, p, p, p, 1).expect("a flat bar at a positive price");
        let key = SeriesKey::new(symbol.clone(), Timeframe::M1);
        self.store.upsert(&OhlcvSeries::new(key, vec![bar]).expect("one aligned bar")).await.expect("memory upsert");
        self.broker
            .on_bar(symbol, &bar)
            .into_iter()
            .map(|f| RestingFill { broker_order_id: f.broker_order_id, execution: f.execution })
            .collect()
    }
}

fn paper() -> (Arc<PaperBroker>, PaperMarket) {
    let store = Arc::new(InMemoryOhlcvRepository::new());
    // Tuesday 2025-09-02 12:00 UTC: FX is open.
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap()));
    let broker = Arc::new(PaperBroker::new(store.clone(), clock.clone(), PaperBrokerConfig::default()));
    (broker.clone(), PaperMarket { store, clock, broker })
}

#[tokio::test]
async fn paper_broker_passes_the_contract() {
    let (broker, market) = paper();
    broker_contract::run(broker.as_ref(), &market).await;
    assert_eq!(broker.name(), "paper");
}

#[tokio::test]
async fn the_contract_can_run_twice_on_one_paper_broker() {
    let (broker, market) = paper();
    broker_contract::run(broker.as_ref(), &market).await;
    broker_contract::run(broker.as_ref(), &market).await;
}

#[tokio::test]
async fn the_contract_catches_a_broker_that_misprices_market_orders() {
    // A broker with a spread breaks "market orders fill at the current price": the suite must
    // notice, or it proves nothing.
    let (_, market) = paper();
    let spread = PaperBrokerConfig { spread: Decimal::new(5, 4), ..PaperBrokerConfig::default() };
    let broker = Arc::new(PaperBroker::new(market.store.clone(), market.clock.clone(), spread));
    let market = PaperMarket { broker: broker.clone(), ..market };
    let outcome = tokio::spawn(async move { broker_contract::run(broker.as_ref(), &market).await }).await;
    assert!(outcome.is_err_and(|e| e.is_panic()), "the contract passed a broker with a spread");
}
